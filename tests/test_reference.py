"""The reference's own tests: against an independent arbitrary-precision evaluation (mpmath),
against torch in float64, and on the traps of torch's semantics."""

from __future__ import annotations

import math
import tracemalloc

import mpmath
import numpy as np
import pytest

import implementations
from implementations import reference as ref
from implementations import registry

mpmath.mp.dps = 50

X = np.array([[7.4, 2.8, -0.6, 6.3], [-1.9, 4.2, 3.9, 5.1], [9.3, -5.3, 7.2, -8.4]])
Y = np.array([3, 0, 2])
W = np.array([0.0, 1.0, 2.0, 3.0])


def mp_loss(x, y, w=None, ignore_index=-100, reduction="mean", eps=0.0):
    """Row by row in 50-digit arithmetic, straight from torch's documented formula."""
    n_classes = x.shape[1]
    w = [mpmath.mpf(1)] * n_classes if w is None else [mpmath.mpf(float(v)) for v in w]
    eps = mpmath.mpf(eps) if eps > 0 else mpmath.mpf(0)
    losses, denom = [], mpmath.mpf(0)
    for row, target in zip(x, y, strict=True):
        if target == ignore_index:
            losses.append(mpmath.mpf(0))
            continue
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))
        logp = [mpmath.mpf(float(v)) - lse for v in row]
        nll = -w[target] * logp[target]
        smooth = -mpmath.fsum(w[c] * logp[c] for c in range(n_classes))
        losses.append((1 - eps) * nll + eps / n_classes * smooth)
        denom += w[target]
    if reduction == "none":
        return np.array([float(v) for v in losses])
    total = mpmath.fsum(losses)
    return float(total / denom) if reduction == "mean" else float(total)


def mp_prob_loss(x, t, w=None, reduction="mean", eps=0.0):
    n_classes = x.shape[1]
    w = [1.0] * n_classes if w is None else list(w)
    losses = []
    for row, probs in zip(x, t, strict=True):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))
        q = [mpmath.mpf(float(p)) * (1 - eps) + mpmath.mpf(eps) / n_classes for p in probs]
        losses.append(-mpmath.fsum(w[c] * q[c] * (mpmath.mpf(float(row[c])) - lse)
                                   for c in range(n_classes)))
    if reduction == "none":
        return np.array([float(v) for v in losses])
    total = mpmath.fsum(losses)
    return float(total / len(losses)) if reduction == "mean" else float(total)


CLASS_CALLS = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"w": W},
    {"ignore_index": 2},
    {"eps": 0.8},
    {"w": W, "ignore_index": 2, "eps": 0.8},
    {"w": W, "ignore_index": 2, "eps": 0.8, "reduction": "none"},
    {"w": np.array([-1.0, 0.5, 2.0, 0.0]), "eps": 0.3},
    {"ignore_index": 7, "eps": 1.0},
]


@pytest.mark.parametrize("kw", CLASS_CALLS, ids=lambda kw: "-".join(map(str, kw)) or "plain")
def test_class_indices_match_arbitrary_precision(kw):
    expected = mp_loss(X, Y, **kw)
    got = ref.cross_entropy(X, Y, weight=kw.get("w"), ignore_index=kw.get("ignore_index", -100),
                            reduction=kw.get("reduction", "mean"),
                            label_smoothing=kw.get("eps", 0.0))
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kw", [{}, {"reduction": "none"}, {"w": [0.0, 1.0, 2.0]},
                                {"eps": 0.8}, {"w": [0.5, -1.0, 2.0], "eps": 0.2,
                                               "reduction": "sum"}],
                         ids=lambda kw: "-".join(map(str, kw)) or "plain")
def test_probabilities_match_arbitrary_precision(kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)) * 5
    t = rng.dirichlet(np.ones(3), size=4)
    expected = mp_prob_loss(x, t, **kw)
    w = None if "w" not in kw else np.array(kw["w"])
    got = ref.cross_entropy(x, t, weight=w, reduction=kw.get("reduction", "mean"),
                            label_smoothing=kw.get("eps", 0.0))
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_kdim_is_the_same_as_flattened_rows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4, 5))
    y = rng.integers(0, 3, size=(2, 4, 5))
    rows = np.moveaxis(x, 1, -1).reshape(-1, 3)
    np.testing.assert_allclose(ref.cross_entropy(x, y, reduction="none"),
                               ref.cross_entropy(rows, y.reshape(-1), reduction="none")
                               .reshape(2, 4, 5), rtol=0, atol=0)


