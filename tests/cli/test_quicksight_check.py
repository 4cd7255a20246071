"""verify's QuickSight checks on botocore-Stubber answers in QuickSight's own response shapes:
the dashboard and data set exist, SPICE's last ingestion succeeded, and --run refreshes SPICE
first. Through the CLI, they join the verdict and its exit code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from infra.outputs import OutputKey
from spotify_ops import verdict
from spotify_ops.exit_codes import ExitCode
from spotify_ops.polling import Backoff, Deadline, Poller
from spotify_ops.quicksight_check import quicksight_checks, refresh_spice
from spotify_ops.stack_outputs import validate_outputs
from tests.cli.verify_support import (
    ACCOUNT,
    REGION,
    FakeClock,
    Stubs,
    outputs_dict,
    stub_summary,
    summary,
    write_outputs,
)

DASHBOARD_ID = "spotify-dev-insights"
DATA_SET_ID = "spotify-dev-tracks"
BASE = f"arn:aws:quicksight:{REGION}:{ACCOUNT}"
QUICKSIGHT_OUTPUTS = {
    OutputKey.QUICKSIGHT_DATA_SOURCE_ARN.value: f"{BASE}:datasource/spotify-dev-athena",
    OutputKey.QUICKSIGHT_DATA_SET_ARN.value: f"{BASE}:dataset/{DATA_SET_ID}",
    OutputKey.QUICKSIGHT_DASHBOARD_ID.value: DASHBOARD_ID,
    OutputKey.QUICKSIGHT_DASHBOARD_ARN.value: f"{BASE}:dashboard/{DASHBOARD_ID}",
    OutputKey.QUICKSIGHT_DASHBOARD_URL.value: (
        f"https://{REGION}.quicksight.aws.amazon.com/sn/dashboards/{DASHBOARD_ID}"
    ),
}
DASHBOARD_PARAMS = {"AwsAccountId": ACCOUNT, "DashboardId": DASHBOARD_ID}
DATA_SET_PARAMS = {"AwsAccountId": ACCOUNT, "DataSetId": DATA_SET_ID}


def dashboard(status: str = "CREATION_SUCCESSFUL", errors: list[Any] | None = None) -> Any:
    return {
        "Dashboard": {
            "DashboardId": DASHBOARD_ID,
            "Arn": f"{BASE}:dashboard/{DASHBOARD_ID}",
            "Name": "Spotify 2023 (dev)",
            "Version": {
                "VersionNumber": 3,
                "Status": status,
                **({"Errors": errors} if errors else {}),
            },
        },
        "Status": 200,
    }


def data_set(mode: str = "SPICE") -> Any:
    return {"DataSet": {"DataSetId": DATA_SET_ID, "ImportMode": mode}, "Status": 200}


def ingestion(name: str, status: str, hour: int, **extra: Any) -> dict[str, Any]:
    return {
        "Arn": f"{BASE}:dataset/{DATA_SET_ID}/ingestion/{name}",
        "IngestionId": name,
        "IngestionStatus": status,
        "CreatedTime": datetime(2026, 1, 1, hour, tzinfo=UTC),
        **extra,
    }


@pytest.fixture
def quicksight(stubs: Stubs) -> tuple[Any, Stubber]:
    """The shared stubs' QuickSight client and its Stubber."""
    return stubs.clients["quicksight"], stubs.quicksight


def outputs(**changes: Any) -> Any:
    return validate_outputs(outputs_dict(**{**QUICKSIGHT_OUTPUTS, **changes}), "test")


def run(client: Any, **changes: Any) -> list[Any]:
    return quicksight_checks(outputs(**changes), {"quicksight": client}.__getitem__)


def poller() -> Poller:
    clock = FakeClock()
    return Poller(clock, Deadline(clock, 600), Backoff(initial=10, maximum=10))


def stub_refresh(stubber: Stubber, statuses: tuple[str, ...]) -> None:
    stubber.add_response(
        "create_ingestion",
        {"IngestionId": "verify-x", "IngestionStatus": "INITIALIZED", "Status": 201},
        {**DATA_SET_PARAMS, "IngestionId": ANY, "IngestionType": "FULL_REFRESH"},
    )
    for status in statuses:
        stubber.add_response(
            "describe_ingestion",
            {"Ingestion": ingestion("verify-x", status, 9)},
            {**DATA_SET_PARAMS, "IngestionId": ANY},
        )


