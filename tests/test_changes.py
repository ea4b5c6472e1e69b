"""`diff_rulebooks`: what changed between two editions of a rulebook."""
from __future__ import annotations

import pytest

from generator.changes import Change, Detail, RulebookDiff, diff_rulebooks, inline_diff
from generator.errors import Report
from generator.rules import load_rulebooks, parse_rulebook
from generator.yamlio import load_yaml

from conftest import REPO, RULEBOOK_T


@pytest.fixture(scope="module")
def shizhi() -> RulebookDiff:
    report = Report()
    books = load_rulebooks(REPO / "content" / "rules", "rules", report)
    assert not report.errors
    new = books["2024-shizhi-jiguan"]
    assert new.supersedes == "2022-shizhi-jiguan"
    return diff_rulebooks(books[new.supersedes], new)


def by_target(diff: RulebookDiff) -> dict[str, Change]:
    return {c.target: c for c in diff.changes}


def fields(change: Change) -> dict[str, tuple[str, str]]:
    return {d.field: (d.old, d.new) for d in change.details}


def rebuild(ops) -> tuple[str, str]:
    old = "".join(text for op, text in ops if op in "=-")
    new = "".join(text for op, text in ops if op in "=+")
    return old, new


# --- the real example pair: 2022 → 2024 市直机关 -------------------------------------------------

def test_example_finds_exactly_the_documented_changes(shizhi):
    assert [(c.kind, c.target) for c in shizhi.changes] == [
        ("changed", "项目 A3"),
        ("changed", "评分标准 A3-2"),
        ("changed", "项目 C1"),
        ("changed", "项目 C3"),
        ("changed", "评分标准 C3-2"),
        ("changed", "项目 C6"),
        ("removed", "评分标准 C6-3"),
        ("added", "项目 C7"),
        ("changed", "加分项封顶"),
        ("added", "减分项 K2"),
    ]
    assert shizhi.counts() == {"added": 2, "removed": 1, "changed": 7}
    assert not shizhi.empty
    assert (shizhi.old_id, shizhi.new_id) == ("2022-shizhi-jiguan", "2024-shizhi-jiguan")


def test_example_repointed_item(shizhi):
    c1 = by_target(shizhi)["项目 C1"]
    assert c1.anchor == "C1" and c1.title == "认真履行《条例》和《实施意见》规定的各项工作职责"
    assert c1.details == (Detail("分值", "10", "5"),)


def test_example_reworded_criterion_with_new_deduction(shizhi):
    c32 = by_target(shizhi)["评分标准 C3-2"]
    assert fields(c32) == {
        "评分标准": ("全年集中学习未达到12天，少一天", "学习贯彻习近平新时代中国特色社会主义思想全年集中学习不少于12天，缺一天"),
        "扣分": ("5", "2"),
        "扣分上限": ("", "10"),
    }
    text = c32.details[0]
    assert rebuild(text.diff) == (text.old, text.new)
    assert ("+", "学习贯彻习近平新时代中国特色社会主义思想") in text.diff
    assert c32.title == text.new


def test_example_reworded_texts(shizhi):
    changes = by_target(shizhi)
    a32 = changes["评分标准 A3-2"]
    assert [d.field for d in a32.details] == ["评分标准"]
    assert a32.details[0].old == "市直机关“满意不满意”单位评选，列末5位"
    assert a32.details[0].new == "市直机关作风效能建设群众满意度测评，排名列末5位"
    a3 = changes["项目 A3"]
    assert [d.field for d in a3.details] == ["目标要求"]
    assert [op for op in a3.details[0].diff if op[0] != "="] == [
        ("-", "评议满意不满意单位活动"), ("+", "开展机关作风效能建设群众满意度测评")]
    c3 = changes["项目 C3"]
    assert [op for op in c3.details[0].diff if op[0] != "="] == [("+", "深入学习贯彻习近平新时代中国特色社会主义思想，")]
    c6 = changes["项目 C6"]
    assert [op for op in c6.details[0].diff if op[0] != "="] == [
        ("-", "\n6. 单位计划生育严格实行计划生育责任书，无早生、超生现象。")]


def test_example_added_and_removed(shizhi):
    changes = by_target(shizhi)
    c63 = changes["评分标准 C6-3"]
    assert (c63.kind, c63.anchor, c63.title) == ("removed", "C6-3", "计生工作不到位")
    assert fields(c63) == {"扣分": ("2", "")}
    c7 = changes["项目 C7"]
    assert (c7.kind, c7.anchor, c7.title) == ("added", "C7", "落实意识形态工作责任制")
    assert fields(c7) == {"分值": ("", "5"), "计分方式": ("", "扣分项")}
    k2 = changes["减分项 K2"]
    assert k2.title == "本单位党员干部违反中央八项规定精神被查处"
    assert fields(k2) == {"扣分": ("", "5"), "计量单位": ("", "次")}
    assert fields(changes["加分项封顶"]) == {"加分封顶": ("3", "5")}


