"""The CI roles documented in docs/stack-management.md are valid, trusted by exactly the jobs
that use them, and scoped to the stacks they serve.

AWS evaluates these policies; mocks never do. So the checks encode AWS's rules:
- parliament lints each document against its copy of the Service Authorization Reference
  (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html);
- each resource the program declares under mocks is matched to the action and ARN that IAM
  authorizes for it (the table below), and each role must allow, or must not allow, those
  requests. The evaluation follows IAM's wildcard rules for Action (case-insensitive) and
  Resource (case-sensitive, `*` spans `/` and `:`). Conditions are not evaluated: a
  conditional Allow counts as an Allow, which is conservative for "must not allow" checks;
- the trust subjects follow GitHub's rule that a job naming an environment sends
  `repo:<owner>/<repo>:environment:<name>`
  (https://docs.github.com/en/actions/reference/security/oidc#example-subject-claims).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
from parliament import analyze_policy_string, expand_action, iam_definition

from tests.infra.harness import ACCOUNT_ID, DEFAULT_REGION, ProgramRun, RecordedResource, run_stack
from tests.policy.test_workflows import (
    AWS_CREDENTIALS_ACTION,
    ROLE_VARIABLE,
    environment_of,
    jobs,
    steps_using,
)

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DOC: Final = REPO_ROOT / "docs" / "stack-management.md"
REPOSITORY: Final = "octo-org/spotify-pipeline"
"""The placeholder repository the documented trust policies name."""
OIDC_PROVIDER: Final = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
ROLE_OF_VARIABLE: Final = {
    "AWS_PREVIEW_ROLE_ARN": "preview",
    "AWS_REVIEW_ROLE_ARN": "review",
    "AWS_DEPLOY_ROLE_ARN": "deploy",
}
_BLOCK_RE: Final = re.compile(r"<!-- policy: ([a-z-]+) -->\n```json\n(.*?)\n```", re.DOTALL)

# parliament findings accepted per document kind, each with its reason. Anything else fails.
ACCEPTED_FINDINGS: Final[dict[str, dict[str, str]]] = {
    "trust": {
        "MALFORMED": "a trust policy has no Resource element by definition; parliament reads "
        "every document as an identity policy",
        "UNKNOWN_FEDERATION_SOURCE": "parliament knows only the built-in web identity "
        "providers (Cognito, Amazon, Google, Facebook); GitHub's is an IAM OIDC provider of "
        "the account (step 2 of the doc)",
    },
    "permissions": {
        "PERMISSIONS_MANAGEMENT_ACTIONS": "the program creates IAM roles and bucket policies, "
        "so the review and deploy roles manage them, only under the stack's name prefix",
    },
}
# The reference lists a workgroup, a data catalog and a capacity reservation as alternative
# resources of Athena's tagging actions; parliament wants a grant on every one of them.
ALTERNATIVE_RESOURCES: Final = frozenset(
    {"arn:*:athena:*:*:capacity-reservation/*", "arn:*:athena:*:*:datacatalog/*"}
)
# parliament 1.6.4's database predates kms:ResourceAliases, which AWS documents at
# https://docs.aws.amazon.com/kms/latest/developerguide/alias-authorization.html
NEWER_CONDITION_KEYS: Final = frozenset({"kms:ResourceAliases"})


@cache
def documented_policies() -> dict[str, dict[str, Any]]:
    text = DOC.read_text(encoding="utf-8")
    return {name: json.loads(body) for name, body in _BLOCK_RE.findall(text)}


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow (and no Deny) statement matches the request, by IAM's wildcards."""

    def matches(statement: dict[str, Any]) -> bool:
        return any(
            fnmatchcase(action.lower(), pattern.lower()) for pattern in as_list(statement["Action"])
        ) and any(fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"]))

    found = [s for s in statements(policy) if matches(s)]
    return any(s["Effect"] == "Allow" for s in found) and not any(
        s["Effect"] == "Deny" for s in found
    )


def unexpected_findings(kind: str, policy: dict[str, Any]) -> list[str]:
    analyzed = analyze_policy_string(json.dumps(policy), include_community_auditors=True)
    problems = []
    for finding in analyzed.findings:
        if finding.issue in ACCEPTED_FINDINGS[kind]:
            continue
        if finding.issue == "RESOURCE_MISMATCH" and all(
            item["required_format"] in ALTERNATIVE_RESOURCES for item in finding.detail
        ):
            continue
        if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION" and any(
            key in str(finding.detail) for key in NEWER_CONDITION_KEYS
        ):
            continue
        problems.append(f"{finding.issue}: {finding.detail}")
    return problems


