"""torch's argument rules, written once for the reference and the framework ports.

``plan_call`` validates a call as ``torch.nn.functional.cross_entropy`` does and returns its
``CallPlan``: the class axis, ``C``, the target kind, the effective smoothing, ``ignore_index`` and
the reduction. The reference (NumPy) and the ports (``jax``, ``tensorflow``) run it on the host
before computing anything, so all three refuse the same calls with the same exception types;
a traced or compiled port could not raise on data (a compiled gather would silently clamp or
fill an out-of-range class index).

The messages are torch's where torch has one. The exception types are the reference's:
``ValueError`` for values and shapes, ``TypeError`` for dtypes, ``IndexError`` for class
indices out of range (torch raises ``RuntimeError`` for several of these, with the same meaning).

torch's quirk, kept: a ``(C,)`` input takes a ``(1,)`` target as if it were 0-d, but not with
label smoothing (there torch's broadcast fails), and only in the forward pass: torch's backward
raises ``RuntimeError`` "size mismatch" for it (``check_backward``; the reference's
``value_and_grad`` raises likewise, since torch is the spec, inconsistencies included).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from implementations.base import REDUCTIONS, Array, Call, Reduction, TargetKind, target_kind
from implementations.dtypes import is_floating

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


class CallPlan(NamedTuple):
    """The static part of a validated call (a named tuple: hashable, so a jit static argument
    and a cache key; ``tf.function`` keys on its values, where it would key a dataclass on its
    identity and retrace every call). Whether a weight is given is not in the plan: the ports
    pass ``None`` for "no weight", which jit and ``tf.function`` key on by themselves."""

    class_axis: int
    n_classes: int
    target_kind: TargetKind
    ignore_index: int
    reduction: Reduction
    smoothing: float  # effective: 0.0 where torch skips smoothing (label_smoothing <= 0 or NaN)

    @property
    def probabilities(self) -> bool:
        """Whether the target holds class probabilities."""
        return self.target_kind == "probabilities"

    @property
    def smoothing_per_class(self) -> float:
        """``smoothing / C`` (``inf`` for ``C == 0``, as torch's C++ division gives)."""
        return self.smoothing / self.n_classes if self.n_classes else math.inf

    @classmethod
    def of(cls, call: Call) -> CallPlan:
        """The plan of a call (as ``Call`` answers it; ``plan_call`` validates first)."""
        return cls(call.class_axis, call.n_classes, call.target_kind, call.ignore_index,
                   call.reduction, call.smoothing)


def plan_call(input: Array, target: Array, weight: Array | None, ignore_index: int,
              reduction: Reduction, label_smoothing: float, *,
              gradient: bool = False) -> tuple[CallPlan, Array]:
    """Validate a call as torch does (with ``gradient``, as its backward does too); return its
    plan and the target to compute with.

    Class indices come back as ``int64`` in the expected shape (a ``(1,)`` target of a ``(C,)``
    input as 0-d); probabilities come back unchanged.
    """
    x, t = np.asarray(input), np.asarray(target)
    call = Call.of(x, t, weight, ignore_index, reduction, label_smoothing)
    _check_arguments(call, x, weight)
    if call.target_kind == "probabilities":
        _check_probabilities(call, t)
    else:
        t = _checked_indices(call, x, t)
    if gradient:  # after the forward's checks: torch's forward runs (and raises) first
        check_backward(x, np.asarray(target))
    return CallPlan.of(call), t


def check_backward(input: Array, target: Array) -> None:
    """Raise ``RuntimeError`` where torch's forward accepts a call but its backward refuses it:
    a ``(C,)`` input with a ``(1,)`` class-index target (torch 2.13, under every reduction)."""
    x, t = np.asarray(input), np.asarray(target)
    if x.ndim == 1 and t.shape == (1,) and target_kind(x, t) == "indices":
        raise RuntimeError(f"size mismatch (got input: [{x.shape[0]}], target: [1]): torch's "
                           "backward refuses the (1,) target its forward accepts")


def _check_arguments(call: Call, x: Array, weight: Array | None) -> None:
    if call.reduction not in REDUCTIONS:
        raise ValueError(f"{call.reduction} is not a valid value for reduction")
    if x.ndim == 0:
        raise ValueError("input must have at least one dimension (C), got a 0-d array")
    if not is_floating(x.dtype):
        raise TypeError(f"input must be floating point, got {x.dtype}")
    if call.label_smoothing > 1.0:
        raise ValueError("label_smoothing must be between 0.0 and 1.0. "
                         f"Got: {call.label_smoothing}")
    if weight is not None:
        _check_weight(call, x, np.asarray(weight))


def _check_weight(call: Call, x: Array, weight: Array) -> None:
    if weight.shape != (call.n_classes,):
        raise ValueError(f"weight tensor should be defined either for all {call.n_classes} "
                         f"classes or no classes but got weight tensor of shape: "
                         f"{list(weight.shape)}")
    if weight.dtype != x.dtype:
        raise TypeError(f"expected scalar type {x.dtype} but found {weight.dtype} (weight)")


def _check_probabilities(call: Call, t: Array) -> None:
    if not is_floating(t.dtype):
        raise TypeError("Expected floating point type for target with class probabilities, "
                        f"got {t.dtype}")
    if call.ignore_index >= 0:
        raise ValueError("ignore_index is not supported for floating point target")


def _checked_indices(call: Call, x: Array, t: Array) -> Array:
    if x.ndim == 1 and t.shape == (1,):
        if call.smoothing > 0.0:
            raise ValueError("output with shape [] doesn't match the broadcast shape [1] "
                             "(a (C,) input needs a 0-d target with label_smoothing > 0)")
        t = t.reshape(())
    if t.dtype not in _INDEX_DTYPES:
        raise TypeError(f"expected target dtype to be Long or Byte, but got {t.dtype}")
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        raise ValueError(f"Expected target size {list(expected)}, got {list(t.shape)} "
                         f"(or {list(x.shape)} for class probabilities)")
    t = t.astype(np.int64)
    bad = (t != call.ignore_index) & ((t < 0) | (t >= call.n_classes))
    if bad.any():
        raise IndexError(f"Target {t[bad].flat[0]} is out of bounds.")
    return t
