"""Stack output keys: the API between the Pulumi program and the operator CLI.

No Pulumi import here, so the verifier can use these without loading the SDK.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OutputKey(StrEnum):
    REGION = "region"
    STAGING_BUCKET = "staging_bucket"
    STAGING_PREFIX = "staging_prefix"
    WAREHOUSE_BUCKET = "warehouse_bucket"
    TABLE_LOCATION = "table_location"
    """s3:// URI of the table's data prefix."""
    QUARANTINE_LOCATION = "quarantine_location"
    RUN_SUMMARY_LOCATION = "run_summary_location"
    """s3:// URI of the job's latest run summary JSON."""
    ASSETS_BUCKET = "assets_bucket"
    RESULTS_LOCATION = "athena_results_location"
    JOB_NAME = "glue_job_name"
    CRAWLER_NAME = "crawler_name"
    WORKFLOW_NAME = "workflow_name"
    DATABASE_NAME = "database_name"
    TABLE_NAME = "table_name"
    WORKGROUP_NAME = "athena_workgroup"
    QUICKSIGHT_DATA_SOURCE_ARN = "quicksight_data_source_arn"
    QUICKSIGHT_DATA_SET_ARN = "quicksight_data_set_arn"
    QUICKSIGHT_DASHBOARD_ID = "quicksight_dashboard_id"
    QUICKSIGHT_DASHBOARD_ARN = "quicksight_dashboard_arn"
    QUICKSIGHT_DASHBOARD_URL = "quicksight_dashboard_url"
    """The dashboard in the QuickSight console."""


OPTIONAL_KEYS: Final = frozenset(
    {
        OutputKey.QUICKSIGHT_DATA_SOURCE_ARN,
        OutputKey.QUICKSIGHT_DATA_SET_ARN,
        OutputKey.QUICKSIGHT_DASHBOARD_ID,
        OutputKey.QUICKSIGHT_DASHBOARD_ARN,
        OutputKey.QUICKSIGHT_DASHBOARD_URL,
    }
)
"""Present only when QuickSight is enabled for the stack."""

REQUIRED_KEYS: Final = frozenset(OutputKey) - OPTIONAL_KEYS
