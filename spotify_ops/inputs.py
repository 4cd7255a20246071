"""The input folder of a local run, checked in plain Python before Spark starts.

Every message names the user's own file (not the staged copy) and, for a header, its line.
The rules are the job's own input check (``spotify_glue.sources.check_input``): the contract's
file names (``JOB_SOURCES``), a first line that is the contract's header, read as the job
reads it (UTF-8, a byte-order mark ignored, CSV-quoted, lines split at LF). Only the head of
each file is read, so the check takes milliseconds at any file size.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Final

from spotify_glue.contract import DENORMALISED_FILE_NAME, JOB_SOURCES, SourceFile
from spotify_glue.records import (
    RecordLayoutError,
    check_head,
    first_line_problem,
    header_line,
)

NEAR_MISS_SIMILARITY: Final = 0.85
"""How alike (difflib ratio, case-insensitive) a stray file name must be to suggest it."""

HEADER_READ_LIMIT: Final = 1 << 20
"""Bytes read looking for the end of line 1; a real header is under 1 KB."""


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def missing_file_problems(input_dir: Path) -> list[str]:
    """One message per job input file that is not in ``input_dir`` under its exact name,
    naming the expected file and the near-miss most like it, if any."""
    expected_names = {s.file_name for s in JOB_SOURCES}
    present = {p.name for p in input_dir.iterdir()}
    missing = [s for s in JOB_SOURCES if s.file_name not in present]
    if not missing:
        return []
    # Each stray file is a near-miss of at most one missing file: the one it resembles most.
    near_miss: dict[str, tuple[float, str]] = {}
    for stray in sorted(present - expected_names - {DENORMALISED_FILE_NAME}):
        score, closest = max((_similarity(stray, s.file_name), s.file_name) for s in missing)
        if score >= NEAR_MISS_SIMILARITY and score > near_miss.get(closest, (0.0, ""))[0]:
            near_miss[closest] = (score, stray)
    problems = []
    for source in missing:
        hint = ""
        if source.file_name in near_miss:
            stray = near_miss[source.file_name][1]
            hint = f"; found {stray!r}: rename it to {source.file_name!r}"
        problems.append(f"missing {source.key} file: expected {source.file_name!r}{hint}")
    return problems


def read_head(path: Path) -> bytes:
    """The file's first HEADER_READ_LIMIT bytes."""
    with path.open("rb") as handle:
        return handle.read(HEADER_READ_LIMIT)


def line_break_problem(head: bytes, path: Path, source: SourceFile) -> str | None:
    """The job's own rule (``records.check_head``): split at LF, as the job splits lines,
    line 1 must be the header; it is not when the file breaks lines with CR alone."""
    try:
        check_head(head, str(path), source)
    except RecordLayoutError as error:
        return str(error)
    return None


def file_problem(path: Path, source: SourceFile) -> str | None:
    """What is wrong with one input file's first line, naming the file and line; None if
    it is the contract's header."""
    expected = ",".join(source.header)
    if not path.is_file():
        return f"{path} is not a file; it must be the {source.key} CSV"
    try:
        head = read_head(path)
    except OSError as error:
        return f"cannot read {path}: {error.strerror or error}"
    if not head:
        return f"{path} is empty; line 1 must be the {source.key} header: {expected}"
    line = header_line(head)
    try:
        text = line.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        return (
            f"{path} line 1 is not UTF-8 (byte 0x{line[error.start]:02x} at column "
            f"{error.start + 1}); save the file as UTF-8"
        )
    if not text.strip():
        return f"{path} line 1 is blank; it must be the {source.key} header: {expected}"
    problem = first_line_problem(source, text)
    if problem is None:
        return line_break_problem(head, path, source)
    return (
        f"{path} line 1 is not the {source.key} header of the Spotify 2023 files: {problem}. "
        f"Expected: {expected}"
    )


def input_problems(input_dir: Path) -> list[str]:
    """Everything wrong with the input folder, one message per problem; empty when the job
    can read it."""
    if not input_dir.exists():
        expected = ", ".join(s.file_name for s in JOB_SOURCES)
        return [f"input folder {input_dir} does not exist; it must hold {expected}"]
    if not input_dir.is_dir():
        return [f"--input {input_dir} is a file; give the folder that holds the CSVs"]
    problems = missing_file_problems(input_dir)
    for source in JOB_SOURCES:
        path = input_dir / source.file_name
        if path.exists():
            problem = file_problem(path, source)
            if problem is not None:
                problems.append(problem)
    return problems
