"""Atomic publish: each run writes its own folder, the gate decides, and only then do the
catalog and the published-run pointer switch. A failed run leaves the previous table whole."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
from spotify_glue import etl
from spotify_glue.etl import JobArgs, run
from spotify_glue.layout import RUNS_KEPT, TABLE_NAME, run_id_of_folder
from spotify_glue.publish import glue_catalog_switch, prune_runs
from spotify_glue.run_summary import RunSummary
from spotify_glue.transform import publishable

from tests.glue.conftest import LENIENT


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` (relative path -> sha256)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def warehouse(published, tmp_path) -> Path:
    """A copy of a warehouse with one published run."""
    target: Path = tmp_path / "warehouse"
    shutil.copytree(published.warehouse, target)
    return target


def test_a_run_killed_mid_write_leaves_the_previous_table_whole(
    spark, published, warehouse, monkeypatch
):
    """A crash while the new run's Parquet files are written leaves the pointer, the last-run
    summary and every file of the published run byte-identical, and the table readable."""
    args = JobArgs(published.args.staging_path, str(warehouse), LENIENT)
    before = snapshot(warehouse)
    real_write = etl.write_table

    def write_then_die(enriched, location):
        real_write(enriched, location)  # some files land in the new run's folder...
        raise KeyboardInterrupt  # ...then the process is killed before the switch

    monkeypatch.setattr(etl, "write_table", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(spark, args)

    after = snapshot(warehouse)
    assert {k: v for k, v in after.items() if k in before} == before
    pointer = RunSummary.from_json(Path(args.layout.published_location).read_text("utf-8"))
    assert pointer.run_id == published.summary.run_id
    assert spark.read.parquet(pointer.table_location).count() == published.summary.rows_written


def test_a_failed_write_leaves_no_part_of_its_run(spark, published, warehouse, monkeypatch):
    """Files a failed write had already made visible (as Glue's S3 committer does at each
    task's commit) are deleted with the run's folder, so no partial run is ever kept beside
    the published ones; the published table stays byte-identical."""
    args = JobArgs(published.args.staging_path, str(warehouse), LENIENT)
    before = snapshot(warehouse)
    real_write = etl.write_table

    def write_then_fail(enriched, location):
        real_write(enriched, location)  # the files are visible in the run's folder...
        raise OSError("S3 upload failed")  # ...and then the write fails

    monkeypatch.setattr(etl, "write_table", write_then_fail)
    with pytest.raises(OSError, match="S3 upload failed"):
        run(spark, args)
    runs = warehouse / TABLE_NAME
    assert sorted(p.name for p in runs.iterdir() if run_id_of_folder(p.name)) == [
        f"run={published.summary.run_id}"
    ]
    after = snapshot(warehouse)
    assert {k: v for k, v in after.items() if k in before} == before


def test_a_write_refused_for_an_existing_folder_leaves_that_folder(spark, tmp_path, monkeypatch):
    """The run's folder is deleted after a failed write only if the write made it: a folder
    that was already there (never the case for a fresh run id) is not the run's to delete."""
    location = tmp_path / "run=taken"
    location.mkdir()
    (location / "someone-elses.txt").write_text("kept", encoding="utf-8")

    def write_as_the_job_does(enriched, target):  # errorifexists, as write_table writes
        enriched.write.mode("errorifexists").parquet(target)

    monkeypatch.setattr(etl, "write_table", write_as_the_job_does)
    with pytest.raises(Exception, match="already exists"):
        etl.write_run_table(spark, spark.range(1), str(location))
    assert (location / "someone-elses.txt").read_text(encoding="utf-8") == "kept"


def test_a_failing_catalog_switch_publishes_nothing(spark, published, warehouse):
    """When the catalog cannot be switched, the pointer and the summary stay on the old run."""
    args = JobArgs(published.args.staging_path, str(warehouse), LENIENT)
    pointer = Path(args.layout.published_location)
    summary = Path(args.layout.summary_location)
    before = (pointer.read_bytes(), summary.read_bytes())

    def refuse(location: str) -> None:
        raise PermissionError(f"glue:UpdateTable denied for {location}")

    with pytest.raises(PermissionError):
        run(spark, args, refuse)
    assert (pointer.read_bytes(), summary.read_bytes()) == before


def test_duplicate_keys_in_the_written_files_reject_the_run(
    spark, published, warehouse, monkeypatch
):
    """The key rules are judged on the files written, not on the plan: files that hold a
    track id twice are rejected and the run's folder is deleted; the published table, its
    pointer and its files stay byte-identical."""
    args = JobArgs(published.args.staging_path, str(warehouse), LENIENT)
    before = snapshot(warehouse)
    first, second = sorted(row["track_id"] for row in published.rows)[:2]

    def write_a_duplicate(enriched, location):
        track_id = F.col("track_id")
        rows = publishable(enriched).withColumn(
            "track_id", F.when(track_id == second, F.lit(first)).otherwise(track_id)
        )
        rows.write.parquet(location)

    monkeypatch.setattr(etl, "write_table", write_a_duplicate)
    with pytest.raises(etl.QualityGateError, match="1 duplicate track_id values"):
        run(spark, args)
    after = snapshot(warehouse)
    summaries = {args.layout.summary_location.removeprefix(f"{warehouse}/")}
    assert {k: v for k, v in after.items() if k in before and k not in summaries} == {
        k: v for k, v in before.items() if k not in summaries
    }
    rejected = RunSummary.from_json(Path(args.layout.summary_location).read_text("utf-8"))
    assert rejected.status == "rejected"
    assert not Path(args.layout.table_location(rejected.run_id)).exists()
    pointer = RunSummary.from_json(Path(args.layout.published_location).read_text("utf-8"))
    assert pointer.run_id == published.summary.run_id


def test_old_runs_are_pruned_but_the_published_one_is_kept(spark, published, warehouse):
    """After a publish only the newest RUNS_KEPT run folders remain, each with its
    quarantine, and the pointer names the new run; other files are never touched."""
    args = JobArgs(published.args.staging_path, str(warehouse), LENIENT)
    stray = warehouse / "spotify_tracks" / "notes.txt"
    stray.write_text("a user's file", encoding="utf-8")
    # Older runs, as earlier publishes left them (one run folder each in table and quarantine).
    older = [f"20000101T0000{i:02d}Z-0000000{i}" for i in range(RUNS_KEPT)]
    for run_id in older:
        Path(args.layout.table_location(run_id)).mkdir(parents=True)
        Path(args.layout.quarantine_location(run_id)).mkdir(parents=True)
    runs = [published.summary, run(spark, args)]

    def run_folders(root: str) -> list[str]:
        return sorted(run_id for p in Path(root).iterdir() if (run_id := run_id_of_folder(p.name)))

    newest = sorted([*older, *(r.run_id for r in runs)])[-RUNS_KEPT:]
    assert run_folders(args.layout.table_root) == newest
    assert run_folders(args.layout.quarantine_root) == newest
    pointer = RunSummary.from_json(Path(args.layout.published_location).read_text("utf-8"))
    assert pointer.run_id == runs[-1].run_id
    assert stray.read_text(encoding="utf-8") == "a user's file"


@pytest.fixture
def glue_client(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        yield boto3.client("glue")


def test_catalog_switch_moves_only_the_location(glue_client):
    """The switch re-points the table and keeps its columns, format and parameters."""
    glue_client.create_database(DatabaseInput={"Name": "spotify_dev"})
    descriptor = {
        "Columns": [{"Name": "track_id", "Type": "string", "Comment": "unique"}],
        "Location": "s3://wh/spotify_tracks/_unpublished/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    }
    glue_client.create_table(
        DatabaseName="spotify_dev",
        TableInput={
            "Name": TABLE_NAME,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": descriptor,
        },
    )
    target = "s3://wh/spotify_tracks/run=20261129T061500Z-1a2b3c4d/"
    glue_catalog_switch(glue_client, "spotify_dev")(target)

    table = glue_client.get_table(DatabaseName="spotify_dev", Name=TABLE_NAME)["Table"]
    assert table["StorageDescriptor"]["Location"] == target
    assert table["StorageDescriptor"]["Columns"] == descriptor["Columns"]
    assert table["Parameters"] == {"classification": "parquet"}
    assert table["TableType"] == "EXTERNAL_TABLE"


def test_pruning_never_deletes_the_published_run(spark, published, warehouse):
    """Crashed runs newer than the published one fill the kept slots, yet the published run's
    folder survives: the table must never point at a deleted folder."""
    layout = JobArgs(published.args.staging_path, str(warehouse), LENIENT).layout
    crashed = [f"29991231T0000{i:02d}Z-0000000{i}" for i in range(RUNS_KEPT + 1)]
    for run_id in crashed:
        Path(layout.table_location(run_id)).mkdir(parents=True)
    prune_runs(spark, layout, published.summary.run_id)
    left = sorted(p.name for p in Path(layout.table_root).iterdir())
    kept = [f"run={r}" for r in sorted([published.summary.run_id, *crashed[-RUNS_KEPT:]])]
    assert left == kept
