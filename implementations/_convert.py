"""Conversions that several adapters share: device names, the class axis's place, reductions.

The contract names devices ``cpu`` and ``cuda`` (torch's words); ``gpu`` is accepted as an
alias. torch puts the classes on axis 1 (axis 0 for a ``(C,)`` input: ``Call.class_axis``);
TensorFlow and Keras want them last, so their adapters move the axis there and move gradients
back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from implementations.base import Array


def canonical_device(device: str) -> str:
    """``cuda`` for ``cuda`` and ``gpu``; any other name unchanged."""
    return "cuda" if device == "gpu" else device


def classes_last(array: Array, axis: int) -> Array:
    """``array`` with its class axis ``axis`` moved to the end."""
    return np.moveaxis(array, axis, -1)


def classes_back(array: Array, axis: int) -> Array:
    """The inverse of ``classes_last`` (for gradients)."""
    return np.moveaxis(array, -1, axis)


def user_reduction(losses: Any, reduction: str, total: Callable[[Any], Any],
                   mean: Callable[[Any], Any]) -> Any:
    """A user's reduction of per-example losses: as they are, ``total`` or ``mean`` of all
    (a native API's ``mean`` is the plain mean, whatever torch divides by)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return total(losses)
    if reduction == "mean":
        return mean(losses)
    raise ValueError(f"{reduction} is not a valid value for reduction")
