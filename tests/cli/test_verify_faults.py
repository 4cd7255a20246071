"""`spotify-ops verify` under faults, through the CLI: each case checks the exit code and
the message. AWS answers come from botocore Stubber-wrapped clients given to the command."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from spotify_glue.contract import TABLE_NAME, WAREHOUSE_COLUMNS
from typer.testing import CliRunner

from infra.outputs import OutputKey
from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from spotify_ops.verify import Runtime
from tests.cli.verify_support import (
    CRAWLER,
    DATABASE,
    DOMAIN_COLUMNS,
    DOMAIN_ROWS,
    DOMAINS_SQL,
    INSIGHT_COLUMNS,
    INSIGHT_ROWS,
    INSIGHT_SQL,
    JOB,
    KEYS_COLUMNS,
    KEYS_SQL,
    REGION,
    ROW_COUNT_COLUMNS,
    ROW_COUNT_SQL,
    SUMMARY_KEY,
    WAREHOUSE,
    WORKFLOW,
    FakeClock,
    execution,
    glue_table,
    outputs_dict,
    set_fake_credentials,
    stub_query,
    stub_summary,
    summary,
    write_outputs,
)


@dataclass
class Stubs:
    """One Stubber per service; the command gets these clients through its Runtime."""

    athena: Stubber
    glue: Stubber
    s3: Stubber
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
        stub_query(self.athena, "q-1", ROW_COUNT_SQL, ROW_COUNT_COLUMNS, [["3"]], first_states)
        stub_query(self.athena, "q-2", KEYS_SQL, KEYS_COLUMNS, [["0", "0"]])
        stub_query(self.athena, "q-3", INSIGHT_SQL, INSIGHT_COLUMNS, INSIGHT_ROWS)
        stub_query(self.athena, "q-4", DOMAINS_SQL, DOMAIN_COLUMNS, DOMAIN_ROWS)


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    set_fake_credentials(monkeypatch)
    clients = {name: boto3.client(name, region_name=REGION) for name in ("athena", "glue", "s3")}
    with (
        Stubber(clients["athena"]) as athena,
        Stubber(clients["glue"]) as glue,
        Stubber(clients["s3"]) as s3,
    ):
        yield Stubs(athena, glue, s3, clients)
        for stubber in (athena, glue, s3):
            stubber.assert_no_pending_responses()


@pytest.fixture
def outputs(tmp_path: Path) -> str:
    return write_outputs(tmp_path / "outputs.json")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the eight required fault cases ------------------------------------------------------------


def test_throttling_then_success_passes(stubs: Stubs, outputs: str) -> None:
    """Athena throttles the first start and a poll; verify waits it out and passes, exit 0."""
    stub_summary(stubs.s3, summary(rows_written=3))
    stubs.table_ok()
    stubs.athena.add_client_error(
        "start_query_execution", "TooManyRequestsException", "Rate exceeded", 400
    )
    stubs.queries_ok(first_states=("THROTTLED", "THROTTLED", "RUNNING", "SUCCEEDED"))
    result = stubs.invoke("--outputs", outputs, "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passed"] is True
    assert verdict["queries"][0]["polls"] == 4
    assert stubs.requested == [(REGION, None)]


def test_failed_query_exits_one_with_athenas_reason(stubs: Stubs, outputs: str) -> None:
    """A FAILED Athena query stops verification with its reason, exit 1."""
    reason = "HIVE_CURSOR_ERROR: Failed to read Parquet file: s3://warehouse/part-0.parquet"
    stub_summary(stubs.s3, summary())
    stubs.table_ok()
    stubs.athena.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubs.athena.add_response(
        "get_query_execution", {"QueryExecution": execution("q-1", "FAILED", reason)}
    )
    result = stubs.invoke("--outputs", outputs)
    assert result.exit_code == ExitCode.FAILED
    assert f"Athena query checks/row_count (q-1) FAILED: {reason}" in _one_line(result.stderr)


def test_query_timeout_exits_three(stubs: Stubs, outputs: str) -> None:
    """A query still RUNNING at --query-timeout is stopped, and verify exits 3."""
    stub_summary(stubs.s3, summary())
    stubs.table_ok()
    stubs.athena.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    for _ in range(5):  # polls at 0, 0.25, 0.75, 1.75 and 3 s
        stubs.athena.add_response(
            "get_query_execution", {"QueryExecution": execution("q-1", "QUEUED")}
        )
    stubs.athena.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
    result = stubs.invoke("--outputs", outputs, "--query-timeout", "3")
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = _one_line(result.stderr)
    assert "Athena query checks/row_count (q-1) still QUEUED after 3 s" in message
    assert "Raise --query-timeout" in message


def test_failed_job_run_exits_one_with_glues_error(stubs: Stubs, outputs: str) -> None:
    """--run: a FAILED job run prints Glue's ErrorMessage and exits 1 before any check."""
    error = "QualityGateError: gate rejected the run: 12 rows < min_rows 100"
    stubs.glue.add_response("start_job_run", {"JobRunId": "jr_1"}, {"JobName": JOB})
    for state in ("STARTING", "RUNNING"):
        stubs.glue.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": state}})
    stubs.glue.add_response(
        "get_job_run",
        {"JobRun": {"Id": "jr_1", "JobRunState": "FAILED", "ErrorMessage": error}},
        {"JobName": JOB, "RunId": "jr_1"},
    )
    result = stubs.invoke("--outputs", outputs, "--run", "--no-workflow", "--json")
    assert result.exit_code == ExitCode.FAILED
    assert f"job {JOB} run jr_1 ended FAILED: {error}" in _one_line(result.stderr)
    assert json.loads(result.stdout) == {
        "passed": False,
        "exit_code": 1,
        "error": f"job {JOB} run jr_1 ended FAILED: {error}",
    }
    assert stubs.clock.sleeps == [15.0, 15.0]


