"""ce-conformance plugin: Liger-Kernel's Triton cross-entropy, under the name ``liger-kernel``.

The function adapted is ``liger_kernel.transformers.functional.liger_cross_entropy``: the one
Liger's Hugging Face patches install as ``nn.functional.cross_entropy``
(``liger_kernel/transformers/monkey_patch.py:229-232``), with torch's signature. It calls
``LigerCrossEntropyFunction`` (``liger_kernel/ops/cross_entropy.py:505``) directly.

The kernel writes into the logits it is given: the gradient when they require grad, and zeros
over every row whose target is ``ignore_index`` even when they do not
(``ops/cross_entropy.py:104-108``, ``:253``, ``:284``, ``:426``). Through the NumPy contract
the tensor Liger gets stands for the caller's array, so what Liger writes there is written back
into that array (``writes_input``: the public base, ``implementations.TorchLossAdapter``, gives
``input_loss`` that tensor and writes the change back), and the harness records it as the
``inputs`` finding it is (the harness's own copies keep it from reaching anything else).
``torch_loss``, for callers on torch tensors (the composition check), passes ``x.clone()``
instead (differentiable, so the gradient still reaches ``x``), and ``x`` is never written.

Declared limits (the reasons ``supports`` gives): class indices only, ``(BT, V)`` logits only,
Triton on CUDA only. Under ``TRITON_INTERPRET=1`` (Triton's CPU interpreter) the only device is
``cpu (Triton interpreter)`` (a call on another is refused), so that its records and matrix
column are never taken for CUDA numerics; there the weighted calls cannot run (the interpreter
passes a float scalar argument as a Python float, and the kernel calls ``.to`` on it).
Everything else (weight, ignore_index, label smoothing, the three reductions, the four dtypes)
is passed through as torch would take it.
"""

from __future__ import annotations

import os
from typing import Any

from implementations import Call, TorchLossAdapter
from implementations.base import DEFAULT_IGNORE_INDEX

__all__ = ["LigerKernelImplementation"]

SOURCE = "liger_kernel/ops/cross_entropy.py"
#: The device name under ``TRITON_INTERPRET=1``: torch's CPU, the kernels run by Triton's
#: interpreter (NumPy), which is neither CUDA's numbers nor a CPU kernel's.
INTERPRETER = "cpu (Triton interpreter)"


class LigerKernelImplementation(TorchLossAdapter):
    """``liger-kernel``: ``liger_cross_entropy`` (Triton) on CUDA."""

    name = "liger-kernel"
    packages = ("liger-kernel", "triton", "torch")
    writes_input = True  # the kernel stores its gradient, and zeros, in the logits

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

    def limits(self, call: Call) -> str | None:
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
        if call.device != INTERPRETER and _interpreted():
            return (f"under TRITON_INTERPRET=1 the kernels run in Triton's interpreter, on the "
                    f"host: device {INTERPRETER!r}")
        return None

    def input_loss(self, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                   label_smoothing: float) -> Any:
        """``liger_cross_entropy`` on ``x`` itself, which the kernel writes into."""
        from liger_kernel.transformers.functional import liger_cross_entropy

        return liger_cross_entropy(x, target, weight=weight, ignore_index=int(ignore_index),
                                   reduction=reduction, label_smoothing=float(label_smoothing))

    def torch_loss(self, x: Any, target: Any, weight: Any = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                   label_smoothing: float = 0.0) -> Any:
        """The loss on torch tensors, differentiable in ``x``; ``x`` itself is not written
        (the kernel gets ``x.clone()``). The composition check calls this."""
        return self.input_loss(x.clone(), target, weight, ignore_index, reduction,
                               label_smoothing)


def _interpreted() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET") == "1"
