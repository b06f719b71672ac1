"""Executed section notebooks -> one offline, deterministic HTML issue (and the index page).

`assemble_issue` reads the executed notebooks, merges them into one notebook
that holds only what readers see (markdown and outputs, never code, prompts or
stderr), renders every markdown cell itself (raw HTML escaped, ASCII heading
ids `sec-01`, `sec-01-02`), converts once with nbconvert's HTMLExporter and
the `kefu` template, and writes the page atomically. Under every chart it puts a
link that downloads the chart's data as CSV (a `data:` URL: offline, no
JavaScript). `write_index` writes
`<OUT>/index.html`. docs/issue-html.md explains the choices.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbformat import NotebookNode

from helpers import paths
from helpers.data import completeness
from helpers.quarter import Quarter
from helpers.report.export import spec_table, table_csv
from helpers.report.render import (
    CHART_RE,
    chart_html,
    chart_id,
    esc,
    is_relative_url,
    is_safe_link,
    markdown_parser,
    render_markdown,
    vega_bundle,
)

__all__ = [
    "IssueError",
    "TocEntry",
    "assemble_issue",
    "build_issue_notebook",
    "esc",
    "render_issue_html",
    "render_markdown",
    "write_index",
]

log = logging.getLogger(__name__)

TEMPLATE_NAME = "kefu"
CSS_FILE = paths.TEMPLATES / TEMPLATE_NAME / "static" / "kefu.css"
MASTHEAD_TITLE = "客服微刊"
DEFAULT_CENTRE = "客服中心"

# Cells carrying one of these tags are left out of the issue altogether.
DROP_CELL_TAGS = frozenset({"remove", "hide", "remove-cell", "hide-cell"})
DROP_OUTPUT_TAGS = frozenset({"remove-output", "hide-output"})
# Cells allowed to have raised (nbclient's own tag); their tracebacks are dropped.
ERROR_OK_TAGS = frozenset({"raises-exception"})

# Output mimetypes the issue can show, best first. Everything else (JavaScript,
# widgets, LaTeX, PDF) is dropped: it would need a runtime or a network.
_IMAGE_TYPES = ("image/svg+xml", "image/png", "image/jpeg")
_VEGALITE_KEY_RE = re.compile(r"\Aapplication/vnd\.vegalite\.v\d+[.+]json\Z")

# Run after the bundle: charts that queued themselves before vegaEmbed existed
# run now, and later ones run at once.
QUEUE_JS = (
    "(function(){var q=window.kfChartQueue||[];"
    "window.kfChartQueue={push:function(f){f();}};"
    "for(var i=0;i<q.length;i++){q[i]();}})();"
)

# Under each chart: its data as a CSV file inside the page (no JavaScript, no network).
CSV_LINK_TEXT = "下载数据（CSV）"
_EMBED_CALL = "window.vegaEmbed("

_HEADING_TAGS = ("h2", "h3")
_STRIP_ELEMENTS = ("script", "iframe", "object", "embed", "link", "meta", "base", "form", "frame")
_URL_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data")
_STYLE_URL_RE = re.compile(r"@import|url\(\s*['\"]?\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)", re.I)


class IssueError(ValueError):
    """A notebook that cannot be published as it is (e.g. it holds an error)."""


def fragment_spec(fragment: str) -> dict:
    """A chart fragment (`render.chart_html`) -> the Vega-Lite spec its script draws."""
    start = fragment.index(_EMBED_CALL) + len(_EMBED_CALL)
    decoder = json.JSONDecoder()
    _selector, end = decoder.raw_decode(fragment, start)
    if fragment[end : end + 1] != ",":
        raise ValueError("not a chart fragment")
    spec, _ = decoder.raw_decode(fragment, end + 1)
    return spec


def csv_link(spec: Mapping[str, Any], element_id: str) -> str:
    """A chart's spec + id -> `<a class="kf-csv" download="<id>.csv" href="data:text/csv…">`:
    the chart's one table as CSV (UTF-8 with BOM), downloadable from the offline page.
    "" (and a warning) when the chart has no single inline table."""
    try:
        columns, rows = spec_table(spec)
    except ValueError as err:
        log.warning("chart %s has no CSV download: %s", element_id, err)
        return ""
    payload = base64.b64encode(table_csv(columns, rows)).decode("ascii")
    return (
        f'<a class="kf-csv" download="{esc(element_id)}.csv" '
        f'href="data:text/csv;charset=utf-8;base64,{payload}">{esc(CSV_LINK_TEXT)}</a>'
    )


@dataclass(frozen=True)
class TocEntry:
    level: int  # 2 or 3
    anchor: str  # `sec-01`, `sec-01-02`
    text: str  # plain heading text


@dataclass
class _Headings:
    """Hands out ASCII ids to h2/h3 headings in page order and records the TOC."""

    h2: int = 0
    h3: int = 0
    toc: list[TocEntry] = field(default_factory=list)

    def next_id(self, level: int, text: str) -> str:
        if level == 2:
            self.h2, self.h3 = self.h2 + 1, 0
            anchor = f"sec-{self.h2:02d}"
        else:
            # An h3 before any h2 still gets a unique id (`sec-00-01`).
            self.h3 += 1
            anchor = f"sec-{self.h2:02d}-{self.h3:02d}"
        self.toc.append(TocEntry(level, anchor, " ".join(text.split())))
        return anchor

    def markdown(self, text: str) -> str:
        """Markdown -> safe HTML (as `render_markdown`) with ids on its h2/h3."""
        md = markdown_parser()
        tokens = md.parse(text, {})
        for i, token in enumerate(tokens):
            if token.type == "heading_open" and token.tag in _HEADING_TAGS:
                inline = tokens[i + 1]
                plain = md.renderer.renderInlineAsText(inline.children or [], md.options, {})
                token.attrSet("id", self.next_id(int(token.tag[1]), plain))
        return md.renderer.render(tokens, md.options, {})

    def html(self, fragment: str) -> str:
        """An HTML output fragment -> the same, sanitised, with ids on its h2/h3."""
        soup = BeautifulSoup(fragment, "html.parser")
        _sanitise(soup)
        for heading in soup.find_all(_HEADING_TAGS):
            heading["id"] = self.next_id(int(heading.name[1]), heading.get_text())
        return str(soup)


def _sanitise(soup: BeautifulSoup) -> None:
    """Remove what could run code or fetch from the network from non-chart HTML outputs."""
    for element in soup.find_all(_STRIP_ELEMENTS):
        element.decompose()
    for style in soup.find_all("style"):
        if _STYLE_URL_RE.search(style.get_text()):
            style.decompose()
    for element in soup.find_all(True):
        for attr in list(element.attrs):
            value = element.attrs[attr]
            text = " ".join(value) if isinstance(value, list) else str(value)
            if attr.lower().startswith("on"):
                del element.attrs[attr]
            elif attr.lower() == "style" and _STYLE_URL_RE.search(text):
                del element.attrs[attr]
            elif attr.lower() in _URL_ATTRS:
                fetched = attr.lower() != "href"
                # Links may point anywhere safe; anything the browser would fetch must be local.
                ok = is_relative_url(text) if fetched else is_safe_link(text)
                if fetched and text.strip().lower().startswith("data:image/"):
                    ok = True
                if not ok:
                    del element.attrs[attr]


def _display(data: dict[str, Any], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A display_data output, as a plain dict: `build_issue_notebook` makes the merged
    notebook's nodes in one go, and nbconvert validates it whole (nbformat.v4's new_output
    schema-checked each of a page's ~150 outputs)."""
    return {"output_type": "display_data", "data": data, "metadata": metadata or {}}


