"""The one aggregate (``transform.group_records``) on classified records given directly:
what it keeps of quarantined records, and that it refuses to lose one."""

from __future__ import annotations

from typing import Any

import pytest
from spotify_glue.classify import RAW_COLUMN, REASON_COLUMN
from spotify_glue.contract import JOB_SOURCES, SourceFile
from spotify_glue.records import ODD_COLUMN, RECORD_ID_COLUMN
from spotify_glue.transform import USED_COLUMNS, count_groups, group_records


def classified(spark, source: SourceFile, rows: list[dict[str, Any]]):
    """A source's classified records in the job's shape; unnamed columns are null."""
    used = [c for c in source.columns if c.name in USED_COLUMNS[source.key]]
    ddl = ", ".join(
        [f"`{c.name}` {c.type}" for c in used]
        + [f"`{REASON_COLUMN}` string", f"`{RAW_COLUMN}` string", f"`{RECORD_ID_COLUMN}` long"]
        + [f"`{ODD_COLUMN}` boolean"]
    )
    names = [*(c.name for c in used), REASON_COLUMN, RAW_COLUMN, RECORD_ID_COLUMN, ODD_COLUMN]
    return spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], ddl)


def bad(line: int) -> dict[str, Any]:
    return {
        REASON_COLUMN: "track_number is not a valid int",
        RAW_COLUMN: f"raw {line}",
        RECORD_ID_COLUMN: line,
        ODD_COLUMN: False,
    }


def grouped(spark, album_rows: list[dict[str, Any]]):
    frames = {s.key: classified(spark, s, []) for s in JOB_SOURCES}
    frames["albums"] = classified(spark, JOB_SOURCES[0], album_rows)
    return group_records(frames)


def test_each_quarantined_record_is_kept_and_counted(spark):
    """Quarantined records with the same text but their own lines stay separate records."""
    counts = count_groups(grouped(spark, [bad(2), bad(3), {**bad(4), RAW_COLUMN: "raw 2"}])).sources
    assert counts.quarantined["albums"] == {"track_number is not a valid int": 3}
    assert counts.rows_read["albums"] == 3


def test_records_sharing_an_id_fail_the_run_rather_than_lose_one(spark):
    """Two quarantined records under one source and record id (possible only if a file
    changed between scanning its lines and reading its records) fail the run instead of
    counting one."""
    with pytest.raises(RuntimeError, match="1 quarantined records share a source and record id"):
        count_groups(grouped(spark, [bad(2), {**bad(2), RAW_COLUMN: "other"}]))
