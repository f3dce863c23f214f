"""One cause per bug: what a finding needs to happen, found by switching its features off.

A run's findings are symptoms: one bug in label smoothing fails value and gradient checks,
spec and generated cases, in every dtype, each with its own numbers. After an implementation's
checks have run (``conformance.session``), while it is still loaded, ``diagnose`` turns them into
causes:

1. **Lower precision.** Each comparison measures its agreement with the reference in bits
   (``tolerance.agreement_bits``) and, for a divergence, the most precise lower dtype whose
   bound it meets (``tolerance.LOWER``: float32 for float64). When the median agreement of an
   implementation's well-conditioned value checks in a dtype (``precision``) is at most
   ``LOWER_MARGIN`` bits above a lower dtype's significand, it computes in that dtype: every
   divergence of that dtype which meets the lower dtype's bound is one cause,
   ``computes float64 in float32 (agrees to about 24 bits)``, outcome ``lower-precision``
   (severity *accuracy*), not a list of wrong values.
2. **Triggers.** The other findings on valid input (wrong values or gradients, valid calls that
   raise) are grouped by symptom (severity, value or gradient, dtype and the case's
   conditions, ``conditions_of``), and the plainest example of each group (a spec seed case
   over another spec case over a generated case over a hostile one, then the smallest) is
   reduced: each condition is switched off in turn (``CONDITIONS``' order, the incidental ones
   first: hostile values, a long reduction (``LONG_ROWS`` rows, cut to ``SHORT_ROWS``), the
   gradient, the dtype, the reduction, the layout; then ignored targets, smoothing, weights,
   probability targets, emptiness), keeping the change whenever the call still fails the same
   way. The conditions left are the **trigger**: the reduced
   example fails, and fails no more without any one of them (a condition that cannot be
   switched off, because the implementation does not support the call without it, stays).
3. **Causes.** A cause is the severity and the trigger; its heading names them ("wrong when
   probability targets ∧ label_smoothing; correct without any one of them"), and every
   symptom group whose conditions include a known cause's trigger with the same severity is
   that cause again, without another reduction. An empty trigger (or the gradient alone)
   claims the implementation fails on plain input; one call (``PLAIN``) checks the claim, and
   where the plain call conforms the trigger gains ``EXAMPLE_VALUES`` ("wrong on the example's
   own values"), which explains no other symptom, so a failure that depends on values no
   condition names (equal logits) does not swallow other bugs. Where it holds, it explains
   the symptoms of its own dtype only: reducing switches the dtype to float64, where another
   bug may fail the plain call. "The same way" is the severity and whether only the dtype is
   wrong (``Symptom``): an implementation that returns float32 for every bfloat16 call has
   that as one cause ("returns another dtype than asked with bfloat16"), and its wrong values
   keep causes of their own. Value, gradient, spec, generated and dtype variants of
   one bug share one cause; the reports count and order causes
   (``conformance.report.divergences``).

Each finding's ``Record.diagnosis`` holds its cause: ``cause`` (the heading), ``trigger`` (the
conditions), ``severity``, and the plainest example it was shown on (``example``: the reduced
case in spec form, ``example_dtype`` and its ``check``). Invalid-input findings, conventions,
accuracy findings against torch and findings without a case keep the symptom grouping.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from conformance.case import Case, Expect
from conformance.checks.gradient import CHECK as GRADIENT_CHECK
from conformance.checks.value import CHECK as VALUE_CHECK
from conformance.context import CallTally
from conformance.features import features_of
from conformance.results import Record
from conformance.runner import Runner
from conformance.severity import is_invalid_check, severity_of
from conformance.signature import LARGE, value_traits
from conformance.spec import generate
from conformance.tolerance import LOWER
from conformance.vocabulary import (
    FAULT_VERDICTS,
    PROPERTY_PREFIX,
    Check,
    Origin,
    Outcome,
    Severity,
    Verdict,
)
from implementations.arguments import LossArguments
from implementations.base import (
    DEFAULT_IGNORE_INDEX,
    Implementation,
    class_axis_of,
    dtypes_of,
)
from implementations.dtypes import finfo

__all__ = ["CONDITIONS", "EXAMPLE_VALUES", "LONG_ROWS", "LOWER_MARGIN", "MAX_REDUCTIONS", "PLAIN",
           "Cause", "Symptom", "case_of", "conditions_of", "diagnose", "heading", "plainness",
           "precision", "reduce", "symptom_of"]

#: A case with at least this many rows (N * d1 * ...) is a long reduction: accumulation order
#: and precision show there; switched off, it keeps ``SHORT_ROWS`` of them.
LONG_ROWS = 4096
SHORT_ROWS = 64
#: The conditions a trigger is made of, in the order they are switched off (the incidental
#: ones first), with the words a heading names them by.
CONDITIONS: dict[str, str] = {
    "logits-nan": "NaN logits",
    "logits-inf": "+inf logits",
    "logits-neg-inf": "-inf logits",
    "logits-large": "large logits (|x| >= 1e3)",
    "logits-subnormal": "subnormal logits",
    "target-subnormal": "subnormal target probabilities",
    "weight-zero": "zero class weights",
    "weight-negative": "negative class weights",
    "smoothing-ignored": "a NaN or negative label_smoothing (torch takes it as 0)",
    "long": f"a long reduction (>= {LONG_ROWS} rows)",
    "gradients": "the gradient",
    "dtype-float16": "float16",
    "dtype-bfloat16": "bfloat16",
    "dtype-float32": "float32",
    "reduction-none": "reduction='none'",
    "reduction-sum": "reduction='sum'",
    "no-batch": "an unbatched (C) input",
    "k-dim": "a K-dim (N, C, d1, ...) input",
    "ignore-index": "ignored targets (ignore_index)",
    "label-smoothing": "label_smoothing",
    "weight": "class weights",
    "probabilities": "probability targets",
    "empty": "an empty input",
    "one-class": "one class (C = 1)",
    "reduction-mean": "reduction='mean' (its divisor: correct with 'sum')",
}
#: A dtype computes in a lower one when its median agreement is at most this many bits above
#: the lower dtype's significand (float32: 24 bits, so up to 32).
LOWER_MARGIN = 8
#: Reductions (each a few calls) per implementation, dtype and device; symptom groups beyond
#: them that no known cause explains keep the symptom grouping.
MAX_REDUCTIONS = 24
#: The trigger of a failure that no condition explains while a plain call conforms: it
#: depends on the example's own values (equal logits, a particular target), so it explains no
#: other symptom (``conditions_of`` never yields it).
EXAMPLE_VALUES = "example-values"
#: The plain call an empty trigger is checked on: seeded (4, 5) logits, class indices, mean.
PLAIN = Case.of("plain-input", np.random.default_rng(0).standard_normal((4, 5)),
                np.array([0, 3, 1, 4]))
_DIAGNOSED = (Severity.WRONG_ON_VALID, Severity.REJECTS_VALID)


class Symptom(NamedTuple):
    """How a check fails, as the reduction compares it: its severity, and whether only the
    dtype is wrong (a wrong-dtype result whose values agree), so that an implementation that
    returns float32 for every bfloat16 call does not explain its wrong values by it."""

    severity: Severity
    dtype_only: bool = False


def symptom_of(record: Record) -> Symptom | None:
    """The ``Symptom`` of a record (``None`` when it has no severity)."""
    severity = severity_of(record)
    if severity is None:
        return None
    return Symptom(severity, record.outcome is Outcome.WRONG_DTYPE and
                   bool((record.error or {}).get("ok")))


class _Faulted(Exception):
    """A probe crashed, hung or was not run (the circuit breaker): no more probes."""
_VERBS = {Severity.WRONG_ON_VALID: "wrong", Severity.REJECTS_VALID: "raises",
          Severity.CRASH: "crashes or hangs"}
_PLAIN = {Severity.WRONG_ON_VALID: "correct", Severity.REJECTS_VALID: "runs",
          Severity.CRASH: "runs"}


@dataclass(frozen=True)
class Cause:
    """A diagnosed cause: its symptom, its trigger, the example it was reduced to and the dtype
    of the symptom group it was reduced from (``scope``)."""

    symptom: Symptom
    trigger: tuple[str, ...]
    example: Case
    dtype: str
    check: str
    scope: str

    @property
    def severity(self) -> Severity:
        """The symptom's severity."""
        return self.symptom.severity

    @property
    def heading(self) -> str:
        """The cause in words (``heading``)."""
        return heading(self.severity, self.trigger, dtype_only=self.symptom.dtype_only)

    def explains(self, symptom: Symptom, conditions: Iterable[str], dtype: str) -> bool:
        """Whether ``symptom`` on a case with ``conditions`` in ``dtype`` is this cause (an
        empty trigger only in the dtype it was found in: the dtype is switched off to float64
        while reducing, where another bug may fail the plain call)."""
        return symptom == self.symptom and \
            set(self.trigger) <= set(conditions) and \
            (not _bare(self.trigger) or dtype == self.scope)

    def as_dict(self) -> dict[str, Any]:
        """``Record.diagnosis``."""
        return {"cause": self.heading, "trigger": list(self.trigger),
                "severity": str(self.severity), "example": self.example.to_spec(),
                "example_dtype": self.dtype, "check": self.check}


