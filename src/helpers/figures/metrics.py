"""The figures of one issue (docs/contract/METRICS.md), computed with DuckDB.

Each figure is one SQL aggregate over an extract: a *source* is either a DuckDB
relation (the publisher's: `read_parquet` over the validated cache, streamed, never
loaded whole) or a pandas DataFrame of typed rows (unit tests and analysts), which
DuckDB scans in place. The same SQL runs in both cases, so hand-made rows test
exactly the code that publishes. `compute_metrics` assembles every section's
figures and the year-on-year comparisons into one nested dict.

Values are unrounded: counts are Python ints, rates are fractions (float), and a
rate whose denominator is 0 is None. Printing is `helpers.fmt`'s job.
The reasons behind every definition are in docs/kpi.md; the chart tables that
share these formulas are in `helpers.figures.tables`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from helpers.quarter import Quarter

OUTSOURCED = "外包"
LINES = {"general": "综合", "credit_card": "信用卡"}
SATISFIED = ("非常满意", "满意")
ROBOT, VOICE_NAV = "文本机器人", "语音导航"

Source = Any  # a duckdb.DuckDBPyRelation or a pandas DataFrame of typed rows

# --- small shared pieces --------------------------------------------------


def rel(source: Source) -> Any:
    """A source -> a DuckDB relation (a DataFrame is scanned in place, not copied).

    duckdb is imported here, not with the module: section kernels read `get` and
    `LINES` from this module and never compute."""
    import duckdb

    if isinstance(source, duckdb.DuckDBPyRelation):
        return source
    return duckdb.from_df(source)


def lit(text: str) -> str:
    """A Python string -> a SQL string literal (the vocabulary values are Chinese text)."""
    return "'" + str(text).replace("'", "''") + "'"


def count_where(condition: str) -> str:
    """SQL: the number of rows meeting `condition` (NULL counts as not met)."""
    return f"count(*) FILTER (WHERE {condition})"


def select_list(exprs: Mapping[str, str]) -> str:
    """{name: SQL expression} -> `expr AS name, ...` for an aggregate's select list."""
    return ", ".join(f"{e} AS {n}" for n, e in exprs.items())


def one(source: Source, **exprs: str) -> dict[str, Any]:
    """Aggregate a whole source to one row: `one(calls, n="count(*)")` -> {"n": 12}."""
    names = list(exprs)
    row = rel(source).aggregate(select_list(exprs)).fetchall()[0]
    return {name: _py(value) for name, value in zip(names, row, strict=True)}


def grouped(
    source: Source, by: str | None, select: str, groups: str = "", order: str | None = None
) -> dict[Any, list[tuple]]:
    """Aggregate `source` by `groups`, and first by the column `by` when given: one scan
    for every value of `by` (the lines of inbound_calls) instead of one per value.
    -> {value of `by` (None without it): [result rows, in `order`, without that value]}."""
    if by is not None:
        select, groups = f"{by} AS by_value, {select}", ", ".join(g for g in (by, groups) if g)
        order = f"by_value, {order}" if order else None
    relation = rel(source).aggregate(select, groups) if groups else rel(source).aggregate(select)
    out: dict[Any, list[tuple]] = {}
    for row in (relation.order(order) if order else relation).fetchall():
        key, rest = (row[0], row[1:]) if by is not None else (None, row)
        out.setdefault(key, []).append(rest)
    return out


