"""`spotify-ops verify` end to end on moto: outputs file -> --run -> Athena checks -> verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.moto_api import state_manager
from parliament import analyze_policy_string
from spotify_glue.contract import DEFAULT_GATE, TABLE_NAME, GateThresholds, RunSummary
from typer.testing import CliRunner

from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from spotify_ops.verify import GateOverrides, Runtime, boto3_clients, gate_of_run
from tests.cli.verify_support import (
    ACCOUNT,
    CRAWLER,
    DATABASE,
    JOB,
    REGION,
    RESULTS,
    SUMMARY_KEY,
    WAREHOUSE,
    WORKFLOW,
    WORKGROUP,
    FakeClock,
    column_info,
    glue_table,
    outputs_dict,
    passing_results,
    result_rows,
    set_fake_credentials,
    summary,
    write_outputs,
)

CHECK_NAMES = [
    "run_summary",
    "schema",
    "row_count",
    "track_id_unique",
    "quarantine_rate",
    "join_loss_rate",
    "insight:top_artists_by_followers",
    "domains",
]
TRANSITIONS = ("athena::execution", "glue::job_run", "glue::crawl")


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployed dev stack on moto: buckets, catalog table, job, crawler, workflow and
    workgroup, with the last run's summary in place and polling that really polls."""
    set_fake_credentials(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (WAREHOUSE, RESULTS):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        glue = boto3.client("glue", region_name=REGION)
        glue.create_database(DatabaseInput={"Name": DATABASE})
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={"Name": TABLE_NAME, **{k: v for k, v in glue_table()["Table"].items()
                                                if k == "StorageDescriptor"}},
        )  # fmt: skip
        role = "arn:aws:iam::123456789012:role/spotify-dev-glue"
        glue.create_job(
            Name=JOB,
            Role=role,
            Command={"Name": "glueetl", "ScriptLocation": "s3://a/glue-scripts/spotify_etl.py"},
        )
        glue.create_crawler(
            Name=CRAWLER,
            Role=role,
            DatabaseName=DATABASE,
            Targets={"S3Targets": [{"Path": f"s3://{WAREHOUSE}/{TABLE_NAME}/"}]},
        )
        glue.create_workflow(Name=WORKFLOW)
        boto3.client("athena", region_name=REGION).create_work_group(
            Name=WORKGROUP,
            Configuration={
                "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/results/"},
                "EnforceWorkGroupConfiguration": True,
            },
        )
        state_manager.set_transition("athena::execution", {"progression": "manual", "times": 2})
        state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 2})
        # moto advances crawls only on ListCrawls; GetCrawler polling is covered by Stubber.
        state_manager.set_transition("glue::crawl", {"progression": "immediate"})
        yield
    for model in TRANSITIONS:
        state_manager.unset_transition(model)


def _put_summary(run_summary: RunSummary) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=WAREHOUSE, Key=SUMMARY_KEY, Body=run_summary.to_json().encode("utf-8")
    )


def _seed(results: list[tuple[list[tuple[str, str]], list[list[str | None]]]]) -> None:
    queue = athena_backends[ACCOUNT][REGION].query_results_queue
    for columns, rows in results:
        queue.append(
            QueryResults(rows=result_rows(columns, rows), column_info=column_info(columns))
        )


def _invoke(args: list[str], stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["verify", *args], obj=Runtime(clock=FakeClock()), input=stdin)


@pytest.mark.usefixtures("deployed")
def test_run_then_checks_pass_and_exit_zero(tmp_path: Path) -> None:
    """Outputs file -> job and crawler run -> every check passes on Athena -> exit 0."""
    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    outputs = write_outputs(tmp_path / "outputs.json")

    result = _invoke(["--outputs", outputs, "--run", "--no-workflow", "--json"])

    assert result.exit_code == ExitCode.OK, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passed"] is True
    assert [c["name"] for c in verdict["checks"]] == CHECK_NAMES
    assert all(c["passed"] for c in verdict["checks"])
    assert [(r["kind"], r["state"]) for r in verdict["runs"]] == [
        ("job", "SUCCEEDED"),
        ("crawler", "COMPLETED"),
    ]
    assert [q["name"] for q in verdict["queries"]] == [
        "checks/row_count",
        "checks/key_integrity",
        "insights/top_artists_by_followers",
        "checks/domains",
    ]
    assert all(q["polls"] == 4 and q["state"] == "SUCCEEDED" for q in verdict["queries"])
    assert verdict["outputs"] == outputs_dict()
    assert f"job {JOB}: RUNNING" in result.stderr