def _tags(cell: NotebookNode) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


@dataclass
class _Merger:
    """State shared while the notebooks are merged: heading ids and chart ids."""

    headings: _Headings = field(default_factory=_Headings)
    chart_ids: set[str] = field(default_factory=set)
    charts: int = 0

    def chart(self, fragment: str) -> str:
        """A chart fragment -> the same, its id made unique across the whole issue, followed by
        the link that downloads its data as CSV."""
        element_id = CHART_RE.match(fragment).group("id")
        unique, n = element_id, 1
        while unique in self.chart_ids:
            n += 1
            unique = f"{element_id}-{n}"
        self.chart_ids.add(unique)
        self.charts += 1
        if unique != element_id:
            fragment = fragment.replace(f'"{element_id}"', f'"{unique}"')
            fragment = fragment.replace(f'"#{element_id}"', f'"#{unique}"')
        link = csv_link(fragment_spec(fragment), unique)
        return f"{fragment}\n{link}" if link else fragment

    def output(self, output: NotebookNode, where: str, tags: set[str]) -> Mapping[str, Any] | None:
        """One output -> what the issue shows of it (a single-mimetype display_data) or None."""
        kind = output.get("output_type")
        if kind == "stream":
            return output if output.get("name") == "stdout" else None
        if kind == "error":
            if tags & ERROR_OK_TAGS:
                return None
            raise IssueError(
                f"{where} raised {output.get('ename')}: {output.get('evalue')} — "
                "a notebook with an error is not published"
            )
        if kind not in ("display_data", "execute_result"):
            return None
        data = output.get("data", {})
        metadata = output.get("metadata", {})
        html = data.get("text/html")
        if isinstance(html, list):
            html = "".join(html)
        if html is not None:
            if CHART_RE.match(html):
                return _display({"text/html": self.chart(html)})
            return _display({"text/html": self.headings.html(html)})
        vegalite = next((k for k in data if _VEGALITE_KEY_RE.match(k)), None)
        if vegalite is not None:
            # A chart shown without our renderer: draw it the offline way anyway.
            spec = data[vegalite]
            fragment = self.chart(chart_html(spec, chart_id(spec)))
            return _display({"text/html": fragment})
        if "text/markdown" in data:
            text = data["text/markdown"]
            text = "".join(text) if isinstance(text, list) else text
            return _display({"text/html": self.headings.markdown(text)})
        for mimetype in _IMAGE_TYPES:
            if mimetype in data:
                meta = {mimetype: metadata[mimetype]} if mimetype in metadata else {}
                return _display({mimetype: data[mimetype]}, meta)
        if "text/plain" in data:
            return _display({"text/plain": data["text/plain"]})
        return None


