"""Repository hygiene: committed notebooks carry no outputs, and every notebook
has the parameters cell papermill needs, with typed, commented defaults."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import paths
from helpers.publish.sections import SECTIONS

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


def test_every_section_has_its_notebook():
    missing = sorted({s.notebook for s in SECTIONS} - {p.name for p in NOTEBOOKS})
    assert NOTEBOOKS and not missing


def committed_text(path: Path) -> str:
    """The notebook as git would commit it: the staged copy, which the nbstripout filter
    has cleaned (an analyst's saved run in the working copy is fine); the working copy
    when the file is not tracked or this is not a git checkout."""
    staged = subprocess.run(
        ["git", "show", f":{path.relative_to(paths.ROOT).as_posix()}"],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    return staged.stdout if staged.returncode == 0 else path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    nb = json.loads(committed_text(path))
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell.get("outputs") or cell.get("execution_count") is not None
    ]
    assert dirty == [], f"{path.name}: cells {dirty} carry outputs or execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_is_typed_and_commented(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    lines = [ln for ln in "".join(tagged[0]["source"]).splitlines() if ln.strip()]
    assert any(ln.startswith('quarter: str = "2022Q1"') for ln in lines)
    for line in lines:
        assert re.match(r"^\w+: (str|int|float|bool) = .+  # .+", line), line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_define_no_functions_and_use_the_project_kernel(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert not re.search(r"^\s*(def|class|lambda)\b", code, re.M)
    assert nb["metadata"]["kernelspec"]["name"] == "kefu-weikan"


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run([str(ruff), *args], cwd=paths.ROOT, capture_output=True, text=True, check=False)


def test_ruff_lints_and_format_checks_code_and_notebooks():
    files = _ruff("check", "--show-files", ".").stdout
    assert all(str(p) in files for p in NOTEBOOKS), "ruff must read the notebooks"
    assert "src/helpers/figures/store.py" in files
    lint = _ruff("check", ".")
    assert lint.returncode == 0, lint.stdout
    fmt_check = _ruff("format", "--check", ".")
    assert fmt_check.returncode == 0, fmt_check.stdout
