"""Benchmark of the publisher as the analyst uses it: `make bench [RUNS=3]`.

Every publish runs as `make -s quarter Q=.. DATA=<temp copy> OUT=<temp>` in a
subprocess, exactly as the analyst types it, so make's own staleness decision is
part of what is timed. The user's data and outputs are never touched: the sample
extracts are copied (or generated) into a temporary folder first. The code is
snapshotted too (Makefile, src, notebooks, params, docs; the environments are
shared through symlinks), so editing the project while the benchmark runs
cannot make a no-op look stale; `--live` benchmarks the working tree instead.

Scenarios (median of RUNS runs each):
  (a) cold      fresh OUT and fresh KFWK_CACHE: nothing cached at all
  (b) no-op     `make quarter` again with nothing changed (make decides)
  (c) edit      one line appended to the copy's editorial foreword.md
  (d) touch     one extract's mtime bumped, content unchanged
  (e) scale     cold publish of SCALE=10 sample data (generation timed apart)

Measured per run: wall time; stage split from the publisher's progress lines
(validate, figures, assemble are its own timings; `startup` and `sections` are
the gaps between lines as they arrive); peak memory two ways (see docs/proof.md):
`max_process_rss_mb` from wait4 rusage (the largest single process among make,
the publisher and its kernels) and `peak_tree_rss_mb`, the largest sum of RSS
over the whole process tree sampled every 0.1 s. Results print as a table and
are written to `<OUT>/bench.json`. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from helpers import paths
from helpers.quarter import Quarter, QuarterError

# name -> (label, wall-time limit in seconds or None); (e)'s limit is relative to (a).
SCENARIOS = {
    "cold": ("(a) cold publish", 30.0),
    "noop": ("(b) no-op re-publish", 1.0),
    "edit": ("(c) one editorial edit", 8.0),
    "touch": ("(d) one extract touched", None),
    "scale": ("(e) cold publish, SCALE=10", None),
}
SCALE_FACTOR_LIMIT = 2.0  # (e) wall <= 2 x (a)
RSS_LIMIT_MB = 2048.0  # (e) peak memory
STAGE_RE = re.compile(r"^  (?P<name>[a-z][a-z_ ]*?[a-z])\s+(?P<secs>\d+\.\d) s(?:\s|$)")
SECTIONS_RE = re.compile(r"^  sections: (?P<run>\d+) to run, (?P<same>\d+) unchanged")
# Inherited from an outer `make bench`: they would leak its command line into ours.
_DROP_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "KFWK_Q", "KFWK_DATA", "KFWK_OUT",
             "KFWK_REF", "KFWK_SCALE", "KFWK_RUNS")


class BenchError(RuntimeError):
    """A publish under benchmark failed; the message carries its output's tail."""


@dataclass
class Run:
    """One timed `make quarter`: wall seconds, stage seconds, memory, sections re-run."""

    wall_s: float
    stages: dict[str, float] = field(default_factory=dict)
    sections_run: int | None = None
    max_process_rss_mb: float = 0.0
    peak_tree_rss_mb: float = 0.0


# ----------------------------------------------------------------- memory

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; ppid is the 2nd field after ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss_bytes(root: int) -> int:
    """PID -> summed resident memory of it and all its descendants (0 if gone).

    Shared library pages count once per process, so this over-states what the
    tree really occupies: a conservative figure for a memory budget.
    """
    kids = _children_map()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


# ----------------------------------------------------------------- one run

# What a publish reads from the project; copied with their mtimes (copy2), so
# make finds the snapshot exactly as up to date as the working tree.
SNAPSHOT_ITEMS = ("Makefile", "mk", "src", "notebooks", "params", "docs", "pyproject.toml",
                  "requirements.txt", "requirements-kernel.txt")
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


