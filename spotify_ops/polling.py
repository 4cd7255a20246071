"""Waiting on AWS: a clock that tests can drive, deadlines, backoff and throttling retries.

botocore's own retry modes already back off on throttling; this layer covers what is left
when a poll loop hammers a Describe/Get call for minutes and AWS throttles it anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

THROTTLING_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time; the default everywhere except tests."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class WaitTimeoutError(Exception):
    """Something did not finish before its deadline; the message says what and its state."""


def error_code(exc: ClientError) -> str:
    error: dict[str, Any] = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def error_message(exc: ClientError) -> str:
    """AWS's own message only: never the response body, which can echo signing details."""
    error: dict[str, Any] = exc.response.get("Error", {})
    return str(error.get("Message", "")).strip()


def is_throttling(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in THROTTLING_CODES


@dataclass
class Backoff:
    """Exponential delays: ``initial``, then times ``factor``, capped at ``maximum``."""

    initial: float
    maximum: float
    factor: float = 2.0
    _next: float = field(init=False)

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay


@dataclass
class Deadline:
    clock: Clock
    seconds: float
    _ends_at: float = field(init=False)

    def __post_init__(self) -> None:
        self._ends_at = self.clock.monotonic() + self.seconds

    def remaining(self) -> float:
        return max(0.0, self._ends_at - self.clock.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0


@dataclass
class Poller:
    """Polls a probe until it reports done or the deadline passes.

    The probe returns ``None`` while the thing is still in progress. A throttled probe counts
    as "not done yet" and doubles the next delay, so one busy minute does not abort a run.
    """

    clock: Clock
    deadline: Deadline
    backoff: Backoff
    throttled: int = 0

    def wait(self, probe: Callable[[], T | None], describe: Callable[[], str]) -> T:
        while True:
            try:
                result = probe()
            except ClientError as exc:
                if not is_throttling(exc):
                    raise
                self.throttled += 1
                result = None
                self.backoff.next_delay()
            if result is not None:
                return result
            remaining = self.deadline.remaining()
            if remaining <= 0.0:
                raise WaitTimeoutError(
                    f"{describe()} after {self.deadline.seconds:g} s (the deadline passed)"
                )
            self.clock.sleep(min(self.backoff.next_delay(), remaining))


def call_with_throttle_retry(
    call: Callable[[], T], clock: Clock, attempts: int = 5, backoff: Backoff | None = None
) -> T:
    """One API call, retried on throttling only; other errors propagate at once."""
    delays = backoff or Backoff(initial=1.0, maximum=20.0)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ClientError as exc:
            if not is_throttling(exc) or attempt == attempts:
                raise
            clock.sleep(delays.next_delay())
    raise ValueError(f"attempts must be at least 1, got {attempts}")
