"""One broken content folder per message: the exact sentence an author reads, exit code 1, nothing written."""
from __future__ import annotations

import pytest

from conftest import RULEBOOK_D, RULEBOOK_T, ContentDir

GOOD_ROUND = "title: 轮次\nyear: 2024\nrulebooks: {机关事业单位: t}\n"
GOOD_RESULTS = "unit_id,ref,value,source,rating,note\na,A2,100,,,\na,B1,10,,,\na,B2,1,,优秀,\n"


def good(site: ContentDir) -> None:
    site.rulebook(RULEBOOK_T)
    site.units("a,甲单位,机关事业单位,\nb,乙单位,社区,")
    site.round("r", GOOD_ROUND, GOOD_RESULTS)


def with_results(rows: str):
    return lambda s: s.write("results/r/results.csv", "unit_id,ref,value,source,rating,note\n" + GOOD_RESULTS.split("\n", 1)[1] + rows)


def replace_in(rel: str, old: str, new: str):
    def edit(site: ContentDir) -> None:
        path = site.root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return edit


R = "content/results/r/results.csv"
T = "content/rules/t.md"
U = "content/units.csv"
Y = "content/results/r/round.yaml"

CASES = {
    "yaml-malformed": (replace_in("rules/t.md", "title: 测试细则", "title: 测试细则: 第二版"),
                       f"{T}:3: 错误: 此处不能出现冒号;含冒号的文字请加英文引号;请按 YAML 格式改正(用空格缩进,“键: 值”之间留一个空格)"),
    "yaml-tab": (replace_in("rules/t.md", "  - {name: 较好", "\t- {name: 较好"),
                 f"{T}:10: 错误: 出现了制表符(Tab);YAML 只能用空格缩进;请按 YAML 格式改正(用空格缩进,“键: 值”之间留一个空格)"),
    "no-front-matter": (lambda s: s.write("rules/t.md", "# 细则\n正文\n"),
                        f"{T}:1: 错误: 文件开头缺少 YAML 前言(front matter);请在第一行写“---”,其后写细则的键值,再用一行“---”结束"),
    "missing-key": (replace_in("rules/t.md", "total: 100\n", ""),
                    f"{T}:2: 错误: 细则缺少必填键 total;请补上“total: …”"),
    "unknown-key": (replace_in("rules/t.md", "total: 100\n", "total: 100\ntotle: 100\n"),
                    f"{T}:8: 警告: 细则中有未知的键 totle,已忽略;请检查是否拼写有误"),
    "duplicate-id": (replace_in("rules/t.md", "{id: A1-2,", "{id: A1-1,"),
                     f"{T}:22: 错误: 编号 A1-1 在本细则中重复(另见第 21 行);细则内每个部分、项目、评分标准、加减分项的编号都必须唯一"),
    "section-sum": (replace_in("rules/t.md", "    points: 40\n", "    points: 45\n"),
                    f"{T}:15: 错误: 部分 A“甲部分”各项分值合计 40 分(10+25+5),与 points: 45 不符;请核对各项分值"),
    "total-sum": (replace_in("rules/t.md", "total: 100", "total: 90"),
                  f"{T}:7: 错误: 各部分分值合计 100 分(40+60),与 total: 90 不符;请核对各部分分值或总分"),
    "grades-order": (replace_in("rules/t.md", "{name: 较好, min: 80}", "{name: 较好, min: 95}"),
                     f"{T}:8: 错误: 等次应按分数线从高到低排列:“较好”的 min 95 不低于上一档“优秀”的 90;请调整顺序或分数线"),
    "item-no-kind": (replace_in("rules/t.md", "        direct: true\n", ""),
                     f"{T}:29: 错误: 项目 A3 未指明计分方式;请写 criteria(扣分标准)、tiers、rank、direct: true、rating: true 或 aggregate 之一"),
    "item-two-kinds": (replace_in("rules/t.md", "        rating: true\n", "        rating: true\n        direct: true\n"),
                       f"{T}:43: 错误: 项目 B2 同时写了 direct、rating 两种以上计分方式;每个项目只能用一种,请删去多余的"),
    "unit-id-dots": (lambda s: s.units("../x,甲,机关事业单位,"),
                     f"{U}:2: 错误: 单位编号“../x”不合规范:编号会成为网址的一部分,只能由小写英文字母、数字、“-”“_”组成,且以字母或数字开头(不能含空格、“/”、“..”或中文);请改正"),
    "unit-id-space": (lambda s: s.units("a,甲单位,机关事业单位,\nb c,乙,社区,"),
                      f"{U}:3: 错误: 单位编号“b c”不合规范:编号会成为网址的一部分,只能由小写英文字母、数字、“-”“_”组成,且以字母或数字开头(不能含空格、“/”、“..”或中文);请改正"),
    "unit-id-slash": (lambda s: s.units("a,甲单位,机关事业单位,\n/etc,乙,社区,"),
                      f"{U}:3: 错误: 单位编号“/etc”不合规范:编号会成为网址的一部分,只能由小写英文字母、数字、“-”“_”组成,且以字母或数字开头(不能含空格、“/”、“..”或中文);请改正"),
    "unit-id-reserved": (lambda s: s.units("a,甲单位,机关事业单位,\nr2,乙,社区,"),
                         f"{U}:3: 错误: 单位编号“r2”是网站保留的名称(data、notice、corrections、assets、pagefind、r加数字);请换一个编号"),
    "unit-duplicate": (lambda s: s.units("a,甲单位,机关事业单位,\na,乙,社区,"),
                       f"{U}:3: 错误: 单位编号 a 重复(第 2 行已有);每个单位的编号必须唯一"),
    "units-missing-column": (lambda s: s.write("units.csv", "unit_id,category\na,机关事业单位\n"),
                             f"{U}:1: 错误: 缺少必填列 name;请在第一行(列名行)加上 name"),
    # a row with cells but no unit id is a row to fix, not one of the empty rows Excel leaves behind
    "unit-empty": (with_results(",A1-1,1,,,\n"), f"{R}:5: 错误: unit_id 为空;请填写单位编号"),
    "unknown-unit": (with_results("zz,A1-1,,,,\n"),
                     f"{R}:5: 错误: 单位编号“zz”不在名册 units.csv 中;请核对编号,或先在名册中登记该单位"),
    "unit-not-in-round": (with_results("b,A1-1,,,,\n"),
                          f"{R}:5: 错误: 单位 b(乙单位)不是本轮次“轮次”的参评单位;请核对编号,或在 round.yaml 的 participants 中加入"),
    "unknown-ref": (with_results("a,A9-9,,,,\n"),
                    f"{R}:5: 错误: 编号“A9-9”不在单位 a 适用的细则 t 中;请核对编号(见该细则的评分标准编号,如 A1-1)"),
    "ref-wrong-kind": (with_results("a,A1,1,,,\n"),
                       f"{R}:5: 错误: 项目 A1 是扣分项,请按评分标准编号录入扣分(如 A1-1),不要直接写项目编号;若这是自评分,请在 source 列写“自评”"),
    "value-not-number": (with_results("a,A1-2,两次,,,\n"),
                         f"{R}:5: 错误: value“两次”不是有效数字;请填写阿拉伯数字(至多 6 位小数)"),
    "count-negative": (with_results("a,A1-2,-1,,,\n"),
                       f"{R}:5: 错误: value“-1”应是次数或票数,只能为 0 或正整数;请改正"),
    "count-fraction": (with_results("a,A1-2,1.5,,,\n"),
                       f"{R}:5: 错误: value“1.5”应是次数或票数,只能为 0 或正整数;请改正"),
    "count-once": (with_results("a,A1-1,2,,,\n"),
                   f"{R}:5: 错误: 评分标准 A1-1“年初无计划”不按次扣分(没有 unit),value 只能是 1;如确需按次计,请在细则中为它写上 unit"),
    "direct-over": (with_results("a,A3,6,,,\n"),
                    f"{R}:5: 错误: 项目 A3 的得分 6 超出范围;应在 0 到 5 分之间"),
    "tiers-missing": (lambda s: s.write("results/r/results.csv", "unit_id,ref,value,source,rating,note\na,B1,10,,,\na,B2,1,,优秀,\n"),
                      "content/results/r: 错误: a 缺少项目 A2“分档项”(来源 组织考核)的数值;请在结果文件中补录(unit_id,ref=A2,value,source=组织考核),或在细则中为项目 A2 设置 default"),
    "rating-not-in-scale": (with_results("a,B2,3,,很好,\n"),
                            f"{R}:5: 错误: 评价“很好”不在细则的 rating_scale 中;请填写 优秀、较好、一般、差 之一(“不了解”等弃权票也可录入,不计入测评得分)"),
    "duplicate-measure": (with_results("a,A2,90,,,\n"),
                          f"{R}:5: 错误: 单位 a 的项目 A2(来源 组织考核)已在 {R} 第 2 行录入过数值;同一项目只能有一个数值,请删去重复的一行"),
    "unknown-rulebook": (lambda s: s.round("r", "title: 轮次\nyear: 2024\nrulebooks: {机关事业单位: t2}\n", GOOD_RESULTS),
                         f"{Y}:4: 错误: 类别“机关事业单位”对应的细则 t2 不存在;请写 rules/ 中已有的细则 id(现有:t)"),
    "results-missing-column": (lambda s: s.write("results/r/results.csv", "unit_id,value\na,1\n"),
                               f"{R}:1: 错误: 缺少必填列 ref;结果文件第一行应包含列名 unit_id,ref,value,source,rating,note(后四列可选)"),
    "impossible-date": (replace_in("rules/t.md", "year: 2024\n", "year: 2024\neffective: 2024-13-01\n"),
                        f"{T}:6: 错误: 细则的 effective“2024-13-01”不是日期;请写成 2024-01-01 的形式"),
    "round-id-mismatch": (lambda s: s.write("results/r/round.yaml", "id: r2\n" + GOOD_ROUND),
                          f"{Y}:1: 错误: 轮次编号 id: r2 与文件夹名“r”不一致;请改为 id: r"),
    "unknown-source": (with_results("a,A1-1,1,民主测评,,\n"),
                       f"{R}:5: 错误: 来源“民主测评”不在本轮次的 composition 中(现有:组织考核);请改正 source 列,或在 round.yaml 的 composition 中加入该来源"),
    "participant-unknown": (lambda s: s.round("r", GOOD_ROUND + "participants: [a, q]\n", GOOD_RESULTS),
                            f"{Y}:5: 错误: 参评单位 q 不在名册 units.csv 中;请核对单位编号"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_content_gets_its_exact_message_and_nothing_is_written(name, tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    good(site)
    breaker, expected = CASES[name]
    breaker(site)
    level = expected.split(": ")[1]
    run = kaohe("build", "--content", "content", "--output", "output")
    assert expected in run.lines, "\n".join(run.lines)
    if level == "错误":
        assert run.code == 1
        assert not (tmp_path / "output").exists()
        assert run.lines[-1].startswith("发现 ") and "未生成任何文件" in run.lines[-1]
        assert kaohe("check", "--content", "content").code == 1
    else:
        assert run.code == 0


def test_every_problem_is_reported_in_one_run(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    good(site)
    site.rulebook(RULEBOOK_D.replace("total: 100", "total: 90"))
    with_results("zz,A1-1,,,,\na,A1-2,x,,,\n")(site)
    site.write("units.csv", "unit_id,name,category\na,甲单位,机关事业单位\nb,乙单位,社区\nB!,丙,社区\n")
    run = kaohe("check", "--content", "content")
    errors = [line for line in run.lines if ": 错误: " in line]
    assert run.code == 1
    assert any(line.startswith("content/rules/d.md:5:") for line in errors)
    assert any(line.startswith(f"{U}:4:") for line in errors)
    assert any(line.startswith(f"{R}:5:") for line in errors)
    assert any(line.startswith(f"{R}:6:") for line in errors)
    assert "Traceback" not in run.err


def test_a_broken_rulebook_does_not_echo_into_the_results(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    good(site)
    replace_in("rules/t.md", "total: 100", "total: 90")(site)
    run = kaohe("check", "--content", "content")
    assert [line for line in run.lines if "错误" in line and not line.startswith("发现")] == [
        f"{T}:7: 错误: 各部分分值合计 100 分(40+60),与 total: 90 不符;请核对各部分分值或总分"]


def test_a_failed_build_leaves_the_previous_output_as_it_was(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    good(site)
    assert kaohe("build", "--content", "content", "--output", "output").code == 0
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "output").rglob("*") if p.is_file()}
    with_results("a,A1-2,x,,,\n")(site)
    assert kaohe("build", "--content", "content", "--output", "output").code == 1
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "output").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "output"]


def test_many_similar_errors_are_summarised(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    good(site)
    with_results("".join(f"z{i},A1-1,,,,\n" for i in range(50)))(site)
    run = kaohe("check", "--content", "content")
    unknown = [line for line in run.lines if "不在名册 units.csv 中" in line]
    assert len(unknown) == 20
    assert f"{R}: 错误: 同类问题另有 30 处未逐条列出;请按上面的提示一并修改" in run.lines


def test_deduction_and_folder_rulebook_errors_name_the_section_file(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    site.write("rules/f/index.md", "---\nid: f\ntitle: 文件夹细则\nyear: 2024\ntotal: 100\ngrades: [{name: 合格, min: 0}]\n---\n正文\n")
    site.write("rules/f/1-a.md", "---\nid: A\ntitle: 甲\npoints: 60\nitems:\n  - {id: A1, title: 一, points: 50, criteria: [{id: A1-1, text: 缺, deduct: 1}]}\n---\n")
    site.write("rules/f/2-b.md", "---\nid: B\ntitle: 乙\npoints: 50\nitems:\n  - {id: B1, title: 二, points: 50, criteria: [{id: B1-1, text: 缺, deduct: 1}]}\n---\n")
    site.units("a,甲,机关事业单位,")
    run = kaohe("check", "--content", "content")
    assert run.code == 1
    assert "content/rules/f/1-a.md:4: 错误: 部分 A“甲”各项分值合计 50 分(50),与 points: 60 不符;请核对各项分值" in run.lines
    assert "content/rules/f/index.md:5: 错误: 各部分分值合计 110 分(60+50),与 total: 100 不符;请核对各部分分值或总分" in run.lines


def test_rulebook_d_is_valid(tmp_path, kaohe):
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_D)
    site.units("a,甲,机关事业单位,")
    assert kaohe("check", "--content", str(site.root)).code == 0
