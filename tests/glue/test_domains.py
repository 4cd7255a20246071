"""Column domains, declared once in the contract: every typed column has one, each source
column shares its warehouse column's, and the three renderings of a domain (the SQL Spark
runs in the job, the same SQL on DuckDB as the checks run it, and Python) agree on every edge."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import pytest
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
from spotify_glue.contract import (
    ALBUMS,
    ARTISTS,
    DUCKDB_TYPES,
    FEATURES,
    JOB_SOURCES,
    TRACKS,
    WAREHOUSE_COLUMNS,
    Column,
)
from spotify_glue.contract import Column as ContractColumn
from spotify_glue.domains import DateRange, OneOf, Range
from spotify_glue.transform import FEATURE_COLUMNS

from spotify_ops.sql import athena_to_duckdb

TODAY = dt.datetime.now(dt.UTC).date()
NEXT_YEAR_END = dt.date(TODAY.year + 1, 12, 31)
WAREHOUSE = {c.name: c for c in WAREHOUSE_COLUMNS}


def _domain_sql(column: ContractColumn) -> str:
    sql = column.domain_sql(f"`{column.type}`")
    assert sql is not None, column.name
    return sql


def test_every_typed_column_has_a_domain():
    """Numbers, dates and the album type each have a domain; doubles are also finite."""
    typed = [c for c in WAREHOUSE_COLUMNS if c.type in ("int", "bigint", "double", "date")]
    assert typed
    assert [c.name for c in typed if c.domain is None] == []
    assert all(c.domain_sql("x") for c in typed)
    assert WAREHOUSE["album_type"].domain == OneOf(("album", "single", "compilation"))


def source_of(column: str) -> list[tuple[str, Column]]:
    """The source columns the warehouse column is built from, unchanged."""
    renamed = {dst: src for src, dst in FEATURE_COLUMNS.items()}
    found = []
    for source in JOB_SOURCES:
        name = renamed.get(column, column) if source is FEATURES else column
        if source is FEATURES and column not in renamed:
            continue  # features' own id and duration_ms are not the table's
        if source is ARTISTS and column == "id":
            continue
        found += [(source.key, c) for c in source.columns if c.name == name]
    return found


@pytest.mark.parametrize("column", WAREHOUSE_COLUMNS, ids=lambda c: c.name)
def test_source_columns_share_their_warehouse_columns_domain(column):
    """The job quarantines by the source column's domain, the checks count by the warehouse
    column's: they are the same declared domain, so both judge a value alike."""
    for _source, source_column in source_of(column.name):
        assert source_column.domain == column.domain


def test_domains_are_declared_for_the_source_columns_that_feed_the_table():
    """The lineage above is not empty: popularity, durations, dates and audio features."""
    fed = {c.name for c in WAREHOUSE_COLUMNS if any(src.domain for _, src in source_of(c.name))}
    assert {"album_popularity", "track_popularity", "artist_popularity", "release_date"} <= fed
    assert {"duration_ms", "duration_sec", "musical_key", "time_signature", "tempo"} <= fed
    assert FEATURES.columns[[c.name for c in FEATURES.columns].index("duration_ms")].domain
    assert all(s in JOB_SOURCES for s in (ALBUMS, ARTISTS, TRACKS, FEATURES))


def edge_values(column: Column) -> list[Any]:
    """Values at and beyond the domain's edges, plus null and, for doubles, non-finite ones."""
    domain = column.domain
    values: list[Any] = [None]
    if isinstance(domain, Range):
        for bound in (domain.low, domain.high):
            if bound is not None:
                values += [bound - 1, bound - 0.5, bound, bound + 0.5, bound + 1]
        if column.type != "double":
            values = [v for v in values if v is None or float(v).is_integer()]
            values = [v if v is None else int(v) for v in values]
        else:
            values = [v if v is None else float(v) for v in values]
            values += [math.nan, math.inf, -math.inf, 1e308]
    elif isinstance(domain, DateRange) and domain.as_year:
        values += [216, 1876, 1877, TODAY.year, TODAY.year + 1, TODAY.year + 2]
    elif isinstance(domain, DateRange):
        first = domain.earliest
        values += [dt.date(216, 11, 10), first - dt.timedelta(days=1), first, TODAY]
        values += [NEXT_YEAR_END, NEXT_YEAR_END + dt.timedelta(days=1)]
    elif isinstance(domain, OneOf):
        values += [*domain.values, "ep", "Album", ""]
    return values


