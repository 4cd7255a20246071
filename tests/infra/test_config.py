"""Stack config: defaults per stack, and one clear error per bad value of every key."""

from __future__ import annotations

import re

import pytest
from spotify_glue.gate import DEFAULT_GATE, GateThresholds

from infra.config import (
    GLUE_CRON_DOC,
    KNOWN_KEYS,
    MAX_WORKERS,
    ConfigError,
    StackConfig,
    load_stack_config,
)

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
    assert config.gate == DEFAULT_GATE


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
    assert config.gate == GateThresholds(100, 0.0, 1.0)


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
    ("environment", "pr", "belong to the CI roles of review stacks, dev and prod"),
    ("environment", "dev-2", "belong to the CI roles of review stacks, dev and prod"),
    ("environment", "prod-eu", "belong to the CI roles of review stacks, dev and prod"),
    ("environment", "pr-7", "belong to the CI roles of review stacks, dev and prod"),
    ("glueVersion", "4.0", "one of 5.0"),
    ("workerType", "G.3X", "one of G.1X, G.2X, G.4X, G.8X"),
    ("numberOfWorkers", "1", ">= 2"),
    ("numberOfWorkers", "three", ">= 2"),
    ("timeoutMinutes", "0", "1..2880"),
    ("timeoutMinutes", "2881", "1..2880"),
    ("maxRetries", "11", "0..10"),
    ("maxRetries", "-1", "0..10"),
    ("flexExecution", "yes", "true or false"),
    ("schedule", "0 6 * * *", "cron("),
    ("schedule", "rate(1 day)", "cron("),
    ("athenaBytesScannedCutoff", "9999999", ">= 10000000"),
    ("athenaResultsRetentionDays", "0", ">= 1"),
    ("tempRetentionDays", "-3", ">= 1"),
    ("sparkUiLogRetentionDays", "0", ">= 1"),
    ("noncurrentVersionRetentionDays", "1.5", ">= 1"),
    ("customerManagedKey", "1", "true or false"),
    ("quicksightEnabled", "on", "true or false"),
    ("quicksightAccess", "admin", "one of owner, viewer"),
    ("quicksightImportMode", "spice", "one of SPICE, DIRECT_QUERY"),
    ("quicksightPrincipals", "not-json", "list of strings"),
    ("quicksightPrincipals", '["arn:aws:iam::123456789012:user/bob"]', "QuickSight user or group"),
    (
        "quicksightPrincipals",
        '["arn:aws:quicksight:us-east-1:123456789012:namespace/default"]',
        "with users and groups, not with a namespace",
    ),
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


# --- What AWS would refuse, refused at preview --------------------------------------------------
# Each test names the AWS document its rule comes from.


@pytest.mark.parametrize("worker_type", ["G.4X", "G.8X"])
def test_flex_runs_only_on_g1x_or_g2x(worker_type):
    """FLEX with any worker type but G.1X or G.2X fails, naming both keys and the fix.
    AWS: "Flexible job runs are supported for jobs using AWS Glue version 3.0 or later and G.1X
    or G.2X worker types" (https://docs.aws.amazon.com/glue/latest/dg/add-job.html)."""
    with pytest.raises(ConfigError) as raised:
        load("dev", flexExecution="true", workerType=worker_type)
    message = str(raised.value)
    assert "spotify-pipeline:flexExecution" in message
    assert f"spotify-pipeline:workerType = {worker_type!r}" in message
    assert "G.1X or G.2X" in message
    assert load("dev", flexExecution="true", workerType="G.2X").flex_execution


