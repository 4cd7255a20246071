"""The Spotify 2023 ETL job: staged CSVs in, one typed, de-duplicated Parquet table out.

It does what the seed's Glue Studio visual job did (albums ⋈ artists on ``artist_id = id``,
then ⋈ tracks on ``track_id = id``, duplicate join keys dropped, Parquet with Snappy) and then
does it right: typed read schemas, quarantined malformed rows, de-duplication, audio features
by left join, a quality gate before anything is published, an atomic publish, and a run
summary that accounts for every row.

``run`` is the job, step by step; the steps' logic lives in the package's other modules
(``sources``, ``classify``, ``transform``, ``publish``, ``retries``). ``run`` is shared by the
Glue entry point (``main``) and the local runner. ``awsglue`` is imported only in ``main`` so
plain pyspark can import this module.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, TextIO

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from spotify_glue.classify import RAW_COLUMN, REASON_COLUMN, classify
from spotify_glue.contract import JOB_SOURCES, PRIMARY_KEY
from spotify_glue.gate import DEFAULT_GATE, GateError, GateThresholds
from spotify_glue.layout import WarehouseLayout, new_run_id
from spotify_glue.publish import CatalogSwitch, glue_catalog_switch, prune_runs, publish
from spotify_glue.records import ODD_COLUMN, RECORD_ID_COLUMN, LineScan
from spotify_glue.retries import Rejection, run_fingerprint
from spotify_glue.run_summary import RunSummary
from spotify_glue.sources import check_input, read_source, scan_source
from spotify_glue.storage import delete_folder, file_bytes, filesystem, read_text, write_text
from spotify_glue.transform import (
    USED_COLUMNS,
    GroupCounts,
    SourceCounts,
    count_groups,
    count_if,
    enrich,
    group_records,
    publishable,
    quarantined_records,
)

LOG: Final = logging.getLogger("spotify_glue.etl")

JOB_ARGUMENTS: Final = (
    "staging_path",
    "warehouse_location",
    "catalog_database",
    "min_rows",
    "max_quarantine_rate",
    "max_join_loss_rate",
)
"""The job's ``--NAME`` arguments; the Pulumi program passes exactly these."""

CSV_COLUMN_PRUNING: Final = "spark.sql.optimizer.enableCsvExpressionOptimization"
"""Lets Spark parse only the fields of ``from_csv`` a query reads (Spark skips it today when
options are given, as the job's are; switched off so that stays true)."""
SHUFFLE_PARTITIONS: Final = "spark.sql.shuffle.partitions"
CSV_BYTES_PER_PARTITION: Final = 32 * 2**20
"""Input per shuffle partition: small enough that a partition's sort and cache fit in a
small executor's heap; adaptive execution merges partitions that turn out small."""


class QualityGateError(RuntimeError):
    """The run's data failed the publish gate; the published table was left untouched."""

    def __init__(self, failures: Sequence[str], summary_location: str) -> None:
        self.failures = list(failures)
        super().__init__(
            "Quality gate rejected the run; the published table was left untouched. "
            f"Failed rules: {'; '.join(self.failures)}. Run summary: {summary_location}"
        )


class JobArgumentError(ValueError):
    """A job argument is missing or has a value the job cannot use."""


# --- Arguments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobArgs:
    staging_path: str
    """Folder or s3:// prefix holding the source CSVs, named as in the contract."""
    warehouse_location: str
    """Folder or s3:// bucket URI below which the contract's layout lives."""
    gate: GateThresholds = DEFAULT_GATE
    """The publish gate."""
    catalog_database: str = ""
    """Glue catalog database whose table is switched to each published run; empty when
    there is no catalog (the local run), where the published-run pointer is the switch."""

    def __post_init__(self) -> None:
        for name in ("staging_path", "warehouse_location"):
            if not str(getattr(self, name)).strip():
                raise JobArgumentError(f"--{name} is empty; give a local folder or s3:// URI")

    @property
    def layout(self) -> WarehouseLayout:
        return WarehouseLayout(self.warehouse_location)

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> JobArgs:
        """Parse ``getResolvedOptions`` output (all strings); errors name the argument."""
        missing = [name for name in JOB_ARGUMENTS if name not in options]
        if missing:
            raise JobArgumentError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
        try:
            gate = GateThresholds.parse(options, spelling=lambda name: f"--{name}")
        except GateError as error:
            raise JobArgumentError(str(error)) from None
        return cls(
            staging_path=options["staging_path"],
            warehouse_location=options["warehouse_location"],
            gate=gate,
            catalog_database=options["catalog_database"].strip(),
        )


