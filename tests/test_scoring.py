"""Hand-computed scores for every item kind and every edge of SPEC §3–5."""
from __future__ import annotations

import re

from conftest import RULEBOOK_D, RULEBOOK_T, build, items, scores

ROUND_T = """
title: 测试轮次
year: 2024
rulebooks: {机关事业单位: t}
"""


def test_every_item_kind_scores_as_computed_by_hand(site, kaohe):
    site.rulebook(RULEBOOK_T)
    site.units("""
        a,甲单位,机关事业单位,
        b,乙单位,机关事业单位,
        c,丙单位,机关事业单位,
    """)
    site.round("r1", ROUND_T, """
        unit_id,ref,value,source,rating,note
        a,A1-1,,,,年初无学习计划
        a,A1-2,2,,,缺2次
        a,A1-2,3,,,又缺3次
        a,A2,95,,,
        a,B1,100,,,
        a,B2,3,,优秀,
        a,B2,1,,较好,
        a,B2,2,,不了解,
        a,J1,2,,,
        b,A2,100,,,
        b,A3,5,,,
        b,B1,100,,,
        b,B2,1,,一般,
        b,K1,1,,,
        c,A1-3,,,,
        c,A2,85,,,
        c,B1,50,,,
        c,B2,2,,差,
        c,V1,,,,
    """)
    out = build(kaohe, site)
    s, it = scores(out, "r1"), items(out, "r1")
    # a: A1 = 10 − 2 − min(5×2, 6) = 2 (max_deduct caps the repeated criterion; rows add up)
    assert it[("a", "A1")]["score"] == "2.00" and it[("a", "A1")]["deducted"] == "8.00"
    # A2: 95 reaches the 90 band; A3: no value, default 3; B1: tied first (100, 100) → 10
    assert (it[("a", "A2")]["score"], it[("a", "A3")]["score"], it[("a", "B1")]["score"]) == ("20.00", "3.00", "10.00")
    # B2: 50 × (3×1.0 + 1×0.8) / 4 = 47.5; the two 不了解 votes are left out of the count
    assert it[("a", "B2")]["score"] == "47.50"
    # items 82.5 + bonus min(2×4, cap 5) = 87.5
    assert (s["a"]["total"], s["a"]["grade"], s["a"]["rank"]) == ("87.50", "较好", "1")
    # b: 10 + 25 + 5 + 10 + 50×0.6 = 80, less K1 3 → 77, below 80: 差
    assert (s["b"]["total"], s["b"]["grade"], s["b"]["rank"]) == ("77.00", "差", "2")
    # c: zero criterion → A1 0; 85 → 10; default 3; rank 3 → 3; 2 votes 差 → 0; veto V1
    assert it[("c", "A1")]["score"] == "0.00"
    assert (s["c"]["total"], s["c"]["grade"], s["c"]["veto"]) == ("16.00", "差", "V1")


