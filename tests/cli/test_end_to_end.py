"""End to end: the Pulumi program's exports under mocks -> the verifier's output loader ->
a deployed stack on moto, published the way the job publishes -> a healthy verdict.

Every value crosses a real boundary rather than being restated here: the stack's outputs,
catalog table, workgroup and job arguments come from the program run under mocks; the job's
own argument parser (``JobArgs.from_options``) and catalog switch (``glue_catalog_switch``)
publish the run; the Athena answers are what the repo's check SQL returns on the run's
Parquet file (DuckDB), seeded into moto as Athena would return them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.moto_api import state_manager
from spotify_glue import etl
from spotify_glue.contract import DUCKDB_TYPES, WAREHOUSE_COLUMNS
from spotify_glue.layout import new_run_id
from spotify_glue.publish import glue_catalog_switch
from spotify_glue.run_summary import RunSummary
from typer.testing import CliRunner

from spotify_ops.aws_runtime import Runtime, split_s3_uri
from spotify_ops.checks import (
    CHECKS_DIR,
    INSIGHT_PROBE,
    INSIGHTS_DIR,
    domain_violations_sql,
    load_sql,
)
from spotify_ops.cli import app
from spotify_ops.duckdb_engine import DuckDBEngine
from spotify_ops.exit_codes import ExitCode
from spotify_ops.stack_outputs import StackOutputs, parse_outputs
from tests.builders import run_summary
from tests.cli.verify_support import (
    ACCOUNT,
    FakeClock,
    column_info,
    result_rows,
    set_fake_credentials,
)
from tests.infra.harness import ProgramRun, RecordedResource, run_stack

ROWS: dict[str, list[Any]] = {
    "track_id": ["t1", "t2", "t3"],
    "track_name": ["Tarkus", "Hoppípolla", "Trilogy"],
    "artist_id": ["a1", "a2", "a1"],
    "artist_name": ["Emerson, Lake & Palmer", "Sigur Rós", "Emerson, Lake & Palmer"],
    "artist_popularity": [71, 65, 71],
    "followers": [1200, 800, 1200],
}
"""The published run's rows; other columns are NULL (allowed: the checks do not read them)."""

QUERIES = [
    load_sql(CHECKS_DIR / "row_count.sql"),
    load_sql(CHECKS_DIR / "key_integrity.sql"),
    load_sql(INSIGHTS_DIR / f"{INSIGHT_PROBE}.sql"),
    domain_violations_sql(),
]
"""The queries verify runs on Athena, in its order."""

ATHENA_TYPES = {int: "bigint", str: "varchar", float: "double"}


def _one(program: ProgramRun, type_token: str) -> RecordedResource:
    [resource] = program.of_type(type_token)
    return resource


def write_run_parquet(folder: Path) -> Path:
    """One Parquet file typed as the contract declares, holding ``ROWS``."""
    folder.mkdir(parents=True)
    count = len(ROWS["track_id"])
    selects = []
    for i in range(count):
        values = []
        for column in WAREHOUSE_COLUMNS:
            value = ROWS[column.name][i] if column.name in ROWS else None
            literal = "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"
            values.append(f'CAST({literal} AS {DUCKDB_TYPES[column.type]}) AS "{column.name}"')
        selects.append("SELECT " + ", ".join(values))
    target = folder / "part-00000.snappy.parquet"
    duckdb.connect().execute(
        f"COPY ({' UNION ALL '.join(selects)}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)"
    )
    return target


def athena_answers(folder: Path) -> list[QueryResults]:
    """What Athena would return for each query: the check SQL's rows on the run's Parquet,
    as Athena's header row and VarCharValue strings."""
    answers = []
    with DuckDBEngine(folder) as engine:
        for sql in QUERIES:
            rows = engine.query(sql)
            # A count over no matching value is NULL here; its Athena type is still bigint.
            columns = [
                (name, ATHENA_TYPES.get(type(value), "bigint")) for name, value in rows[0].items()
            ]
            cells = [[None if v is None else str(v) for v in row.values()] for row in rows]
            answers.append(
                QueryResults(rows=result_rows(columns, cells), column_info=column_info(columns))
            )
    return answers


def table_input(table: RecordedResource) -> dict[str, Any]:
    """The program's catalog table (wire format) as Glue's CreateTable TableInput."""
    sd = table.inputs["storageDescriptor"]
    serde = sd["serDeInfo"]
    columns = [
        {"Name": c["name"], "Type": c["type"], "Comment": c.get("comment", "")}
        for c in sd["columns"]
    ]
    return {
        "Name": table.inputs["name"],
        "TableType": table.inputs["tableType"],
        "Parameters": table.inputs["parameters"],
        "StorageDescriptor": {
            "Location": sd["location"],
            "InputFormat": sd["inputFormat"],
            "OutputFormat": sd["outputFormat"],
            "Compressed": sd["compressed"],
            "SerdeInfo": {
                "SerializationLibrary": serde["serializationLibrary"],
                "Parameters": serde["parameters"],
            },
            "Columns": columns,
        },
    }


