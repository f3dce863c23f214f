"""Where the suite's data files are: the checkout's folders, else the copies in the wheel.

Installed from a wheel, the spec and the expectations are package data (``conformance/_spec``,
``conformance/_expectations``, force-included by ``pyproject.toml``) and are found through
``importlib.resources``. In a checkout (an editable install, or the source tree on
``sys.path``) they are the repository's own ``spec/`` and ``expectations/``. A folder is taken
for the checkout only when the folder above the package is this project's repository (its
``pyproject.toml`` names ``ce-conformance``): in site-packages, an unrelated top-level
``expectations/`` or ``spec/`` folder (another distribution's) changes nothing.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["checkout_root", "packaged_path"]

PROJECT = "ce-conformance"


@cache
def checkout_root() -> Path | None:
    """The repository this package is running from, or ``None`` when it is installed."""
    root = Path(__file__).resolve().parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("project", {}).get("name") == PROJECT else None


def packaged_path(kind: str, name: str) -> Path:
    """``<repo>/<kind>/<name>`` in a checkout, else the wheel's ``conformance/_<kind>/<name>``
    (through ``importlib.resources``). The file itself need not exist."""
    root = checkout_root()
    if root is not None:
        return root / kind / name
    return Path(str(resources.files("conformance") / f"_{kind}" / name))
