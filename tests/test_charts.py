"""Charts: house theme, charts that cannot mislead (the spec check), store rows only,
deterministic JSON, export, and the charts' data as CSV."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import altair as alt
import pytest

from helpers.report import charts as ch
from helpers.report import export

# Hand-made store rows, shaped exactly as docs/store.md describes them, and one
# builder call per chart (two shapes where it matters: no prior year for yoy, a
# threshold that is not a multiple of 5). The same source runs in this process
# and in a fresh one (determinism test).
BUILD = r'''
import hashlib

from helpers.report import charts as ch


def pct(x):
    return f"{x * 100:.2f}%"


def waits(threshold, calls):
    """`waits` rows: 5 s bins up to 60 s plus `60+`, the threshold inserted as an edge."""
    edges = sorted(set(range(0, 65, 5)) | {threshold})
    bins = [(a, b, False) for a, b in zip(edges, edges[1:])] + [(60, 65, True)]
    total = sum(calls)
    rows = []
    for (start, end, is_open), n in zip(bins, calls, strict=True):
        share = n / total
        rows.append({
            "bin": f"{start}+" if is_open else f"{start}-{end}", "bin_start": start, "bin_end": end,
            "open": is_open, "calls": n, "calls_label": f"{n:,}", "share": share,
            "share_label": pct(share), "density": share * 5 / (end - start),
            "within": f"≤{threshold}秒" if end <= threshold and not is_open else f">{threshold}秒",
        })
    return rows


def tables():
    dates = ["2022-01-03T00:00:00", "2022-01-04T00:00:00", "2022-01-05T00:00:00"]
    daily = [
        {"date": d, "requests": r, "requests_label": f"{r:,}", "answered": a, "answered_label": f"{a:,}",
         "answer_rate": a / r, "answer_rate_label": pct(a / r), "service_level": s,
         "service_level_label": pct(s)}
        for d, r, a, s in zip(dates, [3000, 2800, 3100], [2950, 2700, 3000], [0.9, 0.72, 0.85])
    ]
    daily_rates = [
        {"date": row["date"], "measure": measure, "rate": row[field], "rate_label": row[f"{field}_label"]}
        for row in daily
        for measure, field in (("接通率", "answer_rate"), ("20秒服务水平", "service_level"))
    ]
    weekdays = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
    arrivals = []
    for rank, day in enumerate(weekdays):
        for hour in range(24):
            requests = (rank * 24 + hour) % 17 * 13
            arrivals.append({
                "weekday": day, "weekday_rank": rank, "hour": hour, "requests": requests,
                "requests_label": f"{requests:,}", "days": 13, "mean_requests": requests / 13,
                "mean_requests_label": f"{requests / 13:.1f}",
            })
    online = [
        {"date": d, "measure": m, "chats": n, "chats_label": f"{n:,}"}
        for d, pair in zip(dates, [(900, 850), (950, 800), (1000, 990)])
        for m, n in zip(["请求量", "接通量"], pair)
    ]
    names = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    ratings = []
    for channel, counts in (("语音", [80, 15, 3, 1, 1]), ("在线", [60, 30, 10, 0, 0])):
        for rank, (rating, n) in enumerate(zip(names, counts)):
            ratings.append({"channel": channel, "rating": rating, "rating_rank": rank, "count": n,
                            "count_label": f"{n:,}", "share": n / sum(counts),
                            "share_label": pct(n / sum(counts))})
    services = [
        {"service": s, "calls": c, "calls_label": f"{c:,}", "connected": k, "connected_label": f"{k:,}",
         "connect_rate": k / c, "connect_rate_label": pct(k / c)}
        for s, c, k in (("信用卡分期营销", 310000, 200000), ("回访", 150000, 90000), ("风险通知", 980, 700))
    ]
    composition = [
        {"channel": ch_, "outcome": o, "outcome_rank": r, "sessions": n, "sessions_label": f"{n:,}",
         "share": n / t, "share_label": pct(n / t)}
        for ch_, pair in (("文本机器人", (900, 100)), ("语音导航", (400, 600)))
        for (r, o), n, t in zip(enumerate(["自助解决", "转人工"]), pair, [sum(pair)] * 2)
    ]
    diversion = [
        {"month": m, "month_label": lab, "resolved": r, "resolved_label": f"{r:,}",
         "inbound_requests": i, "inbound_requests_label": f"{i:,}", "online_requests": o,
         "online_requests_label": f"{o:,}", "diversion_rate": r / (r + i + o),
         "diversion_rate_label": pct(r / (r + i + o))}
        for m, lab, r, i, o in (("2022-01-01T00:00:00", "1月", 500, 300, 200),
                                ("2022-02-01T00:00:00", "2月", 450, 350, 200),
                                ("2022-03-01T00:00:00", "3月", 600, 250, 150))
    ]
    business = [
        {"type": t, "count": n, "count_label": f"{n:,}", "share": n / 657, "share_label": pct(n / 657)}
        for t, n in (("理财咨询", 444), ("手机发证", 115), ("其他", 98))
    ]
    sms = [
        {"service": s, "batches": b, "batches_label": f"{b:,}", "recipients": n, "recipients_label": f"{n:,}"}
        for s, b, n in (("账单提醒", 12, 52000), ("还款提醒", 9, 31000))
    ]
    outcomes = [
        {"ticket_type": t, "tickets": n, "tickets_label": f"{n:,}", "kind": k}
        for t, n, k in (("投诉", 151, "出具投诉工单"), ("咨询", 40, "转为其他工单"),
                        ("表扬", 3, "转为其他工单"), ("其他", 7, "转为其他工单"))
    ]
    routes = [
        {"routed_to": r, "tickets": n, "tickets_label": f"{n:,}"}
        for r, n in (("分支行", 90), ("总行部室", 41), ("客服中心", 20))
    ]
    actions = [{"action": a, "items": n, "items_label": f"{n:,}"}
               for a, n in (("梳理优化", 30), ("新增", 12), ("优化", 25))]
    points = [{"action": a, "knowledge_points": n, "knowledge_points_label": f"{n:,}"}
              for a, n in (("新增", 140), ("优化", 95))]
    training = [
        {"month": m, "month_label": lab, "sessions": s, "sessions_label": f"{s:,}", "attendances": a,
         "attendances_label": f"{a:,}", "hours": h, "hours_label": f"{h:.2f}"}
        for m, lab, s, a, h in (("2022-01-01T00:00:00", "1月", 4, 120, 10.5),
                                ("2022-03-01T00:00:00", "3月", 2, 60, 4.25))
    ]
    yoy = [
        {"figure": "外呼电话", "key": "outbound.calls", "period": "上年同期", "quarter": "2021Q1",
         "value": 314600, "value_label": "31.46万", "change_label": None},
        {"figure": "外呼电话", "key": "outbound.calls", "period": "本期", "quarter": "2022Q1",
         "value": 588700, "value_label": "58.87万", "change_label": "同比增长87.13%"},
        {"figure": "外呼接通", "key": "outbound.connected", "period": "上年同期", "quarter": "2021Q1",
         "value": 200000, "value_label": "20.00万", "change_label": None},
        {"figure": "外呼接通", "key": "outbound.connected", "period": "本期", "quarter": "2022Q1",
         "value": 180000, "value_label": "18.00万", "change_label": "同比下降10.00%"},
    ]
    yoy_first = [dict(row, change_label="无同期数据") for row in yoy if row["period"] == "本期"]
    made = dict(daily=daily, daily_rates=daily_rates, arrivals=arrivals,
                waits=waits(20, [40, 30, 10, 5, 3, 2, 2, 2, 1, 1, 1, 1, 2]),
                waits12=waits(12, [40, 30, 4, 6, 5, 3, 2, 2, 2, 1, 1, 1, 1, 2]),
                online=online, ratings=ratings, services=services, composition=composition,
                diversion=diversion, business=business, sms=sms, outcomes=outcomes, routes=routes,
                actions=actions, points=points, training=training, yoy=yoy, yoy_first=yoy_first)
    # store.json is written with sorted keys: the rows reach the builders that way
    return {name: [dict(sorted(row.items())) for row in rows] for name, rows in made.items()}


def builders():
    t = tables()
    return {
        "daily_requests": lambda: ch.daily_requests_chart(t["daily"], "综合"),
        "daily_requests_credit": lambda: ch.daily_requests_chart(t["daily"], "信用卡"),
        "daily_rates": lambda: ch.daily_rates_chart(t["daily_rates"], 0.8, "目标 80.00%"),
        "daily_rates_no_target": lambda: ch.daily_rates_chart(t["daily_rates"], None, ""),
        "arrival_heatmap": lambda: ch.arrival_heatmap_chart(t["arrivals"]),
        "wait_histogram": lambda: ch.wait_histogram_chart(t["waits"], "20秒"),
        "wait_histogram_12s": lambda: ch.wait_histogram_chart(t["waits12"], "12秒"),
        "daily_online": lambda: ch.daily_online_chart(t["online"]),
        "satisfaction": lambda: ch.satisfaction_chart(t["ratings"]),
        "outbound": lambda: ch.outbound_chart(t["services"]),
        "sms": lambda: ch.sms_chart(t["sms"]),
        "smart_composition": lambda: ch.smart_composition_chart(t["composition"]),
        "diversion": lambda: ch.diversion_chart(t["diversion"]),
        "video_business": lambda: ch.video_business_chart(t["business"]),
        "complaint_outcomes": lambda: ch.complaint_outcomes_chart(t["outcomes"]),
        "complaint_routes": lambda: ch.complaint_routes_chart(t["routes"]),
        "kb_actions": lambda: ch.kb_actions_chart(t["actions"]),
        "kb_points": lambda: ch.kb_points_chart(t["points"]),
        "training": lambda: ch.training_chart(t["training"]),
        "yoy": lambda: ch.yoy_chart(t["yoy"], "外呼同比", "次"),
        "yoy_no_prior": lambda: ch.yoy_chart(t["yoy_first"], "外呼同比", "次"),
    }


def digests(order):
    build = builders()
    return {name: hashlib.sha256(build[name]().to_json().encode()).hexdigest() for name in order}
'''
namespace: dict = {}
exec(BUILD, namespace)  # the same source runs in a fresh process below
BUILDERS = namespace["builders"]()
TABLES = namespace["tables"]()
# The one chart allowed a normalising stack: 100 % bars of ratings per channel.
NORMALIZE_OK = {"satisfaction"}
# Numeric fields that are categories, not quantities, and may be shown as they are.
DIMENSIONS = {"hour"}  # a clock hour on the heatmap's axis and tooltip
LEGEND_CHANNELS = {
    "color",
    "fill",
    "stroke",
    "strokeDash",
    "opacity",
    "fillOpacity",
    "strokeOpacity",
    "shape",
    "size",
    "strokeWidth",
}


# ---------------------------------------------------------------- the spec check


def walk(node):
    """Every dict in a spec."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def encodings(spec):
    """Every (channel, definition) in a spec, through layers and concatenations."""
    for node in walk(spec):
        for channel, definition in (node.get("encoding") or {}).items():
            for item in definition if isinstance(definition, list) else [definition]:
                yield channel, item


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def spec_problems(spec: dict, *, normalize_ok: bool = False) -> list[str]:
    """What in a chart could mislead or leak; [] for a chart that keeps the rules."""
    problems = []
    columns, rows = export.spec_table(spec)
    problems += [f"row-level field {c}" for c in columns if c.endswith("_id") or c == "staff_id"]
    for node in walk(spec):
        resolve = node.get("resolve")
        if resolve and "independent" in json.dumps(resolve):
            problems.append(f"independent scales: {resolve}")
        for transform in node.get("transform") or []:
            if set(transform) != {"filter"}:
                problems.append(f"transform {sorted(transform)}")
        if node.get("params") or node.get("selection"):
            problems.append("params/selections")
    for channel, enc in encodings(spec):
        field, kind = enc.get("field"), enc.get("type")
        if "aggregate" in enc or "bin" in enc:
            problems.append(f"{channel}: computed in the chart ({enc})")
        if enc.get("stack") == "normalize" and not normalize_ok:
            problems.append(f"{channel}: normalised stack")
        if field is not None and field not in columns:
            problems.append(f"{channel}: field {field} not in the data")
        if channel in ("text", "tooltip"):
            if "format" in enc and kind != "temporal":
                problems.append(f"{channel}: number format {enc['format']!r} on text")
            if "datum" in enc and not isinstance(enc["datum"], str):
                problems.append(f"{channel}: a number datum as text")
            if field is not None:
                if kind == "quantitative":
                    problems.append(f"{channel}: {field} is quantitative text")
                numeric = any(is_number(row.get(field)) for row in rows)
                if field.endswith("_label"):
                    if kind != "nominal":
                        problems.append(f"{channel}: label {field} is {kind}")
                elif numeric and field not in DIMENSIONS:
                    problems.append(f"{channel}: {field} is a number, not its label")
        if channel in LEGEND_CHANNELS and field is not None and kind != "quantitative":
            if "legend" in enc and enc["legend"] is None:
                problems.append(f"{channel}: {field} carries meaning but has no legend")
            present = list(dict.fromkeys(row.get(field) for row in rows))
            domain = (enc.get("scale") or {}).get("domain")
            if (
                domain is None
                or len(domain) != len(set(map(str, domain)))
                or (set(map(str, domain)) != set(map(str, present)))
            ):
                problems.append(f"{channel}: legend domain {domain} is not the series present {present}")
        if channel in ("x", "y") and kind == "quantitative":
            scale = enc.get("scale") or {}
            if scale.get("zero") is False:
                problems.append(f"{channel}: {field} axis does not start at zero")
            if "domain" in scale and scale["domain"][0] != 0:
                problems.append(f"{channel}: {field} domain starts at {scale['domain'][0]}")
    return problems


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_chart_passes_the_spec_check(name):
    spec = BUILDERS[name]().to_dict()
    assert spec_problems(spec, normalize_ok=name in NORMALIZE_OK) == []


