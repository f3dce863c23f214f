"""The version axis: the same implementation at several framework versions, and for each cause
the versions it occurs in.

A record carries the versions of the frameworks that produced it (``Record.versions``), which
``ce-conformance report --merge`` copies from each run's provenance (``stamped``); nothing here
is written by hand. An implementation whose records carry one set of versions is one column,
as always. One whose records carry several gets one column per set, labelled by the frameworks
that differ between them (``keras (keras 3.13.2)``), and each of its causes says where it
occurs: in which versions, and in which versions the same checks ran without it ("fixed in
keras 3.14.0" when every version without it is later than every version with it, "new in" the
other way round). A version that ran none of the cause's checks (another dtype, a profile
without its cases) is "not measured", never counted as a fix.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.results import Record

Versions = tuple[tuple[str, str], ...]  # (framework, version), sorted by framework
_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def of(record: Record) -> Versions:
    """The versions a record carries (``()`` for none), as a hashable key."""
    return tuple(sorted((record.versions or {}).items()))


def stamped(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a ``results.json`` document, each that has no versions given those its
    run's provenance records for its implementation (a merged document's runs: only where they
    agree, since its records do not say which run they came from); ``doc`` is left as it is."""
    prov = doc.get("provenance", {})
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    for block in prov.get("merged", [prov]):
        for impl, frameworks in (block.get("frameworks") or {}).items():
            if frameworks and frameworks not in found[impl]:
                found[impl].append(frameworks)
    records = []
    for record in doc.get("records", []):
        candidates = found.get(record["impl"], [])
        if record.get("versions") is None and len(candidates) == 1:
            record = {**record, "versions": dict(candidates[0])}
        records.append(record)
    return records


def varying(records: Iterable[Record]) -> dict[str, tuple[str, ...]]:
    """Implementation -> the frameworks whose version differs between its records (only the
    implementations whose records carry more than one set of versions)."""
    sets: dict[str, set[Versions]] = defaultdict(set)
    for r in records:
        sets[r.impl].add(of(r))
    found = {}
    for impl, seen in sets.items():
        if len(seen) > 1:
            names = sorted({name for versions in seen for name, _ in versions})
            differ = [n for n in names if len({dict(v).get(n) for v in seen}) > 1]
            # a framework only some runs name (torch's CUDA build) is no axis of its own
            everywhere = [n for n in differ if all(n in dict(v) for v in seen)]
            found[impl] = tuple(everywhere or differ)
    return found


def label(versions: Versions, frameworks: Iterable[str]) -> str:
    """``keras 3.13.2, tensorflow 2.20.0``: the given frameworks' versions."""
    held = dict(versions)
    return ", ".join(f"{name} {held[name]}" for name in frameworks if name in held) or \
        "no versions recorded"


def _release(version: str | None) -> tuple[int, ...] | None:
    found = _RELEASE.match(version or "")
    return tuple(int(part) for part in found.group().split(".")) if found else None


def earlier(a: Versions, b: Versions, frameworks: Iterable[str]) -> bool:
    """Whether ``a`` comes before ``b``: no framework later, at least one earlier."""
    pairs = [(_release(dict(a).get(n)), _release(dict(b).get(n))) for n in frameworks]
    if not pairs or any(x is None or y is None for x, y in pairs):
        return False
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)  # type: ignore[operator]


