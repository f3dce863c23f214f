"""The compatibility matrix: features (``conformance.features.FEATURES``, in order) by
implementation (one column per implementation@device when records span several devices, and
one per set of framework versions when an implementation ran at several:
``conformance.report.versions``).

Columns: torch (the specification) first, then the others worst first: by the most severe
finding (``conformance.severity``), then by how many distinct causes have it.

A cell aggregates every record that counts towards its feature in its column, and shows one
short line (``Cell.label``: a mark, a word, a count) with the rest in ``Cell.detail``:

- a **finding** if any record has a severity: the worst severity, how many checks have it, the
  worst error and a link to the divergence group of the worst record; marked *known* when every
  finding is listed in an expectations file, with the reasons (a known finding still counts);
- else **conforms** if any record conforms (a count of unsupported ones is kept as detail);
- else **unsupported**, with the most frequent reason;
- else **not run**: the implementation was skipped (with the reason), the run did not ask for
  the row's dtype ("not requested"), or no record covers it.

Each column's ``Summary`` answers first how many distinct behaviours are silently wrong on
valid input, and where, then counts causes per severity, known and new.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from conformance.expectations import is_numerical_defect
from conformance.features import FEATURES
from conformance.report import versions
from conformance.report.divergences import SPEC_IMPL, Group, badness, record_ulp
from conformance.report.values import fmt, jsonable, shorten
from conformance.results import Record
from conformance.severity import severity_of, worst
from conformance.tolerance import MEANINGFUL_ULP
from conformance.vocabulary import SEVERITY_MARKS as MARKS
from conformance.vocabulary import SEVERITY_WORDS as WORDS
from conformance.vocabulary import Severity

Status = Literal["conforms", "diverges", "unsupported", "not-run"]
STATUSES: tuple[Status, ...] = ("conforms", "diverges", "unsupported", "not-run")
_OUTCOMES = {"raises": "raises", "nan": "returns NaN/inf", "silent": "returns a finite number",
             "crash": "crashed", "timeout": "timed out", "bad-return": "returns no array",
             "writes-input": "writes into its input", "less-accurate": "less accurate",
             "out-of-memory": "out of memory", "wrong-dtype": "returns another dtype"}
NOT_REQUESTED = "not requested"
RecordKey = tuple[str, str, str, str, str, str]


@dataclass(frozen=True)
class Column:
    """One implementation, on one device when the matrix has several, at one set of framework
    versions when it ran at several (``versions``; ``None``: not split by version)."""

    impl: str
    device: str | None
    label: str
    versions: versions.Versions | None = None
    axis: tuple[str, ...] = ()  # the frameworks whose versions tell its columns apart

    @property
    def order(self) -> list[tuple[tuple[int, ...], str]]:
        """Sorts the columns of one implementation earliest version first."""
        return versions.sort_key(self.versions or (), self.axis)

    def holds(self, record: Record) -> bool:
        """Whether ``record`` belongs to this column."""
        return record.impl == self.impl and \
            (self.device is None or record.device == self.device) and \
            (self.versions is None or versions.of(record) == self.versions)


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
    severity: Severity | None = None
    count: int = 0  # checks with ``severity`` (findings) or conforming checks
    defect: bool = False  # every finding a labelled numerical defect of torch

    @property
    def label(self) -> str:
        """One short line: ``✗ wrong · 3``, ``~ convention · 2``, ``✓ 12``, ``- unsupported``."""
        if self.severity is not None and self.defect:
            return f"{MARKS[self.severity]} defect of torch · {self.count}"
        if self.severity is not None:
            return f"{MARKS[self.severity]} {WORDS[self.severity]} · {self.count}" + \
                (" · known" if self.known else "")
        if self.status == "conforms":
            return f"✓ {self.count}"
        if self.status == "unsupported":
            return "- unsupported"
        return "· not requested" if self.detail == NOT_REQUESTED else "· not run"

    @property
    def css(self) -> str:
        """The HTML class: the status, and the severity's slug for a finding."""
        if self.severity is None:
            return self.status
        return f"finding sev-{self.severity.rank}" + (" known" if self.known else "") + \
            (" defect" if self.defect else "")

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"status": self.status, "label": self.label, "detail": self.detail,
                "severity": self.severity, "count": self.count, "known": self.known,
                "known_reason": self.known_reason, "anchor": self.anchor,
                "worst_ulp": jsonable(self.worst_ulp), "checks": self.checks,
                "failing": self.failing, "defect": self.defect}


