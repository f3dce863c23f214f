"""The registry is the one list of backends: every row loads (or names its extra), and nox,
``.ci/run`` and the workflow list exactly what it lists."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import implementations
from implementations import registry
from implementations.base import NotInstalledError

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_SCRIPT = ["implementations/registry.py"]


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *REGISTRY_SCRIPT, *args], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=60)
    return done.stdout


@pytest.mark.parametrize("row", registry.BUILTINS, ids=lambda row: row.name)
def test_every_row_loads_or_names_its_extra(row: registry.Backend) -> None:
    """The row's target is an implementation with the row's name, or loading it says which
    extra to install (only when one of the row's framework modules is missing)."""
    if any(importlib.util.find_spec(module) is None for module in row.modules):
        with pytest.raises(NotInstalledError, match=re.escape(f"pip install -e '.[{row.extra}]'")):
            implementations.load(row.name)
        return
    impl = implementations.load(row.name)
    assert impl.name == row.name
    assert set(getattr(impl, "devices", ("cpu",))) <= set(row.devices)
    assert implementations.BUILTIN[row.name] == row.target


def test_names_are_unique_and_builtin_derives_from_the_rows() -> None:
    names = registry.builtin_names()
    assert len(names) == len(set(names))
    assert list(implementations.BUILTIN) == names
    assert implementations.known_names()[:len(names)] == names


def test_the_main_job_runs_the_default_rows_only() -> None:
    """``names()`` (the main job: ``ce-conformance run`` without ``--impl``, ``.ci/run``'s
    gates) leaves out the rows without ``default``; every other list keeps them: they load by
    name, run in their nox group's session and have a gate session of their own."""
    from conformance.commands.options import session_names

    slow = [row.name for row in registry.BUILTINS if not row.default]
    assert "torch.compile" in slow
    assert registry.names() == [n for n in registry.builtin_names() if n not in slow]
    assert session_names(None) == registry.names()
    assert session_names(["torch.compile"]) == ["torch.compile"]
    assert set(slow) <= set(registry.gated())
    assert set(slow) <= {name for names in registry.groups().values() for name in names}


def test_every_builtin_has_an_expectations_file() -> None:
    for name in registry.builtin_names():
        assert (ROOT / "expectations" / f"{name}.yaml").is_file(), name


def test_every_plugin_row_points_at_its_example() -> None:
    for plugin in registry.PLUGINS:
        assert (ROOT / "examples" / plugin.folder / "pyproject.toml").is_file(), plugin.folder
        if plugin.expectations:
            assert (ROOT / plugin.expectations).is_file(), plugin.expectations


def test_command_line_prints_the_registry() -> None:
    assert _run("names").split() == registry.names()
    lines = dict(line.split("=", 1) for line in _run("github-matrix").splitlines())
    assert json.loads(lines["session"]) == list(registry.groups())
    assert json.loads(lines["impl"]) == registry.gated()


def test_ci_run_gates_the_registry_names() -> None:
    """``.ci/run`` gates the registry's names and lists none by hand."""
    script = (ROOT / ".ci" / "run").read_text()
    assert "python implementations/registry.py names | xargs" in script
    assert "ce-conformance gate --impl {}" in script
    assert "tensorflow.nn" not in script


def test_workflow_matrices_come_from_the_registry() -> None:
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "conformance.yml").read_text())["jobs"]
    steps = [step.get("run", "") for step in jobs["registry"]["steps"]]
    assert any("implementations/registry.py github-matrix" in run for run in steps)
    assert jobs["backend"]["strategy"]["matrix"]["session"] == \
        "${{ fromJSON(needs.registry.outputs.session) }}"
    assert jobs["gate"]["strategy"]["matrix"]["impl"] == \
        "${{ fromJSON(needs.registry.outputs.impl) }}"


def test_nox_sessions_are_the_registry_groups() -> None:
    """One ``backend(<group>)`` session per registry group, one gate per gated name."""
    nox = shutil.which("nox") or str(Path(sys.executable).parent / "nox")
    if not Path(nox).exists():
        pytest.skip("nox is not installed")
    done = subprocess.run([nox, "--list", "--json", "-s", "backend", "gate"], cwd=ROOT,
                          check=True, capture_output=True, text=True, timeout=120)
    sessions = json.loads(done.stdout)
    backends = [s["call_spec"]["backend"] for s in sessions if s["name"] == "backend"]
    gates = [s["call_spec"]["impl"] for s in sessions if s["name"] == "gate"]
    assert backends == list(registry.groups())
    assert gates == registry.gated()
