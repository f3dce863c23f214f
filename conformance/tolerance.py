"""The floating-point tolerance model: how far an implementation may be from the reference.

The reference is evaluated in float64 on the arguments *rounded to the implementation's dtype*,
so input rounding is never counted as error. What remains is the arithmetic an implementation
does in its own precision; the model bounds it from the problem's conditioning, with ``u`` the
unit round-off of the dtype (half its machine epsilon).

Write every row's loss as ``loss_i = sum_c q[i,c] * (lse_i - x[i,c])`` where ``q`` is the
(weighted, smoothed) target vector and ``lse_i`` the row's log-sum-exp. Whether an
implementation forms ``lse`` and subtracts, or shifts by the row maximum first, each term's
error is at most about ``u * (|lse_i| + |lse_i - x[i,c]|)``; the sum of ``C`` exponentials adds
``u * log2(C)`` to ``lse``; and summing ``M`` rows (pairwise or blocked, as frameworks do) adds
``u * (log2(M) + 1)`` relative to the summed magnitudes. Per row::

    A_i = sum_c |q[i,c]| * (|lse_i| + |lse_i - x[i,c]| + log2(C))
    R_i = (log2(M) + 1) * |loss_i|

and the allowed absolute error is ``K * u * S(A + R) + ulp(|reference|) / 2`` where ``S`` is the
reduction (element-wise for ``none``, the sum, or the sum over the mean's denominator ``D``; the
mean adds ``K * u * (log2(M) + 1) * |mean|`` for summing ``D``), ``K = 2`` and the last term is
the rounding of the result to the output dtype. ``A`` is large when logits are large even if
the loss is tiny (``[1e4, 0]`` against class 0): that is exactly when cancellation makes the
loss hard to compute in low precision. A reference value beyond the dtype's range must come
back as ``inf``, since the reference is rounded to the output dtype before comparing.

For the gradient ``g = (p * sum_c q - q) / D``, ``p = exp(x - lse)`` inherits ``lse``'s absolute
error as a relative one, so per element the bound is
``K * u * (p * sum|q| * (1 + |lse| + |lse - x| + log2 C) + |q|) / |D| + ulp(|g|) / 2``.
Both bounds also allow the dtype's smallest normal number as an absolute error: below the
normal range round-off is absolute, not relative, and XLA and TensorFlow flush subnormal
results to zero on CPU (a float32 gradient entry of 1e-38 may come back as 0).

NaN must match NaN and infinities must match in sign; nothing is loosened per backend.
Every comparison reports the measured error in ULPs of the output dtype and relatively.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from implementations.base import Array, class_axis_of
from implementations.dtypes import finfo, numpy_dtype
from implementations.reference import Decomposition

K = 2.0
#: ULPs past this are an error of the size of the value itself: reports give the relative
#: error instead (an exact 0 expected makes the ULPs at the problem's scale meaningless too).
MEANINGFUL_ULP = 1e6


def unit_roundoff(dtype: str) -> float:
    """Unit round-off of ``dtype``: half its machine epsilon (2**-53 for float64)."""
    return float(finfo(dtype).eps) / 2


def ulp(values: Array, dtype: str) -> Array:
    """The spacing of ``dtype`` at ``|values|`` (at least the smallest normal's spacing)."""
    info = finfo(dtype)
    mag = np.maximum(np.abs(np.asarray(values, dtype=np.float64)), float(info.smallest_normal))
    with np.errstate(invalid="ignore", divide="ignore"):
        exponent = np.floor(np.log2(mag))
        return np.asarray(np.exp2(exponent - info.nmant))


@dataclass(frozen=True)
class Comparison:
    """Measured error of ``actual`` against ``expected`` and whether it is within ``allowed``."""

    ok: bool
    worst_abs: float  # these four are figures of ONE element, the worst: the one that uses
    worst_rel: float  # the largest fraction of its bound (so "off by X; allowed Y" compares
    worst_ulp: float  # like with like); ULPs of the dtype at the problem's scale there
    allowed_abs: float
    mismatch: str | None = None  # what is wrong beyond size (NaN pattern, inf, shape)
    used: float = 0.0  # that element's error as a fraction of its bound (1.0: all of it)
    vs_torch: float | None = None  # times torch's largest error (conformance.baseline)
    vs_used: float | None = None  # the largest error as a fraction of its bound
    torch_used: float | None = None  # torch's largest error as a fraction of its bound
    bits: float | None = None  # agreement in bits at the problem's scale (``agreement_bits``)
    within: str | None = None  # the lower dtype whose bound a divergence meets (``LOWER``)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (non-finite numbers as strings; figures not measured left out).
        The worst element's figures keep their keys of ``results.json``'s first format,
        ``max_abs``, ``max_rel`` and ``max_ulp`` (``conformance/results.schema.json``)."""
        return {_JSON_KEYS.get(k, k): _jsonable(v) for k, v in asdict(self).items()
                if v is not None or k == "mismatch"}


#: ``Comparison``'s fields whose ``results.json`` key differs from their name.
_JSON_KEYS = {"worst_abs": "max_abs", "worst_rel": "max_rel", "worst_ulp": "max_ulp"}


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def compare(actual: Array, expected: Array, allowed: Array, dtype: str) -> Comparison:
    """Compare element-wise; ``expected`` is the float64 reference, ``allowed`` its bound."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return Comparison(False, math.inf, math.inf, math.inf, 0.0,
                          f"shape {a.shape} != expected {e.shape}")
    with np.errstate(over="ignore"):
        e_rounded = e.astype(numpy_dtype(dtype)).astype(np.float64)  # overflow becomes inf
    allowed = np.broadcast_to(np.asarray(allowed, dtype=np.float64), e.shape)
    mismatch = _special_mismatch(a, e_rounded, e, allowed, dtype)
    finite = np.isfinite(a) & np.isfinite(e_rounded)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - e)[finite]
    if err.size == 0:
        return Comparison(mismatch is None, 0.0, 0.0, 0.0, _max(allowed), mismatch)
    bound, wanted = allowed[finite], e[finite]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        used = np.where(err == 0, 0.0, err / bound)
    i = int(np.argmax(used))  # the element closest to (or furthest past) its bound
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = float(err[i] / abs(wanted[i])) if err[i] else 0.0
        ulps = float(err[i] / scale_ulp(wanted[i], bound[i], dtype))
    within = bool(np.all(err <= bound))
    return Comparison(within and mismatch is None, float(err[i]), rel, ulps, float(bound[i]),
                      mismatch, float(used[i]), bits=agreement_bits(err, wanted, bound, dtype))


