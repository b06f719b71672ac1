"""Publishing one quarter: validate -> figures -> section notebooks -> one issue.

Each stage has one home (extracts, figures, the notebooks, issue); this module
only orders them, decides what is stale, and makes the result appear atomically:
`issue.html`, `metrics.json` and `figures/` are replaced only after every stage
succeeded, so a failed run leaves the last good issue exactly as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.data import completeness
from helpers.figures import store as figures
from helpers.params import IssueParams, load_params
from helpers.publish import inputs, revisions
from helpers.publish.sections import SECTIONS, Section
from helpers.quarter import Quarter, QuarterError

KERNEL = "kefu-weikan"
# Sub-packages no section notebook imports (the layout says so: publish/ drives the
# kernels, devtools/ serves developers); every other module of src/helpers is part of
# each section's key, so a new helper is covered without being listed.
PUBLISHER_ONLY = frozenset({"publish", "devtools"})
REPORTED_PACKAGES = ("pandas", "pyarrow", "altair", "vl-convert-python", "papermill", "nbconvert")


class SectionFailed(RuntimeError):
    """A section notebook raised; the message names the notebook and the cell."""


class StrictRefusal(RuntimeError):
    """`STRICT=1` and the quarter has completeness warnings: nothing is published."""

    def __init__(self, quarter: str, warnings: list[completeness.CompletenessWarning]):
        self.quarter, self.warnings = quarter, warnings
        super().__init__(completeness.format_warnings(warnings, quarter))


@dataclass
class Progress:
    """Prints one line per stage and section with its time."""

    emit: Callable[[str], None] = print

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.emit(f"  {name:<28} {took:6.1f} s  {detail}".rstrip())


@contextlib.contextmanager
def quarter_lock(out_root: Path, quarter: str, emit: Callable[[str], None]) -> Iterator[None]:
    """One publish of a quarter at a time: a second run waits for the first."""
    out_root.mkdir(parents=True, exist_ok=True)
    with open(out_root / f".{quarter}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            emit(f"  another publish of {quarter} is running; waiting for it to finish…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _helpers_hash() -> str:
    h = hashlib.sha256()
    for path in sorted(paths.HELPERS.rglob("*.py")):
        relative = path.relative_to(paths.HELPERS)
        if relative.parts[0] not in PUBLISHER_ONLY:
            h.update(str(relative).encode() + path.read_bytes())
    return h.hexdigest()


def section_key(
    sec: Section,
    params: IssueParams,
    data_root: Path,
    store_doc: dict,
    helpers_hash: str,
) -> str:
    """What a section's executed notebook depends on, hashed: its notebook, the code
    kernels import, the issue params, what it presents from the figure store (the figures
    and its own tables; editorial sections present none) and its editorial file.
    Same key -> the executed copy is reused."""
    editorial = paths.editorial_dir(params.quarter, data_root) / f"{sec.editorial}.md"
    presented = (
        None
        if sec.editorial
        else {
            "metrics": store_doc["metrics"],
            "prior": store_doc["prior_metrics"],
            "tables": store_doc["tables"].get(sec.id),
        }
    )
    parts = {
        "notebook": _sha256_file(sec.notebook_path),
        "parameters": sec.parameters,
        "helpers": helpers_hash,
        "params": params.as_dict(),
        "store": hashlib.sha256(json.dumps(presented, sort_keys=True).encode()).hexdigest(),
        "editorial": _sha256_file(editorial) if sec.editorial and editorial.exists() else None,
        "data_root": str(data_root),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _run_notebook(sec: Section, out_nb: Path, parameters: dict) -> None:
    import papermill as pm  # imported here: ~1 s, and only the publisher needs it

    try:
        pm.execute_notebook(
            str(sec.notebook_path),
            str(out_nb),
            parameters=parameters,
            kernel_name=KERNEL,
            # The kernel is forked from a warm zygote (helpers.publish.kernels).
            engine_name="kefu",
            progress_bar=False,
            log_output=False,
            cwd=str(paths.NOTEBOOKS),
            # One write at the end (and on failure), not one per cell: each write is a
            # schema-validated JSON dump of the whole notebook, charts included.
            request_save_on_cell_execute=False,
            autosave_cell_every=0,
            # The kernel's start-up warnings (unencrypted local TCP) are noise here.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except pm.PapermillExecutionError as exc:
        raise SectionFailed(
            f"section {sec.title} ({sec.id}) failed in notebooks/{sec.notebook}, "
            f"cell {exc.cell_index} (execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
            f"  executed copy kept for debugging: {out_nb}"
        ) from None


def code_version(root: Path | None = None) -> str:
    """The project's commit (12 hex digits, `-dirty` when tracked files changed), or
    'unknown' outside a git checkout.

    Read-only: `git describe --dirty` would refresh `.git/index` (even under
    GIT_OPTIONAL_LOCKS=0 in git 2.39); `rev-parse` and `status --porcelain` under
    GIT_OPTIONAL_LOCKS=0 never write into the repository (tested)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=root or paths.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head or "unknown"


