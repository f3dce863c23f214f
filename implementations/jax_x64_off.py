"""jax.x64-off: the ``jax`` port run as JAX runs by default, with x64 off, fed float64.

A user who has not set ``jax_enable_x64`` and hands JAX float64 NumPy arrays gets float32
arithmetic (and int32 labels): JAX casts on the way in, warning once. This column is the ``jax``
port (torch's semantics, see ``implementations.jax_port``) under
``implementations.frameworks.jax_x64_off()``, so that every difference it shows is the
precision, not the formulas. It declares float64 only: the column asks what a float64 request
gets. The context is thread-local and jit caches key on it, so the process-wide x64 that the
other JAX adapters need (in-process tests load them side by side) is left on.
"""

from __future__ import annotations

import warnings

from implementations import frameworks
from implementations.adapter import Arguments, Result
from implementations.base import Call, DType
from implementations.jax_port import JaxPortImplementation


class JaxX64Off(JaxPortImplementation):
    """The ``jax`` port at JAX's default precision (x64 off)."""

    name = "jax.x64-off"
    dtypes: tuple[DType, ...] = ("float64",)

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """The port's loss and gradient, computed with x64 off."""
        with frameworks.jax_x64_off(), warnings.catch_warnings():
            # "Explicitly requested dtype float64 ... will be truncated": what is being tested
            warnings.simplefilter("ignore", UserWarning)
            return super().evaluate(args, call)
