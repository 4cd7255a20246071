"""`spotify-ops local-run` never harms the user's files and never shows a traceback: unsafe or
unusable folders are refused with one line naming the fix (exit 2), the input folder is
checked before Spark starts, a failed job leaves the previous run as it was, and the run
shows its stages with row counts. Every run here goes through `invoke_local_run`, which
also asserts that the input folder's bytes are unchanged."""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from spotify_glue import etl
from spotify_glue.contract import (
    ALBUMS,
    ARTISTS,
    DENORMALISED_FILE_NAME,
    FEATURES,
    JOB_SOURCES,
    TRACKS,
)
from spotify_glue.layout import WarehouseLayout
from spotify_glue.run_summary import RunSummary
from spotify_glue.sources import InputFileError, check_input

from spotify_ops import local_run as local_run_module
from spotify_ops.exit_codes import ExitCode
from spotify_ops.inputs import HEADER_READ_LIMIT, input_problems
from spotify_ops.local_run import Layout
from spotify_ops.out_folder import (
    MARKER_NAME,
    MARKER_TEXT,
    PATTERN_CHARACTERS,
    SCRATCH_PREFIX,
    remove_owned,
)
from tests.cli.conftest import copy_sample, deny_reading, invoke_local_run, snapshot
from tests.conftest import REPO_ROOT, SAMPLE_DIR

SIGNAL_DELAY_SECONDS = 1.0
"""Long enough for the Spark job to have started when the signal arrives."""


def error_line(result) -> str:
    """The run's only output line, which must be an error message without a traceback."""
    lines = result.output.strip().splitlines()
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    return str(lines[0])


def no_spark(*_args, **_kwargs):
    raise AssertionError("Spark was started")


@pytest.fixture
def spark_forbidden(monkeypatch):
    """Any attempt to start (or reuse) Spark fails the test."""
    monkeypatch.setattr(local_run_module, "spark_session", no_spark)


# --- Input and output folders that overlap (issue 10, item 1) ---------------------------------


@pytest.mark.usefixtures("spark_forbidden")
def test_the_reported_case_input_inside_out_is_refused_and_the_input_kept(tmp_path):
    """`--input out/x/staging --out out/x` (the input is the folder staging would replace) is
    refused with one line, and neither the input nor the output folder changes."""
    out = tmp_path / "out" / "x"
    staging = copy_sample(out / "staging")
    before = snapshot(out)
    result = invoke_local_run(staging, out)
    assert result.exit_code == ExitCode.USAGE
    line = error_line(result)
    assert "overlap (--input is inside --out)" in line
    assert "choose an --out folder that does not contain" in line
    assert snapshot(out) == before


def _same(tmp: Path, data: Path) -> Path:
    return data


def _inside_input(tmp: Path, data: Path) -> Path:
    return data / "out"


def _symlink_to_input(tmp: Path, data: Path) -> Path:
    link = tmp / "alias"
    link.symlink_to(data, target_is_directory=True)
    return link / "out"


def _symlink_to_a_parent(tmp: Path, data: Path) -> Path:
    link = tmp / "parent-link"
    link.symlink_to(data.parent, target_is_directory=True)
    return link


@pytest.mark.usefixtures("spark_forbidden")
@pytest.mark.parametrize(
    ("out_of", "relation"),
    [
        (_same, "they are the same folder"),
        (_inside_input, "--out is inside --input"),
        (_symlink_to_input, "--out is inside --input"),
        (_symlink_to_a_parent, "--input is inside --out"),
    ],
)
def test_overlapping_folders_are_refused_after_resolving_symlinks(tmp_path, out_of, relation):
    """An --out that is the input, lies inside it, or contains it (also through a symlink)
    is refused with one line, and nothing is created or changed."""
    data = copy_sample(tmp_path / "data" / "in")
    out = out_of(tmp_path, data)
    before = snapshot(tmp_path)
    result = invoke_local_run(data, out)
    assert result.exit_code == ExitCode.USAGE
    assert f"overlap ({relation})" in error_line(result)
    assert snapshot(tmp_path) == before


