"""What a section notebook calls: one context object per section.

A notebook's first cells are its raw `parameters` and then
`ctx = open_section(quarter, data_root, figures_dir, section="...")`; after that it
only reads figures (`ctx.fig("inbound.general.requests")`), asks for typed tables
(`ctx.table("inbound_calls")`), writes prose with `say(...)` (every number in it
formatted by `helpers.fmt`) and shows charts with `ctx.show(chart, "name")`.

Imports of pandas, pyarrow and Altair happen on first use: the editorial
sections need none of them, and each section pays its kernel's imports.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers import paths
from helpers.data import schema
from helpers.params import IssueParams, load_params
from helpers.quarter import Quarter

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class SectionContext:
    """Everything a section notebook reads, for one quarter."""

    section: str
    quarter: Quarter
    data_root: Path
    params: IssueParams
    figures_dir: Path | None
    _tables: dict[tuple[str, str, tuple[str, ...] | None], Any] = field(default_factory=dict)
    _bundle_shown: bool = False

    @cached_property
    def figures(self) -> dict[str, Any]:
        """The quarter's figures (validated and computed once, then read from the cache)."""
        from helpers.figures import store as figures

        return figures.quarter_figures(str(self.quarter), self.data_root, self.params)

    @property
    def prior_quarter(self) -> str | None:
        """The year-earlier quarter used for comparisons, or None."""
        return self.figures.get("prior_quarter")

    @property
    def has_prior(self) -> bool:
        return self.prior_quarter is not None

    @property
    def period(self) -> str:
        """`一季度`, as the bulletin's prose opens its paragraphs."""
        return self.quarter.cn_name

    def fig(self, dotted_key: str) -> Any:
        """The unrounded figure under a METRICS.md key, e.g. `"tickets.total"`."""
        from helpers.figures import metrics

        return metrics.get(self.figures, dotted_key)

    def table(self, name: str, columns: list[str] | None = None, *, prior: bool = False) -> pd.DataFrame:
        """A validated, typed extract of this quarter (or of the prior year)."""
        from helpers.data import extracts

        q = self.prior_quarter if prior else str(self.quarter)
        if q is None:
            raise LookupError(f"no prior-year extracts for {self.quarter}")
        key = (q, name, tuple(columns) if columns else None)
        if key not in self._tables:
            cols = {name: columns} if columns else None
            self._tables[key] = extracts.load_tables(q, self.data_root, [name], cols)[name]
        return self._tables[key]

    def prior_figures(self) -> dict[str, Any] | None:
        """The prior year's own figures (for year-on-year charts), or None."""
        from helpers.figures import store as figures

        if not self.has_prior:
            return None
        return figures.quarter_figures(self.prior_quarter, self.data_root)

    def show(self, chart: Any, name: str) -> None:
        """Display a chart (offline renderer, id from the section and name) and, when
        publishing, save its spec under `figures_dir` (the publisher exports SVG and PNG)."""
        from IPython.display import display

        from helpers.report import charts, render

        render.enable_offline_renderer()
        if self.figures_dir is None and not self._bundle_shown:
            # Exploring in JupyterLab: its own Vega extension predates Vega-Lite 6, so the
            # first chart brings the offline vega bundle along (once per kernel). When
            # publishing, the issue inlines the bundle itself.
            display({"text/html": f"<script>{render.vega_bundle()}</script>"}, raw=True)
            self._bundle_shown = True
        spec = chart.to_dict()
        display(render.chart_bundle(spec, name=f"{self.section}-{name}"), raw=True)
        if self.figures_dir is not None:
            charts.save_spec(chart, self.figures_dir / f"{self.section}-{name}")


def open_section(
    quarter: str, data_root: str = "", figures_dir: str = "", *, section: str
) -> SectionContext:
    """Parameters of a section notebook -> its context (the quarter checked, the issue
    params loaded; figures and tables are read when first asked for)."""
    q = Quarter.parse(quarter)
    root = Path(data_root).resolve() if data_root else paths.data_root()
    # Library deprecation notices would otherwise print into the issue's outputs.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return SectionContext(
        section=section,
        quarter=q,
        data_root=root,
        params=load_params(str(q)),
        figures_dir=Path(figures_dir) if figures_dir else None,
    )


def say(text: str) -> None:
    """Show prose as markdown (figures inside it come from `helpers.fmt`)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def show_table(frame: pd.DataFrame) -> None:
    """Show a small aggregated table without its index (cells HTML-escaped)."""
    from IPython.display import HTML, display

    display(HTML(frame.to_html(index=False, escape=True, border=0, classes="kf-table")))


def kpi_cards(items: list[tuple[str, str]]) -> None:
    """Show headline figures as cards: [(label, formatted value), ...]."""
    from html import escape

    from IPython.display import HTML, display

    cards = "".join(
        f'<div class="kf-kpi"><div class="kf-kpi-value">{escape(value)}</div>'
        f'<div class="kf-kpi-label">{escape(label)}</div></div>'
        for label, value in items
    )
    display(HTML(f'<div class="kf-kpis">{cards}</div>'))


def editorial(ctx: SectionContext, part: str) -> None:
    """Show one editorial text (`<DATA>/<Q>/editorial/<part>.md`) under its section
    heading; raw HTML in it is escaped and its headings sit one level below the
    section's. A missing file shows a note here; the publisher leaves the section out."""
    from IPython.display import HTML, display

    from helpers.report.markup import render_markdown

    title = schema.EDITORIAL_FILES[part]
    path = paths.editorial_dir(str(ctx.quarter), ctx.data_root) / f"{part}.md"
    if not path.exists():
        say(f"*（{path} 不存在：本期不刊登“{title}”。）*")
        return
    say(f"## {title}")
    display(HTML(render_markdown(path.read_text(encoding="utf-8"), heading_offset=1)))
