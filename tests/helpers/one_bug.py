"""Implementations with exactly one bug each, for the tests of ``conformance.diagnosis``: the
run must report one cause per bug, named by the conditions that trigger it. Each is the
reference apart from its bug. Loaded as ``tests.helpers.one_bug:NAME``."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.reference import ReferenceImplementation


class _OneBug:
    """The reference, value and gradient; ``_arguments`` introduces the bug into the
    arguments, ``_value`` and ``_grad`` into the results (each gets the arguments the
    reference ran on and the dtype asked for)."""

    name = "one-bug"
    dtypes = ("float64", "float32")

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def _arguments(self, input: Any, target: Any, weight: Any, ignore_index: int,
                   reduction: str, label_smoothing: float) -> dict[str, Any]:
        return {"input": input, "target": target, "weight": weight,
                "ignore_index": ignore_index, "reduction": reduction,
                "label_smoothing": label_smoothing}

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The reference's loss on the (possibly wrong) arguments."""
        args = self._arguments(input, target, weight, ignore_index, reduction, label_smoothing)
        value = np.asarray(self._reference.cross_entropy(**args, dtype=dtype), dtype=dtype)
        return self._value(value, args, dtype)

    def value_and_grad(self, input: Any, target: Any, weight: Any = None,
                       ignore_index: int = -100, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Any, Any]:
        """The reference's loss and gradient on the (possibly wrong) arguments."""
        args = self._arguments(input, target, weight, ignore_index, reduction, label_smoothing)
        value, grad = self._reference.value_and_grad(**args, dtype=dtype)
        return self._value(np.asarray(value, dtype=dtype), args, dtype), \
            self._grad(np.asarray(grad, dtype=dtype), args, dtype)

    def _value(self, value: Any, args: dict[str, Any], dtype: str) -> Any:
        return value

    def _grad(self, grad: Any, args: dict[str, Any], dtype: str) -> Any:
        return grad


class SmoothingOverCMinus1(_OneBug):
    """``smoothing-c-minus-1``: label smoothing spread as eps / (C - 1) per class instead of
    eps / C (the smoothing factor scaled by C / (C - 1)), in value and gradient alike."""

    name = "smoothing-c-minus-1"

    def _arguments(self, input: Any, target: Any, weight: Any, ignore_index: int,
                   reduction: str, label_smoothing: float) -> dict[str, Any]:
        classes = np.shape(input)[0 if np.ndim(input) == 1 else 1]
        if 0 < label_smoothing <= 1 and classes > 1:
            label_smoothing = min(1.0, label_smoothing * classes / (classes - 1))
        return super()._arguments(input, target, weight, ignore_index, reduction,
                                  label_smoothing)


class WeightedMeanOverN(_OneBug):
    """``weighted-mean-over-n``: a weighted mean over class indices divided by the number of
    rows instead of the sum of the targets' weights (``Model.fit(class_weight=...)``'s
    convention), in value and gradient alike."""

    name = "weighted-mean-over-n"

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The loss, its weighted mean over the rows."""
        return self.value_and_grad(input, target, weight, ignore_index, reduction,
                                   label_smoothing, dtype=dtype)[0]

    def value_and_grad(self, input: Any, target: Any, weight: Any = None,
                       ignore_index: int = -100, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Any, Any]:
        """Loss and gradient; a weighted mean over indices rescaled to a mean over rows."""
        value, grad = super().value_and_grad(input, target, weight, ignore_index, reduction,
                                             label_smoothing, dtype=dtype)
        t = np.asarray(target)
        if reduction != "mean" or weight is None or t.shape == np.shape(input) or not t.size:
            return value, grad
        w = np.asarray(weight, dtype=np.float64)
        kept = t != ignore_index
        denominator = float(w[np.where(kept, t, 0)][kept].sum())
        factor = denominator / t.size
        return np.asarray(value * factor, dtype=dtype), np.asarray(grad * factor, dtype=dtype)


class ComputesInFloat32(_OneBug):
    """``computes-in-float32``: asked for float64, it rounds its arguments to float32 and
    returns float32-accurate results, as a loss object at its default dtype does."""

    name = "computes-in-float32"

    def _arguments(self, input: Any, target: Any, weight: Any, ignore_index: int,
                   reduction: str, label_smoothing: float) -> dict[str, Any]:
        def low(a: Any) -> Any:
            return None if a is None else np.asarray(a).astype(np.float32).astype(np.float64)

        t = np.asarray(target)
        return super()._arguments(low(input), low(t) if t.dtype.kind == "f" else t, low(weight),
                                  ignore_index, reduction, label_smoothing)


class ReturnsFloat32(ComputesInFloat32):
    """``returns-float32``: as ``computes-in-float32``, and it returns float32 arrays for a
    float64 call, as Keras' loss object at floatx float32 does (``keras.float32``)."""

    name = "returns-float32"

    def _value(self, value: Any, args: dict[str, Any], dtype: str) -> Any:
        return np.asarray(value, np.float32)

    def _grad(self, grad: Any, args: dict[str, Any], dtype: str) -> Any:
        return np.asarray(grad, np.float32)