# --- An output folder local-run did not create -------------------------------------------------


@pytest.mark.usefixtures("spark_forbidden")
def test_a_folder_of_other_files_is_refused_and_left_alone(tmp_path):
    """A non-empty --out without local-run's marker (here someone's own staging/ and
    report.html) is refused with one line, and not one of its files changes."""
    out = tmp_path / "mine"
    (out / "staging").mkdir(parents=True)
    (out / "staging" / "notes.txt").write_text("keep me", encoding="utf-8")
    (out / "report.html").write_text("my own report", encoding="utf-8")
    before = snapshot(out)
    result = invoke_local_run(SAMPLE_DIR, out)
    assert result.exit_code == ExitCode.USAGE
    line = error_line(result)
    assert f"--out {out} already holds files that local-run did not write" in line
    assert "choose a new or empty folder" in line
    assert snapshot(out) == before


def test_an_empty_folder_is_claimed_with_the_marker(tmp_path, spark_forbidden):
    """An empty --out is used: after the input check it gets the marker that makes it
    local-run's own (the run then stops here, as Spark is not allowed in this test)."""
    out = tmp_path / "empty"
    out.mkdir()
    with pytest.raises(AssertionError, match="Spark was started"):
        local_run_module.local_run(SAMPLE_DIR, out, console=None)
    assert (out / MARKER_NAME).is_file()


def test_deletes_are_refused_outside_a_marked_folder(tmp_path):
    """The one delete function refuses a path in a folder without the marker, and a path
    that only reaches into a marked folder through a symlink."""
    foreign = tmp_path / "foreign"
    (foreign / "staging").mkdir(parents=True)
    with pytest.raises(ValueError, match="not inside a folder local-run owns"):
        remove_owned(foreign / "staging", foreign)
    owned = tmp_path / "owned"
    owned.mkdir()
    (owned / MARKER_NAME).write_text("", encoding="utf-8")
    (owned / "door").symlink_to(foreign, target_is_directory=True)
    with pytest.raises(ValueError, match="not inside a folder local-run owns"):
        remove_owned(owned / "door" / "staging", owned)
    remove_owned(owned / "door", owned)  # the link itself, not what it points at
    assert (foreign / "staging").is_dir()
    assert not (owned / "door").exists()


def test_a_rerun_into_its_own_out_publishes_again_and_keeps_the_previous_run(demo_copy):
    """Running again into an output folder local-run wrote succeeds: a new run is published
    with the same row count, the previous run's folder is kept for rollback, and the
    staging copy again equals the input."""
    layout = Layout(demo_copy)
    previous = layout.published_run()
    assert previous is not None
    result = invoke_local_run(SAMPLE_DIR, demo_copy)
    assert result.exit_code == ExitCode.OK, result.output
    published = layout.published_run()
    assert published is not None
    assert published.run_id != previous.run_id
    assert published.rows_written == previous.rows_written
    assert Path(previous.table_location).is_dir()
    assert snapshot(layout.staging) == snapshot(SAMPLE_DIR)


# --- Run summaries in --out that cannot be read -------------------------------------------------

OLD_SUMMARY = RunSummary(
    run_id="20260101T000000Z-aaaaaaaa",
    status="published",
    started_at="2026-01-01T00:00:00Z",
    finished_at="2026-01-01T00:01:00Z",
    rows_read={},
    rows_quarantined={},
    duplicates_removed={},
    dropped_no_artist=0,
    dropped_no_track=0,
    rows_without_features=0,
    rows_written=0,
)


def _older_format() -> bytes:
    """A summary without a field this version writes, as an older version wrote it."""
    text = OLD_SUMMARY.to_json()
    return text.replace('  "gate_failures": [],\n', "").encode()


DAMAGED_SUMMARIES = [
    pytest.param(lambda: b"{x", "Expecting property name", id="not-json"),
    pytest.param(_older_format, "missing ['gate_failures']", id="older-format"),
    pytest.param(lambda: b"\xff\xfe", "can't decode byte 0xff", id="not-utf8"),
]


