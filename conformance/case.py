"""The in-memory form of one conformance case (what ``spec/*.yaml`` and the generators produce)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from implementations.base import DEFAULT_IGNORE_INDEX, Array, Call, target_kind


@dataclass(frozen=True)
class Expect:
    """What a case expects beyond agreeing with the reference.

    ``value``: the loss as a source quotes it; ``decimals``: the precision it is quoted at (the
    value must round to it), or ``None`` to compare with the tolerance model.
    ``error``: the kind of invalid input; every conforming implementation must raise.
    ``gradient_error``: torch's forward accepts the call but its backward raises (this kind of
    problem); a conforming ``value_and_grad`` raises too.
    """

    value: Array | None = None
    decimals: int | None = None
    error: str | None = None
    gradient_error: str | None = None


#: What an implementation did, as a convention names it: raised, returned a value (any),
#: returned NaN/inf, or returned a finite number (the last two for invalid input only).
CONVENTION_OUTCOMES = ("raises", "value", "nan", "silent")


@dataclass(frozen=True)
class Convention:
    """A named alternative to torch's outcome at an edge of one case (``conventions`` in the
    spec): an implementation whose ``checks`` outcome is this one *follows* the convention.

    Exactly one of ``value`` (the loss it returns: exact, NaN and the sign of zero included,
    or rounded to ``decimals`` as a source would quote it) and ``outcome`` (one of
    ``CONVENTION_OUTCOMES``) is set. ``note`` is the convention's one documentation, from the
    spec's top-level ``conventions`` glossary.
    """

    name: str
    checks: tuple[str, ...]
    note: str = ""
    value: Array | None = None
    decimals: int | None = None
    outcome: str | None = None


@dataclass(frozen=True, eq=False)
class Case:
    """One call of the loss with its arguments as NumPy arrays."""

    id: str
    input: Array
    target: Array
    weight: Array | None = None
    ignore_index: int = DEFAULT_IGNORE_INDEX
    reduction: str = "mean"
    label_smoothing: float = 0.0
    source: str = "edge case"
    tags: tuple[str, ...] = ()
    note: str = ""
    expect: Expect = field(default_factory=Expect)
    conventions: tuple[Convention, ...] = ()
    location: str = ""  # "spec/cross_entropy.yaml:12", for messages

    @property
    def invalid(self) -> bool:
        """Whether the case expects an error."""
        return self.expect.error is not None

    @property
    def target_kind(self) -> str:
        """``indices`` or ``probabilities`` by torch's shape rule."""
        return target_kind(self.input, self.target)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the contract's ``cross_entropy``."""
        return {
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "reduction": self.reduction,
            "label_smoothing": self.label_smoothing,
        }

    def call(self, dtype: str = "float64", device: str = "cpu", gradient: bool = False) -> Call:
        """The ``Call`` that ``supports`` decides on."""
        return Call.of(self.input, self.target, **self.kwargs(), dtype=dtype, device=device,
                       gradient=gradient)

    def to_spec(self) -> dict[str, Any]:
        """The case in spec form (plain lists and numbers, as in ``spec/*.yaml``)."""
        spec: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "tags": list(self.tags),
            "input": _plain(self.input),
            "target": _plain(self.target, "target"),
        }
        if (self.target.dtype.kind == "f" and self.target_kind == "indices") or (
            self.target.dtype.kind in "iu" and self.target_kind == "probabilities"
        ) or self.target.dtype not in (np.dtype(np.int64), np.dtype(np.float64)):
            spec["target_dtype"] = str(self.target.dtype)
        if self.weight is not None:
            spec["weight"] = _plain(self.weight, "weight")
        if self.ignore_index != DEFAULT_IGNORE_INDEX:
            spec["ignore_index"] = self.ignore_index
        spec["reduction"] = self.reduction
        if self.label_smoothing != 0.0:
            spec["label_smoothing"] = self.label_smoothing
        if self.note:
            spec["note"] = self.note
        return spec


def _plain(array: Array, role: str = "input") -> Any:
    """A nested list of Python numbers; non-finite floats stay floats (YAML writes .nan, .inf).

    An empty array is written as the spec's generator mapping for its ``role`` (``input``,
    ``target`` or ``weight``): a nested list cannot say the shape of an empty array (``(0, 3)``
    is ``[]``). Class indices get ``classes``, probabilities ``probabilities``, weights
    ``low``/``high``."""
    array = np.asarray(array)
    if array.size == 0:
        shape = list(array.shape)
        if array.dtype.kind in "iub":
            return {"shape": shape, "seed": 0, "classes": 1}
        if role == "target":
            return {"probabilities": shape, "seed": 0}
        if role == "weight":
            return {"shape": shape, "seed": 0, "low": 1.0, "high": 1.0}
        return {"shape": shape, "seed": 0}
    return array.tolist()
