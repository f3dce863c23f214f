"""Implementations for the coverage tests (``tests/test_coverage.py``): the reference without
class weights, and a variant of it that is also wrong on one 3-way combination the spec's cases
never reach without weights. Loaded as ``tests.helpers.coverage_impls:NAME``."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.base import Call, Unsupported
from implementations.reference import ReferenceImplementation


class NoWeights:
    """``no-weights``: the reference, declaring that it has no class weights."""

    name = "no-weights"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def supports(self, call: Call) -> str | None:
        """No class weights."""
        return "no-weights has no class weights" if call.has_weight else None

    def _loss(self, input: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
              label_smoothing: float) -> Any:
        return self._reference.cross_entropy(input, target, weight, ignore_index, reduction,
                                             label_smoothing)

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The reference's loss (weights refused)."""
        if weight is not None:
            raise Unsupported("no-weights has no class weights")
        return np.asarray(self._loss(input, target, weight, ignore_index, reduction,
                                     label_smoothing))


class KdimProbSmoothing(NoWeights):
    """``kdim-prob-smoothing``: as ``no-weights``, but with probability targets on a K-dim
    input it applies half the label smoothing it is given (right without any one of the three:
    a (N, C) input, class indices, or no smoothing)."""

    name = "kdim-prob-smoothing"

    def _loss(self, input: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
              label_smoothing: float) -> Any:
        if np.ndim(input) > 2 and np.shape(target) == np.shape(input):
            label_smoothing = label_smoothing / 2
        return super()._loss(input, target, weight, ignore_index, reduction, label_smoothing)