def _package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in REPORTED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _quiet_libraries() -> None:
    """papermill logs every parameter it injects at WARNING; the publisher has its own progress."""
    import logging

    for name in ("papermill", "papermill.translators", "traitlets", "nbclient"):
        logging.getLogger(name).setLevel(logging.ERROR)


def publish(
    quarter: str,
    data_root: Path | None = None,
    out_root: Path | None = None,
    *,
    emit: Callable[[str], None] = print,
    jobs: int | None = None,
    strict: bool = False,
    revise: str | None = None,
    session: PublishSession | None = None,
) -> Path:
    """Publish Q: returns the path of `<OUT>/<Q>/issue.html`.

    `session`: the chart exporters and kernel zygote to use, shared with the other
    publishes of a backfill worker; by default the publish starts and stops its own.

    A published issue the new one differs from is kept under `revisions/<n>/` first
    (helpers.publish.revisions); an identical result publishes nothing. A released
    quarter is replaced only with `revise` (the reason of the correction), otherwise
    revisions.RevisionRefused is raised and nothing published changes.

    Raises extracts.ExtractError (bad input), ParamsError, SectionFailed, and with
    `strict` StrictRefusal when the quarter has completeness warnings (before anything
    under OUT is written).
    """
    q = str(Quarter.parse(quarter))
    data_root = (data_root or paths.data_root()).resolve()
    out_root = (out_root or paths.out_root()).resolve()
    progress = Progress(emit)
    _quiet_libraries()
    emit(f"==> publishing {q} (extracts: {data_root / q}, output: {out_root / q})")
    with quarter_lock(out_root, q, emit), contextlib.ExitStack() as later:
        params = load_params(q)
        issue_dir = out_root / q
        build = issue_dir / ".build"
        # Executed notebooks are kept between runs under .build/ (a section whose inputs
        # did not change is not run again) and reach notebooks/ only with the rest.
        nb_dir = build / "notebooks"
        fig_build = build / "figures"
        keys_file = build / "section-keys.json"
        if session is None:
            session = later.enter_context(PublishSession(jobs, shared=False))
        exporter = session.exporter
        warm = _WarmUp(cold=not keys_file.exists(), exporter=exporter, after=WARM_UP_AFTER)

        try:
            with progress.stage("validate"):
                reports = figures.validated_reports(q, data_root)
                # The 近期趋势 window's earlier quarters: a broken one is a gap, never a refusal.
                window = figures.window_reports(q, data_root, params.trend_quarters)
        except BaseException:
            warm.cancel()
            raise
        warm.start()
        with progress.stage("figures"):
            # Every figure and every table the sections present, computed once (docs/store.md).
            store_doc, store_path = figures.quarter_store(
                q, data_root, params, reports=reports, window=window
            )
            metrics_dict = store_doc["metrics"]
        # Days or months the extracts miss: warnings shown in the About panel and the
        # index; with STRICT=1 a refusal, before anything under OUT is written.
        warnings = completeness.from_dicts(store_doc["completeness"])
        if warnings and strict:
            raise StrictRefusal(q, warnings)
        if warnings:
            emit("  " + completeness.format_warnings(warnings, q).replace("\n", "\n  "))
            emit("    (shown in the issue's About panel under 数据完整性; STRICT=1 refuses them)")

        for d in (nb_dir, fig_build):
            d.mkdir(parents=True, exist_ok=True)
        keys = json.loads(keys_file.read_text()) if keys_file.exists() else {}
        helpers_hash = _helpers_hash()

        executed: list[Path] = []
        todo: list[tuple[Section, Path, str]] = []
        group = ""
        for i, sec in enumerate(SECTIONS, start=1):
            if sec.editorial and not (paths.editorial_dir(q, data_root) / f"{sec.editorial}.md").exists():
                emit(f"  ⚠ editorial/{sec.editorial}.md is missing: section {sec.title} is left out")
                continue
            if sec.group and sec.group != group:
                executed.append(_heading_notebook(build / f"group-{i:02d}.ipynb", sec.group))
            group = sec.group
            out_nb = nb_dir / f"{i:02d}_{sec.id}.ipynb"
            executed.append(out_nb)
            key = section_key(sec, params, data_root, store_doc, helpers_hash)
            if keys.get(sec.id) == key and out_nb.exists():
                continue
            todo.append((sec, out_nb, key))
        shown = sum(p.parent == nb_dir for p in executed)
        emit(f"  sections: {len(todo)} to run, {shown - len(todo)} unchanged")

        def run(item: tuple[Section, Path, str]) -> tuple[str, str]:
            sec, out_nb, key = item
            parameters = {
                "quarter": q,
                "data_root": str(data_root),
                "figures_dir": str(fig_build / sec.id),
                "store": str(store_path),
                **sec.parameters,
            }
            shutil.rmtree(fig_build / sec.id, ignore_errors=True)
            with progress.stage(f"section {sec.id}", sec.title):
                _run_notebook(sec, out_nb, parameters)
            return sec.id, key

        failures: list[str] = []
        workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
        exports = []
        # Section kernels are forked from one zygote that imported ipykernel, Altair and the
        # helpers once (helpers.publish.kernels), started by _WarmUp while the extracts
        # were checked: by now its imports are (nearly) done, even for one section.
        with session.zygote(enabled=bool(todo)), ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(run, item) for item in todo]
            for fut in as_completed(futures):
                try:
                    sec_id, key = fut.result()
                except SectionFailed as exc:
                    failures.append(str(exc))
                    continue
                keys[sec_id] = key
                if any((fig_build / sec_id).glob(f"*{paths.SPEC_SUFFIX}")):
                    exports.append(exporter.submit(_export_charts, fig_build / sec_id))

        def finish_exports() -> None:
            """Wait for the chart exports, then record the sections' keys: a section whose
            charts were not exported runs again next time."""
            if exports:
                with progress.stage("export charts", f"{len(exports)} sections"):
                    for exp in exports:
                        exp.result()
            keys_file.write_text(json.dumps(keys, indent=1, sort_keys=True))
            session.exports_done()

        if failures:
            finish_exports()
            raise SectionFailed("\n".join(failures))

        # The page is assembled while the exporters finish: it draws each chart from its
        # spec and tabulates its data from the spec too, never from the exported files.
        try:
            with progress.stage("assemble"):
                warm.wait()
                from helpers.publish import issue  # nbconvert: imported by _WarmUp meanwhile

                meta = {
                    "quarter": q,
                    "label": params.label,
                    "centre": params.centre,
                    "data_as_of": params.data_as_of,
                    "inputs": [
                        {"name": f"{rq}/{f.path.name}", "sha256": f.sha256, "rows": f.rows}
                        for rq, r in reports.items()
                        for f in r.files.values()
                    ],
                    "parameters": params.as_dict(),
                    "code_version": code_version(),
                    "packages": _package_versions(),
                    "kpi_doc_href": "kpi.html",
                    "completeness": [w.as_dict() for w in warnings],
                }
                staging = build / "staging"
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir(parents=True)
                issue.write_document(
                    paths.DOCS / "kpi.md",
                    staging / "kpi.html",
                    title="指标口径 / KPI definitions",
                    centre=params.centre,
                )
                (staging / "metrics.json").write_text(figures.metrics.to_json(metrics_dict), encoding="utf-8")
                # Compared with the published version (inside the quarter's lock) while the
                # page is assembled: its About panel lists the changes; a released quarter
                # without REVISE raises RevisionRefused here, before anything is replaced.
                revision = revisions.Revision(q, issue_dir, staging, reason=revise)
                issue.assemble_issue(executed, staging / "issue.html", meta=meta, amend=revision.amend)
                completeness_text = _completeness_json(q, params, warnings)
                (staging / COMPLETENESS_FILE).write_text(completeness_text, encoding="utf-8")
        finally:
            # Also when the assembly fails (a refused revision): the sections' work is kept.
            finish_exports()
        with progress.stage("put in place"):
            shutil.copytree(fig_build, staging / "figures")
            # This issue's executed notebooks only: .build/notebooks keeps copies under
            # earlier numbers too when a section was added or moved.
            (staging / "notebooks").mkdir()
            for notebook in executed:
                if notebook.parent == nb_dir:
                    shutil.copy2(notebook, staging / "notebooks" / notebook.name)
            if revision.unchanged:
                # Nothing a reader could see changed: no revision, nothing replaced (the
                # issue's time is refreshed so make sees it up to date). A chart file or
                # executed notebook that went missing from the published folder is put back.
                _restore_missing(staging, issue_dir)
                shutil.rmtree(staging, ignore_errors=True)
                os.utime(issue_dir / "issue.html")
                emit(f"  {q}: the result is identical to the published issue; nothing replaced")
            else:
                revision.stage()
                _swap_into_place(staging, issue_dir)
                revision.record(out_root, emit)
            inputs.write_make_inputs(
                build,
                inputs.issue_inputs(
                    q,
                    data_root,
                    [f.path for r in reports.values() for f in r.files.values()],
                    quarters_missing=len(reports) < 2,
                    window=window,
                ),
            )
            refresh_index(out_root)
        emit(f"==> published {issue_dir / 'issue.html'}")
        return issue_dir / "issue.html"


