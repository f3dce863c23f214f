"""The published report's findings reproduce: each snippet runs on its own and prints both values.

A sample of ``reports/published/results.json``: the first finding (a record with a snippet) of
each (implementation, severity, kind of check) group, the kinds being value, gradient, invalid
input and generated (a fresh interpreter per snippet costs seconds, so not every cause).
Its snippet is rebuilt with today's ``conformance.repro``
from the record (the spec case by id, a generated one from ``case_spec``), a plugin loaded as
``module:attr`` from its example folder (as ``--impl module:attr`` would), and run from the
repository root. It must run to the end and print the implementation's line and torch's.
Groups whose frameworks are not installed are skipped.

The snippets of one implementation run in one fresh interpreter, each as ``__main__`` in a
namespace of its own (``tests.helpers.snippets``): the framework is imported once per
implementation, not once per snippet, and the tests of one implementation run on one xdist
worker (``xdist_group``, see ``tests/conftest.py``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import repro
from conformance.case import Case
from conformance.spec import load_spec
from conformance.vocabulary import INVALID_GENERATORS
from implementations import registry
from tests.helpers.snippets import Ran, run_snippets

pytestmark = pytest.mark.slow  # an interpreter per implementation, each importing its framework

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "reports" / "published" / "results.json"
TIMEOUT = 900  # one interpreter for all of an implementation's snippets (keras: 11)
INVALID_KINDS = {f"property:invalid-{generator}": str(kind)
                 for generator, kind in INVALID_GENERATORS.items()}


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


def _missing(name: str) -> str | None:
    if name not in registry.builtin_names() and _plugin(name) is None:
        # the interpreter columns (liger-kernel, cut-cross-entropy): their snippets need
        # their own virtualenv and TRITON_INTERPRET=1 (reports/README.md)
        return f"{name} is neither built in nor a registered example plugin"
    for module in ("torch", *_modules(name)):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    return None


def _snippet(record: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The record's snippet as today's ``conformance.repro`` writes it, and its environment."""
    name = record["impl"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    load_as = None
    if (plugin := _plugin(name)) is not None:
        load_as, folder = plugin
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(folder)])
    check = "gradient" if record["check"] == "gradient" else "value"
    code = repro.snippet(name, _case(record), record["dtype"], record["device"], check,
                         load_as=load_as)
    return code, env


def _of(name: str) -> list[dict[str, Any]]:
    return [record for record in SAMPLE if record["impl"] == name]


@functools.cache
def _ran(name: str) -> list[tuple[str, Ran]]:
    """Every sampled snippet of ``name`` (in ``_of(name)``'s order), run in one fresh
    interpreter."""
    built = [_snippet(record) for record in _of(name)]
    ran = run_snippets([code for code, _ in built], cwd=ROOT, env=built[0][1], timeout=TIMEOUT)
    return [(code, outcome) for (code, _), outcome in zip(built, ran, strict=True)]


def _key(record: dict[str, Any]) -> str:
    return f"{record['impl']}-{record['check']}-{record['case']}"


@pytest.mark.parametrize("record", [pytest.param(r, marks=pytest.mark.xdist_group(r["impl"]))
                                    for r in SAMPLE], ids=[_key(r) for r in SAMPLE])
def test_published_snippet_runs_and_prints_both_values(record: dict[str, Any]) -> None:
    name = record["impl"]
    if (missing := _missing(name)) is not None:
        pytest.skip(missing)
    code, done = _ran(name)[_of(name).index(record)]
    assert done.status == 0, f"the snippet failed:\n{code}\n{done.stderr[-3000:]}"
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"{name}:") for line in lines), f"no {name} line:\n{done.stdout}"
    assert any(line.startswith("torch:") for line in lines), f"no torch line:\n{done.stdout}"
