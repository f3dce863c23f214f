"""The compatibility matrix: features (``conformance.features.FEATURES``, in order) by
implementation (one column per implementation@device when records span several devices).

A cell aggregates every record that counts towards its feature in its column:

- **diverges** if any record diverges (the worst error and a link to the divergence group of
  the worst record); marked *known* when every diverging record is listed in an expectations
  file, with the reasons: a known divergence is still a divergence;
- else **conforms** if any record conforms (a count of unsupported ones is kept as detail);
- else **unsupported**, with the most frequent reason;
- else **not run**: the implementation was skipped (with the reason), or no record covers it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from conformance.expectations import FINDINGS
from conformance.features import FEATURES
from conformance.report.divergences import record_ulp, severity
from conformance.report.values import fmt, jsonable, shorten
from conformance.results import Record

Status = Literal["conforms", "diverges", "unsupported", "not-run"]
STATUSES: tuple[Status, ...] = ("conforms", "diverges", "unsupported", "not-run")
_OUTCOMES = {"raises": "raises", "nan": "returns NaN/inf", "silent": "returns a finite number",
             "crash": "crashed", "timeout": "timed out", "bad-return": "returns no array",
             "writes-input": "writes into its input"}
RecordKey = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class Column:
    """One implementation, on one device when the matrix has several."""

    impl: str
    device: str | None
    label: str


@dataclass(frozen=True)
class Cell:
    """What a column shows for one feature."""

    status: Status
    detail: str = ""
    known: bool = False
    known_reason: str | None = None
    anchor: str | None = None
    worst_ulp: float | None = None
    checks: int = 0
    failing: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"status": self.status, "detail": self.detail, "known": self.known,
                "known_reason": self.known_reason, "anchor": self.anchor,
                "worst_ulp": jsonable(self.worst_ulp), "checks": self.checks,
                "failing": self.failing}


@dataclass(frozen=True)
class Row:
    """One feature across the columns."""

    feature: str
    title: str
    cells: tuple[Cell, ...]


@dataclass
class Summary:
    """How many features of a column have each status."""

    counts: Counter[str] = field(default_factory=Counter)
    known: int = 0
    skipped: str | None = None

    @property
    def total(self) -> int:
        """Number of features (rows)."""
        return sum(self.counts.values())

    @property
    def text(self) -> str:
        """``15/19 features conform; 2 diverge (1 known); 1 unsupported; 1 not run``."""
        if self.skipped is not None:
            return f"not run: {shorten(self.skipped, 200)}"
        c, parts = self.counts, [f"{self.counts['conforms']}/{self.total} features conform"]
        if c["diverges"]:
            parts.append(f"{c['diverges']} diverge" + (f" ({self.known} known)" if self.known
                                                         else ""))
        parts += [f"{c[s]} {s.replace('-', ' ')}" for s in ("unsupported", "not-run") if c[s]]
        return "; ".join(parts)


@dataclass(frozen=True)
class Matrix:
    """Columns, rows and a summary per column."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    summaries: tuple[Summary, ...]


def columns(records: Iterable[Record], skipped: dict[str, str]) -> list[Column]:
    """Columns in name order; an implementation without records gets one (not run) column."""
    pairs = {(r.impl, r.device) for r in records}
    several = len({device for _, device in pairs}) > 1
    cols = [Column(impl, device, f"{impl}@{device}" if several else impl)
            for impl, device in sorted(pairs)]
    ran = {impl for impl, _ in pairs}
    cols += [Column(impl, None, impl) for impl in skipped if impl not in ran]
    return sorted(cols, key=lambda c: (c.impl, c.device or ""))


def features(records: Iterable[Record]) -> list[tuple[str, str]]:
    """``(feature, title)``: FEATURES in order, then any other feature a record names."""
    extra = sorted({f for r in records for f in r.features} - FEATURES.keys())
    return list(FEATURES.items()) + [(f, f) for f in extra]


def build(records: list[Record], skipped: dict[str, str],
          anchors: dict[RecordKey, str]) -> Matrix:
    """The matrix of ``records``; ``anchors`` maps a record key to its divergence group."""
    cols = columns(records, skipped)
    index = {(c.impl, c.device): i for i, c in enumerate(cols)}
    found: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for r in sorted(records, key=lambda r: r.key):
        for feature in r.features:
            found[(feature, index[(r.impl, r.device)])].append(r)
    rows = tuple(Row(feature, title, tuple(
        cell(found.get((feature, i), []), skipped.get(c.impl), anchors)
        for i, c in enumerate(cols))) for feature, title in features(records))
    return Matrix(tuple(cols), rows, tuple(_summary(rows, i, c, skipped, records)
                                           for i, c in enumerate(cols)))


def cell(records: list[Record], skipped: str | None,
         anchors: dict[RecordKey, str]) -> Cell:
    """The cell for the records of one feature in one column (module docstring)."""
    ran = [r for r in records if r.verdict != "not-run"]
    if not ran:
        return Cell("not-run", skipped or "no check covers it")
    diverging = [r for r in ran if r.verdict in FINDINGS]
    if diverging:
        return _diverges(diverging, len(ran), anchors)
    unsupported = [r for r in ran if r.verdict == "unsupported"]
    if len(unsupported) < len(ran):
        extra = f"; {len(unsupported)} unsupported" if unsupported else ""
        return Cell("conforms", f"{_checks(len(ran) - len(unsupported))}{extra}",
                    checks=len(ran))
    return Cell("unsupported", _common_reason(unsupported), checks=len(ran))


def _diverges(diverging: list[Record], checks: int, anchors: dict[RecordKey, str]) -> Cell:
    worst = max(diverging, key=severity)
    ulps = [u for u in map(record_ulp, diverging) if u is not None]
    top = max(ulps) if ulps else None
    mismatch = (worst.error or {}).get("mismatch")
    if mismatch or worst.outcome != "value":
        detail = str(mismatch or _OUTCOMES.get(worst.outcome or "", "diverges"))
        detail += f"; max {fmt(top)} ULP" if top else ""
    else:
        detail = f"max {fmt(top)} ULP"
    causes = len({anchors.get(r.key) for r in diverging})
    detail += f" ({causes} causes)" if causes > 1 else ""
    known = all(r.expected_reason for r in diverging)
    reasons = sorted({r.expected_reason for r in diverging if r.expected_reason})
    return Cell("diverges", detail, known, "; ".join(reasons) if known else None,
                anchors.get(worst.key), top, checks, len(diverging))


def _checks(n: int) -> str:
    return f"{n} check" + "s" * (n != 1)


def _common_reason(records: list[Record]) -> str:
    counts = Counter(r.reason or "no reason given" for r in records)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    others = len(ranked) - 1
    return ranked[0][0] + (f" (and {others} other reason{'s' * (others > 1)})" if others else "")


def _summary(rows: tuple[Row, ...], i: int, col: Column, skipped: dict[str, str],
             records: list[Record]) -> Summary:
    summary = Summary()
    for row in rows:
        summary.counts[row.cells[i].status] += 1
        summary.known += row.cells[i].known
    if col.device is None and not any(r.impl == col.impl for r in records):
        summary.skipped = skipped.get(col.impl, "no records")
    return summary
