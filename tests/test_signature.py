"""The cause signature of a finding (``conformance.signature``): what it keeps, what it drops,
which examples a known cause covers, and that it survives ``results.json``."""

from __future__ import annotations

import math

import jsonschema
import numpy as np

from conformance.report.merge import schema
from conformance.results import Record
from conformance.signature import Cause, cause_of, value_traits
from conformance.strategies import make_case
from conformance.vocabulary import Outcome, Verdict


def _record(features: list[str], verdict: Verdict = Verdict.DIVERGES,
            input: list[float] | None = None, weight: list[float] | None = None) -> Record:
    case = make_case(np.asarray([input or [1.0, 2.0]]), np.asarray([0]),
                     None if weight is None else np.asarray(weight))
    return Record(case=case.id, impl="x", dtype="float32", device="cpu",
                  check="property:differential", verdict=verdict, features=features,
                  reason="off", outcome=Outcome.VALUE, case_spec=case.to_spec())


def test_the_signature_keeps_the_cause_and_drops_the_incidental() -> None:
    record = _record(["indices", "weight", "ignore-index", "label-smoothing",
                      "smoothing+weight+ignore-index", "reduction-mean", "dtype-float32"])
    assert record.signature == ("property:differential / diverges / value / "
                                "indices,weight,ignore-index,label-smoothing,reduction-mean")
    assert _record(["indices"], Verdict.CONFORMS).signature is None
    nan = _record(["indices", "reduction-sum"], input=[math.nan, 1e6], weight=[0.0, -1.0])
    assert nan.signature == ("property:differential / diverges / value / indices,reduction-sum,"
                             "logits-nan,logits-large,weight-zero,weight-negative")


def test_value_traits_name_each_hostile_value() -> None:
    assert value_traits([[1.0, 2.0]]) == []
    assert value_traits([[math.inf, -math.inf, 1e-40]]) == ["logits-inf", "logits-neg-inf",
                                                            "logits-subnormal"]
    assert value_traits([[0.0, 1e4]], [1.0, 0.0]) == ["logits-large", "weight-zero"]
    assert value_traits([[0.0, 1.0]], None, [[5e-324, 1.0]]) == ["target-subnormal"]
    assert value_traits([[0.0, 1.0]], None, [3]) == []  # class indices


def test_a_cause_covers_its_examples_and_no_other() -> None:
    padding = Cause("property:shift", "diverges", "raises", ("indices", "ignore-index",
                                                             "reduction-mean"))
    bigger = Cause("property:shift", "diverges", "raises",
                   ("indices", "weight", "ignore-index", "reduction-sum", "k-dim"))
    assert padding.covers(bigger)  # an unshrunk example: extra features, another reduction
    assert not bigger.covers(padding)  # it needs a weight, a sum and K dims
    assert not padding.covers(Cause("property:shift", "diverges", "raises",
                                    ("probabilities", "reduction-mean")))
    assert not padding.covers(Cause("property:shift", "diverges", "value", bigger.features))
    assert not padding.covers(Cause("property:gradient", "diverges", "raises",
                                    bigger.features))


def test_results_json_stores_the_signature_and_reads_it_back_derived() -> None:
    record = _record(["indices", "reduction-mean"], input=[math.nan, 0.0])
    data = record.as_dict()
    assert data["signature"] == record.signature
    assert data["case_spec"]["input"] == [["nan", 0.0]]  # as results.json writes it
    back = Record.from_dict({**data, "signature": "stale"})
    assert back.signature == record.signature
    assert cause_of(back) == cause_of(record)
    doc = {"schema_version": 1, "skipped": {}, "records": [data],
           "provenance": {"suite_version": "0", "commit": None, "spec_sha256": "", "created": "",
                          "python": "", "platform": ""}}
    jsonschema.Draft202012Validator(schema()).validate(doc)
