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

import json
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
    """Everything a section notebook reads, for one quarter: the quarter's figure store
    (docs/store.md) and, for analysts exploring, the validated rows."""

    section: str
    quarter: Quarter
    data_root: Path
    params: IssueParams
    figures_dir: Path | None
    store_path: Path | None = None
    _tables: dict[tuple[str, str, tuple[str, ...] | None], Any] = field(default_factory=dict)

    @cached_property
    def store(self) -> dict[str, Any]:
        """The quarter's figure store: read from the file the publisher hands over, or
        (exploring in JupyterLab) validated and computed once, then read from the cache."""
        if self.store_path is not None:
            # Publishing: a plain JSON read; the kernel never imports the computing stage.
            return json.loads(self.store_path.read_text(encoding="utf-8"))
        from helpers.figures import store

        # Only the 近期趋势 section needs the other quarters of its window.
        trend = self.section == "trend"
        return store.quarter_store(str(self.quarter), self.data_root, self.params, trend=trend)[0]

    @property
    def figures(self) -> dict[str, Any]:
        """The quarter's METRICS.md figures, nested as in metrics.json."""
        return self.store["metrics"]

    @property
    def prior_quarter(self) -> str | None:
        """The year-earlier quarter used for comparisons, or None."""
        return self.store.get("prior_quarter")

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

    def rows(self, name: str) -> list[dict[str, Any]]:
        """One of this section's tables from the store (docs/store.md lists them): a list
        of dicts, each displayed number beside its printed `<field>_label`."""
        tables = self.store["tables"].get(self.section, {})
        if name not in tables:
            raise KeyError(f"the store has no table {name!r} for section {self.section!r}: {sorted(tables)}")
        return tables[name]

    def table(self, name: str, columns: list[str] | None = None, *, prior: bool = False) -> pd.DataFrame:
        """Validated, typed rows of one extract of this quarter (or of the prior year), for
        exploring: `ctx.table("inbound_calls", ["line", "requested_at", "answered_at"])`.

        `name` is an extract of docs/contract/EXTRACTS.md; `columns` (default all) are
        its columns: inbound_calls: call_id, line, requested_at, answered_at, ended_at,
        agent_type; online_chats: chat_id, requested_at, answered_at, ended_at,
        agent_type; outbound_calls: call_id, dialed_at, service, connected;
        smart_sessions: session_id, channel, started_at, questions, standard_answers,
        recognized, transferred; video_sessions: session_id, started_at, business_type;
        surveys: survey_id, channel, responded_at, rating; sms_batches: batch_id,
        sent_on, service, recipients; feedback: feedback_id, reported_on, department,
        summary, status; tickets: ticket_id, created_at, request_type, ticket_type,
        routed_to; kb_changes: change_id, changed_on, section, action,
        knowledge_points; training: session_id, held_on, topic, staff_id, hours;
        awards: month, category, winner, leader.

        Never used when publishing: the issue presents the store, not rows.
        """
        from helpers.data import extracts

        if self.figures_dir is not None:
            raise RuntimeError(
                "ctx.table reads row-level extracts, for exploring only: a published "
                "section presents the figure store (ctx.fig, ctx.rows)"
            )
        q = self.prior_quarter if prior else str(self.quarter)
        if q is None:
            raise LookupError(f"no prior-year extracts for {self.quarter}")
        key = (q, name, tuple(columns) if columns else None)
        if key not in self._tables:
            cols = {name: columns} if columns else None
            self._tables[key] = extracts.load_tables(q, self.data_root, [name], cols)[name]
        return self._tables[key]

    def prior_figures(self) -> dict[str, Any] | None:
        """The prior year's own figures, or None."""
        return self.store.get("prior_metrics")

    def show(self, chart: Any, name: str) -> None:
        """Display a chart and, when publishing, save its spec under `figures_dir` (the
        publisher exports SVG and PNG; the issue draws the `kefu` renderer's output).

        Exploring (no `figures_dir`): the chart is compiled to a Vega 5 spec that
        JupyterLab draws itself, offline and at the output's full width; no JavaScript
        bundle enters the notebook (docs/decisions.md, "Charts in JupyterLab")."""
        from IPython.display import display

        from helpers.report import charts, render

        if self.figures_dir is None:
            render.enable_lab_renderer()  # charts displayed directly draw the same way
            data, metadata = render.lab_chart_bundle(charts.spec(chart), name=f"{self.section}-{name}")
            display(data, metadata=metadata, raw=True)
            return
        render.enable_offline_renderer()
        spec = charts.spec(chart)
        display(render.chart_bundle(spec, name=f"{self.section}-{name}"), raw=True)
        charts.save_spec(spec, self.figures_dir / f"{self.section}-{name}")


def open_section(
    quarter: str, data_root: str = "", figures_dir: str = "", store: str = "", *, section: str
) -> SectionContext:
    """Parameters of a section notebook -> its context (the quarter checked, the issue
    params loaded; figures and tables are read when first asked for)."""
    q = Quarter.parse(quarter)
    root = paths.from_root(data_root) if data_root else paths.data_root()
    # Library deprecation notices would otherwise print into the issue's outputs.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return SectionContext(
        section=section,
        quarter=q,
        data_root=root,
        params=load_params(str(q)),
        figures_dir=Path(figures_dir) if figures_dir else None,
        store_path=paths.from_root(store) if store else None,
    )


def say(text: str) -> None:
    """Show prose as markdown (figures inside it come from `helpers.fmt`)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def show_table(rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    """Show store rows as a table: `columns` maps each field shown to its heading, in
    order (cells HTML-escaped; print the numbers with their `_label` fields)."""
    from html import escape

    from IPython.display import HTML, display

    head = "".join(f"<th>{escape(title)}</th>" for title in columns.values())
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(field, '')))}</td>" for field in columns) + "</tr>"
        for row in rows
    )
    display(HTML(f'<table class="kf-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'))


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
