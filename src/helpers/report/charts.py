"""The issue's Altair charts: one house theme, one builder per chart, and `save_chart`.

Builders take the small tables of `helpers.aggregates` (never extracts) and
return an Altair chart. They keep only the columns they draw, so no row-level
column can reach a chart's embedded data. Importing this module registers and
enables the `kefu` theme.

Determinism: the charts use no selections or parameters, so Altair never
invents `param_N` / `view_N` names; datasets are named by a hash of their
content. The same table therefore gives byte-identical `to_json()` in any
process and any call order (tested). See docs/charts.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import vl_convert as vlc

from helpers.data.schema import KB_ACTIONS, LINES, RATINGS, SMART_CHANNELS
from helpers.figures.aggregates import ROW_LEVEL_COLUMNS, SMART_OUTCOMES, WEEKDAYS

THEME = "kefu"
FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)
# A restrained bank palette: navy first, the bank's red second, then muted tones.
NAVY, RED, STEEL, GOLD, SAGE, GREY = (
    "#1f4e79", "#b8312f", "#6f8fae", "#c9a227", "#5f8a6b", "#8c8c8c",
)
PALETTE = [NAVY, RED, STEEL, GOLD, SAGE, GREY]
INK, MUTED, RULE = "#262626", "#595959", "#d9d9d9"
LINE_COLORS = alt.Scale(domain=list(LINES), range=[NAVY, RED])
# Satisfied ratings in navy shades, neutral grey, dissatisfied in reds.
RATING_COLORS = alt.Scale(
    domain=list(RATINGS), range=[NAVY, STEEL, "#bfbfbf", "#e07b73", RED]
)
HEIGHT = 200
# Static exports (SVG/PNG) have no container: they use this width, a phone's
# 375 px screen less the page margins.
EXPORT_WIDTH = 340
# Where the project may ship extra fonts for the exports (e.g. Noto Sans CJK SC).
FONT_DIR_ENV = "KFWK_FONT_DIR"


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
                "fontSize": 15, "fontWeight": "bold", "color": INK, "anchor": "start",
                "subtitleFontSize": 12, "subtitleColor": MUTED, "offset": 8,
            },
            "axis": {
                "labelFontSize": 12, "titleFontSize": 12, "titleFontWeight": "normal",
                "labelColor": MUTED, "titleColor": MUTED, "gridColor": RULE,
                "domainColor": "#a6a6a6", "tickColor": "#a6a6a6", "labelLimit": 160,
            },
            "legend": {
                "labelFontSize": 12, "titleFontSize": 12, "titleFontWeight": "normal",
                "orient": "top", "labelColor": INK, "titleColor": MUTED,
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
                    "decimal": ".", "thousands": ",", "grouping": [3], "currency": ["¥", ""],
                }
            },
        }
    }


# ---------------------------------------------------------------- helpers


def _inline(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The columns a chart draws, nothing else; refuses row-level columns."""
    leaked = ROW_LEVEL_COLUMNS.intersection(columns)
    if leaked:
        raise ValueError(f"row-level columns may not be charted: {sorted(leaked)}")
    return table.loc[:, list(columns)].reset_index(drop=True)


def _responsive(chart: alt.Chart | alt.LayerChart, height: int = HEIGHT) -> Any:
    """Fill the width of the page's container (a 375 px phone included)."""
    return chart.properties(
        # fit-x: the width follows the container, the height stays the plot's own
        # (a full "fit" would squeeze the plot under legends and titles).
        width="container", height=height, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
    )


