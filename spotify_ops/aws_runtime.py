"""What every command that calls AWS shares: clients made on demand, the runtime tests
replace, and the mapping of the errors that stop a command to an exit code and one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

import boto3
import typer
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from spotify_glue.gate import GateError

from spotify_ops.athena import QueryFailedError
from spotify_ops.exit_codes import ExitCode
from spotify_ops.glue_runner import PipelineBusyError, PipelineFailedError
from spotify_ops.polling import Clock, SystemClock, WaitTimeoutError, error_code, error_message
from spotify_ops.stack_outputs import OutputsError

ProfileOption = Annotated[
    str | None, typer.Option(help="AWS profile (else the usual AWS environment).")
]
"""``--profile`` of every command that calls AWS; the profile goes to :meth:`Runtime.clients`."""

ClientFactory = Callable[[str], Any]
"""Service name ("athena", "glue", "s3") to a boto3 client."""

ClientFactoryBuilder = Callable[[str, str | None], ClientFactory]
"""(region, profile) to a ClientFactory."""

RETRY_CONFIG: Final = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra="spotify-ops-verify",
)
"""Adaptive mode backs off and rate-limits the client itself when AWS throttles."""


def boto3_clients(region: str, profile: str | None) -> ClientFactory:
    """Clients for the stack's region, created on demand (never at import)."""
    session = boto3.session.Session(profile_name=profile, region_name=region)

    def client(service: str) -> Any:
        return session.client(service, config=RETRY_CONFIG)

    return client


@dataclass(frozen=True)
class Runtime:
    """What a command talks to. The CLI uses the defaults; tests pass their own through
    the click context object (``CliRunner.invoke(app, args, obj=Runtime(...))``)."""

    clients: ClientFactoryBuilder = boto3_clients
    clock: Clock = field(default_factory=SystemClock)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` to (bucket, key)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


# --- errors to exit codes ------------------------------------------------------------------------

_CREDENTIAL_CODES: Final = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)

ACCESS_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException"})
"""AWS error codes that mean the credentials lack a permission."""

_NO_CREDENTIALS: Final = (
    "no usable AWS credentials were found; set AWS_PROFILE (or --profile), run "
    "`aws sso login`, or give the CI job a role (e.g. OIDC) before running verify"
)


def classify_error(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and a one-line message for an error that stops verification; None for
    anything unexpected (a bug, which should surface with its traceback).

    Messages use AWS's error code and message only, never the response or the credentials."""
    if isinstance(exc, OutputsError | GateError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, ProfileNotFound):
        return ExitCode.USAGE, (
            f"AWS profile {exc.kwargs.get('profile')!r} is not configured; "
            "check --profile or AWS_PROFILE (`aws configure list-profiles`)"
        )
    if isinstance(exc, NoRegionError):
        return ExitCode.USAGE, "no AWS region; the stack's 'region' output should set it"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return ExitCode.ENVIRONMENT, _NO_CREDENTIALS
    if isinstance(exc, PipelineFailedError):
        return ExitCode.FAILED, str(exc)
    if isinstance(exc, QueryFailedError):
        if exc.system:
            return ExitCode.ENVIRONMENT, f"{exc} (an Athena-side error; retry later)"
        return ExitCode.FAILED, str(exc)
    if isinstance(exc, WaitTimeoutError | PipelineBusyError):
        return ExitCode.ENVIRONMENT, str(exc)
    if isinstance(exc, ClientError):
        code, message = error_code(exc), error_message(exc)
        where = f"{exc.operation_name} returned {code}: {message}"
        if code in _CREDENTIAL_CODES:
            return ExitCode.ENVIRONMENT, f"AWS rejected the credentials ({where}); refresh them"
        if code in ACCESS_DENIED_CODES:
            return ExitCode.ENVIRONMENT, (
                f"access denied ({where}); the verifier's IAM permissions are listed in "
                "docs/verify.md"
            )
        return ExitCode.ENVIRONMENT, f"AWS error: {where}"
    if isinstance(exc, BotoCoreError):
        return ExitCode.ENVIRONMENT, f"could not complete an AWS call: {exc}"
    return None


def error_json(code: ExitCode, message: str) -> dict[str, Any]:
    """The machine-readable form of an error that stopped a command."""
    return {"passed": False, "exit_code": int(code), "error": message}
