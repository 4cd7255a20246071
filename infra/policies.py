"""Pure IAM, bucket and key policy document builders.

Each returns a JSON-ready dict built from plain strings, so the documents are unit-tested and
run through parliament without Pulumi. Components call them inside ``Output.apply`` to fill
in ARNs that are only known at deploy time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from spotify_glue.layout import (
    QUARANTINE_PREFIX,
    STAGING_PREFIX,
    SUMMARY_PREFIX,
    TABLE_NAME,
    TABLE_PREFIX,
)

from infra import naming

PolicyDocument = dict[str, Any]

VERSION: Final = "2012-10-17"
GLUE_METRICS_NAMESPACE: Final = "Glue"

_S3_READ: Final = ["s3:GetObject"]
# Spark writes through multipart uploads and aborts them when a task fails.
_S3_READ_WRITE: Final = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:PutObject",
]
_KMS_DATA_KEY: Final = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
_LOG_WRITE: Final = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


@dataclass(frozen=True)
class AccountContext:
    """Where the stack deploys: partition (aws, aws-cn, ...), region and account id."""

    partition: str
    region: str
    account: str


def _document(*statements: PolicyDocument) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def _allow(
    sid: str, actions: Sequence[str], resources: Sequence[str], **extra: Any
) -> PolicyDocument:
    statement: PolicyDocument = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
    }
    statement.update(extra)
    return statement


def _list_folders(
    sid: str, ctx: AccountContext, bucket: str, prefixes: Sequence[str]
) -> PolicyDocument:
    """ListBucket on one bucket, only for listings within the prefixes' top-level folders
    (``folder``, ``folder/``, ``folder/...``: with and without the slash)."""
    patterns = sorted({f"{naming.top_folder(prefix)}*" for prefix in prefixes})
    return _allow(
        sid,
        ["s3:ListBucket"],
        [naming.bucket_arn(ctx.partition, bucket)],
        Condition={"StringLike": {"s3:prefix": patterns}},
    )


def _folders(ctx: AccountContext, bucket: str, prefixes: Sequence[str]) -> list[str]:
    return sorted({naming.folder_arn(ctx.partition, bucket, prefix) for prefix in prefixes})


def deny_insecure_transport(partition: str, bucket: str) -> PolicyDocument:
    """Bucket policy: every request over plain HTTP is denied."""
    return _document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                naming.bucket_arn(partition, bucket),
                naming.objects_arn(partition, bucket),
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def service_trust_policy(service: str) -> PolicyDocument:
    """Only the AWS service ``service`` (e.g. ``glue.amazonaws.com``) may assume the role.

    No condition: a positive condition on a key the service does not send (Glue documents
    no ``aws:SourceAccount`` or ``aws:SourceArn`` on AssumeRole) makes AssumeRole fail.
    Passing the role to a job still needs iam:PassRole in this account."""
    return _document(
        {
            "Sid": "ServiceAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }
    )


GLUE_SERVICE: Final = "glue.amazonaws.com"
EVENTS_SERVICE: Final = "events.amazonaws.com"


def notify_workflow_policy(workflow_arn: str) -> PolicyDocument:
    """EventBridge's role: pass events to the one Glue workflow (glue:NotifyEvent), as "Starting
    an AWS Glue workflow with an Amazon EventBridge event" prescribes."""
    return _document(_allow("NotifyWorkflow", ["glue:NotifyEvent"], [workflow_arn]))


