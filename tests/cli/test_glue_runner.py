"""Running the deployed pipeline: Glue job runs, crawls and workflow runs, on moto and Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.moto_api import state_manager

from spotify_ops.glue_runner import (
    PipelineBusyError,
    PipelineFailedError,
    run_crawler,
    run_glue_job,
    run_pipeline,
    run_workflow,
)
from spotify_ops.polling import Backoff, Deadline, Poller, WaitTimeoutError
from tests.cli.verify_support import (
    CRAWLER,
    JOB,
    REGION,
    WORKFLOW,
    FakeClock,
    Stubs,
    create_glue_pipeline,
    set_fake_credentials,
)

STARTED = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)


def _poller(clock: FakeClock, timeout: float = 600.0, interval: float = 15.0) -> Poller:
    return Poller(clock, Deadline(clock, timeout), Backoff(initial=interval, maximum=interval))


class Messages(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


# --- moto ----------------------------------------------------------------------------------------


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    set_fake_credentials(monkeypatch)
    with mock_aws():
        client = boto3.client("glue", region_name=REGION)
        create_glue_pipeline(client)
        yield client
    state_manager.unset_transition("glue::job_run")
    state_manager.unset_transition("glue::crawl")


def test_job_then_crawler_polls_the_job_until_it_succeeds(glue: Any) -> None:
    """The job run is polled through STARTING and RUNNING to SUCCEEDED at the poll
    interval, then the crawler runs to READY."""
    state_manager.set_transition(
        model_name="glue::job_run", transition={"progression": "manual", "times": 2}
    )
    # moto advances a crawl only on ListCrawls, never on GetCrawler (which real Glue keeps
    # current), so crawls finish at once here; Stubber tests cover crawler polling.
    state_manager.set_transition(model_name="glue::crawl", transition={"progression": "immediate"})
    clock, messages = FakeClock(), Messages()
    outcomes = run_pipeline(glue, JOB, CRAWLER, WORKFLOW, False, _poller(clock), messages)

    assert [(o.kind, o.name, o.state) for o in outcomes] == [
        ("job", JOB, "SUCCEEDED"),
        ("crawler", CRAWLER, "COMPLETED"),
    ]
    assert messages[:4] == [f"job {JOB}: {s}" for s in ("STARTING", "RUNNING", "RUNNING")] + [
        f"job {JOB}: SUCCEEDED"
    ]
    assert clock.sleeps == [15.0, 15.0, 15.0]
    assert glue.get_job_runs(JobName=JOB)["JobRuns"][0]["JobRunState"] == "SUCCEEDED"
    assert glue.get_crawler(Name=CRAWLER)["Crawler"]["State"] == "READY"


def test_second_job_run_while_one_runs_is_reported_busy(glue: Any) -> None:
    """max_concurrent_runs = 1: a start while a run is in progress says so clearly."""
    state_manager.set_transition(
        model_name="glue::job_run", transition={"progression": "manual", "times": 100}
    )
    glue.start_job_run(JobName=JOB)
    with pytest.raises(PipelineBusyError, match=f"job {JOB} already has a run in progress"):
        run_glue_job(glue, JOB, _poller(FakeClock()), Messages())


def test_workflow_that_never_finishes_times_out(glue: Any) -> None:
    """A workflow run still RUNNING at --timeout raises with its state and the hint."""
    clock = FakeClock()
    with pytest.raises(WaitTimeoutError) as info:
        run_workflow(glue, WORKFLOW, _poller(clock, timeout=60.0), Messages())
    message = str(info.value)
    assert f"workflow {WORKFLOW} run wr_" in message
    assert "still RUNNING after 60 s" in message
    assert "Raise --timeout" in message
    assert sum(clock.sleeps) == 60.0


# --- Stubber: Glue's faults -----------------------------------------------------------------


@pytest.fixture
def stubbed(stubs: Stubs) -> tuple[Any, Stubber]:
    """The shared stubs' Glue client and its Stubber."""
    return stubs.clients["glue"], stubs.glue


def _job_run(state: str, error: str | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"Id": "jr_1", "JobName": JOB, "JobRunState": state}
    if error:
        run["ErrorMessage"] = error
    return {"JobRun": run}


