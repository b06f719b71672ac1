"""How figures are printed: the one formatting module of the issue.

Every number the issue prints (and every number `reconcile` compares with the
published issue) goes through this module, so a figure reads the same in the
prose, the charts' labels, the tables and the reconciliation report.

Rounding is half-up on the *decimal* value the reader would write down, never
banker's rounding and never a float artefact: a float is turned into a
`Decimal` through `repr` (the shortest text that round-trips, i.e. the number
as it was meant: 18911 / 20000 -> 0.94555, not 0.945549999...), and quantized
with ROUND_HALF_UP (ties away from zero, as the bank's printed figures do).
Values that come out of additions or subtractions of floats (sums of hours,
the difference of two rates) are first rounded to 10 decimals to drop the
accumulated binary noise (0.1 + 0.2 -> 0.3, not 0.30000000000000004).

Missing values: a change (`*_yoy`, `*_change`, `*_change_pp`) that is None
prints `无同期数据` (no prior-year data); a rate that is None (its denominator
was 0) prints `—`. A change that rounds to zero prints `同比持平`.

`PRINT_KINDS` maps every key of docs/contract/METRICS.md to how it prints;
`format_value(key, value)` applies it. The issue and `reconcile` both use it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

NO_PRIOR = "无同期数据"
NO_RATE = "—"
FLAT = "同比持平"

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_WAN = Decimal(10000)


def to_decimal(x: float | int, *, noisy: bool = False) -> Decimal:
    """A number -> the Decimal it stands for.

    Integers convert exactly. Floats go through `repr`, so 0.94555 stays 0.94555
    (Decimal(0.94555) would be 0.94554999999999997...). `noisy=True` is for sums
    and differences of floats: round to 10 decimals first to drop the binary noise.
    """
    if isinstance(x, bool):
        raise TypeError("a boolean is not a figure")
    if isinstance(x, numbers.Integral):
        return Decimal(int(x))
    value = float(x)
    if noisy:
        value = round(value, 10)
    return Decimal(repr(value))


def _two(d: Decimal) -> str:
    """Decimal -> text with exactly two decimals, half-up; never prints "-0.00"."""
    text = f"{d.quantize(_CENT, rounding=ROUND_HALF_UP):f}"
    return "0.00" if text == "-0.00" else text


def _magnitude(text: str) -> str:
    return text[1:] if text.startswith("-") else text


def _direction(text: str) -> int:
    """Sign of a printed number: -1, 0 (prints as zero) or 1."""
    if Decimal(text) == 0:
        return 0
    return -1 if text.startswith("-") else 1


# --- plain figures --------------------------------------------------------


def wan(n: int | float, unit: str = "") -> str:
    """A volume -> 万 with two decimals: 337800 -> "33.78万"; wan(9000, "人次") -> "0.90万人次"."""
    return f"{_two(to_decimal(n) / _WAN)}万{unit}"


def count(n: int, unit: str = "") -> str:
    """A count of items -> the whole number: 2972 -> "2972"; count(151, " 笔") -> "151 笔"."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        else:
            raise TypeError(f"a count must be a whole number, got {n!r}")
    return f"{int(n)}{unit}"


def pct(rate: float | None) -> str:
    """A rate as a fraction -> percent, two decimals: 0.94555 -> "94.56%"; None -> "—".

    None means the rate's denominator was 0 (nothing to rate).
    """
    if rate is None:
        return NO_RATE
    return f"{_two(to_decimal(rate) * _HUNDRED)}%"


def hours(x: float) -> str:
    """Hours -> two decimals: 4141.99 -> "4141.99"; 2.675 -> "2.68"."""
    return _two(to_decimal(x, noisy=True))


def decimal(x: float | None, places: int = 1) -> str:
    """A measured quantity (not a count) -> `places` decimals, half-up: 412.25 -> "412.3";
    None -> "—"."""
    if x is None:
        return NO_RATE
    text = f"{to_decimal(x, noisy=True).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def seconds(x: float) -> str:
    """A time threshold in seconds, as written in the settings: 20 -> "20", 20.5 -> "20.5"."""
    d = to_decimal(x).normalize()
    return f"{d:f}"


def listing(parts: list[str]) -> str:
    """Phrases -> one enumeration as Chinese prose writes it: ["建议工单 3 笔", "疑难工单 2 笔"]
    -> "建议工单 3 笔、疑难工单 2 笔"."""
    return "、".join(parts)


