"""Small, pre-aggregated, long-form tables behind the issue's charts.

Every public function takes typed tables (one DataFrame per extract, columns as
in `helpers.schema`, see docs/contract/EXTRACTS.md) and returns a small
DataFrame of counts and rates, one row per (dimension values). Charts embed
these tables, never the extracts: no id column (`call_id`, `session_id`, ...)
and no `staff_id` ever appears in an output (`ROW_LEVEL_COLUMNS` lists them).

Conventions of the outputs (written down in docs/charts.md):
- counts are int64, rates and shares float64 fractions (NaN when the
  denominator is 0);
- dates are datetime64 at midnight, months datetime64 at the 1st;
- dimensions with a vocabulary order (weekday, rating, wait bin, complaint
  stage) are ordered Categoricals; lines and channels are strings whose rows
  follow the schema order; other text sorts by Unicode code point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from helpers import fmt
from helpers.data.schema import (
    FEEDBACK_STATUSES,
    FILES,
    KB_ACTIONS,
    LINES,
    RATINGS,
    SMART_CHANNELS,
    SURVEY_CHANNELS,
)
from helpers.quarter import Quarter

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
SMART_OUTCOMES = ("自助解决", "转人工")
COMPLAINT_STAGES = (
    # (metrics key under `tickets.`, label shown in the chart)
    ("complaints_received", "受理投诉"),
    ("complaints_converted", "安抚后转为其他工单"),
    ("complaint_tickets", "投诉工单"),
    ("branch_complaint_tickets", "转分支行"),
    ("hq_complaint_tickets", "转总行部室"),
)

# Columns that identify one record or one person. They may be counted but
# never shown, so no aggregate (and no chart) may carry them.
ROW_LEVEL_COLUMNS = frozenset(
    {c.name for spec in FILES.values() for c in spec.columns if c.name.endswith("_id")}
    | {"staff_id"}
)


# ---------------------------------------------------------------- internals


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as float64, NaN where the denominator is 0."""
    return (numerator / denominator.where(denominator > 0)).astype("float64")


def _wait_seconds(frame: pd.DataFrame) -> pd.Series:
    """Seconds from request to answer; NaN for requests never answered."""
    return (frame["answered_at"] - frame["requested_at"]).dt.total_seconds()


def _month_start(moments: pd.Series) -> pd.Series:
    """First day of each value's month at midnight, keeping the datetime unit."""
    days = moments.dt.normalize()
    return days - pd.to_timedelta(days.dt.day - 1, unit="D")


def _rank(order: Sequence[str]):
    """A sort key mapping vocabulary values to their position in `order`."""
    positions = {value: i for i, value in enumerate(order)}
    return lambda values: values.map(positions)


def _present(order: Sequence[str], values: pd.Series) -> list[str]:
    """The vocabulary values that occur in `values`, in vocabulary order."""
    seen = set(values.dropna())
    return [value for value in order if value in seen]


def _ordered(values: Iterable[str], order: Sequence[str]) -> pd.Categorical:
    return pd.Categorical(list(values), categories=list(order), ordered=True)


def _text(values: Iterable[Any]) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def _requests_by_day(requests: pd.DataFrame, keys: list[str], threshold_s: float) -> pd.DataFrame:
    """Request rows -> one row per (date, *keys): requests, answered, within_threshold."""
    return (
        requests.assign(
            date=lambda d: d["requested_at"].dt.normalize(),
            is_answered=lambda d: d["answered_at"].notna(),
            # NaN (never answered) compares False: abandoned calls count against
            # the service level.
            is_within=lambda d: _wait_seconds(d) <= threshold_s,
        )
        .groupby(["date", *keys], sort=True, observed=True)
        .agg(
            requests=("is_answered", "size"),
            answered=("is_answered", "sum"),
            within_threshold=("is_within", "sum"),
        )
        .reset_index()
        .astype({"requests": "int64", "answered": "int64", "within_threshold": "int64"})
    )


# ---------------------------------------------------------------- inbound


