"""Stack graphs for the guardrail tests: crafted ones (a compliant graph, and edits that break
one rule) and the program's own, recorded under mocks, as the rules read them.

The compliant graph has the program's shape (four buckets with their split S3 resources, a Glue
job and crawler with their security configuration and role, an Athena workgroup, the catalog
database, optionally the stack's KMS key), so a rule that passes here and fails on an edit is
known to look at what the program declares.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from enum import Enum
from typing import Any

from pulumi.output import Unknown
from resource_graph import UNKNOWN, ResourceRecord

from tests.infra.harness import ProgramRun

PROJECT = "spotify-pipeline"
BUCKET = "aws:s3/bucket:Bucket"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
KMS_KEY = "aws:kms/key:Key"
TEMP_PREFIX = "glue-temp/"
SPARK_UI_PREFIX = "spark-ui-logs/"
STORAGE = "spotify:storage:Storage"


class Join(Enum):
    """How a split S3 resource names its bucket in the graph."""

    DEPENDENCY = "dependency"
    """Preview through the engine: ``bucket`` unknown, the property dependency names the bucket."""
    VALUE = "value"
    """Update: ``bucket`` holds the bucket's name."""
    NAME = "name"
    """Preview under mocks: ``bucket`` unknown, no dependencies; only the logical names relate."""
    PARENT = "parent"
    """``bucket`` unknown; the split resource is a child of its bucket."""


def urn(stack: str, type_: str, name: str, parent_type: str | None = None) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{stack}::{PROJECT}::{qualified}::{name}"


def deny_insecure_transport(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def job_policy(env: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadStaging",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::spotify-{env}-staging/raw/*"],
            },
            {
                "Sid": "PublishGlueMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": ["*"],
                "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}},
            },
        ],
    }


def _lifecycle(kind: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        }
    ]
    if kind in ("staging", "warehouse"):
        rules.append(
            {
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "noncurrentVersionExpiration": {"noncurrentDays": 30},
            }
        )
    for prefix in {"results": [""], "assets": [TEMP_PREFIX, SPARK_UI_PREFIX]}.get(kind, []):
        rules.append(
            {
                "id": f"expire-{prefix or 'all'}",
                "status": "Enabled",
                "filter": {"prefix": prefix},
                "expiration": {"days": 7},
            }
        )
    return {"rules": rules}


def key_arn(stack: str) -> str:
    return f"arn:aws:kms:eu-west-1:123456789012:key/{stack}-0000"


