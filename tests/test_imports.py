"""The product's import graph: no cycle among its modules (a module-level, function-level or
``TYPE_CHECKING`` import all count), and no module imports another package's private module
(``package._module``: what a package keeps to itself may change without notice)."""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("conformance", "implementations")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imported(path: Path) -> Iterator[str]:
    """Every module name ``path`` imports (``from a import b`` gives ``a.b`` when that is a
    module, else ``a``: a submodule imported from its package is no edge to the package)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], base]).strip(".")
            for alias in node.names:
                yield f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base


def import_graph(packages: tuple[str, ...] = PRODUCT) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports."""
    files = {_module_name(f): f for pkg in packages for f in (ROOT / pkg).rglob("*.py")}
    return {name: {t for t in _imported(path) if t in files and t != name}
            for name, path in files.items()}


def test_no_import_cycle_among_the_product_s_modules() -> None:
    graph = import_graph()
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_a_cycle_would_be_found() -> None:
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())


def _private_imports(path: Path) -> list[str]:
    """Modules ``path`` imports that are private to a package other than its own."""
    own = path.relative_to(ROOT).parts[0]
    found = []
    for name in _imported(path):
        parts = name.split(".")
        private = any(part.startswith("_") and not part.startswith("__") for part in parts[1:])
        if private and parts[0] != own and _is_module(name):
            found.append(name)
    return found


@pytest.mark.parametrize("folder", ["conformance", "implementations", "examples", "tests",
                                    "benchmarks"])
def test_no_module_imports_another_package_s_private_module(folder: str) -> None:
    offenders = {str(f.relative_to(ROOT)): bad for f in sorted((ROOT / folder).rglob("*.py"))
                 if (bad := _private_imports(f))}
    assert not offenders, f"private modules of another package imported: {offenders}"
