"""What the checks of one implementation in one dtype and device share: the ``Context``.

A ``Context`` gives the checks (``conformance.checks``) the reference evaluated once per (case,
dtype) (``Expected``, through its ``Judge``: a ``conformance.runner.Runner``), the call of the
implementation through ``conformance.isolation.invoke`` (so a crash, a timeout, a bad return or
a write into the inputs becomes a finding of that implementation alone) and the building of
records. ``CallTally`` counts the calls of a run and gives the ``inputs`` and ``robustness``
records. The runner iterates the checks; this module knows none of them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from conformance import repro, tolerance
from conformance.baseline import LESS_ACCURATE_RATIO, Baseline, Versus, versus
from conformance.baseline import NAME as BASELINE_NAME
from conformance.case import Case
from conformance.conventions import convention_of
from conformance.features import features_of
from conformance.isolation import (
    BadReturn,
    Fault,
    Invocation,
    Stopped,
    invoke,
    loaded_as,
    mutated_by,
    recovered_by,
)
from conformance.results import Record, summarize
from conformance.vocabulary import Check, Origin, Outcome, Verdict
from implementations import reference as ref
from implementations.base import (
    Array,
    Implementation,
    Unsupported,
    has_gradient,
    unsupported_reason,
)

__all__ = [
    "CallTally",
    "Context",
    "Expected",
    "Judge",
    "classify",
    "describe",
    "expected",
    "less_accurate",
    "snippet_for",
    "too_far",
]

@dataclass
class Expected:
    """The reference's value and gradient on the rounded arguments, with their error bounds
    and the row-wise pieces they came from."""

    value: Array
    value_allowed: Array
    grad: Array
    grad_allowed: Array
    parts: ref.Decomposition
    seconds: float = 0.0  # the reference's own time on the call (the call's time limit adapts)


def expected(case: Case, dtype: str) -> Expected:
    """Evaluate the reference and the tolerance model for ``case`` in ``dtype``."""
    started = time.monotonic()
    value, grad, parts = ref.evaluate(**case.arguments.rounded(dtype).kwargs())
    value_allowed, grad_allowed = tolerance.bounds(parts, value, grad, case.reduction, dtype,
                                                   case.input.shape)
    return Expected(value, value_allowed, grad, grad_allowed, parts,
                    time.monotonic() - started)


def classify(value: Array) -> Outcome:
    """For invalid input: ``nan`` if any NaN/inf came back, else ``silent`` (a finite number)."""
    finite = np.all(np.isfinite(np.asarray(value, dtype=np.float64)))
    return Outcome.SILENT if finite else Outcome.NAN


def describe(exc: BaseException) -> str:
    """``Type: first line of the message`` (the type the implementation raised, also when it
    raised in its worker)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{getattr(exc, 'type_name', type(exc).__name__)}: {first}"[:300]