def test_crawler_still_running_exits_three(stubs: Stubs, outputs: str) -> None:
    """--run: the job succeeds but a crawl started elsewhere outlasts --timeout, exit 3."""
    stubs.glue.add_response("start_job_run", {"JobRunId": "jr_1"})
    stubs.glue.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": "SUCCEEDED"}})
    stubs.glue.add_response("get_crawler", {"Crawler": {"Name": CRAWLER, "State": "RUNNING"}})
    stubs.glue.add_client_error(
        "start_crawler",
        "CrawlerRunningException",
        f"Crawler with name {CRAWLER} has already started",
        expected_params={"Name": CRAWLER},
    )
    for _ in range(4):  # at 0, 10, 20 and 30 s; the 30 s deadline includes the job's poll
        stubs.glue.add_response("get_crawler", {"Crawler": {"Name": CRAWLER, "State": "RUNNING"}})
    args = ("--outputs", outputs, "--run", "--no-workflow", "--timeout", "30")
    result = stubs.invoke(*args, "--poll-interval", "10")
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = _one_line(result.stderr)
    assert f"crawler {CRAWLER} still RUNNING (started elsewhere) after 30 s" in message
    assert "it was already running when verify tried to start it" in message


def test_missing_output_key_exits_two_before_any_aws_call(stubs: Stubs, tmp_path: Path) -> None:
    """An outputs file without athena_workgroup exits 2 naming the key; AWS is never called."""
    data = outputs_dict()
    del data[OutputKey.WORKGROUP_NAME.value]
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = stubs.invoke("--outputs", str(path))
    assert result.exit_code == ExitCode.USAGE
    assert "athena_workgroup: missing" in result.stderr
    assert "run `pulumi up` on this stack" in _one_line(result.stderr)
    assert stubs.requested == []