def gate_failures(
    summary: RunSummary, gate: GateThresholds, *, null_keys: int, duplicate_keys: int
) -> list[str]:
    """The gate rules this run breaks, each as a sentence with the figures; empty = publish.

    ``summary.rows_written`` is the candidate row count at this point.
    """
    failures = []
    if summary.rows_written < gate.min_rows:
        failures.append(f"rows {summary.rows_written:,} < min_rows {gate.min_rows:,}")
    if null_keys:
        failures.append(f"{null_keys:,} rows have a null {PRIMARY_KEY}")
    if duplicate_keys:
        failures.append(f"{duplicate_keys:,} duplicate {PRIMARY_KEY} values")
    if summary.quarantine_rate > gate.max_quarantine_rate:
        failures.append(
            f"quarantine_rate {summary.quarantine_rate:.4f} > max_quarantine_rate "
            f"{gate.max_quarantine_rate} ({summary.total_quarantined:,} of "
            f"{summary.total_read:,} rows read; see the quarantine location)"
        )
    if summary.join_loss_rate > gate.max_join_loss_rate:
        failures.append(
            f"join_loss_rate {summary.join_loss_rate:.4f} > max_join_loss_rate "
            f"{gate.max_join_loss_rate} ({summary.dropped_no_artist:,} album rows without a "
            f"usable artist row, {summary.dropped_no_track:,} without a usable tracks row: "
            "none for the id, or only quarantined ones; see the quarantine location)"
        )
    return failures


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- The run, step by step --------------------------------------------------------------------