def _pct(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", title=title, format=".2%")


def _count(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", title=title, format=",")


def _headroom(values: pd.Series, room: float = 1.18) -> alt.Scale:
    """A zero-based scale with space right of the longest bar for its label."""
    top = float(values.max()) if len(values) else 0.0
    return alt.Scale(domain=[0, top * room if top > 0 else 1], nice=False)


def _date_axis() -> alt.Axis:
    return alt.Axis(format="%m-%d", labelAngle=0, tickCount=6)


# ---------------------------------------------------------------- inbound


def daily_requests_chart(daily: pd.DataFrame) -> alt.Chart:
    """`aggregates.daily_inbound` -> daily human-agent requests, one line per hotline."""
    return _responsive(_daily_requests(daily))


def _daily_requests(daily: pd.DataFrame) -> alt.Chart:
    data = _inline(daily, ["date", "line", "requests", "answered", "answer_rate", "service_level"])
    chart = alt.Chart(data, title="每日人工服务请求量").mark_line().encode(
        x=alt.X("date:T", title="日期", axis=_date_axis()),
        y=alt.Y("requests:Q", title="请求量（人次）"),
        color=alt.Color("line:N", title="线路", scale=LINE_COLORS),
        tooltip=[
            alt.Tooltip("date:T", title="日期", format="%Y-%m-%d"),
            alt.Tooltip("line:N", title="线路"),
            _count("requests", "请求量"),
            _count("answered", "接通量"),
            _pct("answer_rate", "接通率"),
            _pct("service_level", "服务水平"),
        ],
    )
    return chart


RATE_TITLES = {"answer_rate": "接通率", "service_level": "服务水平"}


def daily_rates_chart(
    daily: pd.DataFrame, target: float | None = 0.80, threshold_s: float | None = 20
) -> alt.LayerChart:
    """`aggregates.daily_inbound` -> daily answer rate (dashed) and service level
    (solid) per line, with a rule at the service-level `target` (None: no rule)."""
    return _responsive(_daily_rates(daily, target, threshold_s))


def _daily_rates(
    daily: pd.DataFrame, target: float | None, threshold_s: float | None
) -> alt.LayerChart:
    level = f"{threshold_s:g}秒服务水平" if threshold_s is not None else "服务水平"
    data = (
        _inline(daily, ["date", "line", "answer_rate", "service_level"])
        .melt(id_vars=["date", "line"], var_name="measure", value_name="rate")
        .assign(measure=lambda d: d["measure"].map({"answer_rate": "接通率", "service_level": level}))
    )
    lines = alt.Chart(data).mark_line().encode(
        x=alt.X("date:T", title="日期", axis=_date_axis()),
        y=alt.Y("rate:Q", title="比率", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        color=alt.Color("line:N", title="线路", scale=LINE_COLORS),
        strokeDash=alt.StrokeDash(
            "measure:N", title="指标", sort=["接通率", level],
            scale=alt.Scale(domain=["接通率", level], range=[[4, 3], [1, 0]]),
        ),
        tooltip=[
            alt.Tooltip("date:T", title="日期", format="%Y-%m-%d"),
            alt.Tooltip("line:N", title="线路"),
            alt.Tooltip("measure:N", title="指标"),
            _pct("rate", "比率"),
        ],
    )
    layers: list[Any] = [lines]
    if target is not None:
        rule = alt.Chart(data).mark_rule(strokeDash=[2, 2]).encode(
            y=alt.YDatum(target, type="quantitative")
        )
        label = alt.Chart(data).mark_text(align="right", dx=-2, dy=-7, color=RED).encode(
            x=alt.XValue("width"),
            y=alt.YDatum(target, type="quantitative"),
            text=alt.TextDatum(f"目标 {target:.0%}", type="nominal"),
        )
        layers += [rule, label]
    return alt.layer(*layers, title=f"每日接通率与{level}")


def daily_inbound_chart(
    daily: pd.DataFrame, target: float | None = 0.80, threshold_s: float | None = 20
) -> alt.VConcatChart:
    """`aggregates.daily_inbound` -> requests above rates, on a shared date axis.

    A composite cannot fill its container, so both panels take the fixed
    phone width; on wide pages prefer the two single charts.
    """
    fixed = {"width": EXPORT_WIDTH - 60, "height": 160}
    return alt.vconcat(
        _daily_requests(daily).properties(**fixed),
        _daily_rates(daily, target, threshold_s).properties(**fixed),
        spacing=16,
    )


def arrival_heatmap_chart(heatmap: pd.DataFrame) -> alt.Chart:
    """`aggregates.arrival_heatmap` -> weekday × hour grid coloured by requests per day."""
    data = _inline(heatmap, ["weekday", "hour", "requests", "mean_requests"])
    chart = alt.Chart(data, title="人工服务请求时段分布（日均）").mark_rect().encode(
        x=alt.X("hour:O", title="时", axis=alt.Axis(labelAngle=0, values=list(range(0, 24, 3)))),
        y=alt.Y("weekday:O", title=None, sort=list(WEEKDAYS)),
        color=alt.Color(
            "mean_requests:Q", title="日均请求量", scale=alt.Scale(scheme="blues"),
            legend=alt.Legend(orient="top", gradientLength=180, format=",.1~f"),
        ),
        tooltip=[
            alt.Tooltip("weekday:O", title="星期"),
            alt.Tooltip("hour:O", title="时"),
            alt.Tooltip("mean_requests:Q", title="日均请求量", format=",.1f"),
            _count("requests", "季度合计"),
        ],
    )
    return _responsive(chart, height=7 * 22)


def wait_histogram_chart(waits: pd.DataFrame, threshold_s: float = 20) -> alt.Chart:
    """`aggregates.wait_distribution` -> share of answered requests per wait bin and
    line; bins within the threshold are solid, those beyond it faded."""
    data = _inline(waits, ["line", "bin", "bin_start", "calls", "share", "within_threshold"]).assign(
        bin=lambda d: d["bin"].astype("string"),
        within=lambda d: d["within_threshold"].map(
            {True: f"≤{threshold_s:g}秒", False: f">{threshold_s:g}秒"}
        ),
    ).drop(columns=["within_threshold"])
    bins = list(dict.fromkeys(data.sort_values("bin_start", kind="stable")["bin"]))
    chart = alt.Chart(
        data, title=alt.Title("接通前等待时长分布", subtitle=f"深色为{threshold_s:g}秒内接通")
    ).mark_bar().encode(
        x=alt.X("bin:O", title="等待时长（秒）", sort=bins, axis=alt.Axis(labelAngle=-45)),
        xOffset=alt.XOffset("line:N", sort=list(LINES)),
        y=alt.Y("share:Q", title="占接通量比例", axis=alt.Axis(format="%")),
        color=alt.Color("line:N", title="线路", scale=LINE_COLORS),
        opacity=alt.Opacity(
            "within:N", title="等待",
            scale=alt.Scale(domain=[f"≤{threshold_s:g}秒", f">{threshold_s:g}秒"], range=[1.0, 0.4]),
        ),
        tooltip=[
            alt.Tooltip("line:N", title="线路"),
            alt.Tooltip("bin:O", title="等待（秒）"),
            _count("calls", "接通量"),
            _pct("share", "占比"),
        ],
    )
    return _responsive(chart)


# ---------------------------------------------------------------- other channels


def daily_online_chart(daily: pd.DataFrame) -> alt.Chart:
    """`aggregates.daily_online` -> daily online requests and answered chats."""
    data = (
        _inline(daily, ["date", "requests", "answered"])
        .melt(id_vars=["date"], var_name="measure", value_name="chats")
        .assign(measure=lambda d: d["measure"].map({"requests": "请求量", "answered": "接通量"}))
    )
    chart = alt.Chart(data, title="网络在线服务每日请求与接通").mark_line().encode(
        x=alt.X("date:T", title="日期", axis=_date_axis()),
        y=alt.Y("chats:Q", title="人次"),
        color=alt.Color(
            "measure:N", title=None, scale=alt.Scale(domain=["请求量", "接通量"], range=[STEEL, NAVY])
        ),
        tooltip=[
            alt.Tooltip("date:T", title="日期", format="%Y-%m-%d"),
            alt.Tooltip("measure:N", title="指标"),
            _count("chats", "人次"),
        ],
    )
    return _responsive(chart)


def satisfaction_chart(ratings: pd.DataFrame) -> alt.Chart:
    """`aggregates.satisfaction_by_rating` -> one 100 % bar of ratings per channel."""
    data = _inline(ratings, ["channel", "rating", "count", "share"]).assign(
        rating=lambda d: d["rating"].astype("string"),
        rank=lambda d: d["rating"].map({r: i for i, r in enumerate(RATINGS)}).astype("int64"),
    )
    chart = alt.Chart(data, title="客户满意度评价构成").mark_bar().encode(
        y=alt.Y("channel:N", title=None, sort=["语音", "在线", "视频"]),
        x=alt.X("share:Q", title="占比", stack="normalize", axis=alt.Axis(format="%")),
        color=alt.Color(
            "rating:O", title="评价", sort=list(RATINGS), scale=RATING_COLORS,
            legend=alt.Legend(columns=3),
        ),
        order=alt.Order("rank:Q", sort="ascending"),
        tooltip=[
            alt.Tooltip("channel:N", title="渠道"),
            alt.Tooltip("rating:O", title="评价"),
            _count("count", "份数"),
            _pct("share", "占比"),
        ],
    )
    return _responsive(chart, height=36 * max(1, data["channel"].nunique()))


def _service_bars(
    data: pd.DataFrame, title: str, value: str, value_title: str, tooltip: list[alt.Tooltip],
    row_height: int,
) -> alt.Chart:
    """One horizontal bar per service, in the table's order (largest first)."""
    chart = alt.Chart(data, title=title).mark_bar().encode(
        y=alt.Y("service:N", title=None, sort=list(data["service"])),
        x=alt.X(f"{value}:Q", title=value_title),
        tooltip=[alt.Tooltip("service:N", title="服务"), *tooltip],
    )
    return _responsive(chart, height=row_height * max(1, len(data)))


def outbound_chart(services: pd.DataFrame) -> alt.Chart:
    """`aggregates.outbound_by_service` -> outbound calls per service, largest first."""
    data = _inline(services, ["service", "calls", "connected", "connect_rate"])
    tooltip = [_count("calls", "外呼量"), _count("connected", "接通量"), _pct("connect_rate", "接通率")]
    return _service_bars(data, "各项呼出服务外呼量", "calls", "外呼量（次）", tooltip, 22)


def sms_chart(services: pd.DataFrame) -> alt.Chart:
    """`aggregates.sms_by_service` -> customers notified per SMS service."""
    data = _inline(services, ["service", "batches", "recipients"])
    tooltip = [_count("recipients", "通知客户"), _count("batches", "批次")]
    return _service_bars(data, "各项短信服务通知量", "recipients", "通知客户（次）", tooltip, 28)


def smart_composition_chart(composition: pd.DataFrame) -> alt.Chart:
    """`aggregates.smart_composition` -> sessions per smart channel, resolved vs transferred."""
    data = _inline(composition, ["channel", "outcome", "sessions", "share"]).assign(
        rank=lambda d: d["outcome"].map({o: i for i, o in enumerate(SMART_OUTCOMES)}).astype("int64")
    )
    chart = alt.Chart(data, title="智慧客服服务量构成").mark_bar().encode(
        y=alt.Y("channel:N", title=None, sort=list(SMART_CHANNELS)),
        x=alt.X("sessions:Q", title="服务量（次）"),
        color=alt.Color(
            "outcome:N", title=None, sort=list(SMART_OUTCOMES),
            scale=alt.Scale(domain=list(SMART_OUTCOMES), range=[NAVY, STEEL]),
        ),
        order=alt.Order("rank:Q", sort="ascending"),
        tooltip=[
            alt.Tooltip("channel:N", title="渠道"),
            alt.Tooltip("outcome:N", title="结果"),
            _count("sessions", "服务量"),
            _pct("share", "占比"),
        ],
    )
    return _responsive(chart, height=40 * max(1, data["channel"].nunique()))


def _month_axis() -> alt.Axis:
    return alt.Axis(format="%-m月", labelAngle=0)


def diversion_chart(monthly: pd.DataFrame) -> alt.LayerChart:
    """`aggregates.monthly_diversion` -> 智能服务分流率 per month, labelled."""
    data = _inline(monthly, ["month", "resolved", "inbound_requests", "online_requests",
                             "diversion_rate"])
    base = alt.Chart(data).encode(
        x=alt.X("yearmonth(month):O", title=None, axis=_month_axis()),
        y=alt.Y("diversion_rate:Q", title="分流率", axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar(color=NAVY, size=36).encode(
        tooltip=[
            alt.Tooltip("yearmonth(month):O", title="月份", format="%Y年%-m月"),
            _count("resolved", "智能解决"),
            _count("inbound_requests", "热线人工请求"),
            _count("online_requests", "在线人工请求"),
            _pct("diversion_rate", "分流率"),
        ]
    )
    labels = base.mark_text(dy=-8).encode(text=alt.Text("diversion_rate:Q", format=".2%"))
    return _responsive(alt.layer(bars, labels, title="智能服务分流率（按月）"))


def video_business_chart(business: pd.DataFrame) -> alt.LayerChart:
    """`aggregates.video_business` -> video sessions per business type, with shares."""
    data = _inline(business, ["type", "count", "share"])
    order = list(data["type"])
    base = alt.Chart(data).encode(
        y=alt.Y("type:N", title=None, sort=order),
        x=alt.X("count:Q", title="笔数", scale=_headroom(data["count"], 1.3)),
    )
    bars = base.mark_bar().encode(
        tooltip=[alt.Tooltip("type:N", title="业务"), _count("count", "笔数"), _pct("share", "占比")]
    )
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".2%"))
    return _responsive(alt.layer(bars, labels, title="视频客服业务构成"),
                       height=24 * max(1, len(data)))


def complaint_flow_chart(flow: pd.DataFrame) -> alt.LayerChart:
    """`aggregates.complaint_flow` -> received complaints down to where tickets went."""
    data = _inline(flow, ["step", "stage", "tickets"]).assign(
        stage=lambda d: d["stage"].astype("string")
    )
    base = alt.Chart(data).encode(
        y=alt.Y("stage:N", title=None, sort=list(data.sort_values("step")["stage"])),
        x=alt.X("tickets:Q", title="笔数", scale=_headroom(data["tickets"])),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "step:O", legend=None, scale=alt.Scale(domain=[1, 2, 3, 4, 5],
                                                   range=[STEEL, STEEL, RED, NAVY, NAVY])
        ),
        tooltip=[alt.Tooltip("stage:N", title="环节"), _count("tickets", "笔数")],
    )
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("tickets:Q", format=","))
    return _responsive(alt.layer(bars, labels, title="投诉受理与工单流向"), height=5 * 30)


def kb_chart(kb: pd.DataFrame) -> alt.Chart:
    """`aggregates.kb_by_action` -> maintenance items and knowledge points per action."""
    data = (
        _inline(kb, ["action", "items", "knowledge_points"])
        .melt(id_vars=["action"], var_name="measure", value_name="amount")
        .assign(measure=lambda d: d["measure"].map({"items": "维护项目", "knowledge_points": "知识点"}))
    )
    chart = alt.Chart(data, title="知识库维护").mark_bar().encode(
        x=alt.X("action:N", title=None, sort=list(KB_ACTIONS), axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("measure:N", sort=["维护项目", "知识点"]),
        y=alt.Y("amount:Q", title="项"),
        color=alt.Color("measure:N", title=None, sort=["维护项目", "知识点"],
                        scale=alt.Scale(domain=["维护项目", "知识点"], range=[NAVY, GOLD])),
        tooltip=[
            alt.Tooltip("action:N", title="类别"),
            alt.Tooltip("measure:N", title="指标"),
            _count("amount", "项"),
        ],
    )
    return _responsive(chart)


def training_chart(training: pd.DataFrame) -> alt.LayerChart:
    """`aggregates.training_by_month` -> training hours per month (sessions and
    attendances in the tooltip)."""
    data = _inline(training, ["month", "sessions", "attendances", "hours"])
    base = alt.Chart(data).encode(
        x=alt.X("yearmonth(month):O", title=None, axis=_month_axis()),
        y=alt.Y("hours:Q", title="培训时长（小时）"),
    )
    bars = base.mark_bar(size=36).encode(
        tooltip=[
            alt.Tooltip("yearmonth(month):O", title="月份", format="%Y年%-m月"),
            _count("sessions", "场次"),
            _count("attendances", "参训人次"),
            alt.Tooltip("hours:Q", title="时长（小时）", format=",.2f"),
        ]
    )
    labels = base.mark_text(dy=-8).encode(text=alt.Text("hours:Q", format=",.2f"))
    return _responsive(alt.layer(bars, labels, title="员工培训时长（按月）"))


def yoy_chart(pairs: pd.DataFrame) -> alt.LayerChart:
    """`aggregates.yoy_pairs` -> per figure, the prior and current quarter as bars.

    Figures differ by orders of magnitude, so each bar's length is its value
    relative to the larger of its pair; the true value is the label.
    """
    data = _inline(pairs, ["figure", "quarter", "period", "value"])
    figures = list(dict.fromkeys(data["figure"]))
    periods = ["上年同期", "本期"]
    base = alt.Chart(data).transform_joinaggregate(
        peak="max(value)", groupby=["figure"]
    ).transform_calculate(
        relative="datum.peak > 0 ? datum.value / datum.peak : 0"
    ).encode(
        y=alt.Y("figure:N", title=None, sort=figures),
        yOffset=alt.YOffset("period:N", sort=periods),
        x=alt.X("relative:Q", title=None, axis=None, scale=alt.Scale(domain=[0, 1.35])),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("period:N", title=None, sort=periods,
                        scale=alt.Scale(domain=periods, range=[GREY, NAVY])),
        tooltip=[
            alt.Tooltip("figure:N", title="指标"),
            alt.Tooltip("quarter:N", title="季度"),
            alt.Tooltip("value:Q", title="数值", format=",.4~f"),
        ],
    )
    labels = base.mark_text(align="left", dx=3, fontSize=11).encode(
        text=alt.Text("value:Q", format=",.4~f")
    )
    return _responsive(alt.layer(bars, labels, title="同比对比"),
                       height=44 * max(1, len(figures)))


# ---------------------------------------------------------------- export


def _fixed_width(spec: Any, width: int) -> Any:
    """A copy of the spec with every `"width": "container"` set to `width` px."""
    if isinstance(spec, dict):
        return {
            key: (width if key == "width" and value == "container" else _fixed_width(value, width))
            for key, value in spec.items()
        }
    if isinstance(spec, list):
        return [_fixed_width(item, width) for item in spec]
    return spec


_fonts_registered = False


def _register_fonts() -> None:
    """Let vl-convert use fonts shipped beside the system ones.

    vl-convert already reads the system font directories (fonts-noto-cjk on
    Debian/Ubuntu). `KFWK_FONT_DIR` adds a directory for machines where CJK
    fonts cannot be installed system-wide.
    """
    global _fonts_registered
    if _fonts_registered:
        return
    extra = os.environ.get(FONT_DIR_ENV)
    if extra and Path(extra).is_dir():
        vlc.register_font_directory(str(Path(extra).resolve()))
    _fonts_registered = True


def save_chart(
    chart: alt.TopLevelMixin, path_without_suffix: str | Path, width: int = EXPORT_WIDTH,
    scale: float = 2.0,
) -> tuple[Path, Path]:
    """Chart -> `<path>.svg` and `<path>.png` (at `scale`× for sharp phone screens).

    Container-wide charts are exported at `width` px. Returns both paths.
    Needs a CJK font vl-convert can find (see docs/charts.md), else Chinese
    text renders as boxes.
    """
    return export_spec(chart.to_dict(), path_without_suffix, width, scale)


SPEC_SUFFIX = ".vl.json"


def save_spec(chart: alt.TopLevelMixin, path_without_suffix: str | Path) -> Path:
    """Chart -> `<path>.vl.json`, its Vega-Lite spec, for `export_spec_file` to turn into
    SVG and PNG later. Section notebooks save specs (cheap) rather than images: vl-convert
    costs ~1.3 s to start in each kernel, so the publisher exports them all in one process."""
    path = Path(f"{path_without_suffix}{SPEC_SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(chart.to_dict(), sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return path


def export_spec(
    spec: dict, path_without_suffix: str | Path, width: int = EXPORT_WIDTH, scale: float = 2.0
) -> tuple[Path, Path]:
    """A Vega-Lite spec -> `<path>.svg` and `<path>.png` (see `save_chart`)."""
    _register_fonts()
    base = Path(path_without_suffix)
    base.parent.mkdir(parents=True, exist_ok=True)
    fixed = _fixed_width(spec, width)
    svg_path, png_path = Path(f"{base}.svg"), Path(f"{base}.png")
    svg_path.write_text(vlc.vegalite_to_svg(fixed), encoding="utf-8")
    png_path.write_bytes(vlc.vegalite_to_png(fixed, scale=scale))
    return svg_path, png_path


def export_spec_file(spec_path: Path) -> tuple[Path, Path]:
    """`<name>.vl.json` -> `<name>.svg` and `<name>.png` beside it."""
    spec_path = Path(spec_path)
    base = spec_path.with_name(spec_path.name[: -len(SPEC_SUFFIX)])
    return export_spec(json.loads(spec_path.read_text(encoding="utf-8")), base)