def build_issue_notebook(
    notebooks: Iterable[NotebookNode], names: Iterable[str] | None = None
) -> tuple[NotebookNode, list[TocEntry], int]:
    """Executed notebooks (in issue order) -> (merged notebook, TOC entries, chart count).

    The merged notebook holds markdown cells (pre-rendered into
    `metadata["kefu_html"]`) and code cells with empty sources and only the
    outputs readers see. Dropped: cells tagged remove/hide, raw cells, stderr,
    JavaScript/widget outputs, code cells left with no output. Cell ids are
    renumbered (`kf-0001` ...) so the page does not depend on how the notebooks
    were produced. Raises IssueError when a cell holds an untagged error.
    """
    notebooks = list(notebooks)
    names = list(names) if names is not None else [f"notebook {i + 1}" for i in range(len(notebooks))]
    merger = _Merger()
    cells: list[dict[str, Any]] = []
    for name, nb in zip(names, notebooks, strict=True):
        for index, cell in enumerate(nb.cells):
            tags = _tags(cell)
            if tags & DROP_CELL_TAGS:
                continue
            if cell.cell_type == "markdown":
                source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
                rendered = merger.headings.markdown(source)
                cells.append({"cell_type": "markdown", "source": "", "metadata": {"kefu_html": rendered}})
            elif cell.cell_type == "code":
                where = f"{name}, cell {index + 1}"
                outputs = [] if tags & DROP_OUTPUT_TAGS else cell.get("outputs", [])
                shown = [o for o in (merger.output(o, where, tags) for o in outputs) if o is not None]
                if shown:
                    code = {"cell_type": "code", "source": "", "metadata": {}, "execution_count": None}
                    cells.append({**code, "outputs": shown})
    for number, cell in enumerate(cells, start=1):
        cell["id"] = f"kf-{number:04d}"
    merged = nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    return merged, merger.headings.toc, merger.charts


# ---------------------------------------------------------------- page chrome


def _css() -> str:
    return CSS_FILE.read_text(encoding="utf-8")


