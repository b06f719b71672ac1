"""The tables behind the issue's charts and tables, as store rows (docs/store.md).

Each function takes sources (DuckDB relations over the validated Parquet cache, or
typed DataFrames in tests; see `helpers.figures.metrics.Source`) and returns a small
long-form table as a list of dicts: aggregated counts and the rates derived from them,
each displayed number beside its printed label (`<field>_label`, from `helpers.fmt`).
SQL only ever returns integer counts and group keys, so every float is computed here
in Python from integers (or with math.fsum) and the same inputs give the same bytes.

Where a chart shows a quantity that is also a METRICS.md figure, it uses the figure's
own formula from `helpers.figures.metrics` (`answer_sql`, `answer_rates`,
`within_target_sql`, `diversion_rate`, the ticket conditions): one derivation.
No id column and no staff_id ever appears in a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from helpers import fmt
from helpers.data.schema import (
    FEEDBACK_STATUSES,
    KB_ACTIONS,
    RATINGS,
    ROUTES,
    SMART_CHANNELS,
    SURVEY_CHANNELS,
    TICKET_TYPES,
)
from helpers.figures import metrics as m
from helpers.figures.metrics import Source, rel
from helpers.quarter import Quarter

Rows = list[dict[str, Any]]

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
SMART_OUTCOMES = ("自助解决", "转人工")
ISSUED, CONVERTED = "出具投诉工单", "转为其他工单"
WAIT_STEP_S, WAIT_MAX_S = 5.0, 60.0


def _day(value: date | datetime) -> str:
    """A date -> the text Vega-Lite parses as local midnight."""
    return f"{value:%Y-%m-%d}T00:00:00"


def _labelled(row: dict[str, Any], labels: Mapping[str, Callable[[Any], str]]) -> dict[str, Any]:
    """Insert `<field>_label` right after each labelled field."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = value
        if key in labels:
            out[f"{key}_label"] = labels[key](value)
    return out


def _wan(unit: str) -> Callable[[Any], str]:
    return lambda n: fmt.wan(n, unit)


def _count(unit: str = "") -> Callable[[Any], str]:
    return lambda n: fmt.count(n, unit)


# ---------------------------------------------------------------- inbound and online


def daily_requests(requests: Source, service_level_seconds: float = 20) -> Rows:
    """Request rows of one queue -> one row per day with requests: date, requests,
    answered, answer_rate, service_level (the METRICS.md formulas, per day), within (the
    service level's numerator)."""
    return daily_requests_by(requests, None, [None], service_level_seconds)[None]


def daily_requests_by(
    requests: Source, by: str | None, values: Sequence[Any], service_level_seconds: float = 20
) -> dict[Any, Rows]:
    """`daily_requests` of each of `values` of the column `by`, in one scan."""
    sql = m.answer_sql(service_level_seconds)
    found = m.grouped(
        requests,
        by,
        "CAST(requested_at AS DATE) AS day, " + m.select_list(sql),
        "CAST(requested_at AS DATE)",
        order="day",
    )
    labels = {"requests": _count(), "answered": _count(), "answer_rate": fmt.pct, "service_level": fmt.pct}
    out = {}
    for value in values:
        rows = []
        for day, *counts in found.get(value, []):
            named = dict(zip(sql, counts, strict=True))
            row = {"date": _day(day), **m.answer_rates(named), "within": named["within"]}
            rows.append(_labelled(row, labels))
        out[value] = rows
    return out


def daily_rates(daily: Rows, service_level_seconds: float = 20) -> Rows:
    """`daily_requests` rows -> long form: date, measure (接通率 / <T>秒服务水平), rate."""
    level = f"{fmt.seconds(service_level_seconds)}秒服务水平"
    return [
        {"date": row["date"], "measure": measure, "rate": row[field], "rate_label": row[f"{field}_label"]}
        for row in daily
        for measure, field in (("接通率", "answer_rate"), (level, "service_level"))
    ]


