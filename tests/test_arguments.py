"""The argument schema (``implementations.arguments.LossArguments``): its methods, and that a
field added to it reaches an implementation through every layer that calls one unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance import repro
from conformance.case import Case
from conformance.isolation import isolate
from conformance.runner import Runner
from conformance.vocabulary import Check, Verdict
from implementations import reference as ref
from implementations.adapter import Arguments
from implementations.arguments import LossArguments
from implementations.base import Call
from tests.helpers.offset_impl import Offset

ROOT = Path(__file__).resolve().parent.parent

X = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 0.3]])
T = np.array([0, 2])
P = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
W = np.array([1.0, 2.0, 0.5])


def test_defaults_are_the_contracts() -> None:
    args = LossArguments(X, T)
    assert args.options() == {"weight": None, "ignore_index": -100, "reduction": "mean",
                              "label_smoothing": 0.0}


def test_kwargs_are_every_field_in_the_contracts_order() -> None:
    args = LossArguments(X, T, W, 1, "sum", 0.25)
    kwargs = args.kwargs()
    assert list(kwargs) == ["input", "target", "weight", "ignore_index", "reduction",
                            "label_smoothing"]
    assert kwargs["input"] is X
    assert kwargs["weight"] is W
    assert (kwargs["ignore_index"], kwargs["reduction"], kwargs["label_smoothing"]) == \
        (1, "sum", 0.25)


def test_call_describes_the_arguments() -> None:
    call = LossArguments(X, T, W, 1, "sum", 0.25).call("float32", "cuda", gradient=True)
    assert call == Call(input_shape=(2, 3), target_kind="indices", has_weight=True,
                        ignore_index=1, reduction="sum", label_smoothing=0.25,
                        dtype="float32", device="cuda", gradient=True)
    assert LossArguments(X, P).call() == Call((2, 3), "probabilities")


def test_replace_changes_only_what_it_names() -> None:
    args = LossArguments(X, T, W)
    changed = args.replace(reduction="none", weight=None)
    assert (changed.reduction, changed.weight, changed.input) == ("none", None, X)
    assert args.reduction == "mean"
    assert args.weight is W
    with pytest.raises(TypeError, match="gradient"):
        args.replace(gradient=True)


def test_rounded_rounds_every_array_but_class_indices() -> None:
    x = np.array([[1.0 + 2.0**-20, 0.1]])
    rounded = LossArguments(x, np.array([1]), np.array([0.1, 1.0])).rounded("float16")
    assert rounded.input.dtype == np.float64
    assert rounded.input[0, 0] == 1.0
    assert rounded.weight is not None
    assert rounded.weight[0] == np.float16(0.1)
    assert rounded.target.dtype == np.int64
    probabilities = LossArguments(x, np.array([[0.1, 0.9]])).rounded("bfloat16")
    assert probabilities.target[0, 0] != 0.1
    assert probabilities.target.dtype == np.float64


def test_to_spec_leaves_out_defaults_but_the_reduction() -> None:
    assert LossArguments(X, T).to_spec() == {"input": X.tolist(), "target": [0, 2],
                                             "reduction": "mean"}
    spec = LossArguments(X, T, W, 1, "sum", 0.25).to_spec()
    assert spec == {"input": X.tolist(), "target": [0, 2], "weight": W.tolist(),
                    "ignore_index": 1, "reduction": "sum", "label_smoothing": 0.25}


def test_to_spec_names_an_unusual_target_dtype_and_empty_shapes() -> None:
    spec = LossArguments(np.zeros((0, 3)), np.zeros((0,), dtype=np.uint8)).to_spec()
    assert spec["target_dtype"] == "uint8"
    assert spec["input"] == {"shape": [0, 3], "seed": 0}
    assert LossArguments(X, T.astype(np.float64)).to_spec()["target_dtype"] == "float64"


def test_spec_options_are_the_numbers_and_strings_of_to_spec() -> None:
    assert LossArguments(X, T, W, label_smoothing=0.1).spec_options() == \
        {"reduction": "mean", "label_smoothing": 0.1}
    assert LossArguments(X, T, ignore_index=3, reduction="none").spec_options() == \
        {"ignore_index": 3, "reduction": "none"}


@pytest.mark.parametrize("args", [LossArguments(X, T), LossArguments(X, P, W, -100, "none", 0.1),
                                  LossArguments(X, T.astype(np.int32), None, 2, "sum", -0.5),
                                  LossArguments(X, T.astype(np.float32))])
def test_from_spec_inverts_to_spec(args: LossArguments) -> None:
    again = LossArguments.from_spec(args.to_spec())
    assert again.same(args), (again, args)


def test_from_spec_ignores_the_cases_other_keys() -> None:
    args = LossArguments.from_spec({"id": "x", "tags": [], "input": [[1.0, 2.0]], "target": [1]})
    assert args.same(LossArguments(np.array([[1.0, 2.0]]), np.array([1])))


def test_same_compares_values() -> None:
    nan = np.array([[np.nan, 1.0]])
    assert LossArguments(nan, T[:1]).same(LossArguments(nan.copy(), T[:1].copy()))
    assert not LossArguments(X, T).same(LossArguments(X, T.astype(np.int32)))
    assert not LossArguments(X, T).same(LossArguments(X, T, W))
    assert LossArguments(X, T, label_smoothing=np.nan).same(
        LossArguments(X, T, label_smoothing=np.nan))


def test_the_adapters_arguments_are_the_schema_plus_dtype_and_device() -> None:
    args = Arguments(X, T, W, 1, "sum", 0.25, "float32", "cpu")
    assert isinstance(args, LossArguments)
    assert args.kwargs() == {**LossArguments(X, T, W, 1, "sum", 0.25).kwargs(),
                             "dtype": "float32", "device": "cpu"}
    assert args.call(args.dtype, args.device).dtype == "float32"
    assert [f.name for f in dataclasses.fields(Arguments)][-2:] == ["dtype", "device"]


# --- a new argument, added through the schema ---------------------------------------------
# ``offset`` (``tests/helpers/offset_impl.py``): a number added to the loss. What it needs is
# what these tests write: its field (the subclass), what the reference makes of it (the wrapper
# of ``reference.evaluate`` below), and an implementation that takes it. The case, the runner,
# its checks, the context, the isolated worker and repro are not told about it.

OffsetArguments = dataclasses.make_dataclass(
    "OffsetArguments", [("offset", float, dataclasses.field(default=0.0))],
    bases=(LossArguments,), frozen=True, eq=False)
OFFSET = 0.375
IMPL = "tests.helpers.offset_impl:Offset"


def _offset_case(reduction: str = "sum") -> Case:
    return Case.of("offset-case", X, T, W, reduction=reduction, label_smoothing=0.1,
                   offset=OFFSET, schema=OffsetArguments)


@pytest.fixture
def offset_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference, taught ``offset``: the one change to ``implementations/reference.py``."""
    evaluate = ref.evaluate

    def with_offset(*, offset: float, **arguments: Any) -> Any:
        value, grad, parts = evaluate(**arguments)
        return value + offset, grad, parts

    monkeypatch.setattr(ref, "evaluate", with_offset)


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


