"""Classifying parsed records (spotify_glue.classify): how often a record is parsed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from spotify_glue.classify import REASON_COLUMN, classify
from spotify_glue.contract import FEATURES, JOB_SOURCES, SourceFile
from spotify_glue.sources import read_source

PLAN_FIELDS = "spark.sql.debug.maxToStringFields"


@pytest.fixture
def whole_plans(spark: SparkSession) -> Iterator[None]:
    """Plans printed with every field, so no expression hides behind "... more fields"."""
    before = spark.conf.get(PLAN_FIELDS)
    spark.conf.set(PLAN_FIELDS, "10000")
    yield
    if before is None:
        spark.conf.unset(PLAN_FIELDS)
    else:
        spark.conf.set(PLAN_FIELDS, before)


def _source_file(folder: Path, source: SourceFile, *rows: list[str]) -> str:
    path = folder / source.file_name
    lines = [list(source.header), *rows]
    path.write_text("".join(",".join(row) + "\n" for row in lines), encoding="utf-8")
    return str(path)


@pytest.mark.usefixtures("whole_plans")
@pytest.mark.parametrize("source", JOB_SOURCES, ids=lambda s: s.key)
def test_a_flagged_record_is_split_into_fields_once(
    spark: SparkSession, tmp_path: Path, source: SourceFile
) -> None:
    """Every reason check reads one split of a flagged record: the plan parses a record twice
    at most (typed, then split as text when flagged), not once more per check, which would
    build a CSV parser per check in every task."""
    classified = classify(read_source(spark, _source_file(tmp_path, source), source), source)

    plan = str(classified._jdf.queryExecution().optimizedPlan().toString())
    assert plan.count("from_csv(") == 2, plan


def test_the_reason_names_the_column_whose_value_is_not_of_its_type(
    spark: SparkSession, tmp_path: Path
) -> None:
    typed = [c for c in FEATURES.columns if c.type != "string"]
    good = [{"int": "1", "double": "0.5"}.get(c.type, "t1") for c in FEATURES.columns]
    junk = list(good)
    junk[FEATURES.header.index(typed[-1].name)] = "junk"
    uri = _source_file(tmp_path, FEATURES, good, junk)

    classified = classify(read_source(spark, uri, FEATURES), FEATURES)

    reasons = [row[REASON_COLUMN] for row in classified.select(REASON_COLUMN).collect()]
    assert sorted(reasons, key=str) == [None, f"{typed[-1].name} is not a valid {typed[-1].type}"]
