"""Systematic coverage: the structural dimensions of a call, the combinations torch cannot run,
and a deterministic t-wise covering array per implementation over the space it supports.

The dimensions (``DIMENSIONS``; each one's first level is the plainest):

==========  ===================================================================================
layout      ``batch`` (N, C) · ``no-batch`` (C,) · ``k-dim`` (N, C, d1, d2)
target      ``indices`` · ``probabilities``
weight      ``none`` · ``class`` (a weight per class)
ignore      ``none`` (no target is ignored) · ``negative`` (some targets equal a negative
            ignore_index: torch's default -100) · ``in-range`` (ignore_index in [0, C), some
            targets equal it) · ``beyond`` (ignore_index >= C, some equal it) · ``all`` (every
            target ignored)
smoothing   ``none`` · ``positive`` (label_smoothing > 0)
reduction   ``mean`` · ``sum`` · ``none``
empty       ``no`` · ``yes`` (an empty batch: N = 0)
==========  ===================================================================================

A *row* is one level of each dimension; a *combination* fixes some of them (a t-tuple fixes
t). A row exercises the combinations of its levels, except that a row where no target counts
(an empty batch, every target ignored: ``DEGENERATE``) exercises only those that fix that
level: K-dim smoothing with probability targets computed wrong on an empty batch is still an
empty result, so an empty case cannot stand for it. ``CONSTRAINTS`` name the rows torch
refuses or where a level means nothing, with the reason (``tests/test_coverage.py`` holds them
equal to what torch does). The *supported space* of an implementation in a dtype and on a
device is the feasible rows its ``supports`` accepts, each asked as the call of the row's own
case (``case_of``); the t-tuples to cover are those a supported row exercises.

The covering array (``cover``) is a greedy one over the enumerated rows (the product has 720,
so every candidate can be scored): it starts from the t-tuples that the spec's valid cases
already exercise on the implementation (``levels_of``) and adds, while a tuple is left, the
supported row that covers the most uncovered ones (the earliest in product order on a tie,
so the plainest). Only valid rows are candidates, so the constraints hold by construction, and
each tuple left lies in some candidate, so the loop ends with every one covered. At this size
it is as small as IPOG's arrays and needs no constraint solver; ``t`` at least the number of
dimensions is the whole supported product.

A row becomes a case (``case_of``) with seeded values: its id names the combination
(``cover-kdim-probs-weight-smooth-sum``) and its values depend on the id alone, so a row is the
same case for every implementation, dtype and run (torch's outputs on all of them are computed
once per run, ``candidate_cases``). The ``Table`` of an (implementation, dtype, device) counts
the supported t-tuples, those the spec alone exercises and those exercised with the covering
cases, and lists what is never exercised as minimal combinations (every smaller part of one is
exercised), each with its reason: unsupported (the implementation's own, for the plainest call
with that combination) or infeasible in torch (the constraint's). The spec's cases count when
valid, with finite logits and at least one class (``levels_of``), and only those whose value
check ran on the implementation.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import numpy as np

from conformance.case import Case, Convention
from implementations.arguments import LossArguments
from implementations.base import DEFAULT_IGNORE_INDEX, REDUCTIONS, Array, Reduction, class_axis_of

__all__ = ["CONSTRAINTS", "DIMENSIONS", "Constraint", "Dimension", "Gap", "Table",
           "candidate_cases", "case_id", "case_of", "combinations", "cover", "covering_rows",
           "describe", "feasible_rows", "infeasible", "levels_of", "rows", "table",
           "unsupported_rows"]


@dataclass(frozen=True)
class Dimension:
    """One structural axis of a call and its levels, the plainest first."""

    name: str
    levels: tuple[str, ...]
    title: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("layout", ("batch", "no-batch", "k-dim"), "input layout: (N, C), (C,), (N, C, d...)"),
    Dimension("target", ("indices", "probabilities"), "target kind"),
    Dimension("weight", ("none", "class"), "class weights"),
    Dimension("ignore", ("none", "negative", "in-range", "beyond", "all"), "ignored targets"),
    Dimension("smoothing", ("none", "positive"), "label_smoothing"),
    Dimension("reduction", REDUCTIONS[1:] + REDUCTIONS[:1], "reduction"),
    Dimension("empty", ("no", "yes"), "empty batch"),
)
NAMES = tuple(d.name for d in DIMENSIONS)
_INDEX = {name: i for i, name in enumerate(NAMES)}

Row = tuple[str, ...]  # a level of every dimension, in DIMENSIONS order
Combination = tuple[tuple[int, str], ...]  # (dimension index, level), by dimension index
IGNORING = ("negative", "in-range", "beyond", "all")


@dataclass(frozen=True)
class Constraint:
    """Rows torch cannot run (``raises``) or where a level means nothing: every row whose
    levels are among ``levels`` in each dimension named."""

    levels: Mapping[str, tuple[str, ...]]
    reason: str
    raises: bool = False

    def excludes(self, row: Row) -> bool:
        """Whether ``row`` is one of the rows this constraint rules out."""
        return all(row[_INDEX[name]] in wanted for name, wanted in self.levels.items())


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint({"target": ("probabilities",), "ignore": ("in-range", "beyond")},
               "torch raises 'ignore_index is not supported for floating point target' for a "
               "non-negative ignore_index with probability targets", raises=True),
    Constraint({"target": ("probabilities",), "ignore": ("negative", "all")},
               "probability targets hold no class index to ignore (a negative ignore_index has "
               "no effect on them)"),
    Constraint({"empty": ("yes",), "ignore": IGNORING},
               "an empty batch has no target to ignore"),
    Constraint({"layout": ("no-batch",), "ignore": ("negative", "in-range", "beyond")},
               "a (C,) input has one target: ignoring it ignores all of them (level 'all')"),
    Constraint({"layout": ("no-batch",), "empty": ("yes",)},
               "a (C,) input has no batch to be empty (zero classes is another edge, the "
               "spec's empty-classes-* cases)"),
)


def infeasible(row: Row) -> Constraint | None:
    """The first constraint that rules ``row`` out, or ``None`` for a feasible row."""
    return next((c for c in CONSTRAINTS if c.excludes(row)), None)


@cache
def rows() -> tuple[Row, ...]:
    """Every row of the product, in product order (plainest first)."""
    return tuple(itertools.product(*(d.levels for d in DIMENSIONS)))


@cache
def feasible_rows() -> tuple[Row, ...]:
    """The rows no constraint rules out, in product order."""
    return tuple(row for row in rows() if infeasible(row) is None)


#: Levels under which no target contributes to the loss (an empty batch, every target
#: ignored): a row with one exercises the other levels only vacuously (the buggy K-dim smoothing
#: of an empty batch is still an empty result), so it exercises a combination only when the
#: combination fixes that level.
DEGENERATE = (("empty", "yes"), ("ignore", "all"))


@cache
def combinations(row: Row, t: int) -> tuple[Combination, ...]:
    """The t-tuples ``row`` exercises (all of ``row`` when ``t`` is at least its length): each
    choice of t dimensions, less those that leave out a degenerate level of it
    (``DEGENERATE``)."""
    degenerate = [_INDEX[name] for name, level in DEGENERATE if row[_INDEX[name]] == level]
    return tuple(tuple((i, row[i]) for i in dims)
                 for dims in itertools.combinations(range(len(row)), min(t, len(row)))
                 if all(i in dims for i in degenerate))


@cache
def _product_combinations(t: int) -> frozenset[Combination]:
    """Every combination of ``t`` levels some row exercises."""
    return frozenset(c for row in rows() for c in combinations(row, t))


def describe(combination: Combination) -> str:
    """``layout=k-dim ∧ target=probabilities``."""
    return " ∧ ".join(f"{NAMES[i]}={level}" for i, level in combination)


# --- rows as cases ----------------------------------------------------------------------------

CLASSES = 5
BATCH = 4
SPATIAL = (2, 3)
SMOOTHING = 1 / 4
IN_RANGE = 1  # the class an in-range ignore_index names
IGNORED_EVERY = 3  # a ``some ignored`` row ignores every third target, the first included
_TOKENS = {("layout", "batch"): "nc", ("layout", "no-batch"): "unbatched",
           ("layout", "k-dim"): "kdim", ("empty", "yes"): "empty",
           ("target", "indices"): "idx", ("target", "probabilities"): "probs",
           ("weight", "class"): "weight", ("ignore", "negative"): "ii-neg",
           ("ignore", "in-range"): "ii-class", ("ignore", "beyond"): "ii-beyond",
           ("ignore", "all"): "ii-all", ("smoothing", "positive"): "smooth"}
_ID_ORDER = ("layout", "empty", "target", "weight", "ignore", "smoothing", "reduction")


def case_id(row: Row) -> str:
    """The stable id of ``row``'s case: ``cover-`` and its non-default levels, the layout,
    target kind and reduction always (``cover-kdim-probs-weight-smooth-sum``)."""
    levels = dict(zip(NAMES, row, strict=True))
    tokens = [_TOKENS.get((name, levels[name]), levels[name] if name == "reduction" else "")
              for name in _ID_ORDER]
    return "-".join(["cover", *(t for t in tokens if t)])


@cache
def case_of(row: Row) -> Case:
    """The case of ``row``: C=5, N=4 (0 when empty), K-dim (4, 5, 2, 3); logits standard
    normal times 2, weights in [1/2, 2), probabilities a softmax, class indices uniform (an
    ignored class left out of the others), all seeded by the id."""
    levels = dict(zip(NAMES, row, strict=True))
    ident = case_id(row)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(ident.encode()).digest()[:8]))
    batch = 0 if levels["empty"] == "yes" else BATCH
    shape = {"batch": (batch, CLASSES), "no-batch": (CLASSES,),
             "k-dim": (batch, CLASSES, *SPATIAL)}[levels["layout"]]
    logits = rng.standard_normal(shape) * 2
    weight = rng.uniform(1 / 2, 2, CLASSES) if levels["weight"] == "class" else None
    ignore_index = {"in-range": IN_RANGE, "beyond": CLASSES}.get(levels["ignore"],
                                                                 DEFAULT_IGNORE_INDEX)
    if levels["target"] == "probabilities":
        target = _softmax(rng.standard_normal(shape), class_axis_of(shape))
    else:
        target = _indices(rng, shape, levels["ignore"], ignore_index)
    smoothing = SMOOTHING if levels["smoothing"] == "positive" else 0.0
    arguments = LossArguments(logits, target, weight, ignore_index,
                              cast(Reduction, levels["reduction"]), smoothing)
    return Case(id=ident, arguments=arguments, source="covering array (conformance.coverage)",
                tags=("covering",),
                note=describe(tuple(enumerate(row))),
                conventions=_conventions(levels, shape))


def _conventions(levels: Mapping[str, str], shape: tuple[int, ...]) -> tuple[Convention, ...]:
    """The spec's named alternatives at the edges a row reaches, as the spec declares them on
    its own cases of those edges (empty-batch-*, seed-empty-prob-*, all-ignored-mean): a mean
    over nothing (0 or -0.0 for NaN), an empty batch left unreduced (its per-row losses), and
    +0.0 for the -0.0 of an empty sum of probability products."""
    empty = levels["empty"] == "yes"
    reduction = levels["reduction"]
    found = []
    if reduction == "mean" and (empty or levels["ignore"] == "all"):
        found += [Convention("zero for an empty mean", ("value",), value=np.array(0.0)),
                  Convention("negative zero for an empty mean", ("value",),
                             value=np.array(-0.0))]
    if empty and reduction != "none":
        axis = class_axis_of(shape)
        rows = np.zeros(shape[:axis] + shape[axis + 1:])
        found.append(Convention("passes an empty batch through unreduced", ("value",),
                                value=rows))
    if empty and reduction == "sum" and levels["target"] == "probabilities":
        found.append(Convention("positive zero for an empty sum", ("value",),
                                value=np.array(0.0)))
    return tuple(found)


def _softmax(z: Array, axis: int) -> Array:
    if z.size == 0:
        return z
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)  # type: ignore[no-any-return]


def _indices(rng: np.random.Generator, shape: tuple[int, ...], ignore: str,
             ignore_index: int) -> Array:
    axis = class_axis_of(shape)
    target_shape = shape[:axis] + shape[axis + 1:]
    classes = np.array([c for c in range(CLASSES) if c != ignore_index], dtype=np.int64)
    target = rng.choice(classes, size=target_shape).astype(np.int64)
    flat = target.reshape(-1)
    if ignore == "all":
        flat[:] = ignore_index
    elif ignore != "none":
        flat[::IGNORED_EVERY] = ignore_index
    return flat.reshape(target_shape)


def candidate_cases() -> list[Case]:
    """The case of every feasible row: all a covering array can pick, for any implementation
    (torch's outputs on these are computed ahead, once per run)."""
    return [case_of(row) for row in feasible_rows()]


def levels_of(case: Case) -> Row | None:
    """The row a valid spec case exercises; ``None`` for an invalid case, non-finite logits
    (a NaN or an infinity decides the whole result) or zero classes (an edge of its own)."""
    x = case.input
    axis = class_axis_of(x.shape)
    if case.invalid or x.ndim == 0 or x.shape[axis] == 0 or case.reduction not in REDUCTIONS \
            or not np.all(np.isfinite(x)):
        return None
    classes = x.shape[axis]
    empty = x.size == 0
    layout = "no-batch" if x.ndim == 1 else "batch" if x.ndim == 2 else "k-dim"
    return (layout, case.target_kind, "none" if case.weight is None else "class",
            _ignore_level(case, classes), "positive" if case.label_smoothing > 0 else "none",
            case.reduction, "yes" if empty else "no")


def _ignore_level(case: Case, classes: int) -> str:
    if case.target_kind == "probabilities":
        return "none"
    ignored = case.target == case.ignore_index
    if not np.any(ignored):
        return "none"
    if np.all(ignored):
        return "all"
    if case.ignore_index < 0:
        return "negative"
    return "in-range" if case.ignore_index < classes else "beyond"


# --- the covering array -----------------------------------------------------------------------


def cover(candidates: Sequence[Row], t: int, covered: Iterable[Combination] = ()) -> list[Row]:
    """A t-wise covering array of ``candidates``: rows of it such that every t-tuple occurring
    in a candidate occurs in a chosen row or in ``covered`` (the tuples exercised already).
    Greedy (module docstring): deterministic, and only what is missing adds rows."""
    if t < 1:
        raise ValueError(f"t={t} must be at least 1")
    gains = {row: set(combinations(row, t)) for row in candidates}
    needed = set().union(*gains.values()) - set(covered)
    chosen: list[Row] = []
    while needed:
        best = max(candidates, key=lambda row: len(gains[row] & needed))
        chosen.append(best)
        needed -= gains[best]
    return chosen


# --- the coverage table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A minimal combination never exercised, and why."""

    combination: tuple[tuple[str, str], ...]  # (dimension, level)
    kind: str  # "unsupported", "infeasible" or "not-run"
    reason: str
    tuples: int  # the never-exercised t-tuples that contain it

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"combination": dict(self.combination), "kind": self.kind,
                "reason": self.reason, "tuples": self.tuples}


