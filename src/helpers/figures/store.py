"""Stage 2 of the pipeline: validated Parquet tables -> the quarter's figure store.

`quarter_store` validates the quarter (and the year-earlier quarter when its folder
exists), then computes with DuckDB, streaming over the validated Parquet cache, every
METRICS.md figure and every table the issue draws (docs/store.md), and caches the
result as one JSON document keyed by the extracts' content hashes, the issue settings
and the code that computes it. Section notebooks only read that document.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.data import completeness, extracts, schema
from helpers.figures import metrics
from helpers.figures import tables as t
from helpers.figures.metrics import LINES, Source, lit, rel
from helpers.params import IssueParams, load_params
from helpers.quarter import Quarter

# DuckDB's share of the machine: the publisher's memory stays bounded whatever the
# volume (DuckDB spills to disk beyond it), and it leaves room for the kernels.
DUCKDB_MEMORY_LIMIT = os.environ.get("KFWK_DUCKDB_MEMORY", "400MB")
DUCKDB_THREADS = 2
# The code a store depends on: every module of these folders, plus the core modules
# that label (fmt), date (quarter) and configure (params) the figures.
_CODE = (Path(__file__).resolve().parents[1], ("data", "figures"), ("fmt.py", "quarter.py", "params.py"))

Store = dict[str, Any]
Tables = dict[str, dict[str, t.Rows]]


def prior_quarter(quarter: str, data_root: Path | None = None) -> str | None:
    """The year-earlier quarter when its extracts folder exists, else None."""
    prior = str(Quarter.parse(quarter).prior_year())
    return prior if extracts.quarter_available(prior, data_root) else None


def validated_reports(quarter: str, data_root: Path | None = None) -> dict[str, extracts.Report]:
    """Validate Q and, when present, its prior year; raise ExtractError on the first bad one.

    Returns {quarter: report} for the quarters used, current first.
    """
    quarters = [q for q in (quarter, prior_quarter(quarter, data_root)) if q]
    reports = extracts.validate_quarters(quarters, data_root)
    for q, report in reports.items():
        if not report.ok:
            role = (
                ""
                if q == quarter
                else (
                    f"{q} 是 {quarter} 的上年同期（同比数据来源），其数据有误 / {q} is the year-earlier "
                    f"quarter whose extracts {quarter}'s year-on-year (同比) figures compare with: fix it, "
                    f"or move <DATA>/{q} aside to publish {quarter} with 无同期数据."
                )
            )
            raise extracts.ExtractError(report, role)
    return reports


def code_hash() -> str:
    """Hash of the code that computes a store (see _CODE): a change to it is a new store."""
    root, packages, modules = _CODE
    h = hashlib.sha256()
    files = [p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))] + [root / n for n in modules]
    for path in files:
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- computing


def section_tables(
    quarter: str,
    sources: Mapping[str, Source],
    figures: Mapping[str, Any],
    prior_figures: Mapping[str, Any] | None,
    service_level_seconds: float = 20,
) -> Tables:
    """Every table the issue draws, by section id then table name (docs/store.md).

    `sources` maps extract names to sources (DuckDB relations or typed DataFrames);
    `figures` / `prior_figures` are the nested METRICS.md dicts of the quarter and
    of its prior year (or None)."""
    T = service_level_seconds
    inbound = rel(sources["inbound_calls"])
    out: Tables = {}
    for key, line in LINES.items():
        calls = inbound.filter(f"line = {lit(line)}")
        daily = t.daily_requests(calls, T)
        out[f"inbound_{key}"] = {
            "daily": daily,
            "daily_rates": t.daily_rates(daily, T),
            "arrivals": t.arrivals(calls, quarter),
            "waits": t.waits(calls, T),
        }
    out["satisfaction"] = {"ratings": t.ratings(sources["surveys"])}
    out["outbound"] = {
        "services": t.outbound_services(sources["outbound_calls"]),
        "yoy": t.yoy(figures, prior_figures, {"outbound.calls": "外呼电话"}),
    }
    out["smart"] = {
        "composition": t.smart_composition(sources["smart_sessions"]),
        "diversion": t.monthly_diversion(sources["smart_sessions"], inbound, sources["online_chats"]),
        "yoy": t.yoy(figures, prior_figures, {"smart.sessions": "智慧客服", "robot.sessions": "小婉"}),
    }
    out["video"] = {"business": t.video_business(figures["video"]["business"])}
    out["online"] = {
        "daily": t.daily_online(t.daily_requests(sources["online_chats"], T)),
        "yoy": t.yoy(figures, prior_figures, {"online.requests": "人工请求量"}),
    }
    out["sms"] = {"services": t.sms_services(sources["sms_batches"])}
    out["feedback"] = {"items": t.feedback_items(sources["feedback"])}
    out["tickets"] = {
        "complaint_outcomes": t.complaint_outcomes(sources["tickets"]),
        "complaint_routes": t.complaint_routes(sources["tickets"]),
        "complaint_sources": t.complaint_sources(sources["tickets"]),
        "yoy": t.yoy(
            figures,
            prior_figures,
            {
                "tickets.complaint_tickets": "投诉工单",
                "tickets.branch_complaint_tickets": "转分支行",
                "tickets.hq_complaint_tickets": "转总行部室",
            },
            t.count_change_phrase,
        ),
    }
    out["knowledge_base"] = {
        "actions": t.kb_actions(sources["kb_changes"]),
        "points": t.kb_points(sources["kb_changes"]),
    }
    out["training"] = {"monthly": t.training_monthly(sources["training"])}
    out["awards"] = {"awards": t.awards_rows(figures["awards"])}
    return out


def compute_store(
    quarter: str,
    sources: Mapping[str, Source],
    prior: Store | None,
    service_level_seconds: float = 20,
    *,
    completeness_min_share: float = completeness.DEFAULT_MIN_SHARE,
    files: Mapping[str, str] | None = None,
) -> Store:
    """Sources of one quarter (+ the prior year's store, or None) -> the store document.

    `files` names the extracts' files in the completeness warnings (default `NAME.csv`)."""
    prior_figures = None if prior is None else prior["metrics"]
    figures = metrics.compute_metrics(
        quarter, sources, None, service_level_seconds=service_level_seconds, prior_metrics=prior_figures
    )
    return {
        "quarter": str(Quarter.parse(quarter)),
        "prior_quarter": None if prior is None else prior["quarter"],
        "metrics": figures,
        "prior_metrics": prior_figures,
        "tables": section_tables(quarter, sources, figures, prior_figures, service_level_seconds),
        # Days and months the extracts miss (warnings, not errors): the About panel lists them.
        "completeness": [
            w.as_dict()
            for w in completeness.check(quarter, sources, min_share=completeness_min_share, files=files)
        ],
    }


def _connect() -> Any:
    import duckdb

    spill = paths.CACHE / "duckdb-tmp"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "threads": DUCKDB_THREADS,
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "temp_directory": str(spill),
            "preserve_insertion_order": True,
        }
    )
    quiet_progress(con)
    return con


