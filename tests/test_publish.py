"""The published issue, end to end.

Most tests read the sample 2022Q1 issue published once for the session
(`published_out`). One more publish (`no_prior`) uses a data root holding only
2022Q1, with one editorial file left out and raw HTML planted in another; the
re-run test then publishes that folder again, unchanged and after one editorial
edit, and finally asks `make quarter` whether anything is stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from conftest import make, make_would_publish, run_cli, symlinked_quarters

from helpers import fmt, paths
from helpers.publish import inputs
from helpers.publish.sections import SECTIONS

Q = "2022Q1"
PRIOR = "2021Q1"
EDITORIAL_LEFT_OUT = "interest_group"
PLANTED = (
    "\n\n<script>alert(1)</script>\n\n"
    "<img src=x onerror=alert(2)>\n\n"
    "内联 <b onmouseover=alert(3)>加粗</b>，[链接](javascript:alert(4))\n"
)


# --- reading pages ------------------------------------------------------------------------


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def reader_text(path: Path) -> str:
    """What a reader sees of the page's body, without scripts, styles and the About panel."""
    soup = soup_of(path)
    for element in soup(["script", "style"]):
        element.decompose()
    for element in soup.select("footer.kf-about"):
        element.decompose()
    return " ".join(soup.get_text(" ").split())


def headings(soup: BeautifulSoup) -> list[str]:
    main = [h for h in soup.find_all(["h2", "h3"]) if not h.find_parent("nav")]
    return [" ".join(h.get_text().split()) for h in main]


def toc_entries(soup: BeautifulSoup) -> list[tuple[str, str]]:
    nav = soup.find("nav", class_="kf-toc")
    assert nav is not None, "the issue has no table of contents"
    return [(a["href"], " ".join(a.get_text().split())) for a in nav.find_all("a")]


def assert_offline(path: Path) -> None:
    """Nothing in the page is fetched from elsewhere when it opens."""
    html = path.read_text(encoding="utf-8")
    assert re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", html, re.I) == []
    assert re.findall(r"<link\b", html, re.I) == []
    assert re.findall(r"<script\b[^>]*\bsrc\s*=", html, re.I) == []
    assert re.findall(r"@import|url\(\s*['\"]?\s*(?:https?:|//)", html, re.I) == []


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def appears(value: str, text: str) -> bool:
    """`value` printed in `text` as a whole figure (`19` does not match inside `2019`)."""
    return re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", text) is not None


# --- the sample issue --------------------------------------------------------------------


def test_every_section_has_a_heading_and_a_toc_entry(published_sample, sample_root):
    soup = soup_of(published_sample)
    shown = headings(soup)
    toc_texts = [text for _href, text in toc_entries(soup)]
    editorial = paths.editorial_dir(Q, sample_root)
    expected = [s.title for s in SECTIONS if not s.editorial or (editorial / f"{s.editorial}.md").exists()]
    assert len(expected) == len(SECTIONS)  # the sample ships every editorial file
    for title in expected:
        assert title in shown, f"no heading {title!r}"
        assert title in toc_texts, f"no TOC entry {title!r}"
    # in print order
    assert [t for t in shown if t in expected] == expected
    assert soup.find("h1") is not None and "客服微刊" in soup.find("h1").get_text()


