"""The benchmark's guards: a step past its time limit is stopped with everything it started,
and bad arguments or a used work folder end with one line, before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

import benchmarks.job_benchmark as job_benchmark
from benchmarks.job_benchmark import (
    STEP_TIMEOUT,
    ScaleResult,
    StepFailedError,
    StepTimedOutError,
    main,
    measure,
    step_timeout,
)

# A worker that starts a child of its own (as PySpark starts its JVM), notes SIGTERM (a JVM
# runs its shutdown hooks on it), then hangs.
HANGING_WORKER = """
import signal, subprocess, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
def stopped(*_):
    (folder / "sigterm").write_text("stopped")
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
(folder / "child.pid").write_text(str(child.pid))
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running, and not a zombie left for an init that does not reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


real_popen = subprocess.Popen


class _InterruptedError(RuntimeError):
    """Stands in for Ctrl-C (a KeyboardInterrupt would stop pytest's own run)."""


def _hanging_workers(
    monkeypatch: pytest.MonkeyPatch, folder: Path, interrupt: bool = False
) -> None:
    """``measure``'s worker is the hanging one; it is returned once its child is running,
    so a limit counts from there. With ``interrupt``, waiting for it is interrupted."""

    class Worker(subprocess.Popen[str]):
        def communicate(self, *args: Any, **kwargs: Any) -> Any:
            if interrupt and not getattr(self, "interrupted", False):
                self.interrupted = True
                raise _InterruptedError
            return super().communicate(*args, **kwargs)

    def hanging(_command: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        process = Worker([sys.executable, "-c", HANGING_WORKER, str(folder)], **kwargs)
        deadline = time.monotonic() + 30
        while not (folder / "child.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return process

    monkeypatch.setattr(subprocess, "Popen", hanging)


def test_a_step_past_its_limit_is_stopped_with_the_process_it_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _hanging_workers(monkeypatch, tmp_path)
    started = time.monotonic()

    with pytest.raises(StepTimedOutError) as raised:
        measure("ours-512m", tmp_path, tmp_path, 1, timeout=1.5)

    assert time.monotonic() - started < 30
    assert raised.value.cause == "timed out after 1.5 s"
    assert isinstance(raised.value, StepFailedError)  # a small-heap engine's is reported
    assert (tmp_path / "sigterm").read_text() == "stopped"  # asked first, as a JVM must be
    assert _gone(int((tmp_path / "child.pid").read_text()))


def test_an_interrupted_step_is_stopped_with_the_process_it_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _hanging_workers(monkeypatch, tmp_path, interrupt=True)

    with pytest.raises(_InterruptedError):
        measure("ours", tmp_path, tmp_path, 1)

    assert (tmp_path / "sigterm").read_text() == "stopped"
    assert _gone(int((tmp_path / "child.pid").read_text()))


def test_a_worker_exits_when_the_benchmark_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL leaves no handler to run: the worker's lifeline closing is its only sign."""
    env = dict(os.environ)
    script = "from benchmarks.job_benchmark import _exit_with_parent as e; e(); input()"
    with job_benchmark._lifeline(env) as lifeline:
        worker = real_popen(
            [sys.executable, "-c", f"{script}; import time; time.sleep(60)"],
            cwd=job_benchmark.REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(lifeline,),
        )
        assert worker.stdin is not None
        worker.stdin.write(b"started\n")  # past input(): the watch is running
        worker.stdin.flush()
        time.sleep(1)
        assert worker.poll() is None  # held: the worker runs on
    assert worker.wait(timeout=10) == 1  # let go, as a killed benchmark's end is


def test_the_limit_grows_with_the_scale_and_never_falls_under_the_1x_limit() -> None:
    assert step_timeout(10) == 10 * STEP_TIMEOUT
    assert step_timeout(0.05) == STEP_TIMEOUT
    assert step_timeout(2, per_scale=30) == 60


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scales", "abc"], "'abc' is not a comma-separated list of numbers"),
        (["--scales", ""], "scales must be numbers above 0"),
        (["--scales", ","], "scales must be numbers above 0"),
        (["--scales", "1,-1"], "scales must be numbers above 0"),
        (["--scales", "nan"], "scales must be numbers above 0"),
        (["--scales", "1e400"], "scales must be numbers above 0 and at most 1000"),
        (["--repeat", "0"], "--repeat must be 1 or more"),
        (["--repeat", "abc"], "invalid int value"),
        (["--step-timeout", "0"], "--step-timeout must be a number of seconds above 0"),
        (["--step-timeout", "inf"], "--step-timeout must be a number of seconds above 0"),
        (["--scales", "10", "--step-timeout", "2e5"], "times the largest scale at most"),
    ],
)
def test_bad_arguments_end_with_one_line_naming_the_fix(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_work_folder_holding_a_previous_run_is_refused_and_left_as_it_was(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kept = tmp_path / "scale-1" / "seed" / "part-0.parquet"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"a previous run's table")
    monkeypatch.setattr(job_benchmark, "run_scale", lambda *_: pytest.fail("ran"))

    with pytest.raises(SystemExit) as exited:
        main(["--scales", "1,10", "--workdir", str(tmp_path)])

    assert exited.value.code == 2
    assert f"{tmp_path / 'scale-1'} already exists" in capsys.readouterr().err
    assert kept.read_bytes() == b"a previous run's table"


def test_a_failed_step_stops_the_benchmark_with_its_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """And the folder the benchmark made for itself goes; a --workdir given stays."""
    made = tmp_path / "made"

    def failing(_scale: float, workdir: Path, *_: object) -> None:
        (workdir / "scale-1" / "staging").mkdir(parents=True)
        raise StepTimedOutError("ours", 600, "the worker's last words\n")

    monkeypatch.setattr(job_benchmark, "run_scale", failing)
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **_: str(made))

    for arguments, kept in (([], None), (["--workdir", str(tmp_path / "given")], "given")):
        with pytest.raises(SystemExit) as exited:
            main(["--scales", "1", *arguments])

        assert exited.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("benchmark stopped: ours failed (timed out after 600 s)")
        assert "the worker's last words" in err
        assert "Traceback" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ([kept] if kept else [])


