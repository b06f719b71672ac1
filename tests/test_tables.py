"""helpers.figures.tables and the store: every table a chart or a table of the issue
draws reconciles with the printed figures, on the sample quarter and on a hand-made
quarter of a different shape (a threshold that is not a multiple of 5, complaints
converted into 咨询/表扬/其他 tickets, complaint tickets from other requests, a share on
a half-up edge, no prior year)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from helpers import fmt, paths
from helpers.data.schema import BOOLEAN, DATE, DECIMAL, FILES, INTEGER, MONTH, TIMESTAMP
from helpers.figures import metrics as m
from helpers.figures import store as st
from helpers.figures import tables as t


def typed(name: str, rows: list[dict]) -> pd.DataFrame:
    """A typed table as the validator returns it (dtypes from helpers.schema)."""
    spec = FILES[name]
    frame = pd.DataFrame(rows, columns=list(spec.column_names))
    dtypes = {}
    for column in spec.columns:
        if column.kind in (TIMESTAMP, DATE, MONTH):
            frame[column.name] = pd.to_datetime(frame[column.name])
            continue
        dtypes[column.name] = {
            BOOLEAN: "boolean" if column.optional else "bool",
            INTEGER: "int64",
            DECIMAL: "float64",
        }.get(column.kind, "string")
    return frame.astype(dtypes)


def _call(i: int, line: str, day: str, wait: float | None, agent: str = "自有") -> dict:
    start = pd.Timestamp(f"{day} 09:00:00")
    answered = None if wait is None else start + pd.Timedelta(seconds=wait)
    return {
        "call_id": f"c{i}",
        "chat_id": f"o{i}",
        "line": line,
        "requested_at": start,
        "answered_at": answered,
        "ended_at": None if answered is None else answered + pd.Timedelta(minutes=2),
        "agent_type": None if answered is None else agent,
    }


def odd_quarter() -> dict[str, pd.DataFrame]:
    """A 2023Q3 of a different shape from the sample (see the module docstring)."""
    waits = [0, 4.9, 5, 12, 20, 20.5, 20.6, 21, 33, 59, 61, 300, None, None]
    inbound = [
        _call(i, line, day, w, "外包" if i % 3 == 0 else "自有")
        for i, (w, line, day) in enumerate(
            (w, line, day)
            for w in waits
            for line in ("综合", "信用卡")
            for day in ("2023-07-03", "2023-09-30")
        )
    ]
    online = [_call(i, "综合", "2023-08-15", w) for i, w in enumerate(waits)]
    smart = [
        {
            "session_id": f"s{i}",
            "channel": ch,
            "started_at": f"2023-0{7 + i % 3}-10 10:00:00",
            "questions": 3,
            "standard_answers": i % 4,
            "recognized": (i % 2 == 0) if ch == "语音导航" else None,
            "transferred": i % 5 == 0,
        }
        for i, ch in enumerate(["文本机器人"] * 23 + ["语音导航"] * 9)
    ]
    # 20000 hotline surveys, 667 rated 一般: a share of 0.03335, printed 3.34% (half-up).
    ratings = ["非常满意"] * 15000 + ["满意"] * 4000 + ["一般"] * 667 + ["不满意"] * 333
    surveys = [
        {"survey_id": f"v{i}", "channel": "语音", "responded_at": "2023-07-05 10:00:00", "rating": r}
        for i, r in enumerate(ratings)
    ] + [{"survey_id": "w1", "channel": "在线", "responded_at": "2023-07-05 10:00:00", "rating": "满意"}]
    outbound = [
        {"call_id": f"x{i}", "dialed_at": "2023-08-01 10:00:00", "service": s, "connected": i % 2 == 0}
        for i, s in enumerate(["账单提醒"] * 5 + ["风险核实"] * 5 + ["满意度回访"] * 2)
    ]
    video = [
        {"session_id": f"w{i}", "started_at": "2023-07-10 10:00:00", "business_type": k}
        for i, k in enumerate(["挂失", "挂失", "开户", None, "开户", "理财"])
    ]
    sms = [
        {"batch_id": f"b{i}", "sent_on": "2023-07-01", "service": s, "recipients": n}
        for i, (s, n) in enumerate([("动账通知", 5000), ("还款提醒", 7000), ("动账通知", 2500)])
    ]
    feedback = [
        {"feedback_id": f"f{i}", "reported_on": "2023-07-02", "department": d, "summary": s, "status": st_}
        for i, (d, s, st_) in enumerate(
            [("信用卡部", "额度", "待反馈"), ("零售部", "网点", "已优化"), ("信用卡部", "分期", "列入计划")]
        )
    ]
    tickets = [
        {
            "ticket_id": f"t{i}",
            "created_at": "2023-07-10 10:00:00",
            "request_type": req,
            "ticket_type": kind,
            "routed_to": to,
        }
        for i, (req, kind, to) in enumerate(
            [
                ("投诉", "投诉", "分支行"),
                ("投诉", "咨询", "客服中心"),
                ("投诉", "表扬", "客服中心"),
                ("投诉", "其他", "客服中心"),
                ("投诉", "建议", "分支行"),
                ("咨询", "投诉", "总行部室"),
                ("咨询", "投诉", "客服中心"),
                ("建议", "建议", "分支行"),
            ]
        )
    ]
    kb = [
        {"change_id": f"k{i}", "changed_on": "2023-07-10", "section": s, "action": a, "knowledge_points": p}
        for i, (a, s, p) in enumerate(
            [("梳理优化", "A", 7), ("梳理优化", "A", 2), ("新增", "B", 5), ("优化", "C", 1)]
        )
    ]
    training = [
        {"session_id": sid, "held_on": day, "topic": "规范", "staff_id": staff, "hours": h}
        for sid, day, staff, h in [
            ("s1", "2023-07-05", "a", 1.675),
            ("s1", "2023-07-05", "b", 1.675),
            ("s2", "2023-09-20", "a", 0.1),
            ("s3", "2023-09-21", "c", 0.2),
        ]
    ]
    awards = [
        {"month": f"2023-0{mo}", "category": c, "winner": w, "leader": ldr}
        for mo, c, w, ldr in [
            (7, "服务之星", "甲", "组长一"),
            (9, "服务之星", "甲", None),
            (8, "服务之星", "乙", ""),
        ]
    ]
    return {
        "inbound_calls": typed("inbound_calls", inbound),
        "online_chats": typed("online_chats", online),
        "smart_sessions": typed("smart_sessions", smart),
        "surveys": typed("surveys", surveys),
        "outbound_calls": typed("outbound_calls", outbound),
        "video_sessions": typed("video_sessions", video),
        "sms_batches": typed("sms_batches", sms),
        "feedback": typed("feedback", feedback),
        "tickets": typed("tickets", tickets),
        "kb_changes": typed("kb_changes", kb),
        "training": typed("training", training),
        "awards": typed("awards", awards),
    }


def _sum(rows: list[dict], field: str, **where: Any) -> int:
    return sum(r[field] for r in rows if all(r[k] == v for k, v in where.items()))


def check_store_reconciles(store: dict, service_level_seconds: float) -> None:
    """Every chart's table against the printed figures: totals, shares, counts, labels."""
    fig, tab = store["metrics"], store["tables"]
    for key in m.LINES:
        f, sec = fig["inbound"][key], tab[f"inbound_{key}"]
        daily = sec["daily"]
        assert _sum(daily, "requests") == f["requests"] and _sum(daily, "answered") == f["answered"]
        assert m.ratio(_sum(daily, "within"), f["requests"]) == f["service_level"]
        for row in daily:
            assert row["service_level_label"] == fmt.pct(row["service_level"])
            assert row["requests_label"] == fmt.count(row["requests"])
        rates = {(r["date"], r["measure"]): r["rate_label"] for r in sec["daily_rates"]}
        level = f"{fmt.seconds(service_level_seconds)}秒服务水平"
        assert all(rates[(r["date"], level)] == r["service_level_label"] for r in daily)
        assert len(sec["arrivals"]) == 7 * 24 and _sum(sec["arrivals"], "requests") == f["requests"]
        waits = sec["waits"]
        assert _sum(waits, "calls") == f["answered"]
        within = _sum(waits, "calls", within=f"≤{fmt.seconds(service_level_seconds)}秒")
        assert m.ratio(within, f["requests"]) == f["service_level"]
        assert any(w["bin_end"] == service_level_seconds for w in waits), "the threshold is a bin edge"
        for w in waits:
            assert w["share_label"] == fmt.pct(w["share"])
            assert math.isclose(w["density"] * (w["bin_end"] - w["bin_start"]) / t.WAIT_STEP_S, w["share"])
    ratings = [r for r in tab["satisfaction"]["ratings"] if r["channel"] == "语音"]
    s = fig["satisfaction"]
    assert _sum(ratings, "count") == s["responses"]
    assert (
        m.ratio(
            _sum(ratings, "count", rating="非常满意") + _sum(ratings, "count", rating="满意"), s["responses"]
        )
        == s["satisfied_rate"]
    )
    services = tab["outbound"]["services"]
    o = fig["outbound"]
    assert len(services) == o["services"] and _sum(services, "calls") == o["calls"]
    assert m.ratio(_sum(services, "connected"), o["calls"]) == o["connect_rate"]
    assert [r["calls"] for r in services] == sorted((r["calls"] for r in services), reverse=True)
    sms = tab["sms"]["services"]
    assert len(sms) == fig["sms"]["services"] and _sum(sms, "recipients") == fig["sms"]["recipients"]
    comp = tab["smart"]["composition"]
    assert _sum(comp, "sessions") == fig["smart"]["sessions"]
    assert _sum(comp, "sessions", outcome="自助解决") == fig["smart"]["resolved"]
    assert _sum(comp, "sessions", channel="文本机器人") == fig["robot"]["sessions"]
    div = tab["smart"]["diversion"]
    assert _sum(div, "resolved") == fig["smart"]["resolved"]
    inbound_total = fig["inbound"]["general"]["requests"] + fig["inbound"]["credit_card"]["requests"]
    assert _sum(div, "inbound_requests") == inbound_total
    assert (
        m.diversion_rate(_sum(div, "resolved"), inbound_total, _sum(div, "online_requests"))
        == fig["smart"]["diversion_rate"]
    )
    online = tab["online"]["daily"]
    assert _sum(online, "chats", measure="请求量") == fig["online"]["requests"]
    assert _sum(online, "chats", measure="接通量") == fig["online"]["answered"]
    business = tab["video"]["business"]
    assert [(b["type"], b["count"], b["share"]) for b in business] == [
        (b["type"], b["count"], b["share"]) for b in fig["video"]["business"]
    ]
    assert all(b["share_label"] == fmt.pct(b["share"]) for b in business)
    items = tab["feedback"]["items"]
    assert len(items) == fig["feedback"]["items"]
    assert sum(r["status"] == "待反馈" for r in items) == fig["feedback"]["pending"]
    k = fig["tickets"]
    outcomes = tab["tickets"]["complaint_outcomes"]
    assert _sum(outcomes, "tickets") == k["complaints_received"]
    assert _sum(outcomes, "tickets", kind=t.CONVERTED) == k["complaints_converted"]
    assert _sum(tab["tickets"]["complaint_routes"], "tickets") == k["complaint_tickets"]
    assert (
        _sum(tab["tickets"]["complaint_routes"], "tickets", routed_to="分支行")
        == k["branch_complaint_tickets"]
    )
    assert _sum(tab["tickets"]["complaint_sources"], "tickets") == k["complaint_tickets"]
    kb = fig["knowledge_base"]
    assert _sum(tab["knowledge_base"]["actions"], "items") == kb["items"]
    assert _sum(tab["knowledge_base"]["points"], "knowledge_points") == kb["knowledge_points"]
    monthly = tab["training"]["monthly"]
    assert _sum(monthly, "attendances") == fig["training"]["attendances"]
    assert fmt.hours(math.fsum(r["hours"] for r in monthly)) == fmt.hours(fig["training"]["hours"])
    assert [(a["category"], a["winner"]) for a in tab["awards"]["awards"]] == [
        (a["category"], a["winner"]) for a in fig["awards"]
    ]
    for section in ("outbound", "smart", "online", "tickets"):
        yoy = tab[section]["yoy"]
        assert all(r["value"] == m.get(fig, r["key"]) for r in yoy if r["period"] == "本期")
        assert any(r["period"] == "上年同期" for r in yoy) == (store["prior_quarter"] is not None)
    for rows in (r for sec in tab.values() for r in sec.values()):
        for row in rows:
            assert not [c for c in row if c.endswith("_id") or c == "staff_id"], row


