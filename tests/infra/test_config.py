"""Stack config: defaults per stack, and one clear error per bad value of every key."""

from __future__ import annotations

import re

import pytest
from spotify_glue import contract

from infra.config import KNOWN_KEYS, ConfigError, StackConfig, load_stack_config

ANALYSTS = "arn:aws:quicksight:eu-west-1:123456789012:group/default/analysts"


def load(stack: str = "dev", **values: object) -> StackConfig:
    return load_stack_config(stack, values)


def test_defaults_for_a_plain_stack():
    """An empty config gives the documented defaults, named after the stack."""
    config = load("dev")
    assert config.environment == "dev"
    assert (config.glue_version, config.worker_type, config.number_of_workers) == ("5.0", "G.1X", 3)
    assert (config.timeout_minutes, config.max_retries, config.flex_execution) == (30, 1, False)
    assert config.schedule is None
    assert config.athena_bytes_scanned_cutoff == 1073741824
    assert (config.athena_results_retention_days, config.temp_retention_days) == (30, 7)
    assert config.noncurrent_version_retention_days == 30
    assert not (config.customer_managed_key)
    assert not (config.quicksight_enabled)
    assert not (config.protect_data)
    assert not (config.force_destroy)
    assert not (config.upload_sample_data)
    assert config.gate == contract.DEFAULT_GATE


def test_prod_protects_data_by_default():
    """environment prod turns protectData on unless set."""
    assert load("prod").protect_data
    assert load("dev", environment="prod").protect_data
    assert not load("prod", protectData="false").protect_data


def test_review_stacks_are_ephemeral_by_default():
    """pr-<n> stacks force-destroy and upload the sample data unless told otherwise."""
    config = load("pr-123")
    assert (config.environment, config.force_destroy, config.upload_sample_data) == (
        "pr-123",
        True,
        True,
    )
    assert not load("pr-123", forceDestroy="false").force_destroy


def test_values_are_parsed_from_pulumi_strings():
    """Strings as Pulumi passes them become typed values."""
    config = load(
        "dev",
        workerType="G.2X",
        numberOfWorkers="5",
        timeoutMinutes="2880",
        maxRetries="0",
        flexExecution="TRUE",
        schedule="cron(0 6 * * ? *)",
        athenaBytesScannedCutoff="10485760",
        customerManagedKey="true",
        quicksightEnabled="true",
        quicksightPrincipals=f'["{ANALYSTS}"]',
        gateMinRows="100",
        gateMaxQuarantineRate="0",
        gateMaxJoinLossRate="1",
    )
    assert (config.worker_type, config.number_of_workers, config.timeout_minutes) == (
        "G.2X",
        5,
        2880,
    )
    assert (config.max_retries, config.flex_execution) == (0, True)
    assert config.schedule == "cron(0 6 * * ? *)"
    assert config.athena_bytes_scanned_cutoff == 10485760
    assert config.quicksight_principals == (ANALYSTS,)
    assert config.gate == contract.GateThresholds(100, 0.0, 1.0)


def test_a_pulumi_config_like_getter_is_accepted():
    """Anything with get(key) works as the source, e.g. pulumi.Config."""

    class Getter:
        def get(self, key: str) -> str | None:
            return {"workerType": "G.4X"}.get(key)

    assert load_stack_config("dev", Getter()).worker_type == "G.4X"


BAD_VALUES = [
    ("environment", "Dev", "lowercase letters"),
    ("environment", "a-very-long-environment-name", "at most 20"),
    ("environment", "dev-", "inner hyphens"),
    ("glueVersion", "4.0", "one of 5.0"),
    ("workerType", "G.3X", "one of G.1X, G.2X, G.4X, G.8X"),
    ("numberOfWorkers", "1", ">= 2"),
    ("numberOfWorkers", "three", ">= 2"),
    ("timeoutMinutes", "0", "1..2880"),
    ("timeoutMinutes", "2881", "1..2880"),
    ("maxRetries", "11", "0..10"),
    ("maxRetries", "-1", "0..10"),
    ("flexExecution", "yes", "true or false"),
    ("schedule", "0 6 * * *", "six fields"),
    ("schedule", "rate(1 day)", "six fields"),
    ("athenaBytesScannedCutoff", "1024", ">= 10485760"),
    ("athenaResultsRetentionDays", "0", ">= 1"),
    ("tempRetentionDays", "-3", ">= 1"),
    ("noncurrentVersionRetentionDays", "1.5", ">= 1"),
    ("customerManagedKey", "1", "true or false"),
    ("quicksightEnabled", "on", "true or false"),
    ("quicksightAccess", "admin", "one of owner, viewer"),
    ("quicksightImportMode", "spice", "one of SPICE, DIRECT_QUERY"),
    ("quicksightPrincipals", "not-json", "list of strings"),
    ("quicksightPrincipals", '["arn:aws:iam::123456789012:user/bob"]', "QuickSight user or group"),
    ("protectData", "maybe", "true or false"),
    ("forceDestroy", "2", "true or false"),
    ("uploadSampleData", "si", "true or false"),
    ("gateMinRows", "0", ">= 1"),
    ("gateMaxQuarantineRate", "1.5", "from 0 to 1"),
    ("gateMaxJoinLossRate", "lots", "from 0 to 1"),
]


def test_every_key_has_a_bad_value_case():
    """The table below covers every known config key."""
    assert {key for key, _, _ in BAD_VALUES} == KNOWN_KEYS


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_a_bad_value_names_key_value_and_what_is_allowed(key, value, allowed):
    """The error names the qualified key, repeats the value and says what is allowed."""
    with pytest.raises(ConfigError) as raised:
        load("dev", **{key: value})
    message = str(raised.value)
    assert f"spotify-pipeline:{key}" in message
    assert value.strip('[]"') in message  # a list's offending element is named itself
    assert allowed in message


def test_worker_type_message_lists_the_choices():
    """The worker-type error reads as one actionable sentence."""
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "spotify-pipeline:workerType = 'G.3X' is not allowed; use one of G.1X, G.2X, G.4X, G.8X"
        ),
    ):
        load("dev", workerType="G.3X")


def test_an_invalid_stack_name_asks_for_an_environment():
    """A stack name that is not a valid environment says to set environment explicitly."""
    with pytest.raises(ConfigError, match="set spotify-pipeline:environment"):
        load("Feature_Branch")
    assert load("Feature_Branch", environment="feature").environment == "feature"


def test_quicksight_without_principals_fails():
    """Enabling QuickSight with no principal fails and says which key to set."""
    with pytest.raises(ConfigError, match="quicksightPrincipals is empty"):
        load("dev", quicksightEnabled="true")


def test_protected_and_force_destroy_together_fail():
    """protectData and forceDestroy contradict each other."""
    with pytest.raises(ConfigError, match="both true"):
        load("prod", forceDestroy="true")


def test_unknown_keys_fail():
    """A misspelt key is reported instead of silently ignored."""
    with pytest.raises(ConfigError, match="spotify-pipeline:workertype"):
        load("dev", workertype="G.2X")
    with pytest.raises(ConfigError, match="spotify-pipeline:typo"):
        load_stack_config("dev", {}, present_keys=["typo"])
