"""Known divergences as data: one YAML file per implementation, read by ``ce-conformance gate``.

A file lists the ways an implementation is *known* to differ from torch, each with a selector,
a reason and (optionally) a link::

    implementation: jax.optax
    divergences:
      - select: {check: invalid, case: "invalid-target-out-of-range*"}
        reason: "optax gathers out-of-range labels without checking; returns a finite number"
        link: "https://github.com/google-deepmind/optax/..."

A selector holds glob patterns (``fnmatch``, case-sensitive; a list means any of them) for the
record fields ``case``, ``check``, ``dtype``, ``device``, ``impl``, ``origin``, ``verdict``,
``outcome``, ``signature`` and ``feature`` (which matches when any of the record's features
does). Every key given must match.

Generated findings (checks ``property:*``) are selected by their cause, never by case: a
generated case id changes with the strategies and the shrinker, and one entry per property
would hide every new way it fails. ``signature`` matches the record's cause signature
(``conformance.signature``)::

      - select: {signature: "property:differential / diverges / value / indices,ignore-index,*"}
        reason: "..."

so a new cause in a property with a known one is a new divergence. An entry that selects
property checks (by ``check`` or through its ``signature``) with a ``case`` pattern, or a
``case`` pattern for generated ids (``gen-*``), is refused when the file is loaded.

``Expectations.annotate(records)`` sorts the records and splits what the run found into:

* **new**: diverging records no entry matches (the gate fails);
* **known**: diverging records an entry matches (``record.expected_reason`` is set; the first
  matching entry in file order wins);
* **fixed**: entries whose records all conform now (the entry can go; ``--strict`` fails);
* **unmatched**: entries that match no record of the run (a typo or a renamed case; reported,
  and ``--strict`` fails);
* **not run**: entries whose dtype, device, check or origin did not occur in this run at all
  (``--dtype float32`` only, ``--no-properties``, ``--no-gradients``), or whose ``case``
  pattern picks only spec cases the run left out (``annotate``'s ``left_out``: the ``large-*``
  cases of ``spec/large.yaml`` in a ``ci`` run); neither fixed nor unmatched, only counted.
  Typos there are caught when the file is loaded instead: ``check`` and ``dtype`` patterns
  must match a real check or dtype.

Built-in implementations keep their file at ``<repo>/expectations/<name>.yaml`` (a missing file
means no known divergences); a plugin passes its own with ``--expectations``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.data import packaged_path
from conformance.results import Record
from conformance.signature import SEPARATOR, parse
from conformance.vocabulary import FAULT_VERDICTS, PROPERTY_PREFIX, Outcome, Verdict
from conformance.yamlfile import LocatedError, NodePath, YamlDoc, read_yaml
from implementations.base import ALL_DTYPES

__all__ = [
    "Annotated",
    "Divergence",
    "Expectations",
    "ExpectationsError",
    "default_expectations_path",
    "expectations_for",
    "is_numerical_defect",
    "load_expectations",
]

SELECT_KEYS = ("case", "check", "dtype", "device", "impl", "origin", "verdict", "outcome",
               "signature", "feature")
ENTRY_KEYS = ("select", "reason", "link")
TOP_KEYS = ("implementation", "divergences")
SCOPE_KEYS = ("dtype", "device", "check", "origin")  # what a run may leave out entirely
CHECKS = ("value", "gradient", "invalid", "inputs", "robustness", "property:*")
FINDINGS = (Verdict.DIVERGES, *FAULT_VERDICTS)  # what an entry can list
FINDING_WORDS = tuple(str(v) for v in FINDINGS)
OUTCOMES = tuple(str(o) for o in Outcome)
GENERATED_ID = "gen-0123456789"  # what a generated case id looks like (strategies.case_id)

ExpectationsError = LocatedError  # the name this module has always raised

#: How the reason of a torch entry starts when it lists a numerical defect of torch (the only
#: kind of entry torch's file may have: the spec is what torch does, inconsistencies included).
NUMERICAL_DEFECT = "numerical defect of torch"


def is_numerical_defect(reason: str | None) -> bool:
    """Whether a known divergence's reason labels it a numerical defect of torch."""
    return bool(reason) and str(reason).lower().startswith(NUMERICAL_DEFECT)


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

    def only_cases_in(self, left_out: Collection[str], ran: Collection[str]) -> bool:
        """Whether the ``case`` selector matches none of ``ran`` and some of ``left_out``."""
        patterns = self.select.get("case")
        if not patterns:
            return False
        def picked(ids: Collection[str]) -> bool:
            return any(fnmatch.fnmatchcase(i, p) for i in ids for p in patterns)
        return not picked(ran) and picked(left_out)

    def describe(self) -> str:
        """``location: {selector}: reason``, for messages."""
        selector = ", ".join(f"{k}={'|'.join(v)}" for k, v in self.select.items())
        return f"{self.location}: {{{selector}}}: {self.reason}"


