"""The fused-kernel example plugins (``examples/liger-kernel-plugin``,
``examples/cut-cross-entropy-plugin``, ``examples/torch-compile-plugin``).

Without CUDA: each loads by ``module:attribute``, says why it is unavailable, declares its
limits with the documented reasons and raises ``Unsupported`` for a call it cannot express.
With CUDA (``gpu``): each runs the spec with its expectations file and finds nothing new, and
each passes the composition check. torch.compile also runs for real on CPU. Under Triton's CPU
interpreter (``TRITON_INTERPRET=1``), where triton and liger-kernel are installed (CI installs
neither: these skip there, with the reason), Liger's gate passes on its device
``cpu (Triton interpreter)``, its write into its input is the finding it is, and CCE's Triton
path still fails there for the reason its adapter gives, while its non-Triton path
(``cut-cross-entropy.torch_compile``) runs on the CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import implementations
from conformance.expectations import load_expectations
from conformance.session import run_spec
from conformance.spec import load_spec, select_cases
from implementations.base import Call, Unsupported

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLUGINS = {  # name -> (folder, module:attribute)
    "liger-kernel": ("liger-kernel-plugin", "ce_conformance_liger:LigerKernelImplementation"),
    "cut-cross-entropy": ("cut-cross-entropy-plugin",
                          "ce_conformance_cce:CutCrossEntropyImplementation"),
    "torch.compile": ("torch-compile-plugin",
                      "ce_conformance_torch_compile:TorchCompileImplementation"),
    "cut-cross-entropy.torch_compile": (
        "cut-cross-entropy-plugin", "ce_conformance_cce:CutCrossEntropyTorchCompileImplementation"),
}
INTERPRETER = "cpu (Triton interpreter)"
ROOT = EXAMPLES.parent


#: a second implementation in a plugin's package has an expectations file of its own
OWN_EXPECTATIONS = {"cut-cross-entropy.torch_compile": "expectations-torch_compile.yaml"}


def expectations_file(name: str) -> Path:
    """The expectations file of plugin ``name``."""
    folder, _ = PLUGINS[name]
    return EXAMPLES / folder / OWN_EXPECTATIONS.get(name, "expectations.yaml")
# Out-of-range targets reach device memory unchecked in CCE (and assert on the device in
# torch); a wrong batch size is read past the target in Liger. Either can leave the CUDA
# context unusable, so these run in processes of their own (reports/README.md).
CUDA_ISOLATED = ["invalid-target-out-of-range", "invalid-target-negative", "invalid-batch-size-*"]
X = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [-2.0, 1.0, 0.0, 0.5]])
T = np.array([0, 2, 3])
W = np.array([0.5, 1.0, 2.0, 4.0])


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    folder, target = PLUGINS[name]
    monkeypatch.syspath_prepend(str(EXAMPLES / folder))
    impl = implementations.load(target)
    assert impl.name == name
    return impl


def call(input_shape: tuple[int, ...] = (3, 4), **fields: Any) -> Call:
    fields.setdefault("device", "cuda")
    fields.setdefault("dtype", "float16")
    return Call(input_shape=input_shape, target_kind=fields.pop("target_kind", "indices"),
                **fields)


def cuda() -> Any:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    return torch


# --- without a GPU ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["liger-kernel", "cut-cross-entropy"])
def test_cuda_only_plugins_say_why_they_are_unavailable(name, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    impl = load(name, monkeypatch)
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the plugin may be available")
    assert impl.available().startswith("needs CUDA: torch sees no GPU")
    assert impl.devices == ()
    assert set(impl.versions()) <= {name, "triton", "torch"}


@pytest.mark.parametrize(("name", "fields", "reason"), [
    ("liger-kernel", {"target_kind": "probabilities", "input_shape": (3, 4)},
     "class indices only: the kernel loads one target index per row"),
    ("liger-kernel", {"input_shape": (2, 3, 4)}, "(BT, V) logits only"),
    ("liger-kernel", {"input_shape": (4,)}, "(BT, V) logits only"),
    ("liger-kernel", {"device": "cpu"}, "run on CUDA only"),
    ("cut-cross-entropy", {"target_kind": "probabilities"}, "class indices only"),
    ("cut-cross-entropy", {"has_weight": True}, "no class weights"),
    ("cut-cross-entropy", {"label_smoothing": 0.1}, "no label smoothing"),
    ("cut-cross-entropy", {"input_shape": (4,)}, "no unbatched input"),
    ("cut-cross-entropy", {"dtype": "float64"}, "no float64"),
    ("cut-cross-entropy", {"dtype": "float32", "gradient": True}, "no float32 gradient"),
    ("cut-cross-entropy", {"input_shape": (2, 20000)}, "identity classifier"),
    ("cut-cross-entropy", {"device": "cpu"}, "run on CUDA only"),
])
def test_declared_limits_give_their_reasons(name, fields, reason, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    impl = load(name, monkeypatch)
    got = impl.supports(call(**fields))
    assert got is not None, f"{name}.supports({fields}) accepted it"
    assert reason in got, f"{name}.supports({fields}) = {got!r}"


@pytest.mark.parametrize(("name", "fields"), [
    ("liger-kernel", {}),
    ("liger-kernel", {"has_weight": True, "ignore_index": 1, "label_smoothing": 0.1,
                      "reduction": "sum", "dtype": "bfloat16", "gradient": True}),
    ("liger-kernel", {"dtype": "float64", "reduction": "none"}),
    ("cut-cross-entropy", {"ignore_index": 1, "reduction": "none", "gradient": True}),
    ("cut-cross-entropy", {"input_shape": (2, 4, 5), "dtype": "float32"}),
    ("torch.compile", {"input_shape": (2, 4, 5, 6), "has_weight": True, "label_smoothing": 0.3,
                       "dtype": "float64", "device": "cpu", "gradient": True}),
])
def test_supported_calls_are_not_refused(name, fields, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    impl = load(name, monkeypatch)
    if name == "torch.compile" and impl.supports(call(**fields)):
        pytest.skip(impl.supports(call(**fields)))
    assert impl.supports(call(**fields)) is None


@pytest.mark.parametrize(("name", "kwargs", "reason"), [
    ("liger-kernel", {"target": np.eye(4)[T]}, "class indices only"),
    ("liger-kernel", {"input": X[0], "target": np.array(1)}, "(BT, V) logits only"),
    ("cut-cross-entropy", {"weight": W}, "no class weights"),
    ("cut-cross-entropy", {"label_smoothing": 0.2}, "no label smoothing"),
])
@pytest.mark.parametrize("method", ["cross_entropy", "value_and_grad"])
def test_unsupported_calls_raise_unsupported(name, kwargs, reason, method, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    impl = load(name, monkeypatch)
    args = {"input": X, "target": T, **kwargs}
    with pytest.raises(Unsupported, match=reason.replace("(", r"\(").replace(")", r"\)")):
        getattr(impl, method)(**args, dtype="float16", device="cuda")


@pytest.mark.parametrize("name", list(PLUGINS))
def test_expectations_files_are_well_formed(name):
    expectations = load_expectations(expectations_file(name), name,
                                      missing_ok=False)
    assert all(entry.reason and entry.link for entry in expectations.entries)


# --- torch.compile on CPU, for real ----------------------------------------------------------

CPU_CASES = ["seed-3x4-weight-mean", "kdim2-weight-ii-smooth-none", "seed-2x3-prob-smooth0.8-mean",
             "all-ignored-mean", "invalid-reduction"]


def _compile_on_cpu(monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("torch")
    impl = load("torch.compile", monkeypatch)
    reason = impl.supports(call(device="cpu"))
    if reason:
        pytest.skip(reason)
    return impl


@pytest.mark.slow
def test_torch_compile_conforms_on_cpu_spec_cases(monkeypatch):
    impl = _compile_on_cpu(monkeypatch)
    cases = select_cases(load_spec(), CPU_CASES)
    assert len(cases) == len(CPU_CASES)
    records = run_spec([impl], cases, ["float32"], ["cpu"])
    expectations = load_expectations(EXAMPLES / "torch-compile-plugin" / "expectations.yaml")
    annotated = expectations.annotate(records)
    assert {r.verdict for r in records} == {"conforms"}, \
        [(r.case, r.check, r.reason, r.exception) for r in records if r.verdict != "conforms"]
    assert not annotated.new


# --- the composition check -------------------------------------------------------------------

def composed_grads(torch: Any, loss_fn: Any, x0: Any, target: Any, kwargs: dict[str, Any],
                   *, loss_first: bool) -> Any:
    """d/dx of ce(x) + sum(x**2), with the loss computed before or after the square reads x."""
    import torch.nn.functional as F

    x = x0.clone().requires_grad_(True)
    square = None if loss_first else (x ** 2).sum()
    loss = loss_fn(x, target, **kwargs).sum()
    total = loss + (square if square is not None else (x ** 2).sum())
    (grad,) = torch.autograd.grad(total, [x])
    x_ref = x0.clone().requires_grad_(True)
    reference = F.cross_entropy(x_ref.float(), target, **kwargs).sum() + (x_ref.float() ** 2).sum()
    (expected,) = torch.autograd.grad(reference, [x_ref])
    assert torch.equal(x.detach(), x0), "the adapter wrote into the caller's tensor"
    return grad, expected


COMPOSITION = [  # (plugin, keyword arguments, dtype)
    ("liger-kernel", {"ignore_index": 1, "label_smoothing": 0.1}, "float32"),
    ("liger-kernel", {"reduction": "none"}, "bfloat16"),
    ("cut-cross-entropy", {"ignore_index": 1}, "bfloat16"),
    ("cut-cross-entropy", {"reduction": "sum"}, "float16"),
    ("torch.compile", {"ignore_index": 1, "label_smoothing": 0.1}, "float32"),
]


def _check_composition(name, kwargs, dtype, device, monkeypatch, *, loss_first):
    torch = pytest.importorskip("torch")
    impl = load(name, monkeypatch)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(8, 16, generator=generator).to(getattr(torch, dtype)).to(device)
    target = torch.randint(0, 16, (8,), generator=generator).to(device)
    grad, expected = composed_grads(torch, impl.torch_loss, x0, target, kwargs,
                                    loss_first=loss_first)
    tol = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 2e-2}[dtype]
    torch.testing.assert_close(grad.float(), expected.float(), rtol=tol, atol=tol,
                               msg=lambda m: f"{name} ce(x) + sum(x**2), {kwargs}, {dtype}: {m}")


@pytest.mark.gpu
@pytest.mark.parametrize("loss_first", [True, False], ids=["loss-first", "square-first"])
@pytest.mark.parametrize(("name", "kwargs", "dtype"), COMPOSITION)
def test_composition_on_cuda(name, kwargs, dtype, loss_first, monkeypatch):
    cuda()
    _check_composition(name, kwargs, dtype, "cuda", monkeypatch, loss_first=loss_first)


@pytest.mark.slow
@pytest.mark.parametrize("loss_first", [True, False], ids=["loss-first", "square-first"])
def test_torch_compile_composition_on_cpu(loss_first, monkeypatch):
    _compile_on_cpu(monkeypatch)
    _check_composition("torch.compile", {"ignore_index": 1, "label_smoothing": 0.1}, "float32",
                       "cpu", monkeypatch, loss_first=loss_first)


# --- the spec on CUDA ------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("name", list(PLUGINS))
def test_spec_on_cuda_has_no_new_divergence(name, monkeypatch):
    cuda()
    impl = load(name, monkeypatch)
    if impl.available():
        pytest.skip(impl.available())
    cases = select_cases(load_spec(), None, CUDA_ISOLATED)
    records = run_spec([impl], cases, list(impl.dtypes), ["cuda"])
    annotated = load_expectations(expectations_file(name), name).annotate(records)
    assert not annotated.new, [(r.case, r.check, r.dtype, r.reason) for r in annotated.new]


# --- under Triton's CPU interpreter (TRITON_INTERPRET=1) --------------------------------------

#: spec cases for Liger's gate under the interpreter: plain ones, ignored rows (written to 0 in
#: its input), a known convention, a known gradient divergence, weights (unsupported there)
LIGER_INTERPRETER_CASES = ["seed-3x4-mean", "seed-3x4-ii2-mean", "seed-3x4-smooth0.8-mean",
                           "seed-3x4-weight-mean", "all-ignored-mean", "smooth-negative",
                           "invalid-reduction"]


def installed(*modules: str) -> None:
    """Skip, with the reason, unless every one of ``modules`` is installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (the interpreter columns need triton "
                    "and the fused library; CI installs neither, reports/README.md has the setup)")


