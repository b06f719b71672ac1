"""The headline KPIs: the figures the 近期趋势 section draws over recent quarters and the
index lists for every published issue. One list, so the two can never disagree.

Each is a METRICS.md key of `metrics.json` (docs/contract/METRICS.md); its value is
read from a quarter's figures and printed by `helpers.fmt` (counts with their unit,
rates as percentages), and its change between two quarters is a relative change for
counts and a difference in percentage points for rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from helpers import fmt

COUNT, RATE = "count", "rate"


@dataclass(frozen=True)
class Headline:
    key: str  # METRICS.md key, dotted: "inbound.general.requests"
    label: str  # what a reader sees: "综合热线 请求量"
    kind: str  # COUNT or RATE
    group: str  # small-multiple panel / index column group: "综合热线"
    unit: str = ""  # for counts: " 笔"

    def value(self, metrics: Mapping[str, Any]) -> float | int | None:
        """This figure in a quarter's metrics (None when absent)."""
        node: Any = metrics
        for part in self.key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def printed(self, value: float | int | None) -> str:
        """The value as the issue prints it."""
        if value is None:
            return "—"
        return fmt.count(int(value), self.unit) if self.kind == COUNT else fmt.pct(value)

    def change(self, now: float | int | None, before: float | int | None) -> float | None:
        """Relative change for counts, difference (as a fraction) for rates; None without both."""
        if now is None or before is None:
            return None
        if self.kind == RATE:
            return now - before
        return None if before == 0 else (now - before) / before

    def printed_change(self, change: float | None) -> str:
        """A change as the issue prints it: 3.34% / -47.57% for counts, 1.20 个百分点 for rates;
        "—" when there is none (no such quarter, or a count of 0 before)."""
        if change is None:
            return "—"
        return fmt.signed_pct(change) if self.kind == COUNT else fmt.pp(change)


HEADLINE: tuple[Headline, ...] = (
    Headline("inbound.general.requests", "综合热线 请求量", COUNT, "综合热线", " 笔"),
    Headline("inbound.general.answer_rate", "综合热线 接通率", RATE, "综合热线"),
    Headline("inbound.general.service_level", "综合热线 服务水平", RATE, "综合热线"),
    Headline("inbound.credit_card.requests", "信用卡热线 请求量", COUNT, "信用卡热线", " 笔"),
    Headline("inbound.credit_card.answer_rate", "信用卡热线 接通率", RATE, "信用卡热线"),
    Headline("inbound.credit_card.service_level", "信用卡热线 服务水平", RATE, "信用卡热线"),
    Headline("satisfaction.satisfied_rate", "综合满意度", RATE, "满意度"),
    Headline("smart.diversion_rate", "智能服务分流率", RATE, "智能服务"),
    Headline("online.requests", "在线客服 请求量", COUNT, "在线客服", " 笔"),
    Headline("tickets.complaint_tickets", "投诉工单", COUNT, "投诉", " 笔"),
)
