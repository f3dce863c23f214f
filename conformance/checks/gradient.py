"""``gradient``: d loss.sum() / d input of a valid case agrees with the reference's analytic
gradient within the tolerance model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance import tolerance
from conformance.context import describe
from conformance.isolation import Invocation
from conformance.vocabulary import Check, Outcome, Verdict

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.context import Context
    from conformance.results import Record


class GradientCheck:
    """The gradient against the reference."""

    name = Check.GRADIENT
    order = 20

    def applies(self, case: Case, context: Context) -> bool:
        """Valid cases, when the run checks gradients."""
        return not case.invalid and context.gradients

    def run(self, context: Context, case: Case) -> Record:
        """Call ``value_and_grad`` and compare the gradient."""
        reason = context.unsupported(case, gradient=True)
        if reason:
            return context.record(case, self.name, Verdict.UNSUPPORTED, reason=reason)
        exp = context.expected(case)
        if case.expect.gradient_error is not None:
            refused = context.attempt(case, self.name, "value_and_grad", lambda exc: context.record(
                case, self.name, Verdict.CONFORMS, outcome=Outcome.RAISES,
                exception=describe(exc), reason="raises as torch's backward does"))
            if not isinstance(refused, Invocation):
                return refused
            return context.record(case, self.name, Verdict.DIVERGES, outcome=Outcome.VALUE,
                                  actual=refused.result[1],
                                  reason=f"returned a gradient where torch's backward raises "
                                         f"({case.expect.gradient_error})")
        called = context.attempt(case, self.name, "value_and_grad", lambda exc: context.record(
            case, self.name, Verdict.DIVERGES, outcome=Outcome.RAISES, exception=describe(exc),
            reason="gradient raised on a valid call"))
        if not isinstance(called, Invocation):
            return called
        _, grad = called.result
        cmp = tolerance.compare(grad, exp.grad, exp.grad_allowed, context.dtype)
        wrong_dtype = context.returned(case, self.name, grad, exp.grad, cmp)
        if wrong_dtype is not None:
            return wrong_dtype
        return context.compared(case, self.name, grad, exp.grad, exp.grad_allowed, cmp)

CHECK = GradientCheck()
