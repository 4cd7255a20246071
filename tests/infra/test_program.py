"""The whole program: outputs, preview, catalog, queries, orchestration, samples (QuickSight has
its own tests in test_quicksight.py)."""

from __future__ import annotations

import json
import runpy
from typing import Any

import pytest
import yaml
from spotify_glue import contract
from spotify_glue.layout import STAGING_PREFIX, TABLE_NAME, WarehouseLayout, run_id_of_folder

from infra.config import ConfigError
from infra.outputs import OPTIONAL_KEYS, REQUIRED_KEYS, OutputKey
from infra.program import main
from infra.query import sql_files
from infra.sample_data import sample_files
from tests.infra.harness import (
    REPO_ROOT,
    UNKNOWN_OUTPUT,
    ProgramRun,
    is_unknown,
    run_program,
    run_stack,
)

TRIGGER = "aws:glue/trigger:Trigger"


def only(run: ProgramRun, type_token: str):
    found = run.of_type(type_token)
    assert len(found) == 1, [r.urn for r in found]
    return found[0]


# --- Outputs -----------------------------------------------------------------------------------


def test_every_required_output_is_exported_with_a_value(any_run):
    """Each required output key is exported and resolves to a non-empty value."""
    missing = sorted(k.value for k in REQUIRED_KEYS if not any_run.outputs.get(k.value))
    assert not missing, f"missing or empty outputs: {missing}"


def test_outputs_are_only_the_declared_keys(any_run):
    """Nothing is exported under a key the verifier does not know."""
    assert set(any_run.outputs) <= {k.value for k in OutputKey}


def test_quicksight_arn_is_exported_only_when_enabled(dev_run, cmk_run):
    """The data source ARN is an output exactly when QuickSight is on."""
    key = OutputKey.QUICKSIGHT_DATA_SOURCE_ARN.value
    assert key in {k.value for k in OPTIONAL_KEYS}
    assert key not in dev_run.outputs
    source = only(cmk_run, "aws:quicksight/dataSource:DataSource")
    assert cmk_run.outputs[key] == cmk_run.states[source.urn]["arn"]


def test_outputs_name_the_deployed_resources(dev_run):
    """Job, crawler, workflow, database, table and workgroup outputs are the real names."""
    outputs = dev_run.outputs
    assert outputs["glue_job_name"] == only(dev_run, "aws:glue/job:Job").inputs["name"]
    assert outputs["crawler_name"] == only(dev_run, "aws:glue/crawler:Crawler").inputs["name"]
    assert outputs["workflow_name"] == only(dev_run, "aws:glue/workflow:Workflow").inputs["name"]
    assert outputs["database_name"] == "spotify_dev"
    assert outputs["table_name"] == TABLE_NAME
    assert (
        outputs["athena_workgroup"]
        == only(dev_run, "aws:athena/workgroup:Workgroup").inputs["name"]
    )
    assert outputs["region"] == "eu-west-1"
    assert outputs["staging_prefix"] == STAGING_PREFIX


# --- Preview and up ----------------------------------------------------------------------------


def test_preview_declares_the_same_resources_as_up(dev_run, dev_preview):
    """A preview run succeeds and registers exactly the resources an up run does."""
    assert [r.urn for r in dev_preview.resources] == [r.urn for r in dev_run.resources]


def test_preview_leaves_deploy_time_values_unknown(dev_preview):
    """In preview the job's role ARN is unknown; the program still completes."""
    job = only(dev_preview, "aws:glue/job:Job")
    assert is_unknown(job.inputs["roleArn"])
    assert job.inputs["name"] == "spotify-dev-etl"


def test_preview_keeps_known_outputs_known(dev_preview):
    """Outputs built from names and config are known in preview too."""
    assert dev_preview.outputs["table_name"] == TABLE_NAME
    assert dev_preview.outputs["glue_job_name"] == "spotify-dev-etl"


def test_up_mode_resolves_every_input(any_run):
    """In up mode no input is left unknown, so the up-mode assertions see real values."""
    custom = [r for r in any_run.resources if not r.type.startswith("spotify:")]
    assert len(custom) > 40
    unknown = [r.urn for r in custom if is_unknown(r.inputs)]
    assert not unknown, unknown
    assert UNKNOWN_OUTPUT not in any_run.outputs.values()


def test_components_parent_their_resources(dev_run):
    """Every AWS resource has a spotify:* component as its parent."""
    components = {r.urn for r in dev_run.resources if r.type.startswith("spotify:")}
    orphans = [
        r.urn
        for r in dev_run.resources
        if r.type.startswith("aws:") and r.parent_urn not in components
    ]
    assert not orphans, orphans


