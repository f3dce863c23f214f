"""Metamorphic relations: what an implementation's loss must satisfy with itself.

Each relation is ``value(a) == sum_k c_k * value(b_k)`` for cases built from one generated case:

* ``shift``: adding a constant to every logit of a row leaves the loss unchanged;
* ``permutation``: permuting classes, with targets (and ``ignore_index``) and weights alike;
* ``batch-split``: with ``reduction="sum"`` the loss of a batch is the sum over its two halves;
* ``one-hot``: class indices against their one-hot probabilities. Row by row they agree (also
  with weights and smoothing: ``(1-e) w_y nll + e/C sum_c w_c (-log p_c)`` either way), but the
  ``mean`` of indices divides by ``sum_i w[y_i]`` and that of probabilities by ``N``, so they agree
  without weights, or with weights under ``sum``/``none``; ignored rows are left out;
* ``smoothing-zero``: ``label_smoothing=0.0`` is the same as not passing it;
* ``smoothing-linear``: the loss is affine in ``e``: ``L(e) = (1-e) L(0) + e L(1)`` (both sums
  and both mean denominators do not depend on ``e``);
* ``gradient``: the gradient is ``(softmax * sum(q) - q) / D`` with ``q`` the smoothed, weighted
  target and ``D`` the mean's denominator (``implementations.reference.decompose``).

An example where the relation does not hold for the reference itself (NaN from ``-inf``
logits, say) is rejected. The tolerance is the sum of the model's bounds for every case involved
plus the reference's own discrepancy, so float32 rounding of shifted inputs is not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance import tolerance
from conformance.case import Case
from conformance.context import describe
from conformance.isolation import BadReturn, Fault
from conformance.results import Record
from conformance.runner import Runner
from conformance.strategies import cases, make_case
from conformance.vocabulary import Outcome, Verdict
from implementations import reference as ref
from implementations.base import (
    DEFAULT_IGNORE_INDEX,
    Array,
    Implementation,
    class_axis_of,
    has_gradient,
    unsupported_reason,
)
from implementations.base import Unsupported as BaseUnsupported

__all__ = ["Finding", "Relation", "Unsupported", "relations"]


@dataclass
class Finding:
    """A failing example: the case, what is wrong, and the runner's record when there is one."""

    case: Case
    reason: str
    record: Record | None = None
    fault: Fault | Verdict | None = None  # the worker crashed or hung instead
    outcome: Outcome | None = None  # what the implementation did, when no record says it
    exception: str | None = None

    @property
    def verdict(self) -> Verdict:
        """``diverges``, or the fault's verdict (``crashed``, ``timed-out``, ``out-of-memory``,
        or ``not-run`` when the circuit breaker stopped the implementation)."""
        if self.fault is None:
            return Verdict.DIVERGES
        return self.fault if isinstance(self.fault, Verdict) else Verdict(self.fault.verdict)


#: Raised by a check for an example the implementation cannot express (it is rejected); the
#: contract's own exception, so an adapter that raises it is treated alike.
Unsupported = BaseUnsupported


@dataclass(frozen=True)
class Relation:
    """``value(a) == sum(c * value(b) for c, b in parts)``."""

    a: Case
    parts: tuple[tuple[float, Case], ...]
    omit_smoothing: bool = False  # call the parts without the label_smoothing keyword


def _axis(case: Case) -> int:
    return class_axis_of(case.input.shape)


def _with(case: Case, **changes: Any) -> Case:
    return make_case(**case.arguments.replace(**changes).kwargs())


@st.composite
def shifts(draw: st.DrawFn, /, **bounds: Any) -> Relation:
    """A case and the same with an integer added to each row of logits."""
    case = draw(cases(**bounds), label="case")
    shape = list(case.input.shape)
    shape[_axis(case)] = 1
    shift = draw(hnp.arrays(np.float64, tuple(shape), elements=st.integers(-8, 8).map(float)),
                 label="shift")
    return Relation(case, ((1.0, _with(case, input=case.input + shift)),))


