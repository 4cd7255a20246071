"""The repo's SQL is valid Athena SQL, runs on DuckDB after transpiling, and answers sensibly on
the demo warehouse; the DuckDB engine reports the table's schema in contract types."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from spotify_glue.contract import DUCKDB_TYPES, WAREHOUSE_COLUMNS
from spotify_glue.gate import DEFAULT_GATE
from spotify_glue.layout import TABLE_NAME
from spotify_glue.run_summary import RunSummary
from sqlglot import exp

from infra.dashboard_spec import insight_files
from spotify_ops.checks import (
    CHECKS_DIR,
    INSIGHTS_DIR,
    TableNotFoundError,
    check_schema,
    generated_queries,
    load_sql,
    sql_files,
)
from spotify_ops.duckdb_engine import DuckDBEngine, contract_type
from spotify_ops.sql import SqlTranslationError, athena_to_duckdb, parse_athena

SQL_FILES = {**sql_files(CHECKS_DIR), **sql_files(INSIGHTS_DIR)}
CONTRACT_COLUMNS = {c.name for c in WAREHOUSE_COLUMNS}
Rows = list[dict[str, Any]]


def test_the_expected_insight_queries_exist():
    """Every question users ask of the data has a query file (the insight probe's name is
    kept), one per visual of the dashboard spec."""
    assert set(sql_files(INSIGHTS_DIR)) == {
        "tracks_total",
        "average_popularity",
        "top_artists_by_followers",
        "top_tracks_by_popularity",
        "popularity_by_genre",
        "popularity_by_label",
        "albums_with_most_tracks",
        "popularity_vs_duration",
        "releases_per_year",
        "genre_by_year",
        "popularity_correlations",
        "album_popularity_correlation",
        "audio_features_summary",
    }


def test_insight_files_are_the_specs_rendering():
    """Each insight file is exactly its visual's query as the spec renders it, so the named
    queries, the verifier's probe and the local report run what the dashboard shows. After a
    spec change, `python -m infra.dashboard_spec` rewrites them."""
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in INSIGHTS_DIR.glob("*.sql")}
    assert on_disk == insight_files()


@pytest.mark.parametrize("name", sorted(SQL_FILES))
@pytest.mark.parametrize("dialect", ["athena", "trino"])
def test_each_file_is_one_strict_athena_statement(name, dialect):
    """Each file parses without error as exactly one Athena/Trino statement, so it can be
    deployed as an Athena named query."""
    statements = sqlglot.parse(
        load_sql(SQL_FILES[name]), read=dialect, error_level=sqlglot.ErrorLevel.RAISE
    )
    assert len([s for s in statements if s is not None]) == 1


ATHENA_QUERIES = {name: load_sql(path) for name, path in SQL_FILES.items()} | generated_queries()
"""Every query Athena runs: the named queries and the ones verify writes from the contract."""


def athena_problems(sql: str) -> list[str]:
    """What would parse for sqlglot yet fail, or mean something else, on Athena's Trino engine
    while DuckDB runs it: sqlglot reads many DuckDB-only forms in the Athena dialect."""
    problems = []
    tree = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    try:
        tree.sql("trino", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as error:
        problems.append(f"Trino cannot express it: {error}")
    problems += [f"unknown function {f.name}()" for f in tree.find_all(exp.Anonymous)]
    tokens = sqlglot.Tokenizer().tokenize(sql)
    if any(token.token_type == sqlglot.TokenType.DCOLON for token in tokens):
        problems.append("a :: cast (write CAST(x AS type))")
    if any(star.args.get("except_") for star in tree.find_all(exp.Star)):
        problems.append("SELECT * EXCLUDE/EXCEPT")
    # Trino divides integers to an integer and fails on zero; DuckDB does neither. No query
    # divides yet: the first that must should bring a rule for the form both engines agree on.
    problems += [
        f"a division ({d.sql()}): Athena and DuckDB disagree on integers and on zero"
        for d in tree.find_all(exp.Div)
    ]
    return problems


@pytest.mark.parametrize("name", sorted(ATHENA_QUERIES))
def test_each_query_means_the_same_on_athena_and_duckdb(name):
    """No query uses a form sqlglot accepts but Athena's engine refuses or reads otherwise."""
    assert athena_problems(ATHENA_QUERIES[name]) == []


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT quantile(tempo, 0.5) AS q FROM spotify_tracks",
        "SELECT list_aggregate(genres, 'min') AS g FROM spotify_tracks",
        "SELECT tempo::int AS t FROM spotify_tracks",
        "SELECT * EXCLUDE (genres) FROM spotify_tracks",
        "SELECT track_number / total_tracks AS share FROM spotify_tracks",
    ],
)
def test_the_athena_check_catches_duckdb_only_sql(sql):
    """Each DuckDB-only form parses as Athena SQL, and the check names it."""
    assert athena_problems(sql)