class PublishSession:
    """What publishes share when one process runs several (a backfill worker): the chart
    exporter processes and the section kernels' zygote.

    Charts are exported (SVG, PNG, CSV) by worker processes as sections finish: one
    vl-convert start per worker instead of one per kernel, and out of the publishing
    process because vl-convert holds the GIL while it draws. `jobs` 1 (a backfill runs
    two publishes side by side) gets one exporter: each costs a V8 start (~1 s of CPU)
    and the other core is the other publish's. A session of one publish (`shared=False`)
    stops its exporters and zygote with that publish; a worker's (`shared=True`) keeps
    them until the session ends, and its kernels (one per section, as always) are
    forked from that one zygote.
    """

    def __init__(self, jobs: int | None = None, *, shared: bool = True):
        self.exporters = max(1, min(2, jobs or os.cpu_count() or 1))
        self.shared = shared

    def __enter__(self) -> PublishSession:
        self._pool = self._new_pool()
        if self.shared:
            # Started now, not during the first publish: a backfill worker points its
            # stdout and stderr at each quarter's log while publishing it, and processes
            # that outlive the quarter must not inherit that quarter's files.
            from helpers.publish import kernels

            kernels.start()
            self._pool.submit(int).result()
        return self

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.exporters, mp_context=multiprocessing.get_context("spawn"))

    @property
    def exporter(self) -> ProcessPoolExecutor:
        """The exporters; new ones if one of them died (the next publish still exports)."""
        if getattr(self._pool, "_broken", False):
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
        return self._pool

    def zygote(self, *, enabled: bool) -> contextlib.AbstractContextManager:
        """Around a publish's sections: their kernels' zygote. A shared session's runs
        from one publish to the next; otherwise it lives for these sections only."""
        from helpers.publish import kernels

        return contextlib.nullcontext() if self.shared else kernels.zygote_session(enabled=enabled)

    def exports_done(self) -> None:
        """A publish's charts are exported: a session of one publish lets its exporters
        exit now (V8 teardown, on the other core while the page is put in place)."""
        if not self.shared:
            self._pool.shutdown(wait=False)

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        if self.shared:
            from helpers.publish import kernels

            kernels.shutdown()