def test_the_doc_has_a_trust_and_a_permissions_policy_per_role():
    """Each of the three roles has both documents, and nothing else is documented."""
    assert sorted(documented_policies()) == sorted(
        f"{role}-{kind}"
        for role in ("preview", "review", "deploy")
        for kind in ("trust", "permissions")
    )


@pytest.mark.parametrize("name", sorted(documented_policies()))
def test_documented_policy_is_clean_under_parliament(name: str):
    """Each copyable policy has no parliament finding beyond the accepted ones."""
    kind = name.rsplit("-", 1)[1]
    assert unexpected_findings(kind, documented_policies()[name]) == []


@pytest.mark.parametrize(
    "statement",
    [
        # CreateCrawler has no resource-level permission: AWS refuses it on a crawler ARN.
        {"Action": "glue:CreateCrawler", "Resource": "arn:aws:glue:*:*:crawler/spotify-pr-*"},
        {"Action": "s3:DeleteBucketOwnershipControls", "Resource": "arn:aws:s3:::spotify-pr-*"},
        {"Action": "s3:PutObject", "Resource": "*"},
    ],
)
def test_parliament_check_catches_what_aws_would_refuse(statement: dict[str, str]):
    """The same check fails on a grant AWS would not honour: an action with no resource-level
    permission scoped to an ARN, an action that does not exist, a write on every resource."""
    policy = copy.deepcopy(documented_policies()["review-permissions"])
    policy["Statement"].append({"Effect": "Allow", **statement})
    assert unexpected_findings("permissions", policy)


# --- Trust --------------------------------------------------------------------------------


def environments_assuming() -> dict[str, set[str]]:
    """Per documented role, the GitHub environments whose jobs assume it."""
    found: dict[str, set[str]] = {}
    for _, _, job in jobs():
        for step in steps_using(job, AWS_CREDENTIALS_ACTION):
            variable = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", step["with"]["role-to-assume"])
            assert variable is not None
            role = ROLE_OF_VARIABLE[variable.group(1)]
            found.setdefault(role, set()).add(str(environment_of(job)))
    return found


def test_roles_are_those_the_environments_use():
    """The workflows' environment-to-role table and the documented roles agree."""
    assert environments_assuming() == {
        role: {e for e, v in ROLE_VARIABLE.items() if ROLE_OF_VARIABLE[v] == role}
        for role in ("preview", "review", "deploy")
    }


@pytest.mark.parametrize("role", ["preview", "review", "deploy"])
def test_each_role_trusts_exactly_the_environment_subjects_of_its_jobs(role: str):
    """A role is assumable only through the OIDC provider, for audience sts.amazonaws.com,
    by the jobs of the environments that use it: no wildcard, no `pull_request` subject
    (a job with an environment never sends it), no branch subject."""
    (statement,) = statements(documented_policies()[f"{role}-trust"])
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER}
    assert list(statement["Condition"]) == ["StringEquals"]
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = set(as_list(condition["token.actions.githubusercontent.com:sub"]))
    assert subjects == {
        f"repo:{REPOSITORY}:environment:{environment}"
        for environment in environments_assuming()[role]
    }


# --- Permissions against the program's resources -------------------------------------------

Arns = Callable[[RecordedResource, ProgramRun], list[str]]


