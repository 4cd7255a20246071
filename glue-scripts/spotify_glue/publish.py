"""Making a written run the table, and keeping a few runs back: the catalog switch, the
published-run pointer, the last-run summary, and pruning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from pyspark.sql import SparkSession

from spotify_glue.layout import RUNS_KEPT, TABLE_NAME, WarehouseLayout, run_id_of_folder
from spotify_glue.run_summary import RunSummary
from spotify_glue.storage import filesystem, write_text

LOG: Final = logging.getLogger(__name__)

CatalogSwitch = Callable[[str], None]
"""Points the catalog table at a published run's table folder."""


def publish(
    spark: SparkSession,
    layout: WarehouseLayout,
    summary: RunSummary,
    switch_catalog: CatalogSwitch | None,
) -> None:
    """Make a complete, gated run the table: switch the catalog (when there is one), then
    the published-run pointer, then the last-run summary. A failure before the switch
    leaves the previous table, pointer and summary as they were."""
    if switch_catalog is not None:
        switch_catalog(summary.table_location)
    write_text(spark, layout.published_location, summary.to_json())
    write_text(spark, layout.summary_location, summary.to_json())


def prune_runs(spark: SparkSession, layout: WarehouseLayout, published_run: str) -> list[str]:
    """Delete run folders beyond the newest ``RUNS_KEPT``, never the published one; only
    ``run=<id>`` folders are touched. Returns the deleted locations."""
    deleted = []
    for root in (layout.table_root, layout.quarantine_root):
        fs, path = filesystem(spark, root)
        if not fs.exists(path):
            continue
        runs = sorted(
            (run_id, str(status.getPath().toString()))
            for status in fs.listStatus(path)
            if status.isDirectory()
            and (run_id := run_id_of_folder(str(status.getPath().getName()))) is not None
        )
        stale = [entry for entry in runs[:-RUNS_KEPT] if entry[0] != published_run]
        for _, location in stale:
            fs.delete(filesystem(spark, location)[1], True)
            deleted.append(location)
    if deleted:
        LOG.info("pruned %d old run folders: %s", len(deleted), ", ".join(deleted))
    return deleted


def glue_catalog_switch(glue: Any, database: str, table: str = TABLE_NAME) -> CatalogSwitch:
    """Point ``database.table`` at a run's folder with glue:GetTable then glue:UpdateTable,
    keeping every other part of the definition. Only fields ``TableInput`` accepts are sent
    (from the service's own model), since GetTable also returns read-only ones."""
    accepted = set(glue.meta.service_model.shape_for("TableInput").members)

    def switch(location: str) -> None:
        current = glue.get_table(DatabaseName=database, Name=table)["Table"]
        table_input = {k: v for k, v in current.items() if k in accepted}
        table_input["StorageDescriptor"] = {**current["StorageDescriptor"], "Location": location}
        glue.update_table(DatabaseName=database, TableInput=table_input)
        LOG.info("catalog table %s.%s now reads %s", database, table, location)

    return switch