def _owned_out_with(tmp_path: Path, location: str, content: bytes) -> tuple[Path, Path]:
    """A --out folder local-run marked as its own, holding ``content`` at the summary
    ``location`` names (a property of ``WarehouseLayout``) and a scratch leftover."""
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER_NAME).write_text(MARKER_TEXT, encoding="utf-8")
    (out / f"{SCRATCH_PREFIX}leftover").mkdir()
    path = Path(getattr(WarehouseLayout(str(out / "warehouse")), location))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return out, path


@pytest.mark.usefixtures("spark_forbidden")
@pytest.mark.parametrize("location", ["published_location", "summary_location"])
@pytest.mark.parametrize(("content", "reason"), DAMAGED_SUMMARIES)
def test_a_summary_that_cannot_be_read_is_one_line_before_spark(
    tmp_path, location, content, reason
):
    """A published-run pointer or last-run summary in --out that is not JSON, lacks a field
    (an older version's) or is not UTF-8 ends the run with exit 2 and one line naming the
    file, the reason and the fix, before Spark starts; nothing in --out changes."""
    out, path = _owned_out_with(tmp_path, location, content())
    before = snapshot(out)
    result = invoke_local_run(SAMPLE_DIR, out)
    assert result.exit_code == ExitCode.USAGE, result.output
    line = " ".join(error_line(result).split())
    assert f"local-run failed: cannot read the run summary {path} (" in line
    assert reason in line
    assert f"remove that file, or the whole --out folder {out} (local-run's own)" in line
    assert snapshot(out) == before


@pytest.mark.usefixtures("spark_forbidden")
def test_an_unreadable_summary_is_one_line_naming_it(tmp_path, monkeypatch):
    """A published-run pointer local-run may not read (permission denied) is reported like a
    damaged one: exit 2, one line naming the file and the fix, and nothing changes."""
    out, path = _owned_out_with(tmp_path, "published_location", OLD_SUMMARY.to_json().encode())
    deny_reading(monkeypatch, path)
    before = snapshot(out)
    result = invoke_local_run(SAMPLE_DIR, out)
    assert result.exit_code == ExitCode.USAGE, result.output
    line = " ".join(error_line(result).split())
    assert f"cannot read the run summary {path} (Permission denied): remove that file" in line
    assert snapshot(out) == before


# --- Unusable --out values (issue 10, item 7) --------------------------------------------------


def _a_file(tmp: Path) -> Path:
    path = tmp / "results.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    return path


def _under_a_file(tmp: Path) -> Path:
    return _a_file(tmp) / "out"


def _under_proc(tmp: Path) -> Path:
    return Path("/proc/spotify-ops-out")


@pytest.mark.usefixtures("spark_forbidden")
@pytest.mark.parametrize(
    ("out_of", "message"),
    [
        (_a_file, "is a file, not a folder; give the path of a new or empty folder"),
        (_under_a_file, "Not a directory; choose a folder you can write to"),
        (_under_proc, "choose a folder you can write to"),
    ],
)
def test_an_unusable_out_is_one_line_and_exit_2(tmp_path, out_of, message):
    """--out naming a file, a path below a file, or a place nobody can create a folder
    (/proc) fails with one line naming the fix, and changes nothing."""
    out = out_of(tmp_path)
    before = snapshot(tmp_path)
    result = invoke_local_run(SAMPLE_DIR, out)
    assert result.exit_code == ExitCode.USAGE
    line = error_line(result)
    assert str(out) in line
    assert message in line
    assert snapshot(tmp_path) == before


@pytest.mark.usefixtures("spark_forbidden")
@pytest.mark.parametrize("name", ["out[1]", "out*", "run?", "out{a,b}", "back\\slash"])
def test_an_out_spark_would_read_as_a_pattern_is_refused(tmp_path, name):
    """A --out path with a character Hadoop's globbing reads as a pattern or an escape is
    refused with one line naming the character; nothing is created."""
    result = invoke_local_run(SAMPLE_DIR, tmp_path / name)
    assert result.exit_code == ExitCode.USAGE
    line = error_line(result)
    assert "which Spark reads as a file-name pattern" in line
    found = sorted(set(name) & set(PATTERN_CHARACTERS))
    assert f"contains {' '.join(found)}," in line
    assert list(tmp_path.iterdir()) == []


