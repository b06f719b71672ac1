"""helpers.publish.pipeline pieces that need no publish: reading the code version."""

from __future__ import annotations

import hashlib
import subprocess

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
