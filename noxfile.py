"""Nox sessions: one virtualenv per backend group, so that running one never needs the others.

    nox -s "backend(torch)" "backend(jax)"  # the suite on those groups: reports/nox/<group>/
    nox -s backend                          # every group (the example plugins' too)
    nox -s matrix                           # every published group, then one merged report
    nox -s "gate(impl='torch')"             # pass/fail one implementation on its expectations
    nox -s "versions(torch2.12)"            # one group at other framework versions (below)
    nox -s tests lint typecheck             # the harness itself (tests: -- -m "not slow")
    nox -s interpreter                      # the fused-kernel plugins on the CPU (not in CI)

The groups, their implementations, extras and plugins come from ``implementations/registry.py``
(read here without importing the project, which nox's own environment does not have).
Framework versions are pinned by ``constraints/ci.txt`` (passed to every install with ``-c``);
set ``CE_CONFORMANCE_CONSTRAINTS=/path/to/file`` to use other pins, or set it empty for none.
``constraints/versions/<name>.txt`` are version sets: the ``versions`` session runs the group
(or the implementations) a set's ``# group:`` (``# impls:``) line names, at its pins, into
``reports/versions/<name>/``; ``ce-conformance report --merge`` puts them beside the main run
as columns of their own. Arguments after ``--`` go to the command a session runs
(``nox -s "backend(torch)" -- --dtype float32``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["backend(reference)", "tests", "lint"]

ROOT = Path(__file__).resolve().parent
REPORTS = Path("reports/nox")
CONSTRAINTS = ROOT / "constraints" / "ci.txt"
VERSION_SETS = {path.stem: path
                for path in sorted((ROOT / "constraints" / "versions").glob("*.txt"))}


def _load_registry() -> ModuleType:
    """``implementations/registry.py`` as a standalone module (it needs only the stdlib)."""
    spec = importlib.util.spec_from_file_location("_ce_registry",
                                                  ROOT / "implementations" / "registry.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


REGISTRY = _load_registry()
GROUPS: dict[str, list[str]] = REGISTRY.groups()
MERGED: list[str] = REGISTRY.merged_groups()
GATED: dict[str, str] = {impl: group for group in MERGED for impl in GROUPS[group]}

# torch comes through pip: pip reads this machine's pip config (a local CPU wheel) and CI's
# PIP_EXTRA_INDEX_URL (the CPU index); uv reads neither and would fetch the multi-GB CUDA build.
PIP_ONLY = "virtualenv"


def _constraints(pins: Path | None = None) -> list[str]:
    """``-c FILE`` for the pins in force (``pins``, else see the module docstring), or
    nothing."""
    path = str(pins) if pins else os.environ.get("CE_CONFORMANCE_CONSTRAINTS", str(CONSTRAINTS))
    return ["-c", path] if path else []


def _header(path: Path, key: str) -> list[str]:
    """The words of a version set's ``# key: ...`` line (empty when it has none)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].split()
    return []


def _prepare(session: nox.Session, group: str, *extras: str, pins: Path | None = None) -> None:
    """Install ``group``'s frameworks and plugins (plus ``extras`` of ce-conformance; at the
    pins of ``pins`` when given) and print the versions."""
    wanted = sorted({*extras, *(row.extra for row in REGISTRY.BUILTINS
                                if row.group == group and row.extra)})
    package = f".[{','.join(wanted)}]" if wanted else "."
    plugins = [f"./examples/{plugin.folder}" for plugin in REGISTRY.PLUGINS
               if plugin.group == group]
    session.install(*_constraints(pins), package, *plugins)
    session.run("ce-conformance", "list")


@nox.session(venv_backend=PIP_ONLY)
@nox.parametrize("backend", list(GROUPS), ids=list(GROUPS))
def backend(session: nox.Session, backend: str) -> None:
    """Run the suite on one backend group; its report goes to reports/nox/<group>/."""
    _prepare(session, backend)
    impls = [arg for impl in GROUPS[backend] for arg in ("--impl", impl)]
    session.run("ce-conformance", "run", *impls, "--out", str(REPORTS / backend), "--quiet",
                *session.posargs)


@nox.session(venv_backend=PIP_ONLY)
@nox.parametrize("pins", list(VERSION_SETS), ids=list(VERSION_SETS))
def versions(session: nox.Session, pins: str) -> None:
    """Run one group's main-job implementations at a version set's pins (with torch, the
    baseline); the report goes to reports/versions/<set>/."""
    path = VERSION_SETS[pins]
    group = _header(path, "group")[0]
    names = _header(path, "impls") or [row.name for row in REGISTRY.BUILTINS
                                        if row.group == group and row.default]
    _prepare(session, group, "torch", pins=path)
    impls = [arg for impl in names for arg in ("--impl", impl)]
    session.run("ce-conformance", "run", *impls, "--out", f"reports/versions/{pins}", "--quiet",
                *session.posargs)


