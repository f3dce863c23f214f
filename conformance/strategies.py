"""Hypothesis strategies for cross-entropy calls: plain NumPy values, bound to no backend.

Every strategy is a plural noun with keyword-only ``min_*``/``max_*`` bounds, checked up front
(``InvalidArgument`` with a message naming the argument). ``cases()`` draws the shape first, then
what kind of each argument to make (the first kind is the simplest, so shrinking goes there),
then the elements; every ``data.draw`` is labelled. A case's id is derived from its content
(``gen-`` and the SHA-1 of its spec form), so the same draw always gives the same id.

Hostile values are part of every draw, a fraction of the time (a derandomized ``ci`` run sees a
few of each, and shrinking leaves them only where a failure needs them): torch's default
``ignore_index=-100`` is the ignore index drawn most, as padding at the end of a sequence or
scattered, with any reduction, weight and smoothing; one logit array in ``HOSTILE_ONE_IN`` is of
a hostile kind (a large common offset, huge gaps, all equal, subnormals); one case in
``NONFINITE_ONE_IN`` has a NaN or an infinity written into the target class, another class or
an ignored row. Weights may be zero or negative.

``large_cases()`` draws calls at LLM scale (``C`` a vocabulary size such as 32000 or 128256)
for the ``large`` profile: only the generator mappings of the spec are drawn (``seed``,
``scale``, ``padding``, ...; ``conformance.spec.generate`` builds the arrays), since drawing
millions of elements one by one is slow and mostly constant; the case's spec form is those
mappings (``SeededCase``), so a finding's record and a promoted case stay small.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from conformance.case import Case, Expect
from conformance.spec import generate
from conformance.vocabulary import INVALID_GENERATORS
from implementations.arguments import LossArguments
from implementations.base import DEFAULT_IGNORE_INDEX, Array, Reduction, class_axis_of

__all__ = [
    "HOSTILE_LOGIT_KINDS",
    "INVALID_KINDS",
    "LOGIT_KINDS",
    "calls",
    "case_id",
    "cases",
    "class_targets",
    "ignore_indices",
    "invalid_cases",
    "label_smoothings",
    "large_cases",
    "logits",
    "make_case",
    "probability_targets",
    "reductions",
    "seeded_case",
    "shapes",
    "weights",
]

PLAIN_LOGIT_KINDS = ("ordinary", "wide", "ties", "neg-inf")
HOSTILE_LOGIT_KINDS = ("offset", "gap", "all-equal", "subnormal")
LOGIT_KINDS = PLAIN_LOGIT_KINDS + HOSTILE_LOGIT_KINDS
HOSTILE_ONE_IN = 4  # one logit array in this many is of a hostile kind
OFFSETS = (1e4, -1e4, 1e6, -1e6)  # added to every logit of an "offset" array
GAPS = (1e10, -1e10, 1e30, -1e30)  # logits far from the others in a "gap" array
EQUALS = (0.0, 5.0, -1e4, 1e6)  # every logit of an "all-equal" array
SUBNORMALS = (5e-324, -5e-324, 1e-310, 1e-40, -1e-45)  # subnormal in float64 or float32
NONFINITE = (math.nan, math.inf, -math.inf)
NONFINITE_PLACES = ("target-class", "other-class", "ignored-row")
NONFINITE_ONE_IN = 5  # one case in this many has a non-finite logit written in
PROBABILITY_KINDS = ("softmax", "one-hot", "with-zeros", "unnormalized")
INDEX_KINDS = ("in-range", "padded", "some-ignored", "all-ignored")
INDEX_KIND_WEIGHTS = (2, 4, 2, 1)  # padding with ignore_index is the most common
#: Which ignore index ``ignore_indices`` draws, with repeats as weights: torch's default -100
#: more than half the time, first (shrinking goes there).
IGNORE_KINDS = ("default", "default", "default", "default", "class", "beyond", "negative")
WEIGHT_KINDS = ("positive", "with-zeros", "negative")
#: The invalid-input generators (``invalid_calls``' kinds): ``conformance.vocabulary``'s.
INVALID_KINDS = tuple(INVALID_GENERATORS)
SMALL_CLASSES = 6  # classes drawn first (shrinking target) before the full range


_Builder = TypeVar("_Builder", bound=Callable[..., Any])
#: Strategies built and kept per distinct arguments (a power of two, not a literal: Hypothesis
#: mixes the literal constants of local modules into its draws, and this must not change them).
MEMO_SIZE = 2 ** 12


def _memo(build: _Builder) -> _Builder:
    """``build`` that returns one strategy object per distinct (hashable) arguments.

    A composite's draw builds its inner strategies anew on every example, and Hypothesis then
    works out each new object's properties (emptiness, validity) again: a third of the time of
    a ``ci`` search went there. Strategies are immutable, so sharing one object draws exactly
    the same examples. Unhashable arguments (a list for a shape) build a fresh one."""
    cached = functools.lru_cache(maxsize=MEMO_SIZE)(build)

    @functools.wraps(build)
    def memoized(*args: Any, **kwargs: Any) -> Any:
        try:
            hash((args, tuple(kwargs.items())))
        except TypeError:
            return build(*args, **kwargs)
        return cached(*args, **kwargs)
    return memoized  # type: ignore[return-value]


_arrays = _memo(hnp.arrays)


def _check_int(name: str, value: Any, floor: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be an integer")
    if value < floor:
        raise InvalidArgument(f"{name}={value!r} must be at least {floor}")


def _check_range(lo_name: str, lo: int, hi_name: str, hi: int, floor: int) -> None:
    _check_int(lo_name, lo, floor)
    _check_int(hi_name, hi, floor)
    if lo > hi:
        raise InvalidArgument(f"{lo_name}={lo} must not exceed {hi_name}={hi}")


def case_id(case: Case) -> str:
    """``gen-`` and the first 10 hex digits of the SHA-1 of the case's spec form (id left out).

    The shapes and dtypes are hashed too: the spec form of an empty array (``[]``) loses them.
    """
    spec = case.to_spec()
    spec.pop("id", None)
    spec["shapes"] = [list(a.shape) for a in (case.input, case.target) if a is not None]
    spec["dtypes"] = [str(case.input.dtype), str(case.target.dtype)]
    text = json.dumps(spec, sort_keys=True, default=str)
    return "gen-" + hashlib.sha1(text.encode()).hexdigest()[:10]


def make_case(*arguments: Any, error: str | None = None, source: str = "generated",
              **named: Any) -> Case:
    """A generated ``Case`` whose id derives from its content (``arguments`` and ``named``:
    those of ``LossArguments``, positional or by name)."""
    tags = ("generated",) if error is None else ("generated", "invalid")
    case = Case("gen", _plain_types(LossArguments(*arguments, **named)), source=source,
                tags=tags, expect=Expect(error=error))
    return case.replace(id=case_id(case))


def _plain_types(args: LossArguments) -> LossArguments:
    """``args`` with NumPy arrays, float64 weights and Python numbers."""
    weight = None if args.weight is None else np.asarray(args.weight, dtype=np.float64)
    return args.replace(input=np.asarray(args.input), target=np.asarray(args.target),
                        weight=weight, ignore_index=int(args.ignore_index),
                        label_smoothing=float(args.label_smoothing))


EMPTY_ONE_IN = 8  # a zero size is drawn once in this many (it empties the whole case)


@_memo
def _sizes(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Sizes in ``[lo, hi]``, shrinking towards 1 rather than 0 (an empty input is a case of
    its own, not a simpler one, and drawn only now and then: ``st.one_of`` would pick it half
    the time, and most cases would be empty)."""
    if lo > 0 or hi < 1:
        return st.integers(lo, hi)
    return st.integers(0, EMPTY_ONE_IN - 1).flatmap(
        lambda k: st.just(0) if k == EMPTY_ONE_IN - 1 else st.integers(1, hi))


