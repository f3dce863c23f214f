"""A deliberately non-conforming cross-entropy (NumPy only), for the suite's own tests and docs.

Two bugs, both common in hand-written losses:

* the weighted ``mean`` divides by the number of non-ignored targets, not by the sum of their
  weights (``torch`` divides by ``sum_i w[y_i]``);
* out-of-range class indices are silently clamped into ``[0, C - 1]`` instead of raising.

Everything else follows torch for class-index targets; probability targets and label smoothing
are declared unsupported. It needs nothing from ce-conformance: the contract is duck-typed.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np

__all__ = ["BrokenImplementation"]


class BrokenImplementation:
    """``broken``: cross-entropy with a wrong weighted mean and clamped targets."""

    name = "broken"
    dtypes = ("float32", "float64")
    devices = ("cpu",)

    def versions(self) -> dict[str, str]:
        """The one library it uses."""
        return {"numpy": metadata.version("numpy")}

    def supports(self, call: Any) -> str | None:
        """Class-index targets without label smoothing only."""
        if call.target_kind == "probabilities":
            return "broken takes class-index targets only"
        if call.label_smoothing != 0.0:
            return "broken has no label smoothing"
        return None

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> np.ndarray:
        """The loss, in ``dtype``."""
        x = np.asarray(input, dtype=dtype)
        t = np.asarray(target).astype(np.int64)
        squeeze = x.ndim == 1
        if squeeze:
            x, t = x[None], t[None]
        logits = np.moveaxis(x, 1, -1)  # (N, d..., C)
        n_classes = logits.shape[-1]
        log_p = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1,
                                       keepdims=True)) - logits.max(-1, keepdims=True)
        kept = t != ignore_index
        clamped = np.clip(np.where(kept, t, 0), 0, n_classes - 1)  # bug: no range check
        w = np.ones(n_classes, dtype=dtype) if weight is None else np.asarray(weight, dtype)
        picked = np.take_along_axis(log_p, clamped[..., None], -1)[..., 0]
        loss = np.where(kept, -w[clamped] * picked, 0.0).astype(dtype)
        if reduction == "none":
            return loss[0] if squeeze else loss
        if reduction == "sum":
            return np.asarray(loss.sum(), dtype=dtype)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray(loss.sum() / kept.sum(), dtype=dtype)  # bug: not sum of weights
        raise ValueError(f"{reduction} is not a valid value for reduction")
