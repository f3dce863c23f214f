"""The ports run the other way their framework runs code: one column each next to the default.

Users run a loss both eagerly and compiled, and a compiler changes numerics and edge behaviour
(fusion, reassociation, how a NaN or an empty array travels through a fused kernel). These
variants change only how the port's code is executed, so that every difference they show is
the execution mode, not the formulas:

* ``jax.eager``: the ``jax`` port (``implementations.jax_port``, jit-compiled by default) under
  ``jax.disable_jit()``, which is how a JAX user runs jitted code eagerly (to debug it, or to
  compare): every ``jax.numpy`` operation is dispatched one by one, and ``jax.value_and_grad``
  differentiates them as they run. The context is thread-local, so the jitted column in the
  same process keeps its programs.
* ``tensorflow.function``: the ``tensorflow`` port (``implementations.tf_port``, eager by
  default) under ``tf.function``, as a TensorFlow user decorates a loss
  (``TfPortImplementation(function=True)``): traced to a graph per shape and plan, run by
  TensorFlow's graph executor (Grappler's rewrites included), the gradient through the traced
  function's gradient. ``reduce_retracing`` is not used: the port reads static shapes, as most
  losses written for ``tf.function`` do.

Each variant declares every dtype its port has: the execution mode is its own axis, and a
compiler's numerics differ most in the low precisions. The ``torch.compile`` column is
``implementations.torch_compile``.
"""

from __future__ import annotations

from implementations import frameworks
from implementations.adapter import Arguments, Result
from implementations.base import Call
from implementations.jax_port import JaxPortImplementation
from implementations.tf_port import TfPortImplementation


class JaxEager(JaxPortImplementation):
    """The ``jax`` port without jit (``jax.disable_jit()``)."""

    name = "jax.eager"

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """The port's loss and gradient, every operation dispatched eagerly."""
        with frameworks.jax().disable_jit():
            return super().evaluate(args, call)


class TfFunction(TfPortImplementation):
    """The ``tensorflow`` port under ``tf.function``."""

    name = "tensorflow.function"

    def __init__(self) -> None:
        super().__init__(function=True)