def test_example_reports_nothing_unchanged(shizhi):
    anchors = {c.anchor for c in shizhi.changes}
    # A1, the C-section (still 60 points), C7's own criteria, J1, K1, V1 and the rulebook itself
    for same in ("A1", "A1-1", "A", "B", "C", "B1", "C1-1", "C7-1", "C7-2", "J1", "K1", "V1", "2024-shizhi-jiguan"):
        assert same not in anchors
    # the folder edition's section intros are not compared
    assert not any(c.target.startswith("部分") for c in shizhi.changes)


# --- synthetic rulebooks --------------------------------------------------------------------------

def book(text: str = RULEBOOK_T):
    """Parse a rulebook from the YAML front matter of `text`."""
    front = text.split("---\n")[1]
    report = Report()
    parsed = parse_rulebook(load_yaml(front, "t.md"), "", "t.md", report, None)
    assert parsed is not None and not report.errors, [str(p) for p in report.problems]
    return parsed


def swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_identical_rulebooks_give_an_empty_diff():
    diff = diff_rulebooks(book(), book())
    assert diff.empty and diff.changes == ()
    assert diff.counts() == {"added": 0, "removed": 0, "changed": 0}


def test_removed_item_is_placed_where_it_was():
    text = swap(RULEBOOK_T, "      - id: A3\n        title: 直接打分项\n        points: 5\n        direct: true\n        default: 3\n", "")
    text = swap(text, "points: 40", "points: 35")
    text = swap(text, "total: 100", "total: 95")
    diff = diff_rulebooks(book(), book(text))
    assert [(c.kind, c.target) for c in diff.changes] == [
        ("changed", "细则"), ("changed", "部分 A"), ("removed", "项目 A3")]
    assert fields(diff.changes[0]) == {"总分": ("100", "95")}
    assert diff.changes[0].anchor == "t"
    removed = diff.changes[2]
    assert (removed.anchor, removed.title) == ("A3", "直接打分项")
    assert fields(removed) == {"分值": ("5", ""), "计分方式": ("直接打分项", ""), "默认分": ("3", "")}


def test_changed_grade_band():
    text = swap(RULEBOOK_T, "{name: 较好, min: 80}", "{name: 较好, min: 85}")
    diff = diff_rulebooks(book(), book(text))
    assert len(diff.changes) == 1
    (detail,) = diff.changes[0].details
    assert (diff.changes[0].target, detail.field) == ("细则", "等次")
    assert detail.old == "优秀 90分以上；较好 80分以上；差 0分以上"
    assert detail.new == "优秀 90分以上；较好 85分以上；差 0分以上"
    assert rebuild(detail.diff) == (detail.old, detail.new)


def test_criterion_whose_only_change_is_max_deduct():
    text = swap(RULEBOOK_T, "unit: 次, max_deduct: 6}", "unit: 次, max_deduct: 4}")
    diff = diff_rulebooks(book(), book(text))
    assert diff.changes == (Change("changed", "评分标准 A1-2", "A1-2", "集中学习缺一次", (Detail("扣分上限", "6", "4"),)),)


def test_veto_grade_changed():
    text = swap(RULEBOOK_T, "{id: V1, text: 发生重大案件, grade: 差}", "{id: V1, text: 发生重大案件, grade: 较好}")
    diff = diff_rulebooks(book(), book(text))
    assert diff.changes == (Change("changed", "一票否决项 V1", "V1", "发生重大案件", (Detail("等次", "差", "较好"),)),)


def test_zero_criterion_and_numbers_as_written():
    text = swap(RULEBOOK_T, "{id: A1-3, text: 发生违纪行为, zero: true}", "{id: A1-3, text: 发生违纪行为, deduct: 0.5}")
    text = swap(text, "add: 4,", "add: 4.0,")          # same number, written differently: no change
    diff = diff_rulebooks(book(), book(text))
    assert [fields(c) for c in diff.changes] == [{"扣分": ("本项不得分", "0.5")}]


