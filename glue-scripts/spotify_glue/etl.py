"""The Spotify 2023 ETL job: staged CSVs in, one typed, de-duplicated Parquet table out.

It does what the seed's Glue Studio visual job did (albums ⋈ artists on ``artist_id = id``,
then ⋈ tracks on ``track_id = id``, duplicate join keys dropped, Parquet with Snappy) and then
does it right: typed read schemas, quarantined malformed rows, de-duplication, audio features
by left join, an idempotent overwrite, a quality gate that runs before the table is touched,
and a run summary that accounts for every album row.

Module level holds pure, typed DataFrame functions; ``run`` does all the I/O and is shared by
the Glue entry point (``main``) and the local runner. ``awsglue`` is imported only in ``main``
so plain pyspark can import this module.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import reduce
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from spotify_glue.contract import (
    ALBUMS,
    ARTISTS,
    FEATURES,
    JOB_SOURCES,
    PRIMARY_KEY,
    TRACKS,
    WAREHOUSE_COLUMNS,
    SourceFile,
)
from spotify_glue.contract import Column as ContractColumn
from spotify_glue.domains import DateRange
from spotify_glue.gate import DEFAULT_GATE, GateError, GateThresholds
from spotify_glue.layout import (
    RUNS_KEPT,
    TABLE_NAME,
    WarehouseLayout,
    join_uri,
    new_run_id,
    run_id_of_folder,
)
from spotify_glue.records import (
    CORRUPT_COLUMN,
    CSV_FORMAT,
    CSV_PARSE_OPTIONS,
    PROBLEM_COLUMN,
    RECORD_COLUMN,
    LineScan,
    RecordLayoutError,
    assemble,
    parse_records,
    scan_lines,
)
from spotify_glue.run_summary import RunSummary

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
REASON_COLUMN: Final = "_reason"
RAW_COLUMN: Final = "_raw"
COUNT_COLUMN: Final = "_count"
USABLE_COLUMN: Final = "_usable"
HAS_ALBUM: Final = "_has_album"
HAS_ARTIST: Final = "_has_artist"
HAS_TRACK: Final = "_has_track"
HAS_FEATURES: Final = "_has_features"

RELEASE_DATE_PATTERN: Final = r"^(\d{4})-(\d{2})-(\d{2})( \d{2}:\d{2}:\d{2}( UTC)?)?$"
"""``2016-11-10 00:00:00 UTC`` as in the files; a bare ``2016-11-10`` is accepted too."""

KEY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    ALBUMS.key: ("track_id", "artist_id"),
    ARTISTS.key: ("id",),
    TRACKS.key: ("id",),
    FEATURES.key: ("id",),
}
"""Columns a row cannot be used without: the source's own key and its join keys."""

DEDUPE_KEYS: Final[dict[str, str]] = {
    ALBUMS.key: "track_id",
    ARTISTS.key: "id",
    TRACKS.key: "id",
    FEATURES.key: "id",
}

DEDUPE_PREFERENCE: Final[dict[str, tuple[str, ...]]] = {
    ALBUMS.key: ("album_popularity", "release_date", "total_tracks"),
    ARTISTS.key: ("followers", "artist_popularity"),
    TRACKS.key: ("track_popularity",),
    FEATURES.key: (),
}
"""Among rows sharing a key, the row with the greatest of these (in order) survives; the
remaining columns break any tie, so the choice never depends on file or partition order."""

FEATURE_COLUMNS: Final[dict[str, str]] = {
    "danceability": "danceability",
    "energy": "energy",
    "key": "musical_key",
    "loudness": "loudness",
    "mode": "musical_mode",
    "speechiness": "speechiness",
    "acousticness": "acousticness",
    "instrumentalness": "instrumentalness",
    "liveness": "liveness",
    "valence": "valence",
    "tempo": "tempo",
    "time_signature": "time_signature",
}
"""Features source column -> warehouse column (``key``/``mode`` are SQL keywords)."""

GENRE_COLUMNS: Final = tuple(f"genre_{i}" for i in range(7))