def leading(names: list[str], most: int = 2) -> str:
    """The first names of a ranked list: ["A", "B", "C"] -> "A、B等"; ["A"] -> "A"."""
    return listing(names[:most]) + ("等" if len(names) > most else "")


# --- signed changes, as the reference YAML prints them ----------------------


def signed_pct(x: float | None) -> str:
    """A relative change -> signed percent: -0.47572 -> "-47.57%", 0.8711 -> "87.11%".

    None (no prior data, or a prior count of 0) -> "无同期数据".
    """
    if x is None:
        return NO_PRIOR
    return f"{_two(to_decimal(x) * _HUNDRED)}%"


def signed_int(n: int | None) -> str:
    """An absolute change of a count -> signed integer: -137 -> "-137"; None -> "无同期数据"."""
    if n is None:
        return NO_PRIOR
    return count(n)


def pp(x: float | None) -> str:
    """A change of a rate (fraction) -> percentage points: 0.0334 -> "3.34 个百分点".

    Negative changes keep their sign ("-1.20 个百分点"); None -> "无同期数据".
    """
    if x is None:
        return NO_PRIOR
    return f"{_two(to_decimal(x, noisy=True) * _HUNDRED)} 个百分点"


# --- change phrases for the prose -----------------------------------------


def yoy(x: float | None, up: str = "上升", down: str = "下降") -> str:
    """A relative change -> the prose phrase: 0.8711 -> "同比上升 87.11%".

    The verbs follow the section's wording (上升/下降, 增长/减少, 增加/减少).
    None -> "无同期数据"; a change that prints as 0.00% -> "同比持平".
    """
    if x is None:
        return NO_PRIOR
    text = signed_pct(x)
    direction = _direction(text[:-1])
    if direction == 0:
        return FLAT
    return f"同比{up if direction > 0 else down} {_magnitude(text)}"


def count_change(
    change: int | None,
    rel: float | None,
    unit: str = "笔",
    up: str = "增加",
    down: str = "减少",
) -> str:
    """A count's change and relative change -> "同比减少 137 笔，降幅 47.57%".

    An increase reads "同比增加 12 笔，增幅 9.52%". None change -> "无同期数据";
    zero -> "同比持平"; a change from a prior count of 0 (rel None) gives the
    count phrase alone ("同比增加 5 笔"): a percentage of nothing means nothing.
    """
    if change is None:
        return NO_PRIOR
    if change == 0:
        return FLAT
    verb, size = (up, "增幅") if change > 0 else (down, "降幅")
    phrase = f"同比{verb} {abs(int(change))} {unit}"
    if rel is None:
        return phrase
    return f"{phrase}，{size} {_magnitude(signed_pct(rel))}"


def rate_change(x: float | None, up: str = "提升", down: str = "下降") -> str:
    """A rate's change (fraction) -> "同比提升 3.34 个百分点" / "同比下降 1.20 个百分点".

    None -> "无同期数据"; a change that prints as 0.00 -> "同比持平".
    """
    if x is None:
        return NO_PRIOR
    text = pp(x)
    number = text.split(" ")[0]
    direction = _direction(number)
    if direction == 0:
        return FLAT
    return f"同比{up if direction > 0 else down} {_magnitude(text)}"


# --- key -> how it prints -------------------------------------------------

