"""matrix.html in a real browser: headless Chromium renders the table, every in-page link
resolves, and a screenshot comes out (skipped where no Chromium is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import make_doc  # pytest's default import mode puts tests/ on sys.path

from conformance.report import render_report
from conformance.vocabulary import FEATURES

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip("chromium not installed")
    return found


def _chromium(browser: str, tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "profile"
    done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_matrix_html_renders_in_chromium(browser: str, tmp_path: Path) -> None:
    render_report(make_doc(), tmp_path / "report")
    page = (tmp_path / "report" / "matrix.html").resolve().as_uri()
    dom = _chromium(browser, tmp_path, "--dump-dom", page)
    assert '<table class="matrix">' in dom
    assert dom.count('<tr id="feature-') == len(FEATURES)
    assert "class-index targets" in dom
    assert "<script>alert" not in dom
    ids = set(re.findall(r'\sid="([^"]+)"', dom))
    links = set(re.findall(r'\shref="#([^"]+)"', dom))
    assert links, "the matrix links to its divergences"
    assert links <= ids, f"links without a target: {sorted(links - ids)}"


def test_matrix_html_screenshot(browser: str, tmp_path: Path) -> None:
    render_report(make_doc(), tmp_path / "report")
    page = (tmp_path / "report" / "matrix.html").resolve().as_uri()
    shot = tmp_path / "shot.png"
    _chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", page)
    data = shot.read_bytes()
    assert len(data) > 1000
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
