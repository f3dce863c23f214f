"""Time the ``ci`` profile: the two figures the suite's speed target names, and a breakdown.

    python benchmarks/bench_ci.py [--impl NAME ...] [--cache cold|warm|both|off] [-j N]
                                  [--figure float64 | --figure "four dtypes"]
    python benchmarks/bench_ci.py --per-impl [--impl NAME ...] [--dtype float64] [--no-properties]

By default: the wall time of ``ce-conformance run`` (spec and ``ci`` properties, ``-j`` as CI
runs it: the cores available unless given) on the seven original built-ins, once in float64
and once in all four dtypes, each in a fresh process, start-up included, against the targets
(60 s and 240 s). JAX's persistent compilation cache (``CE_CONFORMANCE_JAX_CACHE``, see
``implementations.frameworks``) is pointed at a new folder per figure: ``cold`` runs each
figure once on an empty cache, ``warm`` once more on the folder a first run filled, ``both``
(the default) reports the two; ``off`` runs without the cache.

``--per-impl`` times each implementation in this process instead: wall time, and the harness's
overhead as a ratio to the time spent inside the implementation's own calls; then the cost of
recompilation (first call on a shape against repeated calls) for the compiled backends.

Prints tables; asserts nothing about times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import implementations
from conformance.properties import run_properties
from conformance.runner import Runner
from conformance.spec import load_spec
from implementations.frameworks import JAX_CACHE_VARIABLE

#: The seven original built-ins the speed target is stated for (not the variant columns).
ORIGINAL = ("reference", "torch", "jax", "jax.optax", "tensorflow", "tensorflow.nn", "keras")
#: Each figure: its dtypes and its target in seconds.
FIGURES = {"float64": (("float64",), 60.0),
           "four dtypes": (("float64", "float32", "float16", "bfloat16"), 240.0)}


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
    first: list[float] = []
    again: list[float] = []
    for n, c in shapes:
        x, t = np.linspace(-1, 1, n * c).reshape(n, c), np.arange(n) % c
        for bucket in (first, again, again):
            start = time.perf_counter()
            impl.value_and_grad(x, t, reduction="mean")  # type: ignore[attr-defined]
            bucket.append(time.perf_counter() - start)
    return float(np.median(first)), float(np.median(again))


def timed_run(impls: list[str], dtypes: tuple[str, ...], jobs: int | None, cache: Path | None,
              out: Path) -> float:
    """Seconds one ``ce-conformance run`` takes in a fresh process, start-up included, with
    JAX's persistent cache in ``cache`` (``None``: turned off)."""
    command = [sys.executable, "-m", "conformance.cli", "run", "--quiet", "--out", str(out),
               *(arg for name in impls for arg in ("--impl", name)),
               *(arg for dtype in dtypes for arg in ("--dtype", dtype)),
               *(("-j", str(jobs)) if jobs else ())]
    env = {**os.environ, JAX_CACHE_VARIABLE: "off" if cache is None else str(cache)}
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def figures(impls: list[str], jobs: int | None, cache_modes: list[str],
            chosen: list[str]) -> Table:
    """The ``chosen`` figures, cold and/or warm, as a table."""
    table = Table("figure", "JAX cache", "wall s", "target s", title=f"ce-conformance run, "
                  f"ci profile, {len(impls)} implementations, -j {jobs or 'default'}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in cache_modes:
            for figure in chosen:
                dtypes, target = FIGURES[figure]
                cache = None if mode == "off" else Path(tmp) / f"cache-{figure}"
                out = Path(tmp) / f"{mode}-{figure}"
                if mode == "warm" and "cold" not in cache_modes:
                    timed_run(impls, dtypes, jobs, cache, out)  # fill the cache first
                seconds = timed_run(impls, dtypes, jobs, cache, out)
                table.add_row(figure, mode, f"{seconds:.1f}", f"{target:.0f}")
    return table


def per_impl(names: list[str], dtype: str, properties: bool, console: Console) -> None:
    """The breakdown per implementation, in this process."""
    table = Table("implementation", "wall s", "spec s", "inside impl s", "calls",
                  "overhead ratio", title=f"ci profile, {dtype}")
    loaded = []
    for name in names:
        try:
            row = bench(name, dtype, properties)
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
        if not hasattr(implementations.load(name), "value_and_grad"):
            continue  # a forward-only implementation (a plugin such as onnxruntime)
        first, again = first_vs_repeat(name, shapes)
        compile_table.add_row(name, f"{first * 1e3:.1f}", f"{again * 1e3:.2f}",
                              f"{first / max(again, 1e-9):.0f}x")
    console.print(compile_table)


def main() -> None:
    """Parse options, run, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", action="append", help="default: the seven original built-ins "
                        "(with --per-impl: every built-in)")
    parser.add_argument("--cache", choices=("cold", "warm", "both", "off"), default="both")
    parser.add_argument("-j", "--jobs", type=int, help="default: ce-conformance run's own")
    parser.add_argument("--figure", action="append", choices=list(FIGURES),
                        help="default: both")
    parser.add_argument("--per-impl", action="store_true")
    parser.add_argument("--dtype", default="float64", help="with --per-impl")
    parser.add_argument("--no-properties", action="store_true", help="with --per-impl")
    args = parser.parse_args()
    console = Console()
    if args.per_impl:
        per_impl(args.impl or implementations.known_names(), args.dtype,
                 not args.no_properties, console)
        return
    modes = ["cold", "warm"] if args.cache == "both" else [args.cache]
    console.print(figures(args.impl or list(ORIGINAL), args.jobs, modes,
                          args.figure or list(FIGURES)))


if __name__ == "__main__":
    main()