def daily_online(daily: Rows) -> Rows:
    """`daily_requests` rows -> long form: date, measure (请求量 / 接通量), chats."""
    return [
        {"date": row["date"], "measure": measure, "chats": row[field], "chats_label": row[f"{field}_label"]}
        for row in daily
        for measure, field in (("请求量", "requests"), ("接通量", "answered"))
    ]


def weekdays_in(quarter: str) -> list[int]:
    """How many Mondays .. Sundays the quarter has (12 to 14 each)."""
    q = Quarter.parse(quarter)
    days = (q.end - q.start).days
    counts = [0] * 7
    for i in range(days):
        counts[(q.start + timedelta(days=i)).weekday()] += 1
    return counts


def arrivals(requests: Source, quarter: str) -> Rows:
    """Request rows -> the 7 × 24 grid of when requests arrive (every cell present):
    weekday, weekday_rank, hour, requests (quarter total), days (that weekday's count in
    the quarter), mean_requests (requests / days: the average day, which the chart colours)."""
    return arrivals_by(requests, None, [None], quarter)[None]


def arrivals_by(requests: Source, by: str | None, values: Sequence[Any], quarter: str) -> dict[Any, Rows]:
    """`arrivals` of each of `values` of the column `by`, in one scan."""
    found = m.grouped(
        requests,
        by,
        "isodow(requested_at) - 1 AS wd, hour(requested_at) AS h, count(*) AS n",
        "isodow(requested_at) - 1, hour(requested_at)",
    )
    days = weekdays_in(quarter)
    labels = {"requests": _count(), "mean_requests": fmt.decimal}
    out = {}
    for value in values:
        counts = {(wd, h): n for wd, h, n in found.get(value, [])}
        out[value] = [
            _labelled(
                {
                    "weekday": WEEKDAYS[wd],
                    "weekday_rank": wd,
                    "hour": h,
                    "requests": counts.get((wd, h), 0),
                    "days": days[wd],
                    "mean_requests": m.ratio(counts.get((wd, h), 0), days[wd]),
                },
                labels,
            )
            for wd in range(7)
            for h in range(24)
        ]
    return out


def wait_bin_edges(
    threshold_s: float = 20, step_s: float = WAIT_STEP_S, max_s: float = WAIT_MAX_S
) -> list[float]:
    """Edges of the wait-time bins: every `step_s` up to `max_s`, plus the threshold.

    The threshold is always an edge, so each bin lies wholly within or wholly beyond it;
    `max_s` is raised to the threshold when the threshold is larger.
    """
    top = max(max_s, threshold_s)
    steps = int(math.floor(top / step_s))
    return sorted({*(i * step_s for i in range(steps + 1)), float(threshold_s), float(top)})


def waits(requests: Source, service_level_seconds: float = 20) -> Rows:
    """Answered requests -> how long they waited, in right-closed bins ((5, 10] is `5-10`,
    the first [0, 5], the last open `60+`) whose edges include T, so the bins marked
    within (≤T) hold exactly the service level's numerator.

    Fields: bin, bin_start, bin_end (the open bin is drawn one step wide), open, calls,
    share (of answered), density (share per 5 s: the bar height, so a narrow bin is not
    drawn as tall as a wide one), within (`≤20秒` / `>20秒`)."""
    return waits_by(requests, None, [None], service_level_seconds)[None]


