"""Publishing a range of quarters: `make backfill FROM=2020Q2 TO=2022Q1 [DATA=] [OUT=]`.

Every quarter of the range whose extracts exist is published with the one-quarter
publisher (`python -m helpers.publish.cli publish Q`, in its own process), unless
its issue is up to date as `make quarter` would decide (`inputs.up_to_date`, from
the list the publisher wrote). A quarter that fails leaves its last good issue as
it was (the publisher's promise) and does not stop the others; its reason is the
first lines of the publisher's message (file, line, column, rule for bad extracts).

Two quarters are published at a time, each running its sections one at a time, and
the oldest first, so that a quarter validated as a later quarter's year-earlier
quarter is already in the shared cache (`KFWK_CACHE`) when that quarter comes
(docs/decisions.md, "Backfill"). The index is written once at the end, so two
publishes finishing together cannot leave a quarter out of it.

This module is imported by the command line before anything heavy: a no-op
backfill (every quarter up to date) only reads file times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from helpers import paths
from helpers.publish import inputs
from helpers.quarter import Quarter

PUBLISHED, UP_TO_DATE, MISSING, FAILED = "published", "up to date", "skipped", "failed"
EXTRACT_SUFFIXES = (".csv", ".csv.gz")
# Lines of a failed publish's stderr kept as its reason in the summary.
REASON_LINES = 6
# Each publish's whole output, under OUT (left alone by the index and by publishes).
LOG_DIR = ".backfill"


@dataclass
class Outcome:
    quarter: str
    status: str  # PUBLISHED, UP_TO_DATE, MISSING or FAILED
    seconds: float = 0.0
    reason: str = ""  # FAILED: the publisher's message (first lines); MISSING: what is missing
    exit_code: int = 0


def quarter_range(first: str, last: str) -> list[str]:
    """FROM..TO inclusive, oldest first. Raises QuarterError (bad name) or ValueError (FROM after TO)."""
    start, end = Quarter.parse(first), Quarter.parse(last)
    if end < start:
        raise ValueError(f"FROM={start} is after TO={end}: the range is empty")
    found, q = [], start
    while q <= end:
        found.append(str(q))
        q = q.next()
    return found


def has_extracts(quarter: str, data_root: Path) -> bool:
    """A folder `<DATA>/<Q>/` holding at least one extract (a folder made by `make
    new-quarter`, with only editorial texts, has none yet)."""
    folder = paths.quarter_dir(quarter, data_root)
    try:
        return any(p.name.endswith(EXTRACT_SUFFIXES) for p in folder.iterdir())
    except OSError:
        return False


def _strict_stale(issue_dir: Path) -> bool:
    """STRICT=1: an issue published earlier with completeness warnings is re-checked
    (the Makefile's `strict-recheck`), so that the publisher refuses it."""
    import json

    try:
        doc = json.loads((issue_dir / "completeness.json").read_text(encoding="utf-8"))
        return bool(doc["warnings"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _reason(stderr: str) -> str:
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    return "\n".join(lines[:REASON_LINES]) or "(no message)"


def _publish_command(quarter: str, jobs: int, strict: bool) -> list[str]:
    cmd = [sys.executable, "-m", "helpers.publish.cli", "publish", quarter, "--jobs", str(jobs)]
    return [*cmd, "--strict" if strict else "--no-strict"]


def _publish_one(
    quarter: str, data_root: Path, out_root: Path, jobs: int, strict: bool, log_dir: Path | None
) -> Outcome:
    # Not KFWK_REVISE: a correction's reason belongs to one quarter (`make quarter REVISE=`),
    # so a released quarter that would change fails here with the publisher's refusal.
    dropped = ("KFWK_Q", "KFWK_REVISE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= {"KFWK_DATA": str(data_root), "KFWK_OUT": str(out_root), "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        _publish_command(quarter, jobs, strict),
        cwd=paths.ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
    )
    seconds = time.perf_counter() - start
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{quarter}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode == 0:
        return Outcome(quarter, PUBLISHED, seconds)
    return Outcome(quarter, FAILED, seconds, _reason(result.stderr), result.returncode)


def format_line(o: Outcome) -> str:
    """One progress line: `  2021Q3  published        23.4 s` (+ the reason's first line)."""
    took = f"{o.seconds:6.1f} s" if o.status in (PUBLISHED, FAILED) else " " * 8
    first = o.reason.splitlines()[0] if o.reason else ""
    return f"  {o.quarter}  {o.status:<11} {took}  {first}".rstrip()


def format_summary(outcomes: Iterable[Outcome], seconds: float, log_dir: Path | None = None) -> str:
    outcomes = list(outcomes)
    by = {s: [o.quarter for o in outcomes if o.status == s] for s in (PUBLISHED, UP_TO_DATE, MISSING, FAILED)}
    lines = [
        f"==> backfill: {len(outcomes)} quarter(s) in {seconds:.1f} s: "
        f"{len(by[PUBLISHED])} published, {len(by[UP_TO_DATE])} up to date, "
        f"{len(by[MISSING])} skipped (no extracts), {len(by[FAILED])} failed"
    ]
    for status, label in (
        (PUBLISHED, "published"),
        (UP_TO_DATE, "up to date"),
        (MISSING, "skipped, no extracts"),
    ):
        if by[status]:
            lines.append(f"  {label}: {' '.join(by[status])}")
    for o in outcomes:
        if o.status == FAILED:
            log = f" (full output: {log_dir / f'{o.quarter}.log'})" if log_dir else ""
            lines.append(
                f"  ✗ {o.quarter} failed (exit {o.exit_code}); its last published issue is unchanged{log}:"
            )
            lines += [f"      {line}" for line in o.reason.splitlines()]
    return "\n".join(lines)


def backfill(
    first: str,
    last: str,
    data_root: Path | None = None,
    out_root: Path | None = None,
    *,
    parallel: int | None = None,
    strict: bool = False,
    ready: Path | None = None,
    emit: Callable[[str], None] = print,
) -> list[Outcome]:
    """Publish every quarter FROM..TO that has extracts and is not up to date -> the
    outcomes, oldest first. `parallel`: quarters published at once (default: 2 on a
    machine with 2 or more CPUs); each then runs its sections cpus // parallel at a
    time. `ready`: the environment marker the Makefile makes issues depend on."""
    start = time.perf_counter()
    data_root = (data_root or paths.data_root()).resolve()
    out_root = (out_root or paths.out_root()).resolve()
    quarters = quarter_range(first, last)
    cpus = os.cpu_count() or 1
    parallel = max(1, parallel or min(2, cpus))
    jobs = max(1, cpus // parallel)
    emit(
        f"==> backfill {quarters[0]}..{quarters[-1]} (extracts: {data_root}, output: {out_root}; "
        f"{parallel} quarter(s) at a time)"
    )
    also = [ready] if ready else []
    outcomes: dict[str, Outcome] = {}
    todo: list[str] = []
    for q in quarters:
        issue_dir = out_root / q
        if not has_extracts(q, data_root):
            outcomes[q] = Outcome(q, MISSING, reason=f"no extracts in {paths.quarter_dir(q, data_root)}")
        elif inputs.up_to_date(issue_dir, also) and not (strict and _strict_stale(issue_dir)):
            outcomes[q] = Outcome(q, UP_TO_DATE)
        else:
            todo.append(q)
            continue
        emit(format_line(outcomes[q]))
    if todo:
        emit(f"  publishing {len(todo)}: {' '.join(todo)}")
    lock = threading.Lock()
    log_dir = out_root / LOG_DIR

    def run(q: str) -> None:
        outcome = _publish_one(q, data_root, out_root, jobs, strict, log_dir)
        with lock:
            outcomes[q] = outcome
            emit(format_line(outcome))

    # Oldest first: a later quarter's year-earlier quarter is validated (and cached) before it.
    with ThreadPoolExecutor(parallel) as pool:
        for fut in [pool.submit(run, q) for q in todo]:
            fut.result()
    if any(outcomes[q].status == PUBLISHED for q in todo):
        from helpers.publish import pipeline  # heavy: only when something was published

        pipeline.refresh_index(out_root)
    ordered = [outcomes[q] for q in quarters]
    emit(format_summary(ordered, time.perf_counter() - start, log_dir))
    return ordered
