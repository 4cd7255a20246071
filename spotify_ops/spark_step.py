"""Run a Spark step so that Ctrl-C stops it cleanly.

PySpark's own Ctrl-C handler cancels jobs through the py4j connection that the interrupted
call is still using, which breaks the connection and prints pages of py4j errors. Here the
step runs on a worker thread (its own py4j connection); Ctrl-C only sets a flag, and the
main thread, through its own connection, stops the session (when the CLI started it) or
cancels Spark's jobs until the step gives up.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from pyspark import SparkContext

T = TypeVar("T")

TICK_SECONDS: Final = 0.2
"""How often the waiting thread refreshes the display and checks for Ctrl-C."""
CANCEL_WAIT_SECONDS: Final = 60.0
"""How long an interrupted step may take to stop before the CLI stops waiting for it."""


@contextmanager
def sigint_sets(flag: threading.Event) -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) sets ``flag`` instead of raising. Signal
    handlers belong to the main thread; elsewhere the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda _signal, _frame: flag.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Ctrl-C during the block (a Spark start or stop, which py4j calls must not be torn
    out of) takes effect when the block ends, as ``KeyboardInterrupt``."""
    flag = threading.Event()
    with sigint_sets(flag):
        yield
    if flag.is_set():
        raise KeyboardInterrupt


def run_interruptibly(
    context: SparkContext,
    work: Callable[[], T],
    tick: Callable[[], None] = lambda: None,
    stop: Callable[[], None] | None = None,
) -> T:
    """``work()``'s result; ``tick()`` runs every ``TICK_SECONDS`` while it works.

    On Ctrl-C, ``stop()`` is called if given (stopping a session this process owns ends its
    jobs, and makes every later Spark call of ``work`` fail at once, also between jobs);
    otherwise Spark's jobs are cancelled until ``work`` returns or raises. ``work``'s error
    is then only the consequence, and ``KeyboardInterrupt`` is raised."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the waiting thread
            failure.append(error)

    interrupted = threading.Event()
    worker = threading.Thread(target=target, name="spotify-spark-step", daemon=True)
    with sigint_sets(interrupted):
        worker.start()
        while worker.is_alive() and not interrupted.is_set():
            worker.join(TICK_SECONDS)
            if worker.is_alive() and not interrupted.is_set():
                tick()
        if interrupted.is_set():
            if stop is not None:
                stop()
            deadline = time.monotonic() + CANCEL_WAIT_SECONDS
            while worker.is_alive() and time.monotonic() < deadline:
                if stop is None:
                    context.cancelAllJobs()
                worker.join(TICK_SECONDS)
            raise KeyboardInterrupt
    if failure:
        raise failure[0]
    return outcome[0]
