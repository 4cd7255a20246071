"""The whole pipeline on one machine: stage CSVs, run the Glue job's own ``run()`` on local
Spark, register the Parquet table in DuckDB, run the repo's SQL, and write an HTML report.

The layout under ``--out`` mirrors the deployed buckets: ``staging/`` (the staging bucket's
prefix) and ``warehouse/`` in the contract's ``WarehouseLayout``: each run's table files in
``spotify_tracks/run=<id>/``, its quarantine beside them, and the run summaries, one of which
points at the published run as the catalog table does on AWS.
"""

from __future__ import annotations

import difflib
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from spotify_glue.contract import (
    DEFAULT_GATE,
    DENORMALISED_FILE_NAME,
    JOB_SOURCES,
    GateThresholds,
    RunSummary,
    WarehouseLayout,
)

from spotify_ops.checks import (
    CHECKS_DIR,
    INSIGHTS_DIR,
    CheckResult,
    load_sql,
    run_checks,
    sql_files,
)
from spotify_ops.exit_codes import ExitCode

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from spotify_ops.duckdb_engine import DuckDBEngine

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_INPUT: Final = REPO_ROOT / "data" / "sample"
DEFAULT_OUT: Final = Path("out") / "demo"
REPORT_NAME: Final = "report.html"

NEAR_MISS_SIMILARITY: Final = 0.85
"""How alike (difflib ratio, case-insensitive) a stray file name must be to suggest it."""


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
        pointer = Path(self.warehouse_layout.published_location)
        return RunSummary.from_json(pointer.read_text("utf-8")) if pointer.is_file() else None

    @property
    def report(self) -> Path:
        return self.out_dir / REPORT_NAME


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


# --- Step 1: staging ------------------------------------------------------------------------


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def find_input_problems(input_dir: Path) -> list[str]:
    """One message per job input file that is not in ``input_dir`` under its exact name,
    naming the expected file and the near-miss most like it, if any."""
    if not input_dir.is_dir():
        expected = ", ".join(s.file_name for s in JOB_SOURCES)
        return [f"input folder {input_dir} does not exist; it must hold {expected}"]
    expected_names = {s.file_name for s in JOB_SOURCES}
    present = {p.name for p in input_dir.iterdir() if p.is_file()}
    missing = [s for s in JOB_SOURCES if s.file_name not in present]
    if not missing:
        return []
    # Each stray file is a near-miss of at most one missing file: the one it resembles most.
    near_miss: dict[str, tuple[float, str]] = {}
    for stray in sorted(present - expected_names - {DENORMALISED_FILE_NAME}):
        score, closest = max((_similarity(stray, s.file_name), s.file_name) for s in missing)
        if score >= NEAR_MISS_SIMILARITY and score > near_miss.get(closest, (0.0, ""))[0]:
            near_miss[closest] = (score, stray)
    problems = []
    for source in missing:
        hint = ""
        if source.file_name in near_miss:
            stray = near_miss[source.file_name][1]
            hint = f"; found {stray!r}: rename it to {source.file_name!r}"
        problems.append(f"missing {source.key} file: expected {source.file_name!r}{hint}")
    return problems


def stage_inputs(input_dir: Path, staging_dir: Path) -> list[Path]:
    """Copy the job's input CSVs (and the denormalised file if present) into a fresh
    staging folder, as an upload to the staging bucket would."""
    problems = find_input_problems(input_dir)
    if problems and not input_dir.is_dir():
        raise LocalRunError(problems[0], ExitCode.USAGE)
    if problems:
        raise LocalRunError(
            f"input folder {input_dir} is not ready:\n  - " + "\n  - ".join(problems),
            ExitCode.USAGE,
        )
    if staging_dir.exists():
        shutil.rmtree(staging_dir)
    staging_dir.mkdir(parents=True)
    names = [s.file_name for s in JOB_SOURCES]
    if (input_dir / DENORMALISED_FILE_NAME).is_file():
        names.append(DENORMALISED_FILE_NAME)
    return [Path(shutil.copy2(input_dir / name, staging_dir / name)) for name in names]


# --- Step 2-3: the job ----------------------------------------------------------------------


def run_etl_locally(spark: SparkSession, layout: Layout, gate: GateThresholds) -> RunSummary:
    """The Glue job's ``run()`` with the contract's layout under the local warehouse."""
    from spotify_glue import etl

    args = etl.JobArgs(str(layout.staging), str(layout.warehouse), gate)
    try:
        return etl.run(spark, args)
    except etl.InputFileError as error:
        raise LocalRunError(str(error), ExitCode.USAGE) from error