@pytest.mark.parametrize("name", sorted(SQL_FILES))
def test_each_file_reads_only_the_unqualified_table_and_contract_columns(name):
    """Queries name the table unqualified (the workgroup/database supplies the schema) and
    only columns the contract declares, or aliases the query itself defines."""
    tree = parse_athena(load_sql(SQL_FILES[name]), name)
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table) if t.name not in ctes]
    assert tables, "reads no table"
    assert {t.name for t in tables} == {TABLE_NAME}
    assert all(not t.db and not t.catalog for t in tables)
    aliases = {a.alias for a in tree.find_all(exp.Alias)}
    aliases |= {c.name for t in tree.find_all(exp.TableAlias) for c in t.columns}
    unknown = {c.name for c in tree.find_all(exp.Column)} - CONTRACT_COLUMNS - aliases
    assert not unknown


def test_transpile_rewrites_athena_functions_for_duckdb():
    """Functions that differ between the dialects are rewritten, not passed through."""
    duck = athena_to_duckdb("SELECT approx_percentile(tempo, 0.5) AS p FROM spotify_tracks")
    assert "APPROX_QUANTILE" in duck.upper()


def run_on_rows(query: str, columns: str, rows: str) -> list[tuple[Any, ...]]:
    """A query file's answer on DuckDB over a table of just ``rows`` (SQL VALUES tuples)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {TABLE_NAME} AS SELECT * FROM (VALUES {rows}) AS t({columns})")
    return con.execute(athena_to_duckdb(load_sql(SQL_FILES[query]))).fetchall()


def test_editions_of_one_album_are_counted_apart():
    """Two albums of one artist with the same name (editions: different album ids) are two
    rows of "albums with the most tracks", each within the tracks it declares."""
    rows = run_on_rows(
        "albums_with_most_tracks",
        "album_name, artist_name, album_id, total_tracks",
        "('Hits', 'Ann', 'a1', 2), ('Hits', 'Ann', 'a1', 2), "
        "('Hits', 'Ann', 'a2', 2), ('Hits', 'Ann', 'a2', 2)",
    )
    assert [(row[2], row[-2], row[-1]) for row in rows] == [("a1", 2, 2), ("a2", 2, 2)]


def test_artists_sharing_a_name_are_points_of_their_own():
    """Two artists with one name are two points of the per-artist scatter, each with its own
    popularity, not one point averaging both."""
    rows = run_on_rows(
        "popularity_correlations",
        "artist_id, artist_name, artist_popularity, track_popularity",
        "('a1', 'Diego Silva', 80, 70), ('a2', 'Diego Silva', 20, 10)",
    )
    assert rows == [("a1", 80.0, 70.0), ("a2", 20.0, 10.0)]


def test_transpile_rejects_two_statements_and_names_the_query():
    """A file with two statements cannot be one named query; the error names the file."""
    with pytest.raises(SqlTranslationError, match=r"bad_file: expected exactly one statement"):
        athena_to_duckdb("SELECT 1; SELECT 2", "bad_file")


def test_transpile_rejects_invalid_sql_and_names_the_query():
    """Unparseable SQL fails with the query's name rather than a DuckDB error later."""
    with pytest.raises(SqlTranslationError, match=r"broken: not valid Athena SQL"):
        athena_to_duckdb("SELECT FROM WHERE (", "broken")


# --- DuckDB engine ----------------------------------------------------------------------------


def write_parquet(folder: Path, columns: list[tuple[str, str]]) -> None:
    """One Parquet file with one row of NULLs typed as given (DuckDB spelling)."""
    folder.mkdir(parents=True, exist_ok=True)
    select = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns)
    target = str(folder / "part-0.parquet")
    duckdb.connect().execute(f"COPY (SELECT {select}) TO '{target}' (FORMAT parquet)")


