"""The NumPy float64 reference, written from the formulas in torch's documentation.

No framework is called. Every step is vectorized over the batch and spatial positions: the input
is moved to a ``(M, C)`` matrix of rows (one per sample and spatial position) and the target to
``M`` entries, so one code path serves ``(C)``, ``(N, C)`` and ``(N, C, d1, ..., dk)``.

Semantics (each checked against torch itself, see ``tests/test_reference.py``):

* The target holds class probabilities exactly when ``target.shape == input.shape``.
* Class indices, per row ``i`` with target ``y`` and smoothing ``e`` (``e > 0`` only; ``e < 0``
  and NaN are taken as 0, as torch does)::

      nll_i    = -w[y] * log p[i, y]
      smooth_i = -sum_c w[c] * log p[i, c]
      loss_i   = (1 - e) * nll_i + e / C * smooth_i          (0 where y == ignore_index)

  ``mean`` divides both sums by ``sum_i w[y_i]`` over the rows that are not ignored; a zero
  denominator (empty batch, all ignored, all target weights zero) gives NaN.
* Probabilities ``t`` (smoothed to ``t * (1 - e) + e / C``)::

      loss_i = -sum_c w[c] * t[i, c] * log p[i, c]

  ``mean`` divides by the number of rows ``N * d1 * ... * dk`` (the weights are not in the
  denominator); empty input gives NaN. ``ignore_index >= 0`` raises; IEEE arithmetic is kept,
  so ``t = 0`` against ``log p = -inf`` gives NaN, as in torch.

The gradient is analytic: d(-log p[i, k]) / dx[i, j] = p[i, j] - [j == k]. Where torch's
backward refuses a call its forward accepts (a ``(C,)`` input with a ``(1,)`` target,
``torch_rules.check_backward``), ``value_and_grad`` raises ``RuntimeError`` as torch does;
``evaluate`` still returns the analytic gradient (the tolerance model and the properties use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from implementations._adapter import Adapter, Arguments, Result
from implementations.base import DEFAULT_IGNORE_INDEX, Array, Call, Reduction
from implementations.torch_rules import Plan, check_backward, plan_call


@dataclass(frozen=True)
class _Rows:
    """A validated call, reshaped to rows: ``logits`` is ``(M, C)``."""

    logits: Array
    target: Array  # (M,) int64 indices, or (M, C) float64 probabilities
    weight: Array | None
    out_shape: tuple[int, ...]  # shape of the unreduced loss
    input_shape: tuple[int, ...]
    plan: Plan


def _as_rows(input: Array, target: Array, weight: Array | None, ignore_index: int,
             reduction: Reduction, label_smoothing: float) -> _Rows:
    """Validate the call (``torch_rules``) and move the classes last, one row per position."""
    plan, t = plan_call(input, target, weight, ignore_index, reduction, label_smoothing)
    x = np.asarray(input)
    out_shape = x.shape[:plan.class_axis] + x.shape[plan.class_axis + 1:]
    shape = (math.prod(out_shape), plan.n_classes)
    logits = np.moveaxis(x.astype(np.float64), plan.class_axis, -1).reshape(shape)
    rows = np.moveaxis(t.astype(np.float64), plan.class_axis, -1).reshape(shape) \
        if plan.probabilities else t.reshape(-1)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    return _Rows(logits, rows, w, out_shape, x.shape, plan)


def _log_softmax(logits: Array) -> Array:
    """Row-wise log-softmax by log-sum-exp around the row maximum (no overflow)."""
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        return logits.copy()
    m = np.max(logits, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        shifted = logits - m
        return np.asarray(shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True)))


@dataclass(frozen=True)
class _Terms:
    """Per-row losses, the mean's denominator, and the per-row target vector ``q``.

    For every row the loss is ``-sum_c q[i, c] * log p[i, c]``, so the gradient of the row's
    loss with respect to its logits is ``p * sum_c q[i, c] - q[i]``.
    """

    losses: Array  # (M,)
    denominator: float
    q: Array  # (M, C)
    valid: Array  # (M,) rows that are not ignored


def _per_class(eps: float, n_classes: int) -> float:
    """``eps / C`` in IEEE arithmetic: with ``C == 0`` it is inf, and 0 * inf gives torch's NaN."""
    with np.errstate(divide="ignore"):
        return float(np.float64(eps) / n_classes)


def _index_terms(rows: _Rows, logp: Array) -> _Terms:
    m, n_classes = logp.shape
    eps = rows.plan.smoothing
    w = rows.weight if rows.weight is not None else np.ones(n_classes)
    valid = rows.target != rows.plan.ignore_index
    safe = np.where(valid, rows.target, 0)
    q = np.zeros((m, n_classes))
    w_y = nll = np.zeros(m)  # with C == 0 every target is ignored (else out of range)
    with np.errstate(invalid="ignore", over="ignore"):
        if n_classes:
            w_y = np.where(valid, w[safe], 0.0)
            q[np.arange(m), safe] = w_y * (1.0 - eps)
            nll = np.where(valid, -logp[np.arange(m), safe] * w_y, 0.0)
        losses = nll
        if eps > 0.0:
            q += np.where(valid[:, None], w[None, :] * _per_class(eps, n_classes), 0.0)
            smooth = np.where(valid, -np.sum(logp * w[None, :], axis=1), 0.0)
            losses = (1.0 - eps) * nll + _per_class(eps, n_classes) * smooth
    return _Terms(losses, float(np.sum(w_y)), q, valid)


