"""Group findings by cause: one entry per distinct behaviour, not one per example.

A finding that ``conformance.diagnosis`` gave a cause (``Record.diagnosis``) is grouped by it:
one group per implementation, cause and severity, whatever its checks, dtypes, devices and
origins, titled with the cause's heading ("wrong when probability targets ∧ label_smoothing;
correct without any one of them"), known only when every example is listed in the
expectations file. Any other finding keeps the symptom grouping below.

A finding is a record with a severity (``conformance.severity``). Records share a cause when
they come from the same implementation and check, have the same severity, fail in the same way
(the reason with its numbers blanked out, the outcome, the exception type) and carry the same
known-divergence reason from the expectations file; dtypes and devices do not split a cause.
Each group keeps its examples sorted smallest input first, so its first record is the minimal
case a report shows, and its ``headline`` quotes that record's real numbers (the blanked reason
is only the grouping key). Its anchor is a hash of the cause, stable across runs as long as the
cause is. Groups come most severe first, then by implementation (torch first), then the
causes plain inputs show before those only hostile values show, then by size of error.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.report.values import clip, number
from conformance.results import Record
from conformance.severity import severity_of
from conformance.signature import TRAITS
from conformance.vocabulary import Origin, Severity

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_RUN = re.compile(r"#(?:[\s,]+#)+")
_TOKEN = re.compile(r"np\.nan|np\.inf|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

GroupKey = tuple[str, str, str, str, str, str, str, str]
SPEC_IMPL = "torch"  # the specification: its column and groups come first
HOSTILE_RANK = 4  # ``plain_order``'s rank of a hostile example


@dataclass(frozen=True)
class Group:
    """Diverging records that share one cause, smallest input first."""

    anchor: str
    impl: str
    check: str
    cause: str
    outcome: str
    expected_reason: str | None
    severity: Severity
    records: tuple[Record, ...]
    diagnosed: bool = False  # ``cause`` is a diagnosed cause's heading (conformance.diagnosis)

    @property
    def minimal(self) -> Record:
        """The plainest example: a spec seed case over another spec case over a generated
        one over a hostile one, then the smallest input."""
        return self.records[0]

    @property
    def known(self) -> bool:
        """Whether the expectations file lists this divergence."""
        return self.expected_reason is not None

    @property
    def headline(self) -> str:
        """A diagnosed cause's heading; else the minimal example's reason, with its real
        numbers, in one line."""
        if self.diagnosed:
            return self.cause
        return " ".join((self.minimal.reason or self.cause).split())

    @property
    def title(self) -> str:
        """``impl · check: headline`` (cut at a word, never inside one)."""
        return f"{self.impl} · {self.check}: {clip(self.headline, 110)}"

    @property
    def trigger(self) -> list[str]:
        """A diagnosed cause's trigger: the conditions it needs (``[]`` when undiagnosed)."""
        return list((self.minimal.diagnosis or {}).get("trigger") or [])

    @property
    def example(self) -> dict[str, object] | None:
        """The reduced example a diagnosed cause was shown on, in spec form."""
        found = (self.minimal.diagnosis or {}).get("example")
        return found if isinstance(found, dict) else None

    @property
    def hostile(self) -> bool:
        """Whether every example has hostile values (NaN, inf, huge or subnormal): such a
        cause comes after the causes plain inputs show, whatever the size of its error."""
        return all(plain_order(r)[0] == HOSTILE_RANK for r in self.records)

    @property
    def magnitude(self) -> float:
        """The largest error among the examples, as a fraction of its bound (inf for a
        NaN/inf or shape mismatch, 0 when nothing was measured)."""
        worst = 0.0
        for record in self.records:
            error = record.error or {}
            if error.get("mismatch"):
                return math.inf
            used = number(error.get("used"))
            if used is not None and not math.isnan(used):
                worst = max(worst, used)
        return worst

    @property
    def cases(self) -> list[str]:
        """The distinct case ids, smallest input first."""
        return list(dict.fromkeys(r.case for r in self.records))

    @property
    def dtypes(self) -> list[str]:
        """The dtypes the group's examples ran in."""
        return sorted({r.dtype for r in self.records})

    @property
    def devices(self) -> list[str]:
        """The devices the group's examples ran on."""
        return sorted({r.device for r in self.records})


