"""Time the ``ci`` profile per implementation: wall time, and the harness's overhead as a ratio
to the time spent inside the implementation's own calls; then the cost of recompilation (first
call on a shape against repeated calls) for the compiled backends.

    python benchmarks/bench_ci.py [--impl NAME ...] [--dtype float64] [--no-properties]

Prints tables; asserts nothing about times.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import implementations
from conformance.properties import run_properties
from conformance.runner import Runner
from conformance.spec import load_spec


@dataclass
class Timed:
    """A proxy that times ``cross_entropy`` and ``value_and_grad`` of the implementation."""

    impl: Any
    inside: float = 0.0
    calls: int = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.impl, name)
        if name not in ("cross_entropy", "value_and_grad"):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.inside += time.perf_counter() - start
                self.calls += 1
        return timed


def bench(name: str, dtype: str, properties: bool) -> dict[str, Any]:
    """Spec cases and (optionally) the ci properties on one implementation."""
    proxy = Timed(implementations.load(name))
    proxy.name = proxy.impl.name  # type: ignore[attr-defined]
    start = time.perf_counter()
    Runner().run(proxy, load_spec(), dtype)  # type: ignore[arg-type]
    spec_wall, spec_inside = time.perf_counter() - start, proxy.inside
    if properties:
        run_properties(proxy, dtype=dtype)  # type: ignore[arg-type]
    wall = time.perf_counter() - start
    return {"impl": name, "spec_s": spec_wall, "spec_inside_s": spec_inside, "wall_s": wall,
            "inside_s": proxy.inside, "calls": proxy.calls}


def first_vs_repeat(name: str, shapes: list[tuple[int, int]]) -> tuple[float, float]:
    """Median seconds of the first call on a new shape, and of a repeated call."""
    impl = implementations.load(name)
    first, again = [], []
    for n, c in shapes:
        x, t = np.linspace(-1, 1, n * c).reshape(n, c), np.arange(n) % c
        for bucket in (first, again, again):
            start = time.perf_counter()
            impl.value_and_grad(x, t, reduction="mean")  # type: ignore[attr-defined]
            bucket.append(time.perf_counter() - start)
    return float(np.median(first)), float(np.median(again))


def main() -> None:
    """Parse options, run, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", action="append")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--no-properties", action="store_true")
    args = parser.parse_args()
    console = Console()
    names = args.impl or implementations.known_names()
    table = Table("implementation", "wall s", "spec s", "inside impl s", "calls",
                  "overhead ratio", title=f"ci profile, {args.dtype}")
    loaded = []
    for name in names:
        try:
            row = bench(name, args.dtype, not args.no_properties)
        except (implementations.NotInstalledError, implementations.UnknownImplementationError,
                ImportError) as exc:
            console.print(f"skipped {name}: {exc}")
            continue
        loaded.append(name)
        overhead = (row["wall_s"] - row["inside_s"]) / max(row["inside_s"], 1e-9)
        table.add_row(name, f"{row['wall_s']:.1f}", f"{row['spec_s']:.1f}",
                      f"{row['inside_s']:.1f}", str(row["calls"]), f"{overhead:.2f}")
    console.print(table)
    shapes = [(n, c) for n in (1, 2, 3) for c in (2, 3, 5)]
    compile_table = Table("implementation", "first call ms", "repeat ms", "ratio",
                          title="recompilation: first call on a new (N, C) vs repeated")
    for name in loaded:
        first, again = first_vs_repeat(name, shapes)
        compile_table.add_row(name, f"{first * 1e3:.1f}", f"{again * 1e3:.2f}",
                              f"{first / max(again, 1e-9):.0f}x")
    console.print(compile_table)
    console.print("No adapter exposes a shape-bucketing or eager switch; the table above is the "
                  "recompilation cost the ci shapes pay.")


if __name__ == "__main__":
    main()
