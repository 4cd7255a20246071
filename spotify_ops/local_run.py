"""The whole pipeline on one machine: check the input, stage the CSVs, run the Glue job's own
``run()`` on local Spark, register the Parquet table in DuckDB, run the repo's SQL, and
write an HTML report.

The layout under ``--out`` mirrors the deployed buckets: ``staging/`` (the staging bucket's
prefix) and ``warehouse/`` in ``spotify_glue.layout.WarehouseLayout``: each run's table files in
``spotify_tracks/run=<id>/``, its quarantine beside them, and the run summaries, one of which
points at the published run as the catalog table does on AWS. ``logs/`` holds Spark's log
and this command's. The input folder is only ever read (``spotify_ops.out_folder``).
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape
from spotify_glue.contract import DENORMALISED_FILE_NAME, JOB_SOURCES
from spotify_glue.gate import DEFAULT_GATE, GateThresholds
from spotify_glue.layout import WarehouseLayout, run_id_of_folder
from spotify_glue.run_summary import RunSummary

from spotify_ops.checks import (
    CHECKS_DIR,
    INSIGHTS_DIR,
    CheckResult,
    load_sql,
    run_checks,
    sql_files,
)
from spotify_ops.exit_codes import ExitCode
from spotify_ops.inputs import input_problems
from spotify_ops.out_folder import (
    OutFolderError,
    check_paths,
    claim,
    remove_owned,
    remove_scratch,
    replace_file,
    replace_folder,
    scratch,
)
from spotify_ops.progress import JobLogQueue, JobStages, RunProgress, job_log, spark_tasks
from spotify_ops.spark import SHORT_RUN_INPUT_BYTES, DriverMemoryError, driver_memory

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from spotify_ops.duckdb_engine import DuckDBEngine

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_INPUT: Final = REPO_ROOT / "data" / "sample"
DEFAULT_OUT: Final = Path("out") / "demo"
REPORT_NAME: Final = "report.html"
LOG = logging.getLogger(__name__)

find_input_problems = input_problems
"""Everything wrong with an input folder (``spotify_ops.inputs``), one message each."""


class LocalRunError(RuntimeError):
    """A failure with a message for the user and the exit code the CLI returns."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Layout:
    """Where each part of a local run lives under the output folder."""

    out_dir: Path

    @property
    def staging(self) -> Path:
        return self.out_dir / "staging"

    @property
    def warehouse(self) -> Path:
        return self.out_dir / "warehouse"

    @property
    def warehouse_layout(self) -> WarehouseLayout:
        """The contract's layout below the local warehouse folder, as on the bucket."""
        return WarehouseLayout(str(self.warehouse))

    def published_run(self) -> RunSummary | None:
        """The summary of the run the table points at (None before the first publish)."""
        return self._read_summary(Path(self.warehouse_layout.published_location))

    def last_run(self) -> RunSummary | None:
        """The summary of the last run, published or rejected (None before the first)."""
        return self._read_summary(Path(self.warehouse_layout.summary_location))

    def _read_summary(self, path: Path) -> RunSummary | None:
        """A summary an earlier run wrote; one that cannot be read (damaged, or from an
        older version) is a ``LocalRunError`` naming the file and the fix. Nothing is
        removed: which run folders it names is unknown."""
        try:
            return RunSummary.from_json(path.read_text("utf-8")) if path.is_file() else None
        except (OSError, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError too
            reason = error.strerror if isinstance(error, OSError) else str(error)
            raise LocalRunError(
                f"cannot read the run summary {path} ({reason}): remove that file, or the whole "
                f"--out folder {self.out_dir} (local-run's own), or choose another --out",
                ExitCode.USAGE,
            ) from None

    def check_summaries(self) -> None:
        """Refuse now, before Spark, summaries a failed or interrupted run would need."""
        self.published_run()
        self.last_run()

    @property
    def report(self) -> Path:
        return self.out_dir / REPORT_NAME

    @property
    def logs(self) -> Path:
        return self.out_dir / "logs"

    @property
    def spark_log(self) -> Path:
        """Spark's (log4j2) log, when this run started Spark."""
        return self.logs / "spark.log"

    @property
    def run_log(self) -> Path:
        """This command's log: the job's log lines, and the full text of any error."""
        return self.logs / "local-run.log"


@dataclass
class LocalRunResult:
    layout: Layout
    summary: RunSummary
    checks: list[CheckResult] = field(default_factory=list)
    insights: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.summary.status == "published" and all(c.passed for c in self.checks)


# --- Step 1: the folders --------------------------------------------------------------------


def prepare(input_dir: Path, out_dir: Path) -> Layout:
    """Check the arguments and the input folder, then claim the output folder. Nothing is
    created or changed before every check has passed."""
    try:
        out = check_paths(input_dir, out_dir)
    except OutFolderError as error:
        raise LocalRunError(str(error), ExitCode.USAGE) from None
    try:
        driver_memory()
    except DriverMemoryError as error:
        raise LocalRunError(str(error), ExitCode.USAGE) from None
    problems = input_problems(input_dir)
    if len(problems) == 1:
        raise LocalRunError(problems[0], ExitCode.USAGE)
    if problems:
        raise LocalRunError(
            f"input folder {input_dir} is not ready:\n  - " + "\n  - ".join(problems),
            ExitCode.USAGE,
        )
    try:
        claim(out)
    except OutFolderError as error:
        raise LocalRunError(str(error), ExitCode.USAGE) from None
    layout = Layout(out)
    layout.check_summaries()
    remove_scratch(out)
    return layout


def stage_inputs(input_dir: Path, layout: Layout) -> list[Path]:
    """Copy the job's input CSVs (and the denormalised file if present) into a fresh
    staging folder, as an upload to the staging bucket would. The copy is made aside and
    renamed into place, so ``staging/`` is never partly written."""
    names = [s.file_name for s in JOB_SOURCES]
    if (input_dir / DENORMALISED_FILE_NAME).is_file():
        names.append(DENORMALISED_FILE_NAME)
    with scratch(layout.out_dir, "staging") as build:
        build.mkdir()
        for name in names:
            shutil.copyfile(input_dir / name, build / name)
        replace_folder(layout.staging, build, layout.out_dir)
    return [layout.staging / name for name in names]


# --- Step 2: the job ------------------------------------------------------------------------


def run_etl_locally(spark: SparkSession, layout: Layout, gate: GateThresholds) -> RunSummary:
    """The Glue job's ``run()`` with the contract's layout under the local warehouse."""
    from spotify_glue import etl
    from spotify_glue.sources import InputFileError

    args = etl.JobArgs(str(layout.staging), str(layout.warehouse), gate)
    try:
        return etl.run(spark, args)
    except InputFileError as error:
        raise LocalRunError(str(error), ExitCode.USAGE) from error


@dataclass(frozen=True)
class LocalSpark:
    session: SparkSession
    owned: bool
    """Started by this run (and stopped by it), rather than given or already active."""


def is_short_run(staged: list[Path]) -> bool:
    """Whether the staged files are small enough for a short-run JVM (``SHORT_RUN_INPUT_BYTES``)."""
    return sum(path.stat().st_size for path in staged) < SHORT_RUN_INPUT_BYTES


@contextmanager
def spark_session(
    existing: SparkSession | None, log_file: Path, short_run: bool = False
) -> Iterator[LocalSpark]:
    """The given session, or a new local one (logging to ``log_file``; see
    ``local_spark_session`` for ``short_run``) that is stopped afterwards. A session already
    active in this process (a test's) is reused and left running. Ctrl-C while a session
    starts or stops takes effect once it has."""
    if existing is not None:
        yield LocalSpark(existing, owned=False)
        return
    from pyspark.sql import SparkSession

    from spotify_ops.spark import JavaMissingError, local_spark_session
    from spotify_ops.spark_step import sigint_deferred

    active = SparkSession.getActiveSession()
    if active is not None:
        yield LocalSpark(active, owned=False)
        return
    # PySpark installs a Ctrl-C handler that uses the session, and leaves it after stop().
    sigint = signal.getsignal(signal.SIGINT)
    session: SparkSession | None = None
    try:
        with sigint_deferred():
            try:
                session = local_spark_session(
                    "spotify-local-run", log_file=log_file, short_run=short_run
                )
            except JavaMissingError as error:
                raise LocalRunError(str(error), ExitCode.ENVIRONMENT) from error
        yield LocalSpark(session, owned=True)
    finally:
        try:
            if session is not None:
                with sigint_deferred():
                    session.stop()
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, sigint)


