"""Run repro snippets the way a user pastes them, several in one fresh interpreter.

A snippet is a program: ``run_snippets`` starts one interpreter (``sys.executable -c``, from
the repository root, ``PYTHONPATH`` as given) and executes each snippet in it as ``__main__``
in a namespace of its own, with what it prints captured. So a snippet that forgets an import
or a definition still fails (``NameError``), and what one prints is its own; what the snippets
of one group share is the interpreter, so its framework is imported once per group instead of
once per snippet (a TensorFlow import costs seconds). Group snippets that need the same
process-wide state (one implementation's) together.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_RUNNER = r'''
import contextlib, io, json, sys, traceback
snippets = json.loads(sys.stdin.read())
results = []
for code in snippets:
    out, err = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(code, "<snippet>", "exec"), {"__name__": "__main__"})
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
            status = 1
    results.append({"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()})
    with open(sys.argv[1], "w", encoding="utf-8") as handle:  # what ran, should the next crash
        json.dump(results, handle)
'''


@dataclass(frozen=True)
class Ran:
    """What one snippet did: its exit status (0: ran to the end) and what it printed."""

    status: int
    stdout: str
    stderr: str


def run_snippets(snippets: list[str], *, cwd: Path, env: dict[str, str],
                 timeout: float) -> list[Ran]:
    """Each snippet's outcome, in order. If the interpreter dies or times out, the snippets it
    did not finish get its exit status and the tail of its output."""
    with tempfile.TemporaryDirectory(prefix="ce-snippets-") as folder:
        results = Path(folder) / "results.json"
        try:
            done = subprocess.run([sys.executable, "-c", _RUNNER, str(results)], cwd=cwd,
                                  env=env, input=json.dumps(snippets), text=True,
                                  capture_output=True, timeout=timeout, check=False)
            status, tail = done.returncode, (done.stdout + done.stderr)[-3000:]
        except subprocess.TimeoutExpired as exc:
            status, tail = -9, f"no result within {timeout} s: {exc}"
        ran = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else []
    outcomes = [Ran(r["status"], r["stdout"], r["stderr"]) for r in ran]
    lost = Ran(status or 1, "", f"the interpreter running the group ended ({status}): {tail}")
    return outcomes + [lost] * (len(snippets) - len(outcomes))