def heading(severity: Severity, trigger: Sequence[str], *, dtype_only: bool = False) -> str:
    """``wrong when A ∧ B; correct without any one of them``; ``wrong gradient ...`` when the
    gradient is a condition; ``... on plain input`` for an empty trigger."""
    verb = "returns another dtype than asked" if dtype_only else \
        _VERBS.get(severity, str(severity))
    words = [CONDITIONS.get(c, c) for c in trigger if c != "gradients"]
    if "gradients" in trigger and dtype_only:
        verb = f"{verb} for the gradient"
    elif "gradients" in trigger and severity is Severity.WRONG_ON_VALID:
        verb = "wrong gradient"
    elif "gradients" in trigger:
        verb = f"{verb} in the gradient"
    if not words:
        return f"{verb} on plain input (class indices, (N, C), mean)"
    if EXAMPLE_VALUES in trigger:
        return f"{verb} on the example's own values; a plain input conforms (no condition " \
            "names the trigger)"
    plain = _PLAIN.get(severity, "conforms")
    if len(words) == 1:
        return f"{verb} with {words[0]}; {plain} without it"
    return f"{verb} when {' ∧ '.join(words)}; {plain} without any one of them"


# --- conditions and switching them off --------------------------------------------------------


def conditions_of(case: Case, dtype: str, check: str) -> tuple[str, ...]:
    """The ``CONDITIONS`` a check of ``case`` in ``dtype`` has, in ``CONDITIONS`` order."""
    gradient = check in (Check.GRADIENT, f"{PROPERTY_PREFIX}gradient")
    found = set(features_of(case, dtype, Check.GRADIENT if gradient else Check.VALUE))
    if case.input.size == 0:
        found.discard("reduction-mean")  # an empty mean is a convention's edge, not a divisor
    if _classes(case) == 1:
        found.add("one-class")
    if _rows(case) >= LONG_ROWS:
        found.add("long")
    if not case.label_smoothing >= 0:  # NaN or negative
        found.add("smoothing-ignored")
    if case.target_kind == "indices" and case.ignore_index != DEFAULT_IGNORE_INDEX:
        found.add("ignore-index")
    probabilities = case.target_kind == "probabilities"
    found.update(value_traits(case.input, case.weight, case.target if probabilities else None))
    return tuple(c for c in CONDITIONS if c in found)