def _prob_terms(rows: _Rows, logp: Array) -> _Terms:
    n_classes, eps = logp.shape[1], rows.plan.smoothing
    t = rows.target * (1.0 - eps) + _per_class(eps, n_classes) if eps > 0.0 else rows.target
    q = t * rows.weight[None, :] if rows.weight is not None else t
    with np.errstate(invalid="ignore"):
        losses = -np.sum(logp * q, axis=1)
    denominator = float(logp.shape[0]) if logp.size else 0.0  # torch: numel == 0 gives NaN
    return _Terms(losses, denominator, q, np.ones(logp.shape[0], dtype=bool))


def _terms(rows: _Rows) -> tuple[Array, _Terms]:
    logp = _log_softmax(rows.logits)
    if rows.plan.probabilities:
        return logp, _prob_terms(rows, logp)
    return logp, _index_terms(rows, logp)


def _reduce(rows: _Rows, terms: _Terms) -> Array:
    reduction = rows.plan.reduction
    if reduction == "none":
        return terms.losses.reshape(rows.out_shape)
    total = np.sum(terms.losses)
    if rows.plan.probabilities:
        total = -np.sum(-terms.losses)  # torch negates the summed products: empty gives -0.
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        if terms.denominator == 0.0:
            return np.asarray(np.nan)
        return np.asarray(total / terms.denominator)


def _grad(rows: _Rows, logp: Array, terms: _Terms) -> Array:
    reduction, axis = rows.plan.reduction, rows.plan.class_axis
    with np.errstate(invalid="ignore", over="ignore"):
        g = np.exp(logp) * np.sum(terms.q, axis=1, keepdims=True) - terms.q
    if reduction == "mean" and terms.denominator == 0.0:
        # torch: 1/0 times each row's weights; rows not ignored become NaN, ignored rows stay 0
        g = np.where(terms.valid[:, None], np.nan, 0.0) * np.ones_like(g)
    elif reduction == "mean":
        g = g / terms.denominator
    moved = rows.out_shape + rows.input_shape[axis:axis + 1]
    return np.moveaxis(g.reshape(moved), -1, axis)


@dataclass(frozen=True)
class Decomposition:
    """A call taken apart into rows, for the tolerance model and the metamorphic checks.

    ``logits`` and ``logp`` are ``(M, C)``; every row's loss is ``-sum_c q[i,c] * logp[i,c]``;
    ``denominator`` is what ``mean`` divides by; ``valid`` marks the rows not ignored.
    """

    logits: Array
    logp: Array
    q: Array
    losses: Array
    denominator: float
    valid: Array


def evaluate(input: Array, target: Array, weight: Array | None = None,
             ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
             label_smoothing: float = 0.0) -> tuple[Array, Array, Decomposition]:
    """The loss, the gradient of its sum, and the row-wise pieces, from one evaluation."""
    rows = _as_rows(input, target, weight, ignore_index, reduction, label_smoothing)
    logp, terms = _terms(rows)
    parts = Decomposition(rows.logits, logp, terms.q, terms.losses, terms.denominator,
                          terms.valid)
    return _reduce(rows, terms), _grad(rows, logp, terms), parts


def decompose(input: Array, target: Array, weight: Array | None = None,
              ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
              label_smoothing: float = 0.0) -> Decomposition:
    """Validate a call like ``cross_entropy`` and return its row-wise pieces."""
    return evaluate(input, target, weight, ignore_index, reduction, label_smoothing)[2]


class ReferenceImplementation(Adapter):
    """NumPy float64 reference: the oracle every other implementation is compared with."""

    name = "reference"
    framework = "numpy"
    dtypes = ("float64",)

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """Cross-entropy as torch defines it, in float64 (``dtype`` is accepted and ignored);
        the gradient is analytic, and refused (``RuntimeError``) where torch's backward refuses."""
        rows = _as_rows(args.input, args.target, args.weight, args.ignore_index, args.reduction,
                        args.label_smoothing)
        if call.gradient:
            check_backward(args.input, args.target)
        logp, terms = _terms(rows)
        return _reduce(rows, terms), _grad(rows, logp, terms) if call.gradient else None

    def versions(self) -> dict[str, str]:
        """Provenance: the NumPy the reference ran on."""
        return {"numpy": np.__version__}


def cross_entropy(input: Array, target: Array, weight: Array | None = None,
                  ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
                  label_smoothing: float = 0.0) -> Array:
    """Functional form of the reference."""
    return ReferenceImplementation().cross_entropy(
        input, target, weight, ignore_index, reduction, label_smoothing)


def value_and_grad(input: Array, target: Array, weight: Array | None = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
                   label_smoothing: float = 0.0) -> tuple[Array, Array]:
    """Functional form of the reference's loss and analytic gradient; ``RuntimeError`` where
    torch's backward refuses the call (``torch_rules.check_backward``)."""
    return ReferenceImplementation().value_and_grad(
        input, target, weight, ignore_index, reduction, label_smoothing)
