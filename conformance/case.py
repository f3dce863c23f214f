"""The in-memory form of one conformance case (what ``spec/*.yaml`` and the generators produce)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

from implementations.arguments import LossArguments
from implementations.base import Array, Call


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
    """One call of the loss: its arguments (``implementations.arguments.LossArguments``,
    passed on unopened to whatever calls an implementation) and what the case expects."""

    id: str
    arguments: LossArguments
    source: str = "edge case"
    tags: tuple[str, ...] = ()
    note: str = ""
    expect: Expect = field(default_factory=Expect)
    conventions: tuple[Convention, ...] = ()
    location: str = ""  # "spec/cross_entropy.yaml:12", for messages

    @classmethod
    def of(cls, id: str, *arguments: Any, schema: type[LossArguments] = LossArguments,
           **fields: Any) -> Self:
        """A case from its id, its arguments (positional, or by the name of a field of
        ``schema``) and the case's other fields by name."""
        names = {f.name for f in dataclasses.fields(schema)}
        named = {k: fields.pop(k) for k in list(fields) if k in names}
        return cls(id, schema(*arguments, **named), **fields)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``: fields of the case or of its arguments, by name."""
        names = {f.name for f in dataclasses.fields(self.arguments)}
        arguments = {k: changes.pop(k) for k in list(changes) if k in names}
        if arguments:
            changes["arguments"] = self.arguments.replace(**arguments)
        return dataclasses.replace(self, **changes)

    # the arguments, read through the case (``case.arguments`` is what is passed on)

    @property
    def input(self) -> Array:
        """The logits."""
        return self.arguments.input

    @property
    def target(self) -> Array:
        """Class indices, or probabilities of the input's shape."""
        return self.arguments.target

    @property
    def weight(self) -> Array | None:
        """Class weights, or ``None``."""
        return self.arguments.weight

    @property
    def ignore_index(self) -> int:
        """The class index whose rows count for nothing."""
        return self.arguments.ignore_index

    @property
    def reduction(self) -> str:
        """``none``, ``mean`` or ``sum``."""
        return self.arguments.reduction

    @property
    def label_smoothing(self) -> float:
        """torch's ``label_smoothing``."""
        return self.arguments.label_smoothing

    @property
    def invalid(self) -> bool:
        """Whether the case expects an error."""
        return self.expect.error is not None

    @property
    def target_kind(self) -> str:
        """``indices`` or ``probabilities`` by torch's shape rule."""
        return self.arguments.target_kind

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the contract's ``cross_entropy`` after ``input`` and
        ``target`` (``arguments.kwargs()`` has them all)."""
        return self.arguments.options()

    def call(self, dtype: str = "float64", device: str = "cpu", gradient: bool = False) -> Call:
        """The ``Call`` that ``supports`` decides on."""
        return self.arguments.call(dtype, device, gradient)

    def to_spec(self) -> dict[str, Any]:
        """The case in spec form (plain lists and numbers, as in ``spec/*.yaml``)."""
        spec: dict[str, Any] = {"id": self.id, "source": self.source, "tags": list(self.tags),
                                **self.arguments.to_spec()}
        if self.note:
            spec["note"] = self.note
        return spec
