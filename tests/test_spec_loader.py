"""Meta tests of the spec and its loader: the real spec is well formed and covers every feature;
each kind of malformed spec is reported on one line, ``path:line: what is wrong``."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from jsonschema import Draft202012Validator

from conformance.case import Case
from conformance.spec import (
    SpecError,
    case_ids,
    default_spec_path,
    load_spec,
    schema_path,
    spec_hash,
)
from implementations.base import DEFAULT_IGNORE_INDEX

CASES = load_spec()

# --- the real spec ----------------------------------------------------------------------------


def test_default_path_is_the_repository_spec() -> None:
    assert default_spec_path() == Path(__file__).resolve().parent.parent / "spec" / \
        "cross_entropy.yaml"


def test_real_spec_validates_against_the_schema() -> None:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    document = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    Draft202012Validator(schema).validate(document)


def test_locations_point_at_each_case() -> None:
    """``Case.location`` names the line where the case (``- id: ...``) starts."""
    lines = default_spec_path().read_text(encoding="utf-8").splitlines()
    for case in CASES:
        file, line = case.location.rsplit(":", 1)
        assert Path(file).resolve() == default_spec_path()
        assert lines[int(line) - 1].strip().startswith("- id: "), case.location


def test_case_ids_are_the_loaded_ids_without_building_arrays(tmp_path: Path) -> None:
    assert case_ids() == [case.id for case in CASES]
    big = tmp_path / "big.yaml"
    big.write_text(textwrap.dedent("""\
        version: 1
        cases:
          - id: huge-{reduction}
            source: edge case
            tags: [large]
            input: {shape: [32768, 4096], seed: 1}
            target: {classes: 4096, shape: [32768], seed: 2}
            vary: {reduction: [mean, sum]}
        """), encoding="utf-8")
    assert case_ids(big) == ["huge-mean", "huge-sum"]  # 1 GiB of logits each: never built
    big.write_text("version: 1\ncases:\n  - id: x\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"big\.yaml:3"):
        case_ids(big)


def test_spec_hash_is_the_sha256_of_the_file() -> None:
    expected = hashlib.sha256(default_spec_path().read_bytes()).hexdigest()
    assert spec_hash() == spec_hash(default_spec_path()) == expected


def _class_axis_size(case: Case) -> int:
    return int(case.input.shape[0 if case.input.ndim == 1 else 1])


def _valid(predicate: Callable[[Case], bool]) -> Callable[[Case], bool]:
    return lambda case: not case.invalid and predicate(case)


FEATURES: dict[str, Callable[[Case], bool]] = {
    "class-indices": _valid(lambda c: c.target_kind == "indices"),
    "probabilities": _valid(lambda c: c.target_kind == "probabilities"),
    "unbatched": _valid(lambda c: c.input.ndim == 1 and c.input.size > 0),
    "kdim1": _valid(lambda c: c.input.ndim == 3),
    "kdim2": _valid(lambda c: c.input.ndim == 4),
    "kdim3": _valid(lambda c: c.input.ndim == 5),
    "reduction-none": _valid(lambda c: c.reduction == "none"),
    "reduction-mean": _valid(lambda c: c.reduction == "mean"),
    "reduction-sum": _valid(lambda c: c.reduction == "sum"),
    "weight": _valid(lambda c: c.weight is not None),
    "negative-weight": _valid(lambda c: c.weight is not None and bool(np.any(c.weight < 0))),
    "ignore-index": _valid(lambda c: c.ignore_index != DEFAULT_IGNORE_INDEX),
    "label-smoothing": _valid(lambda c: c.label_smoothing > 0),
    "weight-ignore-smoothing": _valid(lambda c: c.weight is not None and c.label_smoothing > 0
                                      and c.ignore_index != DEFAULT_IGNORE_INDEX),
    "kdim-weight-ignore-smoothing": _valid(lambda c: c.input.ndim > 2 and c.weight is not None
                                           and c.label_smoothing > 0
                                           and c.ignore_index != DEFAULT_IGNORE_INDEX),
    "empty-batch": _valid(lambda c: c.input.size == 0 and c.target_kind == "indices"),
    "empty-probabilities": _valid(lambda c: c.input.size == 0 and c.target_kind != "indices"),
    "one-class": _valid(lambda c: _class_axis_size(c) == 1),
    "non-finite-logits": _valid(lambda c: not np.all(np.isfinite(c.input))),
    "uint8-target": _valid(lambda c: c.target.dtype == np.uint8),
    "nan-expected": lambda c: c.expect.value is not None and bool(np.any(np.isnan(c.expect.value))),
    "negative-zero-expected": lambda c: c.expect.value is not None
    and bool(np.any((c.expect.value == 0) & np.signbit(c.expect.value))),
    **{f"tag-{tag}": (lambda c, tag=tag: tag in c.tags)
       for tag in ("seed", "quirk", "invalid", "numerics", "misconception")},
    # input-dtype has no case: the spec format has no way to write an integer input.
    **{f"error-{kind}": (lambda c, kind=kind: c.expect.error == kind)
       for kind in ("target-out-of-range", "shape-mismatch", "weight-shape",
                    "ignore-index-with-probabilities", "label-smoothing-range", "target-dtype",
                    "reduction")},
}


@pytest.mark.parametrize("feature", FEATURES)
def test_every_feature_has_a_case(feature: str) -> None:
    assert any(FEATURES[feature](case) for case in CASES), f"no case exercises {feature}"


# --- what the loader builds -------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_literals_generators_and_defaults(tmp_path: Path) -> None:
    cases = load_spec(_write(tmp_path, """
        version: 1
        cases:
          - id: literal
            source: edge case
            tags: [x]
            input: [[1, 2, 3]]
            target: [0]
          - id: generated
            source: edge case
            tags: []
            input: {shape: [2, 3, 4], seed: 1, scale: 3.0}
            target: {probabilities: [2, 3, 4], seed: 3}
            weight: [1, 2, 3]
            ignore_index: -1
            reduction: sum
            label_smoothing: 0.25
            expect: {value: [.nan, -0.0], decimals: 2}
    """))
    literal, generated = cases
    assert (literal.input.dtype, literal.target.dtype) == (np.float64, np.int64)
    assert (literal.weight, literal.ignore_index, literal.reduction, literal.label_smoothing) == \
        (None, DEFAULT_IGNORE_INDEX, "mean", 0.0)
    assert (literal.tags, literal.expect.value) == (("x",), None)
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(generated.input, rng.standard_normal((2, 3, 4)) * 3.0)
    np.testing.assert_allclose(generated.target.sum(axis=1), np.ones((2, 4)))
    assert generated.weight is not None
    assert generated.weight.dtype == np.float64
    assert generated.expect.value is not None
    assert generated.expect.decimals == 2
    assert np.isnan(generated.expect.value[0])
    assert np.signbit(generated.expect.value[1])


def test_targets_dtypes_and_shapes(tmp_path: Path) -> None:
    cases = load_spec(_write(tmp_path, """
        version: 1
        cases:
          - {id: scalar, source: edge case, tags: [], input: [1.0, 2.0], target: 1}
          - {id: floats, source: edge case, tags: [], input: [[1.0, 2.0]], target: [[0, 1.0]]}
          - {id: empty, source: edge case, tags: [], input: [], target: []}
          - {id: cast, source: edge case, tags: [], input: [[1.0]], target: [0],
             target_dtype: uint8}
          - {id: drawn, source: edge case, tags: [invalid], input: {shape: [0, 3], seed: 0},
             target: {classes: 3, shape: [5, 7], seed: 2}, expect: {error: shape-mismatch}}
          - {id: unbatched, source: edge case, tags: [], input: [1.0, 2.0],
             target: {probabilities: [2], seed: 4}}
    """))
    scalar, floats, empty, cast, drawn, unbatched = cases
    assert (scalar.target.shape, scalar.target.dtype) == ((), np.int64)
    assert (floats.target.dtype, floats.target_kind) == (np.float64, "probabilities")
    assert (empty.input.shape, empty.target.shape, empty.target.dtype) == ((0,), (0,), np.float64)
    assert cast.target.dtype == np.uint8
    assert (drawn.input.shape, drawn.target.shape, drawn.target.dtype) == ((0, 3), (5, 7), np.int64)
    assert set(np.unique(drawn.target).tolist()) <= {0, 1, 2}
    assert unbatched.target.sum() == pytest.approx(1.0)


def test_vary_expands_every_combination(tmp_path: Path) -> None:
    cases = load_spec(_write(tmp_path, """
        version: 1
        cases:
          - id: ls-{label_smoothing}-{reduction}-ii{ignore_index}
            source: edge case
            tags: []
            input: [[1.0, 2.0]]
            target: [0]
            vary: {reduction: [none, sum], label_smoothing: [0.0, 0.5], ignore_index: [-1]}
    """))
    assert [c.id for c in cases] == ["ls-0.0-none-ii-1", "ls-0.5-none-ii-1",
                                     "ls-0.0-sum-ii-1", "ls-0.5-sum-ii-1"]
    assert [(c.reduction, c.label_smoothing, c.ignore_index) for c in cases] == [
        ("none", 0.0, -1), ("none", 0.5, -1), ("sum", 0.0, -1), ("sum", 0.5, -1)]
    assert {c.location for c in cases} == {f"{tmp_path / 'spec.yaml'}:3"}


def test_shape_mismatches_between_arrays_are_cases(tmp_path: Path) -> None:
    """Input, target and weight that do not fit together are invalid-input cases, not errors."""
    (case,) = load_spec(_write(tmp_path, """
        version: 1
        cases:
          - id: mismatch
            source: edge case
            tags: [invalid]
            input: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
            target: [0, 1]
            weight: [1.0, 2.0, 3.0]
            expect: {error: shape-mismatch}
    """))
    assert case.expect.error == "shape-mismatch"


def test_location_is_relative_to_the_current_directory(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, """
        version: 1
        cases:
          - {id: a, source: edge case, tags: [], input: [1.0], target: 0}
    """)
    monkeypatch.chdir(tmp_path)
    assert load_spec("spec.yaml")[0].location == "spec.yaml:3"
    assert load_spec(tmp_path / "spec.yaml")[0].location == "spec.yaml:3"


# --- malformed specs --------------------------------------------------------------------------

CASE = """\
  - id: ok
    source: edge case
    tags: []
    input: [[1.0, 2.0]]
    target: [0]
