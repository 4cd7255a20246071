"""`spotify-ops local-run` runs the whole pipeline on data/sample and fails clearly on bad input,
a missing Java, a rejected gate or a failed check. (Unsafe arguments, interrupts and the
progress display: test_local_run_safety.py and test_local_run_interrupt.py.)"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from spotify_glue.contract import JOB_SOURCES
from spotify_glue.gate import GateThresholds
from spotify_glue.run_summary import RunSummary

from spotify_ops import local_run as local_run_module
from spotify_ops.duckdb_engine import DuckDBEngine
from spotify_ops.exit_codes import ExitCode
from spotify_ops.local_run import (
    Layout,
    LocalRunError,
    find_input_problems,
    local_run,
)
from spotify_ops.spark import DRIVER_MEMORY_VARIABLE, SHORT_RUN_INPUT_BYTES
from tests.cli.conftest import copy_sample, invoke_local_run
from tests.conftest import SAMPLE_DIR


def quiet() -> Console:
    return Console(file=io.StringIO())


def csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


# --- The end-to-end run (shared fixture: one Spark run per test session) --------------------


def test_demo_succeeds_and_prints_where_the_report_is(demo_run):
    """The run exits 0, says how many rows it published, and prints the report's path."""
    assert demo_run.exit_code == 0, demo_run.output
    report = demo_run.out / "report.html"
    assert f"Report: {report.resolve()}" in demo_run.output
    assert "Published" in demo_run.output
    assert report.is_file()


def test_demo_stages_the_input_files_unchanged(demo_run):
    """Staging holds each input CSV under its exact name with the same bytes."""
    staging = demo_run.out / "staging"
    assert sorted(p.name for p in staging.iterdir()) == sorted(
        p.name for p in SAMPLE_DIR.glob("*.csv")
    )
    for path in staging.iterdir():
        assert path.read_bytes() == (SAMPLE_DIR / path.name).read_bytes()


def test_demo_writes_the_contract_layout(demo_run):
    """The warehouse has the run's table folder, its quarantine and the run summaries where the
    contract's layout puts them, and the table folder holds Parquet data files only."""
    layout = demo_run.layout
    summary = RunSummary.from_json(Path(layout.summary_location).read_text(encoding="utf-8"))
    assert demo_run.table == Path(layout.table_location(summary.run_id))
    data_files = [p for p in demo_run.table.iterdir() if not p.name.startswith((".", "_"))]
    assert data_files
    assert all(p.name.endswith(".parquet") for p in data_files)
    assert any(Path(layout.quarantine_location(summary.run_id)).glob("*.json"))
    assert Path(layout.published_location).is_file()


def test_demo_accounts_for_every_input_row(demo_run):
    """The summary reads every data row of each source, publishes, and its rows_written is
    what the table holds."""
    summary = RunSummary.from_json(
        (demo_run.out / "warehouse" / "_run_summary" / "spotify_tracks.json").read_text()
    )
    assert summary.status == "published"
    for source in JOB_SOURCES:
        assert summary.rows_read[source.key] == csv_rows(SAMPLE_DIR / source.file_name)
    with DuckDBEngine(demo_run.table) as engine:
        (row,) = engine.query("SELECT COUNT(*) AS n FROM spotify_tracks")
    assert row["n"] == summary.rows_written > 0
    album_candidates = (
        summary.rows_read["albums"]
        - summary.rows_quarantined["albums"]
        - summary.duplicates_removed["albums"]
    )
    dropped = summary.dropped_no_artist + summary.dropped_no_track
    assert summary.rows_written == album_candidates - dropped


