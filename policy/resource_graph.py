"""A stack as the guardrails read it: neutral resource records, unknowns, and the bucket join.

The policy pack builds these records from the Pulumi engine's resources; the tests build them
from the program run under ``pulumi.runtime.set_mocks``. No Pulumi import here.

Props are the resources' camelCase wire properties. A value the engine cannot know yet (preview of
a resource whose inputs come from resources not created yet) is ``UNKNOWN``.

pulumi-aws v7 splits a bucket's settings into separate resources. ``bucket_of`` joins one to its
bucket, also in preview where the bucket's id is unknown, trying in order: the engine's property
dependency on ``bucket``; the ``bucket`` value when known; the child's parent being the bucket;
the child sharing a parent component with exactly one bucket; the longest bucket logical name
that prefixes the child's logical name followed by ``-``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final


class _Unknown(Enum):
    """A value the engine cannot know until the update runs (preview)."""

    UNKNOWN = "UNKNOWN"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown.UNKNOWN


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


@dataclass(frozen=True)
class ResourceRecord:
    """One resource of a stack, independent of where it was recorded."""

    type: str
    """The Pulumi type token, e.g. ``aws:s3/bucket:Bucket``."""
    name: str
    """The logical (Pulumi) name."""
    urn: str
    props: Mapping[str, Any]
    """camelCase wire properties; unknown values are ``UNKNOWN``."""
    protect: bool = False
    retain_on_delete: bool = False
    parent_urn: str | None = None
    dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Property name -> URNs that property's value came from (the engine's property deps)."""
    id: str | None = None
    """The provider id when the recorder knows it (for S3 buckets, the bucket name)."""


CONFIG_NAMESPACE: Final = "spotify-pipeline"


@dataclass(frozen=True)
class StackContext:
    """What the rules need to know about the stack beyond its resources."""

    stack: str
    environment: str = ""
    """The stack's ``spotify-pipeline:environment``; empty means "same as the stack name"."""
    protect_data: bool | None = None
    """The stack's ``spotify-pipeline:protectData`` when set."""

    @classmethod
    def from_config(cls, stack: str, config: Mapping[str, str | None]) -> StackContext:
        """The context from a stack's config values (keys bare or ``spotify-pipeline:``)."""

        def get(key: str) -> str | None:
            return config.get(key, config.get(f"{CONFIG_NAMESPACE}:{key}"))

        protect = get("protectData")
        return cls(stack, get("environment") or "", None if protect is None else is_true(protect))

    @property
    def effective_environment(self) -> str:
        return self.environment or self.stack

    @property
    def requires_protection(self) -> bool:
        # Prod is protected whatever its config says; elsewhere protection follows protectData.
        return self.effective_environment == "prod" or self.protect_data is True


# --- reading props ------------------------------------------------------------------------------


