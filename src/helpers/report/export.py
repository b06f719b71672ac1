"""The charts' files, drawn from their saved Vega-Lite specs: SVG and PNG (vl-convert),
and the data behind each chart as CSV (UTF-8 with a BOM, so Excel reads the Chinese).

The publisher's exporter processes and the issue assembler import this module, never
Altair or pandas: it works on the plain-JSON specs that section notebooks saved with
`charts.save_spec`, so no process pays for Altair just to draw or tabulate a chart.
vl-convert is imported by the drawing functions only.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.report import fonts

# Static exports (SVG/PNG) have no container: they use this width, a phone's
# 375 px screen less the page margins.
EXPORT_WIDTH = 340
# Where the project may ship extra fonts for the exports (e.g. Noto Sans CJK SC).
FONT_DIR_ENV = "KFWK_FONT_DIR"
SPEC_SUFFIX = paths.SPEC_SUFFIX
CSV_SUFFIX = ".csv"

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the chart's data as CSV


def _tables(node: Any, found: list[list[Any]]) -> None:
    """Every inline `data: {values: [...]}` under node (datasets excluded)."""
    if isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "values" in data:
            found.append(data["values"])
        for key, value in node.items():
            if key != "datasets":
                _tables(value, found)
    elif isinstance(node, list):
        for item in node:
            _tables(item, found)


def spec_table(spec: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """A Vega-Lite spec -> (columns, rows) of its one inline dataset, in row order.

    The rows come from `spec["datasets"]` or an inline `data.values`; the columns
    follow `usermeta.columns` when a builder recorded them, else their order of
    first appearance. Tables without any column (Altair's `empty` datum of
    data-less rule/text layers) are not data. Raises ValueError when the spec
    holds several different tables or none at all.
    """
    found: list[list[Any]] = [list(values) for _, values in sorted((spec.get("datasets") or {}).items())]
    _tables(spec, found)
    if not found:
        raise ValueError("the chart has no inline data")
    tables: list[list[dict[str, Any]]] = []
    for values in found:
        if not isinstance(values, list):
            raise ValueError("inline data must be a list of rows")
        rows = [dict(v) if isinstance(v, Mapping) else {"data": v} for v in values]
        if any(rows) and rows not in tables:
            tables.append(rows)
    if len(tables) > 1:
        raise ValueError(f"the chart holds {len(tables)} different datasets; one table was expected")
    rows = tables[0] if tables else []
    # The builders' column order (see `_responsive`), else the order of first appearance.
    usermeta = spec.get("usermeta")
    hint = usermeta.get("columns") if isinstance(usermeta, Mapping) else None
    columns: dict[str, None] = dict.fromkeys(hint) if isinstance(hint, list) else {}
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(row))
    columns = {c: None for c in columns if c in present}
    columns.update(present)
    return list(columns), rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def table_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Columns + rows -> CSV bytes: UTF-8 with a BOM (so Excel reads Chinese), `\\r\\n`
    line ends, None and missing values as empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _read_spec(spec_path: Path) -> dict:
    return json.loads(Path(spec_path).read_text(encoding="utf-8"))


def _base(spec_path: Path) -> Path:
    """`<folder>/<name>.vl.json` -> `<folder>/<name>`, the stem its files share."""
    spec_path = Path(spec_path)
    return spec_path.with_name(spec_path.name[: -len(SPEC_SUFFIX)])


def export_table_file(spec_path: Path, spec: dict | None = None) -> Path | None:
    """`<name>.vl.json` -> `<name>.csv` beside it: the chart's data (see `spec_table`).
    `spec`: the file's spec when the caller has read it already.

    A chart without one inline table (not one of ours) gets no CSV: a warning, None.
    """
    try:
        table = table_csv(*spec_table(_read_spec(spec_path) if spec is None else spec))
    except ValueError as err:
        log.warning("%s: no CSV of the chart's data: %s", Path(spec_path).name, err)
        return None
    path = Path(f"{_base(spec_path)}{CSV_SUFFIX}")
    path.write_bytes(table)
    return path


# ---------------------------------------------------------------- export


def _fixed_width(spec: Any, width: int) -> Any:
    """A copy of the spec with every `"width": "container"` set to `width` px."""
    if isinstance(spec, dict):
        return {
            key: (width if key == "width" and value == "container" else _fixed_width(value, width))
            for key, value in spec.items()
        }
    if isinstance(spec, list):
        return [_fixed_width(item, width) for item in spec]
    return spec


_fonts_registered = False


def _register_fonts(vlc: Any) -> fonts.Subset | None:
    """Let vl-convert use fonts shipped beside the system ones -> the chart font subset,
    when the environment has one (registered too).

    vl-convert already reads the system font directories (fonts-noto-cjk on
    Debian/Ubuntu). `KFWK_FONT_DIR` adds a directory for machines where CJK
    fonts cannot be installed system-wide.
    """
    global _fonts_registered
    subset = fonts.installed()
    if _fonts_registered:
        return subset
    extra = os.environ.get(FONT_DIR_ENV)
    if extra and Path(extra).is_dir():
        vlc.register_font_directory(str(Path(extra).resolve()))
    if subset is not None:
        vlc.register_font_directory(str(subset.folder))
    _fonts_registered = True
    return subset


_GRADIENT_ID = re.compile(r"gradient_\d+")


def _stable_ids(svg: str) -> str:
    """vl-convert numbers gradients per process (gradient_0, gradient_1, ... across every
    chart it drew), so the same chart drawn by another exporter would get other ids and
    other bytes: renumber them within the SVG, in order of appearance."""
    ids: dict[str, str] = {}
    return _GRADIENT_ID.sub(lambda m: ids.setdefault(m.group(0), f"gradient_{len(ids)}"), svg)


def export_spec(
    spec: dict, path_without_suffix: str | Path, width: int = EXPORT_WIDTH, scale: float = 2.0
) -> tuple[Path, Path]:
    """A Vega-Lite spec -> `<path>.svg` and `<path>.png` (at `scale`× for sharp phone screens)."""
    import vl_convert as vlc  # only where images are drawn: section kernels never pay for it

    subset = _register_fonts(vlc)
    base = Path(path_without_suffix)
    base.parent.mkdir(parents=True, exist_ok=True)
    fixed = _fixed_width(spec, width)
    svg_path, png_path = Path(f"{base}.svg"), Path(f"{base}.png")
    svg, png = _draw(vlc, fixed, scale, subset)
    svg_path.write_text(_stable_ids(svg), encoding="utf-8")
    png_path.write_bytes(png)
    return svg_path, png_path


def _draw(vlc: Any, spec: dict, scale: float, subset: fonts.Subset | None) -> tuple[str, bytes]:
    """A spec -> (SVG, PNG), with the chart font subset when it covers the chart (half the
    CPU, the same bytes: helpers.report.fonts), else with the system fonts."""
    if subset is not None and fonts.covers(subset, spec):
        named = vlc.vegalite_to_svg(fonts.name_subset(spec))
        svg = fonts.unname(named)
        if svg is not None:
            # Rasterise the SVG just drawn rather than laying the chart out a second time.
            return svg, vlc.svg_to_png(named, scale=scale)
    svg = vlc.vegalite_to_svg(spec)
    return svg, vlc.svg_to_png(svg, scale=scale)


def export_spec_file(spec_path: Path, spec: dict | None = None) -> tuple[Path, Path]:
    """`<name>.vl.json` -> `<name>.svg` and `<name>.png` beside it. `spec`: the file's
    spec when the caller has read it already."""
    return export_spec(_read_spec(spec_path) if spec is None else spec, _base(spec_path))


def export_chart_files(spec_path: Path) -> None:
    """`<name>.vl.json` -> its SVG, PNG and CSV beside it, the spec read once."""
    spec = _read_spec(spec_path)
    export_spec_file(spec_path, spec)
    export_table_file(spec_path, spec)
