"""jax.optax: optax's own softmax cross-entropy losses, as a user would call them.

* Class indices: ``optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels,
  axis=class_axis)``. Probabilities: ``optax.losses.softmax_cross_entropy(..., axis=...)``.
  Both take the class axis as an argument, so the input keeps torch's layout.
* Label smoothing: ``optax.smooth_labels(labels, label_smoothing, axis=...)`` on probability
  targets whenever ``label_smoothing != 0`` (optax's formula is torch's, but it is applied to
  any value: negative, NaN and > 1 go through unchecked). The integer-label loss has no
  smoothing, and one-hot encoding the indices would be emulation, so it is unsupported there.
* Reductions: the per-example losses as they come (``none``), ``jnp.sum`` or ``jnp.mean`` over
  all of them, as a user would; ``mean`` is the plain mean whatever the targets.
* No class weights and no ``ignore_index`` in optax: unsupported. A target equal to the
  default ``-100`` is passed to optax unchanged (there is nothing to ignore it).

Each (reduction, kind, smoothing or not, axis, shapes) is jit-compiled once, as a user's
training step would be; the smoothing value is traced. Constructing the adapter turns on
``jax_enable_x64`` (process-wide) for float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from implementations import require
from implementations._convert import canonical_device
from implementations._dtypes import cast_floating, is_floating
from implementations.base import ALL_DTYPES, DEFAULT_IGNORE_INDEX, Array, Call, target_kind


@dataclass(frozen=True)
class _Config:
    """The static part of a call: one jit compilation per configuration and shapes."""

    reduction: str
    probabilities: bool
    smooth: bool  # label_smoothing != 0: the smoothing itself is a traced argument
    axis: int


def _reduce(jnp: Any, losses: Any, reduction: str) -> Any:
    """A user's reduction of optax's per-example losses."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return jnp.sum(losses)
    if reduction == "mean":
        return jnp.mean(losses)
    raise ValueError(f"{reduction} is not a valid value for reduction")


class OptaxImplementation:
    """optax's softmax cross-entropy losses, jit-compiled; no weights, no ignore_index."""

    name = "jax.optax"
    dtypes = ALL_DTYPES

    def __init__(self) -> None:
        self._jax = require("jax", extra="jax")
        self._optax = require("optax", extra="jax")
        self._jax.config.update("jax_enable_x64", True)
        jit = partial(self._jax.jit, static_argnames=("config",))
        self._jit_loss = jit(self._loss)
        self._jit_grad = jit(self._jax.value_and_grad(self._summed_loss, has_aux=True))

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where JAX sees a GPU (``gpu`` is accepted as an alias)."""
        try:
            self._jax.devices("gpu")
        except RuntimeError:
            return ("cpu",)
        return ("cpu", "cuda")

    def supports(self, call: Call) -> str | None:
        """What optax's two losses can express."""
        if call.has_weight:
            return "optax has no class weights"
        if call.uses_ignore_index:
            return "optax has no ignore_index"
        if call.target_kind == "indices" and call.label_smoothing != 0.0:
            return ("optax's softmax_cross_entropy_with_integer_labels has no label smoothing "
                    "(optax.smooth_labels needs one-hot labels)")
        if canonical_device(call.device) not in self.devices:
            return f"jax sees no {call.device} device"
        return None

    def versions(self) -> dict[str, str]:
        """optax's and jax's versions."""
        return {"optax": str(self._optax.__version__), "jax": str(self._jax.__version__)}

    def _loss(self, logits: Any, labels: Any, alpha: Any, config: _Config) -> Any:
        losses = self._optax.losses
        if not config.probabilities:
            per_example = losses.softmax_cross_entropy_with_integer_labels(
                logits, labels, config.axis)
        else:
            if config.smooth:
                labels = self._optax.smooth_labels(labels, alpha, axis=config.axis)
            per_example = losses.softmax_cross_entropy(logits, labels, config.axis)
        return _reduce(self._jax.numpy, per_example, config.reduction)

    def _summed_loss(self, logits: Any, labels: Any, alpha: Any,
                     config: _Config) -> tuple[Any, Any]:
        loss = self._loss(logits, labels, alpha, config)
        return self._jax.numpy.sum(loss), loss

    def _prepare(self, input: Array, target: Array, reduction: str, label_smoothing: float,
                 dtype: str, device: str) -> tuple[tuple[Any, ...], _Config]:
        x, t = cast_floating(input, dtype), cast_floating(target, dtype)
        config = _Config(reduction, target_kind(x, t) == "probabilities",
                         label_smoothing != 0.0, 0 if x.ndim == 1 else 1)
        alpha = np.asarray(label_smoothing, dtype=x.dtype if is_floating(x.dtype) else None)
        return self._jax.device_put((x, t, alpha), self._device(device)), config

    def _device(self, device: str) -> Any:
        name = "gpu" if canonical_device(device) == "cuda" else device
        return self._jax.devices(name)[0]

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """optax's loss, reduced as a user would; ``weight`` and ``ignore_index`` are unused."""
        arrays, config = self._prepare(input, target, reduction, label_smoothing, dtype, device)
        return np.asarray(self._jit_loss(*arrays, config=config))

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Array, Array]:
        """The loss and d loss.sum() / d input through ``jax.value_and_grad``."""
        arrays, config = self._prepare(input, target, reduction, label_smoothing, dtype, device)
        (_, loss), grad = self._jit_grad(*arrays, config=config)
        return np.asarray(loss), np.asarray(grad)