def test_deductions_stop_at_zero_and_penalties_do_not(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲,机关事业单位,
        b,乙,机关事业单位,
        c,丙,机关事业单位,
    """)
    site.round("r", "title: 轮次\nyear: 2024\nrulebooks: d\n", """
        unit_id,ref,value
        a,A1-4,9
        a,A2-2,10
        b,K1,5
        c,K2,4
        c,J1,7
    """)
    out = build(kaohe, site)
    s, it = scores(out, "r"), items(out, "r")
    # 扣完为止: 9 × 10 = 90 deducted from a 50-point item leaves 0, not −40
    assert it[("a", "A1")]["score"] == "0.00"
    # max_deduct: 10 × 0.5 = 5 capped at 2
    assert it[("a", "A2")]["score"] == "48.00"
    assert s["a"]["total"] == "48.00"
    # 上不封顶: 5 × 20 = 100 of penalties on a full 100 → total floored at 0
    assert s["b"]["total"] == "0.00"
    # K2 capped by its max 5 (4 × 3 = 12); bonus 7 × 2 = 14 capped at 5: 100 + 5 − 5
    assert s["c"]["total"] == "100.00"


def test_rounding_half_up_at_a_grade_boundary_is_exact(site, kaohe):
    """100 − 2.4 − 7.605 is 89.99499999999999 in binary floats (→ 89.99, 较好); exactly it is 89.995 → 90.00, 优秀."""
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲,机关事业单位,
        b,乙,机关事业单位,
    """)
    site.round("r", "title: 轮次\nyear: 2024\nrulebooks: d\n", """
        unit_id,ref,value
        a,A1-1,1
        a,A1-2,1
        b,A1-2,1
        b,A2-1,3
    """)
    out = build(kaohe, site)
    s = scores(out, "r")
    assert (s["a"]["total"], s["a"]["grade"]) == ("90.00", "优秀")
    # 100 − 7.605 − 3 = 89.395 → 89.40 (half-up), 较好
    assert (s["b"]["total"], s["b"]["grade"]) == ("89.40", "较好")


def test_competition_ranks_share_places_and_veto_ranks_last(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲,机关事业单位,
        b,乙,机关事业单位,
        c,丙,机关事业单位,
        d,丁,机关事业单位,
        e,戊,机关事业单位,
        f,己,社区,
    """)
    site.round("r", "title: 轮次\nyear: 2024\nrulebooks: d\n", """
        unit_id,ref,value
        b,A2-1,1
        c,A2-1,1
        d,A2-1,2
        e,V1,1
        f,A2-1,9
    """)
    out = build(kaohe, site)
    s = scores(out, "r")
    # e has 100 points but a veto: grade 差 and ranked after everyone in its class
    assert [s[u]["rank"] for u in "abcde"] == ["1", "2", "2", "4", "5"]
    assert (s["e"]["total"], s["e"]["grade"]) == ("100.00", "差")
    # ranks are within the category: f is first of 社区
    assert s["f"]["rank"] == "1"


AWARDS_ROUND = """
title: 评奖轮次
year: 2024
rulebooks: d
awards:
  - {id: cup, name: 流动杯, quota: {机关事业单位: 1, 社区: 2}}
  - {id: xj, name: 先进, share: 0.3, min_score: 95}
  - {id: pc, name: 分类先进, share: 0.5, per_category: true}
  - {id: sq, name: 社区专项, share: 0.5, categories: [社区]}
"""


def test_awards_quota_share_ties_min_score_and_veto(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲,机关事业单位,
        b,乙,机关事业单位,
        c,丙,机关事业单位,
        d,丁,机关事业单位,
        e,戊,机关事业单位,
        f,己,机关事业单位,
        g,庚,社区,
        h,辛,社区,
        i,壬,社区,
        j,癸,社区,
    """)
    site.round("r", AWARDS_ROUND, """
        unit_id,ref,value
        a,V1,1
        b,A2-1,1
        c,A2-1,1
        d,A2-1,4
        e,A2-1,6
        f,A2-1,8
        h,A2-1,1
        i,A2-1,1
        j,A2-1,2
    """)
    out = build(kaohe, site)
    s = scores(out, "r")
    # 机关: a vetoed (100, no award); b and c tie at 99 for the one 流动杯: both listed, both flagged in scores.json
    assert s["a"]["awards"] == ""
    assert "cup" in s["b"]["awards"].split(";") and "cup" in s["c"]["awards"].split(";")
    assert "cup" not in s["d"]["awards"]
    # 社区: g 100 first; h and i tie at 99 for the second place: all three get it
    assert all("cup" in s[u]["awards"] for u in "ghi") and "cup" not in s["j"]["awards"]
    import json
    doc = json.loads((out / "results/r/data/scores.json").read_text(encoding="utf-8"))
    tied = {u["unit_id"]: u["tied"] for u in doc["units"]}
    assert "cup" in tied["b"] and "cup" in tied["c"] and tied["g"] == []
    assert "cup" in tied["h"] and "cup" in tied["i"]
    # share 0.3 of 10 participants = 3 places, only at ≥ 95: g 100, then b c h i at 99 tie for the 2nd–3rd
    xj = sorted(u for u in s if "xj" in s[u]["awards"].split(";"))
    assert xj == ["b", "c", "g", "h", "i"]
    # per_category share 0.5: ⌊6×0.5⌋ = 3 of 机关 (a vetoed: b, c, d), ⌊4×0.5⌋ = 2 of 社区 (g, then h/i tied)
    pc = sorted(u for u in s if "pc" in s[u]["awards"].split(";"))
    assert pc == ["b", "c", "d", "g", "h", "i"]
    # categories: only 社区 competes; ⌊4 × 0.5⌋ = 2
    sq = sorted(u for u in s if "sq" in s[u]["awards"].split(";"))
    assert sq == ["g", "h", "i"]