def test_failed_check_exits_1_and_still_writes_the_report(demo_copy, spark, monkeypatch):
    """When a check fails (here: the table holds fewer rows than the run summary claims) the
    run exits 1 naming the check, and the report shows the failure."""
    layout = Layout(demo_copy)
    real = RunSummary.from_json(Path(layout.warehouse_layout.summary_location).read_text())
    claimed = replace(real, rows_written=real.rows_written + 7)
    monkeypatch.setattr(local_run_module, "run_etl_locally", lambda *_args: claimed)
    with pytest.raises(LocalRunError) as caught:
        local_run(SAMPLE_DIR, layout.out_dir, spark=spark, console=quiet())
    assert caught.value.exit_code == ExitCode.FAILED
    assert "row_count" in str(caught.value)
    assert f"but the published run {claimed.run_id} wrote {claimed.rows_written}" in str(
        caught.value
    )
    assert "FAIL" in layout.report.read_text(encoding="utf-8")


def test_gate_rejection_exits_1_and_the_report_says_why(spark, tmp_path):
    """A gate the sample cannot pass (no join loss allowed) rejects the run: exit code 1, the
    message names the rule and the quarantine folder, and no table is published. Above its
    empty sections the report says that the gate rejected the run, names each broken rule,
    and links (relative to the report) to this run's quarantine folder and its rows."""
    strict = GateThresholds(max_join_loss_rate=0.0)
    layout = Layout(tmp_path / "out")
    with pytest.raises(LocalRunError) as caught:
        local_run(SAMPLE_DIR, layout.out_dir, spark=spark, gate=strict, console=quiet())
    assert caught.value.exit_code == ExitCode.FAILED
    assert "join" in str(caught.value).lower()
    assert not any(Path(layout.warehouse_layout.table_root).rglob("*.parquet"))
    assert layout.published_run() is None
    summary = layout.last_run()
    assert summary is not None
    assert summary.status == "rejected"
    assert summary.gate_failures
    assert f"Quarantined rows: {Path(summary.quarantine_location)}" in str(caught.value)
    report = layout.report.read_text(encoding="utf-8")
    assert "gate failure" in report
    block = report.split('<section class="rejected"', 1)[1].split("</section>", 1)[0]
    assert "This run was rejected by the quality gate" in block
    for rule in summary.gate_failures:
        assert html.escape(rule) in block
    (href,) = re.findall(r'href="([^"]+)"', block)
    assert not href.startswith(("/", "file:"))
    quarantine = layout.out_dir / href
    assert quarantine == Path(summary.quarantine_location)
    assert any(quarantine.glob("*.json"))


# --- Input and environment errors (no Spark needed) -------------------------------------------


def test_missing_input_file_exits_2_naming_the_expected_file(tmp_path):
    """A folder without the tracks file fails before Spark starts, naming the exact file."""
    folder = copy_sample(tmp_path / "in")
    (folder / "spotify_tracks_data_2023.csv").unlink()
    result = invoke_local_run(folder, tmp_path / "o")
    assert result.exit_code == ExitCode.USAGE
    assert "missing tracks file: expected 'spotify_tracks_data_2023.csv'" in result.output


def test_misnamed_input_file_exits_2_naming_the_near_miss(tmp_path):
    """The albums file saved with an underscore instead of its real hyphen is found and the
    message says which file to rename to what."""
    folder = copy_sample(tmp_path / "in")
    (folder / "spotify-albums_data_2023.csv").rename(folder / "spotify_albums_data_2023.csv")
    result = invoke_local_run(folder, tmp_path / "o")
    assert result.exit_code == ExitCode.USAGE
    flat = " ".join(result.output.split())
    assert "expected 'spotify-albums_data_2023.csv'" in flat
    assert "found 'spotify_albums_data_2023.csv': rename it to" in flat


def test_missing_input_folder_exits_2(tmp_path):
    """A folder that does not exist is named, with the files it should hold."""
    result = invoke_local_run(tmp_path / "nope", tmp_path / "o")
    assert result.exit_code == ExitCode.USAGE
    assert "does not exist" in result.output
    assert "spotify_artist_data_2023.csv" in " ".join(result.output.split())