def compliant_graph(
    stack: str = "dev",
    *,
    join: Join = Join.DEPENDENCY,
    protect: bool = False,
    known_policies: bool = True,
    opaque_child_names: bool = False,
    cmk: bool = False,
) -> list[ResourceRecord]:
    """A graph every rule accepts (``protect`` must be on for a prod stack to pass).

    ``opaque_child_names`` names split S3 resources ``<kind>-config-<suffix>`` so that only
    ``join`` can relate them to their bucket. ``cmk`` adds the stack's KMS key and encrypts
    every bucket with it; its ARN is unknown in the ``DEPENDENCY`` (first preview) graph.
    """
    known = join is not Join.DEPENDENCY
    storage_urn = urn(stack, STORAGE, "storage")
    records: list[ResourceRecord] = [ResourceRecord(STORAGE, "storage", storage_urn, {})]
    if cmk:
        records.append(
            ResourceRecord(
                KMS_KEY,
                f"spotify-{stack}-key",
                urn(stack, KMS_KEY, f"spotify-{stack}-key", STORAGE),
                {"enableKeyRotation": True, "arn": key_arn(stack) if known else UNKNOWN},
                protect=protect,
                parent_urn=storage_urn,
            )
        )
    by_default: dict[str, Any] = (
        {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn(stack) if known else UNKNOWN}
        if cmk
        else {"sseAlgorithm": "AES256"}
    )
    encryption = {
        "rules": [
            {
                "applyServerSideEncryptionByDefault": by_default,
                **({"bucketKeyEnabled": True} if cmk else {}),
            }
        ]
    }
    for kind in ("staging", "warehouse", "results", "assets"):
        name = f"spotify-{stack}-{kind}"
        physical = physical_name(name)
        bucket = ResourceRecord(
            BUCKET,
            name,
            urn(stack, BUCKET, name, STORAGE),
            {
                "forceDestroy": False,
                "tags": {"kind": kind},
                **({"bucket": physical} if join is Join.VALUE else {}),
            },
            protect=protect and kind in ("staging", "warehouse"),
            parent_urn=storage_urn,
        )
        records.append(bucket)

        def child(
            type_: str, suffix: str, props: Mapping[str, Any], bucket: ResourceRecord = bucket
        ) -> ResourceRecord:
            return _split_resource(
                bucket, type_, suffix, props, join=join, opaque_name=opaque_child_names
            )

        records += [
            child(OWNERSHIP, "ownership", {"rule": {"objectOwnership": "BucketOwnerEnforced"}}),
            child(
                PUBLIC_ACCESS,
                "public-access",
                {
                    "blockPublicAcls": True,
                    "blockPublicPolicy": True,
                    "ignorePublicAcls": True,
                    "restrictPublicBuckets": True,
                },
            ),
            child(ENCRYPTION, "encryption", copy.deepcopy(encryption)),
            child(
                BUCKET_POLICY,
                "policy",
                {"policy": deny_insecure_transport(physical) if known_policies else UNKNOWN},
            ),
            child(LIFECYCLE, "lifecycle", _lifecycle(kind)),
        ]
        if kind in ("staging", "warehouse"):
            records.append(
                child(VERSIONING, "versioning", {"versioningConfiguration": {"status": "Enabled"}})
            )

    prefix = f"spotify-{stack}"
    security_configuration = UNKNOWN if join is Join.DEPENDENCY else f"{prefix}-sec"
    records += [
        ResourceRecord(
            "aws:glue/securityConfiguration:SecurityConfiguration",
            f"{prefix}-security",
            urn(stack, "aws:glue/securityConfiguration:SecurityConfiguration", f"{prefix}-sec"),
            {
                "encryptionConfiguration": {
                    "s3Encryption": {"s3EncryptionMode": "SSE-S3"},
                    "cloudwatchEncryption": {"cloudwatchEncryptionMode": "DISABLED"},
                    "jobBookmarksEncryption": {"jobBookmarksEncryptionMode": "DISABLED"},
                }
            },
        ),
        ResourceRecord(
            "aws:glue/job:Job",
            f"{prefix}-etl",
            urn(stack, "aws:glue/job:Job", f"{prefix}-etl"),
            {
                "securityConfiguration": security_configuration,
                "timeout": 30.0,
                "maxRetries": 1.0,
                "executionProperty": {"maxConcurrentRuns": 1.0},
                "glueVersion": "5.0",
                "defaultArguments": {
                    "--TempDir": f"s3://{physical_name(prefix + '-assets')}/{TEMP_PREFIX}",
                    "--spark-event-logs-path": (
                        f"s3://{physical_name(prefix + '-assets')}/{SPARK_UI_PREFIX}"
                    ),
                },
            },
        ),
        ResourceRecord(
            "aws:glue/crawler:Crawler",
            f"{prefix}-crawler",
            urn(stack, "aws:glue/crawler:Crawler", f"{prefix}-crawler"),
            {"securityConfiguration": security_configuration, "databaseName": f"spotify_{stack}"},
        ),
        ResourceRecord(
            "aws:iam/role:Role",
            f"{prefix}-job-role",
            urn(stack, "aws:iam/role:Role", f"{prefix}-job-role"),
            {
                "assumeRolePolicy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "glue.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                )
            },
        ),
        ResourceRecord(
            "aws:iam/rolePolicy:RolePolicy",
            f"{prefix}-job-policy",
            urn(stack, "aws:iam/rolePolicy:RolePolicy", f"{prefix}-job-policy"),
            {
                "role": UNKNOWN,
                "policy": json.dumps(job_policy(stack)) if known_policies else UNKNOWN,
            },
        ),
        ResourceRecord(
            "aws:athena/workgroup:Workgroup",
            f"{prefix}-workgroup",
            urn(stack, "aws:athena/workgroup:Workgroup", f"{prefix}-workgroup"),
            {
                "configuration": {
                    "enforceWorkgroupConfiguration": True,
                    "publishCloudwatchMetricsEnabled": True,
                    "bytesScannedCutoffPerQuery": 1073741824.0,
                    "resultConfiguration": {
                        "outputLocation": UNKNOWN,
                        "encryptionConfiguration": {"encryptionOption": "SSE_S3"},
                    },
                }
            },
        ),
        ResourceRecord(
            "aws:glue/catalogDatabase:CatalogDatabase",
            f"{prefix}-database",
            urn(stack, "aws:glue/catalogDatabase:CatalogDatabase", f"{prefix}-database"),
            {"name": f"spotify_{stack}"},
            protect=protect,
        ),
    ]
    return records


