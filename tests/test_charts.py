"""Charts: house theme, valid typed specs, no row-level data, deterministic JSON, export."""

from __future__ import annotations

import json
import subprocess
import sys

import altair as alt
import pandas as pd
import pytest

from helpers.report import charts as ch

ROW_LEVEL = {"call_id", "chat_id", "session_id", "survey_id", "ticket_id", "change_id",
             "staff_id", "batch_id", "feedback_id"}

# Small aggregate tables, shaped as helpers.aggregates returns them. The same
# source runs in this process and in a fresh one (determinism test).
BUILD = '''
import hashlib

import pandas as pd
from helpers.report import charts as ch

def tables():
    dates = pd.to_datetime(["2022-01-03", "2022-01-03", "2022-01-04", "2022-01-04"])
    daily = pd.DataFrame({
        "date": dates, "line": pd.Series(["综合", "信用卡"] * 2, dtype="string"),
        "requests": [30, 20, 28, 22], "answered": [29, 19, 27, 20],
        "answer_rate": [29 / 30, 19 / 20, 27 / 28, 20 / 22],
        "service_level": [0.9, 0.85, 0.7, 0.75],
    })
    weekdays = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
    heat = pd.DataFrame(
        [(d, h, (i * 24 + h) % 7, 13) for i, d in enumerate(weekdays) for h in range(24)],
        columns=["weekday", "hour", "requests", "days"],
    ).assign(mean_requests=lambda d: d["requests"] / d["days"])
    labels = ["0-5", "5-10", "10-15", "15-20", "20+"]
    waits = pd.DataFrame({
        "line": pd.Series(["综合"] * 5, dtype="string"), "bin": labels,
        "bin_start": [0.0, 5, 10, 15, 20], "bin_end": [5.0, 10, 15, 20, float("nan")],
        "calls": [5, 3, 1, 1, 0], "share": [0.5, 0.3, 0.1, 0.1, 0.0],
        "within_threshold": [True, True, True, True, False],
    })
    online = pd.DataFrame({"date": dates[::2], "requests": [10, 12], "answered": [9, 12],
                           "answer_rate": [0.9, 1.0], "service_level": [0.8, 0.9]})
    ratings = pd.DataFrame({
        "channel": pd.Series(["语音"] * 5, dtype="string"),
        "rating": ["非常满意", "满意", "一般", "不满意", "非常不满意"],
        "count": [8, 1, 1, 0, 0], "share": [0.8, 0.1, 0.1, 0.0, 0.0],
    })
    services = pd.DataFrame({"service": ["回访", "风险通知"], "calls": [3, 2],
                             "connected": [1, 2], "connect_rate": [1 / 3, 1.0]})
    smart = pd.DataFrame({"channel": ["文本机器人", "文本机器人"], "outcome": ["自助解决", "转人工"],
                          "sessions": [2, 1], "share": [2 / 3, 1 / 3]})
    monthly = pd.DataFrame({
        "month": pd.to_datetime(["2022-01-01", "2022-02-01"]), "sessions": [3, 1],
        "resolved": [2, 0], "inbound_requests": [6, 1], "online_requests": [2, 0],
        "diversion_rate": [0.2, 0.0],
    })
    video = pd.DataFrame({"type": ["理财咨询", "手机发证"], "count": [3, 1], "share": [0.75, 0.25]})
    flow = pd.DataFrame({
        "step": [1, 2, 3, 4, 5],
        "key": ["complaints_received", "complaints_converted", "complaint_tickets",
                "branch_complaint_tickets", "hq_complaint_tickets"],
        "stage": ["受理投诉", "安抚后转为其他工单", "投诉工单", "转分支行", "转总行部室"],
        "tickets": [4, 2, 3, 1, 2],
    })
    kb = pd.DataFrame({"action": ["梳理优化", "新增", "优化"], "items": [3, 1, 0],
                       "sections": [2, 1, 0], "knowledge_points": [3, 5, 0]})
    training = pd.DataFrame({"month": pd.to_datetime(["2022-01-01"]), "sessions": [2],
                             "attendances": [3], "hours": [4.5]})
    yoy = pd.DataFrame({
        "figure": ["外呼量", "外呼量"], "key": ["outbound.calls"] * 2,
        "quarter": ["2021Q1", "2022Q1"], "period": ["上年同期", "本期"],
        "value": [314600.0, 588700.0],
    })
    return dict(daily=daily, heat=heat, waits=waits, online=online, ratings=ratings,
                services=services, smart=smart, monthly=monthly, video=video, flow=flow,
                kb=kb, training=training, yoy=yoy)

def builders():
    t = tables()
    return {
        "daily_requests": lambda: ch.daily_requests_chart(t["daily"]),
        "daily_rates": lambda: ch.daily_rates_chart(t["daily"], target=0.8, threshold_s=20),
        "daily_inbound": lambda: ch.daily_inbound_chart(t["daily"], target=0.8),
        "arrival_heatmap": lambda: ch.arrival_heatmap_chart(t["heat"]),
        "wait_histogram": lambda: ch.wait_histogram_chart(t["waits"], threshold_s=20),
        "daily_online": lambda: ch.daily_online_chart(t["online"]),
        "satisfaction": lambda: ch.satisfaction_chart(t["ratings"]),
        "outbound": lambda: ch.outbound_chart(t["services"]),
        "smart_composition": lambda: ch.smart_composition_chart(t["smart"]),
        "diversion": lambda: ch.diversion_chart(t["monthly"]),
        "video_business": lambda: ch.video_business_chart(t["video"]),
        "complaint_flow": lambda: ch.complaint_flow_chart(t["flow"]),
        "kb": lambda: ch.kb_chart(t["kb"]),
        "training": lambda: ch.training_chart(t["training"]),
        "yoy": lambda: ch.yoy_chart(t["yoy"]),
    }

def digests(order):
    build = builders()
    return {name: hashlib.sha256(build[name]().to_json().encode()).hexdigest() for name in order}
'''
namespace: dict = {}
exec(BUILD, namespace)  # the same source runs in a fresh process below
BUILDERS = namespace["builders"]()
TABLES = namespace["tables"]()