def _run_folders(layout: WarehouseLayout) -> set[Path]:
    """Every ``run=<id>`` folder below the table and quarantine roots."""
    folders: set[Path] = set()
    for root in (Path(layout.table_root), Path(layout.quarantine_root)):
        if root.is_dir():
            folders |= {p for p in root.iterdir() if run_id_of_folder(p.name) is not None}
    return folders


def _error_line(error: BaseException) -> str:
    """The line of a (py4j or Spark) error that says what went wrong."""
    lines = [line.strip().removeprefix(": ") for line in str(error).strip().splitlines()]
    useful = [line for line in lines if line and not line.startswith("An error occurred")]
    return useful[0] if useful else type(error).__name__


def watch_job(
    spark: LocalSpark, layout: Layout, gate: GateThresholds, progress: RunProgress
) -> RunSummary:
    """``run_etl_locally`` with its stages on the display. Ctrl-C stops the session (or, if
    it is not this run's, cancels its jobs) and raises ``KeyboardInterrupt``; a Spark failure
    becomes one line, its full text in the log."""
    from spotify_glue import etl

    from spotify_ops.spark_step import run_interruptibly

    session = spark.session
    stages = JobStages(progress)
    records = JobLogQueue()

    def tick() -> None:
        stages.drain(records.messages)
        progress.note(spark_tasks(session.sparkContext))

    with job_log(records):
        stages.start()
        try:
            summary = run_interruptibly(
                session.sparkContext,
                lambda: run_etl_locally(session, layout, gate),
                tick,
                stop=session.stop if spark.owned else None,
            )
        except (LocalRunError, etl.QualityGateError, KeyboardInterrupt):
            stages.drain(records.messages)
            raise
        except Exception as error:
            LOG.error("the job failed", exc_info=error)
            progress.fail("the job failed")
            spark_log = f", Spark's in {layout.spark_log}" if layout.spark_log.is_file() else ""
            raise LocalRunError(
                f"the Glue job failed: {_error_line(error)}. The published table is unchanged; "
                f"the full error is in {layout.run_log}{spark_log}",
                ExitCode.FAILED,
            ) from None
        stages.drain(records.messages)
    stages.finish(summary)
    return summary


