"""The one small contract every cross-entropy implementation follows.

An implementation is any object with these attributes; no base class is required (it is a
``typing.Protocol``). Inputs and outputs are NumPy arrays; conversion to and from a framework
lives inside the adapter and nowhere else.

Required:
    name: str
    cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, *, dtype="float64", device="cpu") -> numpy.ndarray

Optional (the harness falls back to sensible defaults when absent):
    available() -> str | None
        ``None`` when usable, else the reason it is not ("not installed: pip install ...").
    supports(call: Call) -> str | None
        ``None`` when the implementation can express ``call``, else the reason it cannot
        ("optax has no class weights"). Unsupported is not a failure.
    value_and_grad(input, target, ..., *, dtype, device) -> (loss, d sum(loss) / d input)
        The loss and the gradient of its sum with respect to ``input`` (for ``reduction="none"``
        the gradient of ``loss.sum()``), through the framework's own autodiff.
    versions() -> dict[str, str]
        Versions of the frameworks behind the implementation, for provenance.
    dtypes: tuple[str, ...]; devices: tuple[str, ...]
        What the implementation can run in (default: float64 only, cpu only).

A call that ``supports`` rejects must raise ``Unsupported`` (never drop the argument).
Invalid input must raise (any exception whose message names the problem) or return whatever
the framework returns: the harness classifies raising, NaN/inf and silent finite numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Reduction = Literal["none", "mean", "sum"]
DType = Literal["float16", "bfloat16", "float32", "float64"]
TargetKind = Literal["indices", "probabilities"]

ALL_DTYPES: tuple[DType, ...] = ("float16", "bfloat16", "float32", "float64")
REDUCTIONS: tuple[Reduction, ...] = ("none", "mean", "sum")
DEFAULT_IGNORE_INDEX = -100

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Call:
    """What a call asks for, without its data: what ``supports`` decides on."""

    input_shape: tuple[int, ...]
    target_kind: TargetKind
    has_weight: bool = False
    ignore_index: int = DEFAULT_IGNORE_INDEX
    reduction: str = "mean"
    label_smoothing: float = 0.0
    dtype: str = "float64"
    device: str = "cpu"
    gradient: bool = False

    @property
    def uses_ignore_index(self) -> bool:
        """Whether ``ignore_index`` differs from torch's default."""
        return self.ignore_index != DEFAULT_IGNORE_INDEX

    @classmethod
    def of(
        cls,
        input: Array,
        target: Array,
        weight: Array | None = None,
        ignore_index: int = DEFAULT_IGNORE_INDEX,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        dtype: str = "float64",
        device: str = "cpu",
        gradient: bool = False,
    ) -> Call:
        """Describe a call from its arguments (the target kind follows torch's shape rule)."""
        return cls(
            input_shape=tuple(np.shape(input)),
            target_kind=target_kind(input, target),
            has_weight=weight is not None,
            ignore_index=int(ignore_index),
            reduction=reduction,
            label_smoothing=float(label_smoothing),
            dtype=dtype,
            device=device,
            gradient=gradient,
        )


def target_kind(input: Array, target: Array) -> TargetKind:
    """torch's rule: the target holds probabilities exactly when its shape equals the input's."""
    return "probabilities" if np.shape(input) == np.shape(target) else "indices"


@runtime_checkable
class Implementation(Protocol):
    """The required part of the contract (see the module docstring for the optional part)."""

    name: str

    def cross_entropy(
        self,
        input: Array,
        target: Array,
        weight: Array | None = None,
        ignore_index: int = DEFAULT_IGNORE_INDEX,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        dtype: str = "float64",
        device: str = "cpu",
    ) -> Array: ...


class Unsupported(NotImplementedError):
    """A call the implementation cannot express (its ``supports`` gives the reason): raised by
    ``cross_entropy`` and ``value_and_grad`` instead of dropping an argument. ``str`` is the
    reason; the harness records such a call as unsupported, not as a failure."""


class NotInstalledError(ImportError):
    """An implementation whose framework is missing; the message says what to install."""


class UnknownImplementationError(LookupError):
    """``load`` was given a name that no registry, entry point or ``module:attr`` provides."""
