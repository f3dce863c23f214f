"""torch: ``torch.nn.functional.cross_entropy``, the semantics every other backend is held to."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations import require
from implementations._dtypes import numpy_dtype
from implementations.base import ALL_DTYPES, DEFAULT_IGNORE_INDEX, Array, Call


class TorchImplementation:
    """``F.cross_entropy`` on CPU or CUDA, in every floating dtype torch has."""

    name = "torch"
    dtypes = ALL_DTYPES

    def __init__(self) -> None:
        self._torch = require("torch", extra="torch")
        self._functional = require("torch.nn.functional", extra="torch")

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where torch sees a GPU."""
        return ("cpu", "cuda") if self._torch.cuda.is_available() else ("cpu",)

    def supports(self, call: Call) -> str | None:
        """Everything, on the devices torch can see."""
        if call.device not in self.devices:
            return f"torch sees no {call.device} device"
        return None

    def versions(self) -> dict[str, str]:
        """torch's version (and CUDA's when present)."""
        versions = {"torch": str(self._torch.__version__)}
        if self._torch.version.cuda:
            versions["cuda"] = str(self._torch.version.cuda)
        return versions

    def _tensor(self, array: Array | None, dtype: str, device: str) -> Any:
        if array is None:
            return None
        array = np.asarray(array)
        # np.array (not ascontiguousarray, which turns 0-d into 1-d) keeps the shape exactly
        tensor = self._torch.from_numpy(np.array(array, dtype=np.float64 if array.dtype.kind == "f"
                                                 else array.dtype, copy=True))
        if tensor.is_floating_point():
            tensor = tensor.to(getattr(self._torch, dtype))
        return tensor.to(device)

    def _to_numpy(self, tensor: Any) -> Array:
        tensor = tensor.detach().cpu()
        dtype = str(tensor.dtype).removeprefix("torch.")
        return np.asarray(tensor.to(self._torch.float64).numpy().astype(numpy_dtype(dtype)))

    def _loss(self, input: Array, target: Array, weight: Array | None, ignore_index: int,
              reduction: str, label_smoothing: float, dtype: str, device: str,
              grad: bool) -> tuple[Array, Array | None]:
        x = self._tensor(input, dtype, device).requires_grad_(grad)
        loss = self._functional.cross_entropy(
            x, self._tensor(target, dtype, device), weight=self._tensor(weight, dtype, device),
            ignore_index=int(ignore_index), reduction=reduction,
            label_smoothing=float(label_smoothing))
        if not grad:
            return self._to_numpy(loss), None
        (g,) = self._torch.autograd.grad(loss.sum(), [x])
        return self._to_numpy(loss), self._to_numpy(g)

    def cross_entropy(self, input: Array, target: Array, weight: Array | None = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Array:
        """``F.cross_entropy`` with floating arguments cast to ``dtype`` on ``device``."""
        return self._loss(input, target, weight, ignore_index, reduction, label_smoothing,
                          dtype, device, grad=False)[0]

    def value_and_grad(self, input: Array, target: Array, weight: Array | None = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[Array, Array]:
        """The loss and d loss.sum() / d input through autograd."""
        loss, g = self._loss(input, target, weight, ignore_index, reduction, label_smoothing,
                             dtype, device, grad=True)
        assert g is not None
        return loss, g