@pytest.mark.usefixtures("deployed")
def test_human_output_is_a_table_and_a_verdict_line(tmp_path: Path) -> None:
    """Without --json the checks print as a table followed by the verdict."""
    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    result = _invoke(["--outputs", write_outputs(tmp_path / "o.json")])
    assert result.exit_code == ExitCode.OK, result.stderr
    for name in CHECK_NAMES:
        assert name in result.stdout
    assert result.stdout.count("PASS ") >= len(CHECK_NAMES)
    assert f"PASSED: all {len(CHECK_NAMES)} checks passed" in result.stdout


@pytest.mark.usefixtures("deployed")
def test_row_count_mismatch_fails_with_exit_one(tmp_path: Path) -> None:
    """A table holding other than the summary's rows_written fails row_count, exit 1."""
    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=5))
    result = _invoke(["--outputs", write_outputs(tmp_path / "o.json"), "--json"])
    assert result.exit_code == ExitCode.FAILED
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["row_count"] == {
        "name": "row_count",
        "passed": False,
        "detail": "5 rows, but the last run summary says 3 were written",
    }
    assert [n for n, c in checks.items() if not c["passed"]] == ["row_count"]


@pytest.mark.usefixtures("deployed")
def test_gate_options_override_the_contract(tmp_path: Path) -> None:
    """--min-rows above the table's count fails row_count with that threshold."""
    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    args = ["--outputs", write_outputs(tmp_path / "o.json"), "--min-rows", "10", "--json"]
    result = _invoke(args)
    assert result.exit_code == ExitCode.FAILED
    verdict = json.loads(result.stdout)
    assert verdict["gate"]["min_rows"] == 10
    row_count = next(c for c in verdict["checks"] if c["name"] == "row_count")
    assert row_count["detail"] == "3 rows, fewer than 10"


@pytest.mark.usefixtures("deployed")
def test_the_gate_the_last_run_was_judged_by_applies_without_options(tmp_path: Path) -> None:
    """A stack with gateMinRows = 5 records it in the run summary; verify judges by it."""
    recorded = summary(rows_written=3)
    recorded.gate = {"min_rows": 5, "max_quarantine_rate": 0.2, "max_join_loss_rate": 0.3}
    _put_summary(recorded)
    _seed(passing_results(rows=3))
    result = _invoke(["--outputs", write_outputs(tmp_path / "o.json"), "--json"])
    assert result.exit_code == ExitCode.FAILED
    verdict = json.loads(result.stdout)
    assert verdict["gate"] == {"min_rows": 5, "max_quarantine_rate": 0.2, "max_join_loss_rate": 0.3}
    row_count = next(c for c in verdict["checks"] if c["name"] == "row_count")
    assert row_count["detail"] == "3 rows, fewer than 5"


def test_command_line_thresholds_override_only_what_they_name() -> None:
    """An option replaces its own threshold; the others stay as the run recorded them."""
    base = GateThresholds(min_rows=5, max_quarantine_rate=0.2, max_join_loss_rate=0.3)
    merged = GateOverrides(max_join_loss_rate=0.01).over(base)
    assert merged == GateThresholds(min_rows=5, max_quarantine_rate=0.2, max_join_loss_rate=0.01)


def test_a_summary_without_a_recorded_gate_falls_back_to_the_contract() -> None:
    """Summaries that predate the gate record (or have none) are judged by DEFAULT_GATE."""
    bare = summary()
    bare.gate = {}
    assert gate_of_run(bare) == DEFAULT_GATE
    assert gate_of_run(None) == DEFAULT_GATE