@_memo
@st.composite
def shapes(draw: st.DrawFn, *, min_classes: int = 1, max_classes: int = 8, min_batch: int = 0,
           max_batch: int = 5, max_extra_dims: int = 3, max_side: int = 3,
           max_elements: int = 256, allow_no_batch: bool = True) -> tuple[int, ...]:
    """Input shapes ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``; ``N`` may be 0."""
    _check_range("min_classes", min_classes, "max_classes", max_classes, 1)
    _check_range("min_batch", min_batch, "max_batch", max_batch, 0)
    _check_int("max_extra_dims", max_extra_dims, 0)
    if max_extra_dims > 3:
        raise InvalidArgument(f"max_extra_dims={max_extra_dims} must be at most 3")
    _check_int("max_side", max_side, 0)
    _check_int("max_elements", max_elements, max_classes)
    small = st.integers(min_classes, min(max_classes, max(SMALL_CLASSES, min_classes)))
    n_classes = draw(st.one_of(small, st.integers(min_classes, max_classes)), label="classes")
    layout = ["batch", "k-dim"] + (["no-batch"] if allow_no_batch else [])
    form = draw(st.sampled_from(layout), label="layout")
    if form == "no-batch":
        return (n_classes,)
    room = max_elements // n_classes
    batch = draw(_sizes(min(min_batch, room), min(max_batch, room)), label="batch")
    if form == "batch" or max_extra_dims == 0:
        return (batch, n_classes)
    n_extra = draw(st.integers(1, max_extra_dims), label="extra dims")
    extra: list[int] = []
    for _ in range(n_extra):
        room = max_elements // max(n_classes * max(batch, 1) * math.prod(extra), 1)
        extra.append(draw(_sizes(0, max(min(max_side, room), 0)), label="side"))
    return (batch, n_classes, *extra)


