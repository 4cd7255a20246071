"""Pure name, path and ARN builders shared by the components (no Pulumi import)."""

from __future__ import annotations

from typing import Final

from spotify_glue.layout import DATABASE_BASENAME, WarehouseLayout, join_uri

ASSETS_SCRIPTS_PREFIX: Final = "glue-scripts/"
"""Deployed Glue scripts in the assets bucket (fixed interface with the job)."""
ASSETS_TEMP_PREFIX: Final = "glue-temp/"
"""Glue's --TempDir; expired after tempRetentionDays."""
ASSETS_SPARK_UI_PREFIX: Final = "spark-ui-logs/"
"""Spark event logs for the Spark UI / history server; expired after sparkUiLogRetentionDays."""
RESULTS_PREFIX: Final = "results/"
"""Athena query results in the results bucket; expired after athenaResultsRetentionDays."""
JOB_SCRIPT_NAME: Final = "spotify_etl.py"
"""The script Glue runs, in glue-scripts/; it only calls ``spotify_glue.etl.main``."""
GLUE_PACKAGE_NAME: Final = "spotify_glue"
"""The package the job imports, zipped and passed with --extra-py-files."""


def glue_package_key(content_hash: str) -> str:
    """Assets key of one build of the package; a new build gets a new key, so a running job
    never sees a half-replaced package."""
    return f"{ASSETS_SCRIPTS_PREFIX}{GLUE_PACKAGE_NAME}-{content_hash}.zip"


def resource_prefix(environment: str) -> str:
    """Logical and physical name prefix of every resource of one environment."""
    return f"spotify-{environment}"


def bucket_logical_name(environment: str, kind: str) -> str:
    """Pulumi name of a bucket; the physical name is this plus Pulumi's random suffix."""
    return f"{resource_prefix(environment)}-{kind}"


def key_alias(environment: str) -> str:
    """Alias of the stack's customer-managed key."""
    return f"alias/{resource_prefix(environment)}"


def workgroup_name(environment: str) -> str:
    return resource_prefix(environment)


def database_name(environment: str) -> str:
    """Glue/Athena database names allow lowercase letters, digits and underscores only."""
    return f"{DATABASE_BASENAME}_{environment.replace('-', '_')}"


def s3_uri(bucket: str, *parts: str) -> str:
    """``s3://bucket/part/...``; a trailing slash on the last part is kept (it marks a prefix)."""
    uri = join_uri(f"s3://{bucket}", *parts) if parts else f"s3://{bucket}"
    if parts and parts[-1].endswith("/"):
        uri += "/"
    return uri


def layout(warehouse_bucket: str) -> WarehouseLayout:
    """The warehouse layout (``spotify_glue.layout``) in one bucket."""
    return WarehouseLayout(s3_uri(warehouse_bucket))


def bucket_arn(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}"


def objects_arn(partition: str, bucket: str, prefix: str = "") -> str:
    """ARN of every object under ``prefix`` (the whole bucket when empty)."""
    return f"arn:{partition}:s3:::{bucket}/{prefix}*"


def top_folder(prefix: str) -> str:
    """The top-level folder a prefix lives in, without a slash: ``_quarantine`` for
    ``_quarantine/spotify_tracks/``."""
    folder = prefix.strip("/").split("/", 1)[0]
    if not folder:
        raise ValueError(f"prefix {prefix!r} names no folder")
    return folder


def folder_arn(partition: str, bucket: str, prefix: str) -> str:
    """ARN of the prefix's top-level folder as Spark's S3 file systems touch it: the bare key
    (``folder``), its markers (``folder/``, ``folder_$folder$``) and everything below, as one
    ``folder*`` pattern."""
    return f"arn:{partition}:s3:::{bucket}/{top_folder(prefix)}*"


def glue_catalog_arns(partition: str, region: str, account: str, database: str) -> list[str]:
    """The catalog, the one database and all its tables."""
    base = f"arn:{partition}:glue:{region}:{account}"
    return [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/*"]


def glue_table_arns(
    partition: str, region: str, account: str, database: str, table: str
) -> list[str]:
    """What Glue authorizes a table call on: the catalog, the database and the one table."""
    base = f"arn:{partition}:glue:{region}:{account}"
    return [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/{table}"]


def glue_log_group_arns(partition: str, region: str, account: str) -> list[str]:
    """Glue's own log groups (/aws-glue/jobs/..., /aws-glue/crawlers) and their streams."""
    base = f"arn:{partition}:logs:{region}:{account}:log-group:/aws-glue/*"
    return [base, f"{base}:log-stream:*"]
