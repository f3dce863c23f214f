"""Features a case exercises: the rows of the compatibility matrix, derived from the case itself."""

from __future__ import annotations

import numpy as np

from conformance.case import Case

# Matrix rows, in display order, with their titles.
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
}


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
