"""The public adapter bases: the contract's two entry points, written once.

The contract is a ``Protocol`` (``implementations.base``), so nobody has to inherit anything;
but an adapter that subclasses ``Adapter`` (``implementations.Adapter``, as every built-in one
does) writes only what is its own:

* ``evaluate(args, call)``: the loss, and with ``call.gradient`` the gradient of its sum, as
  NumPy arrays (``args``: an ``Arguments``, the schema ``implementations.arguments.LossArguments``
  plus ``dtype`` and ``device``; the contract's keywords are unpacked into it here, once);
* ``limits(call)``: why its API cannot express a call, or ``None`` (default: it can);
* ``framework``: the framework it runs on, by the name ``implementations.frameworks`` knows,
  which answers ``devices`` (``cpu``, and ``cuda`` where the framework sees a GPU) and
  ``gpu_names()``; an adapter on another framework sets ``devices`` itself;
* ``differentiable = False`` when it has no gradient (the harness then skips gradient checks,
  as for an adapter without ``value_and_grad``);
* ``packages``: the distributions whose installed versions ``versions()`` reports.

An adapter that cannot run here (``available()`` says why) may answer ``devices`` with ``()``;
``supports`` then judges a call by ``limits`` alone, and the call raises ``RuntimeError`` with
that reason.

``cross_entropy`` and ``value_and_grad`` describe the call (``Call``), raise ``Unsupported``
with the reason when ``supports`` rejects it (an argument is never dropped) and
``RuntimeError`` when ``available()`` says why it cannot run here, then evaluate.

``TorchLossAdapter`` is the base for a loss that torch can call (a kernel, a compiled or
patched ``F.cross_entropy``): it converts NumPy arrays to tensors and back and takes the
gradient through autograd, so a subclass writes ``torch_loss`` on tensors and its ``limits``.
A loss that writes into the logits it is given (a fused kernel storing its gradient there) sets
``writes_input = True`` and writes ``input_loss``, which gets the tensor that stands for the
caller's array: what it writes there is written back into that array, so the harness's check
that inputs stay unchanged records it (``torch_loss``, for callers on tensors, passes a copy).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from implementations import frameworks
from implementations._convert import canonical_device
from implementations.arguments import LossArguments
from implementations.base import (
    ALL_DTYPES,
    DEFAULT_IGNORE_INDEX,
    Array,
    Call,
    DType,
    Reduction,
    available_reason,
    host_device,
    require_supported,
)
from implementations.dtypes import cast_floating, numpy_dtype

__all__ = ["Adapter", "Arguments", "Result", "TorchLossAdapter"]

Result = tuple[Array, Array | None]


@dataclass(frozen=True, eq=False)
class Arguments(LossArguments):
    """The arguments of one call, as the contract passes them: the schema
    (``implementations.arguments.LossArguments``) plus the ``dtype`` and ``device`` asked for
    (``kwargs()`` holds them too: it is the whole call)."""

    dtype: str = "float64"
    device: str = "cpu"

    def cast(self) -> tuple[Array, Array, Array | None]:
        """Input, target and weight with their floating arrays cast to ``dtype`` (class
        indices keep their integer type)."""
        weight = None if self.weight is None else cast_floating(self.weight, self.dtype)
        return cast_floating(self.input, self.dtype), cast_floating(self.target, self.dtype), \
            weight


class Adapter:
    """Base of adapters, built-in or not (see the module docstring)."""

    name: str
    framework: str
    dtypes: tuple[DType, ...] = ALL_DTYPES
    differentiable: ClassVar[bool] = True  # False: no gradient, value_and_grad is not offered
    packages: ClassVar[tuple[str, ...]] = ()  # distributions whose versions ``versions`` reports

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where the framework sees a GPU (``gpu`` is accepted too)."""
        return ("cpu", "cuda") if frameworks.gpu_count(self.framework) else ("cpu",)

    def gpu_names(self) -> list[str]:
        """The GPUs the framework sees, for provenance."""
        return frameworks.gpu_names(self.framework)

    def versions(self) -> dict[str, str]:
        """The versions of those ``packages`` that are installed, for provenance."""
        found = {}
        for package in self.packages:
            with contextlib.suppress(metadata.PackageNotFoundError):
                found[package] = metadata.version(package)
        return found

    def limits(self, call: Call) -> str | None:
        """Why the API cannot express ``call`` (default: it can)."""
        return None

    def supports(self, call: Call) -> str | None:
        """``limits``, then the devices the framework can see (none at all: the adapter
        cannot run here, and ``available()``, not the device, is the reason)."""
        if (reason := self.limits(call)) is not None:
            return reason
        devices = self.devices
        if devices and canonical_device(call.device) not in devices:
            return f"{self.framework} sees no {call.device} device"
        return None

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """The loss and, with ``call.gradient``, d loss.sum() / d input."""
        raise NotImplementedError

    def _checked(self, args: Arguments, gradient: bool) -> Result:
        call = args.call(args.dtype, args.device, gradient)
        require_supported(self, call)
        if (missing := available_reason(self)) is not None:
            raise RuntimeError(missing)
        return self.evaluate(args, call)

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """The loss, computed in ``dtype`` on ``device``; ``Unsupported`` when ``supports``
        rejects the call."""
        return self._checked(Arguments(input, target, weight, ignore_index, reduction,
                                       label_smoothing, dtype, device), gradient=False)[0]

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: Reduction = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Array, Array]:
        """The loss and d loss.sum() / d input through the framework's autodiff."""
        loss, grad = self._checked(Arguments(input, target, weight, ignore_index, reduction,
                                             label_smoothing, dtype, device), gradient=True)
        assert grad is not None
        return loss, grad