def waits_by(
    requests: Source, by: str | None, values: Sequence[Any], service_level_seconds: float = 20
) -> dict[Any, Rows]:
    """`waits` of each of `values` of the column `by`, in one scan."""
    edges = wait_bin_edges(service_level_seconds)
    wait = "epoch_ns(answered_at) - epoch_ns(requested_at)"
    case = " ".join(f"WHEN {wait} <= {m.threshold_ns(e)} THEN {i}" for i, e in enumerate(edges[1:]))
    found = m.grouped(
        rel(requests).filter("answered_at IS NOT NULL"),
        by,
        f"CASE {case} ELSE {len(edges) - 1} END AS b, count(*) AS n",
        "b",
    )
    t = fmt.seconds(service_level_seconds)
    out = {}
    for value in values:
        counts = dict(found.get(value, []))
        answered = sum(counts.values())
        rows = []
        for i, start in enumerate(edges):
            is_open = i == len(edges) - 1
            end = start + WAIT_STEP_S if is_open else edges[i + 1]
            share = m.ratio(counts.get(i, 0), answered)
            rows.append(
                _labelled(
                    {
                        "bin": f"{start:g}+" if is_open else f"{start:g}-{end:g}",
                        "bin_start": start,
                        "bin_end": end,
                        "open": is_open,
                        "calls": counts.get(i, 0),
                        "share": share,
                        "density": m.ratio(counts.get(i, 0) * WAIT_STEP_S, answered * (end - start)),
                        "within": f"≤{t}秒" if not is_open and end <= service_level_seconds else f">{t}秒",
                    },
                    {"calls": _count(), "share": fmt.pct},
                )
            )
        out[value] = rows
    return out


# ---------------------------------------------------------------- surveys, services


def _shares_by_channel(
    found: Mapping[tuple[str, Any], int],
    channels: Sequence[str],
    parts: Sequence[tuple[str, Any]],
    part: str,
    count: str,
    label: Callable[[Any], str],
) -> Rows:
    """{(channel, key): n} -> per channel that has any, one row per part (all of them, 0 when
    none): channel, <part>, <part>_rank, <count>, share (of the channel's total)."""
    rows = []
    for channel in channels:
        total = sum(found.get((channel, key), 0) for _, key in parts)
        if total == 0:
            continue
        for rank, (name, key) in enumerate(parts):
            n = found.get((channel, key), 0)
            row = {"channel": channel, part: name, f"{part}_rank": rank, count: n, "share": m.ratio(n, total)}
            rows.append(_labelled(row, {count: label, "share": fmt.pct}))
    return rows


def ratings(surveys: Source) -> Rows:
    """surveys -> channel × rating (all five ratings of every channel with responses):
    channel, rating, rating_rank, count, share (of the channel's responses)."""
    found = dict(
        ((c, r), n)
        for c, r, n in rel(surveys).aggregate("channel, rating, count(*) AS n", "channel, rating").fetchall()
    )
    ranked = [(r, r) for r in RATINGS]
    return _shares_by_channel(found, SURVEY_CHANNELS, ranked, "rating", "count", _count(" 份"))


def outbound_services(outbound_calls: Source) -> Rows:
    """outbound_calls -> one row per service, calls descending (ties by service in
    code-point order): service, calls, connected, connect_rate."""
    found = (
        rel(outbound_calls)
        .aggregate(f"service, count(*) AS calls, {m.count_where('connected')} AS connected", "service")
        .fetchall()
    )
    return [
        _labelled(
            {"service": s, "calls": calls, "connected": conn, "connect_rate": m.ratio(conn, calls)},
            {"calls": _wan("次"), "connected": _wan("次"), "connect_rate": fmt.pct},
        )
        for s, calls, conn in sorted(found, key=lambda r: (-r[1], r[0]))
    ]


def sms_services(sms_batches: Source) -> Rows:
    """sms_batches -> one row per service, recipients descending (ties by service):
    service, batches, recipients."""
    found = (
        rel(sms_batches)
        .aggregate("service, count(*) AS batches, sum(recipients) AS recipients", "service")
        .fetchall()
    )
    return [
        _labelled(
            {"service": s, "batches": b, "recipients": int(r)},
            {"batches": _count(" 批"), "recipients": _wan("次")},
        )
        for s, b, r in sorted(found, key=lambda row: (-int(row[2]), row[0]))
    ]


