"""The issue assembler and the offline renderer (helpers.issue, helpers.render).

Notebooks are built here with nbformat: one is executed for real with nbclient
(kernel `python3`), the others get their outputs from the renderer in-process.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.publish import issue as issue_mod
from helpers.publish.issue import IssueError, assemble_issue, write_index
from helpers.report import charts, export
from helpers.report.render import (
    VEGALITE_MIMETYPE,
    chart_bundle,
    chart_id,
    enable_offline_renderer,
    esc,
    render_markdown,
    reset_chart_ids,
)

META = {
    "quarter": "2022Q1",
    "label": "2022年第1期",
    "centre": "某银行客服中心",
    "data_as_of": "2022-04-15",
    "inputs": [{"name": "inbound_calls.csv", "sha256": "a" * 64, "rows": 12}],
    "parameters": {"service_level_seconds": 20},
    "code_version": "v0.1.0-2-gdeadbee",
    "packages": {"altair": "6.3.0"},
    "kpi_doc_href": "../docs/kpi.md",
}
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"

EXECUTED_SOURCE = """\
import sys
import altair as alt
import pandas as pd
from helpers.report.render import enable_offline_renderer
enable_offline_renderer()
CODE_MARKER_EXECUTED = 1
print("kernel stderr line", file=sys.stderr)
alt.Chart(pd.DataFrame({"月份": ["1月", "2月"], "呼入量": [3, 4]})).mark_bar().encode(
    x="月份", y="呼入量"
)
"""


# `video.business` rows as the figure store holds them (docs/store.md).
VIDEO_ROWS = [
    {"type": "理财咨询", "count": 444, "count_label": "444", "share": 0.6758, "share_label": "67.58%"},
    {"type": "手机发证", "count": 115, "count_label": "115", "share": 0.175, "share_label": "17.50%"},
    {"type": "其他", "count": 98, "count_label": "98", "share": 0.1492, "share_label": "14.92%"},
]


def _bundle(chart: alt.TopLevelMixin) -> dict:
    """A chart rendered through the kefu renderer into a mimebundle."""
    bundle = chart._repr_mimebundle_()
    return bundle[0] if isinstance(bundle, tuple) else bundle


def _chart(values: list[int], title: str) -> dict:
    """A tiny Altair bar chart rendered through the kefu renderer into a mimebundle."""
    rows = [{"渠道": f"c{i}", "量": value} for i, value in enumerate(values)]
    chart = alt.Chart(alt.InlineData(values=rows)).mark_bar().encode(x="渠道:N", y="量:Q")
    return _bundle(chart.properties(title=title))


def _kernel_notebook(folder: Path) -> Path:
    """Notebook 1: a heading and a chart cell, executed for real by nbclient."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("## 主要指标完成情况\n\n### 综合呼入业务\n\n一季度，人工服务请求量 33.78万。"),
            new_code_cell(EXECUTED_SOURCE),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    path = folder / "01_kpi.ipynb"
    nbformat.write(nb, path)
    return path


def _inprocess_notebooks(folder: Path) -> list[Path]:
    """Notebooks 2 and 3: outputs made by calling the renderer in this process."""
    enable_offline_renderer()
    reset_chart_ids()
    smart = new_notebook(
        cells=[
            new_markdown_cell(f"## 智慧客服\n\n编辑按语 {SCRIPT} 结束。"),
            new_code_cell(
                "CODE_MARKER_INPROCESS = 2",
                outputs=[
                    new_output("display_data", data=_chart([5, 7], "智能机器人")),
                    new_output("stream", name="stderr", text="STDERR_MARKER\n"),
                    new_output("stream", name="stdout", text="STDOUT_MARKER\n"),
                ],
            ),
            new_code_cell(
                "display(HTML(render_markdown(text)))",
                outputs=[
                    new_output(
                        "display_data",
                        data={"text/html": render_markdown(f"### 互联网金融兴趣小组\n\n{SCRIPT}")},
                    )
                ],
            ),
            new_markdown_cell("隐藏的说明 HIDDEN_MARKER", metadata={"tags": ["remove"]}),
            new_code_cell(
                "x",
                metadata={"tags": ["hide"]},
                outputs=[new_output("stream", name="stdout", text="HIDDEN_OUTPUT_MARKER\n")],
            ),
        ]
    )
    video = new_notebook(
        cells=[
            new_markdown_cell("## 视频客服\n\n视频客服来电量共 2972 笔。"),
            new_code_cell(
                "chart",
                outputs=[new_output("display_data", data=_bundle(charts.video_business_chart(VIDEO_ROWS)))],
            ),
            new_code_cell(
                "md",
                outputs=[new_output("display_data", data={"text/markdown": f"### 业务占比\n\n{SCRIPT}"})],
            ),
        ]
    )
    paths = [folder / "02_smart.ipynb", folder / "03_video.ipynb"]
    for nb, path in zip([smart, video], paths, strict=True):
        nbformat.write(nb, path)
    return paths


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("nbs")
    return [_kernel_notebook(folder), *_inprocess_notebooks(folder)]


