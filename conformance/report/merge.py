"""Merging several ``results.json`` documents (one nox session per backend, a CPU machine and
a GPU machine) into one, and checking a document against ``conformance/results.schema.json``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from conformance.report.versions import stamped

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "results.schema.json"


class MergeError(ValueError):
    """Documents that cannot be merged (different schema versions)."""


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``results.json``."""
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def problems(doc: Any) -> list[str]:
    """Why ``doc`` is not a valid ``results.json`` document (empty when it is)."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One document: records (and coverage tables) concatenated and de-duplicated by key (the
    later one wins); provenance ``{"merged": [...]}``; an implementation that ran in any
    document is not skipped. Each record keeps the versions of the frameworks that produced it
    (from its own document's provenance, ``conformance.report.versions.stamped``), and they are
    part of its key: one implementation at two versions keeps both runs' records."""
    versions = sorted({doc.get("schema_version") for doc in docs}, key=str)
    if len(versions) > 1:
        raise MergeError(f"cannot merge results of schema versions {versions}")
    records: dict[tuple[Any, ...], dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    provenance: list[dict[str, Any]] = []
    coverage: dict[tuple[Any, ...], dict[str, Any]] = {}
    for doc in docs:
        for record in stamped(doc):
            records[_key(record)] = record
        for table in doc.get("coverage", []):
            coverage[tuple(table.get(k) for k in ("impl", "dtype", "device"))] = table
        skipped.update(doc.get("skipped", {}))
        prov = doc.get("provenance", {})
        provenance += prov.get("merged", [prov])
    ran = {record["impl"] for record in records.values()}
    merged = {
        "schema_version": versions[0] if versions else 1,
        "provenance": {"merged": provenance},
        "skipped": {impl: reason for impl, reason in sorted(skipped.items()) if impl not in ran},
        "records": list(records.values()),
    }
    if coverage:
        merged["coverage"] = list(coverage.values())
    return merged


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    versions = tuple(sorted((record.get("versions") or {}).items()))
    return (*(record.get(k) for k in ("case", "check", "impl", "dtype", "device")), versions)