# ---------------------------------------------------------------- smart service, video


def smart_composition(smart_sessions: Source) -> Rows:
    """smart_sessions -> channel × outcome (自助解决 = not transferred, METRICS.md's
    resolved; 转人工): channel, outcome, outcome_rank, sessions, share (of the channel)."""
    found = dict(
        ((c, bool(t)), n)
        for c, t, n in rel(smart_sessions)
        .aggregate("channel, transferred, count(*) AS n", "channel, transferred")
        .fetchall()
    )
    outcomes = list(zip(SMART_OUTCOMES, (False, True), strict=True))
    return _shares_by_channel(found, SMART_CHANNELS, outcomes, "outcome", "sessions", _wan("次"))


def _monthly(source: Source, column: str, expr: str = "count(*)") -> dict[tuple[int, int], int]:
    return {
        (y, mo): int(n)
        for y, mo, n in rel(source)
        .aggregate(
            f"year({column}) AS y, month({column}) AS mo, {expr} AS n", f"year({column}), month({column})"
        )
        .fetchall()
    }


def monthly_diversion(smart_sessions: Source, inbound_calls: Source, online_chats: Source) -> Rows:
    """The three request tables -> 智能服务分流率 per month (METRICS.md's
    smart.diversion_rate restricted to the month): month, month_label, resolved,
    inbound_requests, online_requests, diversion_rate."""
    resolved = _monthly(smart_sessions, "started_at", m.RESOLVED_SQL)
    inbound = _monthly(inbound_calls, "requested_at")
    online = _monthly(online_chats, "requested_at")
    rows = []
    for y, mo in sorted({*resolved, *inbound, *online}):
        r, i, o = resolved.get((y, mo), 0), inbound.get((y, mo), 0), online.get((y, mo), 0)
        rows.append(
            _labelled(
                {
                    "month": _day(date(y, mo, 1)),
                    "month_label": f"{mo}月",
                    "resolved": r,
                    "inbound_requests": i,
                    "online_requests": o,
                    "diversion_rate": m.diversion_rate(r, i, o),
                },
                {
                    "resolved": _wan("次"),
                    "inbound_requests": _wan("人次"),
                    "online_requests": _wan("次"),
                    "diversion_rate": fmt.pct,
                },
            )
        )
    return rows


def video_business(business: Sequence[Mapping[str, Any]]) -> Rows:
    """METRICS.md `video.business` -> its rows with labels (the figure itself, not a recount)."""
    return [
        _labelled(
            {"type": b["type"], "count": b["count"], "share": b["share"]},
            {"count": _count(" 笔"), "share": fmt.pct},
        )
        for b in business
    ]


# ---------------------------------------------------------------- feedback, tickets


def feedback_items(feedback: Source) -> Rows:
    """feedback -> the items as the issue lists them (no feedback_id): status, department,
    summary; by status (已优化, 列入计划, 待反馈), then department and summary."""
    rank = {s: i for i, s in enumerate(FEEDBACK_STATUSES)}
    found = rel(feedback).project("status, department, summary").fetchall()
    return [
        {"status": s, "department": d, "summary": text}
        for s, d, text in sorted(found, key=lambda r: (rank.get(r[0], len(rank)), r[1], r[2]))
    ]


def complaint_outcomes(tickets: Source) -> Rows:
    """Received complaints (request_type 投诉) -> one row per ticket type they became:
    ticket_type, kind (出具投诉工单 / 转为其他工单), tickets. Sums to
    tickets.complaints_received; the 转为其他工单 rows sum to complaints_converted."""
    found = dict(
        rel(tickets)
        .filter(m.COMPLAINT_RECEIVED_SQL)
        .aggregate("ticket_type, count(*) AS n", "ticket_type")
        .fetchall()
    )
    return [
        _labelled(
            {"ticket_type": t, "kind": ISSUED if t == m.COMPLAINT else CONVERTED, "tickets": found[t]},
            {"tickets": _count(" 笔")},
        )
        for t in TICKET_TYPES
        if found.get(t)
    ]