def kms_key_policy(ctx: AccountContext) -> PolicyDocument:
    """The stack key: the account administers it through IAM; CloudWatch Logs may use it
    for Glue's log groups (the security configuration encrypts them)."""
    logs_arn = f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account}:log-group:/aws-glue/*"
    return _document(
        {
            # AWS's default key policy statement: delegates key access to IAM policies.
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsGlueLogs",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{ctx.region}.amazonaws.com"},
            # No kms:DescribeKey here: it carries no encryption context, so the condition
            # below could never match it.
            "Action": [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
            ],
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": logs_arn}},
        },
    )


def _logs_and_kms(ctx: AccountContext, kms_key_arn: str | None) -> list[PolicyDocument]:
    log_groups = naming.glue_log_group_arns(ctx.partition, ctx.region, ctx.account)
    statements = [_allow("GlueLogs", _LOG_WRITE, log_groups)]
    if kms_key_arn is not None:
        statements += [
            _allow("UseStackKey", _KMS_DATA_KEY, [kms_key_arn]),
            # The security configuration encrypts Glue's log groups with the stack key.
            _allow("EncryptGlueLogGroups", ["logs:AssociateKmsKey"], log_groups),
        ]
    return statements


@dataclass(frozen=True)
class JobPolicyArgs:
    ctx: AccountContext
    staging_bucket: str
    warehouse_bucket: str
    assets_bucket: str
    database: str
    kms_key_arn: str | None = None


WAREHOUSE_PREFIXES: Final = (
    TABLE_PREFIX,
    QUARANTINE_PREFIX,
    SUMMARY_PREFIX,
)
"""What the job writes in the warehouse: every run's table and quarantine folders (and the
deletes that prune them), and the run summaries."""
ASSETS_WRITE_PREFIXES: Final = (naming.ASSETS_TEMP_PREFIX, naming.ASSETS_SPARK_UI_PREFIX)
"""What Glue writes in the assets bucket for the job: --TempDir and the Spark UI event logs."""


def glue_job_policy(args: JobPolicyArgs) -> PolicyDocument:
    """The ETL job: read the staging folder, write its warehouse folders, read its scripts and
    write its temp and Spark UI folders, point its one table at a published run, log and publish
    Glue metrics.

    Grants are on each location's top-level folder as ``folder*``: that one pattern covers the
    bare key Spark HEADs, the ``folder/`` and ``folder_$folder$`` markers it writes and deletes,
    ``_temporary/`` and everything below. ListBucket is on the job's own buckets without a
    prefix condition: S3 answers a HEAD of a missing key (a marker probe) with 404 only when
    the caller may list the bucket, and with 403 otherwise."""
    ctx = args.ctx
    staging, warehouse, assets = args.staging_bucket, args.warehouse_bucket, args.assets_bucket
    return _document(
        _allow("ReadStaging", _S3_READ, _folders(ctx, staging, [STAGING_PREFIX])),
        _allow("WriteWarehouse", _S3_READ_WRITE, _folders(ctx, warehouse, WAREHOUSE_PREFIXES)),
        _allow("ReadScripts", _S3_READ, _folders(ctx, assets, [naming.ASSETS_SCRIPTS_PREFIX])),
        _allow("WriteTempAndSparkUi", _S3_READ_WRITE, _folders(ctx, assets, ASSETS_WRITE_PREFIXES)),
        _allow(
            "ListOwnBuckets",
            # GetBucketLocation: AWS's Glue service role policy grants it too; clients may
            # ask for a bucket's region before the first request.
            ["s3:GetBucketLocation", "s3:ListBucket"],
            [naming.bucket_arn(ctx.partition, b) for b in (staging, warehouse, assets)],
        ),
        # Publishing a run reads the table and points it at the run's folder (boto3, not Spark:
        # the job does not use the catalog as its metastore).
        _allow(
            "PublishTable",
            ["glue:GetTable", "glue:UpdateTable"],
            naming.glue_table_arns(
                ctx.partition, ctx.region, ctx.account, args.database, TABLE_NAME
            ),
        ),
        *_logs_and_kms(ctx, args.kms_key_arn),
        _allow(
            "PublishGlueMetrics",
            ["cloudwatch:PutMetricData"],
            # PutMetricData has no resource type, so AWS requires "*"; the namespace scopes it.
            ["*"],
            Condition={"StringEquals": {"cloudwatch:namespace": GLUE_METRICS_NAMESPACE}},
        ),
    )


@dataclass(frozen=True)
class CrawlerPolicyArgs:
    ctx: AccountContext
    warehouse_bucket: str
    database: str
    kms_key_arn: str | None = None


def crawler_policy(args: CrawlerPolicyArgs) -> PolicyDocument:
    """The crawler: list and read the table's folder (the table points at a run below it) and
    keep the one database's table current."""
    ctx = args.ctx
    tables = [TABLE_PREFIX]
    return _document(
        _allow("ReadTableData", _S3_READ, _folders(ctx, args.warehouse_bucket, tables)),
        _list_folders("ListTableData", ctx, args.warehouse_bucket, tables),
        _allow(
            "LocateWarehouse",
            ["s3:GetBucketLocation"],
            [naming.bucket_arn(ctx.partition, args.warehouse_bucket)],
        ),
        _allow(
            "SyncCatalogTable",
            [
                "glue:BatchCreatePartition",
                "glue:BatchGetPartition",
                "glue:BatchUpdatePartition",
                "glue:CreatePartition",
                "glue:GetDatabase",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
                "glue:UpdatePartition",
                "glue:UpdateTable",
            ],
            naming.glue_catalog_arns(ctx.partition, ctx.region, ctx.account, args.database),
        ),
        *_logs_and_kms(ctx, args.kms_key_arn),
    )
