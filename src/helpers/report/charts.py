"""The issue's Altair charts: one house theme, one builder per chart, and saving a
chart's spec for the publisher to draw.

Builders take **store rows**: a list of plain dicts exactly as docs/store.md
describes one table of the figure store, e.g.
`outbound_chart(store["tables"]["outbound"]["services"])`. They never compute a
figure: every number printed in a chart (text marks and tooltips) is a `*_label`
field of the rows, made by `helpers.fmt`; marks are drawn from the raw fields.
The rules every builder keeps (tested in tests/test_charts.py, written down in
docs/charts.md):

- one inline dataset per chart (the rows, as given, in their order); rows with a
  row-level field (`*_id`, `staff_id`) are refused with ValueError;
- no `resolve` of independent scales, no joinaggregate / window / normalising
  transform (the 100 % satisfaction bars' `stack="normalize"` excepted);
- every colour / strokeDash legend lists exactly the series present in the rows;
  a colour that carries meaning always has a legend;
- quantitative axes start at zero; rate axes run over [0, 1];
- `width="container"`: charts fill the page and a 375 px phone.

This module imports neither pandas nor vl-convert (section kernels stay light); the
files drawn from a chart (SVG, PNG, its data as CSV) are made by helpers.report.export,
which in turn never imports Altair. Importing it registers and
enables the `kefu` theme.

Determinism: no selections or parameters (Altair would invent `param_N` names),
datasets named by a hash of their content, sort orders computed from the rows:
the same rows give byte-identical `to_json()` in any process and call order.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import altair as alt
from altair.utils.schemapi import debug_mode

from helpers.data.schema import LINES, RATINGS
from helpers.report.export import EXPORT_WIDTH, SPEC_SUFFIX, export_spec

THEME = "kefu"
FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)
# A restrained bank palette: navy first, the bank's red second, then muted tones.
NAVY, RED, STEEL, GOLD, SAGE, GREY = (
    "#1f4e79",
    "#b8312f",
    "#6f8fae",
    "#c9a227",
    "#5f8a6b",
    "#8c8c8c",
)
PALETTE = [NAVY, RED, STEEL, GOLD, SAGE, GREY]
PALE = "#adc3d9"  # a faded navy: "beyond the threshold"
INK, MUTED, RULE = "#262626", "#595959", "#d9d9d9"
# Fixed colours of known series; a legend's domain is still only what the rows hold.
LINE_COLORS = dict(zip(LINES, [NAVY, RED], strict=True))
# Satisfied ratings in navy shades, neutral grey, dissatisfied in reds.
RATING_COLORS = dict(zip(RATINGS, [NAVY, STEEL, "#bfbfbf", "#e07b73", RED], strict=True))
ONLINE_COLORS = {"请求量": STEEL, "接通量": NAVY}
OUTCOME_COLORS = {"自助解决": NAVY, "转人工": STEEL}
KIND_COLORS = {"出具投诉工单": RED, "转为其他工单": STEEL}
PERIOD_COLORS = {"上年同期": GREY, "本期": NAVY}
PERIODS = ("上年同期", "本期")
ANSWER_RATE = "接通率"
HEIGHT = 200


@alt.theme.register(THEME, enable=True)
def kefu_theme() -> alt.theme.ThemeConfig:
    """The house look: CJK-capable sans fonts, bank palette, phone-readable sizes."""
    return {
        "config": {
            "font": FONT,
            "background": "white",
            "padding": 6,
            "view": {"continuousWidth": EXPORT_WIDTH, "continuousHeight": HEIGHT, "stroke": None},
            "title": {
                "fontSize": 15,
                "fontWeight": "bold",
                "color": INK,
                "anchor": "start",
                "subtitleFontSize": 12,
                "subtitleColor": MUTED,
                "offset": 8,
            },
            "axis": {
                "labelFontSize": 12,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "labelColor": MUTED,
                "titleColor": MUTED,
                "gridColor": RULE,
                "domainColor": "#a6a6a6",
                "tickColor": "#a6a6a6",
                "labelLimit": 160,
            },
            # Few, never overlapping numbers on value axes (a phone's plot is ~200 px wide).
            "axisQuantitative": {"tickCount": 5, "labelOverlap": True},
            "legend": {
                "labelFontSize": 12,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "orient": "top",
                "labelColor": INK,
                "titleColor": MUTED,
            },
            "header": {"labelFontSize": 12, "titleFontSize": 12},
            "text": {"fontSize": 12, "color": INK},
            "range": {
                "category": PALETTE,
                "heatmap": {"scheme": "blues"},
                "ramp": {"scheme": "blues"},
            },
            "bar": {"color": NAVY},
            "line": {"color": NAVY, "strokeWidth": 2},
            "point": {"color": NAVY, "filled": True},
            "rule": {"color": RED},
            "rect": {"color": NAVY},
            "locale": {
                "number": {
                    "decimal": ".",
                    "thousands": ",",
                    "grouping": [3],
                    "currency": ["¥", ""],
                }
            },
        }
    }


# ---------------------------------------------------------------- validation

_Build = TypeVar("_Build", bound=Callable[..., Any])


def _builder(build: _Build) -> _Build:
    """A chart builder, run without Altair's debug mode (which validates every object it
    makes against the Vega-Lite schema as it is made, a second and third time).

    The specs are validated whole instead, where it costs nothing at publish time: every
    builder's output in tests/test_charts.py, every chart the sample issue publishes in
    tests/test_publish.py (docs/decisions.md, "Chart specs: validated by the tests").
    """

    @functools.wraps(build)
    def unchecked(*args: Any, **kwargs: Any) -> Any:
        with debug_mode(False):
            return build(*args, **kwargs)

    return unchecked  # type: ignore[return-value]


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """A chart -> its Vega-Lite spec as the issue draws it and the publisher saves it
    (not validated here, nor the objects the conversion makes: see `_builder`)."""
    with debug_mode(False):
        return chart.to_dict(validate=False)


# ---------------------------------------------------------------- rows


def is_row_level(field: str) -> bool:
    """A field that identifies a call, chat, ticket, … or a member of staff."""
    return field.endswith("_id") or field == "staff_id"


# Each store table's fields in the order of docs/store.md: the column order of the
# chart's CSV (store.json is written with sorted keys, so the rows cannot tell it).
STORE_FIELDS: dict[str, tuple[str, ...]] = {
    "daily": (
        "date",
        "requests",
        "requests_label",
        "answered",
        "answered_label",
        "answer_rate",
        "answer_rate_label",
        "service_level",
        "service_level_label",
    ),
    "daily_rates": ("date", "measure", "rate", "rate_label"),
    "arrivals": (
        "weekday",
        "weekday_rank",
        "hour",
        "requests",
        "requests_label",
        "days",
        "mean_requests",
        "mean_requests_label",
    ),
    "waits": (
        "bin",
        "bin_start",
        "bin_end",
        "open",
        "calls",
        "calls_label",
        "share",
        "share_label",
        "density",
        "within",
    ),
    "online_daily": ("date", "measure", "chats", "chats_label"),
    "ratings": ("channel", "rating", "rating_rank", "count", "count_label", "share", "share_label"),
    "outbound_services": (
        "service",
        "calls",
        "calls_label",
        "connected",
        "connected_label",
        "connect_rate",
        "connect_rate_label",
    ),
    "sms_services": ("service", "batches", "batches_label", "recipients", "recipients_label"),
    "composition": (
        "channel",
        "outcome",
        "outcome_rank",
        "sessions",
        "sessions_label",
        "share",
        "share_label",
    ),
    "diversion": (
        "month",
        "month_label",
        "resolved",
        "resolved_label",
        "inbound_requests",
        "inbound_requests_label",
        "online_requests",
        "online_requests_label",
        "diversion_rate",
        "diversion_rate_label",
    ),
    "business": ("type", "count", "count_label", "share", "share_label"),
    "complaint_outcomes": ("ticket_type", "tickets", "tickets_label", "kind"),
    "complaint_routes": ("routed_to", "tickets", "tickets_label"),
    "actions": ("action", "items", "items_label"),
    "points": ("action", "knowledge_points", "knowledge_points_label"),
    "monthly": (
        "month",
        "month_label",
        "sessions",
        "sessions_label",
        "attendances",
        "attendances_label",
        "hours",
        "hours_label",
    ),
    "yoy": ("figure", "key", "period", "quarter", "value", "value_label", "change_label"),
    "trend": (
        "quarter",
        "quarter_label",
        "key",
        "label",
        "group",
        "kind",
        "value",
        "value_label",
        "qoq",
        "qoq_label",
        "yoy",
        "yoy_label",
    ),
}


def _rows(rows: Iterable[Mapping[str, Any]], table: str, required: Sequence[str]) -> list[dict[str, Any]]:
    """Store rows -> plain dicts (copies, every row with the same columns, in the rows' order;
    columns in the order of docs/store.md, any others after them).

    Refuses any row-level field (ValueError) and rows lacking a field the chart draws.
    """
    rows = [dict(row) for row in rows]
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(row))
    columns = {c: None for c in STORE_FIELDS[table] if c in present}
    columns.update(present)
    leaked = sorted(c for c in columns if is_row_level(c))
    if leaked:
        raise ValueError(f"row-level fields may not be charted: {leaked}")
    missing = sorted({f for row in rows for f in required if f not in row})
    if missing:
        raise ValueError(f"chart rows lack the fields {missing}")
    return [{c: row.get(c) for c in columns} for row in rows]


def _data(rows: list[dict[str, Any]]) -> alt.InlineData:
    """The chart's one dataset (Altair names it by a hash of its content)."""
    return alt.InlineData(values=rows)


