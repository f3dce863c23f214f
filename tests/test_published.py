"""The committed reports are current: every rendered file matches its results.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report import is_current

REPORTS = Path(__file__).resolve().parent.parent / "reports"
FOLDERS = sorted(p.parent for p in REPORTS.rglob("results.json"))


def test_a_published_matrix_exists():
    assert (REPORTS / "published" / "results.json").is_file()
    assert (REPORTS / "published" / "matrix.md").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(p.relative_to(REPORTS)) for p in FOLDERS])
def test_rendered_files_are_current(folder):
    assert is_current(folder) == [], f"stale: re-render with `ce-conformance report {folder}`"
