"""Settings from three places, in this precedence: the command line, then the environment
(``CE_CONFORMANCE_IMPL``), then ``[tool.ce-conformance]`` in the nearest ``pyproject.toml`` (the
current folder or a parent)::

    [tool.ce-conformance]
    impl = "my_pkg.module:MyCE"
    expectations = "tests/ce-expectations.yaml"   # relative to the pyproject.toml
    dtypes = ["float32", "bfloat16"]
    devices = ["cuda"]
    profile = "ci"
    strict = true

An unknown key or a value of the wrong type is a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["ENV_IMPL", "ConfigError", "Settings", "find_pyproject", "settings"]

ENV_IMPL = "CE_CONFORMANCE_IMPL"
SECTION = "ce-conformance"


class ConfigError(ValueError):
    """A malformed ``[tool.ce-conformance]`` table; ``str`` names the file and the key."""


@dataclass(frozen=True)
class Settings:
    """What to check: the implementation, its expectations, dtypes, devices, profile, strictness."""

    impl: str | None = None
    expectations: Path | None = None
    dtypes: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    profile: str = "ci"
    strict: bool = False
    source: str = "defaults"  # where ``impl`` came from, for messages


_TYPES: dict[str, tuple[type, ...]] = {"impl": (str,), "expectations": (str,), "dtypes": (list,),
                                       "devices": (list,), "profile": (str,), "strict": (bool,)}


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the current folder)."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
    return None


def _from_pyproject(path: Path | None) -> Settings:
    if path is None:
        return Settings()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get(SECTION)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if table is None:
        return Settings()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _TYPES:
            raise ConfigError(f"{path}: [tool.{SECTION}] has no key {key!r} "
                              f"(known: {', '.join(_TYPES)})")
        if not isinstance(value, _TYPES[key]) or (
                isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{path}: [tool.{SECTION}] {key} = {value!r} has the wrong type")
        values[key] = tuple(value) if isinstance(value, list) else value
    if "expectations" in values:
        values["expectations"] = path.parent / values["expectations"]
    return Settings(**values, source=str(path))


def settings(command_line: Mapping[str, Any] | None = None, *,
             environ: Mapping[str, str] | None = None, start: Path | None = None) -> Settings:
    """The settings in force: ``command_line`` values that are not ``None`` (or empty) win over
    the environment, which wins over ``pyproject.toml``."""
    merged = _from_pyproject(find_pyproject(start))
    env_impl = (os.environ if environ is None else environ).get(ENV_IMPL)
    if env_impl:
        merged = replace(merged, impl=env_impl, source=f"${ENV_IMPL}")
    given = {k: v for k, v in (command_line or {}).items() if v not in (None, (), [])}
    unknown = set(given) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}")
    if "impl" in given:
        given["source"] = "the command line"
    for key in ("dtypes", "devices"):
        if key in given:
            given[key] = tuple(given[key])
    return replace(merged, **given)
