"""The published report's findings reproduce: each snippet runs on its own and prints both values.

A sample of ``reports/published/results.json``: the first finding (a record with a snippet) of
each (implementation, severity, kind of check) group, the kinds being value, gradient, invalid
input and generated (a fresh interpreter per snippet costs seconds, so not every cause).
Its snippet is rebuilt with today's ``conformance.repro``
from the record (the spec case by id, a generated one from ``case_spec``), a plugin loaded as
``module:attr`` from its example folder (as ``--impl module:attr`` would), and run in a fresh
interpreter from the repository root. It must exit 0 and print the implementation's line and
torch's. Groups whose frameworks are not installed are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import repro
from conformance.case import Case
from conformance.spec import load_spec
from implementations import registry

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "reports" / "published" / "results.json"
TIMEOUT = 240
INVALID_KINDS = {"property:invalid-weight-wrong-length": "weight-shape",
                 "property:invalid-target-out-of-range": "target-out-of-range",
                 "property:invalid-negative-target": "target-out-of-range"}


def _sample() -> list[dict[str, Any]]:
    records = json.loads(PUBLISHED.read_text())["records"] if PUBLISHED.is_file() else []
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if record.get("repro"):
            kind = "generated" if record["check"].startswith("property:") else record["check"]
            first.setdefault((record["impl"], record.get("severity"), kind), record)
    return list(first.values())


SAMPLE = _sample()


def _plugin(name: str) -> tuple[str, Path] | None:
    """A plugin's entry point (``module:attr``) and its example folder, by its name."""
    for plugin in registry.PLUGINS:
        if plugin.name == name:
            folder = ROOT / "examples" / plugin.folder
            project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
            target = project["entry-points"]["ce_conformance.implementations"][name]
            return str(target), folder
    return None


def _modules(name: str) -> tuple[str, ...]:
    if name in registry.builtin_names():
        return registry.builtin(name).modules
    return (name,)  # a plugin: its framework is its name (onnxruntime)


def _case(record: dict[str, Any]) -> Case:
    if record.get("case_spec"):
        spec = dict(record["case_spec"])
        if record["check"].startswith("property:invalid-"):  # invalid on purpose: say so
            spec.setdefault("expect", {"error": INVALID_KINDS.get(record["check"],
                                                                  "shape-mismatch")})
        return _from_spec(spec)
    return {case.id: case for case in _SPEC}[record["case"]]


_SPEC = load_spec()


def _from_spec(spec: dict[str, Any]) -> Case:
    """A generated case, through the spec loader (its one reader of case entries)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        # the spec's sources name seed documents; a generated case's own source is not one
        yaml.safe_dump({"version": 1, "cases": [{**spec, "source": "edge case"}]}, handle)
    try:
        return load_spec(handle.name)[0]
    finally:
        os.unlink(handle.name)


@pytest.mark.parametrize("record", SAMPLE,
                         ids=[f"{r['impl']}-{r['check']}-{r['case']}" for r in SAMPLE])
def test_published_snippet_runs_and_prints_both_values(record: dict[str, Any]) -> None:
    name = record["impl"]
    for module in ("torch", *_modules(name)):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    load_as = None
    if (plugin := _plugin(name)) is not None:
        load_as, folder = plugin
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(folder)])
    check = "gradient" if record["check"] == "gradient" else "value"
    code = repro.snippet(name, _case(record), record["dtype"], record["device"], check,
                         load_as=load_as)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"the snippet failed:\n{code}\n{done.stderr[-3000:]}"
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"{name}:") for line in lines), f"no {name} line:\n{done.stdout}"
    assert any(line.startswith("torch:") for line in lines), f"no torch line:\n{done.stdout}"
