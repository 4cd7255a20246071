"""Each guardrail fails on a crafted graph that breaks it and passes on a compliant one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import botocore.session
import pytest
from resource_graph import UNKNOWN, ResourceRecord, StackContext, bucket_of
from spotify_guardrails import (
    ATHENA_MIN_BYTES_SCANNED_CUTOFF,
    RULES,
    RULES_BY_NAME,
    evaluate,
    statement_problems,
)

from tests.policy import graphs
from tests.policy.graphs import Join, compliant_graph, edit, set_prop, without

DEV = StackContext(stack="dev")
PROD = StackContext(stack="prod")

Graph = list[ResourceRecord]
STAGING = graphs.physical_name("spotify-dev-staging")


@dataclass(frozen=True)
class Breach:
    rule: str
    breaks: Callable[[Graph], Graph]
    culprit: str
    """Logical name of the resource the violation must name."""
    says: str
    """A fragment of the violation message."""
    context: StackContext = DEV
    join: Join = Join.DEPENDENCY
    """``VALUE`` where the breach needs bucket names and key ARNs known (an update)."""
    cmk: bool = False
    """The stack declares a KMS key."""


def _policy_doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _job_policy(*statements: dict[str, object]) -> Callable[[Graph], Graph]:
    return lambda g: set_prop(g, "spotify-dev-job-policy", "policy", _policy_doc(*statements))


def _add(record: ResourceRecord) -> Callable[[Graph], Graph]:
    return lambda g: [*g, record]


def _staging_tls_denial(**changes: object) -> Callable[[Graph], Graph]:
    """The staging bucket's policy as one TLS denial, with ``changes`` to that statement."""
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{STAGING}", f"arn:aws:s3:::{STAGING}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        **changes,
    }
    return lambda g: set_prop(g, "spotify-dev-staging-policy", "policy", _policy_doc(statement))


def _lifecycle_rules(name: str, *rules: dict[str, Any]) -> Callable[[Graph], Graph]:
    return lambda g: set_prop(g, name, "rules", list(rules))


ABORT = {
    "status": "Enabled",
    "filter": {"prefix": ""},
    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
}


def _twice(name: str) -> Callable[[Graph], Graph]:
    """The graph with a second resource configuring the same bucket as ``name``."""

    def add(g: Graph) -> Graph:
        original = graphs.named(g, name)
        return [*g, replace(original, name=name + "-2", urn=original.urn + "-2")]

    return add


def _attachment(arn: str) -> ResourceRecord:
    type_ = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    return ResourceRecord(
        type_,
        "glue-managed",
        graphs.urn("dev", type_, "glue-managed"),
        {
            "role": "spotify-dev-job-role",
            "policyArn": arn,
        },
    )


def _unprotect(name: str) -> Callable[[Graph], Graph]:
    return lambda g: edit(g, name, lambda r: replace(r, protect=False))


def _retain_instead_of_protect(name: str) -> Callable[[Graph], Graph]:
    return lambda g: edit(g, name, lambda r: replace(r, protect=False, retain_on_delete=True))