def _crawler(
    state: str, last: str | None = None, error: str | None = None, started: datetime = STARTED
) -> dict[str, Any]:
    crawler: dict[str, Any] = {"Name": CRAWLER, "State": state}
    if last:
        crawler["LastCrawl"] = {"Status": last, "StartTime": started, "MessagePrefix": "c-1"}
        if error:
            crawler["LastCrawl"]["ErrorMessage"] = error
    return {"Crawler": crawler}


def test_failed_job_run_raises_glues_error_message(stubbed: tuple[Any, Stubber]) -> None:
    """A FAILED run raises with Glue's ErrorMessage (here the quality gate's verdict)."""
    client, stub = stubbed
    error = "QualityGateError: 2 gate rules failed: quarantine rate 9.10% > 5.00%"
    stub.add_response("start_job_run", {"JobRunId": "jr_1"}, {"JobName": JOB})
    stub.add_response("get_job_run", _job_run("RUNNING"), {"JobName": JOB, "RunId": "jr_1"})
    stub.add_response("get_job_run", _job_run("FAILED", error), {"JobName": JOB, "RunId": "jr_1"})
    with pytest.raises(PipelineFailedError) as info:
        run_glue_job(client, JOB, _poller(FakeClock()), Messages())
    assert str(info.value) == f"job {JOB} run jr_1 ended FAILED: {error}"


@pytest.mark.parametrize("state", ["TIMEOUT", "ERROR", "STOPPED"])
def test_other_bad_job_ends_are_failures(stubbed: tuple[Any, Stubber], state: str) -> None:
    """TIMEOUT, ERROR and STOPPED runs fail too, even without an error message."""
    client, stub = stubbed
    stub.add_response("start_job_run", {"JobRunId": "jr_1"})
    stub.add_response("get_job_run", _job_run(state))
    with pytest.raises(PipelineFailedError, match=f"ended {state}: Glue gave no error message"):
        run_glue_job(client, JOB, _poller(FakeClock()), Messages())


def test_throttled_job_start_is_retried(stubbed: tuple[Any, Stubber]) -> None:
    """A throttled StartJobRun and a throttled poll are retried, and the run completes."""
    client, stub = stubbed
    stub.add_client_error("start_job_run", "ThrottlingException", "Rate exceeded")
    stub.add_response("start_job_run", {"JobRunId": "jr_1"})
    stub.add_client_error("get_job_run", "ThrottlingException", "Rate exceeded")
    stub.add_response("get_job_run", _job_run("SUCCEEDED"))
    outcome = run_glue_job(client, JOB, _poller(FakeClock()), Messages())
    assert outcome.state == "SUCCEEDED"


def test_crawler_already_running_is_waited_for_then_restarted(
    stubbed: tuple[Any, Stubber],
) -> None:
    """A crawl started elsewhere is waited out, then a fresh crawl runs after the job."""
    client, stub = stubbed
    stub.add_response("get_crawler", _crawler("RUNNING"), {"Name": CRAWLER})
    stub.add_client_error(
        "start_crawler",
        "CrawlerRunningException",
        f"Crawler with name {CRAWLER} has already started",
    )
    stub.add_response("get_crawler", _crawler("RUNNING"), {"Name": CRAWLER})
    stub.add_response("get_crawler", _crawler("STOPPING"), {"Name": CRAWLER})
    stub.add_response("get_crawler", _crawler("READY", "SUCCEEDED"), {"Name": CRAWLER})
    stub.add_response("start_crawler", {}, {"Name": CRAWLER})
    stub.add_response("get_crawler", _crawler("RUNNING"), {"Name": CRAWLER})
    later = datetime(2024, 1, 1, 6, 5, tzinfo=UTC)
    stub.add_response("get_crawler", _crawler("READY", "SUCCEEDED", started=later))
    messages = Messages()
    outcome = run_crawler(client, CRAWLER, _poller(FakeClock()), messages)
    assert outcome.state == "SUCCEEDED"
    assert f"crawler {CRAWLER} is already running; waiting for it to finish" in messages
    assert f"crawler {CRAWLER}: RUNNING (started elsewhere)" in messages


