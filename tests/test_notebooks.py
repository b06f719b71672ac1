"""Every section notebook runs top to bottom, as committed, on the sample quarter —
the way an analyst opens it in JupyterLab — under pytest-notebook.

The committed notebooks hold no outputs, so the regression diff ignores outputs
and execution counts; what is checked is that execution raises nothing and that
each notebook shows what it is for (prose, and charts where it has them).
"""

from __future__ import annotations

import warnings

import pytest

from helpers import paths
from helpers.report import render

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pytest-notebook's attrs field-conversion warnings
    from pytest_notebook.nb_regression import NBRegressionFixture

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_as_is_on_the_sample(path, sample_root, session_cache):
    fixture = NBRegressionFixture(
        exec_timeout=300,
        exec_cwd=str(paths.NOTEBOOKS),
        # The kernel reads the sample through the same settings the Makefile uses.
        exec_env={"KFWK_DATA": str(sample_root), "KFWK_CACHE": str(session_cache)},
        diff_ignore=("/cells/*/outputs", "/cells/*/execution_count", "/metadata/language_info"),
    )
    result = fixture.check(str(path), raise_errors=True)
    outputs = [o for c in result.nb_final.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o for o in outputs if o.output_type == "error"] == []
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert any("text/markdown" in o.data or "text/html" in o.data for o in shown)
    code = "".join("".join(c.source) for c in result.nb_final.cells if c.cell_type == "code")
    # Exploring, charts are Vega 5 outputs that JupyterLab draws itself (docs/decisions.md).
    charts = [o for o in shown if "图表 / chart" in o.data.get("text/plain", "")]
    assert all(render.VEGA_MIMETYPE in o.data for o in charts)
    # Every ctx.show call drew (one inside a loop once per pass: 近期趋势).
    assert len(charts) >= code.count("ctx.show(")