@dataclass(frozen=True)
class Table:
    """The t-wise coverage of one implementation in one dtype on one device."""

    impl: str
    dtype: str
    device: str
    t: int
    supported: int  # t-tuples occurring in a supported row
    spec: int  # of those, exercised by the spec's cases alone
    covered: int  # exercised by the spec's and the covering cases
    total: int  # t-tuples of the whole product
    cases: tuple[str, ...] = ()  # the covering cases that ran
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``results.json``'s ``coverage``)."""
        return {"impl": self.impl, "dtype": self.dtype, "device": self.device, "t": self.t,
                "supported": self.supported, "spec": self.spec, "covered": self.covered,
                "total": self.total, "cases": list(self.cases),
                "never": [g.as_dict() for g in self.gaps]}


#: Why an implementation cannot run a row, or ``None`` (``implementations.base.unsupported_reason``
#: on the row's case).
Reason = Callable[[Row], str | None]


def table(impl: str, dtype: str, device: str, t: int, unsupported: Reason,
          spec_rows: Iterable[Row], covering_rows: Iterable[Row]) -> Table:
    """The coverage table, from the rows the spec's cases and the covering cases exercised."""
    supported = [row for row in feasible_rows() if unsupported(row) is None]
    wanted = {c for row in supported for c in combinations(row, t)}
    spec_rows, covering_rows = list(spec_rows), list(covering_rows)
    by_spec = {c for row in spec_rows for c in combinations(row, t)} & wanted
    ran = spec_rows + covering_rows
    by_all = {c for row in ran for c in combinations(row, t)} & wanted
    every = _product_combinations(t)
    return Table(impl, dtype, device, min(t, len(NAMES)), len(wanted), len(by_spec),
                 len(by_all), total=len(every),
                 cases=tuple(dict.fromkeys(case_id(row) for row in covering_rows)),
                 gaps=_gaps(t, ran, set(supported), unsupported, every - by_all))


