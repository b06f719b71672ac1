"""Revisions, release and corrections (helpers.publish.revisions).

Unit tests of the change computation first. Then one publish history, in file order,
on a copy of the session's published sample (`published_out`) and a data root of links
to the sample in which the editorial folder and feedback.csv are real copies, so they
can be edited:

1. a publish of the same inputs keeps no revision;
2. an editorial edit -> revisions/1 and changes.json naming the section;
3. fewer feedback rows -> revisions/2 and changes.json naming the changed figures;
4. `release` writes release.json (and says so again without changing it);
5. another edit of the released issue is refused, twice at once too: no published byte
   changes;
6. two concurrent publishes with a reason publish exactly one correction: the
   released version kept byte-identical under revisions/3, a 更正说明 box, the record
   says corrected;
7. once more with the same inputs: nothing happens.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, make, run_cli

from helpers import fmt
from helpers.publish import issue, revisions

Q = "2022Q1"


# --- units --------------------------------------------------------------------------------


def test_figure_changes_are_printed_figures_by_metrics_key():
    old = {
        "quarter": "2022Q1",
        "feedback": {"items": 40, "pending": 3},
        "inbound": {"general": {"answer_rate": 0.94555, "requests": 337800}},
    }
    new = {
        "quarter": "2022Q1",
        "feedback": {"items": 39, "pending": 3},
        # 0.94555 and 0.945551 print alike (94.56%): not a printed change.
        "inbound": {"general": {"answer_rate": 0.945551, "requests": 337900}},
        "training": {"sessions": 12},
    }
    changes = revisions.figure_changes(old, new)
    assert changes == [
        {"key": "feedback.items", "old": "40", "new": "39"},
        {"key": "inbound.general.requests", "old": fmt.wan(337800), "new": fmt.wan(337900)},
        {"key": "training.sessions", "old": None, "new": fmt.count(12)},
    ]
    assert revisions.figure_changes(old, old) == []


def test_figure_changes_read_metrics_json_documents():
    # metrics.json also holds every dotted key at the top level; they are not counted twice.
    from helpers.figures import metrics

    old = json.loads(metrics.to_json({"feedback": {"items": 40}}))
    new = json.loads(metrics.to_json({"feedback": {"items": 41}}))
    assert revisions.figure_changes(old, new) == [{"key": "feedback.items", "old": "40", "new": "41"}]


def _page(*sections: tuple[str, str, str]) -> str:
    body = "".join(
        f'<section><{h} id="{i}">{t}</{h}><p>{x}</p><script>var a="{x}";</script></section>'
        for h, i, t, x in sections
    )
    main = f'<main class="kf-main">{body}</main>'
    return f'<html><body><nav><h2>目录</h2></nav>{main}<footer class="kf-about">x</footer></body></html>'


def test_section_changes_by_heading_not_by_position():
    old = _page(
        ("h2", "sec-01", "卷首语", "春天"),
        ("h2", "sec-02", "主要指标", "a"),
        ("h3", "sec-02-01", "热线", "b"),
    )
    new = _page(
        ("h2", "sec-01", "卷首语", "春天"),
        ("h2", "sec-02", "新栏目", "n"),
        ("h2", "sec-03", "主要指标", "a"),
        ("h3", "sec-03-01", "热线", "b 改"),
    )
    assert revisions.section_changes(old, new) == [
        {"id": "sec-02", "title": "新栏目"},
        {"id": "sec-03-01", "title": "主要指标 / 热线"},
    ]
    assert revisions.section_changes(new, old) == [
        {"id": "sec-02-01", "title": "主要指标 / 热线"},
        {"id": "sec-02", "title": "新栏目"},
    ]
    assert revisions.section_changes(old, old) == []


def test_revision_notes_are_left_out_when_versions_are_compared():
    meta = {"quarter": Q, "completeness": []}
    changes = {"figures": [{"key": "feedback.items", "old": "40", "new": "39"}], "sections": [], "other": []}
    plain = issue._about(meta) + issue._masthead(meta)
    noted = (
        issue._about({**meta, "changes": changes})
        + issue._masthead(meta)
        + issue._correction({"correction": {"reason": "更正 <b>", "figures": changes["figures"]}})
    )
    assert "与上一版相比" in noted and "更正说明" in noted and "&lt;b&gt;" in noted
    assert revisions.without_notes(noted) == plain


def test_release_record_and_status(tmp_path):
    with pytest.raises(revisions.ReleaseError, match="publish it first"):
        revisions.release(tmp_path, Q)
    assert revisions.status(tmp_path, Q) == "draft"
    (tmp_path / Q).mkdir()
    for name in revisions.VERSION_FILES:
        (tmp_path / Q / name).write_text(name, encoding="utf-8")
    record, newly = revisions.release(tmp_path, Q)
    assert newly and revisions.status(tmp_path, Q) == "released"
    assert record["files"]["kpi.html"] == hashlib.sha256(b"kpi.html").hexdigest()
    again, newly = revisions.release(tmp_path, Q)
    assert not newly and again == record
    assert revisions.next_revision(tmp_path / Q) == 1
    (tmp_path / Q / "revisions" / "1").mkdir(parents=True)
    (tmp_path / Q / "revisions" / "notes").mkdir()
    assert revisions.next_revision(tmp_path / Q) == 2
    corrected = revisions.record_correction(tmp_path, Q, 1, "理由")
    assert revisions.status(tmp_path, Q) == "corrected"
    assert corrected["released_at"] == record["released_at"]
    assert [(c["revision"], c["reason"]) for c in corrected["corrections"]] == [(1, "理由")]


# --- one publish history, end to end ------------------------------------------------------


@dataclass
class History:
    data: Path
    out: Path
    cache: Path

    def publish(self, *extra: str) -> subprocess.CompletedProcess:
        return run_cli("publish", Q, *extra, data=self.data, out=self.out, cache=self.cache)

    @property
    def issue_dir(self) -> Path:
        return self.out / Q

    def append_editorial(self, name: str, line: str) -> None:
        """Add a paragraph at the end of Q's editorial file `<name>.md` (a real copy)."""
        path = self.data / Q / "editorial" / f"{name}.md"
        path.write_text(path.read_text(encoding="utf-8") + f"\n\n{line}\n", encoding="utf-8")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(out: Path) -> dict[str, str]:
    """Every published file under OUT (index.html, release.json, revisions/ included);
    only the publisher's work folders `.build/` and its lock files are left out."""
    return {
        str(p.relative_to(out)): sha256(p)
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".build" not in p.relative_to(out).parts and not p.name.endswith(".lock")
    }