@dataclass(frozen=True)
class Spread:
    """Where one cause occurs among its implementation's versions."""

    frameworks: tuple[str, ...]
    occurs: tuple[Versions, ...]  # the versions with an example of the cause
    without: tuple[Versions, ...]  # versions that ran some of its checks without it
    unmeasured: tuple[Versions, ...]  # versions that ran none of its checks

    @property
    def differs(self) -> bool:
        """Whether some version ran the cause's checks without it."""
        return bool(self.without)

    @property
    def fixed_in(self) -> dict[str, str] | None:
        """The earliest version without the cause (of the frameworks that explain it), when
        every version without it is later than every version with it."""
        return self._first_after(self.occurs, self.without)

    @property
    def new_in(self) -> dict[str, str] | None:
        """The earliest version with the cause (of the frameworks that explain it), when
        every version with it is later than every version without it."""
        return self._first_after(self.without, self.occurs)

    def _first_after(self, before: tuple[Versions, ...],
                     after: tuple[Versions, ...]) -> dict[str, str] | None:
        """Ordered by every framework that differs; failing that, by one framework alone
        whose versions with and without the cause do not overlap (keras 3.13.2 without it,
        keras 3.15.1 with it, whatever tensorflow it ran on)."""
        if not before or not after:
            return None
        singles = [(n,) for n in self.frameworks
                   if not {dict(v).get(n) for v in before} & {dict(v).get(n) for v in after}]
        for names in (self.frameworks, *singles):
            if all(earlier(a, b, names) for a in before for b in after):
                first = next(v for v in after if not any(earlier(o, v, names) for o in after))
                return {n: dict(first)[n] for n in names if n in dict(first)}
        return None

    def text(self) -> str:
        """``occurs in keras 3.13.2; fixed in keras 3.15.1``, ``occurs in torch 2.11.0;
        torch 2.12.1 (every version that ran its checks)``, ..."""
        def names(found: Iterable[Versions]) -> str:
            return "; ".join(label(v, self.frameworks) for v in found)
        def named(versions: dict[str, str]) -> str:
            return ", ".join(f"{n} {v}" for n, v in versions.items())
        parts = [f"occurs in {names(self.occurs)}"]
        fixed, new = self.fixed_in, self.new_in
        if fixed is not None:
            parts.append(f"fixed in {named(fixed)}")
            if len(self.without) > 1 or len(fixed) < len(self.frameworks):
                parts.append(f"not in {names(self.without)}")
        elif new is not None:
            parts.append(f"new in {named(new)}; not in {names(self.without)}")
        elif self.without:
            parts.append(f"not in {names(self.without)}")
        else:
            parts[0] += " (every version that ran its checks)"
        if self.unmeasured:
            parts.append(f"not measured in {names(self.unmeasured)} (none of its checks ran)")
        return "; ".join(parts)


def spreads(records: Iterable[Record], groups: Iterable[Any]) -> dict[str, Spread]:
    """Divergence group anchor -> its ``Spread``, for the groups of implementations that ran
    at several versions (``groups``: ``conformance.report.divergences.Group``)."""
    records = list(records)
    axes = varying(records)
    ran: dict[tuple[str, Versions], set[tuple[str, str, str, str]]] = defaultdict(set)
    for r in records:
        if r.impl in axes:
            ran[(r.impl, of(r))].add((r.case, r.check, r.dtype, r.device))
    found = {}
    for g in groups:
        if g.impl not in axes:
            continue
        order = sorted({v for impl, v in ran if impl == g.impl},
                       key=lambda v: sort_key(v, axes[g.impl]))
        occurs = {of(r) for r in g.records}
        checks = {(r.case, r.check, r.dtype, r.device) for r in g.records}
        without = [v for v in order if v not in occurs and ran[(g.impl, v)] & checks]
        found[g.anchor] = Spread(axes[g.impl], tuple(v for v in order if v in occurs),
                                 tuple(without),
                                 tuple(v for v in order if v not in occurs and v not in without))
    return found


def sort_key(versions: Versions, frameworks: Iterable[str] | None = None) \
        -> list[tuple[tuple[int, ...], str]]:
    """Sorts sets of versions earliest first: by the release numbers of ``frameworks`` (all
    that a set names when not given), framework by framework."""
    held = dict(versions)
    names = sorted(held) if frameworks is None else [n for n in frameworks if n in held]
    return [(_release(held[n]) or (), f"{n} {held[n]}") for n in names]
