"""The words results are made of: checks, verdicts, outcomes, severities (with their marks and
short words), origins, invalid-input kinds and features. Every module that writes or reads a
record takes its words from here, and ``tests/test_vocabulary.py`` holds them equal to the JSON
schemas (``conformance/results.schema.json``, ``spec/schema.json``).

The enumerations are ``StrEnum``: a member *is* its string, so records compare, sort, hash and
serialize as plain text, and a record read back from ``results.json`` turns into members again.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "FAULT_VERDICTS",
    "FEATURES",
    "INVALID_GENERATORS",
    "INVALID_KINDS",
    "PROPERTY_PREFIX",
    "SEVERITY_MARKS",
    "SEVERITY_WORDS",
    "Check",
    "InvalidKind",
    "Origin",
    "Outcome",
    "Severity",
    "Verdict",
    "is_check",
    "property_check",
]


class Verdict(StrEnum):
    """What a check concluded about an implementation."""

    CONFORMS = "conforms"
    DIVERGES = "diverges"
    UNSUPPORTED = "unsupported"  # the implementation declares it cannot express the call
    NOT_RUN = "not-run"
    CRASHED = "crashed"  # its worker process died during the check
    TIMED_OUT = "timed-out"  # the call ran past its time limit; its worker was killed
    OUT_OF_MEMORY = "out-of-memory"  # the call ran past the worker's memory limit


FAULT_VERDICTS = (Verdict.CRASHED, Verdict.TIMED_OUT, Verdict.OUT_OF_MEMORY)


class Outcome(StrEnum):
    """What the implementation did on the call a record is about."""

    VALUE = "value"  # returned a value (compared with the reference)
    RAISES = "raises"
    NAN = "nan"  # returned NaN/inf for an invalid call
    SILENT = "silent"  # returned a finite number for an invalid call
    BAD_RETURN = "bad-return"  # returned something that is not a numeric array
    WRITES_INPUT = "writes-input"  # wrote into an array it was given
    CRASH = "crash"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out-of-memory"
    WRONG_DTYPE = "wrong-dtype"  # returned an array of another dtype than the one asked for
    LESS_ACCURATE = "less-accurate"  # within the bound, but far less accurate than torch
    SHARES_TORCH = "shares-torch"  # torch's own (diverging) output: a defect of torch, shared
    LOWER_PRECISION = "lower-precision"  # within the bound of a lower dtype than requested


class Severity(StrEnum):
    """How bad a finding is, most severe first (``conformance.severity`` derives it from what
    happened; it is never written by hand). Declaration order is the ranking."""

    WRONG_ON_VALID = "wrong on valid input"  # a silently wrong value or gradient
    WRITES_INPUT = "writes into its input"
    ACCEPTS_INVALID = "silently accepts invalid input"
    CRASH = "crash or timeout"
    REJECTS_VALID = "rejects valid input"
    ACCURACY = "accuracy"  # conforms, but 32x or more less accurate than torch
    CONVENTION = "convention"  # a named alternative at an edge (0 vs NaN for an empty mean)

    @property
    def rank(self) -> int:
        """0 for the most severe."""
        return list(Severity).index(self)


#: A one-character mark per severity, for matrix cells and terminals.
SEVERITY_MARKS: dict[Severity, str] = {
    Severity.WRONG_ON_VALID: "✗",
    Severity.WRITES_INPUT: "✗",
    Severity.ACCEPTS_INVALID: "!",
    Severity.CRASH: "✗",
    Severity.REJECTS_VALID: "!",
    Severity.ACCURACY: "≈",
    Severity.CONVENTION: "~",
}
#: A short word per severity, for matrix cells.
SEVERITY_WORDS: dict[Severity, str] = {
    Severity.WRONG_ON_VALID: "wrong",
    Severity.WRITES_INPUT: "writes input",
    Severity.ACCEPTS_INVALID: "accepts invalid",
    Severity.CRASH: "crash",
    Severity.REJECTS_VALID: "rejects valid",
    Severity.ACCURACY: "less accurate",
    Severity.CONVENTION: "convention",
}


class Origin(StrEnum):
    """Where a record's case came from."""

    SPEC = "spec"
    GENERATED = "generated"
    COVERING = "covering"  # a row of the t-wise covering array (``conformance.coverage``)


class Check(StrEnum):
    """The checks of a spec case (generated properties are ``property:<name>``)."""

    VALUE = "value"
    GRADIENT = "gradient"
    INVALID = "invalid"
    INPUTS = "inputs"  # the arrays handed to the implementation stay unchanged
    ROBUSTNESS = "robustness"  # no call crashed, hung, ran out of memory or returned garbage


PROPERTY_PREFIX = "property:"


def property_check(name: str) -> str:
    """The check name of generated property ``name``."""
    return f"{PROPERTY_PREFIX}{name}"


def is_check(name: str) -> bool:
    """Whether ``name`` is a check a record can carry."""
    return name in Check.__members__.values() or (
        name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX))


class InvalidKind(StrEnum):
    """Kinds of invalid input: ``expect.error`` in the spec (``spec/schema.json``), and what each
    invalid-input generator makes (``INVALID_GENERATORS``)."""

    TARGET_OUT_OF_RANGE = "target-out-of-range"
    SHAPE_MISMATCH = "shape-mismatch"
    WEIGHT_SHAPE = "weight-shape"
    IGNORE_INDEX_WITH_PROBABILITIES = "ignore-index-with-probabilities"
    LABEL_SMOOTHING_RANGE = "label-smoothing-range"
    TARGET_DTYPE = "target-dtype"
    REDUCTION = "reduction"
    INPUT_DTYPE = "input-dtype"


INVALID_KINDS: tuple[InvalidKind, ...] = tuple(InvalidKind)

#: The invalid-input generators (``conformance.strategies.invalid_cases``; their properties are
#: ``property:invalid-<generator>``, and a generated case's ``expect.error`` is the generator's
#: name), in their order, each with the kind of invalid input it makes.
INVALID_GENERATORS: dict[str, InvalidKind] = {
    "target-out-of-range": InvalidKind.TARGET_OUT_OF_RANGE,
    "negative-target": InvalidKind.TARGET_OUT_OF_RANGE,
    "ignore-index-with-probabilities": InvalidKind.IGNORE_INDEX_WITH_PROBABILITIES,
    "label-smoothing-above-one": InvalidKind.LABEL_SMOOTHING_RANGE,
    "weight-wrong-length": InvalidKind.WEIGHT_SHAPE,
    "shape-mismatch": InvalidKind.SHAPE_MISMATCH,
}

#: Matrix rows, in display order, with their titles.
FEATURES: dict[str, str] = {
    "indices": "class-index targets",
    "probabilities": "class-probability targets",
    "weight": "weight",
    "ignore-index": "ignore_index",
    "label-smoothing": "label_smoothing",
    "smoothing+weight+ignore-index": "label_smoothing + weight + ignore_index",
    "reduction-none": "reduction='none'",
    "reduction-mean": "reduction='mean'",
    "reduction-sum": "reduction='sum'",
    "k-dim": "K-dim input (N, C, d1, ...)",
    "no-batch": "no-batch input (C,)",
    "empty": "empty tensors",
    "all-ignored": "all targets ignored",
    "dtype-float16": "float16",
    "dtype-bfloat16": "bfloat16",
    "dtype-float32": "float32",
    "dtype-float64": "float64",
    "gradients": "gradients",
    "invalid-input": "invalid-input handling",
    "inputs-unchanged": "leaves its inputs unchanged",
    "robustness": "no crash, no hang, arrays returned",
}