def changes_of(history: History) -> dict:
    return json.loads((history.issue_dir / "changes.json").read_text(encoding="utf-8"))


def changed_section_texts(history: History) -> list[str]:
    """The new issue's text of each section changes.json names."""
    page = (history.issue_dir / "issue.html").read_text(encoding="utf-8")
    texts = {value["id"]: value["text"] for value in revisions.section_texts(page).values()}
    return [texts[s["id"]] for s in changes_of(history)["sections"]]


def versions(folder: Path) -> dict[str, str]:
    return {name: sha256(folder / name) for name in revisions.VERSION_FILES}


@pytest.fixture(scope="module")
def history(sample_root, published_out, session_cache, tmp_path_factory) -> History:
    base = tmp_path_factory.mktemp("revisions")
    data = base / "data"
    data.mkdir()
    for folder in sample_root.iterdir():
        if folder.name != Q:
            (data / folder.name).symlink_to(folder)
    (data / Q).mkdir()
    for path in (sample_root / Q).iterdir():
        if path.is_file() and path.name != "feedback.csv":
            (data / Q / path.name).symlink_to(path)
    shutil.copy(sample_root / Q / "feedback.csv", data / Q / "feedback.csv")
    shutil.copytree(sample_root / Q / "editorial", data / Q / "editorial")
    shutil.copytree(published_out, base / "out", ignore=shutil.ignore_patterns(".*.lock"))
    return History(data, base / "out", session_cache)


def test_a_publish_that_changes_nothing_keeps_no_revision(history):
    before = tree(history.out)
    result = history.publish()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical to the published issue" in result.stdout
    assert not (history.issue_dir / "revisions").exists()
    assert not (history.issue_dir / "changes.json").exists()
    assert tree(history.out) == before


def test_an_editorial_edit_keeps_the_previous_version_as_revision_1(history):
    first = versions(history.issue_dir)
    history.append_editorial("key_work", "修订补记：热线扩容。")
    result = history.publish()
    assert result.returncode == 0, result.stdout + result.stderr
    assert versions(history.issue_dir / "revisions" / "1") == first
    changes = changes_of(history)
    assert changes["figures"] == []
    # Exactly the section holding the new line (an h3 of key_work: sections split at h2/h3).
    [text] = changed_section_texts(history)
    assert "修订补记：热线扩容。" in text
    about = BeautifulSoup((history.issue_dir / "issue.html").read_text("utf-8"), "html.parser").find(
        "footer", class_="kf-about"
    )
    block = about.find(class_="kf-changes")
    assert block is not None and "与上一版相比" in block.get_text()
    assert changes["sections"][0]["title"] in block.get_text()


