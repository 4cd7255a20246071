"""`spotify-ops stack-config` makes valid configs for new environments and review stacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.config import KNOWN_KEYS, NAMESPACE, load_stack_config
from spotify_ops.cli import app
from spotify_ops.stacks import (
    StackConfigError,
    StackKind,
    StackNameError,
    build_stack_config,
    read_base_config,
    review_stack_name,
    stack_files,
    stack_kind,
)
from tests.cli.conftest import deny_reading
from tests.infra.harness import stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_BASE = {
    "aws:region": "eu-west-1",
    "spotify-pipeline:uploadSampleData": True,
    "spotify-pipeline:schedule": "cron(0 6 * * ? *)",
    "spotify-pipeline:quicksightEnabled": True,
    "spotify-pipeline:quicksightPrincipals": [
        "arn:aws:quicksight:eu-west-1:123456789012:group/default/analysts"
    ],
    "spotify-pipeline:customerManagedKey": True,
    "spotify-pipeline:numberOfWorkers": 4,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: spotify-pipeline\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        yaml.safe_dump({"config": DEV_BASE}), encoding="utf-8"
    )
    return tmp_path


def _pipeline_keys(config: dict[str, object]) -> dict[str, object]:
    prefix = "spotify-pipeline:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pr-1", StackKind.REVIEW),
        ("pr-123456", StackKind.REVIEW),
        ("prod", StackKind.PROD),
        ("dev", StackKind.ENVIRONMENT),
        ("staging", StackKind.ENVIRONMENT),
        ("perf-2", StackKind.ENVIRONMENT),
        ("production", StackKind.ENVIRONMENT),
    ],
)
def test_valid_names_have_a_kind(name: str, kind: StackKind):
    """Review stacks are pr-<number>, prod is prod, anything else valid is an environment."""
    assert stack_kind(name) is kind


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("pr-", "reserved for review stacks"),
        ("pr-042", "no leading zeros"),
        ("pr-0", "no leading zeros"),
        ("pr-12a", "reserved for review stacks"),
        ("pr-feature", "reserved for review stacks"),
        ("Staging", "lowercase letter"),
        ("2024", "start with a lowercase letter"),
        ("dev-", "inner hyphens"),
        ("dev_eu", "inner hyphens"),
        ("", "lowercase letter"),
        ("a-very-long-environment", "limit is 20"),
    ],
)
def test_bad_names_are_rejected_naming_the_rule(name: str, rule: str):
    """A bad stack name fails with the rule it breaks."""
    with pytest.raises(StackNameError, match=rule):
        stack_kind(name)


def test_review_stack_name_comes_from_the_pull_request_number():
    """PR 42's review stack is pr-42; there is no PR 0."""
    assert review_stack_name(42) == "pr-42"
    with pytest.raises(StackNameError, match="1 or more"):
        review_stack_name(0)


def test_review_stack_is_ephemeral_and_loads_sample_data():
    """A review stack force-destroys, uploads sample data, is unprotected, has no CMK,
    QuickSight or schedule, and keeps the base's region."""
    file = build_stack_config("pr-42", DEV_BASE, "dev")
    keys = _pipeline_keys(file.config)
    assert file.kind is StackKind.REVIEW
    assert file.config["aws:region"] == "eu-west-1"
    assert keys["environment"] == "pr-42"
    assert keys["forceDestroy"] is True
    assert keys["uploadSampleData"] is True
    assert keys["protectData"] is False
    assert keys["customerManagedKey"] is False
    assert keys["quicksightEnabled"] is False
    assert "schedule" not in keys
    assert "quicksightPrincipals" not in keys
    assert keys["numberOfWorkers"] == 2

    loaded = load_stack_config("pr-42", keys)
    assert loaded.force_destroy
    assert loaded.upload_sample_data
    assert not loaded.protect_data


def test_prod_config_protects_data_and_never_force_destroys():
    """prod made from dev turns protection on and sample data and force-destroy off."""
    file = build_stack_config("prod", DEV_BASE, "dev")
    loaded = load_stack_config("prod", _pipeline_keys(file.config))
    assert loaded.protect_data is True
    assert loaded.force_destroy is False
    assert loaded.upload_sample_data is False


