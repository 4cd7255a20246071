"""The Athena QueryEngine: result conversion, polling on moto, and Athena's faults via Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.moto_api import state_manager
from spotify_glue.contract import WAREHOUSE_COLUMNS
from spotify_glue.layout import TABLE_NAME

from spotify_ops.athena import (
    AthenaEngine,
    QueryFailedError,
    QueryTimeoutError,
    query_name,
    rows_from_pages,
)
from spotify_ops.checks import TableNotFoundError
from tests.cli.verify_support import (
    ACCOUNT,
    DATABASE,
    INSIGHT_COLUMNS,
    INSIGHT_ROWS,
    INSIGHT_SQL,
    KEYS_COLUMNS,
    KEYS_SQL,
    REGION,
    RESULTS,
    ROW_COUNT_COLUMNS,
    ROW_COUNT_SQL,
    WORKGROUP,
    FakeClock,
    column_info,
    execution,
    glue_table,
    result_rows,
    results_page,
    set_fake_credentials,
    stub_query,
)

# --- pure conversion ---------------------------------------------------------------------------


def test_rows_skip_the_header_and_convert_by_athena_type() -> None:
    """The header row names the columns; values become int, float, bool or str by type."""
    columns = [("n", "bigint"), ("x", "double"), ("b", "boolean"), ("s", "varchar")]
    page = results_page(columns, [["3", "0.5", "true", "a,b"], ["-1", "2", "false", "é"]])
    assert rows_from_pages([page]) == [
        {"n": 3, "x": 0.5, "b": True, "s": "a,b"},
        {"n": -1, "x": 2.0, "b": False, "s": "é"},
    ]


def test_null_cells_become_none() -> None:
    """A cell without VarCharValue is SQL NULL, whatever its type."""
    page = results_page([("n", "integer"), ("s", "varchar")], [[None, None]])
    assert rows_from_pages([page]) == [{"n": None, "s": None}]


def test_rows_continue_across_pages_with_one_header() -> None:
    """Only the first page carries the header; later pages are all data."""
    first = results_page(ROW_COUNT_COLUMNS, [["1"], ["2"]], next_token="t1")
    second = results_page(ROW_COUNT_COLUMNS, [["3"]], header=False)
    assert rows_from_pages([first, second]) == [{"row_count": n} for n in (1, 2, 3)]


def test_empty_result_is_no_rows() -> None:
    """A query that returns nothing (not even a header) yields an empty list."""
    assert rows_from_pages([{"ResultSet": {"Rows": []}}]) == []
    assert rows_from_pages([results_page(INSIGHT_COLUMNS, [])]) == []


def test_query_name_names_the_repo_sql_file() -> None:
    """Messages name the SQL file a query came from, or quote an unknown query."""
    assert query_name(ROW_COUNT_SQL) == "checks/row_count"
    assert query_name(INSIGHT_SQL) == "insights/top_artists_by_followers"
    assert query_name("SELECT 1") == "'SELECT 1'"


# --- moto ----------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    set_fake_credentials(monkeypatch)
    with mock_aws():
        yield
    state_manager.unset_transition("athena::execution")


def _seed(columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """Queue the answer of the next query started (moto runs no SQL)."""
    backend = athena_backends[ACCOUNT][REGION]
    backend.query_results_queue.append(
        QueryResults(rows=result_rows(columns, rows), column_info=column_info(columns))
    )


def _engine(clock: FakeClock, **options: Any) -> AthenaEngine:
    """An engine on new clients, for the stack's database, table and workgroup."""
    return AthenaEngine(
        athena=boto3.client("athena", region_name=REGION),
        glue=boto3.client("glue", region_name=REGION),
        database=DATABASE,
        table=TABLE_NAME,
        workgroup=WORKGROUP,
        output_location=f"s3://{RESULTS}/results/",
        clock=clock,
        **options,
    )