def test_item_tiers_rank_and_kind():
    text = swap(RULEBOOK_T, "{min: 90, score: 20}", "{min: 95, score: 20}")
    text = swap(text, "{top: 2, score: 8}", "{top: 3, score: 8}")
    text = swap(text, "        direct: true\n", "        rating: true\n")
    diff = diff_rulebooks(book(), book(text))
    assert {c.target: fields(c) for c in diff.changes} == {
        "项目 A2": {"分档": ("≥100：25分；≥90：20分；≥0：10分", "≥100：25分；≥95：20分；≥0：10分")},
        "项目 A3": {"计分方式": ("直接打分项", "测评项")},
        "项目 B1": {"名次段": ("前1名 10分；前2名 8分；其余 3分（数值越大名次越前）",
                            "前1名 10分；前3名 8分；其余 3分（数值越大名次越前）")},
    }


def test_moved_criterion_and_new_section_children_are_not_repeated():
    base = book()
    # A1-2 moves into a new item A4 of a new section C; A1's points go with it.
    text = swap(RULEBOOK_T, "          - {id: A1-2, text: 集中学习缺一次, deduct: 2, unit: 次, max_deduct: 6}\n", "")
    text = swap(text, "        title: 扣分项\n        points: 10", "        title: 扣分项\n        points: 5")
    text = swap(text, "points: 40", "points: 35")
    text = swap(text, "bonus:", "  - id: C\n    title: 丙部分\n    points: 5\n    items:\n"
                "      - id: C1\n        title: 新项\n        points: 5\n        criteria:\n"
                "          - {id: A1-2, text: 集中学习缺一次, deduct: 2, unit: 次, max_deduct: 6}\n"
                "          - {id: C1-1, text: 新标准, deduct: 1}\nbonus:")
    diff = diff_rulebooks(base, book(text))
    assert [(c.kind, c.target) for c in diff.changes] == [
        ("changed", "部分 A"), ("changed", "项目 A1"), ("added", "部分 C"), ("changed", "评分标准 A1-2")]
    assert fields(diff.changes[-1]) == {"所属项目": ("A1", "C1")}


def test_bonus_penalty_added_removed_changed_in_order():
    text = swap(RULEBOOK_T, "bonus: {cap: 5, rules: [{id: J1, text: 经验被刊登, add: 4, unit: 条}]}",
                "bonus: {rules: [{id: J0, text: 获表彰, add: 1}, {id: J1, text: 经验被市级刊物刊登, add: 4, unit: 条}]}")
    text = swap(text, "penalties: [{id: K1, text: 被通报批评, deduct: 3, unit: 次}]", "penalties: []")
    diff = diff_rulebooks(book(), book(text))
    assert [(c.kind, c.target) for c in diff.changes] == [
        ("changed", "加分项封顶"), ("added", "加分项 J0"), ("changed", "加分项 J1"), ("removed", "减分项 K1")]
    assert fields(diff.changes[0]) == {"加分封顶": ("5", "不封顶")}
    j1 = diff.changes[2].details[0]
    assert j1.diff == (("=", "经验被"), ("+", "市级刊物"), ("=", "刊登"))


def test_diff_is_deterministic(shizhi):
    report = Report()
    books = load_rulebooks(REPO / "content" / "rules", "rules", report)
    assert diff_rulebooks(books["2022-shizhi-jiguan"], books["2024-shizhi-jiguan"]) == shizhi


# --- inline diff ----------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new", [
    ("", ""), ("", "新增内容"), ("删去的内容", ""), ("完全相同", "完全相同"),
    ("全年集中学习未达到12天，少一天", "学习贯彻习近平新时代中国特色社会主义思想全年集中学习不少于12天，缺一天"),
    ("市直机关“满意不满意”单位评选，列末5位", "市直机关作风效能建设群众满意度测评，排名列末5位"),
    ("甲乙丙丁戊己庚辛", "甲子丙丑戊寅庚卯"),
    ("1. 第一条。\n2. 第二条。\n", "1. 第一条。\n1.5 新条。\n2. 第二条，改。\n"),
])
def test_inline_diff_rebuilds_both_texts(old, new):
    ops = inline_diff(old, new)
    assert rebuild(ops) == (old, new)
    assert all(op in "=-+" and text for op, text in ops)
    # runs are merged: never two runs of the same op in a row, and a deletion comes before its insertion
    assert all(a[0] != b[0] for a, b in zip(ops, ops[1:]))
    assert all((a[0], b[0]) != ("+", "-") for a, b in zip(ops, ops[1:]))


def test_inline_diff_folds_short_unchanged_runs():
    # single shared characters between edits would read as confetti; they become one replacement
    assert inline_diff("甲乙丙丁戊己庚辛", "甲子丙丑戊寅庚卯") == (
        ("=", "甲"), ("-", "乙丙丁戊己庚辛"), ("+", "子丙丑戊寅庚卯"))