def test_share_rounds_down_and_min_score_can_leave_places_empty(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.units("\n".join(f"u{i},单位{i},机关事业单位," for i in range(7)))
    rows = "\n".join(f"u{i},A2-1,{i}" for i in range(7))
    site.round("r", """
        title: 轮次
        year: 2024
        rulebooks: d
        awards:
          - {id: a30, name: 三成, share: 0.3}
          - {id: hi, name: 高分, share: 0.5, min_score: 98}
    """, "unit_id,ref,value\n" + rows)
    s = scores(build(kaohe, site), "r")
    # ⌊7 × 0.3⌋ = 2: u0 (100) and u1 (99)
    assert sorted(u for u in s if "a30" in s[u]["awards"]) == ["u0", "u1"]
    # ⌊7 × 0.5⌋ = 3 places, but only u0, u1, u2 reach 98 → exactly those; u3 (97) not
    assert sorted(u for u in s if "hi" in s[u]["awards"]) == ["u0", "u1", "u2"]


COMPOSED_ROUND = """
title: 测评轮次
year: 2024
rulebooks: {机关事业单位: t}
composition: {组织考核: 0.7, 民主测评: 0.3}
"""


def test_composition_of_sources_and_self_assessment_beside(site, kaohe):
    site.rulebook(RULEBOOK_T)
    site.units("a,甲,机关事业单位,")
    site.round("r", COMPOSED_ROUND, """
        unit_id,ref,value,source,rating,note
        a,A1-1,,组织考核,,
        a,A2,100,组织考核,,
        a,A2,90,民主测评,,
        a,B1,1,组织考核,,
        a,B1,1,民主测评,,
        a,B2,1,组织考核,较好,
        a,B2,10,民主测评,优秀,
        a,B2,5,民主测评,一般,
        a,B2,3,民主测评,不了解,
        a,A1,9,自评,,
        a,B2,50,自评,,
    """)
    out = build(kaohe, site)
    it, s = items(out, "r"), scores(out, "r")
    # A1: 组织考核 8, 民主测评 10 (no deductions) → 0.7×8 + 0.3×10 = 8.6
    assert it[("a", "A1")]["score"] == "8.60"
    # A2: 0.7×25 + 0.3×20 = 23.5
    assert it[("a", "A2")]["score"] == "23.50"
    # B2: 组织考核 50×0.8 = 40; 民主测评 50×(10×1 + 5×0.6)/15 = 43.333…; 0.7×40 + 0.3×43.333… = 41
    assert it[("a", "B2")]["score"] == "41.00"
    # 自评 shown beside (weight 0): A1 9, B2 50, others empty
    assert it[("a", "A1")]["self_score"] == "9.00" and it[("a", "A2")]["self_score"] == ""
    # total = 8.6 + 23.5 + 3 (A3 default) + 10 + 41 = 86.1
    assert s["a"]["total"] == "86.10"


def test_rating_exact_half_rounds_up(site, kaohe):
    """10.05 × (1×1.0 + 1×0.0)/2 = 5.025 exactly → 5.03; in binary floats 5.0249999… → 5.02."""
    site.rulebook("""\
---
id: r
title: 测评细则
year: 2024
total: 10.05
grades: [{name: 合格, min: 0}]
sections:
  - {id: A, title: 测评, points: 10.05, items: [{id: A1, title: 测评项, points: 10.05, rating: true}]}
---
""")
    site.units("a,甲,机关事业单位,")
    site.round("x", "title: 轮次\nyear: 2024\nrulebooks: r\n", """
        unit_id,ref,value,rating
        a,A1,1,优秀
        a,A1,1,差
    """)
    assert scores(build(kaohe, site), "x")["a"]["total"] == "5.03"


def test_aggregate_scores_a_parent_on_its_childrens_rates(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.rulebook("""\
---
id: agg
title: 千分制
year: 2024
total: 1000
precision: 1
grades: [{name: 优秀, min: 900}, {name: 较差, min: 0}]
sections:
  - id: A
    title: 核查基层目标
    points: 800
    items: [{id: A1, title: 核查基层目标, points: 800, aggregate: {of: children, stat: mean}}]
  - id: B
    title: 日常监控目标
    points: 200
    items:
      - id: B1
        title: 日常监控
        points: 200
        criteria: [{id: B1-1, text: 逾期, deduct: 10, unit: 次}]
---
""")
    site.units("""
        org,区委组织部,党(工)委,
        x,甲,机关事业单位,org
        y,乙,机关事业单位,org
        z,丙,机关事业单位,org
        w,丁,机关事业单位,
    """)
    site.round("r", """
        title: 轮次
        year: 2024
        rulebooks: {党(工)委: agg, 机关事业单位: d}
    """, """
        unit_id,ref,value
        x,A2-1,10
        y,A2-1,5
        y,J1,3
        z,K1,1
        org,B1-1,1
    """)
    s = scores(build(kaohe, site), "r")
    # children: x 90/100, y 95 + 5 bonus = 100/100, z 80/100 → mean 0.9 → 800 × 0.9 = 720; + 190
    assert (s["x"]["total"], s["y"]["total"], s["z"]["total"]) == ("90.00", "100.00", "80.00")
    assert s["org"]["total"] == "910.0" and s["org"]["grade"] == "优秀"
    assert s["org"]["A1"] == "720.0"


def test_aggregate_with_a_childs_bonus_never_exceeds_its_points(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.rulebook("""\
---
id: agg
title: 汇总
year: 2024
total: 10
grades: [{name: 合格, min: 0}]
sections:
  - {id: A, title: 汇总, points: 10, items: [{id: A1, title: 汇总, points: 10, aggregate: {of: children, stat: max}}]}
---
""")
    site.units("""
        org,组织部,党(工)委,
        x,甲,机关事业单位,org
    """)
    site.round("r", "title: 轮次\nyear: 2024\nrulebooks: {党(工)委: agg, 机关事业单位: d}\n",
               "unit_id,ref,value\nx,J1,1\n")
    s = scores(build(kaohe, site), "r")
    # the child's total with bonus is 102 of 100 (rate 1.02): min(10, 10 × 1.02) = 10
    assert s["x"]["total"] == "102.00" and s["org"]["total"] == "10.00"


def test_from_rounds_mean_and_sum_of_earlier_item_scores(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲,机关事业单位,
        b,乙,机关事业单位,
    """)
    for month, rows in (("m1", "a,A2-1,1"), ("m2", "a,A2-1,1"), ("m3", "a,A2-1,2\nb,A1-3,3")):
        site.round(month, f"title: {month}\nyear: 2024\nrulebooks: d\n", "unit_id,ref,value\n" + rows)
    site.round("year", """
        title: 年度
        year: 2024
        rulebooks: d
        from_rounds: [m1, m2, m3]
        from_stat: mean
    """, "unit_id,ref,value\nb,J1,1\n")
    site.round("sum", """
        title: 合计
        year: 2024
        rulebooks: d
        from_rounds: [m1, m2]
        from_stat: sum
    """)
    out = build(kaohe, site)
    s, it = scores(out, "year"), items(out, "year")
    # a: A2 = (49 + 49 + 48) / 3 = 48.666… → 48.67; total 50 + 48.666… = 98.666… → 98.67
    assert it[("a", "A2")]["score"] == "48.67" and s["a"]["total"] == "98.67"
    # b: A1 = (50 + 50 + 47) / 3 = 49; plus this round's own bonus 2
    assert s["b"]["total"] == "101.00"
    assert scores(out, "sum")["a"]["total"] == "198.00"


def test_drafts_are_only_built_with_drafts(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.units("a,甲,机关事业单位,")
    site.round("pub", "title: 已发布\nyear: 2024\nrulebooks: d\n")
    site.round("dr", "title: 草稿\nyear: 2024\nrulebooks: d\nstatus: draft\n")
    assert kaohe("publish", "pub", "--content", str(site.root), "--date", "2025-01-10").code == 0
    out = site.root.parent / "plain"
    assert kaohe("build", "--content", str(site.root), "--output", str(out)).code == 0
    assert (out / "results/pub/data/scores.csv").exists()
    assert not (out / "results/dr").exists()
    out = build(kaohe, site)
    assert (out / "results/dr/data/scores.csv").exists()


def test_participants_all_skips_units_no_longer_active(site, kaohe):
    site.rulebook(RULEBOOK_D)
    site.write("units.csv", "unit_id,name,category,active_until\na,甲,机关事业单位,\nb,乙,机关事业单位,2023-06-30\n")
    site.round("r", "title: 轮次\nyear: 2024\nrulebooks: d\n")
    site.round("old", "title: 旧轮次\nyear: 2023\nrulebooks: d\n")
    out = build(kaohe, site)
    assert set(scores(out, "r")) == {"a"}
    assert set(scores(out, "old")) == {"a", "b"}


def test_frequent_deductions_count_units_and_capped_points(site, kaohe):
    """存在问题 on the round page: per criterion, the units that lost points on it (a unit's several rows
    count once) and the points they lost (each unit's loss capped by max_deduct), most units first, then
    most points, then the rulebook's order; rows of 0 times are no loss."""
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲,机关事业单位,
        b,乙,机关事业单位,
        c,丙,机关事业单位,
        d,丁,机关事业单位,
        e,戊,机关事业单位,
    """)
    site.round("r", "title: 轮次\nyear: 2024\nrulebooks: d\n", """
        unit_id,ref,value
        a,A1-3,1
        a,A1-3,1
        b,A1-3,1
        c,A2-1,2
        d,A2-1,1
        e,A2-1,0
        a,A2-2,10
        c,A2-2,1
        d,A2-2,3
        c,A1-4,1
        d,A1-4,1
        b,A1-2,1
        e,A1-1,1
    """)
    out = build(kaohe, site)
    html = (out / "results" / "r" / "index.html").read_text(encoding="utf-8")
    section = html.split('id="problems"', 1)[1].split("</section>", 1)[0]
    rows = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr><td>.*?</tr>", section)]
    assert rows == [
        ["己", "乙项", "3", "4"],        # 10 × 0.5 capped at 2, 0.5, 1.5
        ["丁", "甲项", "2", "20"],
        ["丙", "甲项", "2", "3"],        # a's two rows are one unit that lost 2
        ["戊", "乙项", "2", "3"],        # tied with 丙 on both: the rulebook's order
        ["乙", "甲项", "1", "7.605"],
        ["甲", "甲项", "1", "2.4"],
    ]
