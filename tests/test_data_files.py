"""The round's data files (SPEC §8): columns, order, precision, BOM, formats, determinism, profiles."""
from __future__ import annotations

import json
import subprocess
import sys

import openpyxl

from conftest import REPO, RULEBOOK_D, RULEBOOK_T, ContentDir, build

ROUND = """
title: 数据轮次
year: 2024
rulebooks: {机关事业单位: t, 社区: d}
awards:
  - {id: cup, name: 流动杯, quota: {机关事业单位: 1, 社区: 1}}
"""
RESULTS = """
unit_id,ref,value,source,rating,note
a,A1-2,1,,,缺一次
a,A2,100,,,
a,B1,5,,,
a,B2,1,,优秀,
a,A1,9,自评,,自评说明
b,A2,80,,,
b,B1,9,,,
b,B2,1,,较好,
b,V1,1,,,
c,A1-3,2,,,
c,A2-2,1,,,
"""


def make(tmp_path) -> ContentDir:
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.rulebook(RULEBOOK_D)
    site.units("""
        a,甲单位,机关事业单位,
        b,乙单位,机关事业单位,
        c,丙社区,社区,
    """)
    site.round("r", ROUND, RESULTS)
    return site


def test_scores_csv_columns_order_precision_and_bom(tmp_path, kaohe):
    out = build(kaohe, make(tmp_path))
    raw = (out / "results/r/data/scores.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    # fixed columns, then the union of item ids: t's items, then d's (A1, A2 already listed)
    assert lines[0] == "unit_id,name,category,rulebook,total,grade,rank,awards,veto,A1,A2,A3,B1,B2"
    # rows by category in the round's order, then rank; items not in the unit's rulebook are empty.
    # a: A1 10 − 2 = 8, A2 25, A3 default 3, B1 rank 2 of (5, 9) → 8, B2 50 = 94
    # b: A1 10, A2 80 → 10, A3 3, B1 rank 1 → 10, B2 较好 40 = 73, veto V1 → 差
    # c (rulebook d): A1 50 − 2 × 1 = 48, A2 50 − 0.5 = 49.5 → 97.5
    assert lines[1] == "a,甲单位,机关事业单位,t,94.00,优秀,1,cup,,8.00,25.00,3.00,8.00,50.00"
    assert lines[2] == "b,乙单位,机关事业单位,t,73.00,差,2,,V1,10.00,10.00,3.00,10.00,40.00"
    assert lines[3] == "c,丙社区,社区,d,97.50,优秀,1,cup,,48.00,49.50,,,"


def test_items_csv_has_a_row_per_unit_and_item(tmp_path, kaohe):
    out = build(kaohe, make(tmp_path))
    lines = (out / "results/r/data/items.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "unit_id,item_id,points,deducted,score,self_score"
    assert "a,A1,10.00,2.00,8.00,9.00" in lines
    assert "a,A2,25.00,0.00,25.00," in lines
    assert "c,A2,50.00,0.50,49.50," in lines
    assert len(lines) == 1 + 5 + 5 + 2


def test_scores_json_and_xlsx_carry_the_same_results(tmp_path, kaohe):
    out = build(kaohe, make(tmp_path))
    doc = json.loads((out / "results/r/data/scores.json").read_text(encoding="utf-8"))
    assert doc["round"] == "r" and doc["status"] == "draft"
    a = doc["units"][0]
    assert (a["unit_id"], a["total"], a["grade"], a["rank"], a["rank_of"], a["awards"]) == ("a", 94, "优秀", 1, 2, ["cup"])
    assert a["items"]["A2"] == 25 and doc["units"][1]["veto"] == ["V1"]
    sheet = openpyxl.load_workbook(out / "results/r/data/scores.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:9] == ("unit_id", "name", "category", "rulebook", "total", "grade", "rank", "awards", "veto")
    assert rows[3][:7] == ("c", "丙社区", "社区", "d", 97.5, "优秀", 1)
    assert sheet.cell(row=4, column=5).number_format == "0.00"


def test_the_same_content_builds_byte_identical_output(tmp_path, kaohe):
    site = make(tmp_path)
    first = build(kaohe, site)
    snapshot = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    second = build(kaohe, site)
    assert {p.relative_to(second): p.read_bytes() for p in second.rglob("*") if p.is_file()} == snapshot


def test_public_profile_leaves_out_internal_fields(tmp_path, kaohe):
    out = build(kaohe, make(tmp_path), "--profile", "public")
    items_csv = (out / "results/r/data/items.csv").read_text(encoding="utf-8-sig")
    assert items_csv.splitlines()[0] == "unit_id,item_id,points,deducted,score"
    for path in (out / "results/r/data").iterdir():
        data = path.read_bytes()
        assert "自评说明".encode() not in data and "缺一次".encode() not in data


def test_console_script_and_module_entry_points(tmp_path):
    site = make(tmp_path)
    for argv in ([sys.executable, "-m", "generator", "check", "--content", str(site.root)],
                 [str(REPO / ".venv/bin/kaohe") if (REPO / ".venv/bin/kaohe").exists() else "kaohe",
                  "check", "--content", str(site.root)]):
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("检查通过:2 本细则,3 个单位,1 个轮次")


def test_errors_exit_1_without_traceback_from_the_real_command(tmp_path):
    site = make(tmp_path)
    site.write("results/r/bad.csv", "unit_id,ref,value\na,A1-2,x\n")
    done = subprocess.run([sys.executable, "-m", "generator", "build", "--content", "content"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    assert "content/results/r/bad.csv:2: 错误: value“x”不是有效数字" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "output").exists()


def test_data_file_rows_are_in_category_then_rank_then_registry_order():
    """unit_order (numpy's lexsort) gives the order of the rule it implements: the round's categories in
    the round's order (others after them, by name), then rank, then the registry's order; on every round of
    the example site."""
    import numpy as np

    from generator.build import check
    from generator.data import unit_order
    site = check(REPO / "content", "content")
    for score in site.scores.values():
        layout = score.layout
        cats = list(layout.round.rulebooks)
        keys = sorted((cats.index(u.category) if u.category in cats else len(cats), u.category, int(score.rank[i]), i)
                      for i, u in enumerate(layout.units))
        assert unit_order(score).tolist() == [k[-1] for k in keys]
        assert unit_order(score).dtype == np.int64
