"""Stack outputs: read from a file, stdin or the Pulumi CLI, validated key by key."""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from infra.outputs import OPTIONAL_KEYS, REQUIRED_KEYS, OutputKey
from spotify_ops.stack_outputs import (
    RULES,
    OutputsError,
    StackOutputs,
    field_name,
    parse_outputs,
    read_outputs_file,
    read_stack_outputs,
    validate_outputs,
)
from tests.cli.verify_support import DATABASE, REGION, WORKGROUP, outputs_dict


def test_every_output_key_has_a_field_and_a_rule() -> None:
    """The typed outputs mirror infra.outputs exactly, so a new key cannot go unvalidated."""
    assert {f.name for f in fields(StackOutputs)} == {field_name(k) for k in OutputKey}
    assert set(RULES) == set(OutputKey)


def test_valid_outputs_become_typed_fields() -> None:
    """A deployed stack's outputs land in the fields named after their keys."""
    outputs = validate_outputs(outputs_dict(), "test")
    assert outputs.region == REGION
    assert outputs.database_name == DATABASE
    assert outputs.workgroup_name == WORKGROUP
    assert outputs.quicksight_data_source_arn is None
    assert outputs.as_outputs() == outputs_dict()


def test_optional_quicksight_arn_is_kept_when_present() -> None:
    """With QuickSight enabled the data source ARN is validated and kept."""
    arn = "arn:aws:quicksight:eu-west-1:123456789012:datasource/spotify-dev-athena"
    outputs = validate_outputs(
        outputs_dict(**{OutputKey.QUICKSIGHT_DATA_SOURCE_ARN.value: arn}), "test"
    )
    assert outputs.quicksight_data_source_arn == arn


@pytest.mark.parametrize("key", sorted(REQUIRED_KEYS))
def test_each_missing_required_key_is_named_with_its_fix(key: OutputKey) -> None:
    """Dropping any required key fails with that key named and `pulumi up` suggested."""
    data = outputs_dict()
    del data[key.value]
    with pytest.raises(OutputsError) as info:
        validate_outputs(data, "outputs file 'x.json'")
    message = str(info.value)
    assert f"- {key.value}: missing" in message
    assert "pulumi up" in message
    assert message.count("\n  - ") == 1


def test_optional_keys_are_only_quicksight() -> None:
    """Only the QuickSight outputs may be absent (they exist only when QuickSight is on)."""
    assert {k for k in OutputKey if k.name.startswith("QUICKSIGHT_")} == OPTIONAL_KEYS
    validate_outputs(outputs_dict(), "test")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (OutputKey.REGION, "Ireland", "is not an AWS region; expected e.g. 'eu-west-1'"),
        (OutputKey.TABLE_LOCATION, "spotify-dev-warehouse/spotify_tracks/", "not an s3:// URI"),
        (OutputKey.RUN_SUMMARY_LOCATION, "s3://UPPER/x.json", "does not name a valid S3 bucket"),
        (OutputKey.WAREHOUSE_BUCKET, "s3://spotify-dev-warehouse", "expected the bare bucket"),
        (OutputKey.STAGING_BUCKET, "sp", "not a valid S3 bucket name"),
        (OutputKey.STAGING_PREFIX, "/spotify-2023/", "relative to the bucket"),
        (OutputKey.DATABASE_NAME, "Spotify Dev", "not a Glue catalog name"),
        (OutputKey.TABLE_NAME, "datawarehouse", "differs from the contract's table"),
        (OutputKey.WORKGROUP_NAME, "spotify dev", "not an Athena workgroup name"),
        (OutputKey.JOB_NAME, "", "not a Glue resource name"),
        (OutputKey.JOB_NAME, 42, "expected a string, got int 42"),
        (OutputKey.CRAWLER_NAME, {"name": "c"}, "expected a string, got dict"),
        (OutputKey.WORKFLOW_NAME, "[secret]", "is a secret"),
        (OutputKey.QUICKSIGHT_DATA_SOURCE_ARN, "arn:aws:s3:::bucket", "not a QuickSight"),
    ],
)
def test_invalid_value_names_the_key_and_what_is_expected(
    key: OutputKey, value: object, expected: str
) -> None:
    """A value of the wrong type or shape fails with its key and the expected form."""
    with pytest.raises(OutputsError) as info:
        validate_outputs(outputs_dict(**{key.value: value}), "test")
    line = next(ln for ln in str(info.value).splitlines() if ln.startswith(f"  - {key.value}:"))
    assert expected in line


