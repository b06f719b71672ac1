"""The bundled sample (helpers.devtools.sample) against the contracts and the reference issue.

The figures are recomputed here independently of the suite's metrics code:
formulas straight from docs/contract/METRICS.md, exact fractions of the counts,
rounding with Decimal ROUND_HALF_UP, compared with the `printed` strings of
docs/reference/2022Q1.yaml. The full sample (both quarters, scale 1) is generated
once per session by the `sample_root` fixture (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import yaml

from helpers import paths
from helpers.data.schema import FILES
from helpers.devtools import sample

REFERENCE = yaml.safe_load((paths.REFERENCE / "2022Q1.yaml").read_text(encoding="utf-8"))
PRINTED = {key: entry["printed"] for key, entry in REFERENCE["figures"].items()}
SMALL_FILES = (
    "online_chats",
    "video_sessions",
    "surveys",
    "sms_batches",
    "feedback",
    "tickets",
    "kb_changes",
    "training",
    "awards",
)


# --- an independent formatter: METRICS.md's printing rules -------------------


def _two(value: Fraction) -> str:
    d = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{d.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"


def wan(n: int) -> str:
    return _two(Fraction(n, 10000)) + "万"


def pct(num: int, den: int) -> str:
    return _two(Fraction(100 * num, den)) + "%"


def yoy(now: int, before: int) -> str:
    return pct(now - before, before)


def test_formatter_rounds_half_up() -> None:
    assert pct(18911, 20000) == "94.56%"  # 0.94555 -> up, not to even
    assert wan(337750) == "33.78万" and wan(337749) == "33.77万"
    assert yoy(151, 288) == "-47.57%"


# --- reading the generated extracts ---------------------------------------------


def read(folder: Path, name: str, usecols: list[str] | None = None) -> pd.DataFrame:
    """A generated CSV as text columns, empty cells as "" (pyarrow's reader, for speed)."""
    columns = list(FILES[name].column_names)
    table = pcsv.read_csv(
        folder / f"{name}.csv",
        convert_options=pcsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False, include_columns=usecols
        ),
    )
    return table.to_pandas()


def seconds_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (
        pd.to_datetime(later, format="ISO8601") - pd.to_datetime(earlier, format="ISO8601")
    ).dt.total_seconds()


def answer_counts(frame: pd.DataFrame) -> dict[str, int]:
    answered = frame.loc[frame["answered_at"] != ""]
    wait = seconds_between(answered["answered_at"], answered["requested_at"])
    return {
        "requests": len(frame),
        "answered": len(answered),
        "within": int((wait <= 20).sum()),
        "outsourced": int((answered["agent_type"] == "外包").sum()),
    }