def _quarter_text(quarter: str) -> str:
    q = Quarter.parse(quarter)
    return f"{q.year}年{q.cn_name}"


def _masthead(meta: Mapping[str, Any]) -> str:
    quarter = str(meta["quarter"])
    label = meta.get("label") or Quarter.parse(quarter).label
    centre = meta.get("centre") or DEFAULT_CENTRE
    return (
        '<header class="kf-masthead">\n'
        f"<h1>{esc(MASTHEAD_TITLE)}</h1>\n"
        '<p class="kf-issue-line">'
        f'<span class="kf-label">{esc(label)}</span>'
        f'<span class="kf-centre">{esc(centre)}</span>'
        f'<span class="kf-quarter">{esc(_quarter_text(quarter))}</span>'
        "</p>\n</header>"
    )


def _toc(entries: list[TocEntry]) -> str:
    """TOC entries -> nested `<ol>`: h3 entries sit under the h2 before them."""
    lines = ['<nav class="kf-toc" aria-label="目录">', '<h2 id="toc">目录</h2>', "<ol>"]
    open_sub = False
    open_item = False
    for entry in entries:
        link = f'<a href="#{entry.anchor}">{esc(entry.text)}</a>'
        if entry.level == 2 or not open_item:
            if open_sub:
                lines.append("</ol>")
                open_sub = False
            if open_item:
                lines.append("</li>")
            lines.append(f"<li>{link}")
            open_item = True
            if entry.level == 3:
                # An h3 before any h2 is listed at the top level.
                lines.append("</li>")
                open_item = False
        else:
            if not open_sub:
                lines.append("<ol>")
                open_sub = True
            lines.append(f"<li>{link}</li>")
    if open_sub:
        lines.append("</ol>")
    if open_item:
        lines.append("</li>")
    lines.append('<li><a href="#about">关于本期 / About this issue</a></li>')
    lines += ["</ol>", "</nav>"]
    return "\n".join(lines)


def _dash(value: Any) -> str:
    return esc(value) if value not in (None, "") else "—"


def _about(meta: Mapping[str, Any]) -> str:
    """Provenance panel: inputs with SHA-256, parameters, code and package versions, KPI link, date."""
    parts = ['<footer class="kf-about">', '<h2 id="about">关于本期 / About this issue</h2>']
    parts.append("<dl>")
    parts.append(f"<dt>数据截至 / Data as of</dt><dd>{_dash(meta.get('data_as_of'))}</dd>")
    parts.append(f"<dt>季度 / Quarter</dt><dd>{_dash(meta.get('quarter'))}</dd>")
    parts.append(f"<dt>代码版本 / Code version</dt><dd><code>{_dash(meta.get('code_version'))}</code></dd>")
    href = meta.get("kpi_doc_href")
    if href and is_relative_url(str(href)):
        kpi = f'<a href="{esc(href)}">指标口径 / KPI definitions</a>'
    elif href:
        # The page must not link off-line resources; show the address as text.
        kpi = f"指标口径 / KPI definitions: <code>{esc(href)}</code>"
    else:
        kpi = "—"
    parts.append(f"<dt>指标口径 / KPI definitions</dt><dd>{kpi}</dd>")
    parts.append("</dl>")
    parts.append(_completeness(meta.get("completeness")))
    if meta.get("changes") is not None:
        parts[-1] += _changes(meta["changes"])

    parts.append("<h3>输入文件 / Input files</h3>")
    inputs = list(meta.get("inputs") or [])
    if inputs:
        parts.append('<div class="kf-table"><table>')
        parts.append(
            '<thead><tr><th>文件 / File</th><th class="num">行数 / Rows</th>'
            "<th>SHA-256</th></tr></thead><tbody>"
        )
        for item in inputs:
            parts.append(
                f"<tr><td>{_dash(item.get('name'))}</td>"
                f'<td class="num">{_dash(item.get("rows"))}</td>'
                f"<td><code>{_dash(item.get('sha256'))}</code></td></tr>"
            )
        parts.append("</tbody></table></div>")
    else:
        parts.append("<p>—</p>")

    for title, key in (("参数 / Parameters", "parameters"), ("软件包版本 / Package versions", "packages")):
        parts.append(f"<h3>{esc(title)}</h3>")
        values = meta.get(key) or {}
        if values:
            parts.append("<dl>")
            for name in sorted(values, key=str):
                parts.append(f"<dt>{esc(name)}</dt><dd><code>{_dash(values[name])}</code></dd>")
            parts.append("</dl>")
        else:
            parts.append("<p>—</p>")
    parts.append("</footer>")
    return "\n".join(parts)


