"""The policy pack, booted as the Pulumi engine boots it, judges what the rules judge.

Each test talks gRPC to ``python policy/`` (the engine runs the pack directory the same way),
sending the requests the engine sends at preview: properties with the engine's unknown
sentinels and the property dependencies that relate split S3 resources to their bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from guardrails_pack import PACK_NAME
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
from resource_graph import UNKNOWN, ResourceRecord
from rule_base import Scope
from spotify_guardrails import RULES

from tests.policy.graphs import Join, compliant_graph, edit, set_prop, without

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")


class RunningPack:
    def __init__(self, config: Mapping[str, str]) -> None:
        env = {**os.environ, "PULUMI_CONFIG": json.dumps(dict(config))}
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(POLICY_DIR)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().decode().strip()
        if not port.isdigit():
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"policy pack did not start: {err.decode()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.process.terminate()
        self.process.communicate(timeout=30)

    def analyze_stack(self, records: list[ResourceRecord]) -> list[Any]:
        request = analyzer_pb2.AnalyzeStackRequest(resources=[_resource(r) for r in records])
        return list(self.stub.AnalyzeStack(request).diagnostics)

    def analyze_each(self, records: list[ResourceRecord]) -> list[Any]:
        diagnostics: list[Any] = []
        for record in records:
            request = analyzer_pb2.AnalyzeRequest(
                type=record.type,
                properties=_struct(record.props),
                urn=record.urn,
                name=record.name,
                options=analyzer_pb2.AnalyzerResourceOptions(
                    protect=record.protect, parent=record.parent_urn or ""
                ),
            )
            diagnostics += self.stub.Analyze(request).diagnostics
        return diagnostics


def _wire(value: Any) -> Any:
    """Props as the engine sends them: unknowns become its sentinel strings."""
    if value is UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_wire(props))
    return struct


def _resource(record: ResourceRecord) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        type=record.type,
        properties=_struct(record.props),
        urn=record.urn,
        name=record.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=record.protect),
        parent=record.parent_urn or "",
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(urns))
            for key, urns in record.dependencies.items()
        },
    )


@pytest.fixture(scope="module")
def dev_pack() -> Iterator[RunningPack]:
    pack = RunningPack({"spotify-pipeline:environment": "dev"})
    yield pack
    pack.close()


@pytest.fixture(scope="module")
def prod_pack() -> Iterator[RunningPack]:
    pack = RunningPack({"spotify-pipeline:environment": "prod"})
    yield pack
    pack.close()


def _preview_graph(stack: str = "dev", protect: bool = False) -> list[ResourceRecord]:
    # A first preview: bucket ids, documents and the job's security configuration unknown.
    return compliant_graph(stack, join=Join.DEPENDENCY, known_policies=False, protect=protect)


def _summary(diagnostics: list[Any]) -> list[tuple[str, str, int]]:
    return [(d.policyName, d.urn, d.enforcementLevel) for d in diagnostics]


def test_pack_serves_every_rule_at_its_level(dev_pack: RunningPack):
    """The engine learns one policy per rule, under the rule's name, at the table's enforcement
    level; every rule of the baseline is mandatory."""
    info = dev_pack.stub.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    served = {p.name: p.enforcementLevel for p in info.policies}
    levels = analyzer_pb2.EnforcementLevel
    assert served == {rule.name: levels.Value(rule.enforcement.name) for rule in RULES}
    assert set(served.values()) == {MANDATORY}


def test_pack_project_file_runs_python_from_the_project_environment():
    """PulumiPolicy.yaml declares the python runtime and the project's virtualenv."""
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert project["runtime"]["name"] == "python"
    venv = POLICY_DIR / project["runtime"]["options"]["virtualenv"]
    assert venv.resolve() == (POLICY_DIR.parent / ".venv").resolve()


def test_compliant_preview_passes_without_preview_caveats(dev_pack: RunningPack):
    """A compliant first preview yields no diagnostics at all: no violation, and no
    "can't run policy during preview" advisory from an unknown value."""
    graph = _preview_graph()
    assert _summary(dev_pack.analyze_stack(graph)) == []
    assert _summary(dev_pack.analyze_each(graph)) == []


