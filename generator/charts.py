"""SVG charts drawn at build time: readable without JavaScript, offline and in black-and-white print.

Every function is pure and returns an SVG string for a page to insert with `|safe` / `Markup`.
Texts from callers are escaped; ids are prefixed with the caller's `ident` so several charts can share
a page; colours come from CSS classes (`kh-*`), with presentation attributes as a fallback that any
stylesheet rule overrides. Geometry uses a fixed viewBox (600 units wide) and one decimal, so the same
input always gives byte-identical output. No visible title is drawn: the page supplies the caption,
the `<title>`/`<desc>` carry it (and all the numbers) for screen readers.
"""
from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Sequence

WIDTH = 600
UNIT_FILL = "#b3261e"
AVG_STROKE = "#9e9e9e"
TEXT_FILL = "#333"
GRID_STROKE = "#ddd"
FONT = 13  # default font size, in viewBox units
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
# Characters XML 1.0 forbids (control characters a CSV cell may still carry): dropped, not escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _esc(text: str) -> str:
    """Caller text made safe for element content and attribute values."""
    return escape(_NOT_XML.sub("", str(text)))


def _f(x: float) -> str:
    """A coordinate with one fixed decimal (`+ 0.0` turns -0.0 into 0.0)."""
    return f"{float(x) + 0.0:.1f}"


@lru_cache(maxsize=4096)     # pure; the same labels (round titles, grade bands) recur on every unit page
def _em(text: str) -> float:
    """Rough width of `text` in ems: wide (CJK) and ambiguous characters 1, the rest 0.6."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WFA" else 0.6 for c in text)


def _rate(x: float) -> float:
    """A geometry value as a float in 0..1 (the shown text stays the caller's)."""
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"图表数值无效:{x!r}")
    return min(max(v, 0.0), 1.0)


@lru_cache(maxsize=8192)     # pure; the same legend, ticks and labels recur on every page
def _text(x: float, y: float, s: str, cls: str = "kh-label", anchor: str = "start", size: float = FONT) -> str:
    return (f'<text class="{cls}" x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{_f(size)}" '
            f'fill="{TEXT_FILL}">{_esc(s)}</text>')


@lru_cache(maxsize=8192)     # pure; the same legend, ticks and labels recur on every page
def _rect(x: float, y: float, w: float, h: float, cls: str, paint: str) -> str:
    return f'<rect class="{cls}" x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" {paint}/>'


@lru_cache(maxsize=8192)     # pure; the same legend, ticks and labels recur on every page
def _line(x1: float, y1: float, x2: float, y2: float, cls: str, paint: str) -> str:
    return f'<line class="{cls}" x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" {paint}/>'


UNIT_PAINT = f'fill="{UNIT_FILL}"'
AVG_PAINT = f'fill="#fff" stroke="{AVG_STROKE}" stroke-width="1.5"'  # outlined: tells apart in B/W
GRID_PAINT = f'stroke="{GRID_STROKE}" stroke-width="1"'
AXIS_PAINT = f'stroke="{TEXT_FILL}" stroke-width="1"'


def _svg(ident: str, title: str, desc: str, height: float, body: list[str]) -> str:
    """The common wrapper: role, accessible name and description, responsive viewBox."""
    if not _IDENT.match(ident):
        raise ValueError(f"图表标识无效:{ident!r}(应为字母开头的字母、数字、-、_、.)")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="kh-chart" role="img" '
            f'aria-labelledby="{ident}-title {ident}-desc" viewBox="0 0 {WIDTH} {_f(height)}" width="100%" '
            f'font-family="inherit" font-size="{FONT}">'
            f'<title id="{ident}-title">{_esc(title)}</title><desc id="{ident}-desc">{_esc(desc)}</desc>'
            + "".join(body) + "</svg>")


def empty(ident: str, title: str, message: str = "暂无数据") -> str:
    """A small chart that only says `message`: used when there is nothing to draw."""
    return _svg(ident, title, message, 60, [_text(WIDTH / 2, 35, message, "kh-label kh-empty", "middle")])