def test_crawler_still_running_at_the_deadline_times_out(stubbed: tuple[Any, Stubber]) -> None:
    """A crawl started elsewhere that outlasts --timeout is reported with the way out."""
    client, stub = stubbed
    stub.add_response("get_crawler", _crawler("RUNNING"))
    stub.add_client_error("start_crawler", "CrawlerRunningException", "already started")
    for _ in range(3):  # at 0, 15 and 30 s with a 30 s deadline
        stub.add_response("get_crawler", _crawler("RUNNING"))
    with pytest.raises(WaitTimeoutError) as info:
        run_crawler(client, CRAWLER, _poller(FakeClock(), timeout=30.0), Messages())
    message = str(info.value)
    assert f"crawler {CRAWLER} still RUNNING (started elsewhere) after 30 s" in message
    assert "stop-crawler" in message


def test_failed_crawl_raises_its_error(stubbed: tuple[Any, Stubber]) -> None:
    """A crawl that ends FAILED raises with the crawler's ErrorMessage."""
    client, stub = stubbed
    stub.add_response("get_crawler", _crawler("READY"))
    stub.add_response("start_crawler", {})
    stub.add_response(
        "get_crawler", _crawler("READY", "FAILED", "Insufficient Lake Formation permission(s)")
    )
    with pytest.raises(PipelineFailedError) as info:
        run_crawler(client, CRAWLER, _poller(FakeClock()), Messages())
    assert str(info.value) == (
        f"crawler {CRAWLER} crawl ended FAILED: Insufficient Lake Formation permission(s)"
    )


def test_ready_before_the_new_crawl_shows_is_not_its_end(stubbed: tuple[Any, Stubber]) -> None:
    """READY with the previous crawl's LastCrawl right after the start is not taken for the
    end of the new crawl: polling goes on until the new crawl has run."""
    client, stub = stubbed
    earlier = datetime(2023, 12, 31, 6, 0, tzinfo=UTC)
    stub.add_response("get_crawler", _crawler("READY", "FAILED", "old failure", started=earlier))
    stub.add_response("start_crawler", {}, {"Name": CRAWLER})
    stub.add_response("get_crawler", _crawler("READY", "FAILED", "old failure", started=earlier))
    stub.add_response("get_crawler", _crawler("RUNNING"))
    stub.add_response("get_crawler", _crawler("READY", "SUCCEEDED"))
    clock = FakeClock()
    outcome = run_crawler(client, CRAWLER, _poller(clock), Messages())
    assert outcome.state == "SUCCEEDED"
    assert clock.sleeps == [15.0, 15.0]


def _workflow_run(status: str, **stats: int) -> dict[str, Any]:
    counts = {"TotalActions": 2, "SucceededActions": 0, "RunningActions": 0, **stats}
    return {"Run": {"Name": WORKFLOW, "WorkflowRunId": "wr_1", "Status": status,
                    "Statistics": counts}}  # fmt: skip


def test_workflow_completes_when_every_action_succeeds(stubbed: tuple[Any, Stubber]) -> None:
    """A COMPLETED run with all actions succeeded is a success."""
    client, stub = stubbed
    stub.add_response("start_workflow_run", {"RunId": "wr_1"}, {"Name": WORKFLOW})
    stub.add_response(
        "get_workflow_run",
        _workflow_run("RUNNING", RunningActions=1),
        {"Name": WORKFLOW, "RunId": "wr_1"},
    )
    stub.add_response("get_workflow_run", _workflow_run("COMPLETED", SucceededActions=2))
    clock = FakeClock()
    outcome = run_workflow(client, WORKFLOW, _poller(clock), Messages())
    assert (outcome.state, outcome.detail) == ("COMPLETED", "2 actions succeeded in 0m15s")


def test_workflow_completed_with_a_failed_job_reports_the_jobs_error(
    stubbed: tuple[Any, Stubber],
) -> None:
    """Glue says COMPLETED even when the job failed: the graph's job error is reported."""
    client, stub = stubbed
    stub.add_response("start_workflow_run", {"RunId": "wr_1"})
    stub.add_response("get_workflow_run", _workflow_run("COMPLETED", FailedActions=1))
    graph = _workflow_run("COMPLETED", FailedActions=1)
    graph["Run"]["Graph"] = {
        "Nodes": [
            {"Type": "TRIGGER", "Name": "start"},
            {
                "Type": "JOB",
                "Name": JOB,
                "JobDetails": {
                    "JobRuns": [
                        {"Id": "jr_9", "JobRunState": "FAILED", "ErrorMessage": "OOM on executor"}
                    ]
                },
            },
            {"Type": "CRAWLER", "Name": CRAWLER, "CrawlerDetails": {"Crawls": []}},
        ]
    }
    stub.add_response(
        "get_workflow_run", graph, {"Name": WORKFLOW, "RunId": "wr_1", "IncludeGraph": True}
    )
    with pytest.raises(PipelineFailedError) as info:
        run_workflow(client, WORKFLOW, _poller(FakeClock()), Messages())
    assert str(info.value) == (
        f"workflow {WORKFLOW} run wr_1 ended COMPLETED (1 failed): "
        f"job {JOB} run jr_9 ended FAILED: OOM on executor"
    )