_ALBUM_ARTIST_LISTS: Final = {"artists", *(f"artist_{i}" for i in range(12))}
USED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    ALBUMS.key: tuple(c for c in ALBUMS.header if c not in _ALBUM_ARTIST_LISTS),
    ARTISTS.key: ("id", "name", "artist_popularity", "followers", *GENRE_COLUMNS),
    TRACKS.key: TRACKS.header,
    FEATURES.key: ("id", *FEATURE_COLUMNS),
}
"""The columns the table is built from. Every column is still parsed and validated; only
these are kept after classification, so caches, shuffles and sorts stay narrow."""


class QualityGateError(RuntimeError):
    """The run's data failed the publish gate; the published table was left untouched."""

    def __init__(self, failures: Sequence[str], summary_location: str) -> None:
        self.failures = list(failures)
        super().__init__(
            "Quality gate rejected the run; the published table was left untouched. "
            f"Failed rules: {'; '.join(self.failures)}. Run summary: {summary_location}"
        )


class InputFileError(FileNotFoundError):
    """A staged input file is missing, misnamed, empty or has the wrong header."""


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


# --- Pure transforms ------------------------------------------------------------------------


def read_schema(source: SourceFile) -> str:
    """The source's contract schema plus the corrupt-record column, as Spark DDL."""
    return f"{source.ddl()}, `{CORRUPT_COLUMN}` string"


def parse_release_date(value: Column) -> Column:
    """``2016-11-10 00:00:00 UTC`` -> date; null when absent or not a real calendar date.

    Built from the digits (not a datetime pattern) so the result never depends on the
    session time zone or Spark's time-parser policy.
    """
    parts = [F.regexp_extract(value, RELEASE_DATE_PATTERN, i).cast("int") for i in (1, 2, 3)]
    return F.make_date(*parts)


def _malformed_reason(source: SourceFile) -> Column:
    """Why the CSV parser flagged a record: wrong field count, or which column failed its type.

    Reasons are categories (the value itself is in the raw record), so they can be counted."""
    retokenised = "_retokenised"
    corrupt_tokens = "_tokens_corrupt"
    as_strings = ", ".join(f"`{c.name}` string" for c in source.columns)
    tokens = F.from_csv(
        F.col(CORRUPT_COLUMN),
        f"{as_strings}, `{corrupt_tokens}` string",
        {**CSV_PARSE_OPTIONS, "columnNameOfCorruptRecord": corrupt_tokens},
    ).alias(retokenised)
    bad_value = [
        F.when(
            tokens[c.name].isNotNull() & F.col(c.name).isNull(),
            F.lit(f"{c.name} is not a valid {c.type}"),
        )
        for c in source.columns
        if c.type != "string"
    ]
    return F.when(
        tokens[corrupt_tokens].isNotNull(),
        F.lit(f"wrong field count (expected {len(source.columns)})"),
    ).otherwise(F.coalesce(*bad_value, F.lit("malformed record")))


def domain_reason(column: ContractColumn) -> str:
    """The quarantine reason for a value outside the column's domain: names both."""
    return f"{column.name} outside its domain ({column.domain_text()})"


def _as_dates(frame: DataFrame, source: SourceFile) -> tuple[DataFrame, dict[str, str]]:
    """Each date held as text, parsed once into a helper column: column -> helper name."""
    helpers = {
        c.name: f"_{c.name}_as_date"
        for c in source.columns
        if c.type == "string" and isinstance(c.domain, DateRange)
    }
    for name, helper in helpers.items():
        frame = frame.withColumn(helper, parse_release_date(F.col(name)))
    return frame, helpers


def _domain_checks(source: SourceFile, dates: Mapping[str, str]) -> list[tuple[Column, Column]]:
    """One (outside-its-domain, reason) check per column with a domain, evaluated from the
    contract's SQL so the job and the published-table check apply the same rule. A date held
    as text is checked as the date it parses to (its helper column in ``dates``)."""
    checks: list[tuple[Column, Column]] = []
    for column in source.columns:
        ref = dates.get(column.name, column.name)
        predicate = column.domain_sql(f"`{ref}`")
        if predicate is not None:
            outside = F.col(ref).isNotNull() & ~F.expr(predicate)
            checks.append((outside, F.lit(domain_reason(column))))
    return checks