def test_missing_java_exits_3_with_how_to_install_it(tmp_path, monkeypatch):
    """With no Java on PATH and no JAVA_HOME the run stops before Spark with exit 3 and one
    line saying how to install Java."""
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke_local_run(SAMPLE_DIR, tmp_path / "out")
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith("local-run failed: Java was not found: Spark needs Java 17.")
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("lots", "is not a heap size"),
        ("512", "is not a heap size"),
        ("100m", "is below the 450 MiB"),
    ],
)
def test_a_bad_heap_variable_exits_2_before_anything_is_created(
    tmp_path, monkeypatch, value, problem
):
    """A heap Spark could not start with is refused with the fix, before --out is made."""
    monkeypatch.setenv(DRIVER_MEMORY_VARIABLE, value)
    result = invoke_local_run(SAMPLE_DIR, tmp_path / "out")
    assert result.exit_code == ExitCode.USAGE
    last = " ".join(result.output.split())
    assert f"{DRIVER_MEMORY_VARIABLE}='{value}' {problem}" in last
    assert "512m" in last
    assert not (tmp_path / "out").exists()


def test_extra_files_beside_complete_inputs_are_not_problems(tmp_path):
    """A complete input folder may hold other files (a README, a download with a suffix)."""
    folder = copy_sample(tmp_path / "in")
    (folder / "spotify_tracks_data_2023 (1).csv").write_text("id\n")
    (folder / "README.txt").write_text("notes")
    assert find_input_problems(folder) == []


def test_a_near_miss_is_offered_only_for_the_file_it_resembles(tmp_path):
    """With albums misnamed and tracks missing, the misnamed file is suggested for albums only."""
    folder = copy_sample(tmp_path / "in")
    (folder / "spotify-albums_data_2023.csv").rename(folder / "Spotify_albums_data_2023.csv")
    (folder / "spotify_tracks_data_2023.csv").unlink()
    assert find_input_problems(folder) == [
        "missing albums file: expected 'spotify-albums_data_2023.csv'; "
        "found 'Spotify_albums_data_2023.csv': rename it to 'spotify-albums_data_2023.csv'",
        "missing tracks file: expected 'spotify_tracks_data_2023.csv'",
    ]


def test_wrong_header_exits_2_naming_the_users_file_before_spark(tmp_path, monkeypatch):
    """A tracks file whose header lacks a column is refused before Spark starts: exit code
    2, and the message names the user's own file (not the staged copy), its line 1 and the
    missing column."""
    folder = copy_sample(tmp_path / "in")
    tracks = folder / "spotify_tracks_data_2023.csv"
    lines = tracks.read_text(encoding="utf-8").splitlines()
    tracks.write_text("\n".join(["id,popularity,explicit", *lines[1:]]), encoding="utf-8")
    monkeypatch.setattr(local_run_module, "spark_session", _no_spark)
    result = invoke_local_run(folder, tmp_path / "out")
    assert result.exit_code == ExitCode.USAGE, result.output
    flat = " ".join(result.output.split())
    assert f"{tracks} line 1 is not the tracks header" in flat
    assert "track_popularity" in flat
    assert "staging" not in flat
    assert not (tmp_path / "out").exists()


def _no_spark(*_args, **_kwargs):
    raise AssertionError("Spark was started")


def test_the_sample_makes_a_short_run_and_the_real_scale_does_not(tmp_path):
    """The bundled sample starts a JVM with the quick compiler only; real-scale inputs (about
    229 MB) start one with both compilers, which their runs need."""
    sample = sorted(SAMPLE_DIR.glob("*.csv"))
    assert local_run_module.is_short_run(sample)
    big = tmp_path / "albums.csv"
    with big.open("wb") as handle:  # sparse: the size without the bytes
        handle.truncate(SHORT_RUN_INPUT_BYTES)
    assert not local_run_module.is_short_run([*sample, big])
