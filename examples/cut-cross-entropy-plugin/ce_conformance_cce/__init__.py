"""ce-conformance plugin: Apple's Cut Cross-Entropy, under the name ``cut-cross-entropy``.

``cut_cross_entropy.linear_cross_entropy(e, c, targets)`` computes
``F.cross_entropy(e @ c.T, targets)`` without materialising the logits
(``cut_cross_entropy/doc.py``). The harness hands us logits, so the adapter feeds them through
an identity classifier: ``e`` is the logits with the class axis last (``(N, C)`` as is;
``(N, C, d1, ...)`` moved to ``(N, d1, ..., C)``, the ``(..., D)`` layout CCE takes) and
``c = torch.eye(C)`` in the same dtype, so ``e @ c.T`` is ``e`` exactly for finite logits
(products with 0 and 1 are exact, accumulated in float32). That costs a C x C identity
(C**2 elements) and an M x C x C matmul, so ``supports`` refuses C above ``MAX_CLASSES``.
An infinite logit is *not* reproduced: 0 x inf = NaN in the matmul (IEEE 754), so the whole
row becomes NaN; that is the wrapper's, not CCE's, and is listed in expectations.yaml.

The call is the users' one: ``linear_cross_entropy(e, c, targets, ignore_index=...,
reduction=...)``, everything else at its default (``impl="cce"`` on Linux, ``shift=False``,
``softcap=None``, ``filter_eps="high"``, which skips gradient entries below
``finfo(dtype).eps / 32``: ``cut_cross_entropy/utils.py:10-25``).

CCE's Triton kernels do not run under Triton's CPU interpreter (``TRITON_INTERPRET=1``): its
``tl_log1p`` (``tl_utils.py:17-19``, used by ``tl_logaddexp`` at ``:37``) calls
``triton.language.extra.libdevice.log1p``, which the interpreter leaves a stub returning
``None`` (measured with triton 3.8.0), so ``available()`` says so there. Its non-Triton path,
``impl="torch_compile"`` (``torch_compile.py``), is the second class here,
``cut-cross-entropy.torch_compile``: it runs on the CPU (inductor's C++) as on CUDA.

Both subclass the public ``implementations.TorchLossAdapter``: they write ``torch_loss`` (the
call above) and ``limits``, and the base converts NumPy arrays to tensors and back and takes
the gradient through autograd.
"""

from __future__ import annotations

import os
from typing import Any

from implementations import Call, TorchLossAdapter, Unsupported
from implementations.base import DEFAULT_IGNORE_INDEX

__all__ = ["CutCrossEntropyImplementation", "CutCrossEntropyTorchCompileImplementation"]

MAX_CLASSES = 16384  # the identity classifier: 16384**2 half-precision elements are 512 MiB
NO_WEIGHT = "no class weights (linear_cross_entropy.py:29-39 has no weight argument)"
NO_SMOOTHING = "no label smoothing (linear_cross_entropy.py:29-39 has no such argument)"


