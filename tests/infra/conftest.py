"""Program runs shared by the infra tests: each stack is evaluated once per session."""

from __future__ import annotations

import json

import pytest

from tests.infra.harness import ProgramRun, run_stack

QUICKSIGHT_GROUP = "arn:aws:quicksight:eu-west-1:123456789012:group/default/analysts"
CMK_AND_QUICKSIGHT = {
    "customerManagedKey": "true",
    "quicksightEnabled": "true",
    "quicksightPrincipals": json.dumps([QUICKSIGHT_GROUP]),
}


@pytest.fixture(scope="session")
def dev_run() -> ProgramRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def dev_preview() -> ProgramRun:
    return run_stack("dev", preview=True)


@pytest.fixture(scope="session")
def prod_run() -> ProgramRun:
    return run_stack("prod")


@pytest.fixture(scope="session")
def review_run() -> ProgramRun:
    return run_stack("pr-123")


@pytest.fixture(scope="session")
def cmk_run() -> ProgramRun:
    """dev with the customer-managed key and QuickSight on."""
    return run_stack("dev", CMK_AND_QUICKSIGHT)


@pytest.fixture(scope="session", params=["dev", "prod", "pr-123", "dev+cmk+quicksight"])
def any_run(request: pytest.FixtureRequest) -> ProgramRun:
    """Every stack shape: baseline rules hold on all of them."""
    fixture = {
        "dev": "dev_run",
        "prod": "prod_run",
        "pr-123": "review_run",
        "dev+cmk+quicksight": "cmk_run",
    }[request.param]
    run: ProgramRun = request.getfixturevalue(fixture)
    return run
