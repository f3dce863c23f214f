"""Generated checks: Hypothesis searches for inputs on which an implementation is wrong.

Three families, each giving one ``Record`` per (property, implementation):

* ``property:differential``: every generated case is judged by ``Runner`` (value and
  gradient against the reference, under the tolerance model);
* ``property:<relation>``: metamorphic relations an implementation must satisfy with itself
  (``conformance.metamorphic``), which need no reference to be right;
* ``property:invalid-<kind>``: calls torch refuses; the record says whether the implementation
  raises, returns NaN/inf, or silently returns a finite number.

A failing example is shrunk by Hypothesis; the record keeps the minimal case in spec form
(``case_spec``), the seed and a reproduction snippet. Examples the implementation cannot express
are rejected (not failures) and counted. Profiles: ``ci`` is derandomized and small (the same
verdicts every run, for the gate); ``explore`` is random, seedable and larger (big ``C`` too).
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import hypothesis
import yaml
from hypothesis import HealthCheck, Verbosity, given, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from conformance import metamorphic, strategies
from conformance.case import Case
from conformance.features import features_of
from conformance.isolation import Fault
from conformance.metamorphic import Finding, Unsupported
from conformance.results import Record
from conformance.runner import CallTally, Runner, snippet_for, unsupported_reason
from conformance.vocabulary import FAULT_VERDICTS, Origin, Outcome, Verdict, property_check
from implementations.base import Implementation

__all__ = ["PROFILES", "Finding", "Profile", "promote", "property_names", "run_properties",
           "search"]


@dataclass(frozen=True)
class Profile:
    """How hard to search: examples per property, case bounds, and whether to derandomize."""

    name: str
    differential_examples: int
    relation_examples: int
    invalid_examples: int
    bounds: dict[str, Any]
    derandomize: bool
    stratified: bool = False  # spread the differential search over every discrete combination


PROFILES: dict[str, Profile] = {
    "ci": Profile("ci", 36, 10, 5, {"max_classes": 5, "max_batch": 3, "max_extra_dims": 2,
                                     "max_side": 2, "max_elements": 36,
                                     "interior_smoothings": (0.1, 0.5)}, True, True),
    "explore": Profile("explore", 400, 150, 40, {"max_classes": 20000, "max_batch": 8,
                                                  "max_extra_dims": 3, "max_side": 4,
                                                  "max_elements": 40000}, False),
}


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


Check = Callable[[Any], Finding | None]


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


def _settings(profile: Profile, examples: int) -> settings:
    return settings(max_examples=examples, derandomize=profile.derandomize, database=None,
                    deadline=None, verbosity=Verbosity.quiet, print_blob=False,
                    suppress_health_check=list(HealthCheck))


#: (probabilities, weighted, reduction): the discrete axes a stratified search visits.
STRATA = [(p, w, r) for p in (False, True) for w in (False, True) for r in ("mean", "sum", "none")]


def search(strategy: st.SearchStrategy[Any] | list[st.SearchStrategy[Any]], check: Check,
           profile: Profile, examples: int, seed: int | None) -> _Search:
    """Run ``check`` on examples of ``strategy`` (or of each in a list, ``examples`` each,
    until one fails); the last finding is the shrunk one."""
    if isinstance(strategy, list):
        total = _Search()
        for each in strategy:
            state = search(each, check, profile, examples, seed)
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
            finding = check(example)
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

    wrapped = _settings(profile, examples)(given(strategy)(test))
    if seed is not None and not profile.derandomize:
        wrapped = hypothesis.seed(seed)(wrapped)
    try:
        wrapped()
    except (Unsatisfiable, _Abort):
        pass
    except Exception:
        if state.last is None:
            raise
    return state


def differential_check(impl: Implementation, runner: Runner, dtype: str, device: str) -> Check:
    """Judge a case with ``runner``; the first diverging check is the finding."""
    def check(case: Case) -> Finding | None:
        reason = unsupported_reason(impl, case.call(dtype, device))
        if reason:
            raise Unsupported(reason)
        for record in runner.run_case(impl, case, dtype, device):
            if record.verdict in FAULT_VERDICTS:
                return Finding(case, f"{record.check}: {record.reason}", record,
                               fault=record.verdict)
            if record.verdict == Verdict.DIVERGES:
                return Finding(case, f"{record.check}: {record.reason}", record)
        return None
    return check


def _record(impl: Implementation, name: str, state: _Search, dtype: str, device: str,
            seed: int | None) -> Record:
    """One record for a property: conforms, unsupported (nothing ran) or the shrunk finding."""
    check = property_check(name)
    counts = f"{state.examples - state.skipped} examples run, {state.skipped} unsupported"
    if state.last is None:
        nothing_ran = bool(state.examples) and state.skipped == state.examples
        why = "; ".join(sorted(state.reasons))[:300]
        invalid = name.startswith("invalid-")
        return Record(case="generated", impl=impl.name, dtype=dtype, device=device, check=check,
                      verdict=Verdict.UNSUPPORTED if nothing_ran else Verdict.CONFORMS,
                      reason=counts + (f" (e.g. {why})" if why else ""),
                      outcome=Outcome.RAISES if invalid and not nothing_ran else None,
                      features=_features(name, None, dtype), seed=seed,
                      origin=Origin.GENERATED)
    found = state.last
    inner = found.record
    inner_check = inner.check if inner is not None else "value"
    record = Record(case=found.case.id, impl=impl.name, dtype=dtype, device=device, check=check,
                    verdict=found.verdict, reason=f"{found.reason} [{counts}]",
                    case_spec=found.case.to_spec(), features=_features(name, found.case, dtype),
                    repro=snippet_for(impl, found.case, dtype, device, inner_check),
                    seed=seed, origin=Origin.GENERATED)
    if inner is not None:
        record.carry_measurements(inner)
    elif found.verdict is not Verdict.DIVERGES:
        record.outcome = Outcome.CRASH if found.verdict is Verdict.CRASHED else Outcome.TIMEOUT
    else:
        record.outcome = found.outcome or Outcome.VALUE
        record.exception = found.exception
    return record


def _features(name: str, case: Case | None, dtype: str) -> list[str]:
    if name.startswith("invalid-"):
        return ["invalid-input", f"dtype-{dtype}"]
    return features_of(case, dtype) if case is not None else []


def _invalid_check(impl: Implementation, runner: Runner, dtype: str, device: str) -> Check:
    def check(case: Case) -> Finding | None:
        (record,) = runner.run_case(impl, case, dtype, device)
        if record.verdict == "unsupported":
            raise Unsupported(record.reason or "unsupported")
        if record.verdict == "diverges":
            return Finding(case, record.reason or "did not raise", record)
        return None
    return check


def property_names() -> list[str]:
    """Every property's name (its check is ``property:<name>``), in run order."""
    relations = list(metamorphic.relations(PROFILES["ci"].bounds))
    return ["differential", *relations, *(f"invalid-{k}" for k in strategies.INVALID_KINDS)]