def timed_make(quarter: str, data: Path, out: Path, cache: Path,
               project: Path | None = None) -> tuple[Run, list[str]]:
    """`make -s quarter` in the project (default: this one) -> (Run, output lines).

    Raises BenchError when make fails.
    """
    project = project or paths.ROOT
    cmd = ["make", "-s", "quarter", f"Q={quarter}", f"DATA={data}", f"OUT={out}"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=project, env=_env(cache, project), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[tuple[float, str]] = []
    peak = [0]
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_bytes(proc.pid))
            done.wait(0.1)

    reader = threading.Thread(target=read, daemon=True)
    sampler = threading.Thread(target=sample, daemon=True)
    reader.start()
    sampler.start()
    # wait4 instead of proc.wait(): its rusage covers make and every descendant it reaped.
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(10)
    sampler.join(10)
    text = [line for _, line in lines]
    if proc.returncode != 0:
        tail = "\n".join(text[-25:])
        raise BenchError(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{tail}")
    run = Run(
        wall_s=round(wall, 3),
        max_process_rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        peak_tree_rss_mb=round(peak[0] / 2**20, 1),
    )
    run.stages, run.sections_run = split_stages(lines, wall)
    return run, text


def split_stages(lines: list[tuple[float, str]], wall: float) -> tuple[dict[str, float], int | None]:
    """Timestamped progress lines (seconds since start, text) + wall -> (stage seconds, sections run).

    validate / figures / assemble: the publisher's own timings. startup: until
    its first `==> publishing` line (make, interpreter, imports). sections: from
    the `sections: N to run` line until assemble began. Empty when make did not
    publish (no-op).
    """
    stages: dict[str, float] = {}
    sections_run = None
    t_publishing = t_sections = t_assemble_end = None
    assemble = 0.0
    for t, text in lines:
        if text.startswith("==> publishing") and t_publishing is None:
            t_publishing = t
        if m := SECTIONS_RE.match(text):
            t_sections, sections_run = t, int(m.group("run"))
        elif m := STAGE_RE.match(text):
            name, secs = m.group("name"), float(m.group("secs"))
            if name in ("validate", "figures"):
                stages[name] = secs
            elif name == "assemble":
                assemble, t_assemble_end = secs, t
    if t_publishing is None:
        return {}, None
    stages = {"startup": round(t_publishing, 2), **stages}
    if t_sections is not None and t_assemble_end is not None:
        stages["sections"] = round(max(0.0, t_assemble_end - assemble - t_sections), 2)
    if t_assemble_end is not None:
        stages["assemble"] = assemble
        stages["finish"] = round(max(0.0, wall - t_assemble_end), 2)
    return stages, sections_run


# ----------------------------------------------------------------- scenarios

def prepare_data(quarter: Quarter, work: Path, emit) -> tuple[Path, str]:
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
    _generate(dest, 1)
    return dest, "generated sample (SCALE=1)"


def _generate(dest: Path, scale: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "helpers.devtools.sample", "--data", str(dest),
                    "--scale", str(scale)], cwd=paths.ROOT, env=_env(dest / ".unused-cache"), check=True,
                   stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 2)


def _extract_path(folder: Path, name: str) -> Path:
    for ext in (".csv", ".csv.gz"):
        if (folder / f"{name}{ext}").exists():
            return folder / f"{name}{ext}"
    raise BenchError(f"no {name}.csv or {name}.csv.gz in {folder}")


