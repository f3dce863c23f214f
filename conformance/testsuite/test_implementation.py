"""One test per (case, check, dtype, device) of the spec and per (property, dtype, device);
parametrized by ``conformance.pytest_plugin``."""

from __future__ import annotations

import pytest

from conformance.pytest_plugin import (
    PropertyItem,
    SpecItem,
    check_property_item,
    check_spec_item,
)

pytestmark = pytest.mark.ce_conformance


def test_spec(request: pytest.FixtureRequest, ce_spec_item: SpecItem) -> None:
    """The implementation agrees with torch on one check of one spec case."""
    check_spec_item(request, ce_spec_item)


def test_property(request: pytest.FixtureRequest, ce_property_item: PropertyItem) -> None:
    """A generated property (Hypothesis) holds for the implementation."""
    check_property_item(request, ce_property_item)
