"""Each guardrail judges the program's real graph: an edit that breaks a rule on that graph is
reported on the resource at fault, in up and preview mode. (That the unedited graph passes every
rule is ``tests/infra/test_baseline.py``.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import cache

import pytest
from resource_graph import (
    BUCKET_TYPES,
    ResourceRecord,
    StackContext,
    configs_of,
    is_data_bucket,
    parse_policy_document,
)
from rule_base import ConfiguredBy, Expect, Rule, Values
from spotify_guardrails import RULES, RULES_BY_NAME

from tests.infra.conftest import CMK_AND_QUICKSIGHT
from tests.infra.harness import run_stack, stack_config
from tests.policy.graphs import program_records, with_prop

SHAPES = {"prod": ("prod", {}), "dev+cmk": ("dev", CMK_AND_QUICKSIGHT)}
"""Stacks in which the program declares every resource type a rule examines."""
MODES = [
    pytest.param(shape, preview, id=f"{shape}-{'preview' if preview else 'up'}")
    for shape in SHAPES
    for preview in (False, True)
]


@cache
def _program(shape: str, preview: bool) -> tuple[tuple[ResourceRecord, ...], StackContext]:
    stack, config = SHAPES[shape]
    records = program_records(run_stack(stack, config, preview=preview))
    return tuple(records), StackContext.from_config(stack, stack_config(stack))


def _swap(
    graph: list[ResourceRecord], old: ResourceRecord, new: ResourceRecord | None
) -> list[ResourceRecord]:
    return [r for r in (new if r is old else r for r in graph) if r is not None]


def _one(
    graph: list[ResourceRecord], predicate: Callable[[ResourceRecord], bool]
) -> ResourceRecord:
    matches = [r for r in graph if predicate(r)]
    assert len(matches) == 1, [r.name for r in matches]
    return matches[0]


INSPECTED = [
    pytest.param(rule, expect, id=f"{rule.name}:{expect.path}")
    for rule in RULES
    if isinstance(rule.check, Values | ConfiguredBy)
    for expect in rule.check.expects
    if not expect.ok(None)  # a value that must be there
]


def _inspected(rule: Rule, target: ResourceRecord, graph: list[ResourceRecord]) -> ResourceRecord:
    """The resource whose values the rule inspects for ``target``: itself, or its bucket's
    configuration resource."""
    if isinstance(rule.check, ConfiguredBy):
        (config,) = configs_of(target, graph, rule.check.types)
        return config
    return target


@pytest.mark.parametrize(("shape", "preview"), MODES)
@pytest.mark.parametrize(("rule", "expect"), INSPECTED)
def test_each_inspected_value_is_read_from_the_real_resources(
    rule: Rule, expect: Expect, shape: str, preview: bool
):
    """Removing one inspected value from a real resource is reported on exactly that resource,
    for every resource the rule examines, so the rule's key path matches what the program
    declares and every examined resource is read."""
    records, context = _program(shape, preview)
    graph = list(records)
    targets = rule.examined(graph, context)
    assert targets, f"{rule.name} examined nothing in {shape}"
    for target in targets:
        inspected = _inspected(rule, target, graph)
        path = expect.path.replace("[]", ".0")
        broken = _swap(graph, inspected, with_prop(inspected, path, None))
        violations = rule(broken, context)
        assert [v.urn for v in violations] == [inspected.urn], violations
        assert expect.path.rsplit(".", 1)[-1].removesuffix("[]") in violations[0].message


def test_only_conditional_values_escape_the_removal_test():
    """Every inspected value must be present, except the bucket key, which only KMS needs."""
    optional = {
        f"{rule.name}:{expect.path}"
        for rule in RULES
        if isinstance(rule.check, Values | ConfiguredBy)
        for expect in rule.check.expects
        if expect.ok(None)
    }
    assert optional == {"s3-encryption-at-rest:rules[]"}


@pytest.mark.parametrize(("shape", "preview"), MODES)
@pytest.mark.parametrize(
    "rule", [r for r in RULES if isinstance(r.check, ConfiguredBy)], ids=lambda r: r.name
)
def test_each_bucket_joins_its_own_configuration(rule: Rule, shape: str, preview: bool):
    """Every bucket the rule examines is joined to exactly one configuration resource of the
    rule's types; removing it is reported on that bucket and no other."""
    records, context = _program(shape, preview)
    graph = list(records)
    assert isinstance(rule.check, ConfiguredBy)
    buckets = rule.examined(graph, context)
    assert len(buckets) == (2 if rule.name == "s3-data-bucket-versioning" else 4)
    for bucket in buckets:
        (config,) = configs_of(bucket, graph, rule.check.types)
        violations = rule(_swap(graph, config, None), context)
        assert [v.urn for v in violations] == [bucket.urn], violations


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_every_data_bucket_is_versioned_in_the_real_graph(preview: bool):
    """The versioning rule examines exactly the staging and warehouse buckets."""
    records, context = _program("prod", preview)
    examined = RULES_BY_NAME["s3-data-bucket-versioning"].examined(list(records), context)
    assert sorted(r.name.rsplit("-", 1)[-1] for r in examined) == ["staging", "warehouse"]
    assert all(is_data_bucket(b) for b in examined)


