"""Isolation: each implementation runs in a worker process of its own, and its faults stay there.

The implementations users bring are the ones that fail hard: a CUDA kernel's device-side assert
poisons its process, a Triton kernel segfaults or hangs, a memory-saving kernel stores its
gradient into the logits it was given. So the harness never calls an implementation in its own
process during a run. ``isolate(name)`` starts a worker (a ``pebble.ProcessPool`` of one process,
started with *spawn*) that loads the implementation, and returns a proxy that follows the
contract and forwards every call:

* every call gets arrays of its own (they are pickled into the worker), so nothing the
  implementation does to them reaches the harness or another implementation; ``invoke`` also
  compares them after the call with a copy taken before it and reports which were written into;
* a call that outlives its time limit raises ``TimedOut``; its worker is killed. The limit
  adapts to the call, and a memory limit holds each worker (``conformance.limits``); an
  allocation past it raises ``OutOfMemory`` and the worker is replaced;
* a worker that dies (an exit, a signal) raises ``Crashed`` naming the exit code or signal; the
  pool starts a fresh worker (which loads the implementation again), so the run goes on; a
  failure of the pool itself ("All workers expired") is a ``Crashed`` too, never a traceback;
* a fault, or a raise on a call that must not raise, in a worker whose earlier calls could have
  broken it is rerun in a fresh worker before it counts (``IsolatedImplementation.invoke``);
* after too many faults the circuit breaker (``conformance.limits.Breaker``) stops the
  implementation: every later call raises ``Stopped`` at once (its checks are ``not-run``);
* a call that raises a CUDA error which poisons its process (torch's device-side assert for an
  out-of-range target) is recorded as what it is, a raise, and its worker is replaced, so the
  following calls get a fresh CUDA context;
* a return value that is not a numeric array (``None``, a string, a dict) raises ``BadReturn``.

``invoke(impl, method, arguments)`` is the one way the harness calls an implementation: in the
worker for a proxy, in-process for any other object (the meta tests use plain objects).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pebble

try:
    import resource
except ImportError:  # not on Windows: no memory limit there
    resource = None  # type: ignore[assignment]

import implementations
from conformance.limits import DEFAULT_TIMEOUT, Breaker, Limits
from implementations.adapter import Arguments
from implementations.arguments import ARRAYS
from implementations.base import (
    Array,
    Call,
    NotInstalledError,
    UnknownImplementationError,
    Unsupported,
    available_reason,
    devices_of,
    dtypes_of,
    gpu_names_of,
    has_gradient,
    supports_reason,
    versions_of,
)
from implementations.dtypes import is_floating

__all__ = ["DEFAULT_TIMEOUT", "BadReturn", "Crashed", "Fault", "Invocation", "Limits",
           "OutOfMemory", "RemoteError", "Stopped", "TimedOut", "invoke", "isolate"]

CUDA_FATAL = ("device-side assert", "CUDA error: an illegal", "cudaErrorLaunchFailure",
              "CUDA error: unspecified launch failure")
#: What frameworks say when an allocation fails (numpy and Python raise ``MemoryError``).
OUT_OF_MEMORY = ("can't allocate memory", "CUDA out of memory", "RESOURCE_EXHAUSTED",
                 "OOM when allocating", "Cannot allocate memory", "out of memory")


class Fault(Exception):
    """The implementation's process failed, not the call: the check becomes a fault record."""

    verdict = "crashed"
    outcome: str | None = "crash"


class Crashed(Fault):
    """The worker died during the call (``str``: the exit code or signal)."""

    def __init__(self, exitcode: int | None, detail: str = "") -> None:
        self.exitcode = exitcode
        super().__init__(_exit_description(exitcode) + (f" ({detail})" if detail else ""))


class TimedOut(Fault):
    """The call ran past the time limit; its worker was killed and restarted."""

    verdict = "timed-out"
    outcome = "timeout"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no result within {seconds:.3g} s (the call's time limit, "
                         "--timeout); the worker was killed")