def _py(value: Any) -> Any:
    """DuckDB's HUGEINT sums and Decimals -> plain Python numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """numerator / denominator as a float; None when the denominator is 0 (nothing to rate)."""
    if not denominator:
        return None
    return float(numerator) / float(denominator)


def relative_change(this: int | None, prior: int | None) -> float | None:
    """(this - prior) / prior; None when either is missing or the prior is 0."""
    if this is None or prior is None or prior == 0:
        return None
    return (int(this) - int(prior)) / int(prior)


def absolute_change(this: int | None, prior: int | None) -> int | None:
    """this - prior for counts; None when either is missing."""
    if this is None or prior is None:
        return None
    return int(this) - int(prior)


def rate_change(this: float | None, prior: float | None) -> float | None:
    """this - prior for rates (a fraction: 0.0334 is 3.34 points); None when either is None."""
    if this is None or prior is None:
        return None
    return float(this) - float(prior)


# --- the shared formulas (figures and chart tables both use these) ----------------


def threshold_ns(service_level_seconds: float) -> int:
    """T seconds -> nanoseconds, exactly (20.5 -> 20_500_000_000; no float noise)."""
    return int(Decimal(repr(float(service_level_seconds))) * 1_000_000_000)


def within_target_sql(service_level_seconds: float) -> str:
    """SQL condition: answered with answered_at - requested_at <= T, compared exactly in
    nanoseconds (so 20.5 s misses a 20 s target). Abandoned requests are never within."""
    return (
        "answered_at IS NOT NULL AND "
        f"epoch_ns(answered_at) - epoch_ns(requested_at) <= {threshold_ns(service_level_seconds)}"
    )


ANSWERED_SQL = "count(answered_at)"
RESOLVED_SQL = "count(*) FILTER (WHERE NOT transferred)"


def answer_sql(service_level_seconds: float) -> dict[str, str]:
    """The aggregates behind requests / answered / service level, for one() or a GROUP BY."""
    return {
        "requests": "count(*)",
        "answered": ANSWERED_SQL,
        "within": f"count(*) FILTER (WHERE {within_target_sql(service_level_seconds)})",
    }


def answer_rates(counts: Mapping[str, int]) -> dict[str, Any]:
    """{requests, answered, within} counts -> requests, answered, answer_rate, service_level.

    The service level counts every request (abandoned ones too) in its denominator."""
    return {
        "requests": int(counts["requests"]),
        "answered": int(counts["answered"]),
        "answer_rate": ratio(counts["answered"], counts["requests"]),
        "service_level": ratio(counts["within"], counts["requests"]),
    }


# --- inbound calls and online chats -----------------------------------------


def answer_figures(requests: Source, service_level_seconds: float = 20) -> dict[str, Any]:
    """Request rows of one queue -> requests, answered, answer_rate, service_level.

    Needs the columns requested_at and answered_at only.
    """
    return answer_rates(one(requests, **answer_sql(service_level_seconds)))


OUTSOURCED_SQL = f"count(*) FILTER (WHERE answered_at IS NOT NULL AND agent_type = {lit(OUTSOURCED)})"


def outsourcing_rates(counts: Mapping[str, int]) -> dict[str, Any]:
    """{answered, outsourced} counts -> outsourced_answered, outsourced_share (of answered)."""
    return {
        "outsourced_answered": int(counts["outsourced"]),
        "outsourced_share": ratio(counts["outsourced"], counts["answered"]),
    }


def outsourcing_figures(requests: Source) -> dict[str, Any]:
    """Request rows of one queue -> outsourced_answered (answered by agent_type 外包) and
    outsourced_share (of the answered rows)."""
    return outsourcing_rates(one(requests, answered=ANSWERED_SQL, outsourced=OUTSOURCED_SQL))


def line_sql(service_level_seconds: float = 20) -> dict[str, str]:
    """The aggregates behind line_figures (answer_sql plus the outsourced count)."""
    return {**answer_sql(service_level_seconds), "outsourced": OUTSOURCED_SQL}


def line_rates(counts: Mapping[str, int]) -> dict[str, Any]:
    """line_sql's counts -> answer_rates + outsourcing_rates."""
    return {**answer_rates(counts), **outsourcing_rates(counts)}


def line_figures(calls: Source, service_level_seconds: float = 20) -> dict[str, Any]:
    """inbound_calls rows of one line -> answer_figures + outsourcing_figures, in one scan."""
    return line_rates(one(calls, **line_sql(service_level_seconds)))


def inbound_figures(inbound_calls: Source, service_level_seconds: float = 20) -> dict[str, dict[str, Any]]:
    """inbound_calls -> {"general": line_figures of line 综合, "credit_card": of line 信用卡},
    both lines in one scan (grouped by line; a line without calls counts zeros)."""
    sql = line_sql(service_level_seconds)
    found = {
        line: dict(zip(sql, row, strict=True))
        for line, [row] in grouped(inbound_calls, "line", select_list(sql)).items()
    }
    return {name: line_rates(found.get(line, dict.fromkeys(sql, 0))) for name, line in LINES.items()}


