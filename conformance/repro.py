"""Standalone reproduction snippets: code a user can paste to see a result for themselves.

A snippet rebuilds the case's arrays exactly (shapes, dtypes: an empty ``(0, C, d)`` input stays
``(0, C, d)``, targets keep int64/uint8/int32), runs the implementation through the contract
(loaded as the run loaded it: ``load_as``, e.g. a plugin's ``module:attr``), then, where the
registry knows the framework's own call (``registry.Native``), that call in plain framework
code, and torch's own call. Every value is printed on its own line, ``<label>: <value>`` (or
``<label>: raises <error>``), so that a call that raises does not hide the others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conformance.case import Case
from conformance.spec import LARGE_SPEC_NAME
from implementations import registry
from implementations.base import DEFAULT_IGNORE_INDEX, Array, host_device

# Printing each value through ``show`` keeps the snippet running past a call that raises.
SHOW = '''def show(label, compute):
    try:
        print(f"{label}:", compute())
    except Exception as exc:  # what the call raises is the finding
        print(f"{label}: raises {type(exc).__name__}: {exc}")'''


def literal(array: Array | None) -> str:
    """A NumPy expression that rebuilds ``array`` exactly: its values (float64 printed with
    repr), its dtype and its shape (an empty array is ``np.zeros(shape)``)."""
    if array is None:
        return "None"
    a = np.asarray(array)
    if a.size == 0:
        return f"np.zeros({a.shape!r}, dtype=np.{a.dtype})"
    body = repr(a.tolist()).replace("nan", "np.nan").replace("inf", "np.inf")
    return f"np.array({body}, dtype=np.{a.dtype})"


LITERAL_LIMIT = 256  # larger spec arrays are loaded from the spec by case id


def data_lines(case: Case) -> list[str]:
    """Lines that define ``input``, ``target`` and ``weight``: literals, or the spec case for
    large ones."""
    recipe = dict(getattr(case, "recipe", ()))  # a generated case at LLM scale
    if case.input.size > LITERAL_LIMIT and recipe:
        return ["from conformance.strategies import seeded_case",
                f"case = seeded_case({recipe!r}, {case.reduction!r}, "
                f"{case.label_smoothing!r})",
                "input, target, weight = case.input, case.target, case.weight"]
    if case.input.size > LITERAL_LIMIT and case.location:
        large = Path(case.location.rpartition(":")[0]).name == LARGE_SPEC_NAME
        source = "load_spec(large_spec_path())" if large else "load_spec()"
        return [f"from conformance.spec import {'large_spec_path, ' if large else ''}load_spec",
                f"case = {{c.id: c for c in {source}}}[{case.id!r}]  # {case.location}",
                "input, target, weight = case.input, case.target, case.weight"]
    return [f"{name} = {literal(array)}" for name, array in case.arguments.arrays().items()]


def arguments(case: Case) -> str:
    """The keyword arguments of the call after ``input`` and ``target``, leaving out
    defaults: an array by its name (``data_lines`` defines it), any other value literally."""
    args = case.arguments
    arrays, defaults = args.arrays(), args.defaults()
    parts = [f"{name}={name}" if name in arrays else f"{name}={_number(value)!r}"
             for name, value in args.options().items() if name not in defaults]
    return "".join(f", {p}" for p in parts)


def _number(value: object) -> object:
    """A NumPy scalar as the Python number it holds (its repr is ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value


def snippet(impl: str, case: Case, dtype: str = "float64", device: str = "cpu",
            check: str = "value", load_as: str | None = None) -> str:
    """Python that runs ``case`` on ``impl`` through the contract (``implementations.load``
    of ``load_as``, the name or ``module:attr`` the run loaded, else ``impl``), then the
    framework's own call where the registry has one (not for a gradient check), then torch's
    own call, each value printed next to the others."""
    gradient = check == "gradient"
    call = "value_and_grad" if gradient else "cross_entropy"
    options = f", dtype={dtype!r}" + (f", device={device!r}" if device != "cpu" else "")
    plain = [] if gradient else _native_lines(impl, case, dtype)
    return "\n".join([
        "import numpy as np",
        "import implementations",
        SHOW,
        *data_lines(case),
        f"impl = implementations.load({(load_as or impl)!r})",
        f"show({impl!r}, lambda: impl.{call}(input, target{arguments(case)}{options}))",
        *plain,
        *_torch_lines(case, dtype, device, gradient),
    ])


# --- plain-framework calls -----------------------------------------------------------------
# What a user would write without this project: torch's own call, and for the native adapters
# the framework's own loss (the registry's ``Native`` rows). Weights have no native spelling
# but keras.class-weight's (fit's per-sample weights); a snippet never invents one.


def torch_call(case: Case, dtype: str = "float64", device: str = "cpu",
               input: str | None = None) -> str:
    """``torch.nn.functional.cross_entropy`` on the case, as plain torch code (``input``: the
    expression of the input tensor, default one made from the NumPy ``input``; on ``device``'s
    host, ``implementations.base.host_device``)."""
    device = host_device(device)
    to = f"dtype=torch.{dtype}" + (f", device={device!r}" if device != "cpu" else "")
    device_only = f", device={device!r}" if device != "cpu" else ""
    target = "torch.tensor(target" + (f", {to})" if case.target.dtype.kind == "f"
                                      else f"{device_only})")
    rest = ""
    if case.weight is not None:
        rest += f", weight=torch.tensor(weight, {to})"
    if case.ignore_index != DEFAULT_IGNORE_INDEX:
        rest += f", ignore_index={case.ignore_index}"
    if case.reduction != "mean":
        rest += f", reduction={case.reduction!r}"
    if case.label_smoothing != 0.0:
        rest += f", label_smoothing={case.label_smoothing!r}"
    x = input or f"torch.tensor(input, {to})"
    return f"torch.nn.functional.cross_entropy({x}, {target}{rest})"


def _torch_lines(case: Case, dtype: str, device: str, gradient: bool) -> list[str]:
    device = host_device(device)
    if not gradient:
        return ["import torch", f"show('torch', lambda: {torch_call(case, dtype, device)}"
                ".detach().cpu().double().numpy())"]
    to = f"dtype=torch.{dtype}" + (f", device={device!r}" if device != "cpu" else "")
    return [
        "import torch",
        "def torch_value_and_grad():",
        f"    x = torch.tensor(input, {to}, requires_grad=True)",
        f"    loss = {torch_call(case, dtype, device, input='x')}",
        "    loss.sum().backward()",
        "    return loss.detach().cpu().double().numpy(), x.grad.cpu().double().numpy()",
        "show('torch', torch_value_and_grad)",
    ]


def _class_weight(case: Case) -> str:
    """``Model.fit``'s per-sample weights from class weights (``class_weight.get(y, 1.0)``,
    the argmax class for probabilities), as a NumPy expression of ``target`` and ``weight``."""
    labels = "np.argmax(target, axis=-1)" if case.target_kind == "probabilities" else "target"
    return (f"np.array([dict(enumerate(weight)).get(int(c), 1.0) for c in {labels}], "
            "dtype=weight.dtype)")


def native_call(impl: str, case: Case, dtype: str = "float64") -> str | None:
    """The framework's own loss for a built-in with a ``Native`` row in the registry, else None
    (no row, or the case uses weights that the call has no spelling for)."""
    native = registry.native(impl)
    if native is None or (case.weight is not None and native.sample_weight is None):
        return None
    call = case.call()
    probabilities = call.target_kind == "probabilities"
    moved = native.class_last and case.input.ndim > 2
    x = "np.moveaxis(input, 1, -1)" if moved else "input"
    if dtype in ("float16", "float32"):
        x = f"{x}.astype(np.{dtype})"
    target = "np.moveaxis(target, 1, -1)" if probabilities and moved else "target"
    eps = call.smoothing
    if probabilities and eps and not native.smooths:
        target = f"{target} * {1 - eps!r} + {eps!r} / {call.n_classes}"
    ignore = (native.ignore.format(i=case.ignore_index)
              if call.uses_ignore_index and not probabilities else "")
    weight = "" if case.weight is None or native.sample_weight is None else \
        native.sample_weight.format(w=_class_weight(case))
    template = native.probabilities if probabilities else native.indices
    line = template.format(x=f"{native.array}({x})", y=f"{native.array}({target})", e=eps,
                           a=call.class_axis, i=ignore, w=weight, d=repr(dtype),
                           r=repr(dict(native.reductions).get(case.reduction, case.reduction)))
    if case.reduction != "none" and not native.reductions:
        line = (native.sum if case.reduction == "sum" else native.mean).format(v=line)
    return line


def _native_lines(impl: str, case: Case, dtype: str = "float64") -> list[str]:
    native, call = registry.native(impl), native_call(impl, case, dtype)
    if native is None or call is None:
        return []
    return [native.imports, f"# the same call in plain {impl}:",
            f"show({impl + ' (plain)'!r}, lambda: {call})"]


def framework_snippet(impl: str, case: Case, dtype: str = "float64",
                      device: str = "cpu") -> str:
    """Plain code: the framework's own call (where it has one) next to torch's call."""
    return "\n".join([
        "import numpy as np",
        SHOW,
        *data_lines(case),
        *_native_lines(impl, case, dtype),
        *_torch_lines(case, dtype, device, gradient=False),
    ])
