"""What a local run shows while it works: one spinner for the running stage, then one line
per finished stage with its row counts and time.

The job's own stages (read, classify, join, write) are seen through the job's log records
(``spotify_glue.etl`` logs each step with its counts), so the job needs no hook for the CLI.
Log records arrive on the job's thread; they are queued and shown by the thread that owns
the terminal. Any stage the records did not finish is finished from the run summary.
"""

from __future__ import annotations

import logging
import queue
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from spotify_glue.contract import JOB_SOURCES
from spotify_glue.run_summary import RunSummary

if TYPE_CHECKING:
    from pyspark import SparkContext

JOB_LOGGER: Final = "spotify_glue"
"""The job package's logger: its modules log below it (the steps as ``spotify_glue.etl``)."""

JOB_STAGES: Final[dict[str, str]] = {
    "read": "reading and parsing the CSVs",
    "classify": "quarantining malformed rows",
    "join": "joining albums, artists, tracks and features",
    "write": "writing the Parquet table",
}
"""The job's stages in order, each with what the spinner says while it runs."""

# The job's log lines (spotify_glue.etl) that end a stage or carry its counts.
_ROWS_READ: Final = re.compile(r"^(\w+): (\d+) rows read from .*, (\d+) duplicates removed$")
_QUARANTINED: Final = re.compile(r"^(\w+): (\d+) rows quarantined: (.*)$")
_QUARANTINE_WRITTEN: Final = re.compile(r"^quarantined rows written to (.*)$")
_GATE: Final = re.compile(r"^gate: (\d+) candidate rows, .*, (passed|failed)$")
_PUBLISHED: Final = re.compile(r"^run (\S+) published (\d+) rows to (.*)$")


@dataclass
class _Stage:
    name: str
    started: float = field(default_factory=time.perf_counter)
    detail: str = ""


class RunProgress:
    """The stage display. Not thread-safe: only the thread that owns the console calls it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.timings: dict[str, float] = {}
        self._stage: _Stage | None = None
        self._doing = ""
        self._status: Status | None = None

    def begin(self, name: str, doing: str) -> None:
        self.end()
        self._stage = _Stage(name)
        self._doing = doing
        self._status = self.console.status(self._spinner_text(""))
        self._status.start()

    def note(self, detail: str) -> None:
        """Extra words on the spinner (e.g. Spark's task counts)."""
        if self._status is not None:
            self._status.update(self._spinner_text(detail))

    def end(self, detail: str | None = None, ok: bool = True) -> None:
        """Finish the running stage (if any) with one line."""
        stage, self._stage = self._stage, None
        if self._status is not None:
            self._status.stop()
            self._status = None
        if stage is None:
            return
        seconds = time.perf_counter() - stage.started
        self.timings[stage.name] = seconds
        mark = "[green]✓[/green]" if ok else "[bold red]✗[/bold red]"
        words = escape(detail if detail is not None else stage.detail or self._doing)
        took = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
        self.console.print(
            f"{mark} {stage.name:<8} {words} [dim]({took})[/dim]",
            highlight=False,
            soft_wrap=True,
        )

    def fail(self, text: str) -> None:
        """End the running stage with a failure line, or print one if none is running."""
        if self._stage is not None:
            self.end(text, ok=False)
        else:
            self.console.print(f"[bold red]✗[/bold red] {escape(text)}", highlight=False)

    @property
    def running(self) -> str | None:
        return self._stage.name if self._stage else None

    @contextmanager
    def stage(self, name: str, doing: str) -> Iterator[_Stage]:
        """A stage around a block; set ``.detail`` on the yielded stage for its line. A
        block that raises stops the spinner and prints nothing."""
        self.begin(name, doing)
        assert self._stage is not None
        stage = self._stage
        try:
            yield stage
        except BaseException:
            self.abandon()
            raise
        self.end(stage.detail)

    def abandon(self) -> None:
        """Stop the spinner without a line (the caller reports what went wrong)."""
        if self._status is not None:
            self._status.stop()
            self._status = None
        self._stage = None

    def _spinner_text(self, detail: str) -> str:
        name = self._stage.name if self._stage else ""
        return escape(f"{name}: {self._doing}..." + (f" {detail}" if detail else ""))


class JobLogQueue(logging.Handler):
    """Queues the messages of the job's log records for the display thread."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: queue.SimpleQueue[str] = queue.SimpleQueue()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.put(record.getMessage())


class JobStages:
    """The job's stages on a ``RunProgress``, advanced by the job's log messages."""

    def __init__(self, progress: RunProgress) -> None:
        self.progress = progress
        self.read: dict[str, int] = {}
        self.duplicates = 0
        self.quarantined = 0

    def start(self) -> None:
        self._begin("read")

    def _begin(self, name: str) -> None:
        self.progress.begin(name, JOB_STAGES[name])

    def _finish_read(self) -> None:
        if self.progress.running == "read":
            counts = ", ".join(f"{k} {v:,}" for k, v in self.read.items())
            self.progress.end(f"{sum(self.read.values()):,} rows ({counts})")
            self._begin("classify")

    def message(self, text: str) -> None:
        """Advance on one job log message; messages the display does not know are ignored."""
        if match := _ROWS_READ.match(text):
            self.read[match[1]] = int(match[2])
            self.duplicates += int(match[3])
            if len(self.read) == len(JOB_SOURCES):
                self._finish_read()
        elif match := _QUARANTINED.match(text):
            self.quarantined += int(match[2])
        elif match := _QUARANTINE_WRITTEN.match(text):
            self._finish_read()
            if self.progress.running == "classify":
                self.progress.end(
                    f"{self.quarantined:,} rows quarantined, {self.duplicates:,} duplicates removed"
                )
                self._begin("join")
        elif match := _GATE.match(text):
            if self.progress.running == "join":
                verdict = "gate passed" if match[2] == "passed" else "gate FAILED"
                self.progress.end(f"{int(match[1]):,} rows after the joins; {verdict}")
                if match[2] == "passed":
                    self._begin("write")
        elif (match := _PUBLISHED.match(text)) and self.progress.running == "write":
            self.progress.end(f"{int(match[2]):,} rows to {match[3]}")

    def drain(self, messages: queue.SimpleQueue[str]) -> None:
        while True:
            try:
                self.message(messages.get_nowait())
            except queue.Empty:
                return

    def finish(self, summary: RunSummary) -> None:
        """End the job stage the log did not end (if any) with the summary's figures."""
        running = self.progress.running
        if running is None:
            return
        if running != "write":
            self.progress.end(
                f"{summary.total_read:,} rows read, {summary.total_quarantined:,} quarantined"
            )
            if summary.status != "published":
                return
            self._begin("write")
        self.progress.end(f"{summary.rows_written:,} rows to {summary.table_location}")


def spark_tasks(context: SparkContext) -> str:
    """Spark's task counts for the running stages, e.g. ``tasks 3/8``; empty when idle."""
    tracker = context.statusTracker()
    done = total = 0
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            done += info.numCompletedTasks
            total += info.numTasks
    return f"(Spark tasks {done}/{total})" if total else ""


@contextmanager
def job_log(handler: logging.Handler) -> Iterator[None]:
    """The job's INFO records go to ``handler`` while the block runs."""
    logger = logging.getLogger(JOB_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