def figures(root: Path) -> dict[str, object]:
    """Every figure of the reference, printed, from the CSVs of `root`/2022Q1 and 2021Q1."""
    now, before = root / "2022Q1", root / "2021Q1"
    out: dict[str, object] = {}
    inbound = read(now, "inbound_calls")
    for key, line in (("general", "综合"), ("credit_card", "信用卡")):
        c = answer_counts(inbound.loc[inbound["line"] == line])
        out[f"inbound.{key}.requests"] = wan(c["requests"])
        out[f"inbound.{key}.answered"] = wan(c["answered"])
        out[f"inbound.{key}.answer_rate"] = pct(c["answered"], c["requests"])
        out[f"inbound.{key}.service_level"] = pct(c["within"], c["requests"])
        out[f"inbound.{key}.outsourced_answered"] = wan(c["outsourced"])
        out[f"inbound.{key}.outsourced_share"] = pct(c["outsourced"], c["answered"])
    online = answer_counts(read(now, "online_chats"))
    online_before = len(read(before, "online_chats", usecols=["chat_id"]))
    out["online.requests"] = wan(online["requests"])
    out["online.requests_yoy"] = yoy(online["requests"], online_before)
    out["online.answered"] = wan(online["answered"])
    out["online.answer_rate"] = pct(online["answered"], online["requests"])
    out["online.service_level"] = pct(online["within"], online["requests"])

    surveys = read(now, "surveys")
    for channel, key in (("在线", "online.satisfaction"), ("视频", "video.satisfaction")):
        rated = surveys.loc[surveys["channel"] == channel, "rating"]
        out[key] = pct(int(rated.isin(["非常满意", "满意"]).sum()), len(rated))
    voice = surveys.loc[surveys["channel"] == "语音", "rating"]
    out["satisfaction.responses"] = wan(len(voice))
    out["satisfaction.very_satisfied_rate"] = pct(int((voice == "非常满意").sum()), len(voice))
    out["satisfaction.satisfied_rate"] = pct(int(voice.isin(["非常满意", "满意"]).sum()), len(voice))

    outbound = read(now, "outbound_calls")
    out["outbound.services"] = str(outbound["service"].nunique())
    out["outbound.calls"] = wan(len(outbound))
    out["outbound.calls_yoy"] = yoy(len(outbound), len(read(before, "outbound_calls", usecols=["call_id"])))

    def smart_counts(folder: Path) -> dict[str, int]:
        s = read(folder, "smart_sessions")
        robot = s.loc[s["channel"] == "文本机器人"]
        voice_nav = s.loc[s["channel"] == "语音导航"]
        others = len(read(folder, "inbound_calls", usecols=["call_id"])) + len(
            read(folder, "online_chats", usecols=["chat_id"])
        )
        return {
            "sessions": len(s),
            "resolved": int((s["transferred"] == "0").sum()),
            "robot": len(robot),
            "robot_resolved": int((robot["transferred"] == "0").sum()),
            "questions": int(robot["questions"].astype(int).sum()),
            "standard": int(robot["standard_answers"].astype(int).sum()),
            "voice": len(voice_nav),
            "recognized": int((voice_nav["recognized"] == "1").sum()),
            "others": others,
        }

    sm, sm_before = smart_counts(now), smart_counts(before)
    rate = Fraction(sm["resolved"], sm["resolved"] + sm["others"])
    rate_before = Fraction(sm_before["resolved"], sm_before["resolved"] + sm_before["others"])
    out["smart.sessions"] = wan(sm["sessions"])
    out["smart.sessions_yoy"] = yoy(sm["sessions"], sm_before["sessions"])
    out["smart.diversion_rate"] = pct(rate.numerator, rate.denominator)
    out["smart.diversion_rate_change_pp"] = _two((rate - rate_before) * 100) + " 个百分点"
    out["robot.sessions"] = wan(sm["robot"])
    out["robot.sessions_yoy"] = yoy(sm["robot"], sm_before["robot"])
    out["robot.standard_answer_rate"] = pct(sm["standard"], sm["questions"])
    out["robot.text_diversion_rate"] = pct(sm["robot_resolved"], sm["robot"])
    out["voice_nav.sessions"] = wan(sm["voice"])
    out["voice_nav.recognition_rate"] = pct(sm["recognized"], sm["voice"])

    video = read(now, "video_sessions")
    typed = video.loc[video["business_type"] != "", "business_type"].value_counts()
    ranked = sorted(typed.items(), key=lambda kv: (-kv[1], kv[0]))
    out["video.sessions"] = str(len(video))
    out["video.business"] = [
        {"type": t, "count": int(n), "share": pct(int(n), int(typed.sum()))} for t, n in ranked
    ]

    sms = read(now, "sms_batches")
    out["sms.services"] = str(sms["service"].nunique())
    out["sms.recipients"] = wan(int(sms["recipients"].astype(int).sum()))

    feedback = read(now, "feedback")
    out["feedback.items"] = str(len(feedback))
    for key, status in (("optimized", "已优化"), ("planned", "列入计划"), ("pending", "待反馈")):
        out[f"feedback.{key}"] = str(int((feedback["status"] == status).sum()))

    def ticket_counts(folder: Path) -> dict[str, int]:
        t = read(folder, "tickets")
        complaint_tickets = t.loc[t["ticket_type"] == "投诉"]
        return {
            "total": len(t),
            "received": int((t["request_type"] == "投诉").sum()),
            "converted": int(((t["request_type"] == "投诉") & (t["ticket_type"] != "投诉")).sum()),
            "complaint_tickets": len(complaint_tickets),
            "branch_complaint_tickets": int((complaint_tickets["routed_to"] == "分支行").sum()),
            "hq_complaint_tickets": int((complaint_tickets["routed_to"] == "总行部室").sum()),
        }

    tk, tk_before = ticket_counts(now), ticket_counts(before)
    out["tickets.total"] = str(tk["total"])
    out["tickets.total_yoy"] = yoy(tk["total"], tk_before["total"])
    out["tickets.complaints_received"] = str(tk["received"])
    out["tickets.complaints_converted"] = str(tk["converted"])
    for key in ("complaint_tickets", "branch_complaint_tickets", "hq_complaint_tickets"):
        out[f"tickets.{key}"] = str(tk[key])
        out[f"tickets.{key}_change"] = str(tk[key] - tk_before[key])
        out[f"tickets.{key}_yoy"] = yoy(tk[key], tk_before[key])

    kb = read(now, "kb_changes")
    out["knowledge_base.items"] = str(len(kb))
    out["knowledge_base.sections_reviewed"] = str(kb.loc[kb["action"] == "梳理优化", "section"].nunique())
    out["knowledge_base.knowledge_points"] = str(
        kb.loc[kb["action"].isin(["新增", "优化"]), "knowledge_points"].astype(int).sum()
    )

    training = read(now, "training")
    sessions_before = read(before, "training")["session_id"].nunique()
    hundredths = sum(int(Decimal(h) * 100) for h in training["hours"])
    out["training.sessions"] = str(training["session_id"].nunique())
    out["training.sessions_yoy"] = yoy(training["session_id"].nunique(), sessions_before)
    out["training.attendances"] = wan(len(training))
    out["training.hours"] = _two(Fraction(hundredths, 100))
    out["training.hours_per_capita"] = _two(Fraction(hundredths, 100 * training["staff_id"].nunique()))

    awards = read(now, "awards")
    merged: list[dict[str, object]] = []
    for category in awards["category"].drop_duplicates():
        rows = awards.loc[awards["category"] == category].sort_values("month")
        for month, winner, leader in zip(rows["month"], rows["winner"], rows["leader"], strict=True):
            m = int(month[5:7])
            last = merged[-1] if merged else None
            if (
                last
                and last["category"] == category
                and last["winner"] == winner
                and last["months"][-1] == m - 1
            ):
                last["months"].append(m)
            else:
                merged.append(
                    {
                        "category": category,
                        "months": [m],
                        "winner": winner,
                        **({"leader": leader} if leader else {}),
                    }
                )
    out["awards"] = merged
    return out