@st.composite
def permutations(draw: st.DrawFn, /, **bounds: Any) -> Relation:
    """A case and the same with its classes permuted (targets and weights alike); class
    weights half the time at least, since only they can follow the wrong class."""
    weighted = draw(st.sampled_from([True, None]), label="weighted")
    case = draw(cases(**bounds, weighted=weighted), label="case")
    axis, n = _axis(case), case.input.shape[_axis(case)]
    perm = np.asarray(draw(st.permutations(range(n)), label="permutation"), dtype=np.int64)
    if n > 1 and np.array_equal(perm, np.arange(n)):
        perm = np.roll(perm, 1)  # the identity would test nothing
    inverse = np.argsort(perm)  # old class k sits at new position inverse[k]
    changes: dict[str, Any] = {"input": np.take(case.input, perm, axis=axis)}
    if case.target_kind == "probabilities":
        changes["target"] = np.take(case.target, perm, axis=axis)
    else:
        t, ii = case.target, case.ignore_index
        moved = int(inverse[ii]) if 0 <= ii < n else ii  # ignore_index names a class too
        changes["target"] = np.where(t == ii, moved, inverse[np.clip(t, 0, n - 1)]) \
            .astype(np.int64)
        changes["ignore_index"] = moved
    if case.weight is not None:
        changes["weight"] = case.weight[perm]
    return Relation(case, ((1.0, _with(case, **changes)),))


@st.composite
def batch_splits(draw: st.DrawFn, /, **bounds: Any) -> Relation:
    """A batch with ``reduction="sum"`` and its two halves."""
    case = draw(cases(**{**bounds, "min_batch": 2, "max_batch": max(bounds.get("max_batch", 2),
                                                                  2)}, allow_no_batch=False),
                label="case")
    case = _with(case, reduction="sum")
    k = draw(st.integers(1, case.input.shape[0] - 1), label="split")
    halves = tuple((1.0, _with(case, input=case.input[s], target=case.target[s]))
                   for s in (slice(None, k), slice(k, None)))
    return Relation(case, halves)


@st.composite
def one_hots(draw: st.DrawFn, /, **bounds: Any) -> Relation:
    """Class indices (none ignored, finite logits) against their one-hot probabilities."""
    case = draw(cases(**bounds, allow_probabilities=False), label="case")
    n = case.input.shape[_axis(case)]
    target = np.where(case.target == case.ignore_index, 0, case.target).astype(np.int64)
    weight = None if case.reduction == "mean" else case.weight
    x = np.where(np.isfinite(case.input), case.input, -30.0)
    a = _with(case, input=x, target=target, weight=weight, ignore_index=DEFAULT_IGNORE_INDEX)
    hot = np.moveaxis(np.eye(n)[target], -1, _axis(case))
    return Relation(a, ((1.0, _with(a, target=hot)),))


@st.composite
def smoothing_zeros(draw: st.DrawFn, /, **bounds: Any) -> Relation:
    """``label_smoothing=0.0`` against the keyword left out."""
    case = _with(draw(cases(**bounds), label="case"), label_smoothing=0.0)
    return Relation(case, ((1.0, case),), omit_smoothing=True)


@st.composite
def smoothing_lines(draw: st.DrawFn, /, **bounds: Any) -> Relation:
    """``L(e)`` against ``(1-e) L(0) + e L(1)``."""
    case = draw(cases(**bounds), label="case")
    interior = bounds.get("interior_smoothings")
    eps = draw(st.sampled_from(interior) if interior else
               st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), label="eps")
    a = _with(case, label_smoothing=eps)
    return Relation(a, ((1.0 - eps, _with(case, label_smoothing=0.0)),
                        (eps, _with(case, label_smoothing=1.0))))


def _call(runner: Runner, impl: Implementation, case: Case, dtype: str, device: str,
          omit: bool) -> Array:
    arguments = case.arguments.kwargs()
    if omit:
        del arguments["label_smoothing"]
    called = runner.context(impl, dtype, device).call(case, arguments=arguments)
    return np.asarray(called.result, dtype=np.float64)


def _combine(parts: list[tuple[float, Array]]) -> Array:
    total: Array = np.zeros(())
    with np.errstate(invalid="ignore", over="ignore"):
        for c, v in parts:
            total = total + (c * v if c != 1.0 else v)
    return total


