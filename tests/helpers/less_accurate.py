"""A deliberately inaccurate implementation for the accuracy meta tests: plain class-index
cross-entropy in float32 that forms each row's log-sum-exp and then subtracts the target's
logit. With a large common offset on the logits (1e4) the log-sum-exp is rounded at the
offset's scale, so the loss carries an error of about an ULP of 1e4: within the tolerance
bound (which allows for exactly that cancellation) but thousands of times torch's error, since
torch subtracts the row maximum before it rounds anything."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations.base import Call, Unsupported


class LseThenSubtract:
    """``lse-then-subtract``: ``logsumexp(x) - x[y]`` in float32, plain calls only."""

    name = "lse-then-subtract"
    dtypes = ("float32",)

    def supports(self, call: Call) -> str | None:
        """Only (N, C) class indices without weights, ignore_index or smoothing."""
        plain = (call.target_kind == "indices" and len(call.input_shape) == 2
                 and not call.has_weight and call.label_smoothing == 0.0)
        return None if plain else "plain (N, C) class indices only"

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float32",
                      device: str = "cpu") -> np.ndarray:
        """The loss, computed the inaccurate way."""
        if weight is not None or label_smoothing:
            raise Unsupported("plain (N, C) class indices only")
        x = np.asarray(input, dtype=np.float32)
        m = np.max(x, axis=1)
        lse = m + np.log(np.sum(np.exp(x - m[:, None]), axis=1))
        losses = (lse - x[np.arange(len(x)), np.asarray(target)]).astype(np.float32)
        if reduction == "none":
            return losses
        total = np.sum(losses, dtype=np.float32)
        return np.asarray(total if reduction == "sum" else total / np.float32(len(x)))
