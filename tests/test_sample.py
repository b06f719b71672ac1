"""The bundled sample (helpers.devtools.sample) against the contracts and the reference issue.

The figures are recomputed here independently of the suite's metrics code:
formulas straight from docs/contract/METRICS.md, exact fractions of the counts,
rounding with Decimal ROUND_HALF_UP, compared with the `printed` strings of
docs/reference/2022Q1.yaml. The full sample (eight quarters, scale 1) is generated
once per session by the `sample_root` fixture (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import re
import statistics
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import yaml
from conftest import EXTRACTS

from helpers import paths
from helpers.data.schema import EDITORIAL_FILES, FILES
from helpers.devtools import sample
from helpers.quarter import Quarter

REFERENCE = yaml.safe_load((paths.REFERENCE / "2022Q1.yaml").read_text(encoding="utf-8"))
PRINTED = {key: entry["printed"] for key, entry in REFERENCE["figures"].items()}
SMALL_FILES = tuple(n for n in EXTRACTS if n not in ("inbound_calls", "outbound_calls", "smart_sessions"))


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
    """The targets (TARGETS for the anchors, the model for the rest) are what the files contain."""
    for quarter in sample.QUARTERS:
        t = sample.targets(quarter)
        folder = sample_root / quarter
        inbound = read(folder, "inbound_calls", usecols=["line", "requested_at", "answered_at", "agent_type"])
        for prefix, line in (("general", "综合"), ("credit", "信用卡")):
            assert answer_counts(inbound.loc[inbound["line"] == line]) == {
                "requests": t[f"{prefix}.requests"],
                "answered": t[f"{prefix}.answered"],
                "within": t[f"{prefix}.within_t"],
                "outsourced": t[f"{prefix}.outsourced"],
            }, quarter
        tickets = read(folder, "tickets", usecols=["request_type", "ticket_type", "routed_to"])
        assert len(tickets) == t["tickets.total"]
        assert (tickets["request_type"] == "投诉").sum() == t["tickets.complaints_received"]
        complaint = tickets.loc[tickets["ticket_type"] == "投诉", "routed_to"]
        assert (complaint == "分支行").sum() == t["tickets.complaint_branch"]
        assert (complaint == "总行部室").sum() == t["tickets.complaint_hq"]
        training = read(folder, "training")
        assert training["session_id"].nunique() == t["training.sessions"]
        assert training["staff_id"].nunique() == t["training.staff"]
        assert len(training) == t["training.attendances"]
        assert sum(int(Decimal(h) * 100) for h in training["hours"]) == t["training.hours_centi"]
        smart = read(folder, "smart_sessions", usecols=["channel", "transferred"])
        robot = smart.loc[smart["channel"] == "文本机器人", "transferred"]
        assert (len(robot), int((robot == "0").sum())) == (t["robot.sessions"], t["robot.resolved"])
        outbound = read(folder, "outbound_calls", usecols=["service"])["service"]
        assert (len(outbound), outbound.nunique()) == (t["outbound.calls"], t["outbound.services"])


def test_target_table_covers_both_anchor_quarters() -> None:
    assert sample.ANCHORS == ("2022Q1", "2021Q1")
    assert all(len(pair) == len(sample.ANCHORS) for pair in sample.TARGETS.values())
    assert sample.targets("2021Q1")["training.sessions"] == 508
    with pytest.raises(ValueError, match="2020Q1"):
        sample.targets("2020Q1")
    with pytest.raises(ValueError, match="2022Q2"):
        sample.targets("2022Q2")


def test_the_sample_is_eight_consecutive_quarters() -> None:
    quarters = [Quarter.parse(q) for q in sample.QUARTERS]
    assert (str(quarters[0]), str(quarters[-1])) == ("2020Q2", "2022Q1")
    assert all(b == a.next() for a, b in zip(quarters, quarters[1:], strict=False))
    assert set(sample.ANCHORS) <= set(sample.QUARTERS)
    # every modelled quarter has the same keys as the anchors, deterministically
    for quarter in sample.QUARTERS:
        assert sample.targets(quarter).keys() == sample.TARGETS.keys()
        assert sample.targets(quarter) == sample.targets(quarter)


# --- the anchors keep their bytes ------------------------------------------------

# SHA-256 of every file the sample wrote for the anchor quarters before the sample
# had history (2022Q1 + 2021Q1 only). The back-test against the printed 2022Q1 issue
# depends on these bytes: any change to the generator must leave them alone.
ANCHOR_SHA256 = {
    1: {
        "2022Q1/awards.csv": "a3e4e35dfac99aae96a65d14456086d4f49d902852932120a3a18eed2497261c",
        "2022Q1/feedback.csv": "51505bf2baaf31734966e1585a687ad17a585a6de5f3c9ce80b9300d10320e1c",
        "2022Q1/inbound_calls.csv": "f7cbe0983b6f83bd7503008c419028366f0b399f3377d2a5d9f3f2ec2070c444",
        "2022Q1/kb_changes.csv": "e6472d4b2f6ba4682e938ec0e22bfa5e4179ebfd4630e14f1e6e1a9f865c8f44",
        "2022Q1/online_chats.csv": "41f7def1295bd8e267b32bd6b55c91c72776b5c0c39af09d8427362f25b3ddf7",
        "2022Q1/outbound_calls.csv": "db703bc6c0e49632aa6fd97fe46361a33bad105dff73420704a28cc7e1cc2ffb",
        "2022Q1/smart_sessions.csv": "acc58e46c8e3860d74c56d387a07cedf83bb7bce6b7d023b0645289995c9e7b3",
        "2022Q1/sms_batches.csv": "ee1a6be5d341bfa5bb48899d5e1e17cea8e14d8c98f3937414bf542f36c715c1",
        "2022Q1/surveys.csv": "a152a89bcf8eec334ca4f8a40437413ae06a2928ab033b6c096e6646466d9477",
        "2022Q1/tickets.csv": "976f7224f111b150d23b0449b6b22ea9e57d89a05776680d4d6f27258bc4ae3e",
        "2022Q1/training.csv": "352b100b4178045f8c1d9b614447dbae9c8fc7e60a133b9fd11847e6ded5a9b2",
        "2022Q1/video_sessions.csv": "698472d0bb2437c45acc9bb04951b5a1d3e5f20a1d1bbab8c2b795eb616ca80e",
        "2022Q1/editorial/closing.md": "ca1b18f1745aa3bb5a445f4acdaac53b537200b6e8d2fda74bb683008faecd5c",
        "2022Q1/editorial/foreword.md": "655c2372bb25dc37105772bb74dcd9e57da454116b68c9ce8fdc0575a6a4f5f3",
        "2022Q1/editorial/interest_group.md": (
            "cb5dfc030c67b4087706ece94a99901821c592085587dafc95ef5924748e9785"
        ),
        "2022Q1/editorial/key_work.md": "068437ca4bd9363e65644e36b826804104a07ddd0d2cd188f60af588886d2c1a",
        "2021Q1/awards.csv": "8169eba2d9474d827e91b273f73738cb0020bf0074de02313439478335165435",
        "2021Q1/feedback.csv": "06bdf340d5f079c0a9e815a1a1031926145ae4537fc9ff5f8a80ed4a195dab7c",
        "2021Q1/inbound_calls.csv": "7c5a63977fcfc830b83390a44e3877c0847d92d0632fe57d11af5102df8828eb",
        "2021Q1/kb_changes.csv": "0edf9e026b0b955ec02db9be57d2d94feaaaccc74393aceaeaebd19e14a2a5c4",
        "2021Q1/online_chats.csv": "47353a742f53cd605e031712747d6ca616cab34c2abe35f6646a3c994928dce0",
        "2021Q1/outbound_calls.csv": "1fba99e996f5f3ab907eb31c7d63ab64bd65f5852f1551dfda2c0eb9f9126c0d",
        "2021Q1/smart_sessions.csv": "7a38b7e025b9ed2cd41979b3b60ea6e8e95d87477987ae88462fc9f821813c8e",
        "2021Q1/sms_batches.csv": "58d64b5cbe4deed303d045c6e8237685abc22d66b30892b059272b78a98b3152",
        "2021Q1/surveys.csv": "be90b6d09a56bc46df9ed9b424ac3f6fa775481ce128b5d1ec0c4a405d0064e4",
        "2021Q1/tickets.csv": "801a12c1d4c65e953929fdb52afdbd2e4059d3eae22c9897c57221d007a5e0f2",
        "2021Q1/training.csv": "99a603b2d70a23ceb62b604af3ffde36c17bf19fb2703da8172e59c37a875b8f",
        "2021Q1/video_sessions.csv": "8a9de667d6f57da70a3c440e00e7de9144a64b16f43b4dcf5fbf3d543dd06bfb",
    },
    # SCALE=2, the files that scale (items do not: their bytes are those of scale 1)
    2: {
        "2022Q1/online_chats.csv": "602ae60b007b001d0c83a256401d64ea05d6098583c75415faa1ed823c0dab77",
        "2022Q1/sms_batches.csv": "6133fffcbfd1aa5068490e0a3f69f9828d65631e5f62b4a7b46bbbf16157a022",
        "2022Q1/surveys.csv": "3d0bdd0689ac9384630c2d8e8f763832aa0d244ec7174644ac8b21df5636bfa0",
        "2022Q1/tickets.csv": "d350efd40abd700b43bbe463d7817c345f0e12c9ad7aafb167dabc6b92937f3c",
        "2022Q1/video_sessions.csv": "0fc080e266891940aeb7945756be36c3f270880a59451def056320f7242526ed",
        "2022Q1/training.csv": "352b100b4178045f8c1d9b614447dbae9c8fc7e60a133b9fd11847e6ded5a9b2",
        "2021Q1/online_chats.csv": "7d1b8bde224a019191ed873673a52c622e0d78c348aeef2dbbb22ea000d7f0dd",
        "2021Q1/sms_batches.csv": "1a0e3ab47058d7b59aec79bf733188789b883f0a892fa108f332a77d3607d5f1",
        "2021Q1/surveys.csv": "7d35eb951477224c6c8d49f9ab4ebbc149a6fd2fa7ee726b1065eb9203407197",
        "2021Q1/tickets.csv": "f43c70edf97fea67d4c1791c54fd3cc32ac0cbb770ae35f603ea24f24450f3b1",
        "2021Q1/video_sessions.csv": "19c4927d9add718429e267b8dc4f771a1d7a4278703b04a751f28995896ee69f",
        "2021Q1/training.csv": "99a603b2d70a23ceb62b604af3ffde36c17bf19fb2703da8172e59c37a875b8f",
        # the large ones, checked by hand when the generator changes (too slow for every run):
        # 2022Q1 inbound_calls e581f692…, outbound_calls 035ec112…, smart_sessions 9d67d641…;
        # 2021Q1 inbound_calls 5a0b10f4…, outbound_calls 5832da21…, smart_sessions 7bf9da79…
    },
}


def test_the_anchor_quarters_keep_their_bytes(sample_root: Path) -> None:
    """2022Q1 and 2021Q1 are byte for byte what they were before the sample had history.

    (2021Q1 gained editorial files, which were not there before; nothing else changed.)"""
    got = {name: sha(sample_root / name) for name in ANCHOR_SHA256[1]}
    assert got == ANCHOR_SHA256[1]
    extracts = {f"{q}/{p.name}" for q in sample.ANCHORS for p in (sample_root / q).glob("*.csv")}
    assert extracts == {name for name in ANCHOR_SHA256[1] if name.endswith(".csv")}


@pytest.fixture(scope="module")
def scale_two(tmp_path_factory) -> Path:
    """The anchors' scaled small files (and training, which does not scale) at SCALE=2."""
    root = tmp_path_factory.mktemp("scale-two")
    for name in ANCHOR_SHA256[2]:
        quarter, file = name.split("/")
        sample.write_extract(file.removesuffix(".csv"), quarter, root / quarter, scale=2)
    return root