def _present(rows: Sequence[Mapping[str, Any]], field: str, rank: str | None = None) -> list[Any]:
    """The distinct values of `field`, by `rank` when given, else in order of first appearance."""
    ordered = sorted(rows, key=lambda r: r[rank]) if rank else rows
    return list(dict.fromkeys(row[field] for row in ordered))


def _scale(domain: Sequence[Any], colors: Mapping[Any, str], fallback: Sequence[str] = PALETTE) -> alt.Scale:
    """A colour scale over exactly `domain`: known series keep their colour, others take the palette."""
    spare = [c for c in fallback if c not in {colors.get(v) for v in domain}] or list(fallback)
    chosen, n = [], 0
    for value in domain:
        if value in colors:
            chosen.append(colors[value])
        else:
            chosen.append(spare[n % len(spare)])
            n += 1
    return alt.Scale(domain=list(domain), range=chosen)


def _tip(field: str, title: str) -> alt.Tooltip:
    """A tooltip line: text as the store printed it (a `*_label`) or a category."""
    return alt.Tooltip(f"{field}:N", title=title)


def _date_tip() -> alt.Tooltip:
    return alt.Tooltip("date:T", title="日期", format="%Y-%m-%d")


def _responsive(rows: Sequence[Mapping[str, Any]], chart: Any, height: float = HEIGHT) -> Any:
    """Fill the width of the page's container (a 375 px phone included).

    `usermeta.columns` keeps the rows' column order for the CSV download
    (`spec_table`): notebooks and the page store specs with sorted keys.
    """
    sized = chart.copy(deep=False)  # what `.properties()` does, without validating each value
    sized.usermeta = {"columns": list(rows[0]) if rows else []}
    # fit-x: the width follows the container, the height stays the plot's own
    # (a full "fit" would squeeze the plot under legends and titles).
    sized.width = "container"
    sized.height = height
    sized.autosize = alt.AutoSizeParams(type="fit-x", contains="padding")
    return sized


