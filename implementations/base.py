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
    gpu_names() -> list[str]
        The names of the GPUs it runs on, for provenance (asked only when ``cuda`` is a device).
    differentiable: bool
        ``False`` when ``value_and_grad``, though present, is not offered (default ``True``).

The harness reads the optional members through ``dtypes_of``, ``devices_of``,
``unsupported_reason``, ``available_reason``, ``versions_of``, ``has_gradient`` and
``gpu_names_of`` below, which hold the defaults.

A call that ``supports`` rejects must raise ``Unsupported`` (never drop the argument):
``require_supported(impl, call)`` does that check. The public bases ``implementations.Adapter``
and ``implementations.TorchLossAdapter`` (``implementations.adapter``) write both entry points
and that check once; every built-in adapter subclasses one and is listed in
``implementations.registry``.
The harness holds a call's arguments as one ``implementations.arguments.LossArguments`` and
passes its ``kwargs()`` to these methods.
Invalid input must raise (any exception whose message names the problem) or return whatever
the framework returns: the harness classifies raising, NaN/inf and silent finite numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, runtime_checkable

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
    """What a call asks for, without its data: what ``supports`` decides on, and the answers
    to torch's questions about it (class axis, number of classes, effective smoothing)."""

    input_shape: tuple[int, ...]
    target_kind: TargetKind
    has_weight: bool = False
    ignore_index: int = DEFAULT_IGNORE_INDEX
    reduction: Reduction = "mean"
    label_smoothing: float = 0.0
    dtype: DType = "float64"
    device: str = "cpu"
    gradient: bool = False

    @property
    def uses_ignore_index(self) -> bool:
        """Whether ``ignore_index`` differs from torch's default."""
        return self.ignore_index != DEFAULT_IGNORE_INDEX

    @property
    def class_axis(self) -> int:
        """torch's class axis: 0 for a ``(C,)`` input, else 1."""
        return class_axis_of(self.input_shape)

    @property
    def n_classes(self) -> int:
        """``C``, the length of the class axis (0 for a 0-d input, which torch rejects)."""
        shape = self.input_shape
        return shape[self.class_axis] if len(shape) > self.class_axis else 0

    @property
    def smoothing(self) -> float:
        """The smoothing torch applies: ``label_smoothing`` when above 0; negative and NaN
        mean none (values above 1 are invalid, see ``implementations.torch_rules``)."""
        return float(self.label_smoothing) if self.label_smoothing > 0.0 else 0.0

    @classmethod
    def of(cls, input: Array, target: Array, weight: Array | None = None,
           ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
           label_smoothing: float = 0.0, *, dtype: str = "float64", device: str = "cpu",
           gradient: bool = False) -> Call:
        """Describe a call from its arguments (the target kind follows torch's shape rule).

        An invalid reduction or dtype is carried as given (the ``Literal`` types name the valid
        ones): ``supports`` may decide on it, and ``torch_rules`` refuses it."""
        return cls(input_shape=tuple(np.shape(input)), target_kind=target_kind(input, target),
                   has_weight=weight is not None, ignore_index=int(ignore_index),
                   reduction=reduction, label_smoothing=float(label_smoothing),
                   dtype=cast(DType, dtype), device=device, gradient=gradient)


def class_axis_of(shape: tuple[int, ...]) -> int:
    """torch's class axis for an input of ``shape``: 0 for ``(C,)``, else 1 (the one rule)."""
    return 0 if len(shape) == 1 else 1


def target_kind(input: Array, target: Array) -> TargetKind:
    """torch's rule: the target holds probabilities exactly when its shape equals the input's."""
    return "probabilities" if np.shape(input) == np.shape(target) else "indices"


@runtime_checkable
class Implementation(Protocol):
    """The required part of the contract (see the module docstring for the optional part)."""

    name: str

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """The loss as a NumPy array, computed in ``dtype`` on ``device``."""


class Unsupported(NotImplementedError):
    """A call the implementation cannot express (its ``supports`` gives the reason): raised by
    ``cross_entropy`` and ``value_and_grad`` instead of dropping an argument. ``str`` is the
    reason; the harness records such a call as unsupported, not as a failure."""


class NotInstalledError(ImportError):
    """An implementation whose framework is missing; the message says what to install."""


class UnknownImplementationError(LookupError):
    """``load`` was given a name that no registry, entry point or ``module:attr`` provides."""


# --- the optional members, with their defaults, in one place ----------------------------------

DEFAULT_DTYPES: tuple[str, ...] = ("float64",)
DEFAULT_DEVICES: tuple[str, ...] = ("cpu",)


def dtypes_of(impl: Implementation) -> tuple[str, ...]:
    """The dtypes ``impl`` declares (default: float64 only)."""
    return tuple(getattr(impl, "dtypes", DEFAULT_DTYPES))


def devices_of(impl: Implementation) -> tuple[str, ...]:
    """The devices ``impl`` declares (default: cpu only)."""
    return tuple(getattr(impl, "devices", DEFAULT_DEVICES))


def host_device(device: str) -> str:
    """The device that ``device`` runs on. A device name may say, in parentheses, how the code
    runs there: ``cpu (Triton interpreter)`` is torch's ``cpu`` with the kernels run by
    Triton's interpreter, named so that its records are never taken for another device's
    numbers. torch, the specification, is compared and reproduced on the host device."""
    return device.split(" (", 1)[0]


def supports_reason(impl: Implementation, call: Call) -> str | None:
    """``impl``'s own ``supports(call)``: ``None`` when absent or when it accepts ``call``."""
    supports = getattr(impl, "supports", None)
    return supports(call) if supports is not None else None


def unsupported_reason(impl: Implementation, call: Call) -> str | None:
    """Why ``impl`` cannot run ``call``: its dtypes, then its devices, then its ``supports``."""
    dtypes = dtypes_of(impl)
    if call.dtype not in dtypes:
        return f"{impl.name} has no {call.dtype} (it supports {', '.join(dtypes)})"
    devices = devices_of(impl)
    if call.device not in devices:
        return f"{impl.name} sees no {call.device} device (it has {', '.join(devices)})"
    return supports_reason(impl, call)


def require_supported(impl: Implementation, call: Call) -> None:
    """Raise ``Unsupported`` with the reason when ``impl``'s own ``supports`` rejects ``call``."""
    reason = supports_reason(impl, call)
    if reason is not None:
        raise Unsupported(reason)


def available_reason(impl: Implementation) -> str | None:
    """Why ``impl`` cannot be used here, or ``None`` (also when it has no ``available``)."""
    available = getattr(impl, "available", None)
    return available() if available is not None else None


def versions_of(impl: Implementation) -> dict[str, str]:
    """The framework versions ``impl`` reports (empty when it has no ``versions``)."""
    versions = getattr(impl, "versions", None)
    return dict(versions()) if versions is not None else {}


def has_gradient(impl: Implementation) -> bool:
    """Whether ``impl`` offers ``value_and_grad`` (and does not say ``differentiable = False``,
    as an ``implementations.Adapter`` without a gradient does)."""
    return callable(getattr(impl, "value_and_grad", None)) and \
        bool(getattr(impl, "differentiable", True))


def gpu_names_of(impl: Implementation) -> list[str]:
    """The names of the GPUs ``impl`` runs on (``gpu_names()``; none when it has no cuda)."""
    gpu_names = getattr(impl, "gpu_names", None)
    if gpu_names is None or "cuda" not in devices_of(impl):
        return []
    return list(gpu_names())