@contextmanager
def job_settings(spark: SparkSession, uris: Mapping[str, str]) -> Iterator[None]:
    """Session settings every run needs, restored afterwards.

    With CSV pruning Spark parses, and so validates, only the fields a query reads: a junk
    value in an unread column would pass, and every row must be judged on all columns.
    Shuffle partitions are sized to the input, whatever the session was built for."""
    pruning = spark.conf.get(CSV_COLUMN_PRUNING) or "true"
    shuffle_partitions = spark.conf.get(SHUFFLE_PARTITIONS) or "200"
    input_bytes = sum(file_bytes(spark, uri) for uri in uris.values())
    needed = -(-input_bytes // CSV_BYTES_PER_PARTITION)
    spark.conf.set(CSV_COLUMN_PRUNING, "false")
    spark.conf.set(SHUFFLE_PARTITIONS, str(max(int(shuffle_partitions), needed)))
    try:
        yield
    finally:
        spark.conf.set(CSV_COLUMN_PRUNING, pruning)
        spark.conf.set(SHUFFLE_PARTITIONS, shuffle_partitions)


def classified_sources(
    spark: SparkSession, uris: Mapping[str, str], scans: Mapping[str, LineScan]
) -> dict[str, DataFrame]:
    """Each source's records parsed and classified (``classify``), narrowed to the columns
    the table uses plus the reason, the raw text, the record id and the odd-quotes flag. A
    source with a scan in ``scans`` is read by it, any other line by line."""
    return {
        source.key: classify(
            read_source(spark, uris[source.key], source, scans.get(source.key)), source
        ).select(*USED_COLUMNS[source.key], REASON_COLUMN, RAW_COLUMN, RECORD_ID_COLUMN, ODD_COLUMN)
        for source in JOB_SOURCES
    }


def grouped_sources(spark: SparkSession, uris: Mapping[str, str]) -> tuple[DataFrame, GroupCounts]:
    """Every record grouped (``group_records``), cached, and counted (``count_groups``).

    Each file is read once, a record per line. A file with a line holding an odd number of
    quotes may hold records that span lines: it is then scanned for them, and if it does,
    every file is read and grouped again. The caller unpersists the groups."""
    scans: dict[str, LineScan] = {}
    while True:
        groups = group_records(classified_sources(spark, uris, scans))
        # On disk: the groups are about the table's size, and at 10x the real scale Spark's
        # in-memory columnar cache ran a 2 GB local heap out of memory (MEMORY_AND_DISK). At
        # 1x disk costs no measurable time.
        groups = groups.persist(StorageLevel.DISK_ONLY)
        try:
            counts = count_groups(groups)
            odd_lines = counts.sources.odd_quote_lines
            unscanned = [s for s in JOB_SOURCES if odd_lines[s.key] and s.key not in scans]
            for source in unscanned:
                LOG.info(
                    "%s: %d lines hold an odd number of quotes; scanning %s for records that "
                    "span lines",
                    source.key,
                    odd_lines[source.key],
                    uris[source.key],
                )
                scans[source.key] = scan_source(spark, uris[source.key], source)
        except BaseException:
            groups.unpersist()
            raise
        # A scan that finds no record spanning lines (a stray quote, 12" Vinyl) gives the
        # records already read: they stand.
        if not any(scans[s.key].spans or scans[s.key].unterminated for s in unscanned):
            return groups, counts
        groups.unpersist()


def log_counts(counts: SourceCounts, uris: Mapping[str, str]) -> None:
    """Each source's rows read, quarantined (by reason) and removed as duplicates."""
    for source in JOB_SOURCES:
        key = source.key
        LOG.info(
            "%s: %d rows read from %s, %d duplicates removed",
            key,
            counts.rows_read[key],
            uris[key],
            counts.duplicates[key],
        )
        for reason, count in sorted(counts.quarantined[key].items()):
            LOG.warning("%s: %d rows quarantined: %s", key, count, reason)


def write_quarantine(groups: DataFrame, location: str) -> None:
    """This run's unusable records, in one JSON-lines file of its own run folder."""
    quarantined_records(groups).repartition(1).write.mode("overwrite").json(location)
    LOG.info("quarantined rows written to %s", location)


def judge(
    run_id: str, started_at: str, args: JobArgs, counts: GroupCounts
) -> tuple[RunSummary, list[str]]:
    """The run's summary as if published, and the gate rules it breaks (empty: publish).
    The key rules are judged again on the written files (``written_keys``)."""
    sources, joins = counts.sources, counts.joins
    summary = RunSummary(
        run_id=run_id,
        status="published",
        started_at=started_at,
        finished_at=started_at,
        rows_read=sources.rows_read,
        rows_quarantined=sources.rows_quarantined,
        duplicates_removed=sources.duplicates,
        dropped_no_artist=joins.dropped_no_artist,
        dropped_no_track=joins.dropped_no_track,
        rows_without_features=joins.rows_without_features,
        rows_written=joins.rows,
        table_location=args.layout.table_location(run_id),
        quarantine_location=args.layout.quarantine_location(run_id),
        gate=args.gate.as_dict(),
    )
    failures = gate_failures(summary, args.gate, null_keys=0, duplicate_keys=0)
    LOG.info(
        "gate: %d candidate rows, quarantine rate %.4f, join loss rate %.4f, %s",
        joins.rows,
        summary.quarantine_rate,
        summary.join_loss_rate,
        "failed" if failures else "passed",
    )
    return summary, failures


def write_table(enriched: DataFrame, location: str) -> None:
    """The run's table files, in the run's own folder; nothing published reads it yet.

    Each artist's rows in one file, sorted by album: long runs and no repeated dictionaries
    in the artist and album columns, so smaller, cheaper scans."""
    (
        publishable(enriched)
        .repartition("artist_id")
        .sortWithinPartitions("artist_id", "album_id", "track_number", PRIMARY_KEY)
        .write.mode("errorifexists")
        .option("compression", "snappy")
        .parquet(location)
    )


def write_run_table(spark: SparkSession, enriched: DataFrame, location: str) -> None:
    """``write_table``, and on failure the run's folder deleted again: on S3, Glue's committer
    makes each task's files visible at task commit, so a failed write would otherwise leave
    a readable, never-published part of a table among the kept run folders. A folder that
    was there before the write is not the run's, and is left alone."""
    fs, path = filesystem(spark, location)
    existed = bool(fs.exists(path))
    try:
        write_table(enriched, location)
    except BaseException:
        if existed:
            raise
        try:
            delete_folder(spark, location)
        except Exception:  # the write's own error is the one to report
            LOG.exception("could not delete %s after its write failed", location)
        raise


def written_keys(spark: SparkSession, summary: RunSummary) -> tuple[int, int]:
    """Null and duplicate primary keys in the files written: what would be published.
    The files must hold the rows the run counted."""
    written = (
        spark.read.parquet(summary.table_location)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            count_if(F.col(PRIMARY_KEY).isNull()).alias("null_keys"),
            F.count_distinct(PRIMARY_KEY).alias("keys"),
        )
        .first()
    )
    assert written is not None  # a global aggregate has one row
    rows, null_keys = int(written["rows"]), int(written["null_keys"] or 0)
    if rows != summary.rows_written:
        raise RuntimeError(
            f"the run counted {summary.rows_written:,} table rows but wrote {rows:,} to "
            f"{summary.table_location}: did an input file change during the run? Run it again"
        )
    return null_keys, rows - null_keys - int(written["keys"])


def reject(
    spark: SparkSession, layout: WarehouseLayout, summary: RunSummary, failures: list[str]
) -> QualityGateError:
    """Record a rejected run in the last-run summary; the error to raise."""
    rejected = replace(
        summary,
        status="rejected",
        rows_written=0,
        table_location="",
        gate_failures=failures,
        finished_at=_now(),
    )
    write_text(spark, layout.summary_location, rejected.to_json())
    LOG.error("run %s rejected: %s", summary.run_id, "; ".join(failures))
    return QualityGateError(failures, layout.summary_location)


