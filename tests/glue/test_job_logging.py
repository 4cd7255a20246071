"""The Glue entry point's logging: the job's INFO lines reach standard output (CloudWatch on
Glue) even when the runtime configured the root logger first."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from spotify_glue import etl


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Leave the root and ``spotify_glue`` loggers as they were (other tests capture them)."""
    root, job = logging.getLogger(), logging.getLogger("spotify_glue")
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in (root, job)]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("restored_logging")
def test_job_info_lines_reach_stdout_when_the_root_logger_was_set_up_first():
    """A runtime that gave the root logger a WARNING handler before main() (basicConfig then
    does nothing) still gets the job's INFO lines, once each, after a second call too."""
    root = logging.getLogger()
    root.handlers[:] = [logging.StreamHandler(io.StringIO())]
    root.setLevel(logging.WARNING)
    out = io.StringIO()
    etl.configure_job_logging(out)
    etl.configure_job_logging(out)
    etl.LOG.info("run %s published %d rows", "r1", 5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("INFO spotify_glue.etl run r1 published 5 rows")