class OutOfMemory(Fault):
    """The call ran past the worker's memory limit; the worker was replaced."""

    verdict = "out-of-memory"
    outcome = "out-of-memory"

    def __init__(self, detail: str, limit: int | None) -> None:
        within = f" (the worker's limit is {limit / 2**30:.3g} GiB, --memory-limit)" \
            if limit else ""
        super().__init__(f"ran out of memory{within}: {detail}"[:300])


class Stopped(Fault):
    """Not called: the circuit breaker stopped the implementation (``conformance.limits``)."""

    verdict = "not-run"
    outcome = None


class BadReturn(TypeError):
    """The implementation returned something that is not a numeric array."""


class RemoteError(Exception):
    """An exception the implementation raised in its worker, with its type's name kept."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        super().__init__(message)


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker died"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


@dataclass(frozen=True)
class Invocation:
    """What a call returned (the loss, or ``(loss, grad)``) and which inputs it wrote into."""

    result: Any
    mutated: tuple[str, ...] = ()
    recovered: tuple[str, ...] = ()  # faults of its worker that a fresh worker's rerun undid


# --- the call itself, the same in a worker and in-process -------------------------------------


def _snapshot(arguments: Mapping[str, Any]) -> dict[str, Array]:
    return {k: np.array(arguments[k], copy=True) for k in ARRAYS
            if arguments.get(k) is not None}


def _changed(before: Mapping[str, Array], arguments: Mapping[str, Any]) -> tuple[str, ...]:
    changed = []
    for key, old in before.items():
        new = np.asarray(arguments[key])
        same = new.shape == old.shape and new.dtype == old.dtype and np.array_equal(
            new, old, equal_nan=is_floating(old.dtype))
        if not same:
            changed.append(key)
    return tuple(changed)


def _as_array(value: Any, what: str) -> Array:
    if value is None or isinstance(value, str | bytes | dict):
        raise BadReturn(f"{what} returned {type(value).__name__}, not an array")
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise BadReturn(f"{what} returned {type(value).__name__}, not an array ({exc})") from None
    if not (is_floating(array.dtype) or array.dtype.kind in "iub"):
        raise BadReturn(f"{what} returned {type(value).__name__} of dtype {array.dtype}, "
                        "not a numeric array")
    return np.array(array, copy=True)


def _checked_result(method: str, result: Any) -> Any:
    if method == "cross_entropy":
        return _as_array(result, "cross_entropy")
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise BadReturn(f"value_and_grad returned {type(result).__name__}, not (loss, grad)")
    return (_as_array(result[0], "value_and_grad's loss"),
            _as_array(result[1], "value_and_grad's gradient"))


def call_in_process(impl: Any, method: str, arguments: Mapping[str, Any]) -> Invocation:
    """Call ``impl.method(**arguments)`` on copies of the arrays; report what it wrote into."""
    own = {k: (np.array(v, copy=True) if k in ARRAYS and v is not None else v)
           for k, v in arguments.items()}
    before = _snapshot(own)
    try:
        result = getattr(impl, method)(**own)
    except BaseException as exc:
        mutated = _changed(before, own)
        if mutated:
            exc.add_note(f"ce-conformance: the call wrote into its {', '.join(mutated)}")
            exc.ce_mutated = mutated  # type: ignore[attr-defined]
        raise
    return Invocation(_checked_result(method, result), _changed(before, own))


def invoke(impl: Any, method: str, arguments: Mapping[str, Any], *,
           reference_seconds: float | None = None, expects_raise: bool = False) -> Invocation:
    """Call ``method`` of ``impl`` (a proxy forwards it to its worker, within a time limit
    adapted to ``reference_seconds``, the reference's own time on the call; ``expects_raise``:
    raising is what the call should do, so a raise is no failure to rerun)."""
    if isinstance(impl, IsolatedImplementation):
        return impl.invoke(method, arguments, reference_seconds=reference_seconds,
                           expects_raise=expects_raise)
    return call_in_process(impl, method, arguments)


def mutated_by(exc: BaseException) -> tuple[str, ...]:
    """The inputs a call that raised ``exc`` wrote into."""
    return tuple(getattr(exc, "ce_mutated", ()))


def recovered_by(exc: BaseException) -> tuple[str, ...]:
    """The worker failures that a fresh worker's rerun of the call that raised ``exc`` undid."""
    return tuple(getattr(exc, "ce_recovered", ()))