BREACHES: dict[str, Breach] = {
    "no ownership controls": Breach(
        "s3-ownership-enforced",
        lambda g: without(g, "spotify-dev-warehouse-ownership"),
        "spotify-dev-warehouse",
        "no ownership controls",
    ),
    "ACLs still in use": Breach(
        "s3-ownership-enforced",
        lambda g: set_prop(
            g, "spotify-dev-assets-ownership", "rule.objectOwnership", "ObjectWriter"
        ),
        "spotify-dev-assets-ownership",
        "'ObjectWriter'",
    ),
    "no public access block": Breach(
        "s3-public-access-blocked",
        lambda g: without(g, "spotify-dev-results-public-access"),
        "spotify-dev-results",
        "no public access block",
    ),
    "one public access flag off": Breach(
        "s3-public-access-blocked",
        lambda g: set_prop(g, "spotify-dev-staging-public-access", "restrictPublicBuckets", False),
        "spotify-dev-staging-public-access",
        "restrictPublicBuckets",
    ),
    "public access flag missing": Breach(
        "s3-public-access-blocked",
        lambda g: set_prop(g, "spotify-dev-staging-public-access", "blockPublicPolicy", None),
        "spotify-dev-staging-public-access",
        "blockPublicPolicy",
    ),
    "no encryption": Breach(
        "s3-encryption-at-rest",
        lambda g: without(g, "spotify-dev-assets-encryption"),
        "spotify-dev-assets",
        "no server-side encryption",
    ),
    "unknown algorithm": Breach(
        "s3-encryption-at-rest",
        lambda g: set_prop(
            g,
            "spotify-dev-assets-encryption",
            "rules",
            [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}],
        ),
        "spotify-dev-assets-encryption",
        "'none'",
    ),
    "KMS without bucket key": Breach(
        "s3-encryption-at-rest",
        lambda g: set_prop(
            g,
            "spotify-dev-warehouse-encryption",
            "rules",
            [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
        ),
        "spotify-dev-warehouse-encryption",
        "bucket_key_enabled=True",
    ),
    "empty encryption rules": Breach(
        "s3-encryption-at-rest",
        lambda g: set_prop(g, "spotify-dev-results-encryption", "rules", []),
        "spotify-dev-results-encryption",
        "rules is []",
    ),
    "data bucket unversioned": Breach(
        "s3-data-bucket-versioning",
        lambda g: without(g, "spotify-dev-staging-versioning"),
        "spotify-dev-staging",
        "no versioning",
    ),
    "versioning suspended": Breach(
        "s3-data-bucket-versioning",
        lambda g: set_prop(
            g, "spotify-dev-warehouse-versioning", "versioningConfiguration.status", "Suspended"
        ),
        "spotify-dev-warehouse-versioning",
        "'Suspended'",
    ),
    "no bucket policy": Breach(
        "s3-tls-only",
        lambda g: without(g, "spotify-dev-warehouse-policy"),
        "spotify-dev-warehouse",
        "no bucket policy",
    ),
    "policy allows HTTP": Breach(
        "s3-tls-only",
        _staging_tls_denial(Condition={"Bool": {"aws:SecureTransport": "true"}}),
        "spotify-dev-staging-policy",
        "aws:SecureTransport",
    ),
    "TLS deny for one principal only": Breach(
        "s3-tls-only",
        _staging_tls_denial(Principal={"AWS": "arn:aws:iam::123456789012:root"}),
        "spotify-dev-staging-policy",
        "every principal",
    ),
    "job without security configuration": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "securityConfiguration", None),
        "spotify-dev-etl",
        "securityConfiguration is None",
    ),
    "job without timeout": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "timeout", None),
        "spotify-dev-etl",
        "timeout is None",
    ),
    "job timeout beyond Glue's maximum": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "timeout", 5000),
        "spotify-dev-etl",
        "timeout is 5000",
    ),
    "job runs concurrently": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "executionProperty.maxConcurrentRuns", 3.0),
        "spotify-dev-etl",
        "maxConcurrentRuns is 3.0",
    ),
    "job concurrency left to the default": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "executionProperty", None),
        "spotify-dev-etl",
        "maxConcurrentRuns is None",
    ),
    "security configuration leaves S3 unencrypted": Breach(
        "glue-security-configuration-encrypts",
        lambda g: set_prop(
            g,
            "spotify-dev-security",
            "encryptionConfiguration.s3Encryption.s3EncryptionMode",
            "DISABLED",
        ),
        "spotify-dev-security",
        "'DISABLED'",
    ),
    "workgroup not enforced": Breach(
        "athena-workgroup-enforced",
        lambda g: set_prop(
            g, "spotify-dev-workgroup", "configuration.enforceWorkgroupConfiguration", False
        ),
        "spotify-dev-workgroup",
        "enforceWorkgroupConfiguration is False",
    ),
    "workgroup without scan cutoff": Breach(
        "athena-workgroup-enforced",
        lambda g: set_prop(
            g, "spotify-dev-workgroup", "configuration.bytesScannedCutoffPerQuery", None
        ),
        "spotify-dev-workgroup",
        "cutoff",
    ),
    "results unencrypted": Breach(
        "athena-results-encrypted",
        lambda g: set_prop(
            g,
            "spotify-dev-workgroup",
            "configuration.resultConfiguration.encryptionConfiguration",
            None,
        ),
        "spotify-dev-workgroup",
        "encryptionOption is None",
    ),
    "star action": Breach(
        "iam-least-privilege",
        _job_policy({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::x"}),
        "spotify-dev-job-policy",
        "wildcard action",
    ),
    "service star action": Breach(
        "iam-least-privilege",
        _job_policy({"Effect": "Allow", "Action": ["s3:GetObject", "glue:*"], "Resource": "arn:x"}),
        "spotify-dev-job-policy",
        "'glue:*'",
    ),
    "star resource for a scoped action": Breach(
        "iam-least-privilege",
        _job_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        "spotify-dev-job-policy",
        "s3:GetObject on Resource '*'",
    ),
    "metrics on star without namespace": Breach(
        "iam-least-privilege",
        _job_policy({"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}),
        "spotify-dev-job-policy",
        "cloudwatch:namespace",
    ),
    "allow with NotAction": Breach(
        "iam-least-privilege",
        _job_policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:x"}),
        "spotify-dev-job-policy",
        "NotAction",
    ),
    "inline role policy with star": Breach(
        "iam-least-privilege",
        lambda g: set_prop(
            g,
            "spotify-dev-job-role",
            "inlinePolicies",
            [
                {
                    "name": "extra",
                    "policy": _policy_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
                }
            ],
        ),
        "spotify-dev-job-role",
        "inlinePolicies[extra]",
    ),
    "AWS-managed Glue service role": Breach(
        "iam-least-privilege",
        _add(_attachment("arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole")),
        "glue-managed",
        "AWSGlueServiceRole",
    ),
    "malformed policy document": Breach(
        "iam-least-privilege",
        lambda g: set_prop(g, "spotify-dev-job-policy", "policy", "{not json"),
        "spotify-dev-job-policy",
        "not a JSON policy document",
    ),
    "two ownership controls for one bucket": Breach(
        "s3-ownership-enforced",
        _twice("spotify-dev-staging-ownership"),
        "spotify-dev-staging",
        "overwrite each other",
    ),
    "TLS deny leaves the bucket itself open": Breach(
        "s3-tls-only",
        _staging_tls_denial(Resource=f"arn:aws:s3:::{STAGING}/*"),
        "spotify-dev-staging-policy",
        "not on both",
        join=Join.VALUE,
    ),
    "AES256 though the stack has a key": Breach(
        "s3-encryption-at-rest",
        lambda g: set_prop(
            g,
            "spotify-dev-results-encryption",
            "rules",
            [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
        ),
        "spotify-dev-results-encryption",
        "though the stack has a KMS key",
        cmk=True,
    ),
    "a key other than the stack's": Breach(
        "s3-encryption-at-rest",
        lambda g: set_prop(
            g,
            "spotify-dev-assets-encryption",
            "rules",
            [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:key/other",
                    },
                    "bucketKeyEnabled": True,
                }
            ],
        ),
        "spotify-dev-assets-encryption",
        "not the stack's key",
        join=Join.VALUE,
        cmk=True,
    ),
    "no lifecycle": Breach(
        "s3-lifecycle",
        lambda g: without(g, "spotify-dev-results-lifecycle"),
        "spotify-dev-results",
        "no lifecycle configuration",
    ),
    "incomplete uploads kept": Breach(
        "s3-lifecycle",
        _lifecycle_rules("spotify-dev-assets-lifecycle", {**ABORT, "status": "Disabled"}),
        "spotify-dev-assets-lifecycle",
        "abort incomplete multipart uploads",
    ),
    "incomplete uploads aborted under one prefix only": Breach(
        "s3-lifecycle",
        _lifecycle_rules(
            "spotify-dev-results-lifecycle",
            {**ABORT, "filter": {"prefix": "some/"}},
            {"status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": 7}},
        ),
        "spotify-dev-results-lifecycle",
        "abort incomplete multipart uploads",
    ),
    "noncurrent versions kept forever": Breach(
        "s3-lifecycle",
        _lifecycle_rules("spotify-dev-warehouse-lifecycle", ABORT),
        "spotify-dev-warehouse-lifecycle",
        "expire noncurrent versions",
    ),
    "query results kept forever": Breach(
        "s3-lifecycle",
        _lifecycle_rules("spotify-dev-results-lifecycle", ABORT),
        "spotify-dev-results-lifecycle",
        "expire Athena query results",
    ),
    "Glue temp files kept forever": Breach(
        "s3-lifecycle",
        _lifecycle_rules(
            "spotify-dev-assets-lifecycle",
            ABORT,
            {"status": "Enabled", "filter": {"prefix": "other/"}, "expiration": {"days": 7}},
            {
                "status": "Enabled",
                "filter": {"prefix": graphs.SPARK_UI_PREFIX},
                "expiration": {"days": 7},
            },
        ),
        "spotify-dev-assets-lifecycle",
        f"temp files of Glue job 'spotify-dev-etl' under '{graphs.TEMP_PREFIX}'",
        join=Join.VALUE,
    ),
    "Spark UI logs kept forever": Breach(
        "s3-lifecycle",
        _lifecycle_rules(
            "spotify-dev-assets-lifecycle",
            ABORT,
            {
                "status": "Enabled",
                "filter": {"prefix": graphs.TEMP_PREFIX},
                "expiration": {"days": 7},
            },
        ),
        "spotify-dev-assets-lifecycle",
        f"Spark UI logs of Glue job 'spotify-dev-etl' under '{graphs.SPARK_UI_PREFIX}'",
        join=Join.VALUE,
    ),
    "job without retries": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "maxRetries", None),
        "spotify-dev-etl",
        "maxRetries is None",
    ),
    "crawler without security configuration": Breach(
        "glue-crawler-guardrails",
        lambda g: set_prop(g, "spotify-dev-crawler", "securityConfiguration", ""),
        "spotify-dev-crawler",
        "securityConfiguration is ''",
    ),
    "scan cutoff below Athena's minimum": Breach(
        "athena-workgroup-enforced",
        lambda g: set_prop(
            g, "spotify-dev-workgroup", "configuration.bytesScannedCutoffPerQuery", 9_999_999
        ),
        "spotify-dev-workgroup",
        "bytesScannedCutoffPerQuery is 9999999",
    ),
    "workgroup without CloudWatch metrics": Breach(
        "athena-workgroup-enforced",
        lambda g: set_prop(
            g, "spotify-dev-workgroup", "configuration.publishCloudwatchMetricsEnabled", False
        ),
        "spotify-dev-workgroup",
        "publishCloudwatchMetricsEnabled is False",
    ),
    "key never rotates": Breach(
        "kms-key-rotation",
        lambda g: set_prop(g, "spotify-dev-key", "enableKeyRotation", False),
        "spotify-dev-key",
        "enableKeyRotation is False",
        cmk=True,
    ),
    "partial wildcard action": Breach(
        "iam-least-privilege",
        _job_policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::x/*"}),
        "spotify-dev-job-policy",
        "wildcard action(s) ['s3:Get*']",
    ),
    "customer-managed policy attached": Breach(
        "iam-least-privilege",
        _add(_attachment("arn:aws:iam::123456789012:policy/spotify-extra")),
        "glue-managed",
        "attaches managed policy",
    ),
    "role lists managed policy ARNs": Breach(
        "iam-least-privilege",
        lambda g: set_prop(
            g,
            "spotify-dev-job-role",
            "managedPolicyArns",
            ["arn:aws:iam::aws:policy/AdministratorAccess"],
        ),
        "spotify-dev-job-role",
        "AdministratorAccess",
    ),
    "prod key unprotected": Breach(
        "prod-data-protected",
        lambda g: _unprotect("spotify-prod-key")(g),
        "spotify-prod-key",
        "not protected",
        PROD,
        cmk=True,
    ),
    "prod warehouse unprotected": Breach(
        "prod-data-protected",
        lambda g: _unprotect("spotify-prod-warehouse")(g),
        "spotify-prod-warehouse",
        "not protected",
        PROD,
    ),
    "prod database unprotected": Breach(
        "prod-data-protected",
        lambda g: _unprotect("spotify-prod-database")(g),
        "spotify-prod-database",
        "not protected",
        PROD,
    ),
    "prod staging only retained on delete": Breach(
        "prod-data-protected",
        lambda g: _retain_instead_of_protect("spotify-prod-staging")(g),
        "spotify-prod-staging",
        "not protected",
        PROD,
    ),
    "protectData on, but data unprotected": Breach(
        "prod-data-protected",
        lambda g: _unprotect("spotify-dev-staging")(g),
        "spotify-dev-staging",
        "not protected",
        StackContext(stack="dev", protect_data=True),
    ),
}


def _graph_for(case: Breach) -> Graph:
    context = case.context
    return compliant_graph(
        context.stack, join=case.join, cmk=case.cmk, protect=context.requires_protection
    )


@pytest.mark.parametrize("case", BREACHES.values(), ids=BREACHES.keys())
def test_rule_fails_on_a_graph_that_breaks_it(case: Breach):
    """The rule reports the breach, on the resource at fault, and the fix is in the message."""
    broken = case.breaks(_graph_for(case))

    violations = RULES_BY_NAME[case.rule](broken, case.context)

    culprit = graphs.named(broken, case.culprit)
    assert [v.urn for v in violations] == [culprit.urn], violations
    assert case.says in violations[0].message, violations[0].message


@pytest.mark.parametrize("case", BREACHES.values(), ids=BREACHES.keys())
def test_rule_passes_the_same_graph_before_the_breach(case: Breach):
    """The violation comes from the breach, not from the graph around it."""
    assert RULES_BY_NAME[case.rule](_graph_for(case), case.context) == []


def test_every_rule_has_a_breach():
    """No rule goes untested: each one is shown failing at least once."""
    assert {rule.name for rule in RULES} == {case.rule for case in BREACHES.values()}


@pytest.mark.parametrize("cmk", [False, True], ids=["sse-s3", "stack-key"])
@pytest.mark.parametrize("join", list(Join))
@pytest.mark.parametrize("context", [DEV, PROD], ids=["dev", "prod"])
def test_compliant_graph_passes_every_rule(join: Join, context: StackContext, cmk: bool):
    """A graph with the baseline passes, however its S3 resources name their bucket, with or
    without a stack key."""
    graph = compliant_graph(context.stack, join=join, cmk=cmk, protect=context.requires_protection)
    assert evaluate(graph, context) == []


@pytest.mark.parametrize("join", [Join.DEPENDENCY, Join.VALUE, Join.PARENT])
def test_split_resources_join_their_own_bucket(join: Join):
    """Each split S3 resource joins the bucket it configures, never a sibling bucket, by the
    property dependency, the known bucket name or the parent, without help from names."""
    graph = compliant_graph(join=join, opaque_child_names=True)
    buckets = [r for r in graph if r.type == graphs.BUCKET]
    children = [r for r in graph if r.type.startswith("aws:s3/bucket") and r.type != graphs.BUCKET]
    assert len(children) == 22
    for child in children:
        bucket = bucket_of(child, buckets)
        assert bucket is not None, child.name
        assert child.name.split("-")[0] == bucket.props["tags"]["kind"], (child.name, bucket.name)


def test_split_resources_join_by_logical_name_when_nothing_else_relates_them():
    """Under mocks in preview the bucket id is unknown and no dependency is recorded: the
    logical name ``<bucket>-<suffix>`` joins, choosing the longest bucket name that fits."""
    graph = compliant_graph(join=Join.NAME)
    buckets = [r for r in graph if r.type == graphs.BUCKET]
    longer = replace(
        buckets[0], name="spotify-dev-staging-archive", urn=buckets[0].urn + "-archive"
    )
    child = graphs.named(graph, "spotify-dev-staging-ownership")
    archive_child = replace(child, name="spotify-dev-staging-archive-ownership")
    assert bucket_of(child, [*buckets, longer]) is buckets[0]
    assert bucket_of(archive_child, [*buckets, longer]) is longer


def test_a_config_joined_to_no_bucket_satisfies_none():
    """An ownership control that names no bucket of the stack leaves every bucket without one."""
    graph = compliant_graph(join=Join.NAME, opaque_child_names=True)
    violations = RULES_BY_NAME["s3-ownership-enforced"](graph, DEV)
    assert len(violations) == 4


def test_a_setting_on_one_bucket_does_not_cover_another():
    """Removing one bucket's encryption is reported for that bucket even though three others
    are encrypted."""
    graph = without(compliant_graph(join=Join.NAME), "spotify-dev-results-encryption")
    violations = RULES_BY_NAME["s3-encryption-at-rest"](graph, DEV)
    assert [v.urn for v in violations] == [graphs.named(graph, "spotify-dev-results").urn]


def test_preview_still_judges_literal_settings():
    """With bucket ids and policy documents unknown (a first preview), a literal setting that
    breaks the baseline is still reported."""
    graph = compliant_graph(join=Join.DEPENDENCY, known_policies=False)
    assert evaluate(graph, DEV) == []
    broken = set_prop(graph, "spotify-dev-assets-public-access", "ignorePublicAcls", False)
    assert [v.rule for v in evaluate(broken, DEV)] == ["s3-public-access-blocked"]


def test_unknown_policy_documents_wait_for_the_update():
    """A document built from outputs not known yet is not judged at preview (it is at update,
    when the same rule sees it resolved); a missing bucket policy is reported either way."""
    graph = compliant_graph(join=Join.DEPENDENCY, known_policies=False)
    assert RULES_BY_NAME["iam-least-privilege"](graph, DEV) == []
    assert RULES_BY_NAME["s3-tls-only"](graph, DEV) == []
    missing = without(graph, "spotify-dev-staging-policy")
    assert len(RULES_BY_NAME["s3-tls-only"](missing, DEV)) == 1


def test_dev_data_may_stay_unprotected():
    """Outside prod, with protectData unset, unprotected data is allowed (review stacks must be
    destroyable)."""
    graph = compliant_graph("dev", protect=False)
    assert RULES_BY_NAME["prod-data-protected"](graph, DEV) == []


def test_prod_is_protected_even_if_protect_data_is_off():
    """Setting protectData=false in prod does not lift the requirement."""
    graph = compliant_graph("prod", protect=False)
    context = StackContext(stack="prod", protect_data=False)
    violations = RULES_BY_NAME["prod-data-protected"](graph, context)
    assert len(violations) == 3  # staging, warehouse, database


def test_environment_key_decides_prod_not_the_stack_name():
    """A stack named otherwise that deploys environment prod is held to prod's rules."""
    graph = compliant_graph("blue", protect=False)
    context = StackContext(stack="blue", environment="prod")
    assert len(RULES_BY_NAME["prod-data-protected"](graph, context)) == 3


def test_results_bucket_needs_no_versioning_even_in_an_environment_named_staging():
    """A bucket's kind comes from its tag, so the environment name cannot make the results
    bucket look like a data bucket."""
    graph = compliant_graph("staging")
    assert RULES_BY_NAME["s3-data-bucket-versioning"](graph, StackContext("staging")) == []


def test_deny_statements_are_not_least_privilege_findings():
    """Deny statements may use wildcards: they only take away."""
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert statement_problems(deny) == []


def test_unknown_inline_policies_are_skipped_not_crashed_on():
    """A role whose inline policies are unknown at preview is left for the update."""
    graph = set_prop(compliant_graph(), "spotify-dev-job-role", "inlinePolicies", UNKNOWN)
    assert RULES_BY_NAME["iam-least-privilege"](graph, DEV) == []


def test_athena_cutoff_floor_is_athenas_own():
    """The rule's bytes-scanned floor is the minimum in Athena's API model
    (WorkGroupConfiguration.BytesScannedCutoffPerQuery), so the rule rejects what AWS rejects."""
    athena = botocore.session.get_session().get_service_model("athena")
    cutoff = athena.shape_for("WorkGroupConfiguration").members["BytesScannedCutoffPerQuery"]
    assert cutoff.metadata["min"] == ATHENA_MIN_BYTES_SCANNED_CUTOFF


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, StackContext("blue")),
        ({"spotify-pipeline:protectData": "true"}, StackContext("blue", protect_data=True)),
        ({"protectData": "false", "environment": "prod"}, StackContext("blue", "prod", False)),
    ],
)
def test_context_reads_the_stack_config_keys(config: dict[str, str], expected: StackContext):
    """The pack and the tests derive the same context from a stack's config, bare or namespaced."""
    assert StackContext.from_config("blue", config) == expected