def test_spark_reads_a_bracketed_folder_as_a_pattern(spark, tmp_path):
    """Why such paths are refused rather than passed on: Spark reads `x[1]/f.csv` as the
    pattern `x1/f.csv`, so it silently reads another folder's file."""
    for folder, value in (("x[1]", "from x[1]"), ("x1", "from x1")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "f.csv").write_text(f"a\n{value}\n", encoding="utf-8")
    rows = spark.read.option("header", "true").csv(str(tmp_path / "x[1]" / "f.csv")).collect()
    assert [r["a"] for r in rows] == ["from x1"]


# --- The input folder, checked before Spark (issue 10, item 8) ---------------------------------


def _empty(text: str) -> bytes:
    return b""


def _blank_first_line(text: str) -> bytes:
    return ("\n" + text).encode()


def _renamed_column(text: str) -> bytes:
    header, rest = text.split("\n", 1)
    return (header.replace("followers", "follower") + "\n" + rest).encode()


def _swapped_columns(text: str) -> bytes:
    header, rest = text.split("\n", 1)
    first, second, *others = header.split(",")
    return (",".join([second, first, *others]) + "\n" + rest).encode()


def _latin1_header(text: str) -> bytes:
    header, rest = text.split("\n", 1)
    return header.encode() + b",caf\xe9\n" + rest.encode()


def _two_byte_order_marks(text: str) -> bytes:
    return ("\ufeff\ufeff" + text).encode()


def _cr_line_breaks(text: str) -> bytes:
    return text.replace("\n", "\r").encode()


def _oversized_first_field(text: str) -> bytes:
    """A first line longer than the csv module's field limit (128 KiB), with no comma."""
    return ("x" * 2_000_000 + text).encode()


BAD_FILES = [
    (ALBUMS, _empty, "{path} is empty; line 1 must be the albums header"),
    (TRACKS, _blank_first_line, "{path} line 1 is blank; it must be the tracks header"),
    (ARTISTS, _renamed_column, "missing columns ['followers'], unexpected columns ['follower']"),
    (FEATURES, _swapped_columns, "{path} line 1 is not the features header"),
    (ARTISTS, _latin1_header, "{path} line 1 is not UTF-8 (byte 0xe9 at column"),
    (ALBUMS, _two_byte_order_marks, "{path} line 1 is not the albums header"),
    (TRACKS, _cr_line_breaks, "{path}: the first line is not the header when lines are split"),
    (
        ARTISTS,
        _oversized_first_field,
        "{path} line 1 is not the artists header of the Spotify 2023 files: it does not read "
        "as CSV (field larger than field limit (131072))",
    ),
]


@pytest.mark.usefixtures("spark_forbidden")
@pytest.mark.parametrize(("source", "spoil", "expected"), BAD_FILES)
def test_a_bad_input_file_is_named_with_its_line_before_spark(tmp_path, source, spoil, expected):
    """An empty file, a blank or wrong header, a header that is not UTF-8, or lines broken
    with CR alone fails before Spark starts (and before --out is created), naming the user's
    own file and line."""
    folder = copy_sample(tmp_path / "in")
    path = folder / source.file_name
    path.write_bytes(spoil(path.read_text(encoding="utf-8")))
    result = invoke_local_run(folder, tmp_path / "out")
    assert result.exit_code == ExitCode.USAGE
    assert expected.format(path=path) in error_line(result)
    assert not (tmp_path / "out").exists()


