"""Evaluate IAM requests against policy documents with a real IAM policy evaluator.

The evaluator is ``@cloud-copilot/iam-simulate`` (npm, pinned in
``tests/infra/iam_simulate/package.json``; ``scripts/bootstrap`` installs it). It implements
AWS's evaluation logic with every condition operator, and validates each request: the action
exists, the resource ARN is of a type the action takes, and each context key applies to the
action (a key it ignores is reported, so the model cannot pass keys AWS would not send).
moto's evaluator was not enough: it checks ``StringEquals`` only and ignores other operators.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.infra.iam_model import Request

TOOL_DIR: Final = Path(__file__).resolve().parent / "iam_simulate"
SCRIPT: Final = TOOL_DIR / "evaluate.mjs"
ACCOUNT: Final = "123456789012"


class EvaluatorMissingError(RuntimeError):
    """node or the pinned evaluator is not installed."""


@dataclass(frozen=True)
class Decision:
    request: Request
    result: str
    """``Allowed``, ``ImplicitlyDenied``, ``ExplicitlyDenied`` or ``Error``."""
    ignored_context_keys: tuple[str, ...]
    errors: Any

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (TOOL_DIR / "node_modules" / "@cloud-copilot").is_dir():
        raise EvaluatorMissingError(
            "the IAM evaluator is not installed: run scripts/bootstrap (needs node and npm)"
        )
    return node


def _identity(request: Request) -> tuple[Any, ...]:
    return (
        request.principal,
        request.action,
        request.resource,
        tuple(sorted(request.context.items())),
    )


def evaluate(
    requests: Sequence[Request],
    identity_policies: Mapping[str, Mapping[str, Any]],
    resource_policies: Mapping[str, Mapping[str, Any]] | None = None,
    principal_arns: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
) -> list[Decision]:
    """One decision per request. ``identity_policies`` maps a principal (``job``) to its
    policy document; ``resource_policies`` maps a resource ARN prefix (a bucket ARN) to the
    policy on that resource; ``context`` is added to every request (e.g. aws:SecureTransport).
    """
    arns = principal_arns or {}
    # Many requests repeat (each probe HEADs the same markers): evaluate each once.
    unique: dict[tuple[Any, ...], int] = {}
    cases: list[dict[str, Any]] = []
    for request in requests:
        identity = _identity(request)
        if identity in unique:
            continue
        unique[identity] = len(cases)
        resource_policy = next(
            (
                policy
                for prefix, policy in (resource_policies or {}).items()
                if request.resource == prefix or request.resource.startswith(f"{prefix}/")
            ),
            None,
        )
        policy = identity_policies.get(request.principal)
        cases.append(
            {
                "id": unique[identity],
                "principal": arns.get(
                    request.principal, f"arn:aws:iam::{ACCOUNT}:role/{request.principal}"
                ),
                "action": request.action,
                "resource": request.resource,
                "accountId": ACCOUNT,
                "context": {**(context or {}), **request.context},
                "identityPolicies": [] if policy is None else [{"name": "p", "policy": policy}],
                "resourcePolicy": resource_policy,
            }
        )
    completed = subprocess.run(
        [_node(), str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=TOOL_DIR,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the IAM evaluator failed:\n{completed.stderr}")
    answers = {answer["id"]: answer for answer in json.loads(completed.stdout)}
    decisions = []
    for request in requests:
        answer = answers[unique[_identity(request)]]
        decisions.append(
            Decision(
                request=request,
                result=answer["result"],
                ignored_context_keys=tuple(answer["ignoredContextKeys"]),
                errors=answer["errors"],
            )
        )
    return decisions
