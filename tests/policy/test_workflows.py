"""The GitHub workflows are valid, and hold the deployment guardrails the schema cannot see.

Schema validation uses check-jsonschema's vendored GitHub workflow schema, offline.
"""

from __future__ import annotations

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


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]


def pulumi_commands(job: dict[str, Any]) -> list[str]:
    """The Pulumi commands a job runs, through the action or the CLI."""
    commands = [str(s["with"]["command"]) for s in steps_using(job, PULUMI_ACTION) if "with" in s]
    for step in job.get("steps", []):
        for line in str(step.get("run", "")).splitlines():
            words = line.split()
            if len(words) > 1 and words[0] == "pulumi":
                commands.append(words[1])
    return commands


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
    """Every job that runs up or destroy has a concurrency group naming its stack and never
    cancels a running update."""
    groups: dict[str, str] = {}
    for workflow, job_id, job in jobs():
        commands = pulumi_commands(job)
        if not {"up", "destroy"} & set(commands):
            continue
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{workflow}:{job_id}"
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
    assert 'spotify-ops stack-config "$STACK" --write' in runs
    assert 'spotify-ops verify --stack "$STACK" --run' in runs
    assert "pulumi stack output --json" in runs
    assert steps_using(review, "actions/github-script@")

    cleanup = load(REPO_ROOT / ".github" / "workflows" / "review-stack-cleanup.yml")["jobs"]
    destroy = cleanup["destroy"]
    assert destroy["env"]["STACK"] == review["env"]["STACK"]
    script = "\n".join(str(s.get("run", "")) for s in destroy["steps"])
    assert 'pulumi destroy --yes --skip-preview --stack "$STACK"' in script
    assert 'pulumi stack rm --yes "$STACK"' in script
    assert script.index("pulumi destroy") < script.index("pulumi stack rm")


def test_previews_cover_dev_and_prod_and_comment_on_the_pull_request():
    """Both long-lived stacks are previewed, each with its diff posted to the pull request."""
    preview = load(REPO_ROOT / ".github" / "workflows" / "pull-request.yml")["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (step,) = steps_using(preview, PULUMI_ACTION)
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert preview["permissions"]["pull-requests"] == "write"


def test_tests_run_the_readme_command():
    """CI runs scripts/test, the same command developers run."""
    for workflow, job_id, job in jobs():
        if job_id == "test":
            assert [s.get("run") for s in job["steps"] if "run" in s] == ["scripts/test"], workflow
    assert (REPO_ROOT / "scripts" / "test").is_file()
