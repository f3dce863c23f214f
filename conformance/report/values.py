"""Small formatting helpers shared by the report modules: numbers as ``results.json`` writes
them (non-finite ones as strings), short text, and array summaries in one line."""

from __future__ import annotations

import math
from typing import Any


def number(value: Any) -> float | None:
    """A float from a JSON number or one of the strings "nan", "inf", "-inf", "-0.0"."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt(value: float | None) -> str:
    """Three significant digits; ``inf`` and ``nan`` spelled out; ``-`` for nothing."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3g}"


def jsonable(value: float | None) -> float | str | None:
    """A float for ``json.dumps(allow_nan=False)``: non-finite ones become strings."""
    if value is None or math.isfinite(value):
        return value
    return fmt(value)


def shorten(text: str | None, limit: int = 90) -> str:
    """One line of at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def clip(text: str | None, limit: int = 90) -> str:
    """One line of at most ``limit`` characters, cut at a word boundary (an ellipsis marks
    the cut), so that no word is ever shown in part."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    head = flat[: limit - 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:") + "…"


def summary_text(summary: dict[str, Any] | None) -> str:
    """``float32 [3]: [0.1, 0.2, 0.3]`` (with an ellipsis when truncated and NaN/inf counts)."""
    if not summary:
        return "-"
    values = ", ".join(_value(v) for v in summary.get("values", []))
    more = ", …" if summary.get("truncated") else ""
    text = f"{summary.get('dtype', '?')} {summary.get('shape', [])}: [{values}{more}]"
    counts = [f"{summary[k]} {k}" for k in ("nan", "inf") if summary.get(k)]
    return text + (f" ({', '.join(counts)})" if counts else "")


def _value(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)