@pytest.fixture(scope="module")
def page(notebooks: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("out") / "2022Q1" / "issue.html"
    assert assemble_issue(notebooks, out, meta=META) == out
    return out.read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Collects (tag, attrs) of every start tag; script/style text is not parsed as tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _split_head(html: str) -> tuple[str, str]:
    # The vega bundle itself contains the text `</head>`, so split at the last one.
    head, body = html.rsplit("</head>", 1)
    return head, body


def _body(html: str) -> str:
    return _split_head(html)[1]


# ---------------------------------------------------------------- the page


def test_masthead_shows_title_label_centre_and_quarter(page: str) -> None:
    masthead = re.search(r'<header class="kf-masthead">(.*?)</header>', page, re.S).group(1)
    for text in ("客服微刊", "2022年第1期", "某银行客服中心", "2022年一季度"):
        assert text in masthead


def test_toc_lists_h2_and_h3_in_page_order(page: str) -> None:
    nav = re.search(r'<nav[^>]*class="kf-toc"[^>]*>(.*?)</nav>', page, re.S).group(1)
    titles = re.findall(r'<a href="#[^"]+">([^<]+)</a>', nav)
    assert titles == [
        "主要指标完成情况",
        "综合呼入业务",
        "智慧客服",
        "互联网金融兴趣小组",
        "视频客服",
        "业务占比",
        "关于本期 / About this issue",
    ]
    hrefs = re.findall(r'<a href="#([^"]+)">', nav)
    assert hrefs[:6] == ["sec-01", "sec-01-01", "sec-02", "sec-02-01", "sec-03", "sec-03-01"]


def test_every_toc_link_points_at_an_element_id(page: str) -> None:
    tags = _tags(_body(page))
    ids = [attrs["id"] for _, attrs in tags if attrs.get("id")]
    assert len(ids) == len(set(ids)), "element ids must be unique"
    hrefs = [a["href"] for t, a in tags if t == "a" and (a.get("href") or "").startswith("#")]
    assert len(hrefs) >= 7
    assert all(href[1:] in ids for href in hrefs)
    for anchor in ("sec-01", "sec-02-01", "sec-03-01", "about"):
        assert f'id="{anchor}"' in page


def test_no_code_prompts_stderr_anchor_pilcrows_or_removed_cells(page: str) -> None:
    for marker in (
        "CODE_MARKER_EXECUTED",
        "CODE_MARKER_INPROCESS",
        "enable_offline_renderer",
        "STDERR_MARKER",
        "kernel stderr line",
        "HIDDEN_MARKER",
        "HIDDEN_OUTPUT_MARKER",
        "In&nbsp;[",
        "Out[",
        "¶",
        "anchor-link",
    ):
        assert marker not in page, marker
    assert "STDOUT_MARKER" in page  # stdout is kept: only stderr is dropped


def test_no_external_resources(page: str) -> None:
    tags = _tags(page)
    for tag, attrs in tags:
        for name in ("src", "href", "srcset", "action", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, name, value)
        assert not (tag == "script" and "src" in attrs)
        assert tag != "link"
    assert "require.js" not in page and "mathjax" not in page.lower()
    assert "@import" not in page


def test_vega_bundle_is_inlined_exactly_once(page: str) -> None:
    assert page.count("window.vegaEmbed=") == 1
    head, _ = _split_head(page)
    assert "window.vegaEmbed=" in head  # defined before any chart script runs


def test_the_vega_bundle_comes_from_the_environment_else_from_the_cache(tmp_path, monkeypatch) -> None:
    import vl_convert

    from helpers.report import render

    built: list[str] = []

    def fake_bundle(vl_version: str) -> str:
        built.append(vl_version)
        return f"/* {len(built)} */window.vegaEmbed=function(){{}};"

    monkeypatch.setattr(vl_convert, "javascript_bundle", fake_bundle)
    monkeypatch.setattr(render.sys, "prefix", str(tmp_path / "env"))
    monkeypatch.setattr(render.paths, "CACHE", tmp_path / "cache")
    render.vega_bundle.cache_clear()
    try:
        assert not render.vega_bundle_ready()
        # No bundle anywhere: built once, into the cache.
        assert render.vega_bundle() == "/* 1 */window.vegaEmbed=function(){};"
        assert render.vega_bundle_path().is_file() and render.vega_bundle_ready()
        # `make env` builds it into the environment, which a publish reads first.
        installed = render.install_vega_bundle()
        assert installed == tmp_path / "env" / "share" / "kefu-weikan" / installed.name
        assert installed.name.startswith(f"vega-bundle-{vl_convert.__version__}-vl")
        render.vega_bundle.cache_clear()
        assert render.vega_bundle() == "/* 2 */window.vegaEmbed=function(){};"
        assert render.install_vega_bundle() == installed and len(built) == 2  # not rebuilt
        # An incomplete file is never used: the cache's copy is.
        installed.write_text("window.vega=1;", encoding="utf-8")
        render.vega_bundle.cache_clear()
        assert render.vega_bundle() == "/* 1 */window.vegaEmbed=function(){};"
        assert built == [render.BUNDLE_VL_VERSION] * 2
    finally:
        render.vega_bundle.cache_clear()


def test_each_chart_div_has_its_own_vega_embed_call(page: str) -> None:
    ids = re.findall(r'<div class="kf-chart" id="([^"]+)"></div>', page)
    assert len(ids) == 3  # one executed by the kernel, two rendered in-process
    assert len(set(ids)) == 3
    calls = re.findall(r'vegaEmbed\("#([^"]+)"', _body(page))
    assert sorted(calls) == sorted(ids)


def _csv_links(html: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in _tags(_body(html)) if tag == "a" and attrs.get("class") == "kf-csv"]


def _csv_rows(href: str) -> list[list[str]]:
    prefix = "data:text/csv;charset=utf-8;base64,"
    assert href.startswith(prefix)
    data = base64.b64decode(href[len(prefix) :])
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese right
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text)))


