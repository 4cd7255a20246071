"""The GitHub workflows are valid, and hold the deployment guardrails the schema cannot see.

Schema validation uses check-jsonschema's vendored GitHub workflow schema, offline.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))
PULUMI_ACTION = "pulumi/actions@"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})

# The role variable each GitHub environment sets (docs/stack-management.md, "One-time CI
# setup"). Pull-request environments never get the deploy role.
ROLE_VARIABLE = {
    "preview": "AWS_PREVIEW_ROLE_ARN",
    "review": "AWS_REVIEW_ROLE_ARN",
    "dev": "AWS_DEPLOY_ROLE_ARN",
    "production": "AWS_DEPLOY_ROLE_ARN",
}
PULL_REQUEST_ENVIRONMENTS = frozenset({"preview", "review"})
DEPLOY_ROLE_VARIABLE = "AWS_DEPLOY_ROLE_ARN"
# Any use of the secrets context except the per-run GITHUB_TOKEN.
_SECRET_RE = re.compile(r"\bsecrets\b(?!\.GITHUB_TOKEN\b)")
# `pulumi <command>` anywhere in a script, also inside `$( )` or after `if`.
_PULUMI_CLI_RE = re.compile(r"(?<![\w./-])pulumi\s+([a-z]+)")
PREFLIGHT = '.venv/bin/spotify-ops preflight --stack "$STACK"'
CREATE_STACK = 'pulumi stack select --create "$STACK"'


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


def triggers(document: dict[Any, Any]) -> set[str]:
    on = document[True]  # YAML 1.1 reads the key `on` as True
    return {on} if isinstance(on, str) else set(on)


def environment_of(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, dict):
        return str(environment["name"])
    return None if environment is None else str(environment)


def credential_problems(document: dict[Any, Any]) -> list[str]:
    """Where a workflow hands out credentials it should not.

    Secrets come only from GitHub environments: a job that reads a secret (other than the
    per-run GITHUB_TOKEN) names an environment, and no workflow-level `env` reads one. Each
    job assumes the AWS role of its environment. Pull-request workflows use only the
    `preview` and `review` environments and never mention the deploy role.
    """
    problems = []
    if _SECRET_RE.search(yaml.safe_dump(document.get("env", {}))):
        problems.append("workflow-level env reads a secret, so every job would get it")
    pull_request = bool(triggers(document) & PULL_REQUEST_EVENTS)
    if pull_request and DEPLOY_ROLE_VARIABLE in yaml.safe_dump(document):
        problems.append(f"a pull-request workflow mentions {DEPLOY_ROLE_VARIABLE}")
    for job_id, job in document["jobs"].items():
        environment = environment_of(job)
        if environment is None and _SECRET_RE.search(yaml.safe_dump(job)):
            problems.append(f"{job_id}: reads a repository-wide secret (no environment)")
        if pull_request and environment not in (None, *PULL_REQUEST_ENVIRONMENTS):
            problems.append(f"{job_id}: a pull-request job uses environment {environment!r}")
        for step in steps_using(job, AWS_CREDENTIALS_ACTION):
            role = str(step.get("with", {}).get("role-to-assume", ""))
            expected = ROLE_VARIABLE.get(environment or "")
            if expected is None or role != f"${{{{ vars.{expected} }}}}":
                problems.append(f"{job_id}: assumes {role} in environment {environment!r}")
    return problems


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]


def step_index(job: dict[str, Any], predicate: Any) -> int:
    """Index of the first step for which ``predicate(step)`` holds; -1 when none does."""
    return next((i for i, step in enumerate(job["steps"]) if predicate(step)), -1)


def is_up(step: dict[str, Any]) -> bool:
    if str(step.get("uses", "")).startswith(PULUMI_ACTION):
        return step.get("with", {}).get("command") in ("up", "update")
    return any(
        line.strip().startswith("pulumi up") for line in str(step.get("run", "")).splitlines()
    )


def runs(text: str) -> Any:
    return lambda step: text in str(step.get("run", ""))


def command_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's pulumi/actions steps that run a command (the others only install the CLI)."""
    return [s for s in steps_using(job, PULUMI_ACTION) if "command" in s.get("with", {})]


def pulumi_commands(job: dict[str, Any]) -> list[str]:
    """The Pulumi commands a job runs, through the action or the CLI."""
    commands = [str(s["with"]["command"]) for s in command_steps(job)]
    for step in job.get("steps", []):
        commands += _PULUMI_CLI_RE.findall(str(step.get("run", "")))
    return commands


