"""The domain check: the published table holds no value outside its column's domain, counted
by one query written from the contract (run here on DuckDB, as the local run does)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spotify_glue.contract import WAREHOUSE_COLUMNS
from spotify_glue.gate import DEFAULT_GATE

from spotify_ops.checks import CHECKS, check_domains, domain_violations_sql, generated_queries
from spotify_ops.duckdb_engine import DuckDBEngine
from tests.builders import warehouse_row

ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "array<string>": pa.list_(pa.string()),
}

VALID = warehouse_row()


def table(folder: Path, *rows: dict[str, Any]) -> Path:
    """A published-table folder holding these rows in the contract's schema."""
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in WAREHOUSE_COLUMNS])
    data = {c.name: [row[c.name] for row in rows] for c in WAREHOUSE_COLUMNS}
    folder.mkdir(parents=True)
    pq.write_table(pa.table(data, schema=schema), folder / "part-0.parquet")
    return folder


def test_a_table_within_its_domains_passes(tmp_path):
    """Every value within its domain (edges included): the check passes."""
    edges = warehouse_row(
        "t2", album_popularity=0, release_date=dt.date(1877, 1, 1), musical_key=-1
    )
    with DuckDBEngine(table(tmp_path / "t", VALID, edges)) as engine:
        result = check_domains(engine, None, DEFAULT_GATE)
    assert result.passed, result.detail


@pytest.mark.parametrize(
    ("column", "value", "detail"),
    [
        ("loudness", math.nan, "1 rows with loudness outside -60 to 10"),
        ("duration_sec", math.inf, "1 rows with duration_sec outside finite, > 0"),
        ("tempo", -math.inf, "1 rows with tempo outside finite, >= 0"),
        ("release_date", dt.date(216, 11, 10), "1 rows with release_date outside 1877-01-01"),
        ("track_popularity", 101, "1 rows with track_popularity outside 0 to 100"),
        ("album_type", "ep", "1 rows with album_type outside one of album, single"),
    ],
)
def test_a_value_outside_its_domain_fails_the_check_naming_it(tmp_path, column, value, detail):
    """One value outside its domain fails the check, naming the column and the domain."""
    bad = warehouse_row("t2", **{column: value})
    with DuckDBEngine(table(tmp_path / "t", VALID, bad)) as engine:
        result = check_domains(engine, None, DEFAULT_GATE)
    assert not result.passed
    assert result.detail.startswith(detail)


def test_the_check_is_one_of_the_shared_checks_and_named_for_messages():
    """verify and the local run run it; Athena messages call its query checks/domains."""
    assert check_domains in CHECKS
    assert generated_queries() == {"checks/domains": domain_violations_sql()}