@nox.session(requires=[f"backend({group})" for group in MERGED])
def matrix(session: nox.Session) -> None:
    """Merge the backend reports into one (CI: ``--no-dependencies`` on downloaded reports)."""
    session.install(".")
    folders = sorted(str(p.parent) for p in REPORTS.glob("*/results.json")
                     if p.parent.name in MERGED)
    if not folders:
        session.error(f"no reports under {REPORTS}/: run the backend sessions first")
    session.run("ce-conformance", "report", "--merge", *folders, "--out", "reports/latest",
                *session.posargs)


@nox.session(venv_backend=PIP_ONLY)
@nox.parametrize("impl", list(GATED))
def gate(session: nox.Session, impl: str) -> None:
    """Pass or fail one implementation against its expectations file, with JUnit XML."""
    _prepare(session, GATED[impl])
    files = {plugin.name: plugin.expectations for plugin in REGISTRY.PLUGINS}
    expectations = ["--expectations", files[impl]] if files.get(impl) else []
    session.run("ce-conformance", "gate", "--impl", impl, *expectations,
                "--junit", str(REPORTS / f"gate-{impl}.xml"), *session.posargs)


#: The fused-kernel plugins on the CPU (reports/README.md, "Interpreter columns"): Liger-Kernel
#: under Triton's interpreter (TRITON_INTERPRET=1, device "cpu (Triton interpreter)"), and
#: cut-cross-entropy: its Triton path, which the interpreter cannot run (skipped with the
#: reason), and its torch_compile path. triton 3.6.0's interpreter fails on Liger's kernel.
INTERPRETER_PINS = ("triton==3.8.0", "liger-kernel==0.8.5", "cut-cross-entropy==25.1.1")
LIGER = ("--impl", "ce_conformance_liger:LigerKernelImplementation",
         "--device", "cpu (Triton interpreter)",
         "--expectations", "examples/liger-kernel-plugin/expectations.yaml")
INTERPRETED: dict[tuple[str, str], tuple[str, ...]] = {
    # one Python program per row: the spec's 30000- and 65520-row cases take minutes per call
    ("liger", "ci"): (*LIGER, "--exclude-case", "half-mean-rows-*",
                      "--exclude-case", "half-overflow-*", "--dtype", "float32",
                      "--dtype", "bfloat16", "--dtype", "float16", "--dtype", "float64"),
    ("liger", "large"): (*LIGER, "--profile", "large", "--case", "large-*"),
    ("cce", "ci"): ("--impl", "ce_conformance_cce:CutCrossEntropyImplementation",
                    "--impl", "ce_conformance_cce:CutCrossEntropyTorchCompileImplementation",
                    "--expectations", "examples/cut-cross-entropy-plugin/expectations.yaml",
                    "--expectations",
                    "examples/cut-cross-entropy-plugin/expectations-torch_compile.yaml",
                    "--timeout-floor", "120", "--impl-budget", "1500", "--dtype", "float32",
                    "--dtype", "bfloat16", "--dtype", "float16"),
}


@nox.session(venv_backend=PIP_ONLY)
@nox.parametrize(("plugin", "profile"), list(INTERPRETED),
                 ids=[f"{plugin}-{profile}" for plugin, profile in INTERPRETED])
def interpreter(session: nox.Session, plugin: str, profile: str) -> None:
    """Run a fused-kernel plugin on the CPU; reports/nox/<plugin>-interp-<profile>/."""
    session.install(*_constraints(), ".[torch]", *INTERPRETER_PINS)
    session.run("ce-conformance", "list")
    folder = {"liger": "liger-kernel-plugin", "cce": "cut-cross-entropy-plugin"}[plugin]
    env = {"TRITON_INTERPRET": "1", "PYTHONPATH": f"examples/{folder}",
           "CE_CONFORMANCE_MEMORY": os.environ.get("CE_CONFORMANCE_MEMORY", "64M")}
    session.run("ce-conformance", "run", *INTERPRETED[(plugin, profile)], "-j", "1",
                "--out", str(REPORTS / f"{plugin}-interp-{profile}"), *session.posargs, env=env)


@nox.session(venv_backend=PIP_ONLY)
def tests(session: nox.Session) -> None:
    """Test the harness itself (torch and onnxruntime installed; others skip), one pytest
    worker per core (a ``-n`` in the arguments wins; ``-m "not slow"`` is the quick run)."""
    session.install(*_constraints(), ".[dev,torch,onnx]")
    session.run("ce-conformance", "list")
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff."""
    session.install("ruff")
    session.run("ruff", "--version")
    session.run("ruff", "check", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the harness with mypy (strict, configured in pyproject.toml)."""
    session.install(*_constraints(), ".[dev]")
    session.run("mypy", "--version")
    session.run("mypy", *session.posargs)