def test_the_anchor_quarters_keep_their_bytes_at_scale_two(scale_two: Path) -> None:
    assert {name: sha(scale_two / name) for name in ANCHOR_SHA256[2]} == ANCHOR_SHA256[2]


# --- every quarter is a valid quarter: the project's own validation ----------------


@pytest.mark.parametrize("quarter", sample.QUARTERS)
def test_every_sample_quarter_validates(
    sample_root: Path, session_cache: Path, quarter: str, monkeypatch, capsys
) -> None:
    """`make validate Q=<q>` on the sample: no error, and (STRICT) no completeness warning."""
    from helpers.publish import cli

    monkeypatch.setattr(paths, "CACHE", session_cache)
    monkeypatch.setenv("KFWK_DATA", str(sample_root))
    monkeypatch.setenv("KFWK_STRICT", "1")
    status = cli.main(["validate", quarter])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert f"✓ {quarter}: all extracts valid\n" in out
    assert "⚠" not in out + err


# --- the contract ---------------------------------------------------------------

TS = re.compile(r"\A\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\Z")


# The independent contract check reads whole files with pandas: the anchors and two
# modelled quarters (a Q2 and the golden-week Q4); every quarter goes through the
# project's validation above.
CONTRACT_QUARTERS = ("2022Q1", "2021Q1", "2021Q4")