@_memo
def _weighted(kinds: tuple[str, ...], weights: tuple[int, ...]) -> st.SearchStrategy[str]:
    """One of ``kinds``, each as often as its weight; shrinks towards the first."""
    return st.sampled_from([k for k, w in zip(kinds, weights, strict=True) for _ in range(w)])


ORDINARY = st.floats(-10.0, 10.0, allow_nan=False)


@_memo
def _logit_elements(kind: str) -> st.SearchStrategy[float]:
    spread: dict[str, st.SearchStrategy[float]] = {
        "wide": st.floats(-1e4, 1e4, allow_nan=False),
        "ties": st.sampled_from((0.0, 1.0, -1.0, 3.0)),
        "neg-inf": st.one_of(ORDINARY, st.just(-math.inf)),
        "gap": st.one_of(ORDINARY, st.sampled_from(GAPS)),
        "subnormal": st.one_of(ORDINARY, st.sampled_from(SUBNORMALS)),
    }
    return spread.get(kind, ORDINARY)


@_memo
@st.composite
def logits(draw: st.DrawFn, shape: tuple[int, ...], *,
           kinds: tuple[str, ...] = LOGIT_KINDS) -> Array:
    """float64 logits of ``shape``: ordinary, wide (+-1e4), ties, with ``-inf`` entries, or
    (one array in ``HOSTILE_ONE_IN``) a large common offset, huge gaps, all equal, or with
    subnormals."""
    if not kinds or set(kinds) - set(LOGIT_KINDS):
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty subset of {LOGIT_KINDS}")
    weights = tuple(1 if k in HOSTILE_LOGIT_KINDS else HOSTILE_ONE_IN - 1 for k in kinds)
    kind = draw(_weighted(kinds, weights), label="logit kind")
    if kind == "all-equal":
        return np.full(shape, draw(st.sampled_from(EQUALS), label="logit"), dtype=np.float64)
    x = draw(_arrays(np.float64, shape, elements=_logit_elements(kind)), label="logits")
    if kind == "offset":
        x = x + draw(st.sampled_from(OFFSETS), label="offset")
    return x


@_memo
def ignore_indices(n_classes: int) -> st.SearchStrategy[int]:
    """torch's default -100 (four times in seven), a class in ``[0, C)``, ``C`` or beyond, or
    another negative."""
    _check_int("n_classes", n_classes, 1)
    chosen: dict[str, st.SearchStrategy[int]] = {
        "default": st.just(DEFAULT_IGNORE_INDEX), "class": st.integers(0, n_classes - 1),
        "beyond": st.integers(n_classes, n_classes + 3), "negative": st.integers(-3, -1)}
    return st.sampled_from(IGNORE_KINDS).flatmap(chosen.__getitem__)


