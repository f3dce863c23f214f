"""Standalone reproduction snippets: code a user can paste to see a result for themselves."""

from __future__ import annotations

import numpy as np

from conformance.case import Case
from implementations import registry
from implementations.base import DEFAULT_IGNORE_INDEX, Array


def literal(array: Array | None) -> str:
    """A NumPy expression that rebuilds ``array`` exactly (float64 printed with repr)."""
    if array is None:
        return "None"
    a = np.asarray(array)
    body = repr(a.tolist()).replace("nan", "np.nan").replace("inf", "np.inf")
    return f"np.array({body}, dtype=np.{a.dtype})"


LITERAL_LIMIT = 256  # larger spec arrays are loaded from the spec by case id


def data_lines(case: Case) -> list[str]:
    """Lines that define ``input`` and ``target``: literals, or the spec case for large ones."""
    if case.input.size > LITERAL_LIMIT and case.location:
        return ["from conformance.spec import load_spec",
                f"case = {{c.id: c for c in load_spec()}}[{case.id!r}]  # {case.location}",
                "input, target = case.input, case.target"]
    return [f"input = {literal(case.input)}", f"target = {literal(case.target)}"]


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
    """Python that runs ``case`` on ``impl`` and on the reference through the contract, then
    (for a value check) the framework's own call and torch's, in plain code."""
    call = "value_and_grad" if check == "gradient" else "cross_entropy"
    options = f", dtype={dtype!r}" + (f", device={device!r}" if device != "cpu" else "")
    plain = [*_native_lines(impl, case), "# torch:", f"print({torch_call(case, dtype, device)})"] \
        if check != "gradient" and impl != "reference" else []
    lines = [
        "import numpy as np",
        "import implementations",
        *data_lines(case),
        f"impl = implementations.load({impl!r})",
        f"print(impl.{call}(input, target{arguments(case)}{options}))",
        "reference = implementations.load('reference')",
        f"print(reference.{call}(input, target{arguments(case)}))",
    ]
    if plain:
        lines += ["import torch", *plain]
    return "\n".join(lines)


# --- plain-framework calls -----------------------------------------------------------------
# What a user would write without this project: torch's own call, and for the native adapters
# the framework's own loss on class-last logits (the registry's ``Native`` rows). Weights and
# ignore_index have no native spelling there; the snippet says so rather than inventing one.


def torch_call(case: Case, dtype: str = "float64", device: str = "cpu") -> str:
    """``torch.nn.functional.cross_entropy`` on the case, as plain torch code."""
    to = f"dtype=torch.{dtype}" + (f", device={device!r}" if device != "cpu" else "")
    target = "torch.tensor(target" + (f", {to})" if case.target.dtype.kind == "f" else ")")
    rest = ""
    if case.weight is not None:
        rest += f", weight=torch.tensor({literal(case.weight)}, {to})"
    if case.ignore_index != DEFAULT_IGNORE_INDEX:
        rest += f", ignore_index={case.ignore_index}"
    if case.reduction != "mean":
        rest += f", reduction={case.reduction!r}"
    if case.label_smoothing != 0.0:
        rest += f", label_smoothing={case.label_smoothing!r}"
    return (f"torch.nn.functional.cross_entropy(torch.tensor(input, {to}), {target}"
            f"{rest})")


def native_call(impl: str, case: Case) -> str | None:
    """The framework's own loss for a built-in with a ``Native`` row in the registry, else None."""
    native = registry.native(impl)
    if native is None:
        return None
    class_last = "np.moveaxis(input, 1, -1)" if case.input.ndim > 2 else "input"
    call = case.call()
    probabilities = call.target_kind == "probabilities"
    target = "np.moveaxis(target, 1, -1)" if probabilities and case.input.ndim > 2 else "target"
    eps = call.smoothing
    if probabilities and eps and not native.smooths:
        target = f"{target} * {1 - eps!r} + {eps!r} / {call.n_classes}"
    template = native.probabilities if probabilities else native.indices
    line = template.format(x=f"{native.array}({class_last})", y=f"{native.array}({target})",
                           e=eps)
    if case.reduction != "none":
        line = (native.sum if case.reduction == "sum" else native.mean).format(v=line)
    return line


def _native_lines(impl: str, case: Case) -> list[str]:
    native, call = registry.native(impl), native_call(impl, case)
    if native is None or call is None:
        return []
    return [native.imports, f"# the same call in plain {impl}:", f"print({call})"]


def framework_snippet(impl: str, case: Case, dtype: str = "float64",
                      device: str = "cpu") -> str:
    """Plain code: the framework's own call (where it has one) next to torch's call."""
    return "\n".join([
        "import numpy as np",
        "import torch",
        *data_lines(case),
        *_native_lines(impl, case),
        "# torch:",
        f"print({torch_call(case, dtype, device)})",
    ])
