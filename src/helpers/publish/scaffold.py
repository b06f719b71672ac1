"""Start a new quarter: `python -m helpers.publish.scaffold 2022Q2` (or `make new-quarter Q=2022Q2`).

Writes what the editors start from and says where the extracts go:

- `params/<Q>.yaml`, copied from the latest earlier quarter's params file (label
  set to the new quarter's, a `data_as_of` date commented out because it belonged
  to the old quarter), or the defaults when there is no earlier file;
- `<DATA>/<Q>/editorial/*.md`, copied from the latest earlier quarter that has
  editorial files, each headed by a note telling the editor to rewrite it;
- a list of the 12 extracts to drop into `<DATA>/<Q>/` and the prior-year folder
  used for year-on-year figures.

Nothing that exists is ever overwritten: an existing file is kept and reported.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from helpers import paths
from helpers.data.schema import EDITORIAL_FILES, FILES
from helpers.params import default_params
from helpers.quarter import QUARTER_RE, Quarter, QuarterError

# First line of every copied editorial file. html is off in the markdown,
# so if the editor forgets to rewrite the file this note is printed in the issue
# as visible text: last quarter's words cannot slip through unnoticed.
REWRITE_NOTE = (
    "<!-- 请改写 / REWRITE: copied from {source} for {quarter} by `make new-quarter`. "
    "Rewrite this text for {quarter} and delete this line; it shows in the issue until you do. -->\n\n"
)


@dataclass
class ScaffoldResult:
    """What `new_quarter` did: files created, files that existed and were kept,
    the quarters it copied from (None when there was nothing earlier), and the
    instructions it printed."""

    quarter: str
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    params_from: str | None = None
    editorial_from: str | None = None
    instructions: str = ""


def _quarters_in(names: list[str]) -> list[Quarter]:
    return sorted(Quarter.parse(n) for n in names if QUARTER_RE.match(n))


def latest_params_before(quarter: Quarter, params_dir: Path) -> Path | None:
    """params folder -> the `<Q>.yaml` of the latest quarter before `quarter`, or None."""
    if not params_dir.is_dir():
        return None
    earlier = [q for q in _quarters_in([p.stem for p in params_dir.glob("*.yaml")]) if q < quarter]
    return params_dir / f"{earlier[-1]}.yaml" if earlier else None


def latest_editorial_before(quarter: Quarter, data_root: Path) -> Path | None:
    """Data root -> the `editorial/` folder of the latest quarter before `quarter`
    that holds at least one `.md` file, or None."""
    if not data_root.is_dir():
        return None
    candidates = _quarters_in([p.name for p in data_root.iterdir() if p.is_dir()])
    for q in reversed([q for q in candidates if q < quarter]):
        folder = paths.editorial_dir(str(q), data_root)
        if folder.is_dir() and any(folder.glob("*.md")):
            return folder
    return None


def _without_note(text: str) -> str:
    """Editorial text -> the same without a leading rewrite note (a copy of a copy gets one note)."""
    if text.startswith(REWRITE_NOTE.split("{", 1)[0]) and "-->" in text.split("\n", 1)[0]:
        return text.split("\n", 1)[1].lstrip("\n") if "\n" in text else ""
    return text


def params_text_from(source_text: str, source: Quarter, quarter: Quarter) -> str:
    """An earlier quarter's params YAML text -> the new quarter's, comments kept.

    The `label:` line gets the new quarter's default label (`2022年第2期`); a
    `data_as_of:` line is commented out (it was the old quarter's date; the
    default is the new quarter's last day); the old quarter's name in comments
    becomes the new one. Every other setting carries over unchanged.
    """
    old, new = str(source), str(quarter)
    lines = []
    has_label = False
    for line in source_text.splitlines():
        if re.match(r"\s*label\s*:", line):
            lines.append(f"label: {quarter.label}")
            has_label = True
        elif re.match(r"\s*data_as_of\s*:", line):
            lines.append(f"# {line.strip()}  <- {old}'s date; the default is the quarter's last day")
        elif line.lstrip().startswith("#"):
            lines.append(line.replace(old, new))
        else:
            lines.append(line)
    if not has_label:
        lines.append(f"label: {quarter.label}")
    return "\n".join(lines) + "\n"


def default_params_text(quarter: Quarter) -> str:
    """A quarter with no earlier params file -> a params YAML spelling out the defaults."""
    p = default_params(str(quarter))
    return (
        f"# Issue settings for {quarter} (all optional; see params/README.md).\n"
        f"label: {p.label}\n"
        f"centre: {p.centre}\n"
        f"service_level_seconds: {p.service_level_seconds:g}\n"
        f"service_level_target: {p.service_level_target:.2f}\n"
    )


def _write_new(path: Path, text: str, result: ScaffoldResult) -> None:
    """Create path with text unless it exists (then record it as kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        result.kept.append(path)
        return
    result.created.append(path)


def extract_instructions(quarter: Quarter, data_root: Path) -> str:
    """Quarter + data root -> plain text naming every extract to drop and where."""
    folder = paths.quarter_dir(str(quarter), data_root)
    prior = quarter.prior_year()
    prior_dir = paths.quarter_dir(str(prior), data_root)
    lines = [
        f"把本季度的 {len(FILES)} 个数据文件放入 / drop the quarter's {len(FILES)} extracts into:",
        f"  {folder}/",
    ]
    width = max(len(n) for n in FILES) + len(".csv")
    for name, spec in FILES.items():
        present = any((folder / f"{name}{ext}").exists() for ext in (".csv", ".csv.gz"))
        mark = "✓ present" if present else ""
        lines.append(f"    {name + '.csv':<{width}}  (or {name}.csv.gz)  {spec.section}  {mark}".rstrip())
    state = "present" if prior_dir.is_dir() else "missing: year-on-year figures will print as 无同期数据"
    lines += [
        f"同比数据 / year-on-year: the same {len(FILES)} extracts for {prior} in",
        f"  {prior_dir}/  ({state})",
        f"编辑稿 / editorial (each optional): {folder / 'editorial'}/  "
        + ", ".join(f"{stem}.md" for stem in EDITORIAL_FILES),
        f"then: make validate Q={quarter}  and  make quarter Q={quarter}",
    ]
    return "\n".join(lines)


def new_quarter(
    quarter: str, data_root: Path | None = None, params_dir: Path | None = None, *, emit=print
) -> ScaffoldResult:
    """Quarter name (+ data root, params folder) -> ScaffoldResult; never overwrites a file.

    Creates `<params_dir>/<Q>.yaml` and `<data_root>/<Q>/editorial/*.md` as
    described in the module docstring, then emits the extract instructions.
    Raises QuarterError for a bad quarter name.
    """
    q = Quarter.parse(quarter)
    data_root = Path(data_root) if data_root is not None else paths.data_root()
    params_dir = Path(params_dir) if params_dir is not None else paths.PARAMS
    result = ScaffoldResult(quarter=str(q))

    source = latest_params_before(q, params_dir)
    if source is not None:
        result.params_from = source.stem
        text = params_text_from(source.read_text(encoding="utf-8"), Quarter.parse(source.stem), q)
    else:
        text = default_params_text(q)
    _write_new(params_dir / f"{q}.yaml", text, result)

    editorial = latest_editorial_before(q, data_root)
    if editorial is not None:
        result.editorial_from = editorial.parent.name
        target = paths.editorial_dir(str(q), data_root)
        for md in sorted(editorial.glob("*.md")):
            note = REWRITE_NOTE.format(source=f"{result.editorial_from}/editorial/{md.name}", quarter=q)
            _write_new(target / md.name, note + _without_note(md.read_text(encoding="utf-8")), result)
    else:
        paths.quarter_dir(str(q), data_root).mkdir(parents=True, exist_ok=True)

    lines = [f"==> new quarter {q}"]
    lines += [f"  created {p}" for p in result.created]
    lines += [f"  kept    {p} (exists; not overwritten)" for p in result.kept]
    if result.params_from is None:
        lines.append("  params: no earlier params file; wrote the defaults")
    if result.editorial_from is None:
        lines.append("  editorial: no earlier quarter has editorial files; write them from scratch")
    else:
        lines.append(
            f"  editorial source: {result.editorial_from}; each copy starts with a rewrite "
            "note that shows in the issue until the editor removes it"
        )
    lines.append(extract_instructions(q, data_root))
    result.instructions = "\n".join(lines)
    emit(result.instructions)
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.publish.scaffold Q [--data DIR] [--params DIR]` -> exit code (2 on a bad Q)."""
    parser = argparse.ArgumentParser(prog="helpers.publish.scaffold", description=__doc__.splitlines()[0])
    parser.add_argument("quarter", help="YYYYQn, e.g. 2022Q2")
    parser.add_argument("--data", type=Path, default=None, help="extracts root (default: DATA / data)")
    parser.add_argument("--params", type=Path, default=None, help="params folder (default: params/)")
    args = parser.parse_args(argv)
    try:
        new_quarter(args.quarter, args.data, args.params)
    except QuarterError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