def quiet_progress(con: Any) -> None:
    """No progress bar: it would print into the publisher's log. (Inside a Jupyter kernel
    DuckDB refuses to change the setting without ipywidgets; it draws none there anyway.)"""
    import duckdb

    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass


def to_text(store: Store) -> str:
    """The store -> its JSON text: keys sorted, UTF-8, NaN refused: same store, same bytes."""
    return json.dumps(store, ensure_ascii=False, sort_keys=True, allow_nan=False, indent=1) + "\n"


def _store_path(quarter: str, key: str) -> Path:
    return paths.CACHE / "store" / f"{quarter}-{key}.json"


def quarter_store(
    quarter: str,
    data_root: Path | None = None,
    params: IssueParams | None = None,
    *,
    reports: dict[str, extracts.Report] | None = None,
) -> tuple[Store, Path]:
    """The quarter's store and the path of its cached JSON (computed when not cached).

    The prior year's store (when its extracts exist) is made first, with its own
    issue settings, and its figures feed the comparisons. `reports` are the quarter's
    `validated_reports` when the caller already has them."""
    q = str(Quarter.parse(quarter))
    params = params or load_params(q)
    reports = reports or validated_reports(q, data_root)
    prior_q = next((rq for rq in reports if rq != q), None)
    prior_store, prior_path = (None, None)
    if prior_q is not None:
        prior_reports = {prior_q: reports[prior_q]}
        prior_store, prior_path = quarter_store(prior_q, data_root, reports=prior_reports)
    key_src = json.dumps(
        {
            "files": {n: f.sha256 for n, f in reports[q].files.items()},
            "prior": None if prior_path is None else prior_path.stem,
            "params": params.as_dict(),
            "code": code_hash(),
        },
        sort_keys=True,
    )
    path = _store_path(q, hashlib.sha256(key_src.encode()).hexdigest()[:24])
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8")), path
    con = _connect()
    try:
        sources = {
            name: con.read_parquet(str(extracts.parquet_path(q, name, info.sha256)))
            for name, info in reports[q].files.items()
            if name in schema.FILES
        }
        store = compute_store(
            q,
            sources,
            prior_store,
            params.service_level_seconds,
            completeness_min_share=params.completeness_min_share,
            files=completeness.file_names(reports[q]),
        )
    finally:
        con.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(to_text(store), encoding="utf-8")
    tmp.replace(path)
    return json.loads(path.read_text(encoding="utf-8")), path


def quarter_figures(
    quarter: str,
    data_root: Path | None = None,
    params: IssueParams | None = None,
    *,
    reports: dict[str, extracts.Report] | None = None,
) -> dict[str, Any]:
    """Every figure of the quarter as the nested metrics dict (the store's `metrics`)."""
    return quarter_store(quarter, data_root, params, reports=reports)[0]["metrics"]
