"""Reports rendered from ``results.json``, the source of truth.

``render_report(doc, out_dir)`` writes the compatibility matrix (``matrix.json``,
``matrix.md``, ``matrix.html``), the divergences grouped by cause (``divergences.md``, also a
section of the HTML page) and the accuracy plot (``accuracy.svg``, inlined in the HTML page);
``merge(docs)`` combines the documents of separate runs; ``is_current(out_dir)`` lists the
files of a report folder that re-rendering its ``results.json`` would change.

The pipeline is data first: records -> divergence groups (``divergences``) -> matrix cells
(``matrix``) and ULP statistics (``accuracy``) -> templates (``render``, ``templates/``) and
the plot (``plots``). Nothing reads anything but the document, and nothing writes a timestamp.
"""

from conformance.report.merge import MergeError, merge, problems
from conformance.report.render import FILES, is_current, render_report, rendered

__all__ = ["FILES", "MergeError", "is_current", "merge", "problems", "render_report",
           "rendered"]
