"""The Pulumi program body: read the stack config, build every component, return the outputs.

``__main__`` calls :func:`main`; tests call :func:`build` under ``pulumi.runtime.set_mocks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import spotify_contract

from infra import naming
from infra.config import NAMESPACE, StackConfig, load_stack_config
from infra.outputs import OutputKey
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
    partition = aws.get_partition_output().partition

    storage = Storage(
        f"{prefix}-storage",
        StorageArgs(
            environment=config.environment,
            partition=partition,
            region=region,
            account_id=identity.account_id,
            customer_managed_key=config.customer_managed_key,
            protect_data=config.protect_data,
            force_destroy=config.force_destroy,
            athena_results_retention_days=config.athena_results_retention_days,
            temp_retention_days=config.temp_retention_days,
            noncurrent_version_retention_days=config.noncurrent_version_retention_days,
        ),
    )

    outputs: dict[OutputKey, pulumi.Output[Any]] = {
        OutputKey.REGION: region,
        OutputKey.STAGING_BUCKET: storage.staging_bucket,
        OutputKey.STAGING_PREFIX: pulumi.Output.from_input(spotify_contract.STAGING_PREFIX),
        OutputKey.WAREHOUSE_BUCKET: storage.warehouse_bucket,
        OutputKey.TABLE_LOCATION: storage.warehouse_bucket.apply(
            lambda b: naming.s3_uri(b, spotify_contract.TABLE_PREFIX)
        ),
        OutputKey.QUARANTINE_LOCATION: storage.warehouse_bucket.apply(
            lambda b: naming.s3_uri(b, spotify_contract.QUARANTINE_PREFIX)
        ),
        OutputKey.RUN_SUMMARY_LOCATION: storage.warehouse_bucket.apply(
            lambda b: naming.s3_uri(b, spotify_contract.SUMMARY_KEY)
        ),
        OutputKey.ASSETS_BUCKET: storage.assets_bucket,
        OutputKey.RESULTS_LOCATION: storage.results_bucket.apply(
            lambda b: naming.s3_uri(b, naming.RESULTS_PREFIX)
        ),
    }
    return outputs


def main() -> None:
    """Entry point of ``pulumi up``: config, components, exports."""
    for key, value in build(read_config()).items():
        pulumi.export(key.value, value)