def _without(case: Case, condition: str) -> Case | None:
    """``case`` with ``condition`` switched off, or ``None`` when it cannot be."""
    c = _classes(case)
    if condition in ("logits-nan", "logits-inf", "logits-neg-inf", "logits-subnormal",
                     "logits-large"):
        return case.replace(input=_tame(case.input, condition))
    if condition == "target-subnormal":
        t = np.where(np.abs(case.target) < float(finfo("float32").smallest_normal), 0.0,
                     case.target)
        return case.replace(target=t)
    if condition == "weight-zero" and case.weight is not None:
        return case.replace(weight=np.where(case.weight == 0, 1.0, case.weight))
    if condition == "weight-negative" and case.weight is not None:
        return case.replace(weight=np.abs(case.weight))
    if condition in ("reduction-none", "reduction-sum"):
        return case.replace(reduction="mean")
    if condition in ("label-smoothing", "smoothing-ignored"):
        return case.replace(label_smoothing=0.0)
    if condition == "weight":
        return case.replace(weight=None)
    if condition == "ignore-index":
        if c == 0:
            return None
        target = np.where(case.target == case.ignore_index, 0, case.target)
        return case.replace(target=target.astype(case.target.dtype),
                            ignore_index=DEFAULT_IGNORE_INDEX)
    if condition == "probabilities":
        if c == 0 or case.input.size == 0:
            return None
        axis = class_axis_of(case.input.shape)
        return case.replace(target=np.argmax(case.target, axis=axis).astype(np.int64))
    if condition == "no-batch":
        return case.replace(input=case.input[None], target=case.target[None])
    if condition == "k-dim":
        return _flattened(case)
    if condition == "empty":
        return _filled(case)
    if condition == "one-class":
        return _with_second_class(case)
    if condition == "long":
        return _shortened(case)
    return None


