"""Session fixtures shared by the end-to-end tests: the sample quarters generated once
into a temporary data root, and one published issue of it.

Every fixture works in temporary folders (data, outputs and caches), so the suite
never reads or writes the user's data/, outputs/ or .cache/.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from helpers.devtools import sample

ROOT = Path(__file__).resolve().parents[1]
# The twelve extracts of a quarter, as docs/contract/EXTRACTS.md lists them: written out, not
# read from helpers.data.schema, so that a file dropped from the schema fails a test.
EXTRACTS = (
    "inbound_calls",
    "online_chats",
    "outbound_calls",
    "smart_sessions",
    "video_sessions",
    "surveys",
    "sms_batches",
    "feedback",
    "tickets",
    "kb_changes",
    "training",
    "awards",
)


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
    # The CLI skips the interpreter's teardown but not the exit handlers: nothing is left
    # for multiprocessing's resource tracker to warn about ("leaked semaphore objects").
    assert "resource_tracker" not in result.stderr and "leaked" not in result.stderr, result.stderr
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


def make(
    *args: str, cache: Path, extra_env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run `make ARGS` from the repository root, as a user would, with its own cache."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=make_env(cache, extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_would_publish(quarter: str, *, data: Path, out: Path, cache: Path) -> bool:
    """Would `make quarter` run the publisher for QUARTER? (`make -n` prints what it would
    run and runs nothing.)"""
    dry = make("-n", "quarter", f"Q={quarter}", f"DATA={data}", f"OUT={out}", cache=cache, timeout=60)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    return "helpers.publish.cli publish" in dry.stdout


def symlinked_quarters(sample_root: Path, data: Path, quarters: Iterable[str], *, editorial: str) -> Path:
    """A data root DATA holding QUARTERS of the sample: each extract a symbolic link to the
    sample's, and EDITORIAL's editorial folder a real copy, for the test to edit."""
    for quarter in quarters:
        (data / quarter).mkdir(parents=True)
        for path in (sample_root / quarter).iterdir():
            if path.is_file():
                (data / quarter / path.name).symlink_to(path)
    shutil.copytree(sample_root / editorial / "editorial", data / editorial / "editorial")
    return data


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:  # another file system: a real copy does the same
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(src, dst)


def linked_copy(src: Path, dst: Path, *, own: Iterable[str] = ()) -> Path:
    """A copy of the tree SRC at DST, file times kept, whose files are hard links to SRC's.

    The sample is ~730 MB: linking is instant where copying took seconds per test. A
    linked file shares its bytes *and times* with SRC, so it may be read, renamed or
    removed but never written to or touched (os.utime). The files named in `own`
    (relative to SRC) are real copies instead, for the test to edit or touch; their
    folders keep their times, so make sees no change until the test makes one.
    """
    shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
    for relative in own:
        target = dst / relative
        folder = target.parent.stat()
        target.unlink()
        shutil.copy2(src / relative, target)
        os.utime(target.parent, ns=(folder.st_atime_ns, folder.st_mtime_ns))
    return dst
