"""Aggregates behind the charts: tiny typed tables, expectations computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers.data.schema import BOOLEAN, DATE, DECIMAL, FILES, INTEGER, MONTH, RATINGS, TIMESTAMP
from helpers.figures import aggregates as ag

IDENTIFYING = {
    "call_id", "chat_id", "session_id", "survey_id", "ticket_id", "change_id", "staff_id",
    "batch_id", "feedback_id",
}


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


@pytest.fixture
def inbound() -> pd.DataFrame:
    # 2022-01-03 is a Monday, 2022-01-09 a Sunday.
    return typed("inbound_calls", [
        {"call_id": "c1", "line": "综合", "requested_at": "2022-01-03 09:00:00",
         "answered_at": "2022-01-03 09:00:20", "ended_at": "2022-01-03 09:05:00",
         "agent_type": "自有"},  # waited exactly 20 s: within the threshold
        {"call_id": "c2", "line": "综合", "requested_at": "2022-01-03 09:30:00",
         "answered_at": "2022-01-03 09:30:21", "ended_at": "2022-01-03 09:35:00",
         "agent_type": "外包"},  # 21 s
        {"call_id": "c3", "line": "综合", "requested_at": "2022-01-03 10:00:00",
         "answered_at": None, "ended_at": None, "agent_type": None},  # abandoned
        {"call_id": "c4", "line": "信用卡", "requested_at": "2022-01-03 11:00:00",
         "answered_at": "2022-01-03 11:00:05", "ended_at": "2022-01-03 11:03:00",
         "agent_type": "自有"},  # 5 s
        {"call_id": "c5", "line": "综合", "requested_at": "2022-01-04 23:59:50",
         "answered_at": "2022-01-05 00:01:00", "ended_at": "2022-01-05 00:02:00",
         "agent_type": "外包"},  # 70 s, the day it was requested counts
        {"call_id": "c6", "line": "信用卡", "requested_at": "2022-01-09 08:15:00",
         "answered_at": "2022-01-09 08:15:10", "ended_at": "2022-01-09 08:20:00",
         "agent_type": "自有"},  # 10 s
    ])


@pytest.fixture
def online() -> pd.DataFrame:
    return typed("online_chats", [
        {"chat_id": "o1", "requested_at": "2022-01-03 09:00:00",
         "answered_at": "2022-01-03 09:00:30", "ended_at": "2022-01-03 09:10:00",
         "agent_type": "自有"},
        {"chat_id": "o2", "requested_at": "2022-01-03 12:00:00", "answered_at": None,
         "ended_at": None, "agent_type": None},
        {"chat_id": "o3", "requested_at": "2022-03-31 23:00:00",
         "answered_at": "2022-03-31 23:00:02", "ended_at": "2022-03-31 23:05:00",
         "agent_type": "外包"},
    ])


@pytest.fixture
def smart() -> pd.DataFrame:
    def row(i, channel, when, transferred):
        return {"session_id": f"s{i}", "channel": channel, "started_at": when, "questions": 2,
                "standard_answers": 1, "recognized": True if channel == "语音导航" else None,
                "transferred": transferred}
    return typed("smart_sessions", [
        row(1, "文本机器人", "2022-01-05 10:00:00", False),
        row(2, "文本机器人", "2022-01-06 10:00:00", False),
        row(3, "文本机器人", "2022-01-07 10:00:00", True),
        row(4, "语音导航", "2022-02-01 10:00:00", True),
    ])


@pytest.fixture
def surveys() -> pd.DataFrame:
    ratings = [("语音", "非常满意")] * 3 + [("语音", "满意"), ("视频", "一般")]
    return typed("surveys", [
        {"survey_id": f"v{i}", "channel": channel, "responded_at": "2022-01-03 10:00:00",
         "rating": rating}
        for i, (channel, rating) in enumerate(ratings)
    ])


@pytest.fixture
def outbound() -> pd.DataFrame:
    calls = [("风险通知", True), ("风险通知", False), ("邀约营销", True), ("邀约营销", True),
             ("回访", False), ("回访", False), ("回访", False)]
    return typed("outbound_calls", [
        {"call_id": f"x{i}", "dialed_at": "2022-02-01 10:00:00", "service": service,
         "connected": connected}
        for i, (service, connected) in enumerate(calls)
    ])


@pytest.fixture
def video() -> pd.DataFrame:
    kinds = ["理财咨询", "理财咨询", "手机发证", "理财咨询", "在线注册", None, None]
    return typed("video_sessions", [
        {"session_id": f"w{i}", "started_at": "2022-01-10 10:00:00", "business_type": kind}
        for i, kind in enumerate(kinds)
    ])


@pytest.fixture
def tickets() -> pd.DataFrame:
    rows = [("投诉", "投诉", "分支行"), ("投诉", "建议", "客服中心"), ("投诉", "疑难", "分支行"),
            ("投诉", "投诉", "总行部室"), ("咨询", "投诉", "总行部室"), ("建议", "建议", "分支行")]
    return typed("tickets", [
        {"ticket_id": f"t{i}", "created_at": "2022-01-10 10:00:00", "request_type": req,
         "ticket_type": issued, "routed_to": to}
        for i, (req, issued, to) in enumerate(rows)
    ])


@pytest.fixture
def kb() -> pd.DataFrame:
    rows = [("梳理优化", "A", 0), ("梳理优化", "A", 2), ("梳理优化", "B", 1), ("新增", "C", 5)]
    return typed("kb_changes", [
        {"change_id": f"k{i}", "changed_on": "2022-01-10", "section": section, "action": action,
         "knowledge_points": points}
        for i, (action, section, points) in enumerate(rows)
    ])


@pytest.fixture
def training() -> pd.DataFrame:
    rows = [("s1", "2022-01-05", "a", 2.0), ("s1", "2022-01-05", "b", 1.5),
            ("s2", "2022-01-20", "a", 1.0), ("s3", "2022-03-02", "c", 0.5)]
    return typed("training", [
        {"session_id": sid, "held_on": day, "topic": "工单", "staff_id": staff, "hours": hours}
        for sid, day, staff, hours in rows
    ])


# ---------------------------------------------------------------- inbound


def test_daily_inbound_counts_rates_and_order(inbound):
    result = ag.daily_inbound(inbound, threshold_s=20)
    assert list(result.columns) == [
        "date", "line", "requests", "answered", "answer_rate", "service_level"
    ]
    assert [(d.strftime("%m-%d"), line) for d, line in zip(result["date"], result["line"],
                                                             strict=True)] == [
        ("01-03", "综合"), ("01-03", "信用卡"), ("01-04", "综合"), ("01-09", "信用卡")
    ]
    assert result["requests"].tolist() == [3, 1, 1, 1]
    assert result["answered"].tolist() == [2, 1, 1, 1]
    assert result["answer_rate"].tolist() == pytest.approx([2 / 3, 1.0, 1.0, 1.0])
    # 20 s exactly counts; the abandoned c3 stays in the denominator.
    assert result["service_level"].tolist() == pytest.approx([1 / 3, 1.0, 0.0, 1.0])
    assert str(result["requests"].dtype) == "int64"


def test_daily_inbound_threshold_is_a_parameter(inbound):
    result = ag.daily_inbound(inbound, threshold_s=25)
    assert result["service_level"].iloc[0] == pytest.approx(2 / 3)


def test_daily_inbound_of_an_empty_table_is_empty_with_columns(inbound):
    result = ag.daily_inbound(inbound.iloc[0:0])
    assert result.empty
    assert "service_level" in result.columns


def test_arrival_heatmap_is_a_full_grid_of_mean_per_day(inbound):
    result = ag.arrival_heatmap(inbound)
    assert len(result) == 7 * 24
    assert list(result["weekday"].cat.categories) == ["周一", "周二", "周三", "周四", "周五",
                                                      "周六", "周日"]
    assert result["weekday"].cat.ordered
    assert result["weekday"].iloc[0] == "周一" and result["hour"].iloc[0] == 0
    assert result["weekday"].iloc[-1] == "周日" and result["hour"].iloc[-1] == 23
    assert result["requests"].sum() == 6

    def cell(day, hour):
        return result.loc[(result["weekday"] == day) & (result["hour"] == hour)].iloc[0]

    # 2022Q1 starts on a Saturday: 90 days hold 13 of Sat..Thu and 12 Fridays.
    assert cell("周一", 9)["requests"] == 2
    assert cell("周一", 9)["days"] == 13
    assert cell("周一", 9)["mean_requests"] == pytest.approx(2 / 13)
    assert cell("周二", 23)["requests"] == 1
    assert cell("周日", 8)["requests"] == 1
    assert cell("周五", 8)["days"] == 12
    assert cell("周五", 8)["mean_requests"] == 0


def test_wait_bin_edges_always_contain_the_threshold():
    assert ag.wait_bin_edges(20) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
    assert ag.wait_bin_edges(12) == [0, 5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
    assert ag.wait_bin_edges(90)[-1] == 90


def test_wait_distribution_bins_shares_and_threshold_flag(inbound):
    result = ag.wait_distribution(inbound, threshold_s=20)
    labels = ["0-5", "5-10", "10-15", "15-20", "20-25", "25-30", "30-35", "35-40", "40-45",
              "45-50", "50-55", "55-60", "60+"]
    assert result["line"].tolist() == ["综合"] * 13 + ["信用卡"] * 13
    assert result["bin"].astype(str).tolist() == labels * 2
    general = result.loc[result["line"] == "综合"].set_index(result["bin"].astype(str)[:13])
    # 20 s is in 15-20 (right-closed bins, like `wait <= T`), 21 s in 20-25, 70 s in 60+.
    assert general.loc[["15-20", "20-25", "60+"], "calls"].tolist() == [1, 1, 1]
    assert general["calls"].sum() == 3  # the abandoned call is not a wait
    assert general.loc["15-20", "share"] == pytest.approx(1 / 3)
    assert general["within_threshold"].tolist() == [True] * 4 + [False] * 9
    assert general.loc["60+", "bin_start"] == 60 and math.isnan(general.loc["60+", "bin_end"])
    card = result.loc[result["line"] == "信用卡"]
    assert card["calls"].tolist()[:2] == [1, 1]  # 5 s in 0-5, 10 s in 5-10
    # Within-threshold shares equal the service-level numerator over answered calls.
    within = general.loc[general["within_threshold"], "share"].sum()
    assert within == pytest.approx(1 / 3)


def test_wait_distribution_threshold_off_the_grid_becomes_an_edge(inbound):
    result = ag.wait_distribution(inbound, threshold_s=12)
    labels = result["bin"].astype(str).tolist()
    assert "10-12" in labels and "12-15" in labels
    general = result.loc[result["line"] == "综合"]
    flags = general.set_index(general["bin"].astype(str)).loc[["10-12", "12-15"], "within_threshold"]
    assert flags.tolist() == [True, False]


# ---------------------------------------------------------------- online, surveys, outbound


def test_daily_online(online):
    result = ag.daily_online(online)
    assert [d.strftime("%m-%d") for d in result["date"]] == ["01-03", "03-31"]
    assert result["requests"].tolist() == [2, 1]
    assert result["answered"].tolist() == [1, 1]
    assert result["answer_rate"].tolist() == pytest.approx([0.5, 1.0])
    assert result["service_level"].tolist() == pytest.approx([0.0, 1.0])  # 30 s > 20 s


def test_satisfaction_by_rating_keeps_schema_order_and_zeros(surveys):
    result = ag.satisfaction_by_rating(surveys)
    assert list(result.columns) == ["channel", "rating", "count", "share"]
    assert result["channel"].tolist() == ["语音"] * 5 + ["视频"] * 5  # 在线 has no responses
    voice = result.loc[result["channel"] == "语音"]
    assert voice["rating"].astype(str).tolist() == list(RATINGS)
    assert voice["count"].tolist() == [3, 1, 0, 0, 0]
    assert voice["share"].tolist() == pytest.approx([0.75, 0.25, 0, 0, 0])
    video = result.loc[result["channel"] == "视频"]
    assert video["share"].tolist() == pytest.approx([0, 0, 1.0, 0, 0])


def test_outbound_by_service_sorted_by_calls_then_code_point(outbound):
    result = ag.outbound_by_service(outbound)
    # 邀 (U+9080) sorts before 风 (U+98CE) when the call counts tie.
    assert result["service"].tolist() == ["回访", "邀约营销", "风险通知"]
    assert result["calls"].tolist() == [3, 2, 2]
    assert result["connected"].tolist() == [0, 2, 1]
    assert result["connect_rate"].tolist() == pytest.approx([0.0, 1.0, 0.5])


# ---------------------------------------------------------------- smart service, video


def test_smart_composition(smart):
    result = ag.smart_composition(smart)
    assert list(zip(result["channel"], result["outcome"], result["sessions"], strict=True)) == [
        ("文本机器人", "自助解决", 2), ("文本机器人", "转人工", 1),
        ("语音导航", "自助解决", 0), ("语音导航", "转人工", 1),
    ]
    assert result["share"].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0, 1.0])


def test_monthly_diversion_follows_the_metric_per_month(smart, inbound, online):
    result = ag.monthly_diversion(smart, inbound, online)
    assert [m.strftime("%Y-%m-%d") for m in result["month"]] == [
        "2022-01-01", "2022-02-01", "2022-03-01"
    ]
    assert result["sessions"].tolist() == [3, 1, 0]
    assert result["resolved"].tolist() == [2, 0, 0]
    assert result["inbound_requests"].tolist() == [6, 0, 0]
    assert result["online_requests"].tolist() == [2, 0, 1]
    # January: 2 / (2 + 6 + 2); February's only session was transferred.
    assert result["diversion_rate"].tolist() == pytest.approx([0.2, float("nan"), 0.0],
                                                              nan_ok=True)


def test_video_business_ignores_empty_types_and_breaks_ties_by_code_point(video):
    result = ag.video_business(video)
    # 在 (U+5728) sorts before 手 (U+624B).
    assert result["type"].tolist() == ["理财咨询", "在线注册", "手机发证"]
    assert result["count"].tolist() == [3, 1, 1]
    assert result["share"].tolist() == pytest.approx([0.6, 0.2, 0.2])


# ---------------------------------------------------------------- tickets, kb, training


def test_complaint_flow(tickets):
    result = ag.complaint_flow(tickets)
    assert result["stage"].astype(str).tolist() == [
        "受理投诉", "安抚后转为其他工单", "投诉工单", "转分支行", "转总行部室"
    ]
    assert result["step"].tolist() == [1, 2, 3, 4, 5]
    assert result["tickets"].tolist() == [4, 2, 3, 1, 2]
    assert result["key"].tolist()[2] == "complaint_tickets"


def test_kb_by_action(kb):
    result = ag.kb_by_action(kb)
    assert result["action"].tolist() == ["梳理优化", "新增", "优化"]
    assert result["items"].tolist() == [3, 1, 0]
    assert result["sections"].tolist() == [2, 1, 0]
    assert result["knowledge_points"].tolist() == [3, 5, 0]


def test_training_by_month(training):
    result = ag.training_by_month(training)
    assert [m.strftime("%Y-%m-%d") for m in result["month"]] == ["2022-01-01", "2022-03-01"]
    assert result["sessions"].tolist() == [2, 1]
    assert result["attendances"].tolist() == [3, 1]
    assert result["hours"].tolist() == pytest.approx([4.5, 0.5])


# ---------------------------------------------------------------- metrics dicts


CURRENT = {"quarter": "2022Q1", "prior_quarter": "2021Q1",
           "outbound": {"calls": 588700}, "tickets": {"total": 34309}}
PRIOR = {"quarter": "2021Q1", "outbound": {"calls": 314600}, "tickets": {"total": None}}
KEYS = {"outbound.calls": "外呼量", "tickets.total": "工单量"}


def test_yoy_pairs_long_form():
    result = ag.yoy_pairs(CURRENT, PRIOR, KEYS)
    assert list(zip(result["figure"], result["quarter"], result["value"], strict=True)) == [
        ("外呼量", "2021Q1", 314600.0), ("外呼量", "2022Q1", 588700.0), ("工单量", "2022Q1", 34309.0)
    ]
    assert result["period"].tolist() == ["上年同期", "本期", "本期"]


def test_yoy_pairs_without_prior_has_no_prior_rows():
    result = ag.yoy_pairs(CURRENT, None, KEYS)
    assert result["quarter"].tolist() == ["2022Q1", "2022Q1"]
    assert ag.yoy_pairs({"outbound.calls": 5}, None, ["outbound.calls"])["value"].tolist() == [5]


def test_awards_table():
    awards = [
        {"category": "综合优秀班组", "months": [2, 3], "winner": "综合3组", "leader": "赵玲"},
        {"category": "综合绩效之星", "months": [1, 2, 3], "winner": "李怡珊", "leader": None},
        {"category": "呼出绩效之星", "months": [7], "winner": "陶春影"},
    ]
    result = ag.awards_table(awards)
    assert list(result.columns) == ["类别", "月份", "获奖者", "组长"]
    assert result["月份"].tolist() == ["2月&3月", "1月&2月&3月", "7月"]
    assert result["组长"].tolist() == ["赵玲", "", ""]
    assert ag.awards_table([]).columns.tolist() == ["类别", "月份", "获奖者", "组长"]


# ---------------------------------------------------------------- privacy


def test_no_aggregate_leaks_ids_or_staff(inbound, online, smart, surveys, outbound, video,
                                         tickets, kb, training):
    results = [
        ag.daily_inbound(inbound), ag.arrival_heatmap(inbound), ag.wait_distribution(inbound),
        ag.daily_online(online), ag.satisfaction_by_rating(surveys),
        ag.outbound_by_service(outbound), ag.smart_composition(smart),
        ag.monthly_diversion(smart, inbound, online), ag.video_business(video),
        ag.complaint_flow(tickets), ag.kb_by_action(kb), ag.training_by_month(training),
    ]
    id_values = {
        *inbound["call_id"], *online["chat_id"], *smart["session_id"], *surveys["survey_id"],
        *outbound["call_id"], *video["session_id"], *tickets["ticket_id"], *kb["change_id"],
        *training["staff_id"], *training["session_id"],
    }
    assert IDENTIFYING <= ag.ROW_LEVEL_COLUMNS
    for result in results:
        assert not IDENTIFYING & set(result.columns), result.columns
        cells = {str(v) for column in result.columns for v in result[column].tolist()}
        assert not id_values & cells
