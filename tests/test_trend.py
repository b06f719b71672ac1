"""The 近期趋势 section: the headline KPIs over the last `trend_quarters` quarters.

- the trend table (`store["tables"]["trend"]`) holds each window quarter's own figures;
- 环比 / 同比 on hand-computed fixtures, gaps for quarters without figures;
- the small-multiple chart keeps the chart rules and breaks its line at a gap;
- a broken earlier quarter is a gap with a note, not a refusal;
- `trend_quarters` is checked up front;
- the dependency rule: changing quarter X's extracts makes stale exactly the issues whose
  trend window (or prior year) holds X (`make -n quarter`, as tests/test_inputs.py).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import linked_copy, make_would_publish, run_cli
from test_charts import spec_problems

from helpers import paths
from helpers.figures import store as st
from helpers.figures import tables as t
from helpers.figures.headline import HEADLINE
from helpers.params import ParamsError, load_params
from helpers.report import charts as ch
from helpers.report import export

Q = "2022Q1"
SAMPLE = ["2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2", "2021Q3", "2021Q4", "2022Q1"]


def metrics(requests, rate):
    return {"inbound": {"general": {"requests": requests, "answer_rate": rate}}}


def series(trend, key):
    return [row for row in trend["series"] if row["key"] == key]


# ---------------------------------------------------------------- the window


def test_window_is_the_n_quarters_ending_at_q_across_years():
    assert st.trend_window(Q, 8) == SAMPLE
    assert st.trend_window("2021Q2", 3) == ["2020Q4", "2021Q1", "2021Q2"]


# ---------------------------------------------------------------- 环比 / 同比 by hand

WINDOW = ["2020Q3", "2020Q4", "2021Q1", "2021Q2", "2021Q3", "2021Q4", "2022Q1"]
STORES = {
    "2020Q3": metrics(0, 0.95),
    "2020Q4": metrics(100, 0.90),
    "2021Q1": metrics(80, 0.90),
    "2021Q2": metrics(120, 0.92),
    "2021Q3": None,  # a gap
    "2021Q4": metrics(90, 0.9425),
    "2022Q1": metrics(96, 0.95),
}


def test_changes_on_hand_computed_figures():
    trend = t.trend(WINDOW, STORES, {"2021Q3": "2021Q3 数据未通过校验，未计入趋势"})
    requests = series(trend, "inbound.general.requests")
    assert [(r["quarter"], r["value"], r["value_label"]) for r in requests] == [
        ("2020Q3", 0, "0 笔"),
        ("2020Q4", 100, "100 笔"),
        ("2021Q1", 80, "80 笔"),
        ("2021Q2", 120, "120 笔"),
        ("2021Q3", None, "—"),
        ("2021Q4", 90, "90 笔"),
        ("2022Q1", 96, "96 笔"),
    ]
    # 环比: none for the first window quarter, none after 0 (a relative change of nothing),
    # none at a gap and none for the quarter after it; (80-100)/100, (120-80)/80, (96-90)/90.
    assert [r["qoq"] for r in requests] == [None, None, pytest.approx(-0.2), pytest.approx(0.5), None, None,
                                            pytest.approx(6 / 90)]  # fmt: skip
    assert [r["qoq_label"] for r in requests] == ["—", "—", "-20.00%", "50.00%", "—", "—", "6.67%"]
    # 同比: only where the quarter a year earlier is in the window: (90-100)/100, (96-80)/80.
    assert [r["yoy"] for r in requests] == [None] * 5 + [pytest.approx(-0.1), pytest.approx(0.2)]
    assert [r["yoy_label"] for r in requests] == ["—"] * 5 + ["-10.00%", "20.00%"]

    rates = series(trend, "inbound.general.answer_rate")
    # Rates change by percentage points: 0.90-0.95, 0.90-0.90, 0.92-0.90, …, 0.95-0.9425.
    assert [r["qoq"] for r in rates] == [None, pytest.approx(-0.05), pytest.approx(0.0), pytest.approx(0.02),
                                         None, None, pytest.approx(0.0075)]  # fmt: skip
    assert rates[1]["qoq_label"] == "-5.00 个百分点" and rates[6]["qoq_label"] == "0.75 个百分点"
    # 0.9425-0.90 and 0.95-0.90.
    assert [r["yoy_label"] for r in rates] == ["—"] * 5 + ["4.25 个百分点", "5.00 个百分点"]

    # A headline absent from these metrics is null throughout, printed "—".
    assert {r["value_label"] for r in series(trend, "tickets.complaint_tickets")} == {"—"}
    assert [(w["quarter"], w["shown"], w["note"]) for w in trend["quarters"] if w["note"]] == [
        ("2021Q3", False, "2021Q3 数据未通过校验，未计入趋势"),
    ]


def test_every_headline_once_per_window_quarter_in_headline_order():
    trend = t.trend(WINDOW, STORES)
    assert [r["key"] for r in trend["series"]] == [h.key for h in HEADLINE for _ in WINDOW]
    assert [w["note"] for w in trend["quarters"] if not w["shown"]] == ["无数据"]
    assert [r["quarter_label"] for r in series(trend, HEADLINE[0].key)] == [
        "20Q3", "20Q4", "21Q1", "21Q2", "21Q3", "21Q4", "22Q1"
    ]  # fmt: skip


# ---------------------------------------------------------------- the chart


def test_trend_chart_keeps_the_chart_rules_and_breaks_at_a_gap():
    trend = t.trend(WINDOW, STORES)
    for key in ("inbound.general.requests", "inbound.general.answer_rate"):
        rows = [dict(sorted(r.items())) for r in series(trend, key)]  # as store.json gives them
        spec = ch.trend_chart(rows).to_dict(validate=True)
        assert spec_problems(spec) == []
        columns, data = export.spec_table(spec)
        assert columns == list(ch.STORE_FIELDS["trend"]) and len(data) == len(WINDOW)
        assert spec["width"] == "container"
        assert spec["mark"]["invalid"] == "break-paths-show-domains"
        if key.endswith("rate"):
            assert spec["encoding"]["y"]["scale"]["domain"] == [0, 1]
    with pytest.raises(ValueError, match="one headline KPI"):
        ch.trend_chart(trend["series"])


def test_a_gap_breaks_the_drawn_line_and_keeps_its_quarter():
    import vl_convert as vlc

    rows = series(t.trend(WINDOW, STORES), "inbound.general.answer_rate")
    spec = json.loads(json.dumps(ch.trend_chart(rows).to_dict()).replace('"container"', "340"))
    svg = vlc.vegalite_to_svg(spec)
    line = re.search(r'aria-roledescription="line mark"[^>]*d="([^"]+)"', svg) or re.search(
        r'class="mark-line[^"]*"[^>]*>.*?d="([^"]+)"', svg, re.S
    )
    assert line, "no line drawn"
    assert line.group(1).count("M") == 2, f"the gap must split the line in two: {line.group(1)}"
    assert "21Q3" in svg  # the missing quarter keeps its place on the axis


# ---------------------------------------------------------------- the setting


@pytest.mark.parametrize(
    ("text", "problem"),
    [("2", "out of range"), ("21", "out of range"), ("8.0", "a whole number"), ("true", "a whole number")],
)
def test_trend_quarters_is_checked_up_front(tmp_path, monkeypatch, text, problem):
    monkeypatch.setattr(paths, "PARAMS", tmp_path)
    (tmp_path / f"{Q}.yaml").write_text(f"trend_quarters: {text}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=problem):
        load_params(Q)


def test_trend_quarters_default_and_override(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PARAMS", tmp_path)
    assert load_params(Q).trend_quarters == 8
    (tmp_path / f"{Q}.yaml").write_text("trend_quarters: 4\n", encoding="utf-8")
    assert load_params(Q).trend_quarters == 4


# ---------------------------------------------------------------- the store


def test_trend_table_equals_each_quarters_own_figures(sample_root, session_cache, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", session_cache)
    store, path = st.quarter_store(Q, sample_root)
    trend = store["tables"]["trend"]
    assert [w["quarter"] for w in trend["quarters"]] == SAMPLE and all(w["shown"] for w in trend["quarters"])
    own = {qi: st.quarter_figures(qi, sample_root) for qi in SAMPLE}
    assert own[Q] == store["metrics"]
    for h in HEADLINE:
        rows = series(trend, h.key)
        assert [r["value"] for r in rows] == [h.value(own[qi]) for qi in SAMPLE], h.key
        assert [r["value_label"] for r in rows] == [h.printed(h.value(own[qi])) for qi in SAMPLE]
        for i, (row, qi) in enumerate(zip(rows, SAMPLE, strict=True)):
            qoq = h.change(h.value(own[qi]), h.value(own[SAMPLE[i - 1]])) if i else None
            yoy = h.change(h.value(own[qi]), h.value(own[SAMPLE[i - 4]])) if i >= 4 else None
            assert (row["qoq"], row["yoy"]) == (pytest.approx(qoq), pytest.approx(yoy)), (h.key, qi)
    # The section's own copy of the store: the trend rides on the base store's key.
    assert path.name.startswith(f"{Q}-trend-")
    base = st.quarter_store(Q, sample_root, trend=False)[0]
    assert "trend" not in base["tables"] and base["metrics"] == store["metrics"]


def test_a_broken_earlier_quarter_is_a_gap_with_a_note(sample_root, session_cache, monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "CACHE", session_cache)
    data = tmp_path / "data"
    for qi in ("2021Q2", "2021Q3", "2021Q4", "2022Q1"):
        linked_copy(sample_root / qi, data / qi, own=["surveys.csv"] if qi == "2021Q3" else [])
    surveys = data / "2021Q3" / "surveys.csv"
    surveys.write_text(surveys.read_text(encoding="utf-8") + "not,a,survey,row\n", encoding="utf-8")
    store, _ = st.quarter_store("2022Q1", data)  # Q itself publishes
    quarters = {w["quarter"]: w for w in store["tables"]["trend"]["quarters"]}
    assert quarters["2021Q3"]["shown"] is False
    assert quarters["2021Q3"]["note"] == "2021Q3 数据未通过校验，未计入趋势"
    assert [qi for qi, w in quarters.items() if w["shown"]] == ["2021Q2", "2021Q4", "2022Q1"]
    assert quarters["2020Q2"]["note"] == "无数据"
    rows = series(store["tables"]["trend"], "inbound.general.requests")
    assert [r["quarter"] for r in rows if r["value"] is not None] == ["2021Q2", "2021Q4", "2022Q1"]
    # 2021Q3's files are inputs of 2022Q1's issue all the same: fixing them is seen.
    window = st.window_reports("2022Q1", data, 8)
    files, missing = st.window_files(window)
    assert surveys in files and missing


# ---------------------------------------------------------------- what re-publishes


PUBLISHED = ("2020Q4", "2021Q2", "2022Q1")
# A quarter whose extract gets a newer time -> the issues that must be re-published.
STALE_AFTER = [
    # 2020Q3 is in every window (2019Q1-2020Q4, 2019Q3-2021Q2, 2020Q2-2022Q1).
    ("2020Q3", {"2020Q4", "2021Q2", "2022Q1"}),
    # 2021Q1 is after 2020Q4: only the later issues show it (for 2021Q2 also its prior year).
    ("2021Q1", {"2021Q2", "2022Q1"}),
    # 2021Q3: only 2022Q1's window holds it.
    ("2021Q3", {"2022Q1"}),
]


@pytest.fixture(scope="module")
def published_three(sample_root, session_cache, tmp_path_factory) -> tuple[Path, Path]:
    """(OUT, DATA): a copy of the eight sample quarters (times kept) and three issues of it.
    DATA's files are hard links to the sample's (conftest.linked_copy) except the
    inbound_calls.csv of STALE_AFTER's quarters, real copies: only those may get a new time."""
    data = tmp_path_factory.mktemp("trend-data") / "data"
    linked_copy(sample_root, data, own=[f"{qi}/inbound_calls.csv" for qi, _ in STALE_AFTER])
    out = tmp_path_factory.mktemp("trend-out")
    for q in PUBLISHED:
        result = run_cli("publish", q, data=data, out=out, cache=session_cache)
        assert result.returncode == 0, result.stdout + result.stderr
    return out, data


