"""Accuracy: the distribution of measured errors, in ULPs of the dtype, of the value and
gradient checks against the reference, per implementation (column) and dtype. Percentiles are
nearest-rank, so every number shown is one that was measured."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.report.divergences import record_ulp
from conformance.report.matrix import Column
from conformance.report.values import fmt, jsonable
from conformance.results import Record

CHECKS = ("value", "gradient")


@dataclass(frozen=True)
class Stats:
    """Nearest-rank median, 99th percentile and maximum of some ULP errors."""

    n: int
    median: float
    p99: float
    max: float

    @classmethod
    def of(cls, ulps: list[float]) -> Stats:
        """Statistics of a non-empty list."""
        s = sorted(ulps)
        return cls(len(s), _rank(s, 50), _rank(s, 99), s[-1])

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"n": self.n, "median": jsonable(self.median), "p99": jsonable(self.p99),
                "max": jsonable(self.max)}

    def cells(self) -> list[str]:
        """``n``, median, p99, max as table cells."""
        return [str(self.n), fmt(self.median), fmt(self.p99), fmt(self.max)]


def _rank(ordered: list[float], percent: float) -> float:
    return ordered[max(math.ceil(percent / 100 * len(ordered)) - 1, 0)]


@dataclass(frozen=True)
class Row:
    """One implementation (column) in one dtype; ``ulps`` per check, for the plot."""

    column: str
    dtype: str
    ulps: dict[str, tuple[float, ...]]

    def stats(self, check: str) -> Stats | None:
        """Statistics of one check, or ``None`` without measurements."""
        ulps = list(self.ulps.get(check, ()))
        return Stats.of(ulps) if ulps else None

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (statistics only)."""
        stats = {check: self.stats(check) for check in CHECKS}
        return {"column": self.column, "dtype": self.dtype,
                **{c: s.as_dict() if s else None for c, s in stats.items()}}


def table(records: Iterable[Record], columns: Iterable[Column]) -> list[Row]:
    """Rows sorted by column then dtype, for every pair with a measured value or gradient."""
    label = {(c.impl, c.device): c.label for c in columns}
    found: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        ulp = record_ulp(r)
        if r.check in CHECKS and r.outcome == "value" and ulp is not None:
            found[(label[(r.impl, r.device)], r.dtype)][r.check].append(ulp)
    return [Row(column, dtype, {c: tuple(v) for c, v in sorted(found[(column, dtype)].items())})
            for column, dtype in sorted(found)]
