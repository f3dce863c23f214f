"""Cross-entropy implementations behind one contract (see ``implementations.base``).

``load(name)`` returns an implementation by name: a built-in one (a row of
``implementations.registry``; ``BUILTIN`` maps their names to their adapters), one that a
third-party package registers under the entry-point group ``ce_conformance.implementations``,
or any ``package.module:attribute``. A framework is imported only when its implementation is
loaded (``implementations.frameworks``); loading one whose framework is missing raises
``NotInstalledError`` naming the extra.

``LossArguments`` (``implementations.arguments``) is the schema of a call's arguments.
``Adapter`` and ``TorchLossAdapter`` are the public bases an adapter may subclass (the contract
itself is a ``Protocol``: see ``implementations.adapter`` and ``docs/PLUGINS.md``).
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

from implementations import registry
from implementations.adapter import Adapter, Arguments, TorchLossAdapter
from implementations.arguments import LossArguments
from implementations.base import (
    Call,
    Implementation,
    NotInstalledError,
    UnknownImplementationError,
    Unsupported,
)
from implementations.frameworks import require

__all__ = [
    "BUILTIN",
    "Adapter",
    "Arguments",
    "Call",
    "Implementation",
    "LossArguments",
    "NotInstalledError",
    "TorchLossAdapter",
    "UnknownImplementationError",
    "Unsupported",
    "known_names",
    "load",
    "require",
]

ENTRY_POINT_GROUP = "ce_conformance.implementations"

# name -> "module:attribute", derived from the registry's rows.
BUILTIN: dict[str, str] = {row.name: row.target for row in registry.BUILTINS}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def known_names() -> list[str]:
    """Built-in names first, then the names that installed plugins register."""
    return list(BUILTIN) + sorted(set(_entry_points()) - set(BUILTIN))


def _instantiate(obj: Any, name: str) -> Implementation:
    impl = obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "cross_entropy")) \
        else obj
    if not hasattr(impl, "cross_entropy") or not hasattr(impl, "name"):
        raise UnknownImplementationError(
            f"{name!r} does not follow the contract: it needs a 'name' and a 'cross_entropy' method"
        )
    return impl  # type: ignore[no-any-return]


def _import_target(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise UnknownImplementationError(f"no module named {module_name!r}") from None
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UnknownImplementationError(
                f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def load(name: str) -> Implementation:
    """The implementation called ``name`` (a registered name, or ``package.module:attribute``).

    Raises ``UnknownImplementationError`` listing the known names, and ``NotInstalledError``
    when the implementation's framework is not installed.
    """
    if name in BUILTIN:
        return _instantiate(_import_target(BUILTIN[name]), name)
    entry_points = _entry_points()
    if name in entry_points:
        return _instantiate(entry_points[name].load(), name)
    if ":" in name:
        return _instantiate(_import_target(name), name)
    raise UnknownImplementationError(
        f"unknown implementation {name!r}; known: {', '.join(known_names())} "
        "(or give package.module:attribute)"
    )

