"""QuickSight under mocks with it turned on: the data source, the data set derived from the
contract, the dashboard rendered from the spec, who may do what, the SPICE refresh and the
outputs. The definition's validity for the API is in test_quicksight_api.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from parliament import iam_definition
from spotify_glue.contract import QUICKSIGHT_TYPES, WAREHOUSE_COLUMNS

from infra import dashboard_spec
from infra import quicksight_definition as qs
from infra.config import ConfigError, load_stack_config
from infra.outputs import OPTIONAL_KEYS, OutputKey
from infra.quicksight import QuickSight, QuickSightArgs, QuickSightConfigError
from infra.quicksight_refresh import RefreshTiming, refresh_after
from tests.infra.conftest import QUICKSIGHT_GROUP
from tests.infra.harness import ProgramRun, RecordedResource, is_unknown, run_program, run_stack

DATA_SOURCE = "aws:quicksight/dataSource:DataSource"
DATA_SET = "aws:quicksight/dataSet:DataSet"
DASHBOARD = "aws-native:quicksight:Dashboard"
REFRESH = "aws:quicksight/refreshSchedule:RefreshSchedule"
QUICKSIGHT_ON = {
    "quicksightEnabled": "true",
    "quicksightPrincipals": json.dumps([QUICKSIGHT_GROUP]),
}
QUICKSIGHT_KEYS = {
    OutputKey.QUICKSIGHT_DATA_SOURCE_ARN,
    OutputKey.QUICKSIGHT_DATA_SET_ARN,
    OutputKey.QUICKSIGHT_DASHBOARD_ID,
    OutputKey.QUICKSIGHT_DASHBOARD_ARN,
    OutputKey.QUICKSIGHT_DASHBOARD_URL,
}


def only(run: ProgramRun, type_token: str) -> RecordedResource:
    found = run.of_type(type_token)
    assert len(found) == 1, [r.urn for r in found]
    return found[0]


@pytest.fixture(scope="module")
def on_run() -> ProgramRun:
    """dev with QuickSight on (on demand: no schedule)."""
    return run_stack("dev", QUICKSIGHT_ON)


@pytest.fixture(scope="module")
def scheduled_run() -> ProgramRun:
    """prod (60-minute timeout, one retry) on a daily 06:00 schedule, with QuickSight on."""
    return run_stack("prod", dict(QUICKSIGHT_ON, schedule="cron(0 6 * * ? *)"))


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


# --- The data set -------------------------------------------------------------------------------


def test_data_set_columns_and_types_are_the_contracts(on_run):
    """The data set's input columns are the contract's, in order, typed by the contract's
    QuickSight types; the array column (no QuickSight type) is the only one left out."""
    table = only(on_run, DATA_SET).inputs["physicalTableMaps"][0]["relationalTable"]
    columns = [(c["name"], c["type"]) for c in table["inputColumns"]]
    assert columns == [
        (c.name, QUICKSIGHT_TYPES[c.type]) for c in WAREHOUSE_COLUMNS if c.type in QUICKSIGHT_TYPES
    ]
    left_out = {c.name for c in WAREHOUSE_COLUMNS} - {name for name, _ in columns}
    assert left_out == {"genres"}


def test_data_set_reads_the_catalog_table_through_the_athena_source(on_run):
    """The physical table is the catalog table in the stack's database, read through the
    stack's Athena data source."""
    table = only(on_run, DATA_SET).inputs["physicalTableMaps"][0]["relationalTable"]
    source = only(on_run, DATA_SOURCE)
    assert table["dataSourceArn"] == on_run.states[source.urn]["arn"]
    assert (table["catalog"], table["schema"], table["name"]) == (
        "AwsDataCatalog",
        on_run.outputs["database_name"],
        on_run.outputs["table_name"],
    )


def test_data_set_is_created_after_the_catalog_table(on_run):
    """A SPICE data set starts an ingestion when created: the table it reads must exist by
    then, so the data set depends on the table."""
    table = only(on_run, "aws:glue/catalogTable:CatalogTable")
    assert table.urn in only(on_run, DATA_SET).dependencies


