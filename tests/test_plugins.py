"""Plugins: discovery through the entry-point group and ``module:attribute``, and the two
example plugins under ``examples/`` (onnxruntime conforms apart from its listed divergences;
broken must fail its gate).

Each example plugin's gate runs the canonical spec once, loaded by ``module:attribute``; the
test of the installed plugins shows that a gate reaches them through their entry points, on
the small spec ``tests/helpers/mini_spec.yaml`` (the spec run itself is the same code).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import implementations
from conformance.cli import main
from implementations.base import UnknownImplementationError, has_gradient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BROKEN = EXAMPLES / "broken-plugin"
ORT = EXAMPLES / "onnxruntime-plugin"
MINI_SPEC = ROOT / "tests" / "helpers" / "mini_spec.yaml"


def fake_distribution(site: Path, name: str, target: str) -> None:
    """An installed distribution as importlib.metadata sees it: a dist-info with entry points."""
    info = site / "ce_conformance_fake-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ce-conformance-fake\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[ce_conformance.implementations]\n{name} = {target}\n")


def test_entry_points_are_discovered(monkeypatch, tmp_path):
    fake_distribution(tmp_path, "fake-broken", "ce_conformance_broken:BrokenImplementation")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(BROKEN))
    assert "fake-broken" in implementations.known_names()
    assert implementations.load("fake-broken").name == "broken"


def test_module_attribute_loading(monkeypatch):
    monkeypatch.syspath_prepend(str(BROKEN))
    impl = implementations.load("ce_conformance_broken:BrokenImplementation")
    assert impl.name == "broken"
    with pytest.raises(UnknownImplementationError, match="no attribute"):
        implementations.load("ce_conformance_broken:Nothing")
    with pytest.raises(UnknownImplementationError, match="no module"):
        implementations.load("ce_conformance_nothing:Nothing")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both example plugins installed for real (non-editable) into a target folder."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--disable-pip-version-check", "--target", str(target), str(BROKEN),
                           str(ORT)], capture_output=True, text=True, check=False, timeout=300)
    if done.returncode:
        pytest.skip(f"cannot build the example plugins here: {done.stderr.strip()[-500:]}")
    return target


@pytest.mark.slow
def test_installed_plugins_gate_through_their_entry_points(installed, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(installed))
    assert {"broken", "onnxruntime"} <= set(implementations.known_names())
    mini = ["--no-properties", "--spec", str(MINI_SPEC)]
    status = main(["gate", "--impl", "broken", *mini, "--dtype", "float64"])
    out = capsys.readouterr().out
    assert status == 1
    assert "NEW DIVERGENCE mini-invalid-target [invalid, float64, cpu]: " \
           "target-out-of-range: silently returned a finite number instead of raising" in out
    assert "FAIL: " in out
    if _has_onnxruntime():
        status = main(["gate", "--impl", "onnxruntime", *mini, "--dtype", "float32",
                       "--expectations", str(ORT / "expectations.yaml")])
        out = capsys.readouterr().out
        assert status == 0, out


def test_broken_gate_fails_with_a_clear_report(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BROKEN))
    status = main(["gate", "--impl", "ce_conformance_broken:BrokenImplementation",
                   "--no-properties", "--dtype", "float64"])
    out = capsys.readouterr().out
    assert status == 1
    assert "NEW DIVERGENCE weight-zero-mean [value, float64, cpu]: off by" in out
    # a reproduction snippet, loading the plugin the way the gate did
    assert "implementations.load('ce_conformance_broken:BrokenImplementation')" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: ")


def _has_onnxruntime() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def test_onnxruntime_agrees_with_the_reference_in_float32(monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.syspath_prepend(str(ORT))
    ort = implementations.load("ce_conformance_onnxruntime:OnnxRuntimeImplementation")
    reference = implementations.load("reference")
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [-2.0, 1.0, 0.0, 0.5]])
    t = np.array([0, 2, 3])
    w = np.array([0.5, 1.0, 2.0, 4.0])
    for kwargs in ({}, {"reduction": "none"}, {"weight": w, "reduction": "sum"},
                   {"weight": w, "ignore_index": 2}):
        got = ort.cross_entropy(x, t, **kwargs, dtype="float32")
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, reference.cross_entropy(x, t, **kwargs), rtol=1e-6,
                                   err_msg=f"onnxruntime cross_entropy(x, t, **{kwargs})")
    unbatched = ort.cross_entropy(x[0], np.array(0), reduction="none", dtype="float32")
    assert unbatched.shape == ()


@pytest.mark.slow  # the canonical spec in three dtypes, with torch's outputs beside
def test_onnxruntime_gate_passes_with_its_expectations(monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.syspath_prepend(str(ORT))
    status = main(["gate", "--impl", "ce_conformance_onnxruntime:OnnxRuntimeImplementation",
                   "--no-properties", "--strict", "--expectations",
                   str(ORT / "expectations.yaml")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "known divergences:" in out


def test_onnxruntime_refuses_what_it_cannot_express(monkeypatch):
    """The public base raises ``Unsupported`` with ``limits``' reason, and offers no gradient."""
    monkeypatch.syspath_prepend(str(ORT))
    ort = implementations.load("ce_conformance_onnxruntime:OnnxRuntimeImplementation")
    x = np.zeros((2, 3))
    with pytest.raises(implementations.Unsupported, match="no label smoothing"):
        ort.cross_entropy(x, np.array([0, 1]), label_smoothing=0.1)
    assert not has_gradient(ort)


def _guide_example(tmp_path: Path) -> Path:
    """PLUGINS.md's ``my_ce/__init__.py``, written out as the guide gives it."""
    text = (ROOT / "docs" / "PLUGINS.md").read_text(encoding="utf-8")
    after = text[text.index("`my_ce/__init__.py`:"):]
    code = after[after.index("```python\n") + len("```python\n"):]
    code = code[:code.index("\n```")]
    (tmp_path / "my_ce").mkdir()
    (tmp_path / "my_ce" / "__init__.py").write_text(code + "\n", encoding="utf-8")
    return tmp_path


def test_the_guides_example_runs_and_refuses_as_it_says(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(_guide_example(tmp_path)))
    impl = implementations.load("my_ce:MyCrossEntropy")
    reference = implementations.load("reference")
    x = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = np.array([0, 2])
    np.testing.assert_allclose(impl.cross_entropy(x, t, label_smoothing=0.1),
                               reference.cross_entropy(x, t, label_smoothing=0.1), rtol=1e-12)
    with pytest.raises(implementations.Unsupported, match="class indices only"):
        impl.cross_entropy(x, np.full((2, 3), 1 / 3))
    status = main(["gate", "--impl", "my_ce:MyCrossEntropy", "--no-properties",
                   "--no-gradients", "--spec", str(MINI_SPEC), "--dtype", "float64"])
    assert status == 0, capsys.readouterr().out