def normalize(reason: str | None) -> str:
    """The reason with numbers blanked (``off by # (# ULP…)``), in one line."""
    text = " ".join((reason or "").split())
    return _RUN.sub("#", _NUMBER.sub("#", text)) or "(no reason given)"


def badness(record: Record) -> tuple[int, float]:
    """A key that sorts the worst finding first: its severity, then its error in ULPs."""
    sev = severity_of(record)
    ulp = record_ulp(record)
    return (len(Severity) if sev is None else sev.rank, -1.0 if ulp is None else -ulp)


def record_ulp(record: Record) -> float | None:
    """The record's measured error in ULPs, or ``None`` when none was measured."""
    ulp = number((record.error or {}).get("max_ulp"))
    return None if ulp is None or math.isnan(ulp) else ulp


def input_size(record: Record) -> int:
    """Elements of the case's input: from ``case_spec`` when there, else the repro's input."""
    if record.case_spec and "input" in record.case_spec:
        return _leaves(record.case_spec["input"])
    for line in (record.repro or "").splitlines():
        if line.startswith("input = "):
            return len(_TOKEN.findall(line.split(", dtype=")[0].removeprefix("input = ")))
    return sys.maxsize


def _leaves(value: object) -> int:
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 1


def _key(record: Record) -> GroupKey:
    if record.diagnosis and record.diagnosis.get("cause"):
        return (record.impl, "", str(record.diagnosis["cause"]), "", "", "",
                str(severity_of(record)), "diagnosed")
    exception = (record.exception or "").split(":", 1)[0] if record.exception else ""
    cause = record.signature or "" if record.origin == Origin.GENERATED else ""
    return (record.impl, record.check, normalize(record.reason), record.outcome or "",
            exception, record.expected_reason or "", str(severity_of(record)), cause)


def plain_order(record: Record) -> tuple[int, int, int, str, str, str]:
    """The plainest example first: a spec seed case, another spec case, a generated one, a
    hostile one (non-finite, huge or subnormal values); then the smallest input."""
    hostile = record.case.startswith("hostile-") or any(
        trait in (record.signature or "") for trait in TRAITS)
    rank = HOSTILE_RANK if hostile else 0 if record.case.startswith("seed-") else \
        1 if record.origin == Origin.SPEC else 2 if record.origin == Origin.COVERING else 3
    return (rank, input_size(record), len(record.repro or ""), record.case, record.dtype,
            record.device)


def anchor(key: GroupKey) -> str:
    """``div-<impl>-<check>-<hash>``: an HTML id, the same for the same cause."""
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:10]
    return f"div-{_slug(key[0])}-{_slug(key[1])}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def group(records: Iterable[Record]) -> list[Group]:
    """The findings grouped by cause: most severe first, then by implementation (torch
    first), new before known, then by check and cause."""
    found: dict[GroupKey, list[Record]] = defaultdict(list)
    for record in records:
        if severity_of(record) is not None:
            found[_key(record)].append(record)
    groups = [_group(key, members) for key, members in found.items()]
    return sorted(groups, key=lambda g: (g.severity.rank, g.impl != SPEC_IMPL, g.impl, g.known,
                                         g.hostile, -g.magnitude, g.check, g.cause, g.anchor))


def _group(key: GroupKey, members: list[Record]) -> Group:
    records = tuple(sorted(members, key=plain_order))
    if key[7] != "diagnosed":
        return Group(anchor(key), key[0], key[1], key[2], key[3], key[5] or None,
                     Severity(key[6]), records)
    checks = ", ".join(sorted({r.check for r in records}))
    reasons = [r.expected_reason for r in records]
    known = reasons[0] if all(reasons) else None  # one new symptom makes the cause new
    return Group(anchor(key), key[0], checks, key[2], "", known, Severity(key[6]), records,
                 diagnosed=True)


def anchors(groups: Iterable[Group]) -> dict[tuple[str, str, str, str, str, str], str]:
    """Record key -> the anchor of its group."""
    return {r.key: g.anchor for g in groups for r in g.records}
