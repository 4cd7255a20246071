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
import logging
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import reduce
from typing import Any, Final

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
from spotify_contract import (
    ALBUMS,
    ARTISTS,
    FEATURES,
    JOB_SOURCES,
    PRIMARY_KEY,
    QUARANTINE_PREFIX,
    SUMMARY_KEY,
    TABLE_PREFIX,
    TRACKS,
    WAREHOUSE_COLUMNS,
    GateThresholds,
    RunSummary,
    SourceFile,
    join_uri,
)

LOG: Final = logging.getLogger("spotify_etl")

JOB_ARGUMENTS: Final = (
    "staging_path",
    "table_location",
    "quarantine_location",
    "summary_location",
    "min_rows",
    "max_quarantine_rate",
    "max_join_loss_rate",
)
"""The job's ``--NAME`` arguments; the Pulumi program passes exactly these."""

CORRUPT_COLUMN: Final = "_corrupt_record"
CSV_COLUMN_PRUNING: Final = "spark.sql.csv.parser.columnPruning.enabled"
SHUFFLE_PARTITIONS: Final = "spark.sql.shuffle.partitions"
CSV_BYTES_PER_PARTITION: Final = 32 * 2**20
"""Input per shuffle partition: small enough that a partition's sort and cache fit in a
small executor's heap; adaptive execution merges partitions that turn out small."""
REASON_COLUMN: Final = "_reason"
RAW_COLUMN: Final = "_raw"
RANK_COLUMN: Final = "_rank"
DUPLICATE: Final = "<duplicate>"
"""Counted like a quarantine reason, but the row is simply a removed duplicate."""
HAS_ARTIST: Final = "_has_artist"
HAS_TRACK: Final = "_has_track"
HAS_FEATURES: Final = "_has_features"

