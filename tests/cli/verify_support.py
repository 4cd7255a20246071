"""Shared pieces for the verifier's tests: stack outputs, a driven clock, fake AWS settings,
Athena result pages and Stubber sequences in the shapes AWS returns."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from spotify_glue.contract import WAREHOUSE_COLUMNS
from spotify_glue.layout import TABLE_NAME, WarehouseLayout
from spotify_glue.run_summary import RunSummary
from typer.testing import CliRunner

from infra.outputs import OutputKey
from spotify_ops.aws_runtime import Runtime
from spotify_ops.checks import (
    CHECKS_DIR,
    INSIGHT_PROBE,
    INSIGHTS_DIR,
    domain_violations_sql,
    load_sql,
)
from spotify_ops.cli import app
from tests.builders import run_summary

REGION = "eu-west-1"
ACCOUNT = "123456789012"
WAREHOUSE = "spotify-dev-warehouse-1a2b"
RESULTS = "spotify-dev-athena-results-1a2b"
DATABASE = "spotify_dev"
WORKGROUP = "spotify-dev"
JOB = "spotify-dev-etl"
CRAWLER = "spotify-dev-crawler"
WORKFLOW = "spotify-dev-pipeline"
LAYOUT = WarehouseLayout(f"s3://{WAREHOUSE}")
RUN_ID = "20240101T060000Z-1a2b3c4d"
PREVIOUS_RUN_ID = "20231231T060000Z-0f0e0d0c"


def warehouse_key(location: str) -> str:
    """The key of a warehouse location in its bucket."""
    return location.removeprefix(f"s3://{WAREHOUSE}/")


SUMMARY_KEY = warehouse_key(LAYOUT.summary_location)
"""The last-run summary's key in the warehouse bucket."""
POINTER_KEY = warehouse_key(LAYOUT.published_location)
"""The published-run pointer's key in the warehouse bucket."""

ROW_COUNT_SQL = load_sql(CHECKS_DIR / "row_count.sql")
KEYS_SQL = load_sql(CHECKS_DIR / "key_integrity.sql")
INSIGHT_SQL = load_sql(INSIGHTS_DIR / f"{INSIGHT_PROBE}.sql")
DOMAINS_SQL = domain_violations_sql()