@pytest.mark.parametrize("quarter", CONTRACT_QUARTERS)
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
    for quarter in CONTRACT_QUARTERS:
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
    """Seeded per (quarter, file): one file again, in this process, gives the same bytes
    as the session's sample (written by worker processes)."""
    for quarter in sample.QUARTERS:
        for name in SMALL_FILES:
            again = sample.write_extract(name, quarter, tmp_path / quarter)
            assert sha(again) == sha(sample_root / quarter / f"{name}.csv"), (quarter, name)


def test_scale_multiplies_volumes_and_keeps_rates(scale_two: Path) -> None:
    now, before = scale_two / "2022Q1", scale_two / "2021Q1"
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


def test_scale_applies_to_the_modelled_quarters(tmp_path: Path) -> None:
    t = sample.targets("2021Q3")
    sample.write_extract("online_chats", "2021Q3", tmp_path, scale=2)
    online = answer_counts(read(tmp_path, "online_chats"))
    assert online == {
        "requests": 2 * t["online.requests"],
        "answered": 2 * t["online.answered"],
        "within": 2 * t["online.within_t"],
        "outsourced": 2 * t["online.outsourced"],
    }


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


@pytest.mark.parametrize("quarter", sample.QUARTERS)
def test_every_quarter_has_its_editorial(sample_root: Path, quarter: str) -> None:
    folder = sample_root / quarter / "editorial"
    texts = {p.stem: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    assert set(texts) == set(EDITORIAL_FILES)
    everything = "\n".join(texts.values())
    assert "<" not in everything  # markdown only, no raw HTML
    assert all(re.match(r"#{2,3} ", line) for line in everything.splitlines() if line.startswith("#"))
    assert "摘自" in texts["foreword"]
    # the hotline KPIs come from data, never from the editorial text
    assert not re.search(r"\d+(\.\d+)?\s*%|万人次|33\.78|94\.55", everything)
    # the texts speak of their own quarter
    q = Quarter.parse(quarter)
    assert f"## {q.cn_name}活动开展情况" in texts["interest_group"]
    assert {int(y) for y in re.findall(r"(20\d\d) ?年", everything)} <= {q.year - 1, q.year, q.year + 1}
    assert {int(m) for m in re.findall(r"(\d{1,2}) 月", texts["key_work"])} <= set(q.months)


def test_the_2022q1_editorial_is_the_bulletins(sample_root: Path) -> None:
    texts = {
        p.stem: p.read_text(encoding="utf-8") for p in (sample_root / "2022Q1" / "editorial").glob("*.md")
    }
    assert "2 月 25 日" in texts["key_work"] and "党员政治生日祝福" in texts["key_work"]
    for fact in ("12 家同业银行", "3 家热门商户", "10 家同业银行"):
        assert fact in texts["interest_group"]
    assert "草木蔓发" in texts["closing"]


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


def test_missing_only_generates_only_the_missing_quarters(tmp_path: Path, monkeypatch, capsys) -> None:
    """`make quarter` on first use: never over an existing quarter folder, even an empty one."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(sample, "write_sample", lambda root, **kw: calls.append(kw["quarters"]) or [])
    (tmp_path / "2022Q1").mkdir()
    (tmp_path / "2020Q3").mkdir()
    assert sample.main(["--data", str(tmp_path), "--missing-only"]) == 0
    assert calls == [("2020Q2", "2020Q4", "2021Q1", "2021Q2", "2021Q3", "2021Q4")]
    assert "generating 2020Q2, 2020Q4, 2021Q1" in capsys.readouterr().out
    assert sample.missing_quarters(tmp_path) == list(calls[0])
    for quarter in sample.QUARTERS:
        (tmp_path / quarter).mkdir(exist_ok=True)
    calls.clear()
    assert sample.main(["--data", str(tmp_path), "--missing-only"]) == 0
    assert calls == [] and capsys.readouterr().out == ""


# --- history: the eight quarters as a series ----------------------------------------


def _series(key: object) -> list[float]:
    """A figure of the targets over the eight quarters (`key` a target name or a function)."""
    get = key if callable(key) else (lambda t: t[key])
    return [float(get(sample.targets(q))) for q in sample.QUARTERS]


def _diversion(t: dict) -> float:
    resolved = t["robot.resolved"] + t["voice.resolved"]
    return resolved / (resolved + t["general.requests"] + t["credit.requests"] + t["online.requests"])


RATES = {
    "综合 service level": lambda t: t["general.within_t"] / t["general.requests"],
    "综合 answer rate": lambda t: t["general.answered"] / t["general.requests"],
    "信用卡 service level": lambda t: t["credit.within_t"] / t["credit.requests"],
    "online service level": lambda t: t["online.within_t"] / t["online.requests"],
    "voice very satisfied": lambda t: t["survey.语音"][0] / sum(t["survey.语音"]),
    "online satisfied": lambda t: sum(t["survey.在线"][:2]) / sum(t["survey.在线"]),
    "robot resolved": lambda t: t["robot.resolved"] / t["robot.sessions"],
    "smart diversion": _diversion,
    "complaint tickets of complaints": (
        lambda t: (
            (t["tickets.complaint_branch"] + t["tickets.complaint_hq"]) / t["tickets.complaints_received"]
        )
    ),
}


def test_volumes_grow_with_seasons() -> None:
    """Year on year growth, the Spring Festival dip in Q1, a busier Q3."""
    hotline = [a + b for a, b in zip(_series("general.requests"), _series("credit.requests"), strict=True)]
    index = {q: i for i, q in enumerate(sample.QUARTERS)}
    for q in ("2021Q2", "2021Q3", "2021Q4"):
        now, before = index[q], index[str(Quarter.parse(q).prior_year())]
        assert 1.03 < hotline[now] / hotline[before] < 1.25, q
        for key in ("online.requests", "outbound.calls", "robot.sessions", "video.sessions", "tickets.total"):
            values = _series(key)
            assert 1.0 < values[now] / values[before] < 2.0, (q, key)
        voice = _series("voice.sessions")
        assert voice[now] < voice[before]  # voice navigation gives way to the chatbot
    for q1 in ("2021Q1", "2022Q1"):
        assert hotline[index[q1]] < hotline[index[q1] - 1]  # below the Q4 before it
    assert hotline[index["2021Q1"]] < hotline[index["2020Q3"]]
    assert hotline[index["2021Q1"]] < hotline[index["2021Q2"]] < hotline[index["2021Q3"]]


@pytest.mark.parametrize("name", sorted(RATES))
def test_rates_move_like_real_data(name: str) -> None:
    """Not flat, no jumps: every rate changes a little from quarter to quarter."""
    values = _series(RATES[name])
    steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) < 0.035, (name, values)  # never more than 3.5 points from a quarter to the next
    assert statistics.pstdev(values) > 0.002, (name, values)
    assert len({round(v, 4) for v in values}) >= 6  # not a step function


def test_the_smart_service_takes_over() -> None:
    diversion = _series(_diversion)
    assert diversion[-1] > diversion[0] + 0.03
    complaints = _series(RATES["complaint tickets of complaints"])
    assert complaints[-1] < complaints[0]


HOLIDAYS = {  # quarter -> (first, last) day of its long holiday
    "2020Q4": ("2020-10-01", "2020-10-08"),
    "2021Q1": ("2021-02-11", "2021-02-17"),
    "2021Q4": ("2021-10-01", "2021-10-07"),
    "2022Q1": ("2022-01-31", "2022-02-06"),
}


@pytest.mark.parametrize("quarter", sample.QUARTERS)
def test_every_day_has_rows_and_holidays_dip(sample_root: Path, quarter: str) -> None:
    """No day is missing and none falls below a quarter of its weekday's median (the
    completeness rule); the Spring Festival and golden week are visibly quieter."""
    q = Quarter.parse(quarter)
    days = pd.date_range(q.start, q.end, inclusive="left").strftime("%Y-%m-%d")
    for name, column in (("online_chats", "requested_at"), ("smart_sessions", "started_at")):
        per_day = read(sample_root / quarter, name, usecols=[column])[column].str[:10].value_counts()
        per_day = per_day.reindex(days, fill_value=0)
        weekday = pd.to_datetime(per_day.index).day_of_week
        median = per_day.groupby(weekday).transform("median")
        assert (per_day >= 0.25 * median).all() and (per_day > 0).all(), name
        if quarter in HOLIDAYS:
            first, last = HOLIDAYS[quarter]
            holiday = (per_day.index >= first) & (per_day.index <= last)
            assert per_day[holiday].mean() < 0.8 * per_day[~holiday & (weekday < 5)].mean(), name


@pytest.mark.parametrize("quarter", sample.QUARTERS)
def test_awards_and_training_cover_every_month(sample_root: Path, quarter: str) -> None:
    months = {f"{quarter[:4]}-{m:02d}" for m in Quarter.parse(quarter).months}
    awards = read(sample_root / quarter, "awards")
    for category, rows in awards.groupby("category"):
        assert set(rows["month"]) == months, category
    assert awards["category"].nunique() == 5
    held = read(sample_root / quarter, "training", usecols=["held_on"])["held_on"].str[:7]
    assert set(held) == months