def test_fewer_feedback_rows_keep_revision_2_and_list_the_changed_figures(history):
    second = versions(history.issue_dir)
    old_metrics = json.loads((history.issue_dir / "metrics.json").read_text(encoding="utf-8"))
    feedback = history.data / Q / "feedback.csv"
    lines = feedback.read_text(encoding="utf-8").splitlines(keepends=True)
    feedback.write_text("".join(lines[:-2]), encoding="utf-8")
    result = history.publish()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in (history.issue_dir / "revisions").iterdir()) == ["1", "2"]
    assert versions(history.issue_dir / "revisions" / "2") == second
    new_metrics = json.loads((history.issue_dir / "metrics.json").read_text(encoding="utf-8"))
    changes = changes_of(history)
    assert changes["previous_revision"] == 2
    assert changes["figures"] == revisions.figure_changes(old_metrics, new_metrics)
    items = {f["key"]: f for f in changes["figures"]}
    assert items["feedback.items"] == {
        "key": "feedback.items",
        "old": fmt.format_value("feedback.items", old_metrics["feedback"]["items"]),
        "new": fmt.format_value("feedback.items", old_metrics["feedback"]["items"] - 2),
    }
    page = (history.issue_dir / "issue.html").read_text(encoding="utf-8")
    assert "feedback.items" in page.split('<footer class="kf-about">')[1]


def test_release_writes_the_record_and_says_so_twice(history):
    first = run_cli("release", Q, data=history.data, out=history.out, cache=history.cache)
    assert first.returncode == 0, first.stdout + first.stderr
    record = json.loads((history.issue_dir / "release.json").read_text(encoding="utf-8"))
    assert record["quarter"] == Q and record["status"] == "released" and record["corrections"] == []
    assert record["files"] == versions(history.issue_dir)
    assert record["released_at"].endswith("Z") and len(record["released_at"]) == 20
    again = run_cli("release", Q, data=history.data, out=history.out, cache=history.cache)
    assert again.returncode == 0 and "already released" in again.stdout
    assert json.loads((history.issue_dir / "release.json").read_text(encoding="utf-8")) == record
    missing = run_cli("release", "2021Q4", data=history.data, out=history.out, cache=history.cache)
    assert missing.returncode != 0 and "no published issue" in missing.stderr


def test_make_release_runs_the_release_command(history, session_cache):
    release = make("release", f"Q={Q}", f"OUT={history.out}", cache=session_cache, timeout=120)
    assert release.returncode == 0, release.stdout + release.stderr
    assert "already released" in release.stdout


def _concurrently(*runs):
    results = [None] * len(runs)

    def go(i):
        results[i] = runs[i]()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_change_to_a_released_issue_is_refused_and_nothing_changes(history):
    before = tree(history.out)
    history.append_editorial("foreword", "更正：数字有误。")
    refused = history.publish()
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "is released" in refused.stderr
    assert "text changed" in refused.stderr
    assert 'REVISE="' in refused.stderr
    assert "Traceback" not in refused.stderr
    assert tree(history.out) == before
    # Twice at once: both wait for the lock in turn, both refuse.
    both = _concurrently(history.publish, history.publish)
    assert [r.returncode for r in both] == [4, 4], [r.stderr for r in both]
    assert tree(history.out) == before
    # A refused publish still keeps its sections' work (their keys are written after
    # the exports, also when the assembly refuses): the next ones run no section.
    assert all("sections: 0 to run" in r.stdout for r in both), [r.stdout for r in both]


def test_two_concurrent_corrections_publish_exactly_one(history):
    released = versions(history.issue_dir)
    record = json.loads((history.issue_dir / "release.json").read_text(encoding="utf-8"))
    reason = "卷首语补充更正 <说明>"
    both = _concurrently(*[lambda: history.publish("--revise", reason)] * 2)
    assert [r.returncode for r in both] == [0, 0], [r.stdout + r.stderr for r in both]
    assert sorted(p.name for p in (history.issue_dir / "revisions").iterdir()) == ["1", "2", "3"]
    assert versions(history.issue_dir / "revisions" / "3") == released
    corrected = json.loads((history.issue_dir / "release.json").read_text(encoding="utf-8"))
    assert corrected["status"] == "corrected"
    assert corrected["released_at"] == record["released_at"]
    assert corrected["files"] == versions(history.issue_dir)
    assert [(c["revision"], c["reason"]) for c in corrected["corrections"]] == [(3, reason)]
    assert revisions.status(history.out, Q) == "corrected"
    changes = changes_of(history)
    assert changes["correction"] == reason
    [text] = changed_section_texts(history)
    assert "更正：数字有误。" in text
    soup = BeautifulSoup((history.issue_dir / "issue.html").read_text("utf-8"), "html.parser")
    box = soup.find("aside", class_="kf-correction")
    assert box is not None and "更正说明" in box.get_text() and reason in box.get_text()
    assert changes["sections"][0]["title"] in box.get_text()  # no figure changed: the section is named
    # The box opens the issue: before the table of contents and the first section.
    assert box.find_next("nav", class_="kf-toc") is not None


def test_the_same_inputs_again_change_nothing_once_corrected(history):
    before = tree(history.out)
    result = history.publish("--revise", "again")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(history.out) == before


def test_cli_module_runs(history):
    # Keep the import path honest: the CLI's help lists the release command.
    result = subprocess.run(
        [sys.executable, "-m", "helpers.publish.cli", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert "release" in result.stdout
