"""What the TensorFlow adapters (``tensorflow``, ``tensorflow.nn``, ``keras``) share: device
names, tensors to NumPy, and a loss with its gradient through ``tf.GradientTape``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from implementations import frameworks
from implementations._convert import canonical_device, classes_back, classes_last
from implementations.base import Array, Call

Result = tuple[Array, Array | None]


def device_name(device: str) -> str:
    """TensorFlow's device string for a contract device name."""
    return "/GPU:0" if canonical_device(device) == "cuda" else "/CPU:0"


def to_numpy(tensor: Any) -> Array:
    """A TensorFlow tensor as an array (``np.asarray(tensor)`` fails for 0-d bfloat16)."""
    return np.asarray(tensor.numpy())


def value_and_grad(loss: Callable[[Any], Any], x: Any, gradient: bool) -> Result:
    """``loss(x)`` and, with ``gradient``, d sum(loss(x)) / d x through ``tf.GradientTape``
    (zero where ``x`` is not connected), both as arrays."""
    tf = frameworks.tensorflow()
    if not gradient:
        return to_numpy(loss(x)), None
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        value = loss(x)
        total = tf.reduce_sum(value)
    g = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return to_numpy(value), to_numpy(g)


def classes_last_value_and_grad(loss: Callable[[Any, Any], Any], x: Array, t: Array, call: Call,
                                device: str) -> Result:
    """``loss(logits, labels)`` of a native API that wants the classes last: the class axis of
    ``x`` (and of probability targets) moved last, the gradient's moved back."""
    tf = frameworks.tensorflow()
    axis = call.class_axis
    with tf.device(device_name(device)):
        logits = tf.constant(classes_last(x, axis))
        labels = tf.constant(classes_last(t, axis) if call.target_kind == "probabilities" else t)
        value, g = value_and_grad(lambda z: loss(z, labels), logits, call.gradient)
    return value, None if g is None else classes_back(g, axis)