def run_properties(impl: Implementation, *, profile: str = "ci", dtype: str = "float64",
                   device: str = "cpu", seed: int | None = None,
                   only: Collection[str] | None = None,
                   max_examples: int | None = None,
                   tally: CallTally | None = None) -> list[Record]:
    """Every property (or those named in ``only``) on ``impl``: one record each.

    ``max_examples`` overrides the profile's examples per property; ``tally`` counts the calls
    (and writes into inputs) together with the spec's (``conformance.session``).
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
    if not prof.derandomize and seed is None:
        seed = random.getrandbits(32)
    recorded = None if prof.derandomize else seed
    runner = Runner(origin=Origin.GENERATED, seed=recorded, tally=tally or CallTally())
    records = []
    for name, strategy, check, examples in _plan(impl, runner, prof, dtype, device):
        if only is None or name in only:
            state = search(strategy, check, prof, examples, seed)
            records.append(_record(impl, name, state, dtype, device, recorded))
    return records


def _plan(impl: Implementation, runner: Runner, prof: Profile, dtype: str,
          device: str) -> Iterator[tuple[str, Any, Check, int]]:
    differential = differential_check(impl, runner, dtype, device)
    if not prof.stratified:
        yield "differential", strategies.cases(**prof.bounds), differential, \
            prof.differential_examples
    else:
        per = max(prof.differential_examples // len(STRATA), 1)
        yield "differential", [strategies.cases(**prof.bounds, probabilities=p, weighted=w,
                                                reduction=r) for p, w, r in STRATA], \
            differential, per
    for name, (strategy, make_check) in metamorphic.relations(prof.bounds).items():
        yield name, strategy, make_check(impl, runner, dtype, device), prof.relation_examples
    for kind in strategies.INVALID_KINDS:
        yield (f"invalid-{kind}", strategies.invalid_cases(kind),
               _invalid_check(impl, runner, dtype, device), prof.invalid_examples)


def promote(record: dict[str, Any], spec_path: str | Path) -> str | None:
    """Append a generated counterexample (``record["case_spec"]``) to a spec YAML file.

    The case gets source ``generated (seed N)`` and the tag ``generated``; returns its id, or
    ``None`` when the record has no case or the file already holds that id.
    """
    case_spec = record.get("case_spec")
    if not case_spec:
        return None
    path = Path(spec_path)
    text = path.read_text(encoding="utf-8")
    case_id = str(case_spec["id"])
    if f"id: {case_id}\n" in text:
        return None
    entry = dict(case_spec)
    entry["source"] = f"generated (seed {record.get('seed')})"
    entry["tags"] = ["generated"]
    entry["note"] = f"found by {record.get('check')} on {record.get('impl')}: " \
                    f"{record.get('reason') or ''}".strip()[:400]
    dumped = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, width=100)
    block = "\n".join("  " + line if line else line for line in dumped.splitlines())
    path.write_text(text.rstrip("\n") + "\n\n" + block + "\n", encoding="utf-8")
    return case_id
