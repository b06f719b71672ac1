"""Figures of docs/contract/METRICS.md from small hand-built typed tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.data.schema import BOOLEAN, DATE, DECIMAL, FILES, INTEGER, MONTH, TEXT, TIMESTAMP
from helpers.figures import metrics as m
from helpers.fmt import PRINT_KINDS

# Every key of docs/contract/METRICS.md, typed from the contract's table.
CONTRACT_KEYS = [
    "quarter",
    "prior_quarter",
    *(
        f"inbound.{line}.{k}"
        for line in ("general", "credit_card")
        for k in (
            "requests",
            "answered",
            "answer_rate",
            "service_level",
            "outsourced_answered",
            "outsourced_share",
            "requests_yoy",
        )
    ),
    "online.requests",
    "online.answered",
    "online.answer_rate",
    "online.service_level",
    "online.requests_yoy",
    "online.satisfaction",
    "satisfaction.responses",
    "satisfaction.very_satisfied_rate",
    "satisfaction.satisfied_rate",
    "outbound.services",
    "outbound.calls",
    "outbound.calls_yoy",
    "outbound.connect_rate",
    "smart.sessions",
    "smart.sessions_yoy",
    "smart.resolved",
    "smart.diversion_rate",
    "smart.diversion_rate_change_pp",
    "robot.sessions",
    "robot.sessions_yoy",
    "robot.standard_answer_rate",
    "robot.text_diversion_rate",
    "voice_nav.sessions",
    "voice_nav.recognition_rate",
    "video.sessions",
    "video.satisfaction",
    "video.business",
    "sms.services",
    "sms.recipients",
    "feedback.items",
    "feedback.optimized",
    "feedback.planned",
    "feedback.pending",
    "tickets.total",
    "tickets.total_yoy",
    "tickets.complaints_received",
    "tickets.complaints_converted",
    "tickets.complaint_tickets",
    "tickets.complaint_tickets_change",
    "tickets.complaint_tickets_yoy",
    "tickets.branch_complaint_tickets",
    "tickets.branch_complaint_tickets_change",
    "tickets.branch_complaint_tickets_yoy",
    "tickets.hq_complaint_tickets",
    "tickets.hq_complaint_tickets_change",
    "tickets.hq_complaint_tickets_yoy",
    "knowledge_base.items",
    "knowledge_base.sections_reviewed",
    "knowledge_base.knowledge_points",
    "training.sessions",
    "training.sessions_yoy",
    "training.attendances",
    "training.hours",
    "training.hours_per_capita",
    "awards",
]
COMPARISON_KEYS = [k for k in CONTRACT_KEYS if k.endswith(("_yoy", "_change", "_change_pp"))]


def frame(name: str, rows: list[dict]) -> pd.DataFrame:
    """Rows of one extract -> a DataFrame typed as the validator types it (helpers.data.schema)."""
    spec = FILES[name]
    columns = {}
    for col in spec.columns:
        values = [row.get(col.name) for row in rows]
        if col.kind == TEXT:
            columns[col.name] = pd.Series(values, dtype="string")
        elif col.kind in (TIMESTAMP, DATE, MONTH):
            columns[col.name] = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
        elif col.kind == BOOLEAN:
            columns[col.name] = pd.Series(values, dtype="boolean" if col.optional else bool)
        elif col.kind == INTEGER:
            columns[col.name] = pd.Series(values, dtype="int64")
        elif col.kind == DECIMAL:
            columns[col.name] = pd.Series(values, dtype="float64")
    return pd.DataFrame(columns)


def call(i, line="综合", wait=None, agent="自有", day="2022-01-10"):
    """An inbound call / chat row: wait in seconds, None = abandoned."""
    start = pd.Timestamp(f"{day} 09:00:00")
    answered = None if wait is None else start + pd.Timedelta(seconds=wait)
    return {
        "call_id": f"c{i}",
        "chat_id": f"c{i}",
        "line": line,
        "requested_at": start,
        "answered_at": answered,
        "ended_at": None if answered is None else answered + pd.Timedelta(minutes=3),
        "agent_type": None if answered is None else agent,
    }


def quarter_tables(day: str = "2022-01-10", month: str = "2022-01-01") -> dict[str, pd.DataFrame]:
    """A whole (tiny) quarter with numbers easy to check by hand."""
    return {
        "inbound_calls": frame(
            "inbound_calls",
            [
                call(1, wait=5, agent="外包", day=day),
                call(2, wait=30, day=day),
                call(3, day=day),
                call(4, line="信用卡", wait=10, agent="外包", day=day),
            ],
        ),
        "online_chats": frame("online_chats", [call(5, wait=3, day=day), call(6, day=day)]),
        "outbound_calls": frame(
            "outbound_calls",
            [
                {"call_id": "o1", "dialed_at": day, "service": "风险提示", "connected": True},
                {"call_id": "o2", "dialed_at": day, "service": "风险提示", "connected": False},
                {"call_id": "o3", "dialed_at": day, "service": "邀约营销", "connected": True},
                {"call_id": "o4", "dialed_at": day, "service": "邀约营销", "connected": True},
            ],
        ),
        "smart_sessions": frame(
            "smart_sessions",
            [
                {
                    "session_id": "s1",
                    "channel": "文本机器人",
                    "started_at": day,
                    "questions": 4,
                    "standard_answers": 3,
                    "recognized": None,
                    "transferred": False,
                },
                {
                    "session_id": "s2",
                    "channel": "文本机器人",
                    "started_at": day,
                    "questions": 6,
                    "standard_answers": 6,
                    "recognized": None,
                    "transferred": True,
                },
                {
                    "session_id": "s3",
                    "channel": "语音导航",
                    "started_at": day,
                    "questions": 1,
                    "standard_answers": 0,
                    "recognized": True,
                    "transferred": False,
                },
                {
                    "session_id": "s4",
                    "channel": "语音导航",
                    "started_at": day,
                    "questions": 1,
                    "standard_answers": 1,
                    "recognized": False,
                    "transferred": False,
                },
            ],
        ),
        "video_sessions": frame(
            "video_sessions",
            [
                {"session_id": "v1", "started_at": day, "business_type": "理财咨询"},
                {"session_id": "v2", "started_at": day, "business_type": "理财咨询"},
                {"session_id": "v3", "started_at": day, "business_type": "手机发证"},
                {"session_id": "v4", "started_at": day, "business_type": None},
            ],
        ),
        "surveys": frame(
            "surveys",
            [
                {"survey_id": "u1", "channel": "语音", "responded_at": day, "rating": "非常满意"},
                {"survey_id": "u2", "channel": "语音", "responded_at": day, "rating": "满意"},
                {"survey_id": "u3", "channel": "语音", "responded_at": day, "rating": "一般"},
                {"survey_id": "u4", "channel": "语音", "responded_at": day, "rating": "非常满意"},
                {"survey_id": "u5", "channel": "在线", "responded_at": day, "rating": "不满意"},
                {"survey_id": "u6", "channel": "在线", "responded_at": day, "rating": "满意"},
                {"survey_id": "u7", "channel": "视频", "responded_at": day, "rating": "非常满意"},
            ],
        ),
        "sms_batches": frame(
            "sms_batches",
            [
                {"batch_id": "b1", "sent_on": day, "service": "到期提醒", "recipients": 1200},
                {"batch_id": "b2", "sent_on": day, "service": "到期提醒", "recipients": 300},
                {"batch_id": "b3", "sent_on": day, "service": "账单通知", "recipients": 45},
            ],
        ),
        "feedback": frame(
            "feedback",
            [
                {
                    "feedback_id": "f1",
                    "reported_on": day,
                    "department": "零售部",
                    "summary": "x",
                    "status": "已优化",
                },
                {
                    "feedback_id": "f2",
                    "reported_on": day,
                    "department": "零售部",
                    "summary": "y",
                    "status": "列入计划",
                },
                {
                    "feedback_id": "f3",
                    "reported_on": day,
                    "department": "信用卡部",
                    "summary": "z",
                    "status": "列入计划",
                },
            ],
        ),
        "tickets": frame(
            "tickets",
            [
                {
                    "ticket_id": "t1",
                    "created_at": day,
                    "request_type": "投诉",
                    "ticket_type": "投诉",
                    "routed_to": "分支行",
                },
                {
                    "ticket_id": "t2",
                    "created_at": day,
                    "request_type": "投诉",
                    "ticket_type": "建议",
                    "routed_to": "客服中心",
                },
                {
                    "ticket_id": "t3",
                    "created_at": day,
                    "request_type": "投诉",
                    "ticket_type": "疑难",
                    "routed_to": "分支行",
                },
                # did not start as a complaint, but a complaint ticket was issued
                {
                    "ticket_id": "t4",
                    "created_at": day,
                    "request_type": "建议",
                    "ticket_type": "投诉",
                    "routed_to": "总行部室",
                },
                {
                    "ticket_id": "t5",
                    "created_at": day,
                    "request_type": "咨询",
                    "ticket_type": "咨询",
                    "routed_to": "客服中心",
                },
                {
                    "ticket_id": "t6",
                    "created_at": day,
                    "request_type": "投诉",
                    "ticket_type": "投诉",
                    "routed_to": "客服中心",
                },
            ],
        ),
        "kb_changes": frame(
            "kb_changes",
            [
                {
                    "change_id": "k1",
                    "changed_on": day,
                    "section": "借记卡",
                    "action": "梳理优化",
                    "knowledge_points": 7,
                },
                {
                    "change_id": "k2",
                    "changed_on": day,
                    "section": "借记卡",
                    "action": "梳理优化",
                    "knowledge_points": 2,
                },
                {
                    "change_id": "k3",
                    "changed_on": day,
                    "section": "理财",
                    "action": "梳理优化",
                    "knowledge_points": 1,
                },
                {
                    "change_id": "k4",
                    "changed_on": day,
                    "section": "理财",
                    "action": "新增",
                    "knowledge_points": 10,
                },
                {
                    "change_id": "k5",
                    "changed_on": day,
                    "section": "贷款",
                    "action": "优化",
                    "knowledge_points": 5,
                },
            ],
        ),
        "training": frame(
            "training",
            [
                {"session_id": "p1", "held_on": day, "topic": "a", "staff_id": "e1", "hours": 1.5},
                {"session_id": "p1", "held_on": day, "topic": "a", "staff_id": "e2", "hours": 1.5},
                {"session_id": "p2", "held_on": day, "topic": "b", "staff_id": "e1", "hours": 2.25},
            ],
        ),
        "awards": frame(
            "awards",
            [
                {"month": month, "category": "综合优秀班组", "winner": "综合1组", "leader": "黄琦"},
            ],
        ),
    }


# --- inbound / service level ----------------------------------------------


def test_service_level_threshold_is_inclusive_and_fractional():
    calls = frame(
        "inbound_calls",
        [
            call(1, wait=20),
            call(2, wait=20.5),
            call(3, wait=19.5),
            call(4, wait=0),
            call(5),  # abandoned: in the denominator, never in the numerator
        ],
    )
    figures = m.answer_figures(calls, 20)
    assert figures["requests"] == 5
    assert figures["answered"] == 4
    assert figures["answer_rate"] == 4 / 5
    # 20 s, 19.5 s, 0 s are within the target; 20.5 s is not; the abandoned call counts against
    assert figures["service_level"] == 3 / 5


def test_service_level_follows_the_threshold():
    calls = frame("inbound_calls", [call(1, wait=20), call(2, wait=20.5), call(3, wait=30.001)])
    assert m.answer_figures(calls, 30)["service_level"] == 2 / 3
    assert m.answer_figures(calls, 10)["service_level"] == 0


def test_outsourced_share_is_of_answered_calls():
    calls = frame(
        "inbound_calls",
        [
            call(1, wait=5, agent="外包"),
            call(2, wait=5, agent="自有"),
            call(3, wait=5, agent="外包"),
            call(4),
        ],
    )
    figures = m.line_figures(calls)
    assert figures["outsourced_answered"] == 2
    assert figures["outsourced_share"] == 2 / 3


def test_inbound_lines_are_split():
    calls = frame(
        "inbound_calls",
        [
            call(1, wait=5),
            call(2, line="信用卡"),
            call(3, line="信用卡", wait=40, agent="外包"),
        ],
    )
    figures = m.inbound_figures(calls)
    assert figures["general"]["requests"] == 1
    assert figures["general"]["service_level"] == 1.0
    assert figures["credit_card"] == {
        "requests": 2,
        "answered": 1,
        "answer_rate": 0.5,
        "service_level": 0.0,
        "outsourced_answered": 1,
        "outsourced_share": 1.0,
    }


def test_zero_denominators_give_none():
    empty_calls = frame("inbound_calls", [])
    figures = m.line_figures(empty_calls)
    assert figures["requests"] == 0
    assert figures["answer_rate"] is None
    assert figures["service_level"] is None
    assert figures["outsourced_share"] is None
    assert m.outsourcing_figures(frame("inbound_calls", [call(1)]))["outsourced_share"] is None
    assert m.survey_figures(frame("surveys", []), "视频")["satisfied_rate"] is None
    robot_without_questions = frame(
        "smart_sessions",
        [
            {
                "session_id": "s",
                "channel": "文本机器人",
                "started_at": "2022-01-01",
                "questions": 0,
                "standard_answers": 0,
                "recognized": None,
                "transferred": False,
            },
        ],
    )
    assert m.robot_figures(robot_without_questions)["standard_answer_rate"] is None
    assert m.voice_nav_figures(robot_without_questions)["recognition_rate"] is None
    assert m.training_figures(frame("training", []))["hours_per_capita"] is None


# --- a whole quarter ------------------------------------------------------


def test_every_contract_key_is_present_and_printable():
    flat = m.flatten(m.compute_metrics("2022Q1", quarter_tables(), None))
    assert sorted(flat) == sorted(CONTRACT_KEYS)
    assert set(CONTRACT_KEYS) == set(PRINT_KINDS)


def test_quarter_figures_by_hand():
    metrics = m.compute_metrics("2022Q1", quarter_tables(), None)
    g = m.get
    assert g(metrics, "quarter") == "2022Q1"
    assert g(metrics, "inbound.general.requests") == 3
    assert g(metrics, "inbound.general.answered") == 2
    assert g(metrics, "inbound.general.service_level") == 1 / 3  # 5 s yes, 30 s no, abandoned
    assert g(metrics, "inbound.general.outsourced_share") == 1 / 2
    assert g(metrics, "online.requests") == 2
    assert g(metrics, "online.answer_rate") == 0.5
    assert g(metrics, "online.satisfaction") == 0.5
    assert g(metrics, "satisfaction.responses") == 4
    assert g(metrics, "satisfaction.very_satisfied_rate") == 0.5
    assert g(metrics, "satisfaction.satisfied_rate") == 0.75
    assert g(metrics, "outbound.services") == 2
    assert g(metrics, "outbound.calls") == 4
    assert g(metrics, "outbound.connect_rate") == 0.75
    assert g(metrics, "smart.sessions") == 4
    assert g(metrics, "smart.resolved") == 3
    # 3 resolved / (3 resolved + 4 inbound + 2 online)
    assert g(metrics, "smart.diversion_rate") == 3 / 9
    assert g(metrics, "robot.sessions") == 2
    assert g(metrics, "robot.standard_answer_rate") == 9 / 10
    assert g(metrics, "robot.text_diversion_rate") == 0.5
    assert g(metrics, "voice_nav.sessions") == 2
    assert g(metrics, "voice_nav.recognition_rate") == 0.5
    assert g(metrics, "video.sessions") == 4
    assert g(metrics, "video.satisfaction") == 1.0
    assert g(metrics, "video.business") == [
        {"type": "理财咨询", "count": 2, "share": 2 / 3},
        {"type": "手机发证", "count": 1, "share": 1 / 3},
    ]
    assert g(metrics, "sms.services") == 2
    assert g(metrics, "sms.recipients") == 1545
    assert (g(metrics, "feedback.items"), g(metrics, "feedback.optimized")) == (3, 1)
    assert (g(metrics, "feedback.planned"), g(metrics, "feedback.pending")) == (2, 0)
    assert g(metrics, "knowledge_base.items") == 5
    assert g(metrics, "knowledge_base.sections_reviewed") == 2
    assert g(metrics, "knowledge_base.knowledge_points") == 15
    assert g(metrics, "training.sessions") == 2
    assert g(metrics, "training.attendances") == 3
    assert g(metrics, "training.hours") == 5.25
    assert g(metrics, "training.hours_per_capita") == 5.25 / 2
    assert g(metrics, "awards") == [
        {"category": "综合优秀班组", "months": [1], "winner": "综合1组", "leader": "黄琦"}
    ]


def test_only_the_columns_the_figures_need():
    # the figures stage loads a subset of columns: online chats need no agent_type
    tables = quarter_tables()
    tables["online_chats"] = tables["online_chats"].loc[:, ["requested_at", "answered_at"]]
    assert m.compute_metrics("2022Q1", tables, None)["online"]["requests"] == 2


def test_count_types_are_python_ints():
    flat = m.flatten(m.compute_metrics("2022Q1", quarter_tables(), None))
    assert type(flat["inbound.general.requests"]) is int
    assert type(flat["sms.recipients"]) is int
    assert type(flat["knowledge_base.knowledge_points"]) is int
    assert type(flat["video.business"][0]["count"]) is int


def test_tickets():
    figures = m.ticket_figures(quarter_tables()["tickets"])
    assert figures == {
        "total": 6,
        "complaints_received": 4,  # t1, t2, t3, t6; not t4 (asked as 建议)
        "complaints_converted": 2,  # t2, t3
        "complaint_tickets": 3,  # t1, t4, t6
        "branch_complaint_tickets": 1,  # t1
        "hq_complaint_tickets": 1,  # t4
    }


# --- year-on-year ---------------------------------------------------------


def test_missing_prior_year_makes_every_comparison_none():
    metrics = m.compute_metrics("2022Q1", quarter_tables(), None)
    assert metrics["prior_quarter"] is None
    flat = m.flatten(metrics)
    assert {k: flat[k] for k in COMPARISON_KEYS} == dict.fromkeys(COMPARISON_KEYS)


def test_comparisons_with_the_prior_year():
    prior = quarter_tables(day="2021-01-10", month="2021-01-01")
    prior["outbound_calls"] = prior["outbound_calls"].iloc[:2]  # 2 calls, now 4
    # only the branch complaint ticket t1 and a 分支行 copy of it: 2 complaint tickets, 0 to hq
    prior["tickets"] = frame(
        "tickets",
        [
            {
                "ticket_id": f"t{i}",
                "created_at": "2021-01-10",
                "request_type": "投诉",
                "ticket_type": "投诉",
                "routed_to": "分支行",
            }
            for i in (1, 2)
        ],
    )
    prior["inbound_calls"] = prior["inbound_calls"].iloc[:2]  # 2 general, 0 credit card
    metrics = m.compute_metrics("2022Q1", quarter_tables(), prior)
    flat = m.flatten(metrics)
    assert flat["prior_quarter"] == "2021Q1"
    assert flat["outbound.calls_yoy"] == 1.0
    assert flat["inbound.general.requests_yoy"] == 0.5  # 3 vs 2
    assert flat["inbound.credit_card.requests_yoy"] is None  # prior count 0
    assert flat["tickets.total_yoy"] == 2.0  # 6 vs 2
    assert flat["tickets.complaint_tickets_change"] == 1  # 3 vs 2
    assert flat["tickets.complaint_tickets_yoy"] == 0.5
    assert flat["tickets.branch_complaint_tickets_change"] == -1  # 1 vs 2
    assert flat["tickets.branch_complaint_tickets_yoy"] == -0.5
    assert flat["tickets.hq_complaint_tickets_change"] == 1  # 1 vs 0
    assert flat["tickets.hq_complaint_tickets_yoy"] is None  # prior count 0
    assert flat["smart.sessions_yoy"] == 0.0
    # prior: 3 resolved / (3 + 2 inbound + 2 online) = 3/7; now 3/9
    assert flat["smart.diversion_rate_change_pp"] == pytest.approx(3 / 9 - 3 / 7)
    assert flat["training.sessions_yoy"] == 0.0


def test_bad_quarter_is_refused():
    with pytest.raises(ValueError):
        m.compute_metrics("2022-1", quarter_tables(), None)


# --- video business mix ---------------------------------------------------


def test_business_ties_in_code_point_order():
    video = frame(
        "video_sessions",
        [
            {"session_id": str(i), "started_at": "2022-01-01", "business_type": t}
            for i, t in enumerate(
                [
                    "理财咨询",
                    "手机发证",
                    "a",
                    "Z",
                    "理财咨询",
                    "手机发证",
                    "a",
                    "Z",
                    "在线注册",
                    None,
                    "理财咨询",
                ]
            )
        ],
    )
    business = m.video_figures(video, frame("surveys", []))["business"]
    # 理财咨询 3; then ties of 2 by code point: "Z" (U+5A) < "a" (U+61) < 手 (U+624B) < 理 (U+7406)
    assert [(b["type"], b["count"]) for b in business] == [
        ("理财咨询", 3),
        ("Z", 2),
        ("a", 2),
        ("手机发证", 2),
        ("在线注册", 1),
    ]
    assert [b["share"] for b in business] == [3 / 10, 2 / 10, 2 / 10, 2 / 10, 1 / 10]


# --- awards ---------------------------------------------------------------


def award(month, category, winner, leader=None):
    return {"month": month, "category": category, "winner": winner, "leader": leader}


def test_awards_merge_consecutive_months_only():
    awards = frame(
        "awards",
        [
            award("2022-03-01", "综合优秀班组", "综合3组", "赵玲"),
            award("2022-01-01", "综合优秀班组", "综合1组", "黄琦"),
            award("2022-02-01", "综合优秀班组", "综合3组", "赵玲"),
            award("2022-01-01", "呼出绩效之星", "袁家欢"),
            award("2022-03-01", "呼出绩效之星", "袁家欢"),
            award("2022-02-01", "呼出绩效之星", "包淑敏"),
            award("2022-01-01", "综合绩效之星", "李怡珊"),
            award("2022-02-01", "综合绩效之星", "李怡珊"),
            award("2022-03-01", "综合绩效之星", "李怡珊"),
        ],
    )
    assert m.awards_figures(awards) == [
        {"category": "综合优秀班组", "months": [1], "winner": "综合1组", "leader": "黄琦"},
        {"category": "综合优秀班组", "months": [2, 3], "winner": "综合3组", "leader": "赵玲"},
        {"category": "呼出绩效之星", "months": [1], "winner": "袁家欢", "leader": None},
        {"category": "呼出绩效之星", "months": [2], "winner": "包淑敏", "leader": None},
        {"category": "呼出绩效之星", "months": [3], "winner": "袁家欢", "leader": None},
        {"category": "综合绩效之星", "months": [1, 2, 3], "winner": "李怡珊", "leader": None},
    ]


def test_merged_run_takes_the_first_months_leader():
    awards = frame(
        "awards",
        [
            award("2022-01-01", "班组", "一组", None),
            award("2022-02-01", "班组", "一组", "王"),
        ],
    )
    assert m.awards_figures(awards) == [
        {"category": "班组", "months": [1, 2], "winner": "一组", "leader": None}
    ]


def test_awards_in_a_third_quarter_use_calendar_months():
    awards = frame("awards", [award("2022-07-01", "星", "甲"), award("2022-09-01", "星", "甲")])
    assert [a["months"] for a in m.awards_figures(awards)] == [[7], [9]]


# --- metrics.json ---------------------------------------------------------


def test_json_holds_the_tree_and_the_dotted_keys():
    metrics = m.compute_metrics("2022Q1", quarter_tables(), None)
    text = m.to_json(metrics)
    document = json.loads(text)
    assert document["inbound"]["general"]["requests"] == 3
    assert document["inbound.general.requests"] == 3
    assert document["outbound.calls_yoy"] is None
    assert document["awards"][0]["months"] == [1]
    assert "理财咨询" in text  # ensure_ascii=False
    assert m.to_json(m.from_json(text)) == text  # deterministic, round-trips
    assert m.flatten(document) == m.flatten(metrics)
    assert m.get(document, "smart.diversion_rate") == 3 / 9


def test_get_unknown_key():
    with pytest.raises(KeyError):
        m.get({"inbound": {"general": {}}}, "inbound.general.requests")


def test_one_section_from_its_own_extract():
    metrics = m.compute_metrics("2022Q1", {"tickets": quarter_tables()["tickets"]}, None)
    assert metrics["tickets"]["complaint_tickets"] == 3
    assert metrics["tickets"]["complaint_tickets_yoy"] is None
    assert "inbound" not in metrics


def test_empty_tables_give_zero_counts_and_none_rates():
    empty = {name: frame(name, []) for name in FILES}
    flat = m.flatten(m.compute_metrics("2022Q1", quarter_tables(), empty))
    assert flat["prior_quarter"] == "2021Q1"
    assert flat["tickets.complaint_tickets_change"] == 3  # 3 now, 0 a year ago
    assert flat["tickets.complaint_tickets_yoy"] is None  # growth from nothing
    assert flat["smart.diversion_rate_change_pp"] is None  # prior rate had no denominator
    now = m.flatten(m.compute_metrics("2022Q1", empty, None))
    assert now["awards"] == [] and now["video.business"] == []
    assert now["inbound.general.service_level"] is None
    assert now["training.hours_per_capita"] is None
    assert now["sms.recipients"] == 0
