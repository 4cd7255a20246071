"""The Spotify pipeline's guardrails, written once as pure rules over a neutral resource graph.

The policy pack (``__main__.py`` via ``guardrails_pack``) adapts the Pulumi engine's resources to
``ResourceRecord`` and calls these rules at preview and update; the tests call the same rules on
the program's graph recorded under ``pulumi.runtime.set_mocks``. No Pulumi import here, so both
sides share exactly one definition of each rule.

Props are the resources' camelCase wire properties. A value the engine cannot know yet (preview of
a resource whose inputs come from resources not created yet) is ``UNKNOWN``.

Joining pulumi-aws v7's split S3 resources to their bucket must work in preview, where the
bucket's id is unknown. ``bucket_of`` tries, in order: the engine's property dependency on
``bucket`` (exact, known in preview); the ``bucket`` value when it is known; the child's parent
being the bucket; the child sharing a parent component with exactly one bucket; the longest
bucket logical name that prefixes the child's logical name followed by ``-``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final


class _Unknown:
    """A value the engine cannot know until the update runs (preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __copy__(self) -> _Unknown:
        return self

    def __deepcopy__(self, memo: object) -> _Unknown:
        return self


UNKNOWN: Final = _Unknown()


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


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.urn}: {self.message}"


@dataclass(frozen=True)
class StackContext:
    """What the rules need to know about the stack beyond its resources."""

    stack: str
    environment: str = ""
    """The stack's ``spotify-pipeline:environment``; empty means "same as the stack name"."""
    protect_data: bool | None = None
    """The stack's ``spotify-pipeline:protectData`` when set."""

    @property
    def effective_environment(self) -> str:
        return self.environment or self.stack

    @property
    def requires_protection(self) -> bool:
        # Prod is protected whatever its config says; elsewhere protection follows protectData.
        return self.effective_environment == "prod" or self.protect_data is True


class Scope(StrEnum):
    RESOURCE = "resource"
    """Each violation depends on one resource alone: the pack checks it before that resource is
    created or updated."""
    STACK = "stack"
    """The rule joins resources: the pack checks it on the whole stack."""


Check = Callable[[Sequence[ResourceRecord], StackContext], list[Violation]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    scope: Scope
    check: Check

    def __call__(
        self, resources: Sequence[ResourceRecord], context: StackContext
    ) -> list[Violation]:
        return self.check(resources, context)


# --- type tokens (pulumi-aws v7; the V2 tokens are the aliases v7 still accepts) -----------------

BUCKET_TYPES: Final = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
ENCRYPTION_TYPES: Final = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
PUBLIC_ACCESS_BLOCK_TYPES: Final = frozenset(
    {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"}
)
VERSIONING_TYPES: Final = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
OWNERSHIP_TYPES: Final = frozenset({"aws:s3/bucketOwnershipControls:BucketOwnershipControls"})
BUCKET_POLICY_TYPES: Final = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
GLUE_JOB_TYPE: Final = "aws:glue/job:Job"
GLUE_SECURITY_CONFIGURATION_TYPE: Final = "aws:glue/securityConfiguration:SecurityConfiguration"
CATALOG_DATABASE_TYPE: Final = "aws:glue/catalogDatabase:CatalogDatabase"
ATHENA_WORKGROUP_TYPE: Final = "aws:athena/workgroup:Workgroup"
IAM_DOCUMENT_TYPES: Final = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
        *BUCKET_POLICY_TYPES,
    }
)
IAM_ROLE_TYPE: Final = "aws:iam/role:Role"
IAM_ATTACHMENT_TYPES: Final = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)

DATA_BUCKET_KINDS: Final = frozenset({"staging", "warehouse"})
"""Buckets of these kinds hold pipeline data (raw or published). A bucket's kind is its ``kind``
tag, or else the last ``-`` part of its logical name (``spotify-dev-warehouse``)."""

GLUE_MAX_TIMEOUT_MINUTES: Final = 2880