def outputs_dict(**overrides: Any) -> dict[str, Any]:
    """What `pulumi stack output --json` prints for a deployed dev stack."""
    base: dict[str, Any] = {
        OutputKey.REGION.value: REGION,
        OutputKey.STAGING_BUCKET.value: "spotify-dev-staging-1a2b",
        OutputKey.STAGING_PREFIX.value: "spotify-2023/",
        OutputKey.WAREHOUSE_BUCKET.value: WAREHOUSE,
        OutputKey.TABLE_LOCATION.value: LAYOUT.table_root,
        OutputKey.QUARANTINE_LOCATION.value: LAYOUT.quarantine_root,
        OutputKey.RUN_SUMMARY_LOCATION.value: LAYOUT.summary_location,
        OutputKey.ASSETS_BUCKET.value: "spotify-dev-assets-1a2b",
        OutputKey.RESULTS_LOCATION.value: f"s3://{RESULTS}/results/",
        OutputKey.JOB_NAME.value: JOB,
        OutputKey.CRAWLER_NAME.value: CRAWLER,
        OutputKey.WORKFLOW_NAME.value: WORKFLOW,
        OutputKey.DATABASE_NAME.value: DATABASE,
        OutputKey.TABLE_NAME.value: TABLE_NAME,
        OutputKey.WORKGROUP_NAME.value: WORKGROUP,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def warehouse_outputs(bucket: str) -> dict[str, str]:
    """The outputs that name the warehouse, for a stack whose warehouse is ``bucket``."""
    layout = WarehouseLayout(f"s3://{bucket}")
    return {
        OutputKey.WAREHOUSE_BUCKET.value: bucket,
        OutputKey.TABLE_LOCATION.value: layout.table_root,
        OutputKey.QUARANTINE_LOCATION.value: layout.quarantine_root,
        OutputKey.RUN_SUMMARY_LOCATION.value: layout.summary_location,
    }


def summary(**changes: Any) -> RunSummary:
    """A run summary (``tests.builders.run_summary``) of run ``RUN_ID`` in this stack's
    warehouse (``LAYOUT``), unless ``changes`` name others."""
    return run_summary(**{"run_id": RUN_ID, "layout": LAYOUT, **changes})


@dataclass
class FakeClock:
    """Time that moves only when the code under test sleeps: polling loops run instantly."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


GLUE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/spotify-dev-glue"


def create_glue_pipeline(glue: Any) -> None:
    """The Glue side of a deployed dev stack, on moto: the database, the job (one run at a
    time, as deployed), the crawler over the table folder, and the workflow."""
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_job(
        Name=JOB,
        Role=GLUE_ROLE,
        Command={"Name": "glueetl", "ScriptLocation": "s3://assets/glue-scripts/spotify_etl.py"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
        GlueVersion="5.0",
    )
    glue.create_crawler(
        Name=CRAWLER,
        Role=GLUE_ROLE,
        DatabaseName=DATABASE,
        Targets={"S3Targets": [{"Path": LAYOUT.table_root}]},
    )
    glue.create_workflow(Name=WORKFLOW)


def set_fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake keys and region, and no way to find real ones (files, profile, metadata)."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- Athena result shapes ----------------------------------------------------------------------


def column_info(columns: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
         "Type": athena_type, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
         "CaseSensitive": athena_type == "varchar"}
        for name, athena_type in columns
    ]  # fmt: skip


def result_rows(
    columns: list[tuple[str, str]], rows: list[list[str | None]], header: bool = True
) -> list[dict[str, Any]]:
    """Rows as Athena returns them: a header row first, NULL as a cell without VarCharValue."""
    out = [{"Data": [{"VarCharValue": name} for name, _ in columns]}] if header else []
    out += [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows]
    return out


def results_page(
    columns: list[tuple[str, str]],
    rows: list[list[str | None]],
    header: bool = True,
    next_token: str | None = None,
) -> dict[str, Any]:
    page: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": result_rows(columns, rows, header),
            "ResultSetMetadata": {"ColumnInfo": column_info(columns)},
        },
    }
    if next_token:
        page["NextToken"] = next_token
    return page


ROW_COUNT_COLUMNS = [("row_count", "bigint")]
KEYS_COLUMNS = [("null_keys", "bigint"), ("duplicate_keys", "bigint")]
INSIGHT_COLUMNS = [
    ("artist_id", "varchar"),
    ("artist_name", "varchar"),
    ("followers", "bigint"),
    ("artist_popularity", "integer"),
    ("tracks", "bigint"),
]
INSIGHT_ROWS: list[list[str | None]] = [
    ["a1", "Emerson, Lake & Palmer", "1200", "71", "2"],
    ["a2", "Sigur Rós", "800", "65", "1"],
]
DOMAIN_COLUMNS = [
    (c.name, "bigint") for c in WAREHOUSE_COLUMNS if c.domain_sql(f'"{c.name}"') is not None
]
DOMAIN_ROWS: list[list[str | None]] = [["0"] * len(DOMAIN_COLUMNS)]
"""The domain check's answer for a table with every value within its domain."""


def passing_results(rows: int = 3) -> list[tuple[list[tuple[str, str]], list[list[str | None]]]]:
    """Answers of the shared checks' queries, in the order run_checks runs them."""
    return [
        (ROW_COUNT_COLUMNS, [[str(rows)]]),
        (KEYS_COLUMNS, [["0", "0"]]),
        (INSIGHT_COLUMNS, INSIGHT_ROWS),
        (DOMAIN_COLUMNS, DOMAIN_ROWS),
    ]


def glue_table(
    columns: Sequence[tuple[str, str]] | None = None,
    location: str = LAYOUT.table_location(RUN_ID),
) -> dict[str, Any]:
    """GetTable's answer: the contract's columns, reading one run's folder."""
    cols = columns if columns is not None else [(c.name, c.type) for c in WAREHOUSE_COLUMNS]
    return {
        "Table": {
            "Name": TABLE_NAME,
            "DatabaseName": DATABASE,
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in cols],
                "Location": location,
            },
            "PartitionKeys": [],
        }
    }


# --- Stubber sequences -------------------------------------------------------------------------


