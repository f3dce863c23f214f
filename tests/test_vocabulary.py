"""The JSON schemas hold exactly ``conformance.vocabulary``'s words: a word added, renamed or
removed on one side fails here (the promise of ``conformance/vocabulary.py``'s docstring)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance import strategies
from conformance.vocabulary import (
    INVALID_GENERATORS,
    SEVERITY_MARKS,
    SEVERITY_WORDS,
    Check,
    InvalidKind,
    Origin,
    Outcome,
    Severity,
    Verdict,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = json.loads((ROOT / "conformance" / "results.schema.json").read_text(encoding="utf-8"))
SPEC = json.loads((ROOT / "spec" / "schema.json").read_text(encoding="utf-8"))
RECORD = RESULTS["$defs"]["record"]["properties"]


def _words(enum: list[Any]) -> list[str]:
    return [word for word in enum if word is not None]


@pytest.mark.parametrize(("field", "words"), [
    ("verdict", list(Verdict)), ("outcome", list(Outcome)), ("origin", list(Origin)),
    ("severity", list(Severity)),
])
def test_results_schema_enumerates_the_vocabulary(field: str, words: list[str]) -> None:
    assert _words(RECORD[field]["enum"]) == words, f"results.schema.json's {field}"


def test_results_schema_checks_are_the_vocabulary_s() -> None:
    pattern = re.fullmatch(r"\^\((.*)\|property:\.\+\)\$", RECORD["check"]["pattern"])
    assert pattern is not None
    assert pattern.group(1).split("|") == list(Check)


def test_the_spec_schema_enumerates_the_invalid_kinds() -> None:
    assert SPEC["$defs"]["error"]["enum"] == list(InvalidKind)


def test_conventions_use_vocabulary_words() -> None:
    convention = SPEC["$defs"]["convention"]["properties"]
    assert set(convention["outcome"]["enum"]) <= set(Outcome)
    assert set(convention["checks"]["items"]["enum"]) <= set(Check)


def test_severity_marks_and_words_cover_every_severity() -> None:
    assert list(SEVERITY_MARKS) == list(Severity) == list(SEVERITY_WORDS)


def test_the_generators_are_the_vocabulary_s() -> None:
    assert tuple(INVALID_GENERATORS) == strategies.INVALID_KINDS
