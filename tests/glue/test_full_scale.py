"""The job at the real dataset's scale (438,938 album rows) and ten times it, in the local
session's 2 GB heap. Slow: run with `-m slow`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from spotify_glue.contract import ALBUMS
from spotify_glue.etl import JobArgs, run
from spotify_glue.gate import DEFAULT_GATE
from spotify_glue.run_summary import RunSummary

from spotify_ops.generate import REAL_ALBUM_ROWS, generate


@pytest.mark.slow
@pytest.mark.parametrize("scale", [1, 10])
def test_real_scale_run_publishes_and_accounts_for_every_album_row(
    spark, tmp_path: Path, scale: int
):
    """At real scale and ten times it the default gate passes, the table holds unique keys,
    and every album row read is published, quarantined, de-duplicated or counted as a join
    drop. At 10x the job once ran the heap out of memory caching its groups."""
    staging, warehouse = tmp_path / "staging", tmp_path / "warehouse"
    album_rows = REAL_ALBUM_ROWS * scale
    generate(staging, album_rows=album_rows)
    args = JobArgs(str(staging), str(warehouse), DEFAULT_GATE)
    summary = run(spark, args)

    assert summary.status == "published"
    assert summary.rows_read[ALBUMS.key] == album_rows
    accounted = (
        summary.rows_quarantined[ALBUMS.key]
        + summary.duplicates_removed[ALBUMS.key]
        + summary.dropped_no_artist
        + summary.dropped_no_track
        + summary.rows_written
    )
    assert accounted == album_rows
    table = pq.read_table(summary.table_location, columns=["track_id"])
    assert table.num_rows == summary.rows_written
    assert len(set(table.column("track_id").to_pylist())) == table.num_rows
    written = RunSummary.from_json(Path(args.layout.summary_location).read_text(encoding="utf-8"))
    assert written.rows_written == summary.rows_written