def _rows(case: Case) -> int:
    """N * d1 * ... (1 for a (C,) input)."""
    c = _classes(case)
    return 1 if case.input.ndim == 1 else case.input.size // c if c else 0


def _shortened(case: Case) -> Case:
    """A long case cut to its first ``SHORT_ROWS`` rows, the same layout: (N, C) keeps rows,
    (N, C, d1, ...) keeps up to 4 samples and the first positions of d1 * ... flattened."""
    x, t = case.input, case.target
    probabilities = case.target_kind == "probabilities"
    if x.ndim == 2:
        return case.replace(input=x[:SHORT_ROWS], target=t[:SHORT_ROWS])
    n = min(x.shape[0], 4)
    keep = SHORT_ROWS // n
    short_x = x[:n].reshape(n, x.shape[1], -1)[:, :, :keep]
    short_t = t[:n].reshape(n, x.shape[1], -1)[:, :, :keep] if probabilities else \
        t[:n].reshape(n, -1)[:, :keep]
    return case.replace(input=short_x, target=short_t)


def _with_second_class(case: Case) -> Case:
    """A one-class case with a second class appended: logits 0, probability 0, weight 1."""
    axis = class_axis_of(case.input.shape)
    x = np.concatenate([case.input, np.zeros_like(case.input)], axis=axis)
    target = case.target
    if case.target_kind == "probabilities":
        target = np.concatenate([case.target, np.zeros_like(case.target)], axis=axis)
    weight = None if case.weight is None else np.append(case.weight, 1.0)
    return case.replace(input=x, target=target, weight=weight)


def _classes(case: Case) -> int:
    return int(case.input.shape[class_axis_of(case.input.shape)])


def _tame(x: np.ndarray, condition: str) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    pick = {"logits-nan": np.isnan(x), "logits-inf": np.isposinf(x),
            "logits-neg-inf": np.isneginf(x),
            "logits-subnormal": (x != 0) & (np.abs(x) < float(finfo("float32").smallest_normal)),
            "logits-large": np.isfinite(x) & (np.abs(x) >= LARGE)}[condition]
    x[pick] = 0.0 if condition != "logits-large" else np.sign(x[pick])
    return x