def test_every_pulumi_action_installs_the_cli_of_the_pinned_sdk():
    """Every pulumi/actions step installs the CLI of the Pulumi SDK's version in
    constraints.txt (without `pulumi-version` the action installs the newest 3.x), named once
    per workflow (`PULUMI_VERSION`), with the action's v7 release (Node 24)."""
    pin = re.search(r"^pulumi==(\S+)$", (REPO_ROOT / "constraints.txt").read_text(), re.M)
    assert pin is not None
    for path in WORKFLOWS:
        assert str(load(path)["env"]["PULUMI_VERSION"]) == pin.group(1), path.name
    steps = [(w, j, s) for w, j, job in jobs() for s in steps_using(job, PULUMI_ACTION)]
    assert len(steps) == 9
    for workflow, job_id, step in steps:
        assert step["uses"] == "pulumi/actions@v7", f"{workflow}:{job_id}"
        assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}", f"{workflow}:{job_id}"


def test_there_are_workflows_for_pull_requests_clean_up_and_main():
    """Pull requests, closed pull requests and pushes to main each have a workflow."""
    triggers = {path.name: load(path)[True] for path in WORKFLOWS}  # YAML 1.1 reads `on` as True
    assert triggers["pull-request.yml"]["pull_request"]["types"] == [
        "opened",
        "synchronize",
        "reopened",
    ]
    assert triggers["review-stack-cleanup.yml"]["pull_request"]["types"] == ["closed"]
    assert triggers["deploy.yml"]["push"]["branches"] == ["main"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflow_matches_the_github_schema(path: Path):
    """Every workflow validates against the GitHub workflow JSON schema."""
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("typo", "complaint"),
    [
        ("runs-on", "runs_on"),
        ("timeout-minutes", "timeout-minute"),
        ("cancel-in-progress", "cancel-in-progres"),
    ],
)
def test_schema_check_fails_on_a_typo(tmp_path: Path, typo: str, complaint: str):
    """The same check rejects a copy of a real workflow with one key misspelt."""
    source = (REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    assert f"{typo}:" in source
    broken = tmp_path / "deploy.yml"
    broken.write_text(source.replace(f"{typo}:", f"{complaint}:", 1), encoding="utf-8")
    result = validate(broken)
    assert result.returncode == 1, result.stdout
    assert complaint in result.stdout


def test_every_preview_and_update_applies_the_policy_pack():
    """No preview or up runs without the guardrails."""
    checked = 0
    for workflow, job_id, job in jobs():
        for step in steps_using(job, PULUMI_ACTION):
            command = step.get("with", {}).get("command")
            if command in ("preview", "up", "update"):
                checked += 1
                assert step["with"].get("policyPacks") == "policy", f"{workflow}:{job_id}"
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                if line.strip().startswith(("pulumi up", "pulumi preview")):
                    checked += 1
                    assert "--policy-pack policy" in line, f"{workflow}:{job_id}: {line}"
    assert checked == 4  # the preview step (run per matrix stack), review up, dev up, prod up
    assert (REPO_ROOT / "policy" / "PulumiPolicy.yaml").is_file()


def test_every_update_refreshes_first():
    """Every up reads the stack back first: the job moves the catalog table to each published
    run, and the program ignores changes to that location only when the state holds it."""
    ups = [
        (f"{workflow}:{job_id}", step)
        for workflow, job_id, job in jobs()
        for step in job.get("steps", [])
        if is_up(step)
    ]
    assert len(ups) == 3  # review, dev and prod
    for where, step in ups:
        refreshed = step.get("with", {}).get("refresh") is True or "--refresh" in str(
            step.get("run", "")
        )
        assert refreshed, f"{where}: pulumi up without refresh"


def test_no_workflow_hands_out_repository_wide_or_deploy_credentials():
    """Secrets come only from environments, each job assumes its environment's role, and
    pull-request workflows reach neither the deploy role nor the dev/production
    environments."""
    checked = {path.name: credential_problems(load(path)) for path in WORKFLOWS}
    assert checked == {path.name: [] for path in WORKFLOWS}


def _pull_request_workflow() -> dict[Any, Any]:
    return load(REPO_ROOT / ".github" / "workflows" / "pull-request.yml")


def _break_review_job(document: dict[Any, Any], how: str) -> None:
    review = document["jobs"]["review"]
    if how == "no environment":
        del review["environment"]
    elif how == "deploy role":
        (step,) = steps_using(review, AWS_CREDENTIALS_ACTION)
        step["with"]["role-to-assume"] = "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    elif how == "dev environment":
        review["environment"] = "dev"
    elif how == "workflow-level token":
        document["env"]["PULUMI_ACCESS_TOKEN"] = "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    elif how == "bracket syntax":
        del review["environment"]
        review["env"] = {"TOKEN": "${{ secrets['PULUMI_ACCESS_TOKEN'] }}"}


@pytest.mark.parametrize(
    ("how", "complaint"),
    [
        ("no environment", "repository-wide secret"),
        ("deploy role", "AWS_DEPLOY_ROLE_ARN"),
        ("dev environment", "environment 'dev'"),
        ("workflow-level token", "workflow-level env"),
        ("bracket syntax", "repository-wide secret"),
    ],
)
def test_credential_check_catches_a_pull_request_job_with_deploy_credentials(
    how: str, complaint: str
):
    """The same check fails on a copy of the pull-request workflow that gives the review job
    a repository-wide token, the deploy role or the dev environment."""
    document = copy.deepcopy(_pull_request_workflow())
    _break_review_job(document, how)
    problems = credential_problems(document)
    assert any(complaint in problem for problem in problems), problems


def test_previews_cannot_change_a_stack():
    """The preview job runs only `pulumi preview` and a plain stack lookup: no up, refresh,
    destroy, import, state edit or stack creation, whatever its credentials would allow."""
    preview = _pull_request_workflow()["jobs"]["preview"]
    assert environment_of(preview) == "preview"
    assert sorted(pulumi_commands(preview)) == ["preview", "stack"]
    script = "\n".join(str(s.get("run", "")) for s in preview["steps"])
    assert 'pulumi stack select "$STACK"' in script
    assert "--create" not in script
    (step,) = command_steps(preview)
    assert step["if"] == "steps.stack.outputs.exists == 'true'"


def update_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for workflow, job_id, job in jobs():
        if step_index(job, is_up) >= 0:
            yield workflow, job_id, job


def test_every_update_creates_its_stack_when_missing_and_checks_prerequisites_first():
    """Before `up`, each job creates its stack if missing and runs the preflight, in that
    order, on the stack the up targets."""
    stacks = {}
    for workflow, job_id, job in update_jobs():
        up = step_index(job, is_up)
        create = step_index(job, runs(CREATE_STACK))
        preflight = step_index(job, runs(PREFLIGHT))
        assert 0 <= create < preflight < up, f"{workflow}:{job_id}"
        assert job["steps"][up]["with"]["stack-name"] == "${{ env.STACK }}", job_id
        stacks[f"{workflow}:{job_id}"] = job["env"]["STACK"]
    assert stacks == {
        "deploy.yml:dev": "dev",
        "deploy.yml:prod": "prod",
        "pull-request.yml:review": "pr-${{ github.event.pull_request.number }}",
    }
    review = _pull_request_workflow()["jobs"]["review"]
    assert step_index(review, runs("stack-config")) < step_index(review, runs(CREATE_STACK))


def test_preflight_check_catches_an_up_without_preflight():
    """The ordering check fails on a deploy job whose preflight step was removed."""
    dev = copy.deepcopy(load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["dev"])
    dev["steps"] = [s for s in dev["steps"] if PREFLIGHT not in str(s.get("run", ""))]
    assert step_index(dev, runs(PREFLIGHT)) == -1 < step_index(dev, is_up)


def _expand(expression: str, matrix: dict[str, str]) -> str:
    for key, value in matrix.items():
        expression = expression.replace(f"${{{{ matrix.{key} }}}}", value)
    return expression


def test_a_preview_waits_for_the_deploy_of_its_stack():
    """Previews of dev and prod join the deploy job's concurrency group of the same stack,
    none of them cancels a running job, and every waiting job is kept (`queue: max`), so a
    preview never meets a running update (409) and never cancels a waiting deploy."""
    deploy = load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    preview = _pull_request_workflow()["jobs"]["preview"]
    for stack, job_id in (("dev", "dev"), ("prod", "prod")):
        group = _expand(preview["concurrency"]["group"], {"stack": stack})
        assert group == deploy[job_id]["concurrency"]["group"] == f"pulumi-{stack}"
        for job in (preview, deploy[job_id]):
            assert job["concurrency"]["cancel-in-progress"] is False
            assert job["concurrency"]["queue"] == "max"


def test_cloud_credentials_come_from_oidc_only():
    """AWS credentials are assumed through OIDC; no access keys appear in any workflow."""
    for workflow, job_id, job in jobs():
        for step in steps_using(job, AWS_CREDENTIALS_ACTION):
            assert "role-to-assume" in step["with"], f"{workflow}:{job_id}"
            assert job["permissions"]["id-token"] == "write", f"{workflow}:{job_id}"
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8").lower()
        for secret in ("aws-access-key-id", "aws_access_key_id", "aws-secret-access-key"):
            assert secret not in text, f"{path.name} mentions {secret}"


def test_jobs_that_change_a_stack_are_serialised_per_stack():
    """Every job that runs up or destroy has a concurrency group naming its stack, never
    cancels a running update, and keeps every waiting job (`queue: max`): by default a job
    queued later cancels the one waiting, so a review job queued after a clean-up would cancel
    the clean-up and leave the closed pull request's stack behind."""
    groups: dict[str, str] = {}
    for workflow, job_id, job in jobs():
        commands = pulumi_commands(job)
        if not {"up", "destroy"} & set(commands):
            continue
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{workflow}:{job_id}"
        assert concurrency.get("queue") == "max", f"{workflow}:{job_id}"
        groups[f"{workflow}:{job_id}"] = concurrency["group"]
    assert groups == {
        "pull-request.yml:review": "pulumi-pr-${{ github.event.pull_request.number }}",
        "review-stack-cleanup.yml:destroy": "pulumi-pr-${{ github.event.pull_request.number }}",
        "deploy.yml:dev": "pulumi-dev",
        "deploy.yml:prod": "pulumi-prod",
    }


def test_prod_waits_for_dev_and_for_approval():
    """prod deploys only after dev is deployed and verified, in the approval-gated environment."""
    deploy = load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert deploy["prod"]["needs"] == "dev"
    assert deploy["prod"]["environment"] == "production"
    assert deploy["dev"]["needs"] == "test"
    dev_runs = [str(s.get("run", "")) for s in deploy["dev"]["steps"]]
    assert any("spotify-ops verify --stack dev --run" in run for run in dev_runs)


def test_review_stack_is_deployed_verified_and_removed():
    """The review job writes the stack config, deploys, verifies with --run and comments; the
    clean-up job destroys and removes the same stack."""
    pr = load(REPO_ROOT / ".github" / "workflows" / "pull-request.yml")["jobs"]
    review = pr["review"]
    assert review["env"]["STACK"] == "pr-${{ github.event.pull_request.number }}"
    runs = "\n".join(str(s.get("run", "")) for s in review["steps"])
    assert 'spotify-ops stack-config "$STACK" --from dev --write' in runs
    assert 'spotify-ops verify --stack "$STACK" --run' in runs
    assert "pulumi stack output --json" in runs
    assert steps_using(review, "actions/github-script@")

    cleanup = load(REPO_ROOT / ".github" / "workflows" / "review-stack-cleanup.yml")["jobs"]
    destroy = cleanup["destroy"]
    assert destroy["env"]["STACK"] == review["env"]["STACK"]
    script = "\n".join(str(s.get("run", "")) for s in destroy["steps"])
    assert 'spotify-ops stack-config "$STACK" --from dev --write' in script
    assert 'pulumi destroy --yes --skip-preview --stack "$STACK"' in script
    assert 'pulumi stack rm --yes "$STACK"' in script
    assert script.index("pulumi destroy") < script.index("pulumi stack rm")


def test_a_review_job_that_starts_after_its_pull_request_closed_changes_nothing():
    """GitHub does not stop a waiting run when its pull request closes, so the review job's
    first step asks whether the pull request is still open, and every later step runs only
    if it is (or only after the update ran)."""
    review = _pull_request_workflow()["jobs"]["review"]
    first, *later = review["steps"]
    assert first["id"] == "open"
    assert "gh pr view" in first["run"]
    assert "--json state" in first["run"]
    guard = "steps.open.outputs.open == 'true'"
    after_up = "steps.up.outcome == 'success'"
    for step in later:
        condition = str(step.get("if", ""))
        assert guard in condition or after_up in condition, step.get("name", step.get("uses"))


def test_clean_up_fails_unless_the_stack_is_truly_missing():
    """Only Pulumi's "no stack named" means there is nothing to remove; any other failure to
    select the stack (a bad token, an outage) fails the clean-up instead of passing green."""
    cleanup = load(REPO_ROOT / ".github" / "workflows" / "review-stack-cleanup.yml")["jobs"]
    script = "\n".join(str(s.get("run", "")) for s in cleanup["destroy"]["steps"])
    nothing = script.index("nothing to remove")
    assert 'grep -q "no stack named"' in script[:nothing]
    assert "exit 1" in script[nothing : script.index("pulumi destroy")]


def test_previews_cover_dev_and_prod_and_comment_on_the_pull_request():
    """Both long-lived stacks are previewed, each with its diff posted to the pull request."""
    preview = load(REPO_ROOT / ".github" / "workflows" / "pull-request.yml")["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (step,) = command_steps(preview)
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert preview["permissions"]["pull-requests"] == "write"


def test_tests_run_the_readme_command():
    """CI runs scripts/test, the same command developers run."""
    for workflow, job_id, job in jobs():
        if job_id == "test":
            assert [s.get("run") for s in job["steps"] if "run" in s] == ["scripts/test"], workflow
    assert (REPO_ROOT / "scripts" / "test").is_file()
