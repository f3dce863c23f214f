"""Load the canonical cases (``spec/cross_entropy.yaml``) into ``Case`` objects, and append a
generated one to a spec file (``promote``: the one place spec YAML is written).

The file is read by ``conformance.yamlfile`` (data plus the line of every node; duplicate keys
rejected there). Each check that follows (the JSON Schema in ``spec/schema.json``, duplicate ids,
``vary`` placeholders, rectangular arrays, generators) reports the line of the node at fault, so
every problem reads ``path:line: what is wrong`` on one line.

Shape mismatches *between* arrays (input against target or weight) are not checked: they are
legitimate invalid-input cases. Only arrays that cannot be formed at all (ragged rows, a generator
whose axis is out of range) are rejected.

Conventions (named alternatives to torch's outcome at an edge) are declared once in the top-level
``conventions`` glossary, with their documentation; a case's ``conventions`` refer to them by name.
The loader insists that every name a case uses is declared, every declared name is used, and a
convention's outcome is not torch's own on the checks it concerns.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from conformance.case import Case, Convention, Expect
from conformance.data import packaged_path
from conformance.vocabulary import InvalidKind
from conformance.yamlfile import LocatedError, NodePath, YamlDoc, read_yaml
from implementations.arguments import LossArguments
from implementations.base import DEFAULT_IGNORE_INDEX, REDUCTIONS, Array, class_axis_of
from implementations.torch_rules import plan_call

__all__ = ["SpecError", "default_spec_path", "generate", "large_spec_path", "load_spec",
           "promote", "schema_path", "spec_hash"]

SPEC_NAME = "cross_entropy.yaml"
#: The cases at LLM scale (``C`` in the tens of thousands), same schema; loaded only by the
#: ``large`` profile (``conformance.properties``), so the spec every CI run loads stays fast.
LARGE_SPEC_NAME = "large.yaml"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
ID_FORM = "lower-case letters, digits, '.' and '-', starting with a letter or digit"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MAX_GENERATED = 2**28  # elements one generator may make (2 GiB of float64)

SpecError = LocatedError  # the name this module has always raised


def default_spec_path() -> Path:
    """``<repo>/spec/cross_entropy.yaml`` in a checkout, else the copy packaged with the wheel."""
    return packaged_path("spec", SPEC_NAME)


def large_spec_path() -> Path:
    """``<repo>/spec/large.yaml`` (or its packaged copy): the cases at LLM scale."""
    return packaged_path("spec", LARGE_SPEC_NAME)


def schema_path() -> Path:
    """The JSON Schema that every spec file is validated against."""
    return packaged_path("spec", "schema.json")


def spec_hash(path: str | Path | None = None) -> str:
    """SHA-256 of the spec file's bytes, for provenance in results."""
    return hashlib.sha256(Path(path or default_spec_path()).read_bytes()).hexdigest()


def load_spec(path: str | Path | None = None, *, include: Sequence[str] | None = None,
              exclude: Sequence[str] | None = None) -> list[Case]:
    """The cases of the spec file, ``vary`` expanded, in file order; raises ``SpecError``.

    With ``include``/``exclude`` (id globs), only the selected cases' arrays are built: the
    whole file is still validated, but a large generator of an unselected case costs nothing.
    """
    doc = read_yaml(Path(path) if path is not None else default_spec_path(), "the spec")
    if doc.data is None:
        raise doc.at((), "the file is empty; expected 'version' and 'cases'")
    _validate(doc)
    return _cases(doc, lambda case_id: _selected(case_id, include, exclude))



def case_ids(path: str | Path | None = None) -> list[str]:
    """The ids of the spec file's cases (``vary`` expanded), validated like ``load_spec``,
    without building any array."""
    doc = read_yaml(Path(path) if path is not None else default_spec_path(), "the spec")
    if doc.data is None:
        raise doc.at((), "the file is empty; expected 'version' and 'cases'")
    _validate(doc)
    seen: list[str] = []

    def note(case_id: str) -> bool:
        seen.append(case_id)
        return False
    _cases(doc, note)
    return seen

# --- the schema -------------------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _validate(doc: YamlDoc) -> None:
    """Raise for the schema violation that comes first in the file."""
    errors = list(_validator().iter_errors(doc.data))
    if not errors:
        return
    first = min(doc.line(tuple(e.absolute_path)) for e in errors)
    error = best_match(e for e in errors if doc.line(tuple(e.absolute_path)) == first)
    assert error is not None
    raise doc.error(*_describe(error))