def _headroom(rows: Sequence[Mapping[str, Any]], field: str, room: float = 1.25) -> alt.Scale:
    """A zero-based scale with space beyond the longest bar for its label."""
    top = max((float(row[field]) for row in rows if row[field] is not None), default=0.0)
    return alt.Scale(zero=True, domain=[0, top * room if top > 0 else 1], nice=False)


def _rate_scale() -> alt.Scale:
    return alt.Scale(zero=True, domain=[0, 1], nice=False)


# Made at import, without validating either (see _builder): the schema is never loaded.
with debug_mode(False):
    # Small dots on daily lines: each day's tooltip (a line alone shows one datum for the whole path).
    _POINTS = alt.OverlayMarkDef(size=12, filled=True)
    # ... and their legend still shows line strokes (dashed or solid), not the dots.
    _LINE_LEGEND = alt.Legend(symbolType="stroke", symbolStrokeWidth=2, symbolSize=240)


def _date_axis(rows: Sequence[Mapping[str, Any]]) -> alt.Axis:
    """A day axis with about six ticks on whole days (a short range never repeats a day)."""
    days = sorted({datetime.fromisoformat(str(row["date"])).date() for row in rows})
    span = (days[-1] - days[0]).days + 1 if days else 1
    if span <= 21:
        ticks = alt.TickCount(interval="day", step=max(1, math.ceil(span / 6)))
    else:
        ticks = alt.TickCount(interval="week", step=max(1, math.ceil(span / 7 / 7)))
    return alt.Axis(format="%m-%d", labelAngle=0, tickCount=ticks)


