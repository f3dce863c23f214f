"""Bad input to our own tools fails in one line, naming the file and line (or the folder), with
exit status 2, before any work is done, and never leaves a half-written report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conformance.cli import main

VALID = """\
version: 1
cases:
  - id: ok
    source: edge case
    tags: []
    input: [[1.0, 2.0, 0.5]]
    target: [0]
"""

# the case's extra line -> (its line in the file, what the message says)
BAD_CASES = {
    "weight: [1.0, 2.0]": (8, "has shape [2]; the input has 3 classes"),
    "reduction: avg": (8, "'avg' is not one of none, mean, sum"),
    "label_smoothing: 1.5": (8, "torch refuses label_smoothing above 1.0"),
}


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    started = time.monotonic()
    status = main(["run", "--impl", "reference", "--no-properties", "--quiet", *map(str, args)])
    err = capsys.readouterr().err
    assert time.monotonic() - started < 20, "the error came only after work was done"
    return status, err


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("extra", sorted(BAD_CASES))
def test_a_valid_case_torch_would_refuse_is_a_spec_error(capsys, tmp_path, extra):
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID + "    " + extra + "\n")
    status, err = _run(capsys, "--spec", spec, "--out", tmp_path / "out")
    line, words = BAD_CASES[extra]
    assert status == 2
    assert f"spec.yaml:{line}:" in _error_line(err)
    assert words in err
    assert not (tmp_path / "out").exists(), "a report was written for a malformed spec"


# what replaces what in VALID -> (the line in the file, what the message says)
REFUSED_BY_TORCH = {
    ("target: [0]", "target: [3]"): (7, "cases[0].target: torch refuses this case: Target 3 is "
                                        "out of bounds (a case of invalid input says so with "
                                        "expect: {error: target-out-of-range})"),
    ("target: [0]", "target: [0, 1]"): (7, "Expected target size [1], got [2]"),
    ("target: [0]", "target: {shape: [1], classes: 4, seed: 0}"):
        (7, "Target 3 is out of bounds"),  # generated: the values are checked once built
    ("[[1.0, 2.0, 0.5]]", "[1.0, 2.0, 0.5]"):
        (7, "torch's backward refuses this case: size mismatch"),
    ("target: [0]", "target: [[0.5, 0.5, 0.0]]\n    ignore_index: 1"):
        (8, "ignore_index is not supported for floating point target"),
    ("source: edge case", "source: from my notes"):
        (4, "cases[0].source: 'from my notes' does not match the expected form: The seed "
            "document the case comes from, 'edge case', or 'generated (seed N)'"),
}


@pytest.mark.parametrize("change", sorted(REFUSED_BY_TORCH))
def test_a_valid_case_torch_refuses_at_call_time_is_a_spec_error(capsys, tmp_path, change):
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.replace(*change))
    status, err = _run(capsys, "--spec", spec, "--out", tmp_path / "out")
    line, words = REFUSED_BY_TORCH[change]
    assert status == 2
    message = _error_line(err)
    assert f"spec.yaml:{line}: " in message
    assert words in message
    assert "^" not in message, "a raw regex in the message"
    assert not (tmp_path / "out").exists()


def test_a_huge_generator_is_refused_with_the_limit(capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.replace("[[1.0, 2.0, 0.5]]", "{shape: [100000, 100000], seed: 1}")
                    .replace("target: [0]", "target: {shape: [100000], classes: 3, seed: 2}"))
    status, err = _run(capsys, "--spec", spec, "--out", tmp_path / "out")
    assert status == 2
    message = _error_line(err)
    assert "spec.yaml:6:" in message
    assert "generates 10,000,000,000 elements; the limit is 268,435,456" in message


def test_an_unselected_large_case_is_not_built(capsys, tmp_path):
    """``--case`` selects before arrays are made: a 2**28-element generator costs nothing."""
    spec = tmp_path / "spec.yaml"
    big = VALID.replace("id: ok", "id: big").replace(
        "[[1.0, 2.0, 0.5]]", "{shape: [16384, 16384], seed: 1}").replace(
        "target: [0]", "target: {shape: [16384], classes: 3, seed: 2}")
    spec.write_text(VALID + big.split("cases:\n", 1)[1])
    status, _ = _run(capsys, "--spec", spec, "--case", "ok", "--out", tmp_path / "out")
    assert status == 0
    assert (tmp_path / "out" / "results.json").is_file()


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_bad_out_fails_before_the_run(capsys, tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if where == "a file" else blocker / "report"
    status, err = _run(capsys, "--out", out)
    assert status == 2
    assert str(blocker) in _error_line(err)
    assert blocker.read_text() == "not a folder"


def test_a_failed_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    from conformance.report import folder

    out = tmp_path / "report"
    out.mkdir()
    (out / "results.json").write_text("old")
    (out / folder.MARKER).write_text("")  # a report folder this tool wrote

    def broken(doc, staged):
        (staged / "matrix.md").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(folder, "render_report", broken)
    with pytest.raises(OSError, match="disk full"):
        folder.write_folder(out, {"records": []})
    assert sorted(p.name for p in out.iterdir()) == [folder.MARKER, "results.json"]
    assert (out / "results.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report"], "a staging folder was left"


def test_an_unknown_implementation_is_named_before_any_work(capsys, tmp_path):
    status = main(["run", "--impl", "no_such_module:Thing", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2
    assert "no module named 'no_such_module'" in _error_line(err)


def test_explore_refuses_to_promote_into_a_file_that_is_not_a_spec(capsys, tmp_path):
    """Counterexamples are appended to ``--promote-to``: a file of another kind is refused
    before the search, and left as it was."""
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n\nkey: value: more\n")
    status = main(["explore", "--impl", "reference", "--promote-to", str(notes)])
    assert status == 2
    assert f"{notes}:3: invalid YAML" in _error_line(capsys.readouterr().err)
    assert notes.read_text() == "# my notes\n\nkey: value: more\n"


def test_a_usage_error_is_one_line_through_python_dash_m(tmp_path):
    """``python -m conformance.cli`` (as the benchmarks and tests call it) reports a command's
    usage error in one line too, not as a traceback."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "conformance.cli", "explore", "--impl",
                           "reference", "--promote-to", str(tmp_path / "nope.yaml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "no such spec file" in _error_line(done.stderr)


@pytest.mark.parametrize(("option", "words"), [
    ("--case", "--case 'no-such-case' matches no case id of"),
    ("--expectations", "cannot read the expectations file"),
    ("--expectations-without-implementation", "names no implementation"),
])
def test_an_option_that_would_be_silently_unused_is_refused(capsys, tmp_path, option, words):
    """A ``--case`` typo would run nothing of what was meant, a missing or anonymous
    expectations file would mark nothing known: each is a usage error before any work."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID)
    anonymous = tmp_path / "anonymous.yaml"
    anonymous.write_text("divergences: []\n")
    given = {"--case": ["--case", "no-such-case"],
             "--expectations": ["--expectations", tmp_path / "missing.yaml"],
             "--expectations-without-implementation": ["--expectations", anonymous]}[option]
    status, err = _run(capsys, "--spec", spec, *given, "--out", tmp_path / "out")
    assert status == 2
    assert words in _error_line(err)
    assert not (tmp_path / "out").exists()
