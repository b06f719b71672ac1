"""`make backfill FROM= TO=`: every quarter of a range with extracts, the up-to-date check
it shares with make, and the index as a dashboard of every published issue.

End to end, over four generated quarters 2021Q2..2022Q1: 2021Q3 has no folder (skipped),
2021Q4 was published from good data and then broken by hand (a bad date in a known line:
the summary names file, line, column and rule, and its published issue stays byte for
byte as it was), the other two publish. A second backfill finds everything up to date.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, linked_copy, make, run_cli

from helpers.figures.headline import HEADLINE
from helpers.publish import backfill, inputs

RANGE = ("2021Q2", "2021Q3", "2021Q4", "2022Q1")
MISSING, BROKEN = "2021Q3", "2021Q4"
BAD_LINE = 3  # the second data row of kb_changes.csv
BAD_DATE = "2021-11-31"


# ------------------------------------------------------------------ unit: the range, extracts


def test_quarter_range_is_inclusive_oldest_first():
    assert backfill.quarter_range("2021Q3", "2022Q2") == ["2021Q3", "2021Q4", "2022Q1", "2022Q2"]
    assert backfill.quarter_range("2022Q1", "2022Q1") == ["2022Q1"]
    with pytest.raises(ValueError, match="after"):
        backfill.quarter_range("2022Q2", "2022Q1")
    with pytest.raises(ValueError):  # QuarterError is a ValueError
        backfill.quarter_range("2022Q5", "2022Q1")


def test_a_folder_without_extracts_is_not_a_quarter_to_publish(tmp_path):
    (tmp_path / "2022Q2" / "editorial").mkdir(parents=True)  # what `make new-quarter` leaves
    assert not backfill.has_extracts("2022Q2", tmp_path)
    assert not backfill.has_extracts("2022Q3", tmp_path)
    (tmp_path / "2022Q2" / "awards.csv.gz").write_bytes(b"")
    assert backfill.has_extracts("2022Q2", tmp_path)


# ------------------------------------------------------------------ unit: up to date


def _files(tmp_path: Path) -> tuple[Path, list[Path]]:
    issue_dir = tmp_path / "out" / "2022Q1"
    issue_dir.mkdir(parents=True)
    odd = tmp_path / "data dir" / "a#b$c.csv"  # spaces, # and $ survive the make escaping
    odd.parent.mkdir()
    listed = [odd, tmp_path / "x.csv", ROOT / "pyproject.toml"]
    for p in listed[:2]:
        p.write_text("x", encoding="utf-8")
        os.utime(p, (1_000_000, 1_000_000))
    (issue_dir / "issue.html").write_text("<html></html>", encoding="utf-8")
    os.utime(issue_dir / "issue.html", (2_000_000_000, 2_000_000_000))  # newer than all
    return issue_dir, listed


def test_inputs_list_reads_back_what_was_written(tmp_path):
    issue_dir, listed = _files(tmp_path)
    inputs.write_make_inputs(issue_dir / ".build", listed)
    assert inputs.read_make_inputs(issue_dir / ".build") == listed
    assert inputs.read_make_inputs(tmp_path / "nowhere") is None


def test_up_to_date_as_make_decides(tmp_path):
    issue_dir, listed = _files(tmp_path)
    assert not inputs.up_to_date(issue_dir)  # no list yet: not known, so not up to date
    inputs.write_make_inputs(issue_dir / ".build", listed)
    assert inputs.up_to_date(issue_dir)
    ready = tmp_path / ".ready"
    ready.write_text("", encoding="utf-8")
    os.utime(ready, (1_000_000, 1_000_000))
    assert inputs.up_to_date(issue_dir, [ready, tmp_path / "no-such-marker"])
    os.utime(ready, (3_000_000_000, 3_000_000_000))  # the environment was remade after the issue
    assert not inputs.up_to_date(issue_dir, [ready])
    os.utime(listed[1], (3_000_000_000, 3_000_000_000))  # an input newer than the issue
    assert not inputs.up_to_date(issue_dir)
    os.utime(listed[1], (1_000_000, 1_000_000))
    assert inputs.up_to_date(issue_dir)
    listed[0].unlink()  # an input gone
    assert not inputs.up_to_date(issue_dir)
    assert not inputs.up_to_date(tmp_path / "out" / "2021Q4")  # no issue at all


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def ranged(sample_root, session_cache, tmp_path_factory):
    """(data, out, cache, first backfill's result, bytes of the broken quarter's issue before).

    data and out belong to this module (its tests edit them, in file order). The data are
    the session sample's quarters of the range but MISSING, linked, not generated again:
    the generator writes a quarter's bytes alike whichever quarters it is asked for. The
    cache is the session's: nothing here asks for a cold one.
    """
    data = tmp_path_factory.mktemp("backfill-data")
    out = tmp_path_factory.mktemp("backfill-out")
    cache = session_cache
    for q in RANGE:
        if q != MISSING:  # a quarter without a folder: skipped by the backfill
            # The broken file is edited in place below: a copy of its own, not a link.
            linked_copy(sample_root / q, data / q, own=["kb_changes.csv"] if q == BROKEN else [])
    # The broken quarter was published from good data first: its issue must survive.
    first = run_cli("publish", BROKEN, data=data, out=out, cache=cache, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    before = {name: (out / BROKEN / name).read_bytes() for name in ("issue.html", "metrics.json", "kpi.html")}
    kb = data / BROKEN / "kb_changes.csv"
    stat = kb.stat()
    good = kb.read_bytes()
    lines = good.decode("utf-8").split("\n")
    header = lines[0].split(",")
    column = header.index("changed_on")
    row = lines[BAD_LINE - 1].split(",")
    row[column] = BAD_DATE
    lines[BAD_LINE - 1] = ",".join(row)
    kb.write_text("\n".join(lines), encoding="utf-8")
    backfill_range = (f"FROM={RANGE[0]}", f"TO={RANGE[-1]}")
    result = make("backfill", *backfill_range, f"DATA={data}", f"OUT={out}", cache=cache, timeout=900)
    return {
        "data": data,
        "out": out,
        "cache": cache,
        "result": result,
        "before": before,
        "kb": (kb, good, stat),
    }


def test_backfill_publishes_the_others_and_reports_the_broken_quarter(ranged):
    result, out = ranged["result"], ranged["out"]
    text = result.stdout + result.stderr
    assert result.returncode == 2, text  # the broken quarter's refusal: bad input
    summary = text[text.index("==> backfill: 4 quarter(s)") :]
    assert "2 published, 0 up to date, 1 skipped (no extracts), 1 failed" in summary
    assert "published: 2021Q2 2022Q1" in summary
    assert "skipped, no extracts: 2021Q3" in summary
    failed = summary[summary.index(f"✗ {BROKEN} failed") :]
    # file, line, column, value and rule of the bad date
    assert "kb_changes.csv" in failed
    assert f"line {BAD_LINE}," in failed and "column changed_on" in failed
    assert BAD_DATE in failed and "not a valid date" in failed
    # one progress line per quarter
    for q in RANGE:
        assert sum(line.startswith(f"  {q}  ") for line in text.splitlines()) == 1, q
    for q in ("2021Q2", "2022Q1"):
        assert (out / q / "issue.html").is_file()
    assert not (out / MISSING).exists()


def test_worker_processes_publish_several_quarters_each(ranged):
    # Three quarters were published or refused by at most two workers, each in one session
    # (imports, exporter and kernel zygote started once, not once a quarter).
    logs = sorted((ranged["out"] / backfill.LOG_DIR).glob("worker-*.log"))
    sessions = [line for log in logs for line in log.read_text(encoding="utf-8").splitlines()]
    assert 1 <= len(logs) <= 2 and len(sessions) == len(logs), sessions
    assert all("one session for its quarters" in line for line in sessions)
    for q in ("2021Q2", BROKEN, "2022Q1"):  # each quarter's own output, kernels' included
        log = (ranged["out"] / backfill.LOG_DIR / f"{q}.log").read_text(encoding="utf-8")
        assert log.startswith(f"==> publishing {q} "), log[:200]
    assert "not a valid date" in (ranged["out"] / backfill.LOG_DIR / f"{BROKEN}.log").read_text(
        encoding="utf-8"
    )


# A stand-in for `cli backfill-worker`: answers as a worker does, dies on 2021Q3 (as a
# process killed mid-publish would), refuses 2021Q4 with exit code 2.
FAKE_WORKER = """
import json, os, sys
sys.stderr.write(f"fake worker {os.getpid()}\\n"); sys.stderr.flush()
while q := sys.stdin.readline().strip():
    if q == "2021Q3":
        os._exit(9)
    code = 2 if q == "2021Q4" else 0
    err = f"✗ {q}: refused\\nsecond line\\n" if code else ""
    output = f"==> {q} by {os.getpid()}\\n" + err
    print(json.dumps({"quarter": q, "code": code, "output": output, "stderr": err}))
    sys.stdout.flush()
