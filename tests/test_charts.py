"""SVG charts: parsed as real XML, checked for escaping, accessibility, geometry and determinism."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from generator import charts

NS = {"s": "http://www.w3.org/2000/svg"}
EVIL = "<script>alert(1)</script> & 党委"

GRADES = [("优秀", 12), ("较好", 6), ("一般", 3), ("差", 0)]
SECTIONS = [("党的政治建设", 0.9, Decimal("0.8675"), "18.00/20", "17.35"),
            ("思想建设", 0.5, None, "5.00/10", "—"),
            ("组织建设", 1.0, 0.25, "30.00/30", "7.50")]
POINTS = [("2020年度", 85.5, "85.50"), ("2021年度", None, "未参加"), ("2022年度", 91.25, "91.25"),
          ("2023年度", Decimal("94.5"), "94.50"), ("2024年度", 88, "88.00")]
BANDS = [("优秀", 90), ("较好", 80)]


def all_charts(title: str = "图表", label: str = "标签") -> dict[str, str]:
    return {
        "grades": charts.grade_distribution("g1", [(label, 4), ("较好", 2)], title),
        "sections": charts.section_comparison("s1", [(label, 0.5, 0.4, "10.00/20", "8.00")], title),
        "trend": charts.trend("t1", [(label, 80.0, "80.00"), ("2024年度", 90.0, "90.00")], title, 100,
                              [(label, 90)]),
        "empty": charts.empty("e1", title),
    }


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises if not well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def rects(root: ET.Element, cls: str) -> list[ET.Element]:
    return [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if cls in r.get("class", "").split()]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("kind", ["grades", "sections", "trend", "empty"])
def test_caller_text_is_escaped(kind):
    svg = all_charts(title=EVIL, label=EVIL)[kind]
    assert "<script>" not in svg and "& 党委" not in svg
    assert "&lt;script&gt;" in svg and "&amp; 党委" in svg
    root = parse(svg)
    assert root.find("s:title", NS).text == EVIL  # the parser gets the original text back
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
    if kind != "empty":
        assert EVIL in texts(root)


def test_control_characters_from_csv_are_dropped():
    svg = charts.grade_distribution("g", [("优\x01秀\x0b", 1)], "标题\x00")
    root = parse(svg)
    assert "优秀" in texts(root) and root.find("s:title", NS).text == "标题"


@pytest.mark.parametrize("kind", ["grades", "sections", "trend", "empty"])
def test_accessible_and_responsive(kind):
    svg = all_charts()[kind]
    root = parse(svg)
    ident = {"grades": "g1", "sections": "s1", "trend": "t1", "empty": "e1"}[kind]
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{ident}-title {ident}-desc"
    assert root.find("s:title", NS).get("id") == f"{ident}-title"
    assert root.find("s:desc", NS).get("id") == f"{ident}-desc"
    assert root.find("s:desc", NS).text
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert ids and all(i.startswith(f"{ident}-") for i in ids) and len(ids) == len(set(ids))
    assert root.get("width") == "100%" and root.get("height") is None
    assert re.fullmatch(r"0 0 600 \d+\.\d", root.get("viewBox"))
    assert root.get("font-family") == "inherit"
    assert "px" not in svg and "<style" not in svg and "script" not in svg
    for t in root.iter("{http://www.w3.org/2000/svg}text"):  # every text has a class and a fallback colour
        assert "kh-label" in t.get("class").split() and t.get("fill")


def test_two_charts_on_one_page_have_distinct_ids():
    a = parse(charts.trend("a", POINTS, "甲", 100, BANDS))
    b = parse(charts.trend("b", POINTS, "甲", 100, BANDS))
    assert {e.get("id") for e in a.iter() if e.get("id")}.isdisjoint(e.get("id") for e in b.iter() if e.get("id"))


@pytest.mark.parametrize("ident", ["", "1abc", 'x" onload="alert(1)', "a b"])
def test_invalid_ident_is_refused(ident):
    with pytest.raises(ValueError):
        charts.empty(ident, "标题")


def test_grade_bars_are_proportional_and_labelled():
    root = parse(charts.grade_distribution("g", GRADES, "等次分布"))
    widths = [float(r.get("width")) for r in rects(root, "kh-bar")]
    assert len(widths) == 4
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.1)
    assert widths[1] == pytest.approx(2 * widths[2], abs=0.1)
    assert widths[3] == 0
    x0 = float(rects(root, "kh-bar")[0].get("x"))
    assert x0 + widths[0] <= 600
    shown = texts(root)
    assert shown[:2] == ["优秀", "12 个 · 57.1%"]  # 12/21 = 57.142…
    assert "0 个 · 0.0%" in shown and "3 个 · 14.3%" in shown
    assert [t for t in shown if t in ("优秀", "较好", "一般", "差")] == ["优秀", "较好", "一般", "差"]


def test_grade_percent_rounds_half_up():
    root = parse(charts.grade_distribution("g", [("优秀", 1), ("差", 7)], "t"))
    assert "1 个 · 12.5%" in texts(root) and "7 个 · 87.5%" in texts(root)
    root = parse(charts.grade_distribution("g", [("优秀", 1), ("差", 15)], "t"))  # 6.25 → 6.3
    assert "1 个 · 6.3%" in texts(root)


def test_section_bars_unit_filled_average_outlined():
    root = parse(charts.section_comparison("s", SECTIONS, "各部分得分率"))
    unit = rects(root, "kh-bar-unit")[1:]  # the first is the legend swatch
    avg = rects(root, "kh-bar-avg")[1:]
    assert len(unit) == 3 and len(avg) == 2  # no bar for a missing average
    full = float(unit[2].get("width"))
    assert float(unit[0].get("width")) == pytest.approx(0.9 * full, abs=0.1)
    assert float(avg[0].get("width")) == pytest.approx(0.8675 * full, abs=0.1)
    assert float(avg[1].get("width")) == pytest.approx(0.25 * full, abs=0.1)
    assert all(r.get("fill") == "#b3261e" for r in rects(root, "kh-bar-unit"))
    assert all(r.get("fill") == "#fff" and r.get("stroke") for r in rects(root, "kh-bar-avg"))
    shown = texts(root)
    for expected in ("本单位", "类别平均", "18.00/20", "17.35", "5.00/10", "—", "0%", "100%", "党的政治建设"):
        assert expected in shown


def test_section_rates_outside_range_are_clamped_texts_kept():
    root = parse(charts.section_comparison("s", [("加分", 1.2, -0.1, "24.00/20", "-2.00")], "t"))
    unit, avg = rects(root, "kh-bar-unit")[1], rects(root, "kh-bar-avg")[1]
    assert float(unit.get("width")) == 460 and float(avg.get("width")) == 0
    assert "24.00/20" in texts(root) and "-2.00" in texts(root)


def test_trend_gap_for_missing_round():
    root = parse(charts.trend("t", POINTS, "总分", 100, BANDS))
    lines = list(root.iter("{http://www.w3.org/2000/svg}polyline"))
    assert len(lines) == 1  # 2020 stands alone; 2022–2024 are joined
    assert len(lines[0].get("points").split()) == 3
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 4
    shown = texts(root)
    for expected in ("85.50", "91.25", "94.50", "88.00", "未参加", "2021年度", "优秀 ≥90", "较好 ≥80"):
        assert expected in shown
    bands = [e for e in root.iter() if e.get("class") == "kh-band"]
    assert len(bands) == 2 and all(b.get("stroke-dasharray") for b in bands)


def test_trend_two_gaps_give_two_lines():
    pts = [("a", 80, "80"), ("b", 81, "81"), ("c", None, ""), ("d", 82, "82"), ("e", 83, "83")]
    root = parse(charts.trend("t", pts, "t", 100))
    assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 2


def test_trend_y_geometry():
    root = parse(charts.trend("t", [("a", 90.0, "90.00"), ("b", 85.0, "85.00")], "t", 100, [("较好", 80)]))
    ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "kh-tick" in t.get("class")]
    assert ticks[0] == "80" and ticks[-1] == "100"  # floor from the band, top at y_max
    cy = [float(c.get("cy")) for c in root.iter("{http://www.w3.org/2000/svg}circle")]
    assert cy[0] < cy[1]  # the higher score is drawn higher
    # floor: min(values, bands) rounded down to 10, not below 0
    low = parse(charts.trend("t", [("a", 7.5, "7.50")], "t", 100, [("优秀", 90)]))
    assert [t.text for t in low.iter("{http://www.w3.org/2000/svg}text") if "kh-tick" in t.get("class")][0] == "0"


def test_trend_single_point():
    root = parse(charts.trend("t", [("2024年度", 88.0, "88.00")], "总分", 100, BANDS))
    assert not list(root.iter("{http://www.w3.org/2000/svg}polyline"))
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 1
    assert "88.00" in texts(root)


def test_trend_full_marks_without_bands():
    root = parse(charts.trend("t", [("a", 100, "100.00")], "t", 100))
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 1


def test_output_is_deterministic():
    def build() -> list[str]:
        return [charts.grade_distribution("g", list(GRADES), "等次"),
                charts.section_comparison("s", list(SECTIONS), "部分"),
                charts.trend("t", list(POINTS), "趋势", 100, list(BANDS)),
                charts.empty("e", "空")]
    first, second = build(), build()
    assert [s.encode() for s in first] == [s.encode() for s in second]
    # numbers in geometry attributes always have exactly one decimal
    for svg in first:
        for attr, value in re.findall(r' (x|y|x1|y1|x2|y2|width|height|cx|cy)="([^"]*)"', svg):
            if attr != "width" or value != "100%":
                assert re.fullmatch(r"-?\d+\.\d", value), (attr, value)


def test_empty_inputs_return_the_empty_chart():
    expected = charts.empty("x", "标题")
    assert charts.grade_distribution("x", [], "标题") == expected
    assert charts.grade_distribution("x", [("优秀", 0), ("差", 0)], "标题") == expected
    assert charts.section_comparison("x", [], "标题") == expected
    assert charts.trend("x", [], "标题", 100) == expected
    assert charts.trend("x", [("2024年度", None, "未参加")], "标题", 100) == expected
    root = parse(expected)
    assert texts(root) == ["暂无数据"]
    assert "没有参加" in texts(parse(charts.empty("x", "标题", "没有参加")))


def test_bad_numbers_are_refused():
    with pytest.raises(ValueError):
        charts.grade_distribution("g", [("优秀", -1)], "t")
    with pytest.raises(ValueError):
        charts.section_comparison("s", [("a", float("nan"), None, "", "")], "t")
    with pytest.raises(ValueError):
        charts.trend("t", [("a", float("inf"), "")], "t", 100)
