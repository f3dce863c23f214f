"""The framework adapters: the ports agree with the reference, the native APIs map what they can.

* ``jax`` and ``tensorflow`` are ports of torch's semantics: on a generated grid of calls they
  agree with the reference in float64 (loss to 1e-12, gradient to 1e-10) and they raise where
  the reference raises.
* ``jax.optax``, ``tensorflow.nn`` and ``keras`` call their framework's own API: they agree on
  the simple calls they support and give a reason for what they cannot express. Their real
  divergences from torch are expectations of the conformance run, not failures here.
* ``torch``: ``nn.CrossEntropyLoss`` is ``F.cross_entropy``.

Every framework is optional: its tests skip when a module the registry lists for it is not
installed. Frameworks are loaded once per module (their imports and JAX's compilations are the
slow part).
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import implementations
from conformance.case import Case
from implementations import frameworks, reference, registry
from implementations.base import Call, Unsupported, available_reason, devices_of
from implementations.dtypes import numpy_dtype

PORTS = ("jax", "jax.eager", "tensorflow", "tensorflow.function")  # the ports, in each mode
NATIVES = ("jax.optax", "tensorflow.nn", "keras")
MODULES = {row.name: row.modules for row in registry.BUILTINS}
C = 5
RTOL, ATOL, GRAD_TOL = 1e-12, 1e-15, 1e-10


@pytest.fixture(scope="module")
def impl(request: pytest.FixtureRequest) -> Any:
    """The implementation named by the parameter, loaded once (skipped if not installed).

    The modules are looked up, not imported: the adapter's loader imports its framework (and
    sets what it sets before the import, see ``implementations.frameworks``)."""
    for module in MODULES[request.param]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    return implementations.load(request.param)


# --- the grid: each case declared once, its id naming its axes --------------------------------

def _logits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(scale=3.0, size=shape)


def _class_targets(rng: np.random.Generator, shape: tuple[int, ...],
                   ignore_index: int) -> np.ndarray:
    """Class indices in [0, C), the first of several set to ``ignore_index`` (exercising it)."""
    target = np.asarray(rng.integers(0, C, size=shape))
    if target.size > 1:
        target.flat[0] = ignore_index
    return target


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    axis = 0 if len(shape) == 1 else 1
    p = rng.random(shape) + 0.05
    return p / p.sum(axis=axis, keepdims=True) if p.size else p


def _case(rng: np.random.Generator, shape: tuple[int, ...], kind: str, weighted: bool,
          ignore_index: int, reduction: str, eps: float) -> Case:
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = (_class_targets(rng, target_shape, ignore_index) if kind == "indices"
              else _probabilities(rng, shape))
    name = {(4, C): "nc", (2, C, 2, 3): "kdim2", (C,): "c", (0, C): "empty"}[shape]
    case_id = (f"{name}-{kind}-{reduction}{'-weight' if weighted else ''}-ii{ignore_index}"
               f"-ls{eps}")
    weight = rng.random(C) + 0.1 if weighted else None
    return Case.of(case_id, _logits(rng, shape), target, weight, ignore_index, reduction, eps)


def _grid() -> Iterator[Case]:
    """(4, C): every reduction x smoothing x (weight, ignore_index) pairing; the other shapes:
    every reduction and kind once; then all-ignored rows."""
    rng = np.random.default_rng(20240531)
    index_pairs = [(False, -100), (True, 2), (False, 7), (True, -1)]  # in, outside, negative
    prob_pairs = [(False, -100), (True, -1)]
    for reduction, eps in itertools.product(("none", "mean", "sum"), (0.0, 0.3, 1.0)):
        for weighted, ii in index_pairs:
            yield _case(rng, (4, C), "indices", weighted, ii, reduction, eps)
        for weighted, ii in prob_pairs:
            yield _case(rng, (4, C), "probabilities", weighted, ii, reduction, eps)
    for shape, reduction, kind in itertools.product(
            ((2, C, 2, 3), (C,), (0, C)), ("none", "mean", "sum"), ("indices", "probabilities")):
        yield _case(rng, shape, kind, True, -100 if kind == "probabilities" else 3, reduction, 0.3)
    for reduction, weighted in itertools.product(("none", "mean", "sum"), (False, True)):
        case = _case(rng, (4, C), "indices", weighted, 2, reduction, 0.3)
        yield Case.of(f"all-ignored-{case.id}", case.input, np.full(4, 2), case.weight, 2,
                   reduction, 0.3)
    for reduction in ("none", "mean"):  # torch's quirk: a (C,) input takes a (1,) target
        yield Case.of(f"c-indices-target-shape1-{reduction}", _logits(rng, (C,)), np.array([3]),
                   reduction=reduction)


GRID = list(_grid())


def _repro(name: str, case: Case, method: str = "cross_entropy") -> str:
    return (f"{name} {case.id}: implementations.load({name!r}).{method}(input, target, "
            f"**{ {k: v for k, v in case.kwargs().items() if k != 'weight'} }, "
            f"weight={'w' if case.weight is not None else None})")


@pytest.mark.parametrize("impl", PORTS, indirect=True)
@pytest.mark.parametrize("case", GRID, ids=[case.id for case in GRID])
def test_port_agrees_with_reference(impl: Any, case: Case) -> None:
    """Loss (both entry points) and gradient agree with the reference in float64 (and the
    backward refuses what torch's refuses)."""
    if case.input.ndim == 1 and case.target.shape == (1,):
        with pytest.raises(RuntimeError, match="size mismatch"):
            impl.value_and_grad(case.input, case.target, **case.kwargs())
        np.testing.assert_allclose(impl.cross_entropy(case.input, case.target, **case.kwargs()),
                                   reference.cross_entropy(case.input, case.target,
                                                           **case.kwargs()),
                                   rtol=RTOL, atol=ATOL, err_msg=_repro(impl.name, case))
        return
    want, want_grad = reference.value_and_grad(case.input, case.target, **case.kwargs())
    got, got_grad = impl.value_and_grad(case.input, case.target, **case.kwargs())
    assert got.shape == want.shape, _repro(impl.name, case, "value_and_grad")
    assert got.dtype == np.float64, _repro(impl.name, case, "value_and_grad")
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True,
                               err_msg=_repro(impl.name, case, "value_and_grad"))
    np.testing.assert_allclose(got_grad, want_grad, rtol=GRAD_TOL, atol=GRAD_TOL, equal_nan=True,
                               err_msg=_repro(impl.name, case, "value_and_grad"))
    if case.reduction != "none":  # one compilation per case is enough for the plain loss
        return
    np.testing.assert_allclose(impl.cross_entropy(case.input, case.target, **case.kwargs()),
                               want, rtol=RTOL, atol=ATOL, equal_nan=True,
                               err_msg=_repro(impl.name, case))


