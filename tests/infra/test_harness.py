"""The mock harness records what the program registers, including resource options."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from tests.infra.harness import (
    ACCOUNT_ID,
    is_unknown,
    run_program,
    run_stack,
)


def _two_buckets() -> None:
    kept = aws.s3.Bucket("kept", opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True))
    aws.s3.Bucket("plain", tags={"owner": kept.bucket})


def test_resource_options_are_recorded_per_resource():
    """protect and retain_on_delete come from the registration request, per resource."""
    records = {r.name: r for r in run_stack(program=_two_buckets).resources}
    assert (records["kept"].protect, records["kept"].retain_on_delete) == (True, True)
    assert (records["plain"].protect, records["plain"].retain_on_delete) == (False, False)


def test_inputs_are_wire_format_and_outputs_flow_between_resources():
    """Inputs use camelCase wire names; a bucket's autoname reaches a dependent resource."""
    records = {r.name: r for r in run_stack(program=_two_buckets).resources}
    assert records["kept"].inputs == {}
    assert records["plain"].inputs["tags"]["owner"].startswith("kept-")


def test_preview_leaves_computed_values_unknown():
    """In preview an ARN that only AWS assigns is unknown when it reaches another resource."""

    def program() -> None:
        role = aws.iam.Role("r", assume_role_policy="{}")
        aws.s3.Bucket("b", tags={"role": role.arn})

    preview = {r.name: r for r in run_stack(program=program, preview=True).resources}
    up = {r.name: r for r in run_stack(program=program).resources}
    assert is_unknown(preview["b"].inputs["tags"])
    assert up["b"].inputs["tags"]["role"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/r-")


def test_prod_data_buckets_are_protected_through_the_harness():
    """The prod stack file turns protection on; the harness sees it on the data buckets."""
    buckets = {r.name: r for r in run_program("prod") if r.type == "aws:s3/bucket:Bucket"}
    assert buckets["spotify-prod-staging"].protect
    assert buckets["spotify-prod-warehouse"].protect
    assert not {r.name: r for r in run_program("dev")}["spotify-dev-staging"].protect


def test_a_run_leaves_the_callers_pulumi_settings_untouched():
    """Stack name, config and root resource of the caller are the same after a run."""
    from pulumi.runtime import settings
    from pulumi.runtime.config import CONFIG

    before = (settings.SETTINGS.stack, dict(CONFIG.get()), settings.get_root_resource())
    run_program("prod", {"workerType": "G.2X"})
    after = (settings.SETTINGS.stack, dict(CONFIG.get()), settings.get_root_resource())
    assert after == before


def test_recorded_resource_fields_are_the_agreed_interface():
    """Other suites rely on these field names; renaming one is a breaking change."""
    from dataclasses import fields

    from tests.infra.harness import RecordedResource

    assert [f.name for f in fields(RecordedResource)] == [
        "type",
        "name",
        "urn",
        "inputs",
        "protect",
        "retain_on_delete",
        "parent_urn",
        "ignore_changes",
        "dependencies",
    ]


def test_the_stack_file_config_is_applied_and_overridable():
    """Pulumi.prod.yaml's values apply; explicit config overrides them."""
    prod_job = next(r for r in run_program("prod") if r.type == "aws:glue/job:Job")
    assert prod_job.inputs["workerType"] == "G.2X"
    override = next(
        r for r in run_program("prod", {"workerType": "G.8X"}) if r.type == "aws:glue/job:Job"
    )
    assert override.inputs["workerType"] == "G.8X"
