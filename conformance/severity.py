"""How bad a finding is, derived from what happened and never written by hand.

``severity_of(record)`` reads only the record's facts (``check``, ``verdict``, ``outcome``,
``error``, ``exception``, ``convention``) and returns a ``conformance.vocabulary.Severity``, or
``None`` for a record that is no finding (conforms, unsupported, not run). The rules, first
match wins:

1. ``convention`` is set (the outcome is a named alternative at an edge) -> CONVENTION;
2. a crash, a timeout, an out-of-memory or something that is not an array came back -> CRASH;
3. the implementation wrote into an array it was given -> WRITES_INPUT;
4. ``less-accurate`` (within the bound, far less accurate than torch) or ``lower-precision``
   (within the bound of a lower dtype than asked for, in a dtype the implementation computes
   lower: ``conformance.diagnosis``) -> ACCURACY;
5. an invalid-input check (``invalid``, ``property:invalid-*``) that returned (finite or
   NaN/inf) instead of raising -> ACCEPTS_INVALID;
6. a valid call that raised -> REJECTS_VALID;
7. any other divergence on valid input (a wrong number, a wrong NaN/inf pattern, a wrong shape,
   an array of another dtype than the one asked for, a broken metamorphic relation)
   -> WRONG_ON_VALID.

A fault (rule 2) is never a pass: an invalid-input check whose call crashed or hung is a
fault, not "raises"; a check the circuit breaker stopped is ``not-run`` (no finding, but the gate
exits 3: nothing judged it).

``results.json`` stores the result in each record (``Record.as_dict``) for other tools; the
reports call ``severity_of`` again, so this module is the one source.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from conformance.vocabulary import (
    FAULT_VERDICTS,
    PROPERTY_PREFIX,
    Check,
    Outcome,
    Severity,
    Verdict,
)


class Judged(Protocol):
    """What severity is derived from: the fields of a ``conformance.results.Record`` it reads
    (a protocol, so that this module needs not import the records it judges)."""

    @property
    def check(self) -> str: ...
    @property
    def verdict(self) -> Verdict: ...
    @property
    def outcome(self) -> Outcome | None: ...
    @property
    def convention(self) -> str | None: ...

__all__ = ["Judged", "is_invalid_check", "severity_of", "worst"]

_FAULT_OUTCOMES = (Outcome.CRASH, Outcome.TIMEOUT, Outcome.OUT_OF_MEMORY, Outcome.BAD_RETURN)
_NO_FINDING = (Verdict.CONFORMS, Verdict.UNSUPPORTED, Verdict.NOT_RUN)

def is_invalid_check(check: str) -> bool:
    """Whether ``check`` calls with invalid input (``invalid`` or ``property:invalid-*``)."""
    return check == Check.INVALID or check.startswith(f"{PROPERTY_PREFIX}invalid-")


def severity_of(record: Judged) -> Severity | None:
    """The severity of ``record`` (module docstring), ``None`` when it is no finding."""
    if record.verdict in (Verdict.UNSUPPORTED, Verdict.NOT_RUN):
        return None
    if record.convention is not None:
        return Severity.CONVENTION
    outcome = record.outcome
    if record.verdict in FAULT_VERDICTS or outcome in _FAULT_OUTCOMES:
        return Severity.CRASH
    if outcome == Outcome.WRITES_INPUT:
        return Severity.WRITES_INPUT
    if outcome in (Outcome.LESS_ACCURATE, Outcome.LOWER_PRECISION):
        return Severity.ACCURACY
    if record.verdict in _NO_FINDING:
        return None
    if is_invalid_check(record.check):
        return Severity.ACCEPTS_INVALID
    if outcome == Outcome.RAISES:
        return Severity.REJECTS_VALID
    return Severity.WRONG_ON_VALID


def worst(severities: Iterable[Severity | None]) -> Severity | None:
    """The most severe of ``severities`` (``None`` when none is a finding)."""
    found = [s for s in severities if s is not None]
    return min(found, key=lambda s: s.rank) if found else None