def _describe(error: ValidationError) -> tuple[NodePath, str]:
    """Where the error is and what it says; an unknown key is pointed at itself."""
    path: NodePath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = schema.get("properties", {})
        unknown = sorted(str(key) for key in error.instance if key not in allowed)
        return (*path, unknown[0]), f"unknown key; allowed: {', '.join(allowed)}"
    if error.validator == "pattern" and schema.get("description"):  # words, not the regex
        return path, f"{error.instance!r} does not match the expected form: " \
                     f"{schema['description']}"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    if _numeric_string(error.instance):
        message += " (YAML 1.1 reads it as a string: write 1.0e+4, not 1e4; .nan, .inf)"
    return path, message


def _numeric_string(instance: Any) -> bool:
    """A string that Python reads as a number but YAML 1.1 does not (``1e4``, ``nan``)."""
    if not isinstance(instance, str):
        return False
    try:
        float(instance)
    except ValueError:
        return False
    return True


# --- cases ------------------------------------------------------------------------------------


def _selected(case_id: str, include: Sequence[str] | None,
              exclude: Sequence[str] | None) -> bool:
    return (not include or any(fnmatch.fnmatchcase(case_id, g) for g in include)) and \
        not any(fnmatch.fnmatchcase(case_id, g) for g in exclude or ())


def _cases(doc: YamlDoc, wanted: Callable[[str], bool]) -> list[Case]:
    cases: list[Case] = []
    first: dict[str, int] = {}
    for index, raw in enumerate(doc.data["cases"]):
        where: NodePath = ("cases", index, "id")
        for fields in _expand(doc, index, raw):
            if fields["id"] in first:
                raise doc.error(where, f"duplicate id {fields['id']!r} "
                                       f"(first on line {first[fields['id']]})")
            first[fields["id"]] = doc.line(where)
            _check_case(doc, index, fields)
            if wanted(fields["id"]):
                cases.append(_case(doc, index, fields))
    _check_glossary(doc)
    return cases