def test_all_problems_are_reported_at_once() -> None:
    """Several bad keys are listed together, so one edit fixes them all."""
    data = outputs_dict(region="nowhere")
    del data[OutputKey.JOB_NAME.value]
    with pytest.raises(OutputsError) as info:
        validate_outputs(data, "test")
    assert "- region:" in str(info.value)
    assert "- glue_job_name: missing" in str(info.value)


def test_unknown_extra_outputs_are_ignored() -> None:
    """Outputs the verifier does not read do not stop it."""
    outputs = validate_outputs(outputs_dict(dashboard_url="https://example.com/d"), "test")
    assert "dashboard_url" not in outputs.as_outputs()


def test_bad_json_says_where_and_how_to_write_it() -> None:
    """Malformed JSON reports line and column and the command that writes the file."""
    with pytest.raises(OutputsError) as info:
        parse_outputs('{"region": "eu-west-1",\n  oops}', "outputs file 'o.json'")
    message = str(info.value)
    assert "outputs file 'o.json' is not valid JSON" in message
    assert "line 2 column 3" in message
    assert "pulumi stack output --json" in message


def test_json_that_is_not_an_object_is_rejected() -> None:
    """A JSON list is not an outputs document."""
    with pytest.raises(OutputsError, match=r"must hold a JSON object .* got a list"):
        parse_outputs("[1, 2]", "standard input")


def test_missing_outputs_file_names_the_file(tmp_path: Path) -> None:
    """A path that does not exist is named, with how to create it."""
    missing = tmp_path / "nope.json"
    with pytest.raises(OutputsError, match=r"nope\.json' does not exist; write it with"):
        read_outputs_file(missing)


def test_outputs_file_round_trip(tmp_path: Path) -> None:
    """A file written like `pulumi stack output --json` reads back into the same outputs."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs_dict(), indent=4), encoding="utf-8")
    assert read_outputs_file(path).as_outputs() == outputs_dict()


# --- the Pulumi CLI ----------------------------------------------------------------------------


def _fake_pulumi(folder: Path, stdout: str, exit_code: int = 0, stderr: str = "") -> Path:
    """An executable named `pulumi` that records its arguments and answers like the CLI."""
    script = folder / "pulumi"
    record = folder / "argv.json"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"sys.stdout.write({stdout!r})\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return record


def test_stack_outputs_come_from_pulumi_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--stack runs `pulumi stack output --json --stack NAME`, never --show-secrets."""
    record = _fake_pulumi(tmp_path, json.dumps(outputs_dict()))
    monkeypatch.setenv("PATH", str(tmp_path))
    outputs = read_stack_outputs("dev")
    assert outputs.as_outputs() == outputs_dict()
    assert json.loads(record.read_text()) == ["stack", "output", "--json", "--stack", "dev"]


def test_failing_pulumi_reports_its_last_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pulumi error (no such stack) is passed on with the way out."""
    _fake_pulumi(tmp_path, "", 255, "warning: x\nerror: no stack named 'qa' found\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OutputsError) as info:
        read_stack_outputs("qa")
    message = str(info.value)
    assert "failed (exit 255): error: no stack named 'qa' found" in message
    assert "--outputs FILE" in message


def test_pulumi_not_on_path_suggests_outputs_file(tmp_path: Path) -> None:
    """Without the pulumi CLI, --stack explains how to use --outputs instead."""
    with pytest.raises(OutputsError) as info:
        read_stack_outputs("dev", which=lambda _name: None)
    message = str(info.value)
    assert "the pulumi CLI is not on PATH" in message
    assert "--outputs FILE" in message
    assert "pulumi stack output --json --stack dev" in message
