"""Polling helpers: deadlines, backoff and throttling retries on a driven clock."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from spotify_ops.polling import (
    Backoff,
    Deadline,
    Poller,
    WaitTimeoutError,
    call_with_throttle_retry,
)
from tests.cli.verify_support import FakeClock


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetThing")


def test_backoff_doubles_up_to_its_cap() -> None:
    """Delays grow by the factor and then stay at the maximum."""
    backoff = Backoff(initial=0.25, maximum=1.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_poller_never_sleeps_past_its_deadline() -> None:
    """The last sleep is cut to the time left, and the timeout says what was waited for."""
    clock = FakeClock()
    poller = Poller(clock, Deadline(clock, 10.0), Backoff(initial=4.0, maximum=4.0))
    with pytest.raises(WaitTimeoutError, match=r"^thing still busy after 10 s"):
        poller.wait(lambda: None, lambda: "thing still busy")
    assert clock.sleeps == [4.0, 4.0, 2.0]


def test_poller_counts_throttles_as_not_done() -> None:
    """A throttled probe is retried, and the wait still returns the probe's answer."""
    clock = FakeClock()
    answers: list[ClientError | str | None] = [_error("ThrottlingException"), None, "done"]

    def probe() -> str | None:
        answer = answers.pop(0)
        if isinstance(answer, ClientError):
            raise answer
        return answer

    poller = Poller(clock, Deadline(clock, 60.0), Backoff(initial=1.0, maximum=8.0))
    assert poller.wait(probe, lambda: "x") == "done"
    assert poller.throttled == 1
    assert clock.sleeps == [2.0, 4.0]


def test_other_errors_propagate_at_once() -> None:
    """Only throttling is retried: any other AWS error surfaces on the first call."""
    clock, calls = FakeClock(), []

    def call() -> str:
        calls.append(1)
        raise _error("AccessDeniedException")

    with pytest.raises(ClientError, match="AccessDeniedException"):
        call_with_throttle_retry(call, clock)
    assert (len(calls), clock.sleeps) == (1, [])


def test_throttle_retries_give_up_after_the_last_attempt() -> None:
    """Throttled on every attempt: the last error is raised after attempts - 1 sleeps."""
    clock = FakeClock()

    def call() -> str:
        raise _error("TooManyRequestsException")

    with pytest.raises(ClientError, match="TooManyRequestsException"):
        call_with_throttle_retry(call, clock, attempts=3)
    assert clock.sleeps == [1.0, 2.0]