@pytest.fixture(scope="module")
def computed(sample_root: Path) -> dict[str, object]:
    return figures(sample_root)


# --- the reference figures --------------------------------------------------------


@pytest.mark.parametrize("key", sorted(k for k, e in REFERENCE["figures"].items() if "inconsistent" not in e))
def test_every_consistent_reference_figure_is_reproduced(computed: dict, key: str) -> None:
    assert computed[key] == PRINTED[key]


def test_credit_card_outsourced_share_follows_the_samples_own_counts(computed: dict) -> None:
    share = Decimal(str(computed["inbound.credit_card.outsourced_share"]).rstrip("%"))
    assert Decimal("40.86") <= share <= Decimal("40.92")
    assert computed["inbound.credit_card.outsourced_answered"] == "8.55万"
    assert computed["inbound.credit_card.answered"] == "20.91万"


def test_training_yoy_is_the_consistent_value(sample_root: Path, computed: dict) -> None:
    assert read(sample_root / "2021Q1", "training")["session_id"].nunique() == 508
    assert computed["training.sessions_yoy"] == "21.26%"


def test_files_hold_the_target_table(sample_root: Path) -> None:
    """The table in sample.py is what the files contain (a few headline counts)."""
    for quarter in sample.QUARTERS:
        t = sample.targets(quarter)
        folder = sample_root / quarter
        inbound = read(folder, "inbound_calls")
        general = answer_counts(inbound.loc[inbound["line"] == "综合"])
        assert general == {
            "requests": t["general.requests"],
            "answered": t["general.answered"],
            "within": t["general.within_t"],
            "outsourced": t["general.outsourced"],
        }
        assert len(read(folder, "tickets")) == t["tickets.total"]
        training = read(folder, "training")
        assert training["staff_id"].nunique() == t["training.staff"]
        assert len(training) == t["training.attendances"]


