"""The create requests the provider sends for the program's Glue, EventBridge, S3 and Athena
resources fit the AWS API models botocore ships: required members, types, ranges (min and
max) and enum values, checked on the inputs the program declares under mocks, mapped from
Pulumi's camelCase to the API's members."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.validate import ParamValidator

from infra.config import MIN_BYTES_SCANNED_CUTOFF
from tests.infra.harness import ProgramRun, run_stack

SESSION = botocore.session.get_session()


def bounds_problems(value: Any, shape: Shape, path: str) -> list[str]:
    """Max values and lengths, and enums: what ParamValidator leaves to the service."""
    problems = []
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                problems += bounds_problems(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            problems += bounds_problems(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += bounds_problems(key, shape.key, f"{path} key")
            problems += bounds_problems(item, shape.value, f"{path}[{key}]")
    elif shape.type_name in ("integer", "long") and "max" in meta and value > meta["max"]:
        problems.append(f"{path}={value} > max {meta['max']}")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path} longer than {meta['max']}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}={value!r} not in {shape.enum}")
    return problems


def problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    shape = SESSION.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    found = [report.generate_report()] if report.has_errors() else []
    return found + bounds_problems(params, shape, operation)


def prune(value: Any) -> Any:
    """Drop unset members, as the provider does before calling the API; the wire format carries
    every number as a float, which the provider sends as the integer the schema declares."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: prune(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def create_job(job: dict[str, Any]) -> Any:
    command = job["command"]
    return prune(
        {
            "Name": job["name"],
            "Description": job.get("description"),
            "Role": job["roleArn"],
            "Command": {
                "Name": command["name"],
                "ScriptLocation": command["scriptLocation"],
                "PythonVersion": command.get("pythonVersion"),
            },
            "DefaultArguments": job.get("defaultArguments"),
            "GlueVersion": job["glueVersion"],
            "WorkerType": job["workerType"],
            "NumberOfWorkers": job["numberOfWorkers"],
            "Timeout": job["timeout"],
            "MaxRetries": job["maxRetries"],
            "ExecutionClass": job["executionClass"],
            "ExecutionProperty": {
                "MaxConcurrentRuns": job["executionProperty"]["maxConcurrentRuns"]
            },
            "SecurityConfiguration": job["securityConfiguration"],
            "Tags": job.get("tags"),
        }
    )


def create_trigger(trigger: dict[str, Any]) -> Any:
    predicate = trigger.get("predicate")
    return prune(
        {
            "Name": trigger["name"],
            "WorkflowName": trigger.get("workflowName"),
            "Type": trigger["type"],
            "Schedule": trigger.get("schedule"),
            "StartOnCreation": trigger.get("startOnCreation"),
            "Actions": [
                {"JobName": a.get("jobName"), "CrawlerName": a.get("crawlerName")}
                for a in trigger["actions"]
            ],
            "Predicate": None
            if predicate is None
            else {
                "Conditions": [
                    {
                        "JobName": c.get("jobName"),
                        "State": c.get("state"),
                        "LogicalOperator": c.get("logicalOperator"),
                    }
                    for c in predicate["conditions"]
                ]
            },
            "EventBatchingCondition": next(
                (
                    {"BatchSize": c["batchSize"], "BatchWindow": c.get("batchWindow")}
                    for c in trigger.get("eventBatchingConditions") or []
                ),
                None,
            ),
        }
    )


_LIFECYCLE_KEYS = {
    "id": "ID",
    "status": "Status",
    "filter": "Filter",
    "prefix": "Prefix",
    "expiration": "Expiration",
    "days": "Days",
    "noncurrentVersionExpiration": "NoncurrentVersionExpiration",
    "noncurrentDays": "NoncurrentDays",
    "abortIncompleteMultipartUpload": "AbortIncompleteMultipartUpload",
    "daysAfterInitiation": "DaysAfterInitiation",
}
"""The provider's lifecycle rule inputs -> S3's LifecycleRule members (an unknown input keeps
its name, which the model then refuses)."""