@_memo
@st.composite
def class_targets(draw: st.DrawFn, shape: tuple[int, ...], n_classes: int, *,
                  ignore_index: int = DEFAULT_IGNORE_INDEX,
                  kinds: tuple[str, ...] = INDEX_KINDS) -> Array:
    """int64 class indices in ``[0, C)``: none ignored, padded (the last positions of the last
    axis are ``ignore_index``, as a batch of sequences is), some or all ignored."""
    _check_int("n_classes", n_classes, 1)
    if not kinds or set(kinds) - set(INDEX_KINDS):
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty subset of {INDEX_KINDS}")
    weights = tuple(dict(zip(INDEX_KINDS, INDEX_KIND_WEIGHTS, strict=True))[k] for k in kinds)
    kind = draw(_weighted(kinds, weights), label="target kind")
    if kind == "all-ignored":
        return np.full(shape, ignore_index, dtype=np.int64)
    elements = st.integers(0, n_classes - 1)
    if kind == "some-ignored":
        elements = st.one_of(elements, st.just(ignore_index))
    target = draw(_arrays(np.int64, shape, elements=elements), label="class targets")
    if kind == "padded" and target.size:
        if not shape:
            return np.full((), ignore_index, dtype=np.int64)
        pad = draw(st.integers(1, shape[-1]), label="padding")
        target = target.copy()
        target[..., shape[-1] - pad:] = ignore_index
    return target


def _softmax(x: Array, axis: int) -> Array:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return np.asarray(e / np.sum(e, axis=axis, keepdims=True))


@_memo
@st.composite
def probability_targets(draw: st.DrawFn, shape: tuple[int, ...], *,
                        kinds: tuple[str, ...] = PROBABILITY_KINDS) -> Array:
    """float64 class probabilities of the input's ``shape`` (class axis 1, or 0 for ``(C,)``)."""
    if not kinds or set(kinds) - set(PROBABILITY_KINDS):
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty subset of {PROBABILITY_KINDS}")
    axis = class_axis_of(shape)
    kind = draw(st.sampled_from(kinds), label="probability kind")
    if kind == "one-hot":
        rest = shape[:axis] + shape[axis + 1:]
        idx = draw(class_targets(rest, shape[axis], kinds=("in-range",)), label="hot class")
        return np.moveaxis(np.eye(shape[axis])[idx], -1, axis)
    if kind == "softmax" or not math.prod(shape):
        raw = draw(_arrays(np.float64, shape, elements=st.floats(-5.0, 5.0)), label="raw")
        return _softmax(raw, axis) if raw.size else raw
    if kind == "with-zeros":
        raw = draw(_arrays(np.float64, shape, elements=st.sampled_from((0.0, 1.0, 2.0))),
                   label="raw")
        total = np.sum(raw, axis=axis, keepdims=True)
        return np.asarray(np.where(total > 0, raw / np.where(total > 0, total, 1.0), 0.0))
    return draw(_arrays(np.float64, shape, elements=st.floats(0.0, 2.0)), label="unnormalized")


@_memo
@st.composite
def weights(draw: st.DrawFn, n_classes: int, *, allow_zero: bool = True,
            allow_negative: bool = True) -> Array:
    """Per-class float64 weights: positive, some zero, or some negative."""
    _check_int("n_classes", n_classes, 0)
    kinds = [k for k, ok in zip(WEIGHT_KINDS, (True, allow_zero, allow_negative), strict=True)
             if ok]
    kind = draw(st.sampled_from(kinds), label="weight kind")
    elements = {"positive": st.floats(0.25, 4.0),
                "with-zeros": st.one_of(st.floats(0.25, 4.0), st.just(0.0)),
                "negative": st.floats(-2.0, 4.0)}[kind]
    return draw(_arrays(np.float64, (n_classes,), elements=elements), label="weight")


@_memo
def label_smoothings(*, interior: tuple[float, ...] | None = None) -> st.SearchStrategy[float]:
    """Exactly 0, exactly 1, or in between (any float, or one of ``interior``: a backend that
    compiles per smoothing value then compiles a bounded number of times)."""
    if interior is not None and not all(0.0 < v < 1.0 for v in interior):
        raise InvalidArgument(f"interior={interior!r} must hold values strictly in (0, 1)")
    between = st.floats(0.0, 1.0) if interior is None else st.sampled_from(interior)
    return st.one_of(st.just(0.0), st.just(1.0), between)


