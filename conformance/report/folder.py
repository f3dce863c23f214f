"""The one writer of report folders: ``results.json`` and everything rendered from it, written
whole or not at all.

The files are rendered into a temporary folder beside the target, which then takes the target's
place by renames (the previous folder, if any, is moved aside first and removed after), so a
failure at any point leaves the previous report as it was. ``check_writable`` is called before a
run, so a bad ``--out`` fails in a second, not after the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from conformance.report.render import render_report
from conformance.results import write_results

__all__ = ["FolderError", "check_writable", "write_folder"]


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


def _existing_ancestor(path: Path) -> Path:
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            return ancestor
    return Path("/")


def write_folder(out: Path, doc: dict[str, Any]) -> None:
    """Write ``results.json`` and the rendered report into ``out``, replacing it whole."""
    check_writable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new."))
    try:
        write_results(staged / "results.json", doc)
        render_report(doc, staged)
        staged.chmod(0o755)
        _swap(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


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