def _relation_check(impl: Implementation, runner: Runner, dtype: str,
                    device: str) -> Callable[[Relation], Any]:
    def check(rel: Relation) -> Finding | None:
        cases_ = [rel.a, *(b for _, b in rel.parts)]
        for case in cases_:
            reason = unsupported_reason(impl, case.call(dtype, device))
            if reason:
                raise Unsupported(reason)
        exp = [runner.expected(case, dtype) for case in cases_]
        coefs = [1.0] + [c for c, _ in rel.parts]
        ref_rhs = _combine(list(zip(coefs[1:], [e.value for e in exp[1:]], strict=True)))
        with np.errstate(invalid="ignore", over="ignore"):
            slack = np.nan_to_num(np.abs(exp[0].value - ref_rhs))
        allowed = sum(abs(c) * e.value_allowed for c, e in zip(coefs, exp, strict=True)) + slack
        if not tolerance.compare(exp[0].value, ref_rhs, allowed, "float64").ok:
            raise Unsupported("the relation does not hold for the reference here")
        try:
            lhs = _call(runner, impl, rel.a, dtype, device, False)
            rhs = _combine([(c, _call(runner, impl, b, dtype, device, rel.omit_smoothing))
                            for c, b in rel.parts])
        except (Fault, Unsupported):
            raise
        except BadReturn as exc:
            return Finding(rel.a, str(exc)[:300], outcome=Outcome.BAD_RETURN)
        except Exception as exc:
            return Finding(rel.a, f"raised on a valid call: {describe(exc)}"[:300],
                           outcome=Outcome.RAISES, exception=describe(exc))
        shape = np.shape(exp[0].value)
        if lhs.shape != shape or rhs.shape != shape:
            return Finding(rel.a, f"shapes {lhs.shape} and {rhs.shape} where the loss has "
                                  f"shape {shape}")
        cmp = tolerance.compare(lhs, rhs, allowed, dtype)
        if cmp.ok:
            return None
        return Finding(rel.a, f"{cmp.mismatch or 'differs'}: {lhs.tolist()!r:.120} against "
                              f"{rhs.tolist()!r:.120} (allowed {cmp.allowed_abs:.3g})")
    return check


def _gradient_check(impl: Implementation, runner: Runner, dtype: str,
                    device: str) -> Callable[[Case], Any]:
    def check(case: Case) -> Finding | None:
        reason = None if has_gradient(impl) else "no value_and_grad"
        reason = reason or unsupported_reason(impl, case.call(dtype, device, gradient=True))
        if reason:
            raise Unsupported(reason)
        exp = runner.expected(case, dtype)
        parts = exp.parts
        if case.reduction == "mean" and parts.denominator == 0.0:
            raise Unsupported("mean over a zero denominator: the gradient is NaN")
        formula = _formula(parts, case)
        try:
            _, grad = runner.context(impl, dtype, device).call(case, "value_and_grad").result
        except (Fault, Unsupported):
            raise
        except BadReturn as exc:
            return Finding(case, str(exc)[:300], outcome=Outcome.BAD_RETURN)
        except Exception as exc:
            return Finding(case, f"gradient raised: {describe(exc)}"[:300],
                           outcome=Outcome.RAISES, exception=describe(exc))
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != formula.shape:
            return Finding(case, f"gradient of shape {grad.shape} for an input of shape "
                                 f"{formula.shape}")
        cmp = tolerance.compare(grad, formula, exp.grad_allowed, dtype)
        return None if cmp.ok else Finding(
            case, f"gradient is not softmax * sum(q) - q over D: {cmp.mismatch or ''} "
                  f"off by {cmp.worst_abs:.3g} (allowed {cmp.allowed_abs:.3g})")
    return check


def _formula(parts: ref.Decomposition, case: Case) -> Array:
    with np.errstate(invalid="ignore", over="ignore"):
        g = np.exp(parts.logp) * np.sum(parts.q, axis=1, keepdims=True) - parts.q
    if case.reduction == "mean":
        g = g / parts.denominator
    shape = case.input.shape
    axis = _axis(case)
    moved = shape[:axis] + shape[axis + 1:] + shape[axis:axis + 1]
    return np.moveaxis(g.reshape(moved), -1, axis)


MakeCheck = Callable[[Implementation, Runner, str, str], Callable[[Any], Any]]


def relations(bounds: dict[str, Any]) -> dict[str, tuple[st.SearchStrategy[Any], MakeCheck]]:
    """Every relation by name: its strategy (bounded like ``cases``) and its check factory."""
    table: dict[str, tuple[st.SearchStrategy[Any], MakeCheck]] = {
        "shift": (shifts(**bounds), _relation_check),
        "permutation": (permutations(**bounds), _relation_check),
        "batch-split": (batch_splits(**bounds), _relation_check),
        "one-hot": (one_hots(**bounds), _relation_check),
        "smoothing-zero": (smoothing_zeros(**bounds), _relation_check),
        "smoothing-linear": (smoothing_lines(**bounds), _relation_check),
        "gradient": (cases(**bounds), _gradient_check),
    }
    return table

