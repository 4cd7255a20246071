"""Each guardrail fails on a crafted graph that breaks it and passes on a compliant one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from spotify_guardrails import (
    RULES,
    RULES_BY_NAME,
    UNKNOWN,
    ResourceRecord,
    StackContext,
    bucket_of,
    evaluate,
    statement_problems,
)

from tests.policy import graphs
from tests.policy.graphs import Join, compliant_graph, edit, set_prop, without

DEV = StackContext(stack="dev")
PROD = StackContext(stack="prod")

Graph = list[ResourceRecord]


@dataclass(frozen=True)
class Breach:
    rule: str
    breaks: Callable[[Graph], Graph]
    culprit: str
    """Logical name of the resource the violation must name."""
    says: str
    """A fragment of the violation message."""
    context: StackContext = DEV


def _policy_doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _job_policy(*statements: dict[str, object]) -> Callable[[Graph], Graph]:
    return lambda g: set_prop(g, "spotify-dev-job-policy", "policy", _policy_doc(*statements))


def _add(record: ResourceRecord) -> Callable[[Graph], Graph]:
    return lambda g: [*g, record]


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
        "bucket key",
    ),
    "empty encryption rules": Breach(
        "s3-encryption-at-rest",
        lambda g: set_prop(g, "spotify-dev-results-encryption", "rules", []),
        "spotify-dev-results-encryption",
        "no rules",
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
        lambda g: set_prop(
            g,
            "spotify-dev-staging-policy",
            "policy",
            _policy_doc(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::x/*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                }
            ),
        ),
        "spotify-dev-staging-policy",
        "aws:SecureTransport",
    ),
    "TLS deny for one principal only": Breach(
        "s3-tls-only",
        lambda g: set_prop(
            g,
            "spotify-dev-staging-policy",
            "policy",
            _policy_doc(
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::x/*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ),
        ),
        "spotify-dev-staging-policy",
        "every principal",
    ),
    "job without security configuration": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "securityConfiguration", None),
        "spotify-dev-etl",
        "no security configuration",
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
        "max concurrent runs is 3.0",
    ),
    "job concurrency left to the default": Breach(
        "glue-job-guardrails",
        lambda g: set_prop(g, "spotify-dev-etl", "executionProperty", None),
        "spotify-dev-etl",
        "max concurrent runs is None",
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
        "does not enforce",
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
        "results encryption is None",
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


def _graph_for(context: StackContext) -> Graph:
    return compliant_graph(context.stack, protect=context.requires_protection)


@pytest.mark.parametrize("case", BREACHES.values(), ids=BREACHES.keys())
def test_rule_fails_on_a_graph_that_breaks_it(case: Breach):
    """The rule reports the breach, on the resource at fault, and the fix is in the message."""
    graph = _graph_for(case.context)
    broken = case.breaks(graph)

    violations = RULES_BY_NAME[case.rule](broken, case.context)

    culprit = graphs.named(broken, case.culprit)
    assert [v.urn for v in violations] == [culprit.urn], violations
    assert case.says in violations[0].message, violations[0].message


@pytest.mark.parametrize("case", BREACHES.values(), ids=BREACHES.keys())
def test_rule_passes_the_same_graph_before_the_breach(case: Breach):
    """The violation comes from the breach, not from the graph around it."""
    assert RULES_BY_NAME[case.rule](_graph_for(case.context), case.context) == []


def test_every_rule_has_a_breach():
    """No rule goes untested: each one is shown failing at least once."""
    assert {rule.name for rule in RULES} == {case.rule for case in BREACHES.values()}


@pytest.mark.parametrize("join", list(Join))
@pytest.mark.parametrize("context", [DEV, PROD], ids=["dev", "prod"])
def test_compliant_graph_passes_every_rule(join: Join, context: StackContext):
    """A graph with the baseline passes, however its S3 resources name their bucket."""
    graph = compliant_graph(context.stack, join=join, protect=context.requires_protection)
    assert evaluate(graph, context) == []


@pytest.mark.parametrize("join", [Join.DEPENDENCY, Join.VALUE, Join.PARENT])
def test_split_resources_join_their_own_bucket(join: Join):
    """Each split S3 resource joins the bucket it configures, never a sibling bucket, by the
    property dependency, the known bucket name or the parent, without help from names."""
    graph = compliant_graph(join=join, opaque_child_names=True)
    buckets = [r for r in graph if r.type == graphs.BUCKET]
    children = [r for r in graph if r.type.startswith("aws:s3/bucket") and r.type != graphs.BUCKET]
    assert len(children) == 18
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
