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

  ``mean`` divides both sums by ``D = sum_i w[y_i]`` over the rows that are not ignored. When
  ``D == 0`` it divides as torch does, each part on its own in IEEE arithmetic:
  ``(1 - e) * (sum nll / D) + e / C * (sum smooth / D)``, so a part is NaN where its sum is 0
  (empty batch, all ignored, all target weights zero) and +-inf where not (weights that cancel),
  and inf - inf is NaN.
* Probabilities ``t`` (smoothed to ``t * (1 - e) + e / C``)::

      loss_i = -sum_c w[c] * t[i, c] * log p[i, c]

  ``mean`` divides by the number of rows ``N * d1 * ... * dk`` (the weights are not in the
  denominator); empty input gives NaN. ``ignore_index >= 0`` raises; IEEE arithmetic is kept,
  so ``t = 0`` against ``log p = -inf`` gives NaN, as in torch.

The gradient is analytic: d(-log p[i, k]) / dx[i, j] = p[i, j] - [j == k]; with ``D == 0`` it
follows torch's backward step by step (``_zero_denominator_grad``). Where torch's
backward refuses a call its forward accepts (a ``(C,)`` input with a ``(1,)`` target,
``torch_rules.check_backward``), ``value_and_grad`` raises ``RuntimeError`` as torch does;
``evaluate`` still returns the analytic gradient (the tolerance model and the properties use it).

Large calls are computed in chunks of consecutive rows (about ``CHUNK_BYTES`` of logits each,
spread over ``WORKERS`` threads: NumPy's ufuncs release the GIL; ``ReferenceImplementation``
takes both as options), each chunk in reused scratch matrices and its gradient written into the
preallocated output, so a call needs its input (viewed, not copied, when it is contiguous
float64), its gradient and a few chunks of scratch.
Each row is computed by the same code whatever the chunking, so the result does not depend on
it, bit for bit (``tests/test_reference.py``). ``evaluate`` takes the whole call as one chunk and
keeps its ``(M, C)`` pieces (``Decomposition``, for the tolerance model and the properties).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from implementations.adapter import Adapter, Arguments, Result
from implementations.base import DEFAULT_IGNORE_INDEX, Array, Call, Reduction
from implementations.torch_rules import CallPlan, check_backward, plan_call

#: Default bytes of float64 logits per chunk of rows (a chunk holds at least one row).
CHUNK_BYTES = 1 << 22
#: Default number of threads one call's chunks are spread over (one chunk: the calling thread).
WORKERS = os.cpu_count() or 1


@dataclass(frozen=True)
class _Chunk:
    """Consecutive rows ``rows`` of a call: the block ``[n, :, s]`` of its ``(N, C, S)`` input."""

    n: slice
    s: slice
    rows: slice


def _as_matrix(block: Array) -> Array:
    """An ``(n, C, s)`` block as its ``(n * s, C)`` rows (a view where NumPy can make one)."""
    n, c, s = block.shape
    return np.moveaxis(block, 1, -1).reshape(n * s, c)


