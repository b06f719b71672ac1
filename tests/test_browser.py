"""Browser proof of the published issue (helpers.devtools.browser, driving Debian's Chromium).

The published sample 2022Q1 must, in a real browser: draw every chart, log no
error, request nothing beyond its own file, have working TOC links and fit a
375 px phone. A hand-built faulty page proves that each check can fail.

Without /usr/bin/chromium the tests skip locally; under CI (env var CI set)
a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from helpers.devtools import browser
from helpers.report import render


@pytest.fixture(scope="session")
def chromium() -> None:
    if browser.browser_available():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but Chromium is missing at {browser.CHROMIUM}: apt-get install chromium")
    pytest.skip(f"Chromium not installed at {browser.CHROMIUM} (apt-get install chromium fonts-noto-cjk)")


@pytest.fixture(scope="session")
def sample_check(chromium, published_sample: Path) -> dict:
    return browser.check_issue(published_sample)


def test_every_chart_drew(sample_check, published_sample):
    # Count the placeholders in the file itself, independently of the browser.
    in_source = len(re.findall(r'<div\b[^>]*\bclass="[^"]*\bkf-chart\b', published_sample.read_text("utf-8")))
    charts = sample_check["charts"]
    assert in_source > 0
    assert charts["count"] == in_source
    assert charts["drawn"] == in_source
    assert charts["errors"] == []


def test_no_console_or_page_errors(sample_check):
    assert sample_check["console_errors"] == []
    assert sample_check["page_errors"] == []


def test_no_request_leaves_the_file(sample_check):
    # Not merely "blocked": the page must not even try to load anything else.
    assert sample_check["aborted_requests"] == []


def test_every_toc_link_reaches_its_section(sample_check, published_sample):
    nav = re.search(
        r'<nav\b[^>]*\bclass="[^"]*\bkf-toc\b[^"]*"[^>]*>(.*?)</nav>',
        published_sample.read_text("utf-8"),
        re.S,
    )
    assert nav, "the issue has no <nav class=kf-toc>"
    assert sample_check["toc"]["links"] == len(re.findall(r'<a\b[^>]*\bhref="#', nav.group(1)))
    assert sample_check["toc"]["links"] > 1
    assert sample_check["toc"]["broken"] == []


def test_nothing_overflows_a_375px_phone(sample_check):
    overflow = sample_check["overflow_375"]
    assert overflow["client_width"] == 375
    assert overflow["page_overflows"] is False
    assert overflow["elements"] == []
    assert sample_check["ok"] is True


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_print_pdf_makes_a_multipage_a4_pdf(chromium, published_sample, tmp_path):
    pdf = browser.print_pdf(published_sample, tmp_path / "issue.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    assert _pdf_pages(data) > 1
    # A4 is 595 x 842 pt; Chromium writes the page box with fractions.
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert box and round(float(box.group(1))) == 595 and round(float(box.group(2))) == 842


# A vegaEmbed stand-in: draws an svg, or rejects for a spec whose mark is "bad".
FAKE_EMBED = (
    "<script>window.vegaEmbed=function(sel,spec){if(spec.mark==='bad'){"
    "return Promise.reject(new Error('bad spec'));}"
    'document.querySelector(sel).innerHTML=\'<svg width="40" height="20"></svg>\';'
    "return Promise.resolve();};</script>"
)


def _faulty_page(path: Path) -> Path:
    render.reset_chart_ids()
    good = render.chart_html({"mark": "bar"}, "chart-good")
    bad = render.chart_html({"mark": "bad"}, "chart-bad")
    path.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{FAKE_EMBED}</head><body>"
        '<nav class="kf-toc"><a href="#one">一</a> <a href="#missing">缺</a> <a href="#hidden">藏</a></nav>'
        f'<h2 id="one">一</h2>{good}{bad}'
        '<div class="kf-table" style="max-width:100%;overflow-x:auto"><table style="width:900px">'
        "<tr><td>wide table in its own scroll box</td></tr></table></div>"
        '<div class="too-wide" style="width:700px">wide</div>'
        '<h2 id="hidden" style="display:none">藏</h2>'
        '<img src="https://example.com/logo.png" alt="">'
        "</body></html>",
        encoding="utf-8",
    )
    return path


def test_checker_reports_each_kind_of_fault(chromium, tmp_path):
    result = browser.check_issue(_faulty_page(tmp_path / "faulty.html"))
    assert result["ok"] is False
    assert result["charts"]["count"] == 2 and result["charts"]["drawn"] == 1
    assert {e["id"] for e in result["charts"]["errors"]} == {"chart-bad"}
    assert "chart failed to render" in result["charts"]["errors"][0]["error"]
    assert result["aborted_requests"] == ["https://example.com/logo.png"]
    assert any("bad spec" in message for message in result["console_errors"])
    assert {b["href"] for b in result["toc"]["broken"]} == {"#missing", "#hidden"}
    overflow = result["overflow_375"]
    assert overflow["page_overflows"] is True
    # The table scrolls inside its own box, so only the bare wide div counts.
    assert [e["element"] for e in overflow["elements"]] == ["div.too-wide"]


def test_print_pdf_refuses_a_page_whose_chart_failed(chromium, tmp_path):
    with pytest.raises(browser.ChartsNotDrawn, match="chart-bad"):
        browser.print_pdf(_faulty_page(tmp_path / "faulty.html"), tmp_path / "faulty.pdf")
    assert not (tmp_path / "faulty.pdf").exists()


def test_screenshots_are_desktop_and_phone_wide(chromium, tmp_path):
    page = tmp_path / "plain.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1"></head><body>'
        + "<p>客服微刊</p>" * 80
        + "</body></html>",
        encoding="utf-8",
    )
    desktop, phone = browser.screenshots(page, tmp_path / "shots")
    assert (desktop.name, phone.name) == ("screenshot-desktop.png", "screenshot-phone.png")
    widths = [int.from_bytes(p.read_bytes()[16:20], "big") for p in (desktop, phone)]
    heights = [int.from_bytes(p.read_bytes()[20:24], "big") for p in (desktop, phone)]
    assert widths == [1280, 375]
    # Full page: taller than one screen (80 paragraphs).
    assert heights[0] > browser.DESKTOP["height"] and heights[1] > browser.PHONE["height"]
