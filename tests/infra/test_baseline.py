"""The security and reliability baseline, one rule per test, on every resource it applies to.

Each rule runs on every stack shape (``any_run``) in up mode, and asserts that it checked at
least one resource, so a rule that matched nothing fails instead of passing silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra.storage import BUCKET_KINDS
from tests.infra.harness import ProgramRun, RecordedResource

BUCKET = "aws:s3/bucket:Bucket"
JOB = "aws:glue/job:Job"
CRAWLER = "aws:glue/crawler:Crawler"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
WORKGROUP = "aws:athena/workgroup:Workgroup"
KMS_KEY = "aws:kms/key:Key"


def check(
    resources: list[RecordedResource], rule: str, holds: Callable[[RecordedResource], bool]
) -> None:
    """Assert ``holds`` for every resource; the message names the rule and each failing URN."""
    assert resources, f"{rule}: no resource to check (the program declared none)"
    failing = [r.urn for r in resources if not holds(r)]
    assert not failing, f"{rule} is violated by:\n  " + "\n  ".join(failing)


def buckets(run: ProgramRun) -> list[RecordedResource]:
    found = run.of_type(BUCKET)
    assert len(found) == len(BUCKET_KINDS), [r.urn for r in found]
    return found


def bucket_name(run: ProgramRun, bucket: RecordedResource) -> str:
    name: str = run.states[bucket.urn]["bucket"]
    return name


def config_of(run: ProgramRun, bucket: RecordedResource, type_token: str) -> list[dict[str, Any]]:
    """Inputs of the per-bucket configuration resources of one type that target ``bucket``."""
    name = bucket_name(run, bucket)
    return [r.inputs for r in run.of_type(type_token) if r.inputs.get("bucket") == name]


def kind(bucket: RecordedResource) -> str:
    return str(bucket.inputs["tags"]["kind"])


def lifecycle_rules(run: ProgramRun, bucket: RecordedResource) -> list[dict[str, Any]]:
    configs = config_of(
        run, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    return [rule for config in configs for rule in config["rules"] if rule["status"] == "Enabled"]


def kms_key_arn(run: ProgramRun) -> str | None:
    keys = run.of_type(KMS_KEY)
    return str(run.states[keys[0].urn]["arn"]) if keys else None


# --- S3 ----------------------------------------------------------------------------------------


def test_every_bucket_enforces_bucket_owner_object_ownership(any_run):
    """Each bucket has ownership controls set to BucketOwnerEnforced (ACLs disabled)."""
    check(
        buckets(any_run),
        "BucketOwnerEnforced ownership",
        lambda b: (
            [
                c["rule"]["objectOwnership"]
                for c in config_of(
                    any_run, b, "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
                )
            ]
            == ["BucketOwnerEnforced"]
        ),
    )


def test_every_bucket_blocks_all_public_access(any_run):
    """Each bucket has one public-access block with all four flags on."""
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    check(
        buckets(any_run),
        "all four public-access-block flags",
        lambda b: (
            [
                all(c.get(flag) is True for flag in flags)
                for c in config_of(
                    any_run, b, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
                )
            ]
            == [True]
        ),
    )


def test_every_bucket_is_encrypted_with_the_stack_key_when_configured(any_run):
    """SSE is AES256 without a customer-managed key, else aws:kms with that key and a bucket key."""
    key_arn = kms_key_arn(any_run)

    def encrypted(bucket: RecordedResource) -> bool:
        configs = config_of(
            any_run,
            bucket,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        )
        if len(configs) != 1 or len(configs[0]["rules"]) != 1:
            return False
        rule = configs[0]["rules"][0]
        default: dict[str, str] = rule["applyServerSideEncryptionByDefault"]
        if key_arn is None:
            return default == {"sseAlgorithm": "AES256"}
        return (
            default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
            and rule.get("bucketKeyEnabled") is True
        )

    check(buckets(any_run), "server-side encryption", encrypted)


def test_data_buckets_are_versioned(any_run):
    """Staging and warehouse buckets have versioning Enabled."""
    data = [b for b in buckets(any_run) if kind(b) in ("staging", "warehouse")]
    assert len(data) == 2
    check(
        data,
        "versioning on data buckets",
        lambda b: (
            [
                c["versioningConfiguration"]["status"]
                for c in config_of(any_run, b, "aws:s3/bucketVersioning:BucketVersioning")
            ]
            == ["Enabled"]
        ),
    )


def test_every_bucket_denies_requests_without_tls(any_run):
    """Each bucket policy denies every action on the bucket and its objects over plain HTTP."""

    def denies_plain_http(bucket: RecordedResource) -> bool:
        arn = f"arn:aws:s3:::{bucket_name(any_run, bucket)}"
        policies = config_of(any_run, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        if len(policies) != 1:
            return False
        statements = json.loads(policies[0]["policy"])["Statement"]
        return any(
            s["Effect"] == "Deny"
            and s["Principal"] == "*"
            and s["Action"] == "s3:*"
            and sorted(s["Resource"]) == [arn, f"{arn}/*"]
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )

    check(buckets(any_run), "deny-unless-TLS bucket policy", denies_plain_http)


def test_every_bucket_aborts_incomplete_multipart_uploads(any_run):
    """A whole-bucket rule aborts multipart uploads left incomplete."""
    check(
        buckets(any_run),
        "abort incomplete multipart uploads",
        lambda b: any(
            r.get("abortIncompleteMultipartUpload", {}).get("daysAfterInitiation", 0) > 0
            and r["filter"]["prefix"] == ""
            for r in lifecycle_rules(any_run, b)
        ),
    )


def test_athena_results_expire(any_run):
    """The results bucket expires every object after the configured days."""
    results = [b for b in buckets(any_run) if kind(b) == "results"]
    check(
        results,
        "athena results expire",
        lambda b: any(
            r.get("expiration", {}).get("days", 0) > 0 and r["filter"]["prefix"] == ""
            for r in lifecycle_rules(any_run, b)
        ),
    )


def test_glue_temp_files_expire(any_run):
    """The assets bucket expires the job's --TempDir prefix."""
    assets = [b for b in buckets(any_run) if kind(b) == "assets"]
    job = any_run.of_type(JOB)[0]
    temp_prefix = job.inputs["defaultArguments"]["--TempDir"].split("/", 3)[3]
    check(
        assets,
        "temp files expire",
        lambda b: any(
            r.get("expiration", {}).get("days", 0) > 0 and r["filter"]["prefix"] == temp_prefix
            for r in lifecycle_rules(any_run, b)
        ),
    )


