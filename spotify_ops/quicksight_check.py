"""`spotify-ops verify`, QuickSight part: the dashboard and its data set exist, and SPICE holds
the published table.

Runs only for stacks with QuickSight on (their outputs name the dashboard). With ``--run`` and a
SPICE data set, verify first starts a full refresh after the pipeline run and waits for it
(:func:`refresh_spice`), so an on-demand stack's dashboard shows the run it just verified;
scheduled stacks also refresh on their own schedule.
A direct-query data set has no copy to check: the Athena checks query the same table through the
same workgroup. Missing resources and failed ingestions are failed checks; AWS errors propagate
to the verifier's exit-code mapping.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError

from spotify_ops.checks import CheckResult
from spotify_ops.polling import Poller, error_code, error_message
from spotify_ops.stack_outputs import StackOutputs

DASHBOARD_READY: Final = frozenset({"CREATION_SUCCESSFUL", "UPDATE_SUCCESSFUL"})
INGESTION_DONE: Final = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def _arn_parts(arn: str) -> tuple[str, str]:
    """(account id, resource id) of ``arn:aws:quicksight:<region>:<account>:<kind>/<id>``."""
    parts = arn.split(":", 5)
    return parts[4], parts[5].split("/", 1)[1]


def check_dashboard(client: Any, account: str, dashboard_id: str) -> CheckResult:
    try:
        version = client.describe_dashboard(AwsAccountId=account, DashboardId=dashboard_id)[
            "Dashboard"
        ]["Version"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return CheckResult(
            "quicksight_dashboard",
            False,
            f"dashboard {dashboard_id} does not exist; run `pulumi up` on this stack",
        )
    status = str(version.get("Status", ""))
    if status in DASHBOARD_READY:
        return CheckResult(
            "quicksight_dashboard",
            True,
            f"dashboard {dashboard_id} version {version.get('VersionNumber')} is {status}",
        )
    errors = "; ".join(f"{e.get('Type')}: {e.get('Message')}" for e in version.get("Errors", []))
    return CheckResult(
        "quicksight_dashboard",
        False,
        f"dashboard {dashboard_id} is {status or 'in an unknown state'}"
        + (f" ({errors})" if errors else ""),
    )


def describe_data_set(client: Any, account: str, data_set_id: str) -> dict[str, Any] | None:
    try:
        data_set: dict[str, Any] = client.describe_data_set(
            AwsAccountId=account, DataSetId=data_set_id
        )["DataSet"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return None
    return data_set


def last_ingestion(client: Any, account: str, data_set_id: str) -> dict[str, Any] | None:
    """The newest ingestion of the data set, over every page."""
    newest: dict[str, Any] | None = None
    token: str | None = None
    while True:
        page = client.list_ingestions(
            AwsAccountId=account, DataSetId=data_set_id, **({"NextToken": token} if token else {})
        )
        for ingestion in page.get("Ingestions", []):
            if newest is None or ingestion["CreatedTime"] > newest["CreatedTime"]:
                newest = ingestion
        token = page.get("NextToken")
        if not token:
            return newest


def refresh(
    client: Any, account: str, data_set_id: str, poller: Poller, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Start a full SPICE refresh and wait until it has finished, however it finished."""
    ingestion_id = f"verify-{uuid.uuid4().hex[:12]}"
    client.create_ingestion(
        AwsAccountId=account,
        DataSetId=data_set_id,
        IngestionId=ingestion_id,
        IngestionType="FULL_REFRESH",
    )
    state: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        state.update(
            client.describe_ingestion(
                AwsAccountId=account, DataSetId=data_set_id, IngestionId=ingestion_id
            )["Ingestion"]
        )
        progress(f"SPICE refresh {ingestion_id}: {state.get('IngestionStatus')}")
        return dict(state) if state.get("IngestionStatus") in INGESTION_DONE else None

    return poller.wait(
        probe, lambda: f"SPICE refresh {ingestion_id} still {state.get('IngestionStatus')}"
    )


def judge_ingestion(data_set_id: str, ingestion: dict[str, Any] | None) -> CheckResult:
    if ingestion is None:
        return CheckResult(
            "quicksight_spice",
            False,
            f"data set {data_set_id} has no SPICE ingestion yet; run verify --run",
        )
    status = ingestion.get("IngestionStatus")
    name = ingestion.get("IngestionId")
    if status == "COMPLETED":
        rows = ingestion.get("RowInfo", {}).get("RowsIngested")
        return CheckResult(
            "quicksight_spice",
            True,
            f"ingestion {name} completed at {ingestion.get('CreatedTime')}"
            + (f" with {rows} rows" if rows is not None else ""),
        )
    error = ingestion.get("ErrorInfo", {})
    reason = f": {error.get('Type')}: {error.get('Message')}" if error else ""
    return CheckResult(
        "quicksight_spice", False, f"the last SPICE ingestion {name} is {status}{reason}"
    )


def _ids(outputs: StackOutputs) -> tuple[str, str, str] | None:
    """(account, dashboard id, data set id) of a stack with QuickSight on; None otherwise."""
    if not (outputs.quicksight_dashboard_arn and outputs.quicksight_data_set_arn):
        return None
    account, dashboard_id = _arn_parts(outputs.quicksight_dashboard_arn)
    _, data_set_id = _arn_parts(outputs.quicksight_data_set_arn)
    return account, dashboard_id, data_set_id


def refresh_spice(
    outputs: StackOutputs,
    clients: Callable[[str], Any],
    poller: Poller,
    progress: Callable[[str], None] = lambda _message: None,
) -> None:
    """After a pipeline run: refresh a SPICE data set and wait, so the dashboard shows the run.

    Nothing to do without QuickSight, for a direct-query data set, or when the data set is gone
    (the checks report that). A refresh already running (a schedule's) is left to finish; the
    checks then judge the newest ingestion."""
    ids = _ids(outputs)
    if ids is None:
        return
    account, _, data_set_id = ids
    client = clients("quicksight")
    data_set = describe_data_set(client, account, data_set_id)
    if data_set is None or data_set.get("ImportMode") != "SPICE":
        return
    try:
        refresh(client, account, data_set_id, poller, progress)
    except ClientError as exc:
        if error_code(exc) not in {"LimitExceededException", "ResourceExistsException"}:
            raise
        progress(f"SPICE refresh not started: {error_message(exc)}")


def quicksight_checks(
    outputs: StackOutputs,
    clients: Callable[[str], Any],
    progress: Callable[[str], None] = lambda _message: None,
) -> list[CheckResult]:
    """The QuickSight checks of a stack whose outputs name a dashboard; none otherwise."""
    ids = _ids(outputs)
    if ids is None:
        return []
    account, dashboard_id, data_set_id = ids
    client = clients("quicksight")
    progress("checking the QuickSight dashboard and data set")
    checks = [check_dashboard(client, account, dashboard_id)]
    data_set = describe_data_set(client, account, data_set_id)
    if data_set is None:
        return [
            *checks,
            CheckResult(
                "quicksight_data_set",
                False,
                f"data set {data_set_id} does not exist; run `pulumi up` on this stack",
            ),
        ]
    if data_set.get("ImportMode") != "SPICE":
        return [
            *checks,
            CheckResult(
                "quicksight_data_set",
                True,
                f"data set {data_set_id} queries Athena directly; the Athena checks cover it",
            ),
        ]
    return [
        *checks,
        CheckResult("quicksight_data_set", True, f"data set {data_set_id} is SPICE"),
        judge_ingestion(data_set_id, last_ingestion(client, account, data_set_id)),
    ]