def grade_distribution(ident: str, grades: list[tuple[str, int]], title: str) -> str:
    """Horizontal bars, one per grade in the given order, labelled "12 个 · 40.0%".

    Bar widths are proportional to the counts, the largest count filling the bar area. Percentages are
    of the total, rounded half up to one decimal. With no grades or a zero total, returns `empty()`.
    """
    if any(n < 0 for _, n in grades):
        raise ValueError("等次人数不能为负数")
    total = sum(n for _, n in grades)
    if not grades or total == 0:
        return empty(ident, title)
    texts = [f"{n} 个 · {_percent(n, total)}%" for _, n in grades]
    label_w = max(40.0, max(_em(g) for g, _ in grades) * FONT + 8)
    value_w = max(_em(t) for t in texts) * FONT + 8
    x0, span, biggest = label_w, WIDTH - label_w - value_w, max(n for _, n in grades)
    pitch, bar_h, top = 32, 22, 6
    body = []
    for i, ((grade, n), shown) in enumerate(zip(grades, texts)):
        y, w = top + i * pitch, span * n / biggest
        body.append(_text(x0 - 8, y + 16, grade, anchor="end"))
        body.append(_rect(x0, y, w, bar_h, "kh-bar kh-bar-grade", UNIT_PAINT))
        body.append(_text(x0 + w + 6, y + 16, shown, "kh-label kh-value"))
    desc = ";".join(f"{g} {t}" for (g, _), t in zip(grades, texts))
    return _svg(ident, title, desc, top * 2 + len(grades) * pitch - (pitch - bar_h), body)


def _tick_step(span: float) -> float:
    """The smallest of 1, 2, 5 × 10^k giving at most 6 intervals over `span`."""
    scale = 10.0 ** math.floor(math.log10(span / 6))
    return next(m * scale for m in (1, 2, 5, 10) if span / (m * scale) <= 6)


def _percent(part: int, whole: int) -> str:
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def section_comparison(ident: str, rows: list[tuple[str, float, float | None, str, str]], title: str,
                       averages: list[tuple[str, str]] | None = None) -> str:
    """Per section, the unit's score rate (filled bar) against the category average (outlined bar).

    Rows are (section label, unit rate 0..1, average rate 0..1 or None, unit text, average text); rates
    outside 0..1 are clamped for drawing, the texts are shown as given. A None average draws no bar, only
    its text if any. A legend ("本单位" / "类别平均") is on top, an axis 0%–100% at the bottom.

    `averages`, if given, replaces each row's average by (SVG, description part) as comparison_average()
    makes them, the row's own average fields unused: the scorecards of a category share them (holes.py).
    """
    if not rows:
        return empty(ident, title)
    body = [_comparison_frame(len(rows))]
    parts = []
    for i, (label, unit, avg, unit_text, avg_text) in enumerate(rows):
        svg, desc = _comparison_row(i, label, unit, unit_text)
        avg_svg, avg_desc = averages[i] if averages is not None else comparison_average(i, avg, avg_text)
        body.append(svg + avg_svg)
        parts.append(desc + avg_desc)
    return _svg(ident, title, ";".join(parts), 30 + len(rows) * 62 + 24, body)


@lru_cache(maxsize=64)       # pure: the legend, grid and axis depend only on the number of sections
def _comparison_frame(n: int) -> str:
    x0, span, pitch, top = 16.0, 460.0, 62, 30
    bottom = top + n * pitch
    body = [_rect(x0, 6, 14, 14, "kh-bar kh-bar-unit", UNIT_PAINT), _text(x0 + 20, 18, "本单位"),
            _rect(x0 + 90, 6, 14, 14, "kh-bar kh-bar-avg", AVG_PAINT), _text(x0 + 110, 18, "类别平均")]
    for tick in range(0, 101, 25):
        x = x0 + span * tick / 100
        body.append(_line(x, top, x, bottom, "kh-grid", GRID_PAINT))
        body.append(_text(x, bottom + 16, f"{tick}%", "kh-label kh-tick", "middle", 11))
    body.append(_line(x0, bottom, x0 + span, bottom, "kh-axis", AXIS_PAINT))
    return "".join(body)


@lru_cache(maxsize=8192)     # pure: most units share most of their sections' (rate, text) with others
def _comparison_row(i: int, label: str, unit: float, unit_text: str) -> tuple[str, str]:
    """One section's label, the unit's bar and text of section_comparison, and its part of the description."""
    x0, span, bar_h, pitch, top = 16.0, 460.0, 14, 62, 30
    y = top + i * pitch
    w = span * _rate(unit)
    return (_text(x0, y + 14, label, "kh-label kh-section") + _rect(x0, y + 20, w, bar_h, "kh-bar kh-bar-unit", UNIT_PAINT)
            + _text(x0 + w + 6, y + 31, unit_text, "kh-label kh-value", size=12)), f"{label}:本单位 {unit_text}"


def comparison_average(i: int, avg: float | None, avg_text: str) -> tuple[str, str]:
    """The category average's bar and text in row `i` of section_comparison, and its part of the row's
    description (unescaped: section_comparison escapes the whole description)."""
    x0, span, bar_h, pitch, top = 16.0, 460.0, 14, 62, 30
    y = top + i * pitch
    if avg is not None:
        w = span * _rate(avg)
        return (_rect(x0, y + 38, w, bar_h, "kh-bar kh-bar-avg", AVG_PAINT)
                + _text(x0 + w + 6, y + 49, avg_text, "kh-label kh-value", size=12)), f",类别平均 {avg_text}"
    if avg_text:
        return _text(x0, y + 49, avg_text, "kh-label kh-value", size=12), ""
    return "", ""