def survey_figures(surveys: Source, channel: str) -> dict[str, Any]:
    """surveys -> for one channel (语音 / 在线 / 视频): responses, very_satisfied_rate,
    satisfied_rate ((非常满意 + 满意) / responses, the 综合满意度)."""
    counts = one(
        rel(surveys).filter(f"channel = {lit(channel)}"),
        responses="count(*)",
        very=f"count(*) FILTER (WHERE rating = {lit(SATISFIED[0])})",
        satisfied=f"count(*) FILTER (WHERE rating IN ({', '.join(map(lit, SATISFIED))}))",
    )
    return {
        "responses": counts["responses"],
        "very_satisfied_rate": ratio(counts["very"], counts["responses"]),
        "satisfied_rate": ratio(counts["satisfied"], counts["responses"]),
    }


def online_figures(
    online_chats: Source, surveys: Source, service_level_seconds: float = 20
) -> dict[str, Any]:
    """online_chats + surveys -> requests, answered, answer_rate, service_level, satisfaction
    (surveys with channel 在线)."""
    return {
        **answer_figures(online_chats, service_level_seconds),
        "satisfaction": survey_figures(surveys, "在线")["satisfied_rate"],
    }


def satisfaction_figures(surveys: Source) -> dict[str, Any]:
    """surveys -> hotline (channel 语音) responses, very_satisfied_rate, satisfied_rate."""
    return survey_figures(surveys, "语音")


# --- outbound, smart service ----------------------------------------------


def outbound_figures(outbound_calls: Source) -> dict[str, Any]:
    """outbound_calls -> services (distinct), calls (rows), connect_rate (connected / calls)."""
    counts = one(
        outbound_calls,
        services="count(DISTINCT service)",
        calls="count(*)",
        connected="count(*) FILTER (WHERE connected)",
    )
    return {
        "services": counts["services"],
        "calls": counts["calls"],
        "connect_rate": ratio(counts["connected"], counts["calls"]),
    }


def diversion_rate(resolved: int, inbound_requests: int, online_requests: int) -> float | None:
    """resolved / (resolved + inbound requests + online requests): of everything customers
    asked, the share settled by the machine (the 智能服务分流率)."""
    return ratio(resolved, resolved + inbound_requests + online_requests)


def smart_figures(smart_sessions: Source, inbound_calls: Source, online_chats: Source) -> dict[str, Any]:
    """smart_sessions (+ the human-agent request tables) -> sessions, resolved, diversion_rate.

    resolved = sessions not transferred; diversion_rate as `diversion_rate`.
    """
    counts = one(smart_sessions, sessions="count(*)", resolved=RESOLVED_SQL)
    inbound = one(inbound_calls, n="count(*)")["n"]
    online = one(online_chats, n="count(*)")["n"]
    return {
        "sessions": counts["sessions"],
        "resolved": counts["resolved"],
        "diversion_rate": diversion_rate(counts["resolved"], inbound, online),
    }


def robot_figures(smart_sessions: Source) -> dict[str, Any]:
    """smart_sessions -> text-chatbot (文本机器人) sessions, standard_answer_rate
    (Σ standard_answers / Σ questions), text_diversion_rate (share not transferred)."""
    counts = one(
        rel(smart_sessions).filter(f"channel = {lit(ROBOT)}"),
        sessions="count(*)",
        resolved=RESOLVED_SQL,
        standard="coalesce(sum(standard_answers), 0)",
        questions="coalesce(sum(questions), 0)",
    )
    return {
        "sessions": counts["sessions"],
        "standard_answer_rate": ratio(counts["standard"], counts["questions"]),
        "text_diversion_rate": ratio(counts["resolved"], counts["sessions"]),
    }


def voice_nav_figures(smart_sessions: Source) -> dict[str, Any]:
    """smart_sessions -> voice-navigation (语音导航) sessions and recognition_rate
    (share of those sessions recognized)."""
    counts = one(
        rel(smart_sessions).filter(f"channel = {lit(VOICE_NAV)}"),
        sessions="count(*)",
        recognized="count(*) FILTER (WHERE recognized)",
    )
    return {
        "sessions": counts["sessions"],
        "recognition_rate": ratio(counts["recognized"], counts["sessions"]),
    }


# --- video ----------------------------------------------------------------


def business_mix(video_sessions: Source) -> list[dict[str, Any]]:
    """video_sessions -> [{"type", "count", "share"}] per business type.

    Only rows with a business_type count (share = count / those rows). Sorted by
    count descending, ties by type in Unicode code-point order (Python's str order).
    """
    counted = (
        rel(video_sessions)
        .filter("business_type IS NOT NULL AND business_type <> ''")
        .aggregate("business_type, count(*) AS n", "business_type")
        .fetchall()
    )
    total = sum(n for _, n in counted)
    return [
        {"type": str(kind), "count": int(n), "share": n / total}
        for kind, n in sorted(counted, key=lambda row: (-row[1], row[0]))
    ]


