"""Features a case exercises: the rows of the compatibility matrix, derived from the case itself."""

from __future__ import annotations

import numpy as np

from conformance.case import Case
from conformance.vocabulary import FEATURES

__all__ = ["FEATURES", "features_of"]

def features_of(case: Case, dtype: str = "float64", check: str = "value") -> list[str]:
    """The matrix rows a check of ``case`` counts towards."""
    if case.invalid or check == "invalid":
        return ["invalid-input", f"dtype-{dtype}"]
    found = [case.target_kind]
    ignores = case.target_kind == "indices" and bool(np.any(case.target == case.ignore_index))
    smooth = case.label_smoothing > 0
    if case.weight is not None:
        found.append("weight")
    if ignores:
        found.append("ignore-index")
    if smooth:
        found.append("label-smoothing")
    if smooth and ignores and case.weight is not None:
        found.append("smoothing+weight+ignore-index")
    if case.reduction in ("none", "mean", "sum"):
        found.append(f"reduction-{case.reduction}")
    found += _shape_features(case, ignores)
    found.append(f"dtype-{dtype}")
    if check == "gradient":
        found.append("gradients")
    return found


def _shape_features(case: Case, ignores: bool) -> list[str]:
    found = []
    if case.input.ndim > 2:
        found.append("k-dim")
    if case.input.ndim == 1:
        found.append("no-batch")
    if case.input.size == 0:
        found.append("empty")
    if ignores and np.all(case.target == case.ignore_index) and case.target.size:
        found.append("all-ignored")
    return found