#: Seconds of validation before a publish starts its fixed costs (`_WarmUp`), if it has
#: not passed by then. Small bad extracts are refused sooner, having started nothing: such
#: a refusal took 2.5 s and 3.7 CPU-seconds, and takes 1.25 s and 1.4. A bigger quarter
#: validates for longer (~3.5 s for the sample's two), which leaves the fixed costs time
#: to finish before the sections: a cold publish took as long either way (12.7-13.3 s
#: and 12.4-13.5 s, three runs each, alternating).
WARM_UP_AFTER = 1.5


class _WarmUp:
    """Fixed costs a publish starts while its extracts are validated, so they overlap
    validation and the figures: the kernel zygote (a process importing ipykernel, Altair
    and the helpers on the other core; even one section then forks its kernel instead of
    waiting ~1.5 s for a fresh one), the runner's and the assembler's imports (papermill,
    nbconvert: in a thread) and, on a cold run in an environment without one, the vega
    bundle (built by an exporter: ~3 s; `make env` builds it into the environment).

    They start `after` seconds, or at `start()` (validation passed) if that comes first;
    `cancel()` (the extracts were refused) before then means they never start. A publish
    that runs no section stops the zygote unused."""

    def __init__(self, *, cold: bool, exporter: ProcessPoolExecutor, after: float) -> None:
        self._cold, self._exporter = cold, exporter
        self._lock = threading.Lock()
        self._decided = False
        self.threads: list[threading.Thread] = []
        self.bundle: Any = None
        self._timer = threading.Timer(after, self.start)
        self._timer.daemon = True
        self._timer.start()

    def start(self) -> None:
        """Start them now, unless started or cancelled already."""
        self._timer.cancel()  # no thread waits on for nothing (a no-op in the timer's own)
        with self._lock:
            if self._decided:
                return
            self._decided = True
            from helpers.publish import kernels

            importer = threading.Thread(target=_import_runners, daemon=True)
            importer.start()
            self.threads.append(importer)
            kernels.start()
            if self._cold:
                from helpers.report import render

                if not render.vega_bundle_ready():  # an environment made before `make env` built it
                    self.bundle = self._exporter.submit(_build_vega_bundle)

    def cancel(self) -> None:
        """Never start them (those started already run on, and are stopped at exit)."""
        self._timer.cancel()
        with self._lock:
            self._decided = True

    def wait(self) -> None:
        self.start()
        for thread in self.threads:
            thread.join()
        if self.bundle is not None:
            self.bundle.result()