def test_log_sum_exp_is_stable_for_logits_far_apart():
    x = np.array([[1e4, 0.0, -1e4]])
    assert ref.cross_entropy(x, np.array([2])) == 2e4
    assert ref.cross_entropy(x, np.array([0])) == 0.0
    loss, grad = ref.value_and_grad(x, np.array([1]))
    assert np.isfinite(loss)
    assert np.all(np.isfinite(grad))


def test_zero_denominators_give_nan():
    assert np.isnan(ref.cross_entropy(X, np.array([-100, -100, -100])))
    all_targets_weightless = np.array([1.0, 2.0, 0.0, 0.0])  # targets are classes 3, 0, 2
    assert np.isnan(ref.cross_entropy(X, np.array([3, 2, 2]), weight=all_targets_weightless))
    assert np.isnan(ref.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)))
    assert np.isnan(ref.cross_entropy(np.zeros(0), np.zeros(0)))
    assert np.signbit(ref.cross_entropy(np.zeros(0), np.zeros(0), reduction="sum"))


@pytest.mark.parametrize(("weight", "eps", "loss", "grad"), [
    ([1.0, 0.5, -1.0, 0.0], 0.0, math.inf, [[math.nan] * 4, [math.nan] + [math.inf] * 3,
                                             [-math.inf, -math.inf, math.nan, -math.inf]]),
    ([-1.0, 0.5, 1.0, 0.0], 0.0, -math.inf, [[math.nan] * 4, [math.nan] + [-math.inf] * 3,
                                              [math.inf, math.inf, math.nan, math.inf]]),
    ([1.0, 0.5, -1.0, 0.0], 0.1, math.inf, [[math.nan] * 4] * 3),
    ([0.0, 1.0, 0.0, 0.0], 0.1, math.nan, [[math.nan] * 4] * 3),
    ([1.0, -10.0, 1.0, -2.0], 0.1, math.nan, [[math.nan] * 4] * 3),
])
def test_weights_cancelling_to_a_zero_denominator_divide_as_torch(weight, eps, loss, grad):
    """torch 2.13's numbers (the targets' weights sum to 0): each part of the mean is divided by
    0 on its own, +-inf where its sum is not 0, NaN where it is, and inf - inf is NaN."""
    value, gradient = ref.value_and_grad(X, Y, weight=np.array(weight), label_smoothing=eps)
    np.testing.assert_array_equal(value, loss)
    np.testing.assert_array_equal(gradient, np.array(grad))


def _zero_denominator_call(seed: int) -> dict:
    """A random ``mean`` call whose targets' weights sum to exactly 0: zero, -0.0 and negative
    weights, some or all rows ignored, NaN or inf logits, smoothing 0, 0.1 or 1, K-dim."""
    rng = np.random.default_rng(seed)
    shape = [(4,), (3, 4), (2, 3), (4, 3), (2, 3, 2), (2, 4, 2, 2), (1, 3, 3), (5, 2)][seed % 8]
    n_classes = shape[0 if len(shape) == 1 else 1]
    x = rng.normal(size=shape) * 4
    if seed % 6 == 0:
        x.flat[rng.integers(0, x.size)] = rng.choice([np.nan, np.inf, -np.inf])
    ignore = int(rng.integers(0, n_classes)) if seed % 3 == 0 else -100
    kw = {"ignore_index": ignore, "label_smoothing": float(rng.choice([0.0, 0.1, 1.0]))}
    while True:
        t = rng.integers(0, n_classes, shape[:1] + shape[2:] if len(shape) > 1 else ())
        if seed % 4 == 0 and t.ndim:
            t.flat[rng.integers(0, t.size)] = ignore
        if seed % 11 == 0:
            t[...] = ignore
        w = rng.choice([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -10.0], n_classes)
        valid = t != ignore
        if np.sum(np.where(valid, w[np.where(valid, t, 0)], 0.0)) == 0.0:
            return {"input": x, "target": t.astype(np.int64), "weight": w, **kw}


@pytest.mark.parametrize("seed", range(48))
def test_zero_denominator_matches_torch_element_by_element(seed):
    """The mean and every gradient element, NaN and +-inf positions included (ignored rows: 0, or
    NaN where their logits make p NaN), chunked and as one chunk, are torch's."""
    for module in registry.builtin("torch").modules:
        pytest.importorskip(module)
    args = _zero_denominator_call(seed)
    expected = implementations.load("torch").value_and_grad(**args)
    chunked = ref.ReferenceImplementation(chunk_bytes=40, workers=2).value_and_grad(**args)
    for got in (chunked, ref.evaluate(**args)[:2]):
        for ours, theirs in zip(got, expected, strict=True):
            np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=str(args))
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, err_msg=str(args))