def daily_inbound(inbound_calls: pd.DataFrame, threshold_s: float = 20) -> pd.DataFrame:
    """Typed inbound_calls -> one row per (date, line) that had requests.

    Columns: date (datetime64, midnight), line (string, `综合` before `信用卡`),
    requests, answered, answer_rate (answered / requests), service_level
    (requests answered within `threshold_s` seconds, inclusive, / requests;
    abandoned requests count in the denominator, as METRICS.md defines it).
    Days on which a line had no request have no row. Sorted by date, line.
    """
    return (
        _requests_by_day(inbound_calls, ["line"], threshold_s)
        .assign(
            answer_rate=lambda d: _rate(d["answered"], d["requests"]),
            service_level=lambda d: _rate(d["within_threshold"], d["requests"]),
            line=lambda d: d["line"].astype("string"),
        )
        .sort_values(
            ["date", "line"],
            key=lambda s: _rank(LINES)(s) if s.name == "line" else s,
            kind="stable",
        )
        .reset_index(drop=True)
        .loc[:, ["date", "line", "requests", "answered", "answer_rate", "service_level"]]
    )


def _quarter_days(moments: pd.Series) -> pd.DatetimeIndex:
    """Every calendar day of the quarters spanned by `moments` (empty if none)."""
    if moments.empty:
        return pd.DatetimeIndex([])
    first, last = moments.min(), moments.max()
    start = Quarter(first.year, (first.month - 1) // 3 + 1).start
    end = Quarter(last.year, (last.month - 1) // 3 + 1).end
    return pd.date_range(start, end, freq="D", inclusive="left")


def arrival_heatmap(inbound_calls: pd.DataFrame) -> pd.DataFrame:
    """Typed inbound_calls -> the 7 × 24 grid of when requests arrive.

    Columns: weekday (ordered Categorical 周一..周日), hour (0-23, of
    requested_at), requests (total over the quarter), days (how many of that
    weekday the quarter has, counting days without any request),
    mean_requests (requests / days: the average day, which is what the chart
    colours — quarters hold 12 to 14 of each weekday, so totals would be
    skewed). Every cell is present (0 when no request). Sorted by weekday, hour.
    """
    days = pd.Series(_quarter_days(inbound_calls["requested_at"])).dt.day_of_week
    days_per_weekday = days.value_counts().reindex(range(7), fill_value=0)
    grid = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday_num", "hour"])
    return (
        inbound_calls.assign(
            weekday_num=lambda d: d["requested_at"].dt.day_of_week,
            hour=lambda d: d["requested_at"].dt.hour,
        )
        .groupby(["weekday_num", "hour"])
        .size()
        .reindex(grid, fill_value=0)
        .rename("requests")
        .reset_index()
        .assign(
            weekday=lambda d: _ordered(d["weekday_num"].map(dict(enumerate(WEEKDAYS))), WEEKDAYS),
            hour=lambda d: d["hour"].astype("int64"),
            requests=lambda d: d["requests"].astype("int64"),
            days=lambda d: d["weekday_num"].map(days_per_weekday).astype("int64"),
            mean_requests=lambda d: _rate(d["requests"], d["days"]),
        )
        .loc[:, ["weekday", "hour", "requests", "days", "mean_requests"]]
    )


def wait_bin_edges(threshold_s: float = 20, step_s: float = 5, max_s: float = 60) -> list[float]:
    """Edges of the wait-time bins: every `step_s` up to `max_s`, plus the threshold.

    The threshold is always an edge, so each bin lies wholly within or wholly
    beyond it; `max_s` is raised to the threshold when the threshold is larger.
    """
    top = max(max_s, threshold_s)
    steps = int(math.floor(top / step_s))
    return sorted({*(i * step_s for i in range(steps + 1)), float(threshold_s), float(top)})


def _bin_label(start: float, end: float) -> str:
    return f"{start:g}+" if math.isinf(end) else f"{start:g}-{end:g}"


def wait_distribution(
    inbound_calls: pd.DataFrame,
    threshold_s: float = 20,
    step_s: float = 5,
    max_s: float = 60,
) -> pd.DataFrame:
    """Typed inbound_calls -> how long answered requests waited, per line.

    Bins are right-closed, (5, 10] labelled `5-10`, the first one [0, 5],
    the last open (`60+`), with edges from `wait_bin_edges` so the threshold
    is an edge. Right-closed bins match the service level's `wait <= T`: the
    shares of the bins with `within_threshold` add up to service-level
    numerator / answered.

    Columns: line (string, lines with answered requests, schema order), bin
    (ordered Categorical of labels), bin_start, bin_end (seconds, float;
    bin_end NaN for the open bin), calls, share (calls / answered requests
    of the line), within_threshold (bool: bin_end <= threshold_s).
    Every bin is present for each line. Sorted by line, bin.
    """
    edges = wait_bin_edges(threshold_s, step_s, max_s)
    bounds = list(zip(edges, [*edges[1:], math.inf], strict=True))
    labels = [_bin_label(start, end) for start, end in bounds]
    starts = {label: start for label, (start, _) in zip(labels, bounds, strict=True)}
    ends = {label: end for label, (_, end) in zip(labels, bounds, strict=True)}
    answered = inbound_calls.loc[inbound_calls["answered_at"].notna()]
    lines = _present(LINES, answered["line"])
    grid = pd.MultiIndex.from_product([lines, labels], names=["line", "bin"])
    return (
        answered.assign(
            bin=lambda d: pd.cut(
                _wait_seconds(d), bins=[*edges, math.inf], right=True,
                include_lowest=True, labels=labels,
            ).astype("object"),
        )
        .groupby(["line", "bin"])
        .size()
        .reindex(grid, fill_value=0)
        .rename("calls")
        .reset_index()
        .assign(
            line=lambda d: d["line"].astype("string"),
            bin_start=lambda d: d["bin"].map(starts),
            bin_end=lambda d: d["bin"].map(ends).replace(math.inf, math.nan),
            bin=lambda d: _ordered(d["bin"], labels),
            calls=lambda d: d["calls"].astype("int64"),
            share=lambda d: _rate(d["calls"], d.groupby("line")["calls"].transform("sum")),
            within_threshold=lambda d: (d["bin_end"] <= threshold_s).astype("bool"),
        )
        .astype({"bin_start": "float64", "bin_end": "float64"})
        .loc[:, ["line", "bin", "bin_start", "bin_end", "calls", "share", "within_threshold"]]
    )


# ---------------------------------------------------------------- online


def daily_online(online_chats: pd.DataFrame, threshold_s: float = 20) -> pd.DataFrame:
    """Typed online_chats -> one row per date that had requests.

    Columns: date (datetime64, midnight), requests, answered, answer_rate,
    service_level (as `daily_inbound`, without the line). Sorted by date.
    """
    return (
        _requests_by_day(online_chats, [], threshold_s)
        .assign(
            answer_rate=lambda d: _rate(d["answered"], d["requests"]),
            service_level=lambda d: _rate(d["within_threshold"], d["requests"]),
        )
        .loc[:, ["date", "requests", "answered", "answer_rate", "service_level"]]
    )


# ---------------------------------------------------------------- surveys


def satisfaction_by_rating(surveys: pd.DataFrame) -> pd.DataFrame:
    """Typed surveys -> the spread of ratings per survey channel.

    Columns: channel (string; channels with responses, schema order
    语音, 在线, 视频), rating (ordered Categorical in schema order 非常满意 ..
    非常不满意; all five per channel, count 0 when unused), count, share
    (count / the channel's responses). Sorted by channel, rating.
    """
    channels = _present(SURVEY_CHANNELS, surveys["channel"])
    grid = pd.MultiIndex.from_product([channels, RATINGS], names=["channel", "rating"])
    return (
        surveys.groupby(["channel", "rating"])
        .size()
        .reindex(grid, fill_value=0)
        .rename("count")
        .reset_index()
        .assign(
            channel=lambda d: d["channel"].astype("string"),
            rating=lambda d: _ordered(d["rating"], RATINGS),
            count=lambda d: d["count"].astype("int64"),
            share=lambda d: _rate(d["count"], d.groupby("channel")["count"].transform("sum")),
        )
    )


# ---------------------------------------------------------------- outbound


def outbound_by_service(outbound_calls: pd.DataFrame) -> pd.DataFrame:
    """Typed outbound_calls -> one row per outbound service.

    Columns: service (string), calls, connected, connect_rate (connected /
    calls). Sorted by calls descending, ties by service in code-point order.
    """
    return (
        outbound_calls.groupby("service")
        .agg(calls=("connected", "size"), connected=("connected", "sum"))
        .reset_index()
        .astype({"service": "string", "calls": "int64", "connected": "int64"})
        .assign(connect_rate=lambda d: _rate(d["connected"], d["calls"]))
        .sort_values(["calls", "service"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


def sms_by_service(sms_batches: pd.DataFrame) -> pd.DataFrame:
    """Typed sms_batches -> one row per SMS service.

    Columns: service (string), batches (rows), recipients (Σ recipients).
    Sorted by recipients descending, ties by service in code-point order.
    """
    return (
        sms_batches.groupby("service")
        .agg(batches=("recipients", "size"), recipients=("recipients", "sum"))
        .reset_index()
        .astype({"service": "string", "batches": "int64", "recipients": "int64"})
        .sort_values(["recipients", "service"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


# ---------------------------------------------------------------- smart service


def smart_composition(smart_sessions: pd.DataFrame) -> pd.DataFrame:
    """Typed smart_sessions -> sessions per channel, resolved vs handed to an agent.

    Columns: channel (string; channels with sessions, schema order),
    outcome (`自助解决` = not transferred, METRICS.md's "resolved";
    `转人工` = transferred), sessions, share (of the channel's sessions).
    Both outcomes are present for every channel. Sorted by channel, outcome.
    """
    channels = _present(SMART_CHANNELS, smart_sessions["channel"])
    grid = pd.MultiIndex.from_product([channels, SMART_OUTCOMES], names=["channel", "outcome"])
    return (
        smart_sessions.assign(
            outcome=lambda d: d["transferred"].map({False: SMART_OUTCOMES[0], True: SMART_OUTCOMES[1]})
        )
        .groupby(["channel", "outcome"])
        .size()
        .reindex(grid, fill_value=0)
        .rename("sessions")
        .reset_index()
        .assign(
            channel=lambda d: d["channel"].astype("string"),
            outcome=lambda d: d["outcome"].astype("string"),
            sessions=lambda d: d["sessions"].astype("int64"),
            share=lambda d: _rate(d["sessions"], d.groupby("channel")["sessions"].transform("sum")),
        )
    )


def _monthly_count(table: pd.DataFrame, column: str, name: str) -> pd.Series:
    return table.groupby(_month_start(table[column]).rename("month")).size().rename(name)


def monthly_diversion(
    smart_sessions: pd.DataFrame, inbound_calls: pd.DataFrame, online_chats: pd.DataFrame
) -> pd.DataFrame:
    """Typed smart_sessions, inbound_calls, online_chats -> 智能服务分流率 per month.

    Columns: month (datetime64, the 1st), sessions (smart sessions), resolved
    (smart sessions not transferred), inbound_requests, online_requests,
    diversion_rate = resolved / (resolved + inbound_requests +
    online_requests), METRICS.md's `smart.diversion_rate` restricted to the
    month (NaN when that sum is 0). One row per month seen in any table,
    sorted by month.
    """
    resolved = smart_sessions.loc[~smart_sessions["transferred"].astype("bool")]
    return (
        pd.concat(
            [
                _monthly_count(smart_sessions, "started_at", "sessions"),
                _monthly_count(resolved, "started_at", "resolved"),
                _monthly_count(inbound_calls, "requested_at", "inbound_requests"),
                _monthly_count(online_chats, "requested_at", "online_requests"),
            ],
            axis=1,
        )
        .fillna(0)
        .astype("int64")
        .sort_index()
        .rename_axis("month")
        .reset_index()
        .assign(
            diversion_rate=lambda d: _rate(
                d["resolved"], d["resolved"] + d["inbound_requests"] + d["online_requests"]
            )
        )
    )


# ---------------------------------------------------------------- video


def video_business(video_sessions: pd.DataFrame) -> pd.DataFrame:
    """Typed video_sessions -> sessions per business type (METRICS.md `video.business`).

    Columns: type (string), count, share (count / sessions with a type).
    Sessions without business_type are left out. Sorted by count descending,
    ties by type in code-point order.
    """
    return (
        video_sessions.loc[video_sessions["business_type"].notna()]
        .groupby("business_type")
        .size()
        .rename("count")
        .rename_axis("type")
        .reset_index()
        .astype({"type": "string", "count": "int64"})
        .assign(share=lambda d: d["count"] / d["count"].sum())
        .sort_values(["count", "type"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


def business_table(business: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """METRICS.md `video.business` list -> the table the issue prints.

    Columns: 业务类型, 笔数 ("444 笔"), 占比 ("59.12%"), all strings, in the list's order;
    numbers printed by helpers.fmt like the prose.
    """
    return pd.DataFrame(
        {
            "业务类型": _text(b["type"] for b in business),
            "笔数": _text(fmt.count(b["count"], " 笔") for b in business),
            "占比": _text(fmt.pct(b["share"]) for b in business),
        }
    )


# ---------------------------------------------------------------- feedback


def feedback_list(feedback: pd.DataFrame) -> pd.DataFrame:
    """Typed feedback -> the items as the issue lists them (no feedback_id).

    Columns: 状态, 反馈部门, 客户信息摘要 (strings), ordered by status (schema
    order 已优化, 列入计划, 待反馈), then department and summary in code-point order.
    """
    rank = {status: i for i, status in enumerate(FEEDBACK_STATUSES)}
    return (
        feedback.loc[:, ["status", "department", "summary"]]
        .assign(_rank=lambda d: d["status"].map(rank))
        .sort_values(["_rank", "department", "summary"], kind="stable")
        .drop(columns="_rank")
        .rename(columns={"status": "状态", "department": "反馈部门", "summary": "客户信息摘要"})
        .astype("string")
        .reset_index(drop=True)
    )


# ---------------------------------------------------------------- tickets


def complaint_flow(tickets: pd.DataFrame) -> pd.DataFrame:
    """Typed tickets -> where complaints went, as five stages.

    Rows, in order (step 1-5): 受理投诉 (request_type 投诉), 安抚后转为其他工单
    (request_type 投诉, ticket_type not 投诉), 投诉工单 (ticket_type 投诉),
    转分支行 and 转总行部室 (complaint tickets routed there).
    Columns: step (1-5), key (the METRICS.md key under `tickets.`), stage
    (ordered Categorical of the labels), tickets (count).
    """
    received = tickets["request_type"] == "投诉"
    issued = tickets["ticket_type"] == "投诉"
    counts = {
        "complaints_received": received.sum(),
        "complaints_converted": (received & ~issued).sum(),
        "complaint_tickets": issued.sum(),
        "branch_complaint_tickets": (issued & (tickets["routed_to"] == "分支行")).sum(),
        "hq_complaint_tickets": (issued & (tickets["routed_to"] == "总行部室")).sum(),
    }
    labels = [label for _, label in COMPLAINT_STAGES]
    return pd.DataFrame(
        {
            "step": pd.Series(range(1, len(COMPLAINT_STAGES) + 1), dtype="int64"),
            "key": _text(key for key, _ in COMPLAINT_STAGES),
            "stage": _ordered(labels, labels),
            "tickets": pd.Series([counts[key] for key, _ in COMPLAINT_STAGES], dtype="int64"),
        }
    )


# ---------------------------------------------------------------- knowledge base, training


def kb_by_action(kb_changes: pd.DataFrame) -> pd.DataFrame:
    """Typed kb_changes -> maintenance work per action.

    Columns: action (string; all three actions in schema order 梳理优化, 新增,
    优化, zeros when unused), items (rows), sections (distinct section),
    knowledge_points (Σ knowledge_points).
    """
    return (
        kb_changes.groupby("action")
        .agg(
            items=("section", "size"),
            sections=("section", "nunique"),
            knowledge_points=("knowledge_points", "sum"),
        )
        .reindex(list(KB_ACTIONS), fill_value=0)
        .rename_axis("action")
        .reset_index()
        .astype(
            {"action": "string", "items": "int64", "sections": "int64", "knowledge_points": "int64"}
        )
    )


def training_by_month(training: pd.DataFrame) -> pd.DataFrame:
    """Typed training (one row per person per session) -> training per month.

    Columns: month (datetime64, the 1st, of held_on), sessions (distinct
    session_id), attendances (rows), hours (Σ hours). One row per month with
    training, sorted by month. Staff are counted nowhere here and never shown.
    """
    return (
        training.assign(month=lambda d: _month_start(d["held_on"]))
        .groupby("month")
        .agg(
            sessions=("session_id", "nunique"),
            attendances=("session_id", "size"),
            hours=("hours", "sum"),
        )
        .reset_index()
        .astype({"sessions": "int64", "attendances": "int64", "hours": "float64"})
    )


# ---------------------------------------------------------------- metrics dicts


def _lookup(metrics: Mapping[str, Any], dotted: str) -> Any:
    """`metrics["a"]["b"]` for `"a.b"`; a flat `metrics["a.b"]` is accepted too."""
    if dotted in metrics:
        return metrics[dotted]
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def yoy_pairs(
    current: Mapping[str, Any],
    prior: Mapping[str, Any] | None,
    keys: Mapping[str, str] | Sequence[str],
    *,
    current_label: str | None = None,
    prior_label: str | None = None,
) -> pd.DataFrame:
    """Two metrics dicts -> (figure, quarter, value) rows for year-on-year bars.

    `current` / `prior` are shaped like metrics.json (`{"outbound": {"calls":
    588700}, "quarter": "2022Q1", ...}`; flat dotted keys also work). `keys`
    maps dotted keys to the labels shown (a plain sequence uses the keys as
    labels). Quarter labels default to each dict's `quarter` (else the
    current dict's `prior_quarter`, else 本期 / 上年同期).

    Columns: figure (label), key, quarter (label), period (`上年同期` or
    `本期`), value (float64). Per key the prior row comes first. `prior` None
    gives no prior rows; a missing or null value gives no row.
    """
    labels = dict(keys) if isinstance(keys, Mapping) else {key: key for key in keys}
    now = current_label or str(current.get("quarter") or "本期")
    before = prior_label or str(
        (prior or {}).get("quarter") or current.get("prior_quarter") or "上年同期"
    )
    periods = [("上年同期", before, prior), ("本期", now, current)]
    rows = [
        {"figure": label, "key": key, "quarter": quarter, "period": period, "value": value}
        for key, label in labels.items()
        for period, quarter, metrics in periods
        if metrics is not None and (value := _lookup(metrics, key)) is not None
    ]
    columns = ["figure", "key", "quarter", "period", "value"]
    return (
        pd.DataFrame(rows, columns=columns)
        .astype({name: "string" for name in columns[:4]})
        .astype({"value": "float64"})
    )


def awards_table(awards: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """METRICS.md `awards` list -> the table the issue prints, in the list's order.

    Columns: 类别, 月份 (`1月&2月&3月`), 获奖者, 组长 (empty string when None),
    all strings. An empty list gives an empty table with these columns.
    """
    return pd.DataFrame(
        {
            "类别": _text(a["category"] for a in awards),
            "月份": _text("&".join(f"{m}月" for m in a["months"]) for a in awards),
            "获奖者": _text(a["winner"] for a in awards),
            "组长": _text(a.get("leader") or "" for a in awards),
        }
    )
