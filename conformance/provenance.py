"""Where a run came from: suite version and commit, spec hash, frameworks, Python, machine."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from implementations.base import Implementation


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


def _gpus(impls: Iterable[Implementation]) -> list[str]:
    for impl in impls:
        if impl.name == "torch" and "cuda" in getattr(impl, "devices", ()):
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def provenance(impls: Iterable[Implementation], spec_hash: str, **extra: Any) -> dict[str, Any]:
    """The provenance block of ``results.json``."""
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
        "frameworks": {impl.name: getattr(impl, "versions", dict)() for impl in impls},
        **extra,
    }
