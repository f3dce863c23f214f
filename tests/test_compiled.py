"""The execution-mode columns run the way their names say: ``torch.compile`` compiles every
configuration (never dynamo's silent eager fallback) and reuses it across batch sizes,
``jax.eager`` runs without jit, ``tensorflow.function`` runs under ``tf.function``; and each
computes what its default-mode column computes. Every detector is shown to catch the wrong
mode (a shared ``torch.compile``, the jitted ``jax``, the eager ``tensorflow``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import implementations
from implementations import registry

ROOT = Path(__file__).resolve().parent.parent
X = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [-2.0, 1.0, 0.0, 0.5]])
T = np.array([0, 2, 3])


def _load(name: str) -> Any:
    for module in registry.builtin(name).modules:
        pytest.importorskip(module)
    impl = implementations.load(name)
    if impl.supports(implementations.Call.of(X, T)):
        pytest.skip(impl.supports(implementations.Call.of(X, T)))
    return impl


def _rows(n: int, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, classes)), rng.integers(0, classes, n)


# --- torch.compile ---------------------------------------------------------------------------

def _graphs() -> int:
    """How many graphs dynamo has compiled in this process."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


@pytest.mark.slow
def test_torch_compile_reuses_one_graph_across_batch_sizes() -> None:
    impl = _load("torch.compile")
    before = _graphs()
    for n in (5, 7, 11):
        x, t = _rows(n, seed=n)
        impl.value_and_grad(x, t, reduction="sum", label_smoothing=0.125)
    assert _graphs() - before == 1, "dynamic=True should serve every batch size of a loop"


@pytest.mark.slow
def test_torch_compile_compiles_past_dynamos_recompile_limit() -> None:
    """More configurations than dynamo's recompile limit are each compiled, where one shared
    ``torch.compile(F.cross_entropy)`` goes eager at the limit (the detector catches that)."""
    torch = pytest.importorskip("torch")
    impl = _load("torch.compile")
    configurations = [{"reduction": r, "ignore_index": i} for r in ("sum", "none")
                      for i in (1, 2)]
    with torch._dynamo.config.patch(recompile_limit=2):
        before = _graphs()
        for kwargs in configurations:
            impl.cross_entropy(X, T, **kwargs)
        compiled = _graphs() - before
        shared = torch.compile(torch.nn.functional.cross_entropy, dynamic=True)
        before = _graphs()
        for kwargs in configurations:
            shared(torch.from_numpy(X), torch.from_numpy(T), **kwargs)
        shared_compiled = _graphs() - before
    assert compiled == len(configurations)
    assert shared_compiled < len(configurations), "the detector misses dynamo's eager fallback"


@pytest.mark.slow
def test_torch_compile_matches_torch() -> None:
    compiled, eager = _load("torch.compile"), implementations.load("torch")
    w = np.array([0.5, 1.0, 2.0, 4.0])
    for kwargs in ({"weight": w, "label_smoothing": 0.2}, {"reduction": "none"}):
        got = compiled.value_and_grad(X, T, **kwargs)
        for a, b in zip(got, eager.value_and_grad(X, T, **kwargs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=str(kwargs))


def test_the_plugin_is_the_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """One home: the example plugin registers the built-in class, and its expectations file is
    the built-in's."""
    pytest.importorskip("torch")
    folder = ROOT / "examples" / "torch-compile-plugin"
    monkeypatch.syspath_prepend(str(folder))
    from ce_conformance_torch_compile import TorchCompileImplementation

    from implementations.torch_compile import TorchCompile

    assert TorchCompileImplementation is TorchCompile
    assert (folder / "expectations.yaml").resolve() == \
        (ROOT / "expectations" / "torch.compile.yaml").resolve()


# --- jax.eager and tensorflow.function -------------------------------------------------------

class _Spy:
    """Wraps a framework function and records ``probe(first argument)`` at each call."""

    def __init__(self, function: Any, probe: Any) -> None:
        self.function, self.probe, self.seen = function, probe, []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(self.probe(args[0]))
        return self.function(*args, **kwargs)


def _jax_traced(name: str, monkeypatch: pytest.MonkeyPatch, n: int) -> list[bool]:
    """Whether the port's ``log_softmax`` saw a tracer (jit) or a concrete array (eager), on a
    batch size not seen before (a jitted program that exists runs no Python)."""
    impl = _load(name)
    jax = pytest.importorskip("jax")
    spy = _Spy(jax.nn.log_softmax, lambda x: isinstance(x, jax.core.Tracer))
    monkeypatch.setattr(jax.nn, "log_softmax", spy)
    impl.cross_entropy(*_rows(n, seed=n))
    return spy.seen


def test_jax_eager_runs_without_jit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _jax_traced("jax.eager", monkeypatch, 13) == [False]
    assert _jax_traced("jax", monkeypatch, 17) == [True], "the detector misses jit"


def _tf_eager(name: str, monkeypatch: pytest.MonkeyPatch, n: int) -> list[bool]:
    """Whether the port's ``log_softmax`` ran eagerly, on a batch size not traced before."""
    impl = _load(name)
    tf = pytest.importorskip("tensorflow")
    spy = _Spy(tf.nn.log_softmax, lambda _: bool(tf.executing_eagerly()))
    monkeypatch.setattr(tf.nn, "log_softmax", spy)
    impl.cross_entropy(*_rows(n, seed=n))
    return spy.seen


def test_tensorflow_function_runs_under_tf_function(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _tf_eager("tensorflow.function", monkeypatch, 13) == [False]
    assert _tf_eager("tensorflow", monkeypatch, 17) == [True], "the detector misses eager"


@pytest.mark.parametrize(("name", "default"), [("jax.eager", "jax"),
                                               ("tensorflow.function", "tensorflow")])
def test_execution_mode_matches_its_default_column(name: str, default: str) -> None:
    impl, base = _load(name), implementations.load(default)
    x, t = _rows(6, seed=1)
    for kwargs in ({"label_smoothing": 0.3, "ignore_index": 1}, {"reduction": "none"}):
        got, expected = impl.value_and_grad(x, t, **kwargs), base.value_and_grad(x, t, **kwargs)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"{name} {kwargs}")