def _flattened(case: Case) -> Case:
    """A K-dim case as (N * d1 * ..., C) rows, the same numbers."""
    c = _classes(case)
    x = np.moveaxis(case.input, 1, -1).reshape(-1, c)
    t: np.ndarray = np.moveaxis(case.target, 1, -1).reshape(-1, c) \
        if case.target_kind == "probabilities" else case.target.reshape(-1)
    return case.replace(input=x, target=t)


def _filled(case: Case) -> Case:
    """An empty case made non-empty: every 0 in its shape 2 (3 classes), seeded values."""
    rng = np.random.default_rng(0)
    shape = tuple(d or 2 for d in case.input.shape)
    axis = class_axis_of(shape)
    if case.input.shape[axis] == 0:
        shape = (*shape[:axis], 3, *shape[axis + 1:])
    c = shape[axis]
    x = rng.standard_normal(shape)
    if case.target.shape == case.input.shape and case.target.dtype.kind == "f":
        e = np.exp(rng.standard_normal(shape))
        t: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    else:
        t = rng.integers(0, c, size=shape[:axis] + shape[axis + 1:], dtype=np.int64)
    weight = None if case.weight is None else \
        (case.weight if case.weight.shape == (c,) else np.ones(c))
    return case.replace(input=x, target=t, weight=weight)


# --- reducing one example ---------------------------------------------------------------------


Probe = Callable[[Case, str, str], Symptom | None]


def reduce(case: Case, dtype: str, check: str, symptom: Symptom, probe: Probe,
           dtypes: Sequence[str]) -> tuple[tuple[str, ...], Case, str, str]:
    """The trigger of a failure: ``case`` in ``dtype`` under ``check`` (value or gradient)
    fails with ``symptom``; each condition is switched off in turn and the change kept while
    the call still fails the same way. Returns the conditions left, the reduced case, its
    dtype and its check."""
    kept: list[str] = []
    for condition in conditions_of(case, dtype, check):
        if condition == "reduction-mean":
            continue  # tried last, against the sum, once the rest is reduced
        if condition == "gradients":
            variant: tuple[Case, str, str] | None = (case, dtype, Check.VALUE)
        elif condition.startswith("dtype-"):
            variant = (case, "float64", check) if "float64" in dtypes else None
        else:
            changed = _without(case, condition)
            variant = None if changed is None else \
                (changed.replace(id=f"{case.id}~{condition}-off", expect=Expect(),
                                 conventions=(), note=""), dtype, check)
        if variant is not None and probe(*variant) == symptom:
            case, dtype, check = variant
        else:
            kept.append(condition)
    if case.reduction == "mean" and case.input.size and \
            probe(case.replace(id=f"{case.id}~sum", reduction="sum", expect=Expect(),
                               conventions=()), dtype, check) != symptom:
        kept.append("reduction-mean")  # the mean's divisor: the sum is right
    return tuple(c for c in CONDITIONS if c in kept), case, dtype, check


def _prober(impl: Implementation, device: str, downgraded: Iterable[str]) -> Probe:
    """Runs one value or gradient check on ``impl`` (no comparison with torch: variants are
    not among torch's precomputed outputs) and returns the record's severity: *accuracy* for
    a divergence within a lower dtype's bound in a dtype the implementation computes lower."""
    runner = Runner(gradients=True, origin=Origin.GENERATED, tally=CallTally())
    lowered = frozenset(downgraded)

    def probe(case: Case, dtype: str, check: str) -> Symptom | None:
        check_object = GRADIENT_CHECK if check == Check.GRADIENT else VALUE_CHECK
        record = check_object.run(runner.context(impl, dtype, device), case)
        if record.verdict in (Verdict.NOT_RUN, *FAULT_VERDICTS) or \
                severity_of(record) is Severity.CRASH:
            raise _Faulted(record.reason or str(record.verdict))
        if dtype in lowered and (record.error or {}).get("within"):
            return Symptom(Severity.ACCURACY)
        return symptom_of(record)

    return probe


