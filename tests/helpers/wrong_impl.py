"""A deliberately wrong implementation for the gate's meta tests: the reference, except that
``reduction="sum"`` comes out 1.5 times too large. Loaded as ``tests.helpers.wrong_impl:...``."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.reference import ReferenceImplementation


class WrongSum:
    """``wrong-sum``: a summed loss 1.5 times too large; everything else is the reference's."""

    name = "wrong-sum"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> np.ndarray:
        """The reference's loss, wrong for ``reduction="sum"``."""
        loss = self._reference.cross_entropy(input, target, weight, ignore_index, reduction,
                                             label_smoothing, dtype=dtype, device=device)
        return np.asarray(loss) * 1.5 if reduction == "sum" else np.asarray(loss)