# RFC 4180 quoting as the Spotify files use it: commas inside quotes, quotes doubled.
CSV_FORMAT: Final[dict[str, str]] = {"quote": '"', "escape": '"', "encoding": "UTF-8"}
CSV_READ_OPTIONS: Final[dict[str, str]] = {
    **CSV_FORMAT,
    "header": "true",
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_COLUMN,
    # One record per line keeps files splittable; a stray newline is quarantined, not lost.
    "multiLine": "false",
}

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
    table_location: str
    """Where the published Parquet table lives (overwritten on publish)."""
    quarantine_location: str
    """Where this run's malformed rows go, with source, reason and raw line."""
    summary_location: str
    """The run summary JSON file."""
    min_rows: int
    max_quarantine_rate: float
    max_join_loss_rate: float

    def __post_init__(self) -> None:
        for name in ("staging_path", "table_location", "quarantine_location", "summary_location"):
            if not str(getattr(self, name)).strip():
                raise JobArgumentError(f"--{name} is empty; give a local folder or s3:// URI")
        if self.min_rows < 0:
            raise JobArgumentError(f"--min_rows must be >= 0, got {self.min_rows}")
        for name in ("max_quarantine_rate", "max_join_loss_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise JobArgumentError(f"--{name} must be a rate between 0 and 1, got {value}")

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> JobArgs:
        """Parse ``getResolvedOptions`` output (all strings); errors name the argument."""
        missing = [name for name in JOB_ARGUMENTS if name not in options]
        if missing:
            raise JobArgumentError(f"missing job arguments: {', '.join('--' + m for m in missing)}")

        def number(name: str, kind: type[int] | type[float]) -> Any:
            try:
                return kind(options[name])
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                raise JobArgumentError(f"--{name} must be {what}, got {options[name]!r}") from None

        return cls(
            staging_path=options["staging_path"],
            table_location=options["table_location"],
            quarantine_location=options["quarantine_location"],
            summary_location=options["summary_location"],
            min_rows=number("min_rows", int),
            max_quarantine_rate=number("max_quarantine_rate", float),
            max_join_loss_rate=number("max_join_loss_rate", float),
        )

    @classmethod
    def under_warehouse(
        cls, staging_path: str, warehouse: str, gate: GateThresholds | None = None
    ) -> JobArgs:
        """Arguments with the contract's layout below one warehouse folder or bucket URI."""
        gate = gate or GateThresholds()
        return cls(
            staging_path=staging_path,
            table_location=join_uri(warehouse, TABLE_PREFIX) + "/",
            quarantine_location=join_uri(warehouse, QUARANTINE_PREFIX) + "/",
            summary_location=join_uri(warehouse, SUMMARY_KEY),
            min_rows=gate.min_rows,
            max_quarantine_rate=gate.max_quarantine_rate,
            max_join_loss_rate=gate.max_join_loss_rate,
        )

    @property
    def gate(self) -> GateThresholds:
        return GateThresholds(
            min_rows=self.min_rows,
            max_quarantine_rate=self.max_quarantine_rate,
            max_join_loss_rate=self.max_join_loss_rate,
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
    """Why Spark flagged a row as corrupt: wrong field count, or which column failed its type.

    Reasons are categories (the value itself is in the raw line), so they can be counted."""
    retokenised = "_retokenised"
    corrupt_tokens = "_tokens_corrupt"
    as_strings = ", ".join(f"`{c.name}` string" for c in source.columns)
    tokens = F.from_csv(
        F.col(CORRUPT_COLUMN),
        f"{as_strings}, `{corrupt_tokens}` string",
        {**CSV_FORMAT, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": corrupt_tokens},
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


def classify(parsed: DataFrame, source: SourceFile) -> DataFrame:
    """Tag each parsed row with why it cannot be used (``_reason``, null when it can) and,
    for tagged rows, the record as text (``_raw``: the line itself when Spark could not
    parse it, otherwise the parsed values written back as CSV)."""
    corrupt = F.col(CORRUPT_COLUMN)
    checks: list[tuple[Column, Column]] = [(corrupt.isNotNull(), _malformed_reason(source))]
    for key in KEY_COLUMNS[source.key]:
        missing = F.col(key).isNull() | (F.trim(F.col(key)) == "")
        checks.append((missing, F.lit(f"missing key {key}")))
    if source.key == ALBUMS.key:
        date = F.col("release_date")
        unparseable = date.isNotNull() & parse_release_date(date).isNull()
        checks.append((unparseable, F.lit("unparseable release_date")))
    reason = reduce(
        lambda chain, check: chain.when(*check),
        checks[1:],
        F.when(*checks[0]),
    )
    source_columns = [F.col(c.name) for c in source.columns]
    raw = F.when(
        reason.isNotNull(),
        F.coalesce(corrupt, F.to_csv(F.struct(*source_columns), CSV_FORMAT)),
    )
    return parsed.withColumn(REASON_COLUMN, reason).withColumn(RAW_COLUMN, raw)


def quarantine_rows(classified: DataFrame, source: SourceFile) -> DataFrame:
    """The rows unfit to use, as (source, reason, raw)."""
    return classified.where(F.col(REASON_COLUMN).isNotNull()).select(
        F.lit(source.key).alias("source"),
        F.col(REASON_COLUMN).alias("reason"),
        F.col(RAW_COLUMN).alias("raw"),
    )


def rank_duplicates(rows: DataFrame, source: SourceFile) -> DataFrame:
    """Add ``_rank``: 1 for the row that survives de-duplication on the source's key, 2, 3, …
    for the rows it replaces.

    The survivor is the greatest by the source's preference columns (nulls lowest), then by
    every other column, so it is the same on every run. Rows tagged with a ``_reason`` (if
    the frame has one) rank after every usable row, so they never displace one.
    """
    key = DEDUPE_KEYS[source.key]
    preferred = DEDUPE_PREFERENCE[source.key]
    bookkeeping = {key, *preferred, REASON_COLUMN, RAW_COLUMN}
    rest = [name for name in rows.columns if name not in bookkeeping]
    usable_first = [F.col(REASON_COLUMN).isNull().desc()] if REASON_COLUMN in rows.columns else []
    order = [*usable_first, *(F.col(name).desc_nulls_last() for name in (*preferred, *rest))]
    window = Window.partitionBy(key).orderBy(*order)
    return rows.withColumn(RANK_COLUMN, F.row_number().over(window))


def deduplicate(rows: DataFrame, source: SourceFile) -> DataFrame:
    """One row per key: the survivor chosen by ``rank_duplicates``."""
    ranked = rank_duplicates(rows, source)
    return ranked.where(F.col(RANK_COLUMN) == 1).drop(RANK_COLUMN)


def enrich(
    albums: DataFrame, artists: DataFrame, tracks: DataFrame, features: DataFrame
) -> DataFrame:
    """Every (de-duplicated) album row in the warehouse shape, plus match flags.

    ``_has_artist`` and ``_has_track`` mark the rows the visual job's inner joins keep;
    joining left and flagging lets one pass both count the rows those joins drop and keep
    the rest. Audio features join left: a track without them keeps null features.
    """
    artist_side = artists.select(
        F.col("id").alias("_artist_key"),
        F.col("name").alias("artist_name"),
        "artist_popularity",
        "followers",
        F.filter(F.array(*GENRE_COLUMNS), lambda g: g.isNotNull() & (F.trim(g) != "")).alias(
            "genres"
        ),
        F.lit(True).alias(HAS_ARTIST),
    )
    track_side = tracks.select(
        F.col("id").alias("_track_key"),
        "track_popularity",
        "explicit",
        F.lit(True).alias(HAS_TRACK),
    )
    feature_side = features.select(
        F.col("id").alias("_features_key"),
        *(F.col(src).alias(dst) for src, dst in FEATURE_COLUMNS.items()),
        F.lit(True).alias(HAS_FEATURES),
    )
    release_date = parse_release_date(F.col("release_date"))
    derived = {
        "release_date": release_date,
        "release_year": F.year(release_date),
        "primary_genre": F.get(F.col("genres"), 0),
    }
    joined = (
        albums.join(artist_side, albums["artist_id"] == artist_side["_artist_key"], "left")
        .join(track_side, albums["track_id"] == track_side["_track_key"], "left")
        .join(feature_side, albums["track_id"] == feature_side["_features_key"], "left")
    )
    return joined.select(
        *(derived.get(c.name, F.col(c.name)).cast(c.type).alias(c.name) for c in WAREHOUSE_COLUMNS),
        *(F.coalesce(F.col(flag), F.lit(False)).alias(flag) for flag in (HAS_ARTIST, HAS_TRACK)),
        F.coalesce(F.col(HAS_FEATURES), F.lit(False)).alias(HAS_FEATURES),
    )


def publishable(enriched: DataFrame) -> DataFrame:
    """The rows the visual job's inner joins keep, in the contract's columns and order."""
    return enriched.where(F.col(HAS_ARTIST) & F.col(HAS_TRACK)).select(
        *(c.name for c in WAREHOUSE_COLUMNS)
    )


def transform(
    albums: DataFrame, artists: DataFrame, tracks: DataFrame, features: DataFrame
) -> DataFrame:
    """Valid source rows -> the warehouse table: de-duplicate, join, type."""

    def used(rows: DataFrame, source: SourceFile) -> DataFrame:
        return deduplicate(rows.select(*USED_COLUMNS[source.key]), source)

    return publishable(
        enrich(
            used(albums, ALBUMS),
            used(artists, ARTISTS),
            used(tracks, TRACKS),
            used(features, FEATURES),
        )
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
    """Write (replace) one small UTF-8 file at a local path or s3:// URI."""
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


def read_source(spark: SparkSession, uri: str, source: SourceFile) -> DataFrame:
    """The CSV parsed with the contract's typed schema; bad rows keep their raw line."""
    return spark.read.schema(read_schema(source)).options(**CSV_READ_OPTIONS).csv(uri)


@dataclass(frozen=True)
class _Stats:
    candidates: int
    dropped_no_artist: int
    dropped_no_track: int
    rows_without_features: int
    rows: int
    null_keys: int
    duplicate_keys: int


def _enriched_stats(enriched: DataFrame) -> _Stats:
    matched = F.col(HAS_ARTIST) & F.col(HAS_TRACK)
    key = F.col(PRIMARY_KEY)

    def count_if(condition: Column) -> Column:
        return F.sum(condition.cast("long"))

    row = enriched.agg(
        F.count(F.lit(1)).alias("candidates"),
        count_if(~F.col(HAS_ARTIST)).alias("no_artist"),
        count_if(F.col(HAS_ARTIST) & ~F.col(HAS_TRACK)).alias("no_track"),
        count_if(matched & ~F.col(HAS_FEATURES)).alias("no_features"),
        count_if(matched).alias("rows"),
        count_if(matched & key.isNull()).alias("null_keys"),
        F.count_distinct(F.when(matched, key)).alias("distinct_keys"),
    ).first()
    assert row is not None  # a global aggregate always returns one row
    rows = int(row["rows"] or 0)
    null_keys = int(row["null_keys"] or 0)
    return _Stats(
        candidates=int(row["candidates"]),
        dropped_no_artist=int(row["no_artist"] or 0),
        dropped_no_track=int(row["no_track"] or 0),
        rows_without_features=int(row["no_features"] or 0),
        rows=rows,
        null_keys=null_keys,
        duplicate_keys=rows - null_keys - int(row["distinct_keys"]),
    )


def _count_by_source(
    frames: Mapping[str, DataFrame], value: Column
) -> dict[str, dict[str | None, int]]:
    """Row counts per source key and per ``value``, in one Spark job, not one per source."""
    tagged = [
        frame.select(F.lit(key).alias("_source"), value.cast("string").alias("_value"))
        for key, frame in frames.items()
    ]
    counts: dict[str, dict[str | None, int]] = {key: {} for key in frames}
    grouped = reduce(DataFrame.unionByName, tagged).groupBy("_source", "_value").count()
    for row in grouped.collect():
        counts[row["_source"]][row["_value"]] = int(row["count"])
    return counts


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(spark: SparkSession, args: JobArgs) -> RunSummary:
    """Read the staged CSVs, build the table, and publish it if the gate passes.

    Writes this run's quarantined rows and its summary either way. On rejection the
    published table is left as it was and ``QualityGateError`` is raised.
    """
    started_at = _now()
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    uris = {source.key: check_input(spark, args.staging_path, source) for source in JOB_SOURCES}
    # With CSV column pruning Spark parses, and so validates, only the columns a query reads:
    # a junk value in an unread column would pass. Every row must be judged on all columns.
    pruning = spark.conf.get(CSV_COLUMN_PRUNING) or "true"
    spark.conf.set(CSV_COLUMN_PRUNING, "false")
    # Enough shuffle partitions for the input, whatever the session was built for.
    shuffle_partitions = spark.conf.get(SHUFFLE_PARTITIONS) or "200"
    input_bytes = sum(_file_bytes(spark, uri) for uri in uris.values())
    needed = -(-input_bytes // CSV_BYTES_PER_PARTITION)
    spark.conf.set(SHUFFLE_PARTITIONS, str(max(int(shuffle_partitions), needed)))
    prepared: dict[str, DataFrame] = {}
    try:
        # One cached parse per source, narrowed to the columns the table uses and ranked for
        # de-duplication, so every count below and the table come from the same rows.
        for source in JOB_SOURCES:
            prepared[source.key] = rank_duplicates(
                classify(read_source(spark, uris[source.key], source), source).select(
                    *USED_COLUMNS[source.key], REASON_COLUMN, RAW_COLUMN
                ),
                source,
            ).persist(StorageLevel.MEMORY_AND_DISK)
        # Each row's fate: a quarantine reason, a removed duplicate, or usable (None).
        fates = _count_by_source(
            prepared,
            F.coalesce(F.col(REASON_COLUMN), F.when(F.col(RANK_COLUMN) > 1, F.lit(DUPLICATE))),
        )
        rows_read = {k: sum(fates[k].values()) for k in prepared}
        duplicates_removed = {k: fates[k].get(DUPLICATE, 0) for k in prepared}
        usable = {k: fates[k].get(None, 0) for k in prepared}
        rows_quarantined = {k: rows_read[k] - duplicates_removed[k] - usable[k] for k in prepared}
        for source in JOB_SOURCES:
            LOG.info(
                "%s: %d rows read from %s, %d duplicates removed",
                source.key,
                rows_read[source.key],
                uris[source.key],
                duplicates_removed[source.key],
            )
            for reason, count in sorted(
                (k, v) for k, v in fates[source.key].items() if k not in (None, DUPLICATE)
            ):
                LOG.warning("%s: %d rows quarantined: %s", source.key, count, reason)

        quarantine = reduce(
            DataFrame.unionByName,
            (quarantine_rows(prepared[s.key], s) for s in JOB_SOURCES),
        )
        # One file: quarantined rows are few; a shuffle (not coalesce) keeps the scan parallel.
        quarantine.repartition(1).write.mode("overwrite").json(args.quarantine_location)
        LOG.info("quarantined rows written to %s", args.quarantine_location)

        survivors = {
            s.key: prepared[s.key]
            .where(F.col(REASON_COLUMN).isNull() & (F.col(RANK_COLUMN) == 1))
            .select(*USED_COLUMNS[s.key])
            for s in JOB_SOURCES
        }
        enriched = enrich(
            survivors[ALBUMS.key],
            survivors[ARTISTS.key],
            survivors[TRACKS.key],
            survivors[FEATURES.key],
        )
        # Spark prunes this to keys and flags, so the gate's figures cost a narrow join.
        stats = _enriched_stats(enriched)

        summary = RunSummary(
            run_id=run_id,
            status="published",
            started_at=started_at,
            finished_at=started_at,
            rows_read=rows_read,
            rows_quarantined=rows_quarantined,
            duplicates_removed=duplicates_removed,
            dropped_no_artist=stats.dropped_no_artist,
            dropped_no_track=stats.dropped_no_track,
            rows_without_features=stats.rows_without_features,
            rows_written=stats.rows,
            gate=dict(asdict(args.gate)),
        )
        failures = gate_failures(
            summary, args.gate, null_keys=stats.null_keys, duplicate_keys=stats.duplicate_keys
        )
        LOG.info(
            "gate: %d candidate rows, quarantine rate %.4f, join loss rate %.4f, %s",
            stats.rows,
            summary.quarantine_rate,
            summary.join_loss_rate,
            "failed" if failures else "passed",
        )
        if failures:
            summary = replace(
                summary,
                status="rejected",
                rows_written=0,
                gate_failures=failures,
                finished_at=_now(),
            )
            write_text(spark, args.summary_location, summary.to_json())
            LOG.error("run %s rejected: %s", run_id, "; ".join(failures))
            raise QualityGateError(failures, args.summary_location)

        # Each artist's rows in one file, sorted by album: long runs and no repeated
        # dictionaries in the artist and album columns, so smaller, cheaper scans.
        (
            publishable(enriched)
            .repartition("artist_id")
            .sortWithinPartitions("artist_id", "album_id", "track_number", PRIMARY_KEY)
            .write.mode("overwrite")
            .option("compression", "snappy")
            .parquet(args.table_location)
        )
        summary = replace(summary, finished_at=_now())
        write_text(spark, args.summary_location, summary.to_json())
        LOG.info("run %s published %d rows to %s", run_id, stats.rows, args.table_location)
        LOG.info("run summary:\n%s", summary.to_json())
        return summary
    finally:
        for frame in prepared.values():
            frame.unpersist()
        spark.conf.set(CSV_COLUMN_PRUNING, pruning)
        spark.conf.set(SHUFFLE_PARTITIONS, shuffle_partitions)


def main() -> None:
    """The Glue entry point."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    options = getResolvedOptions(sys.argv, ["JOB_NAME", *JOB_ARGUMENTS])
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(options["JOB_NAME"], options)
    run(glue_context.spark_session, JobArgs.from_options(options))
    job.commit()


if __name__ == "__main__":
    main()