def test_workflow_error_without_graph_uses_the_run_message(stubbed: tuple[Any, Stubber]) -> None:
    """An ERROR run with no failed node falls back to the run's own ErrorMessage."""
    client, stub = stubbed
    stub.add_response("start_workflow_run", {"RunId": "wr_1"})
    errored = _workflow_run("ERROR")
    errored["Run"]["ErrorMessage"] = "Workflow run stopped: trigger deleted"
    stub.add_response("get_workflow_run", errored)
    stub.add_response("get_workflow_run", errored)
    with pytest.raises(PipelineFailedError, match="ended ERROR: Workflow run stopped"):
        run_workflow(client, WORKFLOW, _poller(FakeClock()), Messages())


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "job",
            f"job {JOB} already has a run in progress (Concurrent runs exceeded); wait for it "
            "to finish, then verify again (or verify without --run)",
        ),
        (
            "workflow",
            f"workflow {WORKFLOW} already has a run in progress (Concurrent runs exceeded); "
            "wait for it to finish, then verify again",
        ),
    ],
)
def test_a_refused_start_is_reported_busy_with_glues_reason(
    stubbed: tuple[Any, Stubber], kind: str, expected: str
) -> None:
    """Glue's ConcurrentRunsExceededException on a start is a busy pipeline, quoting Glue."""
    client, stub = stubbed
    operation, run = ("start_job_run", run_glue_job) if kind == "job" else (
        "start_workflow_run", run_workflow)  # fmt: skip
    stub.add_client_error(operation, "ConcurrentRunsExceededException", "Concurrent runs exceeded")
    with pytest.raises(PipelineBusyError) as info:
        run(client, JOB if kind == "job" else WORKFLOW, _poller(FakeClock()), Messages())
    assert str(info.value) == expected


def test_a_job_run_is_reported_each_poll_and_times_out_with_the_hint(
    stubbed: tuple[Any, Stubber],
) -> None:
    """Each poll of a job run reports its state; one still RUNNING at --timeout raises with
    the run, its last state and the hint."""
    client, stub = stubbed
    stub.add_response("start_job_run", {"JobRunId": "jr_1"})
    for state in ("STARTING", "RUNNING", "RUNNING"):  # at 0, 15 and 30 s with a 30 s deadline
        stub.add_response("get_job_run", _job_run(state), {"JobName": JOB, "RunId": "jr_1"})
    messages = Messages()
    with pytest.raises(WaitTimeoutError) as info:
        run_glue_job(client, JOB, _poller(FakeClock(), timeout=30.0), messages)
    assert messages == [f"job {JOB}: {s}" for s in ("STARTING", "RUNNING", "RUNNING")]
    assert str(info.value) == (
        f"job {JOB} run jr_1 still RUNNING after 30 s (the deadline passed); the run goes on"
        " in Glue. Raise --timeout"
    )


def test_a_workflow_run_reports_its_actions_each_poll(stubbed: tuple[Any, Stubber]) -> None:
    """Each poll of a workflow run reports its status and how many actions succeeded."""
    client, stub = stubbed
    stub.add_response("start_workflow_run", {"RunId": "wr_1"})
    stub.add_response("get_workflow_run", _workflow_run("RUNNING", SucceededActions=1))
    stub.add_response("get_workflow_run", _workflow_run("COMPLETED", SucceededActions=2))
    messages = Messages()
    run_workflow(client, WORKFLOW, _poller(FakeClock()), messages)
    assert messages == [
        f"workflow {WORKFLOW}: RUNNING, 1/2 actions succeeded",
        f"workflow {WORKFLOW}: COMPLETED, 2/2 actions succeeded",
    ]
