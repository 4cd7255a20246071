"""`spotify-ops preflight`: can this stack turn QuickSight on?

`pulumi up` creates the QuickSight data source last, after the buckets, the workgroup and the
key. When the account has no QuickSight subscription, or QuickSight's role cannot reach what
the data source queries, the update fails there, half applied, with AWS's raw error. Preflight
asks AWS the same questions before the update, from the stack's config, and prints one line
per failure with its fix. The checks are pure functions over boto3 clients; printing is the
command's last step.

The parts: preflight_stack (config and outputs), preflight_access (what QuickSight's role
must reach), preflight_checks (findings, subscription, role, IAM simulation),
preflight_principals (the data source's owners); this module runs them in order, formats the
report and is the command.

Sources (AWS documentation; the docs/preflight.md page has the links):
- QuickSight reaches Athena and S3 as ``service-role/aws-quicksight-s3-consumers-role-v0``, or
  ``service-role/aws-quicksight-service-role-v0`` when that does not exist (QuickSight User
  Guide, "Insufficient permissions when using Athena with Amazon QuickSight").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Annotated, Any, Final

import boto3
import typer
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from infra import naming
from infra.config import NAMESPACE, ConfigError
from spotify_ops.aws_runtime import (
    ACCESS_DENIED_CODES,
    ClientFactory,
    ProfileOption,
    Runtime,
    classify_error,
    error_json,
)
from spotify_ops.exit_codes import ExitCode
from spotify_ops.polling import error_code, error_message
from spotify_ops.preflight_access import Target, required_access, role_policy, stack_names
from spotify_ops.preflight_checks import (
    FAIL,
    PASS,
    SKIP,
    Finding,
    Report,
    check_access,
    check_subscription,
    find_role,
)
from spotify_ops.preflight_principals import check_principal, parse_principal
from spotify_ops.preflight_stack import PreflightError, StackSource, load_stack_source, read_outputs

QUICKSIGHT_ROLES: Final = (
    "aws-quicksight-s3-consumers-role-v0",
    "aws-quicksight-service-role-v0",
)
"""The roles QuickSight uses for Athena and S3, in its order: the first one that exists."""


# --- orchestration -----------------------------------------------------------------------------

ClientsForRegion = Callable[[str], ClientFactory]
"""Region to a ClientFactory: QuickSight users and groups live in the identity region."""


def find_key(kms: Any, alias: str) -> str | None:
    """ARN of the key behind ``alias``; None when it does not exist yet."""
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise


def resolve_target(
    source: StackSource, outputs: Mapping[str, Any], region: str, clients: ClientFactory
) -> Target:
    identity = clients("sts").get_caller_identity()
    account = str(identity["Account"])
    partition = str(identity["Arn"]).split(":")[1]
    config = source.config
    key_arn = (
        find_key(clients("kms"), naming.key_alias(config.environment))
        if config.customer_managed_key
        else None
    )
    names = stack_names(config.environment, outputs)
    return Target(account, partition, region, config, names, key_arn)


def role_missing(target: Target, role_names: Sequence[str], custom: bool) -> Finding:
    listed = ", ".join(f"service-role/{n}" for n in role_names)
    if custom:
        return Finding(
            "service-role",
            FAIL,
            f"role {role_names[0]} does not exist in account {target.account}",
            "pass --quicksight-role with the name of the role the account gave QuickSight",
        )
    return Finding(
        "service-role",
        FAIL,
        f"account {target.account} has no QuickSight role ({listed}); QuickSight reaches "
        "Athena and S3 through it",
        "in QuickSight > Manage QuickSight > Security & permissions, tick Amazon Athena and "
        "Amazon S3 and save (QuickSight creates its role); if the account gave QuickSight a "
        "role of its own, pass --quicksight-role NAME",
    )


def preflight(
    source: StackSource,
    target: Target,
    clients_for: ClientsForRegion,
    role_names: Sequence[str] = QUICKSIGHT_ROLES,
    custom_role: bool = False,
) -> Report:
    """Every check, in the order `pulumi up` would meet the problems."""
    clients = clients_for(target.region)
    report = Report(source.stack, target, None)
    subscription = check_subscription(clients("quicksight"), target.account, target.region)
    report.findings.append(subscription)
    iam = clients("iam")
    role = find_role(iam, role_names)
    report.role = role
    if role is None:
        report.findings.append(role_missing(target, role_names, custom_role))
        checks = dict.fromkeys(a.check for a in required_access(target))
        report.findings += [Finding(c, SKIP, "not checked: no QuickSight role") for c in checks]
    else:
        report.findings.append(
            Finding("service-role", PASS, f"QuickSight reaches Athena and S3 as {role.arn}")
        )
        report.findings += check_access(iam, clients("kms"), role, target, source.command)
    for arn in target.config.quicksight_principals:
        principal = parse_principal(arn)
        if subscription.failed:
            label = principal.namespace if principal.kind == "namespace" else principal.name
            report.findings.append(
                Finding(
                    f"principal {principal.kind} {label}",
                    SKIP,
                    "not checked: no active QuickSight subscription",
                )
            )
            continue
        quicksight = clients_for(principal.region)("quicksight")
        report.findings.append(check_principal(quicksight, target.account, principal))
    return report


# --- errors to exit codes ------------------------------------------------------------------------

NO_CREDENTIALS: Final = (
    "no usable AWS credentials were found; set AWS_PROFILE (or --profile), run "
    "`aws sso login`, or give the CI job a role (e.g. OIDC) before running preflight"
)


def classify_preflight_error(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and one line for an error that stops preflight; None for a bug."""
    if isinstance(exc, PreflightError | ConfigError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, NoRegionError):
        return ExitCode.USAGE, (
            "no AWS region: set aws:region in the stack config "
            "(`pulumi config set aws:region eu-west-1`) or AWS_REGION"
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return ExitCode.ENVIRONMENT, NO_CREDENTIALS
    if isinstance(exc, ClientError) and error_code(exc) in ACCESS_DENIED_CODES:
        code, message = error_code(exc), error_message(exc)
        text = (
            f"access denied ({exc.operation_name} returned {code}: {message}); preflight's own "
            "IAM permissions are listed in docs/preflight.md"
        )
        if exc.operation_name == "DescribeAccountSubscription":
            text += "; QuickSight also answers so when the account has no subscription"
        return ExitCode.ENVIRONMENT, text
    return classify_error(exc)


# --- formatting (pure) ---------------------------------------------------------------------------


def render_lines(report: Report) -> list[str]:
    target = report.target
    role = report.role.name if report.role else "none"
    lines = [
        f"QuickSight preflight for stack {report.stack}: account {target.account}, "
        f"region {target.region}, QuickSight role {role}"
    ]
    if not target.names.deployed:
        env = target.environment
        lines.append(
            "not deployed yet: buckets checked by the names the first up will create "
            f"({naming.bucket_logical_name(env, 'warehouse')}-*, "
            f"{naming.bucket_logical_name(env, 'results')}-*)"
        )
    for finding in report.findings:
        line = f"{finding.status.upper()} {finding.check}: {finding.detail}"
        if finding.failed and finding.fix:
            line += f". Fix: {finding.fix}"
        lines.append(line)
    failed = [f.check for f in report.findings if f.failed]
    checked = [f for f in report.findings if f.status != SKIP]
    if failed:
        lines.append(f"FAILED: {len(failed)} of {len(checked)} checks failed ({', '.join(failed)})")
    else:
        lines.append(f"PASSED: all {len(checked)} checks passed")
    return lines


def report_json(report: Report) -> dict[str, Any]:
    target = report.target
    return {
        "passed": report.passed,
        "exit_code": int(report.exit_code),
        "stack": report.stack,
        "quicksight_enabled": True,
        "account": target.account,
        "region": target.region,
        "role": report.role.arn if report.role else None,
        "names": asdict(target.names) | {"key_arn": target.key_arn},
        "checks": [asdict(f) for f in report.findings],
    }


# --- the command ---------------------------------------------------------------------------------


def default_region(profile: str | None) -> str:
    """The AWS environment's region, as the program's provider falls back to it."""
    region = boto3.session.Session(profile_name=profile).region_name
    if not region:
        raise NoRegionError()
    return str(region)


def preflight_command(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(help="Stack to check; its config comes from `pulumi config --json`."),
    ] = None,
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read the config from Pulumi.<stack>.yaml instead (no pulumi CLI needed).",
        ),
    ] = None,
    outputs_file: Annotated[
        str | None,
        typer.Option(
            "--outputs",
            metavar="FILE",
            help="Outputs of a deployed stack (`pulumi stack output --json`), for bucket names.",
        ),
    ] = None,
    quicksight_role: Annotated[
        str | None,
        typer.Option(help="Role the account gave QuickSight, if not QuickSight's own."),
    ] = None,
    profile: ProfileOption = None,
    policy: Annotated[
        bool,
        typer.Option("--policy", help="Print the IAM policy QuickSight's role needs, and exit."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on standard output.")
    ] = False,
) -> None:
    """Check, before `pulumi up`, that QuickSight can be turned on for a stack.

    Exit codes: 0 passed or QuickSight off; 1 a check failed;
    2 usage or config error; 3 AWS error."""
    runtime = ctx.find_object(Runtime) or Runtime()
    role_names = (quicksight_role.rsplit("/", 1)[-1],) if quicksight_role else QUICKSIGHT_ROLES
    factories: dict[str, ClientFactory] = {}

    def clients_for(region: str) -> ClientFactory:
        if region not in factories:
            factories[region] = runtime.clients(region, profile)
        return factories[region]

    report: Report | None = None
    printed_policy: dict[str, Any] | None = None
    try:
        source = load_stack_source(stack, config_file)
        if source.config.quicksight_enabled or policy:
            outputs = read_outputs(stack, config_file, outputs_file)
            region = source.region or default_region(profile)
            target = resolve_target(source, outputs, region, clients_for(region))
            if policy:
                printed_policy = role_policy(required_access(target))
            else:
                report = preflight(source, target, clients_for, role_names, bool(quicksight_role))
    except KeyboardInterrupt:
        if json_output:  # a pipeline reading the result gets one; the CLI says the rest
            typer.echo(json.dumps(error_json(ExitCode.INTERRUPTED, "interrupted"), indent=2))
        raise
    except Exception as exc:
        classified = classify_preflight_error(exc)
        if classified is None:
            raise
        code, message = classified
        typer.echo(f"preflight: {message}", err=True)
        if json_output:
            typer.echo(json.dumps(error_json(code, message), indent=2))
        raise typer.Exit(int(code)) from None
    if printed_policy is not None:
        typer.echo(json.dumps(printed_policy, indent=2))
        return
    if report is None:
        message = (
            f"QuickSight is off for stack {source.stack} ({NAMESPACE}:quicksightEnabled is "
            "false): nothing to check"
        )
        if json_output:
            off = {"passed": True, "exit_code": 0, "stack": source.stack}
            typer.echo(json.dumps(off | {"quicksight_enabled": False, "checks": []}, indent=2))
        else:
            typer.echo(f"preflight: {message}")
        return
    if json_output:
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        for line in render_lines(report):
            typer.echo(line)
    raise typer.Exit(int(report.exit_code))
