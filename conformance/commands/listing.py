"""``ce-conformance list``: every known implementation, whether it loads, and why not."""

from __future__ import annotations

import argparse

from conformance.session import select


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def main(args: argparse.Namespace) -> int:
    """Print one line per implementation."""
    selection = select(None)
    for impl in selection.loaded:
        versions: dict[str, str] = getattr(impl, "versions", dict)()
        described = ", ".join(f"{k} {v}" for k, v in versions.items())
        dtypes = ", ".join(getattr(impl, "dtypes", ("float64",)))
        devices = ", ".join(getattr(impl, "devices", ("cpu",)))
        print(f"{impl.name:<16} ok       {described}; dtypes {dtypes}; devices {devices}")
    for skipped in selection.skipped:
        print(f"{skipped.impl:<16} skipped  {skipped.reason}")
    return 0
