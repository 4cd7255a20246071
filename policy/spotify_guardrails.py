"""The Spotify pipeline's guardrails: one table of rules over a neutral resource graph.

A rule is data plus one small check, as in Checkov's ``BaseResourceValueCheck``: the resource
types it examines, the keys it inspects and the values it accepts (``Expect``), and its
enforcement level (one table, as in Pulumi's AWSGuard). The policy pack (``guardrails_pack``)
serves ``RULES`` at preview and update; the tests run the same ``RULES`` on crafted graphs and on
the program's graph recorded under ``pulumi.runtime.set_mocks``. No Pulumi import here.

Checks skip ``UNKNOWN`` values (preview): the same rule judges them at update, once known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any, Final

from resource_graph import (
    ATHENA_WORKGROUP_TYPE,
    BUCKET_POLICY_TYPES,
    BUCKET_TYPES,
    CATALOG_DATABASE_TYPE,
    ENCRYPTION_TYPES,
    GLUE_CRAWLER_TYPE,
    GLUE_JOB_TYPE,
    GLUE_SECURITY_CONFIGURATION_TYPE,
    IAM_ATTACHMENT_TYPES,
    IAM_DOCUMENT_TYPES,
    IAM_ROLE_TYPE,
    KMS_KEY_TYPE,
    LIFECYCLE_TYPES,
    OWNERSHIP_TYPES,
    PUBLIC_ACCESS_BLOCK_TYPES,
    UNKNOWN,
    VERSIONING_TYPES,
    ResourceRecord,
    StackContext,
    as_list,
    bucket_kind,
    bucket_names,
    configs_of,
    get,
    has_unknown,
    is_data_bucket,
    is_true,
    is_unknown,
    number,
    of_types,
    parse_policy_document,
    statements,
)
from rule_base import (
    Check,
    Expect,
    Finding,
    Rule,
    Scope,
    Violation,
    between,
    configured_by,
    named,
    one_of,
    values,
)

RESULTS_BUCKET_KIND: Final = "results"
GLUE_MAX_TIMEOUT_MINUTES: Final = 2880
"""Our cap; Glue's own is 10080 (7 days), its default 480 from Glue 5.0 (CreateJob, Timeout)."""
ATHENA_MIN_BYTES_SCANNED_CUTOFF: Final = 10_000_000
"""Athena's lower bound for ``BytesScannedCutoffPerQuery`` (WorkGroupConfiguration)."""
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
ENCRYPTION_ALGORITHMS: Final = ("AES256", "aws:kms", "aws:kms:dsse")
ATHENA_ENCRYPTION_OPTIONS: Final = ("SSE_S3", "SSE_KMS", "CSE_KMS")
ALLOWED_STAR_RESOURCE_ACTIONS: Final[Mapping[str, str | None]] = {
    # action (lower case) -> condition key the statement must carry, or None
    "cloudwatch:putmetricdata": "cloudwatch:namespace",
}
"""Actions AWS only grants on ``Resource: "*"``, with the condition that scopes them."""


# --- checks that read more than one value -------------------------------------------------------


def _kms_with_bucket_key(entry: Any) -> bool:
    algorithm = get(entry, "applyServerSideEncryptionByDefault", "sseAlgorithm")
    if not isinstance(algorithm, str) or not algorithm.startswith("aws:kms"):
        return True
    return is_unknown(entry.get("bucketKeyEnabled")) or is_true(entry.get("bucketKeyEnabled"))