def _expand(doc: YamlDoc, index: int, raw: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One field mapping per combination of ``vary``, with the id's placeholders filled in."""
    vary: dict[str, list[Any]] = raw.get("vary", {})
    base: NodePath = ("cases", index)
    placeholders = set(PLACEHOLDER.findall(raw["id"]))
    for key in vary:
        if key not in placeholders:
            raise doc.error((*base, "vary", key),
                            f"the id {raw['id']!r} has no '{{{key}}}' placeholder")
        if key in raw:
            raise doc.error((*base, key), f"{key} is both set and varied; drop one")
    unvaried = sorted(placeholders - set(vary))
    if unvaried:
        raise doc.error((*base, "id"), f"placeholder '{{{unvaried[0]}}}' is not a key of vary")
    for combination in itertools.product(*vary.values()):
        fields = {key: value for key, value in raw.items() if key != "vary"}
        fields.update(zip(vary, combination, strict=True))
        fields["id"] = _fill(raw["id"], fields)
        if not ID_PATTERN.match(fields["id"]):
            raise doc.error((*base, "id"), f"{fields['id']!r} does not match the form of an "
                                           f"id: {ID_FORM}")
        yield fields


def _fill(template: str, fields: dict[str, Any]) -> str:
    """The id with each ``{key}`` replaced by the case's value of ``key``."""
    return PLACEHOLDER.sub(lambda match: str(fields[match.group(1)]), template)


def _check_case(doc: YamlDoc, index: int, fields: dict[str, Any]) -> None:
    """What can be checked without building the arrays: generated sizes, and for a case that
    expects no error, the arguments torch would refuse (the case would be invalid)."""
    base: NodePath = ("cases", index)
    shapes = {key: _declared_shape(fields[key]) for key in ("input", "target", "weight")
              if fields.get(key) is not None}
    for key, shape in shapes.items():
        if isinstance(fields[key], dict) and math.prod(shape) > MAX_GENERATED:
            raise doc.error((*base, key), f"generates {math.prod(shape):,} elements; the limit "
                                          f"is {MAX_GENERATED:,}")
    _check_conventions(doc, index, fields)
    if "error" in (fields.get("expect") or {}):
        return
    reduction = fields.get("reduction", "mean")
    if reduction not in REDUCTIONS:
        raise doc.error((*base, "reduction"), f"{reduction!r} is not one of "
                                              f"{', '.join(REDUCTIONS)} (a case of invalid input "
                                              "says so with expect: {error: reduction})")
    if float(fields.get("label_smoothing", 0.0)) > 1.0:
        raise doc.error((*base, "label_smoothing"), "torch refuses label_smoothing above 1.0 "
                                                    "(mark the case expect: {error: "
                                                    "label-smoothing-range})")
    input_shape = shapes["input"]
    if "weight" in shapes and input_shape:
        classes = input_shape[class_axis_of(input_shape)]
        if shapes["weight"] != (classes,):
            raise doc.error((*base, "weight"), f"has shape {list(shapes['weight'])}; the input "
                                               f"has {classes} classes (mark the case expect: "
                                               "{error: weight-shape} if that is the point)")
    _check_torch_accepts(doc, base, fields, {key: _stand_in(doc, (*base, key), fields[key])
                                             for key in shapes})


def _stand_in(doc: YamlDoc, path: NodePath, value: Any) -> Array:
    """A literal as its array (literals are small: ``conformance.yamlfile`` bounds them); a
    generator as zeros of its shape and kind that take no memory (``broadcast_to``), so the
    shapes and dtypes torch checks are known before any array is generated."""
    if not isinstance(value, dict):
        return _array(doc, path, value)
    kind = np.int64 if "classes" in value else np.float64
    return np.broadcast_to(np.zeros((), dtype=kind), _declared_shape(value))


def _check_torch_accepts(doc: YamlDoc, base: NodePath, fields: dict[str, Any],
                         arrays: dict[str, Array]) -> None:
    """Raise at the node at fault when torch would refuse the call of a case that expects a
    value: torch's own rules (``implementations.torch_rules``), on the case's arrays (with
    ``_stand_in`` arrays, shapes and dtypes only; with the built ones, the values too)."""
    if "error" in (fields.get("expect") or {}):
        return
    target = arrays["target"].astype(fields.get("target_dtype", arrays["target"].dtype),
                                     copy=False)
    weight = arrays.get("weight")
    backward = "gradient_error" not in (fields.get("expect") or {})
    try:
        plan_call(arrays["input"].astype(np.float64, copy=False), target,
                  None if weight is None else weight.astype(np.float64, copy=False),
                  fields.get("ignore_index", DEFAULT_IGNORE_INDEX),
                  fields.get("reduction", "mean"), float(fields.get("label_smoothing", 0.0)),
                  gradient=backward)
    except RuntimeError as exc:  # the forward accepts it, the backward does not
        raise doc.error((*base, "target"), f"torch's backward refuses this case: {exc} (say so "
                                           "with expect: {value: ..., gradient_error: "
                                           "shape-mismatch})") from None
    except (ValueError, TypeError, IndexError) as exc:
        key, kind = _refusal(exc)
        raise doc.error((*base, key), f"torch refuses this case: {str(exc).rstrip('.')} (a "
                                      f"case of invalid input says so with expect: {{error: "
                                      f"{kind}}})") from None


#: torch's refusal (a fragment of ``torch_rules``' message) -> the key at fault, the error kind
_REFUSALS = (("out of bounds", "target", InvalidKind.TARGET_OUT_OF_RANGE),
             ("broadcast shape", "target", InvalidKind.SHAPE_MISMATCH),
             ("at least one dimension", "input", InvalidKind.SHAPE_MISMATCH),
             ("weight", "weight", InvalidKind.WEIGHT_SHAPE),
             ("ignore_index", "ignore_index", InvalidKind.IGNORE_INDEX_WITH_PROBABILITIES),
             ("label_smoothing", "label_smoothing", InvalidKind.LABEL_SMOOTHING_RANGE),
             ("target dtype", "target", InvalidKind.TARGET_DTYPE),
             ("type for target", "target", InvalidKind.TARGET_DTYPE),
             ("input must be floating", "input", InvalidKind.INPUT_DTYPE),
             ("reduction", "reduction", InvalidKind.REDUCTION))


def _refusal(exc: Exception) -> tuple[str, str]:
    """The key of the case at fault and the spec's error kind for one of torch's refusals."""
    text = str(exc)
    for fragment, key, kind in _REFUSALS:
        if fragment in text:
            return key, kind
    return "target", InvalidKind.SHAPE_MISMATCH


def _declared_shape(value: Any) -> tuple[int, ...]:
    """The shape of a literal or of what a generator mapping will make."""
    if isinstance(value, dict):
        return tuple(value.get("shape") or value.get("probabilities") or ())
    try:
        return tuple(np.shape(value))
    except ValueError:  # ragged: reported with its line when the array is built
        return ()


def _case(doc: YamlDoc, index: int, fields: dict[str, Any]) -> Case:
    base: NodePath = ("cases", index)
    target = _array(doc, (*base, "target"), fields["target"])
    if "target_dtype" in fields:
        target = target.astype(fields["target_dtype"])
    arrays = {"input": _array(doc, (*base, "input"), fields["input"], np.float64),
              "target": target}
    if fields.get("weight") is not None:
        arrays["weight"] = _array(doc, (*base, "weight"), fields["weight"], np.float64)
    if any(isinstance(fields.get(key), dict) for key in arrays):  # generated: check the values
        _check_torch_accepts(doc, base, fields, arrays)
    return Case(
        id=fields["id"],
        arguments=LossArguments.from_spec({**fields, **arrays}),
        source=fields["source"],
        tags=tuple(fields["tags"]),
        note=fields.get("note", ""),
        expect=_expect(doc, (*base, "expect"), fields.get("expect")),
        conventions=tuple(_convention(doc, (*base, "conventions", i), fields, raw)
                          for i, raw in enumerate(fields.get("conventions", ()))),
        location=f"{doc.display}:{doc.line(base)}",
    )


def _expect(doc: YamlDoc, path: NodePath, raw: dict[str, Any] | None) -> Expect:
    if raw is None:
        return Expect()
    value = raw.get("value")
    return Expect(
        value=None if value is None else _array(doc, (*path, "value"), value, np.float64),
        decimals=raw.get("decimals"),
        error=raw.get("error"),
        gradient_error=raw.get("gradient_error"),
    )


# --- conventions ------------------------------------------------------------------------------


def _check_glossary(doc: YamlDoc) -> None:
    """Every declared convention is used by some case (an unused one is stale documentation);
    every name a case uses is declared (checked per case)."""
    glossary: dict[str, str] = doc.data.get("conventions") or {}
    used = {entry["name"] for raw in doc.data["cases"] for entry in raw.get("conventions", ())}
    for name in glossary:
        if name not in used:
            raise doc.error(("conventions", name), "no case names this convention; drop it or "
                                                   "name it in a case's conventions")


def _checks_of(fields: dict[str, Any], raw: dict[str, Any]) -> tuple[str, ...]:
    """The checks a convention concerns: as given, else the case's main check."""
    invalid = "error" in (fields.get("expect") or {})
    return tuple(raw.get("checks") or ("invalid" if invalid else "value",))


def _torch_raises(fields: dict[str, Any], check: str) -> bool:
    """Whether torch (the spec) raises on ``check`` of the case."""
    expect = fields.get("expect") or {}
    return check == "invalid" or (check == "gradient" and "gradient_error" in expect)


def _check_conventions(doc: YamlDoc, index: int, fields: dict[str, Any]) -> None:
    glossary: dict[str, str] = doc.data.get("conventions") or {}
    invalid = "error" in (fields.get("expect") or {})
    seen: set[str] = set()
    for i, raw in enumerate(fields.get("conventions", ())):
        path: NodePath = ("cases", index, "conventions", i)
        name = raw["name"]
        if name not in glossary:
            raise doc.error((*path, "name"), f"convention {name!r} is not declared in the "
                                             "top-level 'conventions' (name it there once, "
                                             "with what it means)")
        if name in seen:
            raise doc.error((*path, "name"), f"convention {name!r} is named twice in this case")
        seen.add(name)
        for check in _checks_of(fields, raw):
            if (check == "invalid") != invalid:
                raise doc.error((*path, "checks"), f"check {check!r} does not apply to a "
                                                   f"{'n in' if invalid else ' '}valid case")
            outcome = raw.get("outcome")
            torch_outcome = "raises" if _torch_raises(fields, check) else "value"
            if outcome == torch_outcome or (not invalid and outcome in ("nan", "silent")):
                raise doc.error((*path, "outcome"), f"outcome {outcome!r} on the {check} check "
                                                    f"is not an alternative to torch's "
                                                    f"({torch_outcome})")


def _convention(doc: YamlDoc, path: NodePath, fields: dict[str, Any],
                raw: dict[str, Any]) -> Convention:
    value = raw.get("value")
    return Convention(
        name=raw["name"],
        checks=_checks_of(fields, raw),
        note=" ".join(str(doc.data["conventions"][raw["name"]]).split()),
        value=None if value is None else _array(doc, (*path, "value"), value, np.float64),
        decimals=raw.get("decimals"),
        outcome=raw.get("outcome"),
    )


# --- arrays -----------------------------------------------------------------------------------


def _array(doc: YamlDoc, path: NodePath, value: Any, dtype: type | None = None) -> Array:
    """A literal (nested list or number) or a generator mapping, as a NumPy array.

    Literals: integers give int64, anything else (a float anywhere, or no element) float64.
    """
    if isinstance(value, dict):
        array = _generate(doc, path, value)
    else:
        _shape(doc, path, value)
        array = np.asarray(value)
        array = array.astype(np.int64 if array.dtype.kind in "iu" else np.float64)
    return array if dtype is None else array.astype(dtype)


def _shape(doc: YamlDoc, path: NodePath, value: Any) -> tuple[int, ...]:
    """The shape of a nested list; raises at the first row that breaks the rectangle."""
    if not isinstance(value, list):
        return ()
    shapes = [_shape(doc, (*path, index), item) for index, item in enumerate(value)]
    for index, shape in enumerate(shapes[1:], start=1):
        if shape != shapes[0]:
            raise doc.error((*path, index), f"ragged array: row {index} has shape {list(shape)}, "
                                            f"row 0 has {list(shapes[0])}")
    return (len(value), *(shapes[0] if shapes else ()))


def _generate(doc: YamlDoc, path: NodePath, spec: dict[str, Any]) -> Array:
    """Deterministic logits, class indices or probabilities (see ``spec/schema.json``)."""
    try:
        return generate(spec)
    except _GeneratorError as exc:
        raise doc.error((*path, exc.key), str(exc)) from None


class _GeneratorError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def generate(spec: dict[str, Any]) -> Array:
    """The array a generator mapping of the spec stands for (``spec/schema.json``): standard
    normal logits times ``scale``, class indices (the last ``padding`` of the last axis -100),
    weights uniform in ``[low, high)``, or probabilities. Generated cases at scale
    (``conformance.strategies.large_cases``) are built by this too, so their spec form is
    these mappings and not millions of numbers. ``ValueError`` for an impossible one."""
    rng = np.random.default_rng(spec["seed"])
    if "probabilities" in spec:
        return _probabilities(rng, tuple(spec["probabilities"]), spec.get("axis"))
    shape = tuple(spec["shape"])
    if "low" in spec:
        return rng.uniform(float(spec["low"]), float(spec["high"]), size=shape)
    if "classes" not in spec:
        return rng.standard_normal(shape) * float(spec.get("scale", 1.0))
    if spec["classes"] < 1 and 0 not in shape:
        raise _GeneratorError("classes", f"no class to draw a target of shape {list(shape)}")
    target = rng.integers(0, max(spec["classes"], 1), size=shape, dtype=np.int64)
    padding = float(spec.get("padding", 0.0))
    if padding and shape:
        target[..., shape[-1] - math.floor(padding * shape[-1]):] = DEFAULT_IGNORE_INDEX
    return target


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...],
                   axis: int | None) -> Array:
    """Softmax of standard normals along ``axis`` (default 1, or 0 for a 1-D shape)."""
    if axis is None:
        axis = class_axis_of(shape)
    if not -len(shape) <= axis < len(shape):
        raise _GeneratorError("axis", f"axis {axis} is out of range for shape {list(shape)}")
    z = rng.standard_normal(shape)
    if z.size == 0:
        return z
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    probabilities: Array = e / np.sum(e, axis=axis, keepdims=True)
    return probabilities