#: The dtypes a result in a dtype may really have been computed in, most precise first: a
#: float64 request answered in float32 arithmetic, a float32 one in float16 or bfloat16.
LOWER: dict[str, tuple[str, ...]] = {"float64": ("float32",),
                                     "float32": ("float16", "bfloat16")}
BITS_CAP = 64.0  # the agreement of an exact result


def agreement_bits(err: Array, expected: Array, allowed: Array, dtype: str) -> float:
    """Bits of agreement with the reference at the problem's scale: ``-log2`` of the largest
    error relative to each element's scale (its value, or the magnitude its bound was built
    from, as ``scale_ulp``), capped at ``BITS_CAP``. A float64 result computed in float32
    agrees to about 24 bits, a faithful one to about 50."""
    err = np.asarray(err, dtype=np.float64)
    if not err.size:
        return BITS_CAP
    scale = np.maximum(np.abs(np.asarray(expected, dtype=np.float64)),
                       np.asarray(allowed, dtype=np.float64) / (K * unit_roundoff(dtype)))
    with np.errstate(divide="ignore", invalid="ignore"):
        worst = float(np.max(np.where(err == 0, 0.0, err / scale)))
    if not worst > 0 or not math.isfinite(worst):
        return BITS_CAP if worst == 0 else 0.0
    return min(BITS_CAP, -math.log2(worst))