def video_figures(video_sessions: Source, surveys: Source) -> dict[str, Any]:
    """video_sessions + surveys -> sessions, satisfaction (channel 视频), business
    (list of {"type", "count", "share"} from business_mix)."""
    return {
        "sessions": one(video_sessions, n="count(*)")["n"],
        "satisfaction": survey_figures(surveys, "视频")["satisfied_rate"],
        "business": business_mix(video_sessions),
    }


# --- sms, feedback, tickets, knowledge base, training ------------------------


def sms_figures(sms_batches: Source) -> dict[str, Any]:
    """sms_batches -> services (distinct service), recipients (Σ recipients)."""
    return one(sms_batches, services="count(DISTINCT service)", recipients="coalesce(sum(recipients), 0)")


def feedback_figures(feedback: Source) -> dict[str, Any]:
    """feedback -> items (rows), optimized (已优化), planned (列入计划), pending (待反馈)."""
    return one(
        feedback,
        items="count(*)",
        optimized=f"count(*) FILTER (WHERE status = {lit('已优化')})",
        planned=f"count(*) FILTER (WHERE status = {lit('列入计划')})",
        pending=f"count(*) FILTER (WHERE status = {lit('待反馈')})",
    )


COMPLAINT = "投诉"
BRANCH, HQ = "分支行", "总行部室"
# The ticket conditions, shared with the complaint tables of helpers.figures.tables.
COMPLAINT_RECEIVED_SQL = f"request_type = {lit(COMPLAINT)}"
COMPLAINT_TICKET_SQL = f"ticket_type = {lit(COMPLAINT)}"


def ticket_figures(tickets: Source) -> dict[str, Any]:
    """tickets -> total, complaints_received (request_type 投诉), complaints_converted
    (request_type 投诉, ticket_type not 投诉), complaint_tickets (ticket_type 投诉),
    branch_complaint_tickets / hq_complaint_tickets (complaint tickets routed to 分支行 /
    总行部室)."""
    return one(
        tickets,
        total="count(*)",
        complaints_received=count_where(COMPLAINT_RECEIVED_SQL),
        complaints_converted=count_where(f"{COMPLAINT_RECEIVED_SQL} AND NOT {COMPLAINT_TICKET_SQL}"),
        complaint_tickets=count_where(COMPLAINT_TICKET_SQL),
        branch_complaint_tickets=count_where(f"{COMPLAINT_TICKET_SQL} AND routed_to = {lit(BRANCH)}"),
        hq_complaint_tickets=count_where(f"{COMPLAINT_TICKET_SQL} AND routed_to = {lit(HQ)}"),
    )


REVIEWED, POINT_ACTIONS = "梳理优化", ("新增", "优化")
POINT_ACTIONS_SQL = f"action IN ({', '.join(map(lit, POINT_ACTIONS))})"


def knowledge_base_figures(kb_changes: Source) -> dict[str, Any]:
    """kb_changes -> items (rows), sections_reviewed (distinct section with action 梳理优化),
    knowledge_points (Σ knowledge_points with action 新增 or 优化)."""
    return one(
        kb_changes,
        items="count(*)",
        sections_reviewed=f"count(DISTINCT section) FILTER (WHERE action = {lit(REVIEWED)})",
        knowledge_points=f"coalesce(sum(knowledge_points) FILTER (WHERE {POINT_ACTIONS_SQL}), 0)",
    )


def exact_hours(source: Source) -> float:
    """Σ hours, correctly rounded whatever the row order (math.fsum over the column)."""
    return math.fsum(float(h) for (h,) in rel(source).project("hours").fetchall())


def training_figures(training: Source) -> dict[str, Any]:
    """training -> sessions (distinct session_id), attendances (rows), hours (Σ hours),
    hours_per_capita (hours / distinct staff_id; None without staff)."""
    counts = one(
        training,
        sessions="count(DISTINCT session_id)",
        attendances="count(*)",
        staff="count(DISTINCT staff_id)",
    )
    total_hours = exact_hours(training)
    return {
        "sessions": counts["sessions"],
        "attendances": counts["attendances"],
        "hours": total_hours,
        "hours_per_capita": ratio(total_hours, counts["staff"]),
    }


# --- awards ---------------------------------------------------------------


