"""Pure name, path and ARN builders shared by the components (no Pulumi import)."""

from __future__ import annotations

from typing import Final

import spotify_contract

ASSETS_SCRIPTS_PREFIX: Final = "glue-scripts/"
"""Deployed Glue scripts in the assets bucket (fixed interface with the job)."""
ASSETS_TEMP_PREFIX: Final = "glue-temp/"
"""Glue's --TempDir; expired after tempRetentionDays."""
ASSETS_SPARK_UI_PREFIX: Final = "spark-ui-logs/"
"""Spark event logs for the Spark UI / history server."""
RESULTS_PREFIX: Final = "results/"
"""Athena query results in the results bucket; expired after athenaResultsRetentionDays."""
RUN_SUMMARY_PREFIX: Final = spotify_contract.SUMMARY_KEY.rsplit("/", 1)[0] + "/"

JOB_SCRIPT_NAME: Final = "spotify_etl.py"
CONTRACT_MODULE_NAME: Final = "spotify_contract.py"


def resource_prefix(environment: str) -> str:
    """Logical and physical name prefix of every resource of one environment."""
    return f"spotify-{environment}"


def database_name(environment: str) -> str:
    """Glue/Athena database names allow lowercase letters, digits and underscores only."""
    return f"{spotify_contract.DATABASE_BASENAME}_{environment.replace('-', '_')}"


def s3_uri(bucket: str, *parts: str) -> str:
    """``s3://bucket/part/...``; a trailing slash on the last part is kept (it marks a prefix)."""
    uri = spotify_contract.join_uri(f"s3://{bucket}", *parts) if parts else f"s3://{bucket}"
    if parts and parts[-1].endswith("/"):
        uri += "/"
    return uri


def bucket_arn(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}"


def objects_arn(partition: str, bucket: str, prefix: str = "") -> str:
    """ARN of every object under ``prefix`` (the whole bucket when empty)."""
    return f"arn:{partition}:s3:::{bucket}/{prefix}*"


def glue_catalog_arns(partition: str, region: str, account: str, database: str) -> list[str]:
    """The catalog, the one database and all its tables."""
    base = f"arn:{partition}:glue:{region}:{account}"
    return [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/*"]


def glue_log_group_arns(partition: str, region: str, account: str) -> list[str]:
    """Glue's own log groups (/aws-glue/jobs/..., /aws-glue/crawlers) and their streams."""
    base = f"arn:{partition}:logs:{region}:{account}:log-group:/aws-glue/*"
    return [base, f"{base}:log-stream:*"]
