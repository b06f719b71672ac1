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
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.data import completeness, extracts, schema
from helpers.figures import metrics
from helpers.figures import tables as t
from helpers.figures.metrics import LINES, Source, rel
from helpers.params import IssueParams, ParamsError, load_params
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
    _check_reports(quarter, reports)
    return reports


def _check_reports(quarter: str, reports: Mapping[str, extracts.Report]) -> None:
    """Raise ExtractError on the first bad report (saying when it is Q's prior year)."""
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
    # Both lines in one scan each (grouped by line), not one scan per line.
    lines = list(LINES.values())
    daily = t.daily_requests_by(inbound, "line", lines, T)
    arrivals = t.arrivals_by(inbound, "line", lines, quarter)
    waits = t.waits_by(inbound, "line", lines, T)
    for key, line in LINES.items():
        out[f"inbound_{key}"] = {
            "daily": daily[line],
            "daily_rates": t.daily_rates(daily[line], T),
            "arrivals": arrivals[line],
            "waits": waits[line],
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
    prior: Store | Callable[[], Store | None] | None,
    service_level_seconds: float = 20,
    *,
    completeness_min_share: float = completeness.DEFAULT_MIN_SHARE,
    files: Mapping[str, str] | None = None,
) -> Store:
    """Sources of one quarter (+ the prior year's store, or None) -> the store document.

    `prior` may be a function giving the prior year's store: it is called once the
    quarter's own figures are computed, so that store can be computed meanwhile.
    `files` names the extracts' files in the completeness warnings (default `NAME.csv`)."""
    own = metrics.flatten(metrics.section_figures(sources, service_level_seconds))
    if callable(prior):
        prior = prior()
    prior_figures = None if prior is None else prior["metrics"]
    figures = metrics.compare(quarter, own, None if prior_figures is None else metrics.flatten(prior_figures))
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
    """The store -> its JSON text: keys sorted, UTF-8, NaN refused: same store, same bytes.
    Not indented: only json's C encoder is fast, and it writes no indentation (indenting
    made writing a store ~10x slower)."""
    return json.dumps(store, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"


def _store_path(quarter: str, key: str) -> Path:
    return paths.CACHE / "store" / f"{quarter}-{key}.json"


def quarter_store(
    quarter: str,
    data_root: Path | None = None,
    params: IssueParams | None = None,
    *,
    reports: dict[str, extracts.Report] | None = None,
    window: Window | None = None,
    trend: bool = True,
) -> tuple[Store, Path]:
    """The quarter's store and the path of its cached JSON (computed when not cached).

    The prior year's store (when its extracts exist) is made first, with its own
    issue settings, and its figures feed the comparisons. `reports` are the quarter's
    `validated_reports` when the caller already has them.

    With `trend` the store also holds `tables.trend` (the 近期趋势 section): the
    headline KPIs of the `trend_quarters` quarters ending at Q, each read from that
    quarter's own store (`window`: `window_reports`, when the caller already has it).
    Without it, the quarter's own figures only (`base_store`): what the prior year's
    and the window quarters' stores are."""
    q = str(Quarter.parse(quarter))
    params = params or load_params(q)
    reports = reports or validated_reports(q, data_root)
    base, base_path = base_store(q, data_root, params, reports)
    if not trend:
        return base, base_path
    return _trend_store(q, data_root, params, base, base_path, window)


def base_store(
    q: str, data_root: Path | None, params: IssueParams, reports: dict[str, extracts.Report]
) -> tuple[Store, Path]:
    """The quarter's own figures and tables (no trend), cached by content.

    The prior year's store (when `reports` hold that quarter) is computed on a second
    thread meanwhile, on the same DuckDB database (one memory limit for both): the
    quarter's own figures do not need it, only their comparisons do."""
    prior_q = next((rq for rq in reports if rq != q), None)
    prior_params = load_params(prior_q) if prior_q is not None else None
    prior_path = None
    if prior_q is not None:
        prior_path = _base_path(prior_q, prior_params, reports[prior_q], None)
    path = _base_path(q, params, reports[q], prior_path)
    if path.exists():
        return _read_store(path)
    con = _connect()
    try:
        with ThreadPoolExecutor(1) as pool:
            prior_job = None
            if prior_q is not None:
                prior_job = pool.submit(
                    _cached_store, prior_q, prior_params, reports[prior_q], prior_path, con.cursor()
                )
            store = _compute(q, params, reports[q], con, lambda: prior_job.result()[0] if prior_job else None)
    finally:
        con.close()
    return _write_store(path, store)


def _base_path(q: str, params: IssueParams, report: extracts.Report, prior_path: Path | None) -> Path:
    """Where the quarter's base store is cached: keyed by its extracts' hashes, the prior
    year's store, the issue settings and the code."""
    key_src = json.dumps(
        {
            "files": {n: f.sha256 for n, f in report.files.items()},
            "prior": None if prior_path is None else prior_path.stem,
            "params": params.as_dict(),
            "code": code_hash(),
        },
        sort_keys=True,
    )
    return _store_path(q, hashlib.sha256(key_src.encode()).hexdigest()[:24])


def _cached_store(
    q: str, params: IssueParams, report: extracts.Report, path: Path, con: Any
) -> tuple[Store, Path]:
    """A base store without a prior year: read from `path`, or computed on `con` and written."""
    try:
        if path.exists():
            return _read_store(path)
        return _write_store(path, _compute(q, params, report, con, None))
    finally:
        con.close()


def _compute(
    q: str, params: IssueParams, report: extracts.Report, con: Any, prior: Callable[[], Store | None] | None
) -> Store:
    """The quarter's store, computed on the DuckDB connection `con` from its validated Parquet."""
    sources = {
        name: con.read_parquet(str(extracts.parquet_path(q, name, info.sha256)))
        for name, info in report.files.items()
        if name in schema.FILES
    }
    return compute_store(
        q,
        sources,
        prior,
        params.service_level_seconds,
        completeness_min_share=params.completeness_min_share,
        files=completeness.file_names(report),
    )


def _read_store(path: Path) -> tuple[Store, Path]:
    return json.loads(path.read_text(encoding="utf-8")), path


def _write_store(path: Path, store: Store) -> tuple[Store, Path]:
    """Write a store atomically; return it as a later cache hit will read it (its JSON
    text parsed back: tuples become lists), without reading the file again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    text = to_text(store)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return json.loads(text), path


# ---------------------------------------------------------------- the trend (近期趋势)

# A window quarter: its validated reports ({quarter, prior year}), None when it has no
# extracts folder, or the ExtractError that keeps it out of the trend.
Window = dict[str, "dict[str, extracts.Report] | extracts.ExtractError | None"]


def trend_window(quarter: str, n: int) -> list[str]:
    """The `n` quarters ending at `quarter`, oldest first: 2022Q1, 8 -> 2020Q2 … 2022Q1."""
    q = Quarter.parse(quarter)
    end = q.year * 4 + q.q - 1
    return [str(Quarter(i // 4, i % 4 + 1)) for i in range(end - n + 1, end + 1)]


def window_reports(quarter: str, data_root: Path | None = None, n: int | None = None) -> Window:
    """Every window quarter before Q (the `n` = `trend_quarters` ending at Q, Q itself
    excluded), oldest first -> its reports, None (no folder: a gap), or the ExtractError
    of its broken extracts (a gap with a note: a broken earlier quarter never blocks
    publishing Q). Its reports are `validated_reports` (with its prior year, so the store
    is the one its own issue computed) when its prior year is valid, else its own only:
    the trend shows a window quarter's own figures, which need no prior year. All are
    validated in one batch (cached by content)."""
    n = n or load_params(quarter).trend_quarters
    window = trend_window(quarter, n)[:-1]
    priors = {qi: prior_quarter(qi, data_root) for qi in window if extracts.quarter_available(qi, data_root)}
    wanted = list(dict.fromkeys([*priors, *(p for p in priors.values() if p)]))
    found = extracts.validate_quarters(wanted, data_root) if wanted else {}
    out: Window = {}
    for qi in window:
        if qi not in priors:
            out[qi] = None
            continue
        if not found[qi].ok:
            out[qi] = extracts.ExtractError(found[qi])
            continue
        prior = priors[qi]
        out[qi] = {qi: found[qi], prior: found[prior]} if prior and found[prior].ok else {qi: found[qi]}
    return out


def window_files(window: Window) -> tuple[list[Path], bool]:
    """The extract files of the window's quarters (broken ones included, so that fixing
    them is seen; not their prior years', which nothing in the trend shows), and whether
    a window quarter has no folder."""
    files: list[Path] = []
    for qi, got in window.items():
        report = got.report if isinstance(got, extracts.ExtractError) else (got or {}).get(qi)
        files += [f.path for f in report.files.values()] if report else []
    return files, any(got is None for got in window.values())


def _broken_note(qi: str, exc: Exception) -> str:
    if isinstance(exc, extracts.ExtractError):
        return f"{qi} 数据未通过校验，未计入趋势"
    return f"{qi} 的期刊设置有误，未计入趋势"


def _trend_store(
    q: str,
    data_root: Path | None,
    params: IssueParams,
    base: Store,
    base_path: Path,
    window: Window | None,
) -> tuple[Store, Path]:
    """The base store plus `tables.trend`, cached under a key covering the window's stores."""
    n = params.trend_quarters
    window = window if window is not None else window_reports(q, data_root, n)
    quarters = trend_window(q, n)
    found: dict[str, tuple[Store, Path] | None] = {q: (base, base_path)}
    notes: dict[str, str] = {}
    for qi in quarters[:-1]:
        got = window.get(qi)
        found[qi] = None
        if isinstance(got, extracts.ExtractError):
            notes[qi] = _broken_note(qi, got)
        elif got is not None:
            try:  # each quarter's own store, with its own settings: cached by content
                found[qi] = quarter_store(qi, data_root, reports=got, trend=False)
            except ParamsError as exc:
                notes[qi] = _broken_note(qi, exc)
    key_src = json.dumps(
        {
            "base": base_path.stem,
            "window": {qi: (got[1].stem if got else notes.get(qi)) for qi, got in found.items()},
            "trend_quarters": n,
            "code": code_hash(),
        },
        sort_keys=True,
    )
    path = _store_path(q, "trend-" + hashlib.sha256(key_src.encode()).hexdigest()[:24])
    if path.exists():
        return _read_store(path)
    stores = {qi: got[0]["metrics"] if got else None for qi, got in found.items()}
    store = {**base, "tables": {**base["tables"], "trend": t.trend(quarters, stores, notes)}}
    return _write_store(path, store)


def quarter_figures(
    quarter: str,
    data_root: Path | None = None,
    params: IssueParams | None = None,
    *,
    reports: dict[str, extracts.Report] | None = None,
) -> dict[str, Any]:
    """Every figure of the quarter as the nested metrics dict (the store's `metrics`)."""
    return quarter_store(quarter, data_root, params, reports=reports, trend=False)[0]["metrics"]