# What the importer thread loads while validation runs on the main thread: the runner's
# and the assembler's libraries. Never Altair or pandas: no publisher process presents a
# chart (tests/test_issue.py checks that the assembler and the exporter import neither).
_RUNNER_IMPORTS = ("numpy", "pyarrow", "duckdb", "papermill", "helpers.publish.issue")


def _import_runners() -> None:
    for name in _RUNNER_IMPORTS:
        importlib.import_module(name)


def _build_vega_bundle() -> None:
    from helpers.report import render

    render.vega_bundle()


def _export_charts(folder: Path) -> None:
    """Every saved chart spec in a section's figure folder -> SVG, PNG and its data as CSV
    (UTF-8 with BOM) beside it."""
    from helpers.report import export

    for spec in sorted(folder.glob(f"*{export.SPEC_SUFFIX}")):
        export.export_chart_files(spec)


def _heading_notebook(path: Path, title: str) -> Path:
    """A one-cell notebook holding a group heading (`## 主要指标完成情况`), written as
    plain JSON (nbformat's import alone costs more than the whole notebook)."""
    nb = {
        "cells": [{"cell_type": "markdown", "id": "heading", "metadata": {}, "source": f"## {title}"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def published_quarters(out_root: Path) -> list[str]:
    """The quarters published under OUT, oldest first. Anything else there (a backup
    copy such as `2022Q1-old`, a note) is left alone: PUBLISHING.md promises it never
    breaks a publish."""
    found = []
    for page in out_root.glob("*/issue.html"):
        try:
            found.append(Quarter.parse(page.parent.name))
        except QuarterError:
            continue
    return [str(q) for q in sorted(found)]


def _index_entry(quarter: str, out_root: Path | None = None) -> dict:
    """What the index shows of a published quarter: label, href and, given OUT, its
    completeness warnings, its headline figures (from its own published metrics.json),
    its status (draft/released/corrected) and the files beside the issue it links to."""
    params = load_params(quarter)
    entry = {"quarter": quarter, "label": params.label, "href": f"{quarter}/issue.html"}
    if out_root is not None:
        issue_dir = out_root / quarter
        entry["completeness_warnings"] = published_warning_count(issue_dir)
        entry["centre"] = params.centre
        entry["status"] = revisions.status(out_root, quarter)  # draft/released/corrected
        try:
            entry["metrics"] = json.loads((issue_dir / "metrics.json").read_text(encoding="utf-8"))
            entry["metrics_href"] = f"{quarter}/metrics.json"
        except (OSError, ValueError):
            entry["metrics"] = None
        # `make pdf` prints <OUT>/<Q>/issue.pdf (mk/analyst.mk); <Q>.pdf if one was put there by hand.
        for name in ("issue.pdf", f"{quarter}.pdf"):
            if (issue_dir / name).is_file():
                entry["pdf_href"] = f"{quarter}/{name}"
                break
    return entry


def refresh_index(out_root: Path) -> Path:
    """Rewrite `<OUT>/index.html` from every issue published under OUT."""
    from helpers.publish import issue

    entries = [_index_entry(name, out_root) for name in published_quarters(out_root)]
    return issue.write_index(out_root, entries)


# The published issue's completeness warnings, beside issue.html: the index reads them.
COMPLETENESS_FILE = "completeness.json"


def _completeness_json(quarter: str, params: IssueParams, warnings: list) -> str:
    doc = {
        "quarter": quarter,
        "completeness_min_share": params.completeness_min_share,
        "warnings": [w.as_dict() for w in warnings],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def published_warning_count(issue_dir: Path) -> int | None:
    """How many completeness warnings a published issue has; None when it does not say
    (published before the checks existed, or the file is unreadable)."""
    try:
        return len(json.loads((issue_dir / COMPLETENESS_FILE).read_text(encoding="utf-8"))["warnings"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _swap_into_place(staging: Path, issue_dir: Path) -> None:
    """Move the staged figures/, notebooks/, kpi.html, metrics.json and issue.html into
    place, the issue last; a staged revision (the previous version) and changes.json first."""
    revisions.move_into_place(staging, issue_dir)
    _swap_folders(staging, issue_dir)
    os.replace(staging / "kpi.html", issue_dir / "kpi.html")
    os.replace(staging / "metrics.json", issue_dir / "metrics.json")
    os.replace(staging / COMPLETENESS_FILE, issue_dir / COMPLETENESS_FILE)
    os.replace(staging / "issue.html", issue_dir / "issue.html")


def _restore_missing(staging: Path, issue_dir: Path) -> None:
    """Copy into the published figures/ and notebooks/ the staged files they lack,
    leaving every file they hold as it is."""
    for folder in ("figures", "notebooks"):
        for path in sorted((staging / folder).rglob("*")):
            target = issue_dir / path.relative_to(staging)
            if path.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                shutil.copy2(path, tmp)
                os.replace(tmp, target)


def _swap_folders(staging: Path, issue_dir: Path) -> None:
    """Move the staged figures/ and notebooks/ into place."""
    for folder in ("figures", "notebooks"):
        old = issue_dir / ".build" / f"{folder}-old"
        shutil.rmtree(old, ignore_errors=True)
        if (issue_dir / folder).exists():
            os.replace(issue_dir / folder, old)
        os.replace(staging / folder, issue_dir / folder)
        shutil.rmtree(old, ignore_errors=True)
