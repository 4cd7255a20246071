"""Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group (the CLI and
the Spark JVM it started) while the Glue job runs on Spark. This test starts its own JVM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from spotify_ops.exit_codes import ExitCode
from spotify_ops.local_run import Layout
from tests.cli.conftest import copy_sample, snapshot

SETTLE_SECONDS = 1.0
"""Time after Spark has started, so the interrupt lands inside the job's Spark work."""


def test_ctrl_c_during_the_job_is_one_line_exit_130_and_harms_nothing(demo_copy, tmp_path):
    """Ctrl-C while the job runs: exit 130 with progress lines and one closing line (no
    traceback, no py4j error, no Spark log line), nothing on stdout, the input folder's bytes
    unchanged, the previous table, summaries and report unchanged, no half-written folder
    left, and Spark's own log in the output folder."""
    input_dir = copy_sample(tmp_path / "in")
    input_before = snapshot(input_dir)
    layout = Layout(demo_copy)
    kept = ("warehouse", "report.html", "staging")
    before = {k: v for k, v in snapshot(demo_copy).items() if k.startswith(kept)}
    command = [sys.executable, "-m", "spotify_ops", "local-run"]
    process = subprocess.Popen(
        [*command, "--input", str(input_dir), "--out", str(demo_copy)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("✓ spark"):
            break
    time.sleep(SETTLE_SECONDS)
    os.killpg(process.pid, signal.SIGINT)
    stdout, rest = process.communicate(timeout=120)
    stderr = "".join(seen) + rest
    lines = stderr.strip().splitlines()

    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert "✓ write" not in stderr, "the interrupt came after the job"
    assert all(line.startswith("✓ ") for line in lines[:-1]), stderr
    assert lines[-1] == (
        "local-run interrupted: nothing was published; the table and report are as they were"
    )
    for noise in ("Traceback", "py4j", "WARN", "ERROR"):
        assert noise not in stderr
    assert stdout == ""
    assert snapshot(input_dir) == input_before
    assert {k: v for k, v in snapshot(demo_copy).items() if k.startswith(kept)} == before
    assert not list(demo_copy.glob(".partial-*"))
    assert layout.spark_log.is_file()