def lifecycle_rules(value: Any) -> Any:
    if isinstance(value, dict):
        return {_LIFECYCLE_KEYS.get(k, k): lifecycle_rules(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lifecycle_rules(item) for item in value]
    return value


def create_work_group(workgroup: dict[str, Any]) -> Any:
    config = workgroup["configuration"]
    results = config["resultConfiguration"]
    encryption = results["encryptionConfiguration"]
    return prune(
        {
            "Name": workgroup["name"],
            "Description": workgroup.get("description"),
            "Configuration": {
                "ResultConfiguration": {
                    "OutputLocation": results["outputLocation"],
                    "EncryptionConfiguration": {
                        "EncryptionOption": encryption["encryptionOption"],
                        "KmsKey": encryption.get("kmsKeyArn"),
                    },
                },
                "EnforceWorkGroupConfiguration": config["enforceWorkgroupConfiguration"],
                "PublishCloudWatchMetricsEnabled": config["publishCloudwatchMetricsEnabled"],
                "BytesScannedCutoffPerQuery": config["bytesScannedCutoffPerQuery"],
                "EngineVersion": {
                    "SelectedEngineVersion": config["engineVersion"]["selectedEngineVersion"]
                },
            },
            "Tags": [{"Key": k, "Value": v} for k, v in (workgroup.get("tags") or {}).items()],
        }
    )


def requests(run: ProgramRun) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(urn, service, operation, params) of each create request of the checked types."""
    mapping = {
        "aws:glue/job:Job": ("glue", "CreateJob", create_job),
        "aws:glue/trigger:Trigger": ("glue", "CreateTrigger", create_trigger),
        "aws:glue/workflow:Workflow": (
            "glue",
            "CreateWorkflow",
            lambda w: prune(
                {
                    "Name": w["name"],
                    "Description": w.get("description"),
                    "MaxConcurrentRuns": w.get("maxConcurrentRuns"),
                    "Tags": w.get("tags"),
                }
            ),
        ),
        "aws:athena/workgroup:Workgroup": ("athena", "CreateWorkGroup", create_work_group),
        "aws:athena/namedQuery:NamedQuery": (
            "athena",
            "CreateNamedQuery",
            lambda q: prune(
                {
                    "Name": q["name"],
                    "Description": q.get("description"),
                    "Database": q["database"],
                    "QueryString": q["query"],
                    "WorkGroup": q["workgroup"],
                }
            ),
        ),
        "aws:cloudwatch/eventRule:EventRule": (
            "events",
            "PutRule",
            lambda r: prune(
                {
                    "Name": r["name"],
                    "EventPattern": r["eventPattern"],
                    "Description": r.get("description"),
                }
            ),
        ),
        "aws:cloudwatch/eventTarget:EventTarget": (
            "events",
            "PutTargets",
            lambda t: {
                "Rule": t["rule"],
                "Targets": [{"Id": "workflow", "Arn": t["arn"], "RoleArn": t["roleArn"]}],
            },
        ),
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
            "s3",
            "PutBucketLifecycleConfiguration",
            lambda c: {
                "Bucket": c["bucket"],
                "LifecycleConfiguration": {"Rules": lifecycle_rules(prune(c["rules"]))},
            },
        ),
        "aws:s3/bucketNotification:BucketNotification": (
            "s3",
            "PutBucketNotificationConfiguration",
            lambda n: {
                "Bucket": n["bucket"],
                "NotificationConfiguration": {"EventBridgeConfiguration": {}},
            },
        ),
    }
    found = []
    for record in run.resources:
        if record.type in mapping:
            service, operation, build = mapping[record.type]
            found.append((record.urn, service, operation, build(record.inputs)))
    return found


SHAPES = {
    "dev (on demand)": ("dev", {}),
    "prod (on arrival)": ("prod", {}),
    "scheduled, FLEX": (
        "dev",
        {"schedule": "cron(0/5 8-17 ? * MON-FRI *)", "flexExecution": "true"},
    ),
    "largest G.1X": ("dev", {"workerType": "G.1X", "numberOfWorkers": "299"}),
    "smallest Athena cutoff": ("dev", {"athenaBytesScannedCutoff": str(MIN_BYTES_SCANNED_CUTOFF)}),
}


@pytest.fixture(scope="module", params=list(SHAPES))
def shape_run(request: pytest.FixtureRequest) -> ProgramRun:
    stack, config = SHAPES[request.param]
    return run_stack(stack, config)


def test_create_requests_fit_the_aws_api_models(shape_run: ProgramRun):
    """CreateJob, CreateWorkflow, CreateTrigger, PutRule, PutTargets,
    PutBucketLifecycleConfiguration, PutBucketNotificationConfiguration, CreateWorkGroup and
    CreateNamedQuery, as the program declares them, pass botocore's models."""
    found = requests(shape_run)
    assert {operation for _, _, operation, _ in found} >= {
        "CreateWorkGroup",
        "CreateNamedQuery",
        "CreateJob",
        "CreateWorkflow",
        "CreateTrigger",
        "PutBucketLifecycleConfiguration",
    }
    failures = {
        urn: report
        for urn, service, operation, params in found
        if (report := problems(service, operation, params))
    }
    assert not failures, failures


def test_the_config_refuses_exactly_the_cutoffs_athena_refuses():
    """The stack config's least bytes-scanned cutoff is the Athena model's own minimum
    (``BytesScannedCutoffValue``), so the config neither lets through a value CreateWorkGroup
    refuses nor refuses one it takes."""
    shape = SESSION.get_service_model("athena").shape_for("BytesScannedCutoffValue")
    assert shape.metadata["min"] == MIN_BYTES_SCANNED_CUTOFF


def test_the_shape_check_catches_what_the_api_refuses():
    """The check fails on a batch window over Glue's 900 s, an unknown worker type and a
    missing required member."""
    trigger = {
        "name": "t",
        "type": "EVENT",
        "actions": [{"jobName": "j"}],
        "eventBatchingConditions": [{"batchSize": 4, "batchWindow": 901}],
    }
    assert problems("glue", "CreateTrigger", create_trigger(trigger))
    assert problems(
        "glue", "CreateJob", {"Name": "j", "Role": "r", "Command": {}, "WorkerType": "G.3X"}
    )
    assert problems("glue", "CreateTrigger", {"Name": "t", "Type": "EVENT"})


def test_lifecycle_rules_keep_the_limits_s3_documents(shape_run: ProgramRun):
    """What the model leaves to S3: each rule's ID is unique in its configuration and at most
    255 characters (API_LifecycleRule), and every day count is a non-zero positive integer
    (API_LifecycleExpiration, API_NoncurrentVersionExpiration,
    API_AbortIncompleteMultipartUpload in the Amazon S3 API Reference)."""
    day_counts = {
        "Expiration": "Days",
        "NoncurrentVersionExpiration": "NoncurrentDays",
        "AbortIncompleteMultipartUpload": "DaysAfterInitiation",
    }
    configurations = [
        params["LifecycleConfiguration"]["Rules"]
        for _, _, operation, params in requests(shape_run)
        if operation == "PutBucketLifecycleConfiguration"
    ]
    assert configurations
    for rules in configurations:
        ids = [rule["ID"] for rule in rules]
        assert len(ids) == len(set(ids)), ids
        assert all(len(i) <= 255 for i in ids), ids
        for rule in rules:
            for action, days in day_counts.items():
                if action in rule:
                    value = rule[action][days]
                    assert isinstance(value, int), (rule["ID"], action, value)
                    assert value >= 1, (rule["ID"], action, value)
