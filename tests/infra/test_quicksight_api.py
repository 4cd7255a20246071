"""The dashboard the program declares is a request QuickSight accepts.

Mocks accept any definition; AWS does not. So the definition the program sends (the dashboard's
camelCase Pulumi inputs, as recorded under mocks) is mapped to the QuickSight API's own names and
checked against botocore's model of ``CreateDashboard`` (the API's input shapes as AWS ships them
in its SDKs):
- botocore's ``ParamValidator``: unknown and missing members, types, minimum lengths;
- what ``ParamValidator`` leaves out and the model still states: enum values, maximum lengths,
  the ``pattern`` of ids (visual, filter and control ids allow only ``[\\w\\-]``), and "union"
  structures, which the API Reference documents as "only one of the attributes can be defined"
  (https://docs.aws.amazon.com/quicksight/latest/APIReference/API_Visual.html).
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator

from tests.infra.conftest import QUICKSIGHT_GROUP
from tests.infra.harness import ProgramRun, RecordedResource, run_stack

DASHBOARD: str = "aws-native:quicksight:Dashboard"
QUICKSIGHT_ON = {"quicksightEnabled": "true", "quicksightPrincipals": f'["{QUICKSIGHT_GROUP}"]'}


class MappingError(ValueError):
    """A Pulumi input has no counterpart in the API's model."""


@cache
def quicksight_model() -> Any:
    return botocore.session.get_session().get_service_model("quicksight")


def create_dashboard_shape() -> StructureShape:
    shape: StructureShape = quicksight_model().operation_model("CreateDashboard").input_shape
    return shape


def _member(shape: StructureShape, key: str, path: str) -> str:
    """The API member a Pulumi (camelCase) key stands for.

    Pulumi derives its names from the API's (CloudFormation's) PascalCase by lowering the first
    letter and any leading acronym (``KPIVisual`` -> ``kpiVisual``, ``ExportToCSVOption`` ->
    ``exportToCsvOption``), so the names match case-insensitively, and only so: a key that matches
    no member, or more than one, is an error rather than a guess."""
    matches = [name for name in shape.members if name.lower() == key.lower()]
    if len(matches) != 1:
        raise MappingError(f"{path}.{key}: no member of {shape.name} is called so")
    return str(matches[0])


def to_api(value: Any, shape: Shape, path: str = "$") -> Any:
    """``value`` (Pulumi wire names) with the API's member names, walking the API's shapes."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise MappingError(f"{path}: expected an object for {shape.name}")
        out = {}
        for key, item in value.items():
            name = _member(shape, key, path)
            out[name] = to_api(item, shape.members[name], f"{path}.{name}")
        return out
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise MappingError(f"{path}: expected a list for {shape.name}")
        return [to_api(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, MapShape):
        return {k: to_api(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    if shape.type_name in ("integer", "long") and isinstance(value, float) and value.is_integer():
        # The engine carries every number as a double; the provider converts by its schema.
        return int(value)
    return value


def model_problems(value: Any, shape: Shape, path: str = "$") -> list[str]:
    """What the model states that ``ParamValidator`` does not check."""
    problems: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        if "union type structure" in (shape.documentation or "") and len(value) != 1:
            problems.append(f"{path}: {shape.name} is a union; set exactly one of its members")
        for name, item in value.items():
            if name in shape.members:
                problems += model_problems(item, shape.members[name], f"{path}.{name}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(f"{path}: {len(value)} items, at most {maximum} allowed")
        for index, item in enumerate(value):
            problems += model_problems(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            problems += model_problems(key, shape.key, f"{path} key")
            problems += model_problems(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(f"{path}: longer than {maximum} characters")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
    return problems


def request_problems(request: dict[str, Any], operation: str = "CreateDashboard") -> list[str]:
    shape = quicksight_model().operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    problems = [report.generate_report()] if report.has_errors() else []
    return problems + model_problems(request, shape)


def create_dashboard_request(dashboard: RecordedResource) -> dict[str, Any]:
    """The CreateDashboard request the dashboard's Pulumi inputs stand for."""
    return dict(to_api(dashboard.inputs, create_dashboard_shape()))


@pytest.fixture(scope="module")
def quicksight_run() -> ProgramRun:
    return run_stack("dev", QUICKSIGHT_ON)


@pytest.fixture(scope="module")
def dashboard(quicksight_run: ProgramRun) -> RecordedResource:
    (found,) = quicksight_run.of_type(DASHBOARD)
    return found


def test_the_dashboard_request_is_valid_for_create_dashboard(dashboard):
    """Every input of the dashboard, definition included, maps to CreateDashboard's members
    and satisfies its model: types, required members, enums, lengths, id patterns, unions."""
    request = create_dashboard_request(dashboard)
    assert set(request) >= {"AwsAccountId", "DashboardId", "Name", "Definition", "Permissions"}
    assert request_problems(request) == []


def _visuals(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for sheet in request["Definition"]["Sheets"] for v in sheet["Visuals"]]


