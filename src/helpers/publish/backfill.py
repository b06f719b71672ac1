"""Publishing a range of quarters: `make backfill FROM=2020Q2 TO=2022Q1 [DATA=] [OUT=]`.

Every quarter of the range whose extracts exist is published as `python -m
helpers.publish.cli publish Q` would publish it (the same command, messages and exit
code), unless its issue is up to date as `make quarter` would decide
(`inputs.up_to_date`, from the list the publisher wrote). A quarter that fails leaves
its last good issue as it was (the publisher's promise) and does not stop the others;
its reason is the first lines of the publisher's message (file, line, column, rule for
bad extracts).

Two worker processes (`cli backfill-worker`) publish a quarter each at a time, each
running its sections one at a time, the oldest quarters first, so that a quarter
validated as a later quarter's year-earlier quarter is already in the shared cache
(`KFWK_CACHE`) when that quarter comes. A worker publishes quarter after quarter in
one session: its imports, chart exporter and kernel zygote are started once, not once
a quarter (docs/decisions.md, "Backfill"). A worker that dies fails its quarter only:
the next quarter gets a new one. The index is written once at the end, so two
publishes finishing together cannot leave a quarter out of it.

This module is imported by the command line before anything heavy: a no-op
backfill (every quarter up to date) only reads file times.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.publish import inputs
from helpers.quarter import Quarter

PUBLISHED, UP_TO_DATE, MISSING, FAILED = "published", "up to date", "skipped", "failed"
EXTRACT_SUFFIXES = (".csv", ".csv.gz")
# Lines of a failed publish's stderr kept as its reason in the summary.
REASON_LINES = 6
# Each publish's whole output, under OUT (left alone by the index and by publishes).
LOG_DIR = ".backfill"
EXIT_UNEXPECTED = 1  # the CLI's exit status for anything unexpected


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


def _worker_command(jobs: int, strict: bool) -> list[str]:
    cmd = [sys.executable, "-m", "helpers.publish.cli", "backfill-worker", "--jobs", str(jobs)]
    return [*cmd, "--strict" if strict else "--no-strict"]


class _Worker:
    """One publishing process (`cli backfill-worker`): a quarter in on its stdin, one JSON
    line back on its stdout when that quarter is done; its own messages, outside any
    quarter, go to `log`."""

    def __init__(self, data_root: Path, out_root: Path, jobs: int, strict: bool, log: Path):
        # Not KFWK_REVISE: a correction's reason belongs to one quarter (`make quarter
        # REVISE=`), so a released quarter that would change fails with the refusal.
        dropped = ("KFWK_Q", "KFWK_REVISE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env |= {"KFWK_DATA": str(data_root), "KFWK_OUT": str(out_root)}
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(
                _worker_command(jobs, strict),
                cwd=paths.ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
                errors="replace",
            )

    def publish(self, quarter: str) -> dict | None:
        """Publish one quarter -> {"code", "output", "stderr"}; None if the process died."""
        try:
            self.proc.stdin.write(quarter + "\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def close(self) -> int:
        """End the process (it finishes its session: exporters, zygote) -> its exit status."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        return self.proc.wait()


def serve(jobs: int, strict: bool, publish_one: Callable[[str, Any], int]) -> int:
    """The worker's side (`cli backfill-worker`): publish each quarter named on stdin with
    `publish_one(quarter, session)` -> exit code, in one publishing session (exporters
    and kernel zygote started once), and answer each with a JSON line on stdout: the exit
    code and what the publish wrote to stdout and stderr (kernels it started included).
    Anything written between quarters goes to stderr."""
    from helpers.publish import pipeline

    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    with pipeline.PublishSession(jobs) as session:
        print(f"backfill worker {os.getpid()}: one session for its quarters", file=sys.stderr, flush=True)
        while quarter := sys.stdin.readline().strip():
            code, output, stderr = _captured(lambda q=quarter: publish_one(q, session))
            answer = {"quarter": quarter, "code": code, "output": output, "stderr": stderr}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    return 0


def _captured(run: Callable[[], int]) -> tuple[int, str, str]:
    """run() with file descriptors 1 and 2 (and so every process it starts meanwhile)
    writing to files -> (its result, stdout + stderr, stderr)."""
    with tempfile.TemporaryFile() as both, tempfile.TemporaryFile() as errors:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(both.fileno(), 1)
        os.dup2(errors.fileno(), 2)
        try:
            code = run()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        both.seek(0)
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
        return code, both.read().decode("utf-8", "replace") + err, err


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
    # Oldest first: a later quarter's year-earlier quarter is validated (and cached) before it.
    queue = iter(todo)

    def work(slot: int) -> None:
        """One worker process publishes quarter after quarter from the queue; one that
        died fails its quarter, and the next quarter gets a new process."""
        worker: _Worker | None = None
        while True:
            with lock:
                q = next(queue, None)
            if q is None:
                break
            if worker is None:
                worker = _Worker(data_root, out_root, jobs, strict, log_dir / f"worker-{slot}.log")
            start = time.perf_counter()
            answer = worker.publish(q)
            seconds = time.perf_counter() - start
            if answer is None:
                status = worker.close()
                worker = None
                reason = f"the publishing process ended unexpectedly (exit status {status}); see {log_dir}"
                outcome = Outcome(q, FAILED, seconds, reason, EXIT_UNEXPECTED)
            else:
                log_dir.mkdir(parents=True, exist_ok=True)
                (log_dir / f"{q}.log").write_text(answer["output"], encoding="utf-8")
                code = int(answer["code"])
                outcome = (
                    Outcome(q, PUBLISHED, seconds)
                    if code == 0
                    else Outcome(q, FAILED, seconds, _reason(answer["stderr"]), code)
                )
            with lock:
                outcomes[q] = outcome
                emit(format_line(outcome))
        if worker is not None:
            worker.close()

    with ThreadPoolExecutor(parallel) as pool:
        for fut in [pool.submit(work, slot) for slot in range(1, min(parallel, len(todo)) + 1)]:
            fut.result()
    if any(outcomes[q].status == PUBLISHED for q in todo):
        from helpers.publish import pipeline  # heavy: only when something was published

        pipeline.refresh_index(out_root)
    ordered = [outcomes[q] for q in quarters]
    emit(format_summary(ordered, time.perf_counter() - start, log_dir))
    return ordered
