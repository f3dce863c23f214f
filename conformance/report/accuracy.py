"""Accuracy: how close the results *within* the tolerance bound are, per implementation (column)
and dtype, for the value and gradient checks.

Only records within their bound are measured here (those that conform, and the accuracy
findings, which are within it but far less accurate than torch): a result outside its bound
is a divergence, shown in the divergences with its own numbers, and pooling it here would
turn an infinite or wrong-signed result into an "error" figure. Per check:

* the error in ULPs of the dtype at the problem's scale (``conformance.tolerance.scale_ulp``),
  so a near-zero loss returned as 0 is a fraction of an ULP, not 1e7 ULPs of a tiny number;
  within the bound this stays at a few ULPs by construction;
* the fraction of the bound used (1.0: all of it);
* the error in multiples of torch's own error on the same rounded inputs, same dtype and
  device (``conformance.baseline``; ``-`` where torch was not compared), and how many results
  are accuracy findings (32 times torch's error or more);
* how many results lie outside the bound (they are divergences).

Percentiles are nearest-rank, so every number shown is one that was measured.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conformance.report.matrix import Column, locate
from conformance.report.values import fmt, jsonable, number
from conformance.results import Record
from conformance.vocabulary import Outcome, Verdict

CHECKS = ("value", "gradient")
WITHIN = (Outcome.VALUE, Outcome.LESS_ACCURATE)


@dataclass(frozen=True)
class Stats:
    """Nearest-rank median, 99th percentile and maximum of some non-negative figures."""

    n: int
    median: float
    p99: float
    max: float

    @classmethod
    def of(cls, figures: Iterable[float]) -> Stats | None:
        """Statistics of ``figures``, ``None`` when there are none."""
        s = sorted(figures)
        return cls(len(s), _rank(s, 50), _rank(s, 99), s[-1]) if s else None

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"n": self.n, "median": jsonable(self.median), "p99": jsonable(self.p99),
                "max": jsonable(self.max)}


def _rank(ordered: list[float], percent: float) -> float:
    return ordered[max(math.ceil(percent / 100 * len(ordered)) - 1, 0)]


@dataclass
class Measured:
    """The figures of one check of one implementation in one dtype."""

    ulps: list[float] = field(default_factory=list)
    used: list[float] = field(default_factory=list)
    vs_torch: list[float] = field(default_factory=list)
    less_accurate: int = 0
    outside: int = 0  # results outside the bound (divergences)

    def add(self, record: Record) -> None:
        """Count ``record``: its figures when within the bound, else one more outside."""
        error = record.error or {}
        if record.verdict == Verdict.DIVERGES and record.outcome != Outcome.LESS_ACCURATE:
            self.outside += 1
            return
        self.less_accurate += record.outcome == Outcome.LESS_ACCURATE
        for figures, key in ((self.ulps, "max_ulp"), (self.used, "used"),
                             (self.vs_torch, "vs_torch")):
            value = number(error.get(key))
            if value is not None and not math.isnan(value):
                figures.append(value)

    def cells(self) -> list[str]:
        """n, ULP p99 and max, bound used max, times torch max, accuracy findings, outside."""
        ulps, used, vs = Stats.of(self.ulps), Stats.of(self.used), Stats.of(self.vs_torch)
        return [str(len(self.ulps)), fmt(ulps.p99 if ulps else None),
                fmt(ulps.max if ulps else None), fmt(used.max if used else None),
                fmt(vs.max if vs else None), str(self.less_accurate), str(self.outside)]

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        stats = {"ulp": Stats.of(self.ulps), "used": Stats.of(self.used),
                 "vs_torch": Stats.of(self.vs_torch)}
        return {**{k: s.as_dict() if s else None for k, s in stats.items()},
                "less_accurate": self.less_accurate, "outside": self.outside}


#: The table's column headings per check, in ``Measured.cells`` order.
HEADINGS = ("n", "ULP p99", "ULP max", "bound used max", "times torch max", "less accurate",
            "outside the bound")


@dataclass(frozen=True)
class Row:
    """One implementation (column) in one dtype: the figures per check."""

    column: str
    dtype: str
    checks: dict[str, Measured]

    def measured(self, check: str) -> Measured:
        """The figures of ``check`` (empty when it was not measured)."""
        return self.checks.get(check) or Measured()

    @property
    def ulps(self) -> dict[str, tuple[float, ...]]:
        """The ULP errors within the bound per check, for the plot."""
        return {check: tuple(m.ulps) for check, m in self.checks.items()}

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (statistics only)."""
        return {"column": self.column, "dtype": self.dtype,
                **{c: self.checks[c].as_dict() if c in self.checks else None for c in CHECKS}}


def table(records: Iterable[Record], columns: Iterable[Column]) -> list[Row]:
    """Rows sorted by column then dtype, for every pair with a value or gradient result."""
    columns = list(columns)
    index = locate(columns)
    found: dict[tuple[str, str], dict[str, Measured]] = defaultdict(dict)
    for r in records:
        if r.check in CHECKS and (r.outcome in WITHIN or r.verdict == Verdict.DIVERGES) \
                and r.error is not None:
            key = (columns[index(r)].label, r.dtype)
            found[key].setdefault(r.check, Measured()).add(r)
    return [Row(column, dtype, dict(sorted(found[(column, dtype)].items())))
            for column, dtype in sorted(found)]
