"""Implementations that fail hard, on purpose, for the isolation tests: each is the reference
except for one fault, which it commits on calls with ``reduction="sum"`` (or on its third call),
so a run shows that the fault costs only those checks. Loaded as ``tests.helpers.faulty:NAME``."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import time
from typing import Any

import numpy as np

from implementations.reference import ReferenceImplementation


class _Faulty:
    """The reference; subclasses override ``_fault`` for the calls they break."""

    name = "faulty"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()
        self.calls = 0

    def _fault(self, input: Any, reduction: str) -> Any:
        return None  # None: no fault on this call

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The reference's loss, unless this call is one the fault hits."""
        self.calls += 1
        faulty = self._fault(input, reduction)
        if faulty is not None:
            return faulty
        return self._reference.cross_entropy(input, target, weight, ignore_index, reduction,
                                             label_smoothing)


class ExitsOnThirdCall(_Faulty):
    """``os._exit(1)`` on the third call of each worker process."""

    name = "exits-on-third-call"

    def _fault(self, input: Any, reduction: str) -> Any:
        if self.calls == 3:
            os._exit(1)
        return None


class Segfaults(_Faulty):
    """A segmentation fault on every summed loss."""

    name = "segfaults"

    def _fault(self, input: Any, reduction: str) -> Any:
        if reduction == "sum":
            ctypes.string_at(0)
        return None


class Hangs(_Faulty):
    """Sleeps for a minute on every summed loss."""

    name = "hangs"

    def _fault(self, input: Any, reduction: str) -> Any:
        if reduction == "sum":
            time.sleep(60)
        return None


class WritesIntoInput(_Faulty):
    """Doubles the logits it was given, in place, on every summed loss (then computes on them)."""

    name = "writes-into-input"

    def _fault(self, input: Any, reduction: str) -> Any:
        if reduction == "sum":
            np.multiply(input, 2.0, out=input)
        return None


class ReturnsString(_Faulty):
    """Returns a string for every summed loss."""

    name = "returns-string"

    def _fault(self, input: Any, reduction: str) -> Any:
        return "0.5" if reduction == "sum" else None


class ReturnsNone(_Faulty):
    """Returns ``None`` for every summed loss (``_fault`` cannot say None, so it is a sentinel)."""

    name = "returns-none"

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """``None`` for a summed loss, else the reference's."""
        if reduction == "sum":
            return None
        return super().cross_entropy(input, target, weight, ignore_index, reduction,
                                     label_smoothing)


class MarkupName(_Faulty):
    """The reference under a name full of rich markup."""

    name = "ce[/bold]x[red]"


class LongName(_Faulty):
    """The reference under a 300-character name."""

    name = "x" * 300


# --- hostile plugins (tests/test_hostile.py): each fails on every call, or fails its worker ---


class HangsAlways(_Faulty):
    """Never returns: every call sleeps for an hour."""

    name = "hangs-always"

    def _fault(self, input: Any, reduction: str) -> Any:
        time.sleep(3600)


class HangsFromFourthCall(_Faulty):
    """Answers the first three calls of each worker process, then hangs on every call."""

    name = "hangs-from-fourth-call"

    def _fault(self, input: Any, reduction: str) -> Any:
        if self.calls >= 4:
            time.sleep(3600)
        return None


class SegfaultsAlways(_Faulty):
    """A segmentation fault on every call."""

    name = "segfaults-always"

    def _fault(self, input: Any, reduction: str) -> Any:
        ctypes.string_at(0)


LEAK_BYTES = 2**28  # 256 MiB kept per call


class LeaksMemory(_Faulty):
    """Keeps 256 MiB (written, so resident) from every call, in a list it never frees."""

    name = "leaks-memory"

    def __init__(self) -> None:
        super().__init__()
        self._kept: list[Any] = []

    def _fault(self, input: Any, reduction: str) -> Any:
        self._kept.append(np.ones(LEAK_BYTES // 8))
        return None


class _Returns(_Faulty):
    """Returns ``_bad(loss)`` instead of the reference's loss, on every call."""

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The reference's loss, spoiled."""
        loss = super().cross_entropy(input, target, weight, ignore_index, reduction,
                                     label_smoothing)
        return self._bad(np.asarray(loss))

    def _bad(self, loss: Any) -> Any:
        return loss


class ReturnsNoneAlways(_Returns):
    """Returns ``None`` from every call."""

    name = "returns-none-always"

    def _bad(self, loss: Any) -> Any:
        return None


class ReturnsFloat16(_Returns):
    """Returns the right loss, rounded to float16, whatever the dtype asked for."""

    name = "returns-float16"

    def _bad(self, loss: Any) -> Any:
        return loss.astype(np.float16)


class ReturnsWrongShape(_Returns):
    """Returns the loss with an extra axis of length 2."""

    name = "returns-wrong-shape"

    def _bad(self, loss: Any) -> Any:
        return np.stack([loss, loss])


class PoisonedByInvalidTargets(_Faulty):
    """Raises on an out-of-range target (as it should), but that call corrupts its process:
    every later call in the same worker raises (as MLX did after out-of-range targets)."""

    name = "poisoned-by-invalid-targets"

    def __init__(self) -> None:
        super().__init__()
        self.poisoned = False

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The reference's loss, until an out-of-range target poisoned the process."""
        if self.poisoned:
            raise RuntimeError("[kernel] command buffer failed: the device state is lost")
        classes = np.shape(input)[1] if np.ndim(input) > 1 else np.shape(input)[0]
        if np.issubdtype(np.asarray(target).dtype, np.integer) and \
                np.any(np.asarray(target) >= classes):
            self.poisoned = True
            raise IndexError("target out of range")
        return super().cross_entropy(input, target, weight, ignore_index, reduction,
                                     label_smoothing)


class RejectsSumAfterInvalidTargets(PoisonedByInvalidTargets):
    """Raises on an out-of-range target, and on every summed loss (in any worker): a real
    rejection that follows a suspicious call, which a fresh worker's rerun must confirm."""

    name = "rejects-sum"

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """Raises for a summed loss; otherwise the reference's (not poisoned)."""
        if reduction == "sum":
            raise NotImplementedError("reduction='sum' is not implemented")
        result = None
        try:
            result = super().cross_entropy(input, target, weight, ignore_index, reduction,
                                           label_smoothing)
        finally:
            self.poisoned = False
        return result


class DiesOnLoad(_Faulty):
    """Its worker process exits while loading it (before any task): pebble's pool breaks
    ("All workers expired"). Imported in the harness's own process it is harmless."""

    name = "dies-on-load"

    def __init__(self) -> None:
        super().__init__()
        if multiprocessing.current_process().name != "MainProcess":
            os._exit(3)