def award_runs(awards: Source) -> list[dict[str, Any]]:
    """awards -> one dict per run: category, months (calendar month numbers), winner,
    leader (None when empty).

    A run is consecutive months with the same winner of a category; [1, 3] stays two
    runs. Ordered by the category's first appearance in the table, then first month
    (then row order). A run's leader is the leader of its first month.
    """
    rows = rel(awards).project("month(month) AS m, category, winner, leader").fetchall()
    rank: dict[str, int] = {}
    for _, category, _, _ in rows:
        rank.setdefault(category, len(rank))
    ordered = sorted(
        ((rank[c], w, int(m), i, c, leader) for i, (m, c, w, leader) in enumerate(rows)),
        key=lambda r: r[:3],
    )
    runs: list[dict[str, Any]] = []
    previous = None
    for cat_rank, winner, month, row, category, leader in ordered:
        if previous is None or previous[:2] != (cat_rank, winner) or month - previous[2] != 1:
            runs.append(
                {
                    "category": category,
                    "months": [],
                    "winner": winner,
                    "leader": leader or None,
                    "_key": (cat_rank, month, row),
                }
            )
        runs[-1]["months"].append(month)
        previous = (cat_rank, winner, month)
    runs.sort(key=lambda r: r["_key"])
    return [{k: v for k, v in r.items() if k != "_key"} for r in runs]


def awards_figures(awards: Source) -> list[dict[str, Any]]:
    """awards -> list of {"category", "months", "winner", "leader" (None when empty)}."""
    return [
        {
            "category": str(r["category"]),
            "months": [int(m) for m in r["months"]],
            "winner": str(r["winner"]),
            "leader": None if r["leader"] in (None, "") else str(r["leader"]),
        }
        for r in award_runs(awards)
    ]


# --- assembling a quarter -------------------------------------------------

Tables = Mapping[str, Source]

# section -> (extracts it needs, how to compute it from them and T)
SECTIONS: dict[str, tuple[tuple[str, ...], Callable[[Tables, float], Any]]] = {
    "inbound": (("inbound_calls",), lambda t, s: inbound_figures(t["inbound_calls"], s)),
    "online": (
        ("online_chats", "surveys"),
        lambda t, s: online_figures(t["online_chats"], t["surveys"], s),
    ),
    "satisfaction": (("surveys",), lambda t, s: satisfaction_figures(t["surveys"])),
    "outbound": (("outbound_calls",), lambda t, s: outbound_figures(t["outbound_calls"])),
    "smart": (
        ("smart_sessions", "inbound_calls", "online_chats"),
        lambda t, s: smart_figures(t["smart_sessions"], t["inbound_calls"], t["online_chats"]),
    ),
    "robot": (("smart_sessions",), lambda t, s: robot_figures(t["smart_sessions"])),
    "voice_nav": (("smart_sessions",), lambda t, s: voice_nav_figures(t["smart_sessions"])),
    "video": (
        ("video_sessions", "surveys"),
        lambda t, s: video_figures(t["video_sessions"], t["surveys"]),
    ),
    "sms": (("sms_batches",), lambda t, s: sms_figures(t["sms_batches"])),
    "feedback": (("feedback",), lambda t, s: feedback_figures(t["feedback"])),
    "tickets": (("tickets",), lambda t, s: ticket_figures(t["tickets"])),
    "knowledge_base": (("kb_changes",), lambda t, s: knowledge_base_figures(t["kb_changes"])),
    "training": (("training",), lambda t, s: training_figures(t["training"])),
    "awards": (("awards",), lambda t, s: awards_figures(t["awards"])),
}

# figure compared with the prior year -> the comparisons it gets
# (yoy: `<key>_yoy`, change: `<key>_change`, pp: `<key>_change_pp`)
COMPARISONS: dict[str, tuple[str, ...]] = {
    "inbound.general.requests": ("yoy",),
    "inbound.credit_card.requests": ("yoy",),
    "online.requests": ("yoy",),
    "outbound.calls": ("yoy",),
    "smart.sessions": ("yoy",),
    "smart.diversion_rate": ("pp",),
    "robot.sessions": ("yoy",),
    "tickets.total": ("yoy",),
    "tickets.complaint_tickets": ("change", "yoy"),
    "tickets.branch_complaint_tickets": ("change", "yoy"),
    "tickets.hq_complaint_tickets": ("change", "yoy"),
    "training.sessions": ("yoy",),
}


