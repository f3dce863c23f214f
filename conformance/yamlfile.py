"""The one way a YAML file of the suite is read, and the one error a malformed file raises.

``read_yaml`` composes the file into a node tree (which keeps lines), records the line of every
node by its address in the document (``("divergences", 3, "select")``), rejects duplicate keys
and runaway nesting, and then constructs plain data. Whatever goes wrong (an unreadable file,
invalid YAML, a rule of the spec or of an expectations file) is a ``LocatedError`` whose ``str``
is one line, ``path:line: what is wrong``, with the path as the user would type it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "LocatedError", "NodePath", "YamlDoc", "display_path", "dotted",
           "read_yaml"]

MAX_DEPTH = 32  # deeper nesting is a recursive alias or a mistake

NodePath = tuple[str | int, ...]  # a node's address in the document: ("cases", 3, "input")


class LocatedError(ValueError):
    """A malformed file; ``str`` is one line: ``path:line: what is wrong``."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = " ".join(problem.split())
        super().__init__(f"{path}:{line}: {self.problem}")


@dataclass(frozen=True)
class YamlDoc:
    """A file's data (``None`` when it holds no document) and the line of each node."""

    data: Any
    lines: dict[NodePath, int]
    display: str  # the path as messages show it

    def line(self, path: NodePath) -> int:
        """The line of the node at ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def at(self, path: NodePath, problem: str) -> LocatedError:
        """``problem`` on the line of the node at ``path``."""
        return LocatedError(self.display, self.line(path), problem)

    def error(self, path: NodePath, problem: str) -> LocatedError:
        """``problem`` on the line of the node at ``path``, prefixed with the node's address."""
        where = dotted(path)
        return self.at(path, f"{where}: {problem}" if where else problem)


def dotted(path: NodePath) -> str:
    """``("cases", 3, "input")`` as ``cases[3].input``."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.removeprefix(".")


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_yaml(path: Path, what: str) -> YamlDoc:
    """Read ``path`` (``what`` names it in messages: "the spec"); raises ``LocatedError``."""
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LocatedError(display, 1, f"cannot read {what}: {getattr(exc, 'strerror', exc)}") \
            from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[NodePath, int] = {(): 1}
        if node is None:
            return YamlDoc(None, lines, display)
        _record_lines(node, (), 1, lines, display)
        return YamlDoc(loader.construct_document(node), lines, display)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise LocatedError(display, mark.line + 1 if mark else 1,
                           f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise LocatedError(display, 1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _record_lines(node: yaml.Node, path: NodePath, line: int, lines: dict[NodePath, int],
                  display: str) -> None:
    """Fill ``lines``; a mapping entry is placed on its key's line. Rejects duplicate keys."""
    if len(path) > MAX_DEPTH:
        raise LocatedError(display, line, f"nesting deeper than {MAX_DEPTH} levels")
    lines[path] = line
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), item.start_mark.line + 1, lines, display)
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name, key_line = str(key.value), key.start_mark.line + 1
            if name in first:
                raise LocatedError(display, key_line,
                                   f"duplicate key {name!r} (first on line {first[name]})")
            first[name] = key_line
            _record_lines(value, (*path, name), key_line, lines, display)
