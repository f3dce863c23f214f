"""The argument schema of one call of the loss: ``LossArguments``, declared once.

A call's arguments (the arrays and the options of ``cross_entropy``) are one frozen dataclass,
and the harness passes it on unopened: a case holds one (``conformance.case.Case.arguments``),
the runner and the isolated worker forward ``kwargs()`` to the implementation, a repro writes
every field that is not its default, and an adapter built on ``implementations.Adapter``
receives one (``implementations.adapter.Arguments`` is this schema plus ``dtype`` and
``device``). The contract's keyword signature (``cross_entropy(input, target, weight=None,
...)``) stays the same for third parties; it is unpacked once, in ``Adapter``.

What is generic here (``kwargs``, ``replace``, ``to_spec``'s options, ``from_spec``, a repro's
keywords) follows the dataclass's fields, so a field added to the schema (or to a subclass of
it) reaches the implementation with no further change to the harness; what torch's rules make
of an argument (``Call``, the reference, ``torch_rules``) is written per argument.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np

from implementations.base import DEFAULT_IGNORE_INDEX, Array, Call, Reduction, target_kind
from implementations.dtypes import round_to

__all__ = ["ARRAYS", "LossArguments"]

#: The schema's arrays: spec form writes them as nested lists, a repro as NumPy literals.
ARRAYS = ("input", "target", "weight")


@dataclass(frozen=True, eq=False)
class LossArguments:
    """The arguments of one call of the loss, as NumPy arrays and Python numbers (compared by
    identity, as arrays are: ``same`` compares values)."""

    input: Array
    target: Array
    weight: Array | None = None
    ignore_index: int = DEFAULT_IGNORE_INDEX
    reduction: Reduction = "mean"
    label_smoothing: float = 0.0

    def kwargs(self) -> dict[str, Any]:
        """Every field by name: the keyword arguments of the contract's ``cross_entropy`` and
        ``value_and_grad`` (``dtype`` and ``device`` apart, unless a subclass holds them)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def options(self) -> dict[str, Any]:
        """The fields after ``input`` and ``target``, by name (a repro's keywords)."""
        return {k: v for k, v in self.kwargs().items() if k not in ("input", "target")}

    def arrays(self) -> dict[str, Array | None]:
        """The fields that hold arrays (``weight`` also when ``None``), by name."""
        return {k: v for k, v in self.kwargs().items() if _is_array(k, v)}

    def scalars(self) -> dict[str, Any]:
        """The other fields: the options that are numbers or strings, by name."""
        return {k: v for k, v in self.kwargs().items() if not _is_array(k, v)}

    def defaults(self) -> dict[str, Any]:
        """The fields whose value is their declared default (``weight=None`` included)."""
        return {f.name: f.default for f in fields(self)
                if f.default is not dataclasses.MISSING and _same(getattr(self, f.name),
                                                                  f.default)}

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (field names; an unknown one raises ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    def call(self, dtype: str = "float64", device: str = "cpu", gradient: bool = False) -> Call:
        """The ``Call`` that ``supports`` decides on."""
        return Call.of(self.input, self.target, self.weight, self.ignore_index, self.reduction,
                       self.label_smoothing, dtype=dtype, device=device, gradient=gradient)

    @property
    def target_kind(self) -> str:
        """``indices`` or ``probabilities`` by torch's shape rule."""
        return target_kind(self.input, self.target)

    def rounded(self, dtype: str) -> Self:
        """The arguments as an implementation in ``dtype`` sees them: every array rounded to
        ``dtype`` (and back to float64) but a target of class indices."""
        return self.replace(**{name: round_to(value, dtype)
                               for name, value in self.kwargs().items() if _rounds(name, value)})

    def to_spec(self) -> dict[str, Any]:
        """Spec form (as in ``spec/*.yaml``): plain lists and numbers, defaults left out but
        ``reduction``, and ``target_dtype`` where the target's dtype is not the one its
        literal would get."""
        spec: dict[str, Any] = {"input": _plain(self.input),
                                "target": _plain(self.target, "target")}
        if self._unusual_target_dtype():
            spec["target_dtype"] = str(self.target.dtype)
        spec.update({name: _plain(value, name) for name, value in self.arrays().items()
                     if name not in spec and value is not None})
        return {**spec, **self.spec_options()}

    def spec_options(self) -> dict[str, Any]:
        """The spec form of the fields that are not arrays: ``reduction``, and the others
        that are not their default."""
        defaults = self.defaults()
        return {name: value for name, value in self.scalars().items()
                if name == "reduction" or name not in defaults}

    def _unusual_target_dtype(self) -> bool:
        kind, indices = self.target.dtype.kind, self.target_kind == "indices"
        return (kind == "f" and indices) or (kind in "iu" and not indices) or \
            self.target.dtype not in (np.dtype(np.int64), np.dtype(np.float64))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Arguments from spec form: arrays as nested lists or already built (the spec loader
        builds generator mappings itself, to name their line in errors), ``target_dtype``
        applied, absent fields at their defaults, other keys (``id``, ``tags``...) ignored."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in spec.items() if k in names}
        values["target"] = np.asarray(values["target"])
        if "target_dtype" in spec:  # cast only then: a large spec's target is not copied
            values["target"] = values["target"].astype(spec["target_dtype"])
        values["input"] = np.asarray(values["input"], dtype=np.float64)
        if values.get("weight") is not None:
            values["weight"] = np.asarray(values["weight"], dtype=np.float64)
        if "label_smoothing" in values:
            values["label_smoothing"] = float(values["label_smoothing"])
        return cls(**values)

    def same(self, other: LossArguments) -> bool:
        """Whether ``other`` has the same fields with equal values (arrays by shape, dtype and
        elements, NaN equal to NaN)."""
        mine, theirs = self.kwargs(), other.kwargs()
        return mine.keys() == theirs.keys() and all(_same(v, theirs[k]) for k, v in mine.items())


def _is_array(name: str, value: Any) -> bool:
    return name in ARRAYS or isinstance(value, np.ndarray)


def _rounds(name: str, value: Any) -> bool:
    """Whether ``rounded`` rounds the field ``name``: the input, a weight (any array), and a
    target of probabilities (floating)."""
    if name == "target":
        return bool(np.asarray(value).dtype.kind == "f")
    return name == "input" or isinstance(value, np.ndarray)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and \
            bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    return bool(a is b or a == b or (a != a and b != b))  # NaN equals NaN here


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
