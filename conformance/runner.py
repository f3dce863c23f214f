"""Run cases on implementations and judge each result against the reference.

For a valid case the reference is evaluated (in float64) on the arguments rounded to the
implementation's dtype, and the implementation's value and gradient are compared with it under
``conformance.tolerance``. For an invalid case (``expect.error``) the implementation conforms
only by raising; otherwise the record says whether it returned NaN/inf or, worst, a finite
number. A case the implementation cannot express is ``unsupported``, with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conformance import repro, tolerance
from conformance.case import Case
from conformance.features import features_of
from conformance.results import Record, summarize
from implementations import reference as ref
from implementations._dtypes import round_to
from implementations.base import Array, Implementation


def unsupported_reason(impl: Implementation, call: Any) -> str | None:
    """Why ``impl`` cannot run ``call`` (dtype, device, or its own ``supports``), or ``None``."""
    dtypes = getattr(impl, "dtypes", ("float64",))
    if call.dtype not in dtypes:
        return f"{impl.name} has no {call.dtype} (it supports {', '.join(dtypes)})"
    devices = getattr(impl, "devices", ("cpu",))
    if call.device not in devices:
        return f"{impl.name} sees no {call.device} device (it has {', '.join(devices)})"
    supports = getattr(impl, "supports", None)
    return supports(call) if supports is not None else None


def rounded(case: Case, dtype: str) -> dict[str, Any]:
    """The case's arguments as the implementation sees them: floating arrays rounded to dtype."""
    target = case.target
    if target.dtype.kind == "f":
        target = round_to(target, dtype)
    weight = None if case.weight is None else round_to(case.weight, dtype)
    return {"input": round_to(case.input, dtype), "target": target, "weight": weight,
            "ignore_index": case.ignore_index, "reduction": case.reduction,
            "label_smoothing": case.label_smoothing}


@dataclass
class Expected:
    """The reference's value and gradient on the rounded arguments, with their error bounds
    and the row-wise pieces they came from."""

    value: Array
    value_allowed: Array
    grad: Array
    grad_allowed: Array
    parts: ref.Decomposition


def expected(case: Case, dtype: str) -> Expected:
    """Evaluate the reference and the tolerance model for ``case`` in ``dtype``."""
    args = rounded(case, dtype)
    value, grad, parts = ref.evaluate(**args)
    value_allowed, grad_allowed = tolerance.bounds(parts, value, grad, case.reduction, dtype,
                                                   case.input.shape)
    return Expected(value, value_allowed, grad, grad_allowed, parts)


def classify(value: Array) -> str:
    """For invalid input: ``nan`` if any NaN/inf came back, else ``silent`` (a finite number)."""
    return "nan" if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))) else "silent"


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:300]


