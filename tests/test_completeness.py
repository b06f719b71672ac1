"""helpers.data.completeness: days and months the extracts miss are warnings, not errors.

Unit tests on hand-made quarters (a dropped day, a dropped month, a low day, a holiday
dip that must not be flagged, the weekday median), the issue setting, the About panel
block and the index mark; then the sample quarter (its Spring Festival dip is not
flagged) and, through the real entry points, a copy of the sample with one day of
online chats dropped, one day cut to a tenth and one month of awards dropped:
`make validate` lists the warnings and exits 0, `STRICT=1` refuses and leaves the
published issue byte-identical, and a plain publish shows them in the About panel
and marks the quarter in the index.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from conftest import make, run_cli, symlinked_quarters

from helpers import paths
from helpers.data import completeness as c
from helpers.data import extracts
from helpers.params import ParamsError, load_params
from helpers.publish import issue

Q = "2022Q1"
PRIOR = "2021Q1"
DAYS = c.days_of(Q)  # 2022-01-01 (a Saturday) .. 2022-03-31
WORKDAY, REST = 100, 60  # rows per day of the hand-made quarter


# --- hand-made quarters ------------------------------------------------------------------


def daily_rows(counts: dict[date, int], column: str = "started_at") -> pd.DataFrame:
    """One row per request, `counts[day]` of them on each day (spread over the hours)."""
    stamps = [
        pd.Timestamp(day) + pd.Timedelta(minutes=(17 * i) % 1440)
        for day, n in counts.items()
        for i in range(n)
    ]
    return pd.DataFrame({column: pd.to_datetime(pd.Series(stamps, dtype="datetime64[ns]"))})


def usual(**changes: int) -> dict[date, int]:
    """The usual quarter: 100 rows on workdays, 60 on weekends; `d2022_02_15=0` changes a day
    (0 drops it)."""
    counts = {d: WORKDAY if d.weekday() < 5 else REST for d in DAYS}
    for key, n in changes.items():
        counts[date.fromisoformat(key[1:].replace("_", "-"))] = n
    return {d: n for d, n in counts.items() if n}


def monthly_rows(months: list[str], column: str, per_month: int = 3) -> pd.DataFrame:
    return pd.DataFrame({column: pd.to_datetime([f"{m}-01" for m in months for _ in range(per_month)])})


def test_a_complete_quarter_has_no_warnings():
    sources = {
        "inbound_calls": daily_rows(usual(), "requested_at"),
        "online_chats": daily_rows(usual(), "requested_at"),
        "smart_sessions": daily_rows(usual()),
        "training": monthly_rows(["2022-01", "2022-02", "2022-03"], "held_on"),
        "awards": monthly_rows(["2022-01", "2022-02", "2022-03"], "month"),
    }
    assert c.check(Q, sources) == []


def test_a_dropped_day_is_flagged_with_its_weekday_median():
    found = c.check(Q, {"smart_sessions": daily_rows(usual(d2022_02_15=0))})
    assert found == [c.CompletenessWarning("smart_sessions.csv", "2022-02-15", 0, WORKDAY, c.NO_ROWS_DAY)]
    assert found[0].weekday == "周二"
    line = found[0].format()
    assert line == (
        "smart_sessions.csv 2022-02-15 周二, rows 0, typical 100 for 周二: "
        "no rows on this day (every day of the quarter must have rows)"
    )


def test_the_first_and_last_day_of_the_quarter_count():
    found = c.check(Q, {"inbound_calls": daily_rows(usual(d2022_01_01=0, d2022_03_31=0), "requested_at")})
    assert [(w.period, w.rule) for w in found] == [
        ("2022-01-01", c.NO_ROWS_DAY),
        ("2022-03-31", c.NO_ROWS_DAY),
    ]


def test_a_low_day_is_flagged_below_a_quarter_of_its_weekday_median():
    found = c.check(Q, {"online_chats": daily_rows(usual(d2022_03_09=24, d2022_03_10=25), "requested_at")})
    # 24 < 25% of 100 is flagged; 25 (exactly 25%) is not.
    assert [(w.file, w.period, w.rows, w.typical) for w in found] == [
        ("online_chats.csv", "2022-03-09", 24, 100)
    ]
    assert (
        found[0].rule
        == c.low_day_rule(0.25)
        == "fewer than 25% of the quarter's median rows for this weekday"
    )
    assert "rows 24, typical 100 for 周三" in found[0].format()


def test_a_holiday_dip_at_thirty_percent_is_not_flagged():
    # A Spring Festival week at 30% of the usual volume (weekend days included) is
    # what a holiday looks like, not a gap.
    festival = {
        f"d{d.isoformat().replace('-', '_')}": 30 for d in DAYS if date(2022, 1, 31) <= d <= date(2022, 2, 6)
    }
    sources = {
        name: daily_rows(usual(**festival), "requested_at") for name in ("inbound_calls", "online_chats")
    }
    sources["smart_sessions"] = daily_rows(usual(**festival))
    assert c.check(Q, sources) == []


def test_the_median_is_the_same_weekday_not_the_whole_quarter():
    # 20 rows on a Saturday: 33% of the Saturdays' 60, not flagged, though it is below
    # 25% of the quarter's overall median (100). 20 on a Monday (20%) is flagged.
    found = c.check(Q, {"smart_sessions": daily_rows(usual(d2022_02_12=20, d2022_02_14=20))})
    assert [(w.period, w.weekday, w.typical) for w in found] == [("2022-02-14", "周一", 100)]


def test_missing_days_count_as_zero_in_their_weekday_median():
    # Seven of thirteen Sundays dropped: the Sundays' median is then 0 rows, so the six
    # left are not "low"; the seven dropped ones are each flagged.
    sundays = [d for d in DAYS if d.weekday() == 6]
    counts = usual(**{f"d{d.isoformat().replace('-', '_')}": 0 for d in sundays[:7]})
    found = c.check(Q, {"smart_sessions": daily_rows(counts)})
    assert [(w.period, w.rows, w.typical, w.rule) for w in found] == [
        (d.isoformat(), 0, 0, c.NO_ROWS_DAY) for d in sundays[:7]
    ]
    assert "typical 0 for 周日" in found[0].format()


def test_an_even_number_of_weekdays_gives_a_half_row_median():
    # 2022Q1 has twelve Fridays: their median can fall between two counts.
    fridays = [d for d in DAYS if d.weekday() == 4]
    assert len(fridays) == 12
    counts = usual(**{f"d{d.isoformat().replace('-', '_')}": 101 for d in fridays[:6]})
    counts[fridays[-1]] = 5
    found = c.check(Q, {"smart_sessions": daily_rows(counts)})
    assert [(w.period, w.typical) for w in found] == [(fridays[-1].isoformat(), 100.5)]
    assert "typical 100.5 for 周五" in found[0].format()


def test_min_share_is_the_setting_and_zero_checks_only_for_missing_days():
    counts = usual(d2022_03_09=40, d2022_03_10=0)
    sources = {"smart_sessions": daily_rows(counts)}
    assert [w.period for w in c.check(Q, sources, min_share=0.5)] == ["2022-03-09", "2022-03-10"]
    assert "fewer than 50% of" in c.check(Q, sources, min_share=0.5)[0].rule
    assert [w.period for w in c.check(Q, sources)] == ["2022-03-10"]
    assert [w.period for w in c.check(Q, sources, min_share=0)] == ["2022-03-10"]


def test_a_dropped_month_is_flagged_for_awards_and_training():
    sources = {
        "training": monthly_rows(["2022-01", "2022-03"], "held_on", per_month=40),
        "awards": monthly_rows(["2022-01", "2022-02"], "month", per_month=5),
    }
    found = c.check(Q, sources, files={"awards": "awards.csv.gz"})
    # schema.FILES order: training before awards.
    assert found == [
        c.CompletenessWarning("training.csv", "2022-02", 0, 40, c.NO_ROWS_MONTH),
        c.CompletenessWarning("awards.csv.gz", "2022-03", 0, 5, c.NO_ROWS_MONTH),
    ]
    assert found[1].weekday == ""
    assert found[1].format() == (
        "awards.csv.gz 2022-03, rows 0, typical 5 a month: "
        "no rows in this month (every month of the quarter must have rows)"
    )


def test_other_extracts_are_not_checked_and_warnings_round_trip():
    # Office-hours channels (outbound, video) may well be empty on a Sunday.
    found = c.check(
        Q,
        {
            "outbound_calls": daily_rows({DAYS[2]: 5}, "dialed_at"),
            "smart_sessions": daily_rows(usual(d2022_03_01=0)),
        },
    )
    assert [w.file for w in found] == ["smart_sessions.csv"]
    assert c.from_dicts(json.loads(json.dumps([w.as_dict() for w in found]))) == found
    assert c.format_warnings(found, Q).splitlines()[0] == (
        "2022Q1 completeness: 1 warning / 数据完整性提示 1 条 (docs/validation.md)"
    )
    assert c.format_warnings([], Q) == "2022Q1 completeness: no warnings / 数据完整性：无提示"


# --- the issue setting ---------------------------------------------------------------------


@pytest.fixture
def params_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PARAMS", tmp_path)
    return tmp_path


def test_min_share_setting_defaults_to_a_quarter(params_dir):
    assert load_params("2022Q2").completeness_min_share == 0.25 == c.DEFAULT_MIN_SHARE
    (params_dir / "2022Q2.yaml").write_text("completeness_min_share: 0.1\n", encoding="utf-8")
    assert load_params("2022Q2").completeness_min_share == 0.1
    (params_dir / "2022Q2.yaml").write_text("completeness_min_share: 0\n", encoding="utf-8")
    assert load_params("2022Q2").completeness_min_share == 0.0


@pytest.mark.parametrize(
    ("value", "problem"),
    [("1", "out of range"), ("25", "out of range"), ("-0.1", "out of range"), ("many", "must be a number")],
)
def test_bad_min_share_is_refused(params_dir, value, problem):
    (params_dir / "2022Q2.yaml").write_text(f"completeness_min_share: {value}\n", encoding="utf-8")
    with pytest.raises(ParamsError) as caught:
        load_params("2022Q2")
    message = str(caught.value)
    assert "completeness_min_share = " in message and problem in message and "less than 1" in message


# --- About panel and index ---------------------------------------------------------------


def _about(meta_completeness) -> BeautifulSoup:
    html = issue._about({"quarter": Q, "completeness": meta_completeness})
    return BeautifulSoup(html, "html.parser").find("div", class_="kf-completeness")


def test_about_panel_says_when_there_is_no_warning():
    block = _about([])
    assert block.find("h3").get_text() == "数据完整性 / Data completeness"
    assert "No warnings" in block.get_text() and block.find("table") is None
    assert _about(None).find("p").get_text() == "—"


def test_about_panel_lists_every_warning():
    warnings = [
        c.CompletenessWarning("online_chats.csv", "2022-03-08", 0, 812, c.NO_ROWS_DAY),
        c.CompletenessWarning("online_chats.csv", "2022-03-09", 81, 812.5, c.low_day_rule(0.25)),
        c.CompletenessWarning("awards.csv", "2022-02", 0, 5, c.NO_ROWS_MONTH),
    ]
    block = _about([w.as_dict() for w in warnings])
    assert "3 warnings" in block.find("p", class_="kf-warn").get_text()
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in block.find("tbody").find_all("tr")]
    assert rows == [
        ["online_chats.csv", "2022-03-08 周二", "0", "812", c.NO_ROWS_DAY],
        ["online_chats.csv", "2022-03-09 周三", "81", "812.5", c.low_day_rule(0.25)],
        ["awards.csv", "2022-02", "0", "5", c.NO_ROWS_MONTH],
    ]


def test_index_marks_only_quarters_with_warnings(tmp_path):
    entries = [
        {"quarter": "2022Q1", "completeness_warnings": 3},
        {"quarter": "2021Q4", "completeness_warnings": 0},
        {"quarter": "2021Q3"},  # published before the checks: not known, not marked
    ]
    html = issue.write_index(tmp_path, entries).read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    marks = {li.find("a")["href"]: li.find("span", class_="kf-warn-mark") for li in soup.find_all("li")}
    assert [href for href, mark in marks.items() if mark] == ["2022Q1/issue.html"]
    mark = marks["2022Q1/issue.html"]
    assert mark.get_text() == "⚠ 数据完整性 3"
    assert "Data completeness: 3 warnings" in mark["title"] and "About panel" in mark["title"]
    assert issue.write_index(tmp_path, entries).read_text(encoding="utf-8") == html  # deterministic


# --- the sample quarter ----------------------------------------------------------------------


def test_the_sample_spring_festival_dip_is_not_flagged(sample_root, session_cache, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", session_cache)
    # Both Spring Festival quarters of the published pair (2022-01-31..02-06, 2021-02-11..17).
    assert c.quarter_warnings(PRIOR, extracts.validate_quarter(PRIOR, sample_root)) == []
    report = extracts.validate_quarter(Q, sample_root)
    assert report.ok
    assert c.quarter_warnings(Q, report) == []
    # The dip is there: the festival days of the hotline fall well below their weekdays'
    # medians (about 40-55%), still above the 25% default.
    import duckdb

    info = report.files["inbound_calls"]
    counts = dict(
        duckdb.sql(
            "SELECT CAST(requested_at AS DATE), count(*) FROM read_parquet(?) GROUP BY 1",
            params=[str(extracts.parquet_path(Q, "inbound_calls", info.sha256))],
        ).fetchall()
    )
    monday = sorted(n for d, n in counts.items() if d.weekday() == 0)[6]
    assert 0.25 < counts[date(2022, 1, 31)] / monday < 0.6
    # At a threshold above the dip, it is flagged: the check does see it.
    flagged = c.quarter_warnings(Q, report, 0.6)
    assert date(2022, 1, 31).isoformat() in {w.period for w in flagged}


# --- through the entry points: make validate, STRICT=1, a publish with warnings ----------------

DROPPED_DAY, LOW_DAY, DROPPED_MONTH = "2022-03-08", "2022-03-09", "2022-02"


def _gap_quarter(sample_root: Path, base: Path) -> Path:
    """A data root of links to the sample, except online_chats.csv without 2022-03-08 and
    with a tenth of 2022-03-09, and awards.csv without February."""
    data = symlinked_quarters(sample_root, base / "data", (Q, PRIOR), editorial=Q)
    chats = data / Q / "online_chats.csv"
    chats.unlink()
    kept, low = [], 0
    for line in (sample_root / Q / "online_chats.csv").read_text(encoding="utf-8").splitlines(keepends=True):
        day = line.split(",", 2)[1][:10] if "," in line else ""
        if day == DROPPED_DAY:
            continue
        if day == LOW_DAY:
            low += 1
            if low % 10:
                continue
        kept.append(line)
    chats.write_text("".join(kept), encoding="utf-8")
    awards = data / Q / "awards.csv"
    awards.unlink()
    lines = (sample_root / Q / "awards.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    awards.write_text("".join(line for line in lines if not line.startswith(DROPPED_MONTH)), encoding="utf-8")
    return data


@pytest.fixture(scope="module")
def gap_data(sample_root, tmp_path_factory) -> Path:
    return _gap_quarter(sample_root, tmp_path_factory.mktemp("gaps"))


def _warning_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("⚠ ")]


EXPECTED = (
    ("online_chats.csv", DROPPED_DAY + " 周二", "rows 0,", "no rows on this day"),
    ("online_chats.csv", LOW_DAY + " 周三", "fewer than 25% of"),
    ("awards.csv", DROPPED_MONTH + ",", "rows 0,", "no rows in this month"),
)


def _assert_listed(lines: list[str]) -> None:
    assert len(lines) == 3, lines
    for line, texts in zip(lines, EXPECTED, strict=True):
        assert all(text in line for text in texts), (line, texts)
        assert "typical " in line


def test_make_validate_lists_the_warnings_and_exits_0(gap_data, session_cache):
    result = make("validate", f"Q={Q}", f"DATA={gap_data}", cache=session_cache)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2022Q1 completeness: 3 warnings" in output
    _assert_listed(_warning_lines(output))
    assert "all extracts valid, 3 completeness warning(s)" in output
    strict = make("validate", f"Q={Q}", f"DATA={gap_data}", "STRICT=1", cache=session_cache)
    assert strict.returncode == 2, strict.stdout + strict.stderr
    assert "refused (STRICT=1)" in strict.stderr


def test_make_validate_of_the_sample_has_no_warning(sample_root, session_cache):
    result = make("validate", f"Q={Q}", f"DATA={sample_root}", "STRICT=1", cache=session_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2022Q1 completeness: no warnings" in result.stdout


def _tree_digests(issue_dir: Path) -> dict[str, str]:
    """Every published file of the issue; only the publisher's work folder `.build/` is left out."""
    files = [p for p in sorted(issue_dir.rglob("*")) if ".build" not in p.relative_to(issue_dir).parts]
    return {
        str(p.relative_to(issue_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file()
    }


@pytest.fixture(scope="module")
def gap_out(published_out, tmp_path_factory) -> Path:
    """An OUT holding a copy of the published sample (no warnings) with its index."""
    out = tmp_path_factory.mktemp("gap-out")
    shutil.copytree(published_out / Q, out / Q)
    shutil.copy2(published_out / "index.html", out / "index.html")
    return out


def test_the_published_sample_says_no_warning(published_out):
    about = BeautifulSoup((published_out / Q / "issue.html").read_text(encoding="utf-8"), "html.parser")
    block = about.find("footer", class_="kf-about").find("div", class_="kf-completeness")
    assert block is not None and "No warnings" in block.get_text()
    assert json.loads((published_out / Q / "completeness.json").read_text(encoding="utf-8"))["warnings"] == []
    index = BeautifulSoup((published_out / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert index.find("a", href=f"{Q}/issue.html") is not None
    assert index.find("span", class_="kf-warn-mark") is None


def test_strict_refuses_and_leaves_the_issue_byte_identical(gap_data, gap_out, session_cache):
    # Through make: STRICT=1 runs the publisher even though make would find the copy up to date.
    before = _tree_digests(gap_out / Q)
    index = (gap_out / "index.html").read_bytes()
    result = make("quarter", f"Q={Q}", f"DATA={gap_data}", f"OUT={gap_out}", "STRICT=1", cache=session_cache)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    _assert_listed(_warning_lines(result.stderr))
    assert "refused with STRICT=1; nothing was published, the last published issue is unchanged" in output
    assert "publish without STRICT=1" in output and "fix or re-export the extracts" in output
    assert "sections:" not in output  # refused before any section ran
    assert _tree_digests(gap_out / Q) == before
    assert (gap_out / "index.html").read_bytes() == index


def test_a_publish_with_warnings_shows_them_in_about_and_index(gap_data, gap_out, session_cache):
    # Runs after the STRICT test (file order): this publish replaces the copy.
    result = run_cli("publish", Q, data=gap_data, out=gap_out, cache=session_cache)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    _assert_listed(_warning_lines(result.stdout))
    page = BeautifulSoup((gap_out / Q / "issue.html").read_text(encoding="utf-8"), "html.parser")
    block = page.find("footer", class_="kf-about").find("div", class_="kf-completeness")
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in block.find("tbody").find_all("tr")]
    assert [r[:3] for r in rows] == [
        ["online_chats.csv", DROPPED_DAY + " 周二", "0"],
        ["online_chats.csv", LOW_DAY + " 周三", rows[1][2]],
        ["awards.csv", DROPPED_MONTH, "0"],
    ]
    doc = json.loads((gap_out / Q / "completeness.json").read_text(encoding="utf-8"))
    assert [w["period"] for w in doc["warnings"]] == [DROPPED_DAY, LOW_DAY, DROPPED_MONTH]
    assert doc["completeness_min_share"] == 0.25
    low = doc["warnings"][1]
    assert low["rows"] < 0.25 * low["typical"] and int(rows[1][2].replace(",", "")) == low["rows"]
    index = BeautifulSoup((gap_out / "index.html").read_text(encoding="utf-8"), "html.parser")
    mark = index.find("span", class_="kf-warn-mark")
    assert mark is not None and mark.get_text() == "⚠ 数据完整性 3"
    assert mark.find_parent("li").find("a")["href"] == f"{Q}/issue.html"