def test_a_scale_given_twice_runs_once_as_do_two_that_would_share_a_folder() -> None:
    assert job_benchmark._scales("1, 10,1") == [1.0, 10.0]
    assert job_benchmark._scales("1,1.0000001,0.1") == [1.0, 0.1]


def test_an_existing_json_file_or_a_file_as_workdir_is_refused_and_left_as_it_was(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mine = tmp_path / "figures.json"
    mine.write_text("my figures")
    monkeypatch.setattr(job_benchmark, "run_scale", lambda *_: pytest.fail("ran"))

    for arguments, message in (
        (["--json", str(mine)], f"--json {mine} already exists"),
        (["--workdir", str(mine)], f"--workdir {mine} is a file"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["--scales", "1", *arguments])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
    assert mine.read_text() == "my figures"


def test_the_scales_that_finished_are_reported_when_a_later_one_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def one_then_failing(scale: float, *_: object) -> ScaleResult:
        if scale > 1:
            raise StepFailedError("ours", 1, "java.lang.OutOfMemoryError: Java heap space\n")
        return ScaleResult(scale, 438_938, 1)

    monkeypatch.setattr(job_benchmark, "run_scale", one_then_failing)
    monkeypatch.setattr(job_benchmark, "report", lambda results: f"REPORT {len(results)}")
    figures = tmp_path / "out" / "figures.json"

    with pytest.raises(SystemExit) as exited:
        main(["--scales", "1,10", "--workdir", str(tmp_path / "w"), "--json", str(figures)])

    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert "REPORT 1" in captured.out
    assert [r["scale"] for r in json.loads(figures.read_text())] == [1.0]
    assert captured.err.startswith(
        "benchmark stopped: ours failed (java.lang.OutOfMemoryError: Java heap space)"
    )
    assert captured.err.rstrip().endswith("the scales that finished: 1x")


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        (lambda tmp: Path("/proc/no-such-folder/figures.json"), ": No such file or directory"),
        (lambda tmp: tmp / "a-file" / "figures.json", " is a file"),
        (lambda tmp: tmp / "a-file" / "sub" / "figures.json", ": Not a directory"),
    ],
)
def test_a_json_path_that_cannot_be_written_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    where: Any,
    reason: str,
) -> None:
    """A --json whose folder cannot be made is refused with exit 2 and the fix, not found
    after the run."""
    (tmp_path / "a-file").write_text("mine")
    path = where(tmp_path)
    monkeypatch.setattr(job_benchmark, "run_scale", lambda *_: pytest.fail("ran"))

    with pytest.raises(SystemExit) as exited:
        main(["--scales", "1", "--json", str(path)])

    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"--json {path} cannot be written (its folder {path.parent}{reason})" in err
    assert err.endswith("give a path in a folder you can write to")
    assert (tmp_path / "a-file").read_text() == "mine"


def test_a_json_folder_that_refuses_new_files_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A folder that exists but takes no new file (a read-only mount, say) is refused too;
    the check leaves nothing in it."""

    def read_only(*_: object, **__: object) -> tuple[int, str]:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    monkeypatch.setattr(job_benchmark, "run_scale", lambda *_: pytest.fail("ran"))

    with pytest.raises(SystemExit) as exited:
        main(["--scales", "1", "--json", str(tmp_path / "figures.json")])

    assert exited.value.code == 2
    assert "Read-only file system); give a path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_json_path_in_a_new_folder_is_accepted_and_the_check_leaves_no_file(
    tmp_path: Path,
) -> None:
    assert job_benchmark._json_problem(tmp_path / "new" / "figures.json") is None
    assert list((tmp_path / "new").iterdir()) == []


@pytest.mark.parametrize("made_during_the_run", [False, True])
def test_a_json_write_failing_at_the_end_prints_one_line_after_the_figures(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    made_during_the_run: bool,
) -> None:
    """A full disk, or a file made at --json during the run, ends the run with exit 1 and one
    line, no traceback; a file found there is left as it was, a part-written one goes."""
    figures = tmp_path / "figures.json"

    def one_scale(scale: float, *_: object) -> ScaleResult:
        if made_during_the_run:
            figures.write_text("someone else's")
        return ScaleResult(scale, 438_938, 1)

    real_open = Path.open

    class FullDisk:
        """The file is made; writing to it fails."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *_: object) -> None:
            self.handle.close()

        def write(self, _text: str) -> int:
            raise OSError(28, "No space left")

    def disk_full(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return FullDisk(handle) if self == figures and "x" in mode else handle

    monkeypatch.setattr(job_benchmark, "run_scale", one_scale)
    monkeypatch.setattr(job_benchmark, "report", lambda results: f"REPORT {len(results)}")
    monkeypatch.setattr(Path, "open", disk_full)

    with pytest.raises(SystemExit) as exited:
        main(["--scales", "1", "--workdir", str(tmp_path / "w"), "--json", str(figures)])

    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert "REPORT 1" in captured.out
    reason = "File exists" if made_during_the_run else "No space left"
    assert captured.err == f"--json {figures} not written: {reason}; the figures are above\n"
    if made_during_the_run:
        assert figures.read_text() == "someone else's"
    else:
        assert not figures.exists()
