"""Back-test: the sample quarter, through the real pipeline (validation -> figures ->
formatting), reproduces every figure the printed 2022Q1 issue shows — the repo's
own copy of the reference, docs/reference/2022Q1.yaml."""

from __future__ import annotations

import yaml

from helpers import paths
from helpers.figures import store as figures
from helpers.publish import reconcile


def test_sample_reproduces_every_printed_figure(sample_root, session_cache, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", session_cache)
    reference = yaml.safe_load((paths.REFERENCE / "2022Q1.yaml").read_text(encoding="utf-8"))
    metrics = figures.quarter_figures("2022Q1", sample_root)
    rows = reconcile.reconcile(metrics, reference)
    assert len(rows) == len(reference["figures"]) == 65
    assert [r.key for r in rows if not r.agree] == []
    assert metrics["prior_quarter"] == "2021Q1"


def test_reconcile_command_reports_all_agreeing(sample_root, session_cache, tmp_path):
    from conftest import run_cli

    result = run_cli(
        "reconcile",
        "2022Q1",
        "--ref",
        str(paths.REFERENCE / "2022Q1.yaml"),
        data=sample_root,
        out=tmp_path,
        cache=session_cache,
    )
    assert result.returncode == 0, result.stderr
    assert "65 figures: 65 agree" in result.stdout


def test_reconcile_command_flags_a_disagreeing_figure(sample_root, session_cache, tmp_path):
    from conftest import run_cli

    reference = yaml.safe_load((paths.REFERENCE / "2022Q1.yaml").read_text(encoding="utf-8"))
    reference["figures"]["tickets.total"] = {"printed": "34310"}
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump(reference, allow_unicode=True), encoding="utf-8")
    result = run_cli(
        "reconcile", "2022Q1", "--ref", str(ref), data=sample_root, out=tmp_path, cache=session_cache
    )
    assert result.returncode == 1
    assert "tickets.total" in result.stdout and "64 agree" in result.stdout
