"""Render a ``results.json`` document into the report folder: ``matrix.json``, ``matrix.md``,
``divergences.md``, ``matrix.html`` (one self-contained page) and ``accuracy.svg``.

Everything here is a pure function of the document: ordering is sorted, JSON keys are sorted,
and the only timestamps are those in the provenance, so rendering the same document twice gives
the same bytes, which is what ``is_current`` checks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from conformance.report import accuracy, divergences, matrix, plots, versions
from conformance.report import coverage as coverage_report
from conformance.report.matrix import Cell, Column
from conformance.report.values import clip, fmt, number, shorten, summary_text
from conformance.report.versions import Spread
from conformance.results import Record, read_results, write_atomic
from conformance.vocabulary import Severity

PLOT = "accuracy.svg"
FILES = ("divergences.md", "matrix.json", "matrix.md", "matrix.html", PLOT)
_PROVENANCE_KEYS = ("suite_version", "commit", "spec_sha256", "created", "python", "platform",
                    "cpu", "gpus", "frameworks")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


@dataclass(frozen=True)
class Report:
    """Everything the templates show, derived from one document."""

    provenance: list[list[tuple[str, str]]]
    skipped: dict[str, str]
    records: list[Record]
    matrix: matrix.Matrix
    groups: list[divergences.Group]
    accuracy: list[accuracy.Row]
    notes: dict[str, int]  # the Markdown matrix's footnotes: text -> number
    coverage: list[coverage_report.Row] = field(default_factory=list)  # none: not measured
    coverage_infeasible: list[coverage_report.Gap] = field(default_factory=list)
    coverage_unsupported: list[coverage_report.Unsupported] = field(default_factory=list)
    # group anchor -> where the cause occurs among its implementation's versions (only the
    # implementations that ran at several; conformance.report.versions)
    spreads: dict[str, Spread] = field(default_factory=dict)

    def version_text(self, group: divergences.Group) -> str:
        """The versions ``group``'s cause occurs in (and is fixed in), or ``""``."""
        spread = self.spreads.get(group.anchor)
        return spread.text() if spread else ""

    def wrong(self, column: Column) -> list[divergences.Group]:
        """The causes silently wrong on valid input of ``column``'s implementation (of its
        version, when it ran at several)."""
        return [g for g in self.groups if g.impl == column.impl and
                g.severity is Severity.WRONG_ON_VALID and
                (column.versions is None or any(column.holds(r) for r in g.records))]

    def note(self, cell: Cell) -> int | None:
        """The footnote number of ``cell``'s details, if it has any."""
        return self.notes.get(note_text(cell)) if note_text(cell) else None


def build(doc: dict[str, Any]) -> Report:
    """The report model of a ``results.json`` document."""
    records = sorted((Record.from_dict(r) for r in doc.get("records", [])), key=lambda r: r.key)
    skipped = dict(sorted(doc.get("skipped", {}).items()))
    groups = divergences.group(records)
    prov = doc.get("provenance", {})
    table = matrix.build(records, skipped, groups, requested_dtypes(prov))
    texts = [note_text(cell) for row in table.rows for cell in row.cells]
    notes = {text: n for n, text in enumerate(dict.fromkeys(t for t in texts if t), start=1)}
    return Report(provenance_lines(prov), skipped, records, table, groups,
                  accuracy.table(records, table.columns), notes, coverage_report.rows(doc),
                  coverage_report.infeasible(doc), coverage_report.unsupported(doc),
                  versions.spreads(records, groups))


def requested_dtypes(prov: dict[str, Any]) -> set[str] | None:
    """The dtypes the run(s) asked for; ``None`` when a run does not say (or asked for all)."""
    blocks = prov.get("merged", [prov])
    if not blocks or any(not b.get("dtypes") for b in blocks):
        return None
    return {d for b in blocks for d in b["dtypes"]}


def note_text(cell: matrix.Cell) -> str:
    """The details of a cell that its one-line label leaves out ("" for none)."""
    if cell.status == "conforms":
        return cell.detail if "unsupported" in cell.detail else ""
    if cell.status == "diverges":
        known = f" Known: {cell.known_reason}." if cell.known else ""
        return f"{cell.detail}.{known}"
    return "" if cell.detail == matrix.NOT_REQUESTED else cell.detail


