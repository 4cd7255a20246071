"""`spotify-ops local-run` over the sample plus one record per input defect of issue 10 (an
implausible date, a line break inside a quoted field, non-finite and out-of-domain numbers,
Latin-1 bytes, tens of thousands of fields): the run publishes, every check passes (the domain
check included), each bad record is quarantined with its reason, and the good ones are
published exactly."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from spotify_glue.contract import ALBUMS, TRACKS
from spotify_glue.layout import WarehouseLayout
from spotify_glue.run_summary import RunSummary
from typer.testing import CliRunner

from spotify_ops.cli import app
from spotify_ops.duckdb_engine import DuckDBEngine
from tests.conftest import SAMPLE_DIR


def record(values: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def bad_run(spark, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad-cli")
    data = shutil.copytree(SAMPLE_DIR, root / "input")
    albums = data / ALBUMS.file_name
    with albums.open(encoding="utf-8", newline="") as handle:
        first = next(row for i, row in enumerate(csv.reader(handle)) if i == 1)
    column = {name: i for i, name in enumerate(ALBUMS.header)}

    def album(track_id: str, **values: str) -> list[str]:
        row = list(first)
        row[column["track_id"]] = track_id
        for name, value in values.items():
            row[column[name]] = value
        return row

    extra = [
        record(album("cli-lines", track_name="Two\r\nlines")),
        record(album("cli-date", release_date="0216-11-10 00:00:00 UTC")),
        record(album("cli-nan", duration_sec="NaN")),
        record(album("cli-inf", duration_sec="1e999")),
        record(album("cli-pop", album_popularity="-5")),
        record(album("cli-latin1", track_name="Caf\u00e9")).replace("\u00e9".encode(), b"\xe9"),
        b",".join([b"x"] * 30_000) + b"\n",
    ]
    albums.write_bytes(albums.read_bytes() + b"".join(extra))
    tracks = data / TRACKS.file_name
    tracks.write_bytes(tracks.read_bytes() + b"cli-lines,50,false\n")
    out = root / "out"
    result = CliRunner().invoke(app, ["local-run", "--input", str(data), "--out", str(out)])
    return result, WarehouseLayout(str(out / "warehouse"))


def test_the_run_publishes_and_every_check_passes(bad_run):
    """Exit 0: the gate passed and every check, the domain check included, passed."""
    result, _ = bad_run
    assert result.exit_code == 0, result.output


def test_each_bad_record_is_quarantined_with_its_reason(bad_run):
    """The quarantine names each defect."""
    _, layout = bad_run
    summary = RunSummary.from_json(Path(layout.summary_location).read_text(encoding="utf-8"))
    reasons = [
        json.loads(line)["reason"]
        for path in Path(summary.quarantine_location).glob("*.json")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    for reason in (
        "release_date outside its domain (1877-01-01 to the end of next year)",
        "duration_sec outside its domain (finite, > 0)",
        "album_popularity outside its domain (0 to 100)",
        "invalid UTF-8 (bytes in another encoding, e.g. Latin-1)",
        "wrong field count (expected 26)",
    ):
        assert reason in reasons
    assert reasons.count("duration_sec outside its domain (finite, > 0)") >= 2


def test_a_quoted_line_break_is_published_exactly(bad_run):
    """The record whose track name holds CRLF is published with exactly that name."""
    _, layout = bad_run
    pointer = RunSummary.from_json(Path(layout.published_location).read_text(encoding="utf-8"))
    with DuckDBEngine(Path(pointer.table_location)) as engine:
        rows = engine.query("SELECT track_name FROM spotify_tracks WHERE track_id = 'cli-lines'")
    assert rows == [{"track_name": "Two\r\nlines"}]