def test_a_new_field_goes_through_the_schemas_methods() -> None:
    args = _offset_case().arguments
    assert args.kwargs()["offset"] == OFFSET
    assert args.rounded("float16").offset == OFFSET
    assert args.replace(reduction="none").offset == OFFSET
    assert args.to_spec()["offset"] == OFFSET
    assert OffsetArguments.from_spec(args.to_spec()).same(args)
    assert "offset" not in OffsetArguments(X, T).to_spec()  # a default is left out


def test_without_the_reference_a_new_argument_is_refused() -> None:
    with pytest.raises(TypeError, match="offset"):
        Runner().expected(_offset_case(), "float64")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.usefixtures("offset_reference")
def test_the_runner_forwards_a_new_argument_unchanged(reduction: str) -> None:
    Offset.received.clear()
    case = _offset_case(reduction)
    records = Runner().run_case(Offset(), case)
    assert [(r.check, r.verdict) for r in records] == \
        [(Check.VALUE, Verdict.CONFORMS), (Check.GRADIENT, Verdict.CONFORMS)], records
    want = {**case.arguments.options(), "offset": OFFSET, "dtype": "float64", "device": "cpu"}
    assert len(Offset.received) == 2
    for got in Offset.received:  # what the implementation received: the case's own values
        assert got.keys() == want.keys()
        assert OffsetArguments(X, T, **{k: got[k] for k in case.kwargs()}).same(case.arguments)


@pytest.mark.usefixtures("offset_reference")
def test_an_isolated_worker_forwards_a_new_argument_unchanged() -> None:
    proxy = isolate(IMPL, timeout=120)
    try:
        records = Runner().run_case(proxy, _offset_case())
        changed = Runner().run_case(proxy, _offset_case().replace(offset=OFFSET + 1))
    finally:
        proxy.close()
    assert [(r.check, r.verdict) for r in records + changed] == \
        [(Check.VALUE, Verdict.CONFORMS), (Check.GRADIENT, Verdict.CONFORMS)] * 2, records


def test_repro_writes_a_new_argument() -> None:
    code = repro.snippet(IMPL, _offset_case())
    assert f", offset={OFFSET!r}, dtype=" in code
    assert "offset=" not in repro.snippet(IMPL, _offset_case().replace(offset=0.0))


def test_from_spec_takes_built_arrays_as_they_are() -> None:
    x, t, w = X.copy(), T.copy(), W.copy()
    args = LossArguments.from_spec({"input": x, "target": t, "weight": w})
    assert args.input is x
    assert args.target is t
    assert args.weight is w
