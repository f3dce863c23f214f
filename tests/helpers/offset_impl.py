"""An implementation of a loss with one argument more than cross-entropy's: ``offset``, a number
added to every element of the loss (``tests/test_arguments.py`` adds it to the schema with
``dataclasses.make_dataclass`` to see which files a new argument needs). ``offset`` is
keyword-only and has no default: a harness that drops it makes the call raise ``TypeError``, one
that changes it makes the value check diverge. Loaded as ``tests.helpers.offset_impl:Offset``
(in a worker) or made directly (in-process, where ``received`` records every call)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from implementations import reference as ref


class Offset:
    """``offset``: the reference's loss plus ``offset``; its gradient is the reference's."""

    name = "offset"
    dtypes = ("float64",)
    #: the keyword arguments of every in-process call, in order
    received: ClassVar[list[dict[str, Any]]] = []

    def cross_entropy(self, input: Any, target: Any, *, offset: float, dtype: str = "float64",
                      device: str = "cpu", **options: Any) -> np.ndarray:
        """The reference's loss plus ``offset``."""
        self.received.append({"offset": offset, **options, "dtype": dtype, "device": device})
        return np.asarray(ref.cross_entropy(input, target, **options)) + offset

    def value_and_grad(self, input: Any, target: Any, *, offset: float, dtype: str = "float64",
                       device: str = "cpu", **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """The reference's loss plus ``offset``, and the reference's gradient."""
        self.received.append({"offset": offset, **options, "dtype": dtype, "device": device})
        loss, grad = ref.value_and_grad(input, target, **options)
        return np.asarray(loss) + offset, grad
