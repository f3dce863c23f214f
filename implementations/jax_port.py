"""jax: a port of torch's cross-entropy semantics to ``jax.numpy``, jit-compiled.

torch's formulas (see ``implementations.reference``) written on ``jax.nn.log_softmax`` and a
gather, over rows: the input is moved to ``(M, C)`` with the class axis last, so one code path
serves ``(C)``, ``(N, C)`` and ``(N, C, d1, ..., dk)``. Arguments are checked on the host
first (``implementations.torch_rules``), since a compiled function cannot raise on data.

Compilation is cached by ``jax.jit`` itself, keyed on the static ``CallPlan`` and the shapes and
dtypes; ``implementations.frameworks.jax()`` keeps the compiled programs on disk too. What need
not be static is traced, so that one program serves more calls: ``ignore_index`` is an argument
(the plan's is blanked; a comparison, the same bits traced or constant). Weights stay a pytree
choice: passing weights of 1 for none, which would save a fifth of the programs, changes XLA's
fusion of the sums and with it the last bits of a loss (measured: 1-2 ulp, and NaN's sign). The
smoothing stays static too (``implementations._port`` branches on it): passing its factors
``(1 - e, e / C)`` traced would save a quarter of the programs, but XLA then emits other code
for the combination (measured 2026-12-03: 1-ulp differences on 120 of the spec's 2,696 calls in
four dtypes, and 41 fewer of those elements bit-equal to torch's).
Every step runs in the requested dtype, as torch's CPU kernels do: a float16 sum past 65504
overflows, as on torch's CPU (torch's CUDA kernels accumulate half precision in float32).
A compilation costs 0.1-0.5 s, a compiled (4, 5) call about 0.25 ms on CPU.

JAX is loaded by ``implementations.frameworks.jax()`` when the adapter is constructed (that
turns on ``jax_enable_x64``, so float64 and int64 targets stay 64-bit), not on import.
"""

from __future__ import annotations

import math
from importlib import metadata
from typing import Any

import numpy as np

from implementations import frameworks
from implementations._convert import canonical_device
from implementations._port import reduce_index_terms, reduce_probability_terms
from implementations.adapter import Adapter, Arguments, Result
from implementations.base import DEFAULT_IGNORE_INDEX, Array, Call
from implementations.torch_rules import CallPlan, plan_call


def _jnp() -> Any:
    """``jax.numpy`` (JAX is loaded by then: the adapter's constructor loaded it)."""
    return frameworks.jax().numpy


def _rows(x: Any, class_axis: int) -> Any:
    """``x`` as a ``(M, C)`` matrix, the class axis last (``M`` explicit: ``C`` may be 0)."""
    shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    return _jnp().moveaxis(x, class_axis, -1).reshape(math.prod(shape), x.shape[class_axis])


def _log_softmax(logits: Any) -> Any:
    return frameworks.jax().nn.log_softmax(logits, axis=-1) if logits.shape[1] else logits


def _index_losses(logp: Any, target: Any, weight: Any | None,
                  ignore_index: Any) -> tuple[Any, ...]:
    """Per row: ``-w[y] log p[y]``, the smoothing term ``-sum_c w[c] log p[c]``, and ``w[y]``."""
    jnp = _jnp()
    rows, n_classes = logp.shape
    valid = target != ignore_index
    safe = jnp.where(valid, target, 0)
    zeros = jnp.zeros(rows, logp.dtype)
    picked = jnp.take_along_axis(logp, safe[:, None], axis=1)[:, 0] if n_classes else zeros
    if weight is None:
        w_y = valid.astype(logp.dtype)
        smooth = -jnp.sum(logp, axis=1)
    else:
        w_y = jnp.where(valid, weight[safe], 0.0) if n_classes else zeros
        smooth = -jnp.sum(logp * weight, axis=1)
    nll = jnp.where(valid, -picked * w_y, 0.0)
    return nll, jnp.where(valid, smooth, 0.0), w_y


def _index_loss(logp: Any, target: Any, weight: Any | None, ignore_index: Any,
                plan: CallPlan) -> Any:
    nll, smooth, w_y = _index_losses(logp, target, weight, ignore_index)
    return reduce_index_terms(nll, smooth, w_y, plan, _jnp().sum)


def _probability_loss(logp: Any, target: Any, weight: Any | None, plan: CallPlan) -> Any:
    jnp = _jnp()
    return reduce_probability_terms(logp, target, weight, plan, jnp.sum,
                                    lambda: jnp.asarray(jnp.nan, logp.dtype))


def _loss(x: Any, target: Any, weight: Any | None, ignore_index: Any, plan: CallPlan) -> Any:
    """torch's loss for arrays already on their device, in ``x``'s dtype (``ignore_index``
    traced: see the module docstring)."""
    logp = _log_softmax(_rows(x, plan.class_axis))
    if plan.probabilities:
        loss = _probability_loss(logp, _rows(target, plan.class_axis), weight, plan)
    else:
        loss = _index_loss(logp, target.reshape(-1), weight, ignore_index, plan)
    out_shape = x.shape[:plan.class_axis] + x.shape[plan.class_axis + 1:]
    return loss.reshape(out_shape) if plan.reduction == "none" else loss


def _summed_loss(x: Any, target: Any, weight: Any | None, ignore_index: Any,
                 plan: CallPlan) -> tuple[Any, Any]:
    loss = _loss(x, target, weight, ignore_index, plan)
    return _jnp().sum(loss), loss


def _traced(plan: CallPlan) -> tuple[Array, CallPlan]:
    """``ignore_index`` as an array, and the plan with its ``ignore_index`` blanked: what the
    compiled programs take."""
    return np.asarray(plan.ignore_index, np.int64), \
        plan._replace(ignore_index=DEFAULT_IGNORE_INDEX)


class JaxPortImplementation(Adapter):
    """torch's semantics in ``jax.numpy``, jit-compiled; CPU, and a GPU where JAX sees one."""

    name = "jax"
    framework = "jax"

    def __init__(self) -> None:
        jax = frameworks.jax()
        self._jit_loss = jax.jit(_loss, static_argnames=("plan",))
        self._jit_grad = jax.jit(jax.value_and_grad(_summed_loss, has_aux=True),
                                 static_argnames=("plan",))

    def versions(self) -> dict[str, str]:
        """jax's and jaxlib's versions."""
        return {"jax": str(frameworks.jax().__version__), "jaxlib": metadata.version("jaxlib")}

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """torch's cross-entropy with floating arguments cast to ``dtype`` on ``device``; the
        gradient through ``jax.value_and_grad``."""
        x, t, w = args.cast()
        plan, t = plan_call(x, t, w, args.ignore_index, args.reduction, args.label_smoothing,
                            gradient=call.gradient)
        ignore_index, plan = _traced(plan)
        arrays = frameworks.jax().device_put((x, t, w, ignore_index), _device(args.device))
        if not call.gradient:
            return np.asarray(self._jit_loss(*arrays, plan=plan)), None
        (_, loss), grad = self._jit_grad(*arrays, plan=plan)
        return np.asarray(loss), np.asarray(grad)


def _device(device: str) -> Any:
    """The JAX device for a contract device name (``cpu``; ``cuda`` or ``gpu``)."""
    if canonical_device(device) == "cuda":
        gpus = frameworks.jax_gpus()
        if not gpus:
            raise RuntimeError(f"jax sees no {device} device")
        return gpus[0]
    return frameworks.jax().devices(device)[0]