def get(props: Any, *path: str) -> Any:
    """The value at ``path``, ``None`` when absent, ``UNKNOWN`` when any step is unknown."""
    value: Any = props
    for key in path:
        if is_unknown(value):
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def values_at(value: Any, path: str, label: str = "") -> list[tuple[str, Any]]:
    """``(label, value)`` at a dotted ``path``; a ``key[]`` step goes into each list item."""
    if not path:
        return [(label, value)]
    head, _, rest = path.partition(".")
    key = head.removesuffix("[]")
    value = get(value, key)
    label = f"{label}.{key}" if label else key
    if head.endswith("[]") and not is_unknown(value):
        return [
            found
            for index, item in enumerate(as_list(value))
            for found in values_at(item, rest, f"{label}[{index}]")
        ]
    return values_at(value, rest, label)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_unknown(v) for v in value)
    return is_unknown(value)


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def parse_policy_document(value: Any) -> Mapping[str, Any] | _Unknown | None:
    """A policy document from a JSON string or mapping; ``UNKNOWN`` passes through."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def of_types(resources: Iterable[ResourceRecord], types: Iterable[str]) -> list[ResourceRecord]:
    wanted = frozenset(types)
    return [r for r in resources if r.type in wanted]


# --- type tokens (pulumi-aws v7; the V2 tokens are the aliases v7 still accepts) -----------------

BUCKET_TYPES: Final = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})

S3: Final = "aws:s3/bucket"
ENCRYPTION_TYPES: Final = frozenset(
    {
        f"{S3}ServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{S3}ServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
PUBLIC_ACCESS_BLOCK_TYPES: Final = frozenset({f"{S3}PublicAccessBlock:BucketPublicAccessBlock"})
VERSIONING_TYPES: Final = frozenset(
    {f"{S3}Versioning:BucketVersioning", f"{S3}VersioningV2:BucketVersioningV2"}
)
OWNERSHIP_TYPES: Final = frozenset({f"{S3}OwnershipControls:BucketOwnershipControls"})
BUCKET_POLICY_TYPES: Final = frozenset({f"{S3}Policy:BucketPolicy"})
LIFECYCLE_TYPES: Final = frozenset(
    {
        f"{S3}LifecycleConfiguration:BucketLifecycleConfiguration",
        f"{S3}LifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)
GLUE_JOB_TYPE: Final = "aws:glue/job:Job"
GLUE_CRAWLER_TYPE: Final = "aws:glue/crawler:Crawler"
GLUE_SECURITY_CONFIGURATION_TYPE: Final = "aws:glue/securityConfiguration:SecurityConfiguration"
CATALOG_DATABASE_TYPE: Final = "aws:glue/catalogDatabase:CatalogDatabase"
ATHENA_WORKGROUP_TYPE: Final = "aws:athena/workgroup:Workgroup"
KMS_KEY_TYPE: Final = "aws:kms/key:Key"
IAM_ROLE_TYPE: Final = "aws:iam/role:Role"
IAM_DOCUMENT_TYPES: Final = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
        *BUCKET_POLICY_TYPES,
    }
)
IAM_ATTACHMENT_TYPES: Final = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)

# --- buckets and their split resources -----------------------------------------------------------

DATA_BUCKET_KINDS: Final = frozenset({"staging", "warehouse"})
"""Buckets of these kinds hold pipeline data (raw or published). A bucket's kind is its ``kind``
tag, or else the last ``-`` part of its logical name (``spotify-dev-warehouse``)."""


def bucket_kind(bucket: ResourceRecord) -> str:
    kind = get(bucket.props, "tags", "kind")
    return kind if isinstance(kind, str) else bucket.name.rsplit("-", 1)[-1]


def is_data_bucket(bucket: ResourceRecord) -> bool:
    return bucket_kind(bucket) in DATA_BUCKET_KINDS


def bucket_names(bucket: ResourceRecord) -> set[str]:
    """The bucket's S3 name(s), where known."""
    name = bucket.props.get("bucket")
    return {n for n in (bucket.id, name) if isinstance(n, str) and n}


def bucket_of(child: ResourceRecord, buckets: Sequence[ResourceRecord]) -> ResourceRecord | None:
    """The bucket a split S3 resource configures (see the module docstring for the order)."""
    by_urn = {b.urn: b for b in buckets}
    for urn in child.dependencies.get("bucket", ()):
        if urn in by_urn:
            return by_urn[urn]
    value = child.props.get("bucket")
    if isinstance(value, str):
        for bucket in buckets:
            if value in bucket_names(bucket):
                return bucket
    if child.parent_urn in by_urn:
        return by_urn[child.parent_urn]
    if child.parent_urn is not None:
        siblings = [b for b in buckets if b.parent_urn == child.parent_urn]
        if len(siblings) == 1:
            return siblings[0]
    prefixed = [b for b in buckets if child.name.startswith(b.name + "-")]
    if prefixed:
        return max(prefixed, key=lambda b: len(b.name))
    return None


def configs_of(
    bucket: ResourceRecord, graph: Sequence[ResourceRecord], types: Iterable[str]
) -> list[ResourceRecord]:
    """The split resources of ``types`` that configure ``bucket``."""
    buckets = of_types(graph, BUCKET_TYPES)
    return [c for c in of_types(graph, types) if bucket_of(c, buckets) is bucket]
