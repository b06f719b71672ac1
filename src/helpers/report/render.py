"""Offline rendering pieces shared by the section notebooks and the issue assembler.

- An Altair renderer (`enable_offline_renderer`) whose output works in a page
  with no network: a `<div>` plus a `vegaEmbed(...)` call, and nothing fetched.
- The vega / vega-lite / vega-embed JavaScript bundle (`vega_bundle`), built by
  vl-convert once and cached, which the issue inlines exactly once.
- Safe text: `esc()` for data values and `render_markdown()` for editorial
  markdown (raw HTML escaped, link schemes limited, no network images).

See docs/issue-html.md for the reasons behind each choice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.report.markup import (  # noqa: F401 - re-exported: the issue assembler's safe-text API
    esc,
    is_relative_url,
    is_safe_link,
    markdown_parser,
    render_markdown,
)

RENDERER_NAME = "kefu"
# Altair 6.3 labels its own bundle `application/vnd.vegalite.v6.json`, which
# nbformat rejects (JSON payloads must use a `+json` key), so we emit the
# standard `+json` spelling, for the Vega-Lite version Altair targets.
# The issue assembler imports this module and never needs Altair (~0.5 s to import), so
# that version is written here; tests/test_issue.py checks it against alt.SCHEMA_VERSION.
ALTAIR_VEGALITE = "v6.4"  # alt.SCHEMA_VERSION up to the minor version
VEGALITE_MAJOR = ALTAIR_VEGALITE.lstrip("v").split(".")[0]
VEGALITE_MIMETYPE = f"application/vnd.vegalite.v{VEGALITE_MAJOR}+json"
# vl-convert ships several Vega-Lite versions; bundle the one Altair writes specs for.
BUNDLE_VL_VERSION = ALTAIR_VEGALITE

EMBED_OPTIONS = {"actions": False, "renderer": "svg", "mode": "vega-lite"}

# The exact shape `chart_html` emits; issue.py relies on it to tell a chart
# fragment (whose script is ours) from any other HTML output.
CHART_RE = re.compile(
    r'\A<div class="kf-chart" id="(?P<id>chart-[a-z0-9-]+)"></div>\n'
    r"<script>\(function\(\)\{[^\n]*\}\)\(\);</script>\Z"
)

# id -> how many charts with that spec hash this process has rendered so far.
_seen_ids: dict[str, int] = {}


def _script_json(value: Any) -> str:
    """A JSON value -> JavaScript literal text that is safe inside `<script>`.

    Keys are sorted so equal specs give equal bytes. `<`, `>`, `&` and the two
    line separators JavaScript treats as newlines are escaped, so chart text
    such as `</script>` cannot end the script element early.
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _slug(name: str) -> str:
    """A caller's chart name -> lowercase ASCII id fragment (`Calls by line` -> `calls-by-line`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        # A purely Chinese name has no ASCII letters; fall back to its hash.
        slug = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return slug


def reset_chart_ids() -> None:
    """Forget the ids handed out so far (a fresh kernel starts this way; tests use it)."""
    _seen_ids.clear()


def chart_id(spec: dict, name: str | None = None) -> str:
    """A Vega-Lite spec (and optional caller name) -> a deterministic element id.

    `chart-<slug of name>` when a name is given (or the spec has a top-level
    `name`), else `chart-<first 10 hex of SHA-256 of the sorted spec JSON>`.
    Showing the same spec or name again in the same process appends `-2`, `-3`,
    ... so ids stay unique on a page and depend only on the spec and how often
    it was shown, never on the clock or on randomness.
    """
    name = name if name is not None else spec.get("name")
    if name:
        base = f"chart-{_slug(str(name))}"
    else:
        digest = hashlib.sha256(_script_json(spec).encode("utf-8")).hexdigest()
        base = f"chart-{digest[:10]}"
    count = _seen_ids.get(base, 0) + 1
    _seen_ids[base] = count
    return base if count == 1 else f"{base}-{count}"


def chart_html(spec: dict, element_id: str) -> str:
    """A Vega-Lite spec + element id -> the `text/html` fragment that draws it offline.

    The fragment is a placeholder `<div class="kf-chart">` and one inline script.
    The script calls `vegaEmbed` at once when the bundle is already loaded (the
    issue puts it in `<head>`); otherwise it queues itself on
    `window.kfChartQueue`, which the bundle's loader drains. When nothing will
    ever define `vegaEmbed` (JupyterLab, after the page has loaded) it writes a
    short note into the placeholder instead of failing silently.
    `$schema` (a URL) is dropped: the embed options say the mode instead.
    """
    spec = {k: v for k, v in spec.items() if k != "$schema"}
    sel = json.dumps("#" + element_id)
    eid = json.dumps(element_id)
    note = _script_json("图表在发布的期刊中显示 / the chart is drawn in the published issue")
    failed = _script_json("图表无法显示 / chart failed to render")
    script = (
        "(function(){"
        f"var run=function(){{window.vegaEmbed({sel},{_script_json(spec)},"
        f"{_script_json(EMBED_OPTIONS)}).catch(function(err){{"
        f"var el=document.getElementById({eid});if(el){{el.textContent={failed};}}"
        "if(window.console){console.error(err);}});};"
        "if(window.vegaEmbed){run();}"
        "else if(document.readyState!=='loading'&&!window.kfChartQueue){"
        f"var el=document.getElementById({eid});if(el){{el.textContent={note};}}}}"
        "else{(window.kfChartQueue=window.kfChartQueue||[]).push(run);}"
        "})();"
    )
    return f'<div class="kf-chart" id="{element_id}"></div>\n<script>{script}</script>'


def chart_bundle(spec: dict, *, name: str | None = None, mimetype: bool = True) -> dict:
    """A Vega-Lite spec -> the Jupyter mimebundle the `kefu` renderer displays.

    `text/html` (see `chart_html`) always; plus the standard
    `application/vnd.vegalite.v6+json` copy of the spec when `mimetype` is true,
    for front-ends with a native Vega-Lite 6 renderer. The issue uses only the
    `text/html` entry.
    """
    bundle: dict[str, Any] = {"text/html": chart_html(spec, chart_id(spec, name))}
    if mimetype:
        bundle[VEGALITE_MIMETYPE] = spec
    return bundle


def _kefu_renderer(spec: dict, **options: Any) -> dict:
    """Altair renderer hook: spec (+ options from `alt.renderers.enable`) -> mimebundle."""
    return chart_bundle(spec, mimetype=options.get("mimetype", True))


def enable_offline_renderer(*, mimetype: bool = True) -> None:
    """Register the `kefu` Altair renderer and make it the active one.

    Call once at the top of each section notebook. Every chart displayed
    afterwards becomes `chart_bundle(spec)`; `mimetype=False` keeps `text/html` only.
    """
    import altair as alt  # here, not at the top: the issue assembler never needs it

    alt.renderers.register(RENDERER_NAME, _kefu_renderer)
    alt.renderers.enable(RENDERER_NAME, mimetype=mimetype)


def _bundle_name() -> str:
    import vl_convert as vlc  # lazily: section kernels render charts without it

    return f"vega-bundle-{vlc.__version__}-vl{BUNDLE_VL_VERSION.lstrip('v')}.js"


def installed_bundle_path() -> Path:
    """Where `make env` leaves the bundle: `<env>/share/kefu-weikan/<name>`. It depends on
    the installed vl-convert and nothing else, so it is made with the environment, like
    compiled bytecode, and no publish (cold or not) spends ~3 s of CPU building it."""
    return Path(sys.prefix) / "share" / "kefu-weikan" / _bundle_name()


def vega_bundle_path() -> Path:
    """Where a publish caches the bundle when the environment has none: `<CACHE>/<name>`."""
    return paths.CACHE / _bundle_name()


def _looks_complete(text: str) -> bool:
    return "window.vegaEmbed=" in text and "</script" not in text.lower()


def _read_bundle(path: Path) -> str | None:
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if _looks_complete(text):
            return text
    return None


def _write_bundle(path: Path) -> str:
    import vl_convert as vlc  # only here (and in the chart exports): a section kernel never needs it

    text = vlc.javascript_bundle(vl_version=BUNDLE_VL_VERSION)
    if not _looks_complete(text):
        raise RuntimeError("vl_convert.javascript_bundle() did not define window.vegaEmbed")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return text


def install_vega_bundle() -> Path:
    """Build the bundle into the environment (`installed_bundle_path()`); run by `make env`."""
    path = installed_bundle_path()
    if _read_bundle(path) is None:
        _write_bundle(path)
    return path


def vega_bundle_ready() -> bool:
    """Whether `vega_bundle()` can read the bundle instead of building it."""
    return any(_read_bundle(p) is not None for p in (installed_bundle_path(), vega_bundle_path()))


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """() -> the vega + vega-lite + vega-embed JavaScript as one classic script.

    vl-convert's default bundle ends with `window.vegaEmbed=...`, so the
    libraries become globals that later inline scripts can call. Read from the
    environment (`install_vega_bundle`, run by `make env`), else from the cache;
    else built (seconds) and cached to `vega_bundle_path()` (written atomically).
    A file that does not look like a complete bundle is not used.
    """
    for path in (installed_bundle_path(), vega_bundle_path()):
        if (text := _read_bundle(path)) is not None:
            return text
    return _write_bundle(vega_bundle_path())


# ---------------------------------------------------------------- JupyterLab

# JupyterLab 4 draws Vega 5 specs itself (@jupyterlab/vega5-extension): no JavaScript in
# the notebook, nothing fetched, and it renders for untrusted notebooks too. Altair writes
# Vega-Lite 6, which that extension cannot read, so `lab_chart_bundle` compiles it to Vega
# with vl-convert (the same compiler the exports use). See docs/decisions.md.
VEGA_MIMETYPE = "application/vnd.vega.v5+json"
# No action menu; no vega-embed default stylesheet (it makes the container inline-block,
# so a chart sized to its container is 0 px wide); SVG as in the issue.
LAB_EMBED_OPTIONS = {"actions": False, "defaultStyle": False, "renderer": "svg"}
# The extension rasterises every chart into an extra `image/png` output once drawn
# (~50-100 kB each, written into the notebook on save) unless the output already has
# one. This 1x1 transparent PNG stands in, so a saved notebook keeps only the specs.
_PNG_STUB = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
LAB_RENDERER_NAME = "kefu-lab"


# A chart sized to its container measures it when it is first drawn and then only on
# window resizes. JupyterLab often draws outputs before their cell is laid out (reopening
# a saved notebook, cells outside the viewport): the container is 0 px wide then, and
# the chart would stay 0 px wide. So the compiled width also follows the container on a
# slow timer, and never drops to 0 (a hidden tab keeps its charts' last width).
CONTAINER_POLL_MS = 500
_CONTAINER_WIDTH = "isFinite(containerSize()[0]) && containerSize()[0] > 0 ? containerSize()[0] : {fallback}"


def _follow_container(signal: dict) -> None:
    """Rewrite a Vega-Lite `width="container"` width signal in place (see above)."""
    fallback = re.search(r":\s*([0-9.]+)\s*$", signal.get("init", ""))
    signal["init"] = _CONTAINER_WIDTH.format(fallback=fallback.group(1) if fallback else 340)
    update = _CONTAINER_WIDTH.format(fallback=signal["name"])
    signal["on"] = [
        {"events": "window:resize", "update": update},
        {"events": f"timer{{{CONTAINER_POLL_MS}}}", "update": update},
    ]


def vega_spec(spec: dict) -> dict:
    """A Vega-Lite spec (Altair's `chart.to_dict()`) -> the Vega spec JupyterLab draws.

    Compiled by vl-convert with the Vega-Lite version Altair writes for, so the house
    theme (fonts, palette, number locale) carries over. Then: `$schema` is dropped (it
    names Vega 6, and JupyterLab's Vega 5 would warn; the compiled specs use nothing
    Vega 5 lacks, tests/test_lab.py draws every chart); a `width="container"` width
    follows its container (`_follow_container`); inline datasets become one compact JSON
    string each (`format: json`), which a saved notebook stores on one line instead of
    one line per value (a third smaller).
    """
    import vl_convert as vlc  # lazily: publishing kernels never compile

    vega = vlc.vegalite_to_vega(spec, vl_version=BUNDLE_VL_VERSION)
    vega.pop("$schema", None)
    for signal in vega.get("signals", []):
        if signal.get("name") == "width" and "containerSize()" in str(signal.get("init", "")):
            _follow_container(signal)
    for data in vega.get("data", []):
        if isinstance(data.get("values"), list):
            data["values"] = json.dumps(data["values"], ensure_ascii=False, separators=(",", ":"))
            data["format"] = {**data.get("format", {}), "type": "json"}
    return vega


def lab_chart_bundle(spec: dict, *, name: str | None = None) -> tuple[dict, dict]:
    """A Vega-Lite spec -> (data, metadata) of the output that draws it in JupyterLab.

    data: the compiled Vega spec under `application/vnd.vega.v5+json`, a transparent
    `image/png` stand-in (see `_PNG_STUB`) and a `text/plain` line for front-ends without
    Vega; metadata: the embed options. About 1.2x the size of the Vega-Lite spec; no
    bundle, no script. Display with `display(data, metadata=metadata, raw=True)`.
    """
    title = name or spec.get("name") or "chart"
    data = {
        VEGA_MIMETYPE: vega_spec(spec),
        "image/png": _PNG_STUB,
        "text/plain": f"<图表 / chart: {title} — drawn by JupyterLab>",
    }
    return data, {VEGA_MIMETYPE: {"embed_options": dict(LAB_EMBED_OPTIONS)}}


def _lab_renderer(spec: dict, **_options: Any) -> tuple[dict, dict]:
    """Altair renderer hook: a chart displayed directly (`chart` as a cell's last line)."""
    return lab_chart_bundle(spec)


def enable_lab_renderer() -> None:
    """Register the `kefu-lab` Altair renderer and make it the active one: every chart
    displayed afterwards draws offline in JupyterLab, as `SectionContext.show` draws it."""
    import altair as alt

    alt.renderers.register(LAB_RENDERER_NAME, _lab_renderer)
    alt.renderers.enable(LAB_RENDERER_NAME)


# ---------------------------------------------------------------- markdown