def test_stack_rule_joins_through_property_dependencies_at_preview(dev_pack: RunningPack):
    """With bucket ids unknown and names unrelated, the engine's property dependencies join
    each public access block to its bucket: the missing one is pinned on its bucket."""
    opaque = compliant_graph(join=Join.DEPENDENCY, known_policies=False, opaque_child_names=True)
    assert _summary(dev_pack.analyze_stack(opaque)) == []
    graph = without(opaque, "warehouse-config-public-access")
    bucket = next(r for r in graph if r.name == "spotify-dev-warehouse")
    assert _summary(dev_pack.analyze_stack(graph)) == [
        ("s3-public-access-blocked", bucket.urn, MANDATORY)
    ]


def test_resource_rule_stops_a_violating_resource(dev_pack: RunningPack):
    """A Glue job allowed to run concurrently is a mandatory violation on that job."""
    graph = set_prop(_preview_graph(), "spotify-dev-etl", "executionProperty.maxConcurrentRuns", 2)
    job = next(r for r in graph if r.name == "spotify-dev-etl")
    diagnostics = dev_pack.analyze_each(graph)
    assert _summary(diagnostics) == [("glue-job-guardrails", job.urn, MANDATORY)]
    assert "max_concurrent_runs=1" in diagnostics[0].message


def test_pack_reads_the_environment_from_stack_config(
    dev_pack: RunningPack, prod_pack: RunningPack
):
    """The same unprotected warehouse passes in dev and is stopped in prod."""
    graph = edit(
        _preview_graph("prod", protect=True),
        "spotify-prod-warehouse",
        lambda r: replace(r, protect=False),
    )
    bucket = next(r for r in graph if r.name == "spotify-prod-warehouse")
    assert _summary(dev_pack.analyze_each(graph)) == []
    assert _summary(prod_pack.analyze_each(graph)) == [
        ("prod-data-protected", bucket.urn, MANDATORY)
    ]


def test_resolved_documents_are_judged_at_update(dev_pack: RunningPack):
    """At update the documents are known; a wildcard action in one is stopped."""
    graph = compliant_graph(join=Join.VALUE)
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x/*"}
    broken = set_prop(
        graph,
        "spotify-dev-job-policy",
        "policy",
        json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    policy = next(r for r in broken if r.name == "spotify-dev-job-policy")
    assert _summary(dev_pack.analyze_each(graph)) == []
    assert _summary(dev_pack.analyze_each(broken)) == [
        ("iam-least-privilege", policy.urn, MANDATORY)
    ]


def test_stack_scoped_rules_are_exactly_the_s3_joins():
    """Only rules that join resources wait for the whole stack; the rest run per resource."""
    stack_rules = {rule.name for rule in RULES if rule.scope is Scope.STACK}
    assert stack_rules == {
        "s3-ownership-enforced",
        "s3-public-access-blocked",
        "s3-encryption-at-rest",
        "s3-data-bucket-versioning",
        "s3-tls-only",
        "s3-lifecycle",
    }


def test_stack_rules_join_other_resources_at_update(dev_pack: RunningPack):
    """At update the engine hands the pack every resource's values: the lifecycle rule finds the
    job's ``--TempDir`` in the assets bucket and stops a lifecycle that never expires it."""
    graph = compliant_graph(join=Join.VALUE)
    broken = set_prop(graph, "spotify-dev-assets-lifecycle", "rules.1.filter.prefix", "other/")
    lifecycle = next(r for r in broken if r.name == "spotify-dev-assets-lifecycle")
    assert _summary(dev_pack.analyze_stack(graph)) == []
    diagnostics = dev_pack.analyze_stack(broken)
    assert _summary(diagnostics) == [("s3-lifecycle", lifecycle.urn, MANDATORY)]
    assert "temp files of Glue job 'spotify-dev-etl'" in diagnostics[0].message