def test_the_input_check_agrees_with_the_jobs_own(spark, tmp_path):
    """For every bad file above, the job's own input check refuses the same file, and both
    accept a header with a byte-order mark and CRLF line ends, so the early check never
    refuses what the job would read, nor lets through what it would refuse."""
    for index, (source, spoil, _) in enumerate(BAD_FILES):
        folder = copy_sample(tmp_path / f"bad{index}")
        path = folder / source.file_name
        path.write_bytes(spoil(path.read_text(encoding="utf-8")))
        assert input_problems(folder), source.key
        with pytest.raises(InputFileError):
            check_input(spark, str(folder), source)
    folder = copy_sample(tmp_path / "bom-crlf")
    for source in JOB_SOURCES:
        path = folder / source.file_name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
        check_input(spark, str(folder), source)
    assert input_problems(folder) == []


def test_a_folder_where_a_file_should_be_is_named(tmp_path):
    """A folder under an input file's name is reported as not a file, once."""
    folder = copy_sample(tmp_path / "in")
    (folder / TRACKS.file_name).unlink()
    (folder / TRACKS.file_name).mkdir()
    assert input_problems(folder) == [
        f"{folder / TRACKS.file_name} is not a file; it must be the tracks CSV"
    ]


class CountingReader:
    """A binary file handle that adds the bytes read through it to ``counts[name]``."""

    def __init__(self, handle: Any, name: str, counts: dict[str, int]) -> None:
        self.handle, self.name, self.counts = handle, name, counts

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        self.counts[self.name] = self.counts.get(self.name, 0) + len(data)
        return data

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.handle.close()


