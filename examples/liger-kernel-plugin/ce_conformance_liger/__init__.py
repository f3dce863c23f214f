"""ce-conformance plugin: Liger-Kernel's Triton cross-entropy, under the name ``liger-kernel``.

The function adapted is ``liger_kernel.transformers.functional.liger_cross_entropy``: the one
Liger's Hugging Face patches install as ``nn.functional.cross_entropy``
(``liger_kernel/transformers/monkey_patch.py:229-232``), with torch's signature. It calls
``LigerCrossEntropyFunction`` (``liger_kernel/ops/cross_entropy.py:505``) directly.

The kernel writes into the logits it is given: the gradient when they require grad, and zeros
over every row whose target is ``ignore_index`` even when they do not
(``ops/cross_entropy.py:104-108``, ``:253``, ``:284``, ``:426``). Through the NumPy contract
the tensor Liger gets stands for the caller's array, so what Liger writes there is written back
into that array (``_write_back``), and the harness records it as the ``inputs`` finding it is (the
harness's own copies keep it from reaching anything else). ``torch_loss``, for callers on
torch tensors (the composition check), passes ``x.clone()`` instead (differentiable, so the
gradient still reaches ``x``), and ``x`` is never written.

Declared limits (the reasons ``supports`` gives): class indices only, ``(BT, V)`` logits only,
Triton on CUDA only. Under ``TRITON_INTERPRET=1`` (Triton's CPU interpreter) the only device is
``cpu (Triton interpreter)``, so that its records and matrix column are never taken for CUDA
numerics; there the weighted calls cannot run (the interpreter passes a float scalar argument
as a Python float, and the kernel calls ``.to`` on it). Everything else (weight, ignore_index,
label smoothing, the three reductions, the four dtypes) is passed through as torch would take
it.
"""

from __future__ import annotations

import contextlib
import os
from importlib import metadata
from typing import Any

import numpy as np

from implementations.base import ALL_DTYPES, DEFAULT_IGNORE_INDEX, Call, Unsupported, host_device

__all__ = ["LigerKernelImplementation"]

SOURCE = "liger_kernel/ops/cross_entropy.py"
#: The device name under ``TRITON_INTERPRET=1``: torch's CPU, the kernels run by Triton's
#: interpreter (NumPy), which is neither CUDA's numbers nor a CPU kernel's.
INTERPRETER = "cpu (Triton interpreter)"


