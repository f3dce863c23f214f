"""The checks of a spec case, one module each, discovered rather than listed.

A check is an object with a ``name``, an ``order`` (records of a case come out in this order),
``applies(case, context) -> bool`` and ``run(context, case) -> Record``; each module of this
package exports one as ``CHECK``. ``conformance.runner.Runner`` iterates them, so a new check is
one new file here. The ``context`` (``conformance.context.Context``) holds the implementation,
dtype and device, evaluates the reference once per case, calls the implementation (in its
worker) and builds the records.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.context import Context
    from conformance.results import Record


class CaseCheck(Protocol):
    """One check of one case on one implementation."""

    name: str
    order: int

    def applies(self, case: Case, context: Context) -> bool:
        """Whether this check runs on ``case`` (e.g. gradients only for valid cases)."""

    def run(self, context: Context, case: Case) -> Record:
        """Judge ``case`` on ``context``'s implementation."""


@cache
def discover() -> tuple[CaseCheck, ...]:
    """Every ``CHECK`` of this package's modules, in ``order``."""
    found = [importlib.import_module(f"{__name__}.{info.name}").CHECK
             for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    return tuple(sorted(found, key=lambda check: check.order))
