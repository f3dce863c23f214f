"""Deliberately wrong implementations, one per metamorphic relation (``conformance.metamorphic``).

Each is the reference (``ReferenceImplementation``) with exactly one property broken, small
enough that the relation it breaks is obvious from the code:

=====================  ==================================================================
relation               what the wrong implementation does
=====================  ==================================================================
``shift``              adds ``1e-3 * mean(logits)`` to the loss (so shifting logits moves it)
``permutation``        sorts the weights, so a weight no longer follows its class
``batch-split``        adds a constant ``1e-3`` under ``reduction="sum"`` (once per call)
``one-hot``            scales class-probability targets by 1.01
``smoothing-zero``     an explicit ``label_smoothing=0.0`` is taken as ``1e-3``
``smoothing-linear``   smooths with ``e**2`` instead of ``e`` (the same at 0 and 1)
``gradient``           forgets to divide the ``mean``'s gradient by its denominator
=====================  ==================================================================

``WRONG`` maps each relation to its wrong implementation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.base import DEFAULT_IGNORE_INDEX, Array
from implementations.reference import ReferenceImplementation, decompose

_OMITTED: Any = object()  # tells an explicit label_smoothing from a left-out one


class _Wrong:
    """The reference behind the contract; a subclass overrides ``cross_entropy`` or
    ``value_and_grad``."""

    name = "wrong"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """The reference's loss."""
        return self._reference.cross_entropy(input, target, weight, ignore_index, reduction,
                                             label_smoothing)


class NotShiftInvariant(_Wrong):
    """Adds ``1e-3 * mean(logits)``: adding a constant to a row's logits changes the loss."""

    name = "wrong-shift"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        loss = super().cross_entropy(input, target, weight, ignore_index, reduction,
                                     label_smoothing)
        x = np.asarray(input, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            offset = 1e-3 * float(np.mean(x)) if x.size else 0.0
        return np.asarray(loss + offset)


class WeightsIgnoreClassOrder(_Wrong):
    """Sorts the weights before use: the weight of a class depends on where the class sits."""

    name = "wrong-permutation"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        sorted_weight = None if weight is None else np.sort(np.asarray(weight))
        return super().cross_entropy(input, target, sorted_weight, ignore_index, reduction,
                                     label_smoothing)


class SumAddsAConstant(_Wrong):
    """Adds ``1e-3`` to a summed loss, once per call: two halves carry it twice."""

    name = "wrong-batch-split"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        loss = super().cross_entropy(input, target, weight, ignore_index, reduction,
                                     label_smoothing)
        return np.asarray(loss + 1e-3) if reduction == "sum" else loss


class ScalesProbabilities(_Wrong):
    """Multiplies class-probability targets by 1.01: one-hot rows disagree with indices."""

    name = "wrong-one-hot"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        t = np.asarray(target)
        if t.shape == np.shape(input) and t.dtype.kind == "f":
            t = t * 1.01
        return super().cross_entropy(input, t, weight, ignore_index, reduction, label_smoothing)


class ExplicitZeroSmooths(_Wrong):
    """Takes an explicit ``label_smoothing=0.0`` as ``1e-3``; leaving it out means no smoothing."""

    name = "wrong-smoothing-zero"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = _OMITTED, **_: Any) -> Array:
        eps = 0.0 if label_smoothing is _OMITTED else max(float(label_smoothing), 1e-3)
        return super().cross_entropy(input, target, weight, ignore_index, reduction, eps)


class SquaresSmoothing(_Wrong):
    """Smooths with ``e**2``: right at ``e`` = 0 and 1, not affine in between."""

    name = "wrong-smoothing-linear"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        eps = float(label_smoothing)
        return super().cross_entropy(input, target, weight, ignore_index, reduction,
                                     eps * eps if eps > 0 else eps)


class GradientForgetsDenominator(_Wrong):
    """The loss is right; the ``mean``'s gradient is not divided by the mean's denominator."""

    name = "wrong-gradient"

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, **_: Any) -> tuple[Array, Array]:
        """The reference's loss, with the gradient of ``sum`` where ``mean`` was asked for."""
        value, grad = self._reference.value_and_grad(input, target, weight, ignore_index,
                                                     reduction, label_smoothing)
        if reduction == "mean":
            denominator = decompose(input, target, weight, ignore_index, reduction,
                                    label_smoothing).denominator
            grad = grad * denominator
        return value, grad


#: relation name -> the wrong implementation that breaks it (and, by design, little else)
WRONG: dict[str, type[_Wrong]] = {
    "shift": NotShiftInvariant,
    "permutation": WeightsIgnoreClassOrder,
    "batch-split": SumAddsAConstant,
    "one-hot": ScalesProbabilities,
    "smoothing-zero": ExplicitZeroSmooths,
    "smoothing-linear": SquaresSmoothing,
    "gradient": GradientForgetsDenominator,
}
