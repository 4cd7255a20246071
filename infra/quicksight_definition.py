"""The QuickSight rendering of the dashboard spec, the data set's columns, and who may do what.

Pure: the dashboard definition is plain dicts with the Pulumi SDK's Python (snake_case)
argument names, which the SDK turns into the provider's camelCase names;
``tests/infra/test_quicksight_api.py`` maps those back to the API's own names and validates them
against botocore's model of ``CreateDashboard``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, Literal, TypeVar

from spotify_glue.contract import QUICKSIGHT_TYPES, WAREHOUSE_COLUMNS, Column

from infra.dashboard_spec import (
    COLUMN_TYPES,
    AtLeast,
    DashboardSpec,
    Dimension,
    Field,
    ListControl,
    Measure,
    NotNull,
    NumberFormat,
    RangeControl,
    Visual,
)

DATA_SET_IDENTIFIER: Final = "tracks"
"""How the definition names the one data set it reads."""
TABLE_ID: Final = "spotify-tracks"
"""The data set's physical and logical table id (letters, digits and hyphens only)."""
SHEET_ID: Final = "overview"
GRID_COLUMNS: Final = 36
"""QuickSight's grid layout is 36 columns wide."""

Access = Literal["owner", "viewer"]
ACCESS_LEVELS: Final = ("owner", "viewer")
ImportMode = Literal["SPICE", "DIRECT_QUERY"]
IMPORT_MODES: Final = ("SPICE", "DIRECT_QUERY")

# What the QuickSight console grants a resource's owners and viewers. The viewer lists are the
# ones AWS's developer guide shows for UpdateDataSourcePermissions, UpdateDataSetPermissions and
# UpdateDashboardPermissions; an owner can also change, share and delete the resource.
DATA_SOURCE_ACTIONS: Final[dict[Access, tuple[str, ...]]] = {
    "viewer": (
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
    ),
    "owner": (
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
        "quicksight:UpdateDataSource",
        "quicksight:DeleteDataSource",
        "quicksight:UpdateDataSourcePermissions",
    ),
}
DATA_SET_ACTIONS: Final[dict[Access, tuple[str, ...]]] = {
    "viewer": (
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:PassDataSet",
        "quicksight:DescribeIngestion",
        "quicksight:ListIngestions",
    ),
    "owner": (
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:PassDataSet",
        "quicksight:DescribeIngestion",
        "quicksight:ListIngestions",
        "quicksight:UpdateDataSet",
        "quicksight:DeleteDataSet",
        "quicksight:CreateIngestion",
        "quicksight:CancelIngestion",
        "quicksight:UpdateDataSetPermissions",
        # The console's owners also manage the data set's refresh (the program schedules one).
        "quicksight:CreateRefreshSchedule",
        "quicksight:DescribeRefreshSchedule",
        "quicksight:ListRefreshSchedules",
        "quicksight:UpdateRefreshSchedule",
        "quicksight:DeleteRefreshSchedule",
        "quicksight:PutDataSetRefreshProperties",
        "quicksight:DescribeDataSetRefreshProperties",
        "quicksight:DeleteDataSetRefreshProperties",
    ),
}
DASHBOARD_ACTIONS: Final[dict[Access, tuple[str, ...]]] = {
    "viewer": (
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
    ),
    "owner": (
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
        "quicksight:UpdateDashboard",
        "quicksight:DeleteDashboard",
        "quicksight:DescribeDashboardPermissions",
        "quicksight:UpdateDashboardPermissions",
        "quicksight:UpdateDashboardPublishedVersion",
    ),
}


_Grant = TypeVar("_Grant")


def permissions(
    grant: Callable[..., _Grant], principals: Iterable[str], actions: Iterable[str]
) -> list[_Grant]:
    """One ``grant(principal=..., actions=[...])`` per principal, ``grant`` being the
    resource's own permission type in the SDK."""
    return [grant(principal=p, actions=list(actions)) for p in principals]


def console_url(region: str, dashboard_id: str) -> str:
    """Where a user opens the dashboard in the QuickSight console."""
    return f"https://{region}.quicksight.aws.amazon.com/sn/dashboards/{dashboard_id}"


# --- The data set -------------------------------------------------------------------------------


