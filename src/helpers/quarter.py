"""Quarter names (`YYYYQn`): parsing, bounds, the year-earlier quarter, labels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

QUARTER_RE = re.compile(r"\A(\d{4})Q([1-4])\Z")


class QuarterError(ValueError):
    """A quarter name that is not `YYYYQn`."""


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`"2022Q1"` -> Quarter(2022, 1); anything else raises QuarterError."""
        m = QUARTER_RE.match(text if isinstance(text, str) else "")
        if not m or int(m.group(1)) < 1900:
            raise QuarterError(
                f"不是有效的季度 / not a valid quarter: {text!r} (expected YYYYQn, n = 1-4, e.g. 2022Q1)"
            )
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def months(self) -> list[int]:
        """Calendar month numbers of the quarter: [1, 2, 3] for Q1."""
        return [3 * (self.q - 1) + i for i in (1, 2, 3)]

    @property
    def start(self) -> datetime:
        """First instant of the quarter (inclusive)."""
        return datetime(self.year, self.months[0], 1)

    @property
    def end(self) -> datetime:
        """First instant after the quarter (exclusive)."""
        return self.next().start

    @property
    def first_day(self) -> date:
        return self.start.date()

    def next(self) -> Quarter:
        return Quarter(self.year + (self.q == 4), self.q % 4 + 1)

    def prior_year(self) -> Quarter:
        """The same quarter a year earlier, used for year-on-year figures."""
        return Quarter(self.year - 1, self.q)

    @property
    def label(self) -> str:
        """Default issue label: `2022年第1期`."""
        return f"{self.year}年第{self.q}期"

    @property
    def cn_name(self) -> str:
        """`一季度` .. `四季度`, as the bulletin's prose says it."""
        return "一二三四"[self.q - 1] + "季度"
