"""Reconcile computed metrics with a published issue's reference figures.

    python -m helpers.publish.reconcile --metrics outputs/2022Q1/metrics.json \\
        --ref docs/reference/2022Q1.yaml

For every figure the reference lists, the metric is formatted by the suite's own
rules (`helpers.fmt.format_value`, the same mapping the issue uses) and compared
with the text the issue printed. Lists (video.business, awards) are compared item
by item. An entry marked `inconsistent` (the printed issue cannot be right) is
checked against its `expected` text instead: "between A% and B% ..." means the
formatted value lies in [A, B]; otherwise the first token of `expected` must be
the formatted value. Exit status 0 when every figure agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from helpers import fmt
from helpers.figures.metrics import get

AS_EXPECTED = "as expected (inconsistent in print)"
_RANGE = re.compile(r"between\s+(-?[\d.]+)(%?)\s+and\s+(-?[\d.]+)(%?)")


@dataclass(frozen=True)
class Row:
    """One figure's reconciliation: what the issue printed, what the data gives."""

    key: str
    printed: str
    computed: str
    agree: bool
    note: str = ""
    items: tuple[Row, ...] = field(default_factory=tuple)


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "" if value is None else str(value)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().rstrip("%").removesuffix("万").removesuffix("个百分点"))
    except InvalidOperation:
        return None


def matches_expected(formatted: str, expected: str) -> bool:
    """A formatted figure vs an `expected` text of the reference YAML.

    "between 40.86% and 40.92%, ..." -> the number lies in the range, ends included;
    "21.26% (2021Q1 held 508 sessions)" -> equals the first token.
    """
    found = _RANGE.search(expected)
    if found:
        value = _number(formatted)
        low, high = Decimal(found.group(1)), Decimal(found.group(3))
        return value is not None and low <= value <= high
    return formatted == expected.split()[0]


def _normalise_items(kind: str, items: Any) -> list[dict[str, Any]]:
    """Reference or formatted list items -> comparable dicts (leader missing = None)."""
    if not isinstance(items, list):
        return []
    if kind == "business":
        return [
            {"type": str(i.get("type")), "count": str(i.get("count")), "share": str(i.get("share"))}
            for i in items
        ]
    return [
        {
            "category": str(i.get("category")),
            "months": [int(m) for m in i.get("months") or []],
            "winner": str(i.get("winner")),
            "leader": None if i.get("leader") in (None, "") else str(i.get("leader")),
        }
        for i in items
    ]


def _list_row(key: str, kind: str, printed: Any, value: Any) -> Row:
    ours = _normalise_items(kind, fmt.format_value(key, value))
    theirs = _normalise_items(kind, printed)
    items = tuple(
        Row(
            key=f"{key}[{n}]",
            printed=_show(theirs[n]) if n < len(theirs) else "(none)",
            computed=_show(ours[n]) if n < len(ours) else "(none)",
            agree=n < len(theirs) and n < len(ours) and theirs[n] == ours[n],
        )
        for n in range(max(len(theirs), len(ours)))
    )
    return Row(
        key=key,
        printed=f"{len(theirs)} items",
        computed=f"{len(ours)} items",
        agree=bool(items) and all(i.agree for i in items),
        items=items,
    )


def reconcile(metrics: Mapping[str, Any], reference: Mapping[str, Any]) -> list[Row]:
    """Metrics (nested, or metrics.json with its dotted copies) + a parsed reference YAML
    -> one Row per reference figure, in the reference's order."""
    rows: list[Row] = []
    for key, entry in (reference.get("figures") or {}).items():
        printed = entry.get("printed") if isinstance(entry, Mapping) else entry
        try:
            value = get(metrics, key)
        except KeyError:
            rows.append(Row(key, _show(printed), "(missing from metrics)", False))
            continue
        kind = fmt.kind_of(key)
        if kind in ("business", "awards"):
            rows.append(_list_row(key, kind, printed, value))
            continue
        formatted = fmt.format_value(key, value)
        expected = entry.get("expected") if isinstance(entry, Mapping) else None
        if isinstance(entry, Mapping) and entry.get("inconsistent") and expected:
            ok = matches_expected(formatted, str(expected))
            note = AS_EXPECTED if ok else f"expected {expected}"
            rows.append(Row(key, str(printed), formatted, ok, note))
        else:
            rows.append(Row(key, str(printed), formatted, formatted == str(printed)))
    return rows


def check_header(metrics: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """quarter / prior_quarter of the metrics vs the reference -> list of mismatches."""
    problems = []
    for key in ("quarter", "prior_quarter"):
        if key in reference and metrics.get(key) != reference[key]:
            problems.append(f"{key}: reference {reference[key]}, metrics {metrics.get(key)}")
    return problems


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def summary(rows: Sequence[Row]) -> str:
    """Rows -> "65 figures: 65 agree" (", N disagree" when some do not)."""
    agree = sum(r.agree for r in rows)
    line = f"{len(rows)} figures: {agree} agree"
    return line if agree == len(rows) else f"{line}, {len(rows) - agree} disagree"


def format_table(rows: Sequence[Row]) -> str:
    """Rows -> a plain-text table (key, printed, data gives, agree ✓/✗, note), list items
    indented under their figure, and the summary line last."""
    lines_in = [
        (indent + r.key, r.printed, r.computed, "✓" if r.agree else "✗", r.note)
        for row in rows
        for indent, r in (("", row), *(("  ", i) for i in row.items))
    ]
    header = ("key", "printed", "data gives", "agree", "")
    widths = [max(_width(cells[n]) for cells in (header, *lines_in)) for n in range(3)]

    def line(cells: Sequence[str]) -> str:
        text = "  ".join(_pad(c, w) for c, w in zip(cells[:3], widths, strict=True))
        return "  ".join((text, *cells[3:])).rstrip()

    rule = ("-" * widths[0], "-" * widths[1], "-" * widths[2], "-----", "")
    return "\n".join([line(header), line(rule), *(line(c) for c in lines_in), "", summary(rows)])


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: --metrics metrics.json --ref reference.yaml -> print the table; 0 if all agree."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.publish.reconcile",
        description="Compare computed metrics with a published issue's reference figures.",
    )
    parser.add_argument("--metrics", required=True, type=Path, help="metrics.json")
    parser.add_argument("--ref", required=True, type=Path, help="reference YAML")
    args = parser.parse_args(argv)
    metrics = json.loads(args.metrics.read_text(encoding="utf-8"))
    reference = yaml.safe_load(args.ref.read_text(encoding="utf-8"))
    rows = reconcile(metrics, reference)
    problems = check_header(metrics, reference)
    for problem in problems:
        print(f"✗ {problem}")
    print(format_table(rows))
    return 0 if rows and all(r.agree for r in rows) and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