def data_set_columns() -> tuple[Column, ...]:
    """The contract's columns that QuickSight can type, in contract order. Arrays have no
    QuickSight type, so ``genres`` stays out; ``primary_genre`` carries the genre."""
    return tuple(c for c in WAREHOUSE_COLUMNS if c.type in QUICKSIGHT_TYPES)


def described_columns() -> tuple[Column, ...]:
    """The data set's columns whose contract comment becomes their QuickSight description."""
    return tuple(c for c in data_set_columns() if c.comment)


# --- The dashboard definition -------------------------------------------------------------------


def _column(name: str) -> dict[str, str]:
    return {"data_set_identifier": DATA_SET_IDENTIFIER, "column_name": name}


def _number_format(kind: NumberFormat) -> dict[str, Any]:
    display: dict[str, Any] = {
        "separator_configuration": {
            "thousands_separator": {"visibility": "HIDDEN" if kind == "year" else "VISIBLE"}
        },
        "decimal_places_configuration": {"decimal_places": 2 if kind == "decimal" else 0},
    }
    return {"number_display_format_configuration": display}


def field_id(visual: Visual, item: Field) -> str:
    """Unique across the definition, as QuickSight requires of field ids."""
    return f"{visual.id}.{item.name}"


FIELD_TYPES: Final[dict[str, str]] = {
    "STRING": "STRING",
    "INTEGER": "INTEGER",
    "DECIMAL": "DECIMAL",
    "DATETIME": "DATETIME",
    "BOOLEAN": "INTEGER",
}
"""The type of the field QuickSight makes of each input column type: its own four types as they
are, and a Boolean promoted to an integer, 1 or 0 (Amazon QuickSight User Guide, "Supported data
types and values"). A visual's field kind and a filter's kind follow the field's type."""


def field_type(column: str) -> str:
    return FIELD_TYPES[QUICKSIGHT_TYPES[COLUMN_TYPES[column]]]


def _is_numeric(column: str) -> bool:
    return field_type(column) in ("INTEGER", "DECIMAL")


def _dimension(visual: Visual, item: Dimension) -> dict[str, Any]:
    field: dict[str, Any] = {"field_id": field_id(visual, item), "column": _column(item.column)}
    if _is_numeric(item.column):
        field["format_configuration"] = {"format_configuration": _number_format(item.number_format)}
        return {"numerical_dimension_field": field}
    if field_type(item.column) == "DATETIME":
        return {"date_dimension_field": field}
    return {"categorical_dimension_field": field}


def _aggregation(measure: Measure) -> dict[str, Any]:
    if _is_numeric(measure.column):
        return {
            "numerical_aggregation_function": {"simple_numerical_aggregation": measure.aggregation}
        }
    return {"categorical_aggregation_function": measure.aggregation}


def _measure(visual: Visual, item: Measure) -> dict[str, Any]:
    field: dict[str, Any] = {"field_id": field_id(visual, item), "column": _column(item.column)}
    number = {"format_configuration": _number_format(item.number_format)}
    if _is_numeric(item.column):
        field["aggregation_function"] = {"simple_numerical_aggregation": item.aggregation}
        field["format_configuration"] = number
        return {"numerical_measure_field": field}
    field["aggregation_function"] = item.aggregation
    field["format_configuration"] = {"numeric_format_configuration": number["format_configuration"]}
    return {"categorical_measure_field": field}


def _field_sort(visual: Visual) -> list[dict[str, Any]]:
    return [
        {
            "field_sort": {
                "field_id": field_id(visual, visual.field(s.field)),
                "direction": "DESC" if s.descending else "ASC",
            }
        }
        for s in visual.sort
        if s.field in {f.name for f in visual.fields}
    ]


def _limit(visual: Visual) -> dict[str, Any]:
    return {"items_limit": visual.limit, "other_categories": "EXCLUDE"}


def _sort(visual: Visual, sort_key: str, limit_key: str) -> dict[str, Any]:
    """A chart's sort configuration: its field sort, and its items limit when the visual has
    one (each chart type names the two members its own way)."""
    sort: dict[str, Any] = {sort_key: _field_sort(visual)}
    if visual.limit is not None:
        sort[limit_key] = _limit(visual)
    return sort