def test_plain_environment_copies_the_base_and_drops_sample_data():
    """A new long-lived environment keeps the base's sizing and schedule, without sample data,
    and is protected only on request."""
    file = build_stack_config("staging", DEV_BASE, "dev")
    keys = _pipeline_keys(file.config)
    assert keys["numberOfWorkers"] == 4
    assert keys["schedule"] == "cron(0 6 * * ? *)"
    assert keys["uploadSampleData"] is False
    assert load_stack_config("staging", keys).protect_data is False
    protected = build_stack_config("staging", DEV_BASE, "dev", protect=True)
    assert load_stack_config("staging", _pipeline_keys(protected.config)).protect_data is True


def test_changed_keys_list_every_difference_from_the_base():
    """The summary names exactly the keys that differ from the base, removed ones included."""
    file = build_stack_config("pr-7", DEV_BASE, "dev")
    differing = {
        key for key in {*DEV_BASE, *file.config} if DEV_BASE.get(key) != file.config.get(key)
    }
    assert set(file.changed) == differing
    assert "spotify-pipeline:schedule" in file.changed
    assert "aws:region" not in file.changed


def test_secrets_of_the_base_are_reported_not_copied():
    """A secret is encrypted for its own stack, so it is listed for the operator to set."""
    base = {**DEV_BASE, "aws:secretKey": {"secure": "v1:abc"}}
    file = build_stack_config("pr-3", base, "dev")
    assert "aws:secretKey" not in file.config
    assert file.skipped_secrets == ("aws:secretKey",)
    assert "pulumi config set --secret" in file.render()


def test_a_value_holding_a_secret_deep_inside_is_reported_not_copied():
    """A structured value with a secret inside (an assumed role's external id, say) holds
    the source stack's ciphertext just the same: listed, not copied."""
    role = [{"roleArn": "arn:aws:iam::123456789012:role/x", "externalId": {"secure": "v1:abc"}}]
    base = {**DEV_BASE, "aws:assumeRoles": role}
    file = build_stack_config("pr-3", base, "dev")
    assert "aws:assumeRoles" not in file.config
    assert file.skipped_secrets == ("aws:assumeRoles",)
    (hint,) = file.secret_hints()
    assert hint == (
        "aws:assumeRoles: `pulumi config set --path` for each of its values, with "
        "`pulumi config set --path --secret 'aws:assumeRoles[0].externalId' ...`"
    )
    assert hint in file.render()


def test_protect_flag_is_refused_for_review_and_prod():
    """Protection is fixed for review stacks (never) and prod (always)."""
    with pytest.raises(StackConfigError, match="never protected"):
        build_stack_config("pr-1", DEV_BASE, "dev", protect=True)
    with pytest.raises(StackConfigError, match="always protected"):
        build_stack_config("prod", DEV_BASE, "dev", protect=False)


def test_a_base_that_would_not_deploy_is_refused():
    """A base value the program rejects is reported with the program's own message."""
    with pytest.raises(StackConfigError, match=r"would not deploy.*timeoutMinutes"):
        build_stack_config("pr-5", {**DEV_BASE, "spotify-pipeline:timeoutMinutes": 0}, "dev")
    with pytest.raises(StackConfigError, match="timeoutMinutes"):
        build_stack_config("staging", {**DEV_BASE, "spotify-pipeline:timeoutMinutes": 0}, "dev")


def test_missing_source_file_names_the_fix(project: Path):
    """Without the source stack's file the error names the file and the stacks to choose."""
    with pytest.raises(StackConfigError, match=r"no stack file Pulumi\.qa\.yaml.*one of: dev$"):
        read_base_config(project, "qa")