@dataclass
class Runner:
    """Runs cases on implementations, caching the reference per (case, dtype)."""

    gradients: bool = True
    origin: str = "spec"
    seed: int | None = None
    _cache: dict[tuple[str, str], Expected] = field(default_factory=dict)

    def _expected(self, case: Case, dtype: str) -> Expected:
        key = (case.id, dtype)
        if key not in self._cache:
            self._cache[key] = expected(case, dtype)
        return self._cache[key]

    def run(self, impl: Implementation, cases: Iterable[Case], dtype: str = "float64",
            device: str = "cpu") -> list[Record]:
        """Every check of every case on one implementation."""
        records: list[Record] = []
        for case in cases:
            records += self.run_case(impl, case, dtype, device)
        return records

    def run_case(self, impl: Implementation, case: Case, dtype: str = "float64",
                 device: str = "cpu") -> list[Record]:
        """The value check (or invalid-input check) and, where possible, the gradient check."""
        if case.invalid:
            return [self._invalid(impl, case, dtype, device)]
        records = [self._value(impl, case, dtype, device)]
        if self.gradients:
            records.append(self._gradient(impl, case, dtype, device))
        return records

    def _record(self, impl: Implementation, case: Case, dtype: str, device: str, check: str,
                **fields: Any) -> Record:
        # Only a divergence needs reproducing; the snippet (with the data) would bloat the rest.
        snippet = repro.snippet(impl.name, case, dtype, device, check) \
            if fields.get("verdict") == "diverges" else None
        return Record(case=case.id, impl=impl.name, dtype=dtype, device=device, check=check,
                      features=features_of(case, dtype, check), seed=self.seed,
                      origin=self.origin, case_spec=case.to_spec() if self.origin != "spec"
                      else None, location=case.location or None, repro=snippet, **fields)

    def _invalid(self, impl: Implementation, case: Case, dtype: str, device: str) -> Record:
        reason = unsupported_reason(impl, case.call(dtype, device))
        if reason:
            return self._record(impl, case, dtype, device, "invalid", verdict="unsupported",
                                reason=reason)
        try:
            value = impl.cross_entropy(**_args(case, dtype), dtype=dtype, device=device)
        except Exception as exc:
            return self._record(impl, case, dtype, device, "invalid", verdict="conforms",
                                outcome="raises", exception=describe(exc))
        outcome = classify(value)
        what = "returned NaN/inf" if outcome == "nan" else "silently returned a finite number"
        return self._record(impl, case, dtype, device, "invalid", verdict="diverges",
                            outcome=outcome, actual=summarize(value),
                            reason=f"{case.expect.error}: {what} instead of raising")

    def _value(self, impl: Implementation, case: Case, dtype: str, device: str) -> Record:
        reason = unsupported_reason(impl, case.call(dtype, device))
        if reason:
            return self._record(impl, case, dtype, device, "value", verdict="unsupported",
                                reason=reason)
        exp = self._expected(case, dtype)
        try:
            value = impl.cross_entropy(**_args(case, dtype), dtype=dtype, device=device)
        except Exception as exc:
            return self._record(impl, case, dtype, device, "value", verdict="diverges",
                                outcome="raises", exception=describe(exc),
                                expected=summarize(exp.value),
                                reason="raised on a valid call")
        cmp = tolerance.compare(value, exp.value, exp.value_allowed, dtype)
        cmp, quoted = _check_quote(case, value, dtype, cmp)
        return self._record(impl, case, dtype, device, "value",
                            verdict="conforms" if cmp.ok else "diverges", outcome="value",
                            error=cmp.as_dict(), expected=summarize(exp.value),
                            actual=summarize(value), reason=None if cmp.ok else
                            quoted or cmp.mismatch or _too_far(cmp))

    def _gradient(self, impl: Implementation, case: Case, dtype: str, device: str) -> Record:
        reason = None if hasattr(impl, "value_and_grad") else \
            f"{impl.name} provides no gradient (value_and_grad)"
        reason = reason or unsupported_reason(impl, case.call(dtype, device, gradient=True))
        if reason:
            return self._record(impl, case, dtype, device, "gradient", verdict="unsupported",
                                reason=reason)
        exp = self._expected(case, dtype)
        try:
            _, grad = impl.value_and_grad(  # type: ignore[attr-defined]
                **_args(case, dtype), dtype=dtype, device=device)
        except Exception as exc:
            return self._record(impl, case, dtype, device, "gradient", verdict="diverges",
                                outcome="raises", exception=describe(exc),
                                reason="gradient raised on a valid call")
        cmp = tolerance.compare(grad, exp.grad, exp.grad_allowed, dtype)
        return self._record(impl, case, dtype, device, "gradient",
                            verdict="conforms" if cmp.ok else "diverges", outcome="value",
                            error=cmp.as_dict(), expected=summarize(exp.grad),
                            actual=summarize(grad),
                            reason=None if cmp.ok else cmp.mismatch or _too_far(cmp))


def _args(case: Case, dtype: str) -> dict[str, Any]:
    """The arguments handed to an implementation: the case's own (it casts to ``dtype``)."""
    return {"input": case.input, "target": case.target, **case.kwargs()}


def _too_far(cmp: tolerance.Comparison) -> str:
    return (f"off by {cmp.max_abs:.3g} ({cmp.max_ulp:.3g} ULP, relative {cmp.max_rel:.3g}); "
            f"allowed {cmp.allowed_abs:.3g}")


def _check_quote(case: Case, value: Array, dtype: str,
                 cmp: tolerance.Comparison) -> tuple[tolerance.Comparison, str | None]:
    """In float64, a value quoted by a source must also round to the quote."""
    quote = case.expect.value
    if quote is None or dtype != "float64" or not cmp.ok:
        return cmp, None
    a = np.asarray(value, dtype=np.float64)
    q = np.asarray(quote, dtype=np.float64)
    half = 0.5 * 10.0 ** -case.expect.decimals if case.expect.decimals is not None else 0.0
    same_nan = np.array_equal(np.isnan(a), np.isnan(q)) if a.shape == q.shape else False
    with np.errstate(invalid="ignore"):
        near = (a == q) | (np.abs(a - q) <= half * (1 + 1e-9)) | np.isnan(q)
        close = same_nan and bool(np.all(near))
    if close:
        return cmp, None
    failed = tolerance.Comparison(False, cmp.max_abs, cmp.max_rel, cmp.max_ulp,
                                  cmp.allowed_abs, "does not round to the quoted value")
    quoted = np.array2string(q, precision=max(case.expect.decimals or 4, 1))
    return failed, f"does not round to the value the source quotes ({quoted})"


__all__ = ["Expected", "Runner", "classify", "describe", "expected", "rounded",
           "unsupported_reason"]
