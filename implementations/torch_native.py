"""torch: ``torch.nn.functional.cross_entropy``, the semantics every other backend is held to."""

from __future__ import annotations

from typing import Any

from implementations import frameworks
from implementations.adapter import TorchLossAdapter


class TorchImplementation(TorchLossAdapter):
    """``F.cross_entropy`` on CPU or CUDA, in every floating dtype torch has."""

    name = "torch"

    def __init__(self) -> None:
        frameworks.torch()  # loading it raises NotInstalledError when torch is missing

    def versions(self) -> dict[str, str]:
        """torch's version (and CUDA's when present)."""
        versions = {"torch": str(self._torch.__version__)}
        if self._torch.version.cuda:
            versions["cuda"] = str(self._torch.version.cuda)
        return versions

    def torch_loss(self, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                   label_smoothing: float) -> Any:
        """The loss on torch tensors, differentiable in ``x``: ``F.cross_entropy`` (a variant
        that runs it another way, ``torch.compile``, overrides only this)."""
        return self._torch.nn.functional.cross_entropy(
            x, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
            label_smoothing=label_smoothing)