def test_the_input_check_reads_only_the_head_of_each_file(tmp_path, monkeypatch):
    """The check's cost does not grow with file size: of an albums file three times
    HEADER_READ_LIMIT long it reads at most HEADER_READ_LIMIT bytes, as of every file."""
    folder = copy_sample(tmp_path / "in")
    albums = folder / ALBUMS.file_name
    row = albums.read_text(encoding="utf-8").split("\n")[1] + "\n"
    with albums.open("a", encoding="utf-8") as handle:
        handle.write(row * (3 * HEADER_READ_LIMIT // len(row)))
    counts: dict[str, int] = {}
    real_open = Path.open

    def counting_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return CountingReader(real_open(self, mode, *args, **kwargs), self.name, counts)

    monkeypatch.setattr(Path, "open", counting_open)
    assert input_problems(folder) == []
    monkeypatch.undo()
    assert set(counts) == {source.file_name for source in JOB_SOURCES}
    assert albums.stat().st_size > 3 * HEADER_READ_LIMIT - len(row)
    assert max(counts.values()) <= HEADER_READ_LIMIT


# --- Stage progress (issue 10, item 9) ----------------------------------------------------------


def test_the_run_shows_each_stage_in_order_with_row_counts(demo_run):
    """The demo run prints one line per stage, in order, and the job's stages carry the
    row counts of the run summary: rows read per source, rows after the joins, rows written."""
    summary = RunSummary.from_json(Path(demo_run.layout.summary_location).read_text("utf-8"))
    stages = re.findall(r"^✓ (\w+) +(.*)$", demo_run.output, flags=re.MULTILINE)
    names = [name for name, _ in stages]
    assert names == [
        "inputs",
        "stage",
        "spark",
        "read",
        "classify",
        "join",
        "write",
        "checks",
        "queries",
        "report",
    ]
    lines = dict(stages)
    for source in JOB_SOURCES:
        assert f"{source.key} {summary.rows_read[source.key]:,}" in lines["read"]
    assert f"{summary.total_read:,} rows" in lines["read"]
    assert f"{summary.total_quarantined:,} rows quarantined" in lines["classify"]
    assert f"{summary.rows_written:,} rows after the joins; gate passed" in lines["join"]
    assert f"{summary.rows_written:,} rows to {summary.table_location}" in lines["write"]


# --- A failed job (the log file) and an interrupt inside Spark ----------------------------------


def _warehouse_and_report(out: Path) -> dict[str, str]:
    return {
        key: digest
        for key, digest in snapshot(out).items()
        if key.startswith(("warehouse", "report.html"))
    }


def test_a_failed_job_is_one_line_naming_the_log_and_leaves_the_previous_run(
    demo_copy, monkeypatch
):
    """A Spark error after this run has written its first files (the quarantine) ends the
    run with exit 1 and one error line naming the log, which holds the full error; the
    unpublished run's folder is removed, so the warehouse and report are as before."""
    real_write = etl.write_quarantine

    def write_then_fail(fates, location):
        real_write(fates, location)
        assert any(Path(location).glob("*.json"))
        fates.sparkSession.read.parquet(location + "missing")

    monkeypatch.setattr(etl, "write_quarantine", write_then_fail)
    before = _warehouse_and_report(demo_copy)
    result = invoke_local_run(SAMPLE_DIR, demo_copy)
    assert result.exit_code == ExitCode.FAILED
    assert "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    log = Layout(demo_copy).run_log
    assert line.startswith("local-run failed: the Glue job failed: [PATH_NOT_FOUND]")
    assert f"the full error is in {log}" in line
    assert "Traceback" in log.read_text(encoding="utf-8")
    assert _warehouse_and_report(demo_copy) == before


def test_ctrl_c_inside_spark_exits_130_and_removes_the_unpublished_run(demo_copy, monkeypatch):
    """Ctrl-C (a real SIGINT) while a Spark job runs, after this run has written its first
    files: exit 130 with one line and no py4j error in the log, the job cancelled, the
    unpublished run's folder removed, so the warehouse and report are byte for byte as
    before."""
    real_write = etl.write_quarantine

    def write_then_interrupt(fates, location):
        real_write(fates, location)
        assert any(Path(location).glob("*.json"))
        # Ctrl-C arrives while Python waits on py4j for a Spark job that only ends when
        # cancelled: the case where cancelling through the waiting connection breaks it.
        threading.Timer(SIGNAL_DELAY_SECONDS, os.kill, (os.getpid(), signal.SIGINT)).start()
        spark = fates.sparkSession
        spark.range(0, 10**13).selectExpr("sum(id)").collect()

    monkeypatch.setattr(etl, "write_quarantine", write_then_interrupt)
    before = _warehouse_and_report(demo_copy)
    result = invoke_local_run(SAMPLE_DIR, demo_copy)
    assert result.exit_code == ExitCode.INTERRUPTED, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        "local-run interrupted: nothing was published; the table and report are as they were"
    )
    assert _warehouse_and_report(demo_copy) == before
    assert not list(demo_copy.glob(".partial-*"))
    assert "py4j" not in Layout(demo_copy).run_log.read_text(encoding="utf-8")


def test_a_pointer_damaged_while_the_job_runs_is_one_line_and_nothing_is_deleted(
    demo_copy, monkeypatch
):
    """The job never reads the published-run pointer (it writes it when publishing), but a
    failed run reads it to know which run folders to keep: damaged during the job, it ends
    the run with exit 2 and the one line naming the file and the fix, and the failed run's
    folders are kept rather than deleted on a guess."""
    pointer = Path(Layout(demo_copy).warehouse_layout.published_location)
    real_write = etl.write_quarantine
    written: list[str] = []

    def damage_then_fail(fates, location):
        real_write(fates, location)
        written.append(location)
        pointer.write_text("{x", encoding="utf-8")
        fates.sparkSession.read.parquet(location + "missing")

    monkeypatch.setattr(etl, "write_quarantine", damage_then_fail)
    result = invoke_local_run(SAMPLE_DIR, demo_copy)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"local-run failed: cannot read the run summary {pointer} (")
    assert "remove that file" in line
    assert [Path(location).is_dir() for location in written] == [True]


# --- Docs (issue 10, item 10) ------------------------------------------------------------------


def test_the_readme_names_the_four_job_files_and_the_optional_fifth():
    """The README's upload sentence names the four files the job reads and says that the
    denormalised file is optional and what it adds, as the contract declares."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    bullet = readme.split("- The dev stack uploads", 1)[1].split("\n- ", 1)[0]
    sentence = " ".join(bullet.split())
    assert "copy the four CSVs the job reads" in sentence
    for source in JOB_SOURCES:
        assert f"`{source.file_name}`" in sentence
    assert f"`{DENORMALISED_FILE_NAME}` is optional" in sentence
    assert "five CSVs" not in readme
