"""Time the reference against torch at LLM scale: value and gradient, side by side.

    python benchmarks/bench_reference.py [--n 4096] [--c 32000] [--repeat 3]
        [--reduction mean|sum|none] [--workers K] [--chunk-bytes B]

One process, the same float64 inputs for both sides: an ``(N, C)`` input, class weights, an
``ignore_index`` that every seventh row's target holds, ``label_smoothing=0.1``. The reference
is ``ReferenceImplementation(...).value_and_grad``; torch is ``F.cross_entropy`` with the same
arguments, then ``loss.backward()`` (``loss.sum().backward()`` for ``none``), at torch's default
thread count (printed). The two sides alternate, ``--repeat`` times each after one warm-up
call; the table shows each side's median and best wall time and the ratio reference / torch.

Memory: the reference's peak, measured by ``tracemalloc`` (NumPy reports its allocations to it)
over one more call, as a multiple of the input's bytes. It counts what the call allocates, the
returned gradient (1x) included, not the input itself.

NumPy asks the kernel for transparent huge pages on large arrays (``madvise``); where the kernel
then compacts memory on the first touch of a fresh array, the reference's times vary by seconds
from call to call. ``NUMPY_MADVISE_HUGEPAGE=0`` turns that off (the title says which was used).

Prints tables and the largest difference between the two sides; asserts nothing about times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from implementations import reference
from implementations.base import Array

IGNORE_INDEX = 3
SMOOTHING = 0.1


def inputs(n: int, c: int, seed: int = 0) -> dict[str, Any]:
    """The call's arguments: logits, targets (every seventh row ignored), class weights."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, n)
    target[::7] = IGNORE_INDEX
    return {"input": rng.standard_normal((n, c)) * 3.0, "target": target,
            "weight": rng.uniform(0.5, 2.0, c), "ignore_index": IGNORE_INDEX,
            "label_smoothing": SMOOTHING}


def torch_side(args: dict[str, Any], reduction: str) -> tuple[Array, Array]:
    """``F.cross_entropy`` forward, then backward of the loss (its sum for ``none``)."""
    x = torch.from_numpy(args["input"]).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(
        x, torch.from_numpy(args["target"]), weight=torch.from_numpy(args["weight"]),
        ignore_index=args["ignore_index"], reduction=reduction,
        label_smoothing=args["label_smoothing"])
    (loss if reduction != "none" else loss.sum()).backward()  # type: ignore[no-untyped-call]
    assert x.grad is not None
    return loss.detach().numpy(), x.grad.numpy()


def reference_side(impl: reference.ReferenceImplementation, args: dict[str, Any],
                   reduction: str) -> tuple[Array, Array]:
    """The reference's loss and analytic gradient."""
    return impl.value_and_grad(reduction=reduction, **args)  # type: ignore[arg-type]


def timed(side: Callable[[], tuple[Array, Array]]) -> float:
    """Seconds one call takes (its results dropped before the next call)."""
    start = time.perf_counter()
    side()
    return time.perf_counter() - start


def peak_bytes(side: Callable[[], tuple[Array, Array]]) -> int:
    """The peak of what one call allocates, as ``tracemalloc`` sees it."""
    tracemalloc.start()
    try:
        side()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def agreement(ref: tuple[Array, Array], ours: tuple[Array, Array]) -> tuple[float, float]:
    """The largest absolute difference of the values and of the gradients."""
    return (float(np.max(np.abs(ref[0] - ours[0]), initial=0.0)),
            float(np.max(np.abs(ref[1] - ours[1]), initial=0.0)))


def main() -> None:
    """Parse options, time both sides, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--c", type=int, default=32000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reduction", choices=("mean", "sum", "none"), default="mean")
    parser.add_argument("--workers", type=int, default=reference.WORKERS)
    parser.add_argument("--chunk-bytes", type=int, default=reference.CHUNK_BYTES)
    opts = parser.parse_args()
    args = inputs(opts.n, opts.c)
    impl = reference.ReferenceImplementation(chunk_bytes=opts.chunk_bytes, workers=opts.workers)
    sides = {"reference": lambda: reference_side(impl, args, opts.reduction),
             "torch": lambda: torch_side(args, opts.reduction)}
    diff = agreement(sides["torch"](), sides["reference"]())  # also the warm-up
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(opts.repeat):
        for name, side in sides.items():
            times[name].append(timed(side))
    nbytes = args["input"].nbytes
    console = Console()
    table = Table("side", "median s", "best s", "ratio to torch (median)",
                  title=f"value and gradient, N={opts.n} C={opts.c} float64, weights, "
                  f"ignore_index, smoothing {SMOOTHING}, reduction {opts.reduction}; "
                  f"torch {torch.get_num_threads()} threads, reference {opts.workers} "
                  f"workers, chunks of {opts.chunk_bytes} B, NUMPY_MADVISE_HUGEPAGE="
                  f"{os.environ.get('NUMPY_MADVISE_HUGEPAGE', '(unset)')}")
    median = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        table.add_row(name, f"{median[name]:.2f}", f"{min(ts):.2f}",
                      f"{median[name] / median['torch']:.2f}")
    console.print(table)
    peak = peak_bytes(sides["reference"])
    console.print(f"reference peak memory (tracemalloc): {peak / 2**20:.0f} MiB = "
                  f"{peak / nbytes:.2f}x the input ({nbytes / 2**20:.0f} MiB)")
    console.print(f"largest difference from torch: value {diff[0]:.1e}, gradient {diff[1]:.1e}")


if __name__ == "__main__":
    main()