def duckdb_verdicts(column: Column, values: list[Any]) -> list[bool | None]:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (i INTEGER, v {DUCKDB_TYPES[column.type]})")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    sql = athena_to_duckdb(f"SELECT i, {column.domain_sql(chr(34) + 'v' + chr(34))} FROM t")
    return [ok for _, ok in sorted(con.execute(sql).fetchall())]


DOMAIN_COLUMNS = [c for c in WAREHOUSE_COLUMNS if c.domain_sql("x") is not None]


@pytest.fixture(scope="module")
def spark_verdicts(spark) -> dict[str, list[bool | None]]:
    """Spark's verdict on each domain column's edge values, in one small Spark job: one row
    per value, with a typed slot per contract type."""
    types = sorted({c.type for c in DOMAIN_COLUMNS})
    rows = [
        (column.name, i, *(value if column.type == t else None for t in types))
        for column in DOMAIN_COLUMNS
        for i, value in enumerate(edge_values(column))
    ]
    slots = ", ".join(f"`{t}` {t}" for t in types)
    frame = spark.createDataFrame(rows, f"name string, i int, {slots}")
    verdict = F.coalesce(
        *(F.when(F.col("name") == c.name, F.expr(_domain_sql(c))) for c in DOMAIN_COLUMNS)
    )
    verdicts: dict[str, list[bool | None]] = {c.name: [] for c in DOMAIN_COLUMNS}
    for name, _, ok in sorted(frame.select("name", "i", verdict).collect()):
        verdicts[name].append(ok)
    return verdicts


@pytest.mark.parametrize("column", DOMAIN_COLUMNS, ids=lambda c: c.name)
def test_spark_duckdb_and_python_agree_on_every_edge(spark_verdicts, column):
    """Spark (the job), DuckDB (the local checks; Athena runs the same SQL) and the contract's
    Python rule give the same verdict for every edge value; null is always allowed."""
    values = edge_values(column)
    python_verdicts = [None if v is None else column.allows(v) for v in values]
    assert spark_verdicts[column.name] == python_verdicts, values
    assert duckdb_verdicts(column, values) == python_verdicts, values


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("album_popularity", 100, True),
        ("album_popularity", -1, False),
        ("duration_sec", 0.001, True),
        ("duration_sec", 0.0, False),
        ("duration_sec", math.inf, False),
        ("duration_sec", math.nan, False),
        ("tempo", 0.0, True),
        ("tempo", math.nan, False),
        ("loudness", -60.0, True),
        ("musical_key", -1, True),
        ("musical_key", 12, False),
        ("time_signature", 1, True),
        ("time_signature", 8, False),
        ("release_date", dt.date(216, 11, 10), False),
        ("release_date", dt.date(1877, 1, 1), True),
        ("release_year", TODAY.year + 2, False),
        ("album_type", "compilation", True),
        ("album_type", "ep", False),
    ],
)
def test_domain_rules(name, value, allowed):
    """The declared domains, case by case (the Spotify Web API's ranges where it gives them)."""
    assert WAREHOUSE[name].allows(value) is allowed


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("track_popularity", "0 to 100"),
        ("duration_ms", "> 0"),
        ("duration_sec", "finite, > 0"),
        ("total_tracks", ">= 1"),
        ("followers", ">= 0"),
        ("danceability", "0 to 1"),
        ("tempo", "finite, >= 0"),
        ("release_date", "1877-01-01 to the end of next year"),
        ("release_year", "1877 to next year"),
        ("album_type", "one of album, single, compilation"),
        ("track_name", None),
    ],
)
def test_domain_text(name, text):
    """How reasons, check details and docs name each domain."""
    assert WAREHOUSE[name].domain_text() == text
