"""Run the deployed pipeline: the Glue workflow, or the job and then the crawler, and wait."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from spotify_ops.polling import (
    Clock,
    Poller,
    WaitTimeoutError,
    call_with_throttle_retry,
    error_code,
    error_message,
)

JOB_DONE: Final = frozenset({"SUCCEEDED", "FAILED", "TIMEOUT", "ERROR", "STOPPED", "EXPIRED"})
WORKFLOW_DONE: Final = frozenset({"COMPLETED", "STOPPED", "ERROR"})
CRAWL_FAILED: Final = frozenset({"FAILED", "CANCELLED", "ERROR"})
WORKFLOW_BAD_ACTIONS: Final = (
    "FailedActions",
    "TimeoutActions",
    "StoppedActions",
    "ErroredActions",
)

Progress = Callable[[str], None]


class PipelineFailedError(Exception):
    """A job run, crawl or workflow run ended badly; the message carries Glue's own reason."""


class PipelineBusyError(Exception):
    """Glue refused to start a run because one is already in progress."""


@dataclass(frozen=True)
class RunOutcome:
    kind: str
    """"workflow", "job" or "crawler"."""
    name: str
    run_id: str
    state: str
    detail: str = ""


def _elapsed(clock: Clock, started: float) -> str:
    seconds = int(clock.monotonic() - started)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _start_run(
    start: Callable[[], Mapping[str, Any]], id_key: str, clock: Clock, busy: Callable[[str], str]
) -> str:
    """Start a job or workflow run (throttling retried) and return its id. Glue refuses a
    second concurrent run: ``busy`` turns Glue's reason into what to tell the user."""
    try:
        return str(call_with_throttle_retry(start, clock)[id_key])
    except ClientError as exc:
        if error_code(exc) == "ConcurrentRunsExceededException":
            raise PipelineBusyError(busy(error_message(exc))) from None
        raise


def _wait_run(
    poller: Poller,
    run: str,
    state: str,
    read: Callable[[], dict[str, Any]],
    state_key: str,
    done: frozenset[str],
    report: Callable[[dict[str, Any], str], str],
    progress: Progress,
) -> tuple[dict[str, Any], str]:
    """Poll ``read`` until the run's ``state_key`` is one of ``done``, reporting each poll;
    returns the last answer and its state. ``run`` names the run, ``state`` is the one
    assumed before the first poll."""

    def probe() -> dict[str, Any] | None:
        nonlocal state
        answer = read()
        state = str(answer[state_key])
        progress(report(answer, state))
        return answer if state in done else None

    try:
        return poller.wait(probe, lambda: f"{run} still {state}"), state
    except WaitTimeoutError as exc:
        raise WaitTimeoutError(f"{exc}; the run goes on in Glue. Raise --timeout") from None


def run_glue_job(glue: Any, job_name: str, poller: Poller, progress: Progress) -> RunOutcome:
    """Start one job run and wait for its end; a run that did not succeed raises with
    Glue's ErrorMessage."""
    run_id = _start_run(
        lambda: glue.start_job_run(JobName=job_name),
        "JobRunId",
        poller.clock,
        lambda reason: (
            f"job {job_name} already has a run in progress ({reason}); "
            "wait for it to finish, then verify again (or verify without --run)"
        ),
    )
    started = poller.clock.monotonic()
    job_run, state = _wait_run(
        poller,
        f"job {job_name} run {run_id}",
        "STARTING",
        lambda: glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"],
        "JobRunState",
        JOB_DONE,
        lambda _, state: f"job {job_name}: {state}",
        progress,
    )
    if state != "SUCCEEDED":
        reason = job_run.get("ErrorMessage") or "Glue gave no error message"
        raise PipelineFailedError(f"job {job_name} run {run_id} ended {state}: {reason}")
    return RunOutcome("job", job_name, run_id, state, f"in {_elapsed(poller.clock, started)}")


def _crawler(glue: Any, crawler_name: str) -> dict[str, Any]:
    crawler: dict[str, Any] = glue.get_crawler(Name=crawler_name)["Crawler"]
    return crawler


def _last_crawl_start(crawler: Mapping[str, Any]) -> Any:
    return crawler.get("LastCrawl", {}).get("StartTime")