def test_noncurrent_versions_expire_in_versioned_buckets(any_run):
    """Every versioned bucket expires noncurrent versions."""
    versioned = [
        b
        for b in buckets(any_run)
        if config_of(any_run, b, "aws:s3/bucketVersioning:BucketVersioning")
    ]
    check(
        versioned,
        "noncurrent versions expire",
        lambda b: any(
            r.get("noncurrentVersionExpiration", {}).get("noncurrentDays", 0) > 0
            for r in lifecycle_rules(any_run, b)
        ),
    )


def test_customer_managed_key_rotates_and_has_an_alias(cmk_run):
    """The stack key has rotation on and an alias pointing at it."""
    keys = cmk_run.of_type(KMS_KEY)
    check(keys, "KMS key rotation", lambda k: k.inputs.get("enableKeyRotation") is True)
    key_ids = {cmk_run.states[k.urn]["keyId"] for k in keys}
    aliases = cmk_run.of_type("aws:kms/alias:Alias")
    check(
        aliases,
        "alias targets the stack key",
        lambda a: a.inputs["targetKeyId"] in key_ids and a.inputs["name"].startswith("alias/"),
    )


# --- Glue and IAM ------------------------------------------------------------------------------


def test_job_and_crawler_use_the_security_configuration(any_run):
    """The job and the crawler name the stack's Glue security configuration."""
    names = {
        r.inputs["name"]
        for r in any_run.of_type("aws:glue/securityConfiguration:SecurityConfiguration")
    }
    assert len(names) == 1
    check(
        any_run.of_type(JOB) + any_run.of_type(CRAWLER),
        "Glue security configuration",
        lambda r: r.inputs.get("securityConfiguration") in names,
    )


def test_job_has_explicit_timeout_retries_and_one_concurrent_run(any_run):
    """The job sets a timeout, a retry count and max_concurrent_runs = 1."""
    check(
        any_run.of_type(JOB),
        "timeout, retries, max concurrent runs",
        lambda j: (
            j.inputs.get("timeout", 0) > 0
            and "maxRetries" in j.inputs
            and j.inputs["executionProperty"] == {"maxConcurrentRuns": 1}
        ),
    )


def test_job_has_continuous_logging_and_metrics(any_run):
    """The job turns on continuous CloudWatch logging and job metrics."""
    check(
        any_run.of_type(JOB),
        "continuous logging and metrics",
        lambda j: (
            j.inputs["defaultArguments"].get("--enable-continuous-cloudwatch-log") == "true"
            and j.inputs["defaultArguments"].get("--enable-metrics") == "true"
        ),
    )


def test_roles_attach_no_managed_policies(any_run):
    """No role attaches a managed policy (AWSGlueServiceRole included): inline only."""
    check(
        any_run.of_type(ROLE),
        "no managed policies",
        lambda r: (
            not r.inputs.get("managedPolicyArns")
            and "AWSGlueServiceRole" not in json.dumps(r.inputs)
        ),
    )


