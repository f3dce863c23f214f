"""Which tests catch each purpose-built wrong implementation: a mutation check of the suite.

    python tests/catches.py [--at COMMIT] [--json FILE] [--jobs N] [CLASS ...]

For every wrong-on-purpose class (those in ``tests/helpers/``, ``examples/broken-plugin`` and
the test modules, listed in ``WRONG`` below), a scratch copy of the repository gets that one
class *repaired*: rebound, right after the last class of its file, to a subclass of the
reference with the same ``name`` and ``dtypes``, its results in the dtype asked for (so it
loads the same way, ``module:attr`` included, and computes what torch computes). The test
files that name the class or its helper module then run on that copy, and every test that
fails is a test that catches the wrong implementation. A class no test fails on is *not
caught*: its tests could not fail.

Run it before and after a change to the tests (``--at COMMIT`` checks the tests of a commit
instead of the working tree); the two tables must list the same classes as caught. It prints a
Markdown table (and writes JSON with ``--json``). It runs each file set in a pytest process of
its own, with the suite's ``slow`` tests included.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: class -> the file that defines it (relative to the repository root)
WRONG: dict[str, str] = {
    **{name: "tests/helpers/faulty.py" for name in (
        "ExitsOnThirdCall", "Segfaults", "Hangs", "WritesIntoInput", "ReturnsString",
        "ReturnsNone", "HangsAlways", "HangsFromFourthCall", "SegfaultsAlways", "LeaksMemory",
        "ReturnsNoneAlways", "ReturnsFloat16", "ReturnsWrongShape", "PoisonedByInvalidTargets",
        "RejectsSumAfterInvalidTargets", "DiesOnLoad")},
    **{name: "tests/helpers/one_bug.py" for name in (
        "SmoothingOverCMinus1", "WeightedMeanOverN", "ComputesInFloat32")},
    "KdimProbSmoothing": "tests/helpers/coverage_impls.py",
    "LseThenSubtract": "tests/helpers/less_accurate.py",
    "WrongSumOnly": "tests/helpers/two_causes.py",
    "WrongSumAndPadding": "tests/helpers/two_causes.py",
    "WrongSum": "tests/helpers/wrong_impl.py",
    **{name: "tests/helpers/wrong_relations.py" for name in (
        "NotShiftInvariant", "WeightsIgnoreClassOrder", "SumAddsAConstant",
        "ScalesProbabilities", "ExplicitZeroSmooths", "SquaresSmoothing",
        "GradientForgetsDenominator")},
    "BrokenImplementation": "examples/broken-plugin/ce_conformance_broken/__init__.py",
    "ForgetsWeightDenominator": "tests/test_properties.py",
    "SmoothsOverOtherClasses": "tests/test_properties.py",
    "NeverRaises": "tests/test_properties.py",
    "WrongSum@severity": "tests/test_severity.py",
    "NanSum": "tests/test_severity.py",
    "RejectsSum": "tests/test_severity.py",
    "AcceptsOutOfRange": "tests/test_severity.py",
    "DropsLastTile": "tests/test_large.py",
}
#: classes that are not wrong on purpose, with their file and the reason
NOT_WRONG = {
    "MarkupName": ("tests/helpers/faulty.py",
                   "its fault is its name (rich markup), which a repair keeps"),
    "LongName": ("tests/helpers/faulty.py",
                 "its fault is its 300-character name, which a repair keeps"),
    "NoWeights": ("tests/helpers/coverage_impls.py",
                  "the reference declaring no class weights: unsupported, not wrong"),
    "Sleepy": ("tests/helpers/sleepy.py", "the reference, slowed down (the Ctrl-C tests)"),
    "Drowsy": ("tests/helpers/sleepy.py", "the reference, slowed down (the Ctrl-C tests)"),
}

#: test files that name a class in one parametrization only: just those tests run (``-k``)
NARROW = {"tests/test_repro.py": "WrongSum"}

REPAIR = """
import numpy as _catches_np
from implementations.dtypes import numpy_dtype as _catches_dtype
from implementations.reference import ReferenceImplementation as _CatchesReference


class _CatchesRepaired(_CatchesReference):
    def cross_entropy(self, *args, dtype="float64", **kwargs):
        value = super().cross_entropy(*args, dtype=dtype, **kwargs)
        return _catches_np.asarray(value).astype(_catches_dtype(dtype))

    def value_and_grad(self, *args, dtype="float64", **kwargs):
        value, grad = super().value_and_grad(*args, dtype=dtype, **kwargs)
        return (_catches_np.asarray(value).astype(_catches_dtype(dtype)),
                _catches_np.asarray(grad).astype(_catches_dtype(dtype)))


