"""Ctrl-C (SIGINT) or SIGTERM during a run: the queued jobs are cancelled, the running ones
and their workers end, the command prints one line and exits 130 or 143 within seconds, and
the previous report is exactly as it was. Without this, every queued implementation still
ran (57 s) and a thread's traceback was printed."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
SLOW = "tests.helpers.sleepy:"
SLOW_IMPLS = ("reference", SLOW + "Sleepy", SLOW + "Drowsy")  # one slow, one waits its turn
LIMIT_S = 5.0


def _ours(tag: str) -> list[int]:
    """The processes still alive that were started with ``tag`` in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and tag.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _ignores_sigint(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT (``SigIgn`` in /proc/PID/status); a process that
    has ended meanwhile counts as ignoring it."""
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return True
    (ignored,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")]
    return bool(int(ignored, 16) >> (signal.SIGINT - 1) & 1)


@pytest.mark.slow  # about 10 s each: the run starts its workers and torch first
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize(("signum", "jobs", "impls", "when"), [
    # Ctrl-C: the terminal signals the whole process group
    (signal.SIGINT, "2", SLOW_IMPLS, "sleepy: started"),
    # kill, a CI runner's cancel: the main process only
    (signal.SIGTERM, "2", SLOW_IMPLS, "sleepy: started"),
    # one job at a time: the jobs run in the main process
    (signal.SIGINT, "1", SLOW_IMPLS, "sleepy: started"),
    # a worker in the middle of importing TensorFlow, which holds off a graceful stop
    pytest.param(signal.SIGINT, "2", ("reference", "tensorflow", "keras"),
                 "reference: started", marks=pytest.mark.skipif(
                     importlib.util.find_spec("tensorflow") is None,
                     reason="tensorflow is not installed")),
], ids=["ctrl-c", "sigterm", "ctrl-c-one-job-at-a-time", "ctrl-c-while-a-framework-loads"])
def test_a_signal_stops_the_run_at_once_and_keeps_the_last_report(
        tmp_path: Path, signum: int, jobs: str, impls: tuple[str, ...], when: str) -> None:
    out = tmp_path / "report"
    out.mkdir()
    previous = {"results.json": '{"schema_version": 1, "provenance": {}}\n',
                ".ce-conformance-report": "an earlier report\n"}
    for name, text in previous.items():
        (out / name).write_text(text)
    tag = uuid.uuid4().hex
    env = {**os.environ, "CE_TEST_TAG": tag, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    # three implementations, one of them waiting for its turn
    command = [sys.executable, "-m", "conformance.cli", "run",
               *(arg for name in impls for arg in ("--impl", name)), "-j", jobs,
               "--spec", str(MINI_SPEC), "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        assert process.stderr is not None
        for line in process.stderr:  # plain progress lines: stderr is not a terminal
            seen.append(line)
            if when in line:
                break
        assert any(when in line for line in seen), "".join(seen)
        children = [pid for pid in _ours(tag) if pid != process.pid]
        assert children
        assert not _ignores_sigint(process.pid)
        assert all(_ignores_sigint(pid) for pid in children), \
            "a child that takes the terminal's Ctrl-C can die with a traceback"
        sent = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        _, err = process.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signum, err
    assert elapsed < LIMIT_S, f"exited {elapsed:.1f} s after the signal"
    assert "Traceback" not in err, err
    assert "Warning" not in err, err
    (last,) = [line for line in err.splitlines() if line.startswith("ce-conformance:")]
    assert last == err.splitlines()[-1]
    assert f"interrupted ({signal.Signals(signum).name})" in last
    assert "drowsy: finished" not in err, "the queued job ran"
    assert "keras: started" not in err, "the queued job ran"
    assert {p.name: p.read_text() for p in out.iterdir()} == previous
    assert [p.name for p in tmp_path.iterdir()] == ["report"], "a staging folder was left"
    time.sleep(0.5)
    assert _ours(tag) == [], "a worker outlived the run"



@pytest.mark.parametrize(("main_pid", "ignored"), [("1", True), (None, False)])
def test_a_process_the_command_started_ignores_ctrl_c_from_its_first_import(
        main_pid: str | None, ignored: bool) -> None:
    """multiprocessing's spawn imports the command's module (``conformance.cli``) in every child
    before the child's own code: there a child, named so by the command's process id in its
    environment, ignores SIGINT at once, so a Ctrl-C while it imports NumPy or a framework
    cannot kill it with a traceback. The command itself keeps SIGINT."""
    from conformance.cli import MAIN_PID

    env = {k: v for k, v in os.environ.items() if k != MAIN_PID}
    if main_pid is not None:
        env[MAIN_PID] = main_pid
    code = ("import signal, conformance.cli; "
            "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == str(ignored)
