"""The chart exporter's font subset (helpers/report/fonts.py): faster, never different.

The published sample's charts were drawn with the subset; drawn again with the system
fonts they must be the same bytes. A chart the subset does not cover, a stack that does
not start with the source family, a subset made from a face that has since changed, and
a subset that draws differently (built from the wrong face) are never used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import paths
from helpers.report import charts, export, fonts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def subset() -> fonts.Subset:
    if not fonts.source_faces(os.environ.get(export.FONT_DIR_ENV)):
        pytest.skip(f"no {fonts.SOURCE_FAMILY} installed: charts are drawn with the system fonts")
    found = fonts.installed()
    assert found is not None, (
        f"no subset in {fonts.font_dir()}: `make env` (python -m helpers.report.fonts) makes it"
    )
    return found


def test_the_charts_font_stack_starts_with_the_subsetted_family():
    assert fonts._font_stack_first(charts.FONT) == fonts.SOURCE_FAMILY


def test_every_sample_chart_is_covered_and_drawn_as_the_system_font_draws_it(
    subset, published_out, tmp_path, monkeypatch
):
    specs = sorted((published_out / "2022Q1" / "figures").rglob(f"*{paths.SPEC_SUFFIX}"))
    assert len(specs) >= 20
    # The exporter drew these with the subset: it covers every sample chart.
    uncovered = [s.name for s in specs if not fonts.covers(subset, export._read_spec(s))]
    assert uncovered == []
    monkeypatch.setattr(fonts, "installed", lambda: None)  # the system fonts only
    for spec_path in specs:
        name = spec_path.name[: -len(paths.SPEC_SUFFIX)]
        svg, png = export.export_spec(export._read_spec(spec_path), tmp_path / spec_path.parent.name / name)
        published = spec_path.with_name(name)
        assert svg.read_bytes() == published.with_suffix(".svg").read_bytes(), f"{name}.svg differs"
        assert png.read_bytes() == published.with_suffix(".png").read_bytes(), f"{name}.png differs"


def test_a_chart_with_a_character_outside_the_subset_is_drawn_with_the_system_font(
    subset, tmp_path, monkeypatch
):
    rare = next(chr(c) for c in range(0x9F98, 0x4E00, -1) if chr(c) not in subset.covered)
    spec = {
        "config": {"font": charts.FONT},
        "data": {"values": [{"k": f"客服{rare}", "v": 3}, {"k": "微刊", "v": 5}]},
        "mark": "bar",
        "encoding": {"y": {"field": "k", "type": "nominal"}, "x": {"field": "v", "type": "quantitative"}},
    }
    assert not fonts.covers(subset, spec)
    assert fonts.covers(subset, {**spec, "data": {"values": [{"k": "微刊", "v": 5}]}})
    drawn = [export.export_spec(spec, tmp_path / "with")]
    monkeypatch.setattr(fonts, "installed", lambda: None)
    drawn.append(export.export_spec(spec, tmp_path / "without"))
    (svg1, png1), (svg2, png2) = drawn
    assert svg1.read_bytes() == svg2.read_bytes() and png1.read_bytes() == png2.read_bytes()


def test_only_font_stacks_that_start_with_the_source_family_are_renamed():
    spec = {
        "config": {
            "font": charts.FONT,
            "title": {"font": "Arial", "subtitleFont": f"'{fonts.SOURCE_FAMILY}', serif"},
        },
        "layer": [
            {"mark": {"type": "text", "font": "Noto Serif CJK SC"}, "encoding": {"text": {"value": "font"}}}
        ],
    }
    named = fonts.name_subset(spec)
    assert named["config"]["font"] == f'"{fonts.SUBSET_FAMILY}", {charts.FONT}'
    assert named["config"]["title"]["font"] == "Arial"
    assert named["config"]["title"]["subtitleFont"].startswith(f'"{fonts.SUBSET_FAMILY}", ')
    assert named["layer"] == spec["layer"]  # another family; a text value is not a stack
    assert spec["config"]["font"] == charts.FONT  # the input is left as it was


def test_the_name_is_removed_from_the_svg_and_nowhere_else():
    stack = "&quot;Noto Sans CJK SC&quot;, sans-serif"
    named = f'<text font-family="&quot;{fonts.SUBSET_FAMILY}&quot;, {stack}">客服</text>'
    assert fonts.unname(named) == f'<text font-family="{stack}">客服</text>'
    assert fonts.unname(named + f"<title>{fonts.SUBSET_FAMILY}</title>") is None


def test_a_subset_of_a_face_that_changed_since_is_not_used(tmp_path):
    source = tmp_path / "NotoSansCJK-Regular.ttc"
    source.write_bytes(b"font")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "KFWKSans-W400.otf").write_bytes(b"subset")
    doc = {
        "format": fonts.FORMAT,
        "chars_sha256": "x",
        "faces": [{"file": "KFWKSans-W400.otf", "weight": 400, "source": fonts._stamp(source), "index": 2}],
        "covered": "客服",
    }
    (tmp_path / "sub" / fonts.MANIFEST).write_text(json.dumps(doc), encoding="utf-8")
    assert fonts.read_subset(tmp_path / "sub") == fonts.Subset(tmp_path / "sub", frozenset("客服"))
    source.write_bytes(b"font, updated")  # a font package update
    assert fonts.read_subset(tmp_path / "sub") is None
    source.write_bytes(b"font")
    (tmp_path / "sub" / "KFWKSans-W400.otf").unlink()
    assert fonts.read_subset(tmp_path / "sub") is None


def test_a_subset_that_draws_differently_is_refused(subset, tmp_path):
    # The bold face alone, as if it were the family: normal text would be measured and
    # drawn bold. The probe run before installing a subset must see it (in a process of
    # its own: vl-convert's font database lives as long as the process).
    weights = sorted(p for p in subset.folder.glob("*.otf"))
    assert len(weights) >= 2, weights
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / weights[-1].name).write_bytes(weights[-1].read_bytes())
    code = (
        "import sys; from pathlib import Path; from helpers.report import fonts; "
        "print(fonts._same_drawing(Path(sys.argv[1]), '客服微刊综合信用卡 0123456789%'))"
    )

    def probe(folder: Path) -> str:
        run = [sys.executable, "-c", code, str(folder)]
        return subprocess.run(run, capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()

    assert probe(tmp_path / "wrong") != "None"
    assert probe(subset.folder) == "None"
