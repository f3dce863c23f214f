"""Result records: one per (case, check, implementation, dtype, device). ``results.json`` holds
them with the run's provenance; everything a report shows is derived from these records."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conformance.severity import severity_of
from conformance.signature import signature_of
from conformance.vocabulary import Origin, Outcome, Severity, Verdict
from implementations.base import Array

SCHEMA_VERSION = 1
SUMMARY_LIMIT = 16  # values kept of an array in a record
DERIVED = ("severity", "signature")  # written into results.json, never read back


@dataclass
class Record:
    """What one check of one case on one implementation found."""

    case: str
    impl: str
    dtype: str
    device: str
    check: str  # a ``conformance.vocabulary.Check`` or ``property:<name>``
    verdict: Verdict
    features: list[str] = field(default_factory=list)
    reason: str | None = None  # why unsupported, or what diverges
    expected_reason: str | None = None  # from the expectations file, when this is known
    error: dict[str, Any] | None = None  # measured error (see tolerance.Comparison)
    expected: dict[str, Any] | None = None  # summary of the reference's value
    actual: dict[str, Any] | None = None  # summary of the implementation's value
    outcome: Outcome | None = None
    exception: str | None = None  # "IndexError: Target 4 is out of bounds."
    seed: int | None = None
    origin: Origin = Origin.SPEC
    case_spec: dict[str, Any] | None = None
    repro: str | None = None
    location: str | None = None
    convention: str | None = None  # the named alternative the outcome matches at an edge
    diagnosis: dict[str, Any] | None = None  # the finding's cause (conformance.diagnosis)
    # the versions of the frameworks that produced it, {"keras": "3.13.2", ...}: copied from
    # its run's provenance by ``report --merge`` (conformance.report.versions); a run's own
    # records leave it out (its provenance says it once)
    versions: dict[str, str] | None = None

    def carry_measurements(self, other: Record) -> None:
        """Take ``other``'s measured outcome (a property's record quotes its shrunk example's)."""
        self.error, self.expected, self.actual = other.error, other.expected, other.actual
        self.outcome, self.exception = other.outcome, other.exception
        self.convention = other.convention

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """Identity of the record within a run, or among merged runs of several versions."""
        versions = ", ".join(f"{k} {v}" for k, v in sorted((self.versions or {}).items()))
        return (self.case, self.check, self.impl, self.dtype, self.device, versions)

    @property
    def severity(self) -> Severity | None:
        """How bad this finding is (``conformance.severity``); ``None`` for no finding."""
        return severity_of(self)

    @property
    def signature(self) -> str | None:
        """The finding's cause, ``check / verdict / outcome / features``
        (``conformance.signature``); ``None`` for no finding."""
        return signature_of(self)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form, with the derived ``severity`` (for readers of ``results.json``)."""
        data = _jsonable(asdict(self))
        if data["versions"] is None:  # a single run's records: as before versions were kept
            del data["versions"]
        data["severity"] = self.severity
        data["signature"] = self.signature
        return data  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of ``as_dict``: the words become ``conformance.vocabulary`` members again
        (``severity`` and ``signature`` are derived, so they are recomputed rather than read)."""
        record = cls(**{k: v for k, v in data.items() if k not in DERIVED})
        record.verdict = Verdict(record.verdict)
        record.origin = Origin(record.origin)
        record.outcome = None if record.outcome is None else Outcome(record.outcome)
        return record


def summarize(value: Array | None) -> dict[str, Any] | None:
    """A JSON summary of an array: shape, dtype, the first values, and counts of non-finite."""
    if value is None:
        return None
    a = np.asarray(value)
    flat = a.astype(np.float64).reshape(-1)
    summary: dict[str, Any] = {
        "shape": list(a.shape),
        "dtype": str(a.dtype),
        "values": [_num(v) for v in flat[:SUMMARY_LIMIT]],
    }
    if flat.size > SUMMARY_LIMIT:
        summary["truncated"] = True
    if flat.size:
        finite = flat[np.isfinite(flat)]
        summary["nan"] = int(np.isnan(flat).sum())
        summary["inf"] = int(np.isinf(flat).sum())
        if finite.size:
            summary["min"], summary["max"] = _num(finite.min()), _num(finite.max())
    return summary


def _num(v: Any) -> Any:
    f = float(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == 0.0 and math.copysign(1.0, f) < 0:
        return "-0.0"
    return f


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return _num(obj)
    return obj


def document(records: list[Record], provenance: dict[str, Any],
             skipped: dict[str, str] | None = None,
             coverage: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``results.json`` document: provenance, skipped implementations, records, and (from a
    run with covering cases) the coverage tables (``conformance.coverage.Table.as_dict``)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "provenance": provenance,
        "skipped": dict(skipped or {}),
        "records": [r.as_dict() for r in records],
    }
    if coverage:
        doc["coverage"] = coverage
    return doc


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_results(path: Path, doc: dict[str, Any]) -> None:
    """Write ``results.json`` atomically."""
    write_atomic(path, json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n")


def read_results(path: Path) -> dict[str, Any]:
    """Read a ``results.json`` document (records stay plain dictionaries)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
