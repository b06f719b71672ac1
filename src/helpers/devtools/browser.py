"""Proof in a real browser: open a published issue in Chromium and check what a reader sees.

The issue is one offline HTML file, so the browser is allowed to load that file
and nothing else: every other request (http, https, other files) is aborted and
recorded. A correct issue makes no such request at all.

- `open_issue(html)`      context manager: a Playwright page on the issue, with
                          aborted requests, console errors and page errors recorded.
- `check_issue(html)`     dict: charts drawn, console/page errors, aborted
                          requests, TOC links that go nowhere, overflow at 375 px.
- `screenshots(html, out)` desktop (1280 px) and phone (375 px) full-page PNGs.
- `print_pdf(html, pdf)`  A4 PDF with backgrounds, after every chart has drawn.

Command line: `python -m helpers.devtools.browser check|screenshots|pdf ISSUE.html [OUT]`.
The browser is Debian's Chromium (`/usr/bin/chromium`), driven by Playwright;
no browser is ever downloaded. See docs/proof.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("KFWK_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ("--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
# How long charts may take to draw before they are reported as not drawn (ms).
CHART_TIMEOUT_MS = 30_000

_CHART_STATE_JS = """
() => Array.from(document.querySelectorAll('.kf-chart')).map(el => {
  const drawn = !!el.querySelector('svg, canvas');
  const text = drawn ? '' : (el.textContent || '').trim();
  return {id: el.id, drawn: drawn, error: text};
})
"""

# Done = every chart holds an svg/canvas or a message (vegaEmbed's failure note).
_CHARTS_SETTLED_JS = """
() => Array.from(document.querySelectorAll('.kf-chart')).every(
  el => el.querySelector('svg, canvas') || (el.textContent || '').trim() !== '')
"""

_TOC_LINKS_JS = """
() => Array.from(document.querySelectorAll('.kf-toc a[href]')).map(a => {
  const href = a.getAttribute('href');
  let id = href.startsWith('#') ? href.slice(1) : null;
  try { if (id !== null) id = decodeURIComponent(id); } catch (e) {}
  const target = id ? document.getElementById(id) : null;
  return {href: href, text: (a.textContent || '').trim(), id: id, exists: !!target};
})
"""

# After following a link: is its target rendered and inside the viewport?
_TARGET_IN_VIEW_JS = """
(id) => {
  const el = document.getElementById(id);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) return false;
  return r.top >= -2 && r.top < window.innerHeight;
}
"""

# Elements that stick out of the viewport horizontally. An element inside a box
# that scrolls horizontally (overflow-x auto/scroll, e.g. a wide table's wrapper)
# is reachable by scrolling that box, so it does not count; one clipped by
# overflow:hidden does count (the reader cannot see the cut-off part).
_OVERFLOW_JS = """
() => {
  const doc = document.documentElement;
  const vw = doc.clientWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p && p !== doc && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll') return true;
    }
    return false;
  };
  const describe = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const cls = (el.getAttribute('class') || '').trim();
    if (cls) s += '.' + cls.split(/\\s+/).slice(0, 3).join('.');
    return s;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.position === 'fixed') continue;
    if (r.right <= vw + 1 && r.left >= -1) continue;
    if (scrolls(el)) continue;
    // Report the outermost offender only: its children stick out because it does.
    if (out.length && out[out.length - 1].node.contains(el)) continue;
    out.push({node: el, element: describe(el), left: Math.round(r.left),
              right: Math.round(r.right), width: Math.round(r.width)});
  }
  return {
    scroll_width: doc.scrollWidth, client_width: vw,
    page_overflows: doc.scrollWidth > vw,
    elements: out.map(o => ({element: o.element, left: o.left, right: o.right, width: o.width})),
  };
}
"""


class BrowserMissing(RuntimeError):
    """No Chromium at CHROMIUM: install Debian's `chromium` package."""


class ChartsNotDrawn(RuntimeError):
    """Some chart did not draw, so printing would give a PDF with holes."""


def browser_available() -> bool:
    """() -> True when the Chromium executable is there."""
    return CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)


@dataclass
class IssuePage:
    """An issue open in Chromium plus what the page tried and what went wrong.

    `aborted`: URLs of requests that were blocked (anything other than the issue
    file itself); `console_errors`: console messages of type error;
    `page_errors`: uncaught JavaScript exceptions.
    """

    page: Any
    url: str
    aborted: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def wait_for_charts(self, timeout_ms: int = CHART_TIMEOUT_MS) -> bool:
        """Wait until every `.kf-chart` drew (or shows a message); False on timeout."""
        try:
            self.page.wait_for_function(_CHARTS_SETTLED_JS, timeout=timeout_ms)
            return True
        except Exception:  # noqa: BLE001 - a timeout is reported as undrawn charts
            return False

    def chart_states(self) -> list[dict]:
        """One dict per `.kf-chart`: id, drawn (svg/canvas inside), error (its text if not drawn)."""
        return self.page.evaluate(_CHART_STATE_JS)


