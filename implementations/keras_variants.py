"""Keras spelled other ways a user writes it: one column each next to the faithful ``keras``.

``keras`` (``implementations.keras_native``) tests the spelling that happens to match torch:
classes moved last, ``dtype=`` the requested dtype, no class weights. These variants change one
thing each, so that the matrix shows what a Keras user's own spelling does:

* ``keras.channels-first``: the logits keep torch's channels-first layout and the loss object
  gets ``axis=1`` (``axis=0`` for a ``(C,)`` input). Both Keras 3.15 losses take ``axis``
  (``SparseCategoricalCrossentropy`` and ``CategoricalCrossentropy``); nothing is moved.
* ``keras.class-weight``: torch's class ``weight`` applied the way ``Model.fit(class_weight=...)``
  applies it (``keras.src.trainers.data_adapters.data_adapter_utils
  .class_weight_to_sample_weights``): one weight per sample, ``class_weight.get(y, 1.0)`` (a
  label outside the classes, an ignored one included, weighs 1), the argmax class for
  probability targets, passed as ``sample_weight`` with the default ``sum_over_batch_size``
  reduction, which divides by the number of samples, not by the sum of the weights as torch's
  weighted mean does. ``fit`` weighs whole samples only (it refuses ``class_weight`` for targets
  of 3+ dimensions), so weights on a ``(C,)`` or K-dimensional input are unsupported. The
  weights are kept in the requested dtype (``fit`` would round them to floatx, float32: the
  precision part is ``keras.float32``'s column).
* ``keras.float32``: the loss object without ``dtype=``, so Keras computes in ``floatx()``
  (float32) whatever it is fed; fed float64 as a user's NumPy data is.

Each variant declares float64 only: the dtype axis is the ``keras`` column's, and a variant
isolates one spelling. Everything else is ``keras``'s mapping; see that module.
"""

from __future__ import annotations

import numpy as np

from implementations._tensorflow import device_name, value_and_grad
from implementations.adapter import Arguments, Result
from implementations.base import Array, Call, DType
from implementations.frameworks import tensorflow
from implementations.keras_native import KerasImplementation


class KerasChannelsFirst(KerasImplementation):
    """Keras' losses with ``axis=1`` on torch's channels-first layout."""

    name = "keras.channels-first"
    dtypes: tuple[DType, ...] = ("float64",)

    def _class_axis(self, call: Call) -> int:
        return call.class_axis

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """Keras' loss on the logits as they come; the gradient through ``tf.GradientTape``."""
        x, t, _ = args.cast()
        loss = self._keras_loss(args, call)
        with tensorflow().device(device_name(args.device)):
            labels = tensorflow().constant(t)
            return value_and_grad(lambda z: loss(z, labels), tensorflow().constant(x),
                                  call.gradient)


class KerasClassWeight(KerasImplementation):
    """Keras' losses with torch's class weights as ``fit``'s per-sample weights."""

    name = "keras.class-weight"
    dtypes: tuple[DType, ...] = ("float64",)

    def limits(self, call: Call) -> str | None:
        """``keras``'s limits, weights allowed where ``fit`` takes ``class_weight``."""
        if call.has_weight and len(call.input_shape) != 2:
            return ("Model.fit's class_weight weighs whole samples of an (N, C) batch (Keras "
                    "refuses it for 3+ dimensional targets)")
        if call.target_kind == "indices" and call.label_smoothing != 0.0:
            return "keras' SparseCategoricalCrossentropy has no label_smoothing"
        if call.target_kind == "probabilities" and call.uses_ignore_index:
            return "keras' CategoricalCrossentropy has no ignore_class"
        return None

    def _sample_weight(self, args: Arguments, call: Call) -> Array | None:
        _, t, w = args.cast()
        if w is None:
            return None
        labels = np.argmax(t, axis=-1) if call.target_kind == "probabilities" else t
        class_weight = {c: w[c] for c in range(len(w))}
        return np.asarray([class_weight.get(int(y), 1.0) for y in labels], dtype=w.dtype)


class KerasFloat32(KerasImplementation):
    """Keras' losses at Keras' default dtype (floatx, float32), fed float64."""

    name = "keras.float32"
    dtypes: tuple[DType, ...] = ("float64",)

    def _loss_dtype(self, args: Arguments) -> str | None:
        return None
