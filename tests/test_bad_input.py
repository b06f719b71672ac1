"""Bad input through the real entry point, `make quarter Q=... DATA=... OUT=...`.

One case per rule of docs/contract/EXTRACTS.md. Each case writes the tiny valid
quarter of test_extracts with exactly one rule broken, copies an issue that was
published before into its OUT, and runs `make quarter`. The publisher must
refuse (non-zero exit), name file, editor line, column, offending value and the
rule on one line of its message, print no traceback, and leave the earlier
issue byte-identical. The cases run a few at a time (each is its own process
with its own DATA, OUT and cache); every test then checks its own outcome.

Also here: quarter names make refuses before any recipe runs, a GB18030
quarter validating through `make validate`, and two publishes of one quarter
started at the same time.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, make, make_env
from test_extracts import VALID, appended, replaced, write_quarter

Q = "2022Q1"
# Published files that must not change when a publish is refused.
GUARDED = ("issue.html", "metrics.json", "kpi.html")
# An mtime older than any input: make then always hands the run to the publisher.
LONG_AGO = 946_684_800  # 2000-01-01


def digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in GUARDED}


def copy_published(published_out: Path, out: Path) -> Path:
    """Copy the published sample issue into `out` and age its files (see LONG_AGO)."""
    issue_dir = out / Q
    shutil.copytree(published_out / Q, issue_dir)
    for name in GUARDED:
        os.utime(issue_dir / name, (LONG_AGO, LONG_AGO))
    return issue_dir


# --- one case per contract rule -------------------------------------------------------


@dataclass(frozen=True)
class Case:
    overrides: dict[str, str | bytes | None]
    # Texts that must all appear on one line of the message.
    expect: tuple[str, ...]
    extra: Callable[[Path], None] | None = None  # more changes to the quarter folder


def _awards_gz_too(folder: Path) -> None:
    (folder / "awards.csv.gz").write_bytes(gzip.compress(VALID["awards"].encode("utf-8")))


def at(line: int, column: str, value: str) -> tuple[str, ...]:
    return (f"line {line},", f"column {column},", f'value "{value}"')


BAD_BYTES = VALID["surveys"].encode("utf-8").replace(b"R002,", b"R0\xff\xfe\xff02,")

CASES: dict[str, Case] = {
    "missing_file": Case({"tickets": None}, ("tickets.csv", "file is missing", "工单")),
    "empty_file": Case({"kb_changes": ""}, ("kb_changes.csv", "file is empty", "知识库维护")),
    "header_only": Case(
        {"feedback": VALID["feedback"].splitlines()[0] + "\n"},
        ("feedback.csv", "header but no data rows", "客户信息反馈"),
    ),
    "csv_and_csv_gz": Case({}, ("awards.csv", "awards.csv.gz", "keep only one"), extra=_awards_gz_too),
    "missing_column": Case(
        {"surveys": "survey_id,channel,responded_at\nR001,语音,2022-01-08 08:00:00\n"},
        ("surveys.csv", "line 1,", "column rating", "required column is missing"),
    ),
    "bad_encoding": Case({"surveys": BAD_BYTES}, ("surveys.csv", "line 3", "neither UTF-8 nor GB18030")),
    "unparseable_timestamp": Case(
        {"video_sessions": appended("video_sessions", "V003,2022-01-05 25:00:00,")},
        ("video_sessions.csv", *at(4, "started_at", "2022-01-05 25:00:00"), "not a valid timestamp"),
    ),
    "timestamp_out_of_quarter": Case(
        {"inbound_calls": appended("inbound_calls", "C004,综合,2022-04-01 00:00:00,,,")},
        (
            "inbound_calls.csv",
            *at(5, "requested_at", "2022-04-01 00:00:00"),
            "outside 2022Q1",
            "wrong period",
        ),
    ),
    "bad_date": Case(
        {"kb_changes": appended("kb_changes", "K003,2022-02-30,理财,新增,1")},
        ("kb_changes.csv", *at(4, "changed_on", "2022-02-30"), "not a valid date"),
    ),
    "bad_month": Case(
        {"awards": appended("awards", "2022-13,综合绩效之星,王五,")},
        ("awards.csv", *at(5, "month", "2022-13"), "not a valid month"),
    ),
    "bad_boolean": Case(
        {"outbound_calls": appended("outbound_calls", "B003,2022-03-04 09:30:00,风险提示,yes")},
        ("outbound_calls.csv", *at(4, "connected", "yes"), "not a valid yes/no value"),
    ),
    "negative_integer": Case(
        {"sms_batches": appended("sms_batches", "M003,2022-03-11,账单通知,-3")},
        ("sms_batches.csv", *at(4, "recipients", "-3"), "negative number"),
    ),
    "non_integer": Case(
        {"sms_batches": appended("sms_batches", "M003,2022-03-11,账单通知,1.5")},
        ("sms_batches.csv", *at(4, "recipients", "1.5"), "not a whole number"),
    ),
    "negative_decimal": Case(
        {"training": appended("training", "TR03,2022-03-14,合规,E009,-0.5")},
        ("training.csv", *at(5, "hours", "-0.5"), "negative number"),
    ),
    "bad_choice": Case(
        {"surveys": appended("surveys", "R004,语音,2022-03-09 08:00:00,差")},
        ("surveys.csv", *at(5, "rating", "差"), "not one of the allowed values"),
    ),
    "empty_required_cell": Case(
        {"outbound_calls": appended("outbound_calls", "B003,2022-03-04 09:30:00,  ,1")},
        ("outbound_calls.csv", *at(4, "service", ""), "required value is empty"),
    ),
    "duplicate_id": Case(
        {"tickets": appended("tickets", "T001,2022-03-12 09:00:00,咨询,咨询,客服中心")},
        ("tickets.csv", "line 4,", "column ticket_id,", 'value "T001', "line 2", "duplicate ticket_id"),
    ),
    "duplicate_training_key": Case(
        {"training": appended("training", "TR01,2022-01-14,服务礼仪,E002,1")},
        (
            "training.csv",
            "line 5,",
            "column session_id, staff_id,",
            'value "TR01, E002',
            "duplicate (session_id, staff_id)",
        ),
    ),
    "duplicate_awards_key": Case(
        {"awards": appended("awards", "2022-02,综合绩效之星,李四,")},
        (
            "awards.csv",
            "line 5,",
            "column month, category, winner,",
            'value "2022-02, 综合绩效之星, 李四',
            "duplicate (month, category, winner)",
        ),
    ),
    "answered_before_requested": Case(
        {
            "inbound_calls": appended(
                "inbound_calls", "C004,综合,2022-01-01 09:00:00,2022-01-01 08:59:00,2022-01-01 09:10:00,自有"
            )
        },
        (
            "inbound_calls.csv",
            *at(5, "answered_at", "2022-01-01 08:59:00"),
            "answered_at is earlier than requested_at",
        ),
    ),
    "ended_missing_when_answered": Case(
        {"online_chats": appended("online_chats", "O003,2022-01-01 09:00:00,2022-01-01 09:01:00,,自有")},
        ("online_chats.csv", *at(4, "ended_at", ""), "ended_at is required when answered_at is given"),
    ),
    "agent_type_missing_when_answered": Case(
        {
            "inbound_calls": appended(
                "inbound_calls", "C004,综合,2022-01-01 09:00:00,2022-01-01 09:01:00,2022-01-01 09:05:00,"
            )
        },
        ("inbound_calls.csv", *at(5, "agent_type", ""), "agent_type is required when answered_at is given"),
    ),
    "standard_answers_above_questions": Case(
        {"smart_sessions": appended("smart_sessions", "S003,文本机器人,2022-02-02 12:00:00,2,3,,0")},
        ("smart_sessions.csv", *at(4, "standard_answers", "3"), "standard_answers is greater than questions"),
    ),
    "recognized_missing_for_voice_navigation": Case(
        {"smart_sessions": appended("smart_sessions", "S003,语音导航,2022-02-02 12:00:00,1,0,,0")},
        ("smart_sessions.csv", *at(4, "recognized", ""), "recognized is required when channel is 语音导航"),
    ),
    "truncated_mid_row": Case(
        {"tickets": VALID["tickets"] + "T003,2022-02-12 09:0"},
        ("tickets.csv", "line 4,", 'value "T003,2022-02-12 09:0"', "different number of fields"),
    ),
    "unclosed_quote": Case(
        {"awards": VALID["awards"] + '2022-03,综合优秀班组,二组,"王'},
        ("awards.csv", "line 5,", "never closed"),
    ),
}


@dataclass
class Outcome:
    result: subprocess.CompletedProcess
    before: dict[str, str]
    after: dict[str, str]
    issue_dir: Path

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def _run_case(name: str, base: Path, published_out: Path) -> Outcome:
    case = CASES[name]
    work = base / name
    folder = write_quarter(work / "data", **case.overrides)
    if case.extra:
        case.extra(folder)
    issue_dir = copy_published(published_out, work / "out")
    before = digests(issue_dir)
    result = make("quarter", f"Q={Q}", f"DATA={work / 'data'}", f"OUT={work / 'out'}", cache=work / "cache")
    return Outcome(result, before, digests(issue_dir), issue_dir)


@pytest.fixture(scope="module")
def outcomes(published_out, tmp_path_factory) -> dict[str, Outcome]:
    """Every case run once through `make quarter`, three processes at a time."""
    base = tmp_path_factory.mktemp("bad-input")
    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(_run_case, name, base, published_out) for name in CASES}
        return {name: fut.result() for name, fut in futures.items()}


def test_every_case_breaks_a_single_rule_of_a_valid_quarter(tmp_path):
    # The base quarter the cases start from is itself accepted by `make validate`.
    write_quarter(tmp_path / "data")
    result = make("validate", f"Q={Q}", f"DATA={tmp_path / 'data'}", cache=tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_bad_extract_is_refused_with_a_precise_message(outcomes, name):
    outcome = outcomes[name]
    output = outcome.output
    assert outcome.result.returncode != 0, output
    assert "Traceback" not in output
    expect = CASES[name].expect
    lines = [line for line in output.splitlines() if all(text in line for text in expect)]
    assert lines, f"no line of the message holds all of {expect}:\n{output}"
    assert "nothing was published" in output
    # The earlier issue is left exactly as it was (and not deleted by make).
    assert outcome.after == outcome.before
    assert (outcome.issue_dir / "issue.html").read_text(encoding="utf-8").rstrip().endswith("</html>")


# --- quarter names -------------------------------------------------------------------------


BAD_NAMES = ["2025Q5", "2025q3", "2022Q1;touch PWNED", "$(touch PWNED)", "`touch PWNED`"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_quarter_name_refused_before_any_command(tmp_path, bad):
    # PY= replaces the interpreter every recipe calls: if any recipe ran, the spy
    # would leave its mark.
    spy = tmp_path / "spy.sh"
    spy.write_text(f"#!/bin/sh\ntouch '{tmp_path / 'SPY-RAN'}'\n", encoding="utf-8")
    spy.chmod(0o755)
    planted = [
        ROOT / "PWNED",
        tmp_path / "PWNED",
        Path.cwd() / "PWNED",
        Path(tempfile.gettempdir()) / "PWNED",
    ]
    try:
        result = make(
            "quarter",
            f"Q={bad}",
            f"DATA={tmp_path / 'data'}",
            f"OUT={tmp_path / 'out'}",
            f"PY={spy}",
            cache=tmp_path / "cache",
            timeout=60,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "not a valid quarter" in output
        assert re.search(r"Makefile:\d+: \*\*\*", output), output  # make's own error
        assert "publishing" not in output
        assert not (tmp_path / "SPY-RAN").exists()
        assert not (tmp_path / "out").exists()
        assert not any(p.exists() for p in planted)
    finally:
        for p in planted:
            if p.exists() and p.stat().st_size == 0:
                p.unlink()


# --- encodings -------------------------------------------------------------------------------


def test_gb18030_quarter_validates(tmp_path):
    texts = {name: text.encode("gb18030") for name, text in VALID.items()}
    folder = write_quarter(tmp_path / "data", **texts)
    assert (folder / "surveys.csv").read_bytes() != VALID["surveys"].encode("utf-8")
    result = make("validate", f"Q={Q}", f"DATA={tmp_path / 'data'}", cache=tmp_path / "cache")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "all extracts valid" in output
    assert "surveys.csv: encoding GB18030" in output


def test_gb18030_problem_is_reported_decoded(tmp_path):
    text = replaced("surveys", 4, "R003,视频,2022-03-08 08:00:00,很好").encode("gb18030")
    write_quarter(tmp_path / "data", surveys=text)
    result = make("validate", f"Q={Q}", f"DATA={tmp_path / 'data'}", cache=tmp_path / "cache")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    expect = ("surveys.csv", *at(4, "rating", "很好"))
    assert any(all(s in line for s in expect) for line in output.splitlines()), output


# --- two publishes of one quarter at once ------------------------------------------------------


def test_two_publishes_at_once_one_waits(published_out, sample_root, session_cache, tmp_path):
    # A re-publishes the sample into a copy of the published OUT, with two section
    # notebooks removed so that it has seconds of work to do. B starts only once A
    # has announced its sections (A holds the quarter then) and must wait for A.
    out = tmp_path / "out"
    issue_dir = copy_published(published_out, out)
    removed = [
        p
        for p in (issue_dir / "notebooks").glob("*.ipynb")
        if p.stem.endswith(("_inbound_general", "_inbound_credit_card"))
    ]
    assert len(removed) == 2
    for p in removed:
        p.unlink()
    args = ["make", "--no-print-directory", "quarter", f"Q={Q}", f"DATA={sample_root}", f"OUT={out}"]
    env = make_env(session_cache, {"PYTHONUNBUFFERED": "1"})
    first = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first_lines: list[str] = []
    announced = threading.Event()

    def read_first() -> None:
        for line in first.stdout:
            first_lines.append(line)
            if "sections:" in line:
                announced.set()
        announced.set()

    reader = threading.Thread(target=read_first, daemon=True)
    reader.start()
    try:
        assert announced.wait(600), "".join(first_lines)
        second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert first.wait(900) == 0, "".join(first_lines)
    finally:
        if first.poll() is None:
            first.kill()
    reader.join(30)
    first_out, second_out = "".join(first_lines), second.stdout + second.stderr
    assert second.returncode == 0, second_out
    assert "another publish of 2022Q1 is running; waiting" in second_out
    assert "waiting" not in first_out
    # B found A's work done: nothing left to run.
    assert "sections: 0 to run" in second_out
    page = (issue_dir / "issue.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    assert page.count('<div class="kf-chart"') == (
        (published_out / Q / "issue.html").read_text(encoding="utf-8").count('<div class="kf-chart"')
    )
    assert sorted(p.name for p in (issue_dir / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (published_out / Q / "notebooks").glob("*.ipynb")
    )


def test_bad_prior_year_is_named_as_the_year_earlier_quarter(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    write_quarter(data, Q)
    prior: dict[str, str | None] = {name: text.replace("2022-", "2021-") for name, text in VALID.items()}
    prior["awards"] = None  # a missing file: the prior year cannot be read
    write_quarter(data, "2021Q1", **prior)
    result = make("quarter", f"Q={Q}", f"DATA={data}", f"OUT={out}", cache=tmp_path / "cache")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "2021Q1 is the year-earlier quarter" in result.stderr and "同比" in result.stderr
    assert "awards.csv" in result.stderr and "Traceback" not in result.stderr
    assert not (out / Q / "issue.html").exists()