def _complaint_tickets_by(tickets: Source, column: str, order: Sequence[str]) -> Rows:
    """Complaint tickets (ticket_type 投诉) counted by `column`, in vocabulary order, the
    values with none left out: {column, tickets}. Sums to tickets.complaint_tickets."""
    found = dict(
        rel(tickets).filter(m.COMPLAINT_TICKET_SQL).aggregate(f"{column}, count(*) AS n", column).fetchall()
    )
    labels = {"tickets": _count(" 笔")}
    return [_labelled({column: v, "tickets": found[v]}, labels) for v in order if found.get(v)]


def complaint_routes(tickets: Source) -> Rows:
    """Complaint tickets -> one row per destination: routed_to, tickets."""
    return _complaint_tickets_by(tickets, "routed_to", ROUTES)


def complaint_sources(tickets: Source) -> Rows:
    """Complaint tickets -> one row per request type they came from: request_type, tickets
    (a 咨询 call can end in a complaint ticket too)."""
    return _complaint_tickets_by(tickets, "request_type", TICKET_TYPES)


# ---------------------------------------------------------------- knowledge base, training


def kb_actions(kb_changes: Source) -> Rows:
    """kb_changes -> items (rows) per action, all three actions: sums to knowledge_base.items."""
    found = dict(rel(kb_changes).aggregate("action, count(*) AS n", "action").fetchall())
    return [_labelled({"action": a, "items": found.get(a, 0)}, {"items": _count(" 项")}) for a in KB_ACTIONS]


def kb_points(kb_changes: Source) -> Rows:
    """kb_changes -> Σ knowledge_points per action 新增 / 优化: sums to
    knowledge_base.knowledge_points."""
    found = dict(
        rel(kb_changes)
        .filter(m.POINT_ACTIONS_SQL)
        .aggregate("action, sum(knowledge_points) AS n", "action")
        .fetchall()
    )
    return [
        _labelled(
            {"action": a, "knowledge_points": int(found.get(a) or 0)}, {"knowledge_points": _count(" 项")}
        )
        for a in m.POINT_ACTIONS
    ]


def training_monthly(training: Source) -> Rows:
    """training -> per month with training: month, month_label, sessions (distinct
    session_id), attendances (rows), hours (Σ, math.fsum)."""
    source = rel(training)
    counts = source.aggregate(
        "year(held_on) AS y, month(held_on) AS mo, count(DISTINCT session_id) AS s, count(*) AS a",
        "year(held_on), month(held_on)",
    ).fetchall()
    hours: dict[tuple[int, int], list[float]] = {}
    for y, mo, h in source.project("year(held_on), month(held_on), hours").fetchall():
        hours.setdefault((y, mo), []).append(float(h))
    return [
        _labelled(
            {
                "month": _day(date(y, mo, 1)),
                "month_label": f"{mo}月",
                "sessions": s,
                "attendances": a,
                "hours": math.fsum(hours[(y, mo)]),
            },
            {"sessions": _count(" 场次"), "attendances": _count(" 人次"), "hours": fmt.hours},
        )
        for y, mo, s, a in sorted(counts)
    ]


def awards_rows(awards: Sequence[Mapping[str, Any]]) -> Rows:
    """METRICS.md `awards` -> printed rows: category, months_label (`1月&2月`), winner,
    leader ("" when none)."""
    return [
        {
            "category": a["category"],
            "months_label": "&".join(f"{mo}月" for mo in a["months"]),
            "winner": a["winner"],
            "leader": a.get("leader") or "",
        }
        for a in awards
    ]


# ---------------------------------------------------------------- year on year


