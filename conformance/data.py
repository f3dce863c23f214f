"""Where the suite's data files are: the checkout's folders, else the copies in the wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["packaged_path"]

_PACKAGE = Path(__file__).resolve().parent


def packaged_path(kind: str, name: str) -> Path:
    """``<repo>/<kind>/<name>`` in a checkout, else ``conformance/_<kind>/<name>`` (the folder
    ``pyproject.toml`` force-includes into the wheel). The file itself need not exist."""
    in_repo = _PACKAGE.parent / kind
    folder = in_repo if in_repo.is_dir() else _PACKAGE / f"_{kind}"
    return folder / name
