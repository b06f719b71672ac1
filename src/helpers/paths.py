"""The one place that builds paths from the project root.

Notebooks, the CLI and tests ask this module for every location; nothing else
hard-codes a path. `DATA` and `OUT` can be overridden (the Makefile passes
`DATA=` / `OUT=` through the environment variables `KFWK_DATA` / `KFWK_OUT`).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "params"
HELPERS = Path(__file__).resolve().parent
TEMPLATES = HELPERS / "publish" / "templates"
REFERENCE = DOCS / "reference"
# A chart's Vega-Lite spec as a section saves it (`<figures_dir>/<section>-<chart>.vl.json`).
SPEC_SUFFIX = ".vl.json"


def from_root(path: str | os.PathLike) -> Path:
    """A folder named on the command line, in the environment or in a notebook parameter
    -> an absolute path. A relative path is relative to the project root, never to the
    current directory: kernels run in notebooks/, make in the root, and both must agree."""
    return (ROOT / Path(path).expanduser()).resolve()


# Parsed, validated tables keyed by the extracts' content hashes (see extracts.py).
CACHE = from_root(os.environ.get("KFWK_CACHE") or ".cache")


def data_root() -> Path:
    """Folder holding one sub-folder of extracts per quarter (`DATA=`)."""
    return from_root(os.environ.get("KFWK_DATA") or "data")


def out_root() -> Path:
    """Folder receiving one sub-folder per published quarter (`OUT=`)."""
    return from_root(os.environ.get("KFWK_OUT") or "outputs")


def quarter_dir(quarter: str, root: Path | None = None) -> Path:
    """`<DATA>/<Q>/`: the quarter's extracts (read-only)."""
    return (root or data_root()) / quarter


def editorial_dir(quarter: str, root: Path | None = None) -> Path:
    """`<DATA>/<Q>/editorial/`: the editors' markdown."""
    return quarter_dir(quarter, root) / "editorial"


def issue_dir(quarter: str, root: Path | None = None) -> Path:
    """`<OUT>/<Q>/`: the published issue, metrics.json, figures."""
    return (root or out_root()) / quarter


def params_file(quarter: str) -> Path:
    """`params/<Q>.yaml`: optional issue settings."""
    return PARAMS / f"{quarter}.yaml"