@_memo
def reductions() -> st.SearchStrategy[str]:
    """``mean`` (torch's default, where shrinking goes), ``sum`` or ``none``."""
    return st.sampled_from(("mean", "sum", "none"))


@_memo
@st.composite
def cases(draw: st.DrawFn, *, min_classes: int = 1, max_classes: int = 8, min_batch: int = 0,
          max_batch: int = 5, allow_no_batch: bool = True,
          max_extra_dims: int = 3, max_side: int = 3, max_elements: int = 256,
          allow_probabilities: bool = True, allow_weight: bool = True,
          interior_smoothings: tuple[float, ...] | None = None,
          probabilities: bool | None = None, weighted: bool | None = None,
          reduction: str | None = None) -> Case:
    """Valid calls as ``Case`` objects (shape first, then each argument's kind, then elements).

    ``probabilities``, ``weighted`` and ``reduction`` fix those axes (``None``: drawn), so that a
    small search can be spread over every combination of them.
    """
    if reduction is not None and reduction not in ("mean", "sum", "none"):
        raise InvalidArgument(f"reduction={reduction!r} must be 'mean', 'sum' or 'none'")
    shape = draw(shapes(min_classes=min_classes, max_classes=max_classes, min_batch=min_batch,
                        max_batch=max_batch, max_extra_dims=max_extra_dims, max_side=max_side,
                        max_elements=max_elements, allow_no_batch=allow_no_batch), label="shape")
    axis = class_axis_of(shape)
    n_classes = shape[axis]
    x = draw(logits(shape), label="input")
    if probabilities is None:
        probabilities = allow_probabilities and draw(st.booleans(), label="probabilities")
    ignore_index = DEFAULT_IGNORE_INDEX
    if probabilities:
        target = draw(probability_targets(shape), label="target")
        ignore_index = draw(st.sampled_from((DEFAULT_IGNORE_INDEX, -1)), label="ignore_index")
    else:
        ignore_index = draw(ignore_indices(n_classes), label="ignore_index")
        target = draw(class_targets(shape[:axis] + shape[axis + 1:], n_classes,
                                    ignore_index=ignore_index), label="target")
    weight = None
    if weighted or (weighted is None and allow_weight):
        weight = draw(weights(n_classes) if weighted else st.none() | weights(n_classes),
                      label="weight")
    reduction = reduction or draw(reductions(), label="reduction")
    smoothing = draw(label_smoothings(interior=interior_smoothings), label="label_smoothing")
    x = _with_nonfinite(draw, x, target, None if probabilities else ignore_index)
    return make_case(x, target, weight, ignore_index, reduction, smoothing)


def _with_nonfinite(draw: st.DrawFn, x: Array, target: Array, ignore_index: int | None) -> Array:
    """``x``, or (one case in ``NONFINITE_ONE_IN``) ``x`` with a NaN or an infinity written into
    one row's target class (for probabilities, its most probable class), another class, or an
    ignored row. ``ignore_index`` is ``None`` for probability targets."""
    rare = draw(st.integers(0, NONFINITE_ONE_IN - 1), label="non-finite") == NONFINITE_ONE_IN - 1
    if not rare or not x.size:
        return x
    place = draw(st.sampled_from(NONFINITE_PLACES), label="non-finite place")
    value = draw(st.sampled_from(NONFINITE), label="non-finite value")
    axis = class_axis_of(x.shape)
    rows = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis]).copy()
    if ignore_index is None:
        hot = np.argmax(np.moveaxis(target, axis, -1).reshape(rows.shape), axis=1)
        ignored = np.zeros(len(rows), dtype=bool)
    else:
        hot, ignored = target.reshape(-1), target.reshape(-1) == ignore_index
    eligible = np.flatnonzero(ignored if place == "ignored-row" else ~ignored)
    if not eligible.size or (place == "other-class" and rows.shape[1] < 2):
        return x
    row = int(eligible[draw(st.integers(0, eligible.size - 1), label="non-finite row")])
    column = 0 if place == "ignored-row" else int(hot[row])
    if place == "other-class":
        column = (column + draw(st.integers(1, rows.shape[1] - 1), label="other class")) % \
            rows.shape[1]
    rows[row, column] = value
    moved = np.moveaxis(x, axis, -1).shape
    return np.moveaxis(rows.reshape(moved), -1, axis)


