"""Standalone reproduction snippets: code a user can paste to see a result for themselves."""

from __future__ import annotations

import numpy as np

from conformance.case import Case
from implementations.base import DEFAULT_IGNORE_INDEX, Array


def literal(array: Array | None) -> str:
    """A NumPy expression that rebuilds ``array`` exactly (float64 printed with repr)."""
    if array is None:
        return "None"
    a = np.asarray(array)
    body = repr(a.tolist()).replace("nan", "np.nan").replace("inf", "np.inf")
    return f"np.array({body}, dtype=np.{a.dtype})"


def arguments(case: Case) -> str:
    """The keyword arguments of the call, leaving out defaults."""
    parts = []
    if case.weight is not None:
        parts.append(f"weight={literal(case.weight)}")
    if case.ignore_index != DEFAULT_IGNORE_INDEX:
        parts.append(f"ignore_index={case.ignore_index}")
    if case.reduction != "mean":
        parts.append(f"reduction={case.reduction!r}")
    if case.label_smoothing != 0.0:
        parts.append(f"label_smoothing={case.label_smoothing!r}")
    return "".join(f", {p}" for p in parts)


def snippet(impl: str, case: Case, dtype: str = "float64", device: str = "cpu",
            check: str = "value") -> str:
    """Python that runs ``case`` on ``impl`` and on the reference through the contract."""
    call = "value_and_grad" if check == "gradient" else "cross_entropy"
    options = f", dtype={dtype!r}" + (f", device={device!r}" if device != "cpu" else "")
    return "\n".join([
        "import numpy as np",
        "import implementations",
        f"input = {literal(case.input)}",
        f"target = {literal(case.target)}",
        f"impl = implementations.load({impl!r})",
        f"print(impl.{call}(input, target{arguments(case)}{options}))",
        "reference = implementations.load('reference')",
        f"print(reference.{call}(input, target{arguments(case)}))",
    ])