# --- the records of one implementation --------------------------------------------------------


def case_of(record: Record, cases: Mapping[str, Case]) -> Case | None:
    """The case a record is about: a spec case by id, else the record's ``case_spec``."""
    if record.origin is Origin.SPEC and record.case in cases:
        return cases[record.case]
    spec = record.case_spec
    if not spec or "input" not in spec:
        return None
    try:
        return _from_spec(spec)
    except (ValueError, TypeError, KeyError):
        return None


def _from_spec(spec: Mapping[str, Any]) -> Case:
    def array(value: Any, dtype: Any = np.float64) -> np.ndarray:
        if isinstance(value, dict):
            return np.asarray(generate(value))
        return np.asarray(_floats(value) if dtype is np.float64 else value, dtype=dtype)

    x = array(spec["input"])
    raw_t = spec["target"]
    t_dtype = spec.get("target_dtype")
    t = np.asarray(generate(raw_t)) if isinstance(raw_t, dict) else np.asarray(_floats(raw_t))
    if t_dtype:
        t = t.astype(t_dtype)
    elif t.shape != x.shape or t.dtype.kind in "iu":
        t = t.astype(np.int64)
    weight = None if spec.get("weight") is None else array(spec["weight"])
    arguments = LossArguments.from_spec({**spec, "input": x, "target": t, "weight": weight})
    return Case(str(spec.get("id", "example")), arguments,
                source=str(spec.get("source", "generated")), tags=tuple(spec.get("tags", ())))


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, str):
        return float(value)
    return value


def plainness(record: Record, case: Case | None) -> tuple[int, int, int, str]:
    """A key that sorts the plainest example first: a spec seed case, another spec case, a
    generated one, then anything hostile (non-finite, huge or subnormal values); then fewer
    conditions and a smaller input."""
    hostile = record.case.startswith("hostile-") or bool(
        case is not None and value_traits(case.input, case.weight,
                                          case.target if case.target_kind == "probabilities"
                                          else None))
    rank = 4 if hostile else 0 if record.case.startswith("seed-") else \
        1 if record.origin is Origin.SPEC else 2 if record.origin is Origin.COVERING else 3
    size = case.input.size if case is not None else math.inf
    return (rank, len(record.features), int(min(size, 2 ** 62)), record.case)


def precision(records: Iterable[Record]) -> dict[tuple[str, str, str], float]:
    """(impl, dtype, device) -> the median agreement in bits of the value checks on
    well-conditioned cases (no hostile values, within or outside the bound)."""
    bits: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for record in records:
        measured = (record.error or {}).get("bits")
        if record.check not in (Check.VALUE, f"{PROPERTY_PREFIX}differential") or \
                measured is None or record.case.startswith("hostile-") or \
                "gradients" in record.features:
            continue
        bits[(record.impl, record.dtype, record.device)].append(float(measured))
    return {key: statistics.median(found) for key, found in bits.items() if found}


def diagnose(impl: Implementation, records: list[Record], cases: Mapping[str, Case],
             device: str, *, probe: Probe | None = None,
             limit: int = MAX_REDUCTIONS) -> list[Record]:
    """Give each finding of ``records`` (one implementation) its cause (module docstring);
    returns the same records."""
    medians = precision(records)
    lowered = {dtype for (_, dtype, _), median in medians.items() if _downgraded(dtype, median)}
    for record in records:
        if record.dtype in lowered and (record.error or {}).get("within") and \
                severity_of(record) is Severity.WRONG_ON_VALID:
            _lower(record, medians)
    probe = probe or _prober(impl, device, lowered)
    _triggers(records, cases, probe, dtypes_of(impl), limit, lowered, medians)
    return records