def _months(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """`month_label`s in calendar order (by `month`)."""
    return _present(rows, "month_label", rank="month")


# ---------------------------------------------------------------- inbound


@_builder
def daily_requests_chart(daily_rows: Sequence[Mapping[str, Any]], line: str) -> alt.Chart:
    """`inbound_*.daily` -> human-agent requests per day on one hotline (`综合` / `信用卡`).

    One series, so no legend: the line is named in the title.
    """
    rows = _rows(daily_rows, "daily", ["date", "requests", "requests_label"])
    tooltip = [_date_tip(), _tip("requests_label", "请求量")]
    for field, title in (
        ("answered_label", "接通量"),
        ("answer_rate_label", "接通率"),
        ("service_level_label", "服务水平"),
    ):
        if rows and field in rows[0]:
            tooltip.append(_tip(field, title))
    chart = (
        alt.Chart(_data(rows), title=f"每日人工服务请求量（{line}）")
        .mark_line(
            color=LINE_COLORS.get(line, NAVY),
            point=alt.OverlayMarkDef(size=12, filled=True, color=LINE_COLORS.get(line, NAVY)),
        )
        .encode(
            x=alt.X("date:T", title="日期", axis=_date_axis(rows)),
            y=alt.Y("requests:Q", title="请求量（人次）", scale=alt.Scale(zero=True)),
            tooltip=tooltip,
        )
    )
    return _responsive(rows, chart)


@_builder
def daily_rates_chart(
    daily_rates_rows: Sequence[Mapping[str, Any]], target: float | None, target_label: str
) -> alt.LayerChart:
    """`inbound_*.daily_rates` -> answer rate and service level per day on a 0–100 % axis,
    with a rule at `target` (a fraction; None: no rule) labelled `target_label`
    (printed by helpers.fmt, e.g. "目标 80.00%")."""
    rows = _rows(daily_rates_rows, "daily_rates", ["date", "measure", "rate", "rate_label"])
    measures = _present(rows, "measure")
    dashes = [[4, 3] if m == ANSWER_RATE else [1, 0] for m in measures]
    colors = {ANSWER_RATE: STEEL, **{m: NAVY for m in measures if m != ANSWER_RATE}}
    lines = (
        alt.Chart(_data(rows))
        .mark_line(point=_POINTS)
        .encode(
            x=alt.X("date:T", title="日期", axis=_date_axis(rows)),
            y=alt.Y("rate:Q", title="比率", axis=alt.Axis(format="%"), scale=_rate_scale()),
            color=alt.Color(
                "measure:N", title="指标", sort=measures, scale=_scale(measures, colors), legend=_LINE_LEGEND
            ),
            strokeDash=alt.StrokeDash(
                "measure:N",
                title="指标",
                sort=measures,
                scale=alt.Scale(domain=measures, range=dashes),
                legend=_LINE_LEGEND,
            ),
            tooltip=[_date_tip(), _tip("measure", "指标"), _tip("rate_label", "比率")],
        )
    )
    layers: list[Any] = [lines]
    if target is not None:
        # Data-less layers: one rule and one label (Altair gives them its `empty` datum).
        rule = alt.Chart().mark_rule(strokeDash=[2, 2]).encode(y=alt.YDatum(target, type="quantitative"))
        label = (
            alt.Chart()
            .mark_text(align="right", dx=-2, dy=-7, color=RED)
            .encode(
                x=alt.XValue("width"),
                y=alt.YDatum(target, type="quantitative"),
                text=alt.TextDatum(target_label, type="nominal"),
            )
        )
        layers += [rule, label]
    title = "每日" + "与".join(str(m) for m in measures) if measures else "每日接通率与服务水平"
    return _responsive(rows, alt.layer(*layers, title=title))


@_builder
def arrival_heatmap_chart(arrivals_rows: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """`inbound_*.arrivals` -> weekday × hour grid coloured by mean requests per day."""
    rows = _rows(
        arrivals_rows,
        "arrivals",
        ["weekday", "weekday_rank", "hour", "mean_requests", "mean_requests_label", "requests_label"],
    )
    weekdays = _present(rows, "weekday", rank="weekday_rank")
    chart = (
        alt.Chart(_data(rows), title="人工服务请求时段分布（日均）")
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="时", axis=alt.Axis(labelAngle=0, values=list(range(0, 24, 3)))),
            y=alt.Y("weekday:N", title=None, sort=weekdays),
            color=alt.Color(
                "mean_requests:Q",
                title="日均请求量",
                scale=alt.Scale(scheme="blues", zero=True),
                legend=alt.Legend(orient="top", gradientLength=180, format=",.1~f"),
            ),
            tooltip=[
                _tip("weekday", "星期"),
                alt.Tooltip("hour:O", title="时"),
                _tip("mean_requests_label", "日均请求量"),
                _tip("requests_label", "季度合计"),
            ],
        )
    )
    return _responsive(rows, chart, height=7 * 22)


def _step(rows: Sequence[Mapping[str, Any]]) -> float | None:
    """The bins' nominal width: the open bin is drawn one step wide (docs/store.md)."""
    for row in rows:
        if row.get("open"):
            return float(row["bin_end"]) - float(row["bin_start"])
    widths = [float(r["bin_end"]) - float(r["bin_start"]) for r in rows]
    return max(set(widths), key=widths.count) if widths else None


