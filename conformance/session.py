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
             progress: Progress | None = None, profile: str | None = None,
             seed: int | None = None) -> list[Record]:
    """Every spec case on every implementation, dtype and device; with ``profile``, also the
    generated properties of ``conformance.properties`` in that profile."""
    runner = Runner(gradients=gradients)
    records: list[Record] = []
    for impl in impls:
        for dtype in dtypes:
            for device in devices:
                found = [r for case in cases for r in runner.run_case(impl, case, dtype, device)]
                _report(impl, found, progress)
                if profile:
                    found += _properties(impl, profile, dtype, device, seed, progress)
                records += found
    return records


def _properties(impl: Implementation, profile: str, dtype: str, device: str, seed: int | None,
                progress: Progress | None) -> list[Record]:
    from conformance.properties import run_properties

    found = run_properties(impl, profile=profile, dtype=dtype, device=device, seed=seed)
    _report(impl, found, progress)
    return found


def _report(impl: Implementation, records: list[Record], progress: Progress | None) -> None:
    for record in records:
        if progress:
            progress(impl.name, record)