_X = np.random.default_rng(1).normal(size=(4, C))
_Y = np.array([0, 1, 4, 2])
_P = np.full((4, C), 1.0 / C)
INVALID: dict[str, tuple[np.ndarray, np.ndarray, dict[str, Any]]] = {
    "target-out-of-range": (_X, np.array([0, 1, C, 2]), {}),
    "target-negative": (_X, np.array([0, -1, 4, 2]), {}),
    "target-out-of-range-not-reduced": (_X, np.array([0, 1, C, 2]), {"reduction": "none"}),
    "weight-wrong-length": (_X, _Y, {"weight": np.ones(C - 1)}),
    "label-smoothing-above-1": (_X, _Y, {"label_smoothing": 1.5}),
    "ignore-index-with-probabilities": (_X, _P, {"ignore_index": 0}),
    "bad-reduction": (_X, _Y, {"reduction": "avg"}),
    "target-shape-mismatch": (_X, np.array([0, 1]), {}),
    "target-int32": (_X, _Y.astype(np.int32), {}),
    "probabilities-integer": (_X, np.ones((4, C), dtype=np.int64), {}),
    "input-0d": (np.array(1.0), np.array(0), {}),
    "target-shape1-with-smoothing": (_X[0], np.array([3]), {"label_smoothing": 0.1}),
}


@pytest.mark.parametrize("impl", PORTS, indirect=True)
@pytest.mark.parametrize("case_id", list(INVALID))
def test_port_raises_like_reference(impl: Any, case_id: str) -> None:
    """Invalid input raises the reference's exception type, before any framework call."""
    x, t, kwargs = INVALID[case_id]
    with pytest.raises(Exception) as expected:  # noqa: PT011 - the reference decides the type
        reference.cross_entropy(x, t, **kwargs)
    with pytest.raises(expected.type):
        impl.cross_entropy(x, t, **kwargs)
    with pytest.raises(expected.type):
        impl.value_and_grad(x, t, **kwargs)


# --- the native APIs ---------------------------------------------------------------------------