def test_the_program_builds_from_any_working_directory(tmp_path, monkeypatch):
    """infra/__main__.py, run from an unrelated folder, declares the same resources."""
    monkeypatch.chdir(tmp_path)
    main_file = REPO_ROOT / "infra" / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main_file), run_name="__main__")

    from_elsewhere = run_stack("dev", program=program)
    assert len(from_elsewhere.resources) == len(run_program("dev"))
    assert set(from_elsewhere.outputs) >= {k.value for k in REQUIRED_KEYS}


def test_bad_config_fails_before_any_resource():
    """An invalid value stops the program before it declares a single resource."""
    raised: list[Exception] = []

    def program() -> None:
        try:
            main()
        except ConfigError as error:
            raised.append(error)

    run = run_stack("dev", {"workerType": "G.3X"}, program=program)
    assert len(raised) == 1
    assert "spotify-pipeline:workerType" in str(raised[0])
    assert run.resources == []


def test_a_misspelt_config_key_fails():
    """A key that the program does not know is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="spotify-pipeline:workertype"):
        run_program("dev", {"workertype": "G.2X"})


# --- Catalog -----------------------------------------------------------------------------------


def test_table_is_declared_from_the_contract(dev_run):
    """The catalog table has the contract's name, columns, types and Parquet format."""
    table = only(dev_run, "aws:glue/catalogTable:CatalogTable")
    descriptor = table.inputs["storageDescriptor"]
    assert table.inputs["name"] == TABLE_NAME
    assert [(c["name"], c["type"]) for c in descriptor["columns"]] == [
        (c.name, c.type) for c in contract.WAREHOUSE_COLUMNS
    ]
    assert "parquet" in descriptor["serDeInfo"]["serializationLibrary"].lower()


def test_table_starts_empty_and_its_location_belongs_to_the_job(dev_run):
    """Before the first publish the table reads an empty folder below the table root (never
    the root, which holds every run); after that the job owns the location, so an update of
    the table keeps the location it has instead of resetting it."""
    table = only(dev_run, "aws:glue/catalogTable:CatalogTable")
    layout = WarehouseLayout(f"s3://{dev_run.outputs['warehouse_bucket']}")
    assert table.inputs["storageDescriptor"]["location"] == layout.unpublished_location
    assert layout.unpublished_location.startswith(dev_run.outputs["table_location"])
    assert run_id_of_folder("_unpublished") is None
    assert "storageDescriptor.location" in table.ignore_changes, table.urn


def test_every_pulumi_operation_reads_the_live_table_location_first():
    """An ignored property is sent from the state on every update, and only a refresh puts
    the live value there (Pulumi docs, "Resource option: ignoreChanges"). Without one, an up
    with any other change to the table would point it back at a stale location: an empty
    folder, or a run already pruned. The project file makes every up, preview and destroy
    refresh first (``options.refresh: always``, the Pulumi project file schema), whoever runs
    it and however."""
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["options"] == {"refresh": "always"}


def test_crawler_targets_exactly_the_one_table(dev_run):
    """The crawler syncs only the declared table, so it can never create one per file."""
    crawler = only(dev_run, "aws:glue/crawler:Crawler").inputs
    assert crawler["catalogTargets"] == [{"databaseName": "spotify_dev", "tables": [TABLE_NAME]}]
    assert not crawler.get("s3Targets")
    assert json.loads(crawler["configuration"])["Grouping"] == {
        "TableGroupingPolicy": "CombineCompatibleSchemas"
    }


def test_crawler_has_explicit_schema_change_and_recrawl_policies(dev_run):
    """Schema drift is logged, never applied or deleted; every run recrawls everything."""
    crawler = only(dev_run, "aws:glue/crawler:Crawler").inputs
    assert crawler["schemaChangePolicy"] == {"updateBehavior": "LOG", "deleteBehavior": "LOG"}
    assert crawler["recrawlPolicy"] == {"recrawlBehavior": "CRAWL_EVERYTHING"}


def test_crawler_and_job_have_separate_roles(dev_run):
    """The crawler runs as its own role, not the job's."""
    crawler = only(dev_run, "aws:glue/crawler:Crawler").inputs
    job = only(dev_run, "aws:glue/job:Job").inputs
    roles = {dev_run.states[r.urn]["arn"] for r in dev_run.of_type("aws:iam/role:Role")}
    assert crawler["role"] in roles
    assert job["roleArn"] in roles
    assert crawler["role"] != job["roleArn"]