def encodings(spec):
    """Every (channel, definition) in a spec, through layers and concatenations."""
    if isinstance(spec, dict):
        for channel, definition in (spec.get("encoding") or {}).items():
            for item in definition if isinstance(definition, list) else [definition]:
                yield channel, item
        for key, value in spec.items():
            if key != "encoding":
                yield from encodings(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from encodings(item)


def records(spec) -> list[dict]:
    rows = [row for rows in spec.get("datasets", {}).values() for row in rows]

    def inline(node):
        if isinstance(node, dict):
            if isinstance(node.get("data"), dict) and "values" in node["data"]:
                rows.extend(node["data"]["values"])
            for value in node.values():
                inline(value)
        elif isinstance(node, list):
            for value in node:
                inline(value)

    inline(spec)
    return rows


def test_theme_is_registered_and_enabled():
    assert ch.THEME in alt.theme.names()
    assert alt.theme.active == ch.THEME
    config = ch.daily_requests_chart(TABLES["daily"]).to_dict()["config"]
    assert "Noto Sans CJK SC" in config["font"] and "sans-serif" in config["font"]
    assert config["range"]["category"][0] == ch.NAVY


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_gives_a_valid_typed_chart(name):
    spec = BUILDERS[name]().to_dict(validate=True)
    found = list(encodings(spec))
    assert found, "a chart without encodings"
    for channel, definition in found:
        if "field" in definition or "datum" in definition:
            assert definition.get("type") in {"quantitative", "nominal", "ordinal", "temporal"}, (
                channel, definition
            )


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_embeds_only_aggregated_columns(name):
    rows = records(BUILDERS[name]().to_dict())
    assert rows, "the chart embeds no data"
    assert not ROW_LEVEL & {column for row in rows for column in row}


def test_row_level_columns_passed_in_are_dropped_or_refused():
    daily = TABLES["daily"].assign(call_id=["c1", "c2", "c3", "c4"])
    text = ch.daily_requests_chart(daily).to_json()
    assert "call_id" not in text and '"c1"' not in text
    with pytest.raises(ValueError, match="staff_id"):
        ch._inline(TABLES["training"].assign(staff_id="a"), ["month", "staff_id"])


def test_responsive_single_views_fill_the_container():
    spec = ch.daily_requests_chart(TABLES["daily"]).to_dict()
    assert spec["width"] == "container"
    assert spec["autosize"]["type"] == "fit-x"


def test_daily_rates_draws_the_target_rule_only_when_given():
    with_target = ch.daily_rates_chart(TABLES["daily"], target=0.8).to_dict()
    rules = [layer for layer in with_target["layer"] if layer["mark"]["type"] == "rule"]
    assert [rule["encoding"]["y"]["datum"] for rule in rules] == [0.8]
    assert "目标 80%" in json.dumps(with_target, ensure_ascii=False)
    without = ch.daily_rates_chart(TABLES["daily"], target=None).to_dict()
    assert all(layer["mark"]["type"] != "rule" for layer in without["layer"])


def test_wait_histogram_orders_bins_by_start_and_marks_the_threshold():
    spec = ch.wait_histogram_chart(TABLES["waits"].iloc[::-1], threshold_s=20).to_dict()
    assert spec["encoding"]["x"]["sort"] == ["0-5", "5-10", "10-15", "15-20", "20+"]
    labels = {row["within"] for row in records(spec)}
    assert labels == {"≤20秒", ">20秒"}


def test_same_chart_twice_gives_identical_json():
    for name, build in BUILDERS.items():
        first = build().to_json()
        alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q").to_json()
        assert build().to_json() == first, name


def test_json_is_identical_in_a_fresh_process_and_any_call_order():
    names = sorted(BUILDERS)
    here = namespace["digests"](names)
    script = f"{BUILD}\nimport json\nprint(json.dumps(digests({list(reversed(names))!r})))\n"
    run = subprocess.run([sys.executable, "-c", script],
                         capture_output=True, text=True, check=True)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == here


def test_save_chart_writes_svg_with_chinese_text_and_png(tmp_path):
    chart = ch.daily_requests_chart(TABLES["daily"])
    svg_path, png_path = ch.save_chart(chart, tmp_path / "figures" / "daily.requests")
    assert svg_path == tmp_path / "figures" / "daily.requests.svg"
    svg = svg_path.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "每日人工服务请求量" in svg and "综合" in svg
    assert f'width="{ch.EXPORT_WIDTH}"' in svg.split(">", 1)[0]  # container -> fixed width
    png = png_path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_png_draws_chinese_glyphs_not_boxes(tmp_path):
    # Without a CJK font every Chinese character becomes the same empty box,
    # so two different texts would give identical images.
    def render(text, name):
        label = alt.Chart(pd.DataFrame({"t": [text]})).mark_text(fontSize=40).encode(
            text=alt.Text("t:N")
        ).properties(width=200, height=60)
        return ch.save_chart(label, tmp_path / name)[1].read_bytes()

    assert render("客服", "a") != render("微刊", "b"), (
        "CJK text renders as boxes: install a CJK font (apt-get install fonts-noto-cjk) "
        f"or point {ch.FONT_DIR_ENV} at a folder with Noto Sans CJK SC"
    )


def test_charts_accept_aggregates_output_with_categoricals_and_nan():
    from helpers.figures import aggregates as ag

    when = pd.to_datetime(pd.Series(["2022-01-03 09:00:00", "2022-01-03 09:10:00"]))
    calls = pd.DataFrame({
        "call_id": pd.Series(["c1", "c2"], dtype="string"),
        "line": pd.Series(["综合", "综合"], dtype="string"),
        "requested_at": when,
        "answered_at": pd.Series([when[0] + pd.Timedelta(seconds=8), pd.NaT]),
    })
    heat = ch.arrival_heatmap_chart(ag.arrival_heatmap(calls)).to_dict(validate=True)
    monday_nine = [row for row in records(heat) if row["weekday"] == "周一" and row["hour"] == 9]
    assert monday_nine == [{"weekday": "周一", "hour": 9, "requests": 2,
                            "mean_requests": pytest.approx(2 / 13)}]
    waits = ch.wait_histogram_chart(ag.wait_distribution(calls)).to_dict(validate=True)
    assert sum(row["calls"] for row in records(waits)) == 1
