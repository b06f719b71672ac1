"""helpers.publish.pipeline pieces that need no section run: the code version, when a publish
starts its fixed costs."""

from __future__ import annotations

import hashlib
import subprocess
import threading

import pytest
from test_extracts import write_quarter

from helpers import paths
from helpers.data.extracts import ExtractError
from helpers.publish import kernels, pipeline
from helpers.publish.pipeline import code_version


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_code_version_never_writes_into_the_repository(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = _git(repo, "rev-parse", "--short=12", "HEAD").strip()
    # Same content, new mtime: `git describe --dirty` would refresh the index's stat data.
    (repo / "a.txt").write_text("one\n")
    index = repo / ".git" / "index"
    before = (hashlib.sha256(index.read_bytes()).hexdigest(), index.stat().st_mtime_ns)
    assert code_version(repo) == head
    assert (hashlib.sha256(index.read_bytes()).hexdigest(), index.stat().st_mtime_ns) == before
    (repo / "a.txt").write_text("two\n")
    assert code_version(repo) == f"{head}-dirty"
    assert (hashlib.sha256(index.read_bytes()).hexdigest(), index.stat().st_mtime_ns) == before


def test_code_version_outside_git_is_unknown(tmp_path):
    assert code_version(tmp_path) == "unknown"


def test_only_quarter_folders_are_published_issues(tmp_path):
    from helpers.publish.pipeline import published_quarters

    for name in ("2022Q1", "2022Q1-old", "2021Q4", "notes", "2021Q5"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "issue.html").write_text("<html></html>")
    (tmp_path / "2020Q1").mkdir()  # a folder without an issue
    assert published_quarters(tmp_path) == ["2021Q4", "2022Q1"]


def _counting_warm_up(monkeypatch, after: float):
    """A _WarmUp whose fixed costs only count how often they were started."""
    started: list[str] = []
    event = threading.Event()

    def start_zygote(*_args):
        started.append("zygote")
        event.set()

    monkeypatch.setattr(kernels, "start", start_zygote)
    monkeypatch.setattr(pipeline, "_import_runners", lambda: started.append("imports"))
    return pipeline._WarmUp(cold=False, exporter=None, after=after), started, event


def test_refused_extracts_start_no_fixed_costs(monkeypatch):
    """Validation refused before the warm-up's delay: no zygote, no imports (a refusal of
    small bad extracts took twice as long with them)."""
    warm, started, _ = _counting_warm_up(monkeypatch, after=60)
    warm.cancel()
    warm.start()
    assert started == []


def test_validation_that_passes_starts_the_fixed_costs_once(monkeypatch):
    warm, started, _ = _counting_warm_up(monkeypatch, after=60)
    warm.start()
    warm.start()
    warm.wait()
    assert sorted(started) == ["imports", "zygote"]


def test_a_long_validation_starts_the_fixed_costs_meanwhile(monkeypatch):
    """After the delay they start while validation still runs, and a later cancel (the
    extracts refused after all) does not undo them; they start only once."""
    warm, started, event = _counting_warm_up(monkeypatch, after=0.01)
    assert event.wait(30), "the warm-up did not start by itself"
    warm.cancel()
    warm.wait()
    assert sorted(started) == ["imports", "zygote"]


def test_a_refused_publish_started_nothing(tmp_path, monkeypatch):
    """publish() on small bad extracts: refused before the warm-up's delay, so it never
    started the zygote or the runners' imports."""
    monkeypatch.setattr(pipeline, "WARM_UP_AFTER", 30.0)
    helper, started, _ = _counting_warm_up(monkeypatch, after=30.0)
    helper.cancel()  # only its counters are used
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")
    write_quarter(tmp_path / "data", awards=None)
    with pytest.raises(ExtractError):
        pipeline.publish("2022Q1", tmp_path / "data", tmp_path / "out", emit=lambda _line: None)
    assert started == []
    # ... and never will: the warm-up's timer was cancelled with the refusal.
    timers = [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer)
        and isinstance(getattr(t.function, "__self__", None), pipeline._WarmUp)
    ]
    for timer in timers:
        timer.join(5)
    assert not [t for t in timers if t.is_alive()]