def test_target_table_covers_both_quarters() -> None:
    assert all(len(pair) == 2 for pair in sample.TARGETS.values())
    assert sample.targets("2021Q1")["training.sessions"] == 508
    with pytest.raises(ValueError, match="2020Q1"):
        sample.targets("2020Q1")


# --- the contract ---------------------------------------------------------------

TS = re.compile(r"\A\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\Z")


@pytest.mark.parametrize("quarter", sample.QUARTERS)
@pytest.mark.parametrize("name", sorted(FILES))
def test_extracts_follow_the_contract(sample_root: Path, quarter: str, name: str) -> None:
    spec = FILES[name]
    path = sample_root / quarter / f"{name}.csv"
    head = path.read_bytes()[:200]
    assert not head.startswith(b"\xef\xbb\xbf")
    frame = read(sample_root / quarter, name)
    assert tuple(frame.columns) == spec.column_names
    assert len(frame) > 0
    assert not frame.duplicated(list(spec.key)).any()
    year, q = int(quarter[:4]), int(quarter[-1])
    for column in spec.columns:
        values = frame[column.name]
        present = values[values != ""]
        if not column.optional:
            assert len(present) == len(frame), f"{name}.{column.name} has empty cells"
        if column.choices:
            assert set(present) <= set(column.choices), column.name
        if column.kind == "timestamp":
            assert present.str.match(TS).all(), column.name
        if column.kind == "boolean":
            assert set(present) <= {"0", "1"}
        if column.kind == "integer":
            assert present.str.fullmatch(r"\d+").all()
        if column.kind == "decimal":
            assert present.str.fullmatch(r"\d+(\.\d{1,2})?").all()
    start = frame[spec.start]
    months = start.str[5:7].astype(int)
    assert (start.str[:4].astype(int) == year).all()
    assert months.between(3 * q - 2, 3 * q).all()


def test_answer_columns_are_consistent(sample_root: Path) -> None:
    for quarter in sample.QUARTERS:
        for name in ("inbound_calls", "online_chats"):
            frame = read(sample_root / quarter, name)
            abandoned = frame["answered_at"] == ""
            assert ((frame["ended_at"] == "") == abandoned).all()
            assert ((frame["agent_type"] == "") == abandoned).all()
            answered = frame.loc[~abandoned]
            assert (seconds_between(answered["answered_at"], answered["requested_at"]) >= 0).all()
            assert (seconds_between(answered["ended_at"], answered["answered_at"]) > 0).all()


def test_smart_sessions_rules(sample_root: Path) -> None:
    s = read(sample_root / "2022Q1", "smart_sessions")
    assert (s["standard_answers"].astype(int) <= s["questions"].astype(int)).all()
    assert (s.loc[s["channel"] == "语音导航", "recognized"] != "").all()
    # a session that could not be recognized cannot have been resolved by the robot
    voice = s.loc[s["channel"] == "语音导航"]
    assert not ((voice["recognized"] == "0") & (voice["transferred"] == "0")).any()


