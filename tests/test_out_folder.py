"""``--out`` is never destructive: a report replaces its folder whole, so only a folder that
does not exist, an empty one, or a report folder this tool wrote may be the target. Anything
else (the current folder, the home folder, a folder holding the user's files) is refused with
one line and exit status 2 before any work, and every file the user had is still there."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.report import folder
from conformance.report.folder import MARKER, FolderError, check_out, write_folder
from conformance.results import document, write_results

MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
RUN = ("run", "--impl", "reference", "--spec", str(MINI_SPEC), "--no-properties",
       "--no-gradients", "--quiet", "-j", "1")
MINE = "my own notes\n"


def _doc() -> dict:
    return document([], {"created": "now"})


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its text, to show nothing was lost or changed."""
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(root.rglob("*")) if p.is_file()}


def _refused(capsys: pytest.CaptureFixture[str], *args: str | Path,
             command: tuple[str, ...] = RUN) -> str:
    started = time.monotonic()
    status = main([*command, *map(str, args)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert time.monotonic() - started < 5, "refused only after work was done"
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ce-conformance: error: "), err
    return lines[0]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with a file of the user's, and a working folder with another."""
    home = tmp_path / "home"
    work = home / "project"
    work.mkdir(parents=True)
    (home / "diary.txt").write_text(MINE)
    (work / "notes.txt").write_text(MINE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


@pytest.mark.parametrize(("out", "words"), [
    (".", "is the current folder"),
    ("", "is the current folder"),
    ("$PWD", "is the current folder"),
    ("..", "is a folder above the current folder"),
    ("$HOME", "is a folder above the current folder"),
    ("/", "is a folder above the current folder"),
])
def test_the_current_and_home_folders_are_refused(home: Path, capsys, out: str,
                                                  words: str) -> None:
    before = _files(home)
    out = out.replace("$PWD", os.getcwd()).replace("$HOME", str(home))
    line = _refused(capsys, "--out", out)
    assert words in line
    assert _files(home) == before


def test_the_home_folder_is_refused_from_elsewhere(home: Path, tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = _files(home)
    assert "is your home folder" in _refused(capsys, "--out", home)
    assert _files(home) == before


@pytest.mark.parametrize("layout", [
    "a file of the user's",
    "a folder of the user's",
    "a report folder with a file added",
    "a results.json not written by the tool",
    "a rendered file's name, nothing else",
    "a folder named like a report file",
    "a folder of report folders",
])
def test_a_folder_holding_what_the_tool_did_not_write_is_refused(tmp_path: Path, capsys,
                                                                 layout: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if layout == "a file of the user's":
        (out / "notes.txt").write_text(MINE)
    elif layout == "a folder of the user's":
        (out / "photos").mkdir()
        (out / "photos" / "cat.txt").write_text(MINE)
    elif layout == "a report folder with a file added":
        write_folder(out, _doc(), render=False)
        (out / "notes.txt").write_text(MINE)
    elif layout == "a results.json not written by the tool":
        (out / "results.json").write_text('{"mine": true}\n')
    elif layout == "a rendered file's name, nothing else":
        (out / "matrix.md").write_text(MINE)
    elif layout == "a folder named like a report file":
        (out / MARKER).write_text("")
        (out / "results.json").mkdir()
        (out / "results.json" / "keep.txt").write_text(MINE)
    else:  # ``--out reports`` once deleted the published reports
        write_folder(out / "published", _doc(), render=False)
        (out / "README.md").write_text(MINE)
    before = _files(tmp_path)
    line = _refused(capsys, "--out", out)
    assert str(out) in line
    assert "did not write" in line or "not a report folder" in line
    assert _files(tmp_path) == before


def test_report_and_gate_refuse_such_a_folder_too(tmp_path: Path, capsys) -> None:
    source = tmp_path / "run"
    write_folder(source, _doc(), render=False)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text(MINE)
    before = _files(tmp_path)
    _refused(capsys, "--merge", source, "--out", out, command=("report",))
    _refused(capsys, "--out", out, command=("gate", "--impl", "reference", "--spec",
                                            str(MINI_SPEC), "--no-properties"))
    assert _files(tmp_path) == before


@pytest.mark.parametrize("state", ["missing", "empty", "an earlier report",
                                   "an earlier report without the marker"])
def test_a_new_empty_or_report_folder_is_replaced(tmp_path: Path, state: str) -> None:
    out = tmp_path / "reports" / "latest"
    if state != "missing":
        out.mkdir(parents=True)
    if state.startswith("an earlier report"):
        write_folder(out, document([], {"created": "before"}), render=False)
    if state.endswith("without the marker"):  # written before the marker existed
        (out / MARKER).unlink()
    (tmp_path / "reports" / "mine.txt").parent.mkdir(exist_ok=True)
    (tmp_path / "reports" / "mine.txt").write_text(MINE)
    check_out(out)
    write_folder(out, _doc(), render=False)
    assert json.loads((out / "results.json").read_text())["provenance"] == {"created": "now"}
    assert (out / MARKER).is_file()
    assert (tmp_path / "reports" / "mine.txt").read_text() == MINE
    assert sorted(p.name for p in out.parent.iterdir()) == ["latest", "mine.txt"]


def test_a_run_reuses_its_own_report_folder(tmp_path: Path, capsys) -> None:
    """(And without a terminal, as here, its progress comes as plain lines.)"""
    out = tmp_path / "report"
    write_folder(out, _doc(), render=False)
    assert main([*(a for a in RUN if a != "--quiet"), "--out", str(out)]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "running 1 implementation (1 at a time), 6 checks each: reference"
    assert re.fullmatch(r"\[0:\d\d\] reference: started", lines[1]), lines
    assert re.fullmatch(r"\[0:\d\d\] reference: finished: 6 checks; results \d+ ok, "
                        r"0 diverge, 0 unsupported", lines[2]), lines
    assert (out / MARKER).is_file()
    assert (out / "matrix.html").is_file()
    assert main(["report", str(out)]) == 0  # re-rendered in place
    capsys.readouterr()


def test_a_file_added_during_the_run_is_kept_and_so_is_the_new_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    write_folder(out, _doc(), render=False)
    before = _files(out)

    def meanwhile(doc, staged):  # the user saves a file into the folder while it renders
        (out / "notes.txt").write_text(MINE)

    monkeypatch.setattr(folder, "render_report", meanwhile)
    with pytest.raises(FolderError, match=r"holds 'notes.txt'.*the new report is in "):
        write_folder(out, _doc())
    assert _files(out) == {**before, "notes.txt": MINE}
    (kept,) = [p for p in tmp_path.iterdir() if p.name.startswith("report-")]
    assert (kept / "results.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging left over"


def test_a_symlinked_report_folder_is_replaced_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_folder(real, _doc(), render=False)
    link = tmp_path / "latest"
    link.symlink_to(real)
    write_folder(link, document([], {"created": "again"}), render=False)
    assert link.is_symlink()
    assert json.loads((real / "results.json").read_text())["provenance"] == {"created": "again"}


def test_the_published_reports_are_report_folders() -> None:
    """``--out reports/published`` (how the lead regenerates it) is accepted: its results.json
    is the tool's own, written before the marker existed; ``reports/`` itself is refused."""
    reports = Path(__file__).resolve().parent.parent / "reports"
    check_out(reports / "published")
    with pytest.raises(FolderError, match="did not write"):
        check_out(reports)


def test_write_results_is_what_the_sniff_recognises(tmp_path: Path) -> None:
    """The marker-less recognition reads how ``write_results`` starts a document."""
    write_results(tmp_path / "results.json", _doc())
    assert folder._own_results(tmp_path / "results.json")
    (tmp_path / "other.json").write_text(json.dumps({"provenance": {}, "schema_version": 1}))
    assert not folder._own_results(tmp_path / "other.json")