def test_every_chart_has_a_csv_download_of_its_data(page: str) -> None:
    ids = re.findall(r'<div class="kf-chart" id="([^"]+)"></div>', page)
    links = _csv_links(page)
    assert [link["download"] for link in links] == [f"{i}.csv" for i in ids]
    assert all(link["href"].startswith("data:text/csv") for link in links)  # offline: nothing fetched
    assert page.count(">下载数据（CSV）</a>") == 3
    kernel, smart, video = (_csv_rows(link["href"]) for link in links)
    # a plain Altair chart: its columns in the (sorted) order the spec was stored in
    assert sorted(kernel[0]) == ["呼入量", "月份"]
    assert [dict(zip(kernel[0], row, strict=True)) for row in kernel[1:]] == [
        {"月份": "1月", "呼入量": "3"},
        {"月份": "2月", "呼入量": "4"},
    ]
    assert smart == [["渠道", "量"], ["c0", "5"], ["c1", "7"]]
    # a builder's chart: the store's column order survives the notebook's sorted JSON
    assert video[0] == ["type", "count", "count_label", "share", "share_label"]
    assert [row[0] for row in video[1:]] == ["理财咨询", "手机发证", "其他"]
    # each link sits right under its chart
    for element_id in ids:
        chart_at = page.index(f'<div class="kf-chart" id="{element_id}">')
        link_at = page.index(f'download="{element_id}.csv"')
        assert chart_at < link_at and '<div class="kf-chart"' not in page[chart_at + 1 : link_at]


def test_csv_link_follows_renamed_ids_and_charts_shown_without_our_renderer(tmp_path: Path) -> None:
    reset_chart_ids()
    twice = _bundle(charts.video_business_chart(VIDEO_ROWS))
    spec = charts.video_business_chart(VIDEO_ROWS).to_dict()
    cells = [
        new_code_cell("a", outputs=[new_output("display_data", data={"text/html": twice["text/html"]})]),
        new_code_cell("b", outputs=[new_output("display_data", data={"text/html": twice["text/html"]})]),
        new_code_cell("c", outputs=[new_output("display_data", data={VEGALITE_MIMETYPE: spec})]),
    ]
    path = tmp_path / "charts.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    html = assemble_issue([path], tmp_path / "issue.html", meta=META).read_text("utf-8")
    ids = re.findall(r'<div class="kf-chart" id="([^"]+)"></div>', html)
    assert len(ids) == 3 and ids[1] == f"{ids[0]}-2"
    links = _csv_links(html)
    assert [link["download"] for link in links] == [f"{i}.csv" for i in ids]
    expected = export.table_csv(*export.spec_table(spec))
    for link in links:
        assert base64.b64decode(link["href"].split(",", 1)[1]) == expected


