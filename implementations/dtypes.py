"""NumPy dtypes for the contract's dtype names (bfloat16 through ``ml_dtypes``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.base import Array


def numpy_dtype(name: str) -> np.dtype[Any]:
    """The NumPy dtype called ``name``; ``bfloat16`` comes from ``ml_dtypes``."""
    if name == "bfloat16":
        import ml_dtypes

        bfloat16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
        return bfloat16
    return np.dtype(name)


def is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` is floating point, ``ml_dtypes``' (``bfloat16``, NumPy kind "V") too."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or (dtype.kind == "V" and "float" in dtype.name)


def round_to(array: Array, name: str) -> Array:
    """``array`` rounded to dtype ``name`` and back to float64 (what a backend actually sees)."""
    with np.errstate(over="ignore"):  # out of the dtype's range becomes inf, as in a backend
        return np.asarray(array).astype(numpy_dtype(name)).astype(np.float64)


def cast_floating(array: Array, name: str) -> Array:
    """Cast floating arrays to dtype ``name``; integer arrays pass through unchanged."""
    array = np.asarray(array)
    return array.astype(numpy_dtype(name)) if is_floating(array.dtype) else array


def finfo(name: str) -> Any:
    """Machine limits of dtype ``name`` (``ml_dtypes.finfo`` knows bfloat16, NumPy does not)."""
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.finfo(ml_dtypes.bfloat16)  # type: ignore[no-untyped-call]
    return np.finfo(np.dtype(name))