COMPLETENESS_TITLE = "数据完整性 / Data completeness"


def _completeness(warnings: list[Mapping[str, Any]] | None) -> str:
    """The About panel's 数据完整性 block: every completeness warning of the quarter (days
    or months an extract misses, docs/validation.md), or that there is none."""
    parts = [f'<div class="kf-completeness"><h3>{esc(COMPLETENESS_TITLE)}</h3>']
    if warnings is None:
        parts.append("<p>—</p>")
    elif not warnings:
        parts.append(
            "<p>无提示：每个全天候渠道的每一天、每个月度文件的每个月都有数据。"
            " / No warnings: every day of each round-the-clock channel and every month of"
            " each monthly extract has rows.</p>"
        )
    else:
        parts.append(
            f'<p class="kf-warn">{len(warnings)} 条提示，请核对数据后再采信相关指标。'
            f" / {len(warnings)} warning{'s' if len(warnings) != 1 else ''}: check these"
            " extracts before relying on the figures drawn from them.</p>"
        )
        parts.append('<div class="kf-table"><table>')
        parts.append(
            "<thead><tr><th>文件 / File</th><th>日期或月份 / Day or month</th>"
            '<th class="num">行数 / Rows</th><th class="num">通常（中位数） / Typical (median)</th>'
            "<th>规则 / Rule</th></tr></thead><tbody>"
        )
        for item in warnings:
            w = completeness.CompletenessWarning(**item)
            where = f"{w.period} {w.weekday}" if w.weekday else w.period
            parts.append(
                f"<tr><td>{esc(w.file)}</td><td>{esc(where)}</td>"
                f'<td class="num">{esc(completeness.number(w.rows))}</td>'
                f'<td class="num">{esc(completeness.number(w.typical))}</td>'
                f"<td>{esc(w.rule)}</td></tr>"
            )
        parts.append("</tbody></table></div>")
    parts.append("</div>")
    return "\n".join(parts)


CHANGES_TITLE = "与上一版相比 / Changes since the previous version"
CORRECTION_TITLE = "更正说明 / Correction"


def _printed(value: Any) -> str:
    from helpers.publish.revisions import printed

    return esc(printed(value))