def _moto_engine(clock: FakeClock) -> tuple[AthenaEngine, Any]:
    engine = _engine(clock)
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=RESULTS, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    engine.athena.create_work_group(
        Name=WORKGROUP,
        Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/results/"},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    return engine, engine.athena


@pytest.mark.usefixtures("aws")
def test_query_polls_until_succeeded_and_returns_seeded_rows() -> None:
    """With manual transitions each query is QUEUED, then RUNNING, then SUCCEEDED, polled
    with growing delays, in the stack's workgroup and database."""
    state_manager.set_transition(
        model_name="athena::execution", transition={"progression": "manual", "times": 2}
    )
    clock = FakeClock()
    engine, athena = _moto_engine(clock)
    _seed(KEYS_COLUMNS, [["0", "2"]])
    _seed(INSIGHT_COLUMNS, INSIGHT_ROWS)

    assert engine.query(KEYS_SQL) == [{"null_keys": 0, "duplicate_keys": 2}]
    insight = engine.query(INSIGHT_SQL)

    assert [r["artist_name"] for r in insight] == ["Emerson, Lake & Palmer", "Sigur Rós"]
    assert insight[0]["followers"] == 1200
    assert [r.polls for r in engine.records] == [4, 4]
    assert clock.sleeps == [0.25, 0.5, 1.0] * 2
    listed = athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    assert sorted(listed) == sorted(r.query_id for r in engine.records)
    for record in engine.records:
        got = athena.get_query_execution(QueryExecutionId=record.query_id)["QueryExecution"]
        assert got["QueryExecutionContext"] == {"Database": DATABASE}
        assert got["Query"] in (KEYS_SQL, INSIGHT_SQL)


@pytest.mark.usefixtures("aws")
def test_table_columns_come_from_the_glue_catalog() -> None:
    """The schema is the catalog table's columns in order, in the contract's spelling."""
    engine, _ = _moto_engine(FakeClock())
    glue = engine.glue
    glue.create_database(DatabaseInput={"Name": DATABASE})
    columns = glue_table()["Table"]["StorageDescriptor"]["Columns"]
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={"Name": TABLE_NAME, "StorageDescriptor": {"Columns": columns}},
    )
    assert engine.table_columns() == [(c.name, c.type) for c in WAREHOUSE_COLUMNS]


@pytest.mark.usefixtures("aws")
def test_missing_table_raises_a_clear_not_found() -> None:
    """No table in the catalog is reported by name with the way to create it."""
    engine, _ = _moto_engine(FakeClock())
    engine.glue.create_database(DatabaseInput={"Name": DATABASE})
    with pytest.raises(TableNotFoundError) as info:
        engine.table_columns()
    message = str(info.value)
    assert f"table {DATABASE}.{TABLE_NAME} is not in the Glue catalog" in message
    assert "verify --run" in message


# --- Stubber: Athena's faults ----------------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AthenaEngine, Stubber, Stubber]]:
    set_fake_credentials(monkeypatch)
    engine = _engine(FakeClock(), query_timeout=3.0)
    with Stubber(engine.athena) as athena_stub, Stubber(engine.glue) as glue_stub:
        yield engine, athena_stub, glue_stub
        athena_stub.assert_no_pending_responses()
        glue_stub.assert_no_pending_responses()


def test_throttled_start_and_poll_are_retried(
    stubbed: tuple[AthenaEngine, Stubber, Stubber],
) -> None:
    """TooManyRequests on start and Throttling while polling are waited out, then the rows
    come back."""
    engine, athena, _ = stubbed
    athena.add_client_error("start_query_execution", "TooManyRequestsException", "Rate exceeded")
    stub_query(
        athena,
        "q-1",
        ROW_COUNT_SQL,
        ROW_COUNT_COLUMNS,
        [["7"]],
        states=("THROTTLED", "RUNNING", "SUCCEEDED"),
    )
    assert engine.query(ROW_COUNT_SQL) == [{"row_count": 7}]
    assert engine.records[0].polls == 3
    assert engine.records[0].bytes_scanned == 4096


