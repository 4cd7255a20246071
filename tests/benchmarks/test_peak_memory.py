"""The benchmark's peak-memory figure: each page a process tree holds is counted once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.job_benchmark import tree_rss_bytes

BALLAST_MIB = 200

# Holds touched memory, forks a copy of itself that never runs another program (as the JVM
# does for an instant before each helper process it starts), and waits.
FORKING_PARENT = f"""
import os, sys, time
ballast = b"x" * ({BALLAST_MIB} * 2**20)
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
sys.stdin.read()
os.kill(child, 9)
os.waitpid(child, 0)
"""


def _rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_forked_copy_that_runs_no_other_program_is_not_counted_again() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", FORKING_PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        copy_rss, parent_rss = _rss_bytes(child), _rss_bytes(parent.pid)
        tree = tree_rss_bytes(parent.pid)
    finally:
        parent.communicate("")
    # /proc reports the ballast in both processes; the tree holds it once.
    assert copy_rss > BALLAST_MIB * 2**20
    assert parent_rss <= tree < parent_rss + 50 * 2**20