@pytest.mark.parametrize("target", [np.array([1]), np.array([-100])])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_backward_refuses_a_shape1_target_of_an_unbatched_input(target, reduction):
    """torch's forward takes a (1,) target for a (C,) input, its backward raises RuntimeError."""
    x = np.array([1.0, 0.0, 0.0, 2.0])
    assert ref.cross_entropy(x, target, reduction=reduction).shape == ()
    with pytest.raises(RuntimeError, match="size mismatch"):
        ref.value_and_grad(x, target, reduction=reduction)
    assert np.isfinite(ref.evaluate(x, np.array([1]), reduction=reduction)[1]).all()


def test_smoothing_outside_zero_one():
    plain = ref.cross_entropy(X, Y)
    assert ref.cross_entropy(X, Y, label_smoothing=-0.5) == plain
    assert ref.cross_entropy(X, Y, label_smoothing=float("nan")) == plain
    with pytest.raises(ValueError, match="label_smoothing"):
        ref.cross_entropy(X, Y, label_smoothing=1.5)


@pytest.mark.parametrize(("target", "kw", "error"), [
    (np.array([4, 0, 2]), {}, IndexError),
    (np.array([-1, 0, 2]), {}, IndexError),
    (np.array([3, 0]), {}, ValueError),
    (np.array([3.0, 0.0, 2.0]), {}, TypeError),
    (np.array([3, 0, 2], dtype=np.int32), {}, TypeError),
    (Y, {"weight": np.ones(3)}, ValueError),
    (Y, {"reduction": "avg"}, ValueError),
    (np.full((3, 4), 0.25), {"ignore_index": 0}, ValueError),
    (np.ones((3, 4), dtype=np.int64), {}, TypeError),
])
def test_invalid_input_raises_naming_the_problem(target, kw, error):
    with pytest.raises(error):
        ref.cross_entropy(X, target, **kw)


def _numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = h
        g[i] = (np.sum(f(x + d)) - np.sum(f(x - d))) / (2 * h)
    return g


@pytest.mark.parametrize("kw", CLASS_CALLS, ids=lambda kw: "-".join(map(str, kw)) or "plain")
def test_analytic_gradient_matches_central_differences(kw):
    args = {"weight": kw.get("w"), "ignore_index": kw.get("ignore_index", -100),
            "reduction": kw.get("reduction", "mean"), "label_smoothing": kw.get("eps", 0.0)}
    _, grad = ref.value_and_grad(X, Y, **args)
    numeric = _numeric_grad(lambda x: ref.cross_entropy(x, Y, **args), X)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_probability_gradient_matches_central_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 2, 4))
    t = rng.dirichlet(np.ones(2), size=(3, 4)).transpose(0, 2, 1)
    args = {"weight": np.array([0.5, 2.0]), "label_smoothing": 0.1}
    _, grad = ref.value_and_grad(x, t, **args)
    numeric = _numeric_grad(lambda v: ref.cross_entropy(v, t, **args), x)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def _spec_valid_cases():
    from conformance.spec import load_spec

    return [c for c in load_spec() if not c.invalid]


@pytest.mark.parametrize("case", _spec_valid_cases(), ids=lambda c: c.id)
def test_agrees_with_torch_float64_on_every_spec_case(case):
    """Within 1e-12 relative or 1e-15 absolute, values and gradients (NaN where torch has it)."""
    for module in registry.builtin("torch").modules:
        pytest.importorskip(module)
    torch_impl = implementations.load("torch")
    args = {"input": case.input, "target": case.target, **case.kwargs()}
    ours = ref.cross_entropy(**args)
    np.testing.assert_allclose(ours, torch_impl.cross_entropy(**args), rtol=1e-12, atol=1e-15)
    if case.expect.gradient_error is not None:
        # torch 2.13 quirk: the forward takes a (1,) target for a (C,) input, the backward fails;
        # the reference raises the same exception type
        for impl in (torch_impl, ref):
            with pytest.raises(RuntimeError, match="size mismatch"):
                impl.value_and_grad(**args)
        return
    _, our_grad = ref.value_and_grad(**args)
    _, their_grad = torch_impl.value_and_grad(**args)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-12, atol=1e-15)


