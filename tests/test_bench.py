"""The pure parts of the benchmark (helpers.devtools.bench): PSS from a fake /proc,
the stage split and per-stage peak memory from synthetic progress lines and samples,
the ✓/✗ verdicts, the SCENARIOS list and the peer's script. Nothing here publishes
or times anything."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers.devtools import bench
from helpers.devtools.bench import Run
from helpers.publish.sections import SECTIONS

ROLLUP = """\
55aca7545000-7ffd55931000 ---p 00000000 00:00 0                          [rollup]
Rss:              {rss} kB
Pss:              {pss} kB
Pss_Dirty:           116 kB
Pss_Anon:            116 kB
Shared_Clean:       1472 kB
Private_Dirty:       116 kB
Swap:                  0 kB
SwapPss:               0 kB
"""
MB = 2**20


def _stat(pid: int, ppid: int, comm: str = "python") -> str:
    return f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 100 1000 10\n"


def _fake_proc(root: Path, procs: dict[int, tuple[int, str, str | None]]) -> Path:
    """{pid: (ppid, comm, smaps_rollup text or None)} -> a folder laid out like /proc."""
    for pid, (ppid, comm, rollup) in procs.items():
        d = root / str(pid)
        d.mkdir(parents=True)
        (d / "stat").write_text(_stat(pid, ppid, comm))
        if rollup is not None:
            (d / "smaps_rollup").write_text(rollup)
    (root / "self").mkdir()  # non-numeric entries are ignored
    (root / "meminfo").write_text("MemTotal: 1 kB\n")
    return root


# ----------------------------------------------------------------- memory


def test_parse_rollup_reads_kb_fields_as_bytes(tmp_path):
    path = tmp_path / "smaps_rollup"
    path.write_text(ROLLUP.format(rss=1632, pss=283))
    fields = bench.parse_rollup(path.read_text())
    assert fields["Pss"] == 283 * 1024
    assert fields["Rss"] == 1632 * 1024
    assert fields["Pss_Anon"] == 116 * 1024  # Pss_* are fields of their own, not added to Pss
    assert "rollup" not in fields


def test_parse_rollup_sums_per_mapping_smaps():
    smaps = "\n".join(
        f"7f00000{i}000-7f00000{i + 1}000 r-xp 00000000 08:01 42  /usr/lib/libx.so\n"
        f"Rss:  {10 * (i + 1)} kB\nPss:  {i + 1} kB\n"
        for i in range(3)
    )
    assert bench.parse_rollup(smaps) == {"Rss": 60 * 1024, "Pss": 6 * 1024}


def test_tree_memory_sums_pss_over_the_descendants_only(tmp_path):
    proc = _fake_proc(
        tmp_path / "proc",
        {
            100: (1, "make", ROLLUP.format(rss=4000, pss=1000)),
            101: (100, "python (publisher)", ROLLUP.format(rss=300_000, pss=200_000)),
            102: (101, "ipykernel) S 1 (odd", ROLLUP.format(rss=150_000, pss=50_000)),
            103: (101, "python", ROLLUP.format(rss=150_000, pss=50_000)),
            104: (103, "gone", None),  # exited between listing and reading: counts 0
            200: (1, "unrelated", ROLLUP.format(rss=900_000, pss=900_000)),
        },
    )
    assert sorted(bench.tree_pids(100, proc)) == [100, 101, 102, 103, 104]
    rss, pss = bench.tree_memory(100, proc)
    assert pss == (1000 + 200_000 + 50_000 + 50_000) * 1024
    assert rss == (4000 + 300_000 + 150_000 + 150_000) * 1024
    assert bench.tree_memory(101, proc)[1] == 300_000 * 1024
    assert bench.tree_memory(999, proc) == (0, 0)


def test_process_memory_falls_back_to_smaps(tmp_path):
    proc = _fake_proc(tmp_path / "proc", {7: (1, "old kernel", None)})
    (proc / "7" / "smaps").write_text("Rss: 8 kB\nPss: 4 kB\nRss: 8 kB\nPss: 2 kB\n")
    assert bench.process_memory(7, proc) == (16 * 1024, 6 * 1024)


# ----------------------------------------------------------------- stages

# A cold publish as the publisher prints it, with the time (s) each line arrived.
COLD = [
    (0.6, "==> publishing 2022Q1 (extracts: /d/2022Q1, output: /o/2022Q1)"),
    (4.7, "  validate                        4.0 s"),
    (6.0, "  figures                         1.2 s"),
    (6.1, "  sections: 17 to run, 0 unchanged"),
    (10.0, "  section foreword                 3.8 s  卷首语"),
    (20.5, "  section inbound_general         14.3 s  综合呼入业务"),
    (30.0, "  assemble                        3.5 s"),
    (30.2, "==> published /o/2022Q1/issue.html"),
]


def test_stage_split_of_a_cold_publish():
    stages, sections_run = bench.split_stages(COLD, 30.5)
    assert list(stages) == ["startup", "validate", "figures", "sections", "assemble", "finish"]
    assert stages["startup"] == 0.6
    assert stages["validate"] == 4.0 and stages["figures"] == 1.2 and stages["assemble"] == 3.5
    assert stages["sections"] == pytest.approx(30.0 - 3.5 - 6.1)  # sections line -> assemble began
    assert stages["finish"] == pytest.approx(0.5)
    assert sections_run == 17
    assert bench.section_times(COLD) == {"foreword": 3.8, "inbound_general": 14.3}


def test_stage_split_takes_any_top_level_stage_the_publisher_prints():
    lines = [
        (0.5, "==> publishing 2022Q1"),
        (2.5, "  store                     2.0 s"),
        (2.6, "  sections: 3 to run, 14 unchanged"),
        (9.0, "  export              1.5 s"),
        (12.0, "  assemble   3.0 s"),
    ]
    stages, _ = bench.split_stages(lines, 12.0)
    assert list(stages) == ["startup", "store", "sections", "export", "assemble", "finish"]
    assert stages["sections"] == pytest.approx(7.5 - 2.6)  # ends when export began


def test_a_no_op_has_no_stages():
    lines = [(0.01, "==> outputs/2022Q1/issue.html is up to date")]
    assert bench.split_stages(lines, 0.02) == ({}, None)
    assert bench.stage_intervals(lines, 0.02) == []
    assert bench.stage_peaks([(0.01, 5)], []) == {}


def test_peak_pss_is_attributed_to_the_stage_it_was_sampled_in():
    intervals = bench.stage_intervals(COLD, 30.5)
    # (t, PSS): validate runs 0.7-4.7, figures 4.8-6.0, sections 6.1-26.5, assemble 26.5-30.0
    samples = [
        (0.0, 10),
        (0.3, 40),
        (2.0, 500),
        (4.6, 700),
        (4.75, 90),
        (5.0, 300),
        (6.5, 250),
        (15.0, 900),
        (26.4, 880),
        (27.0, 400),
        (30.1, 60),
        (30.4, 50),
    ]
    peaks = bench.stage_peaks(samples, intervals)
    assert peaks == {
        "startup": 40,
        "validate": 700,
        "figures": 300,
        "sections": 900,
        "assemble": 400,
        "finish": 60,
    }
    assert max(peaks.values()) == max(v for _, v in samples)  # every sample is attributed


def test_a_sample_between_stages_counts_for_the_earlier_one():
    intervals = [("startup", 0.0, 1.0), ("validate", 2.0, 3.0), ("finish", 3.0, 4.0)]
    assert bench.stage_peaks([(1.5, 77), (2.5, 5)], intervals) == {"startup": 77, "validate": 5}


# ----------------------------------------------------------------- verdicts


def _run(wall: float, pss: float = 300.0, **kw) -> Run:
    return Run(
        wall_s=wall,
        peak_tree_pss_mb=pss,
        peak_tree_rss_mb=2 * pss,
        max_process_rss_mb=pss,
        stages={"startup": 0.5, "sections": wall - 1},
        stage_peak_pss_mb={"sections": pss},
        **kw,
    )


RESULTS = {"scale": 10, "huge_scale": 30}


def _targets(by_name: dict[str, list[Run]], failed=None, skipped=None) -> dict:
    summary = bench._summarise(by_name, RESULTS, failed, skipped)
    return {name: s.get("target") for name, s in summary.items()}


def test_time_limits_use_the_median():
    t = _targets(
        {
            "cold": [_run(18.0), _run(25.0), _run(19.0)],
            "noop": [_run(0.4)],
            "edit": [_run(5.5)],
            "touch": [_run(9.0)],
        }
    )
    assert t["cold"]["ok"] is True and t["cold"]["checks"] == [{"rule": "≤ 20 s", "ok": True}]
    assert t["noop"]["ok"] is True
    assert t["edit"]["ok"] is False
    assert t["touch"] is None  # reported only


def test_scale_needs_both_time_and_pss():
    cold = [_run(20.0)]
    assert _targets({"cold": cold, "scale": [_run(39.0, pss=1000)]})["scale"]["ok"] is True
    slow = _targets({"cold": cold, "scale": [_run(41.0, pss=1000)]})["scale"]
    assert slow["ok"] is False and [c["ok"] for c in slow["checks"]] == [False, True]
    fat = _targets({"cold": cold, "scale": [_run(30.0, pss=1000), _run(30.0, pss=1100)]})["scale"]
    assert fat["ok"] is False and [c["ok"] for c in fat["checks"]] == [True, False]  # largest peak
    alone = _targets({"scale": [_run(30.0, pss=1000)]})["scale"]
    assert alone["ok"] is None and "(a) not run" in alone["rule"]


def test_huge_must_publish_within_its_pss():
    assert _targets({"huge": [_run(90.0, pss=1500)]})["huge"]["ok"] is True
    assert _targets({"huge": [_run(90.0, pss=1600)]})["huge"]["ok"] is False
    failed = _targets({"huge": []}, failed={"huge": "exited with 137"})["huge"]
    assert failed["ok"] is False
    assert failed["checks"][0] == {"rule": "publishes", "ok": False}


def test_peer_ratio_to_cold():
    summary = bench._summarise({"cold": [_run(20.0)], "peer": [_run(130.0)]}, RESULTS)
    assert summary["peer"]["target"]["ok"] is True and summary["peer"]["ratio_to_cold"] == 6.5
    assert _targets({"cold": [_run(25.0)], "peer": [_run(130.0)]})["peer"]["ok"] is False
    assert _targets({"peer": [_run(130.0)]})["peer"]["ok"] is None


def test_a_failed_or_skipped_scenario_is_reported():
    summary = bench._summarise(
        {"cold": [_run(19.0)], "edit": []},
        RESULTS,
        failed={"cold": "make exited with 2"},
        skipped={"noop": "no successful cold publish to continue from"},
    )
    assert summary["cold"]["target"]["ok"] is False  # one run failed: the scenario fails
    assert summary["noop"] == {
        "label": "(b) no-op re-publish",
        "skipped": "no successful cold publish to continue from",
    }
    assert "edit" in summary and summary["edit"]["target"]["ok"] is False  # no run, no median


def test_summary_keeps_stage_time_and_peak_pss():
    summary = bench._summarise({"cold": [_run(10.0, pss=400), _run(12.0, pss=500)]}, RESULTS)["cold"]
    assert summary["stages_median_s"] == {"startup": 0.5, "sections": 10.0}
    assert summary["stage_peak_pss_mb"] == {"sections": 500}
    assert summary["peak_tree_pss_mb"] == 500 and summary["peak_tree_rss_mb"] == 1000
    assert summary["max_process_rss_mb"] == 500


def test_table_shows_marks_and_stage_peaks():
    results = {
        **RESULTS,
        "quarter": "2022Q1",
        "runs": 1,
        "environment": {"cpus": 2},
        "data": {"source": "generated", "generated": {"huge": {"scale": 30, "seconds": 80.0, "mb": 3000.0}}},
        "scenarios": bench._summarise(
            {"cold": [_run(25.0)], "huge": [_run(60.0, pss=900)]}, RESULTS, skipped={"noop": "setup failed"}
        ),
    }
    table = bench.format_table(results)
    assert "✗ ≤ 20 s" in table
    assert "✓ publishes; ✓ PSS ≤ 1.5 GB" in table
    assert "sections 24.0 s / 300 MB" in table
    assert "skipped: setup failed" in table
    assert "SCALE=30 sample generation for (f)" in table


# ----------------------------------------------------------------- SCENARIOS


@pytest.mark.parametrize(
    "text, names",
    [
        ("", list(bench.SCENARIOS)),
        ("all", list(bench.SCENARIOS)),
        ("peer", ["peer"]),
        ("p,a", ["cold", "peer"]),  # report order, not the order given
        (" e , F,cold ", ["cold", "scale", "huge"]),
        ("b,noop,b", ["noop"]),
    ],
)
def test_parse_scenarios(text, names):
    assert bench.parse_scenarios(text) == names


@pytest.mark.parametrize("text", ["q", "cold,warm", "a;b"])
def test_parse_scenarios_rejects_unknown_names(text):
    with pytest.raises(ValueError, match="unknown scenario"):
        bench.parse_scenarios(text)


def test_bad_scenarios_exit_2(capsys):
    assert bench.main(["--scenarios", "z"]) == 2
    assert "unknown scenario(s) z" in capsys.readouterr().err


def test_backfill_is_also_judged_against_one_cold_publish_of_the_same_eight_quarters():
    assert bench.parse_scenarios("i") == ["cold8"]
    both = {"cold": {"median_s": 15.0}, "cold8": {"median_s": 45.0}}  # 80 s and 240 s
    got = bench.verdict("backfill", {"median_s": 150.0}, both)
    assert [c["ok"] for c in got["checks"]] == [False, True] and got["ok"] is False
    assert "8×(i)/1.5 = 240.0 s" in got["rule"]
    assert bench.verdict("backfill", {"median_s": 70.0}, both)["ok"] is True
    # Without (i), only the rule against (a).
    assert len(bench.verdict("backfill", {"median_s": 70.0}, {"cold": {"median_s": 15.0}})["checks"]) == 1
    assert bench.verdict("cold8", {"median_s": 45.0}, both) is None  # no target of its own


# ----------------------------------------------------------------- the peer


def test_peer_skips_missing_editorial_sections(tmp_path):
    editorial = tmp_path / "2022Q1" / "editorial"
    editorial.mkdir(parents=True)
    (editorial / "foreword.md").write_text("卷首语\n", encoding="utf-8")
    ids = [s.id for s in bench.peer_sections("2022Q1", tmp_path)]
    assert "foreword" in ids and "closing" not in ids and "key_work" not in ids
    assert len(ids) == len(SECTIONS) - 3


def test_peer_script_runs_papermill_per_section_then_nbconvert_then_cat(tmp_path):
    project, data, out = Path("/proj"), Path("/data root"), tmp_path / "peer-0"
    sections = [s for s in SECTIONS if s.id in ("foreword", "inbound_credit_card")]
    script = bench.peer_script(project, "2022Q1", data, out, sections)
    lines = script.splitlines()
    papermill = [ln for ln in lines if ln.startswith("/proj/.venv/bin/papermill ")]
    assert papermill[1] == (
        f"/proj/.venv/bin/papermill inbound.ipynb {out}/02_inbound_credit_card.ipynb -k kefu-weikan "
        f"-p quarter 2022Q1 -p data_root '/data root' -p figures_dir {out}/figures/inbound_credit_card "
        "-p line_key credit_card"
    )
    assert "cd /proj/notebooks" in lines
    convert = [ln for ln in lines if " nbconvert " in ln]
    assert convert == [
        f"/proj/.venv/bin/jupyter nbconvert --to html --no-input {out}/01_foreword.ipynb",
        f"/proj/.venv/bin/jupyter nbconvert --to html --no-input {out}/02_inbound_credit_card.ipynb",
    ]
    assert f"cat {out}/01_foreword.html {out}/02_inbound_credit_card.html > {out}/issue.html" in lines
    order = [
        lines.index(papermill[-1]),
        lines.index(convert[0]),
        next(i for i, ln in enumerate(lines) if ln.startswith("cat ")),
    ]
    assert order == sorted(order)  # sequential: execute all, convert all, concatenate


def test_sampler_keeps_within_its_cpu_budget(monkeypatch):
    """A cheap sample waits the interval; a costly one waits until the sampler has used at
    most `budget` of a core (a 30 ms sample at a tenth: 0.27 s more)."""
    sampler = bench.TreeSampler(os.getpid(), time.perf_counter(), interval=0.1, budget=0.1)
    assert sampler.pause(0.001) == 0.1
    assert sampler.pause(0.03) == pytest.approx(0.27)
    assert bench.TreeSampler(1, 0.0, budget=0.5).pause(0.03) == 0.1
    # It counts its own CPU time, which each run reports.
    monkeypatch.setattr(bench, "tree_memory", lambda root, proc: (sum(range(200_000)) and 1, 1))
    sampler.start()
    time.sleep(0.3)
    samples = sampler.stop()
    assert samples and sampler.cpu_s > 0
