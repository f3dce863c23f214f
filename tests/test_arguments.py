"""The argument schema (``implementations.arguments.LossArguments``): its methods, and that a
field added to it reaches an implementation through every layer that calls one unchanged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from implementations.adapter import Arguments
from implementations.arguments import LossArguments
from implementations.base import Call

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