def _field_matches(record: Record, key: str, patterns: tuple[str, ...]) -> bool:
    values = list(record.features) if key == "feature" else [str(getattr(record, key))]
    if key == "signature" and record.signature is None:
        return False
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

    def annotate(self, records: Iterable[Record], left_out: Collection[str] = ()) -> Annotated:
        """Sort ``records``, set ``expected_reason`` on the known ones, and classify.

        ``left_out``: ids of spec cases the run did not check (another profile's own spec, or
        cases a selection left out); an entry whose ``case`` selector picks only such cases is
        not judged, one that picks no case of any spec is unmatched."""
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
        ran = {r.case for r in result.records}
        for i, entry in enumerate(self.entries):
            if i in diverging:
                continue
            if i in conforming:
                result.fixed.append(entry)
            elif any(entry.in_scope(scope) for scope in scopes) and \
                    not entry.only_cases_in(left_out, ran):
                result.unmatched.append(entry)
            else:
                result.not_run.append(entry)
        return result


def _sort_key(record: Record) -> tuple[str, ...]:
    return (record.impl, record.dtype, record.device, record.origin, record.case, record.check)


# --- loading ----------------------------------------------------------------------------------


def load_expectations(path: str | Path, implementation: str | None = None, *,
                      missing_ok: bool = True) -> Expectations:
    """Read and check an expectations file; raises ``ExpectationsError`` (``path:line: ...``).

    A missing file means no known divergences unless ``missing_ok`` is false. With
    ``implementation``, a file that names another implementation is an error too.
    """
    path = Path(path)
    if missing_ok and not path.exists():
        return Expectations(implementation=implementation)
    doc = read_yaml(path, "the expectations file")
    loaded = _expectations(doc, path)
    if implementation is not None and loaded.implementation not in (None, implementation):
        raise doc.at(("implementation",), f"this file lists divergences of "
                                          f"{loaded.implementation!r}, not of "
                                          f"{implementation!r}")
    return loaded


def _expectations(doc: YamlDoc, path: Path) -> Expectations:
    if doc.data is None:
        return Expectations(path=path)
    if not isinstance(doc.data, dict):
        raise doc.at((), "expected a mapping with 'implementation' and 'divergences'")
    _no_unknown_keys(doc, (), doc.data, TOP_KEYS, "top-level key")
    implementation = doc.data.get("implementation")
    if implementation is not None and not isinstance(implementation, str):
        raise doc.at(("implementation",), "'implementation' must be a string")
    items = doc.data.get("divergences") or []
    if not isinstance(items, list):
        raise doc.at(("divergences",), "'divergences' must be a list of entries")
    entries = tuple(_entry(doc, ("divergences", index), item) for index, item in enumerate(items))
    return Expectations(implementation=implementation, entries=entries, path=path)


