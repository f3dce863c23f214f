"""ce-conformance plugin: ONNX's ``SoftmaxCrossEntropyLoss`` operator, run in onnxruntime.

A one-node ONNX model (opset 13) is built with ``onnx.helper`` for each (rank, dtype, weights,
reduction, ignore_index) and run on the ``CPUExecutionProvider``; sessions are cached.

The adapter only converts: it casts floating arrays to the requested dtype (class indices keep
their own integer type, which becomes the model's label type), and gives unbatched input
``(C,)`` with a 0-d target a batch axis of one (the operator needs ``(N, C, ...)``), removing it
again from an unreduced result. It never checks or fixes what the
operator computes (ignore_index with weights, out-of-range labels, empty batches): finding those
differences is the harness's job. ``ignore_index`` is always passed, since torch's default
(-100) is an ordinary label to the operator when the attribute is absent.

The adapter subclasses ``implementations.Adapter`` (the public base): it writes ``limits`` and
``evaluate``, and the base answers ``cross_entropy`` (raising ``implementations.Unsupported``
with the reason for a call ``limits`` refuses); ``differentiable = False`` says there is no
gradient.

Declared limits: no label smoothing and no probability targets (the operator has neither), no
bfloat16 (onnxruntime's CPU kernel rejects it), and no gradient (inference only).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from implementations import Adapter, Arguments, Call
from implementations.adapter import Result

__all__ = ["OnnxRuntimeImplementation"]

OPSET = 13
IR_VERSION = 8  # old enough for every onnxruntime this supports


class OnnxRuntimeImplementation(Adapter):
    """``onnxruntime``: ``SoftmaxCrossEntropyLoss`` on onnxruntime's CPU execution provider."""

    name = "onnxruntime"
    framework = "onnxruntime"
    dtypes = ("float16", "float32", "float64")
    devices = ("cpu",)
    differentiable = False  # inference only

    def available(self) -> str | None:
        """``None`` when onnx and onnxruntime import."""
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            return f"not installed: pip install onnx onnxruntime ({exc})"
        return None

    def versions(self) -> dict[str, str]:
        """onnx and onnxruntime versions."""
        return {package: metadata.version(package) for package in ("onnx", "onnxruntime")}

    def limits(self, call: Call) -> str | None:
        """What the operator cannot express."""
        if call.target_kind == "probabilities":
            return "SoftmaxCrossEntropyLoss takes class indices only (no probability targets)"
        if call.label_smoothing != 0.0:
            return "SoftmaxCrossEntropyLoss has no label smoothing"
        return None

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """Run the operator; floating arrays in ``dtype``, class indices as they are."""
        scores = np.asarray(args.input, dtype=args.dtype)
        labels = np.asarray(args.target)
        unbatched = scores.ndim == 1 and labels.ndim == 0
        if unbatched:
            scores, labels = scores[None], labels[None]
        feeds = {"scores": scores, "labels": labels}
        if args.weight is not None:
            feeds["weights"] = np.asarray(args.weight, dtype=args.dtype)
        session = _session(scores.ndim, str(scores.dtype), str(labels.dtype),
                           args.weight is not None, args.reduction, int(args.ignore_index))
        (loss,) = session.run(None, feeds)
        return np.asarray(loss[0] if unbatched and args.reduction == "none" else loss), None


@lru_cache(maxsize=256)
def _session(rank: int, dtype: str, label_dtype: str, weighted: bool, reduction: str,
             ignore_index: int) -> Any:
    """An inference session for one model; invalid attributes raise when it is built."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # errors reach the harness as exceptions, not as log lines
    model = _model(rank, dtype, label_dtype, weighted, reduction, ignore_index)
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def _model(rank: int, dtype: str, label_dtype: str, weighted: bool, reduction: str,
           ignore_index: int) -> bytes:
    """The serialized one-node model."""
    import onnx
    from onnx import helper

    elem = _elem(dtype)
    dims: list[str | int] = [f"d{i}" for i in range(rank)]
    label_dims = dims[:1] + dims[2:]
    inputs = [helper.make_tensor_value_info("scores", elem, dims),
              helper.make_tensor_value_info("labels", _elem(label_dtype), label_dims)]
    if weighted:
        inputs.append(helper.make_tensor_value_info("weights", elem, dims[1:2]))
    loss_dims = label_dims if reduction == "none" else []
    node = helper.make_node("SoftmaxCrossEntropyLoss", [i.name for i in inputs], ["loss"],
                            reduction=reduction, ignore_index=ignore_index)
    graph = helper.make_graph([node], "cross_entropy", inputs,
                              [helper.make_tensor_value_info("loss", elem, loss_dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _elem(dtype: str) -> int:
    """The ONNX element type of a NumPy dtype (labels keep theirs: the operator takes int32 and
    int64, and a model with any other label type fails to build, which is the honest answer)."""
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
