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
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.moto_api import state_manager
from parliament import analyze_policy_string
from spotify_glue.layout import TABLE_NAME
from spotify_glue.run_summary import RunSummary
from typer.testing import CliRunner

from spotify_ops.aws_runtime import Runtime, boto3_clients
from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from tests.cli.verify_support import (
    ACCOUNT,
    DATABASE,
    JOB,
    LAYOUT,
    POINTER_KEY,
    PREVIOUS_RUN_ID,
    REGION,
    RESULTS,
    RUN_ID,
    SUMMARY_KEY,
    WAREHOUSE,
    WORKFLOW,
    WORKGROUP,
    FakeClock,
    column_info,
    create_glue_pipeline,
    glue_table,
    outputs_dict,
    passing_results,
    result_rows,
    set_fake_credentials,
    summary,
    warehouse_key,
    warehouse_outputs,
    write_outputs,
)

CHECK_NAMES = [
    "run_summary",
    "published_run",
    "table_location",
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
        create_glue_pipeline(glue)
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": TABLE_NAME,
                "StorageDescriptor": glue_table()["Table"]["StorageDescriptor"],
            },
        )
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


def _put_summary(last: RunSummary, published: RunSummary | None = None) -> None:
    """The job's two objects: the last-run summary, and the published-run pointer (the last
    run itself when it was published, unless ``published`` names another)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=WAREHOUSE, Key=SUMMARY_KEY, Body=last.to_json().encode("utf-8"))
    pointer = published or (last if last.status == "published" else None)
    if pointer is not None:
        s3.put_object(Bucket=WAREHOUSE, Key=POINTER_KEY, Body=pointer.to_json().encode("utf-8"))


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
    assert "note:" not in result.stdout


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
        "detail": f"5 rows, but the published run {RUN_ID} wrote 3",
    }
    assert [n for n, c in checks.items() if not c["passed"]] == ["row_count"]


def _point_catalog_at(location: str) -> None:
    """Switch the catalog table's location, as the job's publish (or a rollback) does."""
    glue = boto3.client("glue", region_name=REGION)
    table = glue.get_table(DatabaseName=DATABASE, Name=TABLE_NAME)["Table"]
    storage = {**table["StorageDescriptor"], "Location": location}
    glue.update_table(
        DatabaseName=DATABASE, TableInput={"Name": TABLE_NAME, "StorageDescriptor": storage}
    )


def _verdict(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = _invoke(["--outputs", write_outputs(tmp_path / "o.json"), "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def _failed(verdict: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in verdict["checks"] if not c["passed"]}


@pytest.mark.usefixtures("deployed")
def test_gate_options_override_the_contract(tmp_path: Path) -> None:
    """--min-rows above the table's count fails row_count with that threshold."""
    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    code, verdict = _verdict(tmp_path, "--min-rows", "10")
    assert code == ExitCode.FAILED
    assert verdict["gate"]["min_rows"] == 10
    assert (
        verdict["gate_source"] == f"recorded by run {RUN_ID}, with --min-rows from the command line"
    )
    assert _failed(verdict) == {"row_count": "3 rows, fewer than 10"}


@pytest.mark.usefixtures("deployed")
def test_the_gate_the_published_run_was_judged_by_applies_without_options(tmp_path: Path) -> None:
    """A stack with gateMinRows = 5 records it in the run summary; verify judges by it,
    with no fallback note."""
    recorded = summary(rows_written=3)
    recorded.gate = {"min_rows": 5, "max_quarantine_rate": 0.2, "max_join_loss_rate": 0.3}
    _put_summary(recorded)
    _seed(passing_results(rows=3))
    code, verdict = _verdict(tmp_path)
    assert code == ExitCode.FAILED
    assert verdict["gate"] == {"min_rows": 5, "max_quarantine_rate": 0.2, "max_join_loss_rate": 0.3}
    assert (verdict["gate_fallback"], verdict["notes"]) == (None, [])
    assert _failed(verdict) == {"row_count": "3 rows, fewer than 5"}


