"""The benchmark's peak-memory figure: a forked copy of a process is not counted again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.job_benchmark import tree_rss_bytes

BALLAST_MIB = 200
HELPER_MIB = 100
SLACK = 10 * 2**20
"""RSS is read at different instants; pages can move a little in between."""

# Another program (the same interpreter, another command line) holding memory of its own.
HELPER = f"import sys; b = b'y' * ({HELPER_MIB} * 2**20); print(1, flush=True); sys.stdin.read()"

# Holds touched memory, forks a copy of itself that never runs another program (as the JVM
# does for an instant before each helper process it starts), starts a helper program that
# holds memory of its own, and waits.
FORKING_PARENT = f"""
import os, subprocess, sys, time
ballast = b"x" * ({BALLAST_MIB} * 2**20)
helper = subprocess.Popen(
    [sys.executable, "-c", {HELPER!r}],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
)
helper.stdout.readline()
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
print(child, helper.pid, flush=True)
sys.stdin.read()
os.kill(child, 9)
os.waitpid(child, 0)
helper.communicate("")
"""


def _rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_forked_copy_is_not_counted_again_and_a_helper_program_is_counted() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", FORKING_PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child, helper = (int(pid) for pid in parent.stdout.readline().split())
        copy_rss, parent_rss, helper_rss = (_rss_bytes(p) for p in (child, parent.pid, helper))
        tree = tree_rss_bytes(parent.pid)
    finally:
        parent.communicate("")
    # /proc reports the ballast in both the parent and its copy; the tree holds it once.
    assert copy_rss > BALLAST_MIB * 2**20
    assert helper_rss > HELPER_MIB * 2**20
    expected = parent_rss + helper_rss
    assert expected - SLACK <= tree <= expected + SLACK