def calls(**bounds: Any) -> st.SearchStrategy[dict[str, Any]]:
    """The keyword arguments of the contract's ``cross_entropy`` (``cases()``'s bounds)."""
    return cases(**bounds).map(lambda c: c.arguments.kwargs())


@_memo
@st.composite
def invalid_cases(draw: st.DrawFn, kind: str, *, max_classes: int = 6) -> Case:
    """Calls torch refuses, made by one generator of ``INVALID_KINDS`` (``expect.error`` is
    the generator's name)."""
    if kind not in INVALID_KINDS:
        raise InvalidArgument(f"kind={kind!r} must be one of {INVALID_KINDS}")
    shape = draw(shapes(max_classes=max_classes, min_batch=1, max_batch=4, max_extra_dims=0,
                        max_elements=64), label="shape")
    axis = class_axis_of(shape)
    n_classes, rest = shape[axis], shape[:axis] + shape[axis + 1:]
    x = draw(logits(shape, kinds=("ordinary",)), label="input")
    target: Array = draw(class_targets(rest, n_classes, kinds=("in-range",)), label="target")
    options: dict[str, Any] = {"reduction": draw(reductions(), label="reduction")}
    if kind in ("target-out-of-range", "negative-target"):
        target = _poisoned(draw, target, n_classes, kind)
    elif kind == "ignore-index-with-probabilities":
        target = draw(probability_targets(shape, kinds=("softmax",)), label="probabilities")
        options["ignore_index"] = draw(st.integers(0, n_classes + 2), label="ignore_index")
    elif kind == "label-smoothing-above-one":
        options["label_smoothing"] = draw(st.floats(1.0, 4.0, exclude_min=True), label="eps")
    elif kind == "weight-wrong-length":
        length = draw(st.integers(0, n_classes + 3).filter(lambda n: n != n_classes),
                      label="weight length")
        options["weight"] = np.ones(length)
    else:
        target = _mismatched(draw, shape)
    return make_case(x, target, error=kind, **options)


def _poisoned(draw: st.DrawFn, target: Array, n_classes: int, kind: str) -> Array:
    bad = st.integers(n_classes, n_classes + 3) if kind == "target-out-of-range" else \
        st.integers(-4, -1)
    flat = target.reshape(-1).copy()
    where = draw(st.integers(0, max(flat.size - 1, 0)), label="position")
    flat[where] = draw(bad, label="bad target")
    return flat.reshape(target.shape)


def _mismatched(draw: st.DrawFn, shape: tuple[int, ...]) -> Array:
    extra = draw(st.integers(1, 2), label="extra rows")
    if len(shape) == 1:
        return np.zeros(extra + 1, dtype=np.int64)  # (C,) input wants a 0-d target
    wrong = (shape[0] + extra, *shape[2:])
    return np.zeros(wrong, dtype=np.int64)


# --- at LLM scale -----------------------------------------------------------------------------

#: Vocabulary sizes of language models (LLaMA-2, GPT-2, 2**16, LLaMA-3, 2**17, Qwen-2, Gemma),
#: smallest first (where a draw goes first).
VOCABULARIES = (32000, 50257, 65536, 128256, 131072, 151936, 262144)
PADDINGS = (0.5, 0.0, 0.25, 0.9)  # fraction of each sequence that is -100 padding
LARGE_SCALES = (1.0, 4.0, 16.0)  # logits are standard normals times one of these
WEIGHT_RANGE = (0.25, 4.0)
SEEDS = st.integers(0, 2**31 - 1)