def _simple_cases() -> list[Case]:
    rng = np.random.default_rng(7)
    x, xk = _logits(rng, (4, C)), _logits(rng, (2, C, 2, 3))
    y, yk, p = _class_targets(rng, (4,), 3), _class_targets(rng, (2, 2, 3), 1), \
        _probabilities(rng, (4, C))
    cases = [Case.of(f"nc-indices-{r}", x, y, reduction=r) for r in ("none", "mean", "sum")]
    return [*cases,
            Case.of("nc-probabilities-mean", x, p),
            Case.of("nc-probabilities-sum-ls0.3", x, p, reduction="sum", label_smoothing=0.3),
            Case.of("kdim2-indices-none", xk, yk, reduction="none"),
            Case.of("kdim2-probabilities-mean", xk, _probabilities(rng, (2, C, 2, 3))),
            Case.of("c-indices-mean", x[0], np.array(2)),
            Case.of("nc-indices-mean-ii3", x, y, ignore_index=3),
            Case.of("nc-indices-none-ii3", x, y, ignore_index=3, reduction="none")]


SIMPLE = _simple_cases()


@pytest.mark.parametrize("impl", NATIVES, indirect=True)
@pytest.mark.parametrize("case", SIMPLE, ids=[case.id for case in SIMPLE])
def test_native_agrees_where_supported(impl: Any, case: Case) -> None:
    """Supported simple calls agree with the reference in float64, gradients included."""
    reason = impl.supports(case.call(gradient=True))
    if reason is not None:
        pytest.skip(f"unsupported: {reason}")
    want, want_grad = reference.value_and_grad(case.input, case.target, **case.kwargs())
    np.testing.assert_allclose(impl.cross_entropy(case.input, case.target, **case.kwargs()),
                               want, rtol=RTOL, atol=ATOL, err_msg=_repro(impl.name, case))
    got, got_grad = impl.value_and_grad(case.input, case.target, **case.kwargs())
    assert got.shape == want.shape, _repro(impl.name, case, "value_and_grad")
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got_grad, want_grad, rtol=GRAD_TOL, atol=GRAD_TOL,
                               err_msg=_repro(impl.name, case, "value_and_grad"))


_NC = (4, C)
UNSUPPORTED: dict[str, list[Call]] = {
    "jax.optax": [Call(_NC, "indices", has_weight=True),
                  Call(_NC, "indices", ignore_index=2),
                  Call(_NC, "indices", label_smoothing=0.1)],
    "tensorflow.nn": [Call(_NC, "indices", has_weight=True),
                      Call(_NC, "probabilities", has_weight=True),
                      Call(_NC, "indices", ignore_index=2),
                      Call(_NC, "indices", label_smoothing=0.1),
                      Call(_NC, "probabilities", label_smoothing=0.1)],
    "keras": [Call(_NC, "indices", has_weight=True),
              Call(_NC, "indices", label_smoothing=0.1),
              Call(_NC, "probabilities", ignore_index=-1)],
}


@pytest.mark.parametrize("impl", NATIVES, indirect=True)
def test_native_declares_what_it_cannot_express(impl: Any) -> None:
    """``supports`` gives a reason string for every feature the API lacks, and None otherwise."""
    for call in UNSUPPORTED[impl.name]:
        reason = impl.supports(call)
        assert isinstance(reason, str), f"{impl.name}.supports({call})"
        assert reason, f"{impl.name}.supports({call})"
    assert impl.supports(Call(_NC, "indices")) is None
    assert impl.supports(Call(_NC, "probabilities")) is None
    assert impl.supports(Call(_NC, "indices", device="no-such-device")) is not None


@pytest.mark.parametrize("impl", NATIVES, indirect=True)
def test_native_raises_unsupported_instead_of_dropping(impl: Any) -> None:
    """A call ``supports`` rejects raises ``Unsupported`` with that reason from both entry
    points (the adapter never drops the argument it cannot express)."""
    case = Case.of("nc-indices-weight", SIMPLE[0].input, SIMPLE[0].target, weight=np.ones(C))
    reason = impl.supports(case.call())
    assert reason
    with pytest.raises(Unsupported) as info:
        impl.cross_entropy(case.input, case.target, **case.kwargs())
    assert str(info.value) == reason
    with pytest.raises(Unsupported, match="class weights"):
        impl.value_and_grad(case.input, case.target, **case.kwargs())


@pytest.mark.parametrize("impl", PORTS + NATIVES, indirect=True)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_result_dtype(impl: Any, dtype: str) -> None:
    """The loss and the gradient come back as NumPy arrays in the requested dtype."""
    case = SIMPLE[0]
    loss = impl.cross_entropy(case.input, case.target, reduction="mean", dtype=dtype)
    _, grad = impl.value_and_grad(case.input, case.target, reduction="none", dtype=dtype)
    assert isinstance(loss, np.ndarray)
    assert loss.dtype == numpy_dtype(dtype)
    assert grad.dtype == numpy_dtype(dtype)
    assert grad.shape == case.input.shape
    want = reference.cross_entropy(case.input, case.target)
    np.testing.assert_allclose(loss.astype(np.float64), want, rtol=2e-2)


