"""Where a run came from: suite version and commit, spec hash, frameworks, Python, machine."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from implementations.base import gpu_names_of, versions_of


def _commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version() -> str:
    try:
        return metadata.version("ce-conformance")
    except metadata.PackageNotFoundError:
        return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus(impls: Iterable[Any]) -> list[str]:
    """The GPUs of the machine, as the first implementation that runs on one names them."""
    for impl in impls:
        names = gpu_names_of(impl)
        if names:
            return names
    return []


def provenance(impls: Iterable[Any], spec_hash: str, **extra: Any) -> dict[str, Any]:
    """The provenance block of ``results.json``; ``impls`` are implementations, or what their
    workers said of themselves (``conformance.session.Described``: name, versions, GPUs)."""
    impls = list(impls)
    return {
        "suite_version": _version(),
        "commit": _commit(),
        "spec_sha256": spec_hash,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "gpus": _gpus(impls),
        "frameworks": {impl.name: versions_of(impl) for impl in impls},
        **extra,
    }
