"""helpers.publish.inputs: the publisher tells make what an issue is built from.

Two promises: the list holds every file the publisher reads (checked by recording the
files a publish opens), and make acts on it (a newer input -> publish; none -> up to
date; an input gone -> publish, not a make error)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, linked_copy, make_would_publish

from helpers import paths
from helpers.publish import inputs

Q = "2022Q1"
# The extracts the tests below give a newer time (each a real copy in `copied`).
TOUCHED = ("2022Q1/editorial/key_work.md", "2021Q1/inbound_calls.csv")

_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str | os.PathLike):
        _opened.append(os.fspath(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it records only inside _recording


@pytest.fixture
def copied(published_out, sample_root, tmp_path) -> tuple[Path, Path]:
    """(OUT, DATA): copies of the published sample and of its extracts, times kept, with
    the issue's input list pointed at the copied extracts, so a test may touch them.
    DATA's files are hard links to the sample's (conftest.linked_copy) but TOUCHED, real
    copies: a test may remove any file, but give a new time only to those."""
    out, data = tmp_path / "out", tmp_path / "data"
    shutil.copytree(published_out / Q, out / Q)
    linked_copy(sample_root, data, own=TOUCHED)
    mk = out / Q / ".build" / inputs.MAKE_FILE
    mk.write_text(mk.read_text(encoding="utf-8").replace(str(sample_root), str(data)), encoding="utf-8")
    return out, data


def _listed(mk: Path) -> set[Path]:
    """The paths of ISSUE_INPUTS in an inputs.mk, as make reads them from the root."""
    text = mk.read_text(encoding="utf-8").split("ISSUE_INPUTS :=", 1)[1].split("\n\n", 1)[0]
    words = text.replace("\\\n", " ").replace("\\ ", "\0").split()
    return {(ROOT / w.replace("\0", " ").replace("$$", "$").replace("\\#", "#")).resolve() for w in words}


def test_every_file_a_publish_reads_is_an_input(
    published_out, sample_root, session_cache, tmp_path, monkeypatch
):
    # A publish of the sample on a copy of its issue has no section to run, but it still
    # reads every input: the extracts (hashed), notebooks and editorial texts (section
    # keys), params, templates and docs/kpi.md (assembly). Everything it opens under the
    # project or the data root, apart from caches and outputs, must be in the list it
    # leaves for make. (The same data root as the issue's: a section's key holds the data
    # root's path, so a copied data root would run every section again, for nothing here.
    # The publish only reads it.)
    global _opened
    from helpers.publish import pipeline

    out, data = tmp_path / "out", sample_root
    shutil.copytree(published_out / Q, out / Q)
    # The session's cache but for its memo of the extracts' hashes, which would spare the
    # publish reading them. (paths.CACHE was read at import: without setting it, the
    # in-process publish used the checkout's .cache/.)
    cache = tmp_path / "cache"
    cache.mkdir()
    for entry in session_cache.iterdir():
        if entry.name != "hashes":
            (cache / entry.name).symlink_to(entry)
    monkeypatch.setattr(paths, "CACHE", cache)
    monkeypatch.setenv("KFWK_CACHE", str(cache))
    _opened = []
    try:
        pipeline.publish(Q, data, out, emit=lambda _line: None)
    finally:
        opened, _opened = _opened, None
    derived = [d.resolve() for d in (ROOT / ".venv", ROOT / ".venv-kernel", ROOT / ".cache", ROOT / ".git")]
    read = {
        p
        for p in {Path(name).resolve() for name in opened}
        if p.is_file()
        and (p.is_relative_to(ROOT) or p.is_relative_to(data.resolve()))
        and not any(p.is_relative_to(d) for d in derived)
    }
    assert {".csv", ".ipynb", ".md", ".css", ".j2"} <= {p.suffix for p in read}, sorted(read)
    assert sorted(read - _listed(out / Q / ".build" / inputs.MAKE_FILE)) == []


@pytest.mark.parametrize(
    "relative",
    [
        "src/helpers/publish/templates/kefu/static/kefu.css",
        "docs/kpi.md",
        "notebooks/inbound.ipynb",
        "src/helpers/figures/tables.py",
        *(f"DATA/{touched}" for touched in TOUCHED),
    ],
)
def test_make_republishes_when_any_input_is_newer(copied, session_cache, relative):
    out, data = copied
    assert not make_would_publish(Q, data=data, out=out, cache=session_cache), (
        "fresh issue: make must see it up to date"
    )
    path = data / relative.removeprefix("DATA/") if relative.startswith("DATA/") else ROOT / relative
    before = path.stat()
    later = time.time() + 5
    try:
        os.utime(path, (later, later))
        assert make_would_publish(Q, data=data, out=out, cache=session_cache)
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_input_that_disappeared_makes_the_issue_stale(copied, session_cache):
    out, data = copied
    assert not make_would_publish(Q, data=data, out=out, cache=session_cache)
    (data / Q / "editorial" / "closing.md").unlink()
    assert make_would_publish(Q, data=data, out=out, cache=session_cache)


def test_without_the_list_make_asks_the_publisher(copied, session_cache):
    out, data = copied
    (out / Q / ".build" / inputs.MAKE_FILE).unlink()
    assert make_would_publish(Q, data=data, out=out, cache=session_cache)


def test_make_words_escape_what_make_would_misread(tmp_path):
    odd = tmp_path / "a b$c#d.csv"
    mk = inputs.write_make_inputs(tmp_path / "build", [odd, paths.DOCS / "kpi.md"])
    text = mk.read_text(encoding="utf-8")
    assert r"a\ b$$c\#d.csv" in text
    assert "  docs/kpi.md" in text  # inside the project: relative to its root, where make runs
