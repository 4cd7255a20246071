"""The IAM request model, evaluated by a real IAM policy evaluator against the policies the
program renders (role, bucket and key policies): every request the job and the crawler make is
allowed, everything outside their purpose is refused, and the policies main had before issue 9
refuse the model.

See ``tests/infra/iam_model.py`` for each request and where it comes from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from infra import policies
from tests.infra.harness import ACCOUNT_ID, DEFAULT_REGION, PARTITION, ProgramRun
from tests.infra.iam_model import (
    Names,
    Request,
    crawler_requests,
    forbidden_requests,
    job_requests,
    job_run_requests,
    rejected_run_requests,
)
from tests.infra.iam_simulator import Decision, evaluate

BEFORE = json.loads((Path(__file__).parent / "data" / "policies_before_issue_9.json").read_text())
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TLS = {"aws:SecureTransport": "true"}


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def deployed_names(run: ProgramRun) -> Names:
    outputs = run.outputs
    (job,) = run.of_type("aws:glue/job:Job")
    (crawler,) = run.of_type("aws:glue/crawler:Crawler")
    keys = run.of_type("aws:kms/key:Key")
    return Names(
        partition=PARTITION,
        region=DEFAULT_REGION,
        account=ACCOUNT_ID,
        staging=outputs["staging_bucket"],
        warehouse=outputs["warehouse_bucket"],
        assets=outputs["assets_bucket"],
        database=outputs["database_name"],
        job_role=_role_name(job.inputs["roleArn"]),
        crawler_role=_role_name(crawler.inputs["role"]),
        security_configuration=job.inputs["securityConfiguration"],
        kms_key_arn=str(run.states[keys[0].urn]["arn"]) if keys else None,
    )


def rendered_role_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """The job's and the crawler's inline policy documents as the program declared them."""
    found = {}
    for record in run.of_type(ROLE_POLICY):
        for principal in ("job", "crawler"):
            if record.name.endswith(f"-{principal}-policy"):
                found[principal] = json.loads(record.inputs["policy"])
    assert found.keys() == {"job", "crawler"}, [r.name for r in run.of_type(ROLE_POLICY)]
    return found


def rendered_bucket_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Each bucket's policy (deny without TLS), keyed by bucket ARN."""
    found = {}
    for record in run.of_type(BUCKET_POLICY):
        document = json.loads(record.inputs["policy"])
        bucket_arn = document["Statement"][0]["Resource"][0]
        found[bucket_arn] = document
    return found


def rendered_resource_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """The bucket policies and, when the stack has its own key, the key's policy: KMS allows a
    request only when the key policy does too (here by delegating to IAM)."""
    found = rendered_bucket_policies(run)
    for key in run.of_type("aws:kms/key:Key"):
        found[str(run.states[key.urn]["arn"])] = json.loads(key.inputs["policy"])
    return found


def refused(decisions: Sequence[Decision]) -> list[str]:
    return [f"{d.result}: {d.request.label}" for d in decisions if not d.allowed]


def model(names: Names) -> list[Request]:
    return (
        job_requests(names)
        + job_run_requests(names)
        + rejected_run_requests(names)
        + crawler_requests(names)
    )


@pytest.fixture(scope="module", params=["dev_run", "cmk_run"])
def deployed(request: pytest.FixtureRequest) -> ProgramRun:
    run: ProgramRun = request.getfixturevalue(request.param)
    return run


def test_the_model_covers_every_location_spark_touches(dev_run):
    """The model has requests on the bare key and both markers of the table, quarantine,
    run summary, temp and Spark UI folders, deletes of pruned runs, _temporary writes, the
    table switch, logs and metrics; none passes a context key the evaluator says AWS would not
    send, nor a resource the action does not take."""
    requests = model(deployed_names(dev_run))
    resources = {r.resource.split(":::", 1)[-1] for r in requests}
    names = deployed_names(dev_run)
    for folder in ("spotify_tracks", "_quarantine", "_run_summary"):
        assert f"{names.warehouse}/{folder}" in resources
        assert f"{names.warehouse}/{folder}_$folder$" in resources
    for folder in ("glue-temp", "spark-ui-logs"):
        assert any(r.startswith(f"{names.assets}/{folder}") for r in resources)
    assert any("_temporary" in r for r in resources)
    assert any(r.action == "s3:DeleteObject" and "run=20261126" in r.resource for r in requests), (
        "pruning deletes are modelled"
    )
    assert {
        r.action for r in requests if r.principal == "job" and r.action.startswith("glue:")
    } == {
        "glue:GetTable",
        "glue:UpdateTable",
    }
    assert {r.action.split(":")[0] for r in requests} == {"s3", "glue", "logs", "cloudwatch"}
    decisions = evaluate(requests, rendered_role_policies(dev_run), context=TLS)
    assert not [d.request.label for d in decisions if d.ignored_context_keys or d.errors]


