"""torch.compile: ``torch.compile(F.cross_entropy, dynamic=True)``, and its backward, as users
write it around a loss; a column next to eager ``torch``.

A training loop holds its loss configuration fixed (dtype, device, weight or not,
``ignore_index``, ``reduction``, ``label_smoothing``, gradient or not, the ranks of its
arguments) while batch sizes vary, so a user compiles once with ``dynamic=True`` and dynamo
traces one graph with symbolic sizes, which inductor turns into C++ on the CPU (a compiler must
be on PATH) or Triton on CUDA; AOTAutograd compiles the backward with it.

The harness runs hundreds of configurations in one process, which one user's process never
does. Dynamo keeps its compiled graphs per code object and, once one has been recompiled
``recompile_limit`` (8) times, silently runs it eagerly from then on; a single shared
``torch.compile(F.cross_entropy)`` would therefore be mostly eager torch here. So each
configuration gets a function with a code object of its own (``_compiled``): as in a user's
process, it is compiled on its first call and reused for every shape dynamo's guards accept.
The configuration includes the sizes dynamo specializes even under ``dynamic=True`` (0 and 1;
its "0/1 specialization"), so that a code object is compiled once, never recompiled towards
the limit. Nothing global is changed.

Nothing is declared unsupported but what the device needs: the compiled function is torch's.
"""

from __future__ import annotations

import os
import shutil
import types
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from implementations import frameworks
from implementations._convert import canonical_device
from implementations.base import DEFAULT_IGNORE_INDEX, Call
from implementations.torch_native import TorchImplementation

__all__ = ["Configuration", "TorchCompile", "configuration"]


class Configuration(NamedTuple):
    """What a training loop holds fixed, which is what dynamo guards on under
    ``dynamic=True`` (a hashable cache key)."""

    layout: tuple[tuple[tuple[int | None, ...], str], ...]  # per tensor: sizes 0/1, dtype
    device: str
    weighted: bool
    gradient: bool
    ignore_index: int
    reduction: str
    smoothing: str  # repr(float(label_smoothing)): NaN equals itself as a key


class TorchCompile(TorchImplementation):
    """``torch.compile(F.cross_entropy, dynamic=True)`` on CPU (inductor's C++) and CUDA."""

    name = "torch.compile"

    def limits(self, call: Call) -> str | None:
        """On CPU, inductor needs a C++ compiler."""
        if canonical_device(call.device) == "cpu" and not cpp_compiler():
            return "inductor's CPU backend needs a C++ compiler (g++ or $CXX) on PATH"
        return None

    def torch_loss(self, x: Any, target: Any, weight: Any = None,
                   ignore_index: int = DEFAULT_IGNORE_INDEX, reduction: str = "mean",
                   label_smoothing: float = 0.0) -> Any:
        """The compiled loss on torch tensors, differentiable in ``x`` (the composition check
        of ``tests/test_fused_plugins.py`` calls this)."""
        key = configuration(x, target, weight, ignore_index, reduction, label_smoothing)
        return _compiled(key)(x, target, weight)


def configuration(x: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                  label_smoothing: float) -> Configuration:
    """The call's ``Configuration``: ranks (with the sizes 0 and 1 that dynamo specializes),
    dtypes, device, whether there is a weight and a gradient, and the scalar arguments."""
    tensors = (x, target) if weight is None else (x, target, weight)
    layout = tuple((_specialized(t.shape), str(t.dtype)) for t in tensors)
    return Configuration(layout, str(x.device), weight is not None, bool(x.requires_grad),
                         int(ignore_index), reduction, repr(float(label_smoothing)))


def _specialized(shape: tuple[int, ...]) -> tuple[int | None, ...]:
    """A shape as dynamo sees it under ``dynamic=True``: 0 and 1 kept, other sizes symbolic."""
    return tuple(size if size in (0, 1) else None for size in shape)


def _cross_entropy(ignore_index: int, reduction: str,
                   label_smoothing: float) -> Callable[[Any, Any, Any], Any]:
    """``F.cross_entropy`` with the configuration's scalars bound, as a loop's call has them."""
    functional = frameworks.torch().nn.functional

    def cross_entropy(x: Any, target: Any, weight: Any) -> Any:
        return functional.cross_entropy(x, target, weight=weight, ignore_index=ignore_index,
                                        reduction=reduction, label_smoothing=label_smoothing)

    return cross_entropy


@lru_cache(maxsize=4096)
def _compiled(key: Configuration) -> Any:
    """``torch.compile(..., dynamic=True)`` of ``F.cross_entropy`` for one configuration, given
    a code object of its own (closures share one, and with it dynamo's cache and its limit)."""
    closure = _cross_entropy(key.ignore_index, key.reduction, float(key.smoothing))
    name = f"cross_entropy_{_compiled.cache_info().currsize}"
    function = types.FunctionType(closure.__code__.replace(co_name=name), closure.__globals__,
                                  name, closure.__defaults__, closure.__closure__)
    return frameworks.torch().compile(function, dynamic=True)


def cpp_compiler() -> str | None:
    """The C++ compiler inductor would find (``$CXX``, else ``g++``/``c++``), if any."""
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
