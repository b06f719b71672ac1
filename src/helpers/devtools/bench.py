"""Benchmark of the publisher as the analyst uses it: `make bench [RUNS=3] [SCENARIOS=a,b,...]`.

Every publish runs as `make -s quarter Q=.. DATA=<temp copy> OUT=<temp>` in a
subprocess, exactly as the analyst types it, so make's own staleness decision is
part of what is timed. The user's data and outputs are never touched: the sample
extracts are copied (or generated) into a temporary folder first. The code is
snapshotted too (Makefile, src, notebooks, params, docs; the environments are
shared through symlinks), so editing the project while the benchmark runs
cannot make a no-op look stale; `--live` benchmarks the working tree instead.

Scenarios (median of RUNS runs each; name or letter for `--scenarios`):
  (a) cold   fresh OUT and fresh KFWK_CACHE: nothing cached at all
  (b) noop   `make quarter` again with nothing changed (make decides)
  (c) edit   one line appended to the copy's editorial foreword.md
  (d) touch  one extract's mtime bumped, content unchanged
  (e) scale  cold publish of SCALE=10 sample data (generation timed apart)
  (f) huge   cold publish of SCALE=30 sample data (generation timed apart)
  (g) backfill  `make backfill` of the eight sample quarters 2020Q2..2022Q1, cold
             (fresh OUT and cache; the eight quarters generated apart, untimed)
  (h) backfill-noop  the same backfill again: every quarter up to date
  (p) peer   the same section notebooks run the stock way, cold: papermill per
             section, `jupyter nbconvert --to html --no-input` per notebook,
             the pages concatenated; run interleaved with (a), compared with it

Measured per run: wall time; stage split from the progress lines (the
publisher's own stage timings; `startup`, `sections` and `finish` are the gaps
between lines as they arrive); memory (see docs/proof.md): `peak_tree_pss_mb`,
the largest sum of PSS (/proc/<pid>/smaps_rollup) over the whole process tree
sampled every 0.1 s (less often when that would take the sampler over a tenth of
a core: SAMPLER_BUDGET), which the limits use, also attributed to the stage during
which it was sampled; `peak_tree_rss_mb`, the same sum of RSS (shared pages
counted once per process); `max_process_rss_mb` from wait4 rusage (the largest
single process). Results print as a table and are written to `<OUT>/bench.json`.
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from helpers import paths
from helpers.quarter import Quarter, QuarterError


@dataclass(frozen=True)
class Scenario:
    letter: str
    label: str  # may name {scale} / {huge_scale}
    limit_s: float | None = None  # wall-time limit of the median, if a fixed one


# In the order they are reported. (e)'s time limit is relative to (a); (p) is a ratio to (a).
SCENARIOS: dict[str, Scenario] = {
    "cold": Scenario("a", "(a) cold publish", 20.0),
    "noop": Scenario("b", "(b) no-op re-publish", 1.0),
    "edit": Scenario("c", "(c) one editorial edit", 5.0),
    "touch": Scenario("d", "(d) one extract touched"),
    "scale": Scenario("e", "(e) cold publish, SCALE={scale}"),
    "huge": Scenario("f", "(f) cold publish, SCALE={huge_scale}"),
    "backfill": Scenario("g", "(g) backfill of 8 quarters, cold"),
    "backfill-noop": Scenario("h", "(h) no-op backfill", 1.0),
    # What `make quarter Q=2022Q1` costs on a fresh clone, whose sample has eight quarters:
    # the 近期趋势 section needs every window quarter validated and its figures computed.
    "cold8": Scenario("i", "(i) cold publish, 8 quarters present"),
    "peer": Scenario("p", "(p) peer: stock papermill+nbconvert"),
}
SCALE_FACTOR_LIMIT = 2.0  # (e) wall <= 2 x (a)
SCALE_PSS_LIMIT_MB = 1024.0  # (e) peak tree PSS <= 1 GB
HUGE_PSS_LIMIT_MB = 1536.0  # (f) peak tree PSS <= 1.5 GB
PEER_RATIO_MIN = 6.0  # (p) the publish must be >= 6x faster than the peer
# (g) the eight quarters in <= 8 x (a) / 1.5: the second core and the shared caches pay off.
# Also judged against 8 x (i) / 1.5 when (i) ran: one quarter published cold from the same
# eight-quarter data, which is what publishing the eight one by one from cold would cost.
BACKFILL_SPEEDUP = 1.5
# Disk wanted for a scaled copy: the CSVs, plus one run's parquet cache (uncompressed: about
# half the CSVs' size) and output, per scale-1 byte.
DISK_FACTOR = 1.8

STAGE_RE = re.compile(r"^  (?P<name>[a-z][a-z_ ]*?[a-z])\s+(?P<secs>\d+\.\d) s(?:\s|$)")
SECTIONS_RE = re.compile(r"^  sections: (?P<run>\d+) to run, (?P<same>\d+) unchanged")
ROLLUP_RE = re.compile(r"^(?P<field>\w+):\s+(?P<kb>\d+) kB\s*$", re.M)
# Inherited from an outer `make bench`: they would leak its command line into ours.
_DROP_ENV = (
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "KFWK_Q",
    "KFWK_DATA",
    "KFWK_OUT",
    "KFWK_REF",
    "KFWK_SCALE",
    "KFWK_RUNS",
    "KFWK_SCENARIOS",
)
PROC = Path("/proc")
KERNEL = "kefu-weikan"


class BenchError(RuntimeError):
    """A publish under benchmark failed; the message carries its output's tail, `run` what
    was measured until it failed (wall time, memory) when the command had started."""

    def __init__(self, message: str, run: Run | None = None):
        super().__init__(message)
        self.run = run


@dataclass
class Run:
    """One timed command: wall seconds, stage seconds and peak PSS, memory, sections re-run."""

    wall_s: float
    stages: dict[str, float] = field(default_factory=dict)
    stage_peak_pss_mb: dict[str, float] = field(default_factory=dict)
    section_s: dict[str, float] = field(default_factory=dict)
    sections_run: int | None = None
    max_process_rss_mb: float = 0.0
    peak_tree_rss_mb: float = 0.0
    peak_tree_pss_mb: float = 0.0
    samples: int = 0
    sampler_cpu_s: float = 0.0  # what the memory sampler itself took (see TreeSampler)


def _mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


# ----------------------------------------------------------------- scenarios chosen


def parse_scenarios(text: str | None) -> list[str]:
    """`a,b,peer` -> scenario names in report order; empty or `all` -> every scenario.

    Raises ValueError naming the unknown entries.
    """
    by_letter = {s.letter: name for name, s in SCENARIOS.items()}
    wanted, unknown = set(), []
    for item in (text or "").replace(" ", ",").split(","):
        item = item.strip().lower()
        if not item:
            continue
        if item == "all":
            wanted.update(SCENARIOS)
        elif item in SCENARIOS:
            wanted.add(item)
        elif item in by_letter:
            wanted.add(by_letter[item])
        else:
            unknown.append(item)
    if unknown:
        known = ", ".join(f"{s.letter}/{name}" for name, s in SCENARIOS.items())
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}: choose from {known} (or all)")
    return [name for name in SCENARIOS if name in wanted] if wanted else list(SCENARIOS)


# ----------------------------------------------------------------- memory


def parse_rollup(text: str) -> dict[str, int]:
    """Text of /proc/<pid>/smaps_rollup (or smaps) -> {field: bytes}, repeated fields summed.

    Summing makes the per-mapping `smaps` give the same totals as `smaps_rollup`.
    """
    totals: dict[str, int] = {}
    for m in ROLLUP_RE.finditer(text):
        totals[m.group("field")] = totals.get(m.group("field"), 0) + int(m.group("kb")) * 1024
    return totals


def _children_map(proc: Path = PROC) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The command name (field 2) may hold spaces; ppid is the 2nd field after ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_pids(root: int, proc: Path = PROC) -> list[int]:
    """PID -> it and all its descendants (by parent pid) that are alive now."""
    kids = _children_map(proc)
    found, todo, seen = [], [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def process_memory(pid: int, proc: Path = PROC) -> tuple[int, int]:
    """PID -> (RSS, PSS) bytes from smaps_rollup (smaps on kernels before 4.14); (0, 0) if gone."""
    for name in ("smaps_rollup", "smaps"):
        try:
            fields = parse_rollup((proc / str(pid) / name).read_text())
        except FileNotFoundError:
            continue
        except OSError:  # exited (ESRCH), or not ours
            return 0, 0
        return fields.get("Rss", 0), fields.get("Pss", 0)
    return 0, 0


def tree_memory(root: int, proc: Path = PROC) -> tuple[int, int]:
    """PID -> (summed RSS, summed PSS) in bytes over it and its descendants.

    PSS charges each page shared by n processes 1/n to each, so its sum counts
    shared pages (libraries, copy-on-write pages of forked kernels) once; the RSS
    sum counts them once per process and over-states what the tree occupies.
    """
    rss = pss = 0
    for pid in tree_pids(root, proc):
        r, p = process_memory(pid, proc)
        rss, pss = rss + r, pss + p
    return rss, pss


#: The memory sampler's CPU at most, as a share of one core. A sample reads every process's
#: smaps_rollup, which walks its page tables: 30 ms over a publish's tree, 65 ms over a
#: backfill's (twelve processes). Every 0.1 s that took 18-23 % of a core from what was
#: being timed, and more from the scenarios with more processes.
SAMPLER_BUDGET = 0.1


class TreeSampler(threading.Thread):
    """Samples (seconds since `start`, tree RSS, tree PSS) of a process tree every `interval` s,
    or less often when a sample costs more than `budget` of a core would allow (`cpu_s`: the
    sampler's own CPU time, this thread's, kernel time included)."""

    def __init__(
        self,
        root: int,
        start: float,
        interval: float = 0.1,
        proc: Path = PROC,
        budget: float = SAMPLER_BUDGET,
    ):
        super().__init__(daemon=True)
        self.root, self.start_time, self.interval, self.proc = root, start, interval, proc
        self.budget = budget
        self.samples: list[tuple[float, int, int]] = []
        self.cpu_s = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            t = time.perf_counter() - self.start_time
            before = time.thread_time()
            rss, pss = tree_memory(self.root, self.proc)
            cost = time.thread_time() - before
            self.cpu_s += cost
            if rss or pss:
                self.samples.append((t, rss, pss))
            self.done.wait(self.pause(cost))

    def pause(self, cost: float) -> float:
        """Seconds to wait after a sample that cost `cost` CPU-seconds: `interval`, or as long
        as keeps the sampler within its budget."""
        return max(self.interval, cost / self.budget - cost)

    def stop(self) -> list[tuple[float, int, int]]:
        self.done.set()
        self.join(10)
        return self.samples


# ----------------------------------------------------------------- stages


def stage_intervals(lines: Sequence[tuple[float, str]], wall: float) -> list[tuple[str, float, float]]:
    """Timestamped progress lines (seconds since start, text) + wall -> [(stage, start, end)].

    Top-level stages (any `  <name>  N.N s` line but `section <id>`; the
    publisher prints validate, figures, assemble) end when their line arrives
    and began their own printed time before. `startup` runs until the first
    `==> publishing` line (make, interpreter, imports); `sections` from the
    `sections: N to run` line until the next top-level stage began (sections run
    in parallel: it is not their sum); `finish` from the end of the last
    top-level stage to the end. Empty when nothing was published (no-op).
    """
    t_publishing = t_sections = None
    top: list[tuple[str, float, float]] = []
    last_section_end = None
    for t, text in lines:
        if text.startswith("==> publishing") and t_publishing is None:
            t_publishing = t
        if SECTIONS_RE.match(text):
            t_sections = t
        elif m := STAGE_RE.match(text):
            name, secs = m.group("name"), float(m.group("secs"))
            if name.startswith("section "):
                last_section_end = t
            else:
                top.append((name, max(0.0, t - secs), t))
    if t_publishing is None:
        return []
    intervals = [("startup", 0.0, t_publishing), *top]
    if t_sections is not None:
        after = [start for _, start, end in top if end > t_sections]
        end = min(after) if after else (last_section_end if last_section_end is not None else wall)
        intervals.append(("sections", t_sections, max(t_sections, end)))
    last_end = max(end for _, _, end in intervals)
    intervals.append(("finish", last_end, max(last_end, wall)))
    return sorted(intervals, key=lambda iv: iv[1])


def split_stages(lines: Sequence[tuple[float, str]], wall: float) -> tuple[dict[str, float], int | None]:
    """Timestamped progress lines + wall -> (stage seconds in order, sections run or None)."""
    stages: dict[str, float] = {}
    for name, start, end in stage_intervals(lines, wall):
        stages[name] = round(stages.get(name, 0.0) + end - start, 2)
    runs = [int(m.group("run")) for _, text in lines if (m := SECTIONS_RE.match(text))]
    return stages, (runs[-1] if runs and stages else None)


def section_times(lines: Iterable[tuple[float, str]]) -> dict[str, float]:
    """`  section <id>  N.N s` lines -> {id: seconds} (the section's own timing)."""
    out: dict[str, float] = {}
    for _, text in lines:
        if (m := STAGE_RE.match(text)) and m.group("name").startswith("section "):
            out[m.group("name").removeprefix("section ").strip()] = float(m.group("secs"))
    return out


def stage_peaks(
    samples: Iterable[tuple[float, int]], intervals: Sequence[tuple[str, float, float]]
) -> dict[str, int]:
    """(t, bytes) samples + stage intervals -> {stage: the largest sample taken during it}.

    A sample belongs to the stage that began last at or before its time (so a
    moment between two stages counts for the earlier one, and every sample is
    attributed: the largest per-stage peak is the run's peak). Samples before
    the first stage count for it. No intervals -> {}.
    """
    ordered = sorted(intervals, key=lambda iv: iv[1])
    peaks: dict[str, int] = {}
    if not ordered:
        return peaks
    for t, value in samples:
        owner = ordered[0][0]
        for name, start, _ in ordered:
            if start <= t:
                owner = name
            else:
                break
        peaks[owner] = max(peaks.get(owner, 0), value)
    return {name: peaks[name] for name, _, _ in ordered if name in peaks}


# ----------------------------------------------------------------- one run

# What a publish reads from the project; copied with their mtimes (copy2), so
# make finds the snapshot exactly as up to date as the working tree.
SNAPSHOT_ITEMS = (
    "Makefile",
    "mk",
    "src",
    "notebooks",
    "params",
    "docs",
    "pyproject.toml",
    "requirements.txt",
    "requirements-kernel.txt",
)
ENVIRONMENTS = (".venv", ".venv-kernel")


def snapshot_project(dest: Path) -> Path:
    """Copy the code a publish uses into dest (environments symlinked) -> dest.

    Publishes in dest import `helpers` from dest/src (PYTHONPATH, set by
    `_env`, comes before the editable install's path), so the snapshot's code
    and notebooks are what runs.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in SNAPSHOT_ITEMS:
        src = paths.ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for name in ENVIRONMENTS:
        (dest / name).symlink_to(paths.ROOT / name, target_is_directory=True)
    return dest


def _env(cache: Path, project: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env["KFWK_CACHE"] = str(cache)
    env["PYTHONUNBUFFERED"] = "1"  # progress lines must arrive when printed, for the split
    if project is not None and project != paths.ROOT:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(project / "src"), os.environ.get("PYTHONPATH", "")) if p
        )
    return env


def timed_command(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[Run, list[str]]:
    """Run cmd, sampling its process tree -> (Run, output lines). Raises BenchError if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        errors="replace",
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    sampler = TreeSampler(proc.pid, start)
    reader.start()
    sampler.start()
    # wait4 instead of proc.wait(): its rusage covers the command and every descendant it reaped.
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    samples = sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(10)
    text = [line for _, line in lines]
    intervals = stage_intervals(lines, wall)
    run = Run(
        wall_s=round(wall, 3),
        stage_peak_pss_mb={
            k: _mb(v) for k, v in stage_peaks([(t, p) for t, _, p in samples], intervals).items()
        },
        section_s=section_times(lines),
        max_process_rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        peak_tree_rss_mb=_mb(max((r for _, r, _ in samples), default=0)),
        peak_tree_pss_mb=_mb(max((p for _, _, p in samples), default=0)),
        samples=len(samples),
        sampler_cpu_s=round(sampler.cpu_s, 2),
    )
    run.stages, run.sections_run = split_stages(lines, wall)
    if proc.returncode != 0:
        tail = "\n".join(text[-25:])
        raise BenchError(f"`{shlex.join(cmd)}` exited with {proc.returncode}:\n{tail}", run)
    return run, text


def timed_make(
    quarter: str, data: Path, out: Path, cache: Path, project: Path | None = None
) -> tuple[Run, list[str]]:
    """`make -s quarter` in the project (default: this one) -> (Run, output lines)."""
    project = project or paths.ROOT
    cmd = ["make", "-s", "quarter", f"Q={quarter}", f"DATA={data}", f"OUT={out}"]
    return timed_command(cmd, project, _env(cache, project))


def timed_backfill(data: Path, out: Path, cache: Path, project: Path | None = None) -> tuple[Run, list[str]]:
    """`make -s backfill` of the eight sample quarters -> (Run, output lines)."""
    project = project or paths.ROOT
    first, last = ALL_SAMPLE_QUARTERS[0], ALL_SAMPLE_QUARTERS[-1]
    cmd = ["make", "-s", "backfill", f"FROM={first}", f"TO={last}", f"DATA={data}", f"OUT={out}"]
    return timed_command(cmd, project, _env(cache, project))


# ----------------------------------------------------------------- the peer


def peer_sections(quarter: str, data: Path) -> list:
    """The sections the publisher would show: SECTIONS minus editorial ones whose file is missing."""
    from helpers.publish.sections import SECTIONS

    editorial = paths.editorial_dir(quarter, data)
    return [s for s in SECTIONS if not (s.editorial and not (editorial / f"{s.editorial}.md").exists())]


_PEER_PRELUDE = """\
set -euo pipefail
# Elapsed time of a step, printed like the publisher's progress lines (for the stage split).
took() {
  local d=$(( ${EPOCHREALTIME/[.,]/} - $2 + 50000 ))
  printf '  %-28s %6d.%d s\\n' "$1" $(( d / 1000000 )) $(( d / 100000 % 10 ))
}
"""


def peer_script(project: Path, quarter: str, data: Path, out: Path, sections: Sequence) -> str:
    """The bash script of scenario (p): the stock way a user runs the section notebooks.

    For each section, in print order: `papermill <notebook> <out> -k kefu-weikan
    -p quarter Q -p data_root <data> -p figures_dir <dir> [-p name value ...]`
    with cwd notebooks/; then `jupyter nbconvert --to html --no-input` on each
    executed notebook; then the pages concatenated into out/issue.html. One
    after the other. The `took` lines only report times.
    """
    q = shlex.quote
    papermill, jupyter = project / ".venv" / "bin" / "papermill", project / ".venv" / "bin" / "jupyter"
    lines = [
        _PEER_PRELUDE,
        f"echo {q(f'==> publishing {quarter} the stock way (peer): papermill, nbconvert, cat')}",
        f"mkdir -p {q(str(out))}",
        f"cd {q(str(project / 'notebooks'))}",
        "T=${EPOCHREALTIME/[.,]/}",
    ]
    pages = []
    for i, sec in enumerate(sections, start=1):
        nb = out / f"{i:02d}_{sec.id}.ipynb"
        pages.append(nb.with_suffix(".html"))
        params = {
            "quarter": quarter,
            "data_root": str(data),
            "figures_dir": str(out / "figures" / sec.id),
            **sec.parameters,
        }
        args = [str(papermill), sec.notebook, str(nb), "-k", KERNEL]
        for name, value in params.items():
            args += ["-p", str(name), str(value)]
        lines += ["S=${EPOCHREALTIME/[.,]/}", shlex.join(args), f"took {q(f'section {sec.id}')} $S"]
    lines += ["took execute $T", "T=${EPOCHREALTIME/[.,]/}"]
    for page in pages:
        lines.append(
            shlex.join(
                [str(jupyter), "nbconvert", "--to", "html", "--no-input", str(page.with_suffix(".ipynb"))]
            )
        )
    lines += [
        "took convert $T",
        "T=${EPOCHREALTIME/[.,]/}",
        f"cat {' '.join(q(str(p)) for p in pages)} > {q(str(out / 'issue.html'))}",
        "took concatenate $T",
        f"echo {q('==> peer issue: ' + str(out / 'issue.html'))}",
    ]
    return "\n".join(lines) + "\n"


def timed_peer(project: Path, quarter: str, data: Path, out: Path, cache: Path) -> tuple[Run, list[str]]:
    """Scenario (p) once, cold (fresh `cache`), with the environment (a) gets -> (Run, output lines)."""
    out.mkdir(parents=True, exist_ok=True)
    script = out.parent / f"{out.name}.sh"
    script.write_text(
        peer_script(project, quarter, data, out, peer_sections(quarter, data)), encoding="utf-8"
    )
    return timed_command(["bash", str(script)], project / "notebooks", _env(cache, project))


# ----------------------------------------------------------------- data


def prepare_data(quarter: Quarter, work: Path, emit, project: Path | None = None) -> tuple[Path, str]:
    """Copy `<DATA>/<Q>` and its prior year into work/data, or generate the sample there.

    Returns (data root, a note on where it came from). The user's folders are only read.
    """
    dest = work / "data"
    source = paths.data_root()
    if (source / str(quarter)).is_dir():
        for q in (quarter, quarter.prior_year()):
            if (source / str(q)).is_dir():
                shutil.copytree(source / str(q), dest / str(q))
        return dest, f"copied from {source}"
    emit(f"  no {source / str(quarter)}: generating the sample into a temporary folder")
    _generate(dest, 1, project)
    return dest, "generated sample (SCALE=1)"


# The quarter the scenarios publish and its prior year: the sample's other quarters are
# not generated (at SCALE=30 each costs minutes and gigabytes).
SAMPLE_QUARTERS = ("2022Q1", "2021Q1")
# (g)/(h) publish all eight.
ALL_SAMPLE_QUARTERS = ("2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2", "2021Q3", "2021Q4", "2022Q1")


def _generate(
    dest: Path, scale: int, project: Path | None = None, quarters: Sequence[str] = SAMPLE_QUARTERS
) -> float:
    project = project or paths.ROOT
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.devtools.sample",
            "--data",
            str(dest),
            "--scale",
            str(scale),
            "--quarters",
            *quarters,
        ],
        cwd=project,
        env=_env(dest / ".unused-cache", project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise BenchError(f"generating SCALE={scale} sample data failed ({result.returncode}):\n{tail}")
    return round(time.perf_counter() - start, 2)


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _extract_path(folder: Path, name: str) -> Path:
    for ext in (".csv", ".csv.gz"):
        if (folder / f"{name}{ext}").exists():
            return folder / f"{name}{ext}"
    raise BenchError(f"no {name}.csv or {name}.csv.gz in {folder}")


# ----------------------------------------------------------------- the bench


def run_bench(
    quarter: str = "2022Q1",
    runs: int = 3,
    scale: int = 10,
    *,
    emit=print,
    keep: bool = False,
    live: bool = False,
    scenarios: Sequence[str] | None = None,
    huge_scale: int = 30,
) -> dict:
    """Run the chosen scenarios (default all) `runs` times each -> the dict written to bench.json.

    `live`: publish with the working tree's code instead of a snapshot of it. A
    failing publish stops its scenario (reported as failed) and the others go on.
    """
    chosen = list(scenarios or SCENARIOS)
    q = Quarter.parse(quarter)
    work = Path(tempfile.mkdtemp(prefix="kfwk-bench-"))
    project = paths.ROOT if live else snapshot_project(work / "project")
    results: dict = {
        "quarter": str(q),
        "runs": runs,
        "scale": scale,
        "huge_scale": huge_scale,
        "scenarios_chosen": chosen,
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_mb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20),
        },
        "code": "working tree" if live else "snapshot of the working tree",
        "scenarios": {},
    }
    by_name: dict[str, list[Run]] = {name: [] for name in chosen}
    failed: dict[str, str] = {}
    failed_runs: dict[str, Run] = {}
    skipped: dict[str, str] = {}
    try:
        data, note = prepare_data(q, work, emit, project)
        results["data"] = {"source": note, "generated": {}}

        def one(name: str, timed: Callable[[], tuple[Run, list[str]]]) -> Run | None:
            """One timed run of a scenario; a failure is recorded and ends the scenario."""
            label = label_of(name, results)
            try:
                run, _ = timed()
            except BenchError as exc:
                failed[name] = str(exc)
                if exc.run is not None:
                    failed_runs[name] = exc.run
                emit(
                    f"  {label:<36} run {len(by_name[name]) + 1}/{runs}: ✗ failed"
                    + (
                        f" after {exc.run.wall_s:.1f} s, PSS {exc.run.peak_tree_pss_mb:.0f} MB"
                        if exc.run
                        else ""
                    )
                )
                return None
            by_name[name].append(run)
            detail = (
                "(backfill)"
                if name.startswith("backfill")
                else f"({run.sections_run} section(s) run)"
                if run.sections_run is not None
                else f"({len(run.section_s)} notebook(s))"
                if name == "peer"
                else "(make: up to date)"
            )
            emit(
                f"  {label:<36} run {len(by_name[name])}/{runs}: {run.wall_s:7.2f} s  "
                f"PSS {run.peak_tree_pss_mb:.0f} MB  {detail}"
            )
            return run

        # (a) and (p) interleaved: a change of load on the shared machine hits both alike.
        last_cold: tuple[Path, Path] | None = None
        for i in range(runs):
            if "cold" in chosen and "cold" not in failed:
                out, cache = work / f"out-cold-{i}", work / f"cache-cold-{i}"
                if one("cold", lambda o=out, c=cache: timed_make(str(q), data, o, c, project)):
                    last_cold = (out, cache)
            if "peer" in chosen and "peer" not in failed:
                out, cache = work / f"peer-{i}", work / f"cache-peer-{i}"
                one("peer", lambda o=out, c=cache: timed_peer(project, str(q), data, o, c))

        warm = [name for name in ("noop", "edit", "touch") if name in chosen]
        if warm and last_cold is None and "cold" not in chosen:
            emit("  setup: one cold publish for (b)-(d) to continue from (not reported)")
            out, cache = work / "out-setup", work / "cache-setup"
            try:
                timed_make(str(q), data, out, cache, project)
                last_cold = (out, cache)
            except BenchError as exc:
                for name in warm:
                    skipped[name] = f"the setup publish failed: {exc}"
        if warm and last_cold is None:
            for name in warm:
                skipped.setdefault(name, "no successful cold publish to continue from")
            warm = []
        # (b)-(d) continue from the last cold publish, its cache warm, as an analyst would.
        if warm and last_cold is not None:
            out, cache = last_cold

            def make() -> tuple[Run, list[str]]:
                return timed_make(str(q), data, out, cache, project)

            for _ in range(runs if "noop" in warm else 0):
                if not one("noop", make):
                    break
            editorial = paths.editorial_dir(str(q), data)
            edit_file = next(
                iter(sorted(editorial.glob("foreword.md")) or sorted(editorial.glob("*.md"))), None
            )
            if "edit" in warm and edit_file is None:
                skipped["edit"] = "the data has no editorial files"
            for i in range(runs if "edit" in warm and edit_file is not None else 0):
                with edit_file.open("a", encoding="utf-8") as handle:
                    handle.write(f"\n基准测试追加的一行 / line added by the benchmark ({i + 1}).\n")
                if not one("edit", make):
                    break
            if "touch" in warm:
                touch_file = _extract_path(data / str(q), "inbound_calls")
                for _ in range(runs):
                    os.utime(touch_file)  # mtime only: same bytes, so the same content hashes
                    if not one("touch", make):
                        break

        for name, factor in (("scale", scale), ("huge", huge_scale)):
            if name not in chosen:
                continue
            big = work / f"data-x{factor}"
            need = int(_tree_bytes(data) * factor * DISK_FACTOR)
            free = shutil.disk_usage(work).free
            if free < need:
                failed[name] = (
                    f"not enough disk for SCALE={factor} in {work}: about {need / 2**30:.1f} GB "
                    f"wanted, {free / 2**30:.1f} GB free"
                )
                emit(f"  ✗ {failed[name]}")
                continue
            emit(f"  generating SCALE={factor} sample data into {big} (timed apart, not a publish)…")
            try:
                seconds = _generate(big, factor, project)
            except BenchError as exc:
                failed[name] = str(exc)
                emit(f"  ✗ {exc}")
                continue
            results["data"]["generated"][name] = {
                "scale": factor,
                "seconds": seconds,
                "mb": _mb(_tree_bytes(big)),
            }
            for i in range(runs):
                out, cache = work / f"out-{name}-{i}", work / f"cache-{name}-{i}"
                ok = one(name, lambda o=out, c=cache, d=big: timed_make(str(q), d, o, c, project))
                if not keep:  # a scaled run's cache and output are large: free the disk now
                    shutil.rmtree(out, ignore_errors=True)
                    shutil.rmtree(cache, ignore_errors=True)
                if not ok:
                    break
            if not keep:
                shutil.rmtree(big, ignore_errors=True)

        # (g) and (h): the eight sample quarters, generated apart (not timed as a publish).
        if "backfill" in chosen or "backfill-noop" in chosen or "cold8" in chosen:
            eight = work / "data-8q"
            emit(f"  generating the eight sample quarters into {eight} (timed apart, not a publish)…")
            try:
                seconds = _generate(eight, 1, project, ALL_SAMPLE_QUARTERS)
            except BenchError as exc:
                for name in ("backfill", "backfill-noop", "cold8"):
                    if name in chosen:
                        failed[name] = str(exc)
                emit(f"  ✗ {exc}")
            else:
                results["data"]["generated"]["backfill"] = {
                    "scale": 1,
                    "seconds": seconds,
                    "mb": _mb(_tree_bytes(eight)),
                }
                for i in range(runs if "cold8" in chosen else 0):
                    out, cache = work / f"out-cold8-{i}", work / f"cache-cold8-{i}"
                    ok = one("cold8", lambda o=out, c=cache: timed_make(str(q), eight, o, c, project))
                    shutil.rmtree(out, ignore_errors=True)
                    shutil.rmtree(cache, ignore_errors=True)
                    if not ok:
                        break
                last_backfill: tuple[Path, Path] | None = None
                for i in range(runs if "backfill" in chosen else 0):
                    out, cache = work / f"out-backfill-{i}", work / f"cache-backfill-{i}"
                    if not one("backfill", lambda o=out, c=cache: timed_backfill(eight, o, c, project)):
                        break
                    last_backfill = (out, cache)
                if "backfill-noop" in chosen and last_backfill is None and "backfill" not in chosen:
                    emit("  setup: one cold backfill for (h) to continue from (not reported)")
                    out, cache = work / "out-backfill-setup", work / "cache-backfill-setup"
                    try:
                        timed_backfill(eight, out, cache, project)
                        last_backfill = (out, cache)
                    except BenchError as exc:
                        skipped["backfill-noop"] = f"the setup backfill failed: {exc}"
                if "backfill-noop" in chosen and last_backfill is None:
                    skipped.setdefault("backfill-noop", "no successful cold backfill to continue from")
                elif "backfill-noop" in chosen and last_backfill is not None:
                    out, cache = last_backfill
                    for _ in range(runs):
                        if not one("backfill-noop", lambda: timed_backfill(eight, out, cache, project)):
                            break
    finally:
        results["scenarios"] = _summarise(by_name, results, failed, skipped, failed_runs)
        if keep:
            emit(f"  kept the benchmark folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return results


def label_of(name: str, results: dict) -> str:
    return SCENARIOS[name].label.format(
        scale=results.get("scale", 10), huge_scale=results.get("huge_scale", 30)
    )


def _summarise(
    by_name: dict[str, list[Run]],
    results: dict,
    failed: dict[str, str] | None = None,
    skipped: dict[str, str] | None = None,
    failed_runs: dict[str, Run] | None = None,
) -> dict:
    """Runs per scenario -> medians, per-stage medians and peaks, and the target verdicts.

    A failed scenario keeps its message (`failed`) and what its failing run
    measured (`failed_run`); only successful runs enter the medians and peaks.
    """
    failed, skipped, failed_runs = failed or {}, skipped or {}, failed_runs or {}
    out: dict[str, dict] = {}
    for name in SCENARIOS:
        runs = by_name.get(name, [])
        if name not in by_name and name not in failed and name not in skipped:
            continue
        summary: dict = {"label": label_of(name, results)}
        if name in skipped and not runs:
            summary["skipped"] = skipped[name]
            out[name] = summary
            continue
        if name in failed:
            summary["failed"] = failed[name]
            if name in failed_runs:
                summary["failed_run"] = asdict(failed_runs[name])
        if runs:
            stage_names = list(dict.fromkeys(s for r in runs for s in r.stages))
            peak_names = list(dict.fromkeys(s for r in runs for s in r.stage_peak_pss_mb))
            summary.update(
                {
                    "median_s": round(statistics.median(r.wall_s for r in runs), 3),
                    "stages_median_s": {
                        s: round(statistics.median(r.stages.get(s, 0.0) for r in runs), 2)
                        for s in stage_names
                    },
                    "stage_peak_pss_mb": {
                        s: max(r.stage_peak_pss_mb.get(s, 0.0) for r in runs) for s in peak_names
                    },
                    "peak_tree_pss_mb": max(r.peak_tree_pss_mb for r in runs),
                    "peak_tree_rss_mb": max(r.peak_tree_rss_mb for r in runs),
                    "max_process_rss_mb": max(r.max_process_rss_mb for r in runs),
                    "runs": [asdict(r) for r in runs],
                }
            )
        out[name] = summary
    for name, summary in out.items():
        if "skipped" not in summary and (target := verdict(name, summary, out)) is not None:
            summary["target"] = target
    return out


def _check(rule: str, ok: bool | None) -> dict:
    return {"rule": rule, "ok": ok}


def verdict(name: str, summary: dict, summaries: dict) -> dict | None:
    """A scenario's summary (+ all, for (a)'s median) -> {"checks": [{rule, ok}], "ok"} or None.

    `ok` is True / False, or None where it cannot be judged: a check needs (a)
    and (a) did not run, or no run finished to measure. Medians are checked for
    time, the largest peak over the (successful) runs for memory. A failed
    publish fails the scenario.
    """
    median = summary.get("median_s")
    cold = summaries.get("cold", {}).get("median_s")
    pss = summary.get("peak_tree_pss_mb")
    checks: list[dict] = []
    if "failed" in summary and name != "huge":
        checks.append(_check("publishes", False))
    limit = SCENARIOS[name].limit_s
    if limit is not None:
        checks.append(_check(f"≤ {limit:g} s", median is not None and median <= limit))
    if name == "scale":
        if cold is None:
            checks.append(_check(f"≤ {SCALE_FACTOR_LIMIT:g}×(a): (a) not run", None))
        else:
            bound = SCALE_FACTOR_LIMIT * cold
            checks.append(
                _check(
                    f"≤ {SCALE_FACTOR_LIMIT:g}×(a) = {bound:.1f} s", median is not None and median <= bound
                )
            )
        checks.append(
            _check(
                f"PSS ≤ {SCALE_PSS_LIMIT_MB / 1024:g} GB", None if pss is None else pss <= SCALE_PSS_LIMIT_MB
            )
        )
    elif name == "huge":
        checks.append(_check("publishes", "failed" not in summary and median is not None))
        checks.append(
            _check(
                f"PSS ≤ {HUGE_PSS_LIMIT_MB / 1024:g} GB", None if pss is None else pss <= HUGE_PSS_LIMIT_MB
            )
        )
    elif name == "backfill":
        if cold is None:
            checks.append(_check(f"≤ 8×(a)/{BACKFILL_SPEEDUP:g}: (a) not run", None))
        else:
            bound = 8 * cold / BACKFILL_SPEEDUP
            checks.append(
                _check(
                    f"≤ 8×(a)/{BACKFILL_SPEEDUP:g} = {bound:.1f} s", median is not None and median <= bound
                )
            )
        cold8 = summaries.get("cold8", {}).get("median_s")
        if cold8 is not None:
            bound = 8 * cold8 / BACKFILL_SPEEDUP
            checks.append(
                _check(
                    f"≤ 8×(i)/{BACKFILL_SPEEDUP:g} = {bound:.1f} s", median is not None and median <= bound
                )
            )
    elif name == "peer":
        if cold is None or median is None:
            what = "(a) not run" if cold is None else "peer did not finish"
            checks.append(_check(f"(a) ≥ {PEER_RATIO_MIN:g}× faster: {what}", None))
        else:
            ratio = median / cold
            summary["ratio_to_cold"] = round(ratio, 2)
            checks.append(
                _check(f"(a) ≥ {PEER_RATIO_MIN:g}× faster: peer/(a) = {ratio:.1f}×", ratio >= PEER_RATIO_MIN)
            )
    if not checks:
        return None
    oks = [c["ok"] for c in checks]
    ok = False if False in oks else None if None in oks else True
    return {"checks": checks, "ok": ok, "rule": "; ".join(c["rule"] for c in checks)}


def _mark(ok: bool | None) -> str:
    return "✓" if ok is True else "✗" if ok is False else "?"


def format_table(results: dict) -> str:
    """bench.json's dict -> a plain table with ✓/✗ beside each target, stages below each row."""
    data = results.get("data", {})
    head = (
        f"{'scenario':<36} {'median':>9}  {'target':<44} {'runs (s)':<24} "
        f"peak PSS tree / RSS tree / RSS 1 proc"
    )
    lines = [
        f"客服微刊 benchmark — {results['quarter']}, {results['runs']} run(s) each, "
        f"{results['environment']['cpus']} CPUs, data {data.get('source', '?')}",
        head,
        "-" * len(head),
    ]
    for summary in results["scenarios"].values():
        if "skipped" in summary:
            lines.append(f"{summary['label']:<36} {'—':>9}  skipped: {summary['skipped']}")
            continue
        target = summary.get("target")
        verdict_text = (
            "; ".join(f"{_mark(c['ok'])} {c['rule']}" for c in target["checks"]) if target else "(no target)"
        )
        if "median_s" not in summary:
            lines.append(f"{summary['label']:<36} {'failed':>9}  {verdict_text}")
        else:
            runs = " ".join(f"{r['wall_s']:.2f}" for r in summary["runs"])
            mem = (
                f"{summary['peak_tree_pss_mb']:.0f} / {summary['peak_tree_rss_mb']:.0f} / "
                f"{summary['max_process_rss_mb']:.0f} MB"
            )
            lines.append(
                f"{summary['label']:<36} {summary['median_s']:>7.2f} s  {verdict_text:<44} {runs:<24} {mem}"
            )
            peaks = summary.get("stage_peak_pss_mb", {})
            stages = [
                f"{k} {v:.1f} s" + (f" / {peaks[k]:.0f} MB" if k in peaks else "")
                for k, v in summary.get("stages_median_s", {}).items()
            ]
            if stages:
                lines.append(f"{'':<6}stages (median s / peak PSS): " + " · ".join(stages))
        if "failed" in summary:
            first = summary["failed"].splitlines()[0]
            lines.append(f"{'':<6}failed: {first[:150]}")
            if fr := summary.get("failed_run"):
                lines.append(
                    f"{'':<6}the failing run: {fr['wall_s']:.1f} s, peak PSS "
                    f"{fr['peak_tree_pss_mb']:.0f} MB, stages {fr['stages'] or '—'}"
                )
    for name, gen in data.get("generated", {}).items():
        lines.append(
            f"SCALE={gen['scale']} sample generation for ({SCENARIOS[name].letter}) "
            f"(not counted above): {gen['seconds']:.1f} s, {gen['mb']:.0f} MB of extracts"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.devtools.bench [--runs N] [--scenarios a,b,..] [--quarter Q] [--out FILE]
    [--keep] [--live]` -> exit code (1 if a publish failed, 2 on bad arguments)."""
    parser = argparse.ArgumentParser(prog="helpers.devtools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="3", help="runs per scenario (median reported); 1 for a quick look")
    parser.add_argument(
        "--scenarios",
        default="",
        help="comma list of scenarios, by name or letter: "
        + ", ".join(f"{s.letter}/{n}" for n, s in SCENARIOS.items())
        + " (default: all)",
    )
    parser.add_argument("--quarter", default="2022Q1")
    parser.add_argument("--scale", type=int, default=10, help="volume multiplier of scenario (e)")
    parser.add_argument("--huge-scale", type=int, default=30, help="volume multiplier of scenario (f)")
    parser.add_argument("--out", type=Path, default=None, help="results file (default: <OUT>/bench.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders for inspection")
    parser.add_argument(
        "--live", action="store_true", help="publish with the working tree's code, not a snapshot"
    )
    args = parser.parse_args(argv)
    if not args.runs.isdigit() or not 1 <= int(args.runs) <= 20:
        print(f"✗ RUNS must be a whole number from 1 to 20, got {args.runs!r}", file=sys.stderr)
        return 2
    try:
        chosen = parse_scenarios(args.scenarios)
    except ValueError as exc:
        print(f"✗ SCENARIOS: {exc}", file=sys.stderr)
        return 2
    target = args.out or paths.out_root() / "bench.json"
    print(
        f"==> benchmarking {args.quarter}: {', '.join(chosen)}; {args.runs} run(s) each "
        "(minutes; SCALE=30 generation needs several GB of temporary disk)"
    )
    try:
        results = run_bench(
            args.quarter,
            int(args.runs),
            args.scale,
            keep=args.keep,
            live=args.live,
            scenarios=chosen,
            huge_scale=args.huge_scale,
        )
    except QuarterError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    except BenchError as exc:
        print(f"✗ benchmark stopped: {exc}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print()
    print(format_table(results))
    print(f"==> wrote {target}")
    failures = [s for s in results["scenarios"].values() if "failed" in s]
    for summary in failures:
        print(f"✗ {summary['label']}: {summary['failed']}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
