"""The one writer of report folders: ``results.json`` and everything rendered from it, written
whole or not at all, and never over anything the tool did not write.

The files are rendered into a temporary folder beside the target, which then takes the target's
place by renames (the previous folder, if any, is moved aside first and removed after), so a
failure or an interruption at any point leaves the previous report as it was.

Because the target is replaced whole, ``check_out`` accepts only a folder whose loss costs
nothing: one that does not exist, an empty one, or a report folder this tool wrote (its
``MARKER`` file, or, for folders written before the marker, a ``results.json`` of its own) that
holds nothing but the files a report is made of. The current folder, the home folder and the
folders above them are refused whatever they hold. ``check_out`` runs before a run, so a bad
``--out`` fails in a second with nothing done, and again just before the swap, in case a file
was added meanwhile (the new report is then kept beside the target).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from conformance.report.render import FILES, render_report
from conformance.results import write_results

__all__ = ["MARKER", "FolderError", "check_out", "check_writable", "write_folder"]

#: The file that says "this tool wrote this folder" (hidden: it is no part of the report).
MARKER = ".ce-conformance-report"
MARKER_TEXT = ("This folder is a report written by ce-conformance: results.json and the files "
               "rendered from it.\nA run that names it (--out) replaces it whole, so keep files "
               "of your own elsewhere;\nce-conformance refuses a folder that holds any.\n")
RESULTS = "results.json"
OWN_FILES = frozenset({RESULTS, MARKER, *FILES})
# how ``conformance.results.document`` starts, as ``write_results`` writes it
_OWN_RESULTS = re.compile(rb'\A\{\s*"schema_version": \d+,\s*"provenance": \{')


class FolderError(ValueError):
    """An output folder that cannot be written; ``str`` is one line naming it."""


def check_writable(out: Path) -> None:
    """Raise ``FolderError`` unless ``out`` is (or can become) a writable folder."""
    if out.exists() and not out.is_dir():
        raise FolderError(f"{out}: exists and is not a folder")
    parent = out if out.exists() else _existing_ancestor(out)
    if not parent.is_dir():
        raise FolderError(f"{out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FolderError(f"{out}: {parent} is not writable")


def check_out(out: Path) -> None:
    """Raise ``FolderError`` unless a report can replace ``out`` without losing anything the
    tool did not write (see the module docstring)."""
    check_writable(out)
    target = out.resolve()
    _not_a_place_of_the_user(out, target)
    if target.is_dir():
        _only_a_report(out, target)


def _not_a_place_of_the_user(out: Path, target: Path) -> None:
    for place, what in ((Path.cwd().resolve(), "the current folder"),
                        (_home(), "your home folder")):
        if place is not None and (target == place or target in place.parents):
            above = "" if target == place else "a folder above "
            raise FolderError(f"{out}: is {above}{what}; a report replaces its folder whole, "
                              "so give it a folder of its own (e.g. reports/latest)")
    if target.is_dir() and os.path.ismount(target):
        raise FolderError(f"{out}: is a mount point; give a folder inside it")


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no HOME and no password entry
        return None


def _only_a_report(out: Path, target: Path) -> None:
    with os.scandir(target) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    if not entries:
        return
    foreign = [e.name for e in entries
               if e.name not in OWN_FILES or not e.is_file(follow_symlinks=False)]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise FolderError(f"{out}: holds {foreign[0]!r}{more}, which ce-conformance did not "
                          "write; a report replaces its folder whole, so give a new or empty "
                          "folder, or move that away")
    if not any(e.name == MARKER for e in entries) and not _own_results(target / RESULTS):
        raise FolderError(f"{out}: is not a report folder of ce-conformance (no {MARKER} file, "
                          f"no {RESULTS} of its own); give a new or empty folder")


def _own_results(path: Path) -> bool:
    """Whether ``path`` starts as a ``results.json`` of this tool does (folders written before
    the marker existed)."""
    try:
        with path.open("rb") as stream:
            return bool(_OWN_RESULTS.match(stream.read(2**10)))
    except OSError:
        return False


def _existing_ancestor(path: Path) -> Path:
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            return ancestor
    return Path("/")


def write_folder(out: Path, doc: dict[str, Any], *, render: bool = True) -> None:
    """Write ``results.json`` (and with ``render``, the rendered report) into ``out``,
    replacing it whole; raises ``FolderError`` when ``out`` is not the tool's to replace."""
    check_out(out)
    target = out.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new."))
    try:
        write_results(staged / RESULTS, doc)
        if render:
            render_report(doc, staged)
        (staged / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        staged.chmod(0o755)
        _recheck(out, staged, target)
        _swap(staged, target)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _recheck(out: Path, staged: Path, target: Path) -> None:
    """``check_out`` again (the run took a while); when ``out`` is no longer the tool's to
    replace, keep the new report beside it under a name of its own, and say where."""
    try:
        check_out(out)
    except FolderError as exc:
        kept = target.with_name(f"{target.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        staged.rename(kept)
        raise FolderError(f"{exc} (the new report is in {kept})") from None


def _swap(staged: Path, out: Path) -> None:
    """Put ``staged`` where ``out`` is; the old ``out`` is removed only once that is done."""
    if not out.exists():
        staged.rename(out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old."))
    old.rmdir()
    out.rename(old)
    try:
        staged.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)