def test_failed_query_raises_with_athenas_reason(
    stubbed: tuple[AthenaEngine, Stubber, Stubber],
) -> None:
    """A FAILED query raises with its file name and Athena's StateChangeReason."""
    engine, athena, _ = stubbed
    reason = "HIVE_BAD_DATA: Field track_popularity's type INT64 in parquet is incompatible"
    athena.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
    athena.add_response(
        "get_query_execution", {"QueryExecution": execution("q-2", "FAILED", reason)}
    )
    with pytest.raises(QueryFailedError) as info:
        engine.query(ROW_COUNT_SQL)
    assert str(info.value) == f"Athena query checks/row_count (q-2) FAILED: {reason}"
    assert info.value.system is False


def test_system_error_category_is_marked_retryable(
    stubbed: tuple[AthenaEngine, Stubber, Stubber],
) -> None:
    """Athena's own failures (ErrorCategory 1) are flagged so the CLI can exit 3."""
    engine, athena, _ = stubbed
    failed = execution("q-3", "FAILED")
    failed["Status"]["AthenaError"] = {"ErrorCategory": 1, "ErrorMessage": "Internal error"}
    athena.add_response("start_query_execution", {"QueryExecutionId": "q-3"})
    athena.add_response("get_query_execution", {"QueryExecution": failed})
    with pytest.raises(QueryFailedError, match="FAILED: Internal error") as info:
        engine.query(KEYS_SQL)
    assert info.value.system is True


def test_query_past_its_timeout_is_stopped_and_reported(
    stubbed: tuple[AthenaEngine, Stubber, Stubber],
) -> None:
    """A query still RUNNING at --query-timeout is asked to stop and raises a timeout."""
    engine, athena, _ = stubbed
    athena.add_response("start_query_execution", {"QueryExecutionId": "q-4"})
    for _ in range(5):  # polls at 0, 0.25, 0.75, 1.75 and 3.0 s with a 3 s timeout
        athena.add_response("get_query_execution", {"QueryExecution": execution("q-4", "RUNNING")})
    athena.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-4"})
    with pytest.raises(QueryTimeoutError) as info:
        engine.query(INSIGHT_SQL)
    message = str(info.value)
    assert "insights/top_artists_by_followers (q-4) still RUNNING after 3 s" in message
    assert "Raise --query-timeout" in message


def test_results_are_read_across_pages(stubbed: tuple[AthenaEngine, Stubber, Stubber]) -> None:
    """get_query_results is paginated with NextToken until the last page."""
    engine, athena, _ = stubbed
    athena.add_response("start_query_execution", {"QueryExecutionId": "q-5"})
    athena.add_response("get_query_execution", {"QueryExecution": execution("q-5", "SUCCEEDED")})
    athena.add_response(
        "get_query_results",
        results_page(INSIGHT_COLUMNS, INSIGHT_ROWS[:1], next_token="page-2"),
        {"QueryExecutionId": "q-5"},
    )
    athena.add_response(
        "get_query_results",
        results_page(INSIGHT_COLUMNS, INSIGHT_ROWS[1:], header=False),
        {"QueryExecutionId": "q-5", "NextToken": "page-2"},
    )
    rows = engine.query(INSIGHT_SQL)
    assert [r["artist_id"] for r in rows] == ["a1", "a2"]


def test_partition_keys_follow_the_columns(stubbed: tuple[AthenaEngine, Stubber, Stubber]) -> None:
    """Partition columns count as table columns, so a partitioned table shows as drift."""
    engine, _, glue = stubbed
    table = glue_table([("track_id", "string")])
    table["Table"]["PartitionKeys"] = [{"Name": "release_year", "Type": "int"}]
    glue.add_response("get_table", table, {"DatabaseName": DATABASE, "Name": TABLE_NAME})
    assert engine.table_columns() == [("track_id", "string"), ("release_year", "int")]