@dataclass(frozen=True)
class _Rows:
    """A validated call, its input viewed as ``(N, C, S)``: samples, classes, and the spatial
    positions flattened (a ``(C,)`` input is ``(1, C, 1)``). Row ``n * S + s`` of the ``(M, C)``
    matrix of rows is sample ``n`` at position ``s``."""

    input: Array  # (N, C, S) float64
    target: Array  # (M,) int64 indices, or (N, C, S) float64 probabilities
    weight: Array | None
    out_shape: tuple[int, ...]  # shape of the unreduced loss
    input_shape: tuple[int, ...]
    plan: CallPlan

    @property
    def n_rows(self) -> int:
        """``M``, the number of rows."""
        return int(self.input.shape[0] * self.input.shape[2])

    def whole(self) -> _Chunk:
        """All rows as one chunk."""
        return _Chunk(slice(None), slice(None), slice(0, self.n_rows))

    def chunks(self, chunk_bytes: int) -> list[_Chunk]:
        """Consecutive rows, about ``chunk_bytes`` of logits each: part of one sample's
        positions, or whole samples."""
        n, c, s = self.input.shape
        per = max(1, chunk_bytes // max(1, 8 * c))
        if s == 0:
            return []
        if s >= per:
            return [_Chunk(slice(i, i + 1), slice(j, min(j + per, s)),
                           slice(i * s + j, i * s + min(j + per, s)))
                    for i in range(n) for j in range(0, s, per)]
        step = per // s
        return [_Chunk(slice(i, i + step), slice(None), slice(i * s, min(i + step, n) * s))
                for i in range(0, n, step)]

    def logits(self, chunk: _Chunk) -> Array:
        """The chunk's ``(rows, C)`` logits."""
        return _as_matrix(self.input[chunk.n, :, chunk.s])

    def probabilities(self, chunk: _Chunk) -> Array:
        """The chunk's ``(rows, C)`` target probabilities."""
        return _as_matrix(self.target[chunk.n, :, chunk.s])

    def class_weights(self) -> Array:
        """The weights, ones where none are given."""
        return self.weight if self.weight is not None else np.ones(self.plan.n_classes)


def _as_rows(input: Array, target: Array, weight: Array | None, ignore_index: int,
             reduction: Reduction, label_smoothing: float) -> _Rows:
    """Validate the call (``torch_rules``) and view it as ``(N, C, S)`` (no copy for a
    contiguous float64 input)."""
    plan, t = plan_call(input, target, weight, ignore_index, reduction, label_smoothing)
    x, axis = np.asarray(input, dtype=np.float64), plan.class_axis
    out_shape = x.shape[:axis] + x.shape[axis + 1:]
    shape = (math.prod(x.shape[:axis]), plan.n_classes, math.prod(x.shape[axis + 1:]))
    rows = np.asarray(t, dtype=np.float64).reshape(shape) if plan.probabilities \
        else t.reshape(-1)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    return _Rows(x.reshape(shape), rows, w, out_shape, x.shape, plan)


@dataclass(frozen=True)
class _Targets:
    """Per row of the whole call: ``valid`` (not ignored) and, for class indices, the class
    (``index``, 0 where ignored) and its weight (``weight``, 0 where ignored)."""

    valid: Array
    index: Array
    weight: Array
    denominator: float  # what ``mean`` divides by

    def __getitem__(self, rows: slice) -> _Targets:
        return _Targets(self.valid[rows], self.index[rows], self.weight[rows], self.denominator)


def _targets(rows: _Rows) -> _Targets:
    """The targets' rows and the mean's denominator: ``sum_i w[y_i]`` over the rows not ignored
    for class indices, ``M`` for probabilities (0 for an empty input: torch gives NaN)."""
    m = rows.n_rows
    if rows.plan.probabilities:
        none = np.zeros(m, dtype=np.int64)
        denominator = float(m) if m * rows.plan.n_classes else 0.0
        return _Targets(np.ones(m, dtype=bool), none, none.astype(np.float64), denominator)
    valid = rows.target != rows.plan.ignore_index
    index = np.where(valid, rows.target, 0)
    w_y = np.zeros(m)  # with C == 0 every target is ignored (else out of range)
    if rows.plan.n_classes:
        w_y = np.where(valid, rows.class_weights()[index], 0.0)
    return _Targets(valid, index, w_y, float(np.sum(w_y)))


@dataclass(frozen=True)
class _Workspace:
    """Matrices a chunk is computed in, reused from chunk to chunk (a fresh large temporary
    per NumPy operation costs more than the operation): ``logp``, ``q`` and ``scratch``."""

    logp: Array
    q: Array
    scratch: Array

    @classmethod
    def of(cls, n_rows: int, n_classes: int) -> _Workspace:
        """Room for chunks of up to ``n_rows`` rows."""
        return cls(*(np.empty((n_rows, n_classes)) for _ in range(3)))

    def take(self, n_rows: int) -> _Workspace:
        """The first ``n_rows`` rows of each matrix (contiguous)."""
        return _Workspace(self.logp[:n_rows], self.q[:n_rows], self.scratch[:n_rows])


def _log_softmax(logits: Array, out: Array, scratch: Array) -> Array:
    """Row-wise log-softmax into ``out``, by log-sum-exp around the row maximum (no
    overflow)."""
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        return out
    m = np.max(logits, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        np.subtract(logits, m, out=out)
        np.exp(out, out=scratch)
        np.subtract(out, np.log(np.sum(scratch, axis=1, keepdims=True)), out=out)
    return out


def _index_losses(rows: _Rows, part: _Targets, logp: Array, scratch: Array,
                  parts: Array | None) -> Array:
    """``(1 - e) * nll_i + e / C * smooth_i`` (0 where ignored); with smoothing and ``parts``
    (``(2, rows)``), ``nll_i`` and ``smooth_i`` are also written into its two rows."""
    m, n_classes = logp.shape
    eps = rows.plan.smoothing
    nll = np.zeros(m)
    with np.errstate(invalid="ignore", over="ignore"):
        if n_classes:
            nll = np.where(part.valid, -logp[np.arange(m), part.index] * part.weight, 0.0)
        if eps <= 0.0:
            return nll
        weighted = np.multiply(logp, rows.class_weights(), out=scratch)
        smooth = np.where(part.valid, -np.sum(weighted, axis=1), 0.0)
        if parts is not None:
            parts[0], parts[1] = nll, smooth
        return (1.0 - eps) * nll + rows.plan.smoothing_per_class * smooth


def _index_q(rows: _Rows, part: _Targets, out: Array) -> Array:
    """The rows' target vectors into ``out``: ``(1 - e) * w[y]`` at ``y`` plus ``e / C * w``
    (0 where ignored), so that each row's loss is ``-sum_c q[i, c] * log p[i, c]``."""
    eps = rows.plan.smoothing
    out.fill(0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        if out.shape[1]:
            out[np.arange(len(out)), part.index] = part.weight * (1.0 - eps)
        if eps > 0.0:
            np.add(out, rows.class_weights() * rows.plan.smoothing_per_class, out=out,
                   where=part.valid[:, None])
    return out


def _probability_q(rows: _Rows, chunk: _Chunk, out: Array) -> Array:
    """The smoothed probabilities ``t * (1 - e) + e / C``, times the weights, into ``out``."""
    eps, t = rows.plan.smoothing, rows.probabilities(chunk)
    if eps > 0.0:
        np.multiply(t, 1.0 - eps, out=out)
        np.add(out, rows.plan.smoothing_per_class, out=out)
    else:
        np.copyto(out, t)
    if rows.weight is not None:
        np.multiply(out, rows.weight, out=out)
    return out


def _chunk_terms(rows: _Rows, targets: _Targets, chunk: _Chunk, space: _Workspace,
                 gradient: bool, parts: Array | None) -> tuple[Array, Array]:
    """A chunk's per-row losses, with its ``log p`` in ``space.logp``, (with ``gradient``
    or probabilities) its target vectors in ``space.q`` and (given ``parts``, ``_split_parts``)
    the chunk's columns of ``parts``."""
    logp = _log_softmax(rows.logits(chunk), space.logp, space.scratch)
    if rows.plan.probabilities:
        q = _probability_q(rows, chunk, space.q)
        with np.errstate(invalid="ignore"):
            return logp, -np.sum(np.multiply(logp, q, out=space.scratch), axis=1)
    part = targets[chunk.rows]
    if gradient:
        _index_q(rows, part, space.q)
    chunk_parts = None if parts is None else parts[:, chunk.rows]
    return logp, _index_losses(rows, part, logp, space.scratch, chunk_parts)


def _grad_rows(rows: _Rows, logp: Array, q: Array, part: _Targets, out: Array) -> None:
    """Write the chunk's gradient of the reduced loss, ``p * sum_c q[i, c] - q[i]``, into
    ``out`` (divided by the denominator for ``mean``)."""
    mean = rows.plan.reduction == "mean"
    if mean and part.denominator == 0.0 and not rows.plan.probabilities:
        _zero_denominator_grad(rows, logp, part, out)
        return
    with np.errstate(invalid="ignore", over="ignore"):
        np.exp(logp, out=out)
        np.multiply(out, np.sum(q, axis=1, keepdims=True), out=out)
        np.subtract(out, q, out=out)
        if mean:
            np.divide(out, part.denominator, out=out)


def _zero_denominator_grad(rows: _Rows, logp: Array, part: _Targets, out: Array) -> None:
    """torch's backward when the mean divides by ``D == 0``, step by step into ``out``:
    nll_loss puts ``-w[y] * ((1 - e) / D)`` at each valid row's target (NaN where ``w[y]`` or
    ``1 - e`` is 0, +-inf elsewhere), the smoothing term adds ``-w[c] * (e / C / D)`` to every
    class of a valid row, and log_softmax's backward gives ``g - p * sum_c g`` (ignored rows:
    ``0 - p * 0``). Rare, so ``p`` is a temporary of the chunk's size."""
    eps, d = rows.plan.smoothing, np.float64(part.denominator)
    out.fill(0.0)
    if out.shape[1] == 0:
        return
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        at_target = -part.weight * (np.float64(1.0 - eps) / d)
        out[np.arange(len(out)), part.index] = np.where(part.valid, at_target, 0.0)
        if eps > 0.0:
            np.add(out, -rows.class_weights() * (np.float64(rows.plan.smoothing_per_class) / d),
                   out=out, where=part.valid[:, None])
        total = np.sum(out, axis=1, keepdims=True)
        p = np.exp(logp)
        np.subtract(out, np.multiply(p, total, out=p), out=out)


def _store_grad(rows: _Rows, chunk: _Chunk, space: _Workspace, part: _Targets,
                grad: Array) -> None:
    """The chunk's gradient into its place in ``grad`` (shaped like the input)."""
    dest = np.moveaxis(grad.reshape(rows.input.shape)[chunk.n, :, chunk.s], 1, -1)
    try:
        view = np.reshape(dest, space.logp.shape, copy=False)
    except ValueError:  # rows of several samples of a K-dim input are not one strided matrix
        _grad_rows(rows, space.logp, space.q, part, space.scratch)
        dest[...] = space.scratch.reshape(dest.shape)
        return
    _grad_rows(rows, space.logp, space.q, part, view)


def _split_parts(rows: _Rows, targets: _Targets) -> Array | None:
    """Room for each row's ``nll_i`` and ``smooth_i`` (``(2, M)``) where the mean needs them
    apart: class indices, smoothing and a zero denominator (``_mean``); else None."""
    if rows.plan.probabilities or rows.plan.reduction != "mean" or rows.plan.smoothing <= 0.0 \
            or targets.denominator != 0.0:
        return None
    return np.empty((2, rows.n_rows))


def _mean(rows: _Rows, total: np.float64, denominator: float, parts: Array | None) -> Array:
    """``total / D`` in IEEE arithmetic; with ``parts`` (``D == 0``, smoothing) as torch
    computes it, ``(1 - e) * (sum nll / D) + e / C * (sum smooth / D)``, each part NaN or +-inf
    on its own. Probabilities: ``D == 0`` only for an empty input, NaN."""
    d = np.float64(denominator)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if rows.plan.probabilities and d == 0.0:
            return np.asarray(np.nan)
        if parts is None:
            return np.asarray(total / d)
        nll, smooth = np.sum(parts[0]) / d, np.sum(parts[1]) / d
        return np.asarray((1.0 - rows.plan.smoothing) * nll
                          + rows.plan.smoothing_per_class * smooth)


def _reduce(rows: _Rows, losses: Array, denominator: float,
            parts: Array | None = None) -> Array:
    reduction = rows.plan.reduction
    if reduction == "none":
        return losses.reshape(rows.out_shape)
    total = np.sum(losses)
    if rows.plan.probabilities:
        total = -np.sum(-losses)  # torch negates the summed products: empty gives -0.
    if reduction == "sum":
        return np.asarray(total)
    return _mean(rows, total, denominator, parts)


def _in_chunks(rows: _Rows, gradient: bool, chunk_bytes: int,
               workers: int) -> tuple[Array, Array | None]:
    """The loss and (with ``gradient``) the gradient of its sum, chunk by chunk on up to
    ``workers`` threads; nothing of size ``(M, C)`` is kept but the gradient."""
    targets = _targets(rows)
    losses, parts = np.empty(rows.n_rows), _split_parts(rows, targets)
    grad = np.empty(rows.input_shape) if gradient else None

    def run(chunks: list[_Chunk]) -> None:
        space = _Workspace.of(max(_size(c) for c in chunks), rows.plan.n_classes)
        for chunk in chunks:
            part = space.take(_size(chunk))
            losses[chunk.rows] = _chunk_terms(rows, targets, chunk, part, gradient, parts)[1]
            if grad is not None:
                _store_grad(rows, chunk, part, targets[chunk.rows], grad)

    chunks = rows.chunks(chunk_bytes)
    groups = [g for g in (chunks[i::workers] for i in range(workers)) if g]
    if len(groups) < 2:
        for group in groups:
            run(group)
    else:
        with ThreadPoolExecutor(len(groups)) as pool:
            list(pool.map(run, groups))
    return _reduce(rows, losses, targets.denominator, parts), grad


def _size(chunk: _Chunk) -> int:
    return int(chunk.rows.stop - chunk.rows.start)


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
    targets, whole = _targets(rows), rows.whole()
    space, parts = _Workspace.of(rows.n_rows, rows.plan.n_classes), _split_parts(rows, targets)
    logp, losses = _chunk_terms(rows, targets, whole, space, True, parts)
    grad = np.empty(rows.input_shape)
    _store_grad(rows, whole, space, targets, grad)
    pieces = Decomposition(rows.logits(whole), logp, space.q, losses, targets.denominator,
                           targets.valid)
    return _reduce(rows, losses, targets.denominator, parts), grad, pieces


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

    def __init__(self, *, chunk_bytes: int = CHUNK_BYTES, workers: int = WORKERS) -> None:
        """``chunk_bytes`` of logits per chunk of rows, chunks spread over ``workers`` threads
        (the result does not depend on either)."""
        if chunk_bytes < 1 or workers < 1:
            raise ValueError(f"chunk_bytes and workers must be >= 1, got {chunk_bytes}, "
                             f"{workers}")
        self.chunk_bytes, self.workers = chunk_bytes, workers

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """Cross-entropy as torch defines it, in float64 (``dtype`` is accepted and ignored);
        the gradient is analytic, and refused (``RuntimeError``) where torch's backward refuses."""
        rows = _as_rows(args.input, args.target, args.weight, args.ignore_index, args.reduction,
                        args.label_smoothing)
        if call.gradient:
            check_backward(args.input, args.target)
        return _in_chunks(rows, call.gradient, self.chunk_bytes, self.workers)

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
