"""Pure IAM, bucket and key policy document builders.

Each returns a JSON-ready dict built from plain strings, so the documents are unit-tested and
run through parliament without Pulumi. Components call them inside ``Output.apply`` to fill
in ARNs that are only known at deploy time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from spotify_glue import contract

from infra import naming

PolicyDocument = dict[str, Any]

VERSION: Final = "2012-10-17"
GLUE_METRICS_NAMESPACE: Final = "Glue"

_S3_READ: Final = ["s3:GetObject"]
_S3_READ_WRITE: Final = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
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


def _list_prefixes(
    sid: str, ctx: AccountContext, bucket: str, prefixes: Sequence[str]
) -> PolicyDocument:
    """ListBucket on one bucket, only below the given prefixes (with and without the slash)."""
    patterns: list[str] = []
    for prefix in prefixes:
        bare = prefix.rstrip("/")
        patterns += [bare, f"{bare}/*"]
    return _allow(
        sid,
        ["s3:ListBucket"],
        [naming.bucket_arn(ctx.partition, bucket)],
        Condition={"StringLike": {"s3:prefix": patterns}},
    )


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


def glue_trust_policy(account: str) -> PolicyDocument:
    """Only the Glue service, acting for this account, may assume the role."""
    return _document(
        {
            "Sid": "GlueAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "glue.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
    )


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


def glue_job_policy(args: JobPolicyArgs) -> PolicyDocument:
    """The ETL job: read the staging prefix, write the table and its side outputs, use its
    own assets prefixes, read the one database, log and publish Glue metrics."""
    ctx = args.ctx
    warehouse_prefixes = (
        contract.TABLE_PREFIX,
        contract.QUARANTINE_PREFIX,
        contract.SUMMARY_PREFIX,
    )
    catalog = naming.glue_catalog_arns(ctx.partition, ctx.region, ctx.account, args.database)
    # Spark's Glue catalog client looks up the default database at start-up.
    default_db = f"arn:{ctx.partition}:glue:{ctx.region}:{ctx.account}:database/default"
    return _document(
        _allow(
            "ReadStaging",
            _S3_READ,
            [naming.objects_arn(ctx.partition, args.staging_bucket, contract.STAGING_PREFIX)],
        ),
        _list_prefixes("ListStaging", ctx, args.staging_bucket, [contract.STAGING_PREFIX]),
        _allow(
            "WriteWarehouse",
            _S3_READ_WRITE,
            [
                naming.objects_arn(ctx.partition, args.warehouse_bucket, p)
                for p in warehouse_prefixes
            ],
        ),
        _list_prefixes("ListWarehouse", ctx, args.warehouse_bucket, warehouse_prefixes),
        _allow(
            "ReadScripts",
            _S3_READ,
            [naming.objects_arn(ctx.partition, args.assets_bucket, naming.ASSETS_SCRIPTS_PREFIX)],
        ),
        _allow(
            "WriteTempAndSparkUi",
            _S3_READ_WRITE,
            [
                naming.objects_arn(ctx.partition, args.assets_bucket, naming.ASSETS_TEMP_PREFIX),
                naming.objects_arn(
                    ctx.partition, args.assets_bucket, naming.ASSETS_SPARK_UI_PREFIX
                ),
            ],
        ),
        _list_prefixes(
            "ListAssets",
            ctx,
            args.assets_bucket,
            [naming.ASSETS_TEMP_PREFIX, naming.ASSETS_SPARK_UI_PREFIX],
        ),
        _allow(
            "ReadCatalog",
            ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
            [*catalog, default_db],
        ),
        # Publishing a run points the table at the run's folder (glue:UpdateTable).
        _allow("PublishTable", ["glue:UpdateTable"], catalog),
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
    """The crawler: read the table prefix and keep the one database's table current."""
    ctx = args.ctx
    table_prefix = contract.TABLE_PREFIX
    return _document(
        _allow(
            "ReadTableData",
            _S3_READ,
            [naming.objects_arn(ctx.partition, args.warehouse_bucket, table_prefix)],
        ),
        _list_prefixes("ListTableData", ctx, args.warehouse_bucket, [table_prefix]),
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