def test_every_modelled_request_is_allowed_by_the_rendered_policies(deployed):
    """Each request of the job and the crawler is allowed by the role policy the program
    renders, with the bucket's TLS-only policy and (with the stack key) the key policy in
    force."""
    decisions = evaluate(
        model(deployed_names(deployed)),
        rendered_role_policies(deployed),
        rendered_resource_policies(deployed),
        context=TLS,
    )
    assert not refused(decisions), "\n".join(refused(decisions))


def test_requests_outside_each_roles_purpose_are_refused(dev_run):
    """The job cannot write staging or its own code or touch other tables; the crawler cannot
    write, delete or read beyond the table."""
    decisions = evaluate(
        forbidden_requests(deployed_names(dev_run)), rendered_role_policies(dev_run), context=TLS
    )
    allowed = [d.request.label for d in decisions if d.allowed]
    assert not allowed, "\n".join(allowed)


def test_requests_without_tls_are_refused_by_the_bucket_policy(dev_run):
    """The evaluator applies the bucket policies: the same reads over plain HTTP are denied."""
    decisions = evaluate(
        job_requests(deployed_names(dev_run))[:5],
        rendered_role_policies(dev_run),
        rendered_bucket_policies(dev_run),
        context={"aws:SecureTransport": "false"},
    )
    assert {d.result for d in decisions} == {"ExplicitlyDenied"}


def before_names() -> Names:
    names = BEFORE["names"]
    return Names(
        partition="aws",
        region="eu-west-1",
        account="123456789012",
        staging=names["staging"],
        warehouse=names["warehouse"],
        assets=names["assets"],
        database=names["database"],
    )


def test_the_policies_before_issue_9_refuse_the_model():
    """Main's policies before this fix refuse what Spark does: HEAD of the bare table key,
    the EMRFS marker, a 404 for a missing key, the quarantine parent."""
    decisions = evaluate(
        model(before_names()), {"job": BEFORE["job"], "crawler": BEFORE["crawler"]}, context=TLS
    )
    refused_labels = refused(decisions)
    warehouse = f"arn:aws:s3:::{BEFORE['names']['warehouse']}"
    refused_requests = {(d.request.action, d.request.resource) for d in decisions if not d.allowed}
    assert ("s3:GetObject", f"{warehouse}/spotify_tracks") in refused_requests
    assert ("s3:PutObject", f"{warehouse}/spotify_tracks_$folder$") in refused_requests
    assert ("s3:GetObject", f"{warehouse}/_quarantine") in refused_requests
    assert ("s3:ListBucket", warehouse) in refused_requests  # the 404 for a missing key
    assert len(refused_labels) > 50


def test_the_same_names_pass_with_the_current_builders():
    """The before case fails because of the policy, not the names: today's builders, given
    the same names, allow the whole model."""
    names = before_names()
    ctx = policies.AccountContext(names.partition, names.region, names.account)
    job = policies.glue_job_policy(
        policies.JobPolicyArgs(ctx, names.staging, names.warehouse, names.assets, names.database)
    )
    crawler = policies.crawler_policy(
        policies.CrawlerPolicyArgs(ctx, names.warehouse, names.database)
    )
    decisions = evaluate(model(names), {"job": job, "crawler": crawler}, context=TLS)
    assert not refused(decisions), "\n".join(refused(decisions))


# --- trust ---------------------------------------------------------------------------------------


def assume(trust: dict[str, Any], service: str, context: dict[str, str]) -> Decision:
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/spotify-dev-job-role"
    (decision,) = evaluate(
        [Request(service, "sts:AssumeRole", role, context, "the service assumes the role")],
        {},
        {role: trust},
        principal_arns={service: service},
    )
    return decision


def test_glue_can_assume_the_rendered_roles_with_what_it_sends(dev_run):
    """Glue's AssumeRole carries no aws:SourceAccount (Glue documents none): the rendered
    trust policies let glue.amazonaws.com in, and no other service."""
    trusts = [
        json.loads(r.inputs["assumeRolePolicy"]) for r in dev_run.of_type("aws:iam/role:Role")
    ]
    glue_trusts = [t for t in trusts if "glue" in json.dumps(t)]
    assert len(glue_trusts) == 2
    for trust in glue_trusts:
        assert assume(trust, "glue.amazonaws.com", {}).allowed
        assert not assume(trust, "lambda.amazonaws.com", {}).allowed


def test_the_trust_before_issue_9_refuses_glue():
    """The old trust required aws:SourceAccount, which Glue does not send: AssumeRole fails."""
    assert not assume(BEFORE["trust"], "glue.amazonaws.com", {}).allowed
