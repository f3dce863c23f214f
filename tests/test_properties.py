"""Meta tests of the generated checks: wrong implementations are caught and shrunk, right ones
pass, the ci profile is deterministic, and invalid-input handling is classified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import implementations
from conformance.properties import property_names, run_properties
from conformance.results import Record
from conformance.spec import promote
from implementations import reference as ref
from implementations.base import DEFAULT_IGNORE_INDEX, Array


class _Wrapped:
    """The reference behind the contract, with ``cross_entropy`` overridden by subclasses."""

    name = "wrong"

    def _right(self, input: Array, target: Array, **kwargs: Any) -> Array:
        return ref.cross_entropy(input, target, **kwargs)


class ForgetsWeightDenominator(_Wrapped):
    """``mean`` divides by the number of targets, not by the sum of their weights."""

    name = "forgets-weight-denominator"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        kwargs = {"weight": weight, "ignore_index": ignore_index,
                  "label_smoothing": label_smoothing}
        if reduction != "mean" or weight is None or np.shape(target) == np.shape(input):
            return self._right(input, target, reduction=reduction, **kwargs)
        total = self._right(input, target, reduction="sum", **kwargs)
        return np.asarray(total / max(int(np.sum(target != ignore_index)), 1))


class SmoothsOverOtherClasses(_Wrapped):
    """Label smoothing spread as eps / (C - 1) instead of eps / C."""

    name = "smooths-over-c-minus-1"

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, **_: Any) -> Array:
        kw = {"weight": weight, "ignore_index": ignore_index, "reduction": reduction}
        eps = label_smoothing
        if eps <= 0:
            return self._right(input, target, label_smoothing=eps, **kw)
        n = np.shape(input)[0 if np.ndim(input) == 1 else 1]
        plain = self._right(input, target, label_smoothing=0.0, **kw)
        uniform = self._right(input, target, label_smoothing=1.0, **kw)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((1 - eps) * plain + eps * uniform * n / (n - 1))


class NeverRaises(_Wrapped):
    """Returns 1.0 whenever the reference would raise."""

    name = "never-raises"

    def cross_entropy(self, input: Array, target: Array, **kwargs: Any) -> Array:
        kwargs.pop("dtype", None)
        kwargs.pop("device", None)
        try:
            return self._right(input, target, **kwargs)
        except Exception:
            return np.asarray(1.0)


def _elements(record: Record) -> int:
    spec = record.case_spec
    assert spec is not None
    return sum(np.size(spec.get(k, [])) for k in ("input", "target", "weight"))


@pytest.mark.parametrize("impl", [ForgetsWeightDenominator(), SmoothsOverOtherClasses()],
                         ids=lambda i: i.name)
def test_wrong_implementation_is_caught_and_shrunk(impl: Any) -> None:
    records = run_properties(impl, only=["differential"])
    assert records, impl.name
    for record in records:
        assert record.verdict == "diverges", record.reason
        assert record.origin == "generated"
        assert _elements(record) <= 12, record.case_spec
        assert record.repro is not None
        assert "implementations.load" in record.repro


def test_each_distinct_cause_gets_a_record_of_its_own() -> None:
    """Two faults in one property: the search goes on past the first shrunk one and reports
    the other, each under its own shrunk case, signature and key."""
    from tests.helpers.two_causes import WrongSumAndPadding, WrongSumOnly

    records = run_properties(WrongSumAndPadding(), only=["differential"])
    signatures = [r.signature for r in records]
    assert len(records) == 2, signatures
    assert len(set(signatures)) == len({r.key for r in records}) == 2
    assert any("reduction-sum" in (s or "") for s in signatures), signatures
    assert any("ignore-index" in (s or "") for s in signatures), signatures
    again = [r.as_dict() for r in run_properties(WrongSumAndPadding(), only=["differential"])]
    assert again == [r.as_dict() for r in records]
    assert [r.signature for r in run_properties(WrongSumOnly(), only=["differential"])] == \
        [s for s in signatures if "reduction-sum" in (s or "")]
    (first,) = run_properties(WrongSumAndPadding(), only=["differential"], causes=1)
    assert first.as_dict() == records[0].as_dict()


def test_reference_passes_every_property() -> None:
    records = run_properties(implementations.load("reference"))
    assert [r.check for r in records] == [f"property:{n}" for n in property_names()]
    assert all(r.verdict == "conforms" for r in records), [r.as_dict() for r in records
                                                            if r.verdict != "conforms"]


def test_torch_passes_every_property() -> None:
    pytest.importorskip("torch")
    records = run_properties(implementations.load("torch"))
    assert all(r.verdict == "conforms" for r in records), [r.as_dict() for r in records
                                                            if r.verdict != "conforms"]


def test_ci_profile_is_deterministic() -> None:
    impl = ForgetsWeightDenominator()
    first = [r.as_dict() for r in run_properties(impl, only=["differential", "shift"])]
    second = [r.as_dict() for r in run_properties(impl, only=["differential", "shift"])]
    assert first == second


def test_silent_implementation_is_classified_silent() -> None:
    kinds = [n for n in property_names() if n.startswith("invalid-")]
    records = run_properties(NeverRaises(), only=kinds)
    assert len(records) == len(kinds)
    for record in records:
        assert record.verdict == "diverges"
        assert record.outcome == "silent"
        assert record.features[0] == "invalid-input"


def test_reference_raises_on_every_invalid_kind() -> None:
    kinds = [n for n in property_names() if n.startswith("invalid-")]
    records = run_properties(implementations.load("reference"), only=kinds)
    assert {r.outcome for r in records} == {"raises"}


def test_explore_profile_records_its_seed() -> None:
    records = run_properties(ForgetsWeightDenominator(), profile="explore", seed=7,
                             only=["differential"], max_examples=60)
    assert records
    assert {r.seed for r in records} == {7}
    assert {r.verdict for r in records} == {"diverges"}


def test_unknown_property_or_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown properties"):
        run_properties(NeverRaises(), only=["nope"])
    with pytest.raises(ValueError, match="profile"):
        run_properties(NeverRaises(), profile="fast")
    with pytest.raises(ValueError, match="causes"):
        run_properties(NeverRaises(), causes=0)


def test_promote_appends_a_loadable_case(tmp_path: Path) -> None:
    from conformance.spec import default_spec_path, load_spec

    record = run_properties(ForgetsWeightDenominator(), only=["differential"])[0]
    spec = tmp_path / "cross_entropy.yaml"
    spec.write_text(default_spec_path().read_text(encoding="utf-8"), encoding="utf-8")
    data = record.as_dict()
    data["seed"] = 3
    case_id = promote(data, spec)
    assert case_id == record.case
    assert promote(data, spec) is None  # already there
    entry = yaml.safe_load(spec.read_text(encoding="utf-8"))["cases"][-1]
    assert entry["id"] == case_id
    assert entry["source"] == "generated (seed 3)"
    loaded = {c.id: c for c in load_spec(spec)}
    assert loaded[case_id].source == "generated (seed 3)"
    assert "generated" in loaded[case_id].tags
    derandomized = {**data, "seed": None, "case_spec": {**data["case_spec"], "id": "gen-ci"}}
    assert promote(derandomized, spec) == "gen-ci"  # the ci profile records no seed
    assert {c.id: c for c in load_spec(spec)}["gen-ci"].source == \
        "generated (derandomized profile)"


@pytest.mark.slow  # two full ci searches, in workers
def test_distinct_causes_do_not_depend_on_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search for further causes is as deterministic as the first: ``-j 1`` and ``-j 2``
    (workers side by side) give the same records, every cause included."""
    from conformance import session
    from conformance.session import Plan

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    names = [f"tests.helpers.two_causes:{n}" for n in ("WrongSumAndPadding", "WrongSumOnly")]
    plan = Plan(cases=(), profile="ci", timeout=120.0)
    one, two = (session.run(names, plan, jobs=jobs) for jobs in (1, 2))
    dicts = [[r.as_dict() for r in result.records] for result in one]
    assert dicts == [[r.as_dict() for r in result.records] for result in two]
    differential = [r for r in one[0].records if r.check == "property:differential"]
    assert len({r.signature for r in differential}) == 2, [r.signature for r in differential]
