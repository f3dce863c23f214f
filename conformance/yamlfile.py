"""The one way a YAML file of the suite is read, and the one error a malformed file raises.

``read_yaml`` composes the file into a node tree (which keeps lines), records the line of every
node by its address in the document (``("divergences", 3, "select")``), rejects duplicate keys
and runaway nesting, and then constructs plain data. Whatever goes wrong (an unreadable file,
invalid YAML, a rule of the spec or of an expectations file) is a ``LocatedError`` whose ``str``
is one line, ``path:line: what is wrong``, with the path as the user would type it.

Reading is bounded, so a hostile file costs milliseconds, not minutes and gigabytes: a file over
``MAX_BYTES`` is refused before it is read, one that marks more than ``MAX_ELEMENTS`` values
(commas, brackets and lines: a cheap count) before it is parsed, and while it is composed every
node is counted with its aliases expanded (``*name`` stands for the whole anchored value): past
``MAX_ELEMENTS`` (an alias bomb, "billion laughs", or simply too much data), past ``MAX_DEPTH``
levels, or at an alias inside its own anchor, composition stops there. The spec uses aliases
for shared arrays, so they stay allowed; it is what they expand to that is bounded, and that
bounds every later walk (the lines, the schema, the checks).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_ELEMENTS", "LocatedError", "NodePath", "YamlDoc",
           "display_path", "dotted", "read_yaml"]

MAX_DEPTH = 32  # deeper nesting is a recursive alias or a mistake
MAX_BYTES = 2**22  # 4 MiB: the spec is 50 KiB; large arrays are generator mappings
MAX_ELEMENTS = 2**16  # nodes, aliases expanded (the spec has about 5,500)
#: what starts or separates a value: a comma, a bracket or a line that is not blank or a comment
_VALUE_MARK = re.compile(rb"[,\[{]|\n[ \t]*[^\s#]")
_LARGE = "(large arrays are written as generator mappings, {shape: [...], seed: N})"

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
    text = _read_text(path, what, display)
    loader = _BoundedLoader(text, display)
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


def _read_text(path: Path, what: str, display: str) -> str:
    """The file's text, refused before parsing when it is too large or holds too many values."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise LocatedError(display, 1, f"cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise LocatedError(display, 1, f"{what} is larger than {MAX_BYTES:,} bytes, the limit "
                                       f"{_LARGE}")
    beyond = next(itertools.islice(_VALUE_MARK.finditer(data), MAX_ELEMENTS, None), None)
    if beyond is not None:
        raise LocatedError(display, data.count(b"\n", 0, beyond.start() + 1) + 1,
                           f"{what} holds more than {MAX_ELEMENTS:,} values, the limit {_LARGE}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LocatedError(display, data.count(b"\n", 0, exc.start) + 1,
                           f"cannot read {what}: not UTF-8 text ({exc.reason})") from None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting while it composes: every node with its aliases expanded
    (``elements``), the nesting depth, and the expanded size of each anchored node."""

    def __init__(self, text: str, display: str) -> None:
        super().__init__(text)
        self.display = display
        self.elements = 0
        self.depth = 0
        self.sizes: dict[str, int] = {}  # anchor -> nodes it stands for, aliases expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        anchor: str | None = event.anchor
        if isinstance(event, yaml.AliasEvent) and anchor is not None:
            if anchor in self.anchors and anchor not in self.sizes:
                raise LocatedError(self.display, line, f"the alias *{anchor} refers to the "
                                                       "value it is part of (a cycle)")
            self._count(self.sizes.get(anchor, 0), line, alias=anchor)
            return super().compose_node(parent, index)
        if self.depth > MAX_DEPTH:
            raise LocatedError(self.display, line, f"nesting deeper than {MAX_DEPTH} levels")
        before = self.elements
        self._count(1, line)
        self.depth += 1
        node = super().compose_node(parent, index)
        self.depth -= 1
        if anchor is not None:
            self.sizes[anchor] = self.elements - before
        return node

    def _count(self, size: int, line: int, alias: str | None = None) -> None:
        self.elements += size
        if self.elements <= MAX_ELEMENTS:
            return
        if alias is not None:
            raise LocatedError(self.display, line, f"the alias *{alias} ({size:,} values) "
                                                   f"takes the document past {MAX_ELEMENTS:,} "
                                                   "values, the limit (aliases are counted as "
                                                   "what they stand for)")
        raise LocatedError(self.display, line, f"more than {MAX_ELEMENTS:,} values, the limit "
                                               f"{_LARGE}")


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