def test_data_set_column_descriptions_are_the_contracts_comments(on_run):
    """Each commented contract column carries its comment as the field description."""
    transforms = only(on_run, DATA_SET).inputs["logicalTableMaps"][0]["dataTransforms"]
    described = {
        t["tagColumnOperation"]["columnName"]: t["tagColumnOperation"]["tags"][0][
            "columnDescription"
        ]["text"]
        for t in transforms
    }
    assert described == {
        c.name: c.comment for c in WAREHOUSE_COLUMNS if c.comment and c.type in QUICKSIGHT_TYPES
    }


def test_contract_quicksight_types_are_types_the_api_knows():
    """Every QuickSight type the contract names is an InputColumn type of the API's model."""
    from tests.infra.test_quicksight_api import quicksight_model

    allowed = quicksight_model().shape_for("InputColumn").members["Type"].enum
    assert set(QUICKSIGHT_TYPES.values()) <= set(allowed)


@pytest.mark.parametrize(("mode", "expected"), [(None, "SPICE"), ("DIRECT_QUERY", "DIRECT_QUERY")])
def test_import_mode_is_spice_unless_configured(mode, expected):
    """SPICE by default; quicksightImportMode switches the data set to direct query."""
    config = dict(QUICKSIGHT_ON, **({"quicksightImportMode": mode} if mode else {}))
    (data_set,) = [r for r in run_program("dev", config) if r.type == DATA_SET]
    assert data_set.inputs["importMode"] == expected


# --- The dashboard ------------------------------------------------------------------------------


def visuals_of(dashboard: RecordedResource) -> dict[str, dict[str, Any]]:
    """Visual id to the visual's body, over every sheet."""
    found = {}
    for sheet in dashboard.inputs["definition"]["sheets"]:
        for visual in sheet["visuals"]:
            ((_kind, body),) = visual.items()
            found[body["visualId"]] = body
    return found


def test_every_spec_visual_appears_in_the_definition(on_run):
    """Each visual of the spec is in the dashboard under its id, with its title and question,
    as the chart kind the spec names; nothing else is."""
    dashboard = only(on_run, DASHBOARD)
    kinds = {
        "bar": "barChartVisual",
        "line": "lineChartVisual",
        "scatter": "scatterPlotVisual",
        "heat_map": "heatMapVisual",
        "table": "tableVisual",
        "kpi": "kpiVisual",
    }
    found = {
        body["visualId"]: kind
        for sheet in dashboard.inputs["definition"]["sheets"]
        for visual in sheet["visuals"]
        for kind, body in visual.items()
    }
    assert found == {v.id: kinds[v.chart] for v in dashboard_spec.DASHBOARD.visuals}
    bodies = visuals_of(dashboard)
    for visual in dashboard_spec.DASHBOARD.visuals:
        assert bodies[visual.id]["title"]["formatText"]["plainText"] == visual.title
        assert bodies[visual.id]["subtitle"]["formatText"]["plainText"] == visual.question


def test_every_visual_reads_only_data_set_fields(on_run):
    """Every column the definition names (fields, sorts, filters) is an input column of the
    data set, under the one data set identifier the definition declares."""
    dashboard = only(on_run, DASHBOARD)
    table = only(on_run, DATA_SET).inputs["physicalTableMaps"][0]["relationalTable"]
    data_set_fields = {c["name"] for c in table["inputColumns"]}
    columns = [
        node
        for node in walk(dashboard.inputs["definition"])
        if isinstance(node, dict) and "columnName" in node
    ]
    assert len(columns) > len(dashboard_spec.DASHBOARD.visuals)
    assert {c["dataSetIdentifier"] for c in columns} == {qs.DATA_SET_IDENTIFIER}
    assert {c["columnName"] for c in columns} <= data_set_fields
    # Each spec field reaches the definition under its own field id.
    field_ids = {
        n["fieldId"]
        for n in walk(dashboard.inputs["definition"])
        if isinstance(n, dict) and "fieldId" in n
    }
    for visual in dashboard_spec.DASHBOARD.visuals:
        for item in visual.fields:
            assert qs.field_id(visual, item) in field_ids