def _chart(visual: Visual) -> tuple[str, dict[str, Any]]:
    """The visual's member name in the API's Visual union and its chart configuration."""
    dims = [_dimension(visual, d) for d in visual.dimensions]
    values = [_measure(visual, m) for m in visual.measures]
    match visual.chart:
        case "bar":
            return "bar_chart_visual", {
                "field_wells": {
                    "bar_chart_aggregated_field_wells": {"category": dims, "values": values}
                },
                "sort_configuration": _sort(visual, "category_sort", "category_items_limit"),
                "orientation": "HORIZONTAL",
            }
        case "line":
            return "line_chart_visual", {
                "field_wells": {
                    "line_chart_aggregated_field_wells": {"category": dims, "values": values}
                },
                "sort_configuration": _sort(
                    visual, "category_sort", "category_items_limit_configuration"
                ),
                "type": "LINE",
            }
        case "heat_map":
            return "heat_map_visual", {
                "field_wells": {
                    "heat_map_aggregated_field_wells": {
                        "rows": dims[:1],
                        "columns": dims[1:],
                        "values": values,
                    }
                },
                "sort_configuration": _sort(
                    visual, "heat_map_row_sort", "heat_map_row_items_limit_configuration"
                ),
            }
        case "scatter":
            wells = (
                {
                    "scatter_plot_unaggregated_field_wells": {
                        "x_axis": dims[:1],
                        "y_axis": dims[1:],
                    }
                }
                if not values
                else {
                    "scatter_plot_categorically_aggregated_field_wells": {
                        "category": dims,
                        "x_axis": values[:1],
                        "y_axis": values[1:],
                    }
                }
            )
            chart: dict[str, Any] = {"field_wells": wells}
            if visual.limit is not None:
                chart["sort_configuration"] = {"scatter_plot_limit_configuration": _limit(visual)}
            return "scatter_plot_visual", chart
        case "table":
            sort: dict[str, Any] = {"row_sort": _field_sort(visual)}
            if visual.limit is not None:
                # The first page holds the top rows, the same rows the local preview shows.
                sort["pagination_configuration"] = {"page_size": visual.limit, "page_number": 1}
            return "table_visual", {
                "field_wells": {
                    "table_aggregated_field_wells": {"group_by": dims, "values": values}
                },
                "sort_configuration": sort,
            }
        case "kpi":
            return "kpi_visual", {"field_wells": {"values": values}}
    raise ValueError(f"visual {visual.id!r}: unknown chart type {visual.chart!r}")


def visual_definition(visual: Visual) -> dict[str, Any]:
    member, chart = _chart(visual)
    return {
        member: {
            "visual_id": visual.id,
            "title": {"visibility": "VISIBLE", "format_text": {"plain_text": visual.title}},
            "subtitle": {"visibility": "VISIBLE", "format_text": {"plain_text": visual.question}},
            "chart_configuration": chart,
        }
    }


def _visual_scope(visual: Visual) -> dict[str, Any]:
    return {
        "selected_sheets": {
            "sheet_visual_scoping_configurations": [
                {"sheet_id": SHEET_ID, "scope": "SELECTED_VISUALS", "visual_ids": [visual.id]}
            ]
        }
    }


def _not_null(filter_id: str, column: str) -> dict[str, Any]:
    if _is_numeric(column):
        return {
            "numeric_range_filter": {
                "filter_id": filter_id,
                "column": _column(column),
                "select_all_options": "FILTER_ALL_VALUES",
                "null_option": "NON_NULLS_ONLY",
            }
        }
    return {
        "category_filter": {
            "filter_id": filter_id,
            "column": _column(column),
            "configuration": {
                "filter_list_configuration": {
                    "match_operator": "CONTAINS",
                    "select_all_options": "FILTER_ALL_VALUES",
                    "null_option": "NON_NULLS_ONLY",
                }
            },
        }
    }


def _at_least(filter_id: str, item: AtLeast) -> dict[str, Any]:
    return {
        "numeric_range_filter": {
            "filter_id": filter_id,
            "column": _column(item.measure.column),
            "aggregation_function": _aggregation(item.measure),
            "range_minimum": {"static_value": item.minimum},
            "include_minimum": True,
            "null_option": "NON_NULLS_ONLY",
        }
    }


