"""The ``large`` profile: cases at LLM scale sized from the memory budget, the spec's large cases
kept out of the other profiles, and a kernel wrong only beyond one tile of classes caught by it
(and not by ``ci``)."""

from __future__ import annotations

import argparse
import tracemalloc
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from conformance import memory, tolerance
from conformance.commands import run as run_command
from conformance.commands.options import plan_from
from conformance.properties import PROFILES, profile_cases, property_names, run_properties
from conformance.spec import default_spec_path, large_spec_path, load_spec
from conformance.strategies import large_cases
from conformance.vocabulary import Verdict
from implementations import reference as ref
from implementations.base import Reduction
from implementations.dtypes import round_to
from implementations.reference import ReferenceImplementation

TILE = 4096


class DropsLastTile:
    """A tiled kernel with an off-by-one in its tile loop: with more than one tile of classes
    (``C > 4096``), the last tile is left out of the log-sum-exp."""

    name = "drops-last-tile"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: Reduction = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> np.ndarray:
        """The reference's loss, the last tile's logits taken as -inf when there are tiles."""
        x = np.array(input, dtype=np.float64)
        axis = 0 if x.ndim == 1 else 1
        classes = x.shape[axis]
        if classes > TILE:
            last = (classes - 1) // TILE * TILE
            index = [slice(None)] * x.ndim
            index[axis] = slice(last, None)
            x[tuple(index)] = -np.inf
        return np.asarray(self._reference.cross_entropy(x, target, weight, ignore_index,
                                                        reduction, label_smoothing))


def _budget(monkeypatch: pytest.MonkeyPatch, elements: int) -> None:
    """A memory budget of exactly ``elements`` input elements."""
    monkeypatch.setenv(memory.ENV, str(elements * memory.BYTES_PER_ELEMENT))


def test_the_budget_follows_the_variable_and_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(memory.ENV, "4M")
    assert memory.max_elements() == (4 << 20) // memory.BYTES_PER_ELEMENT
    monkeypatch.setenv(memory.ENV, "1T")
    assert memory.max_elements() == memory.MAX_ELEMENTS
    monkeypatch.delenv(memory.ENV)
    assert memory.budget_bytes() == int(memory.available_bytes() * memory.MEMORY_FRACTION)
    assert memory.parse_bytes("1.5GiB") == 3 << 29
    with pytest.raises(ValueError, match=memory.ENV):
        memory.parse_bytes("lots")


