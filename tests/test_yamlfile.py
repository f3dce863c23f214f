"""The one YAML reader and the one located error, as spec and expectations files see them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import expectations, spec
from conformance.cli import main
from conformance.data import packaged_path
from conformance.expectations import ExpectationsError, load_expectations
from conformance.spec import SpecError, load_spec
from conformance.yamlfile import MAX_DEPTH, LocatedError, read_yaml

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "expectations.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def raised(path: Path) -> LocatedError:
    with pytest.raises(LocatedError) as info:
        load_expectations(path, missing_ok=False)
    assert "\n" not in str(info.value)
    return info.value


def test_the_old_names_are_the_one_class() -> None:
    assert SpecError is LocatedError
    assert ExpectationsError is LocatedError
    error = ExpectationsError("a.yaml", 3, "what\n   is wrong")
    assert isinstance(error, ValueError)
    assert (error.path, error.line, error.problem) == ("a.yaml", 3, "what is wrong")
    assert str(error) == "a.yaml:3: what is wrong"


def test_a_spec_problem_is_caught_as_an_expectations_error(tmp_path: Path) -> None:
    with pytest.raises(ExpectationsError, match=r"spec\.yaml:1: .*empty"):
        load_spec(write(tmp_path, "", "spec.yaml"))


@pytest.mark.parametrize(("text", "line", "key"), [
    ("implementation: a\ndivergences: []\nimplementation: b\n", 3, "implementation"),
    ("divergences:\n  - select: {case: x}\n    reason: r\n    reason: s\n", 4, "reason"),
    ("divergences:\n  - select: {case: x, case: y}\n    reason: r\n", 2, "case"),
    ("divergences:\n  - select:\n      check: value\n      dtype: float32\n      check: invalid\n"
     "    reason: r\n", 5, "check"),
])
def test_a_duplicate_key_in_an_expectations_file_names_its_line(tmp_path: Path, text: str,
                                                                 line: int, key: str) -> None:
    path = write(tmp_path, text)
    error = raised(path)
    assert str(error).startswith(f"{path}:{line}: duplicate key {key!r} (first on line "), error


@pytest.mark.parametrize(("text", "line"), [
    ("divergences:\n  - select: {case: x}\n    reason: [r\n", 4),
    ("divergences:\n  - select: {case: x}\n   reason: r\n", 3),
    ("implementation: a\n\ndivergences:\n  - select: {case: x}\n\treason: r\n", 5),
])
def test_a_yaml_syntax_error_names_its_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text)
    assert str(raised(path)).startswith(f"{path}:{line}: invalid YAML: ")
    spec_path = write(tmp_path, text, "spec.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(spec_path)
    assert str(info.value).startswith(f"{spec_path}:{line}: invalid YAML: ")


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("divergences:\n  - select: {case: x}\n    reason: r\n    colour: red\n", 4,
     "unknown key in a divergence 'colour'"),
    ("divergences:\n  - select: {case: x}\n    reason: r\n  - select: {case: y}\n"
     "    reason: r\n    link: ''\n", 6, "'link' must be a non-empty string"),
    ("divergences:\n  - reason: r\n    select:\n      case: x\n      check: valeu\n", 5,
     "check='valeu' matches none"),
    ("# the known divergences\nimplementation: torch\ndivergences: []\n", 2,
     "not of 'wrong-sum'"),
    ("implementation: a\ndivergences:\n  - 3\n", 3, "each divergence must be a mapping"),
])
def test_other_expectations_problems_point_at_the_node(tmp_path: Path, text: str, line: int,
                                                       fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ExpectationsError) as info:
        load_expectations(path, "wrong-sum")
    assert str(info.value).startswith(f"{path}:{line}: "), info.value
    assert fragment in str(info.value)


def test_entries_are_located_at_their_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# comment\ndivergences:\n  - select: {case: x}\n    reason: a\n\n"
                           "  -   reason: b\n      select: {case: y}\n")
    assert [e.location for e in load_expectations(path).entries] == [f"{path}:3", f"{path}:6"]


def test_a_file_that_cannot_be_read_is_a_located_error(tmp_path: Path) -> None:
    error = raised(tmp_path)  # a directory
    assert str(error).startswith(f"{tmp_path}:1: cannot read the expectations file")
    (tmp_path / "bad.yaml").write_bytes(b"divergences: \xff\n")
    assert "cannot read" in str(raised(tmp_path / "bad.yaml"))


def test_nesting_is_bounded(tmp_path: Path) -> None:
    deep = "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)
    path = write(tmp_path, f"implementation: a\ndivergences: {deep}\n")
    assert str(raised(path)) == f"{path}:2: nesting deeper than {MAX_DEPTH} levels"


def test_lines_and_display_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "a:\n  - 1\n  -\n    b: 2\nc: {d: 3}\n", "doc.yaml")
    monkeypatch.chdir(tmp_path)
    doc = read_yaml(tmp_path / "doc.yaml", "the file")
    assert doc.display == "doc.yaml"
    assert doc.data == {"a": [1, {"b": 2}], "c": {"d": 3}}
    assert [doc.line(p) for p in [(), ("a",), ("a", 1), ("a", 1, "b"), ("c", "d"), ("c", "x")]] \
        == [1, 1, 4, 4, 5, 5]  # an item is on the line its content starts
    assert str(doc.error(("a", 1, "b"), "odd")) == "doc.yaml:4: a[1].b: odd"
    assert read_yaml(write(tmp_path, "# nothing\n", "empty.yaml"), "it").data is None


def test_the_cli_reports_a_located_error_once(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    spec_path = write(tmp_path, "version: 1\nversion: 1\ncases: []\n", "spec.yaml")
    expectations_path = write(tmp_path, "divergences: []\ndivergences: []\n")
    runs = [([], spec_path, "version"),
            (["--expectations", str(expectations_path)], expectations_path, "divergences")]
    for extra, path, key in runs:
        assert main(["run", "--impl", "torch", "--spec", str(spec_path), "--quiet",
                     "--out", str(tmp_path / "run"), *extra]) == 2
        assert capsys.readouterr().err == \
            f"ce-conformance: error: {path}:2: duplicate key {key!r} (first on line 1)\n"


def test_one_lookup_finds_the_spec_and_the_expectations() -> None:
    assert packaged_path("spec", "x.yaml") == REPO / "spec" / "x.yaml"
    assert spec.default_spec_path() == packaged_path("spec", spec.SPEC_NAME)
    assert spec.schema_path() == REPO / "spec" / "schema.json"
    assert expectations.default_expectations_path("jax.optax") == \
        REPO / "expectations" / "jax.optax.yaml"


def test_an_installed_copy_ignores_unrelated_top_level_folders(tmp_path):
    """Installed (package data, no checkout), an unrelated ``expectations/`` or ``spec/``
    distribution in site-packages changes nothing: keras keeps its known divergences."""
    root = REPO
    site = tmp_path / "site-packages"
    for package in ("conformance", "implementations"):
        shutil.copytree(root / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "spec", site / "conformance" / "_spec")  # as the wheel lays it out
    shutil.copytree(root / "expectations", site / "conformance" / "_expectations")
    for unrelated in ("expectations", "spec"):  # e.g. a distribution called "expectations"
        (site / unrelated).mkdir()
        (site / unrelated / "__init__.py").write_text("")
    code = ("from conformance.expectations import expectations_for\n"
            "from conformance.spec import load_spec, default_spec_path\n"
            "print(len(expectations_for('keras').entries), len(load_spec()), "
            "default_spec_path())\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    entries, cases, path = done.stdout.split()
    assert int(entries) == len(expectations.expectations_for("keras").entries) > 0
    assert int(cases) == len(load_spec())
    assert path.startswith(str(site / "conformance" / "_spec"))
