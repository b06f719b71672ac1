"""Completeness checks: days or months of the quarter an extract has no (or too few) rows for.

Validation (extracts.py) refuses a file that breaks the contract; a file can keep the
contract and still miss a day, e.g. an export that stopped at midnight. These checks
find such gaps and report them as **warnings**, not errors (docs/validation.md):

- round-the-clock channels (`DAILY`: inbound_calls, online_chats, smart_sessions):
  every calendar day of the quarter has rows, and no day has fewer than
  `min_share` (the issue setting `completeness_min_share`, default 25%) of the
  median count of the same weekday in that quarter;
- monthly extracts (`MONTHLY`: training, awards): every month of the quarter has rows.

One cheap query per extract counts its rows per day (or month) over the start column
of the validated table (DuckDB, streaming over the Parquet cache); the rest is Python
over at most 92 numbers. `check` takes DuckDB relations or typed DataFrames, so the
figure store (`helpers.figures.store`, which keeps the warnings beside the figures),
`make validate` and the unit tests run the very same code.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.data import extracts, schema
from helpers.params import IssueParams
from helpers.quarter import Quarter

# Extracts of channels that serve every day, round the clock, and of monthly records.
DAILY = ("inbound_calls", "online_chats", "smart_sessions")
MONTHLY = ("training", "awards")
# The default of the issue setting `completeness_min_share`.
DEFAULT_MIN_SHARE = IssueParams.completeness_min_share
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

# Rule texts are stable (warnings group by them, tests match them).
NO_ROWS_DAY = "no rows on this day (every day of the quarter must have rows)"
NO_ROWS_MONTH = "no rows in this month (every month of the quarter must have rows)"


def low_day_rule(min_share: float) -> str:
    return f"fewer than {min_share * 100:g}% of the quarter's median rows for this weekday"


@dataclass(frozen=True)
class CompletenessWarning:
    """A day or month of the quarter with no rows, or with too few for its weekday."""

    file: str  # the extract's file name, `inbound_calls.csv` (or `.csv.gz`)
    period: str  # the day `2022-02-01` or the month `2022-02`
    rows: int  # rows found for that day or month
    typical: float  # the median rows of the same weekday (days) or of the quarter's months
    rule: str

    @property
    def weekday(self) -> str:
        """`周二` for a day, "" for a month."""
        return WEEKDAYS[date.fromisoformat(self.period).weekday()] if len(self.period) == 10 else ""

    def format(self) -> str:
        """The warning on one line: file, day (weekday) or month, rows found, typical rows, rule."""
        where = f"{self.period} {self.weekday}" if self.weekday else self.period
        typical = f"typical {number(self.typical)}" + (f" for {self.weekday}" if self.weekday else " a month")
        return f"{self.file} {where}, rows {self.rows:,}, {typical}: {self.rule}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def number(x: float) -> str:
    """A count or a median of counts -> `6,012` or `6,012.5`."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.1f}"


def _rel(source: Any) -> Any:
    """A source -> a DuckDB relation (as `helpers.figures.metrics.rel`, which stage 1 does
    not import: a DataFrame is scanned in place)."""
    import duckdb

    if isinstance(source, duckdb.DuckDBPyRelation):
        return source
    return duckdb.from_df(source)


def _counts(source: Any, column: str, unit: str) -> dict[date, int]:
    """Rows per day (`unit` "day") or per month ("month") of the start column: one query."""
    key = f"CAST({column} AS DATE)" if unit == "day" else f"CAST(date_trunc('month', {column}) AS DATE)"
    found = _rel(source).aggregate(f"{key} AS k, count(*) AS n", key).fetchall()
    return {_as_date(k): int(n) for k, n in found if k is not None}


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def days_of(quarter: str) -> list[date]:
    q = Quarter.parse(quarter)
    return [q.first_day + timedelta(d) for d in range((q.end.date() - q.first_day).days)]