@pytest.mark.usefixtures("deployed")
def test_a_summary_without_a_recorded_gate_says_it_falls_back(tmp_path: Path) -> None:
    """A published run whose summary records only min_rows is judged by it and the
    contract's defaults for the rest, and the verdict says so: a note line in the table
    output, and gate_fallback and notes in --json."""
    recorded = summary(rows_written=3)
    recorded.gate = {"min_rows": 2}
    _put_summary(recorded)
    _seed(passing_results(rows=3))
    code, verdict = _verdict(tmp_path)
    assert code == ExitCode.OK
    assert verdict["gate"] == {
        "min_rows": 2,
        "max_quarantine_rate": 0.05,
        "max_join_loss_rate": 0.1,
    }
    expected = (
        f"run {RUN_ID}'s summary records no max_quarantine_rate, max_join_loss_rate; judging "
        "max_quarantine_rate, max_join_loss_rate by the contract's defaults"
    )
    assert verdict["gate_fallback"] == expected
    assert verdict["notes"] == [f"gate: {expected}"]
    _seed(passing_results(rows=3))
    human = _invoke(["--outputs", write_outputs(tmp_path / "o.json")])
    assert human.exit_code == ExitCode.OK
    assert f"note: gate: {expected}" in " ".join(human.stdout.split())


@pytest.mark.usefixtures("deployed")
def test_missing_run_summary_fails_the_checks_that_need_it(tmp_path: Path) -> None:
    """No summary and no pointer yet: the run and publish checks and the rate checks fail
    with why, the gate falls back visibly; exit 1."""
    _seed(passing_results(rows=3))
    code, verdict = _verdict(tmp_path)
    assert code == ExitCode.FAILED
    failed = _failed(verdict)
    assert set(failed) == {
        "run_summary",
        "published_run",
        "table_location",
        "quarantine_rate",
        "join_loss_rate",
    }
    assert failed["run_summary"].startswith(f"no run summary at s3://{WAREHOUSE}/{SUMMARY_KEY}")
    assert failed["published_run"] == (
        f"no run summary at s3://{WAREHOUSE}/{POINTER_KEY}; no run has passed the gate yet "
        "(run the pipeline with verify --run)"
    )
    assert failed["table_location"].endswith("but no published-run pointer confirms it")
    assert verdict["notes"] == [
        f"gate: no run summary at s3://{WAREHOUSE}/{SUMMARY_KEY}, so no gate is recorded; "
        "judging min_rows, max_quarantine_rate, max_join_loss_rate by the contract's defaults"
    ]


@pytest.mark.usefixtures("deployed")
def test_rejected_last_run_says_the_table_still_serves_the_previous_one(tmp_path: Path) -> None:
    """A rejected last run fails run_summary with the gate's reasons and the run the table
    still serves; the catalog and the row count are judged against that published run."""
    previous = summary(rows_written=3, run_id=PREVIOUS_RUN_ID)
    rejected = summary(rows_written=0, status="rejected", gate_failures=["rows 0 < 1"])
    _put_summary(rejected, published=previous)
    _point_catalog_at(LAYOUT.table_location(PREVIOUS_RUN_ID))
    _seed(passing_results(rows=3))
    code, verdict = _verdict(tmp_path)
    assert code == ExitCode.FAILED
    assert _failed(verdict) == {
        "run_summary": f"last run {RUN_ID} was rejected by the quality gate: rows 0 < 1; "
        f"the table still serves run {PREVIOUS_RUN_ID} (3 rows)"
    }
    details = {c["name"]: c["detail"] for c in verdict["checks"]}
    assert details["row_count"] == f"3 rows, as the published run {PREVIOUS_RUN_ID} wrote"
    assert verdict["gate_source"] == f"recorded by run {PREVIOUS_RUN_ID}"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            LAYOUT.table_location(PREVIOUS_RUN_ID),
            f"not the published run {RUN_ID}'s {LAYOUT.table_location(RUN_ID)}: a rollback to "
            "an earlier run is in place",
        ),
        (
            LAYOUT.unpublished_location,
            "which is the placeholder the table starts at: no run has been published",
        ),
        (
            f"s3://another-warehouse/spotify_tracks/run={RUN_ID}/",
            f"which is not below this warehouse's table folder {LAYOUT.table_root}",
        ),
        (LAYOUT.table_root, f"which is not a run=<id>/ folder directly below {LAYOUT.table_root}"),
    ],
)
@pytest.mark.usefixtures("deployed")
def test_catalog_table_not_at_the_published_run_fails(
    tmp_path: Path, location: str, expected: str
) -> None:
    """The catalog table must read the published run's folder of this warehouse; anywhere
    else fails table_location, naming where it reads and why that is wrong."""
    _put_summary(summary(rows_written=3))
    _point_catalog_at(location)
    _seed(passing_results(rows=3))
    code, verdict = _verdict(tmp_path)
    assert code == ExitCode.FAILED
    assert _failed(verdict) == {"table_location": f"the catalog table reads {location}, {expected}"}


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
    """An AWS error (the warehouse bucket is gone) exits 3 naming the call, and no
    credential appears on stdout or stderr."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN")
    outputs = write_outputs(tmp_path / "o.json", **warehouse_outputs("spotify-dev-deleted-1a2b"))
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


Request = tuple[str, str]
"""(IAM action, resource ARN) as IAM authorizes one request."""


def _resources(prefix: str, operation: str, params: dict[str, Any]) -> list[str]:
    """The resource ARNs IAM authorizes an operation on. Glue checks a table request on the
    catalog, the database and the table ("Specifying AWS Glue resource ARNs",
    https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html); Athena
    query operations on the workgroup the query runs in."""
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    if prefix == "s3":
        return [f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"]
    if prefix == "athena":
        return [f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}"]
    if operation == "GetTable":
        database = params["DatabaseName"]
        return [
            f"{glue}:catalog",
            f"{glue}:database/{database}",
            f"{glue}:table/{database}/{params['Name']}",
        ]
    kind = {"Job": "job", "Crawl": "crawler", "Workflow": "workflow"}
    name = params.get("JobName") or params["Name"]
    return [f"{glue}:{kind[k]}/{name}" for k in kind if k in operation]


ATHENA_ON_YOUR_BEHALF: list[Request] = [
    # Athena reads the table and writes results with the caller's permissions
    # (https://docs.aws.amazon.com/athena/latest/ug/security-iam-athena.html).
    ("s3:ListBucket", f"arn:aws:s3:::{WAREHOUSE}"),
    (
        "s3:GetObject",
        f"arn:aws:s3:::{WAREHOUSE}/{warehouse_key(LAYOUT.table_location(RUN_ID))}x.parquet",
    ),
    ("s3:PutObject", f"arn:aws:s3:::{RESULTS}/results/q-1.csv"),
    ("glue:GetDatabase", f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{DATABASE}"),
    ("glue:GetPartitions", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{DATABASE}/{TABLE_NAME}"),
]


def _denied(requests: set[Request]) -> list[Request]:
    """The requests the documented policy does not allow, by moto's IAM policy evaluator."""
    policy = IAMPolicy(json.dumps(_documented_policy()))
    return sorted(
        (action, resource)
        for action, resource in requests
        if policy.is_action_permitted(action, resource) != PermissionResult.PERMITTED
    )


