"""Classifying parsed records (spotify_glue.classify): how often a record is parsed."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from spotify_glue.classify import REASON_COLUMN, classify
from spotify_glue.contract import FEATURES
from spotify_glue.sources import read_source

TYPED_COLUMNS = [c for c in FEATURES.columns if c.type != "string"]


def _features_file(folder: Path) -> str:
    """A features file with one good row and one whose first typed value is junk."""
    good = [{"int": "1", "double": "0.5"}.get(c.type, "t1") for c in FEATURES.columns]
    junk = list(good)
    junk[FEATURES.header.index(TYPED_COLUMNS[0].name)] = "junk"
    path = folder / FEATURES.file_name
    rows = [FEATURES.header, good, junk]
    path.write_text("".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_a_flagged_record_is_split_into_fields_once(spark: SparkSession, tmp_path: Path) -> None:
    """Every reason check reads one split of a flagged record: the plan parses each record
    twice at most (typed, then split as text when flagged), not once more per typed column,
    which would build a CSV parser per column in every task."""
    uri = _features_file(tmp_path)
    classified = classify(read_source(spark, uri, FEATURES), FEATURES)

    plan = str(classified._jdf.queryExecution().optimizedPlan().toString())
    assert len(TYPED_COLUMNS) > 2
    assert plan.count("from_csv(") == 2, plan
    reasons = [row[REASON_COLUMN] for row in classified.select(REASON_COLUMN).collect()]
    assert sorted(reasons, key=str) == sorted(
        [None, f"{TYPED_COLUMNS[0].name} is not a valid {TYPED_COLUMNS[0].type}"], key=str
    )