def test_a_source_stack_file_named_yml_is_read_and_named(project: Path):
    """Pulumi reads Pulumi.<stack>.yml as well, and --from offers it, so it is read, and the
    message names the file read."""
    (project / "Pulumi.qa.yml").write_text(yaml.safe_dump({"config": DEV_BASE}), encoding="utf-8")
    assert read_base_config(project, "qa") == DEV_BASE
    args = ["stack-config", "staging", "--from", "qa", "--write", "--project-dir", str(project)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "from Pulumi.qa.yml)" in result.stdout


def test_an_existing_yml_stack_file_is_not_written_beside(project: Path):
    """A stack whose config is Pulumi.<stack>.yml is refused without --force like a .yaml one,
    and replaced in place with it: never a second file for the same stack."""
    mine = project / "Pulumi.staging.yml"
    mine.write_text("config: {}\n", encoding="utf-8")
    args = ["stack-config", "staging", "--from", "dev", "--write", "--project-dir", str(project)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "Pulumi.staging.yml already exists" in refused.stderr
    assert mine.read_text(encoding="utf-8") == "config: {}\n"
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0
    assert not (project / "Pulumi.staging.yaml").exists()
    assert "made by `spotify-ops stack-config staging --from dev`" in mine.read_text("utf-8")


def test_the_header_names_the_source_stack():
    """The written file says which command and which source stack made it."""
    file = build_stack_config("staging", DEV_BASE, "prod")
    assert file.render().startswith(
        "# environment stack staging: made by `spotify-ops stack-config staging --from prod`\n"
    )


def test_cli_prints_a_review_config(project: Path):
    """The printed file is YAML with the config the program accepts."""
    result = CliRunner().invoke(
        app, ["stack-config", "pr-42", "--from", "dev", "--project-dir", str(project)]
    )
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    keys = _pipeline_keys(document["config"])
    assert keys["forceDestroy"] is True
    assert load_stack_config("pr-42", keys).environment == "pr-42"


def test_cli_writes_once_and_refuses_to_overwrite(project: Path):
    """--write creates Pulumi.<stack>.yaml; a second --write needs --force."""
    args = ["stack-config", "pr-9", "--from", "dev", "--write", "--project-dir", str(project)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    written = project / "Pulumi.pr-9.yaml"
    assert (
        yaml.safe_load(written.read_text(encoding="utf-8"))["config"][
            "spotify-pipeline:environment"
        ]
        == "pr-9"
    )
    assert "spotify-pipeline:forceDestroy" in first.stdout

    second = CliRunner().invoke(app, args)
    assert second.exit_code == 2
    assert "already exists" in second.stderr
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0


def test_cli_bad_name_exits_2_with_the_rule(project: Path):
    """A bad name is a usage error naming the rule, and nothing is written."""
    result = CliRunner().invoke(
        app, ["stack-config", "PR-1", "--from", "dev", "--write", "--project-dir", str(project)]
    )
    assert result.exit_code == 2
    assert "lowercase letter" in result.stderr
    assert not list(project.glob("Pulumi.PR*"))


@pytest.mark.parametrize("name", ["pr", "dev-2", "prod-eu"])
def test_cli_refuses_environments_under_another_roles_names(project: Path, name: str):
    """An environment named pr, dev-... or prod-... would get resource names the review, dev or
    prod CI role may change: a usage error in one line, and nothing is written."""
    result = CliRunner().invoke(
        app, ["stack-config", name, "--from", "dev", "--write", "--project-dir", str(project)]
    )
    assert result.exit_code == 2
    assert "belong to the CI roles of review stacks, dev and prod" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (project / f"Pulumi.{name}.yaml").exists()


def test_committed_dev_config_makes_a_deployable_review_stack():
    """The repository's own Pulumi.dev.yaml is a valid base for a review stack."""
    file = build_stack_config("pr-1", read_base_config(REPO_ROOT, "dev"), "dev")
    assert load_stack_config("pr-1", _pipeline_keys(file.config)).force_destroy is True


def test_cli_without_from_names_the_option_and_the_stacks(project: Path):
    """The source is never implied: without --from the command exits 2 with one line naming
    the option and the stacks that have a file, and writes nothing."""
    (project / "Pulumi.prod.yaml").write_text("config: {}\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["stack-config", "staging", "--write", "--project-dir", str(project)]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: say which stack's config staging starts from with --from <stack>, "
        "one of: dev, prod\n"
    )
    assert not (project / "Pulumi.staging.yaml").exists()


def test_cli_unknown_from_lists_the_choices(project: Path):
    """--from with a stack that has no file exits 2, listing the stacks that have one."""
    result = CliRunner().invoke(
        app, ["stack-config", "pr-4", "--from", "qa", "--project-dir", str(project)]
    )
    assert result.exit_code == 2
    assert "--from qa: no stack file Pulumi.qa.yaml" in result.stderr
    assert result.stderr.rstrip().endswith("one of: dev")
    assert "Traceback" not in result.output


UNUSABLE_SOURCES = [
    pytest.param(
        b"\xff\xfe",
        "cannot read config file '{path}': 'utf-8' codec can't decode byte 0xff",
        id="not-utf8",
    ),
    pytest.param(
        b"config:\n\tkey: 1\n",
        "config file '{path}' is not YAML: found character '\\t' that cannot start any token "
        "at line 2, column 1",
        id="not-yaml",
    ),
    pytest.param(b"- a list\n", "'{path}' has no 'config:' mapping", id="no-config"),
]


@pytest.mark.parametrize(("content", "message"), UNUSABLE_SOURCES)
def test_cli_unusable_from_file_is_one_line_as_preflight_says_it(
    project: Path, content: bytes, message: str
):
    """A --from stack file that is not UTF-8, not YAML or has no config mapping exits 2 with
    one line naming the file and the problem, the same words as `preflight --config` uses
    for that file; nothing is written."""
    path = project / "Pulumi.bin.yaml"
    path.write_bytes(content)
    before = sorted(project.iterdir())
    result = CliRunner().invoke(
        app, ["stack-config", "qa", "--from", "bin", "--project-dir", str(project), "--write"]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    expected = message.format(path=path)
    assert result.output.splitlines() == [result.output.strip()]
    assert result.output.startswith(f"error: --from bin: {expected}")
    assert sorted(project.iterdir()) == before
    preflight = CliRunner().invoke(app, ["preflight", "--config", str(path)])
    assert preflight.exit_code == 2, preflight.output
    assert expected in preflight.output


def test_cli_unreadable_from_file_is_one_line(project: Path, monkeypatch: pytest.MonkeyPatch):
    """A --from stack file that cannot be opened (permission denied) exits 2 with one line
    naming the file and the reason."""
    path = project / "Pulumi.dev.yaml"
    deny_reading(monkeypatch, path)
    result = CliRunner().invoke(
        app, ["stack-config", "qa", "--from", "dev", "--project-dir", str(project)]
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: --from dev: cannot read config file '{path}': [Errno 13] Permission denied: "
        f"'{path}'"
    )


def test_cli_from_prod_copies_prod():
    """--from picks the source: staging made from the repository's prod keeps prod's sizing
    and its protection."""
    result = CliRunner().invoke(
        app, ["stack-config", "staging", "--from", "prod", "--project-dir", str(REPO_ROOT)]
    )
    assert result.exit_code == 0, result.output
    keys = _pipeline_keys(yaml.safe_load(result.stdout)["config"])
    prod = _pipeline_keys(read_base_config(REPO_ROOT, "prod"))
    assert keys["workerType"] == prod["workerType"]
    assert keys["numberOfWorkers"] == prod["numberOfWorkers"]
    assert keys["protectData"] is True
    assert "--from prod" in result.stdout.splitlines()[0]


class _RecordingSource:
    """A config source that answers every key with "unset" and remembers what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get(self, key: str, /) -> object:
        self.asked.append(key)
        return None


def keys_the_program_reads() -> set[str]:
    """The keys infra/config.py reads, found by running its loader on a recording source."""
    source = _RecordingSource()
    load_stack_config("dev", source, present_keys=())
    return set(source.asked)


COMMITTED_STACKS = stack_files(REPO_ROOT)


def test_the_recording_source_sees_the_loader_read():
    """The recorder finds the keys, gate thresholds and QuickSight principals included, and
    every key it finds may be set in a stack file."""
    read = keys_the_program_reads()
    assert {"workerType", "gateMinRows", "quicksightPrincipals", "environment"} <= read
    assert read <= KNOWN_KEYS


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_committed_stack_file_lists_every_key_the_program_reads(stack: str):
    """Each committed Pulumi.<stack>.yaml sets exactly the keys the program reads, so its
    header's promise (every key is listed) holds."""
    config = read_base_config(REPO_ROOT, stack)
    listed = {k.removeprefix(f"{NAMESPACE}:") for k in config if k.startswith(f"{NAMESPACE}:")}
    expected = keys_the_program_reads() | KNOWN_KEYS
    assert sorted(expected - listed) == [], f"Pulumi.{stack}.yaml misses keys"
    assert sorted(listed - expected) == [], f"Pulumi.{stack}.yaml sets unknown keys"


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_committed_stack_file_loads_as_pulumi_passes_it(stack: str):
    """Every listed value passes the program's validation in the string form Pulumi passes,
    and the empty schedule means on demand."""
    prefix = f"{NAMESPACE}:"
    values = {
        k.removeprefix(prefix): v for k, v in stack_config(stack).items() if k.startswith(prefix)
    }
    loaded = load_stack_config(stack, values)
    assert loaded.environment == stack
    assert loaded.quicksight_principals == ()
    if stack == "dev":
        assert loaded.schedule is None


def test_committed_stacks_are_dev_and_prod():
    """The repository commits the two long-lived stacks, never a review stack's file."""
    assert COMMITTED_STACKS == ["dev", "prod"]