def _random_call(seed: int) -> dict:
    """A call of every kind the chunked path must get right: (C,), (N, C) and K-dim inputs,
    empty ones, NaN and infinite logits, ignored rows (all of them, sometimes), weights with
    zeros, negatives and inf, smoothing, probabilities with NaN and inf, every reduction."""
    rng = np.random.default_rng(seed)
    shapes = [(5,), (7, 5), (9, 3), (2, 3, 4), (3, 2, 2, 3), (1, 4, 5), (0, 3), (4, 0),
              (2, 3, 0)]
    shape = shapes[seed % len(shapes)]
    axis = 0 if len(shape) == 1 else 1
    n_classes = shape[axis]
    x = rng.normal(size=shape) * 5
    if x.size and seed % 3 == 0:
        x.flat[rng.integers(0, x.size, 3)] = rng.choice([np.nan, np.inf, -np.inf, 1e308], 3)
    kw = {"reduction": str(rng.choice(["mean", "sum", "none"])),
          "label_smoothing": float(rng.choice([0.0, 0.1, 1.0]))}
    if seed % 2:
        kw["weight"] = rng.choice([0.0, 0.5, 2.0, -1.0, np.inf], n_classes) if seed % 5 == 0 \
            else rng.uniform(0.0, 2.0, n_classes)
    if seed % 4 == 1:  # probabilities
        t = rng.random(shape)
        t /= np.maximum(t.sum(axis=axis, keepdims=True), 1e-300)
        if t.size and seed % 3 == 1:
            t.flat[rng.integers(0, t.size)] = rng.choice([np.inf, np.nan, 0.0])
        return {"input": x, "target": t, **kw}
    t_shape = shape[:1] + shape[2:] if axis else ()
    ignore = int(rng.integers(0, n_classes)) if n_classes else -100
    t = rng.integers(0, n_classes, t_shape) if n_classes else np.full(t_shape, -100)
    if seed % 7 == 0:
        t[...] = ignore
    return {"input": x, "target": np.asarray(t, dtype=np.int64), "ignore_index": ignore, **kw}


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True) \
        and np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("seed", range(60))
def test_chunked_agrees_with_one_chunk_bit_for_bit(seed):
    """Rows one or a few at a time, on three threads, give what the whole call as one chunk
    (``evaluate``) gives: the same bits, NaN, inf and -0.0 included."""
    args = _random_call(seed)
    value, grad, _ = ref.evaluate(**args)
    for chunk_bytes in (1, 64, 200):
        impl = ref.ReferenceImplementation(chunk_bytes=chunk_bytes, workers=3)
        assert _same_bits(impl.cross_entropy(**args), value), (seed, chunk_bytes)
        if np.ndim(args["input"]) == 1 and np.shape(args["target"]) == (1,):
            continue
        chunked_value, chunked_grad = impl.value_and_grad(**args)
        assert _same_bits(chunked_value, value), (seed, chunk_bytes)
        assert _same_bits(chunked_grad, grad), (seed, chunk_bytes, args)


@pytest.mark.parametrize("shape", [(6, 4), (5,), (3, 4, 5), (2, 3, 2, 7), (4, 3, 1), (0, 3)])
@pytest.mark.parametrize("chunk_bytes", [1, 40, 100, 1000])
def test_chunks_cover_every_row_once_in_order(shape, chunk_bytes):
    """The chunks partition the rows: consecutive ranges, each block's logits those rows."""
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    target = np.zeros(shape[:1] + shape[2:] if len(shape) > 1 else (), dtype=np.int64)
    rows = ref._as_rows(x, target, None, -100, "none", 0.0)
    matrix = rows.logits(rows.whole())
    start = 0
    for chunk in rows.chunks(chunk_bytes):
        assert chunk.rows.start == start
        np.testing.assert_array_equal(rows.logits(chunk), matrix[chunk.rows])
        start = chunk.rows.stop
    assert start == len(matrix)


def test_peak_memory_is_the_gradient_and_a_few_chunks():
    """At scale the reference allocates its gradient and a few chunks, nothing else of the
    input's size (the whole-call formulas peaked at about 5x the input)."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(256, 20000)), rng.integers(0, 20000, 256)
    y[::5] = 7
    impl = ref.ReferenceImplementation(chunk_bytes=1 << 20, workers=2)
    tracemalloc.start()
    try:
        impl.value_and_grad(x, y, weight=rng.uniform(size=20000), ignore_index=7,
                            label_smoothing=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.3 * x.nbytes, peak / x.nbytes


def test_chunk_options_are_checked():
    with pytest.raises(ValueError, match="chunk_bytes"):
        ref.ReferenceImplementation(chunk_bytes=0)