def test_the_spec_check_catches_misleading_charts():
    """The old charts' faults, each one seen by the check."""
    rows = [
        {"figure": "外呼", "period": "本期", "value": 5.0, "value_label": "5"},
        {"figure": "工单", "period": "本期", "value": 1.0, "value_label": "1", "ticket_id": "t1"},
    ]
    data = alt.InlineData(values=rows)
    scaled = (
        alt.Chart(data)
        .transform_joinaggregate(peak="max(value)")
        .mark_bar()
        .encode(
            x=alt.X("value:Q", scale=alt.Scale(zero=False, domain=[1, 6])),
            y=alt.Y("figure:N"),
            color=alt.Color("period:N", scale=alt.Scale(domain=["上年同期", "本期"]), legend=None),
            tooltip=[alt.Tooltip("value:Q", format=",")],
        )
    )
    text = (
        alt.Chart(data)
        .mark_text()
        .encode(
            x="value:Q",
            y="figure:N",
            text=alt.Text("value:Q", format=".2%"),
        )
    )
    spec = alt.layer(scaled, text).resolve_scale(x="independent").to_dict()
    found = "\n".join(spec_problems(spec))
    for fault in (
        "row-level field ticket_id",
        "independent scales",
        "transform ['joinaggregate']",
        "does not start at zero",
        "domain starts at 1",
        "has no legend",
        "legend domain ['上年同期', '本期']",
        "number format ',' on text",
        "number format '.2%' on text",
        "value is quantitative text",
    ):
        assert fault in found, fault
    stacked = alt.Chart(data).mark_bar().encode(x=alt.X("value:Q", stack="normalize"), y="figure:N")
    assert "x: normalised stack" in spec_problems(stacked.to_dict())
    assert spec_problems(stacked.to_dict(), normalize_ok=True) == ["row-level field ticket_id"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_gives_a_valid_typed_responsive_chart(name):
    spec = BUILDERS[name]().to_dict(validate=True)
    found = list(encodings(spec))
    assert found, "a chart without encodings"
    for channel, definition in found:
        if channel not in ("x2", "y2") and ("field" in definition or "datum" in definition):
            assert definition.get("type") in {"quantitative", "nominal", "ordinal", "temporal"}, (
                channel,
                definition,
            )
    assert spec["width"] == "container" and spec["autosize"]["type"] == "fit-x"
    assert not any("resolve" in node for node in walk(spec))


def test_publishing_a_chart_validates_nothing(monkeypatch):
    """Building and converting a chart never runs Altair's schema validation (two thirds of
    the sections' cell time): the specs are validated whole by the tests above and in
    test_publish instead. Every public builder is wrapped by `_builder`."""
    import altair.utils.schemapi as schemapi

    public = [n for n in dir(ch) if n.endswith("_chart") and n != "save_chart" and callable(getattr(ch, n))]
    assert len(public) >= 18
    assert [n for n in public if getattr(getattr(ch, n), "__wrapped__", None) is None] == []

    def refuse(*_args, **_kwargs):
        raise AssertionError("a spec was validated while publishing")

    monkeypatch.setattr(schemapi, "validate_jsonschema", refuse)
    monkeypatch.setattr(schemapi.SchemaBase, "validate", classmethod(refuse))
    monkeypatch.setattr(schemapi.SchemaBase, "validate_property", classmethod(refuse))
    for name, build in sorted(BUILDERS.items()):
        assert ch.spec(build())["width"] == "container", name


def test_theme_is_registered_and_enabled():
    assert ch.THEME in alt.theme.names()
    assert alt.theme.active == ch.THEME
    config = BUILDERS["outbound"]().to_dict()["config"]
    assert "Noto Sans CJK SC" in config["font"] and "sans-serif" in config["font"]
    assert config["range"]["category"][0] == ch.NAVY


def test_kernel_imports_neither_pandas_nor_vl_convert():
    code = (
        "import sys\nimport helpers.report.charts, helpers.report.render\n"
        "print(sorted(m for m in ('pandas', 'vl_convert', 'numpy') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


# ---------------------------------------------------------------- data


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_chart_embeds_the_store_rows_as_given(name):
    columns, rows = export.spec_table(BUILDERS[name]().to_dict())
    assert rows, "the chart embeds no data"
    assert not any(c.endswith("_id") or c == "staff_id" for c in columns)
    source = {
        "daily_requests": "daily",
        "daily_requests_credit": "daily",
        "daily_rates": "daily_rates",
        "daily_rates_no_target": "daily_rates",
        "arrival_heatmap": "arrivals",
        "wait_histogram": "waits",
        "wait_histogram_12s": "waits12",
        "daily_online": "online",
        "satisfaction": "ratings",
        "outbound": "services",
        "sms": "sms",
        "smart_composition": "composition",
        "diversion": "diversion",
        "video_business": "business",
        "complaint_outcomes": "outcomes",
        "complaint_routes": "routes",
        "kb_actions": "actions",
        "kb_points": "points",
        "training": "training",
        "yoy": "yoy",
        "yoy_no_prior": "yoy_first",
    }[name]
    assert rows == TABLES[source]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_csv_columns_follow_the_store_contract_even_from_sorted_json(name):
    """store.json is written with sorted keys: the CSV still reads in docs/store.md's order."""
    columns, rows = export.spec_table(BUILDERS[name]().to_dict())
    documented = [fields for fields in ch.STORE_FIELDS.values() if set(fields) == set(columns)]
    assert documented and columns == list(documented[0]), columns


def test_extra_store_fields_are_kept_after_the_documented_ones():
    rows = [dict(sorted(dict(row, within="≤20秒").items())) for row in TABLES["daily"]]  # sorted keys
    columns, _ = export.spec_table(ch.daily_requests_chart(rows, "综合").to_dict())
    assert columns == [*ch.STORE_FIELDS["daily"], "within"]


@pytest.mark.parametrize("field", ["call_id", "staff_id", "ticket_id"])
def test_rows_with_a_row_level_field_are_refused(field):
    rows = [dict(row, **{field: "x1"}) for row in TABLES["services"]]
    with pytest.raises(ValueError, match=field):
        ch.outbound_chart(rows)
    with pytest.raises(ValueError, match=field):
        ch.training_chart([dict(TABLES["training"][0], **{field: "x1"})])


def test_rows_missing_a_drawn_field_are_refused():
    rows = [{k: v for k, v in row.items() if k != "calls_label"} for row in TABLES["services"]]
    with pytest.raises(ValueError, match="calls_label"):
        ch.outbound_chart(rows)


def test_builders_do_not_change_the_rows_they_are_given():
    rows = [dict(row) for row in TABLES["outcomes"]]
    ch.complaint_outcomes_chart(rows).to_dict()
    assert rows == TABLES["outcomes"]


# ---------------------------------------------------------------- per chart


def layers(spec):
    return spec.get("layer", [spec])


def first(spec) -> dict:
    """The encoding of a chart, or of its first layer."""
    return layers(spec)[0]["encoding"]


def mark(layer) -> str:
    return layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]


def test_daily_requests_is_one_series_named_in_the_title():
    for line, color in (("综合", ch.NAVY), ("信用卡", ch.RED)):
        spec = ch.daily_requests_chart(TABLES["daily"], line).to_dict()
        assert "color" not in spec["encoding"]  # one series: no legend of other lines
        assert spec["mark"]["color"] == color
        assert line in json.dumps(spec["title"], ensure_ascii=False)


def test_daily_rates_axis_starts_at_zero_and_target_rule_is_optional():
    spec = ch.daily_rates_chart(TABLES["daily_rates"], 0.8, "目标 80.00%").to_dict()
    y = spec["layer"][0]["encoding"]["y"]
    assert y["scale"]["zero"] is True and y["scale"]["domain"] == [0, 1]
    assert spec["layer"][0]["encoding"]["strokeDash"]["scale"]["domain"] == ["接通率", "20秒服务水平"]
    rules = [layer for layer in spec["layer"] if mark(layer) == "rule"]
    assert [rule["encoding"]["y"]["datum"] for rule in rules] == [0.8]
    texts = [layer for layer in spec["layer"] if mark(layer) == "text"]
    assert [t["encoding"]["text"]["datum"] for t in texts] == ["目标 80.00%"]
    without = ch.daily_rates_chart(TABLES["daily_rates"], None, "").to_dict()
    assert [mark(layer) for layer in without["layer"]] == ["line"]
    only_one = [row for row in TABLES["daily_rates"] if row["measure"] == "接通率"]
    one = ch.daily_rates_chart(only_one, 0.8, "目标 80.00%").to_dict()
    assert one["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["接通率"]


@pytest.mark.parametrize("name, threshold", [("wait_histogram", 20), ("wait_histogram_12s", 12)])
def test_wait_bins_are_drawn_at_their_true_widths(name, threshold):
    spec = BUILDERS[name]().to_dict()
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["x2"]["field"], enc["y"]["field"]) == ("bin_start", "bin_end", "density")
    _, rows = export.spec_table(spec)
    widths = {row["bin"]: row["bin_end"] - row["bin_start"] for row in rows}
    if threshold == 12:
        assert widths["10-12"] == 2 and widths["12-15"] == 3  # unequal bins, honest areas
    for row in rows:  # area = share (density is share per 5 s)
        assert row["density"] * (row["bin_end"] - row["bin_start"]) / 5 == pytest.approx(row["share"])
    assert enc["color"]["scale"]["domain"] == [f"≤{threshold}秒", f">{threshold}秒"]
    assert [t["field"] for t in enc["tooltip"]] == ["bin", "calls_label", "share_label"]
    assert f"{threshold}秒" in json.dumps(spec["title"]["subtitle"], ensure_ascii=False)


def test_satisfaction_legend_lists_the_ratings_present_in_rank_order():
    rows = [row for row in TABLES["ratings"] if row["rating"] != "一般"][::-1]
    spec = ch.satisfaction_chart(rows).to_dict()
    assert spec["encoding"]["color"]["scale"]["domain"] == ["非常满意", "满意", "不满意", "非常不满意"]
    assert spec["encoding"]["x"]["stack"] == "normalize"


@pytest.mark.parametrize("name, label", [("outbound", "calls_label"), ("sms", "recipients_label")])
def test_service_bars_are_labelled_from_the_store(name, label):
    spec = BUILDERS[name]().to_dict()
    bars, text = spec["layer"]
    assert mark(bars) == "bar" and text["encoding"]["text"] == {"field": label, "type": "nominal"}
    services = [row["service"] for row in export.spec_table(spec)[1]]
    assert first(spec)["y"]["sort"] == services  # the store's order: largest first


def test_diversion_months_are_ordinal_labels_on_a_zero_based_rate_axis():
    spec = BUILDERS["diversion"]().to_dict()
    assert first(spec)["x"] == {
        "field": "month_label",
        "type": "ordinal",
        "title": None,
        "sort": ["1月", "2月", "3月"],
        "axis": {"labelAngle": 0},
    }
    assert first(spec)["y"]["scale"]["domain"] == [0, 1]
    assert spec["layer"][1]["encoding"]["text"]["field"] == "diversion_rate_label"


def test_complaint_outcomes_have_a_kind_legend_and_sum_to_the_complaints_received():
    spec = BUILDERS["complaint_outcomes"]().to_dict()
    color = spec["layer"][0]["encoding"]["color"]
    assert color["field"] == "kind" and color.get("legend", {}) is not None
    assert color["scale"]["domain"] == ["出具投诉工单", "转为其他工单"]
    assert first(spec)["y"]["sort"] == ["投诉", "咨询", "表扬", "其他"]
    assert sum(row["tickets"] for row in export.spec_table(spec)[1]) == 201
    routes = BUILDERS["complaint_routes"]().to_dict()
    assert sum(row["tickets"] for row in export.spec_table(routes)[1]) == 151
    assert "funnel" not in json.dumps(spec) and "step" not in export.spec_table(spec)[0]


def test_knowledge_base_never_puts_two_units_on_one_axis():
    actions = BUILDERS["kb_actions"]().to_dict()
    points = BUILDERS["kb_points"]().to_dict()
    assert (first(actions)["x"]["field"], first(actions)["x"]["title"]) == ("items", "项")
    assert first(points)["x"]["field"] == "knowledge_points"
    assert "知识点" in first(points)["x"]["title"]


def test_training_hours_are_labelled_from_the_store():
    spec = BUILDERS["training"]().to_dict()
    assert spec["layer"][1]["encoding"]["text"]["field"] == "hours_label"
    assert first(spec)["x"]["sort"] == ["1月", "3月"]


@pytest.mark.parametrize("name, periods", [("yoy", ["上年同期", "本期"]), ("yoy_no_prior", ["本期"])])
def test_yoy_bars_share_one_zero_based_axis(name, periods):
    spec = BUILDERS[name]().to_dict()
    text = json.dumps(spec, ensure_ascii=False)
    assert "joinaggregate" not in text and not any("resolve" in node for node in walk(spec))
    x = first(spec)["x"]
    assert x["field"] == "value" and x["title"] == "次" and x.get("axis", {}) is not None
    assert x["scale"]["domain"][0] == 0
    xs = [enc for channel, enc in encodings(spec) if channel == "x" and "field" in enc]
    assert {enc["field"] for enc in xs} == {"value"}  # one quantitative axis for every figure
    color = spec["layer"][0]["encoding"]["color"]
    assert color["scale"]["domain"] == periods
    assert [layer["encoding"]["text"]["field"] for layer in spec["layer"][1:]] == [
        "value_label",
        "change_label",
    ]
    change = spec["layer"][2]
    assert change["transform"] == [{"filter": {"field": "period", "equal": "本期"}}]
    expected = "同比增长87.13%" if name == "yoy" else "无同期数据"
    assert expected in text


def test_same_chart_twice_gives_identical_json():
    for name, build in BUILDERS.items():
        first = build().to_json()
        alt.Chart(alt.InlineData(values=[{"x": 1}])).mark_point().encode(x="x:Q").to_json()
        assert build().to_json() == first, name


def test_json_is_identical_in_a_fresh_process_and_any_call_order():
    names = sorted(BUILDERS)
    here = namespace["digests"](names)
    script = f"{BUILD}\nimport json\nprint(json.dumps(digests({list(reversed(names))!r})))\n"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == here


# ---------------------------------------------------------------- CSV


def test_spec_table_gives_the_one_dataset_in_row_order():
    spec = BUILDERS["yoy"]().to_dict()  # three layers, one dataset
    columns, rows = export.spec_table(spec)
    assert columns == ["figure", "key", "period", "quarter", "value", "value_label", "change_label"]
    assert rows == TABLES["yoy"]
    with_rule = BUILDERS["daily_rates"]().to_dict()
    assert "empty" in with_rule["datasets"]  # the data-less rule/text layers: not a table
    assert export.spec_table(with_rule)[1] == TABLES["daily_rates"]
    inline = {"mark": "bar", "data": {"values": [{"a": 1, "b": "x"}, {"a": 2, "c": None}]}}
    assert export.spec_table(inline) == (["a", "b", "c"], [{"a": 1, "b": "x"}, {"a": 2, "c": None}])
    # stored with sorted keys (notebooks, the page): the builder's column order is kept
    stored = json.loads(json.dumps(spec, sort_keys=True))
    assert export.spec_table(stored)[0] == columns
    assert export.spec_table(dict(stored, usermeta={"columns": ["value", "nope"]}))[0] == [
        "value",
        "change_label",
        "figure",
        "key",
        "period",
        "quarter",
        "value_label",
    ]


def test_spec_table_refuses_several_datasets_or_none():
    two = alt.layer(
        alt.Chart(alt.InlineData(values=[{"a": 1}])).mark_bar().encode(x="a:Q"),
        alt.Chart(alt.InlineData(values=[{"a": 2}])).mark_bar().encode(x="a:Q"),
    ).to_dict()
    with pytest.raises(ValueError, match="2 different datasets"):
        export.spec_table(two)
    with pytest.raises(ValueError, match="no inline data"):
        export.spec_table({"mark": "bar", "data": {"url": "x.csv"}})


def test_table_csv_has_bom_crlf_chinese_and_empty_nones():
    rows = [{"渠道": "语音", "量": 3, "备注": None, "ok": True}, {"渠道": "在线,视频", "量": 0.5}]
    data = export.table_csv(["渠道", "量", "备注", "ok"], rows)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text == '渠道,量,备注,ok\r\n语音,3,,true\r\n"在线,视频",0.5,,\r\n'
    assert list(csv.reader(io.StringIO(text))) == [
        ["渠道", "量", "备注", "ok"],
        ["语音", "3", "", "true"],
        ["在线,视频", "0.5", "", ""],
    ]


# ---------------------------------------------------------------- export


def test_every_chart_draws_with_vl_convert():
    vlc = pytest.importorskip("vl_convert")
    for name, build in BUILDERS.items():
        spec = export._fixed_width(build().to_dict(), export.EXPORT_WIDTH)
        svg = vlc.vegalite_to_svg(spec)
        title = spec["title"]["text"] if isinstance(spec["title"], dict) else spec["title"]
        assert svg.startswith("<svg") and title in svg, name


def test_spec_file_exports_svg_png_and_csv(tmp_path):
    chart = BUILDERS["outbound"]()
    spec_path = ch.save_spec(chart, tmp_path / "figures" / "outbound-services")
    assert spec_path.name == "outbound-services.vl.json"
    svg_path, png_path = export.export_spec_file(spec_path)
    svg = svg_path.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "各项呼出服务外呼量" in svg
    assert "信用卡分期营销" in svg and "310,000" in svg  # the store's label at the bar end
    assert f'width="{export.EXPORT_WIDTH}"' in svg.split(">", 1)[0]  # container -> fixed width
    assert png_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    csv_path = export.export_table_file(spec_path)
    assert csv_path == tmp_path / "figures" / "outbound-services.csv"
    rows = list(csv.DictReader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    assert [row["service"] for row in rows] == ["信用卡分期营销", "回访", "风险通知"]
    assert rows[0]["calls_label"] == "310,000"


def test_png_draws_chinese_glyphs_not_boxes(tmp_path):
    # Without a CJK font every Chinese character becomes the same empty box,
    # so two different texts would give identical images.
    def render(text, name):
        label = (
            alt.Chart(alt.InlineData(values=[{"t": text}]))
            .mark_text(fontSize=40)
            .encode(text=alt.Text("t:N"))
            .properties(width=200, height=60)
        )
        return ch.save_chart(label, tmp_path / name)[1].read_bytes()

    assert render("客服", "a") != render("微刊", "b"), (
        "CJK text renders as boxes: install a CJK font (apt-get install fonts-noto-cjk) "
        f"or point {export.FONT_DIR_ENV} at a folder with Noto Sans CJK SC"
    )


def test_svg_gradient_ids_do_not_depend_on_what_the_exporter_drew_before():
    # vl-convert counts gradients per process: a heatmap drawn second gets gradient_1.
    drawn = '<p fill="url(#gradient_7)"/><b id="gradient_7"/><q fill="url(#gradient_3)"/><i id="gradient_3"/>'
    want = '<p fill="url(#gradient_0)"/><b id="gradient_0"/><q fill="url(#gradient_1)"/><i id="gradient_1"/>'
    assert export._stable_ids(drawn) == want