@_builder
def wait_histogram_chart(waits_rows: Sequence[Mapping[str, Any]], threshold_label: str) -> alt.Chart:
    """`inbound_*.waits` -> waiting time of answered requests, bins at their true widths.

    x runs from `bin_start` to `bin_end`, the height is `density` (share per step
    seconds), so a bin's *area* is its share even when the threshold makes bins
    unequal (T = 12 s: 10–12 and 12–15). Colour: within / beyond `threshold_label`.
    """
    rows = _rows(
        waits_rows,
        "waits",
        ["bin", "bin_start", "bin_end", "density", "within", "calls_label", "share_label"],
    )
    within = _present(rows, "within")
    colors = {w: (NAVY if str(w).startswith("≤") else PALE) for w in within}
    step = _step(rows)
    ordered = sorted(rows, key=lambda r: float(r["bin_start"]))
    # Ticks: every 10 s, and the threshold (where `within` changes) instead of a tick too near it.
    cuts = [
        float(b["bin_start"])
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a["within"] != b["within"]
    ]
    last = max((float(r["bin_end"]) for r in rows if not r.get("open")), default=0.0)
    tens = [10.0 * k for k in range(int(last // 10) + 1)]
    ticks = sorted(set(cuts) | {t for t in tens if t == 0 or all(abs(t - c) >= 5 for c in cuts)})
    opened = [r for r in rows if r.get("open")]
    subtitle = [f"阈值{threshold_label}；柱宽为时长区间，柱面积为占接通量比例"]
    if opened:
        subtitle.append(f"末栏 {opened[-1]['bin']} 为{float(opened[-1]['bin_start']):g}秒以上（画作一档宽）")
    y_title = f"占接通量比例（每{step:g}秒）" if step else "占接通量比例"
    chart = (
        alt.Chart(_data(rows), title=alt.Title("接通前等待时长分布", subtitle=subtitle))
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X(
                "bin_start:Q",
                title="等待时长（秒）",
                scale=alt.Scale(zero=True, nice=False),
                axis=alt.Axis(values=[int(t) if t.is_integer() else t for t in ticks], labelAngle=0),
            ),
            x2=alt.X2("bin_end"),
            y=alt.Y("density:Q", title=y_title, axis=alt.Axis(format=".0%"), scale=alt.Scale(zero=True)),
            y2=alt.Y2Datum(0),
            color=alt.Color("within:N", title="等待", sort=within, scale=_scale(within, colors)),
            tooltip=[_tip("bin", "等待（秒）"), _tip("calls_label", "接通量"), _tip("share_label", "占比")],
        )
    )
    return _responsive(rows, chart)


# ---------------------------------------------------------------- other channels


@_builder
def daily_online_chart(daily_rows: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """`online.daily` -> online requests and answered chats per day (one line per measure)."""
    rows = _rows(daily_rows, "online_daily", ["date", "measure", "chats", "chats_label"])
    measures = _present(rows, "measure")
    chart = (
        alt.Chart(_data(rows), title="网络在线服务每日请求与接通")
        .mark_line(point=_POINTS)
        .encode(
            x=alt.X("date:T", title="日期", axis=_date_axis(rows)),
            y=alt.Y("chats:Q", title="人次", scale=alt.Scale(zero=True)),
            color=alt.Color(
                "measure:N",
                title="指标",
                sort=measures,
                scale=_scale(measures, ONLINE_COLORS),
                legend=_LINE_LEGEND,
            ),
            tooltip=[_date_tip(), _tip("measure", "指标"), _tip("chats_label", "人次")],
        )
    )
    return _responsive(rows, chart)


@_builder
def satisfaction_chart(ratings_rows: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """`satisfaction.ratings` -> one 100 % bar of ratings per channel."""
    rows = _rows(
        ratings_rows, "ratings", ["channel", "rating", "rating_rank", "count", "count_label", "share_label"]
    )
    ratings = _present(rows, "rating", rank="rating_rank")
    channels = _present(rows, "channel")
    chart = (
        alt.Chart(_data(rows), title="客户满意度评价构成")
        .mark_bar()
        .encode(
            y=alt.Y("channel:N", title=None, sort=channels),
            x=alt.X(
                "count:Q",
                title="占比",
                stack="normalize",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=True),
            ),
            color=alt.Color(
                "rating:N",
                title="评价",
                sort=ratings,
                scale=_scale(ratings, RATING_COLORS),
                legend=alt.Legend(columns=3),
            ),
            order=alt.Order("rating_rank:Q", sort="ascending"),
            tooltip=[
                _tip("channel", "渠道"),
                _tip("rating", "评价"),
                _tip("count_label", "份数"),
                _tip("share_label", "占比"),
            ],
        )
    )
    return _responsive(rows, chart, height=36 * max(1, len(channels)))


def _hbars(
    rows: list[dict[str, Any]],
    category: str,
    value: str,
    label: str,
    *,
    title: Any,
    value_title: str,
    tooltip: list[alt.Tooltip],
    row_height: int,
    color: alt.Color | None = None,
) -> alt.LayerChart:
    """One horizontal bar per row (in the rows' order), its printed label at the bar end."""
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y(f"{category}:N", title=None, sort=_present(rows, category)),
        # room right of the longest bar for its label, on a phone's narrow plot too
        x=alt.X(f"{value}:Q", title=value_title, scale=_headroom(rows, value, 1.45)),
    )
    bar_encoding: dict[str, Any] = {"tooltip": tooltip}
    if color is not None:
        bar_encoding["color"] = color
    bars = base.mark_bar().encode(**bar_encoding)
    labels = base.mark_text(align="left", dx=3, fontSize=11).encode(text=alt.Text(f"{label}:N"))
    return _responsive(rows, alt.layer(bars, labels, title=title), height=row_height * max(1, len(rows)))


def _service_bars(
    services_rows: Sequence[Mapping[str, Any]],
    table: str,
    value: str,
    title: str,
    value_title: str,
    tooltip: list[tuple[str, str]],
    row_height: int,
) -> alt.LayerChart:
    """One bar per service, in the store's order (largest first), labelled at its end."""
    rows = _rows(services_rows, table, ["service", value, f"{value}_label"])
    tips = [_tip("service", "服务")] + [_tip(f, t) for f, t in tooltip if not rows or f in rows[0]]
    return _hbars(
        rows,
        "service",
        value,
        f"{value}_label",
        title=title,
        value_title=value_title,
        tooltip=tips,
        row_height=row_height,
    )


@_builder
def outbound_chart(services_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`outbound.services` -> outbound calls per service, largest first."""
    return _service_bars(
        services_rows,
        "outbound_services",
        "calls",
        "各项呼出服务外呼量",
        "外呼量（次）",
        [("calls_label", "外呼量"), ("connected_label", "接通量"), ("connect_rate_label", "接通率")],
        22,
    )


@_builder
def sms_chart(services_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`sms.services` -> customers notified per SMS service, largest first."""
    return _service_bars(
        services_rows,
        "sms_services",
        "recipients",
        "各项短信服务通知量",
        "通知客户（次）",
        [("recipients_label", "通知客户"), ("batches_label", "批次")],
        28,
    )


@_builder
def smart_composition_chart(composition_rows: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """`smart.composition` -> sessions per smart channel, resolved by self-service vs handed over."""
    rows = _rows(
        composition_rows,
        "composition",
        ["channel", "outcome", "outcome_rank", "sessions", "sessions_label", "share_label"],
    )
    outcomes = _present(rows, "outcome", rank="outcome_rank")
    channels = _present(rows, "channel")
    chart = (
        alt.Chart(_data(rows), title="智慧客服服务量构成")
        .mark_bar()
        .encode(
            y=alt.Y("channel:N", title=None, sort=channels),
            x=alt.X("sessions:Q", title="服务量（次）", scale=alt.Scale(zero=True)),
            color=alt.Color("outcome:N", title="结果", sort=outcomes, scale=_scale(outcomes, OUTCOME_COLORS)),
            order=alt.Order("outcome_rank:Q", sort="ascending"),
            tooltip=[
                _tip("channel", "渠道"),
                _tip("outcome", "结果"),
                _tip("sessions_label", "服务量"),
                _tip("share_label", "占比"),
            ],
        )
    )
    return _responsive(rows, chart, height=40 * max(1, len(channels)))


@_builder
def diversion_chart(diversion_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`smart.diversion` -> 智能服务分流率 per month on a 0–100 % axis, labelled."""
    rows = _rows(
        diversion_rows, "diversion", ["month", "month_label", "diversion_rate", "diversion_rate_label"]
    )
    tooltip = [_tip("month_label", "月份")]
    for field, title in (
        ("resolved_label", "智能解决"),
        ("inbound_requests_label", "热线人工请求"),
        ("online_requests_label", "在线人工请求"),
        ("diversion_rate_label", "分流率"),
    ):
        if rows and field in rows[0]:
            tooltip.append(_tip(field, title))
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("month_label:O", title=None, sort=_months(rows), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("diversion_rate:Q", title="分流率", axis=alt.Axis(format="%"), scale=_rate_scale()),
    )
    bars = base.mark_bar(color=NAVY, size=36).encode(tooltip=tooltip)
    labels = base.mark_text(dy=-8).encode(text=alt.Text("diversion_rate_label:N"))
    return _responsive(rows, alt.layer(bars, labels, title="智能服务分流率（按月）"))


@_builder
def video_business_chart(business_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`video.business` -> video sessions per business type, labelled with its share."""
    rows = _rows(business_rows, "business", ["type", "count", "count_label", "share_label"])
    return _hbars(
        rows,
        "type",
        "count",
        "share_label",
        title="视频客服业务构成",
        value_title="笔数",
        tooltip=[_tip("type", "业务"), _tip("count_label", "笔数"), _tip("share_label", "占比")],
        row_height=24,
    )


# ---------------------------------------------------------------- tickets


@_builder
def complaint_outcomes_chart(rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`tickets.complaint_outcomes` -> what the received complaints became: one bar per
    ticket type, coloured by kind (complaint ticket issued / converted to another
    ticket). The bars sum to the complaints received."""
    data = _rows(rows, "complaint_outcomes", ["ticket_type", "tickets", "tickets_label", "kind"])
    kinds = _present(data, "kind")
    rank = {kind: i for i, kind in enumerate(kinds)}
    data = sorted(data, key=lambda r: rank[r["kind"]])  # stable: the store's order within a kind
    return _hbars(
        data,
        "ticket_type",
        "tickets",
        "tickets_label",
        title=alt.Title("受理投诉的去向", subtitle="按最终工单类型；各条合计为受理投诉量"),
        value_title="笔数",
        tooltip=[_tip("ticket_type", "工单类型"), _tip("kind", "去向"), _tip("tickets_label", "笔数")],
        row_height=26,
        color=alt.Color("kind:N", title="去向", sort=kinds, scale=_scale(kinds, KIND_COLORS)),
    )


@_builder
def complaint_routes_chart(rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`tickets.complaint_routes` -> where complaint tickets went (sums to the complaint tickets)."""
    data = _rows(rows, "complaint_routes", ["routed_to", "tickets", "tickets_label"])
    return _hbars(
        data,
        "routed_to",
        "tickets",
        "tickets_label",
        title=alt.Title("投诉工单流向", subtitle="各条合计为投诉工单量"),
        value_title="笔数",
        tooltip=[_tip("routed_to", "流向"), _tip("tickets_label", "笔数")],
        row_height=26,
    )


# ---------------------------------------------------------------- knowledge base, training


@_builder
def kb_actions_chart(actions_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`knowledge_base.actions` -> maintenance items per action (unit: 项)."""
    rows = _rows(actions_rows, "actions", ["action", "items", "items_label"])
    return _hbars(
        rows,
        "action",
        "items",
        "items_label",
        title="知识库维护项目",
        value_title="项",
        tooltip=[_tip("action", "类别"), _tip("items_label", "维护项目")],
        row_height=30,
    )


@_builder
def kb_points_chart(points_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`knowledge_base.points` -> knowledge points added and improved (unit: 个知识点)."""
    rows = _rows(points_rows, "points", ["action", "knowledge_points", "knowledge_points_label"])
    return _hbars(
        rows,
        "action",
        "knowledge_points",
        "knowledge_points_label",
        title="知识点新增与优化",
        value_title="个知识点",
        tooltip=[_tip("action", "类别"), _tip("knowledge_points_label", "知识点")],
        row_height=30,
    )


@_builder
def training_chart(monthly_rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """`training.monthly` -> training hours per month (sessions, attendances in the tooltip)."""
    rows = _rows(monthly_rows, "monthly", ["month", "month_label", "hours", "hours_label"])
    tooltip = [_tip("month_label", "月份")]
    for field, title in (
        ("sessions_label", "场次"),
        ("attendances_label", "参训人次"),
        ("hours_label", "时长（小时）"),
    ):
        if rows and field in rows[0]:
            tooltip.append(_tip(field, title))
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("month_label:O", title=None, sort=_months(rows), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("hours:Q", title="培训时长（小时）", scale=_headroom(rows, "hours", 1.2)),
    )
    bars = base.mark_bar(size=36).encode(tooltip=tooltip)
    labels = base.mark_text(dy=-8).encode(text=alt.Text("hours_label:N"))
    return _responsive(rows, alt.layer(bars, labels, title="员工培训时长（按月）"))


# ---------------------------------------------------------------- year on year

YOY_STEP = 64  # px per figure: its bars and the change line under them
YOY_PADDING_INNER, YOY_PADDING_OUTER = 0.4, 0.3


TREND_HEIGHT = 130  # one small multiple of the 近期趋势 section


@_builder
def trend_chart(trend_rows: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """`trend.series` rows of ONE headline KPI -> its small multiple: the value per quarter,
    oldest first, as a line with dots. Every KPI's chart is this one builder: same height,
    colour, axes. Rates run over 0–100 %, counts from zero. A quarter without figures
    (value null) keeps its place on the axis and breaks the line: never interpolated."""
    rows = _rows(
        trend_rows, "trend", ["quarter", "quarter_label", "key", "label", "kind", "value", "value_label"]
    )
    keys = _present(rows, "key")
    if len(keys) > 1:
        raise ValueError(f"one headline KPI per trend chart, got {keys}")
    rate = bool(rows) and rows[0]["kind"] == "rate"
    label = str(rows[0]["label"]) if rows else ""
    # Tick formats only (the printed values are the store's labels): 0–100 %, or 300,000.
    axis = alt.Axis(format="%" if rate else ",~f", tickCount=3)
    y = alt.Y("value:Q", title=None, axis=axis, scale=_rate_scale() if rate else alt.Scale(zero=True))
    chart = (
        alt.Chart(_data(rows), title=label)
        # "break-paths-show-domains": a null value breaks the path and its quarter stays on the axis.
        .mark_line(
            color=NAVY, point=alt.OverlayMarkDef(size=30, filled=True), invalid="break-paths-show-domains"
        )
        .encode(
            x=alt.X(
                "quarter_label:O",
                title=None,
                sort=[str(row["quarter_label"]) for row in rows],
                axis=alt.Axis(labelAngle=0, labelOverlap=True),
            ),
            y=y,
            tooltip=[
                _tip("quarter_label", "季度"),
                _tip("value_label", label or "数值"),
                _tip("qoq_label", "环比"),
                _tip("yoy_label", "同比"),
            ],
        )
    )
    return _responsive(rows, chart, TREND_HEIGHT)


@_builder
def yoy_chart(yoy_rows: Sequence[Mapping[str, Any]], title: str, unit_title: str) -> alt.LayerChart:
    """`<section>.yoy` -> per figure, a bar per period present, on ONE shared zero-based
    axis titled `unit_title` (the figures of one chart share a unit). Each bar ends
    with its `value_label`; the `本期` row's `change_label` (同比…) is printed under
    the figure's bars. Without a prior year only 本期 bars (and legend) appear."""
    rows = _rows(yoy_rows, "yoy", ["figure", "period", "value", "value_label"])
    figures = _present(rows, "figure")
    present = set(_present(rows, "period"))
    periods = [p for p in PERIODS if p in present] + sorted(present - set(PERIODS), key=str)
    percent = unit_title.strip() in {"%", "％"} or unit_title.endswith("率")
    axis = alt.Axis(format="%") if percent else alt.Axis()
    tooltip = [_tip("figure", "指标"), _tip("period", "期间")]
    if rows and "quarter" in rows[0]:
        tooltip.append(_tip("quarter", "季度"))
    tooltip.append(_tip("value_label", "数值"))
    y = alt.Y(
        "figure:N",
        title=None,
        sort=figures,
        scale=alt.Scale(paddingInner=YOY_PADDING_INNER, paddingOuter=YOY_PADDING_OUTER),
    )
    base = alt.Chart(_data(rows)).encode(
        y=y,
        x=alt.X("value:Q", title=unit_title, axis=axis, scale=_headroom(rows, "value", 1.3)),
    )
    bars = base.mark_bar().encode(
        yOffset=alt.YOffset("period:N", sort=periods, scale=alt.Scale(domain=periods)),
        color=alt.Color("period:N", title=None, sort=periods, scale=_scale(periods, PERIOD_COLORS)),
        tooltip=tooltip,
    )
    values = base.mark_text(align="left", dx=3, fontSize=11).encode(
        yOffset=alt.YOffset("period:N", sort=periods, scale=alt.Scale(domain=periods)),
        text=alt.Text("value_label:N"),
    )
    layers: list[Any] = [bars, values]
    height = YOY_STEP * max(1, len(figures))
    if rows and "change_label" in rows[0]:
        # The change line sits in the gap under each figure's bars: half a band below its centre.
        step = height / (max(1, len(figures)) - YOY_PADDING_INNER + 2 * YOY_PADDING_OUTER)
        band = step * (1 - YOY_PADDING_INNER)
        change = (
            alt.Chart(_data(rows))
            .transform_filter(alt.FieldEqualPredicate(field="period", equal="本期"))
            .mark_text(align="left", baseline="top", dy=band / 2 + 2, fontSize=11, color=MUTED)
            .encode(
                y=y,
                x=alt.XValue(0),
                text=alt.Text("change_label:N"),
                tooltip=[_tip("figure", "指标"), _tip("change_label", "同比")],
            )
        )
        layers.append(change)
    return _responsive(rows, alt.layer(*layers, title=title), height=height)


# ---------------------------------------------------------------- saving


def save_chart(
    chart: alt.TopLevelMixin,
    path_without_suffix: str | Path,
    width: int = EXPORT_WIDTH,
    scale: float = 2.0,
) -> tuple[Path, Path]:
    """Chart -> `<path>.svg` and `<path>.png` (at `scale`× for sharp phone screens).

    Container-wide charts are exported at `width` px. Returns both paths.
    Needs a CJK font vl-convert can find (see docs/charts.md), else Chinese
    text renders as boxes.
    """
    return export_spec(spec(chart), path_without_suffix, width, scale)


def save_spec(chart: alt.TopLevelMixin | dict, path_without_suffix: str | Path) -> Path:
    """Chart (or its `spec()`, to convert it once) -> `<path>.vl.json`, its
    Vega-Lite spec, for `export_spec_file` to turn into SVG and PNG later. Section notebooks
    save specs (cheap) rather than images: vl-convert costs ~1.3 s to start in each kernel,
    so the publisher exports them all in its own processes."""
    saved = chart if isinstance(chart, dict) else spec(chart)
    path = Path(f"{path_without_suffix}{SPEC_SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return path