def test_chart_without_one_table_is_published_without_a_link(tmp_path: Path) -> None:
    reset_chart_ids()
    two_tables = alt.layer(
        alt.Chart(alt.InlineData(values=[{"a": 1}])).mark_bar().encode(x="a:Q"),
        alt.Chart(alt.InlineData(values=[{"a": 2}])).mark_point().encode(x="a:Q"),
    )
    cell = new_code_cell("c", outputs=[new_output("display_data", data=_bundle(two_tables))])
    path = tmp_path / "two.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    html = assemble_issue([path], tmp_path / "issue.html", meta=META).read_text("utf-8")
    assert html.count('<div class="kf-chart"') == 1 and _csv_links(html) == []


def test_csv_links_are_discreet_and_not_printed() -> None:
    css = issue_mod.CSS_FILE.read_text(encoding="utf-8")
    assert re.search(r"\.kf-csv\s*\{[^}]*font-size", css)
    printed = css[css.index("@media print") :]
    assert re.search(r"\.kf-csv\s*\{\s*display:\s*none", printed)


def test_editorial_script_only_appears_escaped(page: str) -> None:
    assert "alert(1)</script>" not in page
    # markdown cell, display(HTML(render_markdown(...))), and a text/markdown output
    assert page.count(ESCAPED_SCRIPT) == 3


def test_about_panel_from_meta(page: str) -> None:
    about = re.search(r'<footer class="kf-about">(.*?)</footer>', page, re.S).group(1)
    for text in (
        "inbound_calls.csv",
        "a" * 64,
        ">12<",
        "service_level_seconds",
        "v0.1.0-2-gdeadbee",
        "6.3.0",
        "2022-04-15",
        'href="../docs/kpi.md"',
    ):
        assert text in about, text


def test_two_assemblies_are_byte_identical(notebooks: list[Path], tmp_path: Path) -> None:
    first = assemble_issue(notebooks, tmp_path / "a.html", meta=META)
    second = assemble_issue(notebooks, tmp_path / "b.html", meta=dict(META))
    assert first.read_bytes() == second.read_bytes()


def test_failed_conversion_leaves_existing_issue_untouched(
    notebooks: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "issue.html"
    out.write_text("previous issue", encoding="utf-8")

    def boom(*args, **kwargs):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(issue_mod.HTMLExporter, "from_notebook_node", boom)
    with pytest.raises(RuntimeError, match="conversion failed"):
        assemble_issue(notebooks, out, meta=META)
    assert out.read_text(encoding="utf-8") == "previous issue"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["issue.html"]


def test_notebook_with_an_error_is_refused(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell("## 出错"),
            new_code_cell(
                "1/0",
                outputs=[
                    new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
                ],
            ),
        ]
    )
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(IssueError, match="bad.ipynb, cell 2 raised ZeroDivisionError"):
        assemble_issue([path], tmp_path / "issue.html", meta=META)
    assert not (tmp_path / "issue.html").exists()


def test_html_outputs_lose_scripts_handlers_and_network_images(tmp_path: Path) -> None:
    fragment = (
        '<p onclick="steal()">正文</p><script>evil()</script>'
        '<img src="https://example.com/x.png"><a href="javascript:evil()">x</a>'
        '<a href="https://www.example.com/">外部</a>'
    )
    nb = new_notebook(
        cells=[new_code_cell("h", outputs=[new_output("display_data", data={"text/html": fragment})])]
    )
    path = tmp_path / "html.ipynb"
    nbformat.write(nb, path)
    body = _body(assemble_issue([path], tmp_path / "issue.html", meta=META).read_text("utf-8"))
    assert "正文" in body
    for gone in ("evil()", "steal()", "example.com/x.png"):
        assert gone not in body
    assert "window.vegaEmbed=" not in body  # no chart, no bundle