ALLOWED_STAR_RESOURCE_ACTIONS: Final[Mapping[str, str | None]] = {
    # action (lower case) -> condition key the statement must carry, or None
    "cloudwatch:putmetricdata": "cloudwatch:namespace",
}
"""Actions AWS only grants on ``Resource: "*"``, with the condition that scopes them."""

AWS_MANAGED_POLICY_PREFIX: Final = "arn:aws:iam::aws:policy/"


# --- helpers ------------------------------------------------------------------------------------


def _get(props: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path``, ``None`` when absent, ``UNKNOWN`` when any step is unknown."""
    value: Any = props
    for key in path:
        if is_unknown(value):
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _of_types(resources: Iterable[ResourceRecord], types: Iterable[str]) -> list[ResourceRecord]:
    wanted = frozenset(types)
    return [r for r in resources if r.type in wanted]


def bucket_kind(bucket: ResourceRecord) -> str:
    tags = bucket.props.get("tags")
    kind = tags.get("kind") if isinstance(tags, Mapping) else None
    if isinstance(kind, str):
        return kind
    return bucket.name.rsplit("-", 1)[-1]


def is_data_bucket(bucket: ResourceRecord) -> bool:
    return bucket_kind(bucket) in DATA_BUCKET_KINDS


def _bucket_keys(bucket: ResourceRecord) -> set[str]:
    keys = {bucket.id} if bucket.id else set()
    name = bucket.props.get("bucket")
    if isinstance(name, str):
        keys.add(name)
    return keys


def bucket_of(child: ResourceRecord, buckets: Sequence[ResourceRecord]) -> ResourceRecord | None:
    """The bucket a split S3 resource configures (see the module docstring for the order)."""
    by_urn = {b.urn: b for b in buckets}
    for urn in child.dependencies.get("bucket", ()):
        if urn in by_urn:
            return by_urn[urn]
    value = child.props.get("bucket")
    if isinstance(value, str):
        for bucket in buckets:
            if value in _bucket_keys(bucket):
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


def _children_by_bucket(
    resources: Sequence[ResourceRecord], types: Iterable[str]
) -> tuple[list[ResourceRecord], dict[str, list[ResourceRecord]]]:
    buckets = _of_types(resources, BUCKET_TYPES)
    joined: dict[str, list[ResourceRecord]] = {b.urn: [] for b in buckets}
    for child in _of_types(resources, types):
        bucket = bucket_of(child, buckets)
        if bucket is not None:
            joined[bucket.urn].append(child)
    return buckets, joined


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# --- S3 -----------------------------------------------------------------------------------------


def _missing(rule: str, bucket: ResourceRecord, what: str, resource_type: str) -> Violation:
    return Violation(
        rule,
        bucket.urn,
        f"bucket '{bucket.name}' has no {what}; add a {resource_type.split(':')[-1]} "
        f"with bucket=<this bucket>.id",
    )


def check_s3_ownership_enforced(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "s3-ownership-enforced"
    buckets, joined = _children_by_bucket(resources, OWNERSHIP_TYPES)
    violations: list[Violation] = []
    for bucket in buckets:
        controls = joined[bucket.urn]
        if not controls:
            violations.append(
                _missing(rule, bucket, "ownership controls", "BucketOwnershipControls")
            )
        for control in controls:
            ownership = _get(control.props, "rule", "objectOwnership")
            if not is_unknown(ownership) and ownership != "BucketOwnerEnforced":
                violations.append(
                    Violation(
                        rule,
                        control.urn,
                        f"bucket '{bucket.name}' object ownership is {ownership!r}; set "
                        "rule.object_ownership='BucketOwnerEnforced' (ACLs disabled)",
                    )
                )
    return violations


PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def check_s3_public_access_blocked(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "s3-public-access-blocked"
    buckets, joined = _children_by_bucket(resources, PUBLIC_ACCESS_BLOCK_TYPES)
    violations: list[Violation] = []
    for bucket in buckets:
        blocks = joined[bucket.urn]
        if not blocks:
            violations.append(
                _missing(rule, bucket, "public access block", "BucketPublicAccessBlock")
            )
        for block in blocks:
            off = [
                flag
                for flag in PUBLIC_ACCESS_FLAGS
                if not is_unknown(block.props.get(flag)) and not _is_true(block.props.get(flag))
            ]
            if off:
                violations.append(
                    Violation(
                        rule,
                        block.urn,
                        f"bucket '{bucket.name}' public access block leaves {', '.join(off)} "
                        "off; all four flags must be true",
                    )
                )
    return violations


ENCRYPTION_ALGORITHMS: Final = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


def check_s3_encryption_at_rest(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "s3-encryption-at-rest"
    buckets, joined = _children_by_bucket(resources, ENCRYPTION_TYPES)
    violations: list[Violation] = []
    for bucket in buckets:
        configs = joined[bucket.urn]
        if not configs:
            violations.append(
                _missing(
                    rule,
                    bucket,
                    "server-side encryption configuration",
                    "BucketServerSideEncryptionConfiguration",
                )
            )
        for config in configs:
            rules = _get(config.props, "rules")
            if is_unknown(rules):
                continue
            if not _as_list(rules):
                violations.append(
                    Violation(rule, config.urn, f"bucket '{bucket.name}' encryption has no rules")
                )
            for entry in _as_list(rules):
                algorithm = _get(entry, "applyServerSideEncryptionByDefault", "sseAlgorithm")
                if is_unknown(algorithm):
                    continue
                if algorithm not in ENCRYPTION_ALGORITHMS:
                    violations.append(
                        Violation(
                            rule,
                            config.urn,
                            f"bucket '{bucket.name}' default encryption algorithm is "
                            f"{algorithm!r}; use one of {sorted(ENCRYPTION_ALGORITHMS)}",
                        )
                    )
                elif algorithm.startswith("aws:kms"):
                    key_enabled = _get(entry, "bucketKeyEnabled")
                    if not is_unknown(key_enabled) and not _is_true(key_enabled):
                        violations.append(
                            Violation(
                                rule,
                                config.urn,
                                f"bucket '{bucket.name}' uses KMS without an S3 bucket key; set "
                                "bucket_key_enabled=True (cuts KMS requests and cost)",
                            )
                        )
    return violations


def check_s3_data_bucket_versioning(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "s3-data-bucket-versioning"
    buckets, joined = _children_by_bucket(resources, VERSIONING_TYPES)
    violations: list[Violation] = []
    for bucket in buckets:
        if not is_data_bucket(bucket):
            continue
        configs = joined[bucket.urn]
        if not configs:
            violations.append(
                _missing(rule, bucket, "versioning (it holds pipeline data)", "BucketVersioning")
            )
        for config in configs:
            status = _get(config.props, "versioningConfiguration", "status")
            if not is_unknown(status) and status != "Enabled":
                violations.append(
                    Violation(
                        rule,
                        config.urn,
                        f"data bucket '{bucket.name}' versioning status is {status!r}; "
                        "set versioning_configuration.status='Enabled'",
                    )
                )
    return violations


def parse_policy_document(value: Any) -> Mapping[str, Any] | _Unknown | None:
    """A policy document from a JSON string or mapping; ``UNKNOWN`` passes through."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (
        isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS"))
    ):
        return False
    actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
    if not actions & {"s3:*", "*"}:
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    for operator, tests in condition.items():
        if operator.lower() != "bool" or not isinstance(tests, Mapping):
            continue
        for key, value in tests.items():
            if key.lower() == "aws:securetransport" and [
                str(v).lower() for v in _as_list(value)
            ] == ["false"]:
                return True
    return False


