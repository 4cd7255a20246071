"""Storage: the staging, warehouse, Athena-results and assets buckets, and the stack key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra import naming, policies

ABORT_INCOMPLETE_UPLOAD_DAYS: Final = 7
KMS_DELETION_WINDOW_DAYS: Final = 30


@dataclass(frozen=True)
class LifecycleRule:
    """One expiry rule; pure data so tests can check rules without Pulumi."""

    rule_id: str
    prefix: str = ""
    expire_days: int | None = None
    """Expire current objects under ``prefix`` after this many days."""
    noncurrent_days: int | None = None
    """Expire noncurrent versions after this many days (versioned buckets)."""
    abort_incomplete_days: int | None = None


def _lifecycle_rules(
    kind: str,
    *,
    versioned: bool,
    results_days: int,
    temp_days: int,
    spark_ui_days: int,
    noncurrent_days: int,
) -> list[LifecycleRule]:
    """Every bucket aborts stale multipart uploads; results, temp files and Spark UI logs
    expire; versioned buckets drop old versions."""
    rules = [
        LifecycleRule(
            "abort-incomplete-uploads", abort_incomplete_days=ABORT_INCOMPLETE_UPLOAD_DAYS
        )
    ]
    if kind == "results":
        rules.append(LifecycleRule("expire-query-results", expire_days=results_days))
    if kind == "assets":
        rules.append(
            LifecycleRule("expire-temp-files", naming.ASSETS_TEMP_PREFIX, expire_days=temp_days)
        )
        rules.append(
            LifecycleRule(
                "expire-spark-ui-logs", naming.ASSETS_SPARK_UI_PREFIX, expire_days=spark_ui_days
            )
        )
    if versioned:
        rules.append(LifecycleRule("expire-noncurrent-versions", noncurrent_days=noncurrent_days))
    return rules


@dataclass
class StorageArgs:
    environment: str
    """Name prefix suffix of every bucket (``spotify-<environment>-<kind>``)."""
    account: pulumi.Input[policies.AccountContext]
    """Where the stack deploys: the partition for bucket ARNs in the bucket policies, all of
    it for the key policy (its CloudWatch Logs principal names the region)."""
    customer_managed_key: bool
    """Create a KMS key (rotation on, with an alias) and encrypt every bucket with it."""
    protect_data: bool
    """Protect the staging and warehouse buckets (and the key) from deletion."""
    force_destroy: bool
    """Let destroy empty the buckets first (ephemeral stacks)."""
    athena_results_retention_days: int
    """Days before Athena results expire."""
    temp_retention_days: int
    """Days before Glue temp files expire."""
    spark_ui_log_retention_days: int
    """Days before the job's Spark UI event logs expire."""
    noncurrent_version_retention_days: int
    """Days before noncurrent versions in versioned buckets expire."""
    staging_events: bool = False
    """Send the staging bucket's object events to EventBridge (to start runs on arrival)."""


BUCKET_KINDS: Final = ("staging", "warehouse", "results", "assets")
DATA_BUCKETS: Final = frozenset({"staging", "warehouse"})
"""Hold the pipeline's data: versioned, and protected when protectData is on."""


class Storage(pulumi.ComponentResource):
    buckets: dict[str, aws.s3.Bucket]
    staging_bucket: pulumi.Output[str]
    warehouse_bucket: pulumi.Output[str]
    results_bucket: pulumi.Output[str]
    assets_bucket: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:storage:Storage", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(parent=self, protect=args.protect_data)

        self.kms_key: aws.kms.Key | None = None
        self.kms_key_arn = None
        if args.customer_managed_key:
            key_policy = pulumi.Output.from_input(args.account).apply(
                lambda ctx: json.dumps(policies.kms_key_policy(ctx))
            )
            self.kms_key = aws.kms.Key(
                f"{prefix}-key",
                description=f"Spotify pipeline ({args.environment}): buckets, Glue and Athena",
                enable_key_rotation=True,
                deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
                policy=key_policy,
                opts=protected,
            )
            aws.kms.Alias(
                f"{prefix}-key-alias",
                name=naming.key_alias(args.environment),
                target_key_id=self.kms_key.key_id,
                opts=child,
            )
            self.kms_key_arn = self.kms_key.arn

        self.buckets = {}
        for kind in BUCKET_KINDS:
            self.buckets[kind] = self._bucket(
                naming.bucket_logical_name(args.environment, kind), kind, args
            )

        if args.staging_events:
            # S3 delivers every object event of the bucket to EventBridge's default bus; the
            # orchestration's rule picks the source files
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html).
            aws.s3.BucketNotification(
                f"{prefix}-staging-events",
                bucket=self.buckets["staging"].id,
                eventbridge=True,
                opts=child,
            )

        self.staging_bucket = self.buckets["staging"].bucket
        self.warehouse_bucket = self.buckets["warehouse"].bucket
        self.results_bucket = self.buckets["results"].bucket
        self.assets_bucket = self.buckets["assets"].bucket
        self.register_outputs(
            {
                "staging_bucket": self.staging_bucket,
                "warehouse_bucket": self.warehouse_bucket,
                "results_bucket": self.results_bucket,
                "assets_bucket": self.assets_bucket,
            }
        )

    def _bucket(self, name: str, kind: str, args: StorageArgs) -> aws.s3.Bucket:
        versioned = kind in DATA_BUCKETS
        bucket = aws.s3.Bucket(
            name,
            force_destroy=args.force_destroy,
            tags={"component": "storage", "kind": kind},
            opts=pulumi.ResourceOptions(parent=self, protect=versioned and args.protect_data),
        )
        child = pulumi.ResourceOptions(parent=self)
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        sse = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
        )
        by_default = (
            sse(sse_algorithm="aws:kms", kms_master_key_id=self.kms_key.arn)
            if self.kms_key is not None
            else sse(sse_algorithm="AES256")
        )
        # The bucket key cuts KMS requests; it only applies to SSE-KMS.
        bucket_key = True if self.kms_key is not None else None
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=by_default,
                    bucket_key_enabled=bucket_key,
                )
            ],
            opts=child,
        )
        versioning: aws.s3.BucketVersioning | None = None
        if versioned:
            versioning = aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=child,
            )
        rules = _lifecycle_rules(
            kind,
            versioned=versioned,
            results_days=args.athena_results_retention_days,
            temp_days=args.temp_retention_days,
            spark_ui_days=args.spark_ui_log_retention_days,
            noncurrent_days=args.noncurrent_version_retention_days,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[_lifecycle_rule_args(rule) for rule in rules],
            # Lifecycle rules on noncurrent versions need versioning in place first.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[versioning] if versioning is not None else []
            ),
        )
        policy = pulumi.Output.all(args.account, bucket.bucket).apply(
            lambda v: json.dumps(policies.deny_insecure_transport(v[0].partition, v[1]))
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy,
            # S3 rejects policy writes while a public-access-block or ownership change is pending.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access, ownership]),
        )
        return bucket


def _lifecycle_rule_args(rule: LifecycleRule) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule.rule_id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=rule.prefix),
        expiration=(
            aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=rule.expire_days)
            if rule.expire_days is not None
            else None
        ),
        noncurrent_version_expiration=(
            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=rule.noncurrent_days
            )
            if rule.noncurrent_days is not None
            else None
        ),
        abort_incomplete_multipart_upload=(
            aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=rule.abort_incomplete_days
            )
            if rule.abort_incomplete_days is not None
            else None
        ),
    )
