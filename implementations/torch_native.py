"""torch: ``torch.nn.functional.cross_entropy``, the semantics every other backend is held to."""

from __future__ import annotations

from typing import Any

import numpy as np

from implementations import frameworks
from implementations._adapter import Adapter, Arguments, Result
from implementations._convert import canonical_device
from implementations._dtypes import numpy_dtype
from implementations.base import Array, Call


class TorchImplementation(Adapter):
    """``F.cross_entropy`` on CPU or CUDA, in every floating dtype torch has."""

    name = "torch"
    framework = "torch"

    def __init__(self) -> None:
        self._torch = frameworks.torch()

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
        return tensor.to(canonical_device(device))

    def _to_numpy(self, tensor: Any) -> Array:
        tensor = tensor.detach().cpu()
        dtype = str(tensor.dtype).removeprefix("torch.")
        return np.asarray(tensor.to(self._torch.float64).numpy().astype(numpy_dtype(dtype)))

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """``F.cross_entropy`` with floating arguments cast to ``dtype`` on ``device``; the
        gradient through autograd."""
        x = self._tensor(args.input, args.dtype, args.device).requires_grad_(call.gradient)
        loss = self.torch_loss(x, self._tensor(args.target, args.dtype, args.device),
                               self._tensor(args.weight, args.dtype, args.device),
                               int(args.ignore_index), args.reduction,
                               float(args.label_smoothing))
        if not call.gradient:
            return self._to_numpy(loss), None
        (g,) = self._torch.autograd.grad(loss.sum(), [x])
        return self._to_numpy(loss), self._to_numpy(g)

    def torch_loss(self, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                   label_smoothing: float) -> Any:
        """The loss on torch tensors, differentiable in ``x``: ``F.cross_entropy`` (a variant
        that runs it another way, ``torch.compile``, overrides only this)."""
        return self._torch.nn.functional.cross_entropy(
            x, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
            label_smoothing=label_smoothing)