def classify(parsed: DataFrame, source: SourceFile) -> DataFrame:
    """Tag each parsed record with why it cannot be used (``_reason``, null when it can) and,
    for tagged records, the record as text (``_raw``).

    The first reason that applies wins: a problem that kept the record from being parsed (too
    long, not UTF-8, an unterminated quote), a parse failure (field count, a value not of its
    type), a missing key, an unparseable release date, a value outside its column's domain.
    ``_raw`` is the record exactly as read (``read_source``); for frames without it, the line
    the parser rejected or the parsed values written back as CSV."""
    corrupt = F.col(CORRUPT_COLUMN)
    frame, dates = _as_dates(parsed, source)
    checks: list[tuple[Column, Column]] = []
    if PROBLEM_COLUMN in parsed.columns:
        checks.append((F.col(PROBLEM_COLUMN).isNotNull(), F.col(PROBLEM_COLUMN)))
    checks.append((corrupt.isNotNull(), _malformed_reason(source)))
    for key in KEY_COLUMNS[source.key]:
        missing = F.col(key).isNull() | (F.trim(F.col(key)) == "")
        checks.append((missing, F.lit(f"missing key {key}")))
    for name, helper in dates.items():
        unparseable = F.col(name).isNotNull() & F.col(helper).isNull()
        checks.append((unparseable, F.lit(f"unparseable {name}")))
    checks += _domain_checks(source, dates)
    reason = reduce(
        lambda chain, check: chain.when(*check),
        checks[1:],
        F.when(*checks[0]),
    )
    source_columns = [F.col(c.name) for c in source.columns]
    text = (
        F.col(RECORD_COLUMN)
        if RECORD_COLUMN in parsed.columns
        else F.coalesce(corrupt, F.to_csv(F.struct(*source_columns), CSV_FORMAT))
    )
    raw = F.when(reason.isNotNull(), text)
    return frame.withColumn(REASON_COLUMN, reason).withColumn(RAW_COLUMN, raw).drop(*dates.values())


def quarantine_rows(classified: DataFrame, source: SourceFile) -> DataFrame:
    """The rows unfit to use, as (source, reason, raw)."""
    return classified.where(F.col(REASON_COLUMN).isNotNull()).select(
        F.lit(source.key).alias("source"),
        F.col(REASON_COLUMN).alias("reason"),
        F.col(RAW_COLUMN).alias("raw"),
    )


TRACK_SOURCES: Final = (ALBUMS, TRACKS, FEATURES)
"""The sources keyed by track id: one aggregate de-duplicates and joins all three."""
TRACK_KEY: Final = "_track_key"
ARTIST_KEY: Final = "_artist_key"


def rows_column(source: SourceFile) -> str:
    """The number of usable rows a source had for a key (0: none)."""
    return f"_{source.key}_rows"


def winner(source: SourceFile) -> Column:
    """The source's row as a struct ordered for de-duplication: its preference columns, then
    every other column it keeps. ``max`` of it is the surviving row: the greatest by the
    preference columns, nulls lowest, then by the rest, so the same row on every run."""
    key = DEDUPE_KEYS[source.key]
    preferred = DEDUPE_PREFERENCE[source.key]
    rest = [c for c in USED_COLUMNS[source.key] if c != key and c not in preferred]
    return F.struct(*preferred, *rest)


def survivors_by_track(usable: Mapping[str, DataFrame]) -> DataFrame:
    """One row per track id holding, for albums, tracks and features, the surviving row
    (null when the source has none) and how many usable rows the source had for it.

    The three share the key, so one aggregate does the work of three de-duplications and
    two joins: one shuffle instead of five."""
    usable_only = F.col(USABLE_COLUMN)
    sides = [
        usable[s.key].select(
            F.col(DEDUPE_KEYS[s.key]).alias(TRACK_KEY),
            F.when(usable_only, winner(s)).alias(f"_{s.key}"),
        )
        for s in TRACK_SOURCES
    ]
    union = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), sides)
    return union.groupBy(TRACK_KEY).agg(
        *(
            aggregate
            for s in TRACK_SOURCES
            for aggregate in (
                F.max(f"_{s.key}").alias(f"_{s.key}"),
                F.count(f"_{s.key}").alias(rows_column(s)),
            )
        )
    )


