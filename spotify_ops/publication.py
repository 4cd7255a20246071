"""What the warehouse says it published, and whether the catalog serves it.

The job publishes by pointer swap (docs/job.md): it switches the catalog table's location to
the run's ``run=<id>/`` folder, then writes the published-run pointer, then the last-run
summary. These checks read the three and say where they disagree. Every location comes from
``spotify_glue.layout.WarehouseLayout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from spotify_glue.layout import WarehouseLayout, run_id_of_folder
from spotify_glue.run_summary import RunSummary

from spotify_ops.aws_runtime import split_s3_uri
from spotify_ops.checks import CheckResult
from spotify_ops.polling import error_code


@dataclass(frozen=True)
class SummaryRead:
    """One run summary object as read from S3: the summary, or why there is none."""

    location: str
    summary: RunSummary | None
    problem: str = ""
    """Empty when ``summary`` is set; else what is wrong, naming the location."""


def read_summary(s3: Any, location: str) -> SummaryRead:
    """A run summary (the last-run one or the published-run pointer). A missing or malformed
    object is a problem the checks report, not a crash; other S3 errors raise."""
    bucket, key = split_s3_uri(location)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in {"NoSuchKey", "404"}:
            return SummaryRead(location, None, f"no run summary at {location}")
        raise
    try:
        return SummaryRead(location, RunSummary.from_json(body.decode("utf-8")))
    except (ValueError, TypeError) as exc:
        return SummaryRead(location, None, f"malformed summary at {location}: {exc}")


def _served(published: SummaryRead) -> str:
    if published.summary is None:
        return "nothing has been published yet"
    run = published.summary
    return f"the table still serves run {run.run_id} ({run.rows_written} rows)"


def _unread(name: str, read: SummaryRead, not_yet: str) -> CheckResult:
    """A summary that could not be read fails ``name`` with the reason; a missing one also
    says ``not_yet`` and how to run the pipeline."""
    hint = (
        f"; {not_yet} (run the pipeline with verify --run)"
        if read.problem.startswith("no run summary")
        else ""
    )
    return CheckResult(name, False, read.problem + hint)


def check_last_run(last: SummaryRead, published: SummaryRead) -> CheckResult:
    """The job's last run was published. A rejected one quotes the gate's reasons and says
    which run the table still serves."""
    run = last.summary
    if run is None:
        return _unread("run_summary", last, "the job has not published yet")
    if run.status != "published":
        failures = "; ".join(run.gate_failures) or "no reason recorded"
        return CheckResult(
            "run_summary",
            False,
            f"last run {run.run_id} was {run.status} by the quality gate: {failures}; "
            f"{_served(published)}",
        )
    return CheckResult(
        "run_summary",
        True,
        f"run {run.run_id} published {run.rows_written} rows at {run.finished_at}",
    )


def _run_folder_problem(location: str, layout: WarehouseLayout) -> str | None:
    """Why ``location`` is not one run's table folder of this warehouse; None if it is."""
    if location == layout.unpublished_location:
        return "is the placeholder the table starts at: no run has been published"
    if not location.startswith(layout.table_root):
        return f"is not below this warehouse's table folder {layout.table_root}"
    run_id = run_id_of_folder(location.removeprefix(layout.table_root))
    if run_id is None or location != layout.table_location(run_id):
        return f"is not a run=<id>/ folder directly below {layout.table_root}"
    return None


def check_published_run(published: SummaryRead, layout: WarehouseLayout) -> CheckResult:
    """The published-run pointer exists, names a published run, and that run's own folder."""
    run = published.summary
    if run is None:
        return _unread("published_run", published, "no run has passed the gate yet")
    if run.status != "published":
        return CheckResult(
            "published_run",
            False,
            f"the pointer at {published.location} names run {run.run_id} as {run.status}; "
            "the job writes only published runs there",
        )
    problem = _run_folder_problem(_as_folder(run.table_location), layout)
    if problem is None and _as_folder(run.table_location) != layout.table_location(run.run_id):
        problem = f"is not run {run.run_id}'s own folder {layout.table_location(run.run_id)}"
    if problem is not None:
        return CheckResult(
            "published_run",
            False,
            f"run {run.run_id}'s table_location {run.table_location!r} {problem}",
        )
    return CheckResult(
        "published_run", True, f"run {run.run_id}: {run.rows_written} rows in {run.table_location}"
    )


def _as_folder(location: str) -> str:
    """A folder location with exactly one trailing slash (Glue keeps what it was given;
    Athena reads ``x`` and ``x/`` alike)."""
    return location.rstrip("/") + "/" if location else location


def check_table_location(
    catalog_location: str,
    published: SummaryRead,
    last: SummaryRead,
    layout: WarehouseLayout,
) -> CheckResult:
    """The catalog table reads a run folder of this warehouse: the published run's, which
    is the last run's when that one was published."""
    location = _as_folder(catalog_location)
    where = f"the catalog table reads {catalog_location or '(no location)'}"
    problem = _run_folder_problem(location, layout)
    if problem is not None:
        return CheckResult("table_location", False, f"{where}, which {problem}")
    pointer = published.summary
    if pointer is None:
        return CheckResult(
            "table_location", False, f"{where}, but no published-run pointer confirms it"
        )
    if location != _as_folder(pointer.table_location):
        # Run ids sort by start time, so the folder tells a rollback from a half publish.
        served = run_id_of_folder(location.removeprefix(layout.table_root)) or ""
        why = (
            "the job stopped after switching the table, before writing the pointer"
            if served > pointer.run_id
            else "a rollback to an earlier run is in place"
        )
        return CheckResult(
            "table_location",
            False,
            f"{where}, not the published run {pointer.run_id}'s {pointer.table_location}: {why}",
        )
    run = last.summary
    if run is not None and run.status == "published" and location != _as_folder(run.table_location):
        return CheckResult(
            "table_location",
            False,
            f"{where}, but the last run {run.run_id} published {run.table_location}",
        )
    return CheckResult(
        "table_location", True, f"the catalog reads the published run {pointer.run_id}'s folder"
    )
