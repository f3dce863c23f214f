"""keras: Keras 3's cross-entropy losses on the TensorFlow backend, as a user would call them.

* Class indices: ``keras.losses.SparseCategoricalCrossentropy(from_logits=True,
  ignore_class=...)``; torch's ``ignore_index`` becomes ``ignore_class`` when it is not torch's
  default (a user porting ``F.cross_entropy(x, y)`` writes no ``ignore_class``). Keras 3.15's
  sparse loss has no ``label_smoothing``: unsupported.
* Probabilities: ``keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=...)``,
  which has no ``ignore_class``: a non-default ``ignore_index`` is unsupported.
* Reductions: ``none`` -> ``"none"``, ``sum`` -> ``"sum"``, ``mean`` -> ``"sum_over_batch_size"``
  (Keras' default and its own rule for dividing; any other name goes to Keras unchanged).
* No class weights (``sample_weight`` weighs samples, not classes): unsupported.
* The loss's ``dtype`` is the requested dtype (Keras would otherwise compute in ``floatx()``,
  float32); the classes are moved last, Keras' layout.

Constructing the adapter sets ``KERAS_BACKEND=tensorflow`` unless it is set already; Keras
fixes its backend on first import, so ``available()`` says so when it is another one.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from implementations import require
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

REDUCTIONS = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}


class KerasImplementation:
    """Keras 3's (Sparse)CategoricalCrossentropy on TensorFlow; no class weights."""

    name = "keras"
    dtypes = ALL_DTYPES

    def __init__(self) -> None:
        if "keras" not in sys.modules:
            os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        self._tf = require_tensorflow()
        self._keras = require("keras", extra="tensorflow")

    def available(self) -> str | None:
        """``None`` on the TensorFlow backend, else why not."""
        backend = self._keras.backend.backend()
        if backend != "tensorflow":
            return (f"keras runs on the {backend} backend; this adapter needs "
                    "KERAS_BACKEND=tensorflow before keras is first imported")
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where TensorFlow sees a GPU (``gpu`` is accepted too)."""
        return tf_devices()

    def supports(self, call: Call) -> str | None:
        """What Keras' two losses can express."""
        if call.has_weight:
            return "keras has no class weights (sample_weight weighs samples, not classes)"
        if call.target_kind == "indices" and call.label_smoothing != 0.0:
            return "keras' SparseCategoricalCrossentropy has no label_smoothing"
        if call.target_kind == "probabilities" and call.uses_ignore_index:
            return "keras' CategoricalCrossentropy has no ignore_class"
        if canonical_device(call.device) not in self.devices:
            return f"tensorflow sees no {call.device} device"
        return None

    def versions(self) -> dict[str, str]:
        """Keras' and TensorFlow's versions."""
        return {"keras": str(self._keras.__version__), "tensorflow": str(self._tf.__version__)}

    def _loss_object(self, probabilities: bool, ignore_index: int, reduction: str,
                     label_smoothing: float, dtype: str) -> Any:
        losses = self._keras.losses
        keras_reduction = REDUCTIONS.get(reduction, reduction)
        if probabilities:
            return losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=label_smoothing, reduction=keras_reduction,
                dtype=dtype)
        ignore_class = None if ignore_index == DEFAULT_IGNORE_INDEX else int(ignore_index)
        return losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=ignore_class, reduction=keras_reduction, dtype=dtype)

    def _run(self, input: Array, target: Array, ignore_index: int, reduction: str,
             label_smoothing: float, dtype: str, device: str,
             grad: bool) -> tuple[Array, Array | None]:
        tf = self._tf
        x, t = cast_floating(input, dtype), cast_floating(target, dtype)
        probabilities = target_kind(x, t) == "probabilities"
        axis = class_axis(x)
        loss_object = self._loss_object(probabilities, ignore_index, reduction,
                                        float(label_smoothing), dtype)
        # Keras warns (SyntaxWarning) about shapes it finds unusual; the result speaks for itself
        with tf.device(tf_device_name(device)), warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            logits = tf.constant(classes_last(x, axis))
            labels = tf.constant(classes_last(t, axis) if probabilities else t)
            if not grad:
                return tensor_to_numpy(loss_object(labels, logits)), None
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(logits)
                loss = loss_object(labels, logits)
                total = tf.reduce_sum(loss)
            g = tape.gradient(total, logits, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tensor_to_numpy(loss), classes_back(tensor_to_numpy(g), axis)

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """Keras' loss with torch's arguments mapped; ``weight`` is unused."""
        return self._run(input, target, ignore_index, reduction, label_smoothing, dtype,
                         device, grad=False)[0]

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Array, Array]:
        """The loss and d loss.sum() / d input through ``tf.GradientTape``."""
        loss, g = self._run(input, target, ignore_index, reduction, label_smoothing, dtype,
                            device, grad=True)
        assert g is not None
        return loss, g