def _lower(record: Record, medians: Mapping[tuple[str, str, str], float]) -> None:
    """Make ``record`` a finding of its dtype's lower precision."""
    median = medians[(record.impl, record.dtype, record.device)]
    within = (record.error or {}).get("within") or LOWER[record.dtype][0]
    record.outcome = Outcome.LOWER_PRECISION
    record.reason = f"within {within}'s bound: {record.reason}"
    record.diagnosis = {
        "cause": f"computes {record.dtype} in {within} (agrees with the reference to about "
                 f"{median:.0f} bits; {record.dtype} has {finfo(record.dtype).nmant + 1})",
        "trigger": [], "severity": str(Severity.ACCURACY),
        "example": None, "example_dtype": record.dtype, "check": record.check}


def _downgraded(dtype: str, median: float | None) -> bool:
    if median is None:
        return False
    return any(median <= finfo(lower).nmant + 1 + LOWER_MARGIN for lower in LOWER.get(dtype, ()))


def _triggers(records: list[Record], cases: Mapping[str, Case], probe: Probe,
              dtypes: Sequence[str], limit: int, lowered: set[str],
              medians: Mapping[tuple[str, str, str], float]) -> None:
    symptoms: dict[tuple[Any, ...], list[tuple[Record, Case]]] = defaultdict(list)
    for record in records:
        symptom = symptom_of(record)
        if symptom is None or symptom.severity not in _DIAGNOSED or \
                record.diagnosis is not None or \
                is_invalid_check(record.check) or record.convention is not None:
            continue
        case = case_of(record, cases)
        if case is None:
            continue
        check = _probe_check(record)
        key = (symptom, record.dtype, check, conditions_of(case, record.dtype, check))
        symptoms[key].append((record, case))
    groups = sorted(symptoms.items(), key=lambda item: min(
        plainness(r, c) for r, c in item[1]))
    known: list[Cause] = []
    reductions = 0
    for (symptom, dtype, check, conditions), members in groups:
        cause = next((k for k in known if k.explains(symptom, conditions, dtype)), None)
        if cause is None and reductions < limit:
            record, case = min(members, key=lambda m: plainness(*m))
            reductions += 1
            try:
                first = probe(case, dtype, check)
                if first == symptom:
                    trigger, example, at, how = reduce(case, dtype, check, symptom, probe,
                                                       dtypes)
                    if _bare(trigger) and not _fails_on_plain_input(symptom, at, how, probe):
                        trigger = (*trigger, EXAMPLE_VALUES)
                    cause = Cause(symptom, trigger, example, at, how, dtype)
                    known.append(cause)
            except _Faulted:  # a crash costs the implementation its diagnosis, nothing more
                reductions = limit
                continue
            if first == Symptom(Severity.ACCURACY) and dtype in lowered:
                for member, _ in members:  # a relation broken by the lower precision alone
                    _lower(member, medians)
                continue
        if cause is not None:
            for record, _ in members:
                record.diagnosis = cause.as_dict()


def _bare(trigger: Sequence[str]) -> bool:
    """Whether a trigger names no condition but the gradient: "... on plain input"."""
    return all(c == "gradients" for c in trigger)


def _fails_on_plain_input(symptom: Symptom, dtype: str, check: str, probe: Probe) -> bool:
    """Whether a plain call (``PLAIN``: seeded (4, 5) logits, class indices, mean) in ``dtype``
    under ``check`` fails with ``symptom``: what an empty trigger claims."""
    return probe(PLAIN, dtype, check) == symptom


def _probe_check(record: Record) -> str:
    """The differential check that shows a finding: the gradient for gradient checks."""
    return Check.GRADIENT if record.check in (Check.GRADIENT, f"{PROPERTY_PREFIX}gradient") \
        or "gradients" in record.features else Check.VALUE