def _stale(out: Path, data: Path, cache: Path) -> set[str]:
    """The issues `make quarter` would re-publish."""
    return {q for q in PUBLISHED if make_would_publish(q, data=data, out=out, cache=cache)}


@pytest.mark.parametrize(("changed", "expected"), STALE_AFTER)
def test_a_changed_quarter_republishes_exactly_the_issues_that_show_it(
    published_three, session_cache, changed, expected
):
    out, data = published_three
    assert _stale(out, data, session_cache) == set(), "fresh issues: make must see them up to date"
    path = data / changed / "inbound_calls.csv"
    before = path.stat()
    later = time.time() + 5
    try:
        os.utime(path, (later, later))
        assert _stale(out, data, session_cache) == expected
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_each_issue_lists_its_window_quarters(published_three):
    out, data = published_three
    mk = (out / "2020Q4" / ".build" / "inputs.mk").read_text(encoding="utf-8")
    # 2020Q4: window 2019Q1-2020Q4, data from 2020Q2 on; quarters missing: the data root too.
    # (The window quarters' own prior years, 2019Q2-Q4, are not inputs: nothing shows them.)
    listed = {qi for qi in SAMPLE if f"{qi}/inbound_calls.csv" in mk}
    assert listed == {"2020Q2", "2020Q3", "2020Q4"}
    words = set(mk.split("ISSUE_INPUTS :=", 1)[1].split("\n\n", 1)[0].replace("\\\n", " ").split())
    assert str(data) in words
    # 2022Q1: every quarter it uses has a folder, so a new quarter folder does not touch it.
    mk = (out / "2022Q1" / ".build" / "inputs.mk").read_text(encoding="utf-8")
    words = set(mk.split("ISSUE_INPUTS :=", 1)[1].split("\n\n", 1)[0].replace("\\\n", " ").split())
    assert {qi for qi in SAMPLE if f"{data}/{qi}/inbound_calls.csv" in words} == set(SAMPLE)
    assert str(data) not in words
