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
from collections.abc import Iterable
from pathlib import Path

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
) -> list[Path]:
    """Every file and folder an issue of Q is built from, sorted and de-duplicated.

    extract_files: the extracts read (every quarter the issue uses). Folders are listed
    too, so that a file added to one (a new editorial text, a params/<Q>.yaml) is seen;
    with `quarters_missing` (a quarter the issue would use has no folder yet) the data
    root is listed, so that the quarter appearing is seen.
    """
    extract_files = list(extract_files)
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
    if paths.params_file(quarter).exists():
        found.add(paths.params_file(quarter))
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