def yoy(
    metrics: Mapping[str, Any],
    prior_metrics: Mapping[str, Any] | None,
    figures: Mapping[str, str],
    change: Callable[[Mapping[str, Any], str], str] | None = None,
) -> Rows:
    """Two quarters' figures -> (figure, period) rows for a year-on-year chart.

    `figures` maps METRICS.md keys to labels. Rows exist only for periods that have the
    figure (no 上年同期 rows without a prior year). value_label prints the value as the
    prose does; change_label (on the 本期 row) is the figure's 同比 phrase.
    """
    change = change or (lambda flat, key: fmt.yoy(flat.get(f"{key}_yoy")))
    now = m.flatten(metrics)
    before = m.flatten(prior_metrics) if prior_metrics is not None else None
    rows = []
    for key, label in figures.items():
        for period, flat in (("上年同期", before), ("本期", now)):
            if flat is None or flat.get(key) is None:
                continue
            rows.append(
                {
                    "figure": label,
                    "key": key,
                    "period": period,
                    "quarter": flat["quarter"],
                    "value": flat[key],
                    "value_label": fmt.format_value(key, flat[key]),
                    "change_label": change(now, key) if period == "本期" else "",
                }
            )
    return rows


def count_change_phrase(flat: Mapping[str, Any], key: str) -> str:
    """The tickets' wording: `同比减少 137 笔，降幅 47.57%`."""
    return fmt.count_change(flat.get(f"{key}_change"), flat.get(f"{key}_yoy"))


# ---------------------------------------------------------------- recent trend (近期趋势)

# With fewer quarters that have figures, the 近期趋势 section says so instead of drawing.
TREND_MIN_QUARTERS = 3


def quarter_label(quarter: str) -> str:
    """`2021Q2` -> `21Q2`: short enough for eight quarters on a phone's axis."""
    q = Quarter.parse(quarter)
    return f"{q.year % 100:02d}Q{q.q}"


def trend(
    window: Sequence[str],
    stores: Mapping[str, Mapping[str, Any] | None],
    notes: Mapping[str, str] | None = None,
) -> dict[str, Rows]:
    """The headline KPIs (helpers.figures.headline) over the window's quarters, oldest first.

    `stores` maps each window quarter to its own metrics (from its own store), or to
    None: a gap (no extracts, or broken ones; `notes` says why). Returns:

    - `series`: one row per headline × window quarter (gaps included, value null):
      quarter, quarter_label, key, label, group, kind, value, value_label, qoq (环比:
      change on the quarter before), qoq_label, yoy (同比: change on the quarter a year
      earlier), yoy_label. Changes are `Headline.change` (relative for counts, a
      difference for rates), null and `—` unless both values are in the window: the
      trend shows only window quarters' figures, so it depends on nothing older.
    - `quarters`: one row per window quarter: quarter, quarter_label, shown (bool), note.
    """
    from helpers.figures.headline import HEADLINE

    notes = notes or {}
    series: Rows = []
    for h in HEADLINE:
        values = [None if stores.get(qi) is None else h.value(stores[qi]) for qi in window]
        for i, qi in enumerate(window):
            qoq = h.change(values[i], values[i - 1]) if i >= 1 else None
            yoy = h.change(values[i], values[i - 4]) if i >= 4 else None
            series.append(
                {
                    "quarter": qi,
                    "quarter_label": quarter_label(qi),
                    "key": h.key,
                    "label": h.label,
                    "group": h.group,
                    "kind": h.kind,
                    "value": values[i],
                    "value_label": h.printed(values[i]),
                    "qoq": qoq,
                    "qoq_label": h.printed_change(qoq),
                    "yoy": yoy,
                    "yoy_label": h.printed_change(yoy),
                }
            )
    quarters = [
        {
            "quarter": qi,
            "quarter_label": quarter_label(qi),
            "shown": stores.get(qi) is not None,
            "note": notes.get(qi, "" if stores.get(qi) is not None else "无数据"),
        }
        for qi in window
    ]
    return {"series": series, "quarters": quarters}
