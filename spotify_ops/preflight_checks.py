"""Preflight's findings and its checks against AWS: the QuickSight subscription, QuickSight's
role, and what IAM allows that role (simulated) or a KMS grant gives it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from botocore.exceptions import (
    ClientError,
)

from infra import naming
from spotify_ops.exit_codes import ExitCode
from spotify_ops.polling import error_code
from spotify_ops.preflight_access import CHECK_PURPOSES, Access, Target, required_access

ACTIVE_SUBSCRIPTION: Final = frozenset({"ACCOUNT_CREATED", "OK"})
"""AccountSubscriptionStatus values of a usable account. AWS does not document the values;
these are the ones the Terraform AWS provider waits for after creating a subscription."""


PASS: Final = "pass"
FAIL: Final = "fail"
SKIP: Final = "skip"
Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class Role:
    name: str
    arn: str


@dataclass
class Report:
    stack: str
    target: Target
    role: Role | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.failed for f in self.findings)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.FAILED


def check_subscription(quicksight: Any, account: str, region: str) -> Finding:
    """The account has a QuickSight subscription in a usable state."""
    fix = (
        "sign up for QuickSight in this account (console: https://quicksight.aws.amazon.com, "
        f"Sign up), or `aws quicksight create-account-subscription --aws-account-id {account} "
        "--account-name NAME --notification-email EMAIL --authentication-method "
        f"IAM_AND_QUICKSIGHT --edition ENTERPRISE --region {region}`"
    )
    try:
        info = quicksight.describe_account_subscription(AwsAccountId=account)["AccountInfo"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return Finding(
                "subscription", FAIL, f"account {account} has no QuickSight subscription", fix
            )
        raise
    status = str(info.get("AccountSubscriptionStatus") or "")
    name = info.get("AccountName", "?")
    if status in ACTIVE_SUBSCRIPTION:
        edition = info.get("Edition", "")
        return Finding("subscription", PASS, f"QuickSight {edition} account {name!r} is {status}")
    if status == "SIGNUP_ATTEMPT_IN_PROGRESS":
        return Finding(
            "subscription",
            FAIL,
            f"QuickSight account {name!r} is still being created ({status})",
            "wait a few minutes for the signup to finish, then run preflight again",
        )
    return Finding(
        "subscription",
        FAIL,
        f"QuickSight account {name!r} is {status or 'in an unknown state'}, not active",
        fix,
    )


def find_role(iam: Any, names: Sequence[str]) -> Role | None:
    """The first of ``names`` that exists, as QuickSight picks its role."""
    for name in names:
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                continue
            raise
        return Role(str(role["RoleName"]), str(role["Arn"]))
    return None


@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    decision: str
    missing_context: tuple[str, ...] = ()


def simulation_request(role_arn: str, access: Access) -> dict[str, Any]:
    """The ``simulate_principal_policy`` parameters that ask IAM about ``access``."""
    request: dict[str, Any] = {
        "PolicySourceArn": role_arn,
        "ActionNames": list(access.actions),
        "ResourceArns": list(access.resources),
    }
    if access.context:
        request["ContextEntries"] = [c.entry() for c in access.context]
    return request


def simulate(iam: Any, role_arn: str, access: Access) -> list[Denial]:
    """Every (action, resource) of ``access`` that IAM does not allow the role.

    A pair IAM gives no answer for counts as denied, so a short answer cannot pass."""
    request = simulation_request(role_arn, access)
    allowed: set[tuple[str, str]] = set()
    denials: list[Denial] = []
    for page in iam.get_paginator("simulate_principal_policy").paginate(**request):
        for result in page.get("EvaluationResults", []):
            action = str(result["EvalActionName"])
            per_resource = result.get("ResourceSpecificResults") or [
                {
                    "EvalResourceName": result.get("EvalResourceName", "*"),
                    "EvalResourceDecision": result["EvalDecision"],
                    "MissingContextValues": result.get("MissingContextValues", []),
                }
            ]
            for entry in per_resource:
                resource = str(entry["EvalResourceName"])
                decision = str(entry["EvalResourceDecision"])
                if decision == "allowed":
                    allowed.add((action, resource))
                else:
                    missing = tuple(entry.get("MissingContextValues") or ())
                    denials.append(Denial(action, resource, decision, missing))
    denied = {(d.action, d.resource) for d in denials}
    for action in access.actions:
        for resource in access.resources:
            if (action, resource) not in allowed and (action, resource) not in denied:
                denials.append(Denial(action, resource, "not evaluated"))
    return denials


def describe_denials(role: Role, denials: Sequence[Denial]) -> str:
    """One sentence: which actions on which resources, and why (grouped per resource)."""
    by_resource: dict[str, list[str]] = {}
    for denial in denials:
        by_resource.setdefault(denial.resource, []).append(denial.action)
    parts = [f"{', '.join(actions)} on {resource}" for resource, actions in by_resource.items()]
    decisions = sorted({d.decision for d in denials})
    text = f"role {role.name} may not {'; '.join(parts)} ({', '.join(decisions)}"
    missing = sorted({key for d in denials for key in d.missing_context})
    if missing:
        text += f"; its policies test {', '.join(missing)}, which preflight cannot know"
    if "explicitDeny" in decisions:
        text += "; a Deny statement, permissions boundary or SCP blocks it"
    return text + ")"


def policy_fix(role: Role, source_command: str, environment: str) -> str:
    return (
        f"`aws iam put-role-policy --role-name {role.name} --policy-name "
        f"{naming.resource_prefix(environment)}-quicksight --policy-document "
        f'"$({source_command} --policy)"`'
    )


def access_fix(check: str, role: Role, target: Target, command: str) -> str:
    """How to grant what a check found missing: QuickSight's console where it can, else the
    policy preflight prints."""
    policy = policy_fix(role, command, target.environment)
    names = target.names
    console = "QuickSight > Manage QuickSight > Security & permissions"
    if check in ("athena-workgroup", "glue-catalog"):
        return f"in {console}, tick Amazon Athena and save; or attach the stack's policy: {policy}"
    if check in ("warehouse-read", "results-read-write"):
        if not names.deployed:
            return (
                f"the buckets do not exist yet: attach a policy covering the names the first "
                f"up will create: {policy}; or deploy once with quicksightEnabled false, then "
                f"select the buckets in {console} > Amazon S3"
            )
        bucket = names.warehouse_bucket if check == "warehouse-read" else names.results_bucket
        write = (
            " and tick 'Write permission for Athena Workgroup'" if check != "warehouse-read" else ""
        )
        return f"in {console} > Amazon S3, select bucket {bucket}{write}; or {policy}"
    if target.key_arn:
        return (
            f"`aws kms create-grant --key-id {target.key_arn} --grantee-principal {role.arn} "
            f"--operations Decrypt GenerateDataKey`; or {policy}"
        )
    return f"attach a policy that names the key by its alias: {policy}"


def granted_operations(kms: Any, key_arn: str, role_arn: str) -> set[str]:
    """KMS operations that unconstrained grants on the key give the role (AWS's troubleshooting
    page for QuickSight suggests a grant); constrained grants are not judged."""
    operations: set[str] = set()
    pages = kms.get_paginator("list_grants").paginate(KeyId=key_arn, GranteePrincipal=role_arn)
    for page in pages:
        for grant in page.get("Grants", []):
            if grant.get("GranteePrincipal") == role_arn and not grant.get("Constraints"):
                operations.update(str(op) for op in grant.get("Operations", []))
    return operations


def check_access(iam: Any, kms: Any, role: Role, target: Target, command: str) -> list[Finding]:
    """One finding per check: every access of that check simulated against the role."""
    by_check: dict[str, list[Access]] = {}
    for access in required_access(target):
        by_check.setdefault(access.check, []).append(access)
    findings = []
    for check, accesses in by_check.items():
        denials = [d for access in accesses for d in simulate(iam, role.arn, access)]
        purpose = CHECK_PURPOSES[check]
        if denials and check == "kms-key" and target.key_arn:
            granted = granted_operations(kms, target.key_arn, role.arn)
            if {d.action.removeprefix("kms:") for d in denials} <= granted:
                findings.append(
                    Finding(check, PASS, f"role {role.name} may {purpose} (by a KMS grant)")
                )
                continue
        if denials:
            findings.append(
                Finding(
                    check,
                    FAIL,
                    describe_denials(role, denials),
                    access_fix(check, role, target, command),
                )
            )
        else:
            findings.append(Finding(check, PASS, f"role {role.name} may {purpose}"))
    return findings
