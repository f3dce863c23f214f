"""``value``: the loss of a valid case agrees with the reference within the tolerance model; a
value a source quotes must also round to the quote (in float64)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from conformance import tolerance
from conformance.context import describe
from conformance.isolation import Invocation
from conformance.vocabulary import Check, Outcome, Verdict

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.context import Context
    from conformance.results import Record
    from implementations.base import Array


class ValueCheck:
    """The loss against the reference."""

    name = Check.VALUE
    order = 10

    def applies(self, case: Case, context: Context) -> bool:
        """Valid cases only."""
        return not case.invalid

    def run(self, context: Context, case: Case) -> Record:
        """Call, compare, and check the quoted value."""
        reason = context.unsupported(case)
        if reason:
            return context.record(case, self.name, Verdict.UNSUPPORTED, reason=reason)
        exp = context.expected(case)
        called = context.attempt(case, self.name, "cross_entropy", lambda exc: context.record(
            case, self.name, Verdict.DIVERGES, outcome=Outcome.RAISES, exception=describe(exc),
            expected=exp.value, reason="raised on a valid call"))
        if not isinstance(called, Invocation):
            return called
        value = called.result
        cmp = tolerance.compare(value, exp.value, exp.value_allowed, context.dtype)
        wrong_dtype = context.returned(case, self.name, value, exp.value, cmp)
        if wrong_dtype is not None:
            return wrong_dtype
        cmp, quoted = _check_quote(case, value, context.dtype, cmp)
        return context.compared(case, self.name, value, exp.value, exp.value_allowed, cmp,
                                reason=quoted)

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
    if close and case.expect.decimals is None and _fixes_sign(q):
        close = bool(np.array_equal(np.signbit(a[~np.isnan(a)]), np.signbit(q[~np.isnan(q)])))
    if close:
        return cmp, None
    failed = tolerance.Comparison(False, cmp.worst_abs, cmp.worst_rel, cmp.worst_ulp,
                                  cmp.allowed_abs, "does not round to the quoted value", cmp.used)
    quoted = np.array2string(q, precision=max(case.expect.decimals or 4, 1))
    return failed, f"does not round to the value the source quotes ({quoted})"


def _fixes_sign(quote: Array) -> bool:
    """Whether an exact quote fixes the sign of zero: only one that writes a negative zero
    (``-0.0``) does. A YAML ``0.0`` cannot say "positive zero, not negative", so a spec that
    quotes 0.0 accepts either sign; a spec that cares writes ``-0.0`` (and names the other
    sign as a convention)."""
    q = np.asarray(quote, dtype=np.float64)
    return bool(np.any((q == 0) & np.signbit(q)))


CHECK = ValueCheck()
