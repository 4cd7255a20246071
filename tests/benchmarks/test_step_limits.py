"""The benchmark's guards: a step past its time limit is stopped with everything it started,
and bad arguments or a used work folder end with one line, before anything runs."""

from __future__ import annotations

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
    StepFailedError,
    StepTimedOutError,
    main,
    measure,
    step_timeout,
)

# A worker that starts a child of its own (as PySpark starts its JVM), then hangs.
HANGING_WORKER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running, and not a zombie left for an init that does not reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_step_past_its_limit_is_killed_with_the_process_it_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    child_pid_file = tmp_path / "child.pid"
    real_popen = subprocess.Popen

    def hanging(_command: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        command = [sys.executable, "-c", HANGING_WORKER, str(child_pid_file)]
        return real_popen(command, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", hanging)
    started = time.monotonic()

    with pytest.raises(StepTimedOutError) as raised:
        measure("ours-512m", tmp_path, tmp_path, 1, timeout=2)

    assert time.monotonic() - started < 30
    assert raised.value.cause == "timed out after 2 s"
    assert isinstance(raised.value, StepFailedError)  # a small-heap engine's is reported
    child_pid = int(child_pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child_pid)


def test_the_limit_grows_with_the_scale_and_never_falls_under_the_1x_limit() -> None:
    assert step_timeout(10) == 10 * STEP_TIMEOUT
    assert step_timeout(0.05) == STEP_TIMEOUT
    assert step_timeout(2, per_scale=30) == 60


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scales", "abc"], "'abc' is not a comma-separated list of numbers"),
        (["--scales", "1,-1"], "scales must be positive numbers"),
        (["--scales", "nan"], "scales must be positive numbers"),
        (["--repeat", "0"], "--repeat must be 1 or more"),
        (["--step-timeout", "0"], "--step-timeout must be a number of seconds above 0"),
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
        assert err.startswith("benchmark stopped: ours timed out after 600 s")
        assert "the worker's last words" in err
        assert "Traceback" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ([kept] if kept else [])


def test_a_scale_given_twice_runs_once() -> None:
    assert job_benchmark._scales("1, 10,1") == [1.0, 10.0]