def _file_url(html_path: Path) -> str:
    return Path(html_path).resolve().as_uri()


def _same_document(url: str, doc_url: str) -> bool:
    return url.split("#", 1)[0] == doc_url


@contextlib.contextmanager
def _browser() -> Iterator[Any]:
    if not browser_available():
        raise BrowserMissing(
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium fonts-noto-cjk`"
        )
    from playwright.sync_api import sync_playwright  # imported late: only proof needs it

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def _open(browser: Any, html_path: Path, viewport: dict, *, wait_charts: bool = True) -> Iterator[IssuePage]:
    html_path = Path(html_path)
    if not html_path.is_file():
        raise FileNotFoundError(f"no issue at {html_path}")
    url = _file_url(html_path)
    context = browser.new_context(viewport=viewport, device_scale_factor=1, java_script_enabled=True)
    issue = IssuePage(page=None, url=url)

    def route(r: Any) -> None:
        if _same_document(r.request.url, url):
            r.continue_()
        else:
            issue.aborted.append(r.request.url)
            r.abort("blockedbyclient")

    def route_ws(ws: Any) -> None:
        issue.aborted.append(ws.url)
        ws.close()

    context.route("**/*", route)
    context.route_web_socket("**/*", route_ws)
    page = context.new_page()
    issue.page = page
    page.on("console", lambda msg: msg.type == "error" and issue.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: issue.page_errors.append(str(exc)))
    try:
        page.goto(url, wait_until="load")
        if wait_charts:
            issue.wait_for_charts()
        yield issue
    finally:
        context.close()


@contextlib.contextmanager
def open_issue(html_path: Path | str, *, viewport: dict | None = None) -> Iterator[IssuePage]:
    """Issue path -> an IssuePage open in headless Chromium (charts already drawn).

    Only the file itself may load; every other request is aborted and its URL
    recorded in `.aborted`. Raises BrowserMissing when Chromium is not installed.
    """
    with _browser() as browser, _open(browser, Path(html_path), viewport or DESKTOP) as issue:
        yield issue


def _check_toc(issue: IssuePage) -> list[dict]:
    """Follow every TOC link; return the ones whose target is missing or not scrolled into view."""
    page = issue.page
    broken = []
    for link in page.evaluate(_TOC_LINKS_JS):
        if not link["exists"]:
            broken.append({**link, "problem": "no element with this id"})
            continue
        page.evaluate("window.scrollTo(0, 0)")
        page.locator(f'.kf-toc a[href="{link["href"]}"]').first.click()
        try:
            page.wait_for_function(_TARGET_IN_VIEW_JS, arg=link["id"], timeout=3_000)
        except Exception:  # noqa: BLE001 - a timeout means the link did not bring it into view
            broken.append({**link, "problem": "following the link did not bring the element into view"})
    return broken


def check_issue(html_path: Path | str) -> dict:
    """Issue path -> what a reader's browser sees, as a dict:

    `charts` {count, drawn, errors: [{id, error}]}, `console_errors`, `page_errors`,
    `aborted_requests` (every URL other than the file that the page tried to load),
    `toc` {links, broken: [...]}, `overflow_375` {page_overflows, scroll_width,
    client_width, elements: [...]} and `ok` (True when all of these are clean).
    """
    html_path = Path(html_path)
    with _browser() as browser:
        with _open(browser, html_path, DESKTOP) as issue:
            states = issue.chart_states()
            toc_links = issue.page.evaluate(_TOC_LINKS_JS)
            broken = _check_toc(issue)
            aborted = list(issue.aborted)
            console = list(issue.console_errors)
            page_errors = list(issue.page_errors)
        with _open(browser, html_path, PHONE) as phone:
            overflow = phone.page.evaluate(_OVERFLOW_JS)
            phone_states = phone.chart_states()
            # The same fault shows in both viewports; list it once.
            aborted += [u for u in phone.aborted if u not in aborted]
            console += [m for m in phone.console_errors if m not in console]
            page_errors += [m for m in phone.page_errors if m not in page_errors]
    undrawn = [
        {"id": s["id"], "error": s["error"] or "nothing drawn", "viewport": name}
        for name, group in (("desktop", states), ("phone", phone_states))
        for s in group
        if not s["drawn"] or s["error"]
    ]
    result = {
        "file": str(html_path),
        "charts": {"count": len(states), "drawn": sum(s["drawn"] for s in states), "errors": undrawn},
        "console_errors": console,
        "page_errors": page_errors,
        "aborted_requests": aborted,
        "toc": {"links": len(toc_links), "broken": broken},
        "overflow_375": overflow,
    }
    result["ok"] = not (
        undrawn
        or console
        or page_errors
        or aborted
        or broken
        or overflow["page_overflows"]
        or overflow["elements"]
    )
    return result


def screenshots(html_path: Path | str, out_dir: Path | str) -> list[Path]:
    """Issue path + folder -> [desktop PNG, phone PNG], full page, after the charts drew.

    Written as `<out_dir>/screenshot-desktop.png` (1280 px wide) and
    `<out_dir>/screenshot-phone.png` (375 px wide).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with _browser() as browser:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            with _open(browser, Path(html_path), viewport) as issue:
                target = out_dir / f"screenshot-{name}.png"
                issue.page.screenshot(path=str(target), full_page=True)
                written.append(target)
    return written


def print_pdf(html_path: Path | str, pdf_path: Path | str) -> Path:
    """Issue path -> an A4 PDF at pdf_path (backgrounds printed), once every chart drew.

    Page size and margins come from the issue's own `@page` rule; charts and
    tables are kept on one page by its print CSS (`break-inside: avoid`).
    Raises ChartsNotDrawn (and writes nothing) when a chart did not draw.
    """
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with open_issue(html_path) as issue:
        undrawn = [s["id"] for s in issue.chart_states() if not s["drawn"]]
        if undrawn:
            raise ChartsNotDrawn(
                f"{len(undrawn)} chart(s) did not draw ({', '.join(undrawn[:5])}); "
                "run `python -m helpers.devtools.browser check` for details"
            )
        issue.page.emulate_media(media="print")
        # Charts sized to their container re-measure on resize; give print layout a frame.
        issue.page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(null)))")
        tmp = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
        try:
            issue.page.pdf(path=str(tmp), format="A4", print_background=True, prefer_css_page_size=True)
            os.replace(tmp, pdf_path)
        finally:
            tmp.unlink(missing_ok=True)
    return pdf_path


def format_check(result: dict) -> str:
    """check_issue's dict -> plain lines for a terminal."""
    lines = [f"检查 / check: {result['file']}"]
    ch = result["charts"]
    mark = "✓" if not ch["errors"] else "✗"
    lines.append(f"  {mark} charts: {ch['drawn']} of {ch['count']} drawn")
    lines += [f"      {e['id']} ({e['viewport']}): {e['error']}" for e in ch["errors"]]
    for key, label in (
        ("console_errors", "console errors"),
        ("page_errors", "page errors"),
        ("aborted_requests", "requests leaving the file (blocked)"),
    ):
        items = result[key]
        lines.append(f"  {'✓' if not items else '✗'} {label}: {len(items)}")
        lines += [f"      {item}" for item in items[:20]]
    toc = result["toc"]
    lines.append(
        f"  {'✓' if not toc['broken'] else '✗'} table of contents: {toc['links']} links, "
        f"{len(toc['broken'])} broken"
    )
    lines += [f"      {b['href']} ({b['text']}): {b['problem']}" for b in toc["broken"]]
    ov = result["overflow_375"]
    bad = ov["page_overflows"] or ov["elements"]
    lines.append(
        f"  {'✗' if bad else '✓'} phone width 375 px: page {ov['scroll_width']} px wide "
        f"(viewport {ov['client_width']} px), {len(ov['elements'])} element(s) sticking out"
    )
    lines += [f"      {e['element']}: {e['left']}..{e['right']} px" for e in ov["elements"][:20]]
    lines.append(
        "✓ the issue passed every browser check"
        if result["ok"]
        else "✗ the issue failed a browser check (see ✗ above)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.devtools.browser check|screenshots|pdf ISSUE.html [OUT]` -> exit code."""
    parser = argparse.ArgumentParser(prog="helpers.devtools.browser", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "screenshots", "pdf"))
    parser.add_argument("html", help="the published issue, e.g. outputs/2022Q1/issue.html")
    parser.add_argument(
        "out",
        nargs="?",
        help="screenshots: folder (default: the issue's); pdf: file (default: issue.pdf beside the issue)",
    )
    args = parser.parse_args(argv)
    html = Path(args.html)
    if not html.is_file():
        print(f"✗ no issue at {html}: publish it first (make quarter Q=...)", file=sys.stderr)
        return 2
    try:
        if args.command == "check":
            result = check_issue(html)
            print(format_check(result))
            return 0 if result["ok"] else 1
        if args.command == "screenshots":
            for path in screenshots(html, Path(args.out) if args.out else html.parent):
                print(f"✓ wrote {path}")
            return 0
        pdf = print_pdf(html, Path(args.out) if args.out else html.with_suffix(".pdf"))
        print(f"✓ wrote {pdf}")
        return 0
    except BrowserMissing as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    except ChartsNotDrawn as exc:
        print(f"✗ no PDF written: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