class CutCrossEntropyImplementation(TorchLossAdapter):
    """``cut-cross-entropy``: ``linear_cross_entropy`` (Triton, ``impl="cce"``) on CUDA."""

    name = "cut-cross-entropy"
    packages = ("cut-cross-entropy", "triton", "torch")
    impl = "cce"  # linear_cross_entropy's impl= argument

    def available(self) -> str | None:
        """``None`` when torch sees CUDA and cut_cross_entropy (with Triton) imports."""
        try:
            import torch
        except ImportError as exc:
            return f"not installed: pip install torch ({exc})"
        if os.environ.get("TRITON_INTERPRET") == "1":
            return ("CCE's Triton kernels do not run under TRITON_INTERPRET=1: tl_log1p "
                    "(tl_utils.py:17-19) calls triton.language.extra.libdevice.log1p, a stub "
                    "that Triton's interpreter does not replace (it returns None); the non-Triton "
                    "path is cut-cross-entropy.torch_compile")
        if not torch.cuda.is_available():
            return "needs CUDA: torch sees no GPU (CCE's Triton kernels run on CUDA)"
        try:
            import triton  # noqa: F401
            from cut_cross_entropy import linear_cross_entropy  # noqa: F401
        except ImportError as exc:
            return f"not installed: pip install cut-cross-entropy triton ({exc})"
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """``cuda`` when usable, else none."""
        return ("cuda",) if self.available() is None else ()

    def limits(self, call: Call) -> str | None:
        """What ``linear_cross_entropy`` (or the identity wrapper) cannot express."""
        if call.device != "cuda":
            return "CCE's Triton kernels run on CUDA only"
        if (reason := _signature_limits(call)) is not None:
            return reason
        if call.dtype == "float64":
            return ("no float64: the log-sum-exp and the loss are float32 (cce_lse_forward.py:168, "
                    "indexed_dot.py:101) and the backward takes bf16/fp16 (cce_backward.py:259)")
        if call.gradient and call.dtype == "float32":
            return "no float32 gradient: the backward asserts bf16/fp16 embeddings " \
                   "(cce_backward.py:259-262)"
        return None

    def torch_loss(self, x: Any, target: Any, weight: Any = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                   label_smoothing: float = 0.0) -> Any:
        """The loss of logits ``x`` (class axis 1, as torch) on torch tensors, differentiable
        in ``x``; ``Unsupported`` for a weight or label smoothing, which CCE has not. The
        composition check calls this."""
        if weight is not None or float(label_smoothing) != 0.0:
            raise Unsupported(NO_WEIGHT if weight is not None else NO_SMOOTHING)
        from cut_cross_entropy import linear_cross_entropy

        e = x if x.dim() == 2 else x.movedim(1, -1)  # (N, C, d...) -> (N, d..., C)
        classifier = self._torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        return linear_cross_entropy(e, classifier, target, ignore_index=int(ignore_index),
                                    reduction=reduction, impl=self.impl)


class CutCrossEntropyTorchCompileImplementation(CutCrossEntropyImplementation):
    """``cut-cross-entropy.torch_compile``: ``linear_cross_entropy(..., impl="torch_compile")``,
    CCE's non-Triton path (``torch_compile.py``): the rows whose target is not ignored, their
    logits ``e @ c.T`` and ``F.cross_entropy(logits.float(), ...)`` under
    ``torch.compile(fullgraph=True, dynamic=True)``; on the CPU, inductor's C++ (needs g++)."""

    name = "cut-cross-entropy.torch_compile"
    impl = "torch_compile"

    def available(self) -> str | None:
        """``None`` when torch and cut_cross_entropy import."""
        try:
            import torch  # noqa: F401
            from cut_cross_entropy import linear_cross_entropy  # noqa: F401
        except ImportError as exc:
            return f"not installed: pip install cut-cross-entropy ({exc})"
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where torch sees it."""
        if self.available() is not None:
            return ()
        return ("cpu", "cuda") if self._torch.cuda.is_available() else ("cpu",)

    def limits(self, call: Call) -> str | None:
        """A device torch does not see, then what ``linear_cross_entropy`` (or the identity
        wrapper) cannot express."""
        if call.device not in self.devices:
            return f"torch sees no {call.device} device"
        return _signature_limits(call)


def _signature_limits(call: Call) -> str | None:
    """What ``linear_cross_entropy``'s signature, or the identity classifier, cannot express
    (either ``impl``)."""
    if call.target_kind == "probabilities":
        return "class indices only (linear_cross_entropy.py:29-39: targets have e's shape[:-1])"
    if call.has_weight:
        return NO_WEIGHT
    if call.label_smoothing != 0.0:
        return NO_SMOOTHING
    if len(call.input_shape) < 2:
        return ("no unbatched input: cce.py:165 (torch_compile.py:53) flattens e with "
                "flatten(0, -2), which needs 2-D")
    if call.input_shape[1] > MAX_CLASSES:
        return f"C > {MAX_CLASSES}: the identity classifier would take C**2 elements"
    return None