def _gaps(t: int, ran: list[Row], supported: set[Row], unsupported: Reason,
          missing: frozenset[Combination] | set[Combination]) -> tuple[Gap, ...]:
    """The minimal combinations (of at most ``t`` dimensions) no row that ran contains."""
    exercised = {c for k in range(1, t + 1) for row in ran for c in combinations(row, k)}
    gaps = []
    for k in range(1, min(t, len(NAMES)) + 1):
        for combination in sorted(_product_combinations(k) - exercised, key=_order):
            if all(sub in exercised for sub in _parts(combination)):
                kind, reason = _why(combination, supported, unsupported)
                named = tuple((NAMES[i], level) for i, level in combination)
                count = sum(1 for m in missing if set(combination) <= set(m))
                gaps.append(Gap(named, kind, reason, count))
    return tuple(gaps)


def _order(combination: Combination) -> tuple[tuple[int, int], ...]:
    return tuple((i, DIMENSIONS[i].levels.index(level)) for i, level in combination)


def _parts(combination: Combination) -> Iterator[Combination]:
    """The combinations one dimension smaller (none for a single level)."""
    if len(combination) > 1:
        yield from itertools.combinations(combination, len(combination) - 1)


def _why(combination: Combination, supported: set[Row],
         unsupported: Reason) -> tuple[str, str]:
    containing = [row for row in rows() if all(row[i] == level for i, level in combination)]
    feasible = [row for row in containing if infeasible(row) is None]
    if not feasible:
        fixed = dict(combination)
        implied = [c for c in CONSTRAINTS if all(fixed.get(_INDEX[name]) in wanted
                                                 for name, wanted in c.levels.items())]
        reasons = [c.reason for c in implied] or list(dict.fromkeys(
            c.reason for row in containing if (c := infeasible(row)) is not None))
        return "infeasible", "; ".join(reasons)
    if not any(row in supported for row in feasible):  # the plainest call's reason
        return "unsupported", str(unsupported(feasible[0]))
    return "not-run", "supported, but no case that ran exercised it"


# --- one implementation's plan ----------------------------------------------------------------


def unsupported_rows(reason_of: Callable[[Case], str | None]) -> Reason:
    """``Reason`` from a reason for a case (the implementation's ``unsupported_reason`` on
    the case's call), asked once per row."""
    known: dict[Row, str | None] = {}

    def unsupported(row: Row) -> str | None:
        if row not in known:
            known[row] = reason_of(case_of(row))
        return known[row]
    return unsupported


def covering_rows(t: int, unsupported: Reason, spec_rows: Iterable[Row]) -> list[Row]:
    """The rows to run on an implementation: a t-wise covering array of the feasible rows it
    supports, seeded with what its spec cases exercised (``spec_rows``)."""
    seeded = {c for row in spec_rows for c in combinations(row, t)}
    return cover([row for row in feasible_rows() if unsupported(row) is None], t, seeded)
