"""The pytest plugin (``conformance.pytest_plugin``) and the settings it reads
(``conformance.config``: command line > environment > ``pyproject.toml``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.config import ConfigError, settings

ROOT = Path(__file__).resolve().parent.parent
MINI_SPEC = ROOT / "tests" / "helpers" / "mini_spec.yaml"
WRONG = "tests.helpers.wrong_impl:WrongSum"


def _pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The suite in a fresh pytest process, run from ``tmp_path`` (any folder works)."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environ.pop("CE_CONFORMANCE_IMPL", None) if env is None else None
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--pyargs", "conformance.testsuite", "--ce-spec", str(MINI_SPEC),
                           "-q", "-rA", *args], cwd=tmp_path, env=environ, capture_output=True,
                          text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_reference_passes_from_any_folder(tmp_path):
    status, out = _pytest(tmp_path, "--ce-impl", "reference", "--ce-no-properties")
    assert status == 0, out
    assert "11 passed" in out, out  # 5 valid cases x (value, gradient) + 1 invalid
    assert "test_spec[mini-3x4-sum-value-float64-cpu]" in out


def test_a_wrong_implementation_fails_with_its_repro(tmp_path):
    status, out = _pytest(tmp_path, "--ce-impl", WRONG, "--ce-no-properties")
    assert status == 1, out
    assert "FAILED" in out
    assert "FAILED ../" in out
    assert "test_spec[mini-3x4-sum-value-float64-cpu]" in out.split("FAILED", 1)[1]
    assert "PASSED" in out
    assert "test_spec[mini-3x4-mean-value-float64-cpu]\n" in out, "only the sums fail"
    assert "reproduce with:" in out


def test_a_listed_divergence_is_an_xfail_with_its_reason(tmp_path):
    expectations = tmp_path / "known.yaml"
    expectations.write_text("divergences:\n  - select: {feature: reduction-sum}\n"
                            "    reason: sums come out 1.5 times too large\n")
    status, out = _pytest(tmp_path, "--ce-impl", WRONG, "--ce-expectations", str(expectations),
                          "--ce-no-properties")
    assert status == 0, out
    assert "XFAIL" in out
    assert "sums come out 1.5 times too large" in out


def test_the_implementation_can_come_from_the_environment(tmp_path):
    status, out = _pytest(tmp_path, "--ce-no-properties", "-k", "mini-3x4-mean",
                          env={"CE_CONFORMANCE_IMPL": "reference"})
    assert status == 0, out


def test_without_an_implementation_it_says_how_to_name_one(tmp_path):
    status, out = _pytest(tmp_path, "--ce-no-properties", env={"CE_CONFORMANCE_IMPL": ""})
    assert status != 0
    assert "no implementation to check: pass --ce-impl NAME" in out


def test_properties_are_tests_too(tmp_path):
    status, out = _pytest(tmp_path, "--ce-impl", "reference", "-k", "test_property and shift")
    assert status == 0, out
    assert "PASSED" in out
    assert "test_property[shift-float64-cpu]" in out
    assert "1 passed" in out


# --- settings precedence ------------------------------------------------------------------------


def _pyproject(folder: Path, body: str) -> Path:
    (folder / "pyproject.toml").write_text(f"[tool.ce-conformance]\n{body}")
    return folder


def test_pyproject_gives_the_defaults(tmp_path):
    folder = _pyproject(tmp_path, 'impl = "keras"\ndtypes = ["float32"]\n'
                                  'expectations = "known.yaml"\nstrict = true\n')
    sub = folder / "deeper"
    sub.mkdir()
    found = settings({}, environ={}, start=sub)
    assert found.impl == "keras"
    assert found.dtypes == ("float32",)
    assert found.expectations == folder / "known.yaml"
    assert found.strict is True


def test_the_environment_wins_over_pyproject(tmp_path):
    _pyproject(tmp_path, 'impl = "keras"\n')
    found = settings({}, environ={"CE_CONFORMANCE_IMPL": "jax"}, start=tmp_path)
    assert (found.impl, found.source) == ("jax", "$CE_CONFORMANCE_IMPL")


def test_the_command_line_wins_over_both(tmp_path):
    _pyproject(tmp_path, 'impl = "keras"\ndtypes = ["float32"]\n')
    found = settings({"impl": "torch", "dtypes": None}, environ={"CE_CONFORMANCE_IMPL": "jax"},
                     start=tmp_path)
    assert (found.impl, found.source) == ("torch", "the command line")
    assert found.dtypes == ("float32",), "an option not given keeps the pyproject value"


@pytest.mark.parametrize(("body", "words"), [('imp = "keras"\n', "has no key 'imp'"),
                                              ("dtypes = \"float32\"\n", "wrong type")])
def test_a_malformed_table_names_the_file(tmp_path, body, words):
    _pyproject(tmp_path, body)
    with pytest.raises(ConfigError, match=words) as raised:
        settings({}, environ={}, start=tmp_path)
    assert str(tmp_path / "pyproject.toml") in str(raised.value)


def test_a_plugin_authors_own_suite_collects_it_with_one_module(tmp_path):
    _pyproject(tmp_path, 'impl = "reference"\n')
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert True\n")
    (tmp_path / "test_cross_entropy.py").write_text(
        "from conformance.testsuite.test_implementation import test_property, test_spec\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    environ.pop("CE_CONFORMANCE_IMPL", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--ce-spec", str(MINI_SPEC), "--ce-no-properties"], cwd=tmp_path,
                          env=environ, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 passed" in done.stdout, done.stdout  # its own test and the suite's 11


@pytest.mark.slow  # the whole canonical spec, in a pytest of its own
def test_the_broken_example_plugin_fails_for_its_two_bugs(tmp_path):
    broken = ROOT / "examples" / "broken-plugin"
    status, out = _pytest(tmp_path, "--ce-impl", "ce_conformance_broken:BrokenImplementation",
                          "--ce-spec", str(ROOT / "spec" / "cross_entropy.yaml"),
                          "--ce-dtype", "float64", "--ce-no-properties",
                          env={"PYTHONPATH": f"{ROOT}:{broken}", "CE_CONFORMANCE_IMPL": ""})
    assert status == 1, out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert any("weight" in line and "-mean-value-" in line for line in failed), failed
    assert any("invalid-target-out-of-range-invalid" in line for line in failed), failed
    assert "silently returned a finite number instead of raising" in out


def test_gate_takes_its_implementation_from_pyproject_and_the_environment(tmp_path, capsys,
                                                                          monkeypatch):
    from conformance.cli import main

    _pyproject(tmp_path, 'impl = "reference"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CE_CONFORMANCE_IMPL", raising=False)
    args = ["gate", "--no-properties", "--spec", str(MINI_SPEC)]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("gate reference ")
    monkeypatch.setenv("CE_CONFORMANCE_IMPL", WRONG)
    monkeypatch.syspath_prepend(str(ROOT))
    assert main(args) == 1, "the environment wins over pyproject.toml"
    assert main([*args, "--impl", "reference"]) == 0, "the command line wins over both"


TWO_CAUSES = "tests.helpers.two_causes:WrongSumAndPadding"


def test_a_property_with_two_causes_judges_both(tmp_path):
    """One test per property; a property that finds two distinct causes reports both, and is
    an xfail only when the expectations list every one of them."""
    args = ("--ce-impl", TWO_CAUSES, "--ce-spec", str(MINI_SPEC), "-k", "test_property and "
            "differential")
    status, out = _pytest(tmp_path, *args)
    assert status == 1, out
    assert "2 new causes" in out, out
    known = tmp_path / "known.yaml"
    known.write_text("divergences:\n  - select: {signature: 'property:differential / diverges"
                     " / value / *'}\n    reason: sums 1.5 times too large; padding counted\n")
    status, out = _pytest(tmp_path, *args, "--ce-expectations", str(known))
    assert status == 0, out
    assert "XFAIL" in out
    assert "padding counted" in out