{name} = type({name!r}, (_CatchesRepaired,), {{"name": {name}.name, "dtypes": getattr(
    {name}, "dtypes", _CatchesReference.dtypes), "__module__": __name__}})
"""


def _class(key: str) -> str:
    return key.split("@")[0]


def _module_words(path: str) -> list[str]:
    """How a test file refers to the helper module (or the plugin) that defines a class."""
    if path.startswith("tests/helpers/"):
        return [f"helpers.{Path(path).stem}"]
    if path.startswith("examples/"):
        return [path.split("/")[1]]
    return []


def files_naming(key: str, tree: Path) -> list[str]:
    """The test files under ``tree`` that name the class, or the module it lives in."""
    path = WRONG[key]
    if path.startswith("tests/test_"):
        return [path]
    words = [_class(key), *_module_words(path)]
    found = []
    for test in sorted((tree / "tests").glob("test_*.py")):
        text = test.read_text(encoding="utf-8")
        if any(re.search(rf"\b{re.escape(word)}\b", text) for word in words):
            found.append(f"tests/{test.name}")
    return found


def repaired(source: str, name: str) -> str:
    """``source`` with ``name`` rebound to the reference after the module's last class."""
    tree = ast.parse(source)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert any(node.name == name for node in classes), f"no class {name}"
    end = max(node.end_lineno or 0 for node in classes)
    lines = source.splitlines(keepends=True)
    return "".join(lines[:end]) + REPAIR.format(name=name) + "".join(lines[end:])


def _copy(scratch: Path, commit: str | None) -> Path:
    """The working tree (tracked and untracked files, no reports but the published one), or
    ``commit``'s tree, copied under ``scratch``."""
    tree = scratch / "repo"
    tree.mkdir(parents=True)
    if commit is not None:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        return tree
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.splitlines()
    for rel in listed:
        if rel.startswith("reports/") and not rel.startswith("reports/published/"):
            continue
        source = ROOT / rel
        if source.is_file():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / rel)
    return tree


def _failures(junit: Path) -> tuple[list[str], int]:
    """The failed (or erroring) test ids in a JUnit file, and how many tests ran."""
    if not junit.is_file():
        return ["<pytest wrote no report>"], 0
    failed, ran = [], 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        ran += 1
        if case.find("failure") is not None or case.find("error") is not None:
            module = (case.get("classname") or "").replace(".", "/")
            failed.append(f"{module}.py::{case.get('name')}")
    return failed, ran


def check(key: str, scratch: Path, commit: str | None = None) -> dict[str, object]:
    """Run ``key``'s test files on a copy with ``key`` repaired; the tests that fail."""
    tree = _copy(scratch / key, commit)
    target = tree / WRONG[key]
    target.write_text(repaired(target.read_text(encoding="utf-8"), _class(key)),
                      encoding="utf-8")
    files = files_naming(key, tree)
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    runs = [[f for f in files if f not in NARROW]]
    runs += [[f, "-k", NARROW[f]] for f in files if f in NARROW]
    failed, ran = [], 0
    for number, args in enumerate(run for run in runs if run):
        junit = scratch / f"{key}-{number}.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:randomly", "-o", "addopts=", "--junitxml", str(junit), *args],
                       cwd=tree, env=env, capture_output=True, text=True, check=False)
        found, count = _failures(junit)
        failed, ran = failed + found, ran + count
    return {"class": _class(key), "file": WRONG[key], "test_files": files, "ran": ran,
            "caught_by": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="classes to check (default: all)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--jobs", type=int, default=1, help="classes checked side by side")
    parser.add_argument("--at", metavar="COMMIT", help="check this commit's tests instead")
    args = parser.parse_args(argv)
    keys = args.names or list(WRONG)
    with (tempfile.TemporaryDirectory(prefix="ce-catches-") as scratch,
          ThreadPoolExecutor(args.jobs) as pool):
        results = list(pool.map(lambda key: check(key, Path(scratch), args.at), keys))
    print("| wrong implementation | file | tests that fail once it is repaired |")
    print("|---|---|---|")
    for result in results:
        caught = result["caught_by"]
        shown = ", ".join(str(t) for t in caught) if caught else "**not caught**"  # type: ignore[attr-defined]
        print(f"| {result['class']} | {result['file']} | {shown} |")
    for name, (path, reason) in NOT_WRONG.items():
        print(f"| {name} | {path} | not a wrong implementation: {reason} |")
    caught = sum(bool(result["caught_by"]) for result in results)
    print(f"\n{caught} of {len(results)} purpose-built wrong implementations caught")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