def test_roles_trust_only_glue_for_this_account(any_run):
    """Each role trusts glue.amazonaws.com only, with an aws:SourceAccount condition."""

    def trusts_glue(role: RecordedResource) -> bool:
        statements = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        return all(
            s["Principal"] == {"Service": "glue.amazonaws.com"}
            and s["Condition"]["StringEquals"]["aws:SourceAccount"].isdigit()
            for s in statements
        )

    check(any_run.of_type(ROLE), "Glue trust with source account", trusts_glue)


def _allow_statements(policy: RecordedResource) -> list[dict[str, Any]]:
    document = json.loads(policy.inputs["policy"])
    return [s for s in document["Statement"] if s["Effect"] == "Allow"]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_role_policies_grant_no_wildcard_actions(any_run):
    """No allowed action in a role policy contains '*'."""
    check(
        any_run.of_type(ROLE_POLICY),
        "no * actions",
        lambda p: all(
            "*" not in action for s in _allow_statements(p) for action in _as_list(s["Action"])
        ),
    )


def test_role_policies_use_star_resources_only_with_conditions(any_run):
    """A '*' resource appears only in a statement that carries a condition."""
    check(
        any_run.of_type(ROLE_POLICY),
        "* resources only with conditions",
        lambda p: all(
            "Condition" in s for s in _allow_statements(p) if "*" in _as_list(s["Resource"])
        ),
    )


# --- Athena ------------------------------------------------------------------------------------


def test_workgroup_enforces_encrypted_limited_v3_configuration(any_run):
    """The workgroup enforces its configuration: engine v3, encrypted results in the results
    bucket, a bytes-scanned cutoff and CloudWatch metrics."""
    results = [b for b in buckets(any_run) if kind(b) == "results"]
    results_bucket = bucket_name(any_run, results[0])
    key_arn = kms_key_arn(any_run)
    expected_encryption = (
        {"encryptionOption": "SSE_S3"}
        if key_arn is None
        else {"encryptionOption": "SSE_KMS", "kmsKeyArn": key_arn}
    )

    def enforced(workgroup: RecordedResource) -> bool:
        config = workgroup.inputs["configuration"]
        result = config["resultConfiguration"]
        return (
            config["enforceWorkgroupConfiguration"] is True
            and config["publishCloudwatchMetricsEnabled"] is True
            and config["bytesScannedCutoffPerQuery"] >= 10 * 1024 * 1024
            and config["engineVersion"]["selectedEngineVersion"] == "Athena engine version 3"
            and result["outputLocation"].startswith(f"s3://{results_bucket}/")
            and result["encryptionConfiguration"] == expected_encryption
        )

    check(any_run.of_type(WORKGROUP), "enforced workgroup configuration", enforced)


# --- Prod and ephemeral stacks ------------------------------------------------------------------


def test_prod_protects_data_buckets_and_database(prod_run):
    """In prod the staging and warehouse buckets and the catalog database are protected."""
    data = [b for b in buckets(prod_run) if kind(b) in ("staging", "warehouse")]
    database = prod_run.of_type("aws:glue/catalogDatabase:CatalogDatabase")
    assert len(data) == 2
    assert len(database) == 1
    check(data + database, "protected in prod", lambda r: r.protect)


def test_prod_protects_the_stack_key(prod_run):
    """Prod's customer-managed key is protected: losing it would make the data unreadable."""
    check(prod_run.of_type(KMS_KEY), "protected key in prod", lambda r: r.protect)


def test_dev_leaves_data_unprotected(dev_run):
    """dev does not protect its data, so the stack can be destroyed."""
    data = [b for b in buckets(dev_run) if kind(b) in ("staging", "warehouse")]
    check(data, "unprotected in dev", lambda r: not r.protect)


def test_review_stacks_force_destroy_buckets_and_workgroup(review_run):
    """A pr-<n> review stack can be torn down: buckets and the workgroup force-destroy."""
    check(
        buckets(review_run) + review_run.of_type(WORKGROUP),
        "force_destroy on ephemeral stacks",
        lambda r: r.inputs.get("forceDestroy") is True,
    )


def test_force_destroy_is_off_where_not_configured(any_run):
    """force_destroy is only on where the stack config turned it on (review stacks)."""
    ephemeral = any_run.outputs["workflow_name"].startswith("spotify-pr-")
    check(
        buckets(any_run) + any_run.of_type(WORKGROUP),
        "force_destroy only when configured",
        lambda r: r.inputs.get("forceDestroy") is ephemeral,
    )