def discard_unfinished_runs(layout: Layout, before: set[Path]) -> list[Path]:
    """Delete the run folders an interrupted run left, keeping those a summary names."""
    kept = {
        Path(location)
        for summary in (layout.published_run(), layout.last_run())
        if summary is not None
        for location in (summary.table_location, summary.quarantine_location)
        if location
    }
    leftovers = sorted(_run_folders(layout.warehouse_layout) - before - kept)
    for folder in leftovers:
        remove_owned(folder, layout.out_dir)
    return leftovers


# --- Steps 3-4: checks and queries ----------------------------------------------------------


def run_queries(engine: DuckDBEngine) -> dict[str, list[dict[str, Any]]]:
    """Every SQL file of the repo (checks and insights), by name."""
    answers: dict[str, list[dict[str, Any]]] = {}
    for folder in (CHECKS_DIR, INSIGHTS_DIR):
        for name, path in sql_files(folder).items():
            answers[name] = engine.query(load_sql(path), name)
    return answers


# --- The pipeline ---------------------------------------------------------------------------


@contextmanager
def log_to(path: Path) -> Iterator[None]:
    """Python's log records and warnings (the job's, py4j's, PySpark's) go to ``path``, not
    the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    logging.captureWarnings(True)  # PySpark warns, e.g. when a stop is cut short
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        handler.close()


def local_run(
    input_dir: Path = DEFAULT_INPUT,
    out_dir: Path = DEFAULT_OUT,
    spark: SparkSession | None = None,
    gate: GateThresholds = DEFAULT_GATE,
    console: Console | None = None,
) -> LocalRunResult:
    """Run every step; write the report even when the gate or a check fails, then raise
    ``LocalRunError`` naming what failed. Ctrl-C raises it with ``ExitCode.INTERRUPTED``
    after removing what the run left half-written."""
    progress = RunProgress(console or Console(stderr=True))
    with progress.stage("inputs", f"checking {input_dir}") as stage:
        layout = prepare(input_dir, out_dir)
        stage.detail = f"{len(JOB_SOURCES)} files in {input_dir} have the contract's headers"
    before = _run_folders(layout.warehouse_layout)
    published_before = layout.published_run()
    try:
        with log_to(layout.run_log):
            return _pipeline(input_dir, layout, spark, gate, progress)
    except KeyboardInterrupt:
        progress.abandon()
        discard_unfinished_runs(layout, before)
        remove_scratch(layout.out_dir)
        published = layout.published_run()
        if published is None or (
            published_before is not None and published.run_id == published_before.run_id
        ):
            outcome = "nothing was published; the table and report are as they were"
        else:
            outcome = f"run {published.run_id} was published; the report was not rewritten"
        raise LocalRunError(f"interrupted: {outcome}", ExitCode.INTERRUPTED) from None
    except LocalRunError:
        # A failed job's half-written run folder is never published; a rejected or
        # published run's folders are named by a summary and kept.
        discard_unfinished_runs(layout, before)
        raise


def _pipeline(
    input_dir: Path,
    layout: Layout,
    spark: SparkSession | None,
    gate: GateThresholds,
    progress: RunProgress,
) -> LocalRunResult:
    with progress.stage("stage", f"copying the CSVs to {layout.staging}") as stage:
        staged = stage_inputs(input_dir, layout)
        stage.detail = f"{len(staged)} files copied to {layout.staging}"

    # Imported here so `spotify-ops --help` and `generate` need not load Spark or matplotlib.
    from spotify_glue import etl

    from spotify_ops.duckdb_engine import DuckDBEngine
    from spotify_ops.report import ReportData, render_report

    rejection: etl.QualityGateError | None = None
    with ExitStack() as spark_scope:
        with progress.stage("spark", "starting local Spark") as stage:
            local_spark = spark_scope.enter_context(
                spark_session(spark, layout.spark_log, is_short_run(staged))
            )
            stage.detail = f"Spark {local_spark.session.version} started"
        try:
            summary = watch_job(local_spark, layout, gate, progress)
        except etl.QualityGateError as error:
            rejection = error
            progress.fail("the quality gate rejected the run")
            last = layout.last_run()
            assert last is not None  # the job writes it before raising
            summary = last

    result = LocalRunResult(layout, summary, timings=progress.timings)
    if rejection is None:
        with DuckDBEngine(Path(summary.table_location)) as engine:
            with progress.stage("checks", "checking the table in DuckDB") as stage:
                result.checks = run_checks(engine, summary, gate)
                passed = sum(c.passed for c in result.checks)
                stage.detail = f"{passed} of {len(result.checks)} checks passed"
            if result.checks[0].passed:  # the schema: queries need the contract's columns
                with progress.stage("queries", "running the repo's SQL") as stage:
                    result.insights = run_queries(engine)
                    stage.detail = f"{len(result.insights)} queries ran"

    quarantine = Path(summary.quarantine_location)
    with progress.stage("report", f"writing {layout.report}") as stage:
        data = ReportData(
            summary,
            result.checks,
            result.insights,
            source=str(input_dir),
            quarantine_href=_relative_href(quarantine, layout.out_dir),
        )
        replace_file(layout.report, render_report(data), layout.out_dir)
        stage.detail = str(layout.report)

    if rejection is not None:
        raise LocalRunError(
            f"{rejection}\nQuarantined rows: {quarantine}\nReport: {layout.report}",
            ExitCode.FAILED,
        )
    failed = [c for c in result.checks if not c.passed]
    if failed:
        details = "\n  - ".join(f"{c.name}: {c.detail}" for c in failed)
        raise LocalRunError(
            f"{len(failed)} check(s) failed:\n  - {details}\nReport: {layout.report}",
            ExitCode.FAILED,
        )
    return result


def _relative_href(target: Path, base: Path) -> str:
    """``target`` as a link from a file in ``base``; absolute when it is outside."""
    try:
        return target.relative_to(base).as_posix() + "/"
    except ValueError:
        return target.as_uri() if target.is_absolute() else target.as_posix()


# --- CLI ------------------------------------------------------------------------------------


def local_run_command(
    input_dir: Annotated[
        Path,
        typer.Option(
            "--input",
            help="Folder holding the Spotify 2023 CSVs (default: the repo's data/sample). "
            "Only read, never changed.",
        ),
    ] = DEFAULT_INPUT,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for staging, warehouse, logs and report.html: a new or empty folder, "
            "or one an earlier local-run wrote. Must not overlap --input.",
        ),
    ] = DEFAULT_OUT,
) -> None:
    """Run the pipeline locally: CSVs -> the Glue job on Spark -> Parquet -> DuckDB -> report."""
    console = Console(stderr=True)
    try:
        result = local_run(input_dir, out_dir, console=console)
    except LocalRunError as error:
        what = "interrupted" if error.exit_code == ExitCode.INTERRUPTED else "failed"
        message = str(error).removeprefix("interrupted: ")
        console.print(
            f"[bold red]local-run {what}:[/bold red] {escape(message)}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(error.exit_code) from None
    summary = result.summary
    console.print(
        f"Published {summary.rows_written:,} rows "
        f"({summary.quarantine_rate:.2%} quarantined, {summary.join_loss_rate:.2%} lost in "
        f"joins); {len(result.checks)} checks passed; {len(result.insights)} queries ran.",
        highlight=False,
    )
    typer.echo(f"Report: {result.layout.report}")
