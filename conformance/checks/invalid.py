"""``invalid``: a call torch refuses must raise; returning NaN/inf or, worse, a finite number is
a divergence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.context import classify, describe
from conformance.isolation import Invocation
from conformance.vocabulary import Check, Outcome, Verdict

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.context import Context
    from conformance.results import Record


class InvalidCheck:
    """Invalid input must raise."""

    name = Check.INVALID
    order = 0

    def applies(self, case: Case, context: Context) -> bool:
        """Cases that expect an error."""
        return case.invalid

    def run(self, context: Context, case: Case) -> Record:
        """Call; raising conforms."""
        reason = context.unsupported(case)
        if reason:
            return context.record(case, self.name, Verdict.UNSUPPORTED, reason=reason)
        called = context.attempt(case, self.name, "cross_entropy", lambda exc: context.record(
            case, self.name, Verdict.CONFORMS, outcome=Outcome.RAISES, exception=describe(exc)))
        if not isinstance(called, Invocation):
            return called
        outcome = classify(called.result)
        what = "returned NaN/inf" if outcome is Outcome.NAN else \
            "silently returned a finite number"
        return context.record(case, self.name, Verdict.DIVERGES, outcome=outcome,
                              actual=called.result,
                              reason=f"{case.expect.error}: {what} instead of raising")


CHECK = InvalidCheck()