# Each kind of field or filter the definition may hold -> the field types it takes (QuickSight
# API Reference: "CategoricalDimensionField" etc. name categorical, numerical and date columns).
KIND_TYPES = {
    "categoricalDimensionField": {"STRING"},
    "categoricalMeasureField": {"STRING"},
    "categoryFilter": {"STRING"},
    "numericalDimensionField": {"INTEGER", "DECIMAL"},
    "numericalMeasureField": {"INTEGER", "DECIMAL"},
    "numericRangeFilter": {"INTEGER", "DECIMAL"},
    "numericEqualityFilter": {"INTEGER", "DECIMAL"},
    "dateDimensionField": {"DATETIME"},
    "timeRangeFilter": {"DATETIME"},
}


def test_quicksight_field_types_are_its_output_column_types():
    """Every input column type the contract uses becomes one of the API's output column types;
    a Boolean becomes an INTEGER (QuickSight promotes it)."""
    from tests.infra.test_quicksight_api import quicksight_model

    outputs = quicksight_model().shape_for("OutputColumn").members["Type"].enum
    assert set(qs.FIELD_TYPES) >= set(QUICKSIGHT_TYPES.values())
    assert set(qs.FIELD_TYPES.values()) <= set(outputs)
    assert qs.FIELD_TYPES["BOOLEAN"] == "INTEGER"


def test_every_field_and_filter_kind_fits_its_columns_quicksight_type(on_run):
    """A categorical field or filter names a text column, a numerical one a number (Booleans
    included: QuickSight holds them as 1 and 0), a date one a date, in every visual and
    control of the definition. A filter on an aggregate (a count of ids, say) judges a number
    whatever its column."""
    definition = only(on_run, DASHBOARD).inputs["definition"]
    seen = set()
    for node in walk(definition):
        if not isinstance(node, dict):
            continue
        for kind, types in KIND_TYPES.items():
            body = node.get(kind)
            on_aggregate = kind.endswith("Filter") and "aggregationFunction" in (body or {})
            if isinstance(body, dict) and not on_aggregate:
                column = body["column"]["columnName"]
                assert qs.field_type(column) in types, (kind, column)
                seen.add((kind, column))
    assert ("numericalDimensionField", "explicit") in seen
    assert {kind for kind, _ in seen} >= {
        "categoricalDimensionField",
        "numericalMeasureField",
        "categoryFilter",
        "numericRangeFilter",
    }


def test_dashboard_controls_filter_release_year_and_genre_on_every_visual(on_run):
    """A release-year range slider and a genre list filter every visual of the sheet."""
    definition = only(on_run, DASHBOARD).inputs["definition"]
    controls = definition["sheets"][0]["filterControls"]
    assert [next(iter(c)) for c in controls] == ["slider", "dropdown"]
    assert controls[0]["slider"]["type"] == "RANGE"
    groups = {g["filterGroupId"]: g for g in definition["filterGroups"]}
    for control, column in zip(controls, ("release_year", "primary_genre"), strict=True):
        source = next(iter(control.values()))["sourceFilterId"]
        (group,) = [
            g
            for g in groups.values()
            if g["filters"][0][next(iter(g["filters"][0]))]["filterId"] == source
        ]
        ((_kind, body),) = group["filters"][0].items()
        assert body["column"]["columnName"] == column
        (scope,) = group["scopeConfiguration"]["selectedSheets"]["sheetVisualScopingConfigurations"]
        assert scope["scope"] == "ALL_VISUALS"