def agrees(actual: Array, other: Array, allowed: Array) -> bool:
    """Whether two outputs are the same result: the same shape, NaN and infinities in the same
    places (with the same signs), and the finite rest within ``allowed`` of each other (the
    bound of the problem, from the reference)."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        return False
    finite = np.isfinite(a) & np.isfinite(b)
    same_special = np.array_equal(np.isnan(a), np.isnan(b)) and \
        np.array_equal(np.where(np.isinf(a), a, 0.0), np.where(np.isinf(b), b, 0.0))
    bound = np.broadcast_to(np.asarray(allowed, dtype=np.float64), a.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        return same_special and bool(np.all(np.abs(a - b)[finite] <= bound[finite]))


def scale_ulp(expected: float, allowed: float, dtype: str) -> float:
    """One ULP of ``dtype`` at the problem's scale for an element: at the larger of the expected
    value and the magnitude the tolerance model's bound was built from (``allowed / (K u)``).
    A loss of 5e-9 next to logits of 31 is measured in ULPs of 31, not of 5e-9: returning it as
    0 is a fraction of an ULP, as it is for torch, and not 1e7 ULPs of a near-zero number."""
    scale = max(abs(expected), allowed / (K * unit_roundoff(dtype)))
    return float(ulp(np.asarray(scale), dtype))


def _max(a: Array) -> float:
    return float(np.max(a)) if np.size(a) else 0.0


def _special_mismatch(a: Array, e_rounded: Array, e: Array, allowed: Array,
                      dtype: str) -> str | None:
    """NaN where the reference has none (or the reverse), or an infinity that should not be."""
    if np.any(np.isnan(a) != np.isnan(e_rounded)):
        return "NaN pattern differs from the reference"
    inf_a, inf_e = np.isinf(a), np.isinf(e_rounded)
    # Near the top of the range, rounding may legitimately tip either way.
    # (within the allowed error plus one spacing of the top); far beyond it, only inf is right.
    top = float(finfo(dtype).max)
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.abs(np.abs(e) - top) <= allowed + 2.0 ** (np.log2(top) - finfo(dtype).nmant)
    borderline = np.isfinite(e) & near
    if np.any((inf_a != inf_e) & ~borderline):
        return "infinity where the reference is finite" if np.any(inf_a & ~inf_e) else \
            "finite where the reference overflows the dtype"
    if np.any(inf_a & inf_e & (np.sign(a) != np.sign(e_rounded))):
        return "infinity of the wrong sign"
    return None


#: Elements of the ``(M, C)`` matrices the bounds are computed on at a time (rows in blocks,
#: so the temporaries stay small at LLM scale; each row's figures do not depend on the block).
BLOCK_ELEMENTS = 1 << 18


def bounds(parts: Decomposition, value: Array, grad: Array, reduction: str, dtype: str,
           input_shape: tuple[int, ...]) -> tuple[Array, Array]:
    """The allowed absolute errors of the loss and of the gradient (module docstring)."""
    n_rows, n_classes = parts.logits.shape
    log_c, log_m = math.log2(max(n_classes, 1)), math.log2(max(n_rows, 1)) + 1.0
    u = unit_roundoff(dtype)
    floor = float(finfo(dtype).smallest_normal)
    d = abs(parts.denominator) if reduction == "mean" and parts.denominator else 1.0
    class_axis = class_axis_of(input_shape)
    moved = np.moveaxis(np.empty(input_shape), class_axis, -1).shape
    grad_rows = np.moveaxis(np.asarray(grad, dtype=np.float64).reshape(input_shape),
                            class_axis, -1).reshape(n_rows, n_classes)
    rows, grad_allowed = np.empty(n_rows), np.empty((n_rows, n_classes))
    step = max(1, BLOCK_ELEMENTS // max(n_classes, 1))
    for start in range(0, n_rows, step):
        block = slice(start, start + step)
        rows[block], g = _row_terms(parts, block, log_c, d)
        with np.errstate(invalid="ignore"):
            grad_allowed[block] = _finite(K * u * np.nan_to_num(g) +
                                          ulp(grad_rows[block], dtype) / 2 + floor)
    with np.errstate(invalid="ignore", over="ignore"):
        rows += log_m * np.abs(np.nan_to_num(parts.losses))
    ref = np.asarray(value, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = _reduce_bound(rows, parts.denominator, reduction, ref, log_m)
        value_allowed = _finite(K * u * scale + ulp(ref, dtype) / 2 + floor)
    return value_allowed, np.moveaxis(grad_allowed.reshape(moved), -1, class_axis)


def _row_terms(parts: Decomposition, block: slice, log_c: float, d: float) -> tuple[Array, Array]:
    """For the rows of ``block``: ``sum_c |q| * dist`` (the value's per-row term, without the
    summation's) and the gradient's bound before ``K * u`` (module docstring)."""
    logits, logp = parts.logits[block], parts.logp[block]
    x = np.where(np.isfinite(logits), logits, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        lse = np.where(np.isfinite(logits - logp), logits - logp, 0.0)
        lse_row = np.max(lse, axis=1, keepdims=True) if lse.size else lse[:, :1]
    q = np.abs(parts.q[block])
    dist = np.abs(lse_row) + np.abs(lse_row - x) + log_c
    with np.errstate(invalid="ignore", over="ignore"):
        rows = np.sum(q * dist, axis=1)
    p = np.exp(logp)
    g_rows = (p * np.sum(q, axis=1, keepdims=True) * (1.0 + dist) + q) / d
    return rows, g_rows


def _reduce_bound(rows: Array, denominator: float, reduction: str, value: Array,
                  log_m: float) -> Array:
    if reduction == "none":
        scale = rows.reshape(value.shape)
    elif reduction == "sum":
        scale = np.asarray(np.sum(rows))
    elif denominator:
        scale = np.sum(rows) / abs(denominator) + log_m * np.abs(np.nan_to_num(value))
    else:
        scale = np.asarray(0.0)  # NaN expected: only the NaN pattern is compared
    return np.asarray(scale)


def _finite(bound: Array) -> Array:
    return np.asarray(np.where(np.isfinite(bound), bound, 0.0))
