"""Safe text for the issue: HTML escaping and editorial markdown.

Kept apart from `render` (charts) so that the editorial sections, which only
render markdown, do not import Altair and vl-convert in their kernels.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt

_SCHEME_RE = re.compile(r"\A([a-zA-Z][a-zA-Z0-9+.-]*):")
_SAFE_SCHEMES = ("http", "https", "mailto")


def esc(value: Any) -> str:
    """Any value -> its text, HTML-escaped (quotes included) for element text or attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def is_relative_url(url: str) -> bool:
    """True for `docs/kpi.md`, `../x.html`, `#sec-01`; false for anything with a scheme or `//host`."""
    url = url.strip()
    return not _SCHEME_RE.match(url) and not url.startswith(("//", "\\\\", "/\\", "\\/"))


def is_safe_link(url: str) -> bool:
    """Links editorial text may carry: relative ones and http(s)/mailto; never javascript: etc."""
    url = url.strip()
    if is_relative_url(url):
        return True
    match = _SCHEME_RE.match(url)
    return bool(match) and match.group(1).lower() in _SAFE_SCHEMES


def _render_image(self, tokens, idx, options, env):
    """Images: relative sources stay; anything fetched from elsewhere becomes its alt text."""
    token = tokens[idx]
    src = token.attrGet("src") or ""
    if is_relative_url(src):
        return self.image(tokens, idx, options, env)
    alt_text = self.renderInlineAsText(token.children or [], options, env)
    return f'<span class="kf-img-removed">[图片 / image: {esc(alt_text)}]</span>'


def _render_table_open(self, tokens, idx, options, env):
    # Wide tables scroll inside their own box instead of widening the page.
    return '<div class="kf-table">' + self.renderToken(tokens, idx, options, env)


def _render_table_close(self, tokens, idx, options, env):
    return self.renderToken(tokens, idx, options, env) + "</div>"


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """The one configured markdown-it instance (CommonMark + tables + strikethrough).

    `html` is off, so raw HTML in the source is shown as escaped text; links
    are limited to `is_safe_link`; network images are replaced by their alt text.
    """
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = is_safe_link
    md.add_render_rule("image", _render_image)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    return md


def render_markdown(text: str, heading_offset: int = 0) -> str:
    """Editorial markdown -> safe HTML.

    Formatting is rendered; raw HTML (`<script>` included) comes out escaped,
    `javascript:`-style links stay plain text, network images become their
    alt text. `heading_offset` demotes headings (1: `##` -> h3), so an editor's
    `##` sits below the section heading the issue prints. Use it for every
    editorial file, e.g. `display(HTML(render_markdown(path.read_text(), 1)))`.
    """
    md = markdown_parser()
    tokens = md.parse(text, {})
    if heading_offset:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1]) + heading_offset)}"
    return md.renderer.render(tokens, md.options, {})