"""

# (kind, file text, line of the fault, a fragment of the message)
MALFORMED = [
    ("empty file", "", 1, "empty"),
    ("bad yaml", "version: 1\ncases:\n  - id: a\n    input: [[1.0, 2.0]\n    target: [0]\n", 5,
     "invalid YAML"),
    ("bad yaml indentation", "version: 1\ncases:\n  - id: a\n   source: x\n", 4, "invalid YAML"),
    ("not a mapping", "- 1\n- 2\n", 1, "is not of type 'object'"),
    ("wrong version", "version: 2\ncases:\n" + CASE, 1, "version: 1 was expected"),
    ("unknown top-level key", "version: 1\nextra: 0\ncases:\n" + CASE, 2, "extra: unknown key"),
    ("unknown case key", "version: 1\ncases:\n" + CASE + "    colour: red\n", 8,
     "cases[0].colour: unknown key"),
    ("unknown generator key", "version: 1\ncases:\n" + CASE.replace(
        "input: [[1.0, 2.0]]", "input:\n      shape: [1, 2]\n      seed: 0\n      mean: 1.0"),
     9, "cases[0].input.mean: unknown key"),
    ("missing key", "version: 1\ncases:\n" + CASE + CASE.replace("    target: [0]\n", "")
     .replace("id: ok", "id: ok2"), 8, "'target' is a required property"),
    ("wrong type", "version: 1\ncases:\n" + CASE + "    ignore_index: two\n", 8,
     "cases[0].ignore_index: 'two' is not of type 'integer'"),
    ("wrong type deep in a list", "version: 1\ncases:\n" + CASE + "    weight:\n      - 1.0\n"
     "      - heavy\n", 10, "cases[0].weight[1]:"),
    ("number written as 1e4", "version: 1\ncases:\n" + CASE.replace("1.0, 2.0", "1e4, 2.0"), 6,
     "cases[0].input[0][0]: '1e4' is not valid under any of the given schemas (YAML 1.1"),
    ("bad id", "version: 1\ncases:\n" + CASE.replace("id: ok", "id: Not_OK"), 3, "does not match"),
    ("error kind not in the list", "version: 1\ncases:\n"
     + CASE.replace("tags: []", "tags: [invalid]") + "    expect:\n      error: boom\n", 9,
     "cases[0].expect.error: 'boom' is not one of"),
    ("both a value and an error", "version: 1\ncases:\n"
     + CASE.replace("tags: []", "tags: [invalid]") + "    expect: {value: 1.0, error: reduction}\n",
     8, "cases[0].expect: {'value': 1.0, 'error': 'reduction'} is valid under each of"),
    ("decimals without value", "version: 1\ncases:\n" + CASE + "    expect: {decimals: 4}\n", 8,
     "cases[0].expect"),
    ("quirk without note", "version: 1\ncases:\n" + CASE.replace("tags: []", "tags: [quirk]"), 3,
     "'note' is a required property"),
    ("duplicate mapping key", "version: 1\ncases:\n" + CASE + "    target: [1]\n", 8,
     "duplicate key 'target' (first on line 7)"),
    ("duplicate id", "version: 1\ncases:\n" + CASE + CASE, 8,
     "cases[1].id: duplicate id 'ok' (first on line 3)"),
    ("duplicate id after vary", "version: 1\ncases:\n" + CASE
     + CASE.replace("id: ok", "id: o{reduction}") + "    vary: {reduction: [k]}\n", 8,
     "duplicate id 'ok'"),
    ("ragged array", "version: 1\ncases:\n" + CASE.replace(
        "input: [[1.0, 2.0]]", "input:\n      - [1.0, 2.0]\n      - [3.0]"), 8,
     "cases[0].input[1]: ragged array: row 1 has shape [1], row 0 has [2]"),
    ("ragged nesting", "version: 1\ncases:\n" + CASE.replace("target: [0]", "target: [0, [1]]"),
     7, "cases[0].target[1]: ragged array"),
    ("vary key missing from the id", "version: 1\ncases:\n" + CASE
     + "    vary:\n      reduction: [none, sum]\n", 9,
     "cases[0].vary.reduction: the id 'ok' has no '{reduction}' placeholder"),
    ("placeholder without vary", "version: 1\ncases:\n"
     + CASE.replace("id: ok", "id: ok-{reduction}"), 3,
     "cases[0].id: placeholder '{reduction}' is not a key of vary"),
    ("varied key also set", "version: 1\ncases:\n" + CASE.replace("id: ok", "id: ok-{reduction}")
     + "    reduction: sum\n    vary: {reduction: [none]}\n", 8, "both set and varied"),
    ("expanded id not an id", "version: 1\ncases:\n" + CASE.replace("id: ok", "id: '{reduction}'")
     + "    vary: {reduction: [Mean]}\n", 3, "'Mean' does not match"),
    ("probability axis out of range", "version: 1\ncases:\n" + CASE.replace(
        "target: [0]", "target:\n      probabilities: [1, 2]\n      seed: 0\n      axis: 2"), 10,
     "cases[0].target.axis: axis 2 is out of range for shape [1, 2]"),
    ("no class to draw from", "version: 1\ncases:\n" + CASE.replace(
        "target: [0]", "target: {classes: 0, shape: [1], seed: 0}"), 7, "no class to draw"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_spec_is_reported_at_its_line(tmp_path: Path, text: str, line: int,
                                                fragment: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert re.match(rf"^{re.escape(str(path))}:{line}: ", message), message
    assert fragment in message, message
    assert "\n" not in message
    assert info.value.line == line


def test_a_missing_spec_file_is_a_one_line_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=r"nope\.yaml:1: cannot read the spec"):
        load_spec(missing)


@pytest.mark.parametrize(("input_shape", "target", "weight"), [
    ((1, 0, 0), np.zeros((1, 0, 0)), None),  # empty probabilities
    ((0, 0), np.zeros((0,), dtype=np.int64), np.zeros((0,))),  # empty weight
    ((2, 3, 0), np.zeros((2, 0), dtype=np.int64), None),
])
def test_an_empty_case_round_trips_through_the_spec_with_its_shapes(
        tmp_path: Path, input_shape: tuple[int, ...], target: np.ndarray,
        weight: np.ndarray | None) -> None:
    """A generated counterexample with empty arrays keeps its shapes and kinds in spec form
    (a nested list cannot say them), and the spec's schema takes that form."""
    case = Case.of(id="empty-round-trip", input=np.zeros(input_shape), target=target,
                weight=weight)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "cases": [case.to_spec()]}))
    (back,) = load_spec(path)
    assert back.input.shape == case.input.shape
    assert back.target.shape == case.target.shape
    assert back.target_kind == case.target_kind
    assert (back.weight is None) == (weight is None)
    if weight is not None:
        assert back.weight.shape == weight.shape
