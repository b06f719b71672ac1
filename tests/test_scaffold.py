"""helpers.publish.scaffold: a new quarter's params and editorial files, in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import EXTRACTS

from helpers.params import IssueParams
from helpers.publish import scaffold
from helpers.quarter import QuarterError

OLD_PARAMS = (
    "# Issue settings for 2022Q1.\n"
    "label: 2022年第1期（总第9期）\n"
    "centre: 远程银行中心\n"
    "service_level_seconds: 30\n"
    "data_as_of: 2022-03-31\n"
)


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    data, params = tmp_path / "data", tmp_path / "params"
    (data / "2022Q1" / "editorial").mkdir(parents=True)
    (data / "2022Q1" / "editorial" / "foreword.md").write_text("## 春天\n\n一季度的话。\n", encoding="utf-8")
    (data / "2022Q1" / "editorial" / "closing.md").write_text("结语一季度。\n", encoding="utf-8")
    # An older quarter with editorial text: the latest earlier one must win.
    (data / "2021Q4" / "editorial").mkdir(parents=True)
    (data / "2021Q4" / "editorial" / "foreword.md").write_text("四季度的话。\n", encoding="utf-8")
    params.mkdir()
    (params / "2022Q1.yaml").write_text(OLD_PARAMS, encoding="utf-8")
    (params / "2021Q3.yaml").write_text("label: 2021年第3期\ncentre: 旧中心\n", encoding="utf-8")
    # A later quarter must never be the source of an earlier one.
    (params / "2023Q1.yaml").write_text("label: 2023年第1期\ncentre: 未来中心\n", encoding="utf-8")
    return data, params


def test_params_copied_from_latest_earlier_quarter_with_new_label(roots):
    data, params = roots
    result = scaffold.new_quarter("2022Q2", data, params, emit=lambda _: None)
    new = yaml.safe_load((params / "2022Q2.yaml").read_text(encoding="utf-8"))
    assert result.params_from == "2022Q1"
    assert new == {"label": "2022年第2期", "centre": "远程银行中心", "service_level_seconds": 30}
    # data_as_of belonged to 2022Q1: it is commented out, not carried over.
    assert "# data_as_of: 2022-03-31" in (params / "2022Q2.yaml").read_text(encoding="utf-8")
    assert "2022Q2" in (params / "2022Q2.yaml").read_text(encoding="utf-8").splitlines()[0]


def test_params_written_keys_are_all_known_settings(roots):
    data, params = roots
    scaffold.new_quarter("2022Q2", data, params, emit=lambda _: None)
    known = set(IssueParams.__dataclass_fields__) - {"quarter"}
    assert set(yaml.safe_load((params / "2022Q2.yaml").read_text(encoding="utf-8"))) <= known


def test_params_defaults_when_no_earlier_file(tmp_path):
    result = scaffold.new_quarter("2020Q3", tmp_path / "data", tmp_path / "params", emit=lambda _: None)
    new = yaml.safe_load((tmp_path / "params" / "2020Q3.yaml").read_text(encoding="utf-8"))
    assert result.params_from is None and result.editorial_from is None
    assert new["label"] == "2020年第3期"
    assert new["service_level_seconds"] == 20
    assert new["service_level_target"] == 0.8
    assert (tmp_path / "data" / "2020Q3").is_dir()


def test_editorial_copied_from_latest_earlier_quarter_with_rewrite_note(roots):
    data, params = roots
    result = scaffold.new_quarter("2022Q2", data, params, emit=lambda _: None)
    target = data / "2022Q2" / "editorial"
    assert result.editorial_from == "2022Q1"
    assert sorted(p.name for p in target.glob("*.md")) == ["closing.md", "foreword.md"]
    text = (target / "foreword.md").read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    assert first.startswith("<!-- 请改写") and "2022Q2" in first and "2022Q1" in first
    assert rest.lstrip("\n") == "## 春天\n\n一季度的话。\n"


def test_never_overwrites_existing_files(roots):
    data, params = roots
    (params / "2022Q2.yaml").write_text("label: 手写\n", encoding="utf-8")
    (data / "2022Q2" / "editorial").mkdir(parents=True)
    (data / "2022Q2" / "editorial" / "foreword.md").write_text("已改写。\n", encoding="utf-8")
    result = scaffold.new_quarter("2022Q2", data, params, emit=lambda _: None)
    assert (params / "2022Q2.yaml").read_text(encoding="utf-8") == "label: 手写\n"
    assert (data / "2022Q2" / "editorial" / "foreword.md").read_text(encoding="utf-8") == "已改写。\n"
    assert set(result.kept) == {params / "2022Q2.yaml", data / "2022Q2" / "editorial" / "foreword.md"}
    assert result.created == [data / "2022Q2" / "editorial" / "closing.md"]
    # A second run creates nothing at all.
    again = scaffold.new_quarter("2022Q2", data, params, emit=lambda _: None)
    assert again.created == []


def test_instructions_name_every_extract_and_prior_year_folder(roots):
    data, params = roots
    lines: list[str] = []
    scaffold.new_quarter("2022Q2", data, params, emit=lines.append)
    text = "\n".join(lines)
    for name in EXTRACTS:
        assert f"{name}.csv" in text and f"{name}.csv.gz" in text
    assert str(data / "2022Q2") in text
    assert str(data / "2021Q2") in text and "missing" in text


def test_bad_quarter_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(QuarterError):
        scaffold.new_quarter("2022Q5", tmp_path / "data", tmp_path / "params", emit=lambda _: None)
    assert not (tmp_path / "params").exists() and not (tmp_path / "data").exists()
    assert scaffold.main(["22Q1", "--data", str(tmp_path / "d"), "--params", str(tmp_path / "p")]) == 2


def test_copy_of_an_unrewritten_copy_carries_one_note(roots):
    data, params = roots
    scaffold.new_quarter("2022Q2", data, params, emit=lambda _: None)
    scaffold.new_quarter("2022Q3", data, params, emit=lambda _: None)
    text = (data / "2022Q3" / "editorial" / "foreword.md").read_text(encoding="utf-8")
    assert text.count("请改写") == 1
    assert "2022Q2/editorial/foreword.md" in text.splitlines()[0]
    assert text.endswith("## 春天\n\n一季度的话。\n")
