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

The gradient is analytic: d(-log p[i, k]) / dx[i, j] = p[i, j] - [j == k].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from implementations.base import DEFAULT_IGNORE_INDEX, REDUCTIONS, Array, target_kind


@dataclass(frozen=True)
class _Rows:
    """A validated call, reshaped to rows: ``logits`` is ``(M, C)``."""

    logits: Array
    target: Array  # (M,) int64 indices, or (M, C) float64 probabilities
    weight: Array | None
    out_shape: tuple[int, ...]  # shape of the unreduced loss
    class_axis: int
    input_shape: tuple[int, ...]
    probabilities: bool


def _as_rows(input: Array, target: Array, weight: Array | None, ignore_index: int,
             reduction: str, label_smoothing: float) -> _Rows:
    x = np.asarray(input)
    t = np.asarray(target)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if x.ndim == 0:
        raise ValueError("input must have at least one dimension (C), got a 0-d array")
    if x.dtype.kind != "f":
        raise TypeError(f"input must be floating point, got {x.dtype}")
    if label_smoothing > 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_axis]
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
        if weight.shape != (n_classes,):
            raise ValueError(
                f"weight should have one entry for each of the {n_classes} classes, "
                f"got shape {weight.shape}"
            )
    n_rows = int(np.prod(x.shape[:class_axis] + x.shape[class_axis + 1:], dtype=np.int64))
    logits = np.moveaxis(x.astype(np.float64), class_axis, -1).reshape(n_rows, n_classes)
    if target_kind(x, t) == "probabilities":
        return _prob_rows(x, t, logits, weight, ignore_index, class_axis)
    if x.ndim == 1 and t.shape == (1,):
        t = _unbatched_single_target(t, label_smoothing)
    return _index_rows(x, t, logits, weight, ignore_index, class_axis)


def _unbatched_single_target(t: Array, label_smoothing: float) -> Array:
    """torch quirk: a (C,) input takes a (1,) target as if 0-d, but only without smoothing
    (with smoothing its broadcast fails; its backward fails either way)."""
    if _smoothing(label_smoothing) > 0.0:
        raise ValueError("a (C,) input needs a 0-d target when label_smoothing > 0, got shape (1,)")
    return t.reshape(())


def _prob_rows(x: Array, t: Array, logits: Array, weight: Array | None, ignore_index: int,
               class_axis: int) -> _Rows:
    if t.dtype.kind != "f":
        raise TypeError(f"class-probability targets must be floating point, got {t.dtype}")
    if ignore_index >= 0:
        raise ValueError(
            f"ignore_index={ignore_index} is not supported with class-probability targets"
        )
    probs = np.moveaxis(t.astype(np.float64), class_axis, -1).reshape(logits.shape)
    out_shape = x.shape[:class_axis] + x.shape[class_axis + 1:]
    return _Rows(logits, probs, weight, out_shape, class_axis, x.shape, True)


def _index_rows(x: Array, t: Array, logits: Array, weight: Array | None, ignore_index: int,
                class_axis: int) -> _Rows:
    if t.dtype not in (np.dtype(np.int64), np.dtype(np.uint8)):
        raise TypeError(f"class-index targets must be int64 (or uint8), got {t.dtype}")
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        raise ValueError(
            f"target shape {t.shape} does not match input shape {x.shape}: expected {expected} "
            f"for class indices, or {x.shape} for class probabilities"
        )
    n_classes = logits.shape[1]
    flat = t.astype(np.int64).reshape(-1)
    bad = (flat != ignore_index) & ((flat < 0) | (flat >= n_classes))
    if bad.any():
        raise IndexError(f"Target {flat[bad][0]} is out of bounds for {n_classes} classes")
    return _Rows(logits, flat, weight, expected, class_axis, x.shape, False)


def _log_softmax(logits: Array) -> Array:
    """Row-wise log-softmax by log-sum-exp around the row maximum (no overflow)."""
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        return logits.copy()
    m = np.max(logits, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        shifted = logits - m
        return np.asarray(shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True)))


def _smoothing(label_smoothing: float) -> float:
    """torch applies smoothing only when ``label_smoothing > 0`` (negative and NaN mean 0)."""
    return float(label_smoothing) if label_smoothing > 0.0 else 0.0


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


def _index_terms(rows: _Rows, logp: Array, ignore_index: int, eps: float) -> _Terms:
    m, n_classes = logp.shape
    w = rows.weight if rows.weight is not None else np.ones(n_classes)
    valid = rows.target != ignore_index
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