def test_issue_without_charts_has_no_bundle(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_markdown_cell("## 卷首语\n\n正文")])
    path = tmp_path / "text.ipynb"
    nbformat.write(nb, path)
    page = assemble_issue([path], tmp_path / "issue.html", meta={"quarter": "2023Q4"}).read_text("utf-8")
    assert "window.vegaEmbed" not in page and "<script" not in page
    assert "2023年第4期" in page and "客服中心" in page and "2023年四季度" in page


# ---------------------------------------------------------------- index page


def test_index_lists_issues_newest_first_with_relative_links(tmp_path: Path) -> None:
    issues = [
        {"quarter": "2021Q4", "label": "2021年第4期"},
        {"quarter": "2022Q1"},  # label defaults from the quarter
    ]
    index = write_index(tmp_path, issues)
    assert index == tmp_path / "index.html"
    html = index.read_text(encoding="utf-8")
    links = [(a.get("href")) for t, a in _tags(html) if t == "a"]
    assert links == ["2022Q1/issue.html", "2021Q4/issue.html"]
    assert html.index("2022年第1期") < html.index("2021年第4期")
    assert "2021年四季度" in html and "<script" not in html and "http" not in html


# ---------------------------------------------------------------- renderer


def test_the_vegalite_version_written_in_render_is_the_one_altair_targets() -> None:
    from helpers.report import render

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    assert render.ALTAIR_VEGALITE == f"v{major}.{minor}"
    assert render.VEGALITE_MIMETYPE == f"application/vnd.vegalite.v{major}+json"


def test_the_assembler_and_the_chart_exporter_never_import_altair_or_pandas() -> None:
    # Each publisher process that only draws or assembles would pay ~0.5-1 s per library.
    code = (
        "import sys\n"
        "import helpers.publish.pipeline, helpers.publish.issue, helpers.report.export\n"
        "import helpers.figures.store, helpers.data.extracts\n"
        "print(sorted(m for m in ('altair', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_renderer_bundle_is_html_plus_standard_vegalite_mimetype() -> None:
    enable_offline_renderer()
    reset_chart_ids()
    bundle = _chart([1, 2], "</script><b>标题</b>")
    assert set(bundle) == {"text/html", VEGALITE_MIMETYPE}
    assert VEGALITE_MIMETYPE == "application/vnd.vegalite.v6+json"
    html = bundle["text/html"]
    assert html.startswith('<div class="kf-chart" id="chart-')
    assert "http" not in html  # $schema dropped, no CDN
    assert html.count("</script>") == 1  # the title cannot close the script early
    assert "\\u003c/script\\u003e" in html
    nb = new_notebook(cells=[new_code_cell("c", outputs=[new_output("display_data", data=bundle)])])
    nbformat.validate(nb)  # nbformat accepts the +json key


def test_chart_ids_depend_only_on_spec_name_and_repeats() -> None:
    reset_chart_ids()
    spec = {"mark": "bar", "data": {"values": [{"a": 1}]}}
    same_keys_other_order = {"data": {"values": [{"a": 1}]}, "mark": "bar"}
    first, second = chart_id(spec), chart_id(same_keys_other_order)
    assert re.fullmatch(r"chart-[0-9a-f]{10}", first)
    assert second == first + "-2"
    reset_chart_ids()
    assert chart_id(spec) == first
    assert chart_id({"mark": "line"}) != first
    assert chart_id(spec, "Calls by line") == "chart-calls-by-line"
    assert chart_bundle({"name": "Video mix", "mark": "arc"}, mimetype=False)["text/html"].startswith(
        '<div class="kf-chart" id="chart-video-mix">'
    )


def test_render_markdown_escapes_html_and_limits_links() -> None:
    html = render_markdown(
        f"{SCRIPT}\n\n[坏](javascript:alert(2)) [好](https://example.com/a) [本地](kpi.md#t)"
        " ![远程](https://example.com/p.png) ![本地图](img/p.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert ESCAPED_SCRIPT in html and "<script" not in html
    assert "javascript:" not in html.replace("[坏](javascript:alert(2))", "")
    assert '<a href="https://example.com/a">好</a>' in html
    assert '<a href="kpi.md#t">本地</a>' in html
    assert "example.com/p.png" not in html and "[图片 / image: 远程]" in html
    assert '<img src="img/p.png" alt="本地图" />' in html
    assert '<div class="kf-table"><table>' in html


def test_esc_escapes_markup_and_quotes() -> None:
    assert esc('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert esc(None) == ""
    assert esc(94.55) == "94.55"
