"""The one table of backends: every built-in implementation, and the example plugins that nox
installs and gates (``PLUGINS``: onnxruntime, broken), once.

Not rows: the fused-kernel examples (``examples/liger-kernel-plugin``,
``examples/cut-cross-entropy-plugin``) need CUDA, so no CPU session installs them
(``tests/test_fused_plugins.py`` loads them by ``module:attribute``), and
``examples/torch-compile-plugin`` is the entry-point form of the built-in ``torch.compile`` row.

Everything that lists backends reads it: ``implementations.load`` and ``known_names``, nox (one
session per group), ``.ci/run`` and the GitHub workflow (through this module's command line),
the tests (which framework modules to skip on), and the reproduction snippets (how a user calls
a framework's own loss). Adding a built-in backend is one adapter module, one ``Backend`` row
here, and its expectations file ``expectations/<name>.yaml``.

A row with ``default=False`` (``torch.compile``: inductor compiles each configuration in
seconds on the CPU) is left out of the main job, ``names()``: ``ce-conformance run`` without
``--impl`` and ``.ci/run``'s gates. Everything else keeps it (``builtin_names()``): it loads by
name, runs in its nox group's ``backend`` session (so the published matrix has it) and has a
``gate`` session (a workflow job) of its own.

This module imports nothing but the standard library, so that nox and CI can read it without
installing the project::

    python implementations/registry.py names          # the main job's built-in names, one a line
    python implementations/registry.py github-matrix  # session=[...] and impl=[...] (JSON),
                                                      # lines for $GITHUB_OUTPUT
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Native:
    """How a user calls the framework's own loss, for reproduction snippets
    (``conformance.repro``). In the calls ``{x}`` are the logits (class-last unless
    ``class_last`` is false), ``{y}`` the targets, ``{e}`` the label smoothing, ``{a}`` torch's
    class axis, ``{i}`` the ``ignore`` argument (empty unless the case sets ``ignore_index``),
    ``{w}`` the ``sample_weight`` argument (empty without weights), ``{r}`` the framework's name
    of the reduction (with ``reductions``), ``{d}`` the requested dtype's name; in ``mean`` and
    ``sum``, ``{v}`` are the per-example losses."""

    imports: str
    indices: str  # the call for class indices
    probabilities: str  # the call for class probabilities
    array: str  # the function that makes a framework array from a NumPy one
    mean: str = "{v}"
    sum: str = "{v}"
    smooths: bool = False  # the probability call smooths by itself (takes {e})
    class_last: bool = True  # {x} has the classes moved last
    reductions: tuple[tuple[str, str], ...] = ()  # the call reduces: torch's name -> {r}
    ignore: str = ""  # the argument spelling ignore_index {i}, e.g. ", ignore_class={i}"
    sample_weight: str | None = None  # the argument spelling class weights as per-sample {w}


@dataclass(frozen=True)
class Backend:
    """A built-in implementation."""

    name: str
    target: str  # "module:attribute" of its adapter
    group: str  # the nox session (one virtualenv) it runs in: reference, torch, jax, tensorflow
    extra: str | None = None  # the ce-conformance extra that installs its frameworks
    modules: tuple[str, ...] = ()  # the framework modules it imports (tests skip without them)
    devices: tuple[str, ...] = ("cpu",)  # the devices it can use where the framework sees them
    native: Native | None = None  # its framework's own call, when it wraps one
    # In the main job (``ce-conformance run`` without ``--impl``, and ``.ci/run``'s gates).
    # False: too slow for every CI run; run when named, by its nox group's session (and so in
    # the published matrix) and by its own gate session.
    default: bool = True


@dataclass(frozen=True)
class Plugin:
    """An example plugin under ``examples/`` (installed from there by nox)."""

    name: str  # the implementation name it registers
    group: str  # its nox session
    folder: str  # under examples/
    expectations: str | None = None  # its expectations file, relative to the repository
    merged: bool = True  # part of the published matrix (not: the deliberately broken one)


_OPTAX = Native(
    imports="import jax.numpy as jnp\nimport optax",
    indices="optax.losses.softmax_cross_entropy_with_integer_labels({x}, {y})",
    probabilities="optax.losses.softmax_cross_entropy({x}, {y})",
    array="jnp.asarray", mean="{v}.mean()", sum="{v}.sum()")
_TF_NN = Native(
    imports="import tensorflow as tf",
    indices="tf.nn.sparse_softmax_cross_entropy_with_logits(labels={y}, logits={x})",
    probabilities="tf.nn.softmax_cross_entropy_with_logits(labels={y}, logits={x})",
    array="tf.constant", mean="tf.reduce_mean({v})", sum="tf.reduce_sum({v})")
_KERAS = Native(
    imports="import keras",
    indices="keras.losses.sparse_categorical_crossentropy({y}, {x}, from_logits=True{i})",
    probabilities="keras.losses.categorical_crossentropy({y}, {x}, from_logits=True, "
                  "label_smoothing={e})",
    array="keras.ops.array", mean="keras.ops.mean({v})", sum="keras.ops.sum({v})", smooths=True,
    ignore=", ignore_class={i}")
_KERAS_CHANNELS_FIRST = replace(
    _KERAS,
    indices="keras.losses.sparse_categorical_crossentropy({y}, {x}, from_logits=True{i}, "
            "axis={a})",
    probabilities="keras.losses.categorical_crossentropy({y}, {x}, from_logits=True, "
                  "label_smoothing={e}, axis={a})",
    class_last=False)
_KERAS_OBJECTS = replace(  # the loss objects, which reduce by themselves
    _KERAS,
    indices="keras.losses.SparseCategoricalCrossentropy(from_logits=True{i}, reduction={r}, "
            "dtype={d})({y}, {x}{w})",
    probabilities="keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing={e}, "
                  "reduction={r}, dtype={d})({y}, {x}{w})",
    reductions=(("mean", "sum_over_batch_size"),), sample_weight=", sample_weight={w}")
_KERAS_FLOATX = replace(  # no dtype=: Keras' floatx
    _KERAS_OBJECTS,
    indices="keras.losses.SparseCategoricalCrossentropy(from_logits=True{i}, "
            "reduction={r})({y}, {x})",
    probabilities="keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing={e}, "
                  "reduction={r})({y}, {x})",
    sample_weight=None)

GPU = ("cpu", "cuda")
BUILTINS: tuple[Backend, ...] = (
    Backend("reference", "implementations.reference:ReferenceImplementation", "reference"),
    Backend("torch", "implementations.torch_native:TorchImplementation", "torch",
            extra="torch", modules=("torch",), devices=GPU),
    Backend("torch.compile", "implementations.torch_compile:TorchCompile", "torch",
            extra="torch", modules=("torch",), devices=GPU, default=False),
    Backend("jax", "implementations.jax_port:JaxPortImplementation", "jax",
            extra="jax", modules=("jax",), devices=GPU),
    Backend("jax.optax", "implementations.optax_native:OptaxImplementation", "jax",
            extra="jax", modules=("jax", "optax"), devices=GPU, native=_OPTAX),
    # jax.x64-off and the keras.* variants: other spellings a user writes, one column each
    # (implementations.jax_x64_off, implementations.keras_variants); rows stay in group order.
    Backend("jax.x64-off", "implementations.jax_x64_off:JaxX64Off", "jax",
            extra="jax", modules=("jax",), devices=GPU),
    Backend("jax.eager", "implementations.execution_modes:JaxEager", "jax",
            extra="jax", modules=("jax",), devices=GPU),
    Backend("tensorflow", "implementations.tf_port:TfPortImplementation", "tensorflow",
            extra="tensorflow", modules=("tensorflow",), devices=GPU),
    Backend("tensorflow.function", "implementations.execution_modes:TfFunction", "tensorflow",
            extra="tensorflow", modules=("tensorflow",), devices=GPU),
    Backend("tensorflow.nn", "implementations.tf_native:TfNnImplementation", "tensorflow",
            extra="tensorflow", modules=("tensorflow",), devices=GPU, native=_TF_NN),
    Backend("keras", "implementations.keras_native:KerasImplementation", "tensorflow",
            extra="tensorflow", modules=("tensorflow", "keras"), devices=GPU, native=_KERAS),
    Backend("keras.channels-first", "implementations.keras_variants:KerasChannelsFirst",
            "tensorflow", extra="tensorflow", modules=("tensorflow", "keras"), devices=GPU,
            native=_KERAS_CHANNELS_FIRST),
    Backend("keras.class-weight", "implementations.keras_variants:KerasClassWeight",
            "tensorflow", extra="tensorflow", modules=("tensorflow", "keras"), devices=GPU,
            native=_KERAS_OBJECTS),
    Backend("keras.float32", "implementations.keras_variants:KerasFloat32", "tensorflow",
            extra="tensorflow", modules=("tensorflow", "keras"), devices=GPU,
            native=_KERAS_FLOATX),
)
PLUGINS: tuple[Plugin, ...] = (
    Plugin("onnxruntime", "onnxruntime", "onnxruntime-plugin",
           expectations="examples/onnxruntime-plugin/expectations.yaml"),
    Plugin("broken", "broken", "broken-plugin", merged=False),
)


def names() -> list[str]:
    """The main job's implementations (rows with ``default``), in the table's order: what
    ``ce-conformance run`` runs without ``--impl`` and what ``.ci/run`` gates."""
    return [row.name for row in BUILTINS if row.default]


def builtin_names() -> list[str]:
    """Every built-in implementation's name, in the table's order (``implementations.load``
    knows them all; the rows without ``default`` run when named)."""
    return [row.name for row in BUILTINS]


def builtin(name: str) -> Backend:
    """The row of built-in ``name`` (``KeyError`` when there is none)."""
    for row in BUILTINS:
        if row.name == name:
            return row
    raise KeyError(name)


def native(name: str) -> Native | None:
    """How a user calls ``name``'s framework loss, or ``None`` (not built in, or no own call)."""
    return next((row.native for row in BUILTINS if row.name == name), None)