"""


def test_a_worker_that_dies_fails_its_quarter_and_the_next_quarter_gets_a_new_one(tmp_path, monkeypatch):
    data, out = tmp_path / "data", tmp_path / "out"
    quarters = ["2021Q1", "2021Q2", "2021Q3", "2021Q4", "2022Q1"]
    for q in quarters:
        (data / q).mkdir(parents=True)
        (data / q / "inbound_calls.csv").write_text("x\n", encoding="utf-8")
    monkeypatch.setattr(backfill, "_worker_command", lambda jobs, strict: [sys.executable, "-c", FAKE_WORKER])
    lines: list[str] = []
    outcomes = backfill.backfill("2021Q1", "2022Q1", data, out, parallel=1, emit=lines.append)
    status = {o.quarter: (o.status, o.exit_code) for o in outcomes}
    assert status == {
        "2021Q1": (backfill.PUBLISHED, 0),
        "2021Q2": (backfill.PUBLISHED, 0),
        "2021Q3": (backfill.FAILED, backfill.EXIT_UNEXPECTED),
        "2021Q4": (backfill.FAILED, 2),
        "2022Q1": (backfill.PUBLISHED, 0),
    }
    died = next(o for o in outcomes if o.quarter == "2021Q3")
    assert "ended unexpectedly (exit status 9)" in died.reason
    refused = next(o for o in outcomes if o.quarter == "2021Q4")
    assert refused.reason == "✗ 2021Q4: refused\nsecond line"
    logs = out / backfill.LOG_DIR
    # one worker before the death, a new one after it: two different processes
    before = (logs / "2021Q2.log").read_text(encoding="utf-8").split(" by ")[1]
    after = (logs / "2022Q1.log").read_text(encoding="utf-8").split(" by ")[1]
    assert (logs / "2021Q1.log").read_text(encoding="utf-8").split(" by ")[1] == before
    assert before != after
    assert len((logs / "worker-1.log").read_text(encoding="utf-8").splitlines()) == 2
    assert any(line.startswith("==> backfill: 5 quarter(s)") for line in lines)


def test_the_worker_captures_each_quarters_output_with_its_child_processes():
    # serve() as `cli backfill-worker` runs it, with a publish that prints, writes to
    # stderr and starts a process writing to its inherited descriptors.
    code = (
        "import subprocess, sys\n"
        "from helpers.publish import backfill\n"
        "def publish(q, session):\n"
        "    print('out', q)\n"
        "    print('err', q, file=sys.stderr)\n"
        "    subprocess.run(['sh', '-c', 'echo child ' + q + '; echo child-err ' + q + ' >&2'], check=True)\n"
        "    return 3 if q == '2022Q1' else 0\n"
        "sys.exit(backfill.serve(1, False, publish))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input="2021Q4\n2022Q1\n", capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["quarter"], a["code"]) for a in answers] == [("2021Q4", 0), ("2022Q1", 3)]
    assert answers[1]["output"] == "out 2022Q1\nchild 2022Q1\nerr 2022Q1\nchild-err 2022Q1\n"
    assert answers[1]["stderr"] == "err 2022Q1\nchild-err 2022Q1\n"
    assert "one session for its quarters" in result.stderr and "2021Q4" not in result.stderr


def test_the_broken_quarters_earlier_issue_is_untouched(ranged):
    for name, content in ranged["before"].items():
        assert (ranged["out"] / BROKEN / name).read_bytes() == content, name


def test_index_lists_every_published_issue_once_newest_first(ranged):
    soup = BeautifulSoup((ranged["out"] / "index.html").read_text(encoding="utf-8"), "html.parser")
    rows = soup.select("table.kf-dash tbody tr")
    assert [tr["data-quarter"] for tr in rows] == ["2022Q1", BROKEN, "2021Q2"]


def test_a_second_backfill_is_a_no_op(ranged):
    kb, good, stat = ranged["kb"]
    kb.write_bytes(good)  # repaired: the same bytes and time as when published
    os.utime(kb, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    index = (ranged["out"] / "index.html").read_bytes()
    result = run_cli(
        "backfill", RANGE[0], RANGE[-1], data=ranged["data"], out=ranged["out"], cache=ranged["cache"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    stale = {  # what made a quarter stale, should it be (e.g. code edited meanwhile)
        q: [
            str(p)
            for p in inputs.read_make_inputs(ranged["out"] / q / ".build") or []
            if _newer(p, ranged["out"] / q)
        ]
        for q in ("2021Q2", BROKEN, "2022Q1")
    }
    assert "0 published, 3 up to date, 1 skipped (no extracts), 0 failed" in result.stdout, (
        result.stdout,
        stale,
    )
    assert "publishing" not in result.stdout
    assert (ranged["out"] / "index.html").read_bytes() == index


def _newer(path: Path, issue_dir: Path) -> bool:
    try:
        return path.stat().st_mtime_ns > (issue_dir / "issue.html").stat().st_mtime_ns
    except OSError:
        return True


def test_index_dashboard_figures_links_status(ranged, tmp_path):
    from helpers.publish import pipeline

    out = tmp_path / "out"
    shutil.copytree(ranged["out"], out, ignore=shutil.ignore_patterns("notebooks", "figures", ".build"))
    (out / "2022Q1" / "release.json").write_text(json.dumps({"status": "released"}), encoding="utf-8")
    (out / BROKEN / "release.json").write_text(json.dumps({"status": "corrected"}), encoding="utf-8")
    (out / "2021Q2" / "issue.pdf").write_bytes(b"%PDF-1.4\n")
    html = pipeline.refresh_index(out).read_text(encoding="utf-8")
    assert pipeline.refresh_index(out).read_text(encoding="utf-8") == html  # same issues, same bytes
    assert "<script" not in html and "http" not in html  # offline
    soup = BeautifulSoup(html, "html.parser")
    table = soup.select_one("table.kf-dash")
    assert table is not None and table.find_parent("div")["class"] == ["kf-table", "kf-dash-box"]
    for h in HEADLINE:  # one column per headline KPI, labelled as the trend section labels it
        assert h.group in table.thead.get_text()
    status = {}
    for tr in table.tbody.find_all("tr"):
        q = tr["data-quarter"]
        metrics = json.loads((out / q / "metrics.json").read_text(encoding="utf-8"))
        cells = [td.get_text() for td in tr.find_all("td")]
        status[q] = tr.find("td", class_="kf-status")["class"][1]
        assert cells[1:] == [h.printed(h.value(metrics)) for h in HEADLINE], q
        assert all(cell != "—" for cell in cells[1:]), q
        hrefs = [a["href"] for a in tr.find_all("a")]
        expected = [f"{q}/issue.html", f"{q}/metrics.json"] + (["2021Q2/issue.pdf"] if q == "2021Q2" else [])
        assert hrefs == expected
        for href in hrefs:
            assert (out / href).is_file()
    assert status == {
        "2022Q1": "kf-status-released",
        BROKEN: "kf-status-corrected",
        "2021Q2": "kf-status-draft",
    }


# ------------------------------------------------------------------ the benchmark's targets


def test_bench_backfill_targets():
    from helpers.devtools import bench

    assert bench.parse_scenarios("g,h") == ["backfill", "backfill-noop"]
    cold = {"cold": {"median_s": 30.0}}  # 8 x 30 / 1.5 = 160 s
    assert bench.verdict("backfill", {"median_s": 150.0}, cold)["ok"] is True
    assert bench.verdict("backfill", {"median_s": 170.0}, cold)["ok"] is False
    assert bench.verdict("backfill", {"median_s": 150.0}, {})["ok"] is None  # (a) not run
    assert bench.verdict("backfill-noop", {"median_s": 0.4}, {})["ok"] is True
    assert bench.verdict("backfill-noop", {"median_s": 1.2}, {})["ok"] is False
