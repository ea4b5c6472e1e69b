"""The publishing life cycle on a copy of the example content: 公示 → published → a refused direct edit →
a correction (pending with --drafts only) → revision 2, with revision 1 kept byte for byte."""
from __future__ import annotations

import csv
import io
import shutil

import pytest

from conftest import REPO


def snapshot(root, under=""):
    base = root / under
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def scores_of(out, path):
    text = (out / path).read_text(encoding="utf-8-sig")
    return {r["unit_id"]: r for r in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def work(tmp_path, monkeypatch):
    shutil.copytree(REPO / "content", tmp_path / "content", ignore=shutil.ignore_patterns("2025-01"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


R = "content/results/2024-annual"


def test_life_cycle(work, kaohe):
    build = lambda *extra: kaohe("build", "--content", "content", "--output", "output", *extra)  # noqa: E731
    out = work / "output"

    # 公示: the example round is up for objection until 2025-01-20
    assert build().code == 0
    page = (out / "results/2024-annual/index.html").read_text(encoding="utf-8")
    assert "公示稿" in page and "公示期至 2025年1月20日" in page

    # published as revision 1
    run = kaohe("publish", "2024-annual", "--content", "content", "--date", "2025-01-21")
    assert run.code == 0 and "第 1 版" in run.out
    assert "status: published" in (work / R / "round.yaml").read_text(encoding="utf-8")
    assert build().code == 0
    r1 = snapshot(out, "results/2024-annual/r1")
    assert "results/2024-annual/r1/data/scores.csv" in r1 and "results/2024-annual/r1/szjg-jiaoyu/index.html" in r1
    before = scores_of(out, "results/2024-annual/data/scores.csv")["szjg-jiaoyu"]
    whole = snapshot(out)

    # a direct edit of a published result file is refused, naming the file and line; output untouched
    path = work / R / "shizhi-jiguan.csv"
    original = path.read_bytes()
    path.write_bytes(original.replace("szjg-jiaoyu,C1-4,1,".encode(), "szjg-jiaoyu,C1-4,0,".encode()))
    run = build()
    assert run.code == 1
    assert (f"{R}/shizhi-jiguan.csv:5: 错误: 已发布的结果文件被改动(第 5 行起与发布时不同);已发布的结果不能直接修改;"
            f"请恢复原文件,把更正写入 corrections.csv(日期、单位、编号、来源、字段、原值、新值、理由),再运行 kaohe publish") in run.lines
    assert snapshot(out) == whole
    path.write_bytes(original)

    # a correction whose old value is stale is refused with its line
    fixes = work / R / "corrections.csv"
    header = "date,unit_id,ref,source,field,old,new,reason\n"
    fixes.write_text(header + "2025-02-10,szjg-jiaoyu,C1-4,组织考核,value,2,0,经复核统计年报按时报送\n", encoding="utf-8")
    run = build("--drafts")
    assert run.code == 1
    assert (f"{R}/corrections.csv:2: 错误: 原值 old“2”与单位 szjg-jiaoyu 的 C1-4 当前值 1 不一致;"
            f"更正须以当前值为原值,请核对(该项可能已被前面的更正改过)") in run.lines
    assert snapshot(out) == whole

    # the right old value: pending, shown only with --drafts and marked 待发布
    fixes.write_text(header + "2025-02-10,szjg-jiaoyu,C1-4,组织考核,value,1,0,经复核统计年报按时报送\n", encoding="utf-8")
    assert build().code == 0
    assert scores_of(out, "results/2024-annual/data/scores.csv")["szjg-jiaoyu"]["total"] == before["total"]
    assert "经复核统计年报按时报送" not in (out / "results/2024-annual/szjg-jiaoyu/index.html").read_text(encoding="utf-8")
    assert build("--drafts").code == 0
    card = (out / "results/2024-annual/szjg-jiaoyu/index.html").read_text(encoding="utf-8")
    assert "经复核统计年报按时报送" in card and "待发布" in card
    corrected = scores_of(out, "results/2024-annual/data/scores.csv")["szjg-jiaoyu"]
    assert float(corrected["total"]) > float(before["total"])
    assert "待发布" in (out / "results/2024-annual/corrections/index.html").read_text(encoding="utf-8")

    # revision 2: the correction is published; revision 1 stays byte for byte
    run = kaohe("publish", "2024-annual", "--content", "content", "--date", "2025-02-12")
    assert run.code == 0 and "第 2 版" in run.out and "含更正 1 条" in run.out
    assert build().code == 0
    assert snapshot(out, "results/2024-annual/r1") == r1
    now = scores_of(out, "results/2024-annual/data/scores.csv")["szjg-jiaoyu"]
    assert now["total"] == corrected["total"]
    page = (out / "results/2024-annual/corrections/index.html").read_text(encoding="utf-8")
    assert "经复核统计年报按时报送" in page
    assert f"{before['total']} → <strong>{now['total']}</strong>" in page
    assert "第 2 版(2025年2月12日发布)" in page
    # the revision pages tell, in the browser, that a newer one exists
    assert (out / "assets/revisions.js").read_text(encoding="utf-8") .count('"2024-annual":2') == 1

    # the corrections file is append-only
    fixes.write_text(header + "2025-02-10,szjg-jiaoyu,C1-4,组织考核,value,1,0,改写理由\n", encoding="utf-8")
    run = build()
    assert run.code == 1
    assert (f"{R}/corrections.csv:2: 错误: 已发布的更正记录被改动;更正记录只能追加,不能修改已发布的行。"
            f"如需再次更正,请在末尾追加一行") in run.lines
    fixes.write_text(header + "2025-02-10,szjg-jiaoyu,C1-4,组织考核,value,1,0,经复核统计年报按时报送\n", encoding="utf-8")

    # nothing pending: nothing to publish
    run = kaohe("publish", "2024-annual", "--content", "content", "--date", "2025-02-13")
    assert run.code == 1 and "没有待发布的更正" in run.err


def test_status_is_set_only_by_publish(work, kaohe):
    yaml = work / R / "round.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("status: 公示", "status: published"), encoding="utf-8")
    run = kaohe("check", "--content", "content")
    assert run.code == 1
    assert any("status“published”与发布记录不符(第 0 版为“公示”);status 由 kaohe publish 设置,请改回 status: 公示" in line
               for line in run.lines)


def test_rulebook_scoring_cannot_change_under_a_published_round(work, kaohe):
    book = work / "content/rules/2024-shizhi-jiguan.md"
    book.write_text(book.read_text(encoding="utf-8").replace("deduct: 2, unit: 天, max_deduct: 10", "deduct: 3, unit: 天, max_deduct: 10", 1),
                    encoding="utf-8")
    run = kaohe("check", "--content", "content")
    assert run.code == 1
    assert any("细则 2024-shizhi-jiguan 的评分内容在轮次 2024-annual 发布后被改动" in line for line in run.lines)


def test_provisional_needs_until_and_a_draft_round_goes_through_both_steps(work, kaohe):
    shutil.copytree(REPO / "content/results/2025-01", work / "content/results/2025-01")
    run = kaohe("publish", "2025-01", "--content", "content", "--provisional", "--date", "2025-02-03")
    assert run.code == 1 and "公示须写明公示截止日期;请加 --until 2025-01-20" in run.err
    assert kaohe("publish", "2025-01", "--content", "content", "--provisional", "--until", "2025-02-10",
                 "--date", "2025-02-03").code == 0
    again = kaohe("publish", "2025-01", "--content", "content", "--provisional", "--until", "2025-02-20",
                  "--date", "2025-02-04")
    assert again.code == 1 and "已在公示中" in again.err
    assert kaohe("publish", "2025-01", "--content", "content", "--date", "2025-02-11").code == 0
    lock = (work / "content/results/2025-01/published.lock").read_text(encoding="utf-8")
    assert "revision: 0" in lock and "revision: 1" in lock and "status: 公示" in lock
