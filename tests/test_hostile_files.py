"""Hostile YAML files (alias bombs, runaway nesting, cycles, files too large or too long),
generated here, are refused by the spec and expectations loaders in well under a second and in
bounded memory, and by the command line with one ``file:line`` line and exit status 2, before
any work. Without the bounds (``conformance.yamlfile``), the billion laughs took a minute and
6-7 GB before a MemoryError."""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.expectations import load_expectations
from conformance.spec import load_spec
from conformance.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS, LocatedError

MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
SPEC_HEAD = "version: 1\ncases: []\n"
EXPECTATIONS_HEAD = "implementation: reference\ndivergences: []\n"
LIMIT_S = 1.0
MEMORY_LIMIT = 2**25  # bytes (32 MiB) the loader may allocate on a hostile file


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    """``l0`` holds ``width`` strings, each ``lN`` ``width`` aliases of ``l(N-1)``: 10**9."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def quadratic(width: int = 2**10) -> str:
    """One anchored list of ``width`` values, aliased ``width`` times on one line."""
    return f"a: &a [{', '.join(['x'] * width)}]\nb: [{', '.join(['*a'] * width)}]\n"


# name -> (the hostile part, the line it is refused at in it, what the message says)
HOSTILE: dict[str, tuple[Callable[[], str], int, str]] = {
    "billion laughs": (billion_laughs, 5, "the alias *l3 (11,111 values) takes the document "
                                          f"past {MAX_ELEMENTS:,} values"),
    "quadratic blowup": (quadratic, 2, "the alias *a (1,025 values) takes the document past"),
    "an alias in its own anchor": (lambda: "a: &a [1, [2, *a]]\n", 1,
                                   "the alias *a refers to the value it is part of"),
    "runaway nesting": (lambda: "a: " + "[" * 2**12 + "]" * 2**12 + "\n", 1,
                        f"nesting deeper than {MAX_DEPTH} levels"),
    "runaway brackets": (lambda: "a: " + "[" * 2**17 + "]" * 2**17 + "\n", 1,
                         f"holds more than {MAX_ELEMENTS:,} values"),
    "too many values": (lambda: "a: [" + ", ".join(["0"] * 2 * MAX_ELEMENTS) + "]\n", 1,
                        f"holds more than {MAX_ELEMENTS:,} values"),
    "too many lines": (lambda: "a:\n" + "  - 0\n" * 2 * MAX_ELEMENTS, MAX_ELEMENTS - 1,
                       f"holds more than {MAX_ELEMENTS:,} values"),
    "too large": (lambda: f"a: '{'x' * MAX_BYTES}'\n", 1, f"larger than {MAX_BYTES:,} bytes"),
}
KINDS = {"spec": (SPEC_HEAD, load_spec), "expectations": (EXPECTATIONS_HEAD, load_expectations)}


def _hostile(tmp_path: Path, kind: str, name: str) -> tuple[Path, int, str]:
    """The file, the line it must be refused at and a fragment of the message."""
    head, _ = KINDS[kind]
    make, line, words = HOSTILE[name]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(head + make(), encoding="utf-8")
    first = 1 if "larger than" in words else head.count("\n") + line
    return path, first, words


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Import what the command line imports, so the timings below are the refusal's own."""
    main(["run", "--impl", "no_such_module:Thing", "--no-properties", "--quiet"])


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_loader_refuses_it_fast_in_bounded_memory(tmp_path: Path, kind: str,
                                                      name: str) -> None:
    path, line, words = _hostile(tmp_path, kind, name)
    load = KINDS[kind][1]
    started = time.monotonic()
    with pytest.raises(LocatedError) as info:
        load(path)
    elapsed = time.monotonic() - started
    assert elapsed < LIMIT_S, f"took {elapsed:.2f} s"
    tracemalloc.start()  # again, measured (tracing slows it several times over)
    try:
        with pytest.raises(LocatedError):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT + path.stat().st_size, f"allocated {peak:,} bytes"
    assert str(info.value).startswith(f"{path}:{line}: "), info.value
    assert words in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_command_line_refuses_it_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 kind: str, name: str) -> None:
    path, line, words = _hostile(tmp_path, kind, name)
    given = ["--spec", str(path)] if kind == "spec" else \
        ["--spec", str(MINI_SPEC), "--expectations", str(path)]
    out = tmp_path / "out"
    started = time.monotonic()
    status = main(["run", "--impl", "reference", "--no-properties", "--quiet", *given,
                   "--out", str(out)])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert status == 2
    assert elapsed < LIMIT_S, f"took {elapsed:.2f} s"
    assert re.fullmatch(rf"ce-conformance: error: {re.escape(str(path))}:{line}: [^\n]*\n", err)
    assert words in err
    assert not out.exists(), "work was done"


def test_the_gate_refuses_a_hostile_expectations_file(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, line, _ = _hostile(tmp_path, "expectations", "billion laughs")
    started = time.monotonic()
    status = main(["gate", "--impl", "reference", "--spec", str(MINI_SPEC), "--expectations",
                   str(path)])
    assert time.monotonic() - started < LIMIT_S
    assert status == 2
    assert capsys.readouterr().err.startswith(f"ce-conformance: error: {path}:{line}: the alias")


def test_the_bounds_leave_room_for_the_real_files() -> None:
    """The canonical spec (aliases included) and every expectations file load, far below the
    bounds: a tenth of them is still more than they use."""
    repo = Path(__file__).resolve().parent.parent
    for path in [repo / "spec" / "cross_entropy.yaml", *sorted(repo.glob("expectations/*.yaml"))]:
        assert path.stat().st_size * 10 < MAX_BYTES
    assert load_spec()
    for path in sorted(repo.glob("expectations/*.yaml")):
        load_expectations(path)


def test_aliases_within_the_bound_still_work(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "version: 1\ncases:\n"
        "  - {id: a, source: edge case, tags: [], input: &x [[1.0, 2.0]], target: &t [1]}\n"
        "  - {id: b, source: edge case, tags: [], input: *x, target: *t, reduction: sum}\n",
        encoding="utf-8")
    first, second = load_spec(path)
    assert first.input.tolist() == second.input.tolist() == [[1.0, 2.0]]