def run(
    spark: SparkSession, args: JobArgs, switch_catalog: CatalogSwitch | None = None
) -> RunSummary:
    """Read the staged CSVs, build the table in this run's own folder, and publish it if the
    gate passes.

    One pass over the input: each file is read once (``grouped_sources``), and every record
    of every source goes through one aggregate (``group_records``), cached; the counts, the
    quarantine file and the table are read from it. The quarantine is written either way.
    On rejection the published table, its pointer and the catalog are left as they were,
    the last-run summary says why, and ``QualityGateError`` is raised. A crash at any step
    leaves the published table whole.
    """
    started_at = _now()
    run_id = new_run_id()
    layout = args.layout
    uris = {source.key: check_input(spark, args.staging_path, source) for source in JOB_SOURCES}
    with job_settings(spark, uris):
        groups, counts = grouped_sources(spark, uris)
        try:
            log_counts(counts.sources, uris)
            write_quarantine(groups, layout.quarantine_location(run_id))
            summary, failures = judge(run_id, started_at, args, counts)
            if failures:
                raise reject(spark, layout, summary, failures)
            write_run_table(spark, enrich(groups), summary.table_location)
        finally:
            groups.unpersist()
        null_keys, duplicate_keys = written_keys(spark, summary)
        failures = gate_failures(
            summary, args.gate, null_keys=null_keys, duplicate_keys=duplicate_keys
        )
        if failures:
            delete_folder(spark, summary.table_location)
            raise reject(spark, layout, summary, failures)
    summary = replace(summary, finished_at=_now())
    publish(spark, layout, summary, switch_catalog)
    LOG.info("run %s published %d rows to %s", run_id, summary.rows_written, summary.table_location)
    prune_runs(spark, layout, run_id)
    LOG.info("run summary:\n%s", summary.to_json())
    return summary


# --- Retries: a gate rejection is final -------------------------------------------------------


def run_final(
    spark: SparkSession,
    args: JobArgs,
    switch_catalog: CatalogSwitch | None = None,
    job_run_id: str = "",
) -> RunSummary:
    """``run``, except that a gate rejection is final.

    A rejection depends only on the inputs, the gate and the code, so running again cannot
    change it: Glue's automatic retry (``max_retries``) would only spend the same time again
    and fail the same way. A rejected run records its fingerprint (``run_fingerprint``); a
    later run with the same fingerprint, such as that retry, raises the same
    ``QualityGateError`` at once without reading the data. Any other failure records nothing,
    so Glue's retry runs the job again in full."""
    uris = {source.key: check_input(spark, args.staging_path, source) for source in JOB_SOURCES}
    fingerprint = run_fingerprint(spark, args.gate, uris)
    layout = args.layout
    text = read_text(spark, layout.rejection_location)
    previous = Rejection.from_json(text) if text is not None else None
    if previous is not None and previous.fingerprint == fingerprint:
        LOG.error(
            "inputs, gate and job code are those of rejected job run %s: not reprocessing",
            previous.job_run_id or "(unknown)",
        )
        raise QualityGateError(previous.failures, previous.summary_location)
    try:
        return run(spark, args, switch_catalog)
    except QualityGateError as rejection:
        record = Rejection(fingerprint, rejection.failures, layout.summary_location, job_run_id)
        write_text(spark, layout.rejection_location, record.to_json())
        raise


JOB_LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
JOB_LOG_HANDLER: Final = "spotify_glue.job"


def configure_job_logging(stream: TextIO | None = None) -> logging.Handler:
    """The job's own lines (``spotify_glue.*``, the run summary among them) at INFO on standard
    output, which Glue sends to CloudWatch: on a handler of their own, since ``basicConfig``
    does nothing once the runtime has given the root logger a handler, whatever its level.
    Calling it again replaces the handler rather than adding a second."""
    logger = logging.getLogger("spotify_glue")
    for old in [h for h in logger.handlers if h.get_name() == JOB_LOG_HANDLER]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(JOB_LOG_HANDLER)
    handler.setFormatter(logging.Formatter(JOB_LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def main() -> None:
    """The Glue entry point."""
    import boto3
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    configure_job_logging()
    options = getResolvedOptions(sys.argv, ["JOB_NAME", *JOB_ARGUMENTS])
    args = JobArgs.from_options(options)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(options["JOB_NAME"], options)
    switch = (
        glue_catalog_switch(boto3.client("glue"), args.catalog_database)
        if args.catalog_database
        else None
    )
    # JOB_RUN_ID is one of Glue's reserved arguments: getResolvedOptions returns it unasked
    # (asking for it raises).
    run_final(glue_context.spark_session, args, switch, options.get("JOB_RUN_ID") or "")
    job.commit()