_WAN_KEYS = (
    "inbound.general.requests",
    "inbound.general.answered",
    "inbound.general.outsourced_answered",
    "inbound.credit_card.requests",
    "inbound.credit_card.answered",
    "inbound.credit_card.outsourced_answered",
    "online.requests",
    "online.answered",
    "satisfaction.responses",
    "outbound.calls",
    "smart.sessions",
    "smart.resolved",
    "robot.sessions",
    "voice_nav.sessions",
    "sms.recipients",
    "training.attendances",
)
_COUNT_KEYS = (
    "outbound.services",
    "video.sessions",
    "sms.services",
    "feedback.items",
    "feedback.optimized",
    "feedback.planned",
    "feedback.pending",
    "tickets.total",
    "tickets.complaints_received",
    "tickets.complaints_converted",
    "tickets.complaint_tickets",
    "tickets.branch_complaint_tickets",
    "tickets.hq_complaint_tickets",
    "knowledge_base.items",
    "knowledge_base.sections_reviewed",
    "knowledge_base.knowledge_points",
    "training.sessions",
)
_PCT_KEYS = (
    "inbound.general.answer_rate",
    "inbound.general.service_level",
    "inbound.general.outsourced_share",
    "inbound.credit_card.answer_rate",
    "inbound.credit_card.service_level",
    "inbound.credit_card.outsourced_share",
    "online.answer_rate",
    "online.service_level",
    "online.satisfaction",
    "satisfaction.very_satisfied_rate",
    "satisfaction.satisfied_rate",
    "outbound.connect_rate",
    "smart.diversion_rate",
    "robot.standard_answer_rate",
    "robot.text_diversion_rate",
    "voice_nav.recognition_rate",
    "video.satisfaction",
)
_YOY_KEYS = (
    "inbound.general.requests_yoy",
    "inbound.credit_card.requests_yoy",
    "online.requests_yoy",
    "outbound.calls_yoy",
    "smart.sessions_yoy",
    "robot.sessions_yoy",
    "tickets.total_yoy",
    "tickets.complaint_tickets_yoy",
    "tickets.branch_complaint_tickets_yoy",
    "tickets.hq_complaint_tickets_yoy",
    "training.sessions_yoy",
)
_CHANGE_KEYS = (
    "tickets.complaint_tickets_change",
    "tickets.branch_complaint_tickets_change",
    "tickets.hq_complaint_tickets_change",
)

PRINT_KINDS: dict[str, str] = {
    "quarter": "text",
    "prior_quarter": "text",
    **dict.fromkeys(_WAN_KEYS, "wan"),
    **dict.fromkeys(_COUNT_KEYS, "count"),
    **dict.fromkeys(_PCT_KEYS, "pct"),
    **dict.fromkeys(_YOY_KEYS, "yoy"),
    **dict.fromkeys(_CHANGE_KEYS, "change"),
    "smart.diversion_rate_change_pp": "pp",
    "training.hours": "hours",
    "training.hours_per_capita": "hours",
    "video.business": "business",
    "awards": "awards",
}
"""Every figure key of docs/contract/METRICS.md -> how the issue prints it.

wan: volume in 万 (2 decimals); count: whole number; pct: percent (2 decimals,
"—" when None); yoy: signed percent; change: signed integer; pp: percentage
points; hours: 2 decimals; business / awards: lists, item by item; text: as is.
"""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def business_items(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """video.business -> its printed items: [{"type", "count" (int), "share" ("59.12%")}]."""
    return [{"type": str(i["type"]), "count": int(i["count"]), "share": pct(i["share"])} for i in items]


def award_items(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """awards -> printed items: [{"category", "months" (ints), "winner", "leader" (or None)}]."""
    return [
        {
            "category": str(i["category"]),
            "months": [int(m) for m in i["months"]],
            "winner": str(i["winner"]),
            "leader": None if i.get("leader") in (None, "") else str(i["leader"]),
        }
        for i in items
    ]


FORMATTERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "wan": wan,
    "count": count,
    "pct": pct,
    "yoy": signed_pct,
    "change": signed_int,
    "pp": pp,
    "hours": hours,
    "business": business_items,
    "awards": award_items,
}


def kind_of(key: str) -> str:
    """A dotted figure key -> its print kind (see PRINT_KINDS).

    Keys added later that follow the contract's suffixes (`*_yoy`, `*_change`,
    `*_change_pp`) get the matching kind; any other unknown key is a KeyError,
    so a new figure cannot be printed by accident in the wrong form.
    """
    if key in PRINT_KINDS:
        return PRINT_KINDS[key]
    for suffix, kind in (("_change_pp", "pp"), ("_change", "change"), ("_yoy", "yoy")):
        if key.endswith(suffix):
            return kind
    raise KeyError(f"no print format for figure {key!r}; add it to fmt.PRINT_KINDS")


def format_value(key: str, value: Any) -> Any:
    """A figure's dotted key and unrounded value -> the text the issue prints.

    Lists (video.business, awards) come back as lists of printed items.
    """
    kind = kind_of(key)
    if value is None and kind in ("wan", "count", "hours"):
        return NO_RATE
    return FORMATTERS[kind](value)
