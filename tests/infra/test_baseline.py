"""The security and reliability baseline holds on the program's real graph, on every stack shape.

The baseline is ``spotify_guardrails.RULES``, the table the policy pack enforces at preview and
update; here each rule runs on what the program declares, and must have examined at least one
resource wherever the program declares what it looks at, so a rule that matched nothing fails
instead of passing silently. Below the table: what the program chooses beyond the baseline
(which key, which bucket, which stacks can be torn down).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from resource_graph import ResourceRecord, StackContext
from rule_base import Rule
from spotify_guardrails import RULES

from infra.policies import EVENTS_SERVICE, GLUE_SERVICE
from infra.storage import BUCKET_KINDS
from tests.infra.harness import ProgramRun, RecordedResource, run_stack, stack_config
from tests.policy.graphs import program_records

BUCKET = "aws:s3/bucket:Bucket"
JOB = "aws:glue/job:Job"
CRAWLER = "aws:glue/crawler:Crawler"
ROLE = "aws:iam/role:Role"
WORKGROUP = "aws:athena/workgroup:Workgroup"
KMS_KEY = "aws:kms/key:Key"

SHAPES = {
    # id: (fixture, stack)
    "dev": ("dev_run", "dev"),
    "prod": ("prod_run", "prod"),
    "pr-123": ("review_run", "pr-123"),
    "dev+cmk+quicksight": ("cmk_run", "dev"),
    "dev-preview": ("dev_preview", "dev"),
    "prod-preview": ("prod_preview", "prod"),
}


@pytest.fixture(scope="session")
def prod_preview() -> ProgramRun:
    return run_stack("prod", preview=True)


@pytest.fixture(scope="module", params=list(SHAPES))
def shape(request: pytest.FixtureRequest) -> tuple[list[ResourceRecord], StackContext]:
    """The program's graph for one stack shape, and the context the pack would read."""
    fixture, stack = SHAPES[request.param]
    run: ProgramRun = request.getfixturevalue(fixture)
    return program_records(run), StackContext.from_config(stack, stack_config(stack))


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_the_program_meets_the_rule(rule: Rule, shape: tuple[list[ResourceRecord], StackContext]):
    """The rule finds no violation, and examined at least one resource wherever the program
    declares one of the rule's types (in a stack the rule holds in)."""
    graph, context = shape
    violations = rule(graph, context)
    assert not violations, "\n".join(map(str, violations))
    if rule.when(context) and any(r.type in rule.types for r in graph):
        assert rule.examined(graph, context), f"{rule.name}: examined nothing"


def test_every_rule_examines_some_stack(request: pytest.FixtureRequest):
    """Across the stack shapes, every rule of the table examines at least one resource."""
    examined = {rule.name: 0 for rule in RULES}
    for fixture, stack in SHAPES.values():
        graph = program_records(request.getfixturevalue(fixture))
        context = StackContext.from_config(stack, stack_config(stack))
        for rule in RULES:
            examined[rule.name] += len(rule.examined(graph, context))
    assert all(examined.values()), examined


# --- what the program chooses beyond the baseline ----------------------------------------------


def check(
    resources: list[RecordedResource], what: str, holds: Callable[[RecordedResource], bool]
) -> None:
    """Assert ``holds`` for every resource; the message names each failing URN."""
    assert resources, f"{what}: no resource to check (the program declared none)"
    failing = [r.urn for r in resources if not holds(r)]
    assert not failing, f"{what} is violated by:\n  " + "\n  ".join(failing)


def buckets(run: ProgramRun) -> list[RecordedResource]:
    found = run.of_type(BUCKET)
    assert len(found) == len(BUCKET_KINDS), [r.urn for r in found]
    return found


def kms_key_arn(run: ProgramRun) -> str | None:
    keys = run.of_type(KMS_KEY)
    return str(run.states[keys[0].urn]["arn"]) if keys else None


