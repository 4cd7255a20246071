"""IAM, bucket and key policies: scoped as intended, and clean under parliament."""

from __future__ import annotations

import json
from typing import Any

import pytest
from parliament import analyze_policy_string

from infra import policies
from tests.infra.harness import ProgramRun

CTX = policies.AccountContext(partition="aws", region="eu-west-1", account="123456789012")
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# Findings ignored per kind of document, each with its reason. Anything else fails the test.
IGNORED_FINDINGS: dict[str, dict[str, str]] = {
    "trust": {
        "MALFORMED": "a role trust policy has no Resource element by definition; parliament "
        "reads every document as an identity policy",
    },
    "key": {
        "RESOURCE_STAR": 'in a KMS key policy "*" means this key only',
        "PERMISSIONS_MANAGEMENT_ACTIONS": "AWS's default key statement: the account root "
        "administers the key through IAM, otherwise the key becomes unmanageable",
    },
    "bucket": {},
    "role": {},
}


def policy_documents(run: ProgramRun) -> list[tuple[str, str, str]]:
    """(kind, urn, json) of every policy document the program declares."""
    found: list[tuple[str, str, str]] = []
    for record in run.resources:
        if record.type == "aws:iam/role:Role":
            found.append(("trust", record.urn, record.inputs["assumeRolePolicy"]))
        elif record.type == "aws:iam/rolePolicy:RolePolicy":
            found.append(("role", record.urn, record.inputs["policy"]))
        elif record.type == "aws:s3/bucketPolicy:BucketPolicy":
            found.append(("bucket", record.urn, record.inputs["policy"]))
        elif record.type == "aws:kms/key:Key":
            found.append(("key", record.urn, record.inputs["policy"]))
    return found


def unexpected_findings(kind: str, document: str) -> list[str]:
    policy = analyze_policy_string(document, include_community_auditors=True)
    ignored = IGNORED_FINDINGS[kind]
    return [f"{f.issue}: {f.detail}" for f in policy.findings if f.issue not in ignored]


def test_every_policy_document_of_every_stack_passes_parliament(any_run):
    """Trust, role, bucket and key policies have no parliament finding beyond the listed ones."""
    documents = policy_documents(any_run)
    kinds = {kind for kind, _, _ in documents}
    assert {"trust", "role", "bucket"} <= kinds
    problems = {
        urn: findings
        for kind, urn, document in documents
        if (findings := unexpected_findings(kind, document))
    }
    assert not problems, json.dumps(problems, indent=2)


def test_key_policy_is_checked_when_the_key_exists(cmk_run):
    """The customer-managed key's policy is among the documents parliament checks."""
    assert [kind for kind, _, _ in policy_documents(cmk_run)].count("key") == 1


