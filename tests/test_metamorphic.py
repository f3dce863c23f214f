"""Meta tests of the metamorphic relations: each one catches an implementation built to break it
(``tests/helpers/wrong_relations.py``), and the reference satisfies each on the same examples.

Only the named relation runs (``run_properties(..., only=[relation])``); the ci profile is
derandomized, so the examples, and so the verdicts, are the same every run.
"""

from __future__ import annotations

import pytest

from conformance.metamorphic import __doc__ as RELATIONS_DOC
from conformance.properties import property_names, run_properties
from implementations.reference import ReferenceImplementation
from tests.helpers.wrong_relations import WRONG

EXAMPLES = 30  # per relation: what the ci profile can afford (it runs 10 by default)
RELATIONS = [n for n in property_names() if n != "differential" and not n.startswith("invalid-")]


def _relations() -> list[str]:
    return sorted(WRONG)


def _hint(impl: str, relation: str) -> str:
    return (f"reproduce: conformance.properties.run_properties({impl}, only=[{relation!r}], "
            f"max_examples={EXAMPLES})")


def test_every_relation_has_a_wrong_implementation() -> None:
    """A relation added to ``conformance.metamorphic`` needs its own wrong implementation."""
    assert sorted(WRONG) == sorted(RELATIONS), (
        f"property_names() lists relations {RELATIONS}; tests/helpers/wrong_relations.py "
        f"breaks {sorted(WRONG)}")
    assert all(f"``{name}``" in (RELATIONS_DOC or "") for name in RELATIONS)


@pytest.mark.parametrize("relation", _relations())
def test_wrong_implementation_is_caught_by_its_relation(relation: str) -> None:
    """``run_properties(wrong, only=[relation])`` gives ``diverges`` records for it (one per
    distinct cause)."""
    wrong = WRONG[relation]()
    records = run_properties(wrong, only=[relation], max_examples=EXAMPLES)
    hint = _hint(f"tests.helpers.wrong_relations.{type(wrong).__name__}()", relation)
    assert records, hint
    for record in records:  # one per distinct cause
        assert record.check == f"property:{relation}", f"{records}; {hint}"
        assert record.verdict == "diverges", (
            f"run_properties({wrong.name}, only=[{relation!r}]) gave {record.verdict}: "
            f"{record.reason}; {hint}")
        assert record.case_spec is not None, f"no shrunk case in {record}; {hint}"
        assert record.repro, f"no repro snippet in {record}; {hint}"


@pytest.mark.parametrize("relation", sorted(WRONG))
def test_reference_satisfies_the_relation(relation: str) -> None:
    """The same search finds nothing wrong with the reference."""
    (record,) = run_properties(ReferenceImplementation(), only=[relation],
                               max_examples=EXAMPLES)
    assert record.verdict == "conforms", (
        f"run_properties(reference, only=[{relation!r}]) gave {record.verdict}: "
        f"{record.reason}\n{record.repro}\n{_hint('ReferenceImplementation()', relation)}")