def test_a_healthy_spice_dashboard_passes(quicksight):
    """Dashboard created, data set in SPICE, newest ingestion completed: three passes, and the
    newest ingestion is the one judged even when listed last."""
    client, stubber = quicksight
    stubber.add_response("describe_dashboard", dashboard(), DASHBOARD_PARAMS)
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stubber.add_response(
        "list_ingestions",
        {
            "Ingestions": [
                ingestion("old", "FAILED", 5),
                ingestion("new", "COMPLETED", 8, RowInfo={"RowsIngested": 1952}),
            ],
            "Status": 200,
        },
        DATA_SET_PARAMS,
    )
    checks = run(client)
    assert [(c.name, c.passed) for c in checks] == [
        ("quicksight_dashboard", True),
        ("quicksight_data_set", True),
        ("quicksight_spice", True),
    ]
    assert "ingestion new completed" in checks[2].detail
    assert "1952 rows" in checks[2].detail


def test_a_failed_last_ingestion_fails_with_its_reason(quicksight):
    """The newest ingestion failed: the check fails and repeats QuickSight's error."""
    client, stubber = quicksight
    stubber.add_response("describe_dashboard", dashboard(), DASHBOARD_PARAMS)
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    failure = {"Type": "PERMISSION_DENIED", "Message": "Athena: access denied to the bucket"}
    stubber.add_response(
        "list_ingestions",
        {"Ingestions": [ingestion("i1", "FAILED", 8, ErrorInfo=failure)], "NextToken": "p2"},
        DATA_SET_PARAMS,
    )
    stubber.add_response(
        "list_ingestions",
        {"Ingestions": [ingestion("i0", "COMPLETED", 7)]},
        {**DATA_SET_PARAMS, "NextToken": "p2"},
    )
    spice = run(client)[-1]
    assert not spice.passed
    assert spice.detail == (
        "the last SPICE ingestion i1 is FAILED: PERMISSION_DENIED: Athena: access denied to the"
        " bucket"
    )


def test_no_ingestion_yet_says_how_to_refresh(quicksight):
    """A SPICE data set that was never refreshed fails and points at verify --run."""
    client, stubber = quicksight
    stubber.add_response("describe_dashboard", dashboard(), DASHBOARD_PARAMS)
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stubber.add_response("list_ingestions", {"Ingestions": []}, DATA_SET_PARAMS)
    spice = run(client)[-1]
    assert not spice.passed
    assert "verify --run" in spice.detail


def test_a_missing_dashboard_and_data_set_fail_and_say_pulumi_up(quicksight):
    """Deleted by hand (or never deployed): both checks fail and name the fix."""
    client, stubber = quicksight
    stubber.add_client_error(
        "describe_dashboard", "ResourceNotFoundException", "not found", 404, DASHBOARD_PARAMS
    )
    stubber.add_client_error(
        "describe_data_set", "ResourceNotFoundException", "not found", 404, DATA_SET_PARAMS
    )
    checks = run(client)
    assert [c.passed for c in checks] == [False, False]
    assert all("run `pulumi up`" in c.detail for c in checks)


def test_a_failed_dashboard_version_is_reported_with_its_errors(quicksight):
    """A dashboard whose version failed to build fails the check with QuickSight's errors."""
    client, stubber = quicksight
    errors = [{"Type": "COLUMN_TYPE_MISMATCH", "Message": "release_year is not numeric"}]
    stubber.add_response(
        "describe_dashboard", dashboard("CREATION_FAILED", errors), DASHBOARD_PARAMS
    )
    stubber.add_response("describe_data_set", data_set("DIRECT_QUERY"), DATA_SET_PARAMS)
    dashboard_check, data_set_check = run(client)
    assert not dashboard_check.passed
    assert "CREATION_FAILED (COLUMN_TYPE_MISMATCH: release_year is not numeric)" in (
        dashboard_check.detail
    )
    assert data_set_check.passed
    assert "queries Athena directly" in data_set_check.detail


def test_refresh_starts_a_full_refresh_and_waits_for_it(quicksight):
    """After a run, a SPICE data set gets a full refresh, polled until it completes."""
    client, stubber = quicksight
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stub_refresh(stubber, ("QUEUED", "RUNNING", "COMPLETED"))
    messages: list[str] = []
    refresh_spice(outputs(), {"quicksight": client}.__getitem__, poller(), messages.append)
    assert messages[-1].endswith(": COMPLETED")