def physical_name(bucket_name: str) -> str:
    return f"{bucket_name}-1a2b3c4"


def _split_resource(
    bucket: ResourceRecord,
    type_: str,
    suffix: str,
    props: Mapping[str, Any],
    *,
    join: Join,
    opaque_name: bool,
) -> ResourceRecord:
    stack = bucket.urn.split("::")[0].removeprefix("urn:pulumi:")
    name = (
        f"{bucket.props['tags']['kind']}-config-{suffix}"
        if opaque_name
        else f"{bucket.name}-{suffix}"
    )
    value = physical_name(bucket.name) if join is Join.VALUE else UNKNOWN
    return ResourceRecord(
        type_,
        name,
        urn(stack, type_, name, STORAGE),
        {"bucket": value, **props},
        parent_urn=bucket.urn if join is Join.PARENT else bucket.parent_urn,
        dependencies={"bucket": (bucket.urn,)} if join is Join.DEPENDENCY else {},
    )


def named(graph: list[ResourceRecord], name: str) -> ResourceRecord:
    matches = [r for r in graph if r.name == name]
    assert len(matches) == 1, f"crafted graph has {len(matches)} resources named {name}"
    return matches[0]


def edit(
    graph: list[ResourceRecord], name: str, change: Callable[[ResourceRecord], ResourceRecord]
) -> list[ResourceRecord]:
    """The graph with resource ``name`` replaced by ``change(resource)``."""
    target = named(graph, name)
    return [change(r) if r is target else r for r in graph]


def without(graph: list[ResourceRecord], name: str) -> list[ResourceRecord]:
    target = named(graph, name)
    return [r for r in graph if r is not target]


def set_prop(graph: list[ResourceRecord], name: str, path: str, value: Any) -> list[ResourceRecord]:
    """The graph with the dotted prop ``path`` of resource ``name`` set (``None`` removes it)."""
    return edit(graph, name, lambda record: with_prop(record, path, value))


def with_prop(record: ResourceRecord, path: str, value: Any) -> ResourceRecord:
    """``record`` with the dotted prop ``path`` set (``None`` removes it); a number steps into
    a list."""
    props = copy.deepcopy(dict(record.props))
    *parents, leaf = path.split(".")
    node: Any = props
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(leaf)] = value
    elif value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return replace(record, props=props)


def _neutral(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _neutral(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_neutral(v) for v in value]
    return value


def program_records(run: ProgramRun) -> list[ResourceRecord]:
    """The program's graph as the rules read it: inputs, plus what the provider fills in that the
    inputs leave unknown or unset (autonamed bucket names, ARNs at update), as the engine hands
    a stack policy its resources' outputs. No property dependencies: the mocks record none."""
    records = []
    for resource in run.resources:
        state = _neutral(run.states.get(resource.urn, {}))
        props = _neutral(resource.inputs)
        props.update({k: v for k, v in state.items() if props.get(k, UNKNOWN) is UNKNOWN})
        records.append(
            ResourceRecord(
                type=resource.type,
                name=resource.name,
                urn=resource.urn,
                props=props,
                protect=resource.protect,
                retain_on_delete=resource.retain_on_delete,
                parent_urn=resource.parent_urn,
                id=state.get("id") or None,
            )
        )
    return records