# --- the worker's side ------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}  # the implementation this worker process serves


@dataclass(frozen=True)
class _Description:
    name: str
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    versions: dict[str, str]
    gpu_names: list[str]
    has_gradient: bool
    unavailable: str | None
    load_error: tuple[str, str] | None = None  # (exception type, message)


def _quiet(name: str, log: str | None) -> None:
    """Send what the worker prints (framework logs, warnings) to ``log``, not the terminal."""
    if log is None:
        return
    with open(log, "ab") as sink:
        sink.write(f"--- worker {os.getpid()} for {name}\n".encode())
        sink.flush()
        for fd in (1, 2):
            os.dup2(sink.fileno(), fd)
    warnings.simplefilter("default")  # shown once each, into the log


def _limit_memory(memory: int | None) -> None:
    """Limit the worker's data segment (heap and private writable mappings) to ``memory``
    bytes: an allocation past it fails (``MemoryError``), and the harness replaces the worker."""
    if memory is None or resource is None:
        return
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        soft = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _initialize(name: str, log: str | None = None, memory: int | None = None) -> None:
    """Load the implementation once per worker; a loading error is kept for ``_describe``."""
    _WORKER.clear()
    _quiet(name, log)
    _limit_memory(memory)
    try:
        _WORKER["impl"] = implementations.load(name)
    except (NotInstalledError, UnknownImplementationError) as exc:
        _WORKER["error"] = (type(exc).__name__, str(exc))
    except Exception as exc:
        _WORKER["error"] = ("UnknownImplementationError",
                            f"{name!r} failed to load: {type(exc).__name__}: {exc}")


def _describe() -> _Description:
    if "error" in _WORKER:
        return _Description("", (), (), {}, [], False, None, _WORKER["error"])
    impl = _WORKER["impl"]
    return _Description(name=str(impl.name), dtypes=dtypes_of(impl), devices=devices_of(impl),
                        versions=versions_of(impl), gpu_names=gpu_names_of(impl),
                        has_gradient=has_gradient(impl),
                        unavailable=available_reason(impl))


def _supports(call: Call) -> str | None:
    try:
        return supports_reason(_WORKER["impl"], call)
    except Exception:
        return None  # a broken ``supports``: the call itself will say what happens


@dataclass(frozen=True)
class _Raised:
    """An exception raised in the worker, as plain data (any exception pickles as this)."""

    type_name: str
    message: str
    mutated: tuple[str, ...]
    fatal: bool  # the process's CUDA context is lost: the worker must be replaced
    oom: bool = False  # an allocation failed: the worker ran out of memory

    def error(self) -> Exception:
        """The exception to raise in the harness: the contract's own types stay themselves."""
        error: Any
        if self.type_name == "ce:BadReturn":
            error = BadReturn(self.message)
        elif self.type_name == "ce:Unsupported":
            error = Unsupported(self.message)
        else:
            error = RemoteError(self.type_name, self.message)
        error.ce_mutated = self.mutated
        return error  # type: ignore[no-any-return]


def _type_name(exc: Exception) -> str:
    for own in (BadReturn, Unsupported):
        if isinstance(exc, own):
            return f"ce:{own.__name__}"
    return type(exc).__name__


def _invoke_in_worker(method: str, arguments: dict[str, Any]) -> Invocation | _Raised:
    try:
        return call_in_process(_WORKER["impl"], method, arguments)
    except Exception as exc:
        text = str(exc)
        return _Raised(_type_name(exc), text, mutated_by(exc),
                       any(marker in text for marker in CUDA_FATAL),
                       isinstance(exc, MemoryError) or any(m in text for m in OUT_OF_MEMORY))


# --- the harness's side -----------------------------------------------------------------------

#: Seconds a task may wait for its worker to start (spawn, load the implementation) on top of
#: its own time limit: pebble's limit starts when the worker takes the task, so a worker that
#: hangs while loading would otherwise never be given up.
START_ALLOWANCE = DEFAULT_TIMEOUT


