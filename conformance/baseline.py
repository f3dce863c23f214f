"""torch's own error next to an implementation's: how much less accurate than torch it is.

The tolerance model (``conformance.tolerance``) bounds how far any implementation may be from
the reference; it is a worst-case bound, so an implementation can be within it and still be
far less accurate than torch on the same input (a log-sum-exp formed without the shift by the
row maximum, a float16 sum accumulated in float16). To see that, every value and gradient
check of a spec case is also run on torch, the specification, with the same arguments in the
same dtype on the same device (in a worker of its own, like every implementation), and both
results are compared with the reference, normwise (the largest error over the output's
elements, as a numerical analyst compares two algorithms):

* elements the bound allows to be 0 (the reference value is no larger than the allowed
  error) are left out: there the model cannot tell accurate from inaccurate, and returning 0
  is what XLA's and TensorFlow's flush-to-zero of tiny results does on CPU;
* torch's largest error is floored at half a spacing of the dtype at the output's largest
  reference value (the rounding any returned number incurs), so an exact torch does not make
  every error infinitely worse, and a tiny element's last bits do not count;
* the implementation's largest error divided by that is how many times torch's error it is,
  the record's ``vs_torch``; ``vs_used`` and ``torch_used`` are each one's largest error as
  a fraction of the bound on its element;
* a result within the bound that is ``LESS_ACCURATE_RATIO`` (32) times torch's error or more
  is ``less-accurate``: an accuracy finding (``conformance.severity``), the mildest but one.

The outputs come from a ``Baseline``: ``compute(...)`` runs torch once per run on every
valid spec case (``conformance.session``) and the result travels to the jobs as a plain
mapping; ``LazyBaseline`` calls torch on demand (the pytest plugin). Without torch installed
nothing is compared, and the records say so by carrying no ``vs_torch``.

Both keep what torch computed on small cases for the rest of the process (``MEMO_LIMIT``),
keyed by the case's arguments, not only its id: a process that runs many times (a test
session, a notebook, a gate after a run) starts torch's worker only for calls it has not
seen, not once per run. One run, the main job's, asks each call once, and is unchanged.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from conformance.case import Case
from conformance.isolation import Fault, IsolatedImplementation, invoke, isolate
from conformance.limits import Limits
from conformance.tolerance import ulp
from implementations.base import (
    Array,
    NotInstalledError,
    Unsupported,
    devices_of,
    dtypes_of,
    host_device,
    unsupported_reason,
)

__all__ = ["LESS_ACCURATE_RATIO", "NAME", "Baseline", "LazyBaseline", "Outputs", "Versus",
           "compute", "versus"]

NAME = "torch"  # the specification's own implementation
KEPT = 4  # outputs a LazyBaseline keeps (the most recent)
AHEAD_LIMIT = 2**22  # input elements of all cases together up to which ``compute`` runs ahead
LESS_ACCURATE_RATIO = 32.0
MEMO_LIMIT = 2**16  # input elements up to which torch's output on a case is kept for the process

#: (case id, dtype, device) -> torch's loss and gradient (``None`` where torch raised).
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Output:
    """What torch returned for one case: its loss and gradient (``None`` where it raised)."""

    value: Array | None
    grad: Array | None


class Baseline(Protocol):
    """Where torch's outputs come from."""

    def output(self, case: Case, dtype: str, device: str) -> Output | None:
        """torch's result for ``case``, or ``None`` when torch did not run it."""


@dataclass(frozen=True)
class Outputs:
    """torch's outputs computed ahead of a run (picklable: it travels to the jobs)."""

    found: Mapping[Key, Output] = field(default_factory=dict)
    version: str | None = None  # torch's version, for provenance

    def output(self, case: Case, dtype: str, device: str) -> Output | None:
        """torch's result for ``case`` as computed ahead, or ``None``."""
        return self.found.get((case.id, dtype, device))


def _call(torch: IsolatedImplementation, case: Case, dtype: str, device: str) -> Output | None:
    """torch's loss and gradient for ``case`` on ``device``'s host; ``None`` when it cannot
    run it at all."""
    out = _answer(torch, case, dtype, device)
    return None if out is FAULTED else out


#: ``_answer`` when torch's worker faulted (crashed, timed out): no answer to keep
FAULTED = Output(None, None)


def _answer(torch: IsolatedImplementation, case: Case, dtype: str,
            device: str) -> Output | None:
    device = host_device(device)
    if unsupported_reason(torch, case.call(dtype, device)) is not None:
        return None
    arguments = {**case.arguments.kwargs(), "dtype": dtype, "device": device}
    try:
        value, grad = invoke(torch, "value_and_grad", arguments).result
        return Output(np.asarray(value), np.asarray(grad))
    except Fault:
        return FAULTED
    except Unsupported:
        return None
    except Exception:  # torch's backward refuses some calls its forward accepts
        pass
    try:
        return Output(np.asarray(invoke(torch, "cross_entropy", arguments).result), None)
    except Fault:
        return FAULTED
    except Exception:
        return None


def _kept(torch: IsolatedImplementation, case: Case, dtype: str, device: str,
          asked: tuple[str, str, str, str] | None) -> Output | None:
    """``_call``, its answer kept in ``_MEMO`` under ``asked`` (a fault is not an answer)."""
    out = _answer(torch, case, dtype, device)
    if out is FAULTED:
        return None
    if asked is not None:
        _MEMO[asked] = out
    return out