def test_engine_maps_every_contract_type_back_from_parquet(tmp_path):
    """A Parquet file typed as the contract says is reported column for column in contract
    spelling, and passes the schema check."""
    write_parquet(tmp_path, [(c.name, DUCKDB_TYPES[c.type]) for c in WAREHOUSE_COLUMNS])
    with DuckDBEngine(tmp_path) as engine:
        assert engine.table_columns() == [(c.name, c.type) for c in WAREHOUSE_COLUMNS]
        assert check_schema(engine, None, DEFAULT_GATE).passed


def test_engine_reports_a_wrong_type_so_the_schema_check_names_it(tmp_path):
    """followers stored as text (the seed job's all-strings output) fails the schema check,
    which names the column and both types."""
    columns = [
        (c.name, "VARCHAR" if c.name == "followers" else DUCKDB_TYPES[c.type])
        for c in WAREHOUSE_COLUMNS
    ]
    write_parquet(tmp_path, columns)
    with DuckDBEngine(tmp_path) as engine:
        result = check_schema(engine, None, DEFAULT_GATE)
    assert not result.passed
    assert "followers: string != bigint" in result.detail


def test_types_outside_the_contract_are_reported_as_found():
    """An unknown DuckDB type is shown as DuckDB names it, so a mismatch message is exact."""
    assert contract_type("VARCHAR[]") == "array<string>"
    assert contract_type("HUGEINT") == "hugeint"


def test_engine_without_a_published_table_says_so(tmp_path):
    """With no Parquet files the table has no columns (every column missing in the schema
    check) and a query fails with a message saying the table was not published."""
    with DuckDBEngine(tmp_path) as engine:
        assert engine.table_columns() == []
        with pytest.raises(TableNotFoundError, match="has not been published"):
            engine.query("SELECT COUNT(*) FROM spotify_tracks")


# --- Every query on the demo warehouse --------------------------------------------------------


def _summary(demo_run) -> RunSummary:
    return RunSummary.from_json(Path(demo_run.layout.summary_location).read_text(encoding="utf-8"))


def _between(rows: Rows, column: str, low: float, high: float) -> None:
    values = [r[column] for r in rows if r[column] is not None]
    assert values, f"{column} is always null"
    assert all(low <= v <= high for v in values), (column, min(values), max(values))


def check_tracks_total(rows: Rows, written: int) -> None:
    assert rows == [{"tracks": written}]


def check_average_popularity(rows: Rows, written: int) -> None:
    (row,) = rows
    assert 0 <= row["average_track_popularity"] <= 100


def check_top_artists(rows: Rows, written: int) -> None:
    assert 0 < len(rows) <= 20
    followers = [r["followers"] for r in rows]
    assert followers == sorted(followers, reverse=True)
    assert len({r["artist_name"] for r in rows}) == len(rows)


def check_top_tracks(rows: Rows, written: int) -> None:
    assert len(rows) == 20
    popularity = [r["popularity"] for r in rows]
    assert popularity == sorted(popularity, reverse=True)
    _between(rows, "popularity", 0, 100)
    _between(rows, "release_year", 1900, dt.date.today().year)


def check_by_genre(rows: Rows, written: int) -> None:
    assert rows
    assert all(isinstance(r["primary_genre"], str) and r["primary_genre"] for r in rows)
    averages = [r["average_track_popularity"] for r in rows]
    assert averages == sorted(averages, reverse=True)
    _between(rows, "average_track_popularity", 0, 100)


def check_by_label(rows: Rows, written: int) -> None:
    assert 0 < len(rows) <= 25
    assert all(r["label"] for r in rows)
    _between(rows, "average_track_popularity", 0, 100)


def check_most_tracks(rows: Rows, written: int) -> None:
    assert len(rows) == 20
    counts = [r["tracks"] for r in rows]
    assert counts == sorted(counts, reverse=True)
    assert all(r["tracks"] <= r["declared_tracks"] for r in rows)


def check_vs_duration(rows: Rows, written: int) -> None:
    assert 5 <= len(rows) <= min(written, 2000)
    _between(rows, "duration_sec", 1, 3600)
    _between(rows, "track_popularity", 0, 100)


