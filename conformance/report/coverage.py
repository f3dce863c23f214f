"""The coverage section of the report: per implementation and dtype, how much of the
structural input space its checks exercised (``results.json``'s ``coverage``, written by
``conformance.coverage.Table``), and what was never exercised, with why.

A combination that is infeasible in torch is so for every implementation: it is listed once.
A combination an implementation does not support is listed under it, with its own reason, once
for all its dtypes when they agree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Gap", "Row", "Unsupported", "infeasible", "rows", "summary_lines", "unsupported"]


@dataclass(frozen=True)
class Row:
    """One implementation in one dtype and device."""

    impl: str
    dtype: str
    device: str
    t: int
    supported: int
    spec: int
    covered: int
    cases: int

    def percent(self, count: int) -> str:
        """``count`` of the supported tuples, as a whole percentage (floored below 100)."""
        if not self.supported:
            return "100%"
        share = 100 * count // self.supported
        return f"{share}%"

    @property
    def complete(self) -> bool:
        """Whether every supported tuple was exercised."""
        return self.covered >= self.supported

    def line(self) -> str:
        """``3-way 100% of 524 supported tuples (spec alone 80%, 22 covering cases)``."""
        return (f"{self.t}-way {self.percent(self.covered)} of {self.supported} supported "
                f"tuples (spec alone {self.percent(self.spec)}, {self.cases} covering "
                f"case{'s' * (self.cases != 1)})")


@dataclass(frozen=True)
class Gap:
    """A minimal combination never exercised."""

    combination: str  # "target=probabilities ∧ ignore=in-range"
    kind: str
    reason: str


@dataclass(frozen=True)
class Unsupported:
    """What one implementation never exercised because it does not support it."""

    impl: str
    dtypes: tuple[str, ...]
    device: str
    gaps: tuple[Gap, ...]


def _tables(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = list(doc.get("coverage", []))
    return sorted(found, key=lambda t: (t["impl"], t["device"], t["dtype"]))


def rows(doc: Mapping[str, Any]) -> list[Row]:
    """One row per (implementation, dtype, device), sorted."""
    return [Row(t["impl"], t["dtype"], t["device"], t["t"], t["supported"], t["spec"],
                t["covered"], len(t["cases"])) for t in _tables(doc)]


def _gap(entry: Mapping[str, Any]) -> Gap:
    combination = " ∧ ".join(f"{k}={v}" for k, v in entry["combination"].items())
    return Gap(combination, entry["kind"], entry["reason"])


def infeasible(doc: Mapping[str, Any]) -> list[Gap]:
    """The combinations torch cannot run or where a level means nothing (the same for every
    implementation), in the order the tables list them."""
    found = [_gap(g) for t in _tables(doc) for g in t["never"] if g["kind"] == "infeasible"]
    return list(dict.fromkeys(found))


def unsupported(doc: Mapping[str, Any]) -> list[Unsupported]:
    """Per implementation and device, what it never exercised for another reason than torch's
    (its ``supports``, or a covering case that did not run), its dtypes merged when alike."""
    merged: dict[tuple[str, str, tuple[Gap, ...]], list[str]] = {}
    for table in _tables(doc):
        gaps = tuple(_gap(g) for g in table["never"] if g["kind"] != "infeasible")
        if gaps:
            merged.setdefault((table["impl"], table["device"], gaps), []).append(table["dtype"])
    return [Unsupported(impl, tuple(dtypes), device, gaps)
            for (impl, device, gaps), dtypes in merged.items()]


def summary_lines(tables: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per implementation for ``run``'s summary: its coverage, per dtype and device
    where they differ (``jax.optax: 3-way 100% of 258 supported tuples (spec alone 61%, ...)``)."""
    by_impl: dict[str, dict[str, list[str]]] = {}
    for row in rows({"coverage": list(tables)}):
        where = row.dtype if row.device == "cpu" else f"{row.dtype} on {row.device}"
        by_impl.setdefault(row.impl, {}).setdefault(row.line(), []).append(where)
    return [f"{impl}: " + "; ".join(f"{line} [{', '.join(wheres)}]"
                                    for line, wheres in lines.items())
            for impl, lines in by_impl.items()]


def incomplete(doc: Mapping[str, Any]) -> Sequence[Row]:
    """The rows whose supported tuples were not all exercised."""
    return [row for row in rows(doc) if not row.complete]