@pytest.mark.usefixtures("deployed")
def test_documented_policy_allows_every_request_of_a_full_run(tmp_path: Path) -> None:
    """Every AWS request a `verify --run --no-workflow` makes, on the resource it names
    (the summary, the published-run pointer, the catalog table, the job, the crawler and the
    workgroup), and what Athena reads and writes for it, is allowed by the policy in the docs."""
    requests: set[Request] = set()

    def recording(region: str, profile: str | None) -> Any:
        make = boto3_clients(region, profile)

        def client(service: str) -> Any:
            made = make(service)
            prefix = made.meta.service_model.endpoint_prefix

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                for resource in _resources(prefix, model.name, params):
                    requests.add((f"{prefix}:{model.name}", resource))

            made.meta.events.register("provide-client-params", record)
            return made

        return client

    _put_summary(summary(rows_written=3))
    _seed(passing_results(rows=3))
    args = ["verify", "--outputs", write_outputs(tmp_path / "o.json"), "--run", "--no-workflow"]
    result = CliRunner().invoke(app, args, obj=Runtime(clients=recording, clock=FakeClock()))
    assert result.exit_code == ExitCode.OK, result.stderr

    assert ("s3:GetObject", f"arn:aws:s3:::{WAREHOUSE}/{POINTER_KEY}") in requests
    assert ("glue:StartJobRun", f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{JOB}") in requests
    assert {action for action, _ in requests} >= {"athena:GetQueryResults", "glue:GetTable"}
    assert _denied(requests | set(ATHENA_ON_YOUR_BEHALF)) == []


def test_the_policy_check_catches_a_missing_grant() -> None:
    """Without the run-summary prefix, reading the published-run pointer is denied."""
    policy = _documented_policy()
    for statement in policy["Statement"]:
        if statement["Sid"] == "ReadTheTableAndSummary":
            statement["Resource"] = [r for r in statement["Resource"] if "_run_summary" not in r]
    evaluator = IAMPolicy(json.dumps(policy))
    pointer = f"arn:aws:s3:::{WAREHOUSE}/{POINTER_KEY}"
    assert evaluator.is_action_permitted("s3:GetObject", pointer) != PermissionResult.PERMITTED