def _breakages() -> dict[str, Any]:
    def bad_enum(r: dict[str, Any]) -> None:
        r["Definition"]["FilterGroups"][0]["CrossDataset"] = "ONE_DATASET"

    def dotted_id(r: dict[str, Any]) -> None:
        r["Definition"]["FilterGroups"][0]["FilterGroupId"] = "control.release_year"

    def two_members(r: dict[str, Any]) -> None:
        visual = _visuals(r)[0]
        visual["TableVisual"] = {"VisualId": "extra"}

    def missing_required(r: dict[str, Any]) -> None:
        del r["Definition"]["DataSetIdentifierDeclarations"][0]["DataSetArn"]

    def wrong_type(r: dict[str, Any]) -> None:
        r["Definition"]["Sheets"][0]["Layouts"][0]["Configuration"]["GridLayout"]["Elements"][0][
            "ColumnSpan"
        ] = "half"

    return {
        "an enum value the API does not know": (bad_enum, "is not one of"),
        "an id with a dot": (dotted_id, "does not match"),
        "a union with two members": (two_members, "is a union"),
        "a required member left out": (missing_required, "Missing required parameter"),
        "a value of the wrong type": (wrong_type, "Invalid type"),
    }


@pytest.mark.parametrize("case", sorted(_breakages()))
def test_the_check_fails_on_what_aws_would_refuse(dashboard, case):
    """The same check finds a broken request: each breakage is reported with its path."""
    request = create_dashboard_request(dashboard)
    assert request_problems(request) == []
    broken = copy.deepcopy(request)
    breakage, message = _breakages()[case]
    breakage(broken)
    problems = request_problems(broken)
    assert any(message in p for p in problems), problems


def test_the_mapping_refuses_a_key_the_api_does_not_have(dashboard):
    """A Pulumi key with no API counterpart (a misspelt or snake_case name) is an error
    naming its path, never dropped or guessed."""
    inputs = copy.deepcopy(dashboard.inputs)
    inputs["definition"]["sheets"][0]["visuals"][0]["kpiVisual"]["chart_configuration"] = {}
    with pytest.raises(MappingError, match=r"KPIVisual\.chart_configuration"):
        to_api(inputs, create_dashboard_shape())


def test_acronym_members_map_case_insensitively():
    """Names whose API spelling holds an acronym map back exactly (KPIVisual, ExportToCSVOption,
    DataQAEnabledOption), while an ambiguous or unknown name does not map."""
    shape = create_dashboard_shape()
    request = to_api(
        {
            "dashboardPublishOptions": {
                "exportToCsvOption": {"availabilityStatus": "ENABLED"},
                "dataQaEnabledOption": {"availabilityStatus": "ENABLED"},
            },
            "definition": {
                "sheets": [{"sheetId": "s", "visuals": [{"kpiVisual": {"visualId": "k"}}]}]
            },
        },
        shape,
    )
    options = request["DashboardPublishOptions"]
    assert set(options) == {"ExportToCSVOption", "DataQAEnabledOption"}
    assert request["Definition"]["Sheets"][0]["Visuals"][0] == {"KPIVisual": {"VisualId": "k"}}


def test_the_dashboard_reads_the_data_set_the_program_declares(quicksight_run, dashboard):
    """The definition's one data set is the program's data set, by ARN."""
    (data_set,) = quicksight_run.of_type("aws:quicksight/dataSet:DataSet")
    declarations = dashboard.inputs["definition"]["dataSetIdentifierDeclarations"]
    assert [d["dataSetArn"] for d in declarations] == [quicksight_run.states[data_set.urn]["arn"]]


def create_data_set_request(data_set: RecordedResource) -> dict[str, Any]:
    """The CreateDataSet request the data set's Pulumi inputs stand for. pulumi-aws (from
    Terraform) models the API's two table maps as lists with the key as a member, and tags as
    a map; those three are put back in the API's shape before the names are mapped."""
    inputs = copy.deepcopy(data_set.inputs)
    inputs["physicalTableMap"] = {
        t.pop("physicalTableMapId"): t for t in inputs.pop("physicalTableMaps")
    }
    inputs["logicalTableMap"] = {
        t.pop("logicalTableMapId"): t for t in inputs.pop("logicalTableMaps")
    }
    inputs["tags"] = [{"key": k, "value": v} for k, v in inputs.pop("tags", {}).items()]
    shape = quicksight_model().operation_model("CreateDataSet").input_shape
    return dict(to_api(inputs, shape))


def test_the_data_set_request_is_valid_for_create_data_set(quicksight_run):
    """The data set's inputs, columns and descriptions included, satisfy CreateDataSet's
    model; table ids allow only letters, digits and hyphens, so not the table's own name."""
    (data_set,) = quicksight_run.of_type("aws:quicksight/dataSet:DataSet")
    request = create_data_set_request(data_set)
    assert set(request["PhysicalTableMap"]) == {"spotify-tracks"}
    assert request_problems(request, "CreateDataSet") == []
    broken = copy.deepcopy(request)
    broken["PhysicalTableMap"]["spotify_tracks"] = broken["PhysicalTableMap"].pop("spotify-tracks")
    assert any("does not match" in p for p in request_problems(broken, "CreateDataSet"))
