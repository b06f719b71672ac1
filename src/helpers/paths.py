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
TEMPLATES = Path(__file__).resolve().parent / "publish" / "templates"
# Parsed, validated tables keyed by the extracts' content hashes (see extracts.py).
CACHE = Path(os.environ.get("KFWK_CACHE", ROOT / ".cache"))
REFERENCE = DOCS / "reference"


def data_root() -> Path:
    """Folder holding one sub-folder of extracts per quarter (`DATA=`)."""
    return Path(os.environ.get("KFWK_DATA", ROOT / "data")).resolve()


def out_root() -> Path:
    """Folder receiving one sub-folder per published quarter (`OUT=`)."""
    return Path(os.environ.get("KFWK_OUT", ROOT / "outputs")).resolve()


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