def groups() -> dict[str, list[str]]:
    """Each nox group (session) with the implementations it runs, built-ins first."""
    found: dict[str, list[str]] = {}
    rows: tuple[Backend | Plugin, ...] = (*BUILTINS, *PLUGINS)
    for row in rows:
        found.setdefault(row.group, []).append(row.name)
    return found


def merged_groups() -> list[str]:
    """The groups whose reports make up the published matrix."""
    left_out = {plugin.group for plugin in PLUGINS if not plugin.merged}
    return [group for group in groups() if group not in left_out]


def gated() -> list[str]:
    """The implementations gated in CI, one gate session (workflow job) each: every built-in
    (the main job's and the others) and every merged plugin."""
    return builtin_names() + [plugin.name for plugin in PLUGINS if plugin.merged]


def github_matrix() -> dict[str, list[str]]:
    """The workflow's matrices: the nox backend sessions, and the implementations to gate."""
    return {"session": list(groups()), "impl": gated()}


def main(argv: list[str]) -> int:
    """``names`` or ``github-matrix`` (see the module docstring)."""
    if argv == ["names"]:
        print("\n".join(names()))
    elif argv == ["github-matrix"]:
        print("\n".join(f"{key}={json.dumps(values)}" for key, values in github_matrix().items()))
    else:
        print("usage: python implementations/registry.py names|github-matrix", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
