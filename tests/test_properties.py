"""Invariants of scoring over random rulebooks and results (hypothesis), checked against a plain
reference scorer written with Fractions straight from SPEC §3–5."""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.content import Content, SiteConfig, Unit
from generator.errors import Report
from generator.layout import build_layout
from generator.rounds import FILE, parse_round
from generator.rules import parse_rulebook
from generator.score import score_round
from generator.standing import settle
from generator.tables import LINE
from generator.yamlio import load_yaml

decimals = st.decimals(min_value=0, max_value=20, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def rulebooks(draw):
    n_items = draw(st.integers(1, 5))
    items, total = [], Decimal(0)
    for i in range(n_items):
        points = draw(st.decimals(min_value=1, max_value=30, places=1))
        total += points
        kind = draw(st.sampled_from(["deduction", "deduction", "tiers", "direct", "rating"]))
        item = {"id": f"A{i + 1}", "title": f"项{i + 1}", "points": points}
        if kind == "deduction":
            crits = []
            for j in range(draw(st.integers(1, 3))):
                c = {"id": f"A{i + 1}-{j + 1}", "text": "标准", "deduct": draw(decimals)}
                if draw(st.booleans()):
                    c["unit"] = "次"
                    if draw(st.booleans()):
                        c["max_deduct"] = c["deduct"] * draw(st.integers(1, 3))
                if draw(st.integers(0, 9)) == 0:
                    c = {"id": c["id"], "text": "否决本项", "zero": True}
                crits.append(c)
            item["criteria"] = crits
        elif kind == "tiers":
            scores = sorted((draw(st.decimals(min_value=0, max_value=points, places=1)) for _ in range(3)), reverse=True)
            item["tiers"] = [{"min": m, "score": s} for m, s in zip((90, 60, 0), scores)]
            item["default"] = scores[-1]
        else:
            item[kind] = True
            item["default"] = Decimal(0)
        items.append(item)
    cap = draw(st.one_of(st.none(), decimals))
    book = {"id": "p", "title": "随机细则", "year": 2024, "total": total, "precision": draw(st.integers(0, 3)),
            "grades": [{"name": "优秀", "min": total * Decimal("0.9")}, {"name": "合格", "min": 0}],
            "sections": [{"id": "A", "title": "部分", "points": total, "items": items}],
            "bonus": {"cap": cap, "rules": [{"id": "J1", "text": "加", "add": draw(decimals), "unit": "条"}]},
            "penalties": [{"id": "K1", "text": "减", "deduct": draw(decimals), "unit": "次"}]}
    if cap is None:
        del book["bonus"]["cap"]
    return book


def _yaml(value, indent=0) -> str:
    """Minimal YAML writer keeping Decimals as written."""
    pad = " " * indent
    if isinstance(value, dict):
        return "".join(f"{pad}{k}:" + (f"\n{_yaml(v, indent + 2)}" if isinstance(v, (dict, list)) else f" {_scalar(v)}\n")
                       for k, v in value.items())
    return "".join(f"{pad}-\n{_yaml(v, indent + 2)}" if isinstance(v, (dict, list)) else f"{pad}- {_scalar(v)}\n" for v in value)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


@st.composite
def cases(draw):
    book_data = draw(rulebooks())
    n_units = draw(st.integers(1, 6))
    rows = []
    for u in range(n_units):
        for item in book_data["sections"][0]["items"]:
            if "criteria" in item:
                for c in item["criteria"]:
                    if draw(st.booleans()):
                        count = 1 if "unit" not in c else draw(st.integers(0, 4))
                        rows.append((f"u{u}", c["id"], str(count), "", ""))
            elif "tiers" in item and draw(st.booleans()):
                rows.append((f"u{u}", item["id"], str(draw(st.integers(0, 120))), "", ""))
            elif "direct" in item and draw(st.booleans()):
                rows.append((f"u{u}", item["id"], str(draw(st.decimals(min_value=0, max_value=item["points"], places=1))), "", ""))
            elif "rating" in item:
                for rating in ("优秀", "较好", "一般", "差", "不了解"):
                    if draw(st.booleans()):
                        rows.append((f"u{u}", item["id"], str(draw(st.integers(1, 9))), rating, ""))
        if draw(st.booleans()):
            rows.append((f"u{u}", "J1", str(draw(st.integers(0, 3))), "", ""))
        if draw(st.integers(0, 3)) == 0:
            rows.append((f"u{u}", "K1", str(draw(st.integers(0, 3))), "", ""))
    return book_data, n_units, rows


def score_case(book_data, n_units, rows):
    report = Report()
    book = parse_rulebook(load_yaml(_yaml(book_data), "p.md"), "", "p.md", report, None)
    assert not report.errors, report.lines()
    units = {f"u{i}": Unit(f"u{i}", f"单位{i}", "社区", None, (), None, {}, i + 2) for i in range(n_units)}
    rnd = parse_round(load_yaml("id: r\ntitle: 轮次\nyear: 2024\nrulebooks: p\n", "r.yaml"), "r", "r", report)
    frame = pd.DataFrame(rows, columns=["unit_id", "ref", "value", "rating", "note"], dtype=str)
    frame["source"] = ""
    frame[LINE] = range(2, len(rows) + 2)
    frame[FILE] = "r.csv"
    content = Content("c", SiteConfig("t", "o", "internal", (), None, {}), units, {"p": book}, {"r": rnd}, {"r": frame})
    score = score_round(rnd, content, frame, {}, report)
    assert not report.errors, report.lines()
    settle(score)
    return book, score


def reference_total(book, uid: str, rows) -> Fraction:
    """SPEC §3–5 read literally, one unit at a time, with Fractions."""
    mine = [r for r in rows if r[0] == uid]
    total = Fraction(0)
    for item in book.items:
        pts = Fraction(item.points)
        if item.kind == "deduction":
            counts = {c.id: 0 for c in item.criteria}
            for r in mine:
                if r[1] in counts:
                    counts[r[1]] += int(r[2])
            if any(c.zero and counts[c.id] > 0 for c in item.criteria):
                score = Fraction(0)
            else:
                lost = sum(min(Fraction(c.deduct) * counts[c.id],
                               Fraction(c.max_deduct) if c.max_deduct is not None else Fraction(10**9)) for c in item.criteria)
                score = max(Fraction(0), pts - lost)
        elif item.kind == "tiers":
            vals = [Fraction(Decimal(r[2])) for r in mine if r[1] == item.id]
            if not vals:
                score = Fraction(item.default)
            else:
                score = next((Fraction(t.score) for t in item.tiers if vals[0] >= t.min), Fraction(0))
        elif item.kind == "direct":
            vals = [Fraction(Decimal(r[2])) for r in mine if r[1] == item.id]
            score = vals[0] if vals else Fraction(item.default)
        else:
            votes = [(int(r[2]), r[3]) for r in mine if r[1] == item.id and r[3] in book.rating_scale]
            n = sum(v for v, _ in votes)
            score = pts * sum(v * Fraction(book.rating_scale[k]) for v, k in votes) / n if n else Fraction(item.default)
        total += score
    bonus = sum(int(r[2]) for r in mine if r[1] == "J1") * Fraction(book.bonus[0].add)
    if book.bonus_cap is not None:
        bonus = min(bonus, Fraction(book.bonus_cap))
    penalty = sum(int(r[2]) for r in mine if r[1] == "K1") * Fraction(book.penalties[0].deduct)
    return max(Fraction(0), total + bonus - penalty)


def half_up(value: Fraction, p: int) -> int:
    return math.floor(value * 10**p + Fraction(1, 2))


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_totals_equal_the_reference_and_items_stay_within_points(case):
    book_data, n_units, rows = case
    book, score = score_case(book_data, n_units, rows)
    layout = score.layout
    for u, unit in enumerate(layout.units):
        expected = half_up(reference_total(book, unit.id, rows), book.precision)
        assert score.total[u] == expected
        for gi, item in enumerate(layout.items):
            assert 0 <= score.item_value(u, gi) <= item.points


@SETTINGS
@given(cases(), st.data())
def test_one_more_deduction_never_raises_a_total(case, data):
    book_data, n_units, rows = case
    book, before = score_case(book_data, n_units, rows)
    criteria = [c for it in book.items for c in it.criteria if c.unit]
    if not criteria:
        return
    crit = data.draw(st.sampled_from(criteria))
    uid = data.draw(st.sampled_from([f"u{i}" for i in range(n_units)]))
    _, after = score_case(book_data, n_units, rows + [(uid, crit.id, "1", "", "")])
    u = before.layout.index[uid]
    assert after.total[u] <= before.total[u]


@SETTINGS
@given(cases(), st.randoms())
def test_row_order_does_not_change_any_result(case, rnd):
    book_data, n_units, rows = case
    _, a = score_case(book_data, n_units, rows)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    _, b = score_case(book_data, n_units, shuffled)
    assert a.total.tolist() == b.total.tolist()
    assert a.grade == b.grade and a.rank.tolist() == b.rank.tolist()


@SETTINGS
@given(cases())
def test_ranks_are_competition_ranks_of_the_totals(case):
    book_data, n_units, rows = case
    _, score = score_case(book_data, n_units, rows)
    totals = score.total.tolist()
    for u, total in enumerate(totals):
        assert score.rank[u] == 1 + sum(1 for t in totals if t > total)


def test_layout_of_an_empty_round_is_empty():
    report = Report()
    rnd = parse_round(load_yaml("id: r\ntitle: 轮次\nyear: 2024\nrulebooks: p\n", "r.yaml"), "r", "r", report)
    content = Content("c", SiteConfig("t", "o", "internal", (), None, {}), {}, {}, {"r": rnd}, {})
    assert build_layout(rnd, content).n_units == 0