def test_a_small_budget_gives_small_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    _budget(monkeypatch, 9000)
    limit = memory.max_elements()
    assert limit == 9000
    seen: list[tuple[int, ...]] = []

    @settings(max_examples=30, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(large_cases(max_elements=limit, **PROFILES["large"].bounds))
    def drawn(case: Any) -> None:
        probabilities = case.target_kind == "probabilities"
        assert case.input.size * (2 if probabilities else 1) <= limit, case.input.shape
        assert case.input.shape[1] > TILE
        seen.append(case.input.shape)

    drawn()
    assert len(seen) == 30


def test_cases_fill_a_large_budget_with_vocabularies() -> None:
    @settings(max_examples=10, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(large_cases(max_elements=1 << 20))
    def drawn(case: Any) -> None:
        assert case.input.shape[1] in (32000, 50257, 65536, 128256, 131072, 151936, 262144)
        spec = case.to_spec()  # the generator mappings, not a million numbers
        assert len(yaml.safe_dump(spec)) < 1000

    drawn()


def test_large_spec_cases_stay_out_of_the_default_profiles() -> None:
    main = load_spec(default_spec_path())
    assert not [c.id for c in main if c.id.startswith("large-")]
    assert max(c.input.shape[1] for c in main if c.input.ndim >= 2) < TILE
    for name in ("ci", "explore"):
        assert profile_cases(name) == ([], [])
    large, left = profile_cases("large")
    assert large
    assert not left
    assert {c.location.split(":")[0] for c in large} == {"spec/large.yaml"}
    assert min(c.input.shape[1] for c in large) >= 32000


def test_a_large_spec_case_over_the_budget_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    _budget(monkeypatch, 1 << 20)
    kept, left = profile_cases("large")
    assert all(c.input.size <= 1 << 20 for c in kept)
    assert left
    assert all(memory.ENV in line for line in left)
    assert len(kept) + len(left) == len(load_spec(large_spec_path()))


def test_a_promoted_large_case_loads_back_the_same(tmp_path: Any) -> None:
    @settings(max_examples=3, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(large_cases(max_elements=1 << 17))
    def drawn(case: Any) -> None:
        path = tmp_path / "promoted.yaml"
        path.write_text(yaml.safe_dump({"version": 1, "cases": [
            {**case.to_spec(), "source": "edge case"}]}))
        (loaded,) = load_spec(path)
        assert loaded.id == case.id
        np.testing.assert_array_equal(loaded.input, case.input)
        np.testing.assert_array_equal(loaded.target, case.target)

    drawn()


def test_the_large_profile_runs_on_the_reference_end_to_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _budget(monkeypatch, 20000)
    assert property_names("large") == ["differential"]
    (record,) = run_properties(ReferenceImplementation(), profile="large", dtype="float64")
    assert record.verdict == Verdict.CONFORMS, record.reason
    assert record.reason is not None
    assert record.reason.startswith(f"{PROFILES['large'].differential_examples} examples run")


def test_a_kernel_wrong_beyond_one_tile_is_caught_by_large_not_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = DropsLastTile()
    (ci,) = run_properties(wrong, profile="ci", dtype="float64", only=["differential"])
    assert ci.verdict == Verdict.CONFORMS, ci.reason
    _budget(monkeypatch, 20000)
    found = run_properties(wrong, profile="large", dtype="float64")
    assert found[0].verdict == Verdict.DIVERGES, found[0].reason
    assert found[0].case_spec is not None
    assert found[0].case_spec["input"]["shape"][1] > TILE


def _llm_call(rows: int, classes: int) -> tuple[Any, Any, Any, Any]:
    """A float16-rounded call with -100 padding, weights and smoothing, and its evaluation."""
    rng = np.random.default_rng(7)
    x = round_to(rng.standard_normal((rows, classes)) * 3, "float16")
    target = rng.integers(0, classes, rows)
    target[rows // 2:] = -100
    return x, *ref.evaluate(x, target, rng.uniform(0.25, 4.0, classes), label_smoothing=0.1)


def test_the_bounds_do_not_depend_on_their_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    x, value, grad, parts = _llm_call(40, 5000)
    whole = tolerance.bounds(parts, value, grad, "mean", "float16", x.shape)
    monkeypatch.setattr(tolerance, "BLOCK_ELEMENTS", 3 * 5000 + 1)  # blocks of 3 rows
    blocked = tolerance.bounds(parts, value, grad, "mean", "float16", x.shape)
    for a, b in zip(whole, blocked, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_bounds_peak_is_about_twice_the_input() -> None:
    x, value, grad, parts = _llm_call(64, 32000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tolerance.bounds(parts, value, grad, "mean", "float16", x.shape)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * x.nbytes, peak / x.nbytes


@pytest.mark.parametrize(("argv", "dtypes"), [
    (["--profile", "large"], ("float16", "bfloat16", "float32")),
    (["--profile", "large", "--dtype", "float64"], ("float64",)),
    (["--profile", "ci"], ("float64",)),
])
def test_the_large_profile_runs_in_low_precision_unless_told(argv: list[str],
                                                             dtypes: tuple[str, ...]) -> None:
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    plan = plan_from(parser.parse_args(argv), [], default_dtypes=("float64",))
    assert plan.dtypes == dtypes


def test_a_large_generated_case_reproduces_from_its_recipe_not_its_numbers() -> None:
    """A snippet spells a large generated case as its generator numbers (a results.json of a
    large run stays small), and running those lines rebuilds the same arrays."""
    from conformance import repro
    from conformance.strategies import seeded_case

    case = seeded_case({"input": {"shape": [4, 40000], "seed": 3, "scale": 2.0},
                        "target": {"classes": 40000, "shape": [4], "seed": 4, "padding": 0.5}},
                       "sum", 0.1)
    lines = repro.data_lines(case)
    assert len("\n".join(lines)) < 400
    scope: dict[str, object] = {}
    exec("\n".join(lines), scope)  # the snippet's own lines
    np.testing.assert_array_equal(scope["input"], case.input)
    np.testing.assert_array_equal(scope["target"], case.target)
    assert scope["weight"] is None
