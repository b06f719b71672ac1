"""The exporter's chart font: a small copy (subset) of the CJK faces the charts name first.

Why: vl-convert 1.9 lays text out through fontdb, which maps a system font file anew
for every glyph it reads — some 700 times a chart, to measure each label and again to
draw the PNG. With Noto Sans CJK's 19 MB collection each mapping faults in pages all
over the file: that was half of the chart exporter's CPU (~5 s of a publish's ~23 s).
A subset of the same faces that holds only the characters charts can show (below) is
~350 KB and maps in a few faults; exporting the sample issue's charts takes half the CPU.

How it stays invisible: the subset's faces are the system faces' own glyphs, metrics and
layout tables, under another family name (`SUBSET_FAMILY`, every weight of
`SOURCE_FAMILY` that is installed, so that weight matching picks the same face). The
exporter names it first in a chart only when the subset covers every character of the
chart's spec (`covers`), and removes the name from the SVG it writes (`unname`): the
SVG and the PNG are byte for byte those the system font gives. `build` checks exactly
that on a probe chart of every covered character before it installs anything, and
tests/test_fonts.py checks it on the sample issue's charts.

Which characters: every non-ASCII character of the project's sources (src/helpers and
the notebooks: the charts' titles, labels and the schema's categories are there), ASCII,
Latin-1, general punctuation, arrows and maths operators (d3-format's minus sign), CJK
punctuation and full-width forms. A chart with any other character (a category that
only the data holds) is drawn with the system font, as before: slower, never different.

Where: `<env>/share/kefu-weikan/fonts/` (`font_dir()`), made by `make env` and re-made by
make when the sources' characters change (`python -m helpers.report.fonts`), like the
offline Vega bundle. With no subset there (no CJK font installed, a check failed), charts
are drawn with the system fonts. fontTools is needed to build it, never to use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from helpers import paths

# The first family of the charts' font stack (charts.FONT), and the subset's name.
SOURCE_FAMILY = "Noto Sans CJK SC"
SUBSET_FAMILY = "KFWK Sans"
MANIFEST = "manifest.json"
FORMAT = 2  # of the manifest (2: desubroutinized faces)
# Besides the sources' own characters: what number and date formats and punctuation print.
RANGES = (
    (0x20, 0x7F),  # ASCII
    (0xA0, 0x100),  # Latin-1 (µ of SI prefixes, ×, ·)
    (0x2000, 0x2070),  # general punctuation (— … ‰ ‱)
    (0x2190, 0x2300),  # arrows, mathematical operators (d3-format's − U+2212)
    (0x25A0, 0x2600),  # geometric shapes (■ ▲ ●)
    (0x3000, 0x3040),  # CJK punctuation (、。「」【】)
    (0xFF00, 0xFFF0),  # full-width forms (，：％（）)
)
# What a face is read from; fontdb reads the same folders (and KFWK_FONT_DIR, registered).
FONT_SUFFIXES = (".otf", ".ttf", ".ttc", ".otc")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


def font_dir() -> Path:
    """Where the subset lives: `<env>/share/kefu-weikan/fonts`, beside the Vega bundle."""
    return Path(sys.prefix) / "share" / "kefu-weikan" / "fonts"


def chart_characters(roots: tuple[Path, ...] | None = None) -> str:
    """The characters the subset is asked to hold, sorted: the ranges above and every
    non-ASCII character of the sources (`src/helpers/**/*.py`, `notebooks/*.ipynb`)."""
    roots = roots or (paths.HELPERS, paths.NOTEBOOKS)
    chars = {chr(c) for low, high in RANGES for c in range(low, high)}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".ipynb") and path.is_file():
                chars.update(c for c in path.read_text(encoding="utf-8") if ord(c) > 0x7F)
    return "".join(sorted(chars))


# ---------------------------------------------------------------- using the subset


@dataclass(frozen=True)
class Subset:
    """An installed subset: its folder, the characters its faces cover, and the hash of
    the characters it was asked for (to tell whether the sources still ask for them)."""

    folder: Path
    covered: frozenset[str]
    chars_sha256: str = field(default="", compare=False)


def _stamp(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def read_subset(folder: Path | None = None) -> Subset | None:
    """The subset in `folder` (default `font_dir()`), or None when there is none, it is
    incomplete, or a system face it was made from changed since (a font update: the
    subset would no longer be that face)."""
    folder = folder or font_dir()
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or not doc["faces"]:
            return None
        for face in doc["faces"]:
            if _stamp(Path(face["source"][0])) != face["source"] or not (folder / face["file"]).is_file():
                return None
        return Subset(folder, frozenset(doc["covered"]), doc.get("chars_sha256", ""))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


@lru_cache(maxsize=1)
def installed() -> Subset | None:
    """`read_subset()` once per process (the exporter asks for every chart)."""
    return read_subset()


def _font_stack_first(value: str) -> str:
    return value.split(",", 1)[0].strip().strip("\"'")


def name_subset(spec: Any) -> Any:
    """A copy of the spec with `"KFWK Sans", ` put before every font stack (a `font` or
    `…Font` value) that starts with SOURCE_FAMILY."""
    if isinstance(spec, dict):
        return {
            key: (
                f'"{SUBSET_FAMILY}", {value}'
                if (key == "font" or key.endswith("Font"))
                and isinstance(value, str)
                and _font_stack_first(value) == SOURCE_FAMILY
                else name_subset(value)
            )
            for key, value in spec.items()
        }
    if isinstance(spec, list):
        return [name_subset(item) for item in spec]
    return spec


def covers(subset: Subset, spec: Any) -> bool:
    """Whether every character a chart can show is in the subset: every character of its
    spec's text (labels, titles, data, formats, expressions) and every character ASCII
    number and date formats print. Control characters are never drawn."""
    text = json.dumps(spec, ensure_ascii=False)
    return all(c in subset.covered for c in set(text) if c >= " ")


# How the name reaches the SVG: vega writes the font stack into font-family="…".
_NAMED = f"&quot;{SUBSET_FAMILY}&quot;, "


def unname(svg: str) -> str | None:
    """The SVG with the subset's name removed from its font stacks: what the system font
    gives. None if the name is found anywhere else (the caller then draws without it)."""
    plain = svg.replace(_NAMED, "")
    return None if SUBSET_FAMILY in plain else plain


# ---------------------------------------------------------------- building it


def _font_files(extra: str | None) -> list[Path]:
    dirs = [Path(d).expanduser() for d in SYSTEM_FONT_DIRS] + ([Path(extra)] if extra else [])
    found = []
    for d in dirs:
        if d.is_dir():
            found += sorted(
                p for p in d.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and "cjk" in p.name.lower()
            )
    return found


def source_faces(extra: str | None = None) -> list[tuple[Path, int, int]]:
    """Every installed face of SOURCE_FAMILY: (file, index in the collection, weight),
    from the CJK font files under the system font folders and `extra` (KFWK_FONT_DIR)."""
    from fontTools.ttLib import TTCollection, TTFont

    faces = []
    for path in _font_files(extra):
        try:
            fonts = (
                TTCollection(str(path), lazy=True).fonts
                if path.suffix.lower() in (".ttc", ".otc")
                else [TTFont(str(path), lazy=True)]
            )
        except Exception:  # noqa: BLE001 - an unreadable font file is not ours to judge
            continue
        for index, font in enumerate(fonts):
            names = font["name"]
            family = names.getDebugName(16) or names.getDebugName(1)
            if family == SOURCE_FAMILY:
                faces.append((path, index, int(font["OS/2"].usWeightClass)))
    # One face per weight (fontdb would take the first it loaded; a duplicate is refused
    # by the probe if it differs).
    return list({weight: (p, i, weight) for p, i, weight in reversed(faces)}.values())


def _subset_face(path: Path, index: int, weight: int, chars: str, out: Path) -> frozenset[str]:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=index, lazy=False)
    options = subset.Options()
    options.layout_features = ["*"]  # shaping must see the same features as the full face
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    # Charstrings without subroutine calls: the same outlines, and vl-convert reads them
    # from the file for every glyph it measures or draws; ~15 % less of its time for the
    # SVGs (the probe still checks that they draw the same).
    options.desubroutinize = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    style = f"W{weight}"
    for record in font["name"].names:
        if record.nameID in (1, 16):
            record.string = SUBSET_FAMILY
        elif record.nameID == 4:
            record.string = f"{SUBSET_FAMILY} {style}"
        elif record.nameID == 6:
            record.string = f"{SUBSET_FAMILY.replace(' ', '')}-{style}"
    font.save(str(out))
    return frozenset(chr(c) for c in font.getBestCmap())


WEIGHTS = ("normal", "bold")  # what the charts use


def _probe_spec(chars: str) -> dict:
    """A chart drawing every covered character, at the normal and the bold weight."""
    shown = [c for c in chars if c > " "]
    lines = ["".join(shown[i : i + 40]) for i in range(0, len(shown), 40)]
    rows = [
        {"y": 2 * i + b, "t": line, "w": weight}
        for i, line in enumerate(lines)
        for b, weight in enumerate(WEIGHTS)
    ]
    encoding = {"y": {"field": "y", "type": "ordinal"}, "text": {"field": "t", "type": "nominal"}}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "config": {"font": f'"{SOURCE_FAMILY}", sans-serif'},
        "title": {"text": "客服微刊 2022Q1 综合 信用卡", "fontWeight": "bold"},
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "text", "align": "left", "fontWeight": weight},
                "encoding": encoding,
                "transform": [{"filter": f"datum.w == '{weight}'"}],
            }
            for weight in WEIGHTS
        ],
        "width": 600,
    }


def _same_drawing(folder: Path, chars: str) -> str | None:
    """Draw the probe with the system font and with the subset in `folder`: None when the
    SVG and PNG are byte-identical, else what differs."""
    import vl_convert as vlc

    spec = _probe_spec(chars)
    plain_svg = vlc.vegalite_to_svg(spec)
    plain_png = vlc.svg_to_png(plain_svg, scale=2.0)
    vlc.register_font_directory(str(folder))
    named_svg = vlc.vegalite_to_svg(name_subset(spec))
    named_png = vlc.svg_to_png(named_svg, scale=2.0)
    if unname(named_svg) != plain_svg:
        return "the SVG differs (text measured differently)"
    if named_png != plain_png:
        return "the PNG differs (glyphs drawn differently)"
    return None


def build(dest: Path | None = None, *, emit=print) -> Subset | None:
    """Make the subset in `dest` (default `font_dir()`) unless the one there was made from
    the same faces for the same characters -> the installed subset, or None when there is
    no SOURCE_FAMILY face or the probe drew differently (charts then use the system font)."""
    dest = dest or font_dir()
    chars = chart_characters()
    chars_sha256 = hashlib.sha256(chars.encode()).hexdigest()
    # Kept when made for the same characters from faces that did not change since
    # (read_subset checks them): no font file is read, make calls this after every edit.
    current = read_subset(dest)
    if current is not None and current.chars_sha256 == chars_sha256:
        return current
    faces = source_faces(os.environ.get("KFWK_FONT_DIR"))
    if not faces:
        emit(f"  chart fonts: no {SOURCE_FAMILY} found; charts are drawn with the system fonts")
        shutil.rmtree(dest, ignore_errors=True)
        return None
    emit(f"  chart fonts: subsetting {len(faces)} face(s) of {SOURCE_FAMILY} (once, ~5 s each)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fonts-", dir=dest.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the environment is shared
    try:
        covered: frozenset[str] | None = None
        entries = []
        for path, index, weight in sorted(faces, key=lambda f: f[2]):
            name = f"{SUBSET_FAMILY.replace(' ', '')}-W{weight}.otf"
            got = _subset_face(path, index, weight, chars, work / name)
            covered = got if covered is None else covered & got
            entries.append({"file": name, "weight": weight, "source": _stamp(path), "index": index})
        covered = frozenset(covered or ())
        problem = _same_drawing(work, "".join(sorted(covered)))
        if problem:
            emit(f"  chart fonts: the subset of {SOURCE_FAMILY} is not used: {problem}")
            shutil.rmtree(dest, ignore_errors=True)
            return None
        doc = {
            "format": FORMAT,
            "chars_sha256": chars_sha256,
            "faces": entries,
            "covered": "".join(sorted(covered)),
        }
        (work / MANIFEST).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    installed.cache_clear()
    made = read_subset(dest)
    if made is not None:
        emit(f"  chart fonts: {SUBSET_FAMILY}, {len(made.covered)} characters of {SOURCE_FAMILY} ({dest})")
    return made


def main() -> int:
    """`python -m helpers.report.fonts`: make (or keep) the subset in `font_dir()`."""
    build()  # says what it made; silent when the subset was up to date
    return 0


if __name__ == "__main__":
    sys.exit(main())