def test_every_toc_link_points_at_an_element(published_sample):
    soup = soup_of(published_sample)
    entries = toc_entries(soup)
    assert len(entries) >= len(SECTIONS)
    ids = [el["id"] for el in soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "duplicate element ids"
    for href, text in entries:
        assert href.startswith("#"), href
        target = soup.find(id=href[1:])
        assert target is not None, f"TOC link {href} ({text}) has no target"
        assert " ".join(target.get_text().split()) == text


def _chart_outputs(notebook: Path) -> int:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    count = 0
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            count += html.startswith('<div class="kf-chart"')
    return count


def test_every_chart_shown_is_in_the_issue_once(published_out, published_sample):
    html = published_sample.read_text(encoding="utf-8")
    executed = sorted((published_out / Q / "notebooks").glob("*.ipynb"))
    assert len(executed) == len(SECTIONS)
    shown = sum(_chart_outputs(nb) for nb in executed)
    assert shown >= 20
    divs = re.findall(r'<div class="kf-chart" id="([^"]+)"></div>', html)
    embeds = re.findall(r'vegaEmbed\("#([^"]+)"', html)
    assert len(divs) == shown
    assert len(set(divs)) == len(divs)
    assert sorted(embeds) == sorted(divs)
    # the vega bundle is inlined exactly once
    assert html.count("window.vegaEmbed=") == 1


def test_issue_kpi_and_index_load_nothing_from_elsewhere(published_out, published_sample):
    for page in (published_sample, published_out / Q / "kpi.html", published_out / "index.html"):
        assert_offline(page)


def _ids_from(path: Path, column: str, picks: tuple[int, ...] = (0, 1, 57, 499)) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        header = next(handle).rstrip("\n").split(",")
        rows = [line.rstrip("\n").split(",") for line in islice(handle, max(picks) + 1)]
    at = header.index(column)
    return [rows[i][at] for i in picks if i < len(rows)]


def test_no_row_level_ids_in_the_issue(published_sample, sample_root):
    html = published_sample.read_text(encoding="utf-8")
    ids = []
    for quarter in (Q, PRIOR):
        folder = sample_root / quarter
        ids += _ids_from(folder / "inbound_calls.csv", "call_id")
        ids += _ids_from(folder / "smart_sessions.csv", "session_id")
        ids += _ids_from(folder / "video_sessions.csv", "session_id")
        ids += _ids_from(folder / "tickets.csv", "ticket_id")
        ids += _ids_from(folder / "training.csv", "staff_id", picks=tuple(range(0, 400, 7)))
    ids = sorted(set(ids))
    assert len(ids) > 30
    assert [i for i in ids if i in html] == []


def _reference() -> dict:
    return yaml.safe_load((paths.REFERENCE / f"{Q}.yaml").read_text(encoding="utf-8"))


def test_every_reference_figure_is_printed(published_out, published_sample):
    text = reader_text(published_sample)
    figs = json.loads((published_out / Q / "metrics.json").read_text(encoding="utf-8"))
    missing = []
    for key, entry in _reference()["figures"].items():
        printed = entry["printed"]
        if key == "inbound.credit_card.outsourced_share":
            # inconsistent in print: the issue shows what the sample's counts give.
            printed = fmt.pct(figs[key])
            assert 40.86 <= float(printed.rstrip("%")) <= 40.92, printed
        elif key == "training.sessions_yoy":
            printed = "21.26%"
        if isinstance(printed, str):
            # A fall prints in words: -137 as `减少 137 笔`, -47.57% as `降幅 47.57%`.
            falls = printed.startswith("-") and re.search(
                rf"(减少|下降|降幅|降低)\s*{re.escape(printed[1:])}(?!\d)", text
            )
            if not (appears(printed, text) or falls):
                missing.append((key, printed))
        elif key == "video.business":
            for item in printed:
                row = f"{item['type']} {item['count']}"
                for part in (item["type"], str(item["count"]), item["share"]):
                    if not appears(part, text):
                        missing.append((key, row, part))
        elif key == "awards":
            for item in printed:
                months = "&".join(f"{m}月" for m in item["months"])
                for part in (item["category"], item["winner"], item.get("leader"), months):
                    if part and part not in text:
                        missing.append((key, item["winner"], part))
        else:
            raise AssertionError(f"unexpected reference entry {key}")
    assert missing == []


def test_metrics_json_nested_and_dotted_equal_the_figures(
    published_out, sample_root, session_cache, tmp_path, monkeypatch
):
    doc = json.loads((published_out / Q / "metrics.json").read_text(encoding="utf-8"))
    # Figures computed afresh in this process; only the validated tables are reused.
    shutil.copytree(session_cache / "validated", tmp_path / "cache" / "validated")
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")
    from helpers.figures import store as figures

    fresh = json.loads(figures.metrics.to_json(figures.quarter_figures(Q, sample_root)))
    assert list((tmp_path / "cache" / "store").glob("*.json")), "figures were not computed afresh"
    assert doc == fresh
    nested = {k: v for k, v in doc.items() if "." not in k}
    assert {"inbound", "tickets", "training", "awards", "quarter"} <= set(nested)

    def leaves(tree: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                out.update(leaves(value, f"{prefix}{key}."))
            elif prefix:
                out[f"{prefix}{key}"] = value
        return out

    dotted = {k: v for k, v in doc.items() if "." in k}
    assert dotted == leaves(nested)
    assert doc["inbound.general.requests"] == doc["inbound"]["general"]["requests"]
    assert fmt.wan(doc["inbound.general.requests"]) == "33.78万"


def test_figures_folder_has_svg_and_png_per_chart(published_out, published_sample):
    html = published_sample.read_text(encoding="utf-8")
    charts = html.count('<div class="kf-chart"')
    folder = published_out / Q / "figures"
    svgs = sorted(folder.rglob("*.svg"))
    pngs = sorted(folder.rglob("*.png"))
    assert len(svgs) == charts
    assert [p.with_suffix("") for p in pngs] == [p.with_suffix("") for p in svgs]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 1000
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        assert text.lstrip().startswith(("<svg", "<?xml")), svg.name
        assert cjk.search(text), f"{svg.name} has no Chinese text"
    # a chart's own title is drawn as text in its SVG
    titled = 0
    for spec_path in folder.rglob("*.vl.json"):
        title = json.loads(spec_path.read_text(encoding="utf-8")).get("title")
        title = title.get("text") if isinstance(title, dict) else title
        svg = Path(str(spec_path)[: -len(".vl.json")] + ".svg")
        if isinstance(title, str) and cjk.search(title) and svg.exists():
            assert title in svg.read_text(encoding="utf-8"), svg.name
            titled += 1
    assert titled >= 1


def test_every_published_chart_is_valid_vega_lite(published_out, published_sample, no_prior):
    """Publishing never validates a spec against the Vega-Lite schema (charts._builder):
    what the sample issues published is checked here instead, with and without a prior year."""
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    schema = load_schema()
    specs = [p for out in (published_out, no_prior.out) for p in (out / Q / "figures").rglob("*.vl.json")]
    assert len(specs) > 40
    for spec_path in specs:
        validate_jsonschema(json.loads(spec_path.read_text(encoding="utf-8")), schema)


def test_every_chart_has_its_data_as_csv_file_and_link(published_out, published_sample):
    from helpers.report import export

    folder = published_out / Q / "figures"
    html = published_sample.read_text(encoding="utf-8")
    specs = sorted(folder.rglob("*.vl.json"))
    assert specs and html.count('class="kf-csv"') == len(specs)
    for spec_path in specs:
        csv_path = Path(str(spec_path)[: -len(".vl.json")] + ".csv")
        columns, rows = export.spec_table(json.loads(spec_path.read_text(encoding="utf-8")))
        data = csv_path.read_bytes()
        assert data == export.table_csv(columns, rows) and data.startswith(b"\xef\xbb\xbf")
        assert not [c for c in columns if c.endswith("_id") or c == "staff_id"]


def test_index_links_the_issue(published_out):
    soup = soup_of(published_out / "index.html")
    hrefs = [a["href"] for a in soup.find_all("a", href=True)]
    assert f"{Q}/issue.html" in hrefs
    for href in hrefs:
        if not href.startswith("#"):
            assert (published_out / href).exists(), href


def test_kpi_page_exists_and_is_linked(published_out, published_sample):
    kpi = published_out / Q / "kpi.html"
    assert kpi.exists()
    text = reader_text(kpi)
    assert "指标口径" in text and "无同期数据" in text  # the definitions, rendered
    hrefs = [a["href"] for a in soup_of(published_sample).find_all("a", href=True)]
    assert "kpi.html" in hrefs


def test_about_panel_lists_every_input_with_its_sha256(published_sample, sample_root):
    about = soup_of(published_sample).find("footer", class_="kf-about")
    assert about is not None
    rows = {}
    for tr in about.find_all("tr"):
        cells = [" ".join(td.get_text().split()) for td in tr.find_all("td")]
        if cells:
            rows[cells[0]] = cells
    expected = {
        f"{quarter}/{p.name}": p
        for quarter in (Q, PRIOR)
        for p in (sample_root / quarter).iterdir()
        if p.name.endswith((".csv", ".csv.gz"))
    }
    assert len(expected) == 24
    assert sorted(rows) == sorted(expected)
    for name, path in expected.items():
        assert sha256(path) in rows[name], name


# --- a quarter without its prior year, one editorial file missing, raw HTML planted -------------


@dataclass
class Published:
    data: Path
    out: Path
    output: str
    issue: Path


@pytest.fixture(scope="module")
def no_prior(sample_root, session_cache, tmp_path_factory) -> Published:
    base = tmp_path_factory.mktemp("no-prior")
    folder = symlinked_quarters(sample_root, base / "data", (Q,), editorial=Q) / Q
    (folder / "editorial" / f"{EDITORIAL_LEFT_OUT}.md").unlink()
    closing = folder / "editorial" / "closing.md"
    closing.write_text(closing.read_text(encoding="utf-8") + PLANTED, encoding="utf-8")
    assert not (base / "data" / PRIOR).exists()
    result = run_cli("publish", Q, data=base / "data", out=base / "out", cache=session_cache)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return Published(base / "data", base / "out", output, base / "out" / Q / "issue.html")


def test_missing_editorial_file_leaves_its_section_out_with_a_warning(no_prior):
    left_out = next(s for s in SECTIONS if s.editorial == EDITORIAL_LEFT_OUT)
    warning = [line for line in no_prior.output.splitlines() if f"{EDITORIAL_LEFT_OUT}.md" in line]
    assert warning and "missing" in warning[0] and left_out.title in warning[0]
    soup = soup_of(no_prior.issue)
    assert left_out.title not in headings(soup)
    assert left_out.title not in [text for _h, text in toc_entries(soup)]
    for other in (s for s in SECTIONS if s.editorial and s.editorial != EDITORIAL_LEFT_OUT):
        assert other.title in headings(soup)


def test_without_prior_year_comparisons_say_no_data(no_prior):
    text = reader_text(no_prior.issue)
    assert "无同期数据" in text
    doc = json.loads((no_prior.out / Q / "metrics.json").read_text(encoding="utf-8"))
    assert doc["prior_quarter"] is None
    changes = {k: v for k, v in doc.items() if re.search(r"_(yoy|change|change_pp)$", k)}
    assert len(changes) >= 15
    assert {k: v for k, v in changes.items() if v is not None} == {}
    assert doc["tickets.total"] == doc["tickets"]["total"] == 34309  # this quarter is still there
    about = soup_of(no_prior.issue).find("footer", class_="kf-about").get_text()
    assert f"{Q}/inbound_calls.csv" in about and PRIOR not in about


def test_raw_html_in_editorial_text_never_runs(no_prior):
    html = no_prior.issue.read_text(encoding="utf-8")
    soup = soup_of(no_prior.issue)
    assert "草木蔓发" in reader_text(no_prior.issue)  # the closing words are there
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html.lower()
    assert all("alert(" not in (s.string or "") for s in soup.find_all("script"))
    assert [img for img in soup.find_all("img") if img.get("src") == "x"] == []
    handlers = [(el.name, a) for el in soup.find_all(True) for a in el.attrs if a.lower().startswith("on")]
    assert handlers == []
    assert [a["href"] for a in soup.find_all("a", href=True) if "javascript" in a["href"].lower()] == []


def _sections_run(output: str) -> list[str]:
    return re.findall(r"^\s+section (\w+)\s+[\d.]+ s", output, re.M)


def test_republish_runs_only_stale_sections_and_make_sees_up_to_date(no_prior, session_cache):
    # Runs after the other no_prior tests (file order): it edits the editorial text.
    again = run_cli("publish", Q, data=no_prior.data, out=no_prior.out, cache=session_cache)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "sections: 0 to run" in again.stdout
    assert _sections_run(again.stdout) == []

    # .build/notebooks keeps executed notebooks under the numbers they had: after a
    # section is added or moved, copies under earlier numbers (and of retired sections)
    # stay there. Only this issue's own notebooks may reach notebooks/.
    published = no_prior.out / Q / "notebooks"
    own = sorted(p.name for p in published.glob("*.ipynb"))
    build = no_prior.out / Q / ".build" / "notebooks"
    stale = ["00_inbound_general.ipynb", "99_retired.ipynb"]
    for name in stale:
        shutil.copy2(build / own[1], build / name)

    key_work = no_prior.data / Q / "editorial" / "key_work.md"
    key_work.write_text(
        key_work.read_text(encoding="utf-8") + "\n\n本期补记：热线系统完成扩容。\n", encoding="utf-8"
    )
    edited = run_cli("publish", Q, data=no_prior.data, out=no_prior.out, cache=session_cache)
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "sections: 1 to run" in edited.stdout
    assert _sections_run(edited.stdout) == ["key_work"]
    assert "本期补记：热线系统完成扩容。" in reader_text(no_prior.issue)
    assert sorted(p.name for p in published.glob("*.ipynb")) == own
    assert all((build / name).exists() for name in stale)  # the work folder is left as it was

    quarter = make("quarter", f"Q={Q}", f"DATA={no_prior.data}", f"OUT={no_prior.out}", cache=session_cache)
    output = quarter.stdout + quarter.stderr
    assert quarter.returncode == 0, output
    assert "is up to date" in output
    assert "publishing" not in output


# --- a section that fails ----------------------------------------------------------------------


def _tree_digests(issue_dir: Path) -> dict[str, str]:
    """Every published file of the issue (executed notebooks included); only the
    publisher's own work folder `.build/` is left out."""
    files = [p for p in sorted(issue_dir.rglob("*")) if ".build" not in p.relative_to(issue_dir).parts]
    digests = {str(p.relative_to(issue_dir)): sha256(p) for p in files if p.is_file()}
    assert any(name.startswith("notebooks/") for name in digests)
    return digests


def test_failed_section_leaves_the_last_issue_unchanged(
    published_out, sample_root, session_cache, tmp_path, monkeypatch
):
    # The real publisher, run on a copy of the published sample with a copy of the
    # notebooks in which the awards notebook raises in its last cell: only that
    # section is stale, it fails, and nothing published may change.
    from helpers.publish import pipeline as publish

    out = tmp_path / "out"
    shutil.copytree(published_out / Q, out / Q)
    before = _tree_digests(out / Q)
    notebooks = tmp_path / "notebooks"
    shutil.copytree(paths.NOTEBOOKS, notebooks)
    awards = notebooks / "awards.ipynb"
    nb = json.loads(awards.read_text(encoding="utf-8"))
    nb["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "deliberate-failure",
            "metadata": {},
            "outputs": [],
            "source": ["raise RuntimeError('deliberate failure 故意失败')"],
        }
    )
    awards.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
    monkeypatch.setattr(paths, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(paths, "CACHE", session_cache)
    monkeypatch.setenv("KFWK_CACHE", str(session_cache))
    lines: list[str] = []
    with pytest.raises(publish.SectionFailed) as caught:
        publish.publish(Q, sample_root, out, emit=lines.append)
    message = str(caught.value)
    assert "awards.ipynb" in message and "评优评先" in message
    assert "RuntimeError" in message and "deliberate failure 故意失败" in message
    assert any("sections: 1 to run" in line for line in lines), lines
    assert _tree_digests(out / Q) == before


# --- what `make quarter` counts as a change ----------------------------------------------------


def _append_to_key_work(data: Path) -> None:
    path = data / Q / "editorial" / "key_work.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n补记。\n", encoding="utf-8")


CHANGES = {
    "edited_editorial": _append_to_key_work,
    "removed_editorial": lambda data: (data / Q / "editorial" / "closing.md").unlink(),
    "removed_extract": lambda data: (data / Q / "awards.csv").unlink(),
    "removed_prior_year": lambda data: shutil.rmtree(data / PRIOR),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_make_sees_a_changed_input_as_stale(sample_root, tmp_path, change):
    # A data root of links to the sample (both quarters) and an issue newer than
    # every input (make compares times only, so any file stands for the issue).
    data = symlinked_quarters(sample_root, tmp_path / "data", (Q, PRIOR), editorial=Q)
    out = tmp_path / "out"
    (out / Q).mkdir(parents=True)
    (out / Q / "issue.html").write_text("<!DOCTYPE html>\n<html></html>\n", encoding="utf-8")
    # The list of inputs the publisher leaves beside an issue (helpers.publish.inputs).
    extracts = sorted(p for quarter in (Q, PRIOR) for p in (data / quarter).glob("*.csv*"))
    listed = inputs.issue_inputs(Q, data, extracts, quarters_missing=False)
    inputs.write_make_inputs(out / Q / ".build", listed)
    then = time.time() - 60
    for path in [data, *data.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)
    now = time.time()
    os.utime(out / Q / "issue.html", (now, now))
    assert not make_would_publish(Q, data=data, out=out, cache=tmp_path / "cache"), (
        "up to date before the change"
    )
    time.sleep(0.05)
    CHANGES[change](data)
    assert make_would_publish(Q, data=data, out=out, cache=tmp_path / "cache"), f"make does not see {change}"
