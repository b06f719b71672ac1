"""Reconciling metrics with a published issue's reference figures."""

from __future__ import annotations

import json

import yaml

from helpers.figures.metrics import to_json
from helpers.publish import reconcile as r

METRICS = {
    "quarter": "2022Q1",
    "prior_quarter": "2021Q1",
    "inbound": {
        "general": {"requests": 337800, "answer_rate": 18911 / 20000},
        "credit_card": {"answered": 209100, "outsourced_answered": 85500, "outsourced_share": 85500 / 209100},
    },
    "tickets": {
        "complaint_tickets": 151,
        "complaint_tickets_change": -137,
        "complaint_tickets_yoy": -137 / 288,
    },
    "smart": {"diversion_rate_change_pp": 0.0334},
    "training": {"sessions": 616, "sessions_yoy": 108 / 508, "hours": 4141.99, "attendances": 9000},
    "video": {
        "business": [
            {"type": "理财咨询", "count": 444, "share": 444 / 751},
            {"type": "手机发证", "count": 115, "share": 115 / 751},
        ]
    },
    "awards": [
        {"category": "综合优秀班组", "months": [2, 3], "winner": "综合3组", "leader": "赵玲"},
        {"category": "综合绩效之星", "months": [1, 2, 3], "winner": "李怡珊", "leader": None},
    ],
}

AGREEING = """
quarter: 2022Q1
prior_quarter: 2021Q1
figures:
  inbound.general.requests: {printed: "33.78万"}
  inbound.general.answer_rate: {printed: "94.56%"}
  inbound.credit_card.outsourced_answered: {printed: "8.55万"}
  inbound.credit_card.outsourced_share:
    printed: "43.88%"
    inconsistent: "8.55万 of 20.91万 answered is 40.86%-40.92%, never 43.88%"
    expected: "between 40.86% and 40.92%, as the sample's own counts give"
  tickets.complaint_tickets: {printed: "151"}
  tickets.complaint_tickets_change: {printed: "-137"}
  tickets.complaint_tickets_yoy: {printed: "-47.57%"}
  smart.diversion_rate_change_pp: {printed: "3.34 个百分点"}
  training.sessions: {printed: "616"}
  training.sessions_yoy:
    printed: "21.27%"
    inconsistent: "no whole number of 2021Q1 sessions gives 21.27%"
    expected: "21.26% (2021Q1 held 508 sessions)"
  training.hours: {printed: "4141.99"}
  training.attendances: {printed: "0.90万"}
  video.business:
    printed:
      - {type: 理财咨询, count: 444, share: "59.12%"}
      - {type: 手机发证, count: 115, share: "15.31%"}
  awards:
    printed:
      - {category: 综合优秀班组, months: [2, 3], winner: 综合3组, leader: 赵玲}
      - {category: 综合绩效之星, months: [1, 2, 3], winner: 李怡珊}
"""


def test_agreeing_reference():
    rows = r.reconcile(METRICS, yaml.safe_load(AGREEING))
    assert len(rows) == 14
    assert all(row.agree for row in rows), r.format_table(rows)
    assert r.summary(rows) == "14 figures: 14 agree"
    by_key = {row.key: row for row in rows}
    assert by_key["inbound.credit_card.outsourced_share"].computed == "40.89%"
    assert by_key["inbound.credit_card.outsourced_share"].note == r.AS_EXPECTED
    assert by_key["training.sessions_yoy"].note == r.AS_EXPECTED
    assert by_key["inbound.general.answer_rate"].note == ""
    assert [i.agree for i in by_key["awards"].items] == [True, True]


def test_disagreeing_figure_is_marked():
    reference = yaml.safe_load(AGREEING)
    reference["figures"]["inbound.general.requests"] = {"printed": "33.79万"}
    rows = r.reconcile(METRICS, reference)
    bad = [row for row in rows if not row.agree]
    assert [(b.key, b.printed, b.computed) for b in bad] == [
        ("inbound.general.requests", "33.79万", "33.78万")
    ]
    table = r.format_table(rows)
    assert "✗" in table
    assert table.splitlines()[-1] == "14 figures: 13 agree, 1 disagree"


def test_inconsistent_range_is_inclusive_and_checked():
    assert r.matches_expected("40.86%", "between 40.86% and 40.92%, as the sample's own counts give")
    assert r.matches_expected("40.92%", "between 40.86% and 40.92%")
    assert not r.matches_expected("40.93%", "between 40.86% and 40.92%")
    assert not r.matches_expected("43.88%", "between 40.86% and 40.92%")
    assert r.matches_expected("21.26%", "21.26% (2021Q1 held 508 sessions)")
    assert not r.matches_expected("21.27%", "21.26% (2021Q1 held 508 sessions)")


def test_inconsistent_entry_outside_its_expected_range_disagrees():
    metrics = json.loads(json.dumps(METRICS))
    metrics["inbound"]["credit_card"]["outsourced_share"] = 0.4388  # what the seed printed
    rows = r.reconcile(metrics, yaml.safe_load(AGREEING))
    row = next(x for x in rows if x.key == "inbound.credit_card.outsourced_share")
    assert not row.agree
    assert row.note.startswith("expected between 40.86%")


def test_list_items_compared_one_by_one():
    metrics = json.loads(json.dumps(METRICS))
    metrics["awards"][1]["months"] = [1, 2]
    metrics["video"]["business"].append({"type": "在线注册", "count": 9, "share": 9 / 751})
    rows = {row.key: row for row in r.reconcile(metrics, yaml.safe_load(AGREEING))}
    assert not rows["awards"].agree
    assert [i.agree for i in rows["awards"].items] == [True, False]
    assert not rows["video.business"].agree
    assert [i.agree for i in rows["video.business"].items] == [True, True, False]


def test_missing_metric_disagrees():
    reference = {"figures": {"sms.recipients": {"printed": "6.04万"}}}
    rows = r.reconcile(METRICS, reference)
    assert not rows[0].agree
    assert "missing" in rows[0].computed


def test_cli_exit_codes(tmp_path, capsys):
    metrics_file = tmp_path / "metrics.json"
    metrics_file.write_text(to_json(METRICS), encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(AGREEING, encoding="utf-8")
    assert r.main(["--metrics", str(metrics_file), "--ref", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "14 figures: 14 agree"
    assert "as expected (inconsistent in print)" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text(AGREEING.replace('"-47.57%"', '"-47.58%"'), encoding="utf-8")
    assert r.main(["--metrics", str(metrics_file), "--ref", str(bad)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("tickets.complaint_tickets_yoy"))
    assert "-47.58%" in line and "-47.57%" in line and line.rstrip().endswith("✗")


def test_cli_refuses_another_quarter(tmp_path):
    metrics_file = tmp_path / "metrics.json"
    metrics_file.write_text(to_json({**METRICS, "quarter": "2022Q2"}), encoding="utf-8")
    ref = tmp_path / "ref.yaml"
    ref.write_text(AGREEING, encoding="utf-8")
    assert r.main(["--metrics", str(metrics_file), "--ref", str(ref)]) == 1


def test_bundled_reference_lists_65_figures():
    from helpers.paths import REFERENCE

    reference = yaml.safe_load((REFERENCE / "2022Q1.yaml").read_text(encoding="utf-8"))
    assert len(reference["figures"]) == 65