@pytest.mark.parametrize("impl", PORTS + NATIVES, indirect=True)
def test_provenance(impl: Any) -> None:
    """Versions are strings, ``cpu`` is a device, and the adapter is available."""
    versions = impl.versions()
    assert versions
    assert all(isinstance(v, str) for v in versions.values())
    assert "cpu" in devices_of(impl)
    assert available_reason(impl) is None


# --- torch and the registry --------------------------------------------------------------------

def test_torch_module_matches_functional() -> None:
    """``nn.CrossEntropyLoss(...)(x, y)`` is exactly ``F.cross_entropy(x, y, ...)``."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = torch.from_numpy(_logits(rng, (4, C)))
    targets = [torch.tensor([0, 2, 4, 2]), torch.from_numpy(_probabilities(rng, (4, C)))]
    weights = [None, torch.from_numpy(rng.random(C) + 0.1)]
    for target, weight, reduction, eps in itertools.product(
            targets, weights, ("none", "mean", "sum"), (0.0, 0.3)):
        ii = -100 if target.is_floating_point() else 2
        module = torch.nn.CrossEntropyLoss(weight=weight, ignore_index=ii, reduction=reduction,
                                           label_smoothing=eps)
        functional = torch.nn.functional.cross_entropy(
            x, target, weight=weight, ignore_index=ii, reduction=reduction, label_smoothing=eps)
        assert torch.equal(module(x, target), functional), (weight, ii, reduction, eps)


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(implementations.UnknownImplementationError) as info:
        implementations.load("nonexistent")
    for name in ("reference", "torch", *PORTS, *NATIVES):
        assert name in str(info.value)


def test_every_adapter_is_registered() -> None:
    assert set(PORTS + NATIVES) <= set(implementations.BUILTIN)


LOADERS = (frameworks.torch, frameworks.jax, frameworks.optax, frameworks.tensorflow,
           frameworks.keras)


@pytest.fixture
def fresh_loaders() -> Iterator[None]:
    """The framework loaders with their caches cleared, before and after (they remember a
    framework once loaded; this test makes one fail to import)."""
    for loader in LOADERS:
        loader.cache_clear()
    yield
    for loader in LOADERS:
        loader.cache_clear()


@pytest.mark.usefixtures("fresh_loaders")
@pytest.mark.parametrize(("name", "module", "extra"), [
    (row.name, module, row.extra) for row in registry.BUILTINS for module in row.modules])
def test_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch, name: str,
                                           module: str, extra: str) -> None:
    """Loading an adapter whose framework cannot be imported says what to install."""
    monkeypatch.setitem(sys.modules, module, None)  # makes ``import module`` fail
    hint = re.escape(f"ce-conformance[{extra}] @ git+")
    with pytest.raises(implementations.NotInstalledError, match=hint):
        implementations.load(name)


def test_importing_the_package_imports_no_framework() -> None:
    code = ("import implementations, sys; "
            "loaded = [m for m in ('torch', 'jax', 'tensorflow', 'keras', 'optax') "
            "if m in sys.modules]; assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the native-spelling variants (their divergences are expectations; here, what they are) -----

def test_jax_x64_off_computes_in_float32_beside_jax_in_float64() -> None:
    """``jax.x64-off`` runs in float32 while ``jax``, loaded in the same process, stays float64:
    the variant's x64-off is a scope, not a flip of JAX's process-wide flag."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    x, y = np.random.default_rng(0).normal(size=(3, C)), np.array([0, 4, 2])
    off, on = implementations.load("jax.x64-off"), implementations.load("jax")
    assert off.cross_entropy(x, y).dtype == np.float32
    assert on.cross_entropy(x, y).dtype == np.float64
    np.testing.assert_allclose(off.cross_entropy(x, y), on.cross_entropy(x, y), rtol=1e-6)


def test_keras_class_weight_divides_the_weighted_mean_by_the_batch() -> None:
    """``fit``'s class weights: torch's weighted sum, but the mean divides by N, not sum w[y]."""
    for module in MODULES["keras.class-weight"]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    rng = np.random.default_rng(1)
    x, y, w = rng.normal(size=(4, C)), np.array([0, 4, 2, 2]), rng.random(C) + 0.1
    impl = implementations.load("keras.class-weight")
    total = reference.ReferenceImplementation().cross_entropy(x, y, w, reduction="sum")
    np.testing.assert_allclose(impl.cross_entropy(x, y, w, reduction="sum"), total, rtol=1e-12)
    np.testing.assert_allclose(impl.cross_entropy(x, y, w), total / len(y), rtol=1e-12)