class TorchLossAdapter(Adapter):
    """Base of adapters over a loss on torch tensors (see the module docstring): a subclass
    writes ``torch_loss`` (and ``name``, ``limits``, ``available``... as its own). torch is
    imported when the adapter first runs, so an adapter whose ``available()`` says torch is
    missing still loads."""

    framework = "torch"
    #: True: the loss writes into the logits it is given; ``evaluate`` calls ``input_loss`` and
    #: writes what it changed back into the caller's array (see the module docstring)
    writes_input: ClassVar[bool] = False

    @property
    def _torch(self) -> Any:
        return frameworks.torch()

    def torch_loss(self, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                   label_smoothing: float) -> Any:
        """The loss on torch tensors, differentiable in ``x`` (floating arguments in the
        requested dtype, on the requested device; class indices keep their integer type)."""
        raise NotImplementedError

    def input_loss(self, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                   label_smoothing: float) -> Any:
        """The loss as ``evaluate`` computes it, on ``x``, the tensor that stands for the
        caller's array: ``torch_loss``. A loss with ``writes_input`` passes ``x`` itself here
        (and a copy in ``torch_loss``)."""
        return self.torch_loss(x, target, weight, ignore_index, reduction, label_smoothing)

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """``input_loss`` with floating arguments cast to ``dtype`` on ``device`` (with
        ``writes_input``, its writes into ``x`` copied back into ``args.input``); the gradient
        through autograd."""
        x = self._tensor(args.input, args.dtype, args.device).requires_grad_(call.gradient)
        before = x.detach().clone() if self.writes_input else None
        loss = self.input_loss(x, self._tensor(args.target, args.dtype, args.device),
                               self._tensor(args.weight, args.dtype, args.device),
                               int(args.ignore_index), args.reduction,
                               float(args.label_smoothing))
        if before is not None:
            self._write_back(args.input, before, x.detach())
        if not call.gradient:
            return self._to_numpy(loss), None
        (g,) = self._torch.autograd.grad(loss.sum(), [x])
        return self._to_numpy(loss), self._to_numpy(g)

    def _tensor(self, array: Array | None, dtype: str, device: str) -> Any:
        if array is None:
            return None
        array = np.asarray(array)
        # np.array (not ascontiguousarray, which turns 0-d into 1-d) keeps the shape exactly
        tensor = self._torch.from_numpy(np.array(array, dtype=np.float64 if array.dtype.kind == "f"
                                                 else array.dtype, copy=True))
        if tensor.is_floating_point():
            tensor = tensor.to(getattr(self._torch, dtype))
        return tensor.to(host_device(canonical_device(device)))

    def _write_back(self, array: Array, before: Any, after: Any) -> None:
        """Write into the caller's ``array`` the elements the loss changed in the tensor it
        was given (``before`` -> ``after``): the write a user of the loss sees in their own
        logits, made visible to the harness's check that inputs stay unchanged."""
        torch = self._torch
        changed = (after != before) & ~(torch.isnan(after) & torch.isnan(before))
        if not bool(changed.any()) or not isinstance(array, np.ndarray) or \
                not array.flags.writeable or array.shape != tuple(after.shape):
            return
        mask = changed.cpu().numpy()
        array[mask] = after.cpu().to(torch.float64).numpy()[mask].astype(array.dtype)

    def _to_numpy(self, tensor: Any) -> Array:
        """A NumPy array in the tensor's own dtype (bfloat16 through ``ml_dtypes``)."""
        tensor = tensor.detach().cpu()
        dtype = str(tensor.dtype).removeprefix("torch.")
        return np.asarray(tensor.to(self._torch.float64).numpy().astype(numpy_dtype(dtype)))