@dataclass
class CallTally:
    """Per (implementation, dtype, device): the calls that completed (returned or raised),
    those that wrote into their inputs, the faults (crashes, timeouts, out-of-memory, bad
    returns) and the worker failures a rerun undid. It gives the two records that every run
    has for each: ``inputs`` and ``robustness`` (conforming when nothing failed hard)."""

    calls: dict[tuple[str, str, str], int] = field(default_factory=dict)
    writes: dict[tuple[str, str, str], list[tuple[Case, str, tuple[str, ...]]]] = \
        field(default_factory=dict)
    faults: dict[tuple[str, str, str], int] = field(default_factory=dict)
    recovered: dict[tuple[str, str, str], list[tuple[Case, str]]] = field(default_factory=dict)

    def note(self, key: tuple[str, str, str], case: Case, method: str,
             mutated: tuple[str, ...], recovered: tuple[str, ...] = ()) -> None:
        """Count one call; remember it when it wrote into ``mutated``, or when its worker
        failed on it and a fresh worker answered it (``recovered``)."""
        self.calls[key] = self.calls.get(key, 0) + 1
        if mutated:
            self.writes.setdefault(key, []).append((case, method, mutated))
        for what in recovered:
            self.recovered.setdefault(key, []).append((case, what))

    def note_fault(self, key: tuple[str, str, str]) -> None:
        """Count a crash, a timeout or a bad return."""
        self.faults[key] = self.faults.get(key, 0) + 1

    def records(self, impl: str, dtype: str, device: str, *,
                load_as: str | None = None) -> list[Record]:
        """The ``inputs`` record and, without faults, the ``robustness`` record (``load_as``:
        the name a repro loads the implementation by, when not ``impl``)."""
        key = (impl, dtype, device)
        calls, writes = self.calls.get(key, 0), self.writes.get(key, [])
        if not calls:
            return []
        found = [self._inputs(key, calls, writes, load_as)]
        if self.recovered.get(key):
            found.append(self._recovered(key, calls, self.recovered[key]))
        elif not self.faults.get(key):
            found.append(Record(case="all-calls", impl=impl, dtype=dtype, device=device,
                                check=Check.ROBUSTNESS, verdict=Verdict.CONFORMS,
                                features=["robustness", f"dtype-{dtype}"],
                                reason=f"{calls} calls; none crashed, timed out or returned "
                                       "something other than an array"))
        return found

    @staticmethod
    def _recovered(key: tuple[str, str, str], calls: int,
                   recovered: list[tuple[Case, str]]) -> Record:
        """The robustness finding of a worker that failed on calls a fresh worker answered:
        the implementation corrupts, exhausts or hangs its own process."""
        impl, dtype, device = key
        case, first = recovered[0]
        verdict = Verdict.TIMED_OUT if "no result within" in first else \
            Verdict.OUT_OF_MEMORY if "ran out of memory" in first else Verdict.CRASHED
        outcome = {Verdict.TIMED_OUT: Outcome.TIMEOUT, Verdict.OUT_OF_MEMORY:
                   Outcome.OUT_OF_MEMORY}.get(verdict, Outcome.CRASH)
        if verdict is Verdict.CRASHED and " (after an earlier failing" in first:
            verdict, outcome = Verdict.DIVERGES, Outcome.RAISES
        return Record(case=case.id, impl=impl, dtype=dtype, device=device,
                      check=Check.ROBUSTNESS, verdict=verdict, outcome=outcome,
                      features=["robustness", f"dtype-{dtype}"],
                      reason=f"its worker failed on {len(recovered)} of {calls} calls that a "
                             f"fresh worker then answered; first: {first}"[:300],
                      location=case.location or None)

    @staticmethod
    def _inputs(key: tuple[str, str, str], calls: int,
                writes: list[tuple[Case, str, tuple[str, ...]]], load_as: str | None) -> Record:
        impl, dtype, device = key
        features = ["inputs-unchanged", f"dtype-{dtype}"]
        if not writes:
            return Record(case="all-calls", impl=impl, dtype=dtype, device=device,
                          check=Check.INPUTS, verdict=Verdict.CONFORMS, features=features,
                          reason=f"{calls} calls; none wrote into its inputs")
        case, method, names = writes[0]
        return Record(case=case.id, impl=impl, dtype=dtype, device=device, check=Check.INPUTS,
                      verdict=Verdict.DIVERGES, outcome=Outcome.WRITES_INPUT, features=features,
                      reason=f"writes into its input: {method} changed its {', '.join(names)} "
                             f"({len(writes)} of {calls} calls)",
                      repro=repro.snippet(impl, case, dtype, device, Check.VALUE,
                                          load_as=load_as),
                      location=case.location or None)


class Judge(Protocol):
    """What a ``Context`` asks of the run it belongs to (``conformance.runner.Runner``)."""

    gradients: bool
    origin: Origin
    seed: int | None
    tally: CallTally
    baseline: Baseline | None

    def expected(self, case: Case, dtype: str) -> Expected:
        """The reference for ``case`` in ``dtype``."""

    def seconds(self, case: Case, dtype: str) -> float | None:
        """The reference's own time on ``case`` in ``dtype``, when it was evaluated."""