def section_figures(tables: Tables, service_level_seconds: float = 20) -> dict[str, Any]:
    """Typed tables of one quarter -> {section: figures} for every section whose
    extracts are all in `tables` (sections missing an extract are left out)."""
    return {
        name: compute(tables, service_level_seconds)
        for name, (needs, compute) in SECTIONS.items()
        if all(n in tables for n in needs)
    }


SUFFIXES = {"yoy": "_yoy", "change": "_change", "pp": "_change_pp"}


def comparisons(base: str, this: Any, prior_figures: Mapping[str, Any] | None) -> dict[str, Any]:
    """One figure compared with the prior year -> {`<base>_yoy` / `_change` / `_change_pp`: value}.

    `prior_figures` is the prior quarter's flat figures, or None when it has no extracts
    (then every comparison is None). Figures not in COMPARISONS get none.
    """
    before = None if prior_figures is None else prior_figures.get(base)
    compute = {"yoy": relative_change, "change": absolute_change, "pp": rate_change}
    return {f"{base}{SUFFIXES[kind]}": compute[kind](this, before) for kind in COMPARISONS.get(base, ())}


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def compute_metrics(
    quarter: str,
    tables: Tables,
    prior: Tables | None,
    *,
    service_level_seconds: float = 20,
    prior_metrics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A quarter's typed tables (and the year-earlier quarter's, or None) -> the nested
    metrics dict of docs/contract/METRICS.md.

    `{"quarter": "2022Q1", "prior_quarter": "2021Q1" or None, "inbound": {"general":
    {"requests": ..., "requests_yoy": ...}, ...}, ..., "awards": [...]}`. Every
    comparison is None when `prior` is None; a `*_yoy` is None when the prior count is 0.

    A section whose extracts are not all in `tables` is left out (the validator
    guarantees every extract of a published quarter, so this only serves callers that
    want one section); likewise a prior quarter missing an extract gives None comparisons.
    `prior_metrics` (the prior quarter's own nested figures, as the store keeps them) may
    stand in for `prior`, so the prior year is computed once.
    """
    if prior_metrics is not None:
        prior_figures: dict[str, Any] | None = flatten(prior_metrics)
    else:
        prior_figures = None if prior is None else flatten(section_figures(prior, service_level_seconds))
    return compare(quarter, flatten(section_figures(tables, service_level_seconds)), prior_figures)


def compare(
    quarter: str, figures: Mapping[str, Any], prior_figures: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A quarter's flat figures + the prior year's flat figures (or None) -> the nested
    metrics dict, each comparison next to the figure it compares (see compute_metrics)."""
    q = Quarter.parse(quarter)
    flat: dict[str, Any] = {
        "quarter": str(q),
        "prior_quarter": None if prior_figures is None else str(q.prior_year()),
    }
    for key, value in figures.items():
        flat[key] = value
        # next to the figure it compares: requests, requests_yoy, answered, ...
        flat.update(comparisons(key, value, prior_figures))
    return _nest(flat)


# --- reading the result ---------------------------------------------------


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics -> {dotted key: value}: {"inbound.general.requests": 337800, ...}.

    Lists (video.business, awards) are leaves. Dotted keys already present at the
    top level (as in metrics.json) are skipped, their nested twins give them.
    """
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        if not prefix and "." in key:
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def get(metrics: Mapping[str, Any], dotted_key: str) -> Any:
    """A figure by dotted key, from a nested dict or from metrics.json's flat copy.

    Raises KeyError when the key is not there.
    """
    if dotted_key in metrics:
        return metrics[dotted_key]
    node: Any = metrics
    for part in dotted_key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted_key)
        node = node[part]
    return node


def to_json(metrics: Mapping[str, Any]) -> str:
    """Metrics -> the text of metrics.json.

    The nested tree plus, at the top level, every dotted key with the same value
    (`m["inbound"]["general"]["requests"] == m["inbound.general.requests"]`).
    Keys sorted, UTF-8 text (ensure_ascii=False), indent 2, NaN refused: the same
    metrics always give the same bytes.
    """
    tree = {k: v for k, v in metrics.items() if "." not in k}
    document = {**tree, **flatten(tree)}
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False)
    return text + "\n"


def from_json(text: str) -> dict[str, Any]:
    """The text of metrics.json -> the nested metrics dict (the flat copies dropped)."""
    document = json.loads(text)
    return {k: v for k, v in document.items() if "." not in k}
