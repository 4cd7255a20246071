"""The configured QuickSight owners of the data source (``quicksightPrincipals``) exist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
)

from infra.config import NAMESPACE
from spotify_ops.aws_runtime import (
    ACCESS_DENIED_CODES,
)
from spotify_ops.polling import error_code, error_message
from spotify_ops.preflight_checks import FAIL, PASS, Finding


@dataclass(frozen=True)
class Principal:
    arn: str
    kind: str
    region: str
    account: str
    namespace: str
    name: str


def parse_principal(arn: str) -> Principal:
    """``arn:<partition>:quicksight:<identity region>:<account>:<user|group>/<namespace>/<name>``
    (the stack config admits no other kind); a user name may itself hold a slash
    (``role/session`` of a federated user)."""
    parts = arn.split(":", 5)
    kind, _, path = parts[5].partition("/")
    namespace, _, name = path.partition("/")
    return Principal(arn, kind, parts[3], parts[4], namespace, name)


def principal_fix(principal: Principal, account: str) -> str:
    """How to create a missing principal (in its identity region), or drop it from the config."""
    where = (
        f"--aws-account-id {account} --namespace {principal.namespace} --region {principal.region}"
    )
    or_correct = f"or correct {NAMESPACE}:quicksightPrincipals"
    if principal.kind == "user":
        return (
            f"`aws quicksight register-user {where} --identity-type QUICKSIGHT --user-role AUTHOR "
            f"--email EMAIL --user-name {principal.name}`, {or_correct}"
        )
    return f"`aws quicksight create-group {where} --group-name {principal.name}`, {or_correct}"


def check_principal(quicksight: Any, account: str, principal: Principal) -> Finding:
    """A configured owner of the data source exists in the account's QuickSight. ``quicksight``
    is a client in the principal's region: QuickSight serves users and groups only from the
    account's identity region, which the ARN names."""
    check = f"principal {principal.kind} {principal.name}"
    if principal.account != account:
        return Finding(
            check,
            FAIL,
            f"{principal.arn} belongs to account {principal.account}, not {account} where the "
            "data source is created",
            f"list a user or group of account {account} in {NAMESPACE}:quicksightPrincipals",
        )
    try:
        if principal.kind == "user":
            quicksight.describe_user(
                UserName=principal.name, AwsAccountId=account, Namespace=principal.namespace
            )
        else:
            quicksight.describe_group(
                GroupName=principal.name, AwsAccountId=account, Namespace=principal.namespace
            )
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if code == "ResourceNotFoundException":
            return Finding(
                check,
                FAIL,
                f"{principal.arn} does not exist ({message})",
                principal_fix(principal, account),
            )
        if code in ACCESS_DENIED_CODES and "identity region" in message.lower():
            return Finding(
                check,
                FAIL,
                f"{principal.arn}: {principal.region} is not the account's QuickSight identity "
                f"region ({message})",
                f"write the ARN with the identity region AWS names, in "
                f"{NAMESPACE}:quicksightPrincipals",
            )
        raise
    return Finding(check, PASS, f"{principal.arn} exists")