def _figure_list(figures: list[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td><code>{esc(f['key'])}</code></td><td>{_printed(f.get('old'))}</td>"
        f"<td>{_printed(f.get('new'))}</td></tr>"
        for f in figures
    )
    return (
        '<div class="kf-table"><table><thead><tr><th>指标 / Figure</th><th>原为 / Was</th>'
        f"<th>现为 / Now</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _changes(changes: Mapping[str, Any]) -> str:
    """The About panel's 与上一版相比 block (revisions.Changes.as_dict()), between markers
    that revisions.without_notes removes when two versions are compared. It follows the
    block before it on the same line-join, so leaving it out gives the page without it."""
    parts = [f'\n<!--kf-changes--><div class="kf-changes"><h3>{esc(CHANGES_TITLE)}</h3>']
    figures = list(changes.get("figures") or [])
    sections = list(changes.get("sections") or [])
    if figures:
        parts.append(f"<p>{len(figures)} 项数据变化 / {len(figures)} figure(s) changed:</p>")
        parts.append(_figure_list(figures))
    if sections:
        items = "".join(
            f'<li><a href="#{esc(s["id"])}">{esc(s["title"])}</a></li>'
            if s.get("id")
            else f"<li>{esc(s['title'])}</li>"
            for s in sections
        )
        parts.append(f"<p>文字有改动的栏目 / Sections whose text changed:</p><ul>{items}</ul>")
    if not figures and not sections:
        parts.append(
            "<p>数据与正文未变，仅说明信息有更新。 / No figure or section text changed;"
            " only the provenance or the markup.</p>"
        )
    parts.append("</div><!--/kf-changes-->")
    return "".join(parts)


def _correction(meta: Mapping[str, Any]) -> str:
    """The 更正说明 box that opens a corrected issue: the reason and the figures changed."""
    correction = meta.get("correction")
    if not correction:
        return ""
    parts = [
        f'\n<!--kf-correction--><aside class="kf-correction" role="note"><h2>{esc(CORRECTION_TITLE)}</h2>',
        f"<p>{esc(correction.get('reason'))}</p>",
    ]
    figures = list(correction.get("figures") or [])
    if figures:
        parts.append(_figure_list(figures))
    else:
        parts.append("<p>数据未作更正。 / No figure was corrected.</p>")
    sections = [s.get("title") for s in correction.get("sections") or []]
    if sections:
        titles = "；".join(esc(t) for t in sections)
        parts.append(f"<p>更正的栏目 / Sections corrected: {titles}</p>")
    parts.append("</aside><!--/kf-correction-->")
    return "".join(parts)


@functools.cache
def _exporter() -> HTMLExporter:
    """The page's nbconvert exporter, one per process: its Jinja templates are compiled on
    first use (~0.2 s), so a backfill worker's later issues reuse them."""
    return HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(paths.TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        sanitize_html=False,
    )


def render_issue_html(
    merged: NotebookNode, toc: list[TocEntry], meta: Mapping[str, Any], *, charts: int = 0
) -> str:
    """Merged notebook + TOC + meta -> the complete issue page as one HTML string.

    The vega bundle is inlined once in `<head>` when the issue has any chart.
    """
    quarter = str(meta["quarter"])
    label = meta.get("label") or Quarter.parse(quarter).label
    resources = {
        "kefu": {
            "title": esc(f"{MASTHEAD_TITLE} {label}"),
            "css": _css(),
            "vega_bundle": vega_bundle() if charts else "",
            "queue_js": QUEUE_JS,
            "masthead": _masthead(meta) + _correction(meta),
            "toc": _toc(toc),
            "about": _about(meta),
        }
    }
    body, _ = _exporter().from_notebook_node(merged, resources=resources)
    # nbconvert's whitespace varies with block nesting; trailing spaces are noise.
    return "\n".join(line.rstrip() for line in body.splitlines()) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    """Write text to path via a temporary file in the same folder and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def assemble_issue(
    notebooks: list[Path],
    out_html: Path,
    *,
    meta: dict,
    amend: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> Path:
    """Executed notebooks (issue order) + meta -> `out_html`, one offline HTML page.

    meta keys: `quarter` (required, `2022Q1`), `label` (default `2022年第1期`),
    `centre` (default 客服中心), `data_as_of` (a date string; never the clock),
    `inputs` (list of {name, sha256, rows}), `parameters` (dict), `code_version`,
    `packages` (dict), `kpi_doc_href` (relative link), `completeness` (the quarter's
    completeness warnings as dicts, helpers.data.completeness), `changes` and `correction`
    (the revision notes: the About panel's change list, the 更正说明 box). `amend`, when
    given, is called with the page and may return meta keys to render it again with
    (the publisher adds the revision notes once it has compared the page with the
    published one). Everything is built in memory first; an existing `out_html` is
    replaced only when all succeeded.
    """
    notebooks = [Path(p) for p in notebooks]
    nodes = [nbformat.read(p, as_version=4) for p in notebooks]
    merged, toc, charts = build_issue_notebook(nodes, [p.name for p in notebooks])
    page = render_issue_html(merged, toc, meta, charts=charts)
    extra = amend(page) if amend is not None else None
    if extra:
        page = render_issue_html(merged, toc, {**meta, **extra}, charts=charts)
    out_html = Path(out_html)
    _write_atomic(out_html, page)
    log.info("issue written: %s (%d sections, %d charts)", out_html, len(toc), charts)
    return out_html


def write_index(out_root: Path, issues: list[dict]) -> Path:
    """Published issues -> `<out_root>/index.html`, newest quarter first: one table with
    each issue's headline KPIs (helpers.figures.headline.HEADLINE, printed as the issue
    prints them), its status and its links (template `templates/dashboard/`).

    Each issue dict needs `quarter`; optional: `label` (default: the quarter's label),
    `centre` (of the first issue; default 客服中心), `completeness_warnings` (a count:
    marks an issue with completeness warnings), `metrics` (its metrics.json document;
    without it the figures print as —), `status` (draft/released/corrected; default
    draft), `metrics_href` and `pdf_href` (linked when given). Links are relative
    (`2022Q1/issue.html`), so the folder can be copied anywhere. No time, no script:
    the same issues give the same bytes.
    """
    from helpers.figures.headline import HEADLINE

    out_root = Path(out_root)
    ordered = sorted(issues, key=lambda item: Quarter.parse(str(item["quarter"])), reverse=True)
    centre = (issues[0].get("centre") if issues else None) or DEFAULT_CENTRE
    groups: list[dict] = []
    for h in HEADLINE:
        if not groups or groups[-1]["name"] != h.group:
            groups.append({"name": h.group, "columns": [], "full": []})
        groups[-1]["columns"].append(h.label.removeprefix(h.group).strip() or h.label)
        groups[-1]["full"].append(h.label)
    for group in groups:
        if len(group["columns"]) == 1:  # one column: its header spans both rows, the full label
            group["columns"] = group["full"]
    rows = []
    for item in ordered:
        quarter = str(item["quarter"])
        metrics = item.get("metrics") or {}
        status = item.get("status") or "draft"
        rows.append(
            {
                "quarter": quarter,
                "label": item.get("label") or Quarter.parse(quarter).label,
                "href": f"{quarter}/issue.html",
                "quarter_text": _quarter_text(quarter),
                "warn_mark": _warning_mark(item.get("completeness_warnings")),
                "metrics_href": item.get("metrics_href"),
                "pdf_href": item.get("pdf_href"),
                "status": status if status in INDEX_STATUS else "draft",
                "status_text": INDEX_STATUS.get(status, INDEX_STATUS["draft"]),
                "figures": [h.printed(h.value(metrics)) for h in HEADLINE],
            }
        )
    page = _dashboard_template().render(
        title=MASTHEAD_TITLE, centre=centre, css=_css(), groups=groups, rows=rows
    )
    page = "\n".join(line.rstrip() for line in page.splitlines()) + "\n"
    path = out_root / "index.html"
    _write_atomic(path, page)
    return path


INDEX_STATUS = {"draft": "草稿 / draft", "released": "已发布 / released", "corrected": "已更正 / corrected"}
DASHBOARD_DIR = paths.TEMPLATES / "dashboard"


def _dashboard_template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(DASHBOARD_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("dashboard.html.j2")


def _warning_mark(count: int | None) -> str:
    """The index's mark on an issue with completeness warnings ("" without any)."""
    if not count:
        return ""
    plural = "s" if count != 1 else ""
    title = (
        f"数据完整性：{count} 条提示，见该期“关于本期” / "
        f"Data completeness: {count} warning{plural}, listed in the issue's About panel"
    )
    return f'<span class="kf-warn-mark" title="{esc(title)}">⚠ 数据完整性 {count}</span>'


def write_document(markdown_path: Path, out_html: Path, *, title: str, centre: str = DEFAULT_CENTRE) -> Path:
    """A project document in markdown (e.g. docs/kpi.md) -> a standalone offline page
    beside the issue, so reviewers without the repository can read the KPI definitions."""
    body = render_markdown(Path(markdown_path).read_text(encoding="utf-8"))
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)} · {esc(MASTHEAD_TITLE)}</title>\n<style>\n{_css()}</style>\n</head>\n"
        '<body>\n<div class="kf-page">\n<header class="kf-masthead">\n'
        f"<h1>{esc(MASTHEAD_TITLE)}</h1>\n"
        f'<p class="kf-issue-line"><span class="kf-centre">{esc(centre)}</span>'
        f"<span>{esc(title)}</span></p>\n</header>\n"
        f'<main class="kf-main kf-doc">\n{body}\n</main>\n</div>\n</body>\n</html>\n'
    )
    _write_atomic(Path(out_html), page)
    return Path(out_html)