def visual_filter_groups(visual: Visual) -> list[dict[str, Any]]:
    """The visual's own filters: one group scoped to it, or none."""
    filters = []
    for index, item in enumerate(visual.filters):
        filter_id = f"{visual.id}-filter{index}"
        if isinstance(item, NotNull):
            filters.append(_not_null(filter_id, item.column))
        else:
            filters.append(_at_least(filter_id, item))
    if not filters:
        return []
    return [
        {
            "filter_group_id": f"{visual.id}-filters",
            "filters": filters,
            "scope_configuration": _visual_scope(visual),
            "cross_dataset": "SINGLE_DATASET",
            "status": "ENABLED",
        }
    ]


def control_filter_id(control: RangeControl | ListControl) -> str:
    return f"control-{control.column}"


def _control_filter(control: RangeControl | ListControl) -> dict[str, Any]:
    if isinstance(control, RangeControl):
        return {
            "numeric_range_filter": {
                "filter_id": control_filter_id(control),
                "column": _column(control.column),
                "select_all_options": "FILTER_ALL_VALUES",
                "include_minimum": True,
                "include_maximum": True,
                "null_option": "ALL_VALUES",
            }
        }
    return {
        "category_filter": {
            "filter_id": control_filter_id(control),
            "column": _column(control.column),
            "configuration": {
                "filter_list_configuration": {
                    "match_operator": "CONTAINS",
                    "select_all_options": "FILTER_ALL_VALUES",
                    "null_option": "ALL_VALUES",
                }
            },
        }
    }


def _control(control: RangeControl | ListControl) -> dict[str, Any]:
    common = {
        "filter_control_id": f"{control_filter_id(control)}-control",
        "title": control.title,
        "source_filter_id": control_filter_id(control),
    }
    if isinstance(control, RangeControl):
        return {
            "slider": {
                **common,
                "type": "RANGE",
                "minimum_value": control.minimum,
                "maximum_value": control.maximum,
                "step_size": 1,
            }
        }
    return {"dropdown": {**common, "type": "MULTI_SELECT"}}


def control_filter_groups(spec: DashboardSpec) -> list[dict[str, Any]]:
    """The dashboard-wide filters behind the controls, on every visual of the sheet."""
    return [
        {
            "filter_group_id": f"{control_filter_id(control)}-group",
            "filters": [_control_filter(control)],
            "scope_configuration": {
                "selected_sheets": {
                    "sheet_visual_scoping_configurations": [
                        {"sheet_id": SHEET_ID, "scope": "ALL_VISUALS"}
                    ]
                }
            },
            "cross_dataset": "SINGLE_DATASET",
            "status": "ENABLED",
        }
        for control in spec.controls
    ]


def _layout(spec: DashboardSpec) -> list[dict[str, Any]]:
    """KPIs side by side in one row, then two charts per row."""
    elements = []
    for visual in spec.visuals:
        kpi = visual.chart == "kpi"
        elements.append(
            {
                "element_id": visual.id,
                "element_type": "VISUAL",
                "column_span": GRID_COLUMNS // 4 if kpi else GRID_COLUMNS // 2,
                "row_span": 4 if kpi else 12,
            }
        )
    return [{"configuration": {"grid_layout": {"elements": elements}}}]


def dashboard_definition(spec: DashboardSpec, data_set_arn: object) -> dict[str, Any]:
    """The dashboard's ``definition``: one sheet with every visual of the spec, the controls
    on top, and each visual's own filters. ``data_set_arn`` may be a Pulumi Output."""
    return {
        "data_set_identifier_declarations": [
            {"identifier": DATA_SET_IDENTIFIER, "data_set_arn": data_set_arn}
        ],
        "sheets": [
            {
                "sheet_id": SHEET_ID,
                "name": spec.title,
                "title": spec.title,
                "visuals": [visual_definition(v) for v in spec.visuals],
                "filter_controls": [_control(c) for c in spec.controls],
                "layouts": _layout(spec),
            }
        ],
        "filter_groups": [
            *control_filter_groups(spec),
            *(group for v in spec.visuals for group in visual_filter_groups(v)),
        ],
    }


PUBLISH_OPTIONS: Final[dict[str, Any]] = {
    "ad_hoc_filtering_option": {"availability_status": "ENABLED"},
    "export_to_csv_option": {"availability_status": "ENABLED"},
    "sheet_controls_option": {"visibility_state": "EXPANDED"},
}
"""Readers may filter ad hoc and download each visual's data as CSV, as in the local report."""