@dataclass(frozen=True)
class Authorization:
    """What IAM authorizes for one resource type: the ARNs checked and the actions needed to
    read it (refresh) and to create, change or delete it (up, destroy)."""

    arns: Arns
    read: tuple[str, ...]
    write: tuple[str, ...]


def _own_arn(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [str(run.states[resource.urn]["arn"])]


def _bucket_arn(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [f"arn:aws:s3:::{resource.inputs['bucket']}"]


def _object_arn(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [f"arn:aws:s3:::{resource.inputs['bucket']}/{resource.inputs['key']}"]


def _role_of_policy(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [f"arn:aws:iam::{ACCOUNT_ID}:role/{resource.inputs['role']}"]


def _catalog(run: ProgramRun) -> str:
    return f"arn:aws:glue:{DEFAULT_REGION}:{ACCOUNT_ID}:catalog"


def _database_arns(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [_catalog(run), *_own_arn(resource, run)]


def _table_arns(resource: RecordedResource, run: ProgramRun) -> list[str]:
    database = resource.inputs["databaseName"]
    base = f"arn:aws:glue:{DEFAULT_REGION}:{ACCOUNT_ID}"
    return [_catalog(run), f"{base}:database/{database}", *_own_arn(resource, run)]


def _workgroup_of_query(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [
        f"arn:aws:athena:{DEFAULT_REGION}:{ACCOUNT_ID}:workgroup/{resource.inputs['workgroup']}"
    ]


def _alias_arns(resource: RecordedResource, run: ProgramRun) -> list[str]:
    # kms:CreateAlias is authorized on the alias and on its key (AWS KMS: controlling access
    # to aliases, https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html).
    key = f"arn:aws:kms:{DEFAULT_REGION}:{ACCOUNT_ID}:key/{resource.inputs['targetKeyId']}"
    return [f"arn:aws:kms:{DEFAULT_REGION}:{ACCOUNT_ID}:{resource.inputs['name']}", key]


def _refresh_schedule_arn(resource: RecordedResource, run: ProgramRun) -> list[str]:
    data_set, schedule = resource.inputs["dataSetId"], resource.inputs["scheduleId"]
    base = f"arn:aws:quicksight:{DEFAULT_REGION}:{ACCOUNT_ID}"
    return [f"{base}:dataset/{data_set}/refresh-schedule/{schedule}"]


def _rule_of_target(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return [f"arn:aws:events:{DEFAULT_REGION}:{ACCOUNT_ID}:rule/{resource.inputs['rule']}"]


def _no_arn(resource: RecordedResource, run: ProgramRun) -> list[str]:
    return ["*"]


S3_BUCKET_SETTING: Final = {
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:GetBucketPolicy", "s3:PutBucketPolicy"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    "aws:s3/bucketNotification:BucketNotification": (
        "s3:GetBucketNotification",
        "s3:PutBucketNotification",
    ),
}

# The request IAM authorizes per resource type (Service Authorization Reference pages for
# Amazon S3, AWS Glue, IAM, Amazon Athena, AWS KMS and Amazon QuickSight). A resource type the
# program declares that is missing here fails test_every_declared_type_is_authorized.
AUTHORIZATION: Final[dict[str, Authorization]] = {
    "aws:s3/bucket:Bucket": Authorization(
        _own_arn,
        ("s3:ListBucket", "s3:GetBucketTagging", "s3:GetBucketAcl"),
        ("s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:ListBucketVersions"),
    ),
    **{
        type_: Authorization(_bucket_arn, (read,), (write,))
        for type_, (read, write) in S3_BUCKET_SETTING.items()
    },
    "aws:s3/bucketObjectv2:BucketObjectv2": Authorization(
        _object_arn,
        ("s3:GetObject", "s3:GetObjectTagging"),
        ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ),
    "aws:iam/role:Role": Authorization(
        _own_arn,
        ("iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"),
        ("iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole"),
    ),
    "aws:iam/rolePolicy:RolePolicy": Authorization(
        _role_of_policy, ("iam:GetRolePolicy",), ("iam:PutRolePolicy", "iam:DeleteRolePolicy")
    ),
    "aws:glue/job:Job": Authorization(
        _own_arn,
        ("glue:GetJob", "glue:GetTags"),
        ("glue:CreateJob", "glue:UpdateJob", "glue:DeleteJob", "glue:StartJobRun"),
    ),
    "aws:glue/crawler:Crawler": Authorization(
        _own_arn,
        ("glue:GetCrawler", "glue:GetTags"),
        ("glue:UpdateCrawler", "glue:DeleteCrawler", "glue:StartCrawler"),
    ),
    "aws:glue/workflow:Workflow": Authorization(
        _own_arn,
        ("glue:GetWorkflow", "glue:GetTags"),
        ("glue:CreateWorkflow", "glue:DeleteWorkflow", "glue:StartWorkflowRun"),
    ),
    "aws:glue/trigger:Trigger": Authorization(
        _own_arn,
        ("glue:GetTrigger", "glue:GetTags"),
        ("glue:CreateTrigger", "glue:UpdateTrigger", "glue:DeleteTrigger"),
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": Authorization(
        _database_arns,
        ("glue:GetDatabase",),
        ("glue:CreateDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase"),
    ),
    "aws:glue/catalogTable:CatalogTable": Authorization(
        _table_arns,
        ("glue:GetTable",),
        ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"),
    ),
    "aws:glue/securityConfiguration:SecurityConfiguration": Authorization(
        _no_arn,
        ("glue:GetSecurityConfiguration",),
        ("glue:CreateSecurityConfiguration", "glue:DeleteSecurityConfiguration"),
    ),
    "aws:athena/workgroup:Workgroup": Authorization(
        _own_arn,
        ("athena:GetWorkGroup",),
        ("athena:CreateWorkGroup", "athena:UpdateWorkGroup", "athena:DeleteWorkGroup"),
    ),
    "aws:athena/namedQuery:NamedQuery": Authorization(
        _workgroup_of_query,
        ("athena:GetNamedQuery",),
        ("athena:CreateNamedQuery", "athena:DeleteNamedQuery"),
    ),
    "aws:kms/key:Key": Authorization(
        _own_arn,
        ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"),
        ("kms:PutKeyPolicy", "kms:EnableKeyRotation"),
    ),
    "aws:kms/alias:Alias": Authorization(_alias_arns, (), ("kms:CreateAlias", "kms:DeleteAlias")),
    "aws:cloudwatch/eventRule:EventRule": Authorization(
        _own_arn,
        ("events:DescribeRule", "events:ListTagsForResource"),
        ("events:PutRule", "events:DeleteRule", "events:TagResource"),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": Authorization(
        _rule_of_target,
        ("events:ListTargetsByRule",),
        ("events:PutTargets", "events:RemoveTargets"),
    ),
    "aws:quicksight/dataSource:DataSource": Authorization(
        _own_arn,
        ("quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions"),
        ("quicksight:UpdateDataSource", "quicksight:DeleteDataSource"),
    ),
    "aws:quicksight/dataSet:DataSet": Authorization(
        _own_arn,
        (
            "quicksight:DescribeDataSet",
            "quicksight:DescribeDataSetPermissions",
            "quicksight:DescribeDataSetRefreshProperties",
        ),
        ("quicksight:UpdateDataSet", "quicksight:DeleteDataSet", "quicksight:PassDataSet"),
    ),
    "aws:quicksight/refreshSchedule:RefreshSchedule": Authorization(
        _refresh_schedule_arn,
        ("quicksight:DescribeRefreshSchedule",),
        ("quicksight:CreateRefreshSchedule", "quicksight:DeleteRefreshSchedule"),
    ),
    # Deployed through Cloud Control, which also checks the caller's quicksight: actions.
    "aws-native:quicksight:Dashboard": Authorization(
        _own_arn,
        (
            "cloudformation:GetResource",
            "quicksight:DescribeDashboard",
            "quicksight:DescribeDashboardPermissions",
        ),
        (
            "cloudformation:CreateResource",
            "cloudformation:UpdateResource",
            "cloudformation:DeleteResource",
            "quicksight:CreateDashboard",
            "quicksight:UpdateDashboard",
            "quicksight:UpdateDashboardPublishedVersion",
            "quicksight:DeleteDashboard",
        ),
    ),
}
CREATE_WITHOUT_ARN: Final = {
    "aws:glue/crawler:Crawler": "glue:CreateCrawler",
    "aws:kms/key:Key": "kms:CreateKey",
    "aws:quicksight/dataSource:DataSource": "quicksight:CreateDataSource",
}
"""Create actions with no resource-level permission: granted on "*" (checked separately)."""
QUICKSIGHT_ON: Final = {
    "customerManagedKey": "true",
    "quicksightEnabled": "true",
    "quicksightPrincipals": json.dumps(
        ["arn:aws:quicksight:eu-west-1:123456789012:group/default/analysts"]
    ),
}


@cache
def program_run(shape: str) -> ProgramRun:
    if shape == "dev+cmk+quicksight":
        return run_stack("dev", QUICKSIGHT_ON)
    if shape == "prod+quicksight":  # scheduled, so SPICE gets a refresh schedule
        return run_stack("prod", QUICKSIGHT_ON)
    return run_stack(shape)


def requests(shape: str, access: str) -> list[tuple[str, str, str]]:
    """(resource urn, action, ARN) of every read or write request on the program's resources."""
    found = []
    for resource in program_run(shape).resources:
        authorization = AUTHORIZATION.get(resource.type)
        if authorization is None:
            continue
        for arn in authorization.arns(resource, program_run(shape)):
            for action in getattr(authorization, access):
                found.append((resource.urn, action, arn))
    return found


def refused(role: str, shape: str, access: str) -> list[str]:
    policy = documented_policies()[f"{role}-permissions"]
    return [
        f"{action} on {arn} ({urn})"
        for urn, action, arn in requests(shape, access)
        if not allows(policy, action, arn)
    ]


def stack_specific(arn: str) -> bool:
    """ARNs of one stack's resources: not "*" and not the account's one Glue catalog, which
    every stack's catalog grants must name beside their own database."""
    return arn != "*" and not arn.endswith(":catalog")


def granted(role: str, shape: str, access: str, policy: dict[str, Any] | None = None) -> list[str]:
    policy = policy or documented_policies()[f"{role}-permissions"]
    return [
        f"{action} on {arn} ({urn})"
        for urn, action, arn in requests(shape, access)
        if stack_specific(arn) and allows(policy, action, arn)
    ]


SHAPES: Final = ("dev", "prod", "pr-123", "dev+cmk+quicksight")


@pytest.mark.parametrize("shape", SHAPES)
def test_every_declared_type_is_authorized(shape: str):
    """Each AWS resource type the program declares has its IAM request in the table, so a new
    type cannot slip past the CI roles."""
    declared = {
        r.type for r in program_run(shape).resources if r.type.startswith(("aws:", "aws-native:"))
    }
    assert sorted(declared - set(AUTHORIZATION)) == []


@pytest.mark.parametrize(
    ("role", "shape"),
    [
        ("review", "pr-123"),
        ("deploy", "dev"),
        ("deploy", "prod"),
        ("deploy", "dev+cmk+quicksight"),
        ("deploy", "prod+quicksight"),
    ],
)
def test_role_can_read_and_change_every_resource_of_its_stacks(role: str, shape: str):
    """The review role covers a review stack, the deploy role dev and prod (with a key and
    QuickSight too), for refresh, create, update and delete."""
    assert refused(role, shape, "read") == []
    assert refused(role, shape, "write") == []


@pytest.mark.parametrize(
    ("role", "shape"), [("review", "pr-123"), ("deploy", "dev+cmk+quicksight")]
)
def test_creates_without_resource_level_permission_are_granted_on_star(role: str, shape: str):
    """Creates that AWS authorizes on no ARN are granted on "*", or AWS refuses them."""
    policy = documented_policies()[f"{role}-permissions"]
    declared = {r.type for r in program_run(shape).resources}
    for type_, action in CREATE_WITHOUT_ARN.items():
        if type_ in declared:
            assert allows(policy, action, "*"), action


@pytest.mark.parametrize("shape", ["dev", "prod", "dev+cmk+quicksight", "prod+quicksight"])
def test_preview_role_reads_every_resource_of_dev_and_prod_and_changes_none(shape: str):
    """The preview role can refresh every dev and prod resource and may not write any."""
    assert refused("preview", shape, "read") == []
    assert granted("preview", shape, "write") == []


@pytest.mark.parametrize("shape", ["dev", "prod", "dev+cmk+quicksight"])
def test_review_role_cannot_touch_dev_or_prod(shape: str):
    """No request of the review role on a dev or prod resource is allowed: a pull request
    cannot change or even read them through it (actions with no ARN aside, see the doc)."""
    assert granted("review", shape, "write") == []
    assert granted("review", shape, "read") == []


def test_deploy_role_cannot_touch_review_stacks():
    """The deploy role's patterns do not reach review stacks either."""
    assert granted("deploy", "pr-123", "write") == []


def test_isolation_check_catches_a_role_that_reaches_prod():
    """The isolation check fails when the review role's bucket grant is widened to prod."""
    widened = copy.deepcopy(documented_policies()["review-permissions"])
    for statement in statements(widened):
        if "s3:CreateBucket" in as_list(statement["Action"]):
            statement["Resource"] = [*as_list(statement["Resource"]), "arn:aws:s3:::spotify-prod-*"]
    leaked = granted("review", "prod", "write", widened)
    assert leaked
    assert all(item.startswith("s3:") for item in leaked)


def _access_levels() -> dict[str, str]:
    return {
        f"{service['prefix']}:{privilege['privilege']}".lower(): privilege["access_level"]
        for service in iam_definition
        for privilege in service["privileges"]
    }


def test_preview_role_is_read_only():
    """Every action the preview role has, wildcards expanded, is a List or Read action in
    the Service Authorization Reference (QuickSight classes describing a data source's
    permissions as permissions management; it still only describes)."""
    levels = _access_levels()
    writes = []
    for statement in statements(documented_policies()["preview-permissions"]):
        for pattern in as_list(statement["Action"]):
            for expanded in expand_action(pattern):
                action = f"{expanded['service']}:{expanded['action']}"
                level = levels[action.lower()]
                describes = expanded["action"].startswith(("Describe", "Get", "List"))
                if level not in ("List", "Read") and not describes:
                    writes.append(f"{action} ({level})")
    assert writes == []


# --- The verifier's requests ----------------------------------------------------------------


def _verify_policy() -> dict[str, Any]:
    text = (REPO_ROOT / "docs" / "verify.md").read_text(encoding="utf-8")
    block = text.split("## IAM permissions", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    policy: dict[str, Any] = json.loads(block)
    return policy


@pytest.mark.parametrize(("role", "stack"), [("review", "pr-42"), ("deploy", "dev")])
def test_role_allows_what_verify_run_needs(role: str, stack: str):
    """CI runs `spotify-ops verify --run` with the review and deploy roles: each allows every
    request of the verifier's documented least-privilege policy (docs/verify.md, written for
    dev), moved to the stack the role serves."""

    def moved(arn: str) -> str:
        return arn.replace("spotify-dev", f"spotify-{stack}").replace(
            "spotify_dev", f"spotify_{stack.replace('-', '_')}"
        )

    policy = documented_policies()[f"{role}-permissions"]
    missing = [
        f"{action} on {moved(arn)}"
        for statement in statements(_verify_policy())
        for action in as_list(statement["Action"])
        for arn in as_list(statement["Resource"])
        if not allows(policy, action, moved(arn))
    ]
    assert missing == []
