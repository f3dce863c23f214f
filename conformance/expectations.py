"""Known divergences as data: one YAML file per implementation, read by ``ce-conformance gate``.

A file lists the ways an implementation is *known* to differ from torch, each with a selector,
a reason and (optionally) a link::

    implementation: jax.optax
    divergences:
      - select: {check: invalid, case: "invalid-target-out-of-range*"}
        reason: "optax gathers out-of-range labels without checking; returns a finite number"
        link: "https://github.com/google-deepmind/optax/..."

A selector holds glob patterns (``fnmatch``, case-sensitive; a list means any of them) for the
record fields ``case``, ``check``, ``dtype``, ``device``, ``impl``, ``origin`` and ``feature``
(which matches when any of the record's features does). Every key given must match.

``Expectations.annotate(records)`` sorts the records and splits what the run found into:

* **new**: diverging records no entry matches (the gate fails);
* **known**: diverging records an entry matches (``record.expected_reason`` is set; the first
  matching entry in file order wins);
* **fixed**: entries whose records all conform now (the entry can go; ``--strict`` fails);
* **unmatched**: entries that match no record of the run (a typo or a renamed case; reported,
  and ``--strict`` fails);
* **not run**: entries whose dtype, device, check or origin did not occur in this run at all
  (``--dtype float32`` only, ``--no-properties``, ``--no-gradients``); neither fixed nor
  unmatched, only counted. Typos there are caught when the file is loaded instead: ``check``
  and ``dtype`` patterns must match a real check or dtype.

Built-in implementations keep their file at ``<repo>/expectations/<name>.yaml`` (a missing file
means no known divergences); a plugin passes its own with ``--expectations``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.results import Record
from conformance.vocabulary import FAULT_VERDICTS, Verdict
from implementations.base import ALL_DTYPES

__all__ = [
    "Annotated",
    "Divergence",
    "Expectations",
    "ExpectationsError",
    "default_expectations_path",
    "expectations_for",
    "load_expectations",
]

SELECT_KEYS = ("case", "check", "dtype", "device", "impl", "origin", "feature")
ENTRY_KEYS = ("select", "reason", "link")
TOP_KEYS = ("implementation", "divergences")
SCOPE_KEYS = ("dtype", "device", "check", "origin")  # what a run may leave out entirely
CHECKS = ("value", "gradient", "invalid", "inputs", "robustness", "property:*")
FINDINGS = (Verdict.DIVERGES, *FAULT_VERDICTS)  # what an entry can list


class ExpectationsError(ValueError):
    """A malformed expectations file; ``str`` is one line: ``path:line: what is wrong``."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = " ".join(problem.split())
        super().__init__(f"{path}:{line}: {self.problem}")


@dataclass(frozen=True)
class Divergence:
    """One entry: which records it covers, why, and where to read more."""

    select: Mapping[str, tuple[str, ...]]
    reason: str
    link: str | None = None
    location: str = ""  # "expectations/jax.yaml:12"

    def matches(self, record: Record) -> bool:
        """Whether every key of the selector matches ``record``."""
        return all(_field_matches(record, key, patterns) for key, patterns in self.select.items())

    def in_scope(self, scope: tuple[str, ...]) -> bool:
        """Whether the selector's ``SCOPE_KEYS`` patterns match these values (a record's)."""
        return all(any(fnmatch.fnmatchcase(value, p) for p in self.select[key])
                   for key, value in zip(SCOPE_KEYS, scope, strict=True) if key in self.select)

    def describe(self) -> str:
        """``location: {selector}: reason``, for messages."""
        selector = ", ".join(f"{k}={'|'.join(v)}" for k, v in self.select.items())
        return f"{self.location}: {{{selector}}}: {self.reason}"


def _field_matches(record: Record, key: str, patterns: tuple[str, ...]) -> bool:
    values = list(record.features) if key == "feature" else [str(getattr(record, key))]
    return any(fnmatch.fnmatchcase(v, p) for v in values for p in patterns)


@dataclass
class Annotated:
    """A run's records split against an expectations file (see the module docstring)."""

    records: list[Record]
    new: list[Record] = field(default_factory=list)
    known: list[tuple[Record, Divergence]] = field(default_factory=list)
    fixed: list[Divergence] = field(default_factory=list)
    unmatched: list[Divergence] = field(default_factory=list)
    not_run: list[Divergence] = field(default_factory=list)

    def exit_status(self, *, strict: bool = False) -> int:
        """0 when the run conforms apart from listed divergences, else 1.

        With ``strict``, a fixed or unmatched entry also fails: the file must be kept current.
        """
        if self.new or (strict and (self.fixed or self.unmatched)):
            return 1
        return 0


@dataclass(frozen=True)
class Expectations:
    """The known divergences of one implementation."""

    implementation: str | None = None
    entries: tuple[Divergence, ...] = ()
    path: Path | None = None

    def annotate(self, records: Iterable[Record]) -> Annotated:
        """Sort ``records``, set ``expected_reason`` on the known ones, and classify."""
        result = Annotated(records=sorted(records, key=_sort_key))
        diverging: set[int] = set()
        conforming: set[int] = set()
        for record in result.records:
            index = next((i for i, e in enumerate(self.entries) if e.matches(record)), None)
            if record.verdict in FINDINGS:
                if index is None:
                    result.new.append(record)
                    continue
                record.expected_reason = self.entries[index].reason
                result.known.append((record, self.entries[index]))
                diverging.add(index)
            elif record.verdict == "conforms":
                conforming.update(i for i, e in enumerate(self.entries) if e.matches(record))
        scopes = {tuple(str(getattr(r, key)) for key in SCOPE_KEYS) for r in result.records}
        for i, entry in enumerate(self.entries):
            if i in diverging:
                continue
            if i in conforming:
                result.fixed.append(entry)
            elif any(entry.in_scope(scope) for scope in scopes):
                result.unmatched.append(entry)
            else:
                result.not_run.append(entry)
        return result