@pytest.fixture(scope="module")
def program() -> ProgramRun:
    return run_stack("dev")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    set_fake_credentials(monkeypatch)
    with mock_aws():
        state_manager.set_transition("athena::execution", {"progression": "manual", "times": 1})
        yield
    state_manager.unset_transition("athena::execution")


def deploy(program: ProgramRun, outputs: StackOutputs) -> None:
    """What `pulumi up` creates that verify reads: the buckets, the catalog database and
    table (at its placeholder location), and the workgroup."""
    s3 = boto3.client("s3", region_name=outputs.region)
    results_bucket, _ = split_s3_uri(outputs.results_location)
    for bucket in (outputs.warehouse_bucket, results_bucket):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": outputs.region}
        )
    glue = boto3.client("glue", region_name=outputs.region)
    glue.create_database(DatabaseInput={"Name": outputs.database_name})
    table = _one(program, "aws:glue/catalogTable:CatalogTable")
    glue.create_table(DatabaseName=outputs.database_name, TableInput=table_input(table))
    workgroup = _one(program, "aws:athena/workgroup:Workgroup").inputs["configuration"]
    boto3.client("athena", region_name=outputs.region).create_work_group(
        Name=outputs.workgroup_name,
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": workgroup["resultConfiguration"]["outputLocation"]
            },
            "EnforceWorkGroupConfiguration": workgroup["enforceWorkgroupConfiguration"],
        },
    )


def publish(program: ProgramRun, region: str, parquet: Path) -> RunSummary:
    """One run published as the job does it, with the job's arguments as the program sets
    them: files in the run's folder, the catalog switched, then the pointer and summary."""
    arguments = _one(program, "aws:glue/job:Job").inputs["defaultArguments"]
    args = etl.JobArgs.from_options({k.removeprefix("--"): v for k, v in arguments.items()})
    layout = args.layout
    rows = len(ROWS["track_id"])
    # The run's rows carry no audio features (those columns are NULL).
    summary = run_summary(
        rows_written=rows,
        rows_without_features=rows,
        run_id=new_run_id(),
        layout=layout,
        gate=args.gate,
    )
    s3 = boto3.client("s3", region_name=region)
    bucket, folder = split_s3_uri(summary.table_location)
    s3.put_object(Bucket=bucket, Key=folder + parquet.name, Body=parquet.read_bytes())
    glue_catalog_switch(boto3.client("glue", region_name=region), args.catalog_database)(
        summary.table_location
    )
    for location in (layout.published_location, layout.summary_location):
        bucket, key = split_s3_uri(location)
        s3.put_object(Bucket=bucket, Key=key, Body=summary.to_json().encode("utf-8"))
    return summary


def verify(outputs_file: Path, answers: list[QueryResults]) -> tuple[int, dict[str, Any]]:
    """`spotify-ops verify --outputs FILE --json`, with Athena's answers queued first."""
    region = json.loads(outputs_file.read_text())["region"]
    athena_backends[ACCOUNT][region].query_results_queue.extend(answers)
    result = CliRunner().invoke(
        app,
        ["verify", "--outputs", str(outputs_file), "--json"],
        obj=Runtime(clock=FakeClock()),
    )
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.usefixtures("aws")
def test_the_programs_exports_lead_to_a_healthy_verdict(
    program: ProgramRun, tmp_path: Path
) -> None:
    """The dev stack's exports, a deployed stack built from the program's own resources and
    one run published the job's way give a passing verdict, exit 0; pointing the catalog
    anywhere else (here: back at its placeholder) fails it."""
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(program.outputs), encoding="utf-8")
    outputs = parse_outputs(outputs_file.read_text(), "the program's exports")
    deploy(program, outputs)
    parquet = write_run_parquet(tmp_path / "run")
    published = publish(program, outputs.region, parquet)
    answers = athena_answers(parquet.parent)

    code, verdict = verify(outputs_file, answers)

    assert code == ExitCode.OK, verdict
    assert verdict["passed"] is True
    assert [c["name"] for c in verdict["checks"]][:4] == [
        "run_summary",
        "published_run",
        "table_location",
        "schema",
    ]
    assert verdict["notes"] == []
    assert verdict["gate_source"] == f"recorded by run {published.run_id}"
    assert [q["state"] for q in verdict["queries"]] == ["SUCCEEDED"] * len(QUERIES)

    # The negative control: the same stack with the catalog not switched to the run.
    glue_catalog_switch(boto3.client("glue", region_name=outputs.region), outputs.database_name)(
        outputs.layout.unpublished_location
    )
    code, verdict = verify(outputs_file, athena_answers(parquet.parent))
    assert code == ExitCode.FAILED
    failed = [c["name"] for c in verdict["checks"] if not c["passed"]]
    assert failed == ["table_location"]