def select_cases(cases: list[Case], include: Sequence[str] | None,
                 exclude: Sequence[str] | None = None) -> list[Case]:
    """The cases whose id matches a glob of ``include`` (all when empty) and none of ``exclude``."""
    return [c for c in cases if _selected(c.id, include, exclude)]


def promote(record: dict[str, Any], spec_path: str | Path) -> str | None:
    """Append a generated counterexample (``record["case_spec"]``) to a spec YAML file.

    The case gets source ``generated (seed N)`` (``generated (derandomized profile)`` for a
    derandomized profile's, which has no seed) and the tag ``generated``; returns its id, or
    ``None`` when the record has no case or the file already holds that id.
    """
    case_spec = record.get("case_spec")
    if not case_spec:
        return None
    path = Path(spec_path)
    text = path.read_text(encoding="utf-8")
    case_id = str(case_spec["id"])
    if f"id: {case_id}\n" in text:
        return None
    entry = dict(case_spec)
    seed = record.get("seed")
    entry["source"] = f"generated (seed {seed})" if seed is not None else \
        "generated (derandomized profile)"
    entry["tags"] = ["generated"]
    if record.get("origin") == "covering":  # a row of the covering array keeps its source
        entry["source"], entry["tags"] = case_spec["source"], ["covering"]
    entry["note"] = f"found by {record.get('check')} on {record.get('impl')}: " \
                    f"{record.get('reason') or ''}".strip()[:400]
    dumped = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, width=100)
    block = "\n".join("  " + line if line else line for line in dumped.splitlines())
    path.write_text(text.rstrip("\n") + "\n\n" + block + "\n", encoding="utf-8")
    return case_id