def _sort_key(record: Record) -> tuple[str, ...]:
    return (record.impl, record.dtype, record.device, record.origin, record.case, record.check)


# --- loading ----------------------------------------------------------------------------------


class _Node(dict[str, Any]):
    """A mapping that remembers the line it starts on."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings are ``_Node`` objects carrying their line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    mapping = _Node({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_expectations(path: str | Path, implementation: str | None = None, *,
                      missing_ok: bool = True) -> Expectations:
    """Read and check an expectations file; raises ``ExpectationsError`` (``path:line: ...``).

    A missing file means no known divergences unless ``missing_ok`` is false. With
    ``implementation``, a file that names another implementation is an error too.
    """
    path = Path(path)
    where = str(path)
    if missing_ok and not path.exists():
        return Expectations(implementation=implementation)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = f"cannot read the expectations file ({exc.strerror})"
        raise ExpectationsError(where, 0, problem) from None
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ExpectationsError(where, line, f"not valid YAML: {exc.problem}") from None
    loaded = _expectations(where, doc, path)
    if implementation is not None and loaded.implementation not in (None, implementation):
        line = doc.line if isinstance(doc, _Node) else 1
        raise ExpectationsError(where, line, f"this file lists divergences of "
                                             f"{loaded.implementation!r}, not of "
                                             f"{implementation!r}")
    return loaded


def _expectations(where: str, doc: Any, path: Path) -> Expectations:
    if doc is None:
        return Expectations(path=path)
    if not isinstance(doc, _Node):
        raise ExpectationsError(where, 1, "expected a mapping with 'implementation' and "
                                          "'divergences'")
    _no_unknown_keys(where, doc, TOP_KEYS, "top-level key")
    implementation = doc.get("implementation")
    if implementation is not None and not isinstance(implementation, str):
        raise ExpectationsError(where, doc.line, "'implementation' must be a string")
    items = doc.get("divergences") or []
    if not isinstance(items, list):
        raise ExpectationsError(where, doc.line, "'divergences' must be a list of entries")
    entries = tuple(_entry(where, item, doc.line) for item in items)
    return Expectations(implementation=implementation, entries=entries, path=path)


def _entry(where: str, item: Any, parent_line: int) -> Divergence:
    if not isinstance(item, _Node):
        raise ExpectationsError(where, parent_line, "each divergence must be a mapping with "
                                                    "'select', 'reason' and optionally 'link'")
    _no_unknown_keys(where, item, ENTRY_KEYS, "key in a divergence")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ExpectationsError(where, item.line, "entry without a reason")
    link = item.get("link")
    if link is not None and (not isinstance(link, str) or not link.strip()):
        raise ExpectationsError(where, item.line, "'link' must be a non-empty string")
    select = item.get("select")
    if not isinstance(select, _Node) or not select:
        raise ExpectationsError(where, item.line, "entry without a selector ('select' must map "
                                                  f"some of {', '.join(SELECT_KEYS)} to globs)")
    _no_unknown_keys(where, select, SELECT_KEYS, "selector key")
    patterns = {key: _patterns(where, select.line, key, value) for key, value in select.items()}
    _known_values(where, select.line, "check", patterns.get("check", ()), CHECKS)
    _known_values(where, select.line, "dtype", patterns.get("dtype", ()), ALL_DTYPES)
    return Divergence(select=patterns, reason=" ".join(reason.split()), link=link,
                      location=f"{where}:{item.line}")


def _patterns(where: str, line: int, key: str, value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int | float) and str(v) for v in values):
        raise ExpectationsError(where, line, f"selector {key!r} must be a glob pattern or a "
                                             "list of them")
    return tuple(str(v) for v in values)


def _known_values(where: str, line: int, key: str, patterns: tuple[str, ...],
                  known: tuple[str, ...]) -> None:
    """A pattern that can match no real value is a typo: say so now, not "unmatched" later."""
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(k.replace("*", "x"), pattern) or
                   (k.endswith("*") and pattern.startswith(k[:-1])) for k in known):
            raise ExpectationsError(where, line, f"selector {key}={pattern!r} matches none of "
                                                 f"{', '.join(known)}")


def _no_unknown_keys(where: str, node: _Node, allowed: tuple[str, ...], what: str) -> None:
    for key in node:
        if key not in allowed:
            raise ExpectationsError(where, node.line, f"unknown {what} {key!r} (expected one of "
                                                      f"{', '.join(allowed)})")


def default_expectations_path(name: str) -> Path:
    """``<repo>/expectations/<name>.yaml`` in a checkout, else the copy packaged with the wheel
    (the file need not exist: a built-in without one has no known divergences)."""
    package = Path(__file__).resolve().parent
    in_repo = package.parent / "expectations"
    folder = in_repo if in_repo.is_dir() else package / "_expectations"
    return folder / f"{file_stem(name)}.yaml"


def file_stem(name: str) -> str:
    """``name`` as a file name: unchanged when it is short and plain (``jax.optax``), else its
    plain characters, shortened, and a hash of the whole name."""
    if len(name) <= 80 and re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith("."):
        return name
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:60] or "implementation"
    return f"{plain}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def expectations_for(name: str, path: str | Path | None = None) -> Expectations:
    """The expectations of implementation ``name``: ``path`` if given (it must exist), else its
    default file (see ``default_expectations_path``), else none."""
    if path is not None:
        return load_expectations(path, name, missing_ok=False)
    return load_expectations(default_expectations_path(name), name)