# --- Queries -----------------------------------------------------------------------------------


def test_every_sql_file_is_a_named_query(dev_run):
    """Each sql/**/*.sql is deployed as a named query in the workgroup and database."""
    expected = {sql.name: sql.query for sql in sql_files(REPO_ROOT / "sql")}
    assert expected, "the repository should hold SQL files"
    queries = dev_run.of_type("aws:athena/namedQuery:NamedQuery")
    assert {q.inputs["name"]: q.inputs["query"] for q in queries} == expected
    for query in queries:
        assert query.inputs["workgroup"] == dev_run.outputs["athena_workgroup"], query.urn
        assert query.inputs["database"] == dev_run.outputs["database_name"], query.urn


def test_sql_files_are_named_by_folder_and_described_by_their_comment(tmp_path):
    """sql/checks/x.sql becomes checks/x, described by its leading comment."""
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "x.sql").write_text("-- Counts rows.\nSELECT 1\n")
    (tmp_path / "y.sql").write_text("SELECT 2\n")
    found = sql_files(tmp_path)
    assert [(f.name, f.description) for f in found] == [("checks/x", "Counts rows."), ("y", "")]


def test_an_empty_sql_file_fails(tmp_path):
    """An empty SQL file is reported rather than deployed as an empty query."""
    (tmp_path / "empty.sql").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        sql_files(tmp_path)


# --- Orchestration -----------------------------------------------------------------------------


def triggers(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {t.inputs["type"]: t.inputs for t in run.of_type(TRIGGER)}


def test_dev_starts_the_job_on_demand(dev_run):
    """Without a schedule the workflow's start trigger is ON_DEMAND and starts the job, and it
    is created disabled: the provider starts an enabled ON_DEMAND trigger on creation, which
    would run the pipeline during `pulumi up`."""
    start = triggers(dev_run)["ON_DEMAND"]
    assert start["actions"] == [{"jobName": dev_run.outputs["glue_job_name"]}]
    assert start["workflowName"] == dev_run.outputs["workflow_name"]
    assert start["enabled"] is False


def test_a_cron_schedule_starts_the_job_on_time():
    """With a Glue cron the start trigger is SCHEDULED with that cron, active on creation."""
    run = run_stack("dev", {"schedule": "cron(0 6 * * ? *)"})
    start = triggers(run)["SCHEDULED"]
    assert start["schedule"] == "cron(0 6 * * ? *)"
    assert start["startOnCreation"] is True
    assert start["actions"] == [{"jobName": run.outputs["glue_job_name"]}]


def test_prod_starts_the_job_when_the_data_arrives(prod_run):
    """prod's schedule is on-arrival: the one start trigger is an EVENT trigger."""
    start = triggers(prod_run)["EVENT"]
    assert start["actions"] == [{"jobName": prod_run.outputs["glue_job_name"]}]
    assert set(triggers(prod_run)) == {"EVENT", "CONDITIONAL"}


def test_crawler_runs_when_the_job_succeeds(any_run):
    """A conditional trigger in the workflow starts the crawler on job SUCCEEDED."""
    conditional = triggers(any_run)["CONDITIONAL"]
    assert conditional["workflowName"] == any_run.outputs["workflow_name"]
    assert conditional["predicate"]["conditions"] == [
        {
            "jobName": any_run.outputs["glue_job_name"],
            "state": "SUCCEEDED",
            "logicalOperator": "EQUALS",
        }
    ]
    assert conditional["actions"] == [{"crawlerName": any_run.outputs["crawler_name"]}]


# --- Sample data -------------------------------------------------------------------------------


def sample_uploads(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["key"]: r.inputs
        for r in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if r.inputs["key"].startswith(STAGING_PREFIX)
    }


def test_dev_uploads_every_sample_csv_to_the_staging_prefix(dev_run):
    """Every data/sample/*.csv lands directly below the staging prefix of the staging bucket."""
    uploads = sample_uploads(dev_run)
    expected = {STAGING_PREFIX + p.name for p in sample_files()}
    assert expected
    assert set(uploads) == expected
    for upload in uploads.values():
        assert upload["bucket"] == dev_run.outputs["staging_bucket"]


def test_prod_uploads_no_sample_data(prod_run):
    """uploadSampleData is off in prod: no object lands in staging."""
    assert sample_uploads(prod_run) == {}


def test_upload_without_sample_files_fails_clearly(tmp_path):
    """Asking for sample data when there is none says how to fix it."""
    with pytest.raises(FileNotFoundError, match="uploadSampleData"):
        sample_files(tmp_path)