def test_no_credentials_exits_three_with_how_to_fix(
    outputs: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Real boto3 clients with no credentials anywhere: exit 3 and how to provide them.

    (Stubber answers before signing, so this case needs the real credential chain.)"""
    set_fake_credentials(monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    result = CliRunner().invoke(
        app, ["verify", "--outputs", outputs], obj=Runtime(clock=FakeClock())
    )
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = _one_line(result.stderr)
    assert "no usable AWS credentials were found" in message
    assert "AWS_PROFILE" in message
    assert "Traceback" not in result.output


def test_missing_table_is_a_failed_schema_check(stubs: Stubs, outputs: str) -> None:
    """No table in the catalog: the schema check fails saying so, exit 1, no query runs."""
    stub_summary(stubs.s3, summary())
    stubs.glue.add_client_error(
        "get_table",
        "EntityNotFoundException",
        f"Table {TABLE_NAME} not found.",
        expected_params={"DatabaseName": DATABASE, "Name": TABLE_NAME},
    )
    result = stubs.invoke("--outputs", outputs, "--json")
    assert result.exit_code == ExitCode.FAILED
    checks = json.loads(result.stdout)["checks"]
    assert [(c["name"], c["passed"]) for c in checks] == [("run_summary", True), ("schema", False)]
    assert checks[1]["detail"].startswith(
        f"table {DATABASE}.{TABLE_NAME} is not in the Glue catalog "
        f"(Table {TABLE_NAME} not found.); run the job and crawler (verify --run)"
    )


def test_schema_drift_fails_the_schema_check(stubs: Stubs, outputs: str) -> None:
    """A crawler that typed a column differently (all strings, like the seed job) is drift."""
    stub_summary(stubs.s3, summary())
    drifted = [
        (c.name, "string" if c.name == "track_popularity" else c.type) for c in WAREHOUSE_COLUMNS
    ]
    drifted = [c for c in drifted if c[0] != "genres"] + [("partition_0", "string")]
    stubs.glue.add_response("get_table", glue_table(drifted))
    result = stubs.invoke("--outputs", outputs, "--json")
    assert result.exit_code == ExitCode.FAILED
    checks = json.loads(result.stdout)["checks"]
    assert [(c["name"], c["passed"]) for c in checks] == [("run_summary", True), ("schema", False)]
    assert checks[1]["detail"] == (
        "missing ['genres']; unexpected ['partition_0']; "
        "wrong types ['track_popularity: string != int']"
    )


# --- more faults -------------------------------------------------------------------------------


def test_workflow_run_with_a_failed_job_exits_one(stubs: Stubs, outputs: str) -> None:
    """--run with the workflow: a COMPLETED run whose job failed exits 1 with the job error."""
    stubs.glue.add_response("start_workflow_run", {"RunId": "wr_1"}, {"Name": WORKFLOW})
    run = {"Name": WORKFLOW, "WorkflowRunId": "wr_1", "Status": "COMPLETED",
           "Statistics": {"TotalActions": 1, "FailedActions": 1}}  # fmt: skip
    stubs.glue.add_response("get_workflow_run", {"Run": run})
    job_node = {
        "Type": "JOB",
        "Name": JOB,
        "JobDetails": {
            "JobRuns": [{"Id": "jr_2", "JobRunState": "TIMEOUT", "ErrorMessage": "Job timed out"}]
        },
    }
    stubs.glue.add_response("get_workflow_run", {"Run": {**run, "Graph": {"Nodes": [job_node]}}})
    result = stubs.invoke("--outputs", outputs, "--run")
    assert result.exit_code == ExitCode.FAILED
    assert f"job {JOB} run jr_2 ended TIMEOUT: Job timed out" in _one_line(result.stderr)


def test_access_denied_exits_three_pointing_at_the_permissions(stubs: Stubs, outputs: str) -> None:
    """A missing IAM permission exits 3, names the call and points at the permission list."""
    stubs.s3.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
    result = stubs.invoke("--outputs", outputs)
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = _one_line(result.stderr)
    assert "access denied (GetObject returned AccessDenied: Access Denied)" in message
    assert "docs/verify.md" in message


def test_athena_system_error_exits_three(stubs: Stubs, outputs: str) -> None:
    """An Athena-side failure (ErrorCategory 1) is an AWS error, exit 3, worth a retry."""
    stub_summary(stubs.s3, summary())
    stubs.table_ok()
    failed = execution("q-1", "FAILED")
    failed["Status"]["AthenaError"] = {"ErrorCategory": 1, "ErrorMessage": "Internal error"}
    stubs.athena.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubs.athena.add_response("get_query_execution", {"QueryExecution": failed})
    result = stubs.invoke("--outputs", outputs)
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert "FAILED: Internal error (an Athena-side error; retry later)" in result.stderr


def test_malformed_summary_is_a_failed_check(stubs: Stubs, outputs: str) -> None:
    """A summary that is not the contract's shape fails run_summary, naming the fields."""
    stubs.s3.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(b'{"run_id": "r1"}'), 16)},
        {"Bucket": WAREHOUSE, "Key": SUMMARY_KEY},
    )
    stubs.table_ok()
    stubs.queries_ok()
    result = stubs.invoke("--outputs", outputs, "--json")
    assert result.exit_code == ExitCode.FAILED
    first = json.loads(result.stdout)["checks"][0]
    assert first["name"] == "run_summary"
    assert "malformed summary at s3://" in first["detail"]
    assert "missing ['dropped_no_artist'" in first["detail"]


def test_bad_json_outputs_file_exits_two(stubs: Stubs, tmp_path: Path) -> None:
    """A truncated outputs file exits 2 with where the JSON breaks."""
    path = tmp_path / "outputs.json"
    path.write_text('{"region": "eu-west-1", ', encoding="utf-8")
    result = stubs.invoke("--outputs", str(path), "--json")
    assert result.exit_code == ExitCode.USAGE
    assert "is not valid JSON" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2


def test_stack_without_pulumi_cli_exits_two(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--stack with no pulumi on PATH exits 2 and suggests --outputs."""
    monkeypatch.setenv("PATH", str(tmp_path))
    result = stubs.invoke("--stack", "dev")
    assert result.exit_code == ExitCode.USAGE
    message = _one_line(result.stderr)
    assert "the pulumi CLI is not on PATH" in message
    assert "pass --outputs FILE" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "no stack outputs: pass --stack NAME"),
        (["--stack", "dev", "--outputs", "o.json"], "pass either --stack or --outputs, not both"),
    ],
)
def test_outputs_source_must_be_exactly_one(stubs: Stubs, args: list[str], expected: str) -> None:
    """Neither or both of --stack and --outputs is a usage error, exit 2."""
    result = stubs.invoke(*args)
    assert result.exit_code == ExitCode.USAGE
    assert expected in _one_line(result.stderr)


def test_out_of_range_gate_option_is_a_usage_error(stubs: Stubs, outputs: str) -> None:
    """A rate above 1 is rejected by the option parser with exit 2."""
    result = stubs.invoke("--outputs", outputs, "--max-quarantine-rate", "5")
    assert result.exit_code == ExitCode.USAGE
    assert "--max-quarantine-rate" in result.stderr


def test_unknown_profile_exits_two(outputs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """--profile naming no configured profile is a config error, exit 2."""
    set_fake_credentials(monkeypatch)
    result = CliRunner().invoke(
        app, ["verify", "--outputs", outputs, "--profile", "nope"], obj=Runtime(clock=FakeClock())
    )
    assert result.exit_code == ExitCode.USAGE
    assert "AWS profile 'nope' is not configured" in result.stderr
