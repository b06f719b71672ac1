"""Publishing is reproducible: the sample published twice, into two OUT folders with
two separate fresh caches, gives byte-identical files.

The first publish is the session's `published_out`; the second one runs here
with its own empty cache, so nothing (validated tables, figures, the vega bundle,
executed notebooks) is shared between the two.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import run_cli

Q = "2022Q1"
ISSUE_FILES = ("issue.html", "metrics.json", "kpi.html")


@pytest.fixture(scope="module")
def second_out(sample_root, session_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("published-again")
    cache = tmp_path_factory.mktemp("fresh-cache")
    assert cache != session_cache and not any(cache.iterdir())
    result = run_cli("publish", Q, data=sample_root, out=out, cache=cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(cache.iterdir()), "the second publish did not use its own cache"
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def figure_files(out: Path) -> dict[str, str]:
    folder = out / Q / "figures"
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ISSUE_FILES)
def test_issue_files_are_byte_identical(published_out, second_out, name):
    first, second = published_out / Q / name, second_out / Q / name
    assert first.stat().st_size > 0
    if first.read_bytes() != second.read_bytes():
        # Show where they part, to find what leaked (a path, a time, an order).
        a, b = first.read_text(encoding="utf-8"), second.read_text(encoding="utf-8")
        at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        pytest.fail(
            f"{name} differs at char {at}:\n first: {a[max(0, at - 120) : at + 120]!r}\n"
            f"second: {b[max(0, at - 120) : at + 120]!r}"
        )


def test_issue_does_not_name_its_output_or_cache_folder(published_out, second_out):
    for out in (published_out, second_out):
        html = (out / Q / "issue.html").read_text(encoding="utf-8")
        assert str(out) not in html


def test_every_figure_file_is_byte_identical(published_out, second_out):
    first, second = figure_files(published_out), figure_files(second_out)
    assert any(name.endswith(".svg") for name in first)
    assert any(name.endswith(".png") for name in first)
    assert sorted(second) == sorted(first)
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == []


def test_index_pages_are_byte_identical(published_out, second_out):
    assert digest(published_out / "index.html") == digest(second_out / "index.html")
