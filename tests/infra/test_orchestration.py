"""Runs start when the data lands: S3 -> EventBridge -> the Glue workflow's EVENT trigger.

AWS evaluates the event pattern and the roles, so both are checked by real engines: moto's
EventBridge delivers S3 "Object Created" events through the rendered rule, and the IAM
evaluator decides EventBridge's AssumeRole and glue:NotifyEvent against the rendered policies
("Starting an AWS Glue workflow with an Amazon EventBridge event",
https://docs.aws.amazon.com/glue/latest/dg/starting-workflow-eventbridge.html).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from spotify_glue import contract
from spotify_glue.layout import STAGING_PREFIX

from infra import orchestration
from tests.infra.harness import ACCOUNT_ID, DEFAULT_REGION, ProgramRun, RecordedResource
from tests.infra.iam_model import Request
from tests.infra.iam_simulator import evaluate

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
TRIGGER = "aws:glue/trigger:Trigger"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def one(run: ProgramRun, type_token: str) -> RecordedResource:
    found = run.of_type(type_token)
    assert len(found) == 1, [r.urn for r in found]
    return found[0]


def workflow_arn(run: ProgramRun) -> str:
    return f"arn:aws:glue:{DEFAULT_REGION}:{ACCOUNT_ID}:workflow/{run.outputs['workflow_name']}"


def events_role(run: ProgramRun) -> RecordedResource:
    (role,) = [
        r for r in run.of_type(ROLE) if "events.amazonaws.com" in r.inputs["assumeRolePolicy"]
    ]
    return role


def test_prod_sends_staging_events_to_eventbridge(prod_run):
    """The staging bucket (and only it) sends its object events to EventBridge."""
    notification = one(prod_run, NOTIFICATION)
    assert notification.inputs["bucket"] == prod_run.outputs["staging_bucket"]
    assert notification.inputs["eventbridge"] is True


def test_the_event_trigger_waits_for_every_source_file(prod_run):
    """The start trigger is EVENT, batching one event per source file within Glue's maximum
    window of 900 s (CreateTrigger EventBatchingCondition)."""
    (start,) = [t for t in prod_run.of_type(TRIGGER) if t.inputs["type"] == "EVENT"]
    assert start.inputs["eventBatchingConditions"] == [
        {"batchSize": len(contract.JOB_SOURCES), "batchWindow": 900}
    ]
    assert start.inputs["actions"] == [{"jobName": prod_run.outputs["glue_job_name"]}]


def test_the_rule_targets_the_workflow_with_eventbridges_role(prod_run):
    """The rule's one target is the workflow, reached with the role only EventBridge assumes."""
    rule, target = one(prod_run, RULE), one(prod_run, TARGET)
    assert target.inputs["rule"] == rule.inputs["name"]
    assert target.inputs["arn"] == workflow_arn(prod_run)
    assert target.inputs["roleArn"] == prod_run.states[events_role(prod_run).urn]["arn"]


@pytest.mark.parametrize("fixture", ["dev_run", "review_run"])
def test_stacks_without_on_arrival_have_no_event_plumbing(fixture, request):
    """dev and review stacks start on demand: no notification, rule, target or events role."""
    run: ProgramRun = request.getfixturevalue(fixture)
    for type_token in (NOTIFICATION, RULE, TARGET):
        assert run.of_type(type_token) == []
    assert all(
        "events.amazonaws.com" not in r.inputs["assumeRolePolicy"] for r in run.of_type(ROLE)
    )


# --- the event pattern, matched by moto's EventBridge -----------------------------------------


def s3_object_created(bucket: str, key: str, detail_type: str = "Object Created") -> dict[str, Any]:
    """An S3 event as EventBridge receives it
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    return {
        "Source": "aws.s3",
        "DetailType": detail_type,
        "Resources": [f"arn:aws:s3:::{bucket}"],
        "Detail": json.dumps(
            {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {"key": key, "size": 1024, "etag": "d41d8cd98f00b204e9800998ecf8427e"},
                "request-id": "57H08PA84AB1JZW0",
                "requester": ACCOUNT_ID,
                "reason": "PutObject",
            }
        ),
    }


@pytest.fixture
def delivered(prod_run, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function sending events through the rendered rule in moto; it returns how many the
    rule delivered to a probe queue."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    rule = one(prod_run, RULE)
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        queue = sqs.create_queue(QueueName="probe")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        events.put_rule(Name=rule.inputs["name"], EventPattern=rule.inputs["eventPattern"])
        events.put_targets(
            Rule=rule.inputs["name"],
            Targets=[{"Id": "probe", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )

        def send(*entries: dict[str, Any]) -> int:
            events.put_events(Entries=list(entries))
            received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            return len(received.get("Messages", []))

        yield send


def test_each_source_file_landing_in_staging_matches(prod_run, delivered):
    """An "Object Created" event for each of the job's source files in the staging bucket is
    delivered to the workflow."""
    bucket = prod_run.outputs["staging_bucket"]
    keys = orchestration.arrival_keys()
    assert len(keys) == len(contract.JOB_SOURCES)
    assert delivered(*(s3_object_created(bucket, key) for key in keys)) == len(keys)


@pytest.mark.parametrize(
    "case",
    ["other key in staging", "source file elsewhere", "other bucket", "deleted"],
)
def test_events_that_are_not_a_source_arrival_do_not_match(prod_run, delivered, case):
    """Other keys, the same file name outside the staging folder, another bucket and deletes
    do not start a run."""
    bucket = prod_run.outputs["staging_bucket"]
    file_name = contract.JOB_SOURCES[0].file_name
    event = {
        "other key in staging": s3_object_created(bucket, f"{STAGING_PREFIX}notes.txt"),
        "source file elsewhere": s3_object_created(bucket, f"archive/{file_name}"),
        "other bucket": s3_object_created("someone-else", f"{STAGING_PREFIX}{file_name}"),
        "deleted": s3_object_created(bucket, f"{STAGING_PREFIX}{file_name}", "Object Deleted"),
    }[case]
    assert delivered(event) == 0


# --- EventBridge's role, decided by the IAM evaluator ------------------------------------------


def test_eventbridge_may_assume_its_role_and_notify_only_this_workflow(prod_run):
    """events.amazonaws.com assumes the role (no undocumented condition) and the role allows
    glue:NotifyEvent on this workflow, not on another one, and nothing else."""
    role = events_role(prod_run)
    role_arn = prod_run.states[role.urn]["arn"]
    (policy,) = [
        json.loads(p.inputs["policy"])
        for p in prod_run.of_type(ROLE_POLICY)
        if p.inputs["role"] == prod_run.states[role.urn]["id"]
    ]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    other = workflow_arn(prod_run).replace("spotify-prod", "spotify-dev")
    assume = Request("events", "sts:AssumeRole", role_arn, {}, "EventBridge assumes the role")
    (assumed,) = evaluate([assume], {}, {role_arn: trust}, {"events": "events.amazonaws.com"})
    assert assumed.allowed
    decisions = evaluate(
        [
            Request("events", "glue:NotifyEvent", workflow_arn(prod_run), {}, "start the run"),
            Request("events", "glue:NotifyEvent", other, {}, "another stack's workflow"),
            Request("events", "glue:StartWorkflowRun", workflow_arn(prod_run), {}, "not needed"),
        ],
        {"events": policy},
    )
    assert [d.result for d in decisions] == ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]
