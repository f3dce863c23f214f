"""``ce-conformance list``: every known implementation, whether it loads, and why not."""

from __future__ import annotations

import argparse

from conformance.session import select
from implementations.base import devices_of, dtypes_of, versions_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def main(args: argparse.Namespace) -> int:
    """Print one line per implementation."""
    selection = select(None)
    for impl in selection.loaded:
        described = ", ".join(f"{k} {v}" for k, v in versions_of(impl).items())
        dtypes = ", ".join(dtypes_of(impl))
        devices = ", ".join(devices_of(impl))
        print(f"{impl.name:<16} ok       {described}; dtypes {dtypes}; devices {devices}")
    for skipped in selection.skipped:
        print(f"{skipped.impl:<16} skipped  {skipped.reason}")
    return 0
