"""The program's real graph, recorded under mocks, passes every guardrail in dev and prod, in
up and preview mode, and each rule demonstrably judges that graph (a breaking edit fails it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from pulumi.output import Unknown
from spotify_guardrails import (
    BUCKET_TYPES,
    RULES_BY_NAME,
    UNKNOWN,
    ResourceRecord,
    StackContext,
    bucket_of,
    evaluate,
    is_data_bucket,
    parse_policy_document,
)

from tests.infra.harness import RecordedResource, run_program

MODES = [
    pytest.param("dev", False, id="dev-up"),
    pytest.param("dev", True, id="dev-preview"),
    pytest.param("prod", False, id="prod-up"),
    pytest.param("prod", True, id="prod-preview"),
]


def _neutral(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _neutral(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_neutral(v) for v in value]
    return value


def record_from_recorded(resource: RecordedResource) -> ResourceRecord:
    """The harness's record as the rules read it (the pack adapts the engine's the same way)."""
    return ResourceRecord(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        props=_neutral(resource.inputs),
        protect=resource.protect,
        retain_on_delete=resource.retain_on_delete,
        parent_urn=resource.parent_urn,
    )


@cache
def program_graph(stack: str, preview: bool) -> tuple[ResourceRecord, ...]:
    return tuple(record_from_recorded(r) for r in run_program(stack, preview=preview))


def _graph(stack: str, preview: bool) -> list[ResourceRecord]:
    return list(program_graph(stack, preview))


def _one(
    graph: list[ResourceRecord], predicate: Callable[[ResourceRecord], bool]
) -> ResourceRecord:
    matches = [r for r in graph if predicate(r)]
    assert len(matches) == 1, [r.name for r in matches]
    return matches[0]


def _swap(
    graph: list[ResourceRecord], old: ResourceRecord, new: ResourceRecord
) -> list[ResourceRecord]:
    return [new if r is old else r for r in graph]


@pytest.mark.parametrize(("stack", "preview"), MODES)
def test_program_passes_every_guardrail(stack: str, preview: bool):
    """The real graph has no violation, with the stack's own config."""
    violations = evaluate(_graph(stack, preview), StackContext(stack=stack))
    assert violations == [], "\n".join(map(str, violations))


@pytest.mark.parametrize(("stack", "preview"), MODES)
def test_every_bucket_joins_its_split_resources(stack: str, preview: bool):
    """Each of the program's buckets is joined to its own ownership, public access block,
    encryption and policy, so the S3 rules judged all four for every bucket."""
    graph = _graph(stack, preview)
    buckets = [r for r in graph if r.type in BUCKET_TYPES]
    assert len(buckets) == 4
    for bucket in buckets:
        joined = {
            r.type
            for r in graph
            if r.type.startswith("aws:s3/bucket") and bucket_of(r, buckets) is bucket
        }
        expected = {
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketPolicy:BucketPolicy",
        }
        assert expected <= joined, (bucket.name, joined)
        if is_data_bucket(bucket):
            assert "aws:s3/bucketVersioning:BucketVersioning" in joined, bucket.name


def test_program_iam_documents_are_known_at_update_and_judged():
    """At update every role policy is a known document, and a wildcard slipped into the real
    job policy is reported on it."""
    graph = _graph("dev", preview=False)
    role_policies = [r for r in graph if r.type == "aws:iam/rolePolicy:RolePolicy"]
    assert len(role_policies) == 2
    documents = [parse_policy_document(r.props["policy"]) for r in role_policies]
    assert all(isinstance(d, dict) and d["Statement"] for d in documents)

    target = role_policies[0]
    document = json.loads(target.props["policy"])
    document["Statement"][0]["Action"] = ["s3:*"]
    broken = _swap(
        graph, target, replace(target, props={**target.props, "policy": json.dumps(document)})
    )
    violations = RULES_BY_NAME["iam-least-privilege"](broken, StackContext("dev"))
    assert [v.urn for v in violations] == [target.urn]


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_unprotecting_prod_data_fails_the_real_graph(preview: bool):
    """Prod's real data buckets and database are protected; dropping protect on any is caught."""
    graph = _graph("prod", preview)
    guarded = [
        r
        for r in graph
        if (r.type in BUCKET_TYPES and is_data_bucket(r))
        or r.type == "aws:glue/catalogDatabase:CatalogDatabase"
    ]
    assert len(guarded) == 3
    for resource in guarded:
        broken = _swap(graph, resource, replace(resource, protect=False))
        violations = RULES_BY_NAME["prod-data-protected"](broken, StackContext("prod"))
        assert [v.urn for v in violations] == [resource.urn]


@pytest.mark.parametrize(("stack", "preview"), MODES)
def test_real_glue_job_and_workgroup_are_judged(stack: str, preview: bool):
    """The real job's and workgroup's literal settings are known in both modes, so a breaking
    edit of each is caught even at preview."""
    graph = _graph(stack, preview)
    context = StackContext(stack)
    job = _one(graph, lambda r: r.type == "aws:glue/job:Job")
    runs = {**job.props, "executionProperty": {"maxConcurrentRuns": 2}}
    assert RULES_BY_NAME["glue-job-guardrails"](
        _swap(graph, job, replace(job, props=runs)), context
    )

    workgroup = _one(graph, lambda r: r.type == "aws:athena/workgroup:Workgroup")
    configuration = {**workgroup.props["configuration"], "enforceWorkgroupConfiguration": False}
    loosened = replace(workgroup, props={**workgroup.props, "configuration": configuration})
    assert RULES_BY_NAME["athena-workgroup-enforced"](_swap(graph, workgroup, loosened), context)


@pytest.mark.parametrize(("stack", "preview"), MODES)
def test_removing_a_real_public_access_block_is_caught(stack: str, preview: bool):
    """The real warehouse bucket without its public access block fails the S3 rule."""
    graph = _graph(stack, preview)
    block = _one(
        graph,
        lambda r: (
            r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
            and "warehouse" in r.name
        ),
    )
    violations = RULES_BY_NAME["s3-public-access-blocked"](
        [r for r in graph if r is not block], StackContext(stack)
    )
    assert len(violations) == 1
    assert "warehouse" in violations[0].message
