"""Implementations that fail hard, on purpose, for the isolation tests: each is the reference
except for one fault, which it commits on calls with ``reduction="sum"`` (or on its third call),
so a run shows that the fault costs only those checks. Loaded as ``tests.helpers.faulty:NAME``."""

from __future__ import annotations

import ctypes
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