def test_ids_look_like_the_examples(sample_root: Path) -> None:
    calls = read(sample_root / "2022Q1", "inbound_calls", usecols=["call_id"])["call_id"]
    assert calls.iloc[0] == "C22Q1000000001"
    assert calls.str.fullmatch(r"C22Q1\d{9}").all()
    staff = read(sample_root / "2022Q1", "training")["staff_id"]
    assert staff.str.fullmatch(r"S\d{4}").all()


def test_complaint_tickets_come_from_complaints(sample_root: Path) -> None:
    t = read(sample_root / "2022Q1", "tickets")
    complaint_tickets = t.loc[t["ticket_type"] == "投诉"]
    assert (complaint_tickets["request_type"] == "投诉").all()
    assert set(complaint_tickets["routed_to"]) == {"分支行", "总行部室"}
    converted = t.loc[(t["request_type"] == "投诉") & (t["ticket_type"] != "投诉"), "ticket_type"]
    assert set(converted) == {"建议", "疑难"}


# --- realism ---------------------------------------------------------------------


def test_arrival_curves_are_realistic(sample_root: Path) -> None:
    requested = pd.to_datetime(
        read(sample_root / "2022Q1", "inbound_calls", usecols=["requested_at"])["requested_at"]
    )
    per_hour = requested.dt.hour.value_counts()
    assert per_hour[10] > 5 * per_hour[3] > 0  # busy mornings, a little traffic at night
    assert per_hour[15] > per_hour[12]  # afternoon peak above the lunch dip
    per_day = requested.dt.normalize().value_counts()
    weekdays = per_day[per_day.index.day_of_week < 5].drop(
        pd.date_range("2022-01-31", "2022-02-06"), errors="ignore"
    )
    festival = per_day[pd.date_range("2022-02-01", "2022-02-05")]
    assert festival.mean() < 0.7 * weekdays.mean()
    sundays = per_day[per_day.index.day_of_week == 6].drop(pd.Timestamp("2022-01-30"))
    assert sundays.mean() < 0.85 * weekdays.mean()


def test_waits_straddle_the_threshold(sample_root: Path) -> None:
    frame = read(sample_root / "2022Q1", "online_chats")
    answered = frame.loc[frame["answered_at"] != ""]
    wait = seconds_between(answered["answered_at"], answered["requested_at"])
    assert (wait == 20).sum() > 0 and (wait == 20.5).sum() > 0
    assert wait.max() > 300  # a long tail
    assert (wait % 1 != 0).mean() < 0.2  # mostly whole seconds


def test_outbound_mix_is_skewed(sample_root: Path) -> None:
    services = read(sample_root / "2022Q1", "outbound_calls", usecols=["service"])["service"]
    shares = services.value_counts(normalize=True)
    assert len(shares) == 19
    assert shares.iloc[0] > 10 * shares.iloc[-1]
    assert {"风险提示", "信用卡逾期提醒", "信用卡分期邀约", "信用卡激活提醒"} <= set(shares.index)


def test_video_has_untyped_sessions(sample_root: Path) -> None:
    video = read(sample_root / "2022Q1", "video_sessions")
    assert (video["business_type"] == "").sum() == 2972 - 751


# --- determinism and scale ---------------------------------------------------------


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_second_run_writes_identical_bytes(sample_root: Path, tmp_path: Path) -> None:
    for quarter in sample.QUARTERS:
        for name in SMALL_FILES:
            again = sample.write_extract(name, quarter, tmp_path / quarter)
            assert sha(again) == sha(sample_root / quarter / f"{name}.csv"), (quarter, name)


