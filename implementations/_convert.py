"""Conversions that several adapters share: device names and the class axis's place.

The contract names devices ``cpu`` and ``cuda`` (torch's words); ``gpu`` is accepted as an
alias. torch puts the classes on axis 1 (axis 0 for a ``(C,)`` input); TensorFlow and Keras want
them last, so their adapters move the axis there and move gradients back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.base import Array


def canonical_device(device: str) -> str:
    """``cuda`` for ``cuda`` and ``gpu``; any other name unchanged."""
    return "cuda" if device == "gpu" else device


def tf_device_name(device: str) -> str:
    """TensorFlow's device string for a contract device name."""
    return "/GPU:0" if canonical_device(device) == "cuda" else "/CPU:0"


def tensor_to_numpy(tensor: Any) -> Array:
    """A TensorFlow tensor as an array (``np.asarray(tensor)`` fails for 0-d bfloat16)."""
    return np.asarray(tensor.numpy())


def class_axis(input: Array) -> int:
    """torch's class axis: 0 for a ``(C,)`` input, else 1."""
    return 0 if np.ndim(input) == 1 else 1


def classes_last(array: Array, axis: int) -> Array:
    """``array`` with its class axis ``axis`` moved to the end."""
    return np.moveaxis(array, axis, -1)


def classes_back(array: Array, axis: int) -> Array:
    """The inverse of ``classes_last`` (for gradients)."""
    return np.moveaxis(array, -1, axis)


def require_tensorflow() -> Any:
    """Import TensorFlow for an adapter without its C++ warnings (an invalid label logs one per
    call), unless the user chose a level: JAX sets ``TF_CPP_MIN_LOG_LEVEL=1`` when imported, so
    the user's own setting is the one ``implementations`` saw when it was first imported."""
    import os

    from implementations import USER_TF_LOG_LEVEL, require

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = USER_TF_LOG_LEVEL or "2"
    return require("tensorflow", extra="tensorflow")


def tf_devices() -> tuple[str, ...]:
    """The devices a TensorFlow adapter offers: ``cpu``, and ``cuda`` where TF sees a GPU."""
    tf = require_tensorflow()
    return ("cpu", "cuda") if tf.config.list_physical_devices("GPU") else ("cpu",)