class LigerKernelImplementation:
    """``liger-kernel``: ``liger_cross_entropy`` (Triton) on CUDA."""

    name = "liger-kernel"
    dtypes = ALL_DTYPES

    def available(self) -> str | None:
        """``None`` when torch sees CUDA (or Triton interprets) and liger_kernel imports."""
        try:
            import torch
        except ImportError as exc:
            return f"not installed: pip install torch ({exc})"
        if not (torch.cuda.is_available() or _interpreted()):
            return "needs CUDA: torch sees no GPU (liger-kernel's Triton kernels run on CUDA)"
        try:
            import triton  # noqa: F401
            from liger_kernel.transformers.functional import liger_cross_entropy  # noqa: F401
        except ImportError as exc:
            return f"not installed: pip install liger-kernel triton ({exc})"
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """``cuda`` when usable; under ``TRITON_INTERPRET=1`` only ``cpu (Triton interpreter)``
        (the interpreter runs every kernel, on CUDA tensors too, in NumPy on the host)."""
        if self.available() is not None:
            return ()
        return (INTERPRETER,) if _interpreted() else ("cuda",)

    def versions(self) -> dict[str, str]:
        """liger-kernel, triton and torch versions (those installed)."""
        found = {}
        for package in ("liger-kernel", "triton", "torch"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                found[package] = metadata.version(package)
        return found

    def supports(self, call: Any) -> str | None:
        """What ``liger_cross_entropy`` cannot express."""
        if call.device == INTERPRETER and not _interpreted():
            return f"{INTERPRETER} needs TRITON_INTERPRET=1 set before liger_kernel is imported"
        if call.device == "cpu":
            return ("liger-kernel's Triton kernels run on CUDA only (on the CPU: device "
                    f"{INTERPRETER!r}, with TRITON_INTERPRET=1)")
        if call.device == INTERPRETER and call.has_weight:
            return ("class weights do not run under Triton's interpreter: it passes "
                    "sum_non_ignore_weight as a Python float, and the kernel calls .to() on it "
                    f"({SOURCE}:129, 394-401)")
        if call.target_kind == "probabilities":
            return (f"class indices only: the kernel loads one target index per row "
                    f"({SOURCE}:97-99)")
        if len(call.input_shape) != 2:
            return f"(BT, V) logits only: cross_entropy_forward unpacks BT, V = _input.shape " \
                   f"({SOURCE}:373)"
        return None

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cuda") -> np.ndarray:
        """``liger_cross_entropy`` on a copy of ``input`` cast to ``dtype`` on ``device``."""
        return self._run(input, target, weight, ignore_index, reduction, label_smoothing,
                         dtype, device, grad=False)[0]

    def value_and_grad(self, input: Any, target: Any, weight: Any = None,
                       ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                       label_smoothing: float = 0.0, *, dtype: str = "float64",
                       device: str = "cuda") -> tuple[np.ndarray, np.ndarray]:
        """The loss and d loss.sum() / d input through Liger's autograd function."""
        loss, grad = self._run(input, target, weight, ignore_index, reduction, label_smoothing,
                               dtype, device, grad=True)
        assert grad is not None
        return loss, grad

    def torch_loss(self, x: Any, target: Any, weight: Any = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                   label_smoothing: float = 0.0) -> Any:
        """The loss on torch tensors, differentiable in ``x``; ``x`` itself is not written
        (the kernel gets ``x.clone()``). The composition check calls this."""
        from liger_kernel.transformers.functional import liger_cross_entropy

        return liger_cross_entropy(x.clone(), target, weight=weight,
                                   ignore_index=int(ignore_index), reduction=reduction,
                                   label_smoothing=float(label_smoothing))

    def _run(self, input: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
             label_smoothing: float, dtype: str, device: str,
             grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        call = Call.of(input, target, weight, ignore_index, reduction, label_smoothing,
                       dtype=dtype, device=device, gradient=grad)
        reason = self.supports(call)
        if reason:
            raise Unsupported(reason)
        if (missing := self.available()) is not None:
            raise RuntimeError(missing)
        import torch
        from liger_kernel.transformers.functional import liger_cross_entropy

        x = _tensor(input, dtype, device).requires_grad_(grad)
        before = x.detach().clone()
        loss = liger_cross_entropy(x, _tensor(target, dtype, device),
                                   weight=_tensor(weight, dtype, device),
                                   ignore_index=int(ignore_index), reduction=reduction,
                                   label_smoothing=float(label_smoothing))
        _write_back(input, before, x.detach())
        if not grad:
            return _numpy(loss), None
        (g,) = torch.autograd.grad(loss.sum(), [x])
        return _numpy(loss), _numpy(g)


def _interpreted() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def _write_back(array: Any, before: Any, after: Any) -> None:
    """Write into the caller's ``array`` the elements Liger changed in the tensor it was given
    (``before`` -> ``after``): the write a user of ``liger_cross_entropy`` sees in their own
    logits, made visible to the harness's check that inputs stay unchanged."""
    import torch

    changed = (after != before) & ~(torch.isnan(after) & torch.isnan(before))
    if not bool(changed.any()) or not isinstance(array, np.ndarray) or \
            not array.flags.writeable or array.shape != tuple(after.shape):
        return
    mask = changed.cpu().numpy()
    array[mask] = after.cpu().to(torch.float64).numpy()[mask].astype(array.dtype)


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
    return tensor.to(host_device(device))


def _numpy(tensor: Any) -> np.ndarray:
    """A NumPy array in the tensor's own dtype (bfloat16 through ml_dtypes)."""
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        import ml_dtypes

        return np.asarray(tensor.to(torch.float32).numpy().astype(ml_dtypes.bfloat16))
    return np.asarray(tensor.numpy())
