"""Session fixtures shared by the end-to-end tests: the sample quarters generated once
into a temporary data root, and one published issue of it.

Every fixture works in temporary folders (data, outputs and caches), so the suite
never reads or writes the user's data/, outputs/ or .cache/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.devtools import sample

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """A data root holding the generated sample, eight quarters 2020Q2..2022Q1 (read-only use)."""
    root = tmp_path_factory.mktemp("sample-data")
    sample.write_sample(root, progress=None)
    return root


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A cache folder shared by the session's publishes (validated tables, vega bundle)."""
    return tmp_path_factory.mktemp("cache")


def run_cli(
    *args: str, data: Path, out: Path, cache: Path, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run `python -m helpers.publish.cli ARGS` as the Makefile does, with its own data/out/cache."""
    env = {**os.environ, "KFWK_DATA": str(data), "KFWK_OUT": str(out), "KFWK_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "helpers.publish.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def published_out(sample_root, session_cache, tmp_path_factory) -> Path:
    """An OUT folder into which the sample 2022Q1 was published once (treat as read-only)."""
    out = tmp_path_factory.mktemp("published")
    result = run_cli("publish", "2022Q1", data=sample_root, out=out, cache=session_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def published_sample(published_out) -> Path:
    """The published sample issue: `<OUT>/2022Q1/issue.html`."""
    return published_out / "2022Q1" / "issue.html"


def make_env(cache: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for running `make` as a user would: no make variables inherited
    from an outer `make test`, no KFWK_* settings, and the given cache folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "Q", "DATA", "OUT") and not k.startswith("KFWK_")
    }
    return {**env, "KFWK_CACHE": str(cache), **(extra_env or {})}
