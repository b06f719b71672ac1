"""helpers.report.notebook: what a section notebook reads (the figure store), and
helpers.paths: a relative folder means the project root wherever the code runs."""

from __future__ import annotations

import json

import pytest

from helpers import paths
from helpers.report import notebook


@pytest.fixture
def store_file(tmp_path):
    store = {
        "quarter": "2022Q1",
        "prior_quarter": None,
        "prior_metrics": None,
        "metrics": {"quarter": "2022Q1", "prior_quarter": None, "sms": {"services": 3, "recipients": 90}},
        "tables": {
            "sms": {"services": [{"service": "动账", "recipients": 90, "recipients_label": "0.01万次"}]},
        },
    }
    path = tmp_path / "store.json"
    path.write_text(json.dumps(store, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_published_section_reads_figures_and_rows_from_the_store(store_file, tmp_path):
    ctx = notebook.open_section("2022Q1", "", str(tmp_path / "figs"), str(store_file), section="sms")
    assert ctx.fig("sms.recipients") == 90
    assert ctx.rows("services")[0]["recipients_label"] == "0.01万次"
    assert not ctx.has_prior and ctx.prior_figures() is None
    with pytest.raises(KeyError, match="no table 'daily' for section 'sms'"):
        ctx.rows("daily")


def test_a_published_section_never_opens_row_level_tables(store_file, tmp_path):
    ctx = notebook.open_section("2022Q1", "", str(tmp_path / "figs"), str(store_file), section="sms")
    with pytest.raises(RuntimeError, match="for exploring only"):
        ctx.table("sms_batches")


def test_relative_folders_are_relative_to_the_project_root(monkeypatch, tmp_path, store_file):
    monkeypatch.chdir(tmp_path)  # as a kernel in notebooks/ or make elsewhere would be
    monkeypatch.setenv("KFWK_DATA", "data")
    monkeypatch.setenv("KFWK_OUT", "some/out")
    assert paths.data_root() == paths.ROOT / "data"
    assert paths.out_root() == paths.ROOT / "some" / "out"
    assert paths.from_root(str(tmp_path)) == tmp_path.resolve()
    ctx = notebook.open_section("2022Q1", "elsewhere/data", "", str(store_file), section="sms")
    assert ctx.data_root == paths.ROOT / "elsewhere" / "data"


def test_show_table_prints_labels_and_escapes(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **_: shown.append(obj))
    notebook.show_table([{"a": "<b>", "n_label": "1 笔"}], {"a": "名称", "n_label": "笔数"})
    html = shown[0].data
    assert "<th>名称</th><th>笔数</th>" in html and "&lt;b&gt;" in html and "<td>1 笔</td>" in html