def test_years_show_without_thousands_separators_and_counts_with(on_run):
    """The release year reads 2023 and counts read 1,952 in the dashboard too."""
    bodies = visuals_of(only(on_run, DASHBOARD))
    line = bodies["releases_per_year"]["chartConfiguration"]["fieldWells"][
        "lineChartAggregatedFieldWells"
    ]
    year = line["category"][0]["numericalDimensionField"]["formatConfiguration"]
    tracks = line["values"][1]["categoricalMeasureField"]["formatConfiguration"]

    def separators(node: dict[str, Any]) -> str:
        (found,) = [
            n["thousandsSeparator"]["visibility"]
            for n in walk(node)
            if isinstance(n, dict) and "thousandsSeparator" in n
        ]
        return str(found)

    assert separators(year) == "HIDDEN"
    assert separators(tracks) == "VISIBLE"


def test_dashboard_declares_in_preview_with_the_data_set_unknown():
    """Preview declares the same dashboard; only the data set ARN waits for deploy."""
    preview = run_stack("dev", QUICKSIGHT_ON, preview=True)
    dashboard = only(preview, DASHBOARD)
    declaration = dashboard.inputs["definition"]["dataSetIdentifierDeclarations"][0]
    assert is_unknown(declaration["dataSetArn"])
    assert set(visuals_of(dashboard)) == {v.id for v in dashboard_spec.DASHBOARD.visuals}


def test_the_dashboard_uses_a_cloud_control_provider_in_the_stacks_region(on_run):
    """The aws-native provider the dashboard needs is pinned to the stack's region."""
    (provider,) = on_run.of_type("pulumi:providers:aws-native")
    assert provider.inputs["region"] == on_run.outputs["region"]


# --- Permissions --------------------------------------------------------------------------------


def _actions(resource: RecordedResource) -> dict[str, list[str]]:
    return {p["principal"]: p["actions"] for p in resource.inputs["permissions"]}


@pytest.mark.parametrize("access", ["owner", "viewer"])
def test_principals_get_the_configured_access_on_all_three(access):
    """The configured principals get owner (or viewer) actions on the data source, the data set
    and the dashboard."""
    resources = run_program("dev", dict(QUICKSIGHT_ON, quicksightAccess=access))
    tables = {
        DATA_SOURCE: qs.DATA_SOURCE_ACTIONS,
        DATA_SET: qs.DATA_SET_ACTIONS,
        DASHBOARD: qs.DASHBOARD_ACTIONS,
    }
    for type_token, table in tables.items():
        (resource,) = [r for r in resources if r.type == type_token]
        assert _actions(resource) == {QUICKSIGHT_GROUP: list(table[access])}, type_token


def test_data_set_owners_manage_its_refresh_and_no_grant_is_too_long():
    """Owners of the data set may see and change its refresh schedules and refresh properties
    (every such data-set action in IAM's Service Authorization Reference, parliament's copy;
    the program schedules a refresh on SPICE stacks), as the console's owners may. No grant
    holds more actions than ``ResourcePermission.Actions`` allows (botocore's model)."""
    refresh = {
        f"quicksight:{p['privilege']}"
        for service in iam_definition
        if service["prefix"] == "quicksight"
        for p in service["privileges"]
        if re.search("RefreshSchedule|DataSetRefreshProperties", p["privilege"])
        and "Topic" not in p["privilege"]
    }
    assert len(refresh) == 8, refresh
    assert refresh <= set(qs.DATA_SET_ACTIONS["owner"])
    from tests.infra.test_quicksight_api import quicksight_model

    actions = quicksight_model().shape_for("ResourcePermission").members["Actions"]
    most = actions.metadata["max"]
    for table in (qs.DATA_SOURCE_ACTIONS, qs.DATA_SET_ACTIONS, qs.DASHBOARD_ACTIONS):
        for actions in table.values():
            assert len(actions) <= most


# A resource-permission action that is no IAM action: AWS's "Granting everyone in your account
# access to a dashboard with the API" and UpdateDashboardPermissions examples grant it.
RESOURCE_ONLY_ACTIONS = frozenset({"quicksight:QueryDashboard"})


