"""`spotify-ops preflight`: every check passes and fails for the reason AWS would give, with its
fix on one line. AWS answers come from botocore Stubbers, which validate each request against
the service model; IAM's simulation answers are computed by moto's IAM policy evaluator from the
role policy a test gives, not written by hand."""

from __future__ import annotations

import datetime as dt
import json
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto.iam.access_control import IAMPolicy, PermissionResult
from parliament import analyze_policy_string
from typer.testing import CliRunner

from infra import naming
from infra.outputs import OutputKey
from spotify_ops.aws_runtime import Runtime
from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from spotify_ops.preflight_access import (
    ATHENA_ACTIONS,
    Access,
    Target,
    required_access,
    role_policy,
    stack_names,
)
from spotify_ops.preflight_checks import Denial, simulate, simulation_request
from spotify_ops.preflight_principals import parse_principal
from spotify_ops.preflight_stack import load_stack_source
from tests.cli.verify_support import (
    ACCOUNT,
    REGION,
    RESULTS,
    WAREHOUSE,
    outputs_dict,
    set_fake_credentials,
)

REPO = Path(__file__).resolve().parents[2]
IDENTITY_REGION = "us-east-1"
GROUP = f"arn:aws:quicksight:{IDENTITY_REGION}:{ACCOUNT}:group/default/analysts"
USER = f"arn:aws:quicksight:{IDENTITY_REGION}:{ACCOUNT}:user/default/Admin/alice"
# QuickSight's roles, in the order it picks them (QuickSight User Guide, "Insufficient
# permissions when using Athena with Amazon QuickSight").
CONSUMERS_ROLE = "aws-quicksight-s3-consumers-role-v0"
SERVICE_ROLE = "aws-quicksight-service-role-v0"
SERVICE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/{SERVICE_ROLE}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALL_CHECKS = (
    "subscription",
    "service-role",
    "athena-workgroup",
    "glue-catalog",
    "warehouse-read",
    "results-read-write",
    "principal group analysts",
    "principal user Admin/alice",
)


def write_config(folder: Path, **settings: Any) -> str:
    """Pulumi.dev.yaml of the repository with QuickSight on, and ``settings`` on top."""
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    values = {"quicksightEnabled": True, "quicksightPrincipals": [GROUP, USER], **settings}
    for key, value in values.items():
        if value is None:
            document["config"].pop(f"spotify-pipeline:{key}", None)
        else:
            document["config"][f"spotify-pipeline:{key}"] = value
    path = folder / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def write_outputs(folder: Path) -> str:
    path = folder / "outputs.json"
    path.write_text(json.dumps(outputs_dict()), encoding="utf-8")
    return str(path)


def target_of(config_file: str, deployed: bool, key_arn: str | None = None) -> Target:
    config = load_stack_source(None, config_file).config
    outputs = outputs_dict() if deployed else {}
    names = stack_names(config.environment, outputs)
    return Target(ACCOUNT, "aws", REGION, config, names, key_arn)


# --- IAM's answers, from a role policy ---------------------------------------------------------


def decision(policy: dict[str, Any], action: str, resource: str) -> str:
    """IAM's decision for one request under ``policy``, by moto's IAM policy evaluator."""
    result = IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)
    if result == PermissionResult.PERMITTED:
        return "allowed"
    return "explicitDeny" if result == PermissionResult.DENIED else "implicitDeny"


def stub_simulations(
    iam: Stubber, role_arn: str, accesses: Sequence[Access], policy: dict[str, Any]
) -> None:
    """One simulate_principal_policy answer per access, as IAM gives it: one result per
    action and resource."""
    for access in accesses:
        results = [
            {"EvalActionName": a, "EvalResourceName": r, "EvalDecision": decision(policy, a, r)}
            for a in access.actions
            for r in access.resources
        ]
        iam.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": results, "IsTruncated": False},
            simulation_request(role_arn, access),
        )


CONSOLE_ATHENA_ACCESS: dict[str, Any] = {
    # The statements of the AWSQuicksightAthenaAccess managed policy that matter here; the
    # console attaches it when Athena is ticked in Security & permissions.
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": list(ATHENA_ACTIONS), "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:GetBucketLocation"],
            "Resource": "arn:aws:s3:::aws-athena-query-results-*",
        },
    ],
}