def test_program_iam_documents_are_known_at_update_and_judged():
    """At update every role policy is a known document, and a wildcard slipped into the real
    job policy is reported on it."""
    graph = list(_program("prod", False)[0])
    role_policies = [r for r in graph if r.type == "aws:iam/rolePolicy:RolePolicy"]
    assert len(role_policies) == 3  # job, crawler, and EventBridge's (prod runs on arrival)
    documents = [parse_policy_document(r.props["policy"]) for r in role_policies]
    assert all(isinstance(d, dict) and d["Statement"] for d in documents)

    target = role_policies[0]
    document = json.loads(target.props["policy"])
    document["Statement"][0]["Action"] = ["s3:*"]
    broken = _swap(graph, target, with_prop(target, "policy", json.dumps(document)))
    violations = RULES_BY_NAME["iam-least-privilege"](broken, StackContext("dev"))
    assert [v.urn for v in violations] == [target.urn]


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_unprotecting_prod_data_fails_the_real_graph(preview: bool):
    """Prod's real data buckets, database and key are protected; dropping protect on any is
    caught."""
    records, context = _program("prod", preview)
    graph = list(records)
    guarded = RULES_BY_NAME["prod-data-protected"].examined(graph, context)
    assert sorted(r.type.rsplit(":", 1)[-1] for r in guarded) == [
        "Bucket",
        "Bucket",
        "CatalogDatabase",
        "Key",
    ]
    for resource in guarded:
        broken = _swap(graph, resource, replace(resource, protect=False))
        violations = RULES_BY_NAME["prod-data-protected"](broken, context)
        assert [v.urn for v in violations] == [resource.urn]


def test_real_bucket_policy_must_cover_the_bucket_itself():
    """At update the real bucket names are known: a TLS denial on the objects alone leaves the
    bucket's own API open and is reported."""
    records, context = _program("prod", False)
    graph = list(records)
    policy = _one(graph, lambda r: r.name.endswith("-warehouse-policy"))
    document = json.loads(policy.props["policy"])
    (statement,) = document["Statement"]
    statement["Resource"] = [r for r in statement["Resource"] if r.endswith("/*")]
    broken = _swap(graph, policy, with_prop(policy, "policy", json.dumps(document)))
    violations = RULES_BY_NAME["s3-tls-only"](broken, context)
    assert [v.urn for v in violations] == [policy.urn]
    assert "not on both" in violations[0].message


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_real_temp_dir_and_spark_ui_logs_must_expire(preview: bool):
    """The lifecycle rule finds the real job's --TempDir and Spark UI log folder in the real
    assets bucket: dropping the rules that expire them is reported on the assets bucket's
    lifecycle, once for each."""
    records, context = _program("prod", preview)
    graph = list(records)
    lifecycle = _one(graph, lambda r: r.name.endswith("-assets-lifecycle"))
    kept = [r for r in lifecycle.props["rules"] if "expiration" not in r]
    broken = _swap(graph, lifecycle, with_prop(lifecycle, "rules", kept))
    violations = RULES_BY_NAME["s3-lifecycle"](broken, context)
    assert [v.urn for v in violations] == [lifecycle.urn] * 2
    assert "temp files of Glue job" in violations[0].message
    assert "Spark UI logs of Glue job" in violations[1].message


def test_real_buckets_must_use_the_stack_key():
    """With a stack key, a real bucket encrypted with another key is reported at update."""
    records, context = _program("dev+cmk", False)
    graph = list(records)
    buckets = [r for r in graph if r.type in BUCKET_TYPES]
    encryption = configs_of(
        buckets[0],
        graph,
        {"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"},
    )[0]
    path = "rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId"
    other_key = "arn:aws:kms:eu-west-1:123456789012:key/other"
    broken = _swap(graph, encryption, with_prop(encryption, path, other_key))
    violations = RULES_BY_NAME["s3-encryption-at-rest"](broken, context)
    assert [v.urn for v in violations] == [encryption.urn]
    assert "not the stack's key" in violations[0].message