def test_viewer_actions_are_a_subset_of_owner_actions_and_all_exist():
    """Viewers get less than owners, and every action is a QuickSight action in IAM's Service
    Authorization Reference (parliament's copy) or the documented resource-only one, so none
    is misspelt."""
    known = RESOURCE_ONLY_ACTIONS | {
        f"quicksight:{p['privilege']}"
        for service in iam_definition
        if service["prefix"] == "quicksight"
        for p in service["privileges"]
    }
    for table in (qs.DATA_SOURCE_ACTIONS, qs.DATA_SET_ACTIONS, qs.DASHBOARD_ACTIONS):
        assert set(table["viewer"]) < set(table["owner"])
        assert set(table["owner"]) <= known, set(table["owner"]) - known


# --- SPICE refresh -------------------------------------------------------------------------------


def test_a_scheduled_stack_refreshes_spice_after_the_longest_run(scheduled_run):
    """A daily 06:00 UTC run with a 60-minute timeout and one retry refreshes SPICE daily at
    08:00 UTC, when every attempt of the run has ended."""
    refresh = only(scheduled_run, REFRESH).inputs
    assert refresh["dataSetId"] == dashboard_spec.data_set_id("prod")
    assert refresh["schedule"] == {
        "refreshType": "FULL_REFRESH",
        "scheduleFrequency": {"interval": "DAILY", "timeOfTheDay": "08:00", "timezone": "UTC"},
    }


def test_a_stack_that_runs_on_arrival_refreshes_spice_hourly():
    """Runs that start when the data lands (prod's stack file) have no time to follow, so
    SPICE re-reads the table every hour."""
    resources = run_program("prod", QUICKSIGHT_ON)
    (refresh,) = [r for r in resources if r.type == REFRESH]
    assert refresh.inputs["schedule"] == {
        "refreshType": "FULL_REFRESH",
        "scheduleFrequency": {"interval": "HOURLY"},
    }


def test_on_demand_and_direct_query_stacks_have_no_refresh_schedule(on_run):
    """An on-demand stack is refreshed by verify --run; direct query needs no refresh."""
    assert on_run.of_type(REFRESH) == []
    direct = run_program("prod", dict(QUICKSIGHT_ON, quicksightImportMode="DIRECT_QUERY"))
    assert [r for r in direct if r.type == REFRESH] == []


@pytest.mark.parametrize(
    ("schedule", "minutes", "expected"),
    [
        ("cron(0 6 * * ? *)", 120, RefreshTiming("DAILY", "08:00")),
        ("cron(30 23 * * ? *)", 45, RefreshTiming("DAILY", "00:15")),
        (
            "cron(0 22 ? * SAT *)",
            180,
            RefreshTiming("WEEKLY", "01:00", "SUNDAY"),
        ),
        ("cron(15 4 ? * 2 *)", 30, RefreshTiming("WEEKLY", "04:45", "MONDAY")),
    ],
)
def test_refresh_follows_the_job_schedule(schedule, minutes, expected):
    """Daily and one-weekday schedules map to a refresh that many minutes later, rolling into
    the next day (and weekday) past midnight."""
    assert refresh_after(schedule, minutes) == expected


@pytest.mark.parametrize(
    "schedule", ["cron(0 6 ? * MON-FRI *)", "cron(0/15 * * * ? *)", "cron(0 6 1 * ? *)"]
)
def test_a_schedule_quicksight_cannot_follow_fails_config_clearly(schedule):
    """Several weekdays, sub-daily or monthly runs have no QuickSight refresh equivalent: the
    config error names the schedule key and both fixes."""
    values = dict(QUICKSIGHT_ON, schedule=schedule)
    with pytest.raises(ConfigError, match=r"spotify-pipeline:schedule = .*DIRECT_QUERY") as error:
        load_stack_config("prod", values)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("quicksightImportMode", "spice", "SPICE, DIRECT_QUERY"),
        ("quicksightAccess", "admin", "owner, viewer"),
    ],
)
def test_bad_quicksight_values_name_the_key_and_choices(key, value, allowed):
    """A wrong import mode or access level fails before any resource, naming the choices."""
    with pytest.raises(ConfigError, match=f"spotify-pipeline:{key} = '{value}'.*{allowed}"):
        load_stack_config("dev", dict(QUICKSIGHT_ON, **{key: value}))