def _prob_terms(rows: _Rows, logp: Array, eps: float) -> _Terms:
    n_classes = logp.shape[1]
    t = rows.target * (1.0 - eps) + _per_class(eps, n_classes) if eps > 0.0 else rows.target
    q = t * rows.weight[None, :] if rows.weight is not None else t
    with np.errstate(invalid="ignore"):
        losses = -np.sum(logp * q, axis=1)
    denominator = float(logp.shape[0]) if logp.size else 0.0  # torch: numel == 0 gives NaN
    return _Terms(losses, denominator, q, np.ones(logp.shape[0], dtype=bool))


def _terms(rows: _Rows, ignore_index: int, label_smoothing: float) -> tuple[Array, _Terms]:
    logp = _log_softmax(rows.logits)
    eps = _smoothing(label_smoothing)
    if rows.probabilities:
        return logp, _prob_terms(rows, logp, eps)
    return logp, _index_terms(rows, logp, ignore_index, eps)


def _reduce(rows: _Rows, terms: _Terms, reduction: str) -> Array:
    if reduction == "none":
        return terms.losses.reshape(rows.out_shape)
    total = np.sum(terms.losses)
    if rows.probabilities:
        total = -np.sum(-terms.losses)  # torch negates the summed products: empty gives -0.
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        if terms.denominator == 0.0:
            return np.asarray(np.nan)
        return np.asarray(total / terms.denominator)


def _grad(rows: _Rows, logp: Array, terms: _Terms, reduction: str) -> Array:
    with np.errstate(invalid="ignore", over="ignore"):
        g = np.exp(logp) * np.sum(terms.q, axis=1, keepdims=True) - terms.q
    if reduction == "mean" and terms.denominator == 0.0:
        # torch: 1/0 times each row's weights; rows not ignored become NaN, ignored rows stay 0
        g = np.where(terms.valid[:, None], np.nan, 0.0) * np.ones_like(g)
    elif reduction == "mean":
        g = g / terms.denominator
    moved = rows.input_shape[:rows.class_axis] + rows.input_shape[rows.class_axis + 1:]
    moved += rows.input_shape[rows.class_axis:rows.class_axis + 1]
    return np.moveaxis(g.reshape(moved), -1, rows.class_axis)


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
             ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
             label_smoothing: float = 0.0) -> tuple[Array, Array, Decomposition]:
    """The loss, the gradient of its sum, and the row-wise pieces, from one evaluation."""
    rows = _as_rows(input, target, weight, ignore_index, reduction, label_smoothing)
    logp, terms = _terms(rows, ignore_index, label_smoothing)
    parts = Decomposition(rows.logits, logp, terms.q, terms.losses, terms.denominator,
                          terms.valid)
    return _reduce(rows, terms, reduction), _grad(rows, logp, terms, reduction), parts


def decompose(input: Array, target: Array, weight: Array | None = None,
              ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
              label_smoothing: float = 0.0) -> Decomposition:
    """Validate a call like ``cross_entropy`` and return its row-wise pieces."""
    return evaluate(input, target, weight, ignore_index, reduction, label_smoothing)[2]


class ReferenceImplementation:
    """NumPy float64 reference: the oracle every other implementation is compared with."""

    name = "reference"
    dtypes = ("float64",)
    devices = ("cpu",)

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """Cross-entropy as torch defines it, in float64 (``dtype`` is accepted and ignored)."""
        rows = _as_rows(input, target, weight, ignore_index, reduction, label_smoothing)
        _, terms = _terms(rows, ignore_index, label_smoothing)
        return _reduce(rows, terms, reduction)

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Array, Array]:
        """The loss and the analytic gradient of ``loss.sum()`` with respect to ``input``."""
        value, grad, _ = evaluate(input, target, weight, ignore_index, reduction,
                                  label_smoothing)
        return value, grad

    def versions(self) -> dict[str, str]:
        """Provenance: the NumPy the reference ran on."""
        return {"numpy": np.__version__}


def cross_entropy(input: Array, target: Array, weight: Array | None = None,
                  ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Array:
    """Functional form of the reference."""
    return ReferenceImplementation().cross_entropy(
        input, target, weight, ignore_index, reduction, label_smoothing)


def value_and_grad(input: Array, target: Array, weight: Array | None = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                   label_smoothing: float = 0.0) -> tuple[Array, Array]:
    """Functional form of the reference's loss and analytic gradient."""
    return ReferenceImplementation().value_and_grad(
        input, target, weight, ignore_index, reduction, label_smoothing)
