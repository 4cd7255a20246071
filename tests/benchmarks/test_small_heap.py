"""The benchmark's small-heap step: the heap reaches the JVM, and a job that does not fit it
is reported with its error instead of stopping the benchmark."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest

from benchmarks.job_benchmark import (
    SMALL_HEAP,
    SMALL_HEAP_ENGINES,
    ScaleResult,
    Step,
    StepFailedError,
    _printed,
    measure,
    small_heap_line,
)
from spotify_ops.spark import (
    DEFAULT_DRIVER_MEMORY,
    DRIVER_MEMORY_VARIABLE,
    DriverMemoryError,
    driver_memory,
    session_builder,
)

OOM_STDERR = """\
Traceback (most recent call last):
  File "job_benchmark.py", line 1, in <module>
py4j.protocol.Py4JJavaError: An error occurred while calling o52.parquet.
: org.apache.spark.SparkException: Job aborted due to stage failure
Caused by: java.lang.OutOfMemoryError: Java heap space
\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)
\tat org.apache.spark.sql.errors.QueryExecutionErrors$.failedToExecute(QueryExecutionErrors.scala:1)
Exception in thread "shutdown-hook-0" java.lang.IllegalStateException: Shutdown in progress
"""


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("2g", True),
        ("450m", True),
        ("512M", True),
        ("1t", True),
        ("449m", False),
        ("460800k", True),
        ("460799k", False),
        ("512", False),
        ("2 g", False),
        ("2gb", False),
    ],
)
def test_a_heap_size_is_taken_as_the_jvm_reads_it_and_spark_accepts_it(
    monkeypatch: pytest.MonkeyPatch, value: str, accepted: bool
) -> None:
    monkeypatch.setenv(DRIVER_MEMORY_VARIABLE, value)
    if accepted:
        assert driver_memory() == value
    else:
        with pytest.raises(DriverMemoryError, match=DRIVER_MEMORY_VARIABLE):
            driver_memory()


def test_the_local_heap_comes_from_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable the benchmark sets for a small-heap engine sizes the local JVM's heap."""
    monkeypatch.delenv(DRIVER_MEMORY_VARIABLE, raising=False)
    assert session_builder("x", 2)._options["spark.driver.memory"] == DEFAULT_DRIVER_MEMORY
    monkeypatch.setenv(DRIVER_MEMORY_VARIABLE, SMALL_HEAP)
    assert session_builder("x", 2)._options["spark.driver.memory"] == SMALL_HEAP


class _FinishedProcess:
    """Stands in for a worker process: records the environment it was started with."""

    started: ClassVar[list[dict[str, str]]] = []

    def __init__(self, command: list[str], env: dict[str, str], **_: Any) -> None:
        self.started.append(env)
        self.pid, self.returncode = os.getpid(), 0

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        return "RESULT " + json.dumps({"seconds": 1.0}), ""


@pytest.mark.parametrize(
    ("engine", "heap"), [(e, SMALL_HEAP) for e in SMALL_HEAP_ENGINES] + [("ours", None)]
)
def test_only_the_small_heap_engines_are_given_the_small_heap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine: str, heap: str | None
) -> None:
    monkeypatch.delenv(DRIVER_MEMORY_VARIABLE, raising=False)
    monkeypatch.setattr(subprocess, "Popen", _FinishedProcess)
    _FinishedProcess.started.clear()

    measure(engine, tmp_path, tmp_path, 1)

    assert _FinishedProcess.started[0].get(DRIVER_MEMORY_VARIABLE) == heap


def test_a_failed_step_names_the_error_it_ended_with() -> None:
    assert StepFailedError("seed-512m", 1, OOM_STDERR).cause == (
        "Caused by: java.lang.OutOfMemoryError: Java heap space"
    )
    assert StepFailedError("seed-512m", 137, "killed\n").cause == "exit status 137"


def _step(engine: str, peak_mib: int, seconds: float) -> Step:
    return Step(engine, seconds, seconds + 3, peak_mib * 2**20, rows_in=1)


def test_a_steps_progress_line_gives_its_parts_in_seconds() -> None:
    step = Step("floor", 6.74, 9.0, 2**30, rows_in=1, parts={"parse": 3.71, "write": 3.03})
    assert _printed(step) == (
        "   floor: job 6.7s, wall 9.0s, peak 1,024 MiB, 0 rows out, parse 3.7s, write 3.0s"
    )


def test_the_small_heap_line_gives_both_peaks_or_the_failure() -> None:
    ours_engine, seed_engine = SMALL_HEAP_ENGINES
    both = ScaleResult(1.0, 1, 1)
    both.steps = {ours_engine: _step(ours_engine, 880, 30.0), seed_engine: _step("s", 800, 9.0)}
    assert small_heap_line(both) == (
        f"- peak memory ours/seed with a {SMALL_HEAP} heap each, cold at 1x "
        "(ours 880.0 MiB in 30.0 s; seed 800.0 MiB in 9.0 s): 1.10"
    )
    seed_failed = ScaleResult(10.0, 1, 1)
    seed_failed.steps = {ours_engine: _step(ours_engine, 900, 150.0)}
    seed_failed.failed = {seed_engine: "java.lang.OutOfMemoryError: Java heap space"}
    assert small_heap_line(seed_failed) == (
        f"- peak memory ours/seed with a {SMALL_HEAP} heap each, cold at 10x "
        "(ours 900.0 MiB in 150.0 s; seed failed (java.lang.OutOfMemoryError: Java heap space))"
    )
