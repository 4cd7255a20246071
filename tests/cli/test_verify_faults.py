"""`spotify-ops verify` under faults, through the CLI: each case checks the exit code and
the message. AWS answers come from botocore Stubber-wrapped clients given to the command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from spotify_glue.contract import WAREHOUSE_COLUMNS
from spotify_glue.gate import GATE_RULES, GateError, GateThresholds
from spotify_glue.layout import TABLE_NAME
from typer.testing import CliRunner

from infra.outputs import OutputKey
from spotify_ops.aws_runtime import Runtime
from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from spotify_ops.verdict import option_name
from tests.cli.verify_support import (
    CRAWLER,
    DATABASE,
    JOB,
    POINTER_KEY,
    REGION,
    SUMMARY_KEY,
    WAREHOUSE,
    WORKFLOW,
    FakeClock,
    Stubs,
    execution,
    glue_table,
    outputs_dict,
    set_fake_credentials,
    stub_summary,
    summary,
    summary_body,
    write_outputs,
)


@pytest.fixture
def outputs(tmp_path: Path) -> str:
    return write_outputs(tmp_path / "outputs.json")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _failed_checks(stubs: Stubs, outputs: str) -> list[dict[str, Any]]:
    """The checks of `verify --json`, which must exit 1."""
    result = stubs.invoke("--outputs", outputs, "--json")
    assert result.exit_code == ExitCode.FAILED
    return list(json.loads(result.stdout)["checks"])


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
    checks = _failed_checks(stubs, outputs)
    assert [(c["name"], c["passed"]) for c in checks] == [
        ("run_summary", True),
        ("published_run", True),
        ("table_location", False),
        ("schema", False),
    ]
    assert checks[2]["detail"] == f"no catalog table {DATABASE}.{TABLE_NAME} (see schema)"
    assert checks[3]["detail"].startswith(
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
    checks = _failed_checks(stubs, outputs)
    assert [(c["name"], c["passed"]) for c in checks] == [
        ("run_summary", True),
        ("published_run", True),
        ("table_location", True),
        ("schema", False),
    ]
    assert checks[3]["detail"] == (
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
    stubs.s3.add_response(
        "get_object", summary_body(summary()), {"Bucket": WAREHOUSE, "Key": POINTER_KEY}
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
    """A rate above 1 is a usage error, exit 2, in one line naming the option and the range."""
    result = stubs.invoke("--outputs", outputs, "--max-quarantine-rate", "5")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip() == (
        "verify: --max-quarantine-rate = 5.0 is not allowed; use a rate from 0 to 1, e.g. 0.05"
    )


GATE_VALUES = {
    "min_rows": ["-1", "0", "1", "2"],
    "max_quarantine_rate": ["-0.01", "0", "0.05", "1", "1.01", "nan", "inf"],
    "max_join_loss_rate": ["-0.01", "0", "1", "1.01", "nan"],
}


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in GATE_VALUES.items() for value in values]
)
def test_gate_options_accept_exactly_what_the_contract_accepts(
    stubs: Stubs, name: str, value: str
) -> None:
    """Each gate option takes a value if and only if GateThresholds.parse does: a value the
    contract rejects is a usage error naming the option and the contract's range before
    anything else is read (for nan too, which is neither above nor below a bound)."""
    try:
        GateThresholds.parse({name: value})
        accepted = True
    except GateError:
        accepted = False
    option = option_name(name)
    result = stubs.invoke(f"{option}={value}")
    assert result.exit_code == ExitCode.USAGE
    message = _one_line(result.stderr)
    if accepted:
        assert "no stack outputs" in message
    else:
        assert "no stack outputs" not in message
        assert f"{option} = " in message
        assert GATE_RULES[name] in message


def test_unknown_profile_exits_two(outputs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """--profile naming no configured profile is a config error, exit 2."""
    set_fake_credentials(monkeypatch)
    result = CliRunner().invoke(
        app, ["verify", "--outputs", outputs, "--profile", "nope"], obj=Runtime(clock=FakeClock())
    )
    assert result.exit_code == ExitCode.USAGE
    assert "AWS profile 'nope' is not configured" in result.stderr