def test_refresh_leaves_a_running_refresh_and_direct_query_alone(quicksight):
    """A refresh already running (a schedule's) is not an error; direct query needs none."""
    client, stubber = quicksight
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stubber.add_client_error(
        "create_ingestion", "LimitExceededException", "an ingestion is running", 429
    )
    stubber.add_response("describe_data_set", data_set("DIRECT_QUERY"), DATA_SET_PARAMS)
    get = {"quicksight": client}.__getitem__
    refresh_spice(outputs(), get, poller())
    refresh_spice(outputs(), get, poller())


def test_stacks_without_quicksight_are_not_asked():
    """No QuickSight outputs, no QuickSight call and no QuickSight check."""
    plain = validate_outputs(outputs_dict(), "test")

    def no_client(service: str) -> Any:
        raise AssertionError(f"asked for a {service} client")

    assert quicksight_checks(plain, no_client) == []
    refresh_spice(plain, no_client, poller())


def test_a_data_set_arn_in_the_dashboard_slot_is_an_outputs_error():
    """Outputs name each QuickSight resource by its own kind of ARN."""
    with pytest.raises(Exception, match="is not a QuickSight dashboard ARN"):
        outputs(**{OutputKey.QUICKSIGHT_DASHBOARD_ARN.value: f"{BASE}:dataset/{DATA_SET_ID}"})


def test_verify_adds_the_quicksight_checks_to_its_verdict(stubs: Stubs, tmp_path: Path):
    """Through the CLI: the QuickSight checks follow the Athena checks, and a failed SPICE
    ingestion fails the verdict with exit 1."""
    path = write_outputs(tmp_path / "outputs.json", **QUICKSIGHT_OUTPUTS)
    stub_summary(stubs.s3, summary(rows_written=3))
    stubs.table_ok()
    stubs.queries_ok()
    stubs.quicksight.add_response("describe_dashboard", dashboard(), DASHBOARD_PARAMS)
    stubs.quicksight.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stubs.quicksight.add_response(
        "list_ingestions", {"Ingestions": [ingestion("i1", "FAILED", 8)]}, DATA_SET_PARAMS
    )
    result = stubs.invoke("--outputs", path, "--json")
    assert result.exit_code == ExitCode.FAILED, result.output
    verdict = json.loads(result.stdout)
    names = [c["name"] for c in verdict["checks"]]
    assert names[-3:] == ["quicksight_dashboard", "quicksight_data_set", "quicksight_spice"]
    assert [c["passed"] for c in verdict["checks"]][-3:] == [True, True, False]
    assert verdict["outputs"][OutputKey.QUICKSIGHT_DASHBOARD_ID.value] == DASHBOARD_ID


def test_verify_run_refreshes_spice_before_the_checks(quicksight, monkeypatch):
    """With --run, the refresh follows the pipeline run, and the check judges that refresh."""
    client, stubber = quicksight
    monkeypatch.setattr(verdict, "run_the_pipeline", lambda *_args: [])
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stub_refresh(stubber, ("RUNNING", "COMPLETED"))
    stubber.add_response("describe_dashboard", dashboard(), DASHBOARD_PARAMS)
    stubber.add_response("describe_data_set", data_set(), DATA_SET_PARAMS)
    stubber.add_response(
        "list_ingestions", {"Ingestions": [ingestion("verify-x", "COMPLETED", 9)]}, DATA_SET_PARAMS
    )
    calls: list[str] = []
    monkeypatch.setattr(
        verdict, "VERIFY_CHECKS", (verdict.quicksight,)
    )  # the table's checks have their own tests

    class NoSummaries:
        """S3 without run summaries: the table's checks would report it; here none run."""

        def get_object(self, **_params: Any) -> Any:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": ""}}, "GetObject")

    def clients(service: str) -> Any:
        calls.append(service)
        return {"quicksight": client, "s3": NoSummaries()}.get(service)

    result = verdict.verify_stack(
        outputs(),
        verdict.VerifyOptions(run=True, timeout=600, poll_interval=10),
        clients,
        FakeClock(),
    )
    assert [c.name for c in result.checks] == [
        "quicksight_dashboard",
        "quicksight_data_set",
        "quicksight_spice",
    ]
    assert result.passed
    assert "ingestion verify-x completed" in result.checks[-1].detail
    assert calls.index("quicksight") < calls.index("s3")  # refreshed right after the run