def provenance_lines(prov: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """One list of (key, text) per run: the known keys in order, then the others sorted."""
    blocks = prov.get("merged", [prov])
    return [[(k, _text(b[k])) for k in (*_PROVENANCE_KEYS, *sorted(b.keys() - set(
        _PROVENANCE_KEYS))) if k in b] for b in blocks]


def _text(value: Any) -> str:
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return "; ".join(f"{k}: " + ", ".join(f"{p} {v}" for p, v in sorted(d.items()))
                         for k, d in sorted(value.items())) or "-"
    if isinstance(value, str):
        return value
    if value is None or value == []:
        return "-"
    return json.dumps(value, sort_keys=True)


def md(text: Any) -> str:
    """Text safe in a Markdown table cell or paragraph (HTML-escaped, one line)."""
    flat = " ".join(str(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def code(text: Any) -> str:
    """Inline Markdown code, with a fence longer than any backtick run inside."""
    flat = " ".join(str(text).split())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def fence(text: Any, lang: str = "") -> str:
    """A fenced Markdown code block."""
    body = str(text).rstrip("\n")
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    return f"{ticks}{lang}\n{body}\n{ticks}"


def cell_md(cell: matrix.Cell, note: int | None) -> str:
    """A matrix cell in Markdown: its one-line label, a footnote with the details, and a link
    to its divergence group."""
    label = f"**{md(cell.label)}**" if cell.severity is not None else md(cell.label)
    link = f" [→](divergences.md#{cell.anchor})" if cell.anchor else ""
    return label + (f"[^{note}]" if note else "") + link


def float_or_text(value: Any) -> str:
    """A number from ``results.json`` (possibly "inf") in three significant digits."""
    return fmt(number(value))


def expected_text(record: Record) -> str:
    """What the reference gives: a summary, or an exception for invalid input."""
    if record.expected is None and record.check == "invalid":
        return "an exception (invalid input)"
    return summary_text(record.expected)


def example_text(spec: dict[str, Any]) -> str:
    """A reduced example in one line: the call's arguments as torch would be given them."""
    parts = [f"input {_shape_of(spec.get('input'))}", f"target {_brief(spec.get('target'))}"]
    if spec.get("weight") is not None:
        parts.append(f"weight {_brief(spec['weight'])}")
    if spec.get("ignore_index") is not None:
        parts.append(f"ignore_index={spec['ignore_index']}")
    parts.append(f"reduction={spec.get('reduction', 'mean')!r}")
    if spec.get("label_smoothing"):
        parts.append(f"label_smoothing={spec['label_smoothing']}")
    return ", ".join(parts)


def _shape_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(tuple(value.get("shape") or value.get("probabilities") or ()))
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return str(tuple(shape))


def _brief(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else f"{_shape_of(value)} {text[:50]}…"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                            default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters.update(md=md, code=code, fence=fence, fmt=fmt, short=shorten, clip=clip,
                       summary=summary_text,
                       cell_md=cell_md, note_text=note_text, float_or_text=float_or_text,
                       expected_text=expected_text, example_text=example_text)
    return env


def rendered(doc: dict[str, Any]) -> dict[str, str]:
    """File name -> content of every rendered file."""
    report = build(doc)
    svg = plots.accuracy_svg(report.accuracy)
    env = _environment()
    context = {"r": report, "zip": zip, "checks": accuracy.CHECKS, "plot": PLOT,
               "headings": accuracy.HEADINGS}
    return {
        "divergences.md": env.get_template("divergences.md.j2").render(context),
        "matrix.json": json.dumps(matrix_json(report), indent=1, sort_keys=True,
                                  allow_nan=False) + "\n",
        "matrix.md": env.get_template("matrix.md.j2").render(context),
        "matrix.html": env.get_template("matrix.html.j2").render(context, svg=Markup(svg)),
        PLOT: svg,
    }


def matrix_json(report: Report) -> dict[str, Any]:
    """The matrix, the accuracy table and the divergence groups as plain JSON."""
    m = report.matrix
    return {
        "source": "results.json",
        "columns": [{"label": c.label, "impl": c.impl, "device": c.device,
                     "summary": s.text, "counts": {k: s.counts[k] for k in matrix.STATUSES},
                     "causes": {str(sev): {"new": new, "known": known}
                                for sev, (new, known) in s.causes.items()}}
                    for c, s in zip(m.columns, m.summaries, strict=True)],
        "rows": [{"feature": row.feature, "title": row.title,
                  "cells": {c.label: cell.as_dict()
                            for c, cell in zip(m.columns, row.cells, strict=True)}}
                 for row in m.rows],
        "accuracy": [row.as_dict() for row in report.accuracy],
        "divergences": [{"anchor": g.anchor, "impl": g.impl, "check": g.check,
                         "severity": g.severity, "headline": g.headline,
                         "cause": g.cause, "outcome": g.outcome or None,
                         "known": g.known, "expected_reason": g.expected_reason,
                         "examples": len(g.records), "minimal_case": g.minimal.case,
                         "trigger": g.trigger, "diagnosed": g.diagnosed,
                         **_versions_json(report.spreads.get(g.anchor))}
                        for g in report.groups],
        "skipped": report.skipped,
    }


def _versions_json(spread: Spread | None) -> dict[str, Any]:
    """A divergence's ``versions`` entry in ``matrix.json`` (none for an implementation that
    ran at one set of versions, so such a report reads as it always did)."""
    if spread is None:
        return {}
    def names(found: tuple[versions.Versions, ...]) -> list[dict[str, str]]:
        return [dict(v) for v in found]
    fixed, new = spread.fixed_in, spread.new_in
    return {"versions": {"frameworks": list(spread.frameworks), "occurs": names(spread.occurs),
                         "without": names(spread.without),
                         "not_measured": names(spread.unmeasured),
                         "fixed_in": fixed, "new_in": new, "text": spread.text()}}


def render_report(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write every rendered file into ``out_dir`` (each atomically); return their paths."""
    paths = []
    for name, text in sorted(rendered(doc).items()):
        write_atomic(out_dir / name, text)
        paths.append(out_dir / name)
    return paths


def is_current(out_dir: Path, *, strict_plots: bool = False) -> list[str]:
    """The rendered files in ``out_dir`` that differ from re-rendering its ``results.json``
    (missing ones included); empty when the folder is current.

    The drawing in the plot depends on the matplotlib version, so by default the SVG (also the
    one inside ``matrix.html``) is compared for presence only; ``strict_plots`` compares bytes.
    """
    stale = []
    for name, text in sorted(rendered(read_results(out_dir / "results.json")).items()):
        path = out_dir / name
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old is None or _comparable(name, old, strict_plots) != \
                _comparable(name, text, strict_plots):
            stale.append(name)
    return stale


def _comparable(name: str, text: str, strict_plots: bool) -> str:
    if strict_plots:
        return text
    if name.endswith(".svg"):
        return ""
    return _SVG.sub("<svg/>", text) if name.endswith(".html") else text
