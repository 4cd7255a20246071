"""Classifying parsed records: why a record cannot be used, or that it can.

The checks, in order (the first that applies is the record's quarantine reason): a problem
that kept the record from being parsed (``spotify_glue.records``), a parse failure (field
count, a value not of its type), a missing key, an unparseable release date, a value outside
its column's domain (``spotify_glue.domains``, the same rule the published-table check uses).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS, SourceFile
from spotify_glue.contract import Column as ContractColumn
from spotify_glue.domains import DateRange
from spotify_glue.records import (
    CORRUPT_COLUMN,
    CSV_FORMAT,
    CSV_PARSE_OPTIONS,
    PROBLEM_COLUMN,
    RECORD_COLUMN,
)

REASON_COLUMN: Final = "_reason"
"""Why a record cannot be used; null when it can."""
RAW_COLUMN: Final = "_raw"
"""The record as text, for records with a reason."""

RELEASE_DATE_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}( UTC)?)?$"
"""``2016-11-10 00:00:00 UTC`` as in the files; a bare ``2016-11-10`` is accepted too."""
DATE_DIGITS: Final = ((1, 4), (6, 2), (9, 2))
"""(start, length) of the year, month and day digits in a matching value."""

KEY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    ALBUMS.key: ("track_id", "artist_id"),
    ARTISTS.key: ("id",),
    TRACKS.key: ("id",),
    FEATURES.key: ("id",),
}
"""Columns a row cannot be used without: the source's own key and its join keys."""


def read_schema(source: SourceFile) -> str:
    """The source's contract schema plus the corrupt-record column, as Spark DDL."""
    return f"{source.ddl()}, `{CORRUPT_COLUMN}` string"


def parse_release_date(value: Column) -> Column:
    """``2016-11-10 00:00:00 UTC`` -> date; null when absent or not a real calendar date.

    Built from the digits (not a datetime pattern) so the result never depends on the
    session time zone or Spark's time-parser policy.
    """
    digits = [F.substring(value, start, length).cast("int") for start, length in DATE_DIGITS]
    return F.when(value.rlike(RELEASE_DATE_PATTERN), F.make_date(*digits))


TOKENS_COLUMN: Final = "_tokens"
"""A flagged record's ``_corrupt_record`` split into its fields, as text; null for the
records the parser took."""
TOKENS_CORRUPT: Final = "_tokens_corrupt"
"""Set when a flagged record does not even split into the source's number of fields."""


def _tokens(source: SourceFile) -> Column:
    """A flagged record split into its fields as text. A column of its own, parsed once per
    record: the reason checks read it, where inlined into each check every check would build
    a CSV parser of its own in every task."""
    corrupt = F.col(CORRUPT_COLUMN)
    return F.when(
        corrupt.isNotNull(),
        F.from_csv(
            corrupt,
            f"{source.text_ddl()}, `{TOKENS_CORRUPT}` string",
            {**CSV_PARSE_OPTIONS, "columnNameOfCorruptRecord": TOKENS_CORRUPT},
        ),
    )


def _malformed_reason(source: SourceFile) -> Column:
    """Why the CSV parser flagged a record: wrong field count, or which column failed its type.

    Reasons are categories (the value itself is in the raw record), so they can be counted."""
    tokens = F.col(TOKENS_COLUMN)
    bad_value = [
        F.when(
            tokens[c.name].isNotNull() & F.col(c.name).isNull(),
            F.lit(f"{c.name} is not a valid {c.type}"),
        )
        for c in source.columns
        if c.type != "string"
    ]
    return F.when(
        tokens[TOKENS_CORRUPT].isNotNull(),
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
    frame = frame.withColumn(TOKENS_COLUMN, _tokens(source))
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
    return (
        frame.withColumn(REASON_COLUMN, reason)
        .withColumn(RAW_COLUMN, raw)
        .drop(TOKENS_COLUMN, *dates.values())
    )