# --- Outputs and guards ---------------------------------------------------------------------------


def test_quicksight_outputs_appear_exactly_when_enabled(dev_run, on_run):
    """Data source, data set and dashboard outputs are optional keys, exported only with
    QuickSight on, and name what the program declared."""
    keys = {k.value for k in QUICKSIGHT_KEYS}
    assert QUICKSIGHT_KEYS <= OPTIONAL_KEYS
    assert keys.isdisjoint(dev_run.outputs)
    outputs = on_run.outputs
    dashboard = only(on_run, DASHBOARD)
    assert (
        outputs["quicksight_dashboard_id"]
        == dashboard.inputs["dashboardId"]
        == "spotify-dev-insights"
    )
    assert outputs["quicksight_dashboard_arn"] == on_run.states[dashboard.urn]["arn"]
    assert outputs["quicksight_data_set_arn"] == on_run.states[only(on_run, DATA_SET).urn]["arn"]
    assert outputs["quicksight_dashboard_url"] == (
        "https://eu-west-1.quicksight.aws.amazon.com/sn/dashboards/spotify-dev-insights"
    )


def test_quicksight_source_queries_the_workgroup_for_the_principals(on_run):
    """The data source is ATHENA on the stack's workgroup, owned by the configured group."""
    source = only(on_run, DATA_SOURCE).inputs
    assert source["type"] == "ATHENA"
    assert source["parameters"]["athena"]["workGroup"] == on_run.outputs["athena_workgroup"]
    assert source["awsAccountId"] == "123456789012"


def test_quicksight_enabled_without_principals_fails_clearly():
    """Turning QuickSight on with no principal fails before deploying anything."""
    with pytest.raises(ConfigError, match="quicksightPrincipals"):
        run_program("dev", {"quicksightEnabled": "true"})


def test_component_refuses_an_empty_principal_list():
    """The component itself refuses to build resources nobody can use."""
    args = QuickSightArgs(
        environment="dev",
        account_id="1",
        region="eu-west-1",
        workgroup_name="w",
        database_name="d",
        table_name="t",
        principals=[],
    )
    with pytest.raises(QuickSightConfigError, match="quicksightPrincipals"):
        QuickSight("q", args)


def test_the_spec_is_valid():
    """The committed spec has no problem either renderer would trip on."""
    assert dashboard_spec.spec_problems() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chart": "kpi"}, "a kpi chart needs one measure and no dimension"),
        (
            {"dimensions": (dashboard_spec.Dimension("genres"),)},
            "'genres' (array<string>) has no QuickSight type",
        ),
        ({"dimensions": (dashboard_spec.Dimension("genre"),)}, "'genre' is not a column"),
        (
            {"sort": (dashboard_spec.Sort("popularity"),)},
            "sorts by 'popularity', which it does not show",
        ),
        (
            {"measures": (dashboard_spec.Measure("artist_name", "AVERAGE", "x"),)},
            "AVERAGE needs a numeric column",
        ),
    ],
)
def test_spec_problems_name_the_visual_and_the_fix(change, message):
    """A visual reading a column QuickSight cannot type, outside the contract, of the wrong
    shape for its chart, or sorting by a field it lacks, is reported by its id."""
    from dataclasses import replace

    visual = replace(dashboard_spec.DASHBOARD.visuals[2], **change)
    spec = replace(dashboard_spec.DASHBOARD, visuals=(visual,))
    problems = dashboard_spec.spec_problems(spec)
    assert any(p.startswith(f"visual {visual.id!r}") and message in p for p in problems), problems