@pytest.mark.parametrize(("worker_type", "maximum"), sorted(MAX_WORKERS.items()))
def test_worker_count_stays_within_glues_maximum_per_worker_type(worker_type, maximum):
    """More workers than Glue allows for the worker type fails, naming the range.
    AWS: "The maximum number of workers you can define is 299 for G.1X, and 149 for G.2X"
    (https://docs.aws.amazon.com/glue/latest/dg/add-job.html, Number of workers)."""
    assert load("dev", workerType=worker_type, numberOfWorkers=str(maximum)).number_of_workers
    with pytest.raises(ConfigError, match=f"use 2..{maximum}") as raised:
        load("dev", workerType=worker_type, numberOfWorkers=str(maximum + 1))
    assert f"spotify-pipeline:numberOfWorkers = {maximum + 1}" in str(raised.value)


def test_worker_count_needs_a_driver_and_an_executor():
    """One worker is refused: a Spark job runs its driver and executors on separate workers
    (one executor per worker, https://docs.aws.amazon.com/glue/latest/dg/worker-types.html)."""
    with pytest.raises(ConfigError, match=">= 2"):
        load("dev", numberOfWorkers="1")


def test_only_the_proven_glue_version_is_accepted():
    """Glue versions other than 5.0 fail: AWS runs Spark 3.5 / Python 3.11 only on Glue 5.0
    (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html), and the job is proven on
    exactly that."""
    with pytest.raises(ConfigError, match=re.escape("use one of 5.0")):
        load("dev", glueVersion="4.0")


GLUE_CRON_CASES = [
    # (value, problem named) -- every rule of "Time-based schedules for jobs and crawlers"
    ("cron(0 6 * * ?)", "six"),
    ("0 6 * * ? *", "cron(...)"),
    ("cron(60 6 * * ? *)", "Minutes value 60 is outside 0-59"),
    ("cron(0 24 * * ? *)", "Hours value 24 is outside 0-23"),
    ("cron(0 6 32 * ? *)", "Day-of-month value 32 is outside 1-31"),
    ("cron(0 6 * 13 ? *)", "Month value 13 is outside 1-12"),
    ("cron(0 6 ? * 8 *)", "Day-of-week value 8 is outside 1-7"),
    ("cron(0 6 * * ? 1969)", "Year value 1969 is outside 1970-2199"),
    ("cron(0 6 * * * *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
    ("cron(0 6 ? * ? *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
    ("cron(? 6 * * ? *)", "'?' is allowed only in Day-of-month and Day-of-week"),
    ("cron(0 6 ? * 3#2 *)", "Day-of-week '3#2' uses '#'"),
    ("cron(0L 6 * * ? *)", "Minutes value"),
    ("cron(0/2 * * * ? *)", "every 2 minutes"),
    ("cron(0,58 * * * ? *)", "every 2 minutes"),
]


@pytest.mark.parametrize(("value", "problem"), GLUE_CRON_CASES)
def test_a_schedule_glue_would_refuse_fails_naming_the_rule(value, problem):
    """Each rule of Glue's cron syntax is enforced with its own message and the doc's address:
    six fields; per-field values and wildcards; '?' in exactly one of Day-of-month and
    Day-of-week; no rate faster than 5 minutes
    (https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html)."""
    with pytest.raises(ConfigError) as raised:
        load("dev", schedule=value)
    message = str(raised.value)
    assert message.startswith(f"spotify-pipeline:schedule = {value!r} is not allowed")
    assert problem in message
    assert GLUE_CRON_DOC in message


@pytest.mark.parametrize(
    "value",
    [
        "cron(0 6 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 6 L * ? *)",
        "cron(0 6 15W * ? *)",
        "cron(0 6 ? * 6L *)",
        "cron(0 6 * JAN,JUL ? 2027-2030)",
    ],
)
def test_the_examples_of_glues_cron_page_are_accepted(value):
    """Glue's own example expressions (and each wildcard it lists) pass unchanged."""
    assert load("dev", schedule=value).schedule == value


def test_on_arrival_replaces_the_cron_schedule():
    """schedule: on-arrival starts runs when the files land; there is then no cron."""
    config = load("dev", schedule="on-arrival")
    assert (config.schedule, config.run_on_arrival) == (None, True)
    assert not load("dev").run_on_arrival