def test_scale_multiplies_volumes_and_keeps_rates(tmp_path: Path) -> None:
    for quarter in sample.QUARTERS:
        for name in ("online_chats", "surveys", "video_sessions", "tickets", "training"):
            sample.write_extract(name, quarter, tmp_path / quarter, scale=2)
    now, before = tmp_path / "2022Q1", tmp_path / "2021Q1"
    online = answer_counts(read(now, "online_chats"))
    assert online["requests"] == 2 * 81600
    assert pct(online["answered"], online["requests"]) == PRINTED["online.answer_rate"]
    assert pct(online["within"], online["requests"]) == PRINTED["online.service_level"]
    assert yoy(online["requests"], len(read(before, "online_chats"))) == PRINTED["online.requests_yoy"]
    surveys = read(now, "surveys")
    voice = surveys.loc[surveys["channel"] == "语音", "rating"]
    assert len(voice) == 2 * 150200
    assert pct(int((voice == "非常满意").sum()), len(voice)) == PRINTED["satisfaction.very_satisfied_rate"]
    tickets, tickets_before = read(now, "tickets"), read(before, "tickets")
    assert len(tickets) == 2 * 34309
    assert yoy(len(tickets), len(tickets_before)) == PRINTED["tickets.total_yoy"]
    hq = int(((tickets["ticket_type"] == "投诉") & (tickets["routed_to"] == "总行部室")).sum())
    hq_before = int(
        ((tickets_before["ticket_type"] == "投诉") & (tickets_before["routed_to"] == "总行部室")).sum()
    )
    assert yoy(hq, hq_before) == PRINTED["tickets.hq_complaint_tickets_yoy"]
    video = read(now, "video_sessions")
    typed = video.loc[video["business_type"] != "", "business_type"].value_counts()
    assert len(video) == 2 * 2972
    assert pct(int(typed["理财咨询"]), int(typed.sum())) == "59.12%"
    # items are not volumes: training keeps its sessions and hours
    training = read(now, "training")
    assert training["session_id"].nunique() == 616 and len(training) == 9000


def test_scale_two_keeps_the_smart_rates(tmp_path: Path) -> None:
    sample.write_extract("smart_sessions", "2022Q1", tmp_path, scale=2)
    s = read(tmp_path, "smart_sessions")
    robot = s.loc[s["channel"] == "文本机器人"]
    assert len(robot) == 2 * 189860
    assert (
        pct(int(robot["standard_answers"].astype(int).sum()), int(robot["questions"].astype(int).sum()))
        == PRINTED["robot.standard_answer_rate"]
    )
    assert pct(int((robot["transferred"] == "0").sum()), len(robot)) == PRINTED["robot.text_diversion_rate"]


# --- editorial and the API ---------------------------------------------------------


def test_editorial_is_written_for_2022q1_only(sample_root: Path) -> None:
    folder = sample_root / "2022Q1" / "editorial"
    texts = {p.stem: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    assert set(texts) == {"foreword", "key_work", "interest_group", "closing"}
    assert not (sample_root / "2021Q1" / "editorial").exists()
    everything = "\n".join(texts.values())
    assert "<" not in everything  # markdown only, no raw HTML
    assert all(re.match(r"#{2,3} ", line) for line in everything.splitlines() if line.startswith("#"))
    assert "摘自" in texts["foreword"]
    assert "2 月 25 日" in texts["key_work"] and "党员政治生日祝福" in texts["key_work"]
    for fact in ("12 家同业银行", "3 家热门商户", "10 家同业银行"):
        assert fact in texts["interest_group"]
    assert "草木蔓发" in texts["closing"]
    # the hotline KPIs come from data, never from the editorial text
    assert not re.search(r"\d+(\.\d+)?\s*%|万人次|33\.78|94\.55", everything)


def test_write_sample_reports_and_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        sample.write_sample(tmp_path, scale=0, progress=None)
    with pytest.raises(ValueError, match="2023Q1"):
        sample.write_sample(tmp_path, quarters=("2023Q1",), progress=None)
    assert not any(tmp_path.iterdir())


def test_cli_rejects_a_bad_scale(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        sample.main(["--data", str(tmp_path), "--scale", "zero"])
    with pytest.raises(SystemExit):
        sample.main(["--data", str(tmp_path), "--scale", "0"])
