"""Implementations with one or two distinct faults, for the tests of the search for distinct
causes and of the gate's signature selectors. Loaded as ``tests.helpers.two_causes:NAME``."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.reference import ReferenceImplementation


class WrongSumOnly:
    """``wrong-sum-only``: a summed loss 1.5 times too large; everything else the reference's."""

    name = "wrong-sum-only"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def _loss(self, input: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
              label_smoothing: float) -> np.ndarray:
        loss = self._reference.cross_entropy(input, target, weight, ignore_index, reduction,
                                             label_smoothing)
        return np.asarray(loss) * 1.5 if reduction == "sum" else np.asarray(loss)

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> np.ndarray:
        """The loss, wrong for ``reduction="sum"``."""
        return self._loss(input, target, weight, ignore_index, reduction, label_smoothing)


class WrongSumAndPadding(WrongSumOnly):
    """``wrong-sum-and-padding``: the sum of ``WrongSumOnly``, and a mean over class indices
    that counts ignored targets (padding) in its denominator, as a hand-written
    ``loss.sum() / target.numel()`` does."""

    name = "wrong-sum-and-padding"

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> np.ndarray:
        """The loss, wrong for sums and for means over padded class indices."""
        target = np.asarray(target)
        padded = target.dtype.kind in "iu" and bool(np.any(target == ignore_index))
        if reduction != "mean" or weight is not None or not padded:
            return self._loss(input, target, weight, ignore_index, reduction, label_smoothing)
        total = self._loss(input, target, None, ignore_index, "sum", label_smoothing) / 1.5
        return np.asarray(total / target.size)