@dataclass(frozen=True, eq=False)
class SeededCase(Case):
    """A case whose arrays are built from spec generator mappings (``recipe``: ``input``,
    ``target`` and perhaps ``weight``); its spec form is those mappings."""

    recipe: tuple[tuple[str, dict[str, Any]], ...] = ()

    def to_spec(self) -> dict[str, Any]:
        """The case in spec form, its arrays as generator mappings."""
        return {"id": self.id, "source": self.source, "tags": list(self.tags),
                **{k: dict(v) for k, v in self.recipe}, **self.arguments.spec_options()}


def _large_classes(draw: st.DrawFn, lo: int, hi: int) -> int:
    fitting = [v for v in VOCABULARIES if lo <= v <= hi]
    if fitting:
        return int(draw(st.sampled_from(fitting), label="classes"))
    return int(draw(st.one_of(st.just(hi), st.integers(lo, hi)), label="classes"))


def _large_shape(draw: st.DrawFn, n_classes: int, elements: int) -> tuple[int, ...]:
    """``(N, C)`` three times in four, else ``(N, C, L)``; ``N`` (and ``L``) fill the room, or
    one row, or any number of rows that fits."""
    rows = max(elements // n_classes, 1)
    side = 1
    if draw(st.integers(0, 3), label="k-dim") == 3:
        side = draw(st.integers(1, max(1, min(rows, 8))), label="side")
        rows = max(rows // side, 1)
    fill = draw(st.sampled_from(("fit", "one", "any")), label="rows")
    n = rows if fill == "fit" else 1 if fill == "one" else draw(st.integers(1, rows),
                                                                  label="batch")
    return (n, n_classes) if side == 1 else (n, n_classes, side)


@st.composite
def large_cases(draw: st.DrawFn, *, max_elements: int, min_classes: int = 1,
                max_classes: int = VOCABULARIES[-1]) -> Case:
    """Calls at LLM scale: ``C`` a vocabulary size in ``[min_classes, max_classes]`` that fits
    (else any size up to the room), the rows that fit in ``max_elements`` input elements (half
    as many with probability targets), -100 padding (``PADDINGS``), class weights, smoothing
    0.1, every reduction, K-dim inputs."""
    _check_range("min_classes", min_classes, "max_classes", max_classes, 1)
    _check_int("max_elements", max_elements, min_classes)
    probabilities = draw(st.booleans(), label="probabilities")
    elements = max_elements // 2 if probabilities else max_elements
    n_classes = _large_classes(draw, min_classes, min(max_classes, max(elements, min_classes)))
    shape = _large_shape(draw, n_classes, elements)
    rest = [shape[0], *shape[2:]]
    recipe: dict[str, dict[str, Any]] = {"input": {
        "shape": list(shape), "seed": draw(SEEDS, label="input seed"),
        "scale": draw(st.sampled_from(LARGE_SCALES), label="scale")}}
    if probabilities:
        recipe["target"] = {"probabilities": list(shape), "seed": draw(SEEDS, label="seed")}
    else:
        padding = draw(st.sampled_from(PADDINGS), label="padding")
        recipe["target"] = {"classes": n_classes, "shape": rest,
                            "seed": draw(SEEDS, label="target seed"),
                            **({"padding": padding} if padding else {})}
    if draw(st.booleans(), label="weighted"):
        low, high = WEIGHT_RANGE
        recipe["weight"] = {"shape": [n_classes], "seed": draw(SEEDS, label="weight seed"),
                            "low": low, "high": high}
    reduction = draw(reductions(), label="reduction")
    smoothing = draw(st.sampled_from((0.0, 0.1)), label="label_smoothing")
    return seeded_case(recipe, reduction, smoothing)


def seeded_case(recipe: dict[str, dict[str, Any]], reduction: str = "mean",
                label_smoothing: float = 0.0) -> Case:
    """The ``SeededCase`` of generator mappings (``input``, ``target``, perhaps ``weight``),
    its id derived from them."""
    weight = recipe.get("weight")
    arguments = LossArguments(generate(recipe["input"]), generate(recipe["target"]),
                              None if weight is None else generate(weight),
                              reduction=cast(Reduction, reduction),
                              label_smoothing=float(label_smoothing))
    case = SeededCase("gen", arguments, source="generated", tags=("generated", "large"),
                      recipe=tuple((k, v) for k, v in recipe.items()))
    return case.replace(id=case_id(case))
