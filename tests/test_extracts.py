"""Tests for helpers.extracts: reading and validating one quarter's extracts.

Every test builds a tiny quarter in `tmp_path` (see `write_quarter`) and points
the cache at its own folder by monkeypatching `paths.CACHE`.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import paths
from helpers.data import extracts, parse, schema
from helpers.data.extracts import ExtractError, Problem, load_tables, quarter_available, validate_quarter
from helpers.quarter import QuarterError

Q = "2022Q1"

# One tiny valid extract per FileSpec. Lines are numbered as an editor shows them:
# header = line 1, first data row = line 2.
VALID: dict[str, str] = {
    "inbound_calls": (
        "call_id,line,requested_at,answered_at,ended_at,agent_type\n"
        "C001,综合,2022-01-03 08:00:00,2022-01-03 08:00:10,2022-01-03 08:05:00,自有\n"
        "C002,信用卡,2022-02-10 09:00:00,,,\n"
        "C003,综合,2022-03-31 23:59:59,2022-03-31 23:59:59,2022-04-01 00:03:00,外包\n"
    ),
    "online_chats": (
        "chat_id,requested_at,answered_at,ended_at,agent_type\n"
        "O001,2022-01-05 10:00:00,2022-01-05 10:00:30,2022-01-05 10:10:00,自有\n"
        "O002,2022-03-01 11:00:00,,,\n"
    ),
    "outbound_calls": (
        "call_id,dialed_at,service,connected\n"
        "B001,2022-01-04 09:00:00,风险提示,1\n"
        "B002,2022-02-04 09:30:00,营销邀约,0\n"
    ),
    "smart_sessions": (
        "session_id,channel,started_at,questions,standard_answers,recognized,transferred\n"
        "S001,文本机器人,2022-01-02 12:00:00,3,2,,0\n"
        "S002,语音导航,2022-02-02 12:00:00,1,1,1,1\n"
    ),
    "video_sessions": (
        "session_id,started_at,business_type\nV001,2022-01-07 14:00:00,理财咨询\nV002,2022-03-07 15:00:00,\n"
    ),
    "surveys": (
        "survey_id,channel,responded_at,rating\n"
        "R001,语音,2022-01-08 08:00:00,非常满意\n"
        "R002,在线,2022-02-08 08:00:00,满意\n"
        "R003,视频,2022-03-08 08:00:00,一般\n"
    ),
    "sms_batches": (
        "batch_id,sent_on,service,recipients\nM001,2022-01-10,到期提醒,1200\nM002,2022-03-10,账单通知,0\n"
    ),
    "feedback": (
        "feedback_id,reported_on,department,summary,status\n"
        'F001,2022-01-11,信用卡中心,"建议优化,分期页面",已优化\n'
        "F002,2022-02-11,个人金融部,网点排队,待反馈\n"
    ),
    "tickets": (
        "ticket_id,created_at,request_type,ticket_type,routed_to\n"
        "T001,2022-01-12 09:00:00,投诉,投诉,分支行\n"
        "T002,2022-02-12 09:00:00,咨询,建议,客服中心\n"
    ),
    "kb_changes": (
        "change_id,changed_on,section,action,knowledge_points\n"
        "K001,2022-01-13,信用卡,新增,12\n"
        "K002,2022-03-13,理财,优化,3\n"
    ),
    "training": (
        "session_id,held_on,topic,staff_id,hours\n"
        "TR01,2022-01-14,服务礼仪,E001,2\n"
        "TR01,2022-01-14,服务礼仪,E002,1.5\n"
        "TR02,2022-02-14,反诈知识,E001,3\n"
    ),
    "awards": (
        "month,category,winner,leader\n"
        "2022-01,综合优秀班组,一组,张三\n"
        "2022-02,综合绩效之星,李四,\n"
        "2022-03,综合绩效之星,李四,\n"
    ),
}


def write_quarter(root: Path, quarter: str = Q, **overrides: str | bytes | None) -> Path:
    """Write one valid tiny extract per FileSpec into `<root>/<quarter>/`.

    `overrides` replaces a file's text (str, written as UTF-8) or bytes, or
    removes the file (None). Returns the quarter folder.
    """
    folder = root / quarter
    folder.mkdir(parents=True, exist_ok=True)
    for name in schema.FILES:
        content = overrides.get(name, VALID[name])
        if content is None:
            continue
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / f"{name}.csv").write_bytes(data)
    return folder


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")


def appended(name: str, *rows: str) -> str:
    """The valid text of `name` with `rows` added at the end (first added row is
    on line len(valid lines) + 1)."""
    return VALID[name] + "".join(row + "\n" for row in rows)


def replaced(name: str, line: int, text: str) -> str:
    """The valid text of `name` with editor line `line` replaced by `text`."""
    lines = VALID[name].splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


def check(tmp_path: Path, **overrides) -> extracts.Report:
    write_quarter(tmp_path / "data", **overrides)
    return validate_quarter(Q, tmp_path / "data")


def only(report: extracts.Report) -> Problem:
    assert len(report.problems) == 1, report.format()
    assert report.total == 1
    return report.problems[0]


def as_tuples(report: extracts.Report) -> list[tuple]:
    return sorted((p.file, p.line or 0, p.column or "", p.value or "", p.rule) for p in report.problems)


# --- the valid quarter, typed tables ----------------------------------------------


def test_valid_quarter_is_ok_with_provenance(tmp_path):
    folder = write_quarter(tmp_path / "data")
    report = validate_quarter(Q, tmp_path / "data")
    assert report.ok, report.format()
    assert report.problems == []
    assert set(report.files) == set(schema.FILES)
    info = report.files["inbound_calls"]
    raw = (folder / "inbound_calls.csv").read_bytes()
    assert info.sha256 == hashlib.sha256(raw).hexdigest()
    assert info.path == folder / "inbound_calls.csv"
    assert info.encoding == "utf-8"
    assert info.rows == 3
    assert report.files["inbound_calls.csv"] is info  # file name works as key too
    assert report.files["training"].rows == 3
    assert "valid" in report.format()


def test_load_tables_typed_dtypes_and_values(tmp_path):
    write_quarter(tmp_path / "data")
    tables = load_tables(Q, tmp_path / "data")
    assert set(tables) == set(schema.FILES)
    inbound = tables["inbound_calls"]
    assert list(inbound.columns) == list(schema.FILES["inbound_calls"].column_names)
    assert inbound["call_id"].dtype == pd.StringDtype()
    assert inbound["call_id"].tolist() == ["C001", "C002", "C003"]
    assert inbound["requested_at"].dtype == np.dtype("datetime64[ns]")
    assert inbound["requested_at"].iloc[0] == pd.Timestamp("2022-01-03 08:00:00")
    assert inbound["answered_at"].isna().tolist() == [False, True, False]
    assert inbound["agent_type"].iloc[1] is pd.NA
    assert inbound["ended_at"].iloc[2] == pd.Timestamp("2022-04-01 00:03:00")

    outbound = tables["outbound_calls"]
    assert outbound["connected"].dtype == np.dtype(bool)
    assert outbound["connected"].tolist() == [True, False]

    smart = tables["smart_sessions"]
    assert smart["questions"].dtype == np.dtype("int64")
    assert smart["questions"].tolist() == [3, 1]
    assert smart["recognized"].dtype == pd.BooleanDtype()  # optional boolean
    assert smart["recognized"].iloc[0] is pd.NA
    assert bool(smart["recognized"].iloc[1]) is True

    training = tables["training"]
    assert training["hours"].dtype == np.dtype("float64")
    assert training["hours"].tolist() == [2.0, 1.5, 3.0]
    assert training["held_on"].iloc[0] == pd.Timestamp("2022-01-14")

    assert tables["sms_batches"]["recipients"].tolist() == [1200, 0]
    assert tables["sms_batches"]["sent_on"].dtype == np.dtype("datetime64[ns]")
    awards = tables["awards"]
    assert awards["month"].tolist() == [
        pd.Timestamp("2022-01-01"),
        pd.Timestamp("2022-02-01"),
        pd.Timestamp("2022-03-01"),
    ]
    assert awards["leader"].isna().tolist() == [False, True, True]
    # a quoted comma stays inside its field
    assert tables["feedback"]["summary"].iloc[0] == "建议优化,分期页面"


def test_load_tables_names_and_columns(tmp_path):
    write_quarter(tmp_path / "data")
    tables = load_tables(
        Q,
        tmp_path / "data",
        names=["surveys", "awards"],
        columns={"surveys": ["channel", "rating"]},
    )
    assert set(tables) == {"surveys", "awards"}
    assert list(tables["surveys"].columns) == ["channel", "rating"]
    assert tables["surveys"]["rating"].tolist() == ["非常满意", "满意", "一般"]
    assert list(tables["awards"].columns) == ["month", "category", "winner", "leader"]


def test_load_tables_raises_extract_error_with_report(tmp_path):
    write_quarter(tmp_path / "data", surveys=replaced("surveys", 3, "R002,在线,2022-02-08 08:00:00,好"))
    with pytest.raises(ExtractError) as caught:
        load_tables(Q, tmp_path / "data")
    report = caught.value.report
    assert not report.ok
    assert as_tuples(report) == [
        (
            "surveys.csv",
            3,
            "rating",
            "好",
            "not one of the allowed values: 非常满意, 满意, 一般, 不满意, 非常不满意",
        ),
    ]


def test_quarter_available(tmp_path):
    write_quarter(tmp_path / "data")
    assert quarter_available(Q, tmp_path / "data")
    assert not quarter_available("2021Q1", tmp_path / "data")


@pytest.mark.parametrize("bad", ["2022Q5", "2022q1", "22Q1", "../2022Q1", ""])
def test_bad_quarter_name_refused_before_disk(tmp_path, bad):
    missing_root = tmp_path / "nowhere"
    with pytest.raises(QuarterError):
        validate_quarter(bad, missing_root)
    assert not (tmp_path / "cache").exists()


def test_missing_quarter_folder_is_one_problem(tmp_path):
    report = validate_quarter(Q, tmp_path / "empty")
    problem = only(report)
    assert problem.file == "2022Q1/"
    assert problem.rule.startswith("the quarter's folder does not exist")


# --- files: presence, emptiness, gzip, encodings ------------------------------------


def test_missing_file_names_file_and_section(tmp_path):
    problem = only(check(tmp_path, tickets=None))
    assert (problem.file, problem.line, problem.column, problem.value) == ("tickets.csv", None, None, None)
    assert problem.rule == "file is missing; the bulletin section 工单 needs it"


def test_empty_file_names_file_and_section(tmp_path):
    problem = only(check(tmp_path, kb_changes=""))
    assert (problem.file, problem.line) == ("kb_changes.csv", None)
    assert problem.rule == "file is empty; the bulletin section 知识库维护 needs it"


def test_header_without_rows_names_file_and_section(tmp_path):
    header = VALID["feedback"].splitlines()[0] + "\n"
    problem = only(check(tmp_path, feedback=header))
    assert (problem.file, problem.line) == ("feedback.csv", None)
    assert problem.rule == ("file has a header but no data rows; the bulletin section 客户信息反馈 needs it")


def test_gzip_extract_is_read(tmp_path):
    folder = write_quarter(tmp_path / "data", awards=None)
    (folder / "awards.csv.gz").write_bytes(gzip.compress(VALID["awards"].encode("utf-8")))
    report = validate_quarter(Q, tmp_path / "data")
    assert report.ok, report.format()
    assert report.files["awards"].path.name == "awards.csv.gz"
    assert (
        report.files["awards"].sha256 == hashlib.sha256((folder / "awards.csv.gz").read_bytes()).hexdigest()
    )
    awards = load_tables(Q, tmp_path / "data", names=["awards"])["awards"]
    assert awards["winner"].tolist() == ["一组", "李四", "李四"]


def test_gzip_problem_lines_are_editor_lines(tmp_path):
    folder = write_quarter(tmp_path / "data", awards=None)
    text = appended("awards", "2022-13,综合绩效之星,王五,")
    (folder / "awards.csv.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    problem = only(validate_quarter(Q, tmp_path / "data"))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "awards.csv.gz",
        5,
        "month",
        "2022-13",
        "not a valid month (expected YYYY-MM)",
    )


def test_corrupt_gzip_is_a_problem(tmp_path):
    folder = write_quarter(tmp_path / "data", awards=None)
    (folder / "awards.csv.gz").write_bytes(b"this is not gzip at all\n")
    problem = only(validate_quarter(Q, tmp_path / "data"))
    assert problem.file == "awards.csv.gz"
    assert problem.rule == "file is not a readable gzip file (corrupt or truncated)"


def test_both_plain_and_gzip_is_an_error(tmp_path):
    folder = write_quarter(tmp_path / "data")
    (folder / "awards.csv.gz").write_bytes(gzip.compress(VALID["awards"].encode("utf-8")))
    problem = only(validate_quarter(Q, tmp_path / "data"))
    assert problem.file == "awards.csv"
    assert problem.rule == "both awards.csv and awards.csv.gz are present; keep only one of them"


def test_gb18030_extract_is_detected_and_decoded(tmp_path):
    report = check(tmp_path, inbound_calls=VALID["inbound_calls"].encode("gb18030"))
    assert report.ok, report.format()
    assert report.files["inbound_calls"].encoding == "gb18030"
    assert "inbound_calls.csv: encoding GB18030" in report.notes
    inbound = load_tables(Q, tmp_path / "data", names=["inbound_calls"])["inbound_calls"]
    assert inbound["line"].tolist() == ["综合", "信用卡", "综合"]
    assert inbound["agent_type"].tolist()[0] == "自有"


def test_gb18030_problem_reports_decoded_value(tmp_path):
    text = replaced("surveys", 4, "R003,视频,2022-03-08 08:00:00,很好")
    problem = only(check(tmp_path, surveys=text.encode("gb18030")))
    assert (problem.file, problem.line, problem.column, problem.value) == ("surveys.csv", 4, "rating", "很好")


def test_utf8_bom_is_accepted_and_stripped_from_header(tmp_path):
    report = check(tmp_path, surveys="\ufeff" + VALID["surveys"])
    assert report.ok, report.format()
    assert report.files["surveys"].encoding == "utf-8-sig"
    surveys = load_tables(Q, tmp_path / "data", names=["surveys"])["surveys"]
    assert surveys["survey_id"].tolist() == ["R001", "R002", "R003"]


def test_bytes_in_neither_encoding_name_file_and_line(tmp_path):
    data = VALID["surveys"].encode("utf-8").replace(b"R002,", b"R\xff02,")
    problem = only(check(tmp_path, surveys=data))
    assert (problem.file, problem.line, problem.column) == ("surveys.csv", 3, None)
    assert problem.rule == "bytes are neither UTF-8 nor GB18030 (bad encoding)"


def test_broken_byte_in_a_utf8_file_is_not_read_as_gb18030(tmp_path):
    # Many Chinese characters prove the file is UTF-8; a stray byte on line 4
    # (valid GB18030 as a pair with the next byte) is an error, not mojibake.
    data = VALID["surveys"].encode("utf-8").replace(b"R003,", b"R003\x81,")
    data = data.replace(b",\xe8\xa7\x86", b",\x81\x40")  # 视 -> a lone GB pair
    problem = only(check(tmp_path, surveys=data))
    assert (problem.file, problem.line) == ("surveys.csv", 4)
    assert problem.rule == "bytes are neither UTF-8 nor GB18030 (bad encoding)"


# --- header ---------------------------------------------------------------------------


def test_header_trimmed_order_free_extra_columns_noted(tmp_path):
    text = (
        " rating ,note,channel,survey_id , responded_at\n"
        "非常满意,x,语音,R001,2022-01-08 08:00:00\n"
        "满意,y,在线,R002,2022-02-08 08:00:00\n"
    )
    report = check(tmp_path, surveys=text)
    assert report.ok, report.format()
    assert any("surveys.csv" in n and "extra columns" in n and "note" in n for n in report.notes)
    surveys = load_tables(Q, tmp_path / "data", names=["surveys"])["surveys"]
    assert list(surveys.columns) == ["survey_id", "channel", "responded_at", "rating"]
    assert surveys["channel"].tolist() == ["语音", "在线"]


def test_missing_required_column(tmp_path):
    text = "survey_id,channel,responded_at\nR001,语音,2022-01-08 08:00:00\n"
    problem = only(check(tmp_path, surveys=text))
    assert (problem.file, problem.line, problem.column, problem.rule) == (
        "surveys.csv",
        1,
        "rating",
        "required column is missing from the header",
    )


def test_duplicate_column_name(tmp_path):
    text = "survey_id,channel,responded_at,rating,channel\nR001,语音,2022-01-08 08:00:00,满意,语音\n"
    problem = only(check(tmp_path, surveys=text))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "surveys.csv",
        1,
        "channel",
        "channel",
        "column name appears more than once in the header",
    )


# --- values ----------------------------------------------------------------------------


def test_padded_values_are_trimmed(tmp_path):
    text = replaced("inbound_calls", 3, "  C002 , 信用卡 ,  2022-02-10 09:00:00  ,  ,\t, ")
    report = check(tmp_path, inbound_calls=text)
    assert report.ok, report.format()
    inbound = load_tables(Q, tmp_path / "data", names=["inbound_calls"])["inbound_calls"]
    assert inbound["call_id"].iloc[1] == "C002"
    assert inbound["line"].iloc[1] == "信用卡"
    assert inbound["requested_at"].iloc[1] == pd.Timestamp("2022-02-10 09:00:00")
    assert inbound["agent_type"].iloc[1] is pd.NA


def test_empty_required_value(tmp_path):
    problem = only(
        check(tmp_path, outbound_calls=appended("outbound_calls", "B003,2022-03-04 09:30:00,   ,1"))
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "outbound_calls.csv",
        4,
        "service",
        "",
        "required value is empty",
    )


def test_value_not_among_choices(tmp_path):
    problem = only(
        check(tmp_path, inbound_calls=appended("inbound_calls", "C004,理财,2022-02-10 09:00:00,,,"))
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "inbound_calls.csv",
        5,
        "line",
        "理财",
        "not one of the allowed values: 综合, 信用卡",
    )


TIMESTAMP_SPELLINGS = {
    "2022-01-05 08:09:10": "2022-01-05 08:09:10",
    "2022-01-05T08:09:10": "2022-01-05 08:09:10",
    "2022/01/05 08:09:10": "2022-01-05 08:09:10",
    "2022/01/05T08:09:10": "2022-01-05 08:09:10",
    "2022-01-05 08:09:10.5": "2022-01-05 08:09:10.5",
    "2022-01-05 08:09:10.123456": "2022-01-05 08:09:10.123456",
    "2022-01-05 08:09:10.123456789": "2022-01-05 08:09:10.123456",
}


def test_every_accepted_timestamp_spelling(tmp_path):
    rows = [f"V{i:03d},{text},理财咨询" for i, text in enumerate(TIMESTAMP_SPELLINGS)]
    text = "session_id,started_at,business_type\n" + "\n".join(rows) + "\n"
    report = check(tmp_path, video_sessions=text)
    assert report.ok, report.format()
    video = load_tables(Q, tmp_path / "data", names=["video_sessions"])["video_sessions"]
    assert video["started_at"].tolist() == [pd.Timestamp(v) for v in TIMESTAMP_SPELLINGS.values()]


@pytest.mark.parametrize(
    "bad",
    [
        "2022/01-05 08:00:00",  # mixed separators
        "2022-01/05 08:00:00",
        "2022-02-30 08:00:00",  # no such day
        "2022-01-05 25:00:00",  # no such hour
        "2022-01-05 08:60:00",
        "2022-1-05 08:00:00",  # fields are two digits
        "2022-01-05 8:00:00",
        "2022-01-05",  # a date is not a timestamp
        "2022-01-05 08:00",
        "2022-01-05 08:00:00+08:00",
        "2022-01-05  08:00:00",
        "yesterday",
    ],
)
def test_rejected_timestamps(tmp_path, bad):
    problem = only(check(tmp_path, video_sessions=appended("video_sessions", f"V003,{bad},")))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "video_sessions.csv",
        4,
        "started_at",
        bad,
        "not a valid timestamp (expected YYYY-MM-DD HH:MM:SS, a real date and time)",
    )


def test_date_spellings_accepted(tmp_path):
    text = appended("kb_changes", "K003,2022/03/14,理财,新增,1", "K004,2022-02-28,理财,新增,1")
    report = check(tmp_path, kb_changes=text)
    assert report.ok, report.format()
    kb = load_tables(Q, tmp_path / "data", names=["kb_changes"])["kb_changes"]
    assert kb["changed_on"].tolist()[2:] == [pd.Timestamp("2022-03-14"), pd.Timestamp("2022-02-28")]


@pytest.mark.parametrize(
    "bad",
    [
        "2022-02-29",
        "2022-13-01",
        "2022/02-01",
        "2022-2-1",
        "2022-01-05 00:00:00",
        "20220105",
    ],
)
def test_rejected_dates(tmp_path, bad):
    problem = only(check(tmp_path, kb_changes=appended("kb_changes", f"K003,{bad},理财,新增,1")))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "kb_changes.csv",
        4,
        "changed_on",
        bad,
        "not a valid date (expected YYYY-MM-DD, a real date)",
    )


@pytest.mark.parametrize("bad", ["2022-13", "2022/01", "2022-1", "2022-01-01", "一月"])
def test_rejected_months(tmp_path, bad):
    problem = only(check(tmp_path, awards=appended("awards", f"{bad},综合绩效之星,王五,")))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "awards.csv",
        5,
        "month",
        bad,
        "not a valid month (expected YYYY-MM)",
    )


BOOLEAN_SPELLINGS = {
    "1": True,
    "0": False,
    "是": True,
    "否": False,
    "true": True,
    "false": False,
    "TRUE": True,
    "False": False,
    "Y": True,
    "N": False,
    "y": True,
    "n": False,
}


def test_every_accepted_boolean_spelling(tmp_path):
    rows = [f"B{i:03d},2022-01-04 09:00:00,风险提示,{s}" for i, s in enumerate(BOOLEAN_SPELLINGS)]
    text = "call_id,dialed_at,service,connected\n" + "\n".join(rows) + "\n"
    report = check(tmp_path, outbound_calls=text)
    assert report.ok, report.format()
    outbound = load_tables(Q, tmp_path / "data", names=["outbound_calls"])["outbound_calls"]
    assert outbound["connected"].tolist() == list(BOOLEAN_SPELLINGS.values())


@pytest.mark.parametrize("bad", ["yes", "2", "T", "对"])
def test_rejected_booleans(tmp_path, bad):
    problem = only(
        check(tmp_path, outbound_calls=appended("outbound_calls", f"B003,2022-03-04 09:30:00,风险提示,{bad}"))
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "outbound_calls.csv",
        4,
        "connected",
        bad,
        "not a valid yes/no value (expected 1/0, 是/否, true/false, Y/N)",
    )


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("1.5", "not a whole number"),
        ("abc", "not a whole number"),
        ("1e3", "not a whole number"),
        ("-3", "negative number (must be 0 or more)"),
    ],
)
def test_integers(tmp_path, bad, rule):
    problem = only(check(tmp_path, sms_batches=appended("sms_batches", f"M003,2022-03-11,账单通知,{bad}")))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "sms_batches.csv",
        4,
        "recipients",
        bad,
        rule,
    )


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("-0.5", "negative number (must be 0 or more)"),
        ("一小时", "not a number"),
        ("1,5", "not a number"),
    ],
)
def test_decimals(tmp_path, bad, rule):
    problem = only(check(tmp_path, training=appended("training", f'TR03,2022-03-14,合规,E009,"{bad}"')))
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "training.csv",
        5,
        "hours",
        bad,
        rule,
    )


def test_decimal_spellings_accepted(tmp_path):
    report = check(
        tmp_path,
        training=appended("training", "TR03,2022-03-14,合规,E009,0.25", "TR03,2022-03-14,合规,E010,007"),
    )
    assert report.ok, report.format()
    hours = load_tables(Q, tmp_path / "data", names=["training"])["training"]["hours"]
    assert hours.tolist()[3:] == [0.25, 7.0]


# --- the quarter, keys, cross-column rules ---------------------------------------------------


@pytest.mark.parametrize("when", ["2022-04-01 00:00:00", "2021-12-31 23:59:59", "2021-01-05 08:00:00"])
def test_start_outside_quarter_is_wrong_period(tmp_path, when):
    problem = only(check(tmp_path, inbound_calls=appended("inbound_calls", f"C004,综合,{when},,,")))
    assert (problem.file, problem.line, problem.column, problem.value) == (
        "inbound_calls.csv",
        5,
        "requested_at",
        when,
    )
    assert problem.rule == (
        "requested_at is outside 2022Q1 (2022-01-01 to 2022-03-31): the extract is for the wrong period"
    )


def test_only_the_start_column_places_a_record(tmp_path):
    # ended_at on 2022-04-01 (row C003 of the valid file) is not an error; a
    # wrong-period date and month are.
    report = check(
        tmp_path,
        sms_batches=appended("sms_batches", "M003,2022-04-01,账单通知,5"),
        awards=appended("awards", "2021-12,综合绩效之星,王五,"),
    )
    assert as_tuples(report) == [
        (
            "awards.csv",
            5,
            "month",
            "2021-12",
            "month is outside 2022Q1 (2022-01-01 to 2022-03-31): the extract is for the wrong period",
        ),
        (
            "sms_batches.csv",
            4,
            "sent_on",
            "2022-04-01",
            "sent_on is outside 2022Q1 (2022-01-01 to 2022-03-31): the extract is for the wrong period",
        ),
    ]


def test_other_quarter_bounds(tmp_path):
    write_quarter(tmp_path / "data", quarter="2022Q4")
    report = validate_quarter("2022Q4", tmp_path / "data")
    rules = {p.rule for p in report.problems}
    assert "month is outside 2022Q4 (2022-10-01 to 2022-12-31): the extract is for the wrong period" in rules
    assert report.count(file="awards.csv") == 3


def test_duplicate_ids_name_the_first_line(tmp_path):
    report = check(
        tmp_path,
        inbound_calls=appended(
            "inbound_calls", "C002,综合,2022-02-11 09:00:00,,,", "C002,综合,2022-02-12 09:00:00,,,"
        ),
    )
    assert as_tuples(report) == [
        (
            "inbound_calls.csv",
            5,
            "call_id",
            "C002 (first seen on line 3)",
            "duplicate call_id: the same value appears on an earlier line",
        ),
        (
            "inbound_calls.csv",
            6,
            "call_id",
            "C002 (first seen on line 3)",
            "duplicate call_id: the same value appears on an earlier line",
        ),
    ]


def test_duplicate_training_key(tmp_path):
    # same session, other person: fine; same session and person: duplicate.
    report = check(
        tmp_path,
        training=appended("training", "TR02,2022-02-14,反诈知识,E002,3", "TR01,2022-01-14,服务礼仪,E002,1"),
    )
    assert as_tuples(report) == [
        (
            "training.csv",
            6,
            "session_id, staff_id",
            "TR01, E002 (first seen on line 3)",
            "duplicate (session_id, staff_id): the same value appears on an earlier line",
        ),
    ]


def test_duplicate_awards_key(tmp_path):
    report = check(
        tmp_path, awards=appended("awards", "2022-01,综合绩效之星,李四,", "2022-02,综合绩效之星,李四,王")
    )
    assert as_tuples(report) == [
        (
            "awards.csv",
            6,
            "month, category, winner",
            "2022-02, 综合绩效之星, 李四 (first seen on line 3)",
            "duplicate (month, category, winner): the same value appears on an earlier line",
        ),
    ]


def test_answered_before_requested(tmp_path):
    problem = only(
        check(
            tmp_path,
            inbound_calls=appended(
                "inbound_calls", "C004,综合,2022-01-01 09:00:00,2022-01-01 08:59:00,2022-01-01 09:10:00,自有"
            ),
        )
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "inbound_calls.csv",
        5,
        "answered_at",
        "2022-01-01 08:59:00",
        "answered_at is earlier than requested_at",
    )
    line = problem.format()
    assert "\n" not in line
    for word in (
        "inbound_calls.csv",
        "line 5",
        "column answered_at",
        'value "2022-01-01 08:59:00"',
        "answered_at is earlier than requested_at",
    ):
        assert word in line


def test_ended_before_answered(tmp_path):
    problem = only(
        check(
            tmp_path,
            online_chats=appended(
                "online_chats", "O003,2022-01-01 09:00:00,2022-01-01 09:01:00,2022-01-01 09:00:30,外包"
            ),
        )
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "online_chats.csv",
        4,
        "ended_at",
        "2022-01-01 09:00:30",
        "ended_at is earlier than answered_at",
    )


def test_answered_requires_end_and_agent_type(tmp_path):
    report = check(
        tmp_path, online_chats=appended("online_chats", "O003,2022-01-01 09:00:00,2022-01-01 09:01:00,,")
    )
    assert as_tuples(report) == [
        ("online_chats.csv", 4, "agent_type", "", "agent_type is required when answered_at is given"),
        ("online_chats.csv", 4, "ended_at", "", "ended_at is required when answered_at is given"),
    ]


def test_voice_navigation_requires_recognized(tmp_path):
    problem = only(
        check(tmp_path, smart_sessions=appended("smart_sessions", "S003,语音导航,2022-02-02 12:00:00,1,0,,0"))
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "smart_sessions.csv",
        4,
        "recognized",
        "",
        "recognized is required when channel is 语音导航",
    )


def test_standard_answers_not_above_questions(tmp_path):
    problem = only(
        check(
            tmp_path, smart_sessions=appended("smart_sessions", "S003,文本机器人,2022-02-02 12:00:00,2,3,,0")
        )
    )
    assert (problem.file, problem.line, problem.column, problem.value, problem.rule) == (
        "smart_sessions.csv",
        4,
        "standard_answers",
        "3",
        "standard_answers is greater than questions",
    )


# --- rows, quoting, line numbers ----------------------------------------------------------


def test_row_with_too_few_and_too_many_fields(tmp_path):
    report = check(
        tmp_path,
        tickets=appended(
            "tickets", "T003,2022-02-12 09:00:00,咨询", "T004,2022-02-12 09:00:00,咨询,建议,客服中心,x"
        ),
    )
    assert as_tuples(report) == [
        (
            "tickets.csv",
            4,
            "",
            "T003,2022-02-12 09:00:00,咨询",
            "row has a different number of fields than the header (5 columns)",
        ),
        (
            "tickets.csv",
            5,
            "",
            "T004,2022-02-12 09:00:00,咨询,建议,客服中心,x",
            "row has a different number of fields than the header (5 columns)",
        ),
    ]


def test_extract_truncated_mid_row(tmp_path):
    text = VALID["tickets"] + "T003,2022-02-12 09:0"
    problem = only(check(tmp_path, tickets=text))
    assert (problem.file, problem.line, problem.value) == ("tickets.csv", 4, "T003,2022-02-12 09:0")
    assert problem.rule == "row has a different number of fields than the header (5 columns)"


def test_unclosed_quote_at_end_of_file(tmp_path):
    text = VALID["awards"] + '2022-03,综合优秀班组,二组,"王'
    problem = only(check(tmp_path, awards=text))
    assert (problem.file, problem.line, problem.value) == ("awards.csv", 5, "2022-03,综合优秀班组,二组,王")
    assert problem.rule == ("quoted field is never closed: the file ends inside it (truncated extract?)")


def test_quoted_newlines_and_blank_lines_keep_editor_lines(tmp_path):
    text = (
        "feedback_id,reported_on,department,summary,status\n"
        'F001,2022-01-11,信用卡中心,"第一行\n第二行\n第三行",已优化\n'  # lines 2-4
        "\n"  # line 5: blank, skipped
        'F002,2022-02-11,个人金融部,"a, ""quoted"" b",待反馈\n'  # line 6
        "F003,2022-02-30,个人金融部,x,待反馈\n"  # line 7
    )
    problem = only(check(tmp_path, feedback=text))
    assert (problem.file, problem.line, problem.column, problem.value) == (
        "feedback.csv",
        7,
        "reported_on",
        "2022-02-30",
    )
    report = check(tmp_path, feedback=text.replace("2022-02-30", "2022-02-28"))
    assert report.ok, report.format()
    assert report.files["feedback"].rows == 3
    table = load_tables(Q, tmp_path / "data", names=["feedback"])["feedback"]
    assert table["summary"].tolist() == ["第一行\n第二行\n第三行", 'a, "quoted" b', "x"]


def test_crlf_line_endings(tmp_path):
    text = appended("surveys", "R004,语音,2022-03-09 08:00:00,差").replace("\n", "\r\n")
    problem = only(check(tmp_path, surveys=text))
    assert (problem.file, problem.line, problem.column, problem.value) == ("surveys.csv", 5, "rating", "差")


def test_all_problems_of_all_files_in_one_report(tmp_path):
    report = check(
        tmp_path,
        tickets=None,
        surveys=appended("surveys", "R004,电话,2022-03-09 08:00:00,差"),
        sms_batches=appended("sms_batches", "M003,2022-03-11,,-1"),
    )
    assert as_tuples(report) == [
        ("sms_batches.csv", 4, "recipients", "-1", "negative number (must be 0 or more)"),
        ("sms_batches.csv", 4, "service", "", "required value is empty"),
        ("surveys.csv", 5, "channel", "电话", "not one of the allowed values: 语音, 在线, 视频"),
        (
            "surveys.csv",
            5,
            "rating",
            "差",
            "not one of the allowed values: 非常满意, 满意, 一般, 不满意, 非常不满意",
        ),
        ("tickets.csv", 0, "", "", "file is missing; the bulletin section 工单 needs it"),
    ]


def test_unknown_files_are_noted(tmp_path):
    folder = write_quarter(tmp_path / "data")
    (folder / "old_calls.csv").write_text("x\n1\n", encoding="utf-8")
    (folder / "editorial").mkdir()
    report = validate_quarter(Q, tmp_path / "data")
    assert report.ok
    assert [n for n in report.notes if "unknown file" in n] == [
        "unknown file ignored / 未识别的文件已忽略: old_calls.csv"
    ]


# --- report: grouping and capping -------------------------------------------------------------


def test_many_bad_rows_are_counted_exactly_and_capped_in_the_report(tmp_path):
    rows = [f"V{i:05d},2022-01-07 14:00:00" for i in range(3000)]  # missing third field
    rows += [f"W{i:05d},2022-13-07 14:00:00," for i in range(1500)]
    text = "session_id,started_at,business_type\n" + "\n".join(rows) + "\n"
    report = check(tmp_path, video_sessions=text)
    assert report.total == 4500
    field_rule = "row has a different number of fields than the header (3 columns)"
    ts_rule = "not a valid timestamp (expected YYYY-MM-DD HH:MM:SS, a real date and time)"
    assert report.count(file="video_sessions.csv", rule=field_rule) == 3000
    assert report.count(rule=ts_rule) == 1500
    assert len(report.problems) <= 2 * extracts.MAX_STORED_PER_RULE
    first_ts = min((p for p in report.problems if p.rule == ts_rule), key=lambda p: p.line)
    assert (first_ts.line, first_ts.value) == (3002, "2022-13-07 14:00:00")

    text_report = report.format(max_examples=3)
    lines = text_report.splitlines()
    assert len(lines) < 20
    assert "[3,000×] " + field_rule in text_report
    assert "… and 2,997 more" in text_report
    assert "… and 1,497 more" in text_report
    examples = [line for line in lines if line.startswith("    video_sessions.csv")]
    assert len(examples) == 6
    assert examples[0].startswith("    video_sessions.csv 第2行 line 2, value ")


# --- cache ---------------------------------------------------------------------------------


def test_cache_hit_does_not_parse_again(tmp_path, monkeypatch):
    folder = write_quarter(tmp_path / "data")
    first = validate_quarter(Q, tmp_path / "data")
    assert first.ok
    assert list((tmp_path / "cache" / "validated").rglob("*.parquet"))

    def parse_must_not_run(*args, **kwargs):
        raise AssertionError("parsed again despite an unchanged file")

    monkeypatch.setattr(parse, "_parse_file", parse_must_not_run)
    second = validate_quarter(Q, tmp_path / "data")
    assert second.ok
    assert second.files["awards"].sha256 == first.files["awards"].sha256
    assert load_tables(Q, tmp_path / "data", names=["awards"])["awards"]["winner"].iloc[0] == "一组"

    # a changed file is parsed again (and only that one)
    calls = []
    monkeypatch.setattr(
        parse, "_parse_file", lambda spec, *a: calls.append(spec.name) or _real_parse(spec, *a)
    )
    (folder / "awards.csv").write_text(appended("awards", "2022-03,综合优秀班组,二组,王"), encoding="utf-8")
    third = validate_quarter(Q, tmp_path / "data")
    assert third.ok
    assert calls == ["awards"]


_real_parse = parse._parse_file


def test_cached_report_of_an_invalid_file_is_reused(tmp_path, monkeypatch):
    text = appended("surveys", "R004,语音,2022-03-09 08:00:00,差")
    first = check(tmp_path, surveys=text)
    monkeypatch.setattr(parse, "_parse_file", lambda *a: pytest.fail("parsed again"))
    second = validate_quarter(Q, tmp_path / "data")
    assert (
        as_tuples(second)
        == as_tuples(first)
        == [
            (
                "surveys.csv",
                5,
                "rating",
                "差",
                "not one of the allowed values: 非常满意, 满意, 一般, 不满意, 非常不满意",
            )
        ]
    )


def test_cache_false_writes_nothing(tmp_path):
    write_quarter(tmp_path / "data")
    assert validate_quarter(Q, tmp_path / "data", cache=False).ok
    assert not (tmp_path / "cache").exists()


def test_cache_is_per_quarter(tmp_path):
    # identical bytes are valid for 2022Q1 and wrong-period for 2022Q2.
    write_quarter(tmp_path / "data")
    write_quarter(tmp_path / "data", quarter="2022Q2")
    assert validate_quarter(Q, tmp_path / "data").ok
    other = validate_quarter("2022Q2", tmp_path / "data")
    assert other.count(file="awards.csv") == 3


def test_unclosed_quote_mid_file_across_read_blocks(tmp_path, monkeypatch):
    # The open quote swallows the rest of the file, far beyond one read block.
    monkeypatch.setattr(parse, "_BLOCK_SIZE", 256)
    tail = "".join(f"T{i:03d},2022-02-12 09:00:00,投诉,投诉,分支行\n" for i in range(10, 60))
    text = VALID["tickets"] + 'T003,2022-02-12 09:00:00,"投诉,投诉,分支行\n' + tail
    report = check(tmp_path, tickets=text)
    assert sorted((p.line, p.rule) for p in report.problems) == [
        (4, "quoted field is never closed: the file ends inside it (truncated extract?)"),
        (4, "row has a different number of fields than the header (5 columns)"),
    ]


def test_whitespace_only_line_is_a_row_with_one_field(tmp_path):
    problem = only(check(tmp_path, tickets=VALID["tickets"] + "   \n"))
    assert (problem.file, problem.line, problem.value, problem.rule) == (
        "tickets.csv",
        4,
        "   ",
        "row has a different number of fields than the header (5 columns)",
    )


def test_leading_blank_line_and_lone_cr_line_endings(tmp_path):
    dup = "T001,2022-01-12 09:00:00,投诉,投诉,分支行"
    report = check(tmp_path, tickets="\n" + appended("tickets", dup))
    assert as_tuples(report) == [
        (
            "tickets.csv",
            5,
            "ticket_id",
            "T001 (first seen on line 3)",
            "duplicate ticket_id: the same value appears on an earlier line",
        )
    ]
    report = check(tmp_path, tickets=appended("tickets", dup).replace("\n", "\r"))
    assert as_tuples(report) == [
        (
            "tickets.csv",
            4,
            "ticket_id",
            "T001 (first seen on line 2)",
            "duplicate ticket_id: the same value appears on an earlier line",
        )
    ]


def test_trailing_empty_header_cells_are_ignored(tmp_path):
    text = (
        "ticket_id,created_at,request_type,ticket_type,routed_to,,\n"
        "T001,2022-01-12 09:00:00,投诉,投诉,分支行,,\n"
    )
    report = check(tmp_path, tickets=text)
    assert report.ok, report.format()
    assert "tickets.csv: 2 unnamed column(s) ignored" in report.notes


# The cheap check of a clean batch (parse._clean_column) must never pass what the full
# check refuses, and must type what it passes exactly as the full check does. Each value
# is checked in a batch with a valid neighbour, as it would stream by.
CLEAN_EDGES = {
    ("inbound_calls", "requested_at"): (
        ["2022-01-05 08:09:10", "2022-01-05T08:09:10", "2022-01-05 08:09:10.5", "2022-01-05 08:09:10.123456"],
        [
            "",
            "2022-01-05 08:09:10.1234567",
            "2022/01/05 08:09:10",
            " 2022-01-05 08:09:10",
            "2022-01-05 08:09:10 ",
            "2022-01-05 08:09:10\u3000",
            "２022-01-05 08:09:10",
            "2022-01-05 08:09:10Z",
            "2022-01-05 08:09:10.5Z",
            "2022-01-05 08:09:10+08:00",
            "2022-01-05 08:09:10.5+08",
            "2022-01-05 08:09:10-0800",
            "2022-01-05 08:09:10.",
            "2022-01-05 08:09:10,5",
            "2022-01-05 08:09:10.a",
            "2022-01-05 08:09:10.5 ",
            "2022-01-05T080910.123",
            "2022-01-05 0809:10.12",
            "2022-01-05 08:09.123456",
            "2022-02-30 08:09:10.5",
            "2022-01-05 24:00:00.0",
            "2022-01-05 23:59:60.5",
            "2022-01-05",
            "2022-01-05 08:09",
        ],
    ),
    ("inbound_calls", "answered_at"): (
        ["", "2022-01-05 08:09:10", "2022-01-05 08:09:10.25"],
        [" ", "\u3000"],
    ),
    ("smart_sessions", "questions"): (
        ["0", "12", "123456789012345678"],
        ["", " 12", "12 ", "-1", "1.0", "１２", "1234567890123456789", "\u300012", "+1"],
    ),
    ("outbound_calls", "connected"): (
        ["1", "0", "是", "否", "true", "false", "y", "n"],
        ["", "True", "Y", " 1", "yes"],
    ),
    ("smart_sessions", "recognized"): (["", "1", "否"], [" ", "2"]),
    ("inbound_calls", "line"): (["综合", "信用卡"], ["", " 综合", "综合\u3000", "其他"]),
    ("inbound_calls", "agent_type"): (["", "自有", "外包"], [" 自有", "自有 "]),
}


@pytest.mark.parametrize("where", list(CLEAN_EDGES), ids="/".join)
def test_clean_batch_check_agrees_with_the_full_check(where, monkeypatch):
    name, column = where
    col = schema.FILES[name].column(column)
    clean, other = CLEAN_EDGES[where]
    neighbour = clean[-1]
    for value in clean + other:
        raw = pa.array([value, neighbour])
        fast = parse._clean_column(col, raw)
        with monkeypatch.context() as m:
            m.setattr(parse, "_clean_column", lambda *_: None)
            sink = parse._Collector(f"{name}.csv")
            full = parse._check_column(col, raw, 0, sink)
        if value in clean:
            assert fast is not None, f"{value!r} should take the cheap path"
        if fast is None:
            continue
        assert not sink.counts, f"{value!r} passed the cheap check, the full check says {sink.counts}"
        target = parse._ARROW_TYPES[col.kind]
        assert fast.typed.cast(target).equals(full.typed.cast(target)), value
        assert fast.trimmed.equals(full.trimmed), value
        assert (fast.present == full.present).all() and (fast.ok == full.ok).all(), value


def test_a_key_hashes_the_same_in_any_batch_layout():
    """Repeats across batches are found only if a key's hash does not depend on its
    neighbours: fixed-width and gathered batches, sliced and large strings agree."""
    alone = parse._key_hashes([pa.array(["C1", "C2"])])  # one width: the block path
    mixed = parse._key_hashes([pa.array(["C200000000000000000", "C1", "", "C2"])])  # gathered
    sliced = parse._key_hashes([pa.array(["xx", "C2", "C1"]).slice(1)])
    large = parse._key_hashes([pa.array(["C1", "C2"], pa.large_string())])
    assert len(mixed) == 3  # the empty key is left out
    assert list(alone) == list(mixed[1:]) == list(sliced[::-1]) == list(large)
    assert len(set(mixed)) == 3
    # Composite keys: the split between the columns counts, and so does their order.
    split = parse._key_hashes([pa.array(["ab", "a", "a", "b"]), pa.array(["c", "bc", "b", "a"])])
    assert len(set(split)) == 4
    assert len(parse._key_hashes([pa.array(["a", "b"]), pa.array(["", "x"])])) == 1


def test_duplicate_ids_are_found_across_read_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(parse, "_BLOCK_SIZE", 256)  # a block of a few rows
    rows = [f"V{i:04d},2022-01-07 14:00:00," for i in range(60)] + ["V0003,2022-01-08 14:00:00,"]
    text = "session_id,started_at,business_type\n" + "\n".join(rows) + "\n"
    problem = only(check(tmp_path, video_sessions=text))
    assert (problem.line, problem.column, problem.value) == (62, "session_id", "V0003 (first seen on line 5)")