@dataclass(frozen=True)
class Row:
    """One feature across the columns."""

    feature: str
    title: str
    cells: tuple[Cell, ...]


@dataclass
class Summary:
    """A column's answer: silently wrong behaviours and where, causes per severity (new and
    known), and how many features have each status."""

    counts: Counter[str] = field(default_factory=Counter)
    known: int = 0
    skipped: str | None = None
    causes: dict[Severity, tuple[int, int]] = field(default_factory=dict)  # (new, known)
    wrong_where: list[str] = field(default_factory=list)  # feature titles
    defects: int = 0  # known wrong-on-valid causes labelled numerical defects of torch

    @property
    def total(self) -> int:
        """Number of features (rows)."""
        return sum(self.counts.values())

    @property
    def worst(self) -> Severity | None:
        """The most severe finding of the column."""
        return worst(self.causes)

    @property
    def only_defects(self) -> bool:
        """Whether every finding of the column is a labelled numerical defect of torch."""
        return bool(self.defects) and sum(sum(c) for c in self.causes.values()) == self.defects

    @property
    def headline(self) -> str:
        """``2 behaviours silently wrong on valid input (1 new, 1 known)``, or why not run."""
        if self.skipped is not None:
            return f"not run: {shorten(self.skipped, 200)}"
        new, known = self.causes.get(Severity.WRONG_ON_VALID, (0, 0))
        defects = f"{self.defects} labelled numerical defect{'s' * (self.defects != 1)} of torch"
        if not new + known:
            return "nothing silently wrong on valid input"
        if not new and known == self.defects:
            return f"nothing silently wrong on valid input but {defects}"
        return f"{_behaviours(new + known)} silently wrong on valid input ({new} new, " \
               f"{known} known" + (f"; of them {defects}" if self.defects else "") + ")"

    def severity_lines(self) -> list[str]:
        """One line per severity found (after the headline's): ``3 causes: rejects valid
        input (2 new, 1 known)``."""
        return [f"{_behaviours(new + known)}: {sev} ({new} new, {known} known)"
                for sev, (new, known) in sorted(self.causes.items(), key=lambda i: i[0].rank)
                if sev is not Severity.WRONG_ON_VALID]

    @property
    def features_text(self) -> str:
        """``15/19 features conform; 2 with findings (1 known); 1 unsupported; 1 not run``."""
        c, parts = self.counts, [f"{self.counts['conforms']}/{self.total} features conform"]
        if c["diverges"]:
            parts.append(f"{c['diverges']} with findings" +
                         (f" ({self.known} known)" if self.known else ""))
        parts += [f"{c[s]} {s.replace('-', ' ')}" for s in ("unsupported", "not-run") if c[s]]
        return "; ".join(parts)

    @property
    def text(self) -> str:
        """The whole answer in one line: headline, where, the other severities, features."""
        if self.skipped is not None:
            return self.headline
        where = f" in {', '.join(self.wrong_where)}" if self.wrong_where else ""
        return "; ".join([self.headline + where, *self.severity_lines(), self.features_text])


def _behaviours(n: int) -> str:
    return f"{n} behaviour" + "s" * (n != 1)