@dataclass
class Context:
    """One implementation in one dtype and device, as the checks see it."""

    runner: Judge
    impl: Implementation
    dtype: str
    device: str

    @property
    def gradients(self) -> bool:
        """Whether gradient checks run."""
        return self.runner.gradients

    def expected(self, case: Case) -> Expected:
        """The reference for ``case`` in this dtype."""
        return self.runner.expected(case, self.dtype)

    def unsupported(self, case: Case, *, gradient: bool = False) -> str | None:
        """Why the implementation cannot run ``case``, or ``None``."""
        if gradient and not has_gradient(self.impl):
            return f"{self.impl.name} provides no gradient (value_and_grad)"
        return unsupported_reason(self.impl, case.call(self.dtype, self.device,
                                                       gradient=gradient))

    def call(self, case: Case, method: str = "cross_entropy", *,
             arguments: Mapping[str, Any] | None = None) -> Invocation:
        """Call the implementation on ``case`` (its own copies of the arrays), counting the call
        and any write into its inputs."""
        arguments = dict(arguments if arguments is not None else case.arguments.kwargs())
        key = (self.impl.name, self.dtype, self.device)
        expects_raise = case.invalid or (method == "value_and_grad" and
                                         case.expect.gradient_error is not None)
        try:
            invocation = invoke(self.impl, method,
                                {**arguments, "dtype": self.dtype, "device": self.device},
                                reference_seconds=self.runner.seconds(case, self.dtype),
                                expects_raise=expects_raise)
        except Fault:  # no call completed: nothing to say about its inputs
            raise
        except Exception as exc:
            self.runner.tally.note(key, case, method, mutated_by(exc), recovered_by(exc))
            raise
        self.runner.tally.note(key, case, method, invocation.mutated, invocation.recovered)
        return invocation

    def attempt(self, case: Case, check: str, method: str,
                on_raise: Callable[[Exception], Record]) -> Invocation | Record:
        """``call``, or the record of what went wrong: unsupported, a fault, a bad return, or
        whatever ``on_raise`` makes of an exception the implementation raised."""
        try:
            return self.call(case, method)
        except Unsupported as exc:
            return self.record(case, check, Verdict.UNSUPPORTED, reason=str(exc))
        except Fault as exc:
            return self.fault(case, check, exc)
        except BadReturn as exc:
            self.runner.tally.note_fault((self.impl.name, self.dtype, self.device))
            return self.record(case, check, Verdict.DIVERGES, outcome=Outcome.BAD_RETURN,
                               reason=str(exc),
                               repro=snippet_for(self.impl, case, self.dtype, self.device,
                                                 check))
        except Exception as exc:
            return on_raise(exc)

    def compared(self, case: Case, check: Check, actual: Array, expected: Array,
                 allowed: Array, cmp: tolerance.Comparison,
                 reason: str | None = None) -> Record:
        """The record of a value or gradient compared with the reference: it conforms within
        the bound unless it is far less accurate than torch on the same spec or covering case
        (``conformance.baseline``); ``reason`` replaces the diverging reason."""
        if not cmp.ok:
            shared = self._shared_with_torch(case, check, actual, expected, allowed)
            if shared is not None:
                return self.record(case, check, Verdict.CONFORMS, outcome=Outcome.SHARES_TORCH,
                                   error=cmp.as_dict(), expected=expected, actual=actual,
                                   reason=shared)
            cmp = replace(cmp, within=self._lower_dtype(case, check, actual))
        vs = self._versus_torch(case, check, actual, expected, allowed)
        if vs is not None:
            cmp = replace(cmp, vs_torch=vs.ratio, vs_used=vs.used, torch_used=vs.torch_used)
        if cmp.ok and vs is not None and vs.less_accurate:
            return self.record(case, check, Verdict.DIVERGES, outcome=Outcome.LESS_ACCURATE,
                               error=cmp.as_dict(), expected=expected, actual=actual,
                               reason=less_accurate(cmp))
        return self.record(case, check, Verdict.CONFORMS if cmp.ok else Verdict.DIVERGES,
                           outcome=Outcome.VALUE, error=cmp.as_dict(), expected=expected,
                           actual=actual,
                           reason=None if cmp.ok else reason or cmp.mismatch or too_far(cmp))

    def _versus_torch(self, case: Case, check: Check, actual: Array, expected: Array,
                      allowed: Array) -> Versus | None:
        baseline = self.runner.baseline
        if baseline is None or self.runner.origin is Origin.GENERATED:
            return None
        out = baseline.output(case, self.dtype, self.device)
        if out is None:
            return None
        theirs = out.value if check is Check.VALUE else out.grad
        return versus(actual, theirs, expected, allowed, self.dtype)

    def _lower_dtype(self, case: Case, check: Check, actual: Array) -> str | None:
        """The most precise dtype below this one (``tolerance.LOWER``) whose bound a diverging
        result meets, judged as if that dtype had been asked for (the reference on the
        arguments rounded to it, its bound); ``None`` when none does. Evidence for
        ``conformance.diagnosis``' "computes float64 in float32", never a verdict alone."""
        for lower in tolerance.LOWER.get(self.dtype, ()):
            exp = self.runner.expected(case, lower)
            want, allowed = (exp.value, exp.value_allowed) if check is Check.VALUE else \
                (exp.grad, exp.grad_allowed)
            if tolerance.compare(actual, want, allowed, lower).ok:
                return lower
        return None

    def _shared_with_torch(self, case: Case, check: Check, actual: Array, expected: Array,
                           allowed: Array) -> str | None:
        """Why a result outside its bound is torch's own defect, shared (the reason), or
        ``None``: torch (the specification) gives the same output on the same spec case, dtype
        and device (the same shape and NaN/inf pattern, the rest within the bound of torch's),
        and torch's output is outside the bound too. Not for torch itself, whose defects its
        expectations file labels."""
        baseline = self.runner.baseline
        if baseline is None or self.runner.origin is not Origin.SPEC or \
                self.impl.name == BASELINE_NAME:
            return None
        out = baseline.output(case, self.dtype, self.device)
        if out is None:
            return None
        theirs = out.value if check is Check.VALUE else out.grad
        if theirs is None or tolerance.compare(theirs, expected, allowed, self.dtype).ok:
            return None
        if not tolerance.agrees(actual, theirs, allowed):
            return None
        return ("shares a defect of torch: returns what torch returns on the same input "
                f"({_first(actual)}) where the reference gives {_first(expected)}")

    def fault(self, case: Case, check: str, exc: Fault) -> Record:
        """A crash, a timeout or an out-of-memory of the implementation's worker during
        ``check`` of ``case``, or the check not run (the circuit breaker stopped it)."""
        if isinstance(exc, Stopped):
            return self.record(case, check, Verdict.NOT_RUN, reason=str(exc))
        self.runner.tally.note_fault((self.impl.name, self.dtype, self.device))
        return self.record(case, check, Verdict(exc.verdict),
                           outcome=Outcome(exc.outcome) if exc.outcome else None,
                           reason=str(exc),
                           repro=snippet_for(self.impl, case, self.dtype, self.device, check))

    def returned(self, case: Case, check: str, actual: Array, expected: Array,
                 cmp: tolerance.Comparison) -> Record | None:
        """A divergence when ``actual`` is not of the dtype the call asked for (a float16
        result for a float64 call is its own finding, not only a numerical one)."""
        got = np.asarray(actual).dtype
        if got.name == self.dtype or got.kind not in "fc":
            return None
        also = "" if cmp.ok else f"; and {cmp.mismatch or too_far(cmp)}"
        lower = tolerance.LOWER.get(self.dtype, ())
        if got.name in lower:  # evidence of a lower precision: the dtype it computes in
            cmp = replace(cmp, within=got.name if cmp.ok else
                          self._lower_dtype(case, Check(check), actual))
        return self.record(case, check, Verdict.DIVERGES, outcome=Outcome.WRONG_DTYPE,
                           error=cmp.as_dict(), expected=expected, actual=actual,
                           reason=f"returned {got.name}, not the {self.dtype} the call asked "
                                  f"for{also}")

    def record(self, case: Case, check: str, verdict: Verdict, *, reason: str | None = None,
               outcome: Outcome | None = None, exception: str | None = None,
               error: dict[str, Any] | None = None, expected: Array | None = None,
               actual: Array | None = None, repro: str | None = None) -> Record:
        """A record of ``check`` on ``case``; a divergence carries its reproduction snippet."""
        snippet = repro
        if snippet is None and verdict is Verdict.DIVERGES:
            snippet = snippet_for(self.impl, case, self.dtype, self.device, check)
        origin = self.runner.origin
        features = features_of(case, self.dtype, check)
        convention = convention_of(case, check, actual, raised=outcome == Outcome.RAISES) \
            if verdict is Verdict.DIVERGES and outcome is not Outcome.LESS_ACCURATE else None
        if outcome in (Outcome.CRASH, Outcome.TIMEOUT, Outcome.OUT_OF_MEMORY,
                       Outcome.BAD_RETURN):
            features.append("robustness")
        return Record(case=case.id, impl=self.impl.name, dtype=self.dtype, device=self.device,
                      check=check, verdict=verdict, features=features, reason=reason,
                      error=error, expected=summarize(expected), actual=summarize(actual),
                      outcome=outcome, exception=exception, seed=self.runner.seed,
                      origin=origin,
                      case_spec=case.to_spec() if origin is not Origin.SPEC else None,
                      repro=snippet, location=case.location or None, convention=convention)