def artists_by_id(artists: DataFrame) -> DataFrame:
    """One row per artist id with a usable row: the surviving row's columns, and how many
    usable rows it had."""
    survivor = f"_{ARTISTS.key}"
    return (
        artists.groupBy(F.col(DEDUPE_KEYS[ARTISTS.key]).alias(ARTIST_KEY))
        .agg(
            F.max(F.when(F.col(USABLE_COLUMN), winner(ARTISTS))).alias(survivor),
            count_if(F.col(USABLE_COLUMN)).alias(rows_column(ARTISTS)),
        )
        .where(F.col(rows_column(ARTISTS)) > 0)
        .select(ARTIST_KEY, f"{survivor}.*", rows_column(ARTISTS))
    )


def enrich(by_track: DataFrame, artists: DataFrame) -> DataFrame:
    """Every track id in the warehouse shape, with match flags and each source's row count.

    ``_has_album`` marks the keys the table is built from; ``_has_artist`` and ``_has_track``
    mark the rows the visual job's inner joins keep. Joining left and flagging lets one pass
    both count the rows those joins drop and keep the rest. Audio features join left: a
    track without them keeps null features. Artists are few: broadcast, not shuffled."""
    artist_side = F.broadcast(artists).select(
        ARTIST_KEY,
        F.col("name").alias("artist_name"),
        "artist_popularity",
        "followers",
        F.filter(F.array(*GENRE_COLUMNS), lambda g: g.isNotNull() & (F.trim(g) != "")).alias(
            "genres"
        ),
        rows_column(ARTISTS),
    )
    album = f"_{ALBUMS.key}"
    joined = by_track.join(
        artist_side, F.col(f"{album}.artist_id") == artist_side[ARTIST_KEY], "left"
    )
    release_date = parse_release_date(F.col(f"{album}.release_date"))
    features = {dst: F.col(f"_{FEATURES.key}.{src}") for src, dst in FEATURE_COLUMNS.items()}
    columns = {
        PRIMARY_KEY: F.col(TRACK_KEY),
        **{c: F.col(f"{album}.{c}") for c in USED_COLUMNS[ALBUMS.key] if c != PRIMARY_KEY},
        "track_popularity": F.col(f"_{TRACKS.key}.track_popularity"),
        "explicit": F.col(f"_{TRACKS.key}.explicit"),
        **features,
        "artist_name": F.col("artist_name"),
        "artist_popularity": F.col("artist_popularity"),
        "followers": F.col("followers"),
        "genres": F.col("genres"),
        "release_date": release_date,
        "release_year": F.year(release_date),
        "primary_genre": F.get(F.col("genres"), 0),
    }
    return joined.select(
        *(columns[c.name].cast(c.type).alias(c.name) for c in WAREHOUSE_COLUMNS),
        F.col(album).isNotNull().alias(HAS_ALBUM),
        F.col(ARTIST_KEY).isNotNull().alias(HAS_ARTIST),
        F.col(f"_{TRACKS.key}").isNotNull().alias(HAS_TRACK),
        F.col(f"_{FEATURES.key}").isNotNull().alias(HAS_FEATURES),
        *(rows_column(s) for s in TRACK_SOURCES),
    )


def publishable(enriched: DataFrame) -> DataFrame:
    """The rows the visual job's inner joins keep, in the contract's columns and order."""
    return enriched.where(F.col(HAS_ALBUM) & F.col(HAS_ARTIST) & F.col(HAS_TRACK)).select(
        *(c.name for c in WAREHOUSE_COLUMNS)
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
            f"{gate.max_join_loss_rate} ({summary.dropped_no_artist:,} album rows without an "
            f"artist row, {summary.dropped_no_track:,} without a tracks row)"
        )
    return failures


# --- I/O --------------------------------------------------------------------------------------


