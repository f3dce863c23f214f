"""tensorflow.nn: TensorFlow's fused softmax cross-entropy ops, as a user would call them.

* Class indices: ``tf.nn.sparse_softmax_cross_entropy_with_logits``; probabilities:
  ``tf.nn.softmax_cross_entropy_with_logits``. TensorFlow wants the classes last, so the
  adapter moves torch's class axis (1, or 0 for a ``(C,)`` input) to the end: a conversion.
* Reductions: the per-example losses (``none``), ``tf.reduce_sum`` or ``tf.reduce_mean``, as a
  user would; ``mean`` is the plain mean.
* No class weights, no ``ignore_index``, no label smoothing in ``tf.nn``: unsupported. A target
  equal to the default ``-100`` goes to TensorFlow unchanged, and integer targets keep their
  dtype (TensorFlow's label dtypes are int32 and int64).
"""

from __future__ import annotations

from typing import Any

from implementations._convert import (
    canonical_device,
    class_axis,
    classes_back,
    classes_last,
    require_tensorflow,
    tensor_to_numpy,
    tf_device_name,
    tf_devices,
)
from implementations._dtypes import cast_floating
from implementations.base import ALL_DTYPES, DEFAULT_IGNORE_INDEX, Array, Call, target_kind


class TfNnImplementation:
    """``tf.nn.(sparse_)softmax_cross_entropy_with_logits``; no weights, ignore_index, smoothing."""

    name = "tensorflow.nn"
    dtypes = ALL_DTYPES

    def __init__(self) -> None:
        self._tf = require_tensorflow()

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where TensorFlow sees a GPU (``gpu`` is accepted too)."""
        return tf_devices()

    def supports(self, call: Call) -> str | None:
        """What the two ``tf.nn`` ops can express."""
        if call.has_weight:
            return "tf.nn's softmax cross-entropy has no class weights"
        if call.uses_ignore_index:
            return "tf.nn's softmax cross-entropy has no ignore_index"
        if call.label_smoothing != 0.0:
            return "tf.nn's softmax cross-entropy has no label smoothing"
        if canonical_device(call.device) not in self.devices:
            return f"tensorflow sees no {call.device} device"
        return None

    def versions(self) -> dict[str, str]:
        """TensorFlow's version."""
        return {"tensorflow": str(self._tf.__version__)}

    def _loss(self, logits: Any, labels: Any, probabilities: bool, reduction: str) -> Any:
        tf = self._tf
        if probabilities:
            losses = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        else:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return tf.reduce_sum(losses)
        if reduction == "mean":
            return tf.reduce_mean(losses)
        raise ValueError(f"{reduction} is not a valid value for reduction")

    def _run(self, input: Array, target: Array, reduction: str, dtype: str, device: str,
             grad: bool) -> tuple[Array, Array | None]:
        tf = self._tf
        x, t = cast_floating(input, dtype), cast_floating(target, dtype)
        probabilities = target_kind(x, t) == "probabilities"
        axis = class_axis(x)
        with tf.device(tf_device_name(device)):
            logits = tf.constant(classes_last(x, axis))
            labels = tf.constant(classes_last(t, axis) if probabilities else t)
            if not grad:
                return tensor_to_numpy(self._loss(logits, labels, probabilities, reduction)), None
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(logits)
                loss = self._loss(logits, labels, probabilities, reduction)
                total = tf.reduce_sum(loss)
            g = tape.gradient(total, logits, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tensor_to_numpy(loss), classes_back(tensor_to_numpy(g), axis)

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """The ``tf.nn`` loss, reduced as a user would; the unsupported arguments are unused."""
        return self._run(input, target, reduction, dtype, device, grad=False)[0]

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Array, Array]:
        """The loss and d loss.sum() / d input through ``tf.GradientTape``."""
        loss, g = self._run(input, target, reduction, dtype, device, grad=True)
        assert g is not None
        return loss, g
