"""The contract's two entry points, written once for the built-in adapters.

A built-in adapter subclasses ``Adapter`` (third parties need not: the contract is a
``Protocol``) and writes only what is its own:

* ``evaluate(args, call)``: the loss, and with ``call.gradient`` the gradient of its sum, as
  NumPy arrays;
* ``limits(call)``: why its API cannot express a call, or ``None`` (default: it can);
* ``framework``: the framework it runs on, by the name ``implementations.frameworks`` knows,
  which answers ``devices`` (``cpu``, and ``cuda`` where the framework sees a GPU) and
  ``gpu_names()``.

``cross_entropy`` and ``value_and_grad`` describe the call (``Call``), raise ``Unsupported``
with the reason when ``supports`` rejects it (an argument is never dropped), then evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass

from implementations import frameworks
from implementations._convert import canonical_device
from implementations._dtypes import cast_floating
from implementations.base import (
    ALL_DTYPES,
    DEFAULT_IGNORE_INDEX,
    Array,
    Call,
    DType,
    Reduction,
    require_supported,
)

Result = tuple[Array, Array | None]


@dataclass(frozen=True)
class Arguments:
    """The arguments of one call, as the contract passes them."""

    input: Array
    target: Array
    weight: Array | None
    ignore_index: int
    reduction: Reduction
    label_smoothing: float
    dtype: str
    device: str

    def call(self, gradient: bool) -> Call:
        """The ``Call`` that ``supports`` decides on."""
        return Call.of(self.input, self.target, self.weight, self.ignore_index, self.reduction,
                       self.label_smoothing, dtype=self.dtype, device=self.device,
                       gradient=gradient)

    def cast(self) -> tuple[Array, Array, Array | None]:
        """Input, target and weight with their floating arrays cast to ``dtype`` (class
        indices keep their integer type)."""
        weight = None if self.weight is None else cast_floating(self.weight, self.dtype)
        return cast_floating(self.input, self.dtype), cast_floating(self.target, self.dtype), \
            weight


class Adapter:
    """Base of the built-in adapters (see the module docstring)."""

    name: str
    framework: str
    dtypes: tuple[DType, ...] = ALL_DTYPES

    @property
    def devices(self) -> tuple[str, ...]:
        """``cpu``, and ``cuda`` where the framework sees a GPU (``gpu`` is accepted too)."""
        return ("cpu", "cuda") if frameworks.gpu_count(self.framework) else ("cpu",)

    def gpu_names(self) -> list[str]:
        """The GPUs the framework sees, for provenance."""
        return frameworks.gpu_names(self.framework)

    def limits(self, call: Call) -> str | None:
        """Why the API cannot express ``call`` (default: it can)."""
        return None

    def supports(self, call: Call) -> str | None:
        """``limits``, then the devices the framework can see."""
        if (reason := self.limits(call)) is not None:
            return reason
        if canonical_device(call.device) not in self.devices:
            return f"{self.framework} sees no {call.device} device"
        return None

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """The loss and, with ``call.gradient``, d loss.sum() / d input."""
        raise NotImplementedError

    def _checked(self, args: Arguments, gradient: bool) -> Result:
        call = args.call(gradient)
        require_supported(self, call)
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
