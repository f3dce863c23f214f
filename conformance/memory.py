"""How large the ``large`` profile's cases may be: elements of the input from a memory budget.

The rule, once: the budget is ``$CE_CONFORMANCE_MEMORY`` (bytes; ``K``/``M``/``G`` suffixes,
powers of 1024) when set, else ``MEMORY_FRACTION`` of the memory available when the run starts
(``MemAvailable`` in ``/proc/meminfo``; elsewhere ``os.sysconf``'s free pages, else
``FALLBACK_BYTES``). A case may have ``budget // BYTES_PER_ELEMENT`` elements of input (``N``
times ``C`` times the K-dim sides; half as many with probability targets, which are as large
as the input), and at most ``MAX_ELEMENTS`` (so that a run on a big machine still ends in
minutes). ``BYTES_PER_ELEMENT`` is the harness's measured peak per input element (the case in
float64, the input rounded to the dtype, the reference's evaluation and the tolerance model's
arrays in float64, the implementation's result and gradient, the comparison: 120 to 171 bytes
measured with ``tracemalloc`` at ``N, C = 64, 32000`` in float16 with weights, smoothing and
probability targets) with room for the implementation's own copies in its worker.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

__all__ = ["BYTES_PER_ELEMENT", "ENV", "MAX_ELEMENTS", "MEMORY_FRACTION", "available_bytes",
           "budget_bytes", "max_elements", "parse_bytes", "total_bytes"]

ENV = "CE_CONFORMANCE_MEMORY"
MEMORY_FRACTION = 0.25  # of the memory available, for the harness's peak
BYTES_PER_ELEMENT = 256  # the harness's peak per input element, with room to spare
MAX_ELEMENTS = 1 << 21  # 2,097,152 elements (16 MiB of float64 logits) at most per case
FALLBACK_BYTES = 2 << 30  # assumed available where the system does not say
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text: str) -> int:
    """``"1.5G"`` as bytes (``K``, ``M``, ``G``, ``T``: powers of 1024; an optional ``B`` or
    ``iB``); ``ValueError`` naming the variable for anything else."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{ENV}={text!r}: give bytes, e.g. 2G, 512M or 1000000000")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@cache
def available_bytes() -> int:
    """The memory available now (read once per process)."""
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        text = ""
    found = re.search(r"^MemAvailable:\s+([0-9]+) kB", text, re.MULTILINE)
    if found:
        return int(found.group(1)) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_BYTES


@cache
def total_bytes() -> int:
    """The machine's memory (``MemTotal``; elsewhere ``os.sysconf``, else ``FALLBACK_BYTES``)."""
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        text = ""
    found = re.search(r"^MemTotal:\s+([0-9]+) kB", text, re.MULTILINE)
    if found:
        return int(found.group(1)) * 1024
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_BYTES


def budget_bytes() -> int:
    """Bytes the harness's peak may take: ``$CE_CONFORMANCE_MEMORY``, else a fraction of the
    memory available."""
    given = os.environ.get(ENV)
    if given:
        return parse_bytes(given)
    return int(available_bytes() * MEMORY_FRACTION)


def max_elements(budget: int | None = None) -> int:
    """Input elements one case may have under ``budget`` bytes (default ``budget_bytes()``),
    at least 1 and at most ``MAX_ELEMENTS``."""
    chosen = budget_bytes() if budget is None else budget
    return max(1, min(MAX_ELEMENTS, chosen // BYTES_PER_ELEMENT))
