"""Property tests of the job over CSV quirks and defects (tests/glue/fuzz.py), on real pyspark.

Invariants, for any mix of quirks and defects:
- every input record is accounted for exactly once: read, then published or quarantined;
- a published record's values equal the input's bytes decoded (nothing normalised, nothing
  replaced), and a quarantined record's raw text is the record as read;
- after a failed run, the previous table reads back identical, file for file.

The default suite runs one seeded case; hypothesis explores more under ``-m slow``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from spotify_glue.etl import JobArgs, QualityGateError, run
from spotify_glue.gate import GateThresholds
from spotify_glue.run_summary import RunSummary

from tests.glue.fuzz import (
    DEFECTS,
    TEXT_ALPHABET,
    TEXT_COLUMNS,
    Album,
    Quirks,
    Staged,
    album_values,
    random_albums,
    stage,
)

ANY_RATE = GateThresholds(min_rows=1, max_quarantine_rate=1.0, max_join_loss_rate=1.0)
NEVER = GateThresholds(min_rows=10**9, max_quarantine_rate=1.0, max_join_loss_rate=1.0)


def expected_row(album: Album) -> dict[str, object]:
    values = album.values
    date = dt.date.fromisoformat(values["release_date"][:10])
    return {
        **{column: values[column] for column in TEXT_COLUMNS},
        "album_type": values["album_type"],
        "track_number": int(values["track_number"]),
        "duration_ms": int(values["duration_ms"]),
        "duration_sec": float(values["duration_sec"]),
        "album_popularity": int(values["album_popularity"]),
        "total_tracks": int(values["total_tracks"]),
        "release_date": date,
        "release_year": date.year,
    }


def check_run(spark: SparkSession, staged: Staged, summary: RunSummary) -> None:
    """The invariants for one published run over ``staged``."""
    assert summary.status == "published"
    assert summary.rows_read["albums"] == len(staged.albums)
    assert summary.rows_quarantined["albums"] == len(staged.quarantined)
    assert summary.duplicates_removed["albums"] == 0
    assert (summary.dropped_no_artist, summary.dropped_no_track) == (0, 0)
    assert summary.rows_written == len(staged.published)

    columns = list(expected_row(staged.albums[0]))
    table = spark.read.parquet(summary.table_location)
    rows = {r["track_id"]: r.asDict() for r in table.select("track_id", *columns).collect()}
    assert sorted(rows) == sorted(a.track_id for a in staged.published)
    for album in staged.published:
        row = rows[album.track_id]
        assert {c: row[c] for c in columns} == expected_row(album), album.track_id

    quarantine = (
        spark.read.schema("source string, reason string, raw string")
        .json(summary.quarantine_location)
        .where("source = 'albums'")
    )
    found = sorted((r["raw"], r["reason"]) for r in quarantine.collect())
    wanted = sorted(
        (staged.raws[a.track_id].decode("utf-8", "replace"), DEFECTS[str(a.defect)][1])
        for a in staged.quarantined
    )
    assert [raw for raw, _ in found] == [raw for raw, _ in wanted]
    for (_, reason), (_, start) in zip(found, wanted, strict=True):
        assert reason.startswith(start), (reason, start)


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def check_failed_run_leaves_the_table(
    spark: SparkSession, warehouse: Path, staging: Path, summary: RunSummary
) -> None:
    """A rejected run over other input leaves the published table, file for file and row
    for row, and the published-run pointer as they were."""
    args = JobArgs(str(staging), str(warehouse), NEVER)
    tables = Path(args.layout.table_location(summary.run_id))
    pointer = Path(args.layout.published_location)
    before = (snapshot(tables), pointer.read_bytes())
    rows = sorted(spark.read.parquet(str(tables)).collect())
    with pytest.raises(QualityGateError):
        run(spark, args)
    assert (snapshot(tables), pointer.read_bytes()) == before
    assert sorted(spark.read.parquet(str(tables)).collect()) == rows


def test_seeded_fuzz_case_holds_every_invariant(spark, tmp_path):
    """80 records with random quirks and defects, CRLF and a BOM: every invariant holds, and
    a failed run after it leaves the table as it was."""
    rng = random.Random(2023)
    staged = stage(tmp_path / "staging", random_albums(rng, 80), Quirks(bom=True, crlf=True))
    assert staged.published
    assert staged.quarantined
    warehouse = tmp_path / "warehouse"
    summary = run(spark, JobArgs(str(staged.folder), str(warehouse), ANY_RATE))
    check_run(spark, staged, summary)
    other = stage(tmp_path / "other", random_albums(rng, 20), Quirks(blank_lines=True))
    check_failed_run_leaves_the_table(spark, warehouse, other.folder, summary)


texts = st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=12)


@st.composite
def albums(draw: st.DrawFn) -> list[Album]:
    count = draw(st.integers(min_value=1, max_value=25))
    found = []
    for i in range(count):
        track_id = f"h{i}"
        values = album_values(track_id, random.Random(i), lambda: draw(texts))
        defect = draw(st.one_of(st.none(), st.sampled_from(sorted(DEFECTS))))
        found.append(Album(track_id, values, defect))
    return found


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    database=None,
    # each example is a Spark run: report the first failure as drawn rather than shrink it
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    albums=albums(),
    quirks=st.builds(Quirks, st.booleans(), st.booleans(), st.booleans(), st.booleans()),
)
def test_any_quirks_and_defects_hold_every_invariant(spark, albums, quirks):
    """Hypothesis draws records, defects and file quirks; every invariant holds."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        staged = stage(root / "staging", albums, quirks)
        if not staged.published:
            albums = [*albums, Album("ok", album_values("ok", random.Random(0), lambda: "ok"))]
            staged = stage(root / "staging", albums, quirks)
        summary = run(spark, JobArgs(str(staged.folder), str(root / "warehouse"), ANY_RATE))
        check_run(spark, staged, summary)
        other = stage(root / "other", random_albums(random.Random(1), 5), Quirks())
        check_failed_run_leaves_the_table(spark, root / "warehouse", other.folder, summary)
