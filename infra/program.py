"""The Pulumi program body: read the stack config, build every component, return the outputs.

``__main__`` calls :func:`main`; tests call :func:`build` under ``pulumi.runtime.set_mocks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws
from spotify_glue.layout import STAGING_PREFIX

from infra import naming, policies
from infra.catalog import Catalog, CatalogArgs
from infra.config import NAMESPACE, StackConfig, load_stack_config
from infra.etl import Etl, EtlArgs
from infra.orchestration import Orchestration, OrchestrationArgs
from infra.outputs import OutputKey
from infra.query import Query, QueryArgs
from infra.quicksight import QuickSight, QuickSightArgs
from infra.sample_data import SampleData, SampleDataArgs
from infra.storage import Storage, StorageArgs

REPO_ROOT: Final = Path(__file__).resolve().parent.parent


def configured_keys() -> set[str]:
    """Bare names of every ``spotify-pipeline:`` key set for this stack, to catch typos."""
    prefix = f"{NAMESPACE}:"
    raw = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    return {key[len(prefix) :] for key in raw if key.startswith(prefix)}


def read_config() -> StackConfig:
    """Validate the current stack's config before any resource is declared."""
    return load_stack_config(
        pulumi.get_stack(), pulumi.Config(NAMESPACE), present_keys=configured_keys()
    )


def build(config: StackConfig, repo_root: Path = REPO_ROOT) -> dict[OutputKey, pulumi.Output[Any]]:
    """Declare every resource of one stack; returns the stack outputs by key."""
    prefix = naming.resource_prefix(config.environment)
    identity = aws.get_caller_identity_output()
    region = aws.get_region_output().region
    account = pulumi.Output.all(
        aws.get_partition_output().partition, region, identity.account_id
    ).apply(lambda v: policies.AccountContext(*v))

    storage = Storage(
        f"{prefix}-storage",
        StorageArgs(
            environment=config.environment,
            account=account,
            customer_managed_key=config.customer_managed_key,
            protect_data=config.protect_data,
            force_destroy=config.force_destroy,
            athena_results_retention_days=config.athena_results_retention_days,
            temp_retention_days=config.temp_retention_days,
            spark_ui_log_retention_days=config.spark_ui_log_retention_days,
            noncurrent_version_retention_days=config.noncurrent_version_retention_days,
            staging_events=config.run_on_arrival,
        ),
    )

    database_name = naming.database_name(config.environment)
    etl = Etl(
        f"{prefix}-etl",
        EtlArgs(
            environment=config.environment,
            staging_bucket=storage.staging_bucket,
            warehouse_bucket=storage.warehouse_bucket,
            assets_bucket=storage.assets_bucket,
            database_name=database_name,
            account=account,
            kms_key_arn=storage.kms_key_arn,
            glue_version=config.glue_version,
            worker_type=config.worker_type,
            number_of_workers=config.number_of_workers,
            timeout_minutes=config.timeout_minutes,
            max_retries=config.max_retries,
            flex_execution=config.flex_execution,
            gate=config.gate,
            scripts_dir=repo_root / "glue-scripts",
        ),
    )
    catalog = Catalog(
        f"{prefix}-catalog",
        CatalogArgs(
            environment=config.environment,
            database_name=database_name,
            warehouse_bucket=storage.warehouse_bucket,
            security_configuration_name=etl.security_configuration_name,
            account=account,
            kms_key_arn=storage.kms_key_arn,
            protect_data=config.protect_data,
        ),
    )
    query = Query(
        f"{prefix}-query",
        QueryArgs(
            environment=config.environment,
            database_name=catalog.database_name,
            results_bucket=storage.results_bucket,
            kms_key_arn=storage.kms_key_arn,
            bytes_scanned_cutoff=config.athena_bytes_scanned_cutoff,
            force_destroy=config.force_destroy,
            sql_dir=repo_root / "sql",
        ),
    )
    orchestration = Orchestration(
        f"{prefix}-orchestration",
        OrchestrationArgs(
            environment=config.environment,
            job_name=etl.job_name,
            crawler_name=catalog.crawler_name,
            schedule=config.schedule,
            run_on_arrival=config.run_on_arrival,
            staging_bucket=storage.staging_bucket,
        ),
    )
    if config.upload_sample_data:
        SampleData(
            f"{prefix}-sample-data",
            SampleDataArgs(
                environment=config.environment,
                staging_bucket=storage.staging_bucket,
                sample_dir=repo_root / "data" / "sample",
            ),
        )

    warehouse = storage.warehouse_bucket
    outputs: dict[OutputKey, pulumi.Output[Any]] = {
        OutputKey.REGION: region,
        OutputKey.STAGING_BUCKET: storage.staging_bucket,
        OutputKey.STAGING_PREFIX: pulumi.Output.from_input(STAGING_PREFIX),
        OutputKey.WAREHOUSE_BUCKET: warehouse,
        OutputKey.TABLE_LOCATION: warehouse.apply(lambda b: naming.layout(b).table_root),
        OutputKey.QUARANTINE_LOCATION: warehouse.apply(lambda b: naming.layout(b).quarantine_root),
        OutputKey.RUN_SUMMARY_LOCATION: warehouse.apply(
            lambda b: naming.layout(b).summary_location
        ),
        OutputKey.ASSETS_BUCKET: storage.assets_bucket,
        OutputKey.RESULTS_LOCATION: query.results_location,
        OutputKey.JOB_NAME: etl.job_name,
        OutputKey.CRAWLER_NAME: catalog.crawler_name,
        OutputKey.WORKFLOW_NAME: orchestration.workflow_name,
        OutputKey.DATABASE_NAME: catalog.database_name,
        OutputKey.TABLE_NAME: catalog.table_name,
        OutputKey.WORKGROUP_NAME: query.workgroup_name,
    }
    if config.quicksight_enabled:
        quicksight = QuickSight(
            f"{prefix}-quicksight",
            QuickSightArgs(
                environment=config.environment,
                account_id=identity.account_id,
                region=region,
                workgroup_name=query.workgroup_name,
                database_name=catalog.database_name,
                table_name=catalog.table_name,
                principals=config.quicksight_principals,
                access=config.quicksight_access,
                import_mode=config.quicksight_import_mode,
                refresh=config.quicksight_refresh,
            ),
        )
        outputs[OutputKey.QUICKSIGHT_DATA_SOURCE_ARN] = quicksight.data_source_arn
        outputs[OutputKey.QUICKSIGHT_DATA_SET_ARN] = quicksight.data_set_arn
        outputs[OutputKey.QUICKSIGHT_DASHBOARD_ID] = quicksight.dashboard_id
        outputs[OutputKey.QUICKSIGHT_DASHBOARD_ARN] = quicksight.dashboard_arn
        outputs[OutputKey.QUICKSIGHT_DASHBOARD_URL] = quicksight.dashboard_url
    return outputs


def main() -> None:
    """Entry point of ``pulumi up``: config, components, exports."""
    for key, value in build(read_config()).items():
        pulumi.export(key.value, value)