#: torch's outputs on the small cases this process has asked about (``_asked``), and its
#: version; an entry is ``None`` where torch could not run the call.
_MEMO: dict[tuple[str, str, str, str], Output | None] = {}
_VERSION: dict[str, str | None] = {}


def _asked(case: Case, dtype: str, device: str) -> tuple[str, str, str, str] | None:
    """What torch is asked, as a key of ``_MEMO`` (the arguments' bytes, not only the case
    id: two specs may give one id to different cases); ``None`` for a case too large to keep."""
    if case.input.size > MEMO_LIMIT:
        return None
    digest = hashlib.blake2b(digest_size=16)
    for array in case.arguments.arrays().values():
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    digest.update(repr(tuple(case.arguments.scalars().values())).encode())
    return (case.id, dtype, device, digest.hexdigest())


def _start(timeout: float | None) -> IsolatedImplementation | None:
    try:
        # torch is the specification, not a suspect: its calls get the whole time limit
        torch = isolate(NAME, timeout=timeout, limits=Limits(timeout_factor=0, max_faults=0))
    except NotInstalledError:
        return None
    except Exception:  # torch is installed but its worker could not start: compare nothing
        return None
    _VERSION["torch"] = torch.versions().get("torch")
    return torch


def compute(cases: Iterable[Case], dtypes: Iterable[str], devices: Iterable[str], *,
            timeout: float | None = None) -> Outputs:
    """torch's outputs on every valid case in every dtype and device it has (on a device's
    host: ``implementations.base.host_device``; one worker, started only for calls this process
    has not asked before); empty when torch is not installed or cannot start."""
    asked = [(case, dtype, device) for dtype in dtypes for device in devices
             for case in cases if not case.invalid]
    found: dict[Key, Output] = {}
    if any((key := _asked(*call)) is None or key not in _MEMO for call in asked):
        torch = _start(timeout)
        if torch is None:
            return Outputs()
        try:
            have = set(dtypes_of(torch)), set(devices_of(torch))
            for case, dtype, device in asked:
                key = _asked(case, dtype, device)
                if key is not None and key in _MEMO:
                    out = _MEMO[key]
                else:
                    out = _kept(torch, case, dtype, device, key) if dtype in have[0] and \
                        host_device(device) in have[1] else None
                if out:
                    found[(case.id, dtype, device)] = out
        finally:
            torch.close()
    else:
        for case, dtype, device in asked:
            if out := _MEMO[_asked(case, dtype, device)]:  # type: ignore[index]
                found[(case.id, dtype, device)] = out
    return Outputs(found, _VERSION.get("torch"))


@dataclass
class LazyBaseline:
    """torch started on first use and called case by case (the pytest plugin's baseline)."""

    timeout: float | None = None
    _torch: IsolatedImplementation | None = None
    _started: bool = False
    _cache: dict[Key, Output | None] = field(default_factory=dict)

    def output(self, case: Case, dtype: str, device: str) -> Output | None:
        """torch's result for ``case`` (computed once), or ``None``."""
        if case.invalid:
            return None
        asked = _asked(case, dtype, device)
        if asked is not None and asked in _MEMO:
            return _MEMO[asked]
        if not self._started:
            self._started, self._torch = True, _start(self.timeout)
        if self._torch is None:
            return None
        key = (case.id, dtype, device)
        if key not in self._cache:
            self._cache[key] = _kept(self._torch, case, dtype, device, asked)
            for old in list(self._cache)[:-KEPT]:  # a case's checks ask one after another
                del self._cache[old]
        return self._cache[key]

    def close(self) -> None:
        """Stop torch's worker."""
        if self._torch is not None:
            self._torch.close()
            self._torch = None


@dataclass(frozen=True)
class Versus:
    """An implementation's error against torch's on the same output (module docstring)."""

    ratio: float  # the implementation's largest error in multiples of torch's (floored)
    used: float  # the implementation's largest error as a fraction of the bound there
    torch_used: float  # torch's largest error as a fraction of the bound there

    @property
    def less_accurate(self) -> bool:
        """Whether this is an accuracy finding (when the result is within its bound)."""
        return self.ratio >= LESS_ACCURATE_RATIO


def versus(actual: Array, torch_out: Array | None, expected: Array, allowed: Array,
           dtype: str) -> Versus | None:
    """Compare ``actual`` and torch's ``torch_out`` with the reference ``expected``, normwise,
    on the elements where all three are finite and the bound does not allow 0 (``|expected| >
    allowed``); ``None`` when there is nothing to compare."""
    if torch_out is None:
        return None
    a, t, e = (np.asarray(v, dtype=np.float64) for v in (actual, torch_out, expected))
    if not a.shape == t.shape == e.shape:
        return None
    bound = np.broadcast_to(np.asarray(allowed, dtype=np.float64), e.shape)
    with np.errstate(invalid="ignore"):
        resolved = np.isfinite(a) & np.isfinite(t) & np.isfinite(e) & (np.abs(e) > bound)
    if not np.any(resolved):
        return None
    a, t, e, bound = a[resolved], t[resolved], e[resolved], bound[resolved]
    mine, theirs = np.abs(a - e), np.abs(t - e)
    floor = float(ulp(np.max(np.abs(e)), dtype)) / 2
    i, k = int(np.argmax(mine)), int(np.argmax(theirs))
    return Versus(float(mine[i] / max(float(theirs[k]), floor)), _used(mine[i], bound[i]),
                  _used(theirs[k], bound[k]))


def _used(error: float, bound: float) -> float:
    return float(abs(error) / bound) if bound > 0 else (0.0 if error == 0 else math.inf)

