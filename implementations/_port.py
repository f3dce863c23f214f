"""What the framework ports (``jax``, ``tensorflow``) share: torch's checks and a static plan.

A port runs torch's formulas inside a framework, traced or jit-compiled, where data cannot
raise. So everything torch refuses is refused here first, on the host, on the NumPy arrays:
shapes, dtypes, parameters, and class targets out of range (torch raises ``IndexError`` for
those; a compiled gather would silently clamp or fill). The exception types follow the
reference (``ValueError``, ``TypeError``, ``IndexError``); torch raises ``RuntimeError`` for
several of them, with the same meaning.

What the traced loss depends on besides its arrays is a ``Plan``: hashable, so it serves as a
jit static argument and a cache key. Whether a weight is given is not in the plan: the ports
pass ``None`` for "no weight", which jit and ``tf.function`` key on by themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from implementations._dtypes import is_floating
from implementations.base import REDUCTIONS, Array, target_kind

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


class Plan(NamedTuple):
    """The static part of a validated call (a named tuple: ``tf.function`` keys on its values,
    where it would key a dataclass on its identity and retrace every call)."""

    class_axis: int
    n_classes: int
    probabilities: bool
    ignore_index: int
    reduction: str
    smoothing: float  # effective: 0.0 where torch skips smoothing (label_smoothing <= 0 or NaN)

    @property
    def smoothing_per_class(self) -> float:
        """``smoothing / C`` (``inf`` for ``C == 0``, as torch's C++ division gives)."""
        return self.smoothing / self.n_classes if self.n_classes else math.inf


def plan_call(input: Array, target: Array, weight: Array | None, ignore_index: int,
              reduction: str, label_smoothing: float) -> tuple[Plan, Array]:
    """Validate a call as torch does; return its plan and the target to pass to the port.

    Class indices come back as ``int64``. torch's quirk, which the reference keeps: a ``(C,)``
    input takes a ``(1,)`` target as if 0-d, but not with label smoothing.
    """
    x, t = np.asarray(input), np.asarray(target)
    _check_arguments(x, weight, reduction, label_smoothing)
    class_axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_axis]
    smoothing = float(label_smoothing) if label_smoothing > 0.0 else 0.0
    probabilities = target_kind(x, t) == "probabilities"
    if probabilities:
        _check_probabilities(t, ignore_index)
    else:
        t = _checked_indices(x, t, ignore_index, n_classes, smoothing)
    plan = Plan(class_axis, n_classes, probabilities, int(ignore_index), reduction, smoothing)
    return plan, t


def _check_arguments(x: Array, weight: Array | None, reduction: str,
                     label_smoothing: float) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if x.ndim == 0:
        raise ValueError("input must have at least one dimension (C), got a 0-d array")
    if not is_floating(x.dtype):
        raise TypeError(f"input must be floating point, got {x.dtype}")
    if label_smoothing > 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    n_classes = x.shape[0 if x.ndim == 1 else 1]
    if weight is None:
        return
    weight = np.asarray(weight)
    if weight.shape != (n_classes,):
        raise ValueError(f"weight tensor should be defined either for all {n_classes} classes "
                         f"or no classes but got weight tensor of shape: {list(weight.shape)}")
    if weight.dtype != x.dtype:
        raise TypeError(f"expected weight of dtype {x.dtype}, got {weight.dtype}")


def _check_probabilities(t: Array, ignore_index: int) -> None:
    if not is_floating(t.dtype):
        raise TypeError(f"Expected floating point type for target with class probabilities, "
                        f"got {t.dtype}")
    if ignore_index >= 0:
        raise ValueError("ignore_index is not supported for floating point target")


def _checked_indices(x: Array, t: Array, ignore_index: int, n_classes: int,
                     smoothing: float) -> Array:
    if x.ndim == 1 and t.shape == (1,):
        if smoothing > 0.0:
            raise ValueError("a (C,) input needs a 0-d target with label_smoothing > 0, "
                             "got shape (1,)")
        t = t.reshape(())
    if t.dtype not in _INDEX_DTYPES:
        raise TypeError(f"expected target dtype to be Long or Byte, but got {t.dtype}")
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        raise ValueError(f"target shape {t.shape} does not match input shape {x.shape}: "
                         f"expected {expected} for class indices, or {x.shape} for class "
                         "probabilities")
    t = t.astype(np.int64)
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"Target {t[bad].flat[0]} is out of bounds.")
    return t


# --- torch's reductions, written once for both ports -----------------------------------------
# ``total(x, axis)`` is the framework's sum (``jnp.sum`` or ``tf.reduce_sum``); the terms are
# the framework's tensors, rows first.

Total = Callable[..., Any]


def reduce_index_terms(nll: Any, smooth: Any, w_y: Any, plan: Plan, total: Total) -> Any:
    """Class indices: reduce the NLL and smoothing terms as torch does, then combine them.

    ``mean`` divides both by the target weights of the rows torch keeps (0/0 is NaN)."""
    if plan.reduction == "none":
        nll_r, smooth_r = nll, smooth
    elif plan.reduction == "sum":
        nll_r, smooth_r = total(nll), total(smooth)
    else:
        denominator = total(w_y)
        nll_r, smooth_r = total(nll) / denominator, total(smooth) / denominator
    if plan.smoothing == 0.0:
        return nll_r
    return (1.0 - plan.smoothing) * nll_r + smooth_r * plan.smoothing_per_class


def reduce_probability_terms(logp: Any, target: Any, weight: Any | None, plan: Plan,
                             total: Total, nan: Callable[[], Any]) -> Any:
    """Probabilities: smooth the target, weigh, reduce; ``mean`` divides by the rows (the
    weights are not in the denominator) and is ``nan()`` for an empty input, as in torch."""
    if plan.smoothing:
        target = target * (1.0 - plan.smoothing) + plan.smoothing_per_class
    products = logp * target if weight is None else logp * target * weight
    if plan.reduction == "none":
        return -total(products, axis=1)
    if plan.reduction == "sum":
        return -total(products)
    rows, n_classes = logp.shape
    if rows * n_classes == 0:
        return nan()
    return -total(products) / rows
