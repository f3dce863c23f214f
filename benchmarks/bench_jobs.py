"""Time the main job with one worker at a time against several side by side, in one run.

    python benchmarks/bench_jobs.py [--jobs 1 --jobs 2] [-- extra ce-conformance run options]

Runs ``ce-conformance run`` (every installed built-in, float64, spec and ``ci`` properties by
default) once per ``--jobs`` value, each in a fresh process, and prints the wall times, the
ratio to the first, and whether the records came out identical (they must: apart from times,
the merged results do not depend on the number of jobs). Asserts nothing about times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from implementations import registry


def _records(folder: Path) -> list[dict[str, Any]]:
    return list(json.loads((folder / "results.json").read_text())["records"])


def timed_run(jobs: int, extra: list[str], out: Path) -> float:
    """Seconds one ``ce-conformance run -j JOBS`` takes, start-up included."""
    impls = [arg for name in registry.names() for arg in ("--impl", name)]
    command = [sys.executable, "-m", "conformance.cli", "run", *impls, "--quiet", "-j",
               str(jobs), "--out", str(out), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Parse options, run each --jobs value, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", action="append", type=int, help="default: 1 and 2")
    parser.add_argument("extra", nargs="*", help="options passed to ce-conformance run")
    args = parser.parse_args()
    values = args.jobs or [1, 2]
    table = Table(title="ce-conformance run: jobs side by side")
    for column in ("jobs", "wall s", "ratio to first", "records identical"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        first_time, first_records = 0.0, None
        for jobs in values:
            out = Path(tmp) / f"j{jobs}"
            seconds = timed_run(jobs, args.extra, out)
            records = _records(out)
            first_time, first_records = first_time or seconds, first_records or records
            table.add_row(str(jobs), f"{seconds:.1f}", f"{seconds / first_time:.2f}",
                          "yes" if records == first_records else "NO")
    Console().print(table)


if __name__ == "__main__":
    main()
