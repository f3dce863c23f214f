"""The committed reports are current: every rendered file matches its results.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report import is_current
from conformance.results import read_results

REPORTS = Path(__file__).resolve().parent.parent / "reports"
PUBLISHED = REPORTS / "published"


def test_the_published_matrix_is_current():
    assert (PUBLISHED / "results.json").is_file()
    assert is_current(PUBLISHED) == [], "stale: re-render with `ce-conformance report " \
        "reports/published`"


@pytest.mark.parametrize("run", sorted(p.name for p in (REPORTS / "gpu").iterdir()))
def test_the_gpu_runs_are_in_the_published_matrix(run):
    """Every kept GPU run's records are part of the published results."""
    published = read_results(PUBLISHED / "results.json")
    keys = {(r["case"], r["check"], r["impl"], r["dtype"], r["device"])
            for r in published["records"]}
    gpu = read_results(REPORTS / "gpu" / run / "results.json")
    assert {(r["case"], r["check"], r["impl"], r["dtype"], r["device"])
            for r in gpu["records"]} <= keys