def _wait_crawler_ready(
    glue: Any,
    crawler_name: str,
    poller: Poller,
    progress: Progress,
    why: str = "",
    after: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Poll until the crawler is READY. With ``after`` (the crawler as seen before a start),
    READY counts only once the crawl has been seen running or its LastCrawl changed, so a
    poll that lands before Glue reports the new crawl is not taken for its end."""
    state = "RUNNING"
    seen_busy = after is None

    def probe() -> dict[str, Any] | None:
        nonlocal state, seen_busy
        crawler = _crawler(glue, crawler_name)
        state = str(crawler["State"])
        progress(f"crawler {crawler_name}: {state}{why}")
        if state != "READY":
            seen_busy = True
            return None
        if seen_busy or after is None or _last_crawl_start(crawler) != _last_crawl_start(after):
            return crawler
        return None

    return poller.wait(probe, lambda: f"crawler {crawler_name} still {state}{why}")


def run_crawler(glue: Any, crawler_name: str, poller: Poller, progress: Progress) -> RunOutcome:
    """Start a crawl and wait for it. A crawl already running (a schedule, a colleague) may
    have started before the job wrote, so it is waited for and then a fresh crawl starts."""

    def start() -> None:
        call_with_throttle_retry(lambda: glue.start_crawler(Name=crawler_name), poller.clock)

    before = _crawler(glue, crawler_name)
    try:
        start()
    except ClientError as exc:
        if error_code(exc) != "CrawlerRunningException":
            raise
        progress(f"crawler {crawler_name} is already running; waiting for it to finish")
        try:
            before = _wait_crawler_ready(
                glue, crawler_name, poller, progress, " (started elsewhere)"
            )
        except WaitTimeoutError as timeout:
            raise WaitTimeoutError(
                f"{timeout}; it was already running when verify tried to start it. "
                "Wait for it (or stop it with `aws glue stop-crawler`), then verify again"
            ) from None
        start()
    crawler = _wait_crawler_ready(glue, crawler_name, poller, progress, after=before)
    last = crawler.get("LastCrawl", {})
    status = str(last.get("Status", "SUCCEEDED"))
    if status in CRAWL_FAILED:
        reason = last.get("ErrorMessage") or "Glue gave no error message"
        raise PipelineFailedError(f"crawler {crawler_name} crawl ended {status}: {reason}")
    return RunOutcome("crawler", crawler_name, str(last.get("MessagePrefix", "")), status)


def _workflow_failures(run: Mapping[str, Any]) -> list[str]:
    """Glue's error messages from the nodes of a workflow run graph that did not succeed."""
    failures = []
    for node in run.get("Graph", {}).get("Nodes", []):
        name = node.get("Name", "?")
        for job_run in node.get("JobDetails", {}).get("JobRuns", []):
            if job_run.get("JobRunState") not in (None, "SUCCEEDED", "RUNNING", "STARTING"):
                reason = job_run.get("ErrorMessage") or "no error message"
                state = job_run["JobRunState"]
                failures.append(f"job {name} run {job_run.get('Id', '?')} ended {state}: {reason}")
        for crawl in node.get("CrawlerDetails", {}).get("Crawls", []):
            if crawl.get("State") in CRAWL_FAILED:
                reason = crawl.get("ErrorMessage") or "no error message"
                failures.append(f"crawler {name} crawl ended {crawl['State']}: {reason}")
    return failures


def run_workflow(glue: Any, workflow_name: str, poller: Poller, progress: Progress) -> RunOutcome:
    """Start the workflow (job, then crawler on success) and wait. Glue marks a workflow run
    COMPLETED even when an action failed, so the statistics decide."""
    run_id = _start_run(
        lambda: glue.start_workflow_run(Name=workflow_name),
        "RunId",
        poller.clock,
        lambda reason: (
            f"workflow {workflow_name} already has a run in progress "
            f"({reason}); wait for it to finish, then verify again"
        ),
    )
    started = poller.clock.monotonic()

    def report(run: dict[str, Any], status: str) -> str:
        stats = run.get("Statistics", {})
        return (
            f"workflow {workflow_name}: {status}, {stats.get('SucceededActions', 0)}/"
            f"{stats.get('TotalActions', '?')} actions succeeded"
        )

    run, status = _wait_run(
        poller,
        f"workflow {workflow_name} run {run_id}",
        "RUNNING",
        lambda: glue.get_workflow_run(Name=workflow_name, RunId=run_id)["Run"],
        "Status",
        WORKFLOW_DONE,
        report,
        progress,
    )
    stats = run.get("Statistics", {})
    bad = {k: stats[k] for k in WORKFLOW_BAD_ACTIONS if stats.get(k)}
    if status == "COMPLETED" and not bad:
        done = (
            f"{stats.get('SucceededActions', 0)} actions succeeded "
            f"in {_elapsed(poller.clock, started)}"
        )
        return RunOutcome("workflow", workflow_name, run_id, status, done)
    graph = glue.get_workflow_run(Name=workflow_name, RunId=run_id, IncludeGraph=True)["Run"]
    reasons = _workflow_failures(graph) or [run.get("ErrorMessage") or "Glue gave no reason"]
    counts = ", ".join(f"{v} {k.removesuffix('Actions').lower()}" for k, v in bad.items())
    raise PipelineFailedError(
        f"workflow {workflow_name} run {run_id} ended {status}"
        + (f" ({counts})" if counts else "")
        + ": "
        + "; ".join(reasons)
    )


def run_pipeline(
    glue: Any,
    job_name: str,
    crawler_name: str,
    workflow_name: str,
    use_workflow: bool,
    poller: Poller,
    progress: Progress,
) -> list[RunOutcome]:
    """The deployed pipeline once, end to end; every wait shares the poller's deadline."""
    if use_workflow:
        return [run_workflow(glue, workflow_name, poller, progress)]
    job = run_glue_job(glue, job_name, poller, progress)
    crawl = run_crawler(glue, crawler_name, poller, progress)
    return [job, crawl]
