"""Nox sessions: one virtualenv per backend, so that running one never needs the others.

    nox -s reference torch        # run the suite on those backends -> reports/nox/<session>/
    nox -s matrix                 # every backend, then one merged report in reports/latest/
    nox -s "gate(impl='torch')"   # pass/fail one implementation against its expectations
    nox -s tests lint typecheck   # the harness itself

Framework versions are pinned by ``constraints/ci.txt`` (passed to every install with ``-c``);
set ``CE_CONFORMANCE_CONSTRAINTS=/path/to/file`` to use other pins, or set it empty for none.
Arguments after ``--`` go to the command a session runs (``nox -s torch -- --dtype float32``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["reference", "tests", "lint"]

ROOT = Path(__file__).resolve().parent
REPORTS = Path("reports/nox")
CONSTRAINTS = ROOT / "constraints" / "ci.txt"


@dataclass(frozen=True)
class Backend:
    """What a backend session installs and which implementations it runs."""

    impls: tuple[str, ...]
    extra: str | None = None  # the ce-conformance extra that holds its frameworks
    plugin: str | None = None  # a folder under examples/, installed (non-editable) alongside
    expectations: str | None = None  # a plugin's expectations file, for ``gate``


BACKENDS: dict[str, Backend] = {
    "reference": Backend(("reference",)),
    "torch": Backend(("torch",), extra="torch"),
    "jax": Backend(("jax", "jax.optax"), extra="jax"),
    "tensorflow": Backend(("tensorflow", "tensorflow.nn", "keras"), extra="tensorflow"),
    "onnxruntime": Backend(("onnxruntime",), plugin="onnxruntime-plugin",
                           expectations="examples/onnxruntime-plugin/expectations.yaml"),
    "broken": Backend(("broken",), plugin="broken-plugin"),
}
MERGED = [name for name in BACKENDS if name != "broken"]  # broken is wrong on purpose
GATED = {impl: name for name in MERGED for impl in BACKENDS[name].impls}

# torch comes through pip: pip reads this machine's pip config (a local CPU wheel) and CI's
# PIP_EXTRA_INDEX_URL (the CPU index); uv reads neither and would fetch the multi-GB CUDA build.
PIP_ONLY = "virtualenv"


def _constraints() -> list[str]:
    """``-c FILE`` for the pins in force (see the module docstring), or nothing."""
    path = os.environ.get("CE_CONFORMANCE_CONSTRAINTS", str(CONSTRAINTS))
    return ["-c", path] if path else []


def _prepare(session: nox.Session, name: str, *extras: str) -> Backend:
    """Install ``name``'s backend (plus ``extras`` of ce-conformance) and print its versions."""
    backend = BACKENDS[name]
    wanted = sorted({*extras, *([backend.extra] if backend.extra else [])})
    package = f".[{','.join(wanted)}]" if wanted else "."
    plugin = [f"./examples/{backend.plugin}"] if backend.plugin else []
    session.install(*_constraints(), package, *plugin)
    session.run("ce-conformance", "list")
    return backend


def _run(session: nox.Session, name: str) -> None:
    """The body of every backend session: install, print versions, run, write the report."""
    backend = _prepare(session, name)
    impls = [arg for impl in backend.impls for arg in ("--impl", impl)]
    session.run("ce-conformance", "run", *impls, "--out", str(REPORTS / name), "--quiet",
                *session.posargs)


@nox.session
def reference(session: nox.Session) -> None:
    """Run the suite on the NumPy reference (no framework)."""
    _run(session, "reference")


@nox.session(venv_backend=PIP_ONLY)
def torch(session: nox.Session) -> None:
    """Run the suite on torch.nn.functional.cross_entropy."""
    _run(session, "torch")


@nox.session
def jax(session: nox.Session) -> None:
    """Run the suite on the jax port and optax."""
    _run(session, "jax")


@nox.session
def tensorflow(session: nox.Session) -> None:
    """Run the suite on the tensorflow port, tf.nn and keras."""
    _run(session, "tensorflow")


@nox.session
def onnxruntime(session: nox.Session) -> None:
    """Run the suite on the example plugin: ONNX SoftmaxCrossEntropyLoss in onnxruntime."""
    _run(session, "onnxruntime")


@nox.session
def broken(session: nox.Session) -> None:
    """Run the suite on the deliberately broken example plugin (its report must show it)."""
    _run(session, "broken")


@nox.session(requires=MERGED)
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
    backend = _prepare(session, GATED[impl])
    expectations = ["--expectations", backend.expectations] if backend.expectations else []
    session.run("ce-conformance", "gate", "--impl", impl, *expectations,
                "--junit", str(REPORTS / f"gate-{impl}.xml"), *session.posargs)


@nox.session(venv_backend=PIP_ONLY)
def tests(session: nox.Session) -> None:
    """Test the harness itself (torch and onnxruntime installed; others skip)."""
    session.install(*_constraints(), ".[dev,torch,onnx]")
    session.run("ce-conformance", "list")
    session.run("pytest", *session.posargs)


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