def interpreted(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python *args`` with TRITON_INTERPRET=1 and the plugins importable, from ``cwd``."""
    paths = [str(ROOT), str(EXAMPLES / "liger-kernel-plugin"),
             str(EXAMPLES / "cut-cross-entropy-plugin")]
    env = {**os.environ, "TRITON_INTERPRET": "1",
           "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def test_the_interpreter_is_a_device_of_its_own(monkeypatch):
    """Under TRITON_INTERPRET=1 Liger's CPU column is ``cpu (Triton interpreter)``, never
    ``cpu`` or ``cuda``, and what the interpreter cannot run is declared with its reason."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    impl = load("liger-kernel", monkeypatch)
    assert INTERPRETER in (impl.supports(call(device="cpu")) or "")
    assert impl.supports(call(device=INTERPRETER, dtype="float32", gradient=True)) is None
    assert "Triton's interpreter" in (impl.supports(call(device=INTERPRETER,
                                                         has_weight=True)) or "")
    if impl.available() is None:
        assert impl.devices == (INTERPRETER,)
    monkeypatch.delenv("TRITON_INTERPRET")
    assert "TRITON_INTERPRET=1" in (impl.supports(call(device=INTERPRETER)) or "")


@pytest.mark.slow
def test_liger_gate_passes_under_the_interpreter(tmp_path):
    """Liger's spec cases under the interpreter in float32 and bfloat16 (a run of a few cases,
    then the gate on its records): the gate passes on the expectations file, every record
    names the interpreter's device, and Liger's write into its input (the gradient, and zeros
    over ignored rows) is the known finding it is."""
    installed("triton", "liger_kernel")
    where = ["--impl", PLUGINS["liger-kernel"][1], "--device", INTERPRETER,
             "--dtype", "float32", "--dtype", "bfloat16"]
    expectations = ["--expectations", str(expectations_file("liger-kernel"))]
    cases = [arg for case in LIGER_INTERPRETER_CASES for arg in ("--case", case)]
    ran = interpreted("-m", "conformance.cli", "run", *where, *cases, "--no-properties",
                      *expectations, "--quiet", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    results = tmp_path / "run" / "results.json"
    gated = interpreted("-m", "conformance.cli", "gate", *where, *expectations,
                        "--results", str(results), cwd=tmp_path)
    assert gated.returncode == 0, gated.stdout[-3000:] + gated.stderr[-3000:]
    records = json.loads(results.read_text())["records"]
    assert {r["case"] for r in records} >= set(LIGER_INTERPRETER_CASES)
    assert {r["device"] for r in records} == {INTERPRETER}
    writes = [r for r in records if r["check"] == "inputs"]
    assert len(writes) == 2
    for record in writes:
        assert record["outcome"] == "writes-input", record
        assert record["expected_reason"], record
    weighted = [r for r in records if r["case"] == "seed-3x4-weight-mean"]
    assert weighted
    assert all(r["verdict"] == "unsupported" for r in weighted)


def test_cce_triton_path_still_fails_under_the_interpreter(tmp_path, monkeypatch):
    """The reason CCE's adapter gives under TRITON_INTERPRET=1 stays true: its Triton forward
    fails in the interpreter, in libdevice.log1p (a stub returning None there)."""
    installed("triton", "cut_cross_entropy")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert "libdevice.log1p" in (load("cut-cross-entropy", monkeypatch).available() or "")
    script = ("import torch\n"
              "from cut_cross_entropy import linear_cross_entropy\n"
              "e = torch.randn(4, 8, dtype=torch.bfloat16)\n"
              "linear_cross_entropy(e, torch.eye(8, dtype=torch.bfloat16),"
              " torch.tensor([1, 2, 3, 0]))\n")
    done = interpreted("-c", script, cwd=tmp_path)
    assert done.returncode != 0, "CCE's Triton path ran under the interpreter: update " \
                                 "ce_conformance_cce's available() and this test"
    assert "'NoneType' object has no attribute" in done.stderr, done.stderr[-3000:]
    assert "tl_logaddexp" in done.stderr, done.stderr[-3000:]


#: cut-cross-entropy's non-Triton path on the CPU: few configurations, so a fresh process stays
#: below dynamo's recompile limit (past it, fullgraph=True raises: expectations-torch_compile)
CCE_CPU_CASES = ["seed-3x4-mean", "seed-3x4-ii2-mean", "all-ignored-mean",
                 "neg-inf-logit-other-class", "invalid-class-target-int32"]


@pytest.mark.slow
def test_cce_torch_compile_path_runs_on_cpu(monkeypatch):
    """``cut-cross-entropy.torch_compile`` (``impl="torch_compile"``) runs on the CPU and finds
    nothing its expectations file does not list, its NaN row of the identity classifier
    included."""
    installed("cut_cross_entropy")
    impl = load("cut-cross-entropy.torch_compile", monkeypatch)
    if impl.available():
        pytest.skip(impl.available())
    cases = select_cases(load_spec(), CCE_CPU_CASES)
    records = run_spec([impl], cases, ["float32"], ["cpu"])
    annotated = load_expectations(expectations_file(impl.name), impl.name).annotate(records)
    assert not annotated.new, [(r.case, r.check, r.reason, r.exception) for r in annotated.new]
    nan_row = [r for r in records if r.case == "neg-inf-logit-other-class" and r.check == "value"]
    assert [r.verdict for r in nan_row] == ["diverges"]
    assert {r.verdict for r in records if r.case == "seed-3x4-mean"} == {"conforms"}