def stub_query(
    stubber: Stubber,
    query_id: str,
    sql: str,
    columns: list[tuple[str, str]],
    rows: list[list[str | None]],
    states: tuple[str, ...] = ("RUNNING", "SUCCEEDED"),
) -> None:
    """One Athena query: start, one get_query_execution per state (THROTTLED: a
    ThrottlingException instead), then its results."""
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": query_id},
        {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": DATABASE},
            "WorkGroup": WORKGROUP,
            "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/results/"},
            "ClientRequestToken": ANY,
        },
    )
    for state in states:
        if state == "THROTTLED":
            stubber.add_client_error(
                "get_query_execution",
                "ThrottlingException",
                "Rate exceeded",
                expected_params={"QueryExecutionId": query_id},
            )
            continue
        stubber.add_response(
            "get_query_execution",
            {"QueryExecution": execution(query_id, state)},
            {"QueryExecutionId": query_id},
        )
    stubber.add_response(
        "get_query_results", results_page(columns, rows), {"QueryExecutionId": query_id}
    )


def stub_passing_queries(
    stubber: Stubber, first_states: tuple[str, ...] = ("RUNNING", "SUCCEEDED")
) -> None:
    """The shared checks' queries as q-1, q-2, ..., each passing (3 rows), in the order
    run_checks runs them; ``first_states`` are the first query's polls."""
    sqls = (ROW_COUNT_SQL, KEYS_SQL, INSIGHT_SQL, DOMAINS_SQL)
    for number, (sql, (columns, rows)) in enumerate(zip(sqls, passing_results(), strict=True), 1):
        states = first_states if number == 1 else ("RUNNING", "SUCCEEDED")
        stub_query(stubber, f"q-{number}", sql, columns, rows, states)


def execution(query_id: str, state: str, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
        status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False}
    out: dict[str, Any] = {"QueryExecutionId": query_id, "Status": status}
    if state == "SUCCEEDED":
        out["Statistics"] = {"DataScannedInBytes": 4096}
    return out


def summary_body(run_summary: RunSummary) -> dict[str, Any]:
    raw = run_summary.to_json().encode("utf-8")
    return {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentLength": len(raw)}


def stub_summaries(stubber: Stubber, last: RunSummary | None, published: RunSummary | None) -> None:
    """The two objects verify reads, in its order: the last-run summary, then the
    published-run pointer (None: no such key)."""
    for key, body in ((SUMMARY_KEY, last), (POINTER_KEY, published)):
        if body is None:
            stubber.add_client_error(
                "get_object",
                "NoSuchKey",
                "The specified key does not exist.",
                404,
                expected_params={"Bucket": WAREHOUSE, "Key": key},
            )
        else:
            stubber.add_response(
                "get_object", summary_body(body), {"Bucket": WAREHOUSE, "Key": key}
            )


def stub_summary(stubber: Stubber, run_summary: RunSummary) -> None:
    """A last run that, when published, is also the published run."""
    published = run_summary if run_summary.status == "published" else None
    stub_summaries(stubber, run_summary, published)


def write_outputs(path: Any, **overrides: Any) -> str:
    path.write_text(json.dumps(outputs_dict(**overrides), indent=2), encoding="utf-8")
    return str(path)


# --- `spotify-ops verify` on stubbed clients ----------------------------------------------------


@dataclass
class Stubs:
    """One Stubber per service; the command gets these clients through its Runtime."""

    athena: Stubber
    glue: Stubber
    s3: Stubber
    quicksight: Stubber
    clients: dict[str, Any]
    clock: FakeClock = field(default_factory=FakeClock)
    requested: list[tuple[str, str | None]] = field(default_factory=list)

    def runtime(self) -> Runtime:
        def build(region: str, profile: str | None) -> Any:
            self.requested.append((region, profile))
            return self.clients.__getitem__

        return Runtime(clients=build, clock=self.clock)

    def invoke(self, *args: str) -> Any:
        return CliRunner().invoke(app, ["verify", *args], obj=self.runtime())

    def table_ok(self) -> None:
        self.glue.add_response(
            "get_table", glue_table(), {"DatabaseName": DATABASE, "Name": TABLE_NAME}
        )

    def queries_ok(self, first_states: tuple[str, ...] = ("RUNNING", "SUCCEEDED")) -> None:
        stub_passing_queries(self.athena, first_states)
