"""Revisions, release and corrections of a published issue (docs/decisions.md,
"Revisions, release and corrections").

- `<OUT>/<Q>/release.json` is the release record: no file = draft; `status` reads it.
- `<OUT>/<Q>/revisions/<n>/` keeps every replaced version whole (issue.html,
  metrics.json, kpi.html), n = 1, 2, … in order.
- `<OUT>/<Q>/changes.json` lists what changed since the previous version: every printed
  figure (METRICS.md key, old text, new text, as `fmt.format_value` prints it) and
  every section whose visible text changed.

The publisher (pipeline.publish) compares the staged issue with the published one
inside the quarter's lock and decides: nothing to do, refuse (a released issue and no
REVISE), or keep the previous version and publish the new one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import fmt
from helpers.figures import metrics as _metrics

RELEASE_FILE = "release.json"
CHANGES_FILE = "changes.json"
REVISIONS_DIR = "revisions"
# What a revision keeps, and what the release record fingerprints.
VERSION_FILES = ("issue.html", "metrics.json", "kpi.html")
STATUSES = ("draft", "released", "corrected")

# The blocks of issue.html that describe the revision itself (the About panel's change
# list, the 更正说明 box). They are left out when two versions are compared, so
# republishing the same inputs after a revision is a no-op.
NOTE_RE = re.compile(r"\n<!--kf-(changes|correction)-->.*?<!--/kf-\1-->", re.S)


class RevisionRefused(RuntimeError):
    """The quarter is released and the new issue differs: publish it only with REVISE."""

    def __init__(self, quarter: str, changes: Changes):
        self.quarter, self.changes = quarter, changes
        super().__init__(f"{quarter} is released and the new issue differs from it")


class ReleaseError(RuntimeError):
    """`make release` of a quarter that has no published issue."""


# ------------------------------------------------------------------------ release.json


def now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_record(out_root: Path, quarter: str) -> dict | None:
    """The release record of Q, or None (a draft). An unreadable record is an error:
    a released issue must never silently become a draft."""
    path = Path(out_root) / quarter / RELEASE_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_record(out_root: Path, quarter: str, record: Mapping[str, Any]) -> Path:
    """Write release.json atomically (temporary file in the same folder, os.replace)."""
    path = Path(out_root) / quarter / RELEASE_FILE
    tmp = path.with_name(f".{RELEASE_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def status(out_root: Path, quarter: str) -> str:
    """ "draft" (no release record), "released" or "corrected"."""
    try:
        record = read_record(out_root, quarter)
    except (OSError, ValueError):
        return "released"  # a record that cannot be read still says it was released
    if record is None:
        return "draft"
    value = record.get("status") if isinstance(record, dict) else None
    return value if value in ("released", "corrected") else "released"


def file_digests(issue_dir: Path) -> dict[str, str]:
    return {name: hashlib.sha256((issue_dir / name).read_bytes()).hexdigest() for name in VERSION_FILES}


def release(out_root: Path, quarter: str) -> tuple[dict, bool]:
    """Mark the published issue of Q as released. Returns (record, newly): `newly` is
    False when the current issue was released already (the record is then unchanged).
    Raises ReleaseError when Q has no published issue. The caller holds the quarter lock."""
    issue_dir = Path(out_root) / quarter
    missing = [name for name in VERSION_FILES if not (issue_dir / name).is_file()]
    if missing:
        raise ReleaseError(
            f"{quarter} has no published issue under {issue_dir} (missing: {', '.join(missing)}); "
            f"publish it first: make quarter Q={quarter}"
        )
    digests = file_digests(issue_dir)
    record = read_record(out_root, quarter)
    if record is not None and record.get("files") == digests:
        return record, False
    record = {
        "quarter": quarter,
        "status": "released",
        "released_at": now_utc(),
        "files": digests,
        "corrections": list((record or {}).get("corrections", [])),
    }
    write_record(out_root, quarter, record)
    return record, True


def record_correction(out_root: Path, quarter: str, revision: int, reason: str) -> dict:
    """After a correction was published: status "corrected", the new files' SHA-256 and
    one more corrections entry."""
    record = dict(read_record(out_root, quarter) or {"quarter": quarter, "released_at": now_utc()})
    record["status"] = "corrected"
    record["files"] = file_digests(Path(out_root) / quarter)
    record["corrections"] = [
        *record.get("corrections", []),
        {"revision": revision, "reason": reason, "at": now_utc()},
    ]
    write_record(out_root, quarter, record)
    return record


# ------------------------------------------------------------------------ revisions/<n>


def revision_numbers(issue_dir: Path) -> list[int]:
    folder = Path(issue_dir) / REVISIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def next_revision(issue_dir: Path) -> int:
    return max(revision_numbers(issue_dir), default=0) + 1


def stage_revision(issue_dir: Path, staging: Path, n: int) -> Path:
    """Copy the published version (byte for byte) to `staging/revisions/<n>/`."""
    target = staging / REVISIONS_DIR / str(n)
    target.mkdir(parents=True)
    for name in VERSION_FILES:
        shutil.copyfile(issue_dir / name, target / name)
    return target


def move_into_place(staging: Path, issue_dir: Path) -> None:
    """Move a staged `revisions/<n>/` and `changes.json` into the issue folder (before the
    new issue replaces the old one: the previous version is kept first)."""
    staged = staging / REVISIONS_DIR
    if staged.is_dir():
        (issue_dir / REVISIONS_DIR).mkdir(exist_ok=True)
        for rev in sorted(staged.iterdir()):
            os.replace(rev, issue_dir / REVISIONS_DIR / rev.name)
    if (staging / CHANGES_FILE).exists():
        os.replace(staging / CHANGES_FILE, issue_dir / CHANGES_FILE)


# ------------------------------------------------------------------------ changes


@dataclass
class Changes:
    """What differs between the published version and the new one."""

    figures: list[dict] = field(default_factory=list)  # {"key", "old", "new"} printed texts
    sections: list[dict] = field(default_factory=list)  # {"id", "title"}
    other: list[str] = field(default_factory=list)  # e.g. "kpi.html", "about"

    def __bool__(self) -> bool:
        return bool(self.figures or self.sections or self.other)

    def as_dict(self) -> dict:
        return {"figures": self.figures, "sections": self.sections, "other": self.other}

    def lines(self) -> list[str]:
        """Plain text, one change a line (the CLI's refusal message)."""
        out = [f"{f['key']}: {printed(f['old'])} → {printed(f['new'])}" for f in self.figures]
        out += [f"section {s['title']} (#{s['id']}): text changed" for s in self.sections]
        out += [OTHER_TEXT.get(o, o) for o in self.other]
        return out


OTHER_TEXT = {
    "kpi.html": "kpi.html (KPI definitions) changed",
    "about": "the About panel changed (provenance: inputs, parameters, code or package versions)",
    "markup": "charts or markup changed (no printed figure, no section text)",
}


def printed(value: Any) -> str:
    """A printed figure as one line of text (lists as compact JSON; absent as —)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _print(key: str, value: Any) -> Any:
    try:
        return fmt.format_value(key, value)
    except (KeyError, TypeError, ValueError):
        # A key METRICS.md does not list (or an odd value): compare it as it is.
        return value


def figure_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict]:
    """Old and new metrics (nested, or metrics.json's document) -> every figure whose
    printed text changed, by dotted key, sorted. A figure only one side has is listed
    with None on the other side."""
    old_flat = _metrics.flatten(old or {})
    new_flat = _metrics.flatten(new)
    changed = []
    for key in sorted(set(old_flat) | set(new_flat)):
        before = _print(key, old_flat[key]) if key in old_flat else None
        after = _print(key, new_flat[key]) if key in new_flat else None
        if before != after:
            changed.append({"key": key, "old": before, "new": after})
    return changed


def without_notes(html: str) -> str:
    """issue.html without its revision notes (the change list, the 更正说明 box)."""
    return NOTE_RE.sub("", html)


def _region(html: str, start_tag: str, end_tag: str) -> str:
    start = html.find(start_tag)
    if start < 0:
        return ""
    end = html.find(end_tag, start)
    return html[start : end + len(end_tag)] if end >= 0 else html[start:]


def section_texts(html: str) -> dict[tuple[str, int], dict]:
    """The visible text of each section of an issue's `<main>`, split at its h2/h3
    headings (ids `sec-01`, `sec-01-02`). Keyed by (heading path, occurrence) so an
    added section does not make every later one look changed; values hold the
    heading's id, its title and the text (scripts and styles left out)."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    main = BeautifulSoup(_region(html, '<main class="kf-main"', "</main>"), "html.parser")
    for element in main(["script", "style"]):
        element.decompose()
    sections: dict[tuple[str, int], dict] = {}
    current: dict | None = {"id": "", "title": "", "text": []}
    sections[("", 0)] = current
    h2_title = ""
    seen: dict[str, int] = {}
    for node in main.descendants:
        if isinstance(node, Tag) and node.name in ("h2", "h3") and node.get("id"):
            title = " ".join(node.get_text().split())
            if node.name == "h2":
                h2_title = title
            path = title if node.name == "h2" else f"{h2_title} / {title}"
            seen[path] = seen.get(path, 0) + 1
            current = {"id": node["id"], "title": path, "text": []}
            sections[(path, seen[path])] = current
        elif type(node) is NavigableString:  # comments, doctypes and CDATA are not text
            current["text"].append(str(node))
    for value in sections.values():
        value["text"] = " ".join(" ".join(value["text"]).split())
    if not sections[("", 0)]["text"]:
        del sections[("", 0)]
    return sections


def section_changes(old_html: str | None, new_html: str) -> list[dict]:
    """Sections (heading id and title) whose visible text differs, in the new issue's
    order; sections gone from the new issue follow, with their old id."""
    old = section_texts(old_html) if old_html else {}
    new = section_texts(new_html)
    changed = [
        {"id": value["id"], "title": value["title"]}
        for key, value in new.items()
        if key not in old or old[key]["text"] != value["text"]
    ]
    changed += [{"id": value["id"], "title": value["title"]} for key, value in old.items() if key not in new]
    return changed


def compare(issue_dir: Path, staged: Mapping[str, str]) -> Changes | None:
    """The published version in `issue_dir` vs the staged texts ({"issue.html",
    "metrics.json", "kpi.html"}; issue.html without revision notes) -> None when the
    published version is the same (or there is none), else what changed."""
    issue_dir = Path(issue_dir)
    if not all((issue_dir / name).is_file() for name in VERSION_FILES):
        return None
    old = {name: (issue_dir / name).read_text(encoding="utf-8") for name in VERSION_FILES}
    old_issue = without_notes(old["issue.html"])
    new_issue = without_notes(staged["issue.html"])
    if (
        old_issue == new_issue
        and old["metrics.json"] == staged["metrics.json"]
        and old["kpi.html"] == staged["kpi.html"]
    ):
        return None
    changes = Changes(
        figures=figure_changes(json.loads(old["metrics.json"]), json.loads(staged["metrics.json"])),
        sections=section_changes(old_issue, new_issue),
    )
    if old["kpi.html"] != staged["kpi.html"]:
        changes.other.append("kpi.html")
    about_old = _region(old_issue, '<footer class="kf-about">', "</footer>")
    about_new = _region(new_issue, '<footer class="kf-about">', "</footer>")
    if about_old != about_new:
        changes.other.append("about")
    if not changes:
        # Chart data or markup only (charts are scripts, left out of the section texts):
        # still a new version.
        changes.other.append("markup")
    return changes


def changes_json(quarter: str, revision: int, changes: Changes, correction: str | None) -> str:
    """The text of changes.json: deterministic (no clock)."""
    doc = {
        "quarter": quarter,
        "previous_revision": revision,
        "correction": correction,
        **changes.as_dict(),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


# ------------------------------------------------------------------------ one publish


@dataclass
class Revision:
    """One publish's decision, made while the new issue is assembled in `staging`
    (which already holds its metrics.json and kpi.html) and the quarter lock is held."""

    quarter: str
    issue_dir: Path
    staging: Path
    reason: str | None = None
    unchanged: bool = False
    changes: Changes | None = None
    number: int | None = None
    correction: bool = False

    def amend(self, page: str) -> dict | None:
        """issue.assemble_issue's hook: the freshly rendered page -> the revision notes to
        render it with (None: no notes). Raises RevisionRefused for a released quarter
        whose issue would change without a reason."""
        staged = {"issue.html": page}
        for name in ("metrics.json", "kpi.html"):
            staged[name] = (self.staging / name).read_text(encoding="utf-8")
        if not all((self.issue_dir / name).is_file() for name in VERSION_FILES):
            return None  # the first publish of the quarter
        changes = compare(self.issue_dir, staged)
        if changes is None:
            self.unchanged = True
            return None
        released = status(self.issue_dir.parent, self.quarter) != "draft"
        reason = (self.reason or "").strip()
        if released and not reason:
            raise RevisionRefused(self.quarter, changes)
        self.changes, self.number, self.correction = changes, next_revision(self.issue_dir), released
        notes: dict = {"changes": changes.as_dict()}
        if released:
            notes["correction"] = {"reason": reason, "figures": changes.figures, "sections": changes.sections}
        return notes

    def stage(self) -> None:
        """Put the previous version (byte for byte) and changes.json into staging."""
        if self.changes is None or self.number is None:
            return
        stage_revision(self.issue_dir, self.staging, self.number)
        reason = (self.reason or "").strip() if self.correction else None
        text = changes_json(self.quarter, self.number, self.changes, reason)
        (self.staging / CHANGES_FILE).write_text(text, encoding="utf-8")

    def record(self, out_root: Path, emit=print) -> None:
        """After the swap: a correction updates release.json; say what was kept."""
        if self.changes is None or self.number is None:
            if (self.reason or "").strip():
                emit(f"  REVISE ignored: {self.quarter} had no published issue to correct")
            return
        kept = self.issue_dir / REVISIONS_DIR / str(self.number)
        if self.correction:
            record_correction(out_root, self.quarter, self.number, (self.reason or "").strip())
            emit(f"  correction published; the released version is kept under {kept}")
        else:
            if (self.reason or "").strip():
                emit(f"  REVISE not needed: {self.quarter} is a draft (not released)")
            emit(f"  previous version kept under {kept}; changes in {self.issue_dir / CHANGES_FILE}")
        for line in self.changes.lines()[:20]:
            emit(f"    {line}")
