"""Stage 2 of the pipeline: validated tables -> the quarter's figures.

`quarter_figures` validates the quarter (and the year-earlier quarter when its
folder exists), computes every METRICS.md figure once, and caches the result on
disk keyed by the extracts' content hashes, the threshold and the metrics code,
so the section notebooks (each in its own kernel) read it instead of
recomputing it.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.data import extracts
from helpers.figures import metrics
from helpers.params import IssueParams, load_params
from helpers.quarter import Quarter

# Columns the figures need, per extract: ids are read only where a figure counts
# distinct values, so memory follows the columns used, not the file width.
FIGURE_COLUMNS: dict[str, list[str]] = {
    "inbound_calls": ["line", "requested_at", "answered_at", "agent_type"],
    "online_chats": ["requested_at", "answered_at"],
    "outbound_calls": ["service", "connected"],
    "smart_sessions": ["channel", "questions", "standard_answers", "recognized", "transferred"],
    "video_sessions": ["business_type"],
    "surveys": ["channel", "rating"],
    "sms_batches": ["service", "recipients"],
    "feedback": ["status"],
    "tickets": ["request_type", "ticket_type", "routed_to"],
    "kb_changes": ["section", "action", "knowledge_points"],
    "training": ["session_id", "staff_id", "hours"],
    "awards": ["month", "category", "winner", "leader"],
}


def prior_quarter(quarter: str, data_root: Path | None = None) -> str | None:
    """The year-earlier quarter when its extracts folder exists, else None."""
    prior = str(Quarter.parse(quarter).prior_year())
    return prior if extracts.quarter_available(prior, data_root) else None


def validated_reports(quarter: str, data_root: Path | None = None) -> dict[str, extracts.Report]:
    """Validate Q and, when present, its prior year; raise ExtractError on the first bad one.

    Returns {quarter: report} for the quarters used, current first.
    """
    quarters = [q for q in (quarter, prior_quarter(quarter, data_root)) if q]
    # The two quarters are independent; pyarrow parses with the GIL released.
    with ThreadPoolExecutor(len(quarters)) as pool:
        reports = dict(zip(quarters, pool.map(lambda q: extracts.validate_quarter(q, data_root), quarters),
                           strict=True))
    for report in reports.values():
        if not report.ok:
            raise extracts.ExtractError(report)
    return reports


def _code_hash() -> str:
    src = Path(metrics.__file__).read_bytes() + Path(__file__).read_bytes()
    return hashlib.sha256(src).hexdigest()[:16]


def quarter_figures(
    quarter: str, data_root: Path | None = None, params: IssueParams | None = None,
    *, reports: dict[str, extracts.Report] | None = None,
) -> dict[str, Any]:
    """Every figure of the quarter as the nested metrics dict (see metrics.compute_metrics).

    `reports` are the quarter's `validated_reports` when the caller already has them."""
    params = params or load_params(quarter)
    reports = reports or validated_reports(quarter, data_root)
    key_src = json.dumps(
        {
            "files": {q: {n: f.sha256 for n, f in r.files.items()} for q, r in reports.items()},
            "T": params.service_level_seconds,
            "code": _code_hash(),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:24]
    cached = paths.CACHE / "figures" / f"{quarter}-{key}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    tables, *prior = (extracts.load_tables(q, data_root, columns=FIGURE_COLUMNS) for q in reports)
    result = metrics.compute_metrics(
        quarter, tables, prior[0] if prior else None, service_level_seconds=params.service_level_seconds
    )
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(metrics.to_json(result), encoding="utf-8")
    tmp.replace(cached)
    return json.loads(cached.read_text(encoding="utf-8"))