def snippet_for(impl: Implementation, case: Case, dtype: str, device: str, check: str) -> str:
    """The repro of ``check`` of ``case`` on ``impl``, loading it the way the run did."""
    return repro.snippet(impl.name, case, dtype, device, check, load_as=loaded_as(impl))


def _first(value: Array) -> str:
    """The first element of an array, for a reason (``0``, ``inf``, ``0.693 …``)."""
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    if not flat.size:
        return "an empty array"
    return f"{flat[0]:.3g}" + (" …" if flat.size > 1 else "")


def less_accurate(cmp: tolerance.Comparison) -> str:
    """The reason of a comparison within its bound but far less accurate than torch's."""
    return (f"within the bound, but {cmp.vs_torch:.3g} times torch's own error on the same "
            f"input: its largest error used {cmp.vs_used:.3g} of the bound there, torch's "
            f"{cmp.torch_used:.3g} (an accuracy finding from {LESS_ACCURATE_RATIO:g} times)")


def too_far(cmp: tolerance.Comparison) -> str:
    """The reason of a comparison outside its bound, all from one element. ULPs are given
    where they mean something: not where the reference is exactly 0 (the relative error is
    infinite there), nor past ``tolerance.MEANINGFUL_ULP`` (an error of the size of the value
    itself)."""
    if not math.isfinite(cmp.worst_rel):  # the bound there is only the dtype's floor
        return f"off by {cmp.worst_abs:.3g} where the reference is exactly 0 (allowed " \
               f"{cmp.allowed_abs:.3g})"
    where = f"allowed {cmp.allowed_abs:.3g} there ({cmp.used:.3g} times the bound)"
    ulps = f"{cmp.worst_ulp:.3g} ULP at the problem's scale, " \
        if cmp.worst_ulp <= tolerance.MEANINGFUL_ULP else ""
    return f"off by {cmp.worst_abs:.3g} ({ulps}relative {cmp.worst_rel:.3g}); {where}"