class EqualLogitsAndNegativeWeights(_OneBug):
    """Two bugs: ``equal-logits`` adds 1e-6 to the loss when every logit is the same (a bug no
    condition names, so its trigger is empty: "wrong on plain input"), and
    ``negative-weights`` takes the class weights' absolute values. The second must stay a
    cause of its own, not be swallowed by the first's empty trigger."""

    name = "equal-logits-and-negative-weights"

    def _arguments(self, input: Any, target: Any, weight: Any, ignore_index: int,
                   reduction: str, label_smoothing: float) -> dict[str, Any]:
        weight = None if weight is None else np.abs(np.asarray(weight))
        return super()._arguments(input, target, weight, ignore_index, reduction,
                                  label_smoothing)

    def _value(self, value: Any, args: dict[str, Any], dtype: str) -> Any:
        return value + 1e-6 if _all_equal(args["input"]) else value


class LongSumDrift(_OneBug):
    """``long-sum-drift``: a reduction over 4096 rows or more is off by one part in 1e9 (an
    accumulation that loses precision on long sums); shorter ones are exact."""

    name = "long-sum-drift"

    def _value(self, value: Any, args: dict[str, Any], dtype: str) -> Any:
        x = args["input"]
        long = np.ndim(x) > 1 and np.size(x) // np.shape(x)[1] >= 4096
        return value * (1 + 1e-9) if long and args["reduction"] != "none" else value


class AlwaysOff(_OneBug):
    """``always-off``: every loss 1e-3 too large (beyond float32's bound, so not a lower
    precision): wrong on plain input, one cause however many conditions a case has."""

    name = "always-off"

    def _value(self, value: Any, args: dict[str, Any], dtype: str) -> Any:
        return value + 1e-3


class Float64GradientAndNaNSmoothing(_OneBug):
    """Two bugs in the gradient alone: in float64 every gradient is off by one part in 1e6 (a
    float32 kernel), and a NaN label_smoothing makes the gradient NaN in any dtype (Liger's
    eps = label_smoothing / V). The second must stay a cause of its own in float32, not be
    swallowed by the float64 one's empty trigger."""

    name = "float64-gradient-and-nan-smoothing"

    def _grad(self, grad: Any, args: dict[str, Any], dtype: str) -> Any:
        if dtype == "float64":
            grad = grad * (1 + 1e-6)
        return np.full_like(grad, np.nan) if np.isnan(args["label_smoothing"]) else grad


class WideResultsAndSmoothing(SmoothingOverCMinus1):
    """Two bugs: a float32 call gets float64 arrays back (its values right: only the dtype is
    wrong, as cut-cross-entropy returns float32 for every bfloat16 call), and the smoothing of
    ``smoothing-c-minus-1``. The dtype, wrong on every call, must not explain the smoothing."""

    name = "wide-results-and-smoothing"

    def _value(self, value: Any, args: dict[str, Any], dtype: str) -> Any:
        return np.asarray(value, np.float64)

    def _grad(self, grad: Any, args: dict[str, Any], dtype: str) -> Any:
        return np.asarray(grad, np.float64)


def _all_equal(input: Any) -> bool:
    x = np.asarray(input)
    return bool(x.size) and bool(np.all(x == x.reshape(-1)[0]))