def check_per_year(rows: Rows, written: int) -> None:
    years = [r["release_year"] for r in rows]
    assert years == sorted(years)
    assert len(years) > 10
    _between(rows, "release_year", 1900, dt.date.today().year)
    assert sum(r["tracks"] for r in rows) <= written
    assert all(0 < r["albums"] <= r["tracks"] for r in rows)


def check_genre_by_year(rows: Rows, written: int) -> None:
    assert rows
    assert 1 <= len({r["primary_genre"] for r in rows}) <= 8
    _between(rows, "release_year", 1900, dt.date.today().year)
    assert all(r["tracks"] > 0 for r in rows)


def _pearson(xs: list[float], ys: list[float]) -> float:
    return statistics.correlation(xs, ys)


def check_artist_correlation(rows: Rows, written: int) -> None:
    assert len(rows) > 10
    _between(rows, "average_artist_popularity", 0, 100)
    _between(rows, "average_track_popularity", 0, 100)


def check_album_correlation(rows: Rows, written: int) -> None:
    assert len(rows) > 10
    # The sample's track popularity follows its album's; the scatter must show that.
    xs = [r["average_album_popularity"] for r in rows]
    ys = [r["average_track_popularity"] for r in rows]
    assert _pearson(xs, ys) > 0.3


def check_audio_features(rows: Rows, written: int) -> None:
    assert [r["explicit"] for r in rows] == [False, True]
    assert sum(r["tracks"] for r in rows) == written
    assert all(0 < r["with_features"] <= r["tracks"] for r in rows)
    for feature in ("danceability", "energy", "speechiness", "acousticness", "valence"):
        _between(rows, feature, 0.0, 1.0)
    _between(rows, "tempo_bpm", 40, 250)
    _between(rows, "loudness_db", -60, 5)


def check_row_count(rows: Rows, written: int) -> None:
    assert rows == [{"row_count": written}]


def check_key_integrity(rows: Rows, written: int) -> None:
    assert rows == [{"null_keys": 0, "duplicate_keys": 0}]


PLAUSIBLE: dict[str, Callable[[Rows, int], None]] = {
    "tracks_total": check_tracks_total,
    "average_popularity": check_average_popularity,
    "top_artists_by_followers": check_top_artists,
    "top_tracks_by_popularity": check_top_tracks,
    "popularity_by_genre": check_by_genre,
    "popularity_by_label": check_by_label,
    "albums_with_most_tracks": check_most_tracks,
    "popularity_vs_duration": check_vs_duration,
    "releases_per_year": check_per_year,
    "genre_by_year": check_genre_by_year,
    "popularity_correlations": check_artist_correlation,
    "album_popularity_correlation": check_album_correlation,
    "audio_features_summary": check_audio_features,
    "row_count": check_row_count,
    "key_integrity": check_key_integrity,
}


def test_every_sql_file_has_a_plausibility_check():
    """A new SQL file cannot slip in without its answers being judged."""
    assert set(PLAUSIBLE) == set(SQL_FILES)


@pytest.mark.parametrize("name", sorted(SQL_FILES))
def test_each_query_gives_plausible_answers_on_the_demo_warehouse(demo_run, name):
    """Each file, transpiled for DuckDB, runs on the demo's Parquet and its answer is sane."""
    assert demo_run.exit_code == 0, demo_run.output
    written = _summary(demo_run).rows_written
    with DuckDBEngine(demo_run.table) as engine:
        rows = engine.query(load_sql(SQL_FILES[name]), name)
    PLAUSIBLE[name](rows, written)


def test_demo_table_registers_with_the_contract_schema(demo_run):
    """The catalog step's view over the job's Parquet has exactly the contract's columns."""
    with DuckDBEngine(demo_run.table) as engine:
        assert engine.table_columns() == [(c.name, c.type) for c in WAREHOUSE_COLUMNS]


ROW_COUNTING = sorted(
    name for name in sql_files(INSIGHTS_DIR) if "COUNT(*)" in load_sql(SQL_FILES[name])
)


def test_track_counts_are_rendered_as_row_counts():
    """The dashboard counts track ids; the queries count rows, which reads no column. They are
    equal because the gate publishes no null track id (tests/glue: the written-keys check)."""
    assert ROW_COUNTING
    assert not [n for n in sql_files(INSIGHTS_DIR) if "COUNT(track_id)" in load_sql(SQL_FILES[n])]
