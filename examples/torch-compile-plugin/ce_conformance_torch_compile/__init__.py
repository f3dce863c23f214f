"""ce-conformance plugin: ``F.cross_entropy`` under ``torch.compile``, as ``torch.compile``.

Each configuration (shapes, dtypes, device, weight or not, ignore_index, reduction,
label_smoothing, gradient or not) gets its own ``torch.compile(..., dynamic=False)`` of a
function with its own code object. Dynamo keeps its cache per code object and falls back to
eager, silently, once a code object has been recompiled ``recompile_limit`` (8) times; a code
object per configuration means every call here is compiled, once, and nothing global is
changed. Inductor generates C++ on CPU (a compiler must be on PATH) and Triton on CUDA.

Nothing is declared unsupported apart from devices: the compiled function is torch's own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import types
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from implementations.base import ALL_DTYPES, DEFAULT_IGNORE_INDEX, Call, Unsupported

__all__ = ["TorchCompileImplementation"]


class TorchCompileImplementation:
    """``torch.compile``: ``torch.compile(F.cross_entropy, dynamic=False)`` on CPU and CUDA."""

    name = "torch.compile"
    dtypes = ALL_DTYPES

    def available(self) -> str | None:
        """``None`` when torch imports."""
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            return f"not installed: pip install torch ({exc})"
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where torch sees a GPU."""
        import torch

        return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)

    def versions(self) -> dict[str, str]:
        """torch's version (and triton's where installed)."""
        found = {"torch": metadata.version("torch")}
        with contextlib.suppress(metadata.PackageNotFoundError):
            found["triton"] = metadata.version("triton")
        return found

    def supports(self, call: Any) -> str | None:
        """Every argument; on CPU, inductor needs a C++ compiler."""
        if call.device not in self.devices:
            return f"torch sees no {call.device} device"
        if call.device == "cpu" and not _cpp_compiler():
            return "inductor's CPU backend needs a C++ compiler (g++ or $CXX) on PATH"
        return None

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> np.ndarray:
        """The compiled ``F.cross_entropy``, floating arguments in ``dtype`` on ``device``."""
        return self._run(input, target, weight, ignore_index, reduction, label_smoothing,
                         dtype, device, grad=False)[0]

    def value_and_grad(self, input: Any, target: Any, weight: Any = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
        """The loss and d loss.sum() / d input through the compiled graph's backward."""
        loss, grad = self._run(input, target, weight, ignore_index, reduction, label_smoothing,
                               dtype, device, grad=True)
        assert grad is not None
        return loss, grad

    def torch_loss(self, x: Any, target: Any, weight: Any = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                   label_smoothing: float = 0.0) -> Any:
        """The compiled loss on torch tensors, differentiable in ``x`` (the composition check
        calls this)."""
        key = (tuple(x.shape), str(x.dtype), tuple(target.shape), str(target.dtype),
               str(x.device), weight is not None, int(ignore_index), reduction,
               repr(float(label_smoothing)), x.requires_grad)
        return _compiled(key)(x, target, weight)

    def _run(self, input: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
             label_smoothing: float, dtype: str, device: str,
             grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        call = Call.of(input, target, weight, ignore_index, reduction, label_smoothing,
                       dtype=dtype, device=device, gradient=grad)
        reason = self.supports(call)
        if reason:
            raise Unsupported(reason)
        import torch

        x = _tensor(input, dtype, device).requires_grad_(grad)
        loss = self.torch_loss(x, _tensor(target, dtype, device), _tensor(weight, dtype, device),
                               ignore_index, reduction, label_smoothing)
        if not grad:
            return _numpy(loss), None
        (g,) = torch.autograd.grad(loss.sum(), [x])
        return _numpy(loss), _numpy(g)


def _cross_entropy(ignore_index: int, reduction: str, label_smoothing: float) -> Any:
    """``F.cross_entropy`` with the configuration's scalars bound (closure constants)."""
    import torch.nn.functional as F

    def cross_entropy(x: Any, target: Any, weight: Any) -> Any:
        return F.cross_entropy(x, target, weight=weight, ignore_index=ignore_index,
                               reduction=reduction, label_smoothing=label_smoothing)

    return cross_entropy


@lru_cache(maxsize=1024)
def _compiled(key: tuple[Any, ...]) -> Any:
    """``torch.compile`` of ``cross_entropy`` for one configuration, given a code object of
    its own (closures share their code object, and with it dynamo's cache and its limit)."""
    import torch

    *_, ignore_index, reduction, smoothing, _grad = key
    closure = _cross_entropy(ignore_index, reduction, float(smoothing))
    name = f"cross_entropy_{_compiled.cache_info().currsize}"
    function = types.FunctionType(closure.__code__.replace(co_name=name), closure.__globals__,
                                  name, closure.__defaults__, closure.__closure__)
    return torch.compile(function, dynamic=False)


def _cpp_compiler() -> str | None:
    """The C++ compiler inductor would find (``$CXX``, else ``g++``/``c++``), if any."""
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")


def _tensor(array: Any, dtype: str, device: str) -> Any:
    """A torch tensor of ``array``: floating arrays in ``dtype``, integers keep their type."""
    import torch

    if array is None:
        return None
    array = np.asarray(array)
    floating = array.dtype.kind == "f"
    tensor = torch.from_numpy(np.array(array, dtype=np.float64 if floating else array.dtype))
    if floating:
        tensor = tensor.to(getattr(torch, dtype))
    return tensor.to(device)


def _numpy(tensor: Any) -> np.ndarray:
    """A NumPy array in the tensor's own dtype (bfloat16 through ml_dtypes)."""
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        import ml_dtypes

        return np.asarray(tensor.to(torch.float32).numpy().astype(ml_dtypes.bfloat16))
    return np.asarray(tensor.numpy())
