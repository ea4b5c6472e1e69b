"""`kaohe new`: the templates an author starts from pass `kaohe check` and build."""
from __future__ import annotations

from conftest import ContentDir, build, scores


def test_new_rulebook_and_round_pass_check_and_build(tmp_path, kaohe):
    site = ContentDir(tmp_path / "content")
    site.units("a,甲单位,机关事业单位,\nb,乙单位,机关事业单位,")
    made = kaohe("new", "rulebook", "2025-jiguan", "--content", str(site.root))
    assert made.code == 0 and "2025-jiguan.md" in made.out
    assert kaohe("new", "round", "2025-annual", "--content", str(site.root)).code == 0
    round_yaml = (site.root / "results/2025-annual/round.yaml").read_text(encoding="utf-8")
    assert "机关事业单位: 2025-jiguan" in round_yaml and "year: 2025" in round_yaml
    assert kaohe("check", "--content", str(site.root)).code == 0
    # filled in: one deduction, a tiers value, a direct score
    site.write("results/2025-annual/results.csv",
               "unit_id,ref,value,source,rating,note\na,A1-2,2,,,缺两次\na,A2,95,,,\na,B1,38,,,\n")
    s = scores(build(kaohe, site, "--drafts"), "2025-annual")
    # a: A1 30 − 4 = 26, A2 95 → 25, B1 38 = 89; b: defaults 30 + 15 + 30 = 75
    assert (s["a"]["total"], s["a"]["grade"]) == ("89.00", "较好")
    assert s["b"]["total"] == "75.00"


def test_new_refuses_to_overwrite_and_bad_ids(tmp_path, kaohe):
    site = ContentDir(tmp_path / "content")
    assert kaohe("new", "rulebook", "x", "--content", str(site.root)).code == 0
    again = kaohe("new", "rulebook", "x", "--content", str(site.root))
    assert again.code == 1 and "该细则已存在,未作改动;请换一个编号" in again.err
    bad = kaohe("new", "round", "../x", "--content", str(site.root))
    assert bad.code == 1 and "编号只能由小写英文字母" in bad.err
    assert not (tmp_path / "x").exists()