def _filesystem(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """Hadoop FileSystem and Path for a local path or s3:// URI (the same code runs on Glue)."""
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Replace one small UTF-8 file at a local path or s3:// URI, atomically: an S3 PUT is
    atomic; a local file is written beside its target and renamed over it."""
    if "://" not in uri or uri.startswith("file:"):
        target = Path(uri.removeprefix("file:"))
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        scratch.write_text(text, encoding="utf-8")
        scratch.replace(target)
        return
    fs, path = _filesystem(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def _first_line(spark: SparkSession, uri: str) -> str | None:
    fs, path = _filesystem(spark, uri)
    jvm: Any = spark.sparkContext._jvm
    stream = fs.open(path)
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        line = reader.readLine()
        return None if line is None else str(line).lstrip("\ufeff")
    finally:
        stream.close()


def check_input(spark: SparkSession, staging_path: str, source: SourceFile) -> str:
    """The source file's URI, after checking it exists and has the contract's header.

    The error names the expected file, and a similarly named file if one is there.
    """
    uri = join_uri(staging_path, source.file_name)
    fs, path = _filesystem(spark, uri)
    if not fs.exists(path):
        folder = path.getParent()
        if not fs.exists(folder):
            raise InputFileError(
                f"staging folder {staging_path!r} does not exist; it must hold the Spotify "
                f"2023 CSVs, e.g. {source.file_name!r}"
            )
        present = [str(status.getPath().getName()) for status in fs.listStatus(folder)]
        hint = difflib.get_close_matches(source.file_name, present, n=1, cutoff=0.8)
        rename = f" Found {hint[0]!r}: rename it to {source.file_name!r}." if hint else ""
        raise InputFileError(
            f"missing input file for {source.key}: expected {source.file_name!r} in "
            f"{staging_path!r} ({uri}).{rename}"
        )
    line = _first_line(spark, uri)
    if line is None:
        raise InputFileError(f"{uri} is empty; expected a header line {','.join(source.header)}")
    header = tuple(next(csv.reader([line])))
    if header != source.header:
        missing = [name for name in source.header if name not in header]
        unexpected = [name for name in header if name not in source.header]
        detail = (
            f"missing columns {missing}, unexpected columns {unexpected}"
            if missing or unexpected
            else "the columns are in a different order"
        )
        raise InputFileError(
            f"{uri} does not have the {source.key} header of the Spotify 2023 files: {detail}. "
            f"Expected: {','.join(source.header)}"
        )
    return uri


def _file_bytes(spark: SparkSession, uri: str) -> int:
    fs, path = _filesystem(spark, uri)
    return int(fs.getFileStatus(path).getLen())


def scan_source(spark: SparkSession, uri: str, source: SourceFile) -> LineScan:
    """Where the file's records are (``spotify_glue.records``); one pass over its lines."""
    try:
        return scan_lines(spark, uri, source)
    except RecordLayoutError as error:
        raise InputFileError(str(error)) from None


def read_source(spark: SparkSession, scan: LineScan, source: SourceFile) -> DataFrame:
    """The file's records parsed with the contract's typed schema: the source's columns,
    ``_corrupt_record``, and each record's text, first line number and any problem that
    kept it from being parsed."""
    return parse_records(assemble(spark, scan), source, read_schema(source))


@dataclass(frozen=True)
class TableStats:
    """What the de-duplication and the joins did, counted on the enriched rows."""

    usable: dict[str, int]
    """Usable rows per source (read, less quarantined)."""
    keys: dict[str, int]
    """Distinct keys among them: the rows left after de-duplication."""
    dropped_no_artist: int
    dropped_no_track: int
    rows_without_features: int
    rows: int
    """Candidate table rows: album rows the inner joins keep."""

    @property
    def duplicates(self) -> dict[str, int]:
        return {key: self.usable[key] - self.keys[key] for key in self.usable}


def count_if(condition: Column) -> Column:
    return F.sum(condition.cast("long"))


def table_stats(enriched: DataFrame, artists: DataFrame) -> TableStats:
    """The figures of ``TableStats`` in two small aggregates over cached frames."""
    album, matched = F.col(HAS_ALBUM), F.col(HAS_ALBUM) & F.col(HAS_ARTIST) & F.col(HAS_TRACK)
    row = enriched.agg(
        *(F.sum(rows_column(s)).alias(f"{s.key}_usable") for s in TRACK_SOURCES),
        *(count_if(F.col(rows_column(s)) > 0).alias(f"{s.key}_keys") for s in TRACK_SOURCES),
        count_if(album & ~F.col(HAS_ARTIST)).alias("no_artist"),
        count_if(album & F.col(HAS_ARTIST) & ~F.col(HAS_TRACK)).alias("no_track"),
        count_if(matched & ~F.col(HAS_FEATURES)).alias("no_features"),
        count_if(matched).alias("rows"),
    ).first()
    artist_row = artists.agg(
        F.sum(rows_column(ARTISTS)).alias("usable"), F.count(F.lit(1)).alias("keys")
    ).first()
    assert row is not None  # a global aggregate has one row
    assert artist_row is not None
    figures = {k: int(v or 0) for k, v in row.asDict().items()}
    usable = {s.key: figures[f"{s.key}_usable"] for s in TRACK_SOURCES}
    keys = {s.key: figures[f"{s.key}_keys"] for s in TRACK_SOURCES}
    usable[ARTISTS.key] = int(artist_row["usable"] or 0)
    keys[ARTISTS.key] = int(artist_row["keys"])
    return TableStats(
        usable=usable,
        keys=keys,
        dropped_no_artist=figures["no_artist"],
        dropped_no_track=figures["no_track"],
        rows_without_features=figures["no_features"],
        rows=figures["rows"],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- The run, step by step --------------------------------------------------------------------

CatalogSwitch = Callable[[str], None]
"""Points the catalog table at a published run's table folder."""


@dataclass(frozen=True)
class Accounting:
    """What happened to every source row: read, quarantined, or usable."""

    rows_read: dict[str, int]
    rows_quarantined: dict[str, int]

    @property
    def usable(self) -> dict[str, int]:
        return {key: self.rows_read[key] - self.rows_quarantined[key] for key in self.rows_read}


@contextmanager
def job_settings(spark: SparkSession, uris: Mapping[str, str]) -> Iterator[None]:
    """Session settings every run needs, restored afterwards.

    With CSV pruning Spark parses, and so validates, only the fields a query reads: a junk
    value in an unread column would pass, and every row must be judged on all columns.
    Shuffle partitions are sized to the input, whatever the session was built for."""
    pruning = spark.conf.get(CSV_COLUMN_PRUNING) or "true"
    shuffle_partitions = spark.conf.get(SHUFFLE_PARTITIONS) or "200"
    input_bytes = sum(_file_bytes(spark, uri) for uri in uris.values())
    needed = -(-input_bytes // CSV_BYTES_PER_PARTITION)
    spark.conf.set(CSV_COLUMN_PRUNING, "false")
    spark.conf.set(SHUFFLE_PARTITIONS, str(max(int(shuffle_partitions), needed)))
    try:
        yield
    finally:
        spark.conf.set(CSV_COLUMN_PRUNING, pruning)
        spark.conf.set(SHUFFLE_PARTITIONS, shuffle_partitions)


def classified_sources(spark: SparkSession, scans: Mapping[str, LineScan]) -> dict[str, DataFrame]:
    """Each source's records parsed and classified (``classify``), narrowed to the columns
    the table uses plus ``_reason`` and ``_raw``. Not cached: each pass parses again, which
    measured cheaper than caching every row."""
    return {
        source.key: classify(read_source(spark, scans[source.key], source), source).select(
            *USED_COLUMNS[source.key], REASON_COLUMN, RAW_COLUMN
        )
        for source in JOB_SOURCES
    }


def usable_rows(classified: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    """The columns the table uses and ``_usable``: true for rows with no quarantine reason.

    A flag, not a filter: Spark would push a filter below the parse and substitute the
    parser's expression into every field the reason reads, parsing each record once per
    field (measured: six times slower)."""
    return {
        key: frame.select(*USED_COLUMNS[key], F.col(REASON_COLUMN).isNull().alias(USABLE_COLUMN))
        for key, frame in classified.items()
    }


def count_fates(classified: Mapping[str, DataFrame]) -> DataFrame:
    """Every row's fate, collapsed: per source, one row for all its usable rows and one per
    distinct quarantined record and reason, each with its count. Small enough to cache."""
    tagged = reduce(
        DataFrame.unionByName,
        (
            classified[s.key].select(
                F.lit(s.key).alias("source"),
                F.col(REASON_COLUMN).alias("reason"),
                F.col(RAW_COLUMN).alias("raw"),
            )
            for s in JOB_SOURCES
        ),
    )
    return tagged.groupBy("source", "reason", "raw").agg(F.count(F.lit(1)).alias(COUNT_COLUMN))


def account_rows(fates: DataFrame, uris: Mapping[str, str]) -> Accounting:
    """Rows read and quarantined per source, from the fates; each reason is logged."""
    counts: dict[str, dict[str | None, int]] = {s.key: {} for s in JOB_SOURCES}
    for row in fates.groupBy("source", "reason").agg(F.sum(COUNT_COLUMN).alias("n")).collect():
        counts[row["source"]][row["reason"]] = int(row["n"])
    rows_read = {key: sum(fates_of.values()) for key, fates_of in counts.items()}
    for source in JOB_SOURCES:
        key = source.key
        LOG.info("%s: %d rows read from %s", key, rows_read[key], uris[key])
        for reason, count in sorted((k, v) for k, v in counts[key].items() if k is not None):
            LOG.warning("%s: %d rows quarantined: %s", key, count, reason)
    return Accounting(
        rows_read=rows_read,
        rows_quarantined={k: rows_read[k] - counts[k].get(None, 0) for k in counts},
    )


def write_quarantine(fates: DataFrame, location: str) -> None:
    """This run's unusable rows, one line each, in one JSON-lines file of its run folder."""
    quarantined = fates.where(F.col("reason").isNotNull()).select(
        "source", "reason", "raw", F.explode(F.sequence(F.lit(1), COUNT_COLUMN)).alias("_copy")
    )
    quarantined.drop("_copy").repartition(1).write.mode("overwrite").json(location)
    LOG.info("quarantined rows written to %s", location)


def judge(
    run_id: str, started_at: str, args: JobArgs, accounting: Accounting, stats: TableStats
) -> tuple[RunSummary, list[str]]:
    """The run's summary as if published, and the gate rules it breaks (empty: publish).
    Key rules are judged on the written files (``written_key_failures``)."""
    summary = RunSummary(
        run_id=run_id,
        status="published",
        started_at=started_at,
        finished_at=started_at,
        rows_read=accounting.rows_read,
        rows_quarantined=accounting.rows_quarantined,
        duplicates_removed=stats.duplicates,
        dropped_no_artist=stats.dropped_no_artist,
        dropped_no_track=stats.dropped_no_track,
        rows_without_features=stats.rows_without_features,
        rows_written=stats.rows,
        table_location=args.layout.table_location(run_id),
        quarantine_location=args.layout.quarantine_location(run_id),
        gate=args.gate.as_dict(),
    )
    failures = gate_failures(summary, args.gate, null_keys=0, duplicate_keys=0)
    LOG.info(
        "gate: %d candidate rows, quarantine rate %.4f, join loss rate %.4f, %s",
        stats.rows,
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


def delete_folder(spark: SparkSession, location: str) -> None:
    fs, path = _filesystem(spark, location)
    fs.delete(path, True)


def publish(
    spark: SparkSession,
    layout: WarehouseLayout,
    summary: RunSummary,
    switch_catalog: CatalogSwitch | None,
) -> None:
    """Make a complete, gated run the table: switch the catalog (when there is one), then
    the published-run pointer, then the last-run summary. A failure before the switch
    leaves the previous table, pointer and summary as they were."""
    if switch_catalog is not None:
        switch_catalog(summary.table_location)
    write_text(spark, layout.published_location, summary.to_json())
    write_text(spark, layout.summary_location, summary.to_json())


def prune_runs(spark: SparkSession, layout: WarehouseLayout, published_run: str) -> list[str]:
    """Delete run folders beyond the newest ``RUNS_KEPT``, never the published one; only
    ``run=<id>`` folders are touched. Returns the deleted locations."""
    deleted = []
    for root in (layout.table_root, layout.quarantine_root):
        fs, path = _filesystem(spark, root)
        if not fs.exists(path):
            continue
        runs = sorted(
            (run_id, str(status.getPath().toString()))
            for status in fs.listStatus(path)
            if status.isDirectory()
            and (run_id := run_id_of_folder(str(status.getPath().getName()))) is not None
        )
        stale = [entry for entry in runs[:-RUNS_KEPT] if entry[0] != published_run]
        for _, location in stale:
            fs.delete(_filesystem(spark, location)[1], True)
            deleted.append(location)
    if deleted:
        LOG.info("pruned %d old run folders: %s", len(deleted), ", ".join(deleted))
    return deleted


def run(
    spark: SparkSession, args: JobArgs, switch_catalog: CatalogSwitch | None = None
) -> RunSummary:
    """Read the staged CSVs, build the table in this run's own folder, and publish it if the
    gate passes.

    Two passes over the input, neither cached: the first writes this run's quarantined rows
    and counts every row's fate; the second de-duplicates and joins the usable rows, caches
    the (table-sized) result, judges it and writes it. On rejection the published table, its
    pointer and the catalog are left as they were, the last-run summary says why, and
    ``QualityGateError`` is raised. A crash at any step leaves the published table whole.
    """
    started_at = _now()
    run_id = new_run_id()
    layout = args.layout
    uris = {source.key: check_input(spark, args.staging_path, source) for source in JOB_SOURCES}
    with job_settings(spark, uris):
        scans = {s.key: scan_source(spark, uris[s.key], s) for s in JOB_SOURCES}
        fates = count_fates(classified_sources(spark, scans)).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            accounting = account_rows(fates, uris)
            write_quarantine(fates, layout.quarantine_location(run_id))
        finally:
            fates.unpersist()
        usable = usable_rows(classified_sources(spark, scans))
        artists = artists_by_id(usable[ARTISTS.key]).persist(StorageLevel.MEMORY_AND_DISK)
        enriched = enrich(survivors_by_track(usable), artists).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            stats = table_stats(enriched, artists)
            if stats.usable != accounting.usable:
                raise RuntimeError(
                    f"the two passes over the input disagree (usable rows {accounting.usable} "
                    f"then {stats.usable}): did an input file change during the run? Run it again"
                )
            summary, failures = judge(run_id, started_at, args, accounting, stats)
            if failures:
                raise reject(spark, layout, summary, failures)
            write_table(enriched, summary.table_location)
        finally:
            enriched.unpersist()
            artists.unpersist()
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


def _code_digest() -> str:
    """A digest of the job's own code (every module of this package, zipped or not)."""
    digest = hashlib.sha256()
    package = resources.files(__package__ or "spotify_glue")
    for module in sorted((m for m in package.iterdir() if m.name.endswith(".py")), key=str):
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


def run_fingerprint(spark: SparkSession, args: JobArgs, uris: Mapping[str, str]) -> str:
    """A digest of all that decides a run's verdict: each input file's location, size and
    modification time, the gate, and the job's code. Equal fingerprints, equal verdicts."""
    inputs = []
    for key in sorted(uris):
        fs, path = _filesystem(spark, uris[key])
        status = fs.getFileStatus(path)
        inputs.append([key, uris[key], int(status.getLen()), int(status.getModificationTime())])
    payload = {"inputs": inputs, "gate": args.gate.as_dict(), "code": _code_digest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """What a rejected run leaves for the runs after it (``WarehouseLayout.rejection_location``)."""

    fingerprint: str
    failures: list[str]
    summary_location: str
    job_run_id: str = ""
    """Glue's ``--JOB_RUN_ID`` of the rejected run, for the log; empty outside Glue."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Rejection | None:
        """The record, or None when it is not one (a damaged record is no reason to fail)."""
        try:
            data = json.loads(text)
            return cls(
                fingerprint=str(data["fingerprint"]),
                failures=[str(f) for f in data["failures"]],
                summary_location=str(data["summary_location"]),
                job_run_id=str(data.get("job_run_id", "")),
            )
        except (ValueError, TypeError, KeyError):
            return None


def _read_text(spark: SparkSession, uri: str) -> str | None:
    """A small UTF-8 file's text, or None when it does not exist."""
    fs, path = _filesystem(spark, uri)
    if not fs.exists(path):
        return None
    jvm: Any = spark.sparkContext._jvm
    stream = fs.open(path)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


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
    fingerprint = run_fingerprint(spark, args, uris)
    layout = args.layout
    text = _read_text(spark, layout.rejection_location)
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


def glue_catalog_switch(glue: Any, database: str, table: str = TABLE_NAME) -> CatalogSwitch:
    """Point ``database.table`` at a run's folder with glue:GetTable then glue:UpdateTable,
    keeping every other part of the definition. Only fields ``TableInput`` accepts are sent
    (from the service's own model), since GetTable also returns read-only ones."""
    accepted = set(glue.meta.service_model.shape_for("TableInput").members)

    def switch(location: str) -> None:
        current = glue.get_table(DatabaseName=database, Name=table)["Table"]
        table_input = {k: v for k, v in current.items() if k in accepted}
        table_input["StorageDescriptor"] = {**current["StorageDescriptor"], "Location": location}
        glue.update_table(DatabaseName=database, TableInput=table_input)
        LOG.info("catalog table %s.%s now reads %s", database, table, location)

    return switch


def main() -> None:
    """The Glue entry point."""
    import boto3
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