@pytest.mark.usefixtures("deployed")
def test_missing_run_summary_fails_the_checks_that_need_it(tmp_path: Path) -> None:
    """No summary yet: run_summary and the rate checks fail with why; exit 1."""
    _seed(passing_results(rows=3))
    result = _invoke(["--outputs", write_outputs(tmp_path / "o.json"), "--json"])
    assert result.exit_code == ExitCode.FAILED
    failed = {
        c["name"]: c["detail"] for c in json.loads(result.stdout)["checks"] if not c["passed"]
    }
    assert set(failed) == {"run_summary", "quarantine_rate", "join_loss_rate"}
    assert failed["run_summary"].startswith(f"no run summary at s3://{WAREHOUSE}/{SUMMARY_KEY}")


@pytest.mark.usefixtures("deployed")
def test_rejected_last_run_is_reported_with_the_gate_failures(tmp_path: Path) -> None:
    """A summary with status rejected fails run_summary and quotes the gate's reasons."""
    _put_summary(summary(rows_written=0, status="rejected", gate_failures=["rows 0 < 1"]))
    _seed(passing_results(rows=3))
    result = _invoke(["--outputs", write_outputs(tmp_path / "o.json"), "--json"])
    assert result.exit_code == ExitCode.FAILED
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["run_summary"]["detail"] == (
        "last run run-20240101T060000Z was rejected by the quality gate: rows 0 < 1"
    )


@pytest.mark.usefixtures("deployed")
def test_outputs_can_come_from_standard_input() -> None:
    """`--outputs -` reads the JSON piped from `pulumi stack output --json`."""
    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    result = _invoke(["--outputs", "-", "--json"], stdin=json.dumps(outputs_dict()))
    assert result.exit_code == ExitCode.OK, result.stderr


@pytest.mark.usefixtures("deployed")
def test_workflow_that_never_completes_times_out_with_exit_three(tmp_path: Path) -> None:
    """moto never finishes a workflow run: --timeout ends the wait with exit 3."""
    args = ["--outputs", write_outputs(tmp_path / "o.json"), "--run", "--timeout", "120"]
    result = _invoke(args)
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert f"workflow {WORKFLOW} run wr_" in result.stderr
    assert "still RUNNING after 120 s" in result.stderr


@pytest.mark.usefixtures("deployed")
def test_aws_errors_exit_three_without_secrets_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An AWS error (the summary's bucket is gone) exits 3 naming the call, and no
    credential appears on stdout or stderr."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN")
    location = "s3://spotify-dev-deleted-bucket/_run_summary/spotify_tracks.json"
    outputs = write_outputs(tmp_path / "o.json", run_summary_location=location)
    result = _invoke(["--outputs", outputs, "--json"])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert "AWS error: GetObject returned NoSuchBucket" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 3
    everything = result.stdout + result.stderr
    for leaked in (secret, "EXAMPLESESSIONTOKEN", "testing"):
        assert leaked not in everything


def _documented_policy() -> dict[str, Any]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "verify.md").read_text("utf-8")
    block = text.split("## IAM permissions", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    policy: dict[str, Any] = json.loads(block)
    return policy


def test_documented_policy_is_clean_under_parliament() -> None:
    """The IAM policy in docs/verify.md has no parliament findings."""
    findings = analyze_policy_string(json.dumps(_documented_policy())).findings
    assert [str(f) for f in findings] == []


@pytest.mark.usefixtures("deployed")
def test_documented_policy_allows_every_call_of_a_full_run(tmp_path: Path) -> None:
    """Every AWS operation a `verify --run --no-workflow` makes is granted in the docs."""
    calls: set[str] = set()

    def recording(region: str, profile: str | None) -> Any:
        make = boto3_clients(region, profile)

        def client(service: str) -> Any:
            made = make(service)
            prefix = made.meta.service_model.endpoint_prefix

            def record(model: Any, **_: Any) -> None:
                calls.add(f"{prefix}:{model.name}")

            made.meta.events.register("before-call", record)
            return made

        return client

    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    args = ["verify", "--outputs", write_outputs(tmp_path / "o.json"), "--run", "--no-workflow"]
    result = CliRunner().invoke(app, args, obj=Runtime(clients=recording, clock=FakeClock()))
    assert result.exit_code == ExitCode.OK, result.stderr

    allowed = set()
    for statement in _documented_policy()["Statement"]:
        actions = statement["Action"]
        allowed |= {actions} if isinstance(actions, str) else set(actions)
    assert "athena:GetQueryResults" in calls
    assert "glue:StartJobRun" in calls
    assert calls - allowed == set()
