"""Run cases on implementations and judge each result against the reference.

For a valid case the reference is evaluated (in float64) on the arguments rounded to the
implementation's dtype, and the implementation's value and gradient are compared with it under
``conformance.tolerance``. For an invalid case (``expect.error``) the implementation conforms
only by raising; otherwise the record says whether it returned NaN/inf or, worst, a finite
number. A case the implementation cannot express is ``unsupported``, with its reason.

The checks themselves live in ``conformance.checks`` (one module each), and the
``conformance.context.Context`` the runner gives them holds what they share: the reference
evaluated once per (case, dtype) (cached here), the call of the implementation in its worker,
and the building of records. The runner iterates the checks; neither module imports this one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.baseline import Baseline
from conformance.case import Case
from conformance.checks import discover
from conformance.context import CallTally, Context, Expected, expected
from conformance.results import Record
from conformance.vocabulary import Origin
from implementations.base import Implementation

CACHED = 8  # reference evaluations a Runner keeps, most recent first


@dataclass
class Runner:
    """Runs cases on implementations, caching the reference per (case, dtype)."""

    gradients: bool = True
    origin: Origin = Origin.SPEC
    seed: int | None = None
    tally: CallTally = field(default_factory=CallTally)
    baseline: Baseline | None = None  # torch's outputs, for the accuracy comparison
    _cache: OrderedDict[tuple[str, str], Expected] = field(default_factory=OrderedDict)

    def expected(self, case: Case, dtype: str) -> Expected:
        """The reference for ``case`` in ``dtype``, evaluated once while it is among the last
        ``CACHED`` cases asked for (a case's checks ask one after another; keeping every case
        would hold the reference's arrays of a whole run, gigabytes at LLM scale)."""
        key = (case.id, dtype)
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            self._cache[key] = expected(case, dtype)
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return self._cache[key]

    def seconds(self, case: Case, dtype: str) -> float | None:
        """The reference's own time on ``case`` in ``dtype``, when it was evaluated."""
        found = self._cache.get((case.id, dtype))
        return None if found is None else found.seconds

    def context(self, impl: Implementation, dtype: str = "float64",
                device: str = "cpu") -> Context:
        """What the checks of one implementation in one dtype and device share."""
        return Context(self, impl, dtype, device)

    def run(self, impl: Implementation, cases: Iterable[Case], dtype: str = "float64",
            device: str = "cpu") -> list[Record]:
        """Every check of every case on one implementation."""
        context = self.context(impl, dtype, device)
        return [record for case in cases for record in run_checks(context, case)]

    def run_case(self, impl: Implementation, case: Case, dtype: str = "float64",
                 device: str = "cpu") -> list[Record]:
        """The value check (or invalid-input check) and, where possible, the gradient check."""
        return run_checks(self.context(impl, dtype, device), case)


def run_checks(context: Context, case: Case) -> list[Record]:
    """Every check that applies to ``case``, in order."""
    return [check.run(context, case) for check in discover() if check.applies(case, context)]


__all__ = ["CACHED", "Runner", "run_checks"]
