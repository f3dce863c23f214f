"""The committed reports are current: every rendered file matches its results.json."""

from __future__ import annotations

from pathlib import Path

from conformance.expectations import is_numerical_defect
from conformance.report import is_current
from conformance.results import read_results

REPORTS = Path(__file__).resolve().parent.parent / "reports"
PUBLISHED = REPORTS / "published"


def test_the_published_matrix_is_current():
    assert (PUBLISHED / "results.json").is_file()
    assert is_current(PUBLISHED) == [], "stale: re-render with `ce-conformance report " \
        "reports/published`"


def _published() -> list[dict]:
    return list(read_results(PUBLISHED / "results.json")["records"])


def test_torch_diverges_only_by_labelled_numerical_defects():
    """torch is the specification: in the published matrix every finding of torch's columns
    is listed in its expectations as a numerical defect of torch, and says so."""
    findings = [r for r in _published() if r["impl"] == "torch" and r["verdict"] in
                ("diverges", "crashed", "timed-out")]
    assert findings, "the float16 mean overflow of torch's CPU kernel is expected here"
    assert all(is_numerical_defect(r.get("expected_reason")) for r in findings), [
        (r["case"], r["check"], r["dtype"], r["device"]) for r in findings
        if not is_numerical_defect(r.get("expected_reason"))]


def test_no_result_within_its_bound_is_above_1e4_ulp():
    """ULPs at the problem's scale stay at a few for a result within its bound; an absurd
    figure there would mean the measure is wrong again."""
    within = [r for r in _published() if r["check"] in ("value", "gradient") and
              r.get("outcome") in ("value", "less-accurate") and r.get("error") and
              r["error"].get("ok")]
    assert len(within) > 1000
    assert max(float(r["error"]["max_ulp"]) for r in within) <= 1e4


def test_the_kept_gpu_runs_are_not_merged():
    """reports/gpu/ holds the H100 runs of an earlier suite, kept as measured; their verdicts
    are not today's (reports/README.md), so no cuda record is in the published matrix until a
    GPU session replaces them (the CPU's devices only: ``cpu`` and the fused kernels'
    ``cpu (Triton interpreter)``)."""
    assert not [r for r in _published() if not r["device"].startswith("cpu")]
    assert "No GPU run is merged now" in (REPORTS / "README.md").read_text(encoding="utf-8")