def check_s3_tls_only(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "s3-tls-only"
    buckets, joined = _children_by_bucket(resources, BUCKET_POLICY_TYPES)
    violations: list[Violation] = []
    for bucket in buckets:
        policies = joined[bucket.urn]
        if not policies:
            violations.append(
                _missing(rule, bucket, "bucket policy denying non-TLS requests", "BucketPolicy")
            )
            continue
        documents = [parse_policy_document(p.props.get("policy")) for p in policies]
        if any(is_unknown(d) for d in documents):
            # Built from resource outputs not known yet: checked again at update time.
            continue
        if not any(
            isinstance(d, Mapping) and any(_denies_insecure_transport(s) for s in _statements(d))
            for d in documents
        ):
            violations.append(
                Violation(
                    rule,
                    policies[0].urn,
                    f"bucket '{bucket.name}' policy has no statement denying s3:* to every "
                    "principal when aws:SecureTransport is false",
                )
            )
    return violations


# --- Glue ---------------------------------------------------------------------------------------


def check_glue_job_guardrails(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "glue-job-guardrails"
    violations: list[Violation] = []
    for job in _of_types(resources, [GLUE_JOB_TYPE]):
        security = job.props.get("securityConfiguration")
        if not is_unknown(security) and not (isinstance(security, str) and security):
            violations.append(
                Violation(
                    rule,
                    job.urn,
                    f"Glue job '{job.name}' has no security configuration; set "
                    "security_configuration to a glue.SecurityConfiguration's name",
                )
            )
        timeout = job.props.get("timeout")
        minutes = _number(timeout)
        if not is_unknown(timeout) and (minutes is None or not 1 <= minutes <= 2880):
            violations.append(
                Violation(
                    rule,
                    job.urn,
                    f"Glue job '{job.name}' timeout is {timeout!r}; set timeout to 1.."
                    f"{GLUE_MAX_TIMEOUT_MINUTES} minutes (the AWS default is 2880)",
                )
            )
        runs = _get(job.props, "executionProperty", "maxConcurrentRuns")
        if not is_unknown(runs) and _number(runs) != 1:
            violations.append(
                Violation(
                    rule,
                    job.urn,
                    f"Glue job '{job.name}' max concurrent runs is {runs!r}; set "
                    "execution_property.max_concurrent_runs=1 so two runs never publish at once",
                )
            )
    return violations


def check_glue_security_configuration_encrypts(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "glue-security-configuration-encrypts"
    violations: list[Violation] = []
    for config in _of_types(resources, [GLUE_SECURITY_CONFIGURATION_TYPE]):
        mode = _get(config.props, "encryptionConfiguration", "s3Encryption", "s3EncryptionMode")
        if not is_unknown(mode) and mode not in ("SSE-S3", "SSE-KMS"):
            violations.append(
                Violation(
                    rule,
                    config.urn,
                    f"Glue security configuration '{config.name}' S3 encryption mode is "
                    f"{mode!r}; use 'SSE-S3' or 'SSE-KMS'",
                )
            )
    return violations


# --- Athena -------------------------------------------------------------------------------------


def check_athena_workgroup_enforced(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "athena-workgroup-enforced"
    violations: list[Violation] = []
    for workgroup in _of_types(resources, [ATHENA_WORKGROUP_TYPE]):
        enforced = _get(workgroup.props, "configuration", "enforceWorkgroupConfiguration")
        # The provider defaults enforcement to true when the block is omitted; require it stated.
        if not is_unknown(enforced) and not _is_true(enforced):
            violations.append(
                Violation(
                    rule,
                    workgroup.urn,
                    f"Athena workgroup '{workgroup.name}' does not enforce its configuration; set "
                    "configuration.enforce_workgroup_configuration=True so clients cannot "
                    "override the results location, encryption or scan cutoff",
                )
            )
        cutoff = _get(workgroup.props, "configuration", "bytesScannedCutoffPerQuery")
        if not is_unknown(cutoff) and _number(cutoff) is None:
            violations.append(
                Violation(
                    rule,
                    workgroup.urn,
                    f"Athena workgroup '{workgroup.name}' has no bytes-scanned cutoff; set "
                    "configuration.bytes_scanned_cutoff_per_query",
                )
            )
    return violations


ATHENA_ENCRYPTION_OPTIONS: Final = frozenset({"SSE_S3", "SSE_KMS", "CSE_KMS"})


def check_athena_results_encrypted(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "athena-results-encrypted"
    violations: list[Violation] = []
    for workgroup in _of_types(resources, [ATHENA_WORKGROUP_TYPE]):
        option = _get(
            workgroup.props,
            "configuration",
            "resultConfiguration",
            "encryptionConfiguration",
            "encryptionOption",
        )
        if not is_unknown(option) and option not in ATHENA_ENCRYPTION_OPTIONS:
            violations.append(
                Violation(
                    rule,
                    workgroup.urn,
                    f"Athena workgroup '{workgroup.name}' query results encryption is "
                    f"{option!r}; set configuration.result_configuration.encryption_configuration"
                    f".encryption_option to one of {sorted(ATHENA_ENCRYPTION_OPTIONS)}",
                )
            )
    return violations


# --- IAM ----------------------------------------------------------------------------------------


def _is_wildcard_action(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {
        key.lower() for tests in condition.values() if isinstance(tests, Mapping) for key in tests
    }


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """Why an Allow statement is broader than least privilege (empty when it is fine)."""
    if statement.get("Effect") != "Allow":
        return []
    problems: list[str] = []
    if "NotAction" in statement:
        problems.append("Allow with NotAction grants every other action")
    if "NotResource" in statement:
        problems.append("Allow with NotResource grants every other resource")
    actions = [str(a) for a in _as_list(statement.get("Action"))]
    wildcards = [a for a in actions if _is_wildcard_action(a)]
    if wildcards:
        problems.append(f"wildcard action(s) {wildcards}; list the actions needed")
    resources = [str(r) for r in _as_list(statement.get("Resource"))]
    if "*" in resources:
        keys = _condition_keys(statement)
        for action in actions:
            if _is_wildcard_action(action):
                continue
            allowed = action.lower() in ALLOWED_STAR_RESOURCE_ACTIONS
            needed = ALLOWED_STAR_RESOURCE_ACTIONS.get(action.lower())
            if not allowed:
                problems.append(
                    f"{action} on Resource '*'; scope it to ARNs (only "
                    f"{sorted(ALLOWED_STAR_RESOURCE_ACTIONS)} may use '*')"
                )
            elif needed is not None and needed not in keys:
                problems.append(f"{action} on Resource '*' needs a condition on {needed}")
    return problems


def _documents(resource: ResourceRecord) -> list[tuple[str, Any]]:
    if resource.type in IAM_DOCUMENT_TYPES:
        return [("policy", resource.props.get("policy"))]
    if resource.type == IAM_ROLE_TYPE:
        inline = resource.props.get("inlinePolicies")
        if is_unknown(inline):
            return [("inlinePolicies", UNKNOWN)]
        return [
            (f"inlinePolicies[{_get(p, 'name')}]", _get(p, "policy"))
            for p in _as_list(inline)
            if isinstance(p, Mapping) or is_unknown(p)
        ]
    return []


def _managed_policy_arns(resource: ResourceRecord) -> list[str]:
    if resource.type in IAM_ATTACHMENT_TYPES:
        arns = [resource.props.get("policyArn")]
    elif resource.type == IAM_ROLE_TYPE:
        arns = _as_list(resource.props.get("managedPolicyArns"))
    else:
        return []
    return [a for a in arns if isinstance(a, str)]


def check_iam_least_privilege(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    rule = "iam-least-privilege"
    violations: list[Violation] = []
    for resource in resources:
        for where, raw in _documents(resource):
            document = parse_policy_document(raw)
            if is_unknown(document) or raw is None:
                continue  # built from outputs not known yet: checked again at update time
            if not isinstance(document, Mapping):
                violations.append(
                    Violation(rule, resource.urn, f"{where} is not a JSON policy document")
                )
                continue
            for index, statement in enumerate(_statements(document)):
                label = statement.get("Sid") or f"Statement[{index}]"
                violations.extend(
                    Violation(rule, resource.urn, f"{where} {label}: {problem}")
                    for problem in statement_problems(statement)
                )
        violations.extend(
            Violation(
                rule,
                resource.urn,
                f"attaches AWS-managed policy {arn}; AWS-managed policies grant more than the "
                "pipeline needs (e.g. AWSGlueServiceRole reads every bucket named aws-glue-*); "
                "write a scoped policy instead",
            )
            for arn in _managed_policy_arns(resource)
            if arn.startswith(AWS_MANAGED_POLICY_PREFIX)
        )
    return violations


# --- prod protection ----------------------------------------------------------------------------


def check_prod_data_protected(
    resources: Sequence[ResourceRecord], context: StackContext
) -> list[Violation]:
    """Data buckets and the catalog database carry ``protect`` where protection is required.

    ``retain_on_delete`` is not accepted: the engine does not pass it to policy packs, so a rule
    that accepted it would pass in the tests and fail at preview.
    """
    rule = "prod-data-protected"
    if not context.requires_protection:
        return []
    guarded = [b for b in _of_types(resources, BUCKET_TYPES) if is_data_bucket(b)]
    guarded += _of_types(resources, [CATALOG_DATABASE_TYPE])
    return [
        Violation(
            rule,
            resource.urn,
            f"'{resource.name}' holds data in environment "
            f"'{context.effective_environment}' and is not protected; create it with "
            "ResourceOptions(protect=True) (spotify-pipeline:protectData)",
        )
        for resource in guarded
        if not resource.protect
    ]


RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "s3-ownership-enforced",
        "Every bucket has BucketOwnershipControls with BucketOwnerEnforced (ACLs off).",
        Scope.STACK,
        check_s3_ownership_enforced,
    ),
    Rule(
        "s3-public-access-blocked",
        "Every bucket has a BucketPublicAccessBlock with all four flags on.",
        Scope.STACK,
        check_s3_public_access_blocked,
    ),
    Rule(
        "s3-encryption-at-rest",
        "Every bucket has default server-side encryption (KMS only with a bucket key).",
        Scope.STACK,
        check_s3_encryption_at_rest,
    ),
    Rule(
        "s3-data-bucket-versioning",
        "Staging and warehouse buckets have versioning enabled.",
        Scope.STACK,
        check_s3_data_bucket_versioning,
    ),
    Rule(
        "s3-tls-only",
        "Every bucket has a bucket policy denying requests without TLS.",
        Scope.STACK,
        check_s3_tls_only,
    ),
    Rule(
        "glue-job-guardrails",
        "Glue jobs set a security configuration, a timeout and max concurrent runs = 1.",
        Scope.RESOURCE,
        check_glue_job_guardrails,
    ),
    Rule(
        "glue-security-configuration-encrypts",
        "Glue security configurations encrypt what jobs write to S3.",
        Scope.RESOURCE,
        check_glue_security_configuration_encrypts,
    ),
    Rule(
        "athena-workgroup-enforced",
        "Athena workgroups enforce their configuration and cap bytes scanned per query.",
        Scope.RESOURCE,
        check_athena_workgroup_enforced,
    ),
    Rule(
        "athena-results-encrypted",
        "Athena workgroups encrypt query results.",
        Scope.RESOURCE,
        check_athena_results_encrypted,
    ),
    Rule(
        "iam-least-privilege",
        "No '*' or 'service:*' actions, '*' resources only for a short allowed list, "
        "no AWS-managed policies.",
        Scope.RESOURCE,
        check_iam_least_privilege,
    ),
    Rule(
        "prod-data-protected",
        "In prod (or with protectData) data buckets and the catalog database are protected.",
        Scope.RESOURCE,
        check_prod_data_protected,
    ),
)

RULES_BY_NAME: Final = {rule.name: rule for rule in RULES}


def evaluate(resources: Sequence[ResourceRecord], context: StackContext) -> list[Violation]:
    """Every rule's violations for one stack graph."""
    return [v for rule in RULES for v in rule(resources, context)]