@pytest.fixture(scope="module")
def odd_store() -> dict:
    return st.compute_store("2023Q3", odd_quarter(), None, service_level_seconds=20.5)


def test_odd_quarter_tables_reconcile_with_its_figures(odd_store):
    check_store_reconciles(odd_store, 20.5)


def test_sample_tables_reconcile_with_its_figures(sample_root, session_cache, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", session_cache)
    store, path = st.quarter_store("2022Q1", sample_root)
    assert path.exists() and store["prior_quarter"] == "2021Q1"
    check_store_reconciles(store, 20)


def test_unequal_wait_bins_keep_their_true_widths(odd_store):
    waits = odd_store["tables"]["inbound_general"]["waits"]
    bins = [(w["bin"], w["bin_start"], w["bin_end"], w["within"]) for w in waits[3:7]]
    assert bins == [
        ("15-20", 15, 20, "≤20.5秒"),
        ("20-20.5", 20, 20.5, "≤20.5秒"),
        ("20.5-25", 20.5, 25, ">20.5秒"),
        ("25-30", 25, 30, ">20.5秒"),
    ]
    # The 20.5 s waits (one a day, two days) fall in the 0.5 s bin (20 s ones in 15-20): its
    # bar is 10 times as dense as its share.
    narrow = waits[4]
    assert narrow["calls"] == 2 and math.isclose(narrow["density"], narrow["share"] * 10)
    assert waits[-1]["open"] and waits[-1]["bin"] == "60+" and waits[-1]["bin_end"] == 65


def test_half_up_share_is_labelled_as_the_prose_prints_it(odd_store):
    rows = odd_store["tables"]["satisfaction"]["ratings"]
    plain = next(r for r in rows if r["channel"] == "语音" and r["rating"] == "一般")
    assert (plain["count"], plain["share_label"]) == (667, "3.34%")


def test_complaints_converted_into_other_types_are_each_shown(odd_store):
    outcomes = odd_store["tables"]["tickets"]["complaint_outcomes"]
    assert [(r["ticket_type"], r["kind"], r["tickets"]) for r in outcomes] == [
        ("投诉", t.ISSUED, 1),
        ("建议", t.CONVERTED, 1),
        ("咨询", t.CONVERTED, 1),
        ("表扬", t.CONVERTED, 1),
        ("其他", t.CONVERTED, 1),
    ]
    k = odd_store["metrics"]["tickets"]
    # received - converted is not the number of complaint tickets in this quarter.
    assert k["complaints_received"] - k["complaints_converted"] != k["complaint_tickets"]
    assert [
        (r["request_type"], r["tickets"]) for r in odd_store["tables"]["tickets"]["complaint_sources"]
    ] == [("投诉", 1), ("咨询", 2)]


def test_without_prior_year_yoy_has_only_this_period(odd_store):
    rows = odd_store["tables"]["outbound"]["yoy"]
    assert [(r["period"], r["value"], r["change_label"]) for r in rows] == [("本期", 12, fmt.NO_PRIOR)]


def test_yoy_rows_with_a_prior_year():
    now = {"quarter": "2022Q1", "outbound": {"calls": 588700, "calls_yoy": 0.8711}}
    before = {"quarter": "2021Q1", "outbound": {"calls": 314700}}
    rows = t.yoy(now, before, {"outbound.calls": "外呼电话"})
    assert [(r["period"], r["quarter"], r["value_label"], r["change_label"]) for r in rows] == [
        ("上年同期", "2021Q1", "31.47万", ""),
        ("本期", "2022Q1", "58.87万", "同比上升 87.11%"),
    ]


def test_arrivals_average_over_the_weekdays_of_the_quarter():
    calls = typed("inbound_calls", [_call(1, "综合", "2022-01-03", 5), _call(2, "综合", "2022-01-10", None)])
    grid = t.arrivals(calls, "2022Q1")
    monday_nine = next(r for r in grid if r["weekday"] == "周一" and r["hour"] == 9)
    # 90 days from Saturday 2022-01-01: twelve weeks and Sat..Thu once more, so 12 Fridays.
    assert t.weekdays_in("2022Q1") == [13, 13, 13, 13, 12, 13, 13]
    assert monday_nine["requests"] == 2 and monday_nine["mean_requests_label"] == fmt.decimal(2 / 13)


def test_training_hours_are_summed_exactly_per_month(odd_store):
    monthly = odd_store["tables"]["training"]["monthly"]
    assert [(r["month_label"], r["sessions"], r["hours_label"]) for r in monthly] == [
        ("7月", 1, "3.35"),
        ("9月", 2, "0.30"),
    ]


def test_store_text_is_deterministic(odd_store):
    again = st.compute_store("2023Q3", odd_quarter(), None, service_level_seconds=20.5)
    assert st.to_text(again) == st.to_text(odd_store)


def test_grouped_tables_equal_one_scan_per_line():
    """The store reads both lines' tables from one scan each (`*_by`, grouped by line):
    each line's rows are those of its own filtered rows, and a line without calls gets
    the empty table its own scan would give."""
    inbound = odd_quarter()["inbound_calls"]
    # 信用卡 loses its September calls, so the two lines' tables differ.
    inbound = inbound[(inbound["line"] == "综合") | (inbound["requested_at"].dt.month != 9)]
    lines = ["综合", "信用卡", "不存在的线路"]
    grouped = {
        "daily": t.daily_requests_by(inbound, "line", lines, 17.5),
        "arrivals": t.arrivals_by(inbound, "line", lines, "2023Q3"),
        "waits": t.waits_by(inbound, "line", lines, 17.5),
    }
    for line in lines:
        calls = m.rel(inbound).filter(f"line = {m.lit(line)}")
        alone = {
            "daily": t.daily_requests(calls, 17.5),
            "arrivals": t.arrivals(calls, "2023Q3"),
            "waits": t.waits(calls, 17.5),
        }
        for name, rows in alone.items():
            assert grouped[name][line] == rows, (name, line)
    assert grouped["daily"]["综合"] and grouped["daily"]["综合"] != grouped["daily"]["信用卡"]
    assert grouped["daily"]["不存在的线路"] == []


def test_inbound_figures_in_one_scan_equal_line_figures_per_line():
    inbound = odd_quarter()["inbound_calls"]
    figures = m.inbound_figures(inbound, 17.5)
    for name, line in m.LINES.items():
        assert figures[name] == m.line_figures(m.rel(inbound).filter(f"line = {m.lit(line)}"), 17.5)
        assert figures[name]["requests"] > 0
    empty = m.inbound_figures(inbound[inbound["line"] == "综合"], 17.5)["credit_card"]
    assert empty["requests"] == 0 and empty["answer_rate"] is None and empty["outsourced_share"] is None
