"""The figures of one issue (docs/contract/METRICS.md), computed from typed tables.

Each bulletin section has small public functions: `DataFrame -> DataFrame` steps
that flag or summarise rows, and `DataFrame -> dict` aggregates that give the
section's figures. Notebooks call the aggregates to show numbers; `compute_metrics`
assembles all of them, plus the year-on-year comparisons, into one nested dict.

Values are unrounded: counts are Python ints, rates are fractions (float), and a
rate whose denominator is 0 is None. Printing is `helpers.fmt`'s job.
The reasons behind every definition are in docs/kpi.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from helpers.quarter import Quarter

OUTSOURCED = "外包"
LINES = {"general": "综合", "credit_card": "信用卡"}
SATISFIED = ("非常满意", "满意")
ROBOT, VOICE_NAV = "文本机器人", "语音导航"


# --- small shared pieces --------------------------------------------------


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """numerator / denominator as a float; None when the denominator is 0 (nothing to rate)."""
    if denominator == 0:
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


def _flag(values: pd.Series) -> pd.Series:
    """A bool-like column (bool, nullable boolean, a comparison with <NA>) -> bool, NA as False."""
    return values.fillna(False).astype(bool)


def _n(flags: pd.Series) -> int:
    return int(_flag(flags).sum())


# --- inbound calls and online chats -----------------------------------------


def flag_answers(requests: pd.DataFrame, service_level_seconds: float = 20) -> pd.DataFrame:
    """inbound_calls / online_chats rows -> the same rows plus bool columns `answered`
    (answered_at present) and `within_target` (answered with answered_at - requested_at
    <= T, compared exactly as Timedelta, so 20.5 s misses a 20 s target)."""
    target = pd.Timedelta(seconds=service_level_seconds)
    answered = requests["answered_at"].notna()
    wait = requests["answered_at"] - requests["requested_at"]
    return requests.assign(answered=answered, within_target=answered & _flag(wait <= target))


def answer_figures(requests: pd.DataFrame, service_level_seconds: float = 20) -> dict[str, Any]:
    """Request rows of one queue -> requests, answered, answer_rate, service_level.

    The service level counts every request (abandoned ones too) in its denominator.
    Needs the columns requested_at and answered_at only.
    """
    flagged = requests.pipe(flag_answers, service_level_seconds)
    n_requests = len(flagged)
    answered = _n(flagged["answered"])
    return {
        "requests": n_requests,
        "answered": answered,
        "answer_rate": ratio(answered, n_requests),
        "service_level": ratio(_n(flagged["within_target"]), n_requests),
    }


def outsourcing_figures(requests: pd.DataFrame) -> dict[str, Any]:
    """Request rows of one queue -> outsourced_answered (answered by agent_type 外包) and
    outsourced_share (of the answered rows)."""
    answered = requests["answered_at"].notna()
    outsourced = _n(answered & _flag(requests["agent_type"].eq(OUTSOURCED)))
    return {
        "outsourced_answered": outsourced,
        "outsourced_share": ratio(outsourced, _n(answered)),
    }


def line_figures(calls: pd.DataFrame, service_level_seconds: float = 20) -> dict[str, Any]:
    """inbound_calls rows of one line -> answer_figures + outsourcing_figures."""
    return {
        **answer_figures(calls, service_level_seconds),
        **outsourcing_figures(calls),
    }


def inbound_figures(
    inbound_calls: pd.DataFrame, service_level_seconds: float = 20
) -> dict[str, dict[str, Any]]:
    """inbound_calls -> {"general": line_figures of line 综合, "credit_card": of line 信用卡}."""
    return {
        name: inbound_calls.loc[_flag(inbound_calls["line"].eq(line))].pipe(
            line_figures, service_level_seconds
        )
        for name, line in LINES.items()
    }


def survey_figures(surveys: pd.DataFrame, channel: str) -> dict[str, Any]:
    """surveys -> for one channel (语音 / 在线 / 视频): responses, very_satisfied_rate,
    satisfied_rate ((非常满意 + 满意) / responses, the 综合满意度)."""
    rated = surveys.loc[_flag(surveys["channel"].eq(channel))]
    responses = len(rated)
    return {
        "responses": responses,
        "very_satisfied_rate": ratio(_n(rated["rating"].eq(SATISFIED[0])), responses),
        "satisfied_rate": ratio(_n(rated["rating"].isin(SATISFIED)), responses),
    }


def online_figures(
    online_chats: pd.DataFrame, surveys: pd.DataFrame, service_level_seconds: float = 20
) -> dict[str, Any]:
    """online_chats + surveys -> requests, answered, answer_rate, service_level, satisfaction
    (surveys with channel 在线)."""
    return {
        **answer_figures(online_chats, service_level_seconds),
        "satisfaction": survey_figures(surveys, "在线")["satisfied_rate"],
    }


def satisfaction_figures(surveys: pd.DataFrame) -> dict[str, Any]:
    """surveys -> hotline (channel 语音) responses, very_satisfied_rate, satisfied_rate."""
    return survey_figures(surveys, "语音")


# --- outbound, smart service ----------------------------------------------


def outbound_figures(outbound_calls: pd.DataFrame) -> dict[str, Any]:
    """outbound_calls -> services (distinct), calls (rows), connect_rate (connected / calls)."""
    calls = len(outbound_calls)
    return {
        "services": int(outbound_calls["service"].nunique()),
        "calls": calls,
        "connect_rate": ratio(_n(outbound_calls["connected"]), calls),
    }


def smart_figures(
    smart_sessions: pd.DataFrame, inbound_calls: pd.DataFrame, online_chats: pd.DataFrame
) -> dict[str, Any]:
    """smart_sessions (+ the human-agent request tables) -> sessions, resolved, diversion_rate.

    resolved = sessions not transferred; diversion_rate = resolved / (resolved +
    inbound_calls rows + online_chats rows): of everything customers asked, the
    share settled by the machine.
    """
    resolved = len(smart_sessions) - _n(smart_sessions["transferred"])
    return {
        "sessions": len(smart_sessions),
        "resolved": resolved,
        "diversion_rate": ratio(resolved, resolved + len(inbound_calls) + len(online_chats)),
    }


def robot_figures(smart_sessions: pd.DataFrame) -> dict[str, Any]:
    """smart_sessions -> text-chatbot (文本机器人) sessions, standard_answer_rate
    (Σ standard_answers / Σ questions), text_diversion_rate (share not transferred)."""
    robot = smart_sessions.loc[_flag(smart_sessions["channel"].eq(ROBOT))]
    sessions = len(robot)
    return {
        "sessions": sessions,
        "standard_answer_rate": ratio(
            int(robot["standard_answers"].sum()), int(robot["questions"].sum())
        ),
        "text_diversion_rate": ratio(sessions - _n(robot["transferred"]), sessions),
    }


def voice_nav_figures(smart_sessions: pd.DataFrame) -> dict[str, Any]:
    """smart_sessions -> voice-navigation (语音导航) sessions and recognition_rate
    (share of those sessions recognized)."""
    voice = smart_sessions.loc[_flag(smart_sessions["channel"].eq(VOICE_NAV))]
    return {
        "sessions": len(voice),
        "recognition_rate": ratio(_n(voice["recognized"]), len(voice)),
    }


# --- video ----------------------------------------------------------------


def business_mix(video_sessions: pd.DataFrame) -> pd.DataFrame:
    """video_sessions -> one row per business type: type, count, share.

    Only rows with a business_type count (share = count / those rows). Sorted by
    count descending, ties by type in Unicode code-point order.
    """
    typed = video_sessions["business_type"].dropna().astype(str)
    typed = typed.loc[typed.ne("")]
    return (
        typed.value_counts()
        .rename_axis("type")
        .reset_index(name="count")
        # object dtype sorts with Python's str comparison: code-point order.
        .assign(type=lambda d: d["type"].astype(object))
        .sort_values(["count", "type"], ascending=[False, True], kind="mergesort")
        .assign(share=lambda d: d["count"] / d["count"].sum())
        .reset_index(drop=True)
    )


def video_figures(video_sessions: pd.DataFrame, surveys: pd.DataFrame) -> dict[str, Any]:
    """video_sessions + surveys -> sessions, satisfaction (channel 视频), business
    (list of {"type", "count", "share"} from business_mix)."""
    return {
        "sessions": len(video_sessions),
        "satisfaction": survey_figures(surveys, "视频")["satisfied_rate"],
        "business": [
            {"type": str(row.type), "count": int(row.count), "share": float(row.share)}
            for row in business_mix(video_sessions).itertuples(index=False)
        ],
    }


# --- sms, feedback, tickets, knowledge base, training ------------------------


def sms_figures(sms_batches: pd.DataFrame) -> dict[str, Any]:
    """sms_batches -> services (distinct service), recipients (Σ recipients)."""
    return {
        "services": int(sms_batches["service"].nunique()),
        "recipients": int(sms_batches["recipients"].sum()),
    }


def feedback_figures(feedback: pd.DataFrame) -> dict[str, Any]:
    """feedback -> items (rows), optimized (已优化), planned (列入计划), pending (待反馈)."""
    status = feedback["status"]
    return {
        "items": len(feedback),
        "optimized": _n(status.eq("已优化")),
        "planned": _n(status.eq("列入计划")),
        "pending": _n(status.eq("待反馈")),
    }


def flag_tickets(tickets: pd.DataFrame) -> pd.DataFrame:
    """tickets -> the same rows plus bool columns complaint_received (request_type 投诉),
    complaint_ticket (ticket_type 投诉), converted (received, ticket other than 投诉),
    branch (complaint ticket routed to 分支行), hq (complaint ticket routed to 总行部室)."""
    return tickets.assign(
        complaint_received=_flag(tickets["request_type"].eq("投诉")),
        complaint_ticket=_flag(tickets["ticket_type"].eq("投诉")),
    ).assign(
        converted=lambda d: d["complaint_received"] & ~d["complaint_ticket"],
        branch=lambda d: d["complaint_ticket"] & _flag(d["routed_to"].eq("分支行")),
        hq=lambda d: d["complaint_ticket"] & _flag(d["routed_to"].eq("总行部室")),
    )


def ticket_figures(tickets: pd.DataFrame) -> dict[str, Any]:
    """tickets -> total, complaints_received, complaints_converted, complaint_tickets,
    branch_complaint_tickets, hq_complaint_tickets (counts)."""
    flagged = tickets.pipe(flag_tickets)
    return {
        "total": len(flagged),
        "complaints_received": _n(flagged["complaint_received"]),
        "complaints_converted": _n(flagged["converted"]),
        "complaint_tickets": _n(flagged["complaint_ticket"]),
        "branch_complaint_tickets": _n(flagged["branch"]),
        "hq_complaint_tickets": _n(flagged["hq"]),
    }


def knowledge_base_figures(kb_changes: pd.DataFrame) -> dict[str, Any]:
    """kb_changes -> items (rows), sections_reviewed (distinct section with action 梳理优化),
    knowledge_points (Σ knowledge_points with action 新增 or 优化)."""
    action = kb_changes["action"]
    return {
        "items": len(kb_changes),
        "sections_reviewed": int(kb_changes.loc[_flag(action.eq("梳理优化")), "section"].nunique()),
        "knowledge_points": int(
            kb_changes.loc[_flag(action.isin(["新增", "优化"])), "knowledge_points"].sum()
        ),
    }


def training_figures(training: pd.DataFrame) -> dict[str, Any]:
    """training -> sessions (distinct session_id), attendances (rows), hours (Σ hours),
    hours_per_capita (hours / distinct staff_id; None without staff)."""
    # fsum: the correctly rounded sum, whatever the row order.
    total_hours = math.fsum(training["hours"].astype(float))
    return {
        "sessions": int(training["session_id"].nunique()),
        "attendances": len(training),
        "hours": total_hours,
        "hours_per_capita": ratio(total_hours, int(training["staff_id"].nunique())),
    }


# --- awards ---------------------------------------------------------------


def award_runs(awards: pd.DataFrame) -> pd.DataFrame:
    """awards -> one row per run: category, months (list of calendar month numbers),
    winner, leader.

    A run is consecutive months with the same winner of a category; [1, 3] stays two
    runs. Ordered by the category's first appearance in the table, then first month
    (then row order). A run's leader is the leader of its first month (<NA> if empty).
    """
    return (
        awards.assign(
            row=range(len(awards)),
            month_no=awards["month"].dt.month.astype(int),
            category_rank=awards.groupby("category", sort=False).ngroup(),
        )
        .sort_values(["category_rank", "winner", "month_no"], kind="mergesort")
        .assign(
            run=lambda d: d.groupby(["category_rank", "winner"])["month_no"]
            .diff()
            .ne(1)
            .cumsum()
        )
        .groupby("run", sort=False)
        .agg(
            category=("category", "first"),
            winner=("winner", "first"),
            months=("month_no", list),
            # not "first": it skips <NA>, and the run's first month decides.
            leader=("leader", lambda s: s.iloc[0]),
            category_rank=("category_rank", "first"),
            first_month=("month_no", "first"),
            first_row=("row", "min"),
        )
        .sort_values(["category_rank", "first_month", "first_row"], kind="mergesort")
        .loc[:, ["category", "months", "winner", "leader"]]
        .reset_index(drop=True)
    )


def _text_or_none(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text if text else None


def awards_figures(awards: pd.DataFrame) -> list[dict[str, Any]]:
    """awards -> list of {"category", "months", "winner", "leader" (None when empty)}."""
    return [
        {
            "category": str(row.category),
            "months": [int(m) for m in row.months],
            "winner": str(row.winner),
            "leader": _text_or_none(row.leader),
        }
        for row in award_runs(awards).itertuples(index=False)
    ]


# --- assembling a quarter -------------------------------------------------

Tables = Mapping[str, pd.DataFrame]

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


def comparisons(
    base: str, this: Any, prior_figures: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One figure compared with the prior year -> {`<base>_yoy` / `_change` / `_change_pp`: value}.

    `prior_figures` is the prior quarter's flat figures, or None when it has no extracts
    (then every comparison is None). Figures not in COMPARISONS get none.
    """
    before = None if prior_figures is None else prior_figures.get(base)
    compute = {"yoy": relative_change, "change": absolute_change, "pp": rate_change}
    return {
        f"{base}{SUFFIXES[kind]}": compute[kind](this, before)
        for kind in COMPARISONS.get(base, ())
    }


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
) -> dict[str, Any]:
    """A quarter's typed tables (and the year-earlier quarter's, or None) -> the nested
    metrics dict of docs/contract/METRICS.md.

    `{"quarter": "2022Q1", "prior_quarter": "2021Q1" or None, "inbound": {"general":
    {"requests": ..., "requests_yoy": ...}, ...}, ..., "awards": [...]}`. Every
    comparison is None when `prior` is None; a `*_yoy` is None when the prior count is 0.

    A section whose extracts are not all in `tables` is left out (the validator
    guarantees every extract of a published quarter, so this only serves callers that
    want one section); likewise a prior quarter missing an extract gives None comparisons.
    """
    q = Quarter.parse(quarter)
    prior_figures = (
        None if prior is None else flatten(section_figures(prior, service_level_seconds))
    )
    flat: dict[str, Any] = {
        "quarter": str(q),
        "prior_quarter": None if prior is None else str(q.prior_year()),
    }
    for key, value in flatten(section_figures(tables, service_level_seconds)).items():
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
