"""The cause signature of a finding: ``check / verdict / outcome / features``.

A generated finding's case id changes whenever the strategies or the shrinker do, so what names
a *cause* is what went wrong and on what kind of input::

    property:differential / diverges / value / indices,ignore-index,reduction-mean

* ``check``, ``verdict`` and ``outcome`` come from the record;
* the features are the record's matrix features that describe the call (target kind, weight,
  ignore_index, smoothing, reduction, layout, emptiness, gradients), without the incidental ones
  (the dtype, which the record's key already holds and which does not split a cause, and the
  derived ``smoothing+weight+ignore-index``), then the *value traits* of its case: non-finite,
  large or subnormal logits, subnormal probabilities, zero or negative weights
  (``value_traits``).

A shrunk example keeps only what the failure needs, so its features are the cause's. An
unshrunk example carries incidental ones too, so a known cause *covers* an example (``covers``)
when check, verdict and outcome agree and the example has every feature of the cause beyond the
shrinker's defaults (class indices, ``reduction="mean"``): the search for further causes
(``conformance.properties``) skips those, and expectations select by the signature string.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from conformance.severity import Judged
from conformance.vocabulary import FAULT_VERDICTS, FEATURES, Verdict


class Described(Judged, Protocol):
    """What a cause is read from: a judged record's fields and its features and case (a
    protocol, so that this module needs not import the records it describes)."""

    @property
    def features(self) -> list[str]: ...
    @property
    def case_spec(self) -> dict[str, Any] | None: ...

__all__ = ["DEFAULTS", "SEPARATOR", "TRAITS", "Cause", "cause_of", "parse",
           "signature_of", "spec_traits", "value_traits"]

SEPARATOR = " / "
#: Features the shrinker goes to when they do not matter: a cause that shows them does not
#: restrict the examples it covers to them.
DEFAULTS = frozenset({"indices", "reduction-mean"})
INCIDENTAL = frozenset({"smoothing+weight+ignore-index"})
LARGE = 1e3  # a logit this far from zero is a large offset or a huge gap
TINY = float(np.finfo(np.float32).tiny)  # below this a nonzero logit is subnormal in float32
#: Value traits, in signature order.
TRAITS = ("logits-nan", "logits-inf", "logits-neg-inf", "logits-large", "logits-subnormal",
          "target-subnormal", "weight-zero", "weight-negative")
_FINDINGS = (Verdict.DIVERGES, *FAULT_VERDICTS)


@dataclass(frozen=True)
class Cause:
    """A finding's signature, parsed."""

    check: str
    verdict: str
    outcome: str
    features: tuple[str, ...]

    def __str__(self) -> str:
        return SEPARATOR.join((self.check, self.verdict, self.outcome, ",".join(self.features)))

    def covers(self, other: Cause) -> bool:
        """Whether ``other`` (an example's cause) is this cause again: the same check, verdict
        and outcome, and every feature of this one beyond ``DEFAULTS``."""
        head = (self.check, self.verdict, self.outcome)
        wanted = set(self.features) - DEFAULTS
        return head == (other.check, other.verdict, other.outcome) and \
            wanted <= set(other.features)


def cause_of(record: Described) -> Cause | None:
    """The cause of a finding (a diverging, crashed or timed-out record), else ``None``."""
    if record.verdict not in _FINDINGS:
        return None
    kept = [f for f in FEATURES if f in record.features and f not in INCIDENTAL
            and not f.startswith("dtype-")]
    traits = spec_traits(record.case_spec) if record.case_spec else []
    return Cause(record.check, str(record.verdict), str(record.outcome or "value"),
                 (*kept, *traits))


def signature_of(record: Described) -> str | None:
    """``check / verdict / outcome / features`` of a finding, else ``None``."""
    cause = cause_of(record)
    return None if cause is None else str(cause)


def value_traits(input: Any, weight: Any = None, target: Any = None) -> list[str]:
    """The hostile values among the logits, weights and (probability) targets, in ``TRAITS``
    order."""
    x = np.asarray(input, dtype=np.float64).reshape(-1)
    finite = np.abs(x[np.isfinite(x)])
    found = {
        "logits-nan": bool(np.isnan(x).any()),
        "logits-inf": bool(np.isposinf(x).any()),
        "logits-neg-inf": bool(np.isneginf(x).any()),
        "logits-large": bool(finite.size and finite.max() >= LARGE),
        "logits-subnormal": bool(((finite > 0) & (finite < TINY)).any()),
    }
    if target is not None:
        t = np.abs(np.asarray(target, dtype=np.float64).reshape(-1))
        found["target-subnormal"] = bool(((t > 0) & (t < TINY)).any())
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64).reshape(-1)
        found["weight-zero"] = bool((w == 0).any())
        found["weight-negative"] = bool((w < 0).any())
    return [t for t in TRAITS if found.get(t)]


def spec_traits(case_spec: dict[str, Any]) -> list[str]:
    """``value_traits`` of a case in spec form (as a record keeps it, in memory or read back
    from ``results.json``, where non-finite numbers are strings)."""
    weight = case_spec.get("weight")
    return value_traits(_numbers(case_spec.get("input", [])),
                        None if weight is None else _numbers(weight),
                        _numbers(case_spec.get("target", [])))


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):  # an empty array's generator mapping
        return []
    return [_number(v) for v in _leaves(value)]


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _number(value: Any) -> float:
    if isinstance(value, str):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(value, 0.0)
    return float(value)


def parse(signature: str) -> Sequence[str]:
    """The four parts of a signature (or of a signature pattern)."""
    return signature.split(SEPARATOR)
