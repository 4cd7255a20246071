"""The local preview of the QuickSight dashboard: the same spec (``infra/dashboard_spec.py``),
the same titles, chart types and queries, drawn on this run's DuckDB answers.

Pure: visual and rows in, HTML out. Charts are matplotlib SVG (Agg backend, text kept as text)
inline in the page, so the report works offline; tables and KPIs are HTML. Each visual's data is
a CSV download held in a ``data:`` URI, so nothing is fetched either way.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.ticker import FuncFormatter, MaxNLocator

from infra.dashboard_spec import (
    DASHBOARD,
    DashboardSpec,
    Field,
    ListControl,
    NumberFormat,
    Visual,
    dashboard_id,
    dashboard_name,
    data_set_id,
)

Rows = Sequence[Mapping[str, Any]]

ACCENT: Final = "#1DB954"
SECOND: Final = "#535353"
NUMERIC_FORMATS: Final = frozenset({"count", "decimal", "year"})

CSS: Final = """
.visuals{display:grid;grid-template-columns:repeat(auto-fit,minmax(34rem,1fr));gap:1rem}
.visual{margin:0;border:1px solid #e4e4e4;border-radius:.4rem;padding:.6rem .8rem;overflow-x:auto}
.visual-kpi{text-align:center}
.visual figcaption{margin-bottom:.4rem} .visual figcaption strong{display:block}
.question{color:#535353;font-size:.85rem}
.visual svg{max-width:100%;height:auto}
.kpi-value{font-size:2.4rem;font-weight:700;color:#191414;font-variant-numeric:tabular-nums}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.data{font-size:.8rem;color:#535353;margin:.3rem 0 0}
.controls{color:#535353}
"""


# --- Numbers ----------------------------------------------------------------------------------


def format_value(value: Any, kind: NumberFormat) -> str:
    """How a value reads in the preview: years as 2023, counts as 1,952, decimals as 33.48."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "year" and isinstance(value, int | float):
        return f"{int(value)}"
    if kind == "count" and isinstance(value, int | float):
        return f"{round(value):,}"
    if kind == "decimal" and isinstance(value, int | float):
        return f"{value:,.2f}"
    return str(value)


def _axis_format(axis: Axis, kind: NumberFormat) -> None:
    if kind == "text":
        return

    def tick(value: float, _pos: int | None) -> str:
        # Round tick values read better without decimals (20, not 20.00).
        whole = kind == "decimal" and float(value).is_integer()
        return format_value(value, "count" if whole else kind)

    axis.set_major_formatter(FuncFormatter(tick))
    if kind == "year":
        axis.set_major_locator(MaxNLocator(integer=True, nbins=8))


# --- CSV ----------------------------------------------------------------------------------------


def csv_text(visual: Visual, rows: Rows) -> str:
    """The visual's rows as CSV: one column per field, named as in the query, values as is."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [f.name for f in visual.fields]
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row.get(n) is None else row.get(n) for n in names])
    return out.getvalue()


def csv_link(visual: Visual, rows: Rows) -> str:
    encoded = base64.b64encode(csv_text(visual, rows).encode("utf-8")).decode("ascii")
    return (
        f"<a class='csv' download='{visual.id}.csv' "
        f"href='data:text/csv;charset=utf-8;base64,{encoded}'>Download CSV</a>"
    )


# --- Charts -------------------------------------------------------------------------------------


def _values(rows: Rows, item: Field) -> list[float]:
    return [math.nan if r.get(item.name) is None else float(r[item.name]) for r in rows]


def _labels(rows: Rows, item: Field) -> list[str]:
    return [format_value(r.get(item.name), item.number_format) for r in rows]


def _bar(ax: Axes, visual: Visual, rows: Rows) -> None:
    (dimension,), (measure,) = visual.dimensions, visual.measures
    shown = list(rows)[::-1]  # the first row on top
    ax.barh(_labels(shown, dimension), _values(shown, measure), color=ACCENT)
    ax.set_xlabel(measure.title)
    _axis_format(ax.xaxis, measure.number_format)


def _line(ax: Axes, visual: Visual, rows: Rows) -> None:
    (dimension,) = visual.dimensions
    xs = _values(rows, dimension)
    for index, measure in enumerate(visual.measures):
        color = (ACCENT, SECOND)[index % 2]
        ax.plot(xs, _values(rows, measure), marker=".", color=color, label=measure.title)
    ax.set_xlabel(dimension.title)
    _axis_format(ax.xaxis, dimension.number_format)
    _axis_format(ax.yaxis, visual.measures[0].number_format)
    ax.legend(loc="upper left")


def _scatter(ax: Axes, visual: Visual, rows: Rows) -> None:
    x, y = (visual.dimensions if not visual.measures else visual.measures)[:2]
    ax.scatter(_values(rows, x), _values(rows, y), s=9, alpha=0.5, color=ACCENT, linewidths=0)
    ax.set_xlabel(x.title)
    ax.set_ylabel(y.title)
    _axis_format(ax.xaxis, x.number_format)
    _axis_format(ax.yaxis, y.number_format)


def _heat_map(ax: Axes, visual: Visual, rows: Rows) -> None:
    row_field, column_field = visual.dimensions
    (measure,) = visual.measures
    row_keys = list(dict.fromkeys(r[row_field.name] for r in rows))
    column_keys = sorted({r[column_field.name] for r in rows})
    grid = [[math.nan] * len(column_keys) for _ in row_keys]
    for r in rows:
        value = r[measure.name]
        grid[row_keys.index(r[row_field.name])][column_keys.index(r[column_field.name])] = (
            math.nan if value is None else float(value)
        )
    image = ax.imshow(grid, aspect="auto", cmap="Greens", interpolation="nearest")
    ax.set_yticks(
        range(len(row_keys)), [format_value(k, row_field.number_format) for k in row_keys]
    )
    step = max(1, len(column_keys) // 10)
    ticks = list(range(0, len(column_keys), step))
    ax.set_xticks(ticks, [format_value(column_keys[i], column_field.number_format) for i in ticks])
    ax.set_xlabel(column_field.title)
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(measure.title)


DRAW: Final = {"bar": _bar, "line": _line, "scatter": _scatter, "heat_map": _heat_map}


def render_svg(visual: Visual, rows: Rows) -> str:
    """The visual as an inline <svg> element; deterministic for the same rows."""
    buffer = io.StringIO()
    with (
        plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": visual.id}),
        warnings.catch_warnings(),
    ):
        # Text stays text in the SVG and the browser's fonts draw it, so glyphs missing from
        # matplotlib's own font (CJK, emoji) only affect layout estimates, not the picture.
        warnings.filterwarnings(
            "ignore", message=r"Glyph .* missing from font", category=UserWarning
        )
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        try:
            if rows:
                DRAW[visual.chart](ax, visual, rows)
            else:
                ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
            fig.tight_layout()
            fig.savefig(buffer, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


# --- Tables and KPIs ----------------------------------------------------------------------------


def _cell(item: Field, value: Any, tag: str = "td") -> str:
    numeric = item.number_format in NUMERIC_FORMATS
    cls = " class='num'" if numeric else ""
    return f"<{tag}{cls}>{html.escape(format_value(value, item.number_format))}</{tag}>"


def render_table(visual: Visual, rows: Rows) -> str:
    if not rows:
        return "<p><em>no rows</em></p>"
    head = "".join(
        f"<th{' class=num' if f.number_format in NUMERIC_FORMATS else ''}>"
        f"{html.escape(f.title)}</th>"
        for f in visual.fields
    )
    body = "".join(
        "<tr>" + "".join(_cell(f, r.get(f.name)) for f in visual.fields) + "</tr>" for r in rows
    )
    return (
        f"<table class='visual-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render_kpi(visual: Visual, rows: Rows) -> str:
    (measure,) = visual.measures
    value = rows[0].get(measure.name) if rows else None
    return f"<div class='kpi-value'>{html.escape(format_value(value, measure.number_format))}</div>"


def render_visual(visual: Visual, rows: Rows) -> str:
    """One visual: its title and question, the chart (or table, or number), and its data."""
    if visual.chart == "table":
        body = render_table(visual, rows)
    elif visual.chart == "kpi":
        body = render_kpi(visual, rows)
    else:
        body = render_svg(visual, rows)
    return (
        f"<figure class='visual visual-{visual.chart}' id='visual-{visual.id}'>"
        f"<figcaption><strong>{html.escape(visual.title)}</strong>"
        f"<span class='question'>{html.escape(visual.question)}</span></figcaption>"
        f"{body}"
        f"<p class='data'>{csv_link(visual, rows)} ({len(rows):,} row"
        f"{'' if len(rows) == 1 else 's'}) from "
        f"<code>sql/insights/{visual.id}.sql</code></p></figure>"
    )


def render_dashboard(
    insights: Mapping[str, Rows], stack: str = "dev", spec: DashboardSpec = DASHBOARD
) -> str:
    """Every visual of the spec with its query's rows, under a note saying where the deployed
    dashboard shows them. Visuals whose query did not run are left out."""
    controls = ", ".join(
        f"{c.title} ({'list' if isinstance(c, ListControl) else 'range'})" for c in spec.controls
    )
    visuals = "".join(render_visual(v, insights[v.id]) for v in spec.visuals if v.id in insights)
    return (
        "<p class='sub'>A preview of the QuickSight dashboard "
        f"<strong>{html.escape(dashboard_name(stack))}</strong> "
        f"(<code>{dashboard_id(stack)}</code>) on data set <code>{data_set_id(stack)}</code>, "
        f"which stack <code>{html.escape(stack)}</code> deploys with "
        "<code>quicksightEnabled: true</code> (in another stack, its name replaces "
        f"<code>{html.escape(stack)}</code>). Here the same queries run on DuckDB over this "
        "run's table.</p>"
        f"<p class='controls'>Dashboard filters: {html.escape(controls)}; the preview shows all "
        "values, as the dashboard does when it opens.</p>"
        f"<div class='visuals'>{visuals}</div>"
    )