def _uses_the_stack_key(
    bucket: ResourceRecord, config: ResourceRecord, graph: Sequence[ResourceRecord]
) -> Iterable[str]:
    """Where the stack declares a KMS key, the bucket is encrypted with it."""
    keys = of_types(graph, [KMS_KEY_TYPE])
    ids = {i for k in keys for i in (k.props.get("arn"), k.props.get("keyId"), k.id)}
    known = {i for i in ids if isinstance(i, str)}
    for index, entry in enumerate(as_list(get(config.props, "rules")) if keys else []):
        algorithm = get(entry, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        key = get(entry, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
        if isinstance(algorithm, str) and not algorithm.startswith("aws:kms"):
            yield (
                f"rules[{index}] uses {algorithm!r} though the stack has a KMS key; set "
                "sse_algorithm='aws:kms' and kms_master_key_id=<the stack key>.arn"
            )
        elif known and isinstance(key, str) and key not in known:
            yield f"rules[{index}] uses KMS key {key!r}, not the stack's key {sorted(known)}"


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    condition = statement.get("Condition")
    return (
        statement.get("Effect") == "Deny"
        and (principal == "*" or "*" in as_list(get(principal, "AWS")))
        and bool({str(a).lower() for a in as_list(statement.get("Action"))} & {"s3:*", "*"})
        and isinstance(condition, Mapping)
        and any(
            key.lower() == "aws:securetransport"
            and [str(v).lower() for v in as_list(value)] == ["false"]
            for operator, tests in condition.items()
            if operator.lower() == "bool" and isinstance(tests, Mapping)
            for key, value in tests.items()
        )
    )


def _covers(resource: str, path: str) -> bool:
    parts = resource.split(":", 5)
    return resource == "*" or (len(parts) == 6 and parts[2] == "s3" and fnmatchcase(path, parts[5]))


def _denies_plain_http(
    bucket: ResourceRecord, policy: ResourceRecord, graph: Sequence[ResourceRecord]
) -> Iterable[str]:
    document = parse_policy_document(policy.props.get("policy"))
    if is_unknown(document):
        return  # built from outputs not known yet: judged at update
    denials = [
        s
        for s in (statements(document) if isinstance(document, Mapping) else [])
        if _denies_insecure_transport(s)
    ]
    if not denials:
        yield "has no statement denying s3:* to every principal when aws:SecureTransport is false"
    for name in sorted(bucket_names(bucket)) if denials else []:
        if not any(
            all(
                any(_covers(str(r), p) for r in as_list(s.get("Resource")))
                for p in (name, f"{name}/*")
            )
            for s in denials
        ):
            yield f"denies plain HTTP, but not on both arn:aws:s3:::{name} and {name}/*"


def _rule_prefix(rule: Mapping[str, Any]) -> str | None:
    """The key prefix a lifecycle rule covers; ``None`` when tags or sizes narrow it."""
    raw = get(rule, "filter") or {}
    if not isinstance(raw, Mapping):
        return None
    narrowing = {k: v for k, v in raw.items() if v not in (None, "")}
    if set(narrowing) - {"prefix"}:
        return None
    prefix = narrowing.get("prefix", rule.get("prefix") or "")
    return prefix if isinstance(prefix, str) else None


def _positive(*path: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda rule: (number(get(rule, *path)) or 0) > 0


JOB_FILES_TO_EXPIRE: Final = {
    "--TempDir": "temp files",
    "--spark-event-logs-path": "Spark UI logs",
}
"""Job arguments naming S3 folders Glue writes on every run, which nothing else removes."""


def _lifecycle_needs(
    bucket: ResourceRecord, graph: Sequence[ResourceRecord]
) -> Iterable[tuple[str, str, Callable[[Mapping[str, Any]], bool]]]:
    """(what, key prefix, the action that does it) the bucket's lifecycle must hold."""
    yield (
        "abort incomplete multipart uploads",
        "",
        _positive("abortIncompleteMultipartUpload", "daysAfterInitiation"),
    )
    if is_data_bucket(bucket) or configs_of(bucket, graph, VERSIONING_TYPES):
        yield (
            "expire noncurrent versions",
            "",
            _positive("noncurrentVersionExpiration", "noncurrentDays"),
        )
    if bucket_kind(bucket) == RESULTS_BUCKET_KIND:
        yield "expire Athena query results", "", _positive("expiration", "days")
    for job in of_types(graph, [GLUE_JOB_TYPE]):
        for argument, what in JOB_FILES_TO_EXPIRE.items():
            location = get(job.props, "defaultArguments", argument)
            name, _, prefix = str(location).removeprefix("s3://").partition("/")
            if isinstance(location, str) and name in bucket_names(bucket):
                yield (
                    f"expire the {what} of Glue job '{job.name}'",
                    prefix,
                    _positive("expiration", "days"),
                )


def _expires_what_it_must(
    bucket: ResourceRecord, config: ResourceRecord, graph: Sequence[ResourceRecord]
) -> Iterable[str]:
    rules = get(config.props, "rules")
    if has_unknown(rules):
        return
    enabled = [r for r in as_list(rules) if isinstance(r, Mapping) and r.get("status") == "Enabled"]
    for what, prefix, does in _lifecycle_needs(bucket, graph):
        if not any(
            (scope := _rule_prefix(r)) is not None and prefix.startswith(scope) and does(r)
            for r in enabled
        ):
            yield f"has no enabled rule to {what} under '{prefix}'"


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """Why an Allow statement is broader than least privilege (empty when it is fine)."""
    if statement.get("Effect") != "Allow":
        return []
    problems = [
        f"Allow with Not{key} grants every other {key.lower()}"
        for key in ("Action", "Resource")
        if f"Not{key}" in statement
    ]
    actions = [str(a) for a in as_list(statement.get("Action"))]
    if wildcards := [a for a in actions if "*" in a]:
        problems.append(f"wildcard action(s) {wildcards}; list the actions needed")
    if "*" in [str(r) for r in as_list(statement.get("Resource"))]:
        condition = statement.get("Condition")
        tests = condition.values() if isinstance(condition, Mapping) else []
        keys = {key.lower() for test in tests if isinstance(test, Mapping) for key in test}
        for action in (a for a in actions if "*" not in a):
            if action.lower() not in ALLOWED_STAR_RESOURCE_ACTIONS:
                problems.append(
                    f"{action} on Resource '*'; scope it to ARNs (only "
                    f"{sorted(ALLOWED_STAR_RESOURCE_ACTIONS)} may use '*')"
                )
            elif (needed := ALLOWED_STAR_RESOURCE_ACTIONS[action.lower()]) and needed not in keys:
                problems.append(f"{action} on Resource '*' needs a condition on {needed}")
    return problems


def _least_privilege(resource: ResourceRecord, *_: object) -> Iterable[Finding]:
    if resource.type in IAM_DOCUMENT_TYPES:
        documents = [("policy", resource.props.get("policy"))]
    else:
        inline = resource.props.get("inlinePolicies")
        documents = [
            (f"inlinePolicies[{get(p, 'name')}]", get(p, "policy"))
            for p in as_list(inline)
            if isinstance(p, Mapping)
        ]
    for where, raw in documents:
        document = parse_policy_document(raw)
        if is_unknown(document) or raw is None:
            continue  # built from outputs not known yet: judged at update
        if not isinstance(document, Mapping):
            yield resource, f"{where} is not a JSON policy document"
            continue
        for index, statement in enumerate(statements(document)):
            label = statement.get("Sid") or f"Statement[{index}]"
            yield from ((resource, f"{where} {label}: {p}") for p in statement_problems(statement))
    if resource.type in IAM_ATTACHMENT_TYPES:
        attached = [resource.props.get("policyArn")]  # attaching at all is the finding
    else:
        attached = [a for a in as_list(resource.props.get("managedPolicyArns")) if a is not UNKNOWN]
    for arn in attached:
        yield (
            resource,
            (
                f"attaches managed policy {arn!r}; grant permissions in an inline policy "
                "(aws.iam.RolePolicy) reviewed with the role: AWS-managed ones such as "
                "AWSGlueServiceRole grant more than the pipeline needs (every aws-glue-* bucket)"
            ),
        )


def _protected(resource: ResourceRecord, graph: object, context: StackContext) -> Iterable[Finding]:
    """``retain_on_delete`` is not accepted: the engine does not pass it to policy packs, so a
    rule that accepted it would pass in the tests and fail at preview."""
    if not resource.protect:
        yield (
            resource,
            (
                f"'{resource.name}' holds or guards data in environment "
                f"'{context.effective_environment}' and is not protected; create it with "
                "ResourceOptions(protect=True) (spotify-pipeline:protectData)"
            ),
        )


# --- the table ----------------------------------------------------------------------------------


def _bucket_rule(name: str, description: str, check: Check, **options: Any) -> Rule:
    return Rule(name, description, BUCKET_TYPES, check, Scope.STACK, **options)


_SECURITY_CONFIGURATION: Final = Expect(
    "securityConfiguration", named, "set security_configuration to a SecurityConfiguration's name"
)

RULES: Final[tuple[Rule, ...]] = (
    _bucket_rule(
        "s3-ownership-enforced",
        "Every bucket has one BucketOwnershipControls with BucketOwnerEnforced (ACLs off).",
        configured_by(
            OWNERSHIP_TYPES,
            "ownership controls",
            Expect(
                "rule.objectOwnership",
                one_of("BucketOwnerEnforced"),
                "set rule.object_ownership='BucketOwnerEnforced' (ACLs disabled)",
            ),
        ),
    ),
    _bucket_rule(
        "s3-public-access-blocked",
        "Every bucket has one BucketPublicAccessBlock with all four flags on.",
        configured_by(
            PUBLIC_ACCESS_BLOCK_TYPES,
            "public access block",
            *(Expect(flag, is_true, "all four flags must be true") for flag in PUBLIC_ACCESS_FLAGS),
        ),
    ),
    _bucket_rule(
        "s3-encryption-at-rest",
        "Every bucket has default server-side encryption; KMS with a bucket key, and with the "
        "stack's KMS key where the stack declares one.",
        configured_by(
            ENCRYPTION_TYPES,
            "server-side encryption configuration",
            Expect("rules", lambda v: bool(as_list(v)), "add a rule with a default algorithm"),
            Expect(
                "rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
                one_of(*ENCRYPTION_ALGORITHMS),
                f"use one of {sorted(ENCRYPTION_ALGORITHMS)}",
            ),
            Expect("rules[]", _kms_with_bucket_key, "with KMS, set bucket_key_enabled=True"),
            then=_uses_the_stack_key,
        ),
    ),
    _bucket_rule(
        "s3-data-bucket-versioning",
        "Staging and warehouse buckets have versioning enabled.",
        configured_by(
            VERSIONING_TYPES,
            "versioning",
            Expect(
                "versioningConfiguration.status",
                one_of("Enabled"),
                "set versioning_configuration.status='Enabled'",
            ),
        ),
        applies=is_data_bucket,
    ),
    _bucket_rule(
        "s3-tls-only",
        "Every bucket has one bucket policy denying requests without TLS, on the bucket and "
        "its objects.",
        configured_by(BUCKET_POLICY_TYPES, "bucket policy", then=_denies_plain_http),
    ),
    _bucket_rule(
        "s3-lifecycle",
        "Every bucket aborts incomplete uploads; versioned buckets expire noncurrent versions; "
        "Athena results and Glue temp files expire.",
        configured_by(LIFECYCLE_TYPES, "lifecycle configuration", then=_expires_what_it_must),
    ),
    Rule(
        "glue-job-guardrails",
        "Glue jobs set a security configuration, a timeout, retries and max concurrent runs = 1.",
        frozenset({GLUE_JOB_TYPE}),
        values(
            _SECURITY_CONFIGURATION,
            Expect(
                "timeout",
                between(1, GLUE_MAX_TIMEOUT_MINUTES),
                f"set timeout to 1..{GLUE_MAX_TIMEOUT_MINUTES} minutes",
            ),
            Expect("maxRetries", between(0), "set max_retries explicitly"),
            Expect(
                "executionProperty.maxConcurrentRuns",
                between(1, 1),
                "set execution_property.max_concurrent_runs=1 so two runs never publish at once",
            ),
        ),
    ),
    Rule(
        "glue-crawler-guardrails",
        "Glue crawlers set a security configuration.",
        frozenset({GLUE_CRAWLER_TYPE}),
        values(_SECURITY_CONFIGURATION),
    ),
    Rule(
        "glue-security-configuration-encrypts",
        "Glue security configurations encrypt what jobs write to S3.",
        frozenset({GLUE_SECURITY_CONFIGURATION_TYPE}),
        values(
            Expect(
                "encryptionConfiguration.s3Encryption.s3EncryptionMode",
                one_of("SSE-S3", "SSE-KMS"),
                "use 'SSE-S3' or 'SSE-KMS'",
            )
        ),
    ),
    Rule(
        "athena-workgroup-enforced",
        "Athena workgroups enforce their configuration, cap bytes scanned per query and publish "
        "CloudWatch metrics.",
        frozenset({ATHENA_WORKGROUP_TYPE}),
        values(
            Expect(
                "configuration.enforceWorkgroupConfiguration",
                is_true,
                "set configuration.enforce_workgroup_configuration=True so clients cannot "
                "override the results location, encryption or scan cutoff",
            ),
            Expect(
                "configuration.bytesScannedCutoffPerQuery",
                between(ATHENA_MIN_BYTES_SCANNED_CUTOFF),
                "set configuration.bytes_scanned_cutoff_per_query (Athena's minimum is "
                f"{ATHENA_MIN_BYTES_SCANNED_CUTOFF} bytes)",
            ),
            Expect(
                "configuration.publishCloudwatchMetricsEnabled",
                is_true,
                "set configuration.publish_cloudwatch_metrics_enabled=True",
            ),
        ),
    ),
    Rule(
        "athena-results-encrypted",
        "Athena workgroups encrypt query results.",
        frozenset({ATHENA_WORKGROUP_TYPE}),
        values(
            Expect(
                "configuration.resultConfiguration.encryptionConfiguration.encryptionOption",
                one_of(*ATHENA_ENCRYPTION_OPTIONS),
                "set configuration.result_configuration.encryption_configuration"
                f".encryption_option to one of {sorted(ATHENA_ENCRYPTION_OPTIONS)}",
            )
        ),
    ),
    Rule(
        "kms-key-rotation",
        "KMS keys rotate their key material.",
        frozenset({KMS_KEY_TYPE}),
        values(Expect("enableKeyRotation", is_true, "set enable_key_rotation=True")),
    ),
    Rule(
        "iam-least-privilege",
        "No wildcard actions, '*' resources only for a short allowed list, no managed policies.",
        IAM_DOCUMENT_TYPES | IAM_ATTACHMENT_TYPES | {IAM_ROLE_TYPE},
        _least_privilege,
    ),
    Rule(
        "prod-data-protected",
        "In prod (or with protectData) data buckets, the catalog database and KMS keys are "
        "protected.",
        BUCKET_TYPES | {CATALOG_DATABASE_TYPE, KMS_KEY_TYPE},
        _protected,
        applies=lambda r: r.type not in BUCKET_TYPES or is_data_bucket(r),
        when=lambda context: context.requires_protection,
    ),
)

RULES_BY_NAME: Final = {rule.name: rule for rule in RULES}


def evaluate(resources: Sequence[ResourceRecord], context: StackContext) -> list[Violation]:
    """Every rule's violations for one stack graph."""
    return [v for rule in RULES for v in rule(resources, context)]
