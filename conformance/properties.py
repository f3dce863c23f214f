"""Generated checks: Hypothesis searches for inputs on which an implementation is wrong.

Three families, each giving one ``Record`` per (property, implementation):

* ``property:differential``: every generated case is judged by ``Runner`` (value and
  gradient against the reference, under the tolerance model);
* ``property:<relation>``: metamorphic relations an implementation must satisfy with itself
  (``conformance.metamorphic``), which need no reference to be right;
* ``property:invalid-<kind>``: calls torch refuses; the record says whether the implementation
  raises, returns NaN/inf, or silently returns a finite number.

A failing example is shrunk by Hypothesis; the record keeps the minimal case in spec form
(``case_spec``), the seed and a reproduction snippet. The first shrunk example is often the most
degenerate one (one class, an empty batch) and would hide every other failure of the property,
so the search goes on in rounds (``search_causes``): each round runs the property's examples
again with the causes found so far excluded (an example whose cause a known one covers,
``conformance.signature.Cause.covers``, is not a failure), until a round finds nothing new or
the profile's ``causes`` are found. Each distinct cause is one record, keyed by its own shrunk
case. Examples the implementation cannot express are rejected (not failures) and counted.
Profiles: ``ci`` is derandomized and small (the same verdicts every run, for the gate);
``explore`` is random, seedable and larger (big ``C`` too); ``large`` is derandomized, runs the
differential property only, on few calls at LLM scale (``strategies.large_cases``: ``C`` a
vocabulary size, ``N`` what fits in the memory budget of ``conformance.memory``), by default in
the low-precision dtypes, without shrinking (each example is a large evaluation), together with
the spec's large cases (``spec/large.yaml``, which no other profile loads).
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from conformance import memory, metamorphic, spec, strategies
from conformance.case import Case
from conformance.context import CallTally, snippet_for
from conformance.data import packaged_path
from conformance.features import features_of
from conformance.isolation import Fault, Stopped
from conformance.metamorphic import Finding, Unsupported
from conformance.results import Record
from conformance.runner import Runner
from conformance.signature import Cause, cause_of
from conformance.strategies import make_case
from conformance.vocabulary import FAULT_VERDICTS, Origin, Outcome, Verdict, property_check
from implementations.base import Implementation, unsupported_reason

__all__ = ["PROFILES", "Finding", "Profile", "profile_cases", "property_names",
           "run_properties", "search", "search_causes"]


@dataclass(frozen=True)
class Profile:
    """How hard to search: examples per property (per round), case bounds, whether to
    derandomize, and how many distinct causes to look for per property (one round each)."""

    name: str
    differential_examples: int
    relation_examples: int
    invalid_examples: int
    bounds: dict[str, Any]
    derandomize: bool
    stratified: bool = False  # spread the differential search over every discrete combination
    causes: int = 3  # distinct causes per property at most (rounds of the search)
    scaled: bool = False  # cases at LLM scale, sized from the memory budget (large_cases)
    properties: tuple[str, ...] | None = None  # the properties it runs (None: every one)
    dtypes: tuple[str, ...] | None = None  # run in these when none is asked for (None: float64)
    spec: str | None = None  # a spec file of its own, loaded next to the main one
    shrink: bool = True  # whether a failing example is shrunk
    #: the strength of the covering array run next to the spec (``conformance.coverage``):
    #: every t-tuple of structural levels an implementation supports; None: no covering cases
    t: int | None = None


PROFILES: dict[str, Profile] = {
    "ci": Profile("ci", 36, 10, 5, {"max_classes": 5, "max_batch": 3, "max_extra_dims": 2,
                                     "max_side": 2, "max_elements": 36,
                                     "interior_smoothings": (0.1, 0.5)}, True, True, causes=3,
                  t=3),
    "explore": Profile("explore", 400, 150, 40, {"max_classes": 20000, "max_batch": 8,
                                                  "max_extra_dims": 3, "max_side": 4,
                                                  "max_elements": 40000}, False, causes=4,
                       t=4),
    "large": Profile("large", 6, 0, 0, {"min_classes": 4097}, True, causes=2, scaled=True,
                     properties=("differential",), dtypes=("float16", "bfloat16", "float32"),
                     spec="large.yaml", shrink=False),
}


def profile_cases(profile: str, include: Sequence[str] | None = None,
                  exclude: Sequence[str] | None = None) -> tuple[list[Case], list[str]]:
    """The cases of the profile's own spec file (``spec/large.yaml`` for ``large``; none for
    the others) that fit in the memory budget, and a line for each one left out."""
    name = PROFILES[profile].spec
    if name is None:
        return [], []
    limit = memory.max_elements()
    kept, left = [], []
    for case in spec.load_spec(packaged_path("spec", name), include=include, exclude=exclude):
        size = case.input.size * (2 if case.target_kind == "probabilities" else 1)
        if size <= limit:
            kept.append(case)
        else:
            left.append(f"{case.id}: {size:,} elements over the budget's {limit:,} "
                        f"(set {memory.ENV} to raise it)")
    return kept, left


def left_out_cases(spec_path: str | Path, cases: Iterable[Case]) -> set[str]:
    """The ids of the cases of ``spec_path`` and of every profile's own spec that are not in
    ``cases``: what a run of ``cases`` left out (``Expectations.annotate``'s ``left_out``)."""
    ids = set(spec.case_ids(spec_path))
    for name in {p.spec for p in PROFILES.values() if p.spec is not None}:
        ids.update(spec.case_ids(packaged_path("spec", name)))
    return ids - {case.id for case in cases}



@dataclass
class _Search:
    """What one Hypothesis search saw."""

    examples: int = 0
    skipped: int = 0
    last: Finding | None = None
    reasons: set[str] = field(default_factory=set)


class _Diverged(AssertionError):
    pass


class _Abort(BaseException):
    """The implementation's worker crashed or hung: stop the search (Hypothesis lets a
    ``BaseException`` through without shrinking), the fault is the finding."""


#: A property's check of one example: its failures (a check that can fail in several ways at
#: once, the differential one, lists them; the search takes the first no known cause covers).
Check = Callable[[Any], Finding | Sequence[Finding] | None]
Known = Callable[[Finding], bool]  # whether a known cause covers this failure


@cache
def _import_harness() -> None:
    """Import every module of the harness before a search. Hypothesis mixes literal constants
    of the *local* modules in ``sys.modules`` into its draws, so without this the examples
    would depend on what the entry point happened to import (``run -j 1`` in-process against
    ``-j 2`` in spawned jobs, ``gate`` against ``run``). Test modules still add theirs."""
    import conformance
    import implementations

    for package in (conformance, implementations):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def _settings(profile: Profile, examples: int, derandomize: bool) -> settings:
    phases = tuple(p for p in Phase if profile.shrink or p not in (Phase.shrink, Phase.explain))
    return settings(max_examples=examples, derandomize=derandomize, database=None,
                    deadline=None, verbosity=Verbosity.quiet, print_blob=False,
                    suppress_health_check=list(HealthCheck), phases=phases)


#: (probabilities, weighted, reduction): the discrete axes a stratified search visits.
STRATA = [(p, w, r) for p in (False, True) for w in (False, True) for r in ("mean", "sum", "none")]


def search(strategy: st.SearchStrategy[Any] | list[st.SearchStrategy[Any]], check: Check,
           profile: Profile, examples: int, seed: int | None,
           known: Known = lambda _: False, round: int = 0) -> _Search:
    """Run ``check`` on examples of ``strategy`` (or of each in a list, ``examples`` each,
    until one fails); the last finding is the shrunk one. A failure ``known`` covers is not
    one (the search goes past it). Each ``round`` draws other examples: a derandomized
    profile's first round is Hypothesis' derandomized one, its later rounds are seeded with
    the round's number (as reproducible, and new examples); a seeded one adds the round."""
    if isinstance(strategy, list):
        total = _Search()
        for each in strategy:
            state = search(each, check, profile, examples, seed, known, round)
            total.examples += state.examples
            total.skipped += state.skipped
            total.reasons |= state.reasons
            total.last = state.last
            if state.last is not None:
                break
        return total
    state = _Search()

    def test(example: Any) -> None:
        state.examples += 1
        try:
            finding = _first_new(check(example), known)
        except Unsupported as exc:
            state.skipped += 1
            state.reasons.add(str(exc))
            reject()
        except Fault as exc:
            state.last = Finding(example if isinstance(example, Case) else example.a,
                                 str(exc), fault=exc)
            raise _Abort from None
        if finding is not None:
            state.last = finding
            if finding.fault is not None:
                raise _Abort
            raise _Diverged(finding.reason)

    derandomized = profile.derandomize and round == 0
    wrapped = _settings(profile, examples, derandomized)(given(strategy)(test))
    if not derandomized:
        wrapped = hypothesis.seed(round if profile.derandomize else (seed or 0) + round)(wrapped)
    try:
        wrapped()
    except (Unsatisfiable, _Abort):
        pass
    except Exception:
        if state.last is None:
            raise
    return state


def _first_new(found: Finding | Sequence[Finding] | None, known: Known) -> Finding | None:
    candidates = [found] if isinstance(found, Finding) else list(found or ())
    return next((f for f in candidates if f.fault is not None or not known(f)), None)


def search_causes(strategy: st.SearchStrategy[Any] | list[st.SearchStrategy[Any]],
                  check: Check, profile: Profile, examples: int, seed: int | None,
                  cause: Callable[[Finding], Cause]) -> list[_Search]:
    """Rounds of ``search`` (``profile.causes`` at most), each with the causes found so far
    excluded, until a round finds nothing new or finds a fault (a crash or a hang ends the
    search). A cause that covers an earlier one replaces it: the first shrunk example is often
    a degenerate instance (an empty batch) of a cause a later round finds in general. One state
    per distinct cause, or the one round's that found nothing."""
    found: list[_Search] = []
    for round in range(profile.causes):
        causes = [cause(s.last) for s in found if s.last is not None]
        state = search(strategy, check, profile, examples, seed, _excluding(causes, cause),
                       round)
        if state.last is None:
            return found or [state]
        if state.last.verdict is Verdict.NOT_RUN:  # the circuit breaker stopped it
            return [*found, state]
        if isinstance(strategy, list):
            state.last = _generalized(state.last, check, cause, causes)
        new = cause(state.last)
        if any(c.covers(new) for c in causes):  # the shrinker came back to a known cause
            break
        found = [s for s, c in zip(found, causes, strict=True) if not new.covers(c)] + [state]
        if state.last.fault is not None:
            break
    return found


def _excluding(causes: Sequence[Cause], cause: Callable[[Finding], Cause]) -> Known:
    """Whether one of ``causes`` covers a failure."""
    return lambda found: any(c.covers(cause(found)) for c in causes)


#: What a stratified search fixes and its shrinker so cannot drop, simplest first.
UNFIXED = ({"weight": None, "reduction": "mean"}, {"weight": None}, {"reduction": "mean"})


def _generalized(found: Finding, check: Check, cause: Callable[[Finding], Cause],
                 causes: Sequence[Cause]) -> Finding:
    """The shrunk case of a stratum without what the stratum fixed (its weight, its reduction)
    when it fails the same way without it: otherwise every stratum would report its own copy
    of one cause (``... / indices,weight,...`` and ``... / indices,...``)."""
    case, head = found.case, cause(found)
    for changes in UNFIXED:
        if all(getattr(case, k) is None if v is None else getattr(case, k) == v
               for k, v in changes.items()):
            continue
        changed = case.arguments.replace(**changes)
        try:
            variant = _first_new(check(make_case(**changed.kwargs())), _excluding(causes, cause))
        except (Unsupported, Fault):
            continue
        if variant is not None and variant.fault is None and \
                cause(variant).covers(head) and cause(variant) != head:
            return variant
    return found


def differential_check(impl: Implementation, runner: Runner, dtype: str, device: str) -> Check:
    """Judge a case with ``runner``: every diverging check (value, gradient) is a finding; a
    crash or a hang is the only one."""
    def check(case: Case) -> list[Finding]:
        reason = unsupported_reason(impl, case.call(dtype, device))
        if reason:
            raise Unsupported(reason)
        found = []
        for record in runner.run_case(impl, case, dtype, device):
            if record.verdict == Verdict.NOT_RUN:
                raise Stopped(record.reason or "not run")
            if record.verdict in FAULT_VERDICTS:
                return [Finding(case, f"{record.check}: {record.reason}", record,
                                fault=record.verdict)]
            if record.verdict == Verdict.DIVERGES:
                found.append(Finding(case, f"{record.check}: {record.reason}", record))
        return found
    return check


def _record(impl: Implementation, name: str, state: _Search, dtype: str, device: str,
            seed: int | None) -> Record:
    """One record for a property: conforms, unsupported (nothing ran) or the shrunk finding."""
    counts = f"{state.examples - state.skipped} examples run, {state.skipped} unsupported"
    if state.last is not None:
        return _finding_record(impl, name, state.last, dtype, device, seed, counts)
    nothing_ran = bool(state.examples) and state.skipped == state.examples
    why = "; ".join(sorted(state.reasons))[:300]
    invalid = name.startswith("invalid-")
    return Record(case="generated", impl=impl.name, dtype=dtype, device=device,
                  check=property_check(name),
                  verdict=Verdict.UNSUPPORTED if nothing_ran else Verdict.CONFORMS,
                  reason=counts + (f" (e.g. {why})" if why else ""),
                  outcome=Outcome.RAISES if invalid and not nothing_ran else None,
                  features=_features(name, None, dtype), seed=seed, origin=Origin.GENERATED)


def _finding_record(impl: Implementation, name: str, found: Finding, dtype: str, device: str,
                    seed: int | None, counts: str | None = None) -> Record:
    """The record of one failing example (with a repro when ``counts`` is given: a reported
    finding, not one the search only weighs)."""
    inner = found.record
    inner_check = inner.check if inner is not None else "value"
    record = Record(case=found.case.id, impl=impl.name, dtype=dtype, device=device,
                    check=property_check(name), verdict=found.verdict,
                    reason=found.reason if counts is None else f"{found.reason} [{counts}]",
                    case_spec=found.case.to_spec(),
                    features=_features(name, found.case, dtype, inner_check),
                    repro=None if counts is None else
                    snippet_for(impl, found.case, dtype, device, inner_check),
                    seed=seed, origin=Origin.GENERATED)
    if inner is not None:
        record.carry_measurements(inner)
    elif found.verdict is not Verdict.DIVERGES:
        record.outcome = _FAULT_OUTCOMES.get(found.verdict)
    else:
        record.outcome = found.outcome or Outcome.VALUE
        record.exception = found.exception
    return record


_FAULT_OUTCOMES = {Verdict.CRASHED: Outcome.CRASH, Verdict.TIMED_OUT: Outcome.TIMEOUT,
                   Verdict.OUT_OF_MEMORY: Outcome.OUT_OF_MEMORY}


def _cause(impl: Implementation, name: str, dtype: str,
           device: str) -> Callable[[Finding], Cause]:
    """The cause of a failing example of property ``name``, as its record would show it."""
    def cause(found: Finding) -> Cause:
        described = cause_of(_finding_record(impl, name, found, dtype, device, None))
        assert described is not None, found
        return described
    return cause


def _features(name: str, case: Case | None, dtype: str, check: str = "value") -> list[str]:
    if name.startswith("invalid-"):
        return ["invalid-input", f"dtype-{dtype}"]
    return features_of(case, dtype, check) if case is not None else []


def _invalid_check(impl: Implementation, runner: Runner, dtype: str, device: str) -> Check:
    def check(case: Case) -> Finding | None:
        (record,) = runner.run_case(impl, case, dtype, device)
        if record.verdict == Verdict.UNSUPPORTED:
            raise Unsupported(record.reason or "unsupported")
        if record.verdict == Verdict.NOT_RUN:
            raise Stopped(record.reason or "not run")
        if record.verdict in FAULT_VERDICTS:  # a crash or a hang is no raise: a fault
            return Finding(case, f"{record.check}: {record.reason}", record,
                           fault=record.verdict)
        if record.verdict == Verdict.DIVERGES:
            return Finding(case, record.reason or "did not raise", record)
        return None
    return check


def property_names(profile: str | None = None) -> list[str]:
    """Every property's name (its check is ``property:<name>``), in run order; with
    ``profile``, those the profile runs."""
    relations = list(metamorphic.relations(PROFILES["ci"].bounds))
    names = ["differential", *relations, *(f"invalid-{k}" for k in strategies.INVALID_KINDS)]
    chosen = None if profile is None else PROFILES[profile].properties
    return names if chosen is None else [n for n in names if n in chosen]


def run_properties(impl: Implementation, *, profile: str = "ci", dtype: str = "float64",
                   device: str = "cpu", seed: int | None = None,
                   only: Collection[str] | None = None,
                   max_examples: int | None = None, causes: int | None = None,
                   tally: CallTally | None = None) -> list[Record]:
    """Every property (or those named in ``only``) on ``impl``: one record per distinct cause
    found (at most the profile's ``causes``), or one that says it conforms.

    ``max_examples`` and ``causes`` override the profile's examples per property (per round)
    and causes per property; ``tally`` counts the calls (and writes into inputs) together with
    the spec's (``conformance.session``).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} must be one of {', '.join(PROFILES)}")
    unknown = set(only or ()) - set(property_names())
    if unknown:
        raise ValueError(f"unknown properties {sorted(unknown)}; known: {property_names()}")
    _import_harness()
    prof = PROFILES[profile]
    if max_examples is not None:
        if max_examples < 1:
            raise ValueError(f"max_examples={max_examples} must be at least 1")
        prof = replace(prof, differential_examples=max_examples, relation_examples=max_examples,
                       invalid_examples=max_examples)
    if causes is not None:
        if causes < 1:
            raise ValueError(f"causes={causes} must be at least 1")
        prof = replace(prof, causes=causes)
    if not prof.derandomize and seed is None:
        seed = random.getrandbits(32)
    recorded = None if prof.derandomize else seed
    runner = Runner(origin=Origin.GENERATED, seed=recorded, tally=tally or CallTally())
    records = []
    for name, strategy, check, examples in _plan(impl, runner, prof, dtype, device):
        if (only is None or name in only) and name in property_names(prof.name):
            states = search_causes(strategy, check, prof, examples, seed,
                                   _cause(impl, name, dtype, device))
            records += [_record(impl, name, state, dtype, device, recorded) for state in states]
    return records


def _plan(impl: Implementation, runner: Runner, prof: Profile, dtype: str,
          device: str) -> Iterator[tuple[str, Any, Check, int]]:
    differential = differential_check(impl, runner, dtype, device)
    if prof.scaled:
        yield "differential", strategies.large_cases(max_elements=memory.max_elements(),
                                                     **prof.bounds), differential, \
            prof.differential_examples
        return
    if not prof.stratified:
        yield "differential", strategies.cases(**prof.bounds), differential, \
            prof.differential_examples
    else:
        per = max(prof.differential_examples // len(STRATA), 1)
        yield "differential", [_stratum(impl, prof, dtype, device, p, w, r)
                               for p, w, r in STRATA], differential, per
    for name, (strategy, make_check) in metamorphic.relations(prof.bounds).items():
        yield name, strategy, make_check(impl, runner, dtype, device), prof.relation_examples
    for kind in strategies.INVALID_KINDS:
        yield (f"invalid-{kind}", strategies.invalid_cases(kind),
               _invalid_check(impl, runner, dtype, device), prof.invalid_examples)


def _stratum(impl: Implementation, prof: Profile, dtype: str, device: str, probabilities: bool,
             weighted: bool, reduction: str) -> st.SearchStrategy[Case]:
    """The cases of one stratum; a stratum the implementation refuses outright (optax has no
    class weights) is its one plain probe case, so the search does not draw and reject whole
    arrays of it (the record still says why it was unsupported)."""
    probe = Case.of(f"stratum-probe-{reduction}", np.zeros((2, 3)),
                    np.zeros((2, 3)) if probabilities else np.array([0, 2]),
                    weight=np.ones(3) if weighted else None, reduction=reduction)
    if unsupported_reason(impl, probe.call(dtype, device)):
        return st.just(probe)
    return strategies.cases(**prof.bounds, probabilities=probabilities, weighted=weighted,
                            reduction=reduction)