def test_parliament_catches_a_wildcard_action():
    """The parliament check can fail: a wildcard-resource write policy is reported."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
    }
    assert unexpected_findings("role", json.dumps(bad))


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def job_policy(kms: str | None = None) -> dict[str, dict[str, Any]]:
    return statements(
        policies.glue_job_policy(
            policies.JobPolicyArgs(CTX, "stage", "house", "assets", "spotify_dev", kms)
        )
    )


def test_job_reads_only_the_staging_folder():
    """The job reads the staging folder (bare key, markers and files) and nothing else there."""
    s = job_policy()
    assert s["ReadStaging"]["Action"] == ["s3:GetObject"]
    assert s["ReadStaging"]["Resource"] == ["arn:aws:s3:::stage/spotify-2023*"]


def test_job_writes_only_its_warehouse_and_assets_folders():
    """Warehouse writes are the table, quarantine and run-summary folders; assets writes the
    temp and Spark UI folders; scripts are read-only."""
    s = job_policy()
    assert s["WriteWarehouse"]["Resource"] == [
        "arn:aws:s3:::house/_quarantine*",
        "arn:aws:s3:::house/_run_summary*",
        "arn:aws:s3:::house/spotify_tracks*",
    ]
    assert s["WriteTempAndSparkUi"]["Resource"] == [
        "arn:aws:s3:::assets/glue-temp*",
        "arn:aws:s3:::assets/spark-ui-logs*",
    ]
    assert s["ReadScripts"]["Action"] == ["s3:GetObject"]


def test_job_lists_only_its_own_buckets():
    """ListBucket (which turns a HEAD of a missing key into 404) names the job's three
    buckets and no other."""
    assert job_policy()["ListOwnBuckets"]["Resource"] == [
        "arn:aws:s3:::stage",
        "arn:aws:s3:::house",
        "arn:aws:s3:::assets",
    ]


def test_job_catalog_access_is_reading_and_switching_its_one_table():
    """The job may only get and update its own table (resources: catalog, database, table)."""
    publish = job_policy()["PublishTable"]
    assert publish["Action"] == ["glue:GetTable", "glue:UpdateTable"]
    assert publish["Resource"] == [
        "arn:aws:glue:eu-west-1:123456789012:catalog",
        "arn:aws:glue:eu-west-1:123456789012:database/spotify_dev",
        "arn:aws:glue:eu-west-1:123456789012:table/spotify_dev/spotify_tracks",
    ]
    glue_actions = {a for st in job_policy().values() for a in st["Action"] if "glue:" in a}
    assert glue_actions == {"glue:GetTable", "glue:UpdateTable"}


def test_job_logs_only_to_glue_log_groups():
    """Log permissions cover /aws-glue/* log groups and streams only."""
    assert job_policy()["GlueLogs"]["Resource"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/*",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/*:log-stream:*",
    ]


def test_job_metrics_are_limited_to_the_glue_namespace():
    """PutMetricData needs resource "*"; a namespace condition restricts it to Glue."""
    metrics = job_policy()["PublishGlueMetrics"]
    assert metrics["Resource"] == ["*"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}


@pytest.mark.parametrize("builder", ["job", "crawler"])
def test_kms_access_is_the_one_key_and_only_with_a_key(builder):
    """KMS statements name the stack key, and appear only when the stack has one."""

    def build(kms: str | None) -> dict[str, dict[str, Any]]:
        if builder == "job":
            return job_policy(kms)
        return statements(
            policies.crawler_policy(policies.CrawlerPolicyArgs(CTX, "house", "spotify_dev", kms))
        )

    assert "UseStackKey" not in build(None)
    with_key = build(KEY_ARN)
    assert with_key["UseStackKey"]["Resource"] == [KEY_ARN]
    assert with_key["EncryptGlueLogGroups"]["Action"] == ["logs:AssociateKmsKey"]


def test_crawler_only_reads_table_data():
    """The crawler reads and lists the table folder; it can neither write nor delete."""
    s = statements(policies.crawler_policy(policies.CrawlerPolicyArgs(CTX, "house", "spotify_dev")))
    s3_actions = {a for st in s.values() for a in st["Action"] if a.startswith("s3:")}
    assert s3_actions == {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"}
    assert s["ReadTableData"]["Resource"] == ["arn:aws:s3:::house/spotify_tracks*"]
    assert s["ListTableData"]["Condition"] == {"StringLike": {"s3:prefix": ["spotify_tracks*"]}}


def test_key_policy_lets_cloudwatch_logs_use_it_for_glue_logs_only():
    """CloudWatch Logs of the region may use the key, only for /aws-glue/* log groups."""
    logs = statements(policies.kms_key_policy(CTX))["CloudWatchLogsEncryptsGlueLogs"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["StringLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/*"
    )


def test_trust_policy_names_one_service_and_no_condition():
    """The trust lets the one service assume the role, with no condition (Glue documents no
    condition key it sends with AssumeRole)."""
    (trust,) = policies.service_trust_policy(policies.GLUE_SERVICE)["Statement"]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    assert "Condition" not in trust