def _entry(doc: YamlDoc, base: NodePath, item: Any) -> Divergence:
    if not isinstance(item, dict):
        raise doc.at(base, "each divergence must be a mapping with 'select', 'reason' and "
                           "optionally 'link'")
    _no_unknown_keys(doc, base, item, ENTRY_KEYS, "key in a divergence")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise doc.at(base, "entry without a reason")
    link = item.get("link")
    if link is not None and (not isinstance(link, str) or not link.strip()):
        raise doc.at((*base, "link"), "'link' must be a non-empty string")
    select = item.get("select")
    if not isinstance(select, dict) or not select:
        raise doc.at((*base, "select"), "entry without a selector ('select' must map some of "
                                        f"{', '.join(SELECT_KEYS)} to globs)")
    where: NodePath = (*base, "select")
    _no_unknown_keys(doc, where, select, SELECT_KEYS, "selector key")
    patterns = {str(key): _patterns(doc, (*where, key), value) for key, value in select.items()}
    for key, known in (("check", CHECKS), ("dtype", ALL_DTYPES), ("verdict", FINDING_WORDS),
                       ("outcome", OUTCOMES)):
        _known_values(doc, (*where, key), patterns.get(key, ()), known)
    _check_signatures(doc, (*where, "signature"), patterns)
    _no_generated_cases(doc, where, patterns)
    return Divergence(select=patterns, reason=" ".join(reason.split()), link=link,
                      location=f"{doc.display}:{doc.line(base)}")


def _check_signatures(doc: YamlDoc, where: NodePath, patterns: dict[str, tuple[str, ...]]) -> None:
    """Each signature pattern reads ``check / verdict / outcome / features`` with known words;
    without a ``check`` key, the signatures' checks are the entry's (for its scope)."""
    for pattern in patterns.get("signature", ()):
        parts = parse(pattern)
        if len(parts) != 4:
            raise doc.at(where, f"selector signature={pattern!r} must read 'check / verdict / "
                                f"outcome / features' (parts separated by {SEPARATOR!r})")
        for name, part, known in zip(("check", "verdict", "outcome"), parts,
                                     (CHECKS, FINDING_WORDS, OUTCOMES), strict=False):
            _known_values(doc, where, (part,), known, f"signature={pattern!r}: its {name}")
    if "signature" in patterns and "check" not in patterns:
        patterns["check"] = tuple(dict.fromkeys(parse(p)[0] for p in patterns["signature"]))


def _no_generated_cases(doc: YamlDoc, where: NodePath,
                        patterns: dict[str, tuple[str, ...]]) -> None:
    """A ``case`` pattern cannot select generated findings: their ids change with every
    shrink, and one glob would cover every cause."""
    cases = patterns.get("case", ())
    generated = [p for p in cases if fnmatch.fnmatchcase(GENERATED_ID, p)]
    if generated:
        raise doc.at((*where, "case"), f"selector case={generated[0]!r} matches generated "
                                       "case ids: select generated findings by 'signature'")
    properties = [p for p in patterns.get("check", ()) if _may_be_property(p)]
    if cases and properties:
        raise doc.at((*where, "case"), f"selector 'case' in an entry for generated checks "
                                       f"({properties[0]}): select them by 'signature' (and "
                                       "spec cases in an entry of their own)")


def _may_be_property(pattern: str) -> bool:
    return pattern.startswith(PROPERTY_PREFIX) or fnmatch.fnmatchcase(f"{PROPERTY_PREFIX}x",
                                                                      pattern)


def _patterns(doc: YamlDoc, where: NodePath, value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int | float) and str(v) for v in values):
        raise doc.at(where, f"selector {where[-1]!r} must be a glob pattern or a list of them")
    return tuple(str(v) for v in values)


def _known_values(doc: YamlDoc, where: NodePath, patterns: tuple[str, ...],
                  known: tuple[str, ...], name: str | None = None) -> None:
    """A pattern that can match no real value is a typo: say so now, not "unmatched" later."""
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(k.replace("*", "x"), pattern) or
                   (k.endswith("*") and pattern.startswith(k[:-1])) for k in known):
            raise doc.at(where, f"selector {name or where[-1]}={pattern!r} matches none of "
                                f"{', '.join(known)}")


def _no_unknown_keys(doc: YamlDoc, base: NodePath, mapping: dict[Any, Any],
                     allowed: tuple[str, ...], what: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise doc.at((*base, str(key)), f"unknown {what} {str(key)!r} (expected one of "
                                            f"{', '.join(allowed)})")


def default_expectations_path(name: str) -> Path:
    """``<repo>/expectations/<name>.yaml`` in a checkout, else the copy packaged with the wheel
    (the file need not exist: a built-in without one has no known divergences)."""
    return packaged_path("expectations", f"{file_stem(name)}.yaml")


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