@dataclass(frozen=True)
class Matrix:
    """Columns, rows and a summary per column."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    summaries: tuple[Summary, ...]


def columns(records: Iterable[Record], skipped: dict[str, str]) -> list[Column]:
    """Columns in name order (then device, then versions, earliest first); an implementation
    without records gets one (not run) column. One that ran at several framework versions
    gets a column per version, labelled with the frameworks that differ: ``torch (torch
    2.12.1)``."""
    records = list(records)
    axes = versions.varying(records)
    found = {(r.impl, r.device, versions.of(r) if r.impl in axes else None) for r in records}
    several = len({device for _, device, _ in found}) > 1
    cols = []
    for impl, device, held in found:
        label = f"{impl}@{device}" if several else impl
        if held is not None:
            label += f" ({versions.label(held, axes[impl])})"
        cols.append(Column(impl, device, label, held, axes.get(impl, ())))
    ran = {impl for impl, _, _ in found}
    cols += [Column(impl, None, impl) for impl in skipped if impl not in ran]
    return sorted(cols, key=lambda c: (c.impl, c.device or "", c.order))


def locate(cols: Iterable[Column]) -> Callable[[Record], int]:
    """The index of the column in ``cols`` that a record belongs to (``KeyError``: none)."""
    cols = list(cols)
    split = {c.impl for c in cols if c.versions is not None}
    index = {(c.impl, c.device, c.versions): i for i, c in enumerate(cols)}
    return lambda r: index[(r.impl, r.device, versions.of(r) if r.impl in split else None)]


def features(records: Iterable[Record]) -> list[tuple[str, str]]:
    """``(feature, title)``: FEATURES in order, then any other feature a record names."""
    extra = sorted({f for r in records for f in r.features} - FEATURES.keys())
    return list(FEATURES.items()) + [(f, f) for f in extra]


def _in(col: Column, record: Record) -> bool:
    return col.holds(record)


def causes(col: Column, groups: Iterable[Group]) -> dict[Severity, tuple[int, int]]:
    """Severity -> (new, known) distinct causes with an example in ``col``."""
    found: dict[Severity, list[int]] = defaultdict(lambda: [0, 0])
    for g in groups:
        if any(_in(col, r) for r in g.records):
            found[g.severity][g.known] += 1
    return {sev: (new, known) for sev, (new, known) in found.items()}


def order(cols: Iterable[Column], groups: list[Group]) -> list[Column]:
    """torch first, then worst first: the most severe finding, then its number of causes (the
    columns of one implementation at several versions stay together, earliest first, where the
    worst of them goes)."""
    def key(col: Column) -> tuple[bool, int, int, str]:
        found = causes(col, groups)
        sev = worst(found)
        if sev is None:
            return (col.impl != SPEC_IMPL, len(Severity), 0, col.label)
        return (col.impl != SPEC_IMPL, sev.rank, -sum(found[sev]), col.label)
    cols = list(cols)
    best: dict[tuple[str, str | None], tuple[bool, int, int, str]] = {}
    for col in cols:
        best[(col.impl, col.device)] = min(key(col), best.get((col.impl, col.device), key(col)))
    return sorted(cols, key=lambda c: (best[(c.impl, c.device)], c.order))


def build(records: list[Record], skipped: dict[str, str], groups: list[Group],
          requested: Collection[str] | None = None) -> Matrix:
    """The matrix of ``records``; ``groups`` are their divergence groups; ``requested`` the
    dtypes the run asked for (``None``: unknown), so other dtype rows say "not requested"."""
    cols = order(columns(records, skipped), groups)
    anchors = {r.key: g.anchor for g in groups for r in g.records}
    index = locate(cols)
    found: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for r in sorted(records, key=lambda r: r.key):
        for feature in r.features:
            found[(feature, index(r))].append(r)
    rows = tuple(Row(feature, title, tuple(
        cell(found.get((feature, i), []), _not_run(feature, skipped.get(c.impl), requested),
             anchors)
        for i, c in enumerate(cols))) for feature, title in features(records))
    return Matrix(tuple(cols), rows, tuple(_summary(rows, found, i, c, skipped, records, groups)
                                           for i, c in enumerate(cols)))


def _not_run(feature: str, skipped: str | None, requested: Collection[str] | None) -> str:
    if skipped:
        return skipped
    dtype = feature.removeprefix("dtype-")
    if requested and dtype != feature and dtype not in requested:
        return NOT_REQUESTED
    return "no check covers it"


def cell(records: list[Record], not_run: str, anchors: dict[RecordKey, str]) -> Cell:
    """The cell for the records of one feature in one column (module docstring)."""
    ran = [r for r in records if r.verdict != "not-run"]
    if not ran:
        return Cell("not-run", not_run)
    findings = [r for r in ran if severity_of(r) is not None]
    if findings:
        return _finding(findings, len(ran), anchors)
    unsupported = [r for r in ran if r.verdict == "unsupported"]
    if len(unsupported) < len(ran):
        extra = f"; {len(unsupported)} unsupported" if unsupported else ""
        conforming = len(ran) - len(unsupported)
        return Cell("conforms", f"{_checks(conforming)}{extra}", checks=len(ran),
                    count=conforming)
    return Cell("unsupported", _common_reason(unsupported), checks=len(ran))


def _finding(findings: list[Record], checks: int, anchors: dict[RecordKey, str]) -> Cell:
    worst_record = min(findings, key=badness)
    sev = severity_of(worst_record)
    assert sev is not None
    ulps = [u for u in map(record_ulp, findings) if u is not None and u <= MEANINGFUL_ULP]
    top = max(ulps) if ulps else None  # ULPs where they mean something (tolerance)
    mine = [r for r in findings if severity_of(r) is sev]
    parts = [f"{len(mine)} of {_checks(checks)} {sev}"]
    what = (worst_record.error or {}).get("mismatch") or worst_record.reason
    if worst_record.outcome not in (None, "value") and not what:
        what = _OUTCOMES.get(worst_record.outcome, "")
    parts += [f"e.g. {' '.join(str(what).split())}"] if what else []
    parts += [f"max {fmt(top)} ULP"] if top else []
    n_causes = len({anchors.get(r.key) for r in findings})
    parts += [f"{n_causes} causes"] if n_causes > 1 else []
    others = Counter(str(severity_of(r)) for r in findings if severity_of(r) is not sev)
    parts += [f"also {n} {s}" for s, n in sorted(others.items())]
    known = all(r.expected_reason for r in findings)
    reasons = sorted({r.expected_reason for r in findings if r.expected_reason})
    defect = known and all(map(is_numerical_defect, reasons))
    return Cell("diverges", "; ".join(parts), known, "; ".join(reasons) if known else None,
                anchors.get(worst_record.key), top, checks, len(findings), sev, len(mine),
                defect)


def _checks(n: int) -> str:
    return f"{n} check" + "s" * (n != 1)


def _common_reason(records: list[Record]) -> str:
    counts = Counter(r.reason or "no reason given" for r in records)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    others = len(ranked) - 1
    return ranked[0][0] + (f" (and {others} other reason{'s' * (others > 1)})" if others else "")


WHERE_LIMIT = 8  # feature titles named in a summary's "where"


def _summary(rows: tuple[Row, ...], found: dict[tuple[str, int], list[Record]], i: int,
             col: Column, skipped: dict[str, str], records: list[Record],
             groups: list[Group]) -> Summary:
    summary = Summary(causes=causes(col, groups), defects=sum(
        1 for g in groups if g.severity is Severity.WRONG_ON_VALID and g.known and
        is_numerical_defect(g.minimal.expected_reason) and any(_in(col, r) for r in g.records)))
    for row in rows:
        summary.counts[row.cells[i].status] += 1
        summary.known += row.cells[i].known
        if any(severity_of(r) is Severity.WRONG_ON_VALID for r in found.get((row.feature, i),
                                                                              [])):
            summary.wrong_where.append(row.title)
    if len(summary.wrong_where) > WHERE_LIMIT:
        summary.wrong_where[WHERE_LIMIT:] = ["…"]
    if col.device is None and not any(r.impl == col.impl for r in records):
        summary.skipped = skipped.get(col.impl, "no records")
    return summary
