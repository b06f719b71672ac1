"""What an issue is built from, written down by the publisher for make.

make decides whether `make quarter` has anything to do by comparing the issue's
time with its inputs'. A hand-kept wildcard list in the Makefile drifted from what
the publisher actually reads (a stylesheet two folders down, docs/kpi.md), so the
publisher, which knows what it read, writes that list after each publish into
`<OUT>/<Q>/.build/inputs.mk`, and the Makefile includes it (docs/decisions.md,
"Who tells make what an issue depends on").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.publish.sections import SECTIONS

MAKE_FILE = "inputs.mk"


def _code_files() -> list[Path]:
    """Every file of the helpers package the publisher or a section kernel may load:
    modules, templates, stylesheets. The devtools (sample, bench, browser) are not."""
    return [
        p
        for p in sorted(paths.HELPERS.rglob("*"))
        if p.is_file() and not {"__pycache__", "devtools"} & set(p.relative_to(paths.HELPERS).parts)
    ]


def issue_inputs(
    quarter: str,
    data_root: Path,
    extract_files: Iterable[Path],
    *,
    quarters_missing: bool,
    window: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Every file and folder an issue of Q is built from, sorted and de-duplicated.

    extract_files: the extracts read (every quarter the issue uses). Folders are listed
    too, so that a file added to one (a new editorial text, a params/<Q>.yaml) is seen;
    with `quarters_missing` (a quarter the issue would use has no folder yet) the data
    root is listed, so that the quarter appearing is seen.

    window: the 近期趋势 window's earlier quarters (`store.window_reports`): their
    extracts (broken ones too; not their prior years', which the trend never shows),
    their folders and params files; a window quarter without a folder lists the data root.
    """
    extract_files = list(extract_files)
    if window:
        from helpers.figures.store import window_files

        files, missing = window_files(window)
        extract_files += files
        quarters_missing = quarters_missing or missing
    editorial = paths.editorial_dir(quarter, data_root)
    found: set[Path] = {
        *_code_files(),
        *(sec.notebook_path for sec in SECTIONS),
        paths.DOCS / "kpi.md",
        paths.PARAMS,
        *extract_files,
        *(f.parent for f in extract_files),
        paths.quarter_dir(quarter, data_root),
    }
    for qi in [quarter, *(qi for qi, got in (window or {}).items() if got is not None)]:
        found.add(paths.quarter_dir(qi, data_root))
        if paths.params_file(qi).exists():
            found.add(paths.params_file(qi))
    if editorial.is_dir():
        found |= {editorial, *editorial.glob("*.md")}
    if quarters_missing:
        found.add(data_root)
    # Absolute, symlinks kept: make follows a link to its target's time, and a link
    # re-pointed elsewhere changes its folder.
    return sorted({Path(os.path.abspath(p)) for p in found})


def _make_word(path: Path) -> str:
    """A path as make reads it from the project root (where the Makefile runs)."""
    try:
        text = os.path.relpath(path, paths.ROOT) if path.is_relative_to(paths.ROOT) else str(path)
    except ValueError:
        text = str(path)
    return text.replace("$", "$$").replace("#", r"\#").replace(" ", r"\ ")


def write_make_inputs(build_dir: Path, files: Iterable[Path]) -> Path:
    """Write `ISSUE_INPUTS := …` into build_dir/inputs.mk (atomically) and return its path.

    Every input also gets an empty rule, as `gcc -MP` does, so that a file that has
    since disappeared makes the issue stale instead of stopping make with
    "No rule to make target".
    """
    words = [_make_word(p) for p in files]
    body = " \\\n  ".join(words)
    text = (
        "# Written by the publisher after each publish: the files this issue was built from\n"
        "# (helpers.publish.inputs). make re-publishes when any of them is newer.\n"
        f"ISSUE_INPUTS := \\\n  {body}\n\n"
        f"{' '.join(words)}:\n"
    )
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / MAKE_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def read_make_inputs(build_dir: Path) -> list[Path] | None:
    """The inputs listed in build_dir/inputs.mk as absolute paths; None without a
    readable list (never published, or by a version that wrote none)."""
    try:
        text = (build_dir / MAKE_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    _, sep, rest = text.partition("ISSUE_INPUTS := \\\n")
    if not sep:
        return None
    block = rest.split("\n\n", 1)[0]
    found = []
    for line in block.splitlines():
        word = line.strip().removesuffix("\\").strip()
        if not word:
            continue
        # _make_word, undone: `$$` -> `$`, `\#` -> `#`, `\ ` -> ` `.
        word = word.replace(r"\ ", " ").replace(r"\#", "#").replace("$$", "$")
        path = Path(word)
        found.append(path if path.is_absolute() else paths.ROOT / path)
    return found


def up_to_date(issue_dir: Path, also: Iterable[Path] = ()) -> bool:
    """Whether the issue in issue_dir (`<OUT>/<Q>/`) is up to date, as `make quarter`
    decides it: issue.html exists and no input listed in `.build/inputs.mk` is newer
    than it, and every one of them still exists. `also`: further prerequisites the
    Makefile adds (the environment marker `$(READY)`); a missing one is ignored.
    No list -> False (the publisher has to decide)."""
    try:
        issue_time = (issue_dir / "issue.html").stat().st_mtime_ns
    except OSError:
        return False
    listed = read_make_inputs(issue_dir / ".build")
    if not listed:
        return False
    for path in listed:
        try:
            if path.stat().st_mtime_ns > issue_time:
                return False
        except OSError:
            return False
    for path in also:
        try:
            if Path(path).stat().st_mtime_ns > issue_time:
                return False
        except OSError:
            continue
    return True
