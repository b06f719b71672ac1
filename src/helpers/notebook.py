"""What a section notebook calls: one context object per section.

A notebook's first cells are its raw `parameters` and then
`ctx = open_section(quarter, data_root, figures_dir, section="...")`; after that it
only reads figures (`ctx.fig("inbound.general.requests")`), asks for typed tables
(`ctx.table("inbound_calls")`), writes prose with `say(...)` (every number in it
formatted by `helpers.fmt`) and shows charts with `ctx.show(chart, "name")`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from helpers import charts, extracts, figures, metrics, paths, render, schema
from helpers.params import IssueParams, load_params
from helpers.quarter import Quarter


@dataclass
class SectionContext:
    """Everything a section notebook reads, for one quarter."""

    section: str
    quarter: Quarter
    data_root: Path
    params: IssueParams
    figures: dict[str, Any]
    figures_dir: Path | None
    _tables: dict[tuple[str, str, tuple[str, ...] | None], pd.DataFrame] = field(default_factory=dict)

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
        return metrics.get(self.figures, dotted_key)

    def table(self, name: str, columns: list[str] | None = None, *, prior: bool = False) -> pd.DataFrame:
        """A validated, typed extract of this quarter (or of the prior year)."""
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
        if not self.has_prior:
            return None
        return figures.quarter_figures(self.prior_quarter, self.data_root)

    def show(self, chart: Any, name: str) -> None:
        """Display a chart (offline renderer, id from the section and name) and, when
        publishing, save it as SVG and PNG under `figures_dir`."""
        from IPython.display import display

        spec = chart.to_dict()
        display(render.chart_bundle(spec, name=f"{self.section}-{name}"), raw=True)
        if self.figures_dir is not None:
            self.figures_dir.mkdir(parents=True, exist_ok=True)
            charts.save_chart(chart, self.figures_dir / f"{self.section}-{name}")


def open_section(
    quarter: str, data_root: str = "", figures_dir: str = "", *, section: str
) -> SectionContext:
    """Parameters of a section notebook -> its context: validated figures of the quarter,
    the house chart theme and the offline renderer switched on."""
    q = Quarter.parse(quarter)
    root = Path(data_root).resolve() if data_root else paths.data_root()
    # The kernel's warnings would otherwise print into the issue's outputs.
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("vl_convert").setLevel(logging.ERROR)
    alt.theme.enable(charts.THEME)
    render.enable_offline_renderer()
    params = load_params(str(q))
    return SectionContext(
        section=section,
        quarter=q,
        data_root=root,
        params=params,
        figures=figures.quarter_figures(str(q), root, params),
        figures_dir=Path(figures_dir) if figures_dir else None,
    )


def say(text: str) -> None:
    """Show prose as markdown (figures inside it come from `helpers.fmt`)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def show_table(frame: pd.DataFrame) -> None:
    """Show a small aggregated table without its index."""
    from IPython.display import HTML, display

    display(HTML(frame.to_html(index=False, escape=True, border=0, classes="kf-table")))


def kpi_cards(items: list[tuple[str, str]]) -> None:
    """Show headline figures as cards: [(label, formatted value), ...]."""
    from IPython.display import HTML, display

    cards = "".join(
        f'<div class="kf-kpi"><div class="kf-kpi-value">{render.esc(value)}</div>'
        f'<div class="kf-kpi-label">{render.esc(label)}</div></div>'
        for label, value in items
    )
    display(HTML(f'<div class="kf-kpis">{cards}</div>'))


def editorial(ctx: SectionContext, part: str) -> None:
    """Show one editorial text (`<DATA>/<Q>/editorial/<part>.md`) under its section
    heading; raw HTML in it is escaped (render.render_markdown). A missing file shows
    a note here, and the publisher leaves the section out of the issue."""
    from IPython.display import HTML, display

    title = schema.EDITORIAL_FILES[part]
    path = paths.editorial_dir(str(ctx.quarter), ctx.data_root) / f"{part}.md"
    if not path.exists():
        say(f"*（{path} 不存在：本期不刊登“{title}”。）*")
        return
    say(f"## {title}")
    display(HTML(render.render_markdown(path.read_text(encoding="utf-8"))))