def description(text: str) -> str:
    """`text` as section_comparison writes it in the chart's description."""
    return str(_esc(text))


def trend(ident: str, points: list[tuple[str, float | None, str]], title: str, y_max: float,
          bands: Sequence[tuple[str, float]] = ()) -> str:
    """A unit's totals across rounds: a line with a labelled point per round, dashed grade bands.

    Points are (x label, value or None, text drawn above the point); None means the unit did not take
    part: the line breaks there (one `<polyline>` per run of consecutive values) and the text, if any, is
    drawn low in the plot instead. Bands are (grade name, minimum). The y axis runs from the smallest
    value or band minimum, rounded down to 10 and not below 0, to `y_max` (raised to the largest value
    if that is higher). One point draws just the point. Returns `empty()` if no point has a value.
    """
    values = [float(v) for _, v, _ in points if v is not None]
    if not values:
        return empty(ident, title)
    if not all(map(math.isfinite, values + [float(y_max)] + [float(m) for _, m in bands])):
        raise ValueError("图表数值无效:不是有限数")
    top_v = max(float(y_max), *values)
    # Floor: rounded down to 10, not below 0 (unless a total itself is negative), under the top.
    low_v = max(min(0.0, min(values)), math.floor(min(values + [float(m) for _, m in bands]) / 10) * 10)
    low_v = math.floor(low_v / 10) * 10
    if low_v >= top_v:  # e.g. full marks and no bands: show the ten points below
        low_v = max(0.0, top_v - 10)
        top_v = max(top_v, low_v + 10)
    # Band names sit in a right margin of their own, clear of the points' labels.
    band_w = max((_em(f"{n} ≥{float(m):g}") * 11 + 10 for n, m in bands), default=16.0)
    left, right, top, plot_h, height = 44.0, WIDTH - band_w, 24.0, 200.0, 262.0
    bottom, plot_w = top + plot_h, right - left

    def y_of(v: float) -> float:
        return bottom - plot_h * (v - low_v) / (top_v - low_v)

    body = []
    step = _tick_step(top_v - low_v)
    for k in range(math.ceil(low_v / step), math.floor(top_v / step) + 1):
        y = y_of(k * step)
        body.append(_line(left, y, right, y, "kh-grid", GRID_PAINT))
        body.append(_text(left - 6, y + 4, f"{k * step:g}", "kh-label kh-tick", "end", 11))
    body.append(_line(left, top, left, bottom, "kh-axis", AXIS_PAINT))
    body.append(_line(left, bottom, right, bottom, "kh-axis", AXIS_PAINT))
    for name, minimum in bands:
        if low_v <= float(minimum) <= top_v:
            y = y_of(float(minimum))
            body.append(_line(left, y, right, y, "kh-band",
                              f'stroke="{AVG_STROKE}" stroke-width="1" stroke-dasharray="6 4"'))
            body.append(_text(right + 4, y + 4, f"{name} ≥{float(minimum):g}", "kh-label kh-band-label", size=11))
    slot = plot_w / len(points)
    x_size = min(12.0, max(7.0, 0.9 * slot / max(_em(x) for x, _, _ in points)))
    xy: list[tuple[float, float] | None] = []
    for i, (x_label, v, _) in enumerate(points):
        x = left + slot * (i + 0.5)
        body.append(_text(x, bottom + 18, x_label, "kh-label kh-x", "middle", x_size))
        xy.append(None if v is None else (x, y_of(float(v))))
    runs, run = [], []
    for p in xy + [None]:  # split at None: each run of two or more points is one polyline
        if p is not None:
            run.append(p)
            continue
        if len(run) > 1:
            runs.append(run)
        run = []
    for r in runs:
        coords = " ".join(f"{_f(x)},{_f(y)}" for x, y in r)
        body.append(f'<polyline class="kh-line" points="{coords}" fill="none" stroke="{UNIT_FILL}" stroke-width="2"/>')
    for i, ((_, _, shown), p) in enumerate(zip(points, xy)):
        if p is None:  # did not take part: the caller's text (e.g. "未参加") low in the plot
            if shown:
                body.append(_text(left + slot * (i + 0.5), bottom - 8, shown, "kh-label kh-missing", "middle", 11))
            continue
        body.append(f'<circle class="kh-point" cx="{_f(p[0])}" cy="{_f(p[1])}" r="4" fill="{UNIT_FILL}" '
                    f'stroke="#fff" stroke-width="1.5"/>')
        body.append(_text(p[0], p[1] - 9, shown, "kh-label kh-value", "middle", 12))
    desc = ";".join(f"{x} {s if s else ('未参加' if v is None else '')}".rstrip()
                                  for x, v, s in points)
    return _svg(ident, title, desc, height, body)
