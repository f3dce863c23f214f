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
training step would be; the smoothing value is traced. Constructing the adapter loads JAX
through ``implementations.frameworks``, which turns on ``jax_enable_x64`` (process-wide).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from implementations import frameworks
from implementations._convert import canonical_device, user_reduction
from implementations.adapter import Adapter, Arguments, Result
from implementations.base import Call
from implementations.dtypes import is_floating


@dataclass(frozen=True)
class _Config:
    """The static part of a call: one jit compilation per configuration and shapes."""

    reduction: str
    probabilities: bool
    smooth: bool  # label_smoothing != 0: the smoothing itself is a traced argument
    axis: int

    @classmethod
    def of(cls, call: Call) -> _Config:
        """The configuration of ``call``."""
        return cls(call.reduction, call.target_kind == "probabilities",
                   call.label_smoothing != 0.0, call.class_axis)


class OptaxImplementation(Adapter):
    """optax's softmax cross-entropy losses, jit-compiled; no weights, no ignore_index."""

    name = "jax.optax"
    framework = "jax"

    def __init__(self) -> None:
        self._jax = frameworks.jax()
        self._optax = frameworks.optax()
        jit = partial(self._jax.jit, static_argnames=("config",))
        self._jit_loss = jit(self._loss)
        self._jit_grad = jit(self._jax.value_and_grad(self._summed_loss, has_aux=True))

    def limits(self, call: Call) -> str | None:
        """What optax's two losses cannot express."""
        if call.has_weight:
            return "optax has no class weights"
        if call.uses_ignore_index:
            return "optax has no ignore_index"
        if call.target_kind == "indices" and call.label_smoothing != 0.0:
            return ("optax's softmax_cross_entropy_with_integer_labels has no label smoothing "
                    "(optax.smooth_labels needs one-hot labels)")
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
        jnp = self._jax.numpy
        return user_reduction(per_example, config.reduction, jnp.sum, jnp.mean)

    def _summed_loss(self, logits: Any, labels: Any, alpha: Any,
                     config: _Config) -> tuple[Any, Any]:
        loss = self._loss(logits, labels, alpha, config)
        return self._jax.numpy.sum(loss), loss

    def _device(self, device: str) -> Any:
        name = "gpu" if canonical_device(device) == "cuda" else device
        return self._jax.devices(name)[0]

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """optax's loss, reduced as a user would; the gradient through
        ``jax.value_and_grad``."""
        x, t, _ = args.cast()
        alpha = np.asarray(args.label_smoothing, dtype=x.dtype if is_floating(x.dtype) else None)
        arrays = self._jax.device_put((x, t, alpha), self._device(args.device))
        config = _Config.of(call)
        if not call.gradient:
            return np.asarray(self._jit_loss(*arrays, config=config)), None
        (_, loss), grad = self._jit_grad(*arrays, config=config)
        return np.asarray(loss), np.asarray(grad)
