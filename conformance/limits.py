"""What an implementation's worker may spend, and when the harness gives up on it.

A hostile implementation (a user's broken plugin) can hang on every call, hang from its fourth
call in every fresh worker, leak memory until the machine's OOM killer picks a victim, or crash
on every call. Each costs only its own results (``conformance.isolation``), and these rules bound
what it costs in time and memory:

* **the time limit of a call adapts to the call**: ``TIMEOUT_FACTOR`` (50) times the reference's
  own time on the same call (``conformance.runner`` measures it), at least ``TIMEOUT_FLOOR``
  (10 s) and at least twice the slowest call the implementation has completed, at most
  ``--timeout`` (300 s). A worker's first call (a framework initializing, ``torch.compile``
  compiling: 19 s measured) gets at least ``WARMUP_FACTOR`` (6) times the floor, unless an earlier
  worker hung on its first call. So a legitimate large call fits, and a hung small call is
  noticed in seconds. A factor of 0 turns the adaptation off: every call gets ``--timeout``.
* **a memory limit per worker**: ``WORKER_MEMORY_FRACTION`` (a quarter) of the machine's memory,
  as the worker's data segment limit (``RLIMIT_DATA``: the heap and private writable mappings,
  which is what an allocation takes; not the address space, which CUDA and XLA reserve in tens
  of gigabytes). An allocation past it fails in the worker, and the call is recorded
  ``out-of-memory`` and the worker replaced.
* **a circuit breaker**: after ``MAX_FAULTS`` (3) consecutive faults (crashes, timeouts,
  out-of-memory), or after that many workers in a row hung after a few calls on calls that a fresh
  worker then answered (an implementation that hangs from its fourth call in every worker), the
  implementation's remaining checks are recorded ``not-run`` with the reason, and the run goes on
  with the others. A worker that serves ``HEALTHY_CALLS`` calls without hanging resets the second
  count. ``--max-faults 0`` never stops.
* **an optional time budget per implementation** (``--impl-budget``): past it, the rest is
  ``not-run`` too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from conformance.memory import parse_bytes, total_bytes

__all__ = ["DEFAULT_TIMEOUT", "MAX_FAULTS", "TIMEOUT_FACTOR", "TIMEOUT_FLOOR",
           "WORKER_MEMORY_FRACTION", "Breaker", "Limits", "default_memory", "parse_memory"]

DEFAULT_TIMEOUT = 300.0  # seconds: the most any call may take
TIMEOUT_FACTOR = 50  # times the reference's own time on the same call
TIMEOUT_FLOOR = 10  # seconds: the least any call is given
WARMUP_FACTOR = 6  # a worker's first call gets at least this many floors
SLOWEST_FACTOR = 2  # times the slowest call the implementation completed
MAX_FAULTS = 3  # consecutive faults after which the implementation is stopped
HEALTHY_CALLS = 2**7  # calls a worker serves without hanging to reset the hang count
WORKER_MEMORY_FRACTION = 1 / 4  # of the machine's memory, per worker


def default_memory() -> int:
    """The default memory limit of a worker, in bytes."""
    return int(total_bytes() * WORKER_MEMORY_FRACTION)


def parse_memory(text: str) -> int | None:
    """``--memory-limit``: a fraction of the machine's memory (``0.25``), bytes (``8G``), or 0
    for none; ``ValueError`` otherwise."""
    try:
        value = float(text)
    except ValueError:
        return parse_bytes(text)
    if value == 0:
        return None
    if 0 < value <= 1:
        return int(total_bytes() * value)
    if value > 1:
        return int(value)
    raise ValueError(f"{text}: give a fraction of the machine's memory (0.25), bytes (8G), "
                     "or 0 for no limit")


@dataclass(frozen=True)
class Limits:
    """The rules of the module docstring, with their defaults (``timeout`` is the ceiling)."""

    timeout: float | None = DEFAULT_TIMEOUT  # None: no time limit at all
    timeout_factor: float = TIMEOUT_FACTOR  # 0: every call gets ``timeout``
    timeout_floor: float = TIMEOUT_FLOOR
    max_faults: int = MAX_FAULTS  # 0: never stop
    memory: int | None = field(default_factory=default_memory)  # bytes; None: no limit
    budget: float | None = None  # seconds per implementation; None: none

    def call_limit(self, reference_seconds: float | None, slowest: float,
                   first_call: bool) -> float | None:
        """The time limit of one call (see the module docstring)."""
        if self.timeout is None:
            return None
        if self.timeout_factor <= 0:
            return self.timeout
        limit = max(self.timeout_floor, SLOWEST_FACTOR * slowest)
        if reference_seconds is not None:
            limit = max(limit, self.timeout_factor * reference_seconds)
        if first_call:
            limit = max(limit, WARMUP_FACTOR * self.timeout_floor)
        return min(limit, self.timeout)


@dataclass
class Breaker:
    """The circuit breaker of one implementation: counts its faults and says when to stop."""

    limits: Limits
    consecutive: list[str] = field(default_factory=list)  # the verdicts of the current streak
    hung_workers: int = 0  # workers in a row that hung after a few calls, then answered
    stopped: str | None = None  # why the implementation is stopped, once it is
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float | None:
        """Seconds left in the implementation's budget, or ``None`` without one."""
        if self.limits.budget is None:
            return None
        return self.limits.budget - (time.monotonic() - self.started)

    def check(self) -> str | None:
        """Why no more calls are made, or ``None``."""
        left = self.remaining()
        if self.stopped is None and left is not None and left <= 0:
            self.stopped = f"stopped after its time budget of {self.limits.budget:g} s " \
                           "(--impl-budget)"
        return self.stopped

    def succeeded(self) -> None:
        """A call returned or raised."""
        self.consecutive.clear()

    def faulted(self, verdict: str) -> None:
        """A call crashed, hung or ran out of memory (and so did its rerun, if it had one)."""
        self.consecutive.append(verdict)
        k = self.limits.max_faults
        if k and len(self.consecutive) >= k and self.stopped is None:
            self.stopped = f"stopped after {k} consecutive {_plural(self.consecutive)} " \
                           "(--max-faults)"

    def recovered(self, verdict: str, calls: int) -> None:
        """A call faulted in a worker that had served ``calls`` calls, and a fresh worker
        answered it: the worker's history, not the call, failed."""
        if verdict != "timed-out":
            return  # a crash or an out-of-memory costs a restart, not a time limit
        self.hung_workers = 1 if calls >= HEALTHY_CALLS else self.hung_workers + 1
        k = self.limits.max_faults
        if k and self.hung_workers >= k and self.stopped is None:
            self.stopped = f"stopped after {k} workers in a row hung after a few calls (each " \
                           "call then ran in a fresh worker) (--max-faults)"


_NOUNS = {"crashed": "crashes", "timed-out": "timeouts", "out-of-memory": "out-of-memory faults"}


def _plural(verdicts: list[str]) -> str:
    kinds = set(verdicts)
    if len(kinds) == 1:
        return _NOUNS.get(verdicts[0], "faults")
    return "faults (" + ", ".join(f"{verdicts.count(v)} {_NOUNS.get(v, v)}"
                                  for v in sorted(kinds)) + ")"
