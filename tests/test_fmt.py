"""Printing rules of docs/contract/METRICS.md: half-up on the decimal value, two decimals."""

from __future__ import annotations

import pytest

from helpers import fmt


@pytest.mark.parametrize(
    ("rate", "printed"),
    [
        (18911 / 20000, "94.56%"),  # 0.94555: a float just below .5 must still round up
        (0.94555, "94.56%"),
        (0.94545, "94.55%"),  # banker's rounding would give 94.54%
        (0.94554, "94.55%"),
        (0.03335, "3.34%"),  # stored as 0.0333499999...; f"{x * 100:.2f}" gives 3.33
        (0.0005, "0.05%"),
        (0.00005, "0.01%"),  # half of the last digit rounds up
        (0.000049, "0.00%"),
        (1 / 3, "33.33%"),
        (2 / 3, "66.67%"),
        (1.0, "100.00%"),
        (0, "0.00%"),
        (0.4, "40.00%"),
    ],
)
def test_pct_rounds_half_up_on_the_decimal_value(rate, printed):
    assert fmt.pct(rate) == printed


def test_pct_of_a_missing_rate_is_a_dash():
    assert fmt.pct(None) == "—"


@pytest.mark.parametrize(
    ("n", "printed"),
    [
        (17850, "1.79万"),
        (17849, "1.78万"),
        (9000, "0.90万"),
        (337800, "33.78万"),
        (0, "0.00万"),
        (50, "0.01万"),  # 0.005万 rounds up
        (49, "0.00万"),
        (1234567, "123.46万"),
    ],
)
def test_wan(n, printed):
    assert fmt.wan(n) == printed


def test_wan_with_unit():
    assert fmt.wan(337800, "人次") == "33.78万人次"


def test_count_is_the_whole_number():
    assert fmt.count(2972) == "2972"
    assert fmt.count(151, " 笔") == "151 笔"
    with pytest.raises(TypeError):
        fmt.count(2.5)


@pytest.mark.parametrize(
    ("x", "printed"),
    [(4141.99, "4141.99"), (2.675, "2.68"), (2.665, "2.67"), (6.0, "6.00"), (0.1 + 0.2, "0.30")],
)
def test_hours(x, printed):
    assert fmt.hours(x) == printed


def test_hours_of_a_float_sum_ignores_binary_noise():
    # In binary 1.3 + 2.675 is 3.9749999999999996 and 1.4 + 0.005 is 1.4049999999999998:
    # the hours really are 3.975 and 1.405, and half-up makes them 3.98 and 1.41.
    assert 1.3 + 2.675 < 3.975
    assert fmt.hours(1.3 + 2.675) == "3.98"
    assert fmt.hours(1.4 + 0.005) == "1.41"


def test_pp():
    assert fmt.pp(0.0334) == "3.34 个百分点"
    assert fmt.pp(0.1522 - 0.1188) == "3.34 个百分点"
    assert fmt.pp(-0.012) == "-1.20 个百分点"
    assert fmt.pp(None) == "无同期数据"


def test_signed_forms_as_the_reference_prints_them():
    assert fmt.signed_pct(-49 / 103) == "-47.57%"
    assert fmt.signed_pct(0.8711) == "87.11%"
    assert fmt.signed_pct(-51 / 122) == "-41.80%"
    assert fmt.signed_pct(-0.00001) == "0.00%"  # no "-0.00%"
    assert fmt.signed_pct(None) == "无同期数据"
    assert fmt.signed_int(-137) == "-137"
    assert fmt.signed_int(12) == "12"
    assert fmt.signed_int(None) == "无同期数据"


def test_negative_ties_round_away_from_zero():
    assert fmt.signed_pct(-0.94555) == "-94.56%"
    assert fmt.signed_pct(-0.94545) == "-94.55%"


def test_yoy_phrases():
    assert fmt.yoy(0.8711) == "同比上升 87.11%"
    assert fmt.yoy(-0.1) == "同比下降 10.00%"
    assert fmt.yoy(0.0929, up="增长", down="减少") == "同比增长 9.29%"
    assert fmt.yoy(-0.0929, up="增长", down="减少") == "同比减少 9.29%"
    assert fmt.yoy(0.2127, up="增加") == "同比增加 21.27%"
    assert fmt.yoy(None) == "无同期数据"
    assert fmt.yoy(0.0) == "同比持平"
    assert fmt.yoy(0.00004) == "同比持平"  # prints as 0.00%


def test_count_change_phrases():
    assert fmt.count_change(-137, -137 / 288) == "同比减少 137 笔，降幅 47.57%"
    assert fmt.count_change(12, 12 / 126) == "同比增加 12 笔，增幅 9.52%"
    assert fmt.count_change(5, None) == "同比增加 5 笔"  # prior count was 0
    assert fmt.count_change(0, 0.0) == "同比持平"
    assert fmt.count_change(None, None) == "无同期数据"
    assert fmt.count_change(-3, -0.5, unit="项") == "同比减少 3 项，降幅 50.00%"


def test_rate_change_phrases():
    assert fmt.rate_change(0.0334) == "同比提升 3.34 个百分点"
    assert fmt.rate_change(-0.0125) == "同比下降 1.25 个百分点"
    assert fmt.rate_change(0.0) == "同比持平"
    assert fmt.rate_change(None) == "无同期数据"


@pytest.mark.parametrize(
    ("key", "value", "printed"),
    [
        ("inbound.general.requests", 337800, "33.78万"),
        ("training.attendances", 9000, "0.90万"),
        ("smart.sessions", 247300, "24.73万"),
        ("video.sessions", 2972, "2972"),
        ("training.sessions", 616, "616"),
        ("outbound.services", 19, "19"),
        ("tickets.total", 34309, "34309"),
        ("inbound.general.answer_rate", 0.94555, "94.56%"),
        ("inbound.general.service_level", None, "—"),
        ("tickets.complaint_tickets_yoy", -137 / 288, "-47.57%"),
        ("outbound.calls_yoy", None, "无同期数据"),
        ("tickets.complaint_tickets_change", -137, "-137"),
        ("smart.diversion_rate_change_pp", 0.0334, "3.34 个百分点"),
        ("training.hours", 4141.99, "4141.99"),
        ("training.hours_per_capita", 4141.99 / 664, "6.24"),
        ("quarter", "2022Q1", "2022Q1"),
    ],
)
def test_format_value_picks_the_format_from_the_key(key, value, printed):
    assert fmt.format_value(key, value) == printed


def test_format_value_lists():
    assert fmt.format_value("video.business", [{"type": "理财咨询", "count": 444, "share": 444 / 751}]) == [
        {"type": "理财咨询", "count": 444, "share": "59.12%"}
    ]
    assert fmt.format_value(
        "awards", [{"category": "c", "months": [1, 2], "winner": "w", "leader": None}]
    ) == [{"category": "c", "months": [1, 2], "winner": "w", "leader": None}]


def test_unknown_keys_follow_suffixes_or_fail():
    assert fmt.kind_of("sms.recipients_yoy") == "yoy"
    assert fmt.kind_of("feedback.items_change") == "change"
    assert fmt.kind_of("online.answer_rate_change_pp") == "pp"
    with pytest.raises(KeyError):
        fmt.kind_of("made.up")