def run_bench(quarter: str = "2022Q1", runs: int = 3, scale: int = 10, *, emit=print,
              keep: bool = False, live: bool = False) -> dict:
    """Run the five scenarios `runs` times each -> the results dict written to bench.json.

    `live`: publish with the working tree's code instead of a snapshot of it.
    """
    q = Quarter.parse(quarter)
    work = Path(tempfile.mkdtemp(prefix="kfwk-bench-"))
    project = paths.ROOT if live else snapshot_project(work / "project")
    results: dict = {
        "quarter": str(q), "runs": runs, "scale": scale,
        "environment": {
            "python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_mb": round(os.sysconf("SC_PHYS_PAGES") * _PAGE / 2**20),
        },
        "code": "working tree" if live else "snapshot of the working tree",
        "scenarios": {},
    }
    try:
        data, note = prepare_data(q, work, emit)
        results["data"] = {"source": note}
        by_name: dict[str, list[Run]] = {name: [] for name in SCENARIOS}

        def one(name: str, data_root: Path, out: Path, cache: Path) -> Run:
            run, _ = timed_make(str(q), data_root, out, cache, project)
            by_name[name].append(run)
            emit(f"  {SCENARIOS[name][0]:<30} run {len(by_name[name])}/{runs}: {run.wall_s:6.2f} s"
                 + (f"  ({run.sections_run} section(s) run)" if run.sections_run is not None else
                    "  (make: up to date)"))
            return run

        editorial = paths.editorial_dir(str(q), data)
        edit_file = next(iter(sorted(editorial.glob("foreword.md")) or sorted(editorial.glob("*.md"))),
                         None)
        touch_file = _extract_path(data / str(q), "inbound_calls")
        out, cache = work / "out-cold-0", work / "cache-cold-0"
        for i in range(runs):
            out, cache = work / f"out-cold-{i}", work / f"cache-cold-{i}"
            one("cold", data, out, cache)
        # (b)-(d) continue from the last cold publish, its cache warm, as an analyst would.
        for _ in range(runs):
            one("noop", data, out, cache)
        for i in range(runs):
            if edit_file is None:
                break
            with edit_file.open("a", encoding="utf-8") as handle:
                handle.write(f"\n基准测试追加的一行 / line added by the benchmark ({i + 1}).\n")
            one("edit", data, out, cache)
        for _ in range(runs):
            os.utime(touch_file)  # mtime only: same bytes, so the same content hashes
            one("touch", data, out, cache)
        emit(f"  generating SCALE={scale} sample data (not timed as a publish)…")
        big = work / f"data-x{scale}"
        results["data"]["scale_generation_s"] = _generate(big, scale)
        for i in range(runs):
            one("scale", big, work / f"out-scale-{i}", work / f"cache-scale-{i}")
        if edit_file is None:
            results["data"]["edit"] = "skipped: the data has no editorial files"
        results["scenarios"] = _summarise(by_name)
    finally:
        if keep:
            emit(f"  kept the benchmark folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return results


def _summarise(by_name: dict[str, list[Run]]) -> dict:
    """Runs per scenario -> medians, per-stage medians and target verdicts."""
    out: dict[str, dict] = {}
    for name, runs in by_name.items():
        if not runs:
            continue
        stage_names = sorted({s for r in runs for s in r.stages}, key=_stage_order)
        out[name] = {
            "label": SCENARIOS[name][0],
            "median_s": round(statistics.median(r.wall_s for r in runs), 3),
            "stages_median_s": {
                s: round(statistics.median(r.stages.get(s, 0.0) for r in runs), 2) for s in stage_names
            },
            "max_process_rss_mb": max(r.max_process_rss_mb for r in runs),
            "peak_tree_rss_mb": max(r.peak_tree_rss_mb for r in runs),
            "runs": [asdict(r) for r in runs],
        }
    for name, summary in out.items():
        limit = SCENARIOS[name][1]
        if name == "scale" and "cold" in out:
            limit = round(SCALE_FACTOR_LIMIT * out["cold"]["median_s"], 3)
            summary["target"] = {
                "limit_s": limit, "rss_limit_mb": RSS_LIMIT_MB,
                "ok": summary["median_s"] <= limit and summary["peak_tree_rss_mb"] <= RSS_LIMIT_MB,
                "rule": f"<= {SCALE_FACTOR_LIMIT:g}x(a)={limit:.0f} s, RSS <= {RSS_LIMIT_MB / 1024:g} GB",
            }
        elif limit is not None:
            summary["target"] = {"limit_s": limit, "ok": summary["median_s"] <= limit,
                                 "rule": f"<= {limit:g} s"}
    return out


_ORDER = ("startup", "validate", "figures", "sections", "assemble", "finish")


def _stage_order(name: str) -> int:
    return _ORDER.index(name) if name in _ORDER else len(_ORDER)


def format_table(results: dict) -> str:
    """bench.json's dict -> a plain table with ✓/✗ beside each target."""
    head = (f"{'scenario':<30} {'median':>8}  {'target':<31} {'runs (s)':<22} "
            f"{'RSS tree / 1 proc':<18} stages (median s)")
    lines = [f"客服微刊 benchmark — {results['quarter']}, {results['runs']} run(s) each, "
             f"{results['environment']['cpus']} CPUs, data {results.get('data', {}).get('source', '?')}",
             head, "-" * len(head)]
    for summary in results["scenarios"].values():
        target = summary.get("target")
        verdict = f"{'✓' if target['ok'] else '✗'} {target['rule']}" if target else "(no target)"
        runs = " ".join(f"{r['wall_s']:.2f}" for r in summary["runs"])
        rss = f"{summary['peak_tree_rss_mb']:.0f} / {summary['max_process_rss_mb']:.0f} MB"
        stages = " ".join(f"{k} {v:.1f}" for k, v in summary["stages_median_s"].items()) or "—"
        lines.append(f"{summary['label']:<30} {summary['median_s']:>6.2f} s  {verdict:<31} {runs:<22} "
                     f"{rss:<18} {stages}")
    gen = results.get("data", {}).get("scale_generation_s")
    if gen is not None:
        lines.append(f"SCALE={results['scale']} sample generation (not counted above): {gen:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.devtools.bench [--runs N] [--quarter Q] [--out FILE] [--keep]` -> exit code."""
    parser = argparse.ArgumentParser(prog="helpers.devtools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="3", help="runs per scenario (median reported); 1 for a quick look")
    parser.add_argument("--quarter", default="2022Q1")
    parser.add_argument("--scale", type=int, default=10, help="volume multiplier of scenario (e)")
    parser.add_argument("--out", type=Path, default=None, help="results file (default: <OUT>/bench.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders for inspection")
    parser.add_argument("--live", action="store_true",
                        help="publish with the working tree's code, not a snapshot")
    args = parser.parse_args(argv)
    if not args.runs.isdigit() or not 1 <= int(args.runs) <= 20:
        print(f"✗ RUNS must be a whole number from 1 to 20, got {args.runs!r}", file=sys.stderr)
        return 2
    target = args.out or paths.out_root() / "bench.json"
    print(f"==> benchmarking {args.quarter}: {args.runs} run(s) per scenario (several minutes)")
    try:
        results = run_bench(args.quarter, int(args.runs), args.scale, keep=args.keep, live=args.live)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