def console_s3_policy(read: Sequence[str], write: Sequence[str]) -> dict[str, Any]:
    """The S3 policy QuickSight's console writes for the selected buckets, in the shape of the
    QuickSight User Guide's example ("Attaching additional policies")."""
    everything = [*read, *write]
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "arn:aws:s3:::*"},
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{b}" for b in everything],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [f"arn:aws:s3:::{b}/*" for b in everything],
        },
    ]
    if write:
        statements += [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucketMultipartUploads", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{b}" for b in write],
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": [f"arn:aws:s3:::{b}/*" for b in write],
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def combined(*policies: dict[str, Any]) -> dict[str, Any]:
    """The role's policies as one document (IAM allows what any of them allows)."""
    return {"Version": "2012-10-17", "Statement": [s for p in policies for s in p["Statement"]]}


# --- the fake AWS --------------------------------------------------------------------------------


@dataclass
class FakeAws:
    """Stubbed clients per (service, region), given to the command through its Runtime."""

    clients: dict[tuple[str, str], Any]
    stubbers: dict[tuple[str, str], Stubber]
    requested: list[tuple[str, str | None]] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)

    def __getitem__(self, service: str) -> Stubber:
        return self.stubbers[(service, REGION)]

    @property
    def identity_quicksight(self) -> Stubber:
        return self.stubbers[("quicksight", IDENTITY_REGION)]

    def runtime(self) -> Runtime:
        def build(region: str, profile: str | None) -> Any:
            self.requested.append((region, profile))
            return lambda service: self.clients[
                (service, REGION if service != "quicksight" else region)
            ]

        return Runtime(clients=build)

    def invoke(self, *args: str) -> Any:
        return CliRunner().invoke(app, ["preflight", *args], obj=self.runtime())

    # answers of a ready account, each overridable by the test

    def identity(self) -> None:
        self["sts"].add_response(
            "get_caller_identity",
            {
                "UserId": "AIDAEXAMPLEUSERID1234",
                "Account": ACCOUNT,
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
            },
            {},
        )

    def subscription(self, status: str = "ACCOUNT_CREATED") -> None:
        self["quicksight"].add_response(
            "describe_account_subscription",
            {
                "AccountInfo": {
                    "AccountName": "spotify-analytics",
                    "Edition": "ENTERPRISE",
                    "AccountSubscriptionStatus": status,
                },
                "Status": 200,
                "RequestId": "req-1",
            },
            {"AwsAccountId": ACCOUNT},
        )

    def service_role(self) -> None:
        """The consumers role is missing, the service role exists (QuickSight then uses it)."""
        self["iam"].add_client_error(
            "get_role",
            "NoSuchEntity",
            f"The role with name {CONSUMERS_ROLE} cannot be found.",
            404,
            {"RoleName": CONSUMERS_ROLE},
        )
        self["iam"].add_response(
            "get_role",
            {
                "Role": {
                    "Path": "/service-role/",
                    "RoleName": SERVICE_ROLE,
                    "RoleId": "AROAEXAMPLEROLEID1234",
                    "Arn": SERVICE_ROLE_ARN,
                    "CreateDate": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                }
            },
            {"RoleName": SERVICE_ROLE},
        )

    def principals(self) -> None:
        self.identity_quicksight.add_response(
            "describe_group",
            {"Group": {"Arn": GROUP, "GroupName": "analysts"}, "Status": 200},
            {"GroupName": "analysts", "AwsAccountId": ACCOUNT, "Namespace": "default"},
        )
        self.identity_quicksight.add_response(
            "describe_user",
            {"User": {"Arn": USER, "UserName": "Admin/alice", "Active": True}, "Status": 200},
            {"UserName": "Admin/alice", "AwsAccountId": ACCOUNT, "Namespace": "default"},
        )

    def ready(
        self, target: Target, policy: dict[str, Any] | None = None, principals: bool = True
    ) -> None:
        """Everything a ready account answers; ``policy`` is the role's (default: the policy
        preflight prints for this target)."""
        self.identity()
        self.subscription()
        self.service_role()
        accesses = required_access(target)
        stub_simulations(self["iam"], SERVICE_ROLE_ARN, accesses, policy or role_policy(accesses))
        if principals:
            self.principals()


def recorder(calls: set[str], client: Any) -> Any:
    """Adds ``prefix:Operation`` of every call the client makes to ``calls``."""
    prefix = client.meta.service_model.signing_name

    def record(model: Any, **_: Any) -> None:
        calls.add(f"{prefix}:{model.name}")

    return record


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    set_fake_credentials(monkeypatch)
    keys = [(s, REGION) for s in ("sts", "quicksight", "iam", "kms")]
    keys.append(("quicksight", IDENTITY_REGION))
    clients = {(s, r): boto3.client(s, region_name=r) for s, r in keys}
    fake = FakeAws(clients, {})
    for key, client in clients.items():
        client.meta.events.register("before-parameter-build", recorder(fake.calls, client))
        fake.stubbers[key] = Stubber(client)
        fake.stubbers[key].activate()
    yield fake
    for stubber in fake.stubbers.values():
        stubber.deactivate()
        stubber.assert_no_pending_responses()


def lines(result: Any) -> dict[str, str]:
    """Check name -> its output line."""
    found = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "FAIL", "SKIP"):
            found[rest.split(":", 1)[0]] = line
    return found


# --- QuickSight off, usage and config ------------------------------------------------------------


def test_quicksight_off_exits_zero_without_calling_aws(aws: FakeAws, tmp_path: Path) -> None:
    """With quicksightEnabled false there is nothing to check: exit 0, no AWS client made."""
    config = write_config(tmp_path, quicksightEnabled=False, quicksightPrincipals=None)
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.OK, result.output
    assert "QuickSight is off for stack dev" in result.stdout
    assert aws.requested == []


def test_neither_stack_nor_config_is_a_usage_error(aws: FakeAws) -> None:
    """Without --stack or --config, exit 2 naming both ways."""
    result = aws.invoke()
    assert result.exit_code == ExitCode.USAGE
    assert "pass --stack NAME" in result.stderr
    assert "--config Pulumi.<stack>.yaml" in result.stderr


def test_config_file_without_a_stack_name_needs_stack(aws: FakeAws, tmp_path: Path) -> None:
    """A config file not named Pulumi.<stack>.yaml needs --stack (the stack names resources)."""
    path = tmp_path / "settings.yaml"
    path.write_text(Path(write_config(tmp_path)).read_text(encoding="utf-8"), encoding="utf-8")
    result = aws.invoke("--config", str(path))
    assert result.exit_code == ExitCode.USAGE
    assert "pass --stack NAME with --config" in result.stderr


def test_a_missing_config_file_is_named_before_the_stack_is_asked_for(
    aws: FakeAws, tmp_path: Path
) -> None:
    """--config naming no file says the file does not exist (not that the stack cannot be
    told from its name), whatever the file is called."""
    result = aws.invoke("--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == ExitCode.USAGE
    assert f"config file '{tmp_path / 'nope.yaml'}' does not exist" in result.stderr
    assert "--stack" not in result.stderr


def test_bad_config_gets_the_programs_own_message(aws: FakeAws, tmp_path: Path) -> None:
    """QuickSight on without principals fails as `pulumi preview` would: exit 2, the loader's
    message, no AWS call."""
    config = write_config(tmp_path, quicksightPrincipals=None)
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.USAGE
    assert "spotify-pipeline:quicksightEnabled is true but" in result.stderr
    assert "Traceback" not in result.output
    assert aws.requested == []


def test_secret_config_value_is_refused(aws: FakeAws, tmp_path: Path) -> None:
    """A program key stored as a secret cannot be read without secrets: exit 2, saying so."""
    config = write_config(tmp_path, workerType={"secure": "AAABAGNpcGhlcnRleHQ="})
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.USAGE
    assert "spotify-pipeline:workerType" in result.stderr
    assert "is a secret" in result.stderr


# --- a ready account -----------------------------------------------------------------------------


def test_ready_account_passes_every_check(aws: FakeAws, tmp_path: Path) -> None:
    """Subscription, role, its access (the printed policy attached) and both principals pass:
    exit 0, users and groups asked for in their identity region."""
    config = write_config(tmp_path)
    aws.ready(target_of(config, deployed=False))
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.OK, result.output
    found = lines(result)
    assert tuple(found) == ALL_CHECKS
    assert all(line.startswith("PASS") for line in found.values()), result.stdout
    assert "PASSED: all 8 checks passed" in result.stdout
    assert [region for region, _ in aws.requested] == [REGION, IDENTITY_REGION]


def test_json_output_lists_every_check(aws: FakeAws, tmp_path: Path) -> None:
    """--json prints the verdict, the role and the names checked, for CI."""
    config = write_config(tmp_path)
    aws.ready(target_of(config, deployed=True))
    result = aws.invoke("--config", config, "--outputs", write_outputs(tmp_path), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    verdict = json.loads(result.stdout)
    assert verdict["passed"] is True
    assert verdict["role"] == SERVICE_ROLE_ARN
    assert verdict["names"]["warehouse_bucket"] == WAREHOUSE
    assert verdict["names"]["deployed"] is True
    assert [c["check"] for c in verdict["checks"]] == list(ALL_CHECKS)


# --- the subscription ----------------------------------------------------------------------------


def test_no_subscription_fails_with_the_signup_fix(aws: FakeAws, tmp_path: Path) -> None:
    """No QuickSight account: one FAIL line with the signup command; principals are skipped."""
    config = write_config(tmp_path)
    target = target_of(config, deployed=False)
    aws.identity()
    aws["quicksight"].add_client_error(
        "describe_account_subscription",
        "ResourceNotFoundException",
        f"Account information for account {ACCOUNT} not found",
        404,
        {"AwsAccountId": ACCOUNT},
    )
    aws.service_role()
    accesses = required_access(target)
    stub_simulations(aws["iam"], SERVICE_ROLE_ARN, accesses, role_policy(accesses))
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    line = lines(result)["subscription"]
    assert line.startswith(f"FAIL subscription: account {ACCOUNT} has no QuickSight subscription")
    assert f"aws quicksight create-account-subscription --aws-account-id {ACCOUNT}" in line
    assert lines(result)["principal group analysts"].startswith("SKIP")
    assert "FAILED: 1 of 6 checks failed (subscription)" in result.stdout


@pytest.mark.parametrize("status", ["UNSUBSCRIBED", "SIGNUP_ATTEMPT_IN_PROGRESS"])
def test_inactive_subscription_fails(aws: FakeAws, tmp_path: Path, status: str) -> None:
    """A subscription that is not ACCOUNT_CREATED or OK fails, naming its status."""
    config = write_config(tmp_path)
    aws.identity()
    aws.subscription(status)
    aws.service_role()
    accesses = required_access(target_of(config, deployed=False))
    stub_simulations(aws["iam"], SERVICE_ROLE_ARN, accesses, role_policy(accesses))
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    assert status in lines(result)["subscription"]
    assert lines(result)["subscription"].startswith("FAIL")


def test_access_denied_to_preflight_itself_exits_three(aws: FakeAws, tmp_path: Path) -> None:
    """When the caller may not ask, preflight cannot judge: exit 3, pointing at its own IAM
    policy (and at the no-subscription case QuickSight also answers this way)."""
    config = write_config(tmp_path)
    aws.identity()
    aws["quicksight"].add_client_error(
        "describe_account_subscription", "AccessDeniedException", "not authorized", 401
    )
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = " ".join(result.stderr.split())
    assert "access denied (DescribeAccountSubscription returned AccessDeniedException" in message
    assert "docs/preflight.md" in message
    assert "Traceback" not in result.output


# --- the role and what it may reach --------------------------------------------------------------


def test_missing_quicksight_role_fails_and_skips_its_checks(aws: FakeAws, tmp_path: Path) -> None:
    """Neither QuickSight role exists: one FAIL with the console fix; access checks skipped."""
    config = write_config(tmp_path)
    aws.identity()
    aws.subscription()
    for name in (CONSUMERS_ROLE, SERVICE_ROLE):
        aws["iam"].add_client_error(
            "get_role", "NoSuchEntity", "cannot be found", 404, {"RoleName": name}
        )
    aws.principals()
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    found = lines(result)
    assert found["service-role"].startswith(f"FAIL service-role: account {ACCOUNT} has no")
    assert "Security & permissions, tick Amazon Athena and Amazon S3" in found["service-role"]
    assert found["warehouse-read"].startswith("SKIP")
    assert "FAILED: 1 of 4 checks failed (service-role)" in result.stdout


def test_named_role_is_the_one_checked(aws: FakeAws, tmp_path: Path) -> None:
    """--quicksight-role replaces QuickSight's own roles (an account that passed it one)."""
    config = write_config(tmp_path)
    aws.identity()
    aws.subscription()
    aws["iam"].add_client_error(
        "get_role", "NoSuchEntity", "cannot be found", 404, {"RoleName": "bi-reader"}
    )
    aws.principals()
    result = aws.invoke(
        "--config", config, "--quicksight-role", f"arn:aws:iam::{ACCOUNT}:role/bi-reader"
    )
    assert result.exit_code == ExitCode.FAILED
    assert "role bi-reader does not exist" in lines(result)["service-role"]


def test_role_without_the_stack_buckets_fails_with_the_console_fix(
    aws: FakeAws, tmp_path: Path
) -> None:
    """A deployed stack whose buckets were not selected in QuickSight (the console granted
    other buckets): the warehouse and results checks fail, each on one line naming the bucket
    to select and the policy command; Athena and Glue pass."""
    config = write_config(tmp_path)
    target = target_of(config, deployed=True)
    other = console_s3_policy(read=["sales-data"], write=["aws-athena-query-results-x"])
    aws.ready(target, combined(CONSOLE_ATHENA_ACCESS, other))
    result = aws.invoke("--config", config, "--outputs", write_outputs(tmp_path))
    assert result.exit_code == ExitCode.FAILED
    found = lines(result)
    warehouse = found["warehouse-read"]
    assert warehouse.startswith(f"FAIL warehouse-read: role {SERVICE_ROLE} may not s3:ListBucket")
    assert f"s3:GetObject on arn:aws:s3:::{WAREHOUSE}/spotify_tracks/" in warehouse
    assert f"Amazon S3, select bucket {WAREHOUSE}" in warehouse
    results = found["results-read-write"]
    assert f"select bucket {RESULTS} and tick 'Write permission for Athena Workgroup'" in results
    policy_command = (
        f"aws iam put-role-policy --role-name {SERVICE_ROLE} --policy-name "
        f'spotify-dev-quicksight --policy-document "$(spotify-ops preflight --config {config} '
        '--policy)"'
    )
    assert policy_command in results
    assert found["athena-workgroup"].startswith("PASS")
    assert found["glue-catalog"].startswith("PASS")
    assert len(result.stdout.splitlines()) == len(found) + 2


def test_console_grant_of_the_stack_buckets_passes(aws: FakeAws, tmp_path: Path) -> None:
    """The grant QuickSight's console writes when the stack's buckets are selected (results
    with write permission) is enough: what preflight asks for is what AWS's example grants."""
    config = write_config(tmp_path)
    target = target_of(config, deployed=True)
    console = console_s3_policy(read=[WAREHOUSE], write=[RESULTS])
    aws.ready(target, combined(CONSOLE_ATHENA_ACCESS, console))
    result = aws.invoke("--config", config, "--outputs", write_outputs(tmp_path))
    assert result.exit_code == ExitCode.OK, result.stdout


def test_before_the_first_up_names_have_the_programs_shape(aws: FakeAws, tmp_path: Path) -> None:
    """Not deployed: buckets are checked as spotify-dev-<kind>-<suffix>, so a grant on that
    pattern passes and a grant on yesterday's exact names fails with the first-up advice."""
    config = write_config(tmp_path)
    target = target_of(config, deployed=False)
    assert target.names.warehouse_bucket.startswith("spotify-dev-warehouse-")
    exact = console_s3_policy(read=[WAREHOUSE], write=[RESULTS])
    aws.ready(target, combined(CONSOLE_ATHENA_ACCESS, exact))
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    assert "not deployed yet" in result.stdout
    assert "the buckets do not exist yet" in lines(result)["warehouse-read"]
    assert "deploy once with quicksightEnabled false" in lines(result)["warehouse-read"]


def test_explicit_deny_is_named(aws: FakeAws, tmp_path: Path) -> None:
    """A Deny (policy, boundary or SCP) is reported as such, not as a missing grant."""
    config = write_config(tmp_path)
    target = target_of(config, deployed=False)
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}],
    }
    aws.ready(target, combined(role_policy(required_access(target)), deny))
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    line = lines(result)["results-read-write"]
    assert "may not s3:PutObject" in line
    assert "explicitDeny; a Deny statement, permissions boundary or SCP blocks it" in line


def test_a_short_simulation_answer_does_not_pass(aws: FakeAws, tmp_path: Path) -> None:
    """If IAM answers for fewer requests than asked, the unanswered ones fail: silence is
    never taken for "allowed"."""
    config = write_config(tmp_path)
    target = target_of(config, deployed=False)
    aws.identity()
    aws.subscription()
    aws.service_role()
    for access in required_access(target):
        results = [
            {"EvalActionName": access.actions[0], "EvalResourceName": r, "EvalDecision": "allowed"}
            for r in access.resources
        ]
        aws["iam"].add_response(
            "simulate_principal_policy",
            {"EvaluationResults": results, "IsTruncated": False},
            simulation_request(SERVICE_ROLE_ARN, access),
        )
    aws.principals()
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    assert "athena:GetQueryExecution" in lines(result)["athena-workgroup"]
    assert "(not evaluated)" in lines(result)["athena-workgroup"]
    assert lines(result)["warehouse-read"].startswith("PASS")


def test_resource_specific_results_are_read(aws: FakeAws) -> None:
    """IAM may answer per resource inside one result; a denied resource there fails."""
    access = Access("x", ("s3:GetObject",), ("arn:aws:s3:::a/k", "arn:aws:s3:::b/k"), ())
    answer = {
        "EvalActionName": "s3:GetObject",
        "EvalResourceName": "*",
        "EvalDecision": "implicitDeny",
        "ResourceSpecificResults": [
            {"EvalResourceName": "arn:aws:s3:::a/k", "EvalResourceDecision": "allowed"},
            {"EvalResourceName": "arn:aws:s3:::b/k", "EvalResourceDecision": "implicitDeny"},
        ],
    }
    aws["iam"].add_response(
        "simulate_principal_policy",
        {"EvaluationResults": [answer], "IsTruncated": False},
        simulation_request(SERVICE_ROLE_ARN, access),
    )
    iam = aws.clients[("iam", REGION)]
    denials = simulate(iam, SERVICE_ROLE_ARN, access)
    assert denials == [Denial("s3:GetObject", "arn:aws:s3:::b/k", "implicitDeny")]


# --- the customer-managed key --------------------------------------------------------------------


def stub_key(aws: FakeAws, exists: bool = True) -> None:
    alias = naming.key_alias("dev")
    if exists:
        aws["kms"].add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": KEY_ARN.rsplit("/", 1)[1], "Arn": KEY_ARN}},
            {"KeyId": alias},
        )
    else:
        aws["kms"].add_client_error(
            "describe_key", "NotFoundException", f"Alias {alias} is not found.", 400
        )


def test_key_the_role_may_not_use_fails_with_the_grant_fix(aws: FakeAws, tmp_path: Path) -> None:
    """With a customer-managed key and no grant for it, kms-key fails, offering the KMS grant
    AWS's troubleshooting page suggests."""
    config = write_config(tmp_path, customerManagedKey=True)
    target = target_of(config, deployed=True, key_arn=KEY_ARN)
    stub_key(aws)
    without_key = role_policy(a for a in required_access(target) if a.check != "kms-key")
    aws.ready(target, without_key)
    aws["kms"].add_response(
        "list_grants",
        {"Grants": [], "Truncated": False},
        {"KeyId": KEY_ARN, "GranteePrincipal": SERVICE_ROLE_ARN},
    )
    result = aws.invoke("--config", config, "--outputs", write_outputs(tmp_path))
    assert result.exit_code == ExitCode.FAILED
    line = lines(result)["kms-key"]
    assert f"may not kms:Decrypt, kms:GenerateDataKey on {KEY_ARN}" in line
    assert (
        f"aws kms create-grant --key-id {KEY_ARN} --grantee-principal {SERVICE_ROLE_ARN} "
        "--operations Decrypt GenerateDataKey"
    ) in line


CONSTRAINED = {"EncryptionContextSubset": {"app": "other"}}


@pytest.mark.parametrize(
    ("grants", "passes"),
    [
        ([(["Decrypt"], None), (["GenerateDataKey"], None)], True),
        ([(["Decrypt"], None)], False),
        ([(["Decrypt"], None), (["GenerateDataKey"], CONSTRAINED)], False),
    ],
    ids=["both-operations", "decrypt-only", "constrained"],
)
def test_kms_grants_can_satisfy_the_key_check(
    aws: FakeAws, tmp_path: Path, grants: list[tuple[list[str], Any]], passes: bool
) -> None:
    """Unconstrained grants that give both operations pass where IAM alone says no; a missing
    operation or a constrained grant does not count."""
    config = write_config(tmp_path, customerManagedKey=True)
    target = target_of(config, deployed=True, key_arn=KEY_ARN)
    stub_key(aws)
    without_key = role_policy(a for a in required_access(target) if a.check != "kms-key")
    aws.ready(target, without_key)
    grant = {"KeyId": KEY_ARN, "GranteePrincipal": SERVICE_ROLE_ARN}
    listed = [
        {**grant, "Operations": operations, **({"Constraints": c} if c else {})}
        for operations, c in grants
    ]
    aws["kms"].add_response("list_grants", {"Grants": listed, "Truncated": False}, grant)
    result = aws.invoke("--config", config, "--outputs", write_outputs(tmp_path))
    line = lines(result)["kms-key"]
    if passes:
        assert result.exit_code == ExitCode.OK, result.stdout
        assert "(by a KMS grant)" in line
    else:
        assert result.exit_code == ExitCode.FAILED
        assert line.startswith("FAIL kms-key")


def test_key_not_created_yet_is_checked_by_its_alias(aws: FakeAws, tmp_path: Path) -> None:
    """Before the key exists, the simulation carries the alias it will have, and the printed
    policy names the key by that alias."""
    config = write_config(tmp_path, customerManagedKey=True)
    target = target_of(config, deployed=False)
    stub_key(aws, exists=False)
    aws.ready(target)
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.OK, result.stdout
    (key,) = [a for a in required_access(target) if a.check == "kms-key"]
    context = {c.key: c.values for c in key.context}
    assert context["kms:ResourceAliases"] == ("alias/spotify-dev",)
    assert context["kms:ViaService"] == (f"s3.{REGION}.amazonaws.com",)
    assert key.condition == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/spotify-dev"}
    }


# --- principals ----------------------------------------------------------------------------------


def test_missing_group_fails_with_create_group(aws: FakeAws, tmp_path: Path) -> None:
    """A configured group that does not exist fails with the create-group command for the
    identity region its ARN names."""
    config = write_config(tmp_path, quicksightPrincipals=[GROUP])
    aws.ready(target_of(config, deployed=False), principals=False)
    aws.identity_quicksight.add_client_error(
        "describe_group",
        "ResourceNotFoundException",
        "Group analysts not found",
        404,
        {"GroupName": "analysts", "AwsAccountId": ACCOUNT, "Namespace": "default"},
    )
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    line = lines(result)["principal group analysts"]
    assert line.startswith(f"FAIL principal group analysts: {GROUP} does not exist")
    assert (
        f"aws quicksight create-group --aws-account-id {ACCOUNT} --namespace default "
        f"--region {IDENTITY_REGION} --group-name analysts"
    ) in line


def test_principal_outside_the_identity_region_fails(aws: FakeAws, tmp_path: Path) -> None:
    """QuickSight refuses user calls outside the identity region; that is a wrong ARN, not an
    AWS outage: it fails the check with AWS's message."""
    user = f"arn:aws:quicksight:{IDENTITY_REGION}:{ACCOUNT}:user/default/bob"
    config = write_config(tmp_path, quicksightPrincipals=[user])
    aws.ready(target_of(config, deployed=False), principals=False)
    aws.identity_quicksight.add_client_error(
        "describe_user",
        "AccessDeniedException",
        "Operation is being called from endpoint us-east-1, but your identity region is "
        "eu-west-1. Please use the eu-west-1 endpoint.",
        401,
    )
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    line = lines(result)["principal user bob"]
    assert f"{IDENTITY_REGION} is not the account's QuickSight identity region" in line
    assert "Please use the eu-west-1 endpoint" in line


def test_principal_of_another_account_fails_without_a_call(aws: FakeAws, tmp_path: Path) -> None:
    """A principal of another account cannot own the data source: fail, no QuickSight call."""
    stranger = "arn:aws:quicksight:us-east-1:999999999999:group/default/analysts"
    config = write_config(tmp_path, quicksightPrincipals=[stranger])
    aws.ready(target_of(config, deployed=False), principals=False)
    result = aws.invoke("--config", config)
    assert result.exit_code == ExitCode.FAILED
    assert "belongs to account 999999999999" in lines(result)["principal group analysts"]


def test_principal_arns_are_parsed_with_slashes_in_user_names() -> None:
    """Federated user names hold a slash (role/session); the namespace is the first segment."""
    parsed = parse_principal(USER)
    assert (parsed.kind, parsed.region, parsed.namespace, parsed.name) == (
        "user",
        IDENTITY_REGION,
        "default",
        "Admin/alice",
    )


# --- credentials ---------------------------------------------------------------------------------


def test_no_credentials_exits_three_with_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Real boto3 clients and no credentials anywhere: exit 3, how to provide them, no
    traceback. (Stubber answers before signing, so this needs the real credential chain.)"""
    set_fake_credentials(monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    config = write_config(tmp_path)
    result = CliRunner().invoke(app, ["preflight", "--config", config], obj=Runtime())
    assert result.exit_code == ExitCode.ENVIRONMENT
    message = " ".join(result.stderr.split())
    assert "no usable AWS credentials were found" in message
    assert "before running preflight" in message
    assert "Traceback" not in result.output


# --- the pulumi CLI ------------------------------------------------------------------------------


def fake_pulumi(folder: Path, config: dict[str, Any], outputs: dict[str, Any]) -> Path:
    """A `pulumi` on PATH that answers `config --json` and `stack output --json` like the CLI
    and records every argument list it gets."""
    record = folder / "calls.jsonl"
    script = folder / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"answers = {{'config': {json.dumps(config)!r}, 'stack': {json.dumps(outputs)!r}}}\n"
        "sys.stdout.write(answers[sys.argv[1]])\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return record


def pulumi_config_json(config_file: str) -> dict[str, Any]:
    """What `pulumi config --json` prints for the stack of ``config_file``: strings as
    strings, structured values also as objectValue, secrets without their value."""
    values = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))["config"]
    shown: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, list | dict):
            shown[key] = {"value": json.dumps(value), "objectValue": value, "secret": False}
        elif isinstance(value, bool):
            shown[key] = {"value": str(value).lower(), "secret": False}
        else:
            shown[key] = {"value": str(value), "secret": False}
    return shown


def test_stack_reads_config_and_outputs_through_pulumi_without_secrets(
    aws: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--stack runs `pulumi config --json` and `pulumi stack output --json`, never with
    --show-secrets, and checks the deployed bucket names."""
    config = write_config(tmp_path)
    record = fake_pulumi(tmp_path, pulumi_config_json(config), outputs_dict())
    monkeypatch.setenv("PATH", str(tmp_path))
    aws.ready(target_of(config, deployed=True))
    result = aws.invoke("--stack", "dev", "--json")
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout)["names"]["results_bucket"] == RESULTS
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls == [
        ["config", "--json", "--stack", "dev"],
        ["stack", "output", "--json", "--stack", "dev"],
    ]


def test_secret_in_pulumi_config_is_refused(
    aws: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program key that `pulumi config --json` shows as a secret: exit 2, no AWS call."""
    shown = pulumi_config_json(write_config(tmp_path))
    shown["spotify-pipeline:workerType"] = {"secret": True}
    fake_pulumi(tmp_path, shown, {})
    monkeypatch.setenv("PATH", str(tmp_path))
    result = aws.invoke("--stack", "dev")
    assert result.exit_code == ExitCode.USAGE
    assert "spotify-pipeline:workerType in stack 'dev' is a secret" in result.stderr
    assert aws.requested == []


def test_stack_without_the_pulumi_cli_suggests_config_file(
    aws: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pulumi on PATH: exit 2 with the offline way, --config Pulumi.<stack>.yaml."""
    monkeypatch.setenv("PATH", str(tmp_path))
    result = aws.invoke("--stack", "dev")
    assert result.exit_code == ExitCode.USAGE
    message = " ".join(result.stderr.split())
    assert "the pulumi CLI is not on PATH" in message
    assert "pass --config Pulumi.dev.yaml" in message


# --- the request model, against AWS's documents --------------------------------------------------


def test_required_access_is_what_athena_and_s3_request(tmp_path: Path) -> None:
    """The requests checked for a deployed dev stack, written out: the workgroup, the catalog
    hierarchy (catalog, database, table), the table's files read, the results written."""
    target = target_of(write_config(tmp_path, customerManagedKey=True), True, KEY_ARN)
    by_check: dict[str, set[tuple[str, str]]] = {}
    for access in required_access(target):
        pairs = {(a, r) for a in access.actions for r in access.resources}
        by_check.setdefault(access.check, set()).update(pairs)
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert by_check["athena-workgroup"] == {
        (a, f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/spotify-dev")
        for a in (
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
            "athena:GetWorkGroup",
        )
    }
    assert by_check["glue-catalog"] == {
        ("glue:GetDatabase", f"{glue}:catalog"),
        ("glue:GetDatabase", f"{glue}:database/spotify_dev"),
        *{
            (a, r)
            for a in ("glue:GetTable", "glue:GetPartitions")
            for r in (
                f"{glue}:catalog",
                f"{glue}:database/spotify_dev",
                f"{glue}:table/spotify_dev/spotify_tracks",
            )
        },
    }
    assert by_check["warehouse-read"] == {
        ("s3:ListBucket", f"arn:aws:s3:::{WAREHOUSE}"),
        (
            "s3:GetObject",
            f"arn:aws:s3:::{WAREHOUSE}/spotify_tracks/run=20240101T060000Z-0a1b2c3d/"
            "part-00000.snappy.parquet",
        ),
    }
    result_object = f"arn:aws:s3:::{RESULTS}/results/11111111-2222-3333-4444-555555555555.csv"
    assert by_check["results-read-write"] == {
        ("s3:ListBucket", f"arn:aws:s3:::{RESULTS}"),
        ("s3:GetBucketLocation", f"arn:aws:s3:::{RESULTS}"),
        ("s3:ListBucketMultipartUploads", f"arn:aws:s3:::{RESULTS}"),
        ("s3:GetObject", result_object),
        ("s3:PutObject", result_object),
        ("s3:AbortMultipartUpload", result_object),
        ("s3:ListMultipartUploadParts", result_object),
    }
    assert by_check["kms-key"] == {("kms:Decrypt", KEY_ARN), ("kms:GenerateDataKey", KEY_ARN)}


def test_simulated_resources_are_the_programs_names(tmp_path: Path) -> None:
    """The names preflight derives are the ones the program gives: the bucket kinds exist in
    the storage component, the workgroup and the results location come from naming."""
    from infra.storage import BUCKET_KINDS

    assert {"warehouse", "results"} <= set(BUCKET_KINDS)
    target = target_of(write_config(tmp_path), deployed=False)
    assert target.names.warehouse_bucket == "spotify-dev-warehouse-0000000"
    assert target.names.results_bucket == "spotify-dev-results-0000000"
    assert outputs_dict()[OutputKey.RESULTS_LOCATION.value] == f"s3://{RESULTS}/results/"


# --- the policy preflight prints for QuickSight's role -------------------------------------------


@pytest.mark.parametrize("deployed", [True, False])
@pytest.mark.parametrize("cmk", [True, False])
def test_printed_role_policy_grants_every_checked_request(
    tmp_path: Path, deployed: bool, cmk: bool
) -> None:
    """The policy `--policy` prints allows every request preflight checks, by moto's IAM
    evaluator, before and after the first up; and no other bucket."""
    target = target_of(
        write_config(tmp_path, customerManagedKey=cmk),
        deployed,
        KEY_ARN if cmk and deployed else None,
    )
    accesses = required_access(target)
    policy = role_policy(accesses)
    denied = [
        (a, r)
        for access in accesses
        for a in access.actions
        for r in access.resources
        if decision(policy, a, r) != "allowed"
    ]
    assert denied == []
    assert (
        decision(policy, "s3:GetObject", "arn:aws:s3:::other-bucket/spotify_tracks/x") != "allowed"
    )
    assert decision(policy, "s3:PutObject", f"arn:aws:s3:::{target.names.warehouse_bucket}/x") != (
        "allowed"
    )


IGNORED_ROLE_POLICY_FINDINGS = {
    # parliament's action table predates kms:ResourceAliases; AWS lists it for Decrypt and
    # GenerateDataKey ("AWS KMS permissions", AWS KMS Developer Guide).
    "UNKNOWN_CONDITION_FOR_ACTION": "kms:ResourceAliases",
}


@pytest.mark.parametrize("deployed", [True, False])
def test_printed_role_policy_is_clean_under_parliament(tmp_path: Path, deployed: bool) -> None:
    """The printed policy has no parliament finding, except parliament not knowing the
    kms:ResourceAliases key that names a key before it exists."""
    target = target_of(
        write_config(tmp_path, customerManagedKey=True), deployed, KEY_ARN if deployed else None
    )
    policy = role_policy(required_access(target))
    findings = analyze_policy_string(json.dumps(policy), include_community_auditors=True).findings
    unexpected = [
        str(f)
        for f in findings
        if not (
            f.issue in IGNORED_ROLE_POLICY_FINDINGS
            and IGNORED_ROLE_POLICY_FINDINGS[f.issue] in str(f)
        )
    ]
    assert unexpected == []


def test_policy_option_prints_the_role_policy(aws: FakeAws, tmp_path: Path) -> None:
    """--policy prints the role's policy as JSON and exits 0, even with QuickSight still off
    (so the role can be prepared before turning it on)."""
    config = write_config(tmp_path, quicksightEnabled=False, quicksightPrincipals=None)
    aws.identity()
    result = aws.invoke("--config", config, "--policy")
    assert result.exit_code == ExitCode.OK, result.output
    printed = json.loads(result.stdout)
    assert printed == role_policy(required_access(target_of(config, deployed=False)))
    resources = [r for s in printed["Statement"] for r in s["Resource"]]
    assert "arn:aws:s3:::spotify-dev-warehouse-*" in resources


# --- the caller's own permissions (docs/preflight.md) --------------------------------------------


def documented_policy() -> dict[str, Any]:
    text = (REPO / "docs" / "preflight.md").read_text(encoding="utf-8")
    block = text.split("## IAM permissions", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    policy: dict[str, Any] = json.loads(block)
    return policy


def test_documented_caller_policy_is_clean_under_parliament() -> None:
    """The IAM policy docs/preflight.md gives the caller has no parliament finding."""
    findings = analyze_policy_string(json.dumps(documented_policy())).findings
    assert [str(f) for f in findings] == []


def test_documented_caller_policy_allows_every_call(aws: FakeAws, tmp_path: Path) -> None:
    """Every AWS operation of a full preflight (key, grants, both principals) is granted in
    docs/preflight.md."""
    config = write_config(tmp_path, customerManagedKey=True)
    target = target_of(config, deployed=True, key_arn=KEY_ARN)
    stub_key(aws)
    without_key = role_policy(a for a in required_access(target) if a.check != "kms-key")
    aws.ready(target, without_key)
    aws["kms"].add_response("list_grants", {"Grants": [], "Truncated": False})
    result = aws.invoke("--config", config, "--outputs", write_outputs(tmp_path))
    assert result.exit_code == ExitCode.FAILED, result.output
    allowed: set[str] = set()
    for statement in documented_policy()["Statement"]:
        actions = statement["Action"]
        allowed |= {actions} if isinstance(actions, str) else set(actions)
    assert "iam:SimulatePrincipalPolicy" in aws.calls
    assert "kms:ListGrants" in aws.calls
    # GetCallerIdentity needs no permission: STS answers it for any valid credentials.
    assert aws.calls - allowed == {"sts:GetCallerIdentity"}
