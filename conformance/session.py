"""One conformance run: choose implementations, run the spec on each dtype and device, collect.

This is the main job behind ``ce-conformance run``; the report and the gate read its records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import implementations
from conformance.case import Case
from conformance.results import Record
from conformance.runner import Runner
from implementations.base import Implementation, NotInstalledError

Progress = Callable[[str, Record], None]


@dataclass
class Skipped:
    """An implementation that could not run, and why."""

    impl: str
    reason: str


@dataclass
class Selection:
    """The implementations of a run: those loaded and those skipped with a reason."""

    loaded: list[Implementation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def select(names: Sequence[str] | None) -> Selection:
    """Load ``names`` (default: every known implementation); missing frameworks are skipped.

    An unknown name raises ``UnknownImplementationError``: that is the user's mistake.
    """
    selection = Selection()
    for name in names or implementations.known_names():
        try:
            impl = implementations.load(name)
        except NotInstalledError as exc:
            selection.skipped.append(Skipped(name, str(exc)))
            continue
        reason = getattr(impl, "available", lambda: None)()
        if reason:
            selection.skipped.append(Skipped(name, reason))
        else:
            selection.loaded.append(impl)
    return selection


def run_spec(impls: Iterable[Implementation], cases: Sequence[Case], dtypes: Sequence[str],
             devices: Sequence[str], *, gradients: bool = True,
             progress: Progress | None = None) -> list[Record]:
    """Every spec case on every implementation, dtype and device."""
    runner = Runner(gradients=gradients)
    records: list[Record] = []
    for impl in impls:
        for dtype in dtypes:
            for device in devices:
                for case in cases:
                    for record in runner.run_case(impl, case, dtype, device):
                        records.append(record)
                        if progress:
                            progress(impl.name, record)
    return records