class _Worker:
    """A pool of one spawned process serving one implementation (restarted when it dies), and
    what the harness knows about the process serving now."""

    def __init__(self, name: str, timeout: float | None, log: str | None,
                 memory: int | None = None) -> None:
        self.timeout = timeout if timeout else None
        self.memory = memory
        self._initargs = (name, log, memory)
        self._pool = self._start()
        self.calls = 0  # calls of the implementation this process served
        self.suspect = False  # one of them raised, returned garbage or was handed invalid input

    def _start(self) -> pebble.ProcessPool:
        return pebble.ProcessPool(max_workers=1, initializer=_initialize,
                                  initargs=self._initargs,
                                  context=multiprocessing.get_context("spawn"))

    def fresh(self) -> None:
        """A new process serves from now on (pebble started it after the last one died)."""
        self.calls, self.suspect = 0, False

    def submit(self, function: Any, *args: Any, timeout: float | None = None) -> Any:
        """``function(*args)`` in the worker within ``timeout`` (default: the worker's); a dead
        or late worker, or a failure of the pool itself, raises a ``Fault``."""
        limit = timeout if timeout is not None else self.timeout
        try:
            future = self._pool.schedule(function, args, timeout=limit)
            return future.result(timeout=None if limit is None else limit + START_ALLOWANCE)
        except FutureTimeout:
            if future.done():  # pebble killed the worker and starts another
                self.fresh()
            else:  # the worker never took the task (it hangs while loading)
                self._rebuild()
            raise TimedOut(limit or 0.0) from None
        except pebble.ProcessExpired as exc:
            self.fresh()
            raise Crashed(exc.exitcode) from None
        except MemoryError as exc:  # the result was too large to send back
            self.restart()
            raise OutOfMemory(f"MemoryError: {exc}", self.memory) from None
        except Exception as exc:  # the pool itself failed ("All workers expired", ...)
            self._rebuild()
            raise Crashed(None, f"the worker pool failed: {type(exc).__name__}: "
                                f"{str(exc)[:300]}") from None

    def _rebuild(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
        self._pool = self._start()
        self.fresh()

    def restart(self) -> None:
        """End the worker (its state is lost, e.g. a CUDA context) and start another. The pool
        is stopped and a new one started: asking the worker to exit instead left pebble's
        future of that task unresolved at times, so the call waited out its whole time limit
        plus ``START_ALLOWANCE`` (five minutes a restart in a run of the main job)."""
        self._rebuild()

    def close(self) -> None:
        """Stop the worker process."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join()


def _signature(what: Fault | _Raised) -> str:
    """What a failure was, without the numbers that differ from call to call: a failure seen
    again after a fresh worker confirmed it is not rerun."""
    text = f"{what.verdict}: {what}" if isinstance(what, Fault) else \
        f"{what.type_name}: {what.message.strip().splitlines()[0] if what.message.strip() else ''}"
    return "".join("#" if ch.isdigit() else ch for ch in text)[:300]


#: Reruns of raises in a fresh worker that may repeat the raise in a row before raises are no
#: longer rerun: an implementation whose failures a fresh worker confirms this many times in a
#: row does not poison its process (each rerun costs a worker start: 8 s for TensorFlow).
RAISE_RERUNS = 3


class IsolatedImplementation:
    """The contract, forwarded to a worker process (see the module docstring)."""

    has_gradient = False

    def __init__(self, worker: _Worker, info: _Description, requested: str,
                 limits: Limits | None = None) -> None:
        self._worker = worker
        self.requested = requested  # the name it was loaded by (a plugin's module:attr)
        self.name = info.name
        self.dtypes = info.dtypes
        self.devices = info.devices
        self._versions = info.versions
        self._gpu_names = info.gpu_names
        self._unavailable = info.unavailable
        self._supports: dict[Call, str | None] = {}
        self.limits = limits or Limits(timeout=worker.timeout)
        self.breaker = Breaker(self.limits)
        self._confirmed: set[str] = set()  # failures a fresh worker showed again
        self._slowest = 0.0  # the slowest call it completed, in seconds
        self._warm_up = True  # a worker's first call gets the warm-up allowance
        self._raise_reruns_left = RAISE_RERUNS  # reruns of raises that may still change nothing

    def available(self) -> str | None:
        """Why the implementation cannot run here, or ``None``."""
        return self._unavailable

    def versions(self) -> dict[str, str]:
        """The versions the worker reported."""
        return dict(self._versions)

    def gpu_names(self) -> list[str]:
        """The GPUs the worker's framework sees."""
        return list(self._gpu_names)

    def supports(self, call: Call) -> str | None:
        """The implementation's own ``supports``, asked once per distinct call (``None`` when
        it cannot answer: stopped, or its worker failed; the call itself then says)."""
        if call not in self._supports:
            if self.breaker.check():
                return None
            try:
                self._supports[call] = self._worker.submit(_supports, call,
                                                           timeout=self._limit(None))
            except Fault as fault:
                self._worker.fresh()
                self.breaker.faulted(fault.verdict)
                return None
        return self._supports[call]

    def _limit(self, reference_seconds: float | None) -> float | None:
        first = self._warm_up and self._worker.calls == 0
        limit = self.limits.call_limit(reference_seconds, self._slowest, first)
        left = self.breaker.remaining()
        if left is not None:
            limit = max(min(limit, left), 1 / 10) if limit is not None else max(left, 1 / 10)
        return limit

    def _once(self, method: str, arguments: Mapping[str, Any],
              reference_seconds: float | None) -> Invocation | _Raised:
        """One call in the worker; a fault raises, a raise comes back as ``_Raised``."""
        first = self._worker.calls == 0
        started = time.monotonic()
        try:
            outcome: Invocation | _Raised = self._worker.submit(
                _invoke_in_worker, method, dict(arguments), timeout=self._limit(reference_seconds))
        except TimedOut:
            if first:
                self._warm_up = False  # it hangs from the first call: no more allowance
            raise
        self._worker.calls += 1
        if isinstance(outcome, _Raised) and (outcome.fatal or outcome.oom):
            self._worker.restart()  # its process is unusable now: replace it
            if outcome.oom:
                raise OutOfMemory(f"{outcome.type_name}: {outcome.message}",
                                  self._worker.memory)
        elif isinstance(outcome, Invocation):
            self._slowest = max(self._slowest, time.monotonic() - started)
        return outcome

    def invoke(self, method: str, arguments: Mapping[str, Any], *,
               reference_seconds: float | None = None,
               expects_raise: bool = False) -> Invocation:
        """Run one call in the worker; raise what it raised (``RemoteError``) or a ``Fault``.

        A fault (or, on a call that must not raise, a raise) in a worker that served earlier
        calls (and, for a raise, one of them was suspicious: it raised, returned garbage or was
        handed invalid input) is rerun in a fresh worker before it counts: an implementation
        that corrupts its process (MLX after out-of-range targets) fails every later call there,
        and those failures are its worker's, not the calls'. The rerun's result is the call's;
        the worker's failure is kept in ``Invocation.recovered`` (a robustness finding). A
        failure a rerun repeated is not rerun again, and after ``RAISE_RERUNS`` reruns in a row
        that repeated their raise, no raise is (until a rerun answers a call).
        """
        stopped = self.breaker.check()
        if stopped:
            raise Stopped(stopped)
        calls, suspect = self._worker.calls, self._worker.suspect
        recovered: tuple[str, ...] = ()
        try:
            outcome = self._once(method, arguments, reference_seconds)
        except Fault as fault:
            if not calls or _signature(fault) in self._confirmed:
                self.breaker.faulted(fault.verdict)
                raise
            outcome = self._rerun(method, arguments, reference_seconds)
            self.breaker.recovered(fault.verdict, calls)
            recovered = (f"{fault} (after {calls} calls in its worker; a fresh worker answered "
                         "the call)",)
        else:
            if isinstance(outcome, _Raised) and not expects_raise and suspect and \
                    outcome.type_name != "ce:Unsupported" and self._raise_reruns_left and \
                    _signature(outcome) not in self._confirmed:
                first = outcome
                self._worker.restart()
                outcome = self._rerun(method, arguments, reference_seconds)
                if isinstance(outcome, _Raised) and _signature(outcome) == _signature(first):
                    self._confirmed.add(_signature(outcome))
                    self._raise_reruns_left -= 1
                else:
                    self._raise_reruns_left = RAISE_RERUNS
                    recovered = (f"{first.type_name}: {first.message.splitlines()[0]} (after "
                                 f"an earlier failing or invalid call in its worker; a fresh "
                                 "worker answered the call)"[:300],)
        self.breaker.succeeded()
        return self._returned(outcome, expects_raise, recovered)

    def _rerun(self, method: str, arguments: Mapping[str, Any],
               reference_seconds: float | None) -> Invocation | _Raised:
        """The call again in the fresh worker; a fault there is the call's own."""
        try:
            return self._once(method, arguments, reference_seconds)
        except Fault as again:
            self._confirmed.add(_signature(again))
            self.breaker.faulted(again.verdict)
            raise

    def _returned(self, outcome: Invocation | _Raised, expects_raise: bool,
                  recovered: tuple[str, ...]) -> Invocation:
        confirmed = isinstance(outcome, _Raised) and _signature(outcome) in self._confirmed
        if expects_raise or (isinstance(outcome, _Raised) and not confirmed and
                             outcome.type_name != "ce:Unsupported"):
            self._worker.suspect = True
        if isinstance(outcome, _Raised):
            if outcome.type_name == "ce:BadReturn":
                self._worker.suspect = True
            error = outcome.error()
            error.ce_recovered = recovered  # type: ignore[attr-defined]
            raise error
        return replace(outcome, recovered=recovered) if recovered else outcome

    def cross_entropy(self, *args: Any, **kwargs: Any) -> Array:
        """The implementation's loss, computed in its worker (the contract's arguments, as
        ``implementations.Arguments`` takes them)."""
        result: Array = self.invoke("cross_entropy", Arguments(*args, **kwargs).kwargs()).result
        return result

    def close(self) -> None:
        """Stop the worker process."""
        self._worker.close()


class IsolatedGradImplementation(IsolatedImplementation):
    """A proxy for an implementation that has ``value_and_grad``."""

    has_gradient = True

    def value_and_grad(self, *args: Any, **kwargs: Any) -> tuple[Array, Array]:
        """The implementation's loss and gradient, computed in its worker (the contract's
        arguments, as ``implementations.Arguments`` takes them)."""
        loss, grad = self.invoke("value_and_grad", Arguments(*args, **kwargs).kwargs()).result
        return loss, grad


def isolate(name: str, *, timeout: float | None = DEFAULT_TIMEOUT, log: str | None = None,
            limits: Limits | None = None) -> IsolatedImplementation:
    """A proxy for implementation ``name`` running in a worker process of its own.

    With ``log`` (a file path), whatever the worker prints (framework log lines, warnings) is
    appended there instead of reaching the terminal. ``limits`` (``conformance.limits``): the
    time limits, memory limit and circuit breaker (default: their defaults, with ``timeout``
    as the ceiling). Raises ``UnknownImplementationError`` or ``NotInstalledError`` as
    ``implementations.load`` does, and ``Crashed``/``TimedOut`` when the worker cannot even
    start.
    """
    limits = replace(limits or Limits(), timeout=timeout if timeout else None)
    worker = _Worker(name, limits.timeout, log, limits.memory)
    try:
        info: _Description = worker.submit(_describe)
    except Fault:
        worker.close()
        raise
    if info.load_error is not None:
        worker.close()
        kind, message = info.load_error
        raise (NotInstalledError if kind == "NotInstalledError" else
               UnknownImplementationError)(message)
    proxy = IsolatedGradImplementation if info.has_gradient else IsolatedImplementation
    return proxy(worker, info, name, limits)


def loaded_as(impl: Any) -> str | None:
    """The name ``impl`` was loaded by, when it differs from its display name (a plugin's
    ``module:attr``): what a repro snippet must load."""
    if isinstance(impl, IsolatedImplementation) and impl.requested != impl.name:
        return impl.requested
    return None