@contextmanager
def spark_session(existing: SparkSession | None) -> Iterator[SparkSession]:
    """The given session, or a new local one that is stopped afterwards. A session already
    active in this process (a test's) is reused and left running."""
    if existing is not None:
        yield existing
        return
    from spotify_ops.spark import JavaMissingError, local_spark_session

    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        session = active or local_spark_session("spotify-local-run")
    except JavaMissingError as error:
        raise LocalRunError(str(error), ExitCode.ENVIRONMENT) from error
    try:
        yield session
    finally:
        if active is None:
            session.stop()


# --- Steps 4-5: catalog, checks and queries -------------------------------------------------


def query_everything(
    engine: DuckDBEngine, summary: RunSummary, gate: GateThresholds
) -> tuple[list[CheckResult], dict[str, list[dict[str, Any]]]]:
    """The contract checks, then every SQL file of the repo (checks and insights)."""
    checks = run_checks(engine, summary, gate)
    answers: dict[str, list[dict[str, Any]]] = {}
    if not checks[0].passed:
        return checks, answers
    for folder in (CHECKS_DIR, INSIGHTS_DIR):
        for name, path in sql_files(folder).items():
            answers[name] = engine.query(load_sql(path), name)
    return checks, answers


# --- The pipeline ---------------------------------------------------------------------------


def local_run(
    input_dir: Path = DEFAULT_INPUT,
    out_dir: Path = DEFAULT_OUT,
    spark: SparkSession | None = None,
    gate: GateThresholds = DEFAULT_GATE,
    console: Console | None = None,
) -> LocalRunResult:
    """Run every step; write the report even when the gate or a check fails, then raise
    ``LocalRunError`` naming what failed."""
    console = console or Console(stderr=True)
    layout = Layout(out_dir)
    timings: dict[str, float] = {}

    @contextmanager
    def step(name: str, doing: str) -> Iterator[None]:
        started = time.perf_counter()
        with console.status(f"{doing}..."):
            yield
        timings[name] = time.perf_counter() - started
        console.print(f"[green]✓[/green] {doing} ({timings[name]:.1f} s)")

    with step("stage", f"staging CSVs from {input_dir}"):
        stage_inputs(input_dir, layout.staging)

    # Imported here so `spotify-ops --help` and `generate` need not load Spark or matplotlib.
    from spotify_glue import etl

    from spotify_ops.duckdb_engine import DuckDBEngine
    from spotify_ops.report import ReportData, render_report

    rejection: etl.QualityGateError | None = None
    with ExitStack() as spark_scope:
        with step("spark", "starting local Spark"):
            session = spark_scope.enter_context(spark_session(spark))
        with step("job", "running the Glue job (etl.run)"):
            try:
                summary = run_etl_locally(session, layout, gate)
            except etl.QualityGateError as error:
                rejection = error
                summary = RunSummary.from_json(
                    Path(layout.warehouse_layout.summary_location).read_text("utf-8")
                )

    if rejection is not None:
        console.print("[bold red]✗[/bold red] the quality gate rejected the run")
    result = LocalRunResult(layout, summary, timings=timings)
    if rejection is None:
        with (
            step("query", "registering the table in DuckDB and running the SQL"),
            DuckDBEngine(Path(summary.table_location)) as engine,
        ):
            result.checks, result.insights = query_everything(engine, summary, gate)

    with step("report", "writing the report"):
        data = ReportData(summary, result.checks, result.insights, source=str(input_dir))
        layout.report.write_text(render_report(data), encoding="utf-8")

    if rejection is not None:
        raise LocalRunError(f"{rejection}\nReport: {layout.report}", ExitCode.FAILED)
    failed = [c for c in result.checks if not c.passed]
    if failed:
        details = "\n  - ".join(f"{c.name}: {c.detail}" for c in failed)
        raise LocalRunError(
            f"{len(failed)} check(s) failed:\n  - {details}\nReport: {layout.report}",
            ExitCode.FAILED,
        )
    return result


# --- CLI ------------------------------------------------------------------------------------


def local_run_command(
    input_dir: Annotated[
        Path,
        typer.Option(
            "--input",
            help="Folder holding the Spotify 2023 CSVs (default: the repo's data/sample).",
        ),
    ] = DEFAULT_INPUT,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for staging, warehouse and report.html.")
    ] = DEFAULT_OUT,
) -> None:
    """Run the pipeline locally: CSVs -> the Glue job on Spark -> Parquet -> DuckDB -> report."""
    console = Console(stderr=True)
    try:
        result = local_run(input_dir, out_dir, console=console)
    except LocalRunError as error:
        console.print(
            f"[bold red]local-run failed:[/bold red] {error}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(error.exit_code) from error
    summary = result.summary
    console.print(
        f"Published {summary.rows_written:,} rows "
        f"({summary.quarantine_rate:.2%} quarantined, {summary.join_loss_rate:.2%} lost in "
        f"joins); {len(result.checks)} checks passed; {len(result.insights)} queries ran."
    )
    typer.echo(f"Report: {result.layout.report.resolve()}")