def test_buckets_are_encrypted_with_sse_s3_or_the_stack_key(any_run):
    """Each bucket has one default-encryption rule: SSE-S3 without a customer-managed key (no
    KMS request costs), else aws:kms with the stack key and a bucket key."""
    key_arn = kms_key_arn(any_run)
    by_default = (
        {"sseAlgorithm": "AES256"}
        if key_arn is None
        else {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    )
    expected = [
        {"applyServerSideEncryptionByDefault": by_default}
        | ({} if key_arn is None else {"bucketKeyEnabled": True})
    ]
    encryption = any_run.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert len(encryption) == len(BUCKET_KINDS)
    check(encryption, "SSE-S3 or the stack key", lambda c: c.inputs["rules"] == expected)


def test_customer_managed_key_has_an_alias(cmk_run):
    """The stack key has an alias pointing at it."""
    key_ids = {cmk_run.states[k.urn]["keyId"] for k in cmk_run.of_type(KMS_KEY)}
    check(
        cmk_run.of_type("aws:kms/alias:Alias"),
        "alias targets the stack key",
        lambda a: a.inputs["targetKeyId"] in key_ids and a.inputs["name"].startswith("alias/"),
    )


def test_job_and_crawler_use_the_stacks_security_configuration(any_run):
    """The job and the crawler name the stack's own Glue security configuration."""
    names = {
        r.inputs["name"]
        for r in any_run.of_type("aws:glue/securityConfiguration:SecurityConfiguration")
    }
    assert len(names) == 1
    check(
        any_run.of_type(JOB) + any_run.of_type(CRAWLER),
        "the stack's Glue security configuration",
        lambda r: r.inputs.get("securityConfiguration") in names,
    )


def test_job_has_logging_and_metrics_as_its_glue_version_provides(any_run):
    """The job turns on job metrics. Continuous CloudWatch logging is a flag up to Glue 4.0;
    from Glue 5.0 every job logs in real time, so the flag is not required there."""

    def observable(job: RecordedResource) -> bool:
        arguments = job.inputs["defaultArguments"]
        built_in = float(job.inputs["glueVersion"]) >= 5.0
        return arguments.get("--enable-metrics") == "true" and (
            built_in or arguments.get("--enable-continuous-cloudwatch-log") == "true"
        )

    check(any_run.of_type(JOB), "logging and metrics", observable)


# Condition keys each trusted service documents sending with sts:AssumeRole. Glue documents
# none (docs/infrastructure.md cites the pages), so a Glue trust carries no condition.
DOCUMENTED_TRUST_CONDITION_KEYS: dict[str, frozenset[str]] = {
    GLUE_SERVICE: frozenset(),
    EVENTS_SERVICE: frozenset(),
}


def test_roles_trust_one_service_without_undocumented_conditions(any_run):
    """Each role trusts exactly one AWS service principal (Glue for the job and the crawler,
    EventBridge for the arrival trigger) with sts:AssumeRole, and conditions only on keys that
    service documents sending: a condition on a key it does not send refuses AssumeRole."""

    def trusts_one_service(role: RecordedResource) -> bool:
        statements = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        services = {s["Principal"].get("Service") for s in statements}
        if len(services) != 1 or not services <= DOCUMENTED_TRUST_CONDITION_KEYS.keys():
            return False
        (service,) = services
        keys = {
            key.lower()
            for s in statements
            for test in s.get("Condition", {}).values()
            for key in test
        }
        return all(s["Action"] == "sts:AssumeRole" for s in statements) and keys <= {
            k.lower() for k in DOCUMENTED_TRUST_CONDITION_KEYS[service]
        }

    check(any_run.of_type(ROLE), "one service, documented conditions only", trusts_one_service)
    glue_roles = [r for r in any_run.of_type(ROLE) if GLUE_SERVICE in r.inputs["assumeRolePolicy"]]
    assert len(glue_roles) == 2, "the job and the crawler roles trust Glue"


def test_workgroup_queries_on_engine_v3_into_the_results_bucket(any_run):
    """The workgroup runs Athena engine v3 and writes results into the results bucket,
    encrypted with the stack key where there is one."""
    (results,) = [b for b in buckets(any_run) if b.inputs["tags"]["kind"] == "results"]
    results_bucket = any_run.states[results.urn]["bucket"]
    key_arn = kms_key_arn(any_run)
    expected_encryption = (
        {"encryptionOption": "SSE_S3"}
        if key_arn is None
        else {"encryptionOption": "SSE_KMS", "kmsKeyArn": key_arn}
    )

    def configured(workgroup: RecordedResource) -> bool:
        config = workgroup.inputs["configuration"]
        result = config["resultConfiguration"]
        return bool(
            config["engineVersion"]["selectedEngineVersion"] == "Athena engine version 3"
            and result["outputLocation"].startswith(f"s3://{results_bucket}/")
            and result["encryptionConfiguration"] == expected_encryption
        )

    check(any_run.of_type(WORKGROUP), "workgroup engine and results location", configured)


# --- Prod and ephemeral stacks ------------------------------------------------------------------


def test_dev_leaves_data_unprotected(dev_run):
    """dev does not protect its data, so the stack can be destroyed."""
    data = [b for b in buckets(dev_run) if b.inputs["tags"]["kind"] in ("staging", "warehouse")]
    check(data, "unprotected in dev", lambda r: not r.protect)


@pytest.mark.parametrize("fixture", ["dev_run", "review_run"])
def test_dev_and_review_stacks_can_be_destroyed_with_data_in_them(
    fixture: str, request: pytest.FixtureRequest
):
    """dev and pr-<n> stacks force-destroy every bucket (versions included) and the workgroup,
    and protect nothing, so `pulumi destroy` succeeds with data in the versioned buckets."""
    run: ProgramRun = request.getfixturevalue(fixture)
    check(
        buckets(run) + run.of_type(WORKGROUP),
        "force_destroy on dev and review stacks",
        lambda r: r.inputs.get("forceDestroy") is True and not r.protect,
    )


def test_prod_never_force_destroys(prod_run):
    """prod keeps its data: no bucket or workgroup force-destroys, and data buckets are
    protected."""
    check(
        buckets(prod_run) + prod_run.of_type(WORKGROUP),
        "no force_destroy in prod",
        lambda r: r.inputs.get("forceDestroy") is False,
    )


def test_force_destroy_is_off_for_a_stack_that_does_not_ask():
    """A long-lived stack without a stack-file setting (qa) does not force-destroy."""
    run = run_stack("qa")
    check(buckets(run), "force_destroy off by default", lambda r: r.inputs["forceDestroy"] is False)