def daily_warnings(
    file: str, quarter: str, counts: Mapping[date, int], min_share: float
) -> list[CompletenessWarning]:
    """Rows per day -> the quarter's days with no rows, then days below `min_share` of
    the median of their weekday (days without rows count as 0 in the median), by day."""
    days = days_of(quarter)
    found = [counts.get(d, 0) for d in days]
    medians = {
        w: statistics.median(n for d, n in zip(days, found, strict=True) if d.weekday() == w)
        for w in range(7)
    }
    out = []
    for day, rows in zip(days, found, strict=True):
        typical = medians[day.weekday()]
        if rows == 0:
            out.append(CompletenessWarning(file, day.isoformat(), 0, typical, NO_ROWS_DAY))
        elif rows < min_share * typical:
            out.append(CompletenessWarning(file, day.isoformat(), rows, typical, low_day_rule(min_share)))
    return out


def monthly_warnings(file: str, quarter: str, counts: Mapping[date, int]) -> list[CompletenessWarning]:
    """Rows per month -> the quarter's months with no rows (typical: the median month)."""
    q = Quarter.parse(quarter)
    months = [date(q.year, m, 1) for m in q.months]
    typical = statistics.median(counts.get(m, 0) for m in months)
    return [
        CompletenessWarning(file, m.strftime("%Y-%m"), 0, typical, NO_ROWS_MONTH)
        for m in months
        if counts.get(m, 0) == 0
    ]


def check(
    quarter: str,
    sources: Mapping[str, Any],
    *,
    min_share: float = DEFAULT_MIN_SHARE,
    files: Mapping[str, str] | None = None,
) -> list[CompletenessWarning]:
    """Typed tables of a quarter (DuckDB relations or DataFrames, by extract name) -> every
    completeness warning, in `schema.FILES` order then by day. Extracts not given are not
    checked. `files` maps extract names to the file names to report (default `NAME.csv`)."""
    quarter = str(Quarter.parse(quarter))
    out: list[CompletenessWarning] = []
    for name in schema.FILES:
        if name not in sources or name not in DAILY + MONTHLY:
            continue
        file = (files or {}).get(name, f"{name}.csv")
        start = schema.FILES[name].start
        if name in DAILY:
            out += daily_warnings(file, quarter, _counts(sources[name], start, "day"), min_share)
        else:
            out += monthly_warnings(file, quarter, _counts(sources[name], start, "month"))
    return out


def quarter_warnings(
    quarter: str, report: extracts.Report, min_share: float = DEFAULT_MIN_SHARE
) -> list[CompletenessWarning]:
    """A quarter's validation report -> its warnings, counted over the validated Parquet
    (what `make validate` prints; the publisher reads them from the figure store). Only
    files without problems are checked: the others have no validated table."""
    import duckdb

    quarter = str(Quarter.parse(quarter))
    checked = {
        name: path
        for name, info in report.files.items()
        if name in DAILY + MONTHLY
        and not report.count(file=Path(info.path).name)
        and (path := extracts.parquet_path(quarter, name, info.sha256)).exists()
    }
    con = duckdb.connect()
    try:
        sources = {name: con.read_parquet(str(path)) for name, path in checked.items()}
        return check(quarter, sources, min_share=min_share, files=file_names(report))
    finally:
        con.close()


def file_names(report: extracts.Report) -> dict[str, str]:
    """Extract name -> the file's actual name (`awards.csv.gz` when that one is present)."""
    return {name: Path(info.path).name for name, info in report.files.items()}


def from_dicts(items: Iterable[Mapping[str, Any]] | None) -> list[CompletenessWarning]:
    """The warnings as the store (and `completeness.json`) hold them -> dataclasses."""
    return [CompletenessWarning(**item) for item in items or ()]


def format_warnings(warnings: list[CompletenessWarning], quarter: str = "") -> str:
    """Warnings -> a heading line and one line each (what `make validate` and `make quarter` print)."""
    label = f"{quarter} " if quarter else ""
    if not warnings:
        return f"{label}completeness: no warnings / 数据完整性：无提示"
    head = (
        f"{label}completeness: {len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
        f" / 数据完整性提示 {len(warnings)} 条 (docs/validation.md)"
    )
    return "\n".join([head, *(f"  ⚠ {w.format()}" for w in warnings)])
