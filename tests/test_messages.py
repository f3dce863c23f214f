"""What a diverging record says: every figure from one element, ULPs only where they mean
something; and a stratum an implementation refuses outright costs one probe, not a search."""

from __future__ import annotations

import math

from hypothesis import find

from conformance.context import too_far
from conformance.properties import PROFILES, _stratum
from conformance.tolerance import Comparison
from implementations.base import Call


def test_an_error_where_the_reference_is_zero_gives_no_ulps() -> None:
    cmp = Comparison(False, 1.0, math.inf, 4.49e307, 2.23e-308, None, 4.49e307)
    reason = too_far(cmp)
    assert reason == "off by 1 where the reference is exactly 0 (allowed 2.23e-308)"


def test_ulps_are_left_out_past_the_size_of_the_value() -> None:
    assert "ULP" not in too_far(Comparison(False, 1.0, 1e300, 1e300, 1e-308, None, 1e300))
    reason = too_far(Comparison(False, 3e-6, 2e-6, 24.0, 1e-6, None, 3.0))
    assert reason == ("off by 3e-06 (24 ULP at the problem's scale, relative 2e-06); allowed "
                      "1e-06 there (3 times the bound)")


class _NoWeights:
    name = "no-weights"

    def supports(self, call: Call) -> str | None:
        return "no class weights" if call.has_weight else None


def test_a_refused_stratum_is_one_probe() -> None:
    profile = PROFILES["ci"]
    refused = find(_stratum(_NoWeights(), profile, "float64", "cpu", False, True, "sum"),
                   lambda _: True)
    assert refused.id == "stratum-probe-sum"
    assert refused.weight is not None
    drawn = find(_stratum(_NoWeights(), profile, "float64", "cpu", False, False, "sum"),
                 lambda _: True)
    assert drawn.id != "stratum-probe-sum"
