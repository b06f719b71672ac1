"""Issue settings: defaults derived from the quarter, overridden by `params/<Q>.yaml`.

The params file is optional and small (params/README.md lists the settings). Unknown keys are
refused so that a typo does not silently publish with a default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

import yaml

from helpers import paths
from helpers.quarter import Quarter


class ParamsError(ValueError):
    """A params/<Q>.yaml that cannot be used."""


@dataclass(frozen=True)
class IssueParams:
    quarter: str
    label: str  # masthead issue label, `2022年第1期`
    centre: str = "客服中心"  # the publishing centre, shown in the masthead
    service_level_seconds: float = 20.0  # T of the 20-second service level
    service_level_target: float = 0.80  # target line drawn on the daily charts
    data_as_of: str = ""  # "数据截至" date, ISO; default: the quarter's last day
    # A day of a round-the-clock channel with fewer rows than this share of its weekday's
    # median is a completeness warning (helpers.data.completeness; 0 = no low-day check).
    completeness_min_share: float = 0.25
    # Quarters the 近期趋势 section shows, ending at this one (helpers.figures.store).
    trend_quarters: int = 8

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_params(quarter: str) -> IssueParams:
    """Defaults for a quarter with no params file."""
    q = Quarter.parse(quarter)
    last_day: date = q.end.date() - timedelta(days=1)
    return IssueParams(quarter=str(q), label=q.label, data_as_of=last_day.isoformat())


def load_params(quarter: str) -> IssueParams:
    """`params/<Q>.yaml` merged over `default_params(Q)`; raises ParamsError on bad keys/types."""
    base = default_params(quarter)
    path = paths.params_file(base.quarter)
    if not path.exists():
        return base
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date-like value that is no date
        raise ParamsError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of settings")
    known = {f.name for f in fields(IssueParams)} - {"quarter"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ParamsError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )
    updates = {}
    for key, value in raw.items():
        default = getattr(base, key)
        if isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(default, str) and isinstance(value, date):
            value = value.isoformat()
        # `true` is no number (bool is an int to Python): refused as the wrong kind.
        if not isinstance(value, type(default)) or isinstance(value, bool):
            raise ParamsError(f"{path}: {key} = {value!r}: must be {_KINDS[type(default)]} ({RULES[key]})")
        problem = _check(key, value)
        if problem:
            raise ParamsError(f"{path}: {key} = {value!r}: {problem}")
        updates[key] = value
    return replace(base, **updates)


_KINDS = {float: "a number", int: "a whole number", str: "text"}
# What each setting allows, as the messages and params/README.md say it.
RULES = {
    "label": "the masthead issue label, e.g. 2022年第1期",
    "centre": "the publishing centre's name, e.g. 客服中心",
    "service_level_seconds": "seconds, more than 0 and at most 600, e.g. 20 or 20.5",
    "service_level_target": "a fraction more than 0 and at most 1, e.g. 0.80 for 80%",
    "data_as_of": "a date written YYYY-MM-DD",
    "completeness_min_share": (
        "a fraction at least 0 and less than 1, e.g. 0.25 for 25% (0 turns the low-day check off)"
    ),
    "trend_quarters": (
        "a whole number of quarters from 3 to 20, e.g. 8 (fewer than 3 draws no trend; "
        "each quarter is one more figure store to compute)"
    ),
}


def _check(key: str, value: Any) -> str | None:
    """A setting's value -> what is wrong with it, or None."""
    if key in ("label", "centre") and not value.strip():
        return f"must not be empty ({RULES[key]})"
    if key == "service_level_seconds" and not 0 < value <= 600:
        return f"out of range: {RULES[key]}"
    if key == "service_level_target" and not 0 < value <= 1:
        return f"out of range: {RULES[key]}"
    if key == "completeness_min_share" and not 0 <= value < 1:
        return f"out of range: {RULES[key]}"
    if key == "trend_quarters" and not 3 <= value <= 20:
        return f"out of range: {RULES[key]}"
    if key == "data_as_of":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"not a date: {RULES[key]}"
    return None
