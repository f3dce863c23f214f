"""What the framework ports (``jax``, ``tensorflow``) share besides torch's checks: torch's
reductions, written once over the framework's own sum.

A port validates a call on the host with ``implementations.torch_rules.plan_call`` (a traced or
compiled function cannot raise on data), then computes per-row terms in the framework and
reduces them here. ``total(x, axis)`` is the framework's sum (``jnp.sum`` or
``tf.reduce_sum``); the terms are the framework's tensors, rows first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from implementations.torch_rules import CallPlan

Total = Callable[..., Any]


def reduce_index_terms(nll: Any, smooth: Any, w_y: Any, plan: CallPlan, total: Total) -> Any:
    """Class indices: reduce the NLL and smoothing terms as torch does, then combine them.

    ``mean`` divides both by the target weights of the rows torch keeps (0/0 is NaN)."""
    if plan.reduction == "none":
        nll_r, smooth_r = nll, smooth
    elif plan.reduction == "sum":
        nll_r, smooth_r = total(nll), total(smooth)
    else:
        denominator = total(w_y)
        nll_r, smooth_r = total(nll) / denominator, total(smooth) / denominator
    if plan.smoothing == 0.0:
        return nll_r
    return (1.0 - plan.smoothing) * nll_r + smooth_r * plan.smoothing_per_class


def reduce_probability_terms(logp: Any, target: Any, weight: Any | None, plan: CallPlan,
                             total: Total, nan: Callable[[], Any]) -> Any:
    """Probabilities: smooth the target, weigh, reduce; ``mean`` divides by the rows (the
    weights are not in the denominator) and is ``nan()`` for an empty input, as in torch."""
    if plan.smoothing:
        target = target * (1.0 - plan.smoothing) + plan.smoothing_per_class
    products = logp * target if weight is None else logp * target * weight
    if plan.reduction == "none":
        return -total(products, axis=1)
    if plan.reduction == "sum":
        return -total(products)
    rows, n_classes = logp.shape
    if rows * n_classes == 0:
        return nan()
    return -total(products) / rows
