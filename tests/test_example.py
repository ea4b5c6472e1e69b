"""The example content that ships in content/: it checks clean, builds, and its notable cases come out
as a committee would compute them by hand."""
from __future__ import annotations

import csv
import io
from fractions import Fraction

import openpyxl
import pytest

from conftest import REPO, scores

CONTENT = REPO / "content"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    from generator.cli import main
    target = tmp_path_factory.mktemp("example") / "output"
    assert main(["build", "--content", str(CONTENT), "--output", str(target), "--drafts"]) == 0
    return target


def test_example_content_checks_without_errors_or_warnings(kaohe):
    run = kaohe("check", "--content", str(CONTENT))
    assert run.code == 0, run.err
    assert run.err == ""
    assert run.out.startswith("检查通过:8 本细则,131 个单位,20 个轮次")


def test_example_has_what_issue_2_asks_for():
    units = list(csv.DictReader(io.StringIO((CONTENT / "units.csv").read_text(encoding="utf-8-sig"))))
    assert len(units) >= 120
    cats = {u["category"] for u in units}
    assert {"机关事业单位", "国有企业", "非公有制企业", "街道", "社区", "农村"} <= cats
    assert sum(1 for u in units if u["parent_id"]) >= 60
    years = {p.read_text(encoding="utf-8").split("year: ")[1][:4] for p in (CONTENT / "results").glob("*/round.yaml")}
    assert len(years) >= 3
    # one result file saved as Excel on Chinese Windows writes it, one as .xlsx
    gb = CONTENT / "results/2024-nkyuan/minzhu-ceping.csv"
    with pytest.raises(UnicodeDecodeError):
        gb.read_bytes().decode("utf-8")
    assert "民主测评" in gb.read_bytes().decode("gb18030")
    assert (CONTENT / "results/2023-nkyuan/zuzhi-kaohe.xlsx").exists()
    # a second edition
    assert "supersedes: 2022-shizhi-jiguan" in (CONTENT / "rules/2024-shizhi-jiguan.md").read_text(encoding="utf-8")


def _votes(rows, scale):
    """SPEC §3: points × Σ(votes × scale) / Σ votes, abstentions left out."""
    counted = [(int(v), r) for v, r in rows if r in scale]
    n = sum(v for v, _ in counted)
    return sum(v * scale[r] for v, r in counted) / n


def test_composed_rating_lands_exactly_on_a_grade_boundary(out):
    """nky-zhiliang, 2023: 组织考核 (xlsx) × 0.7 + 民主测评 (csv) × 0.3 = 89.995 exactly → 90.00, 优秀."""
    from generator.errors import Report
    from generator.rules import load_rulebooks
    book = load_rulebooks(CONTENT / "rules", "rules", Report())["2023-nkyuan-dangzhibu"]
    scale = {k: Fraction(v) for k, v in book.rating_scale.items()}
    folder = CONTENT / "results/2023-nkyuan"
    sheet = openpyxl.load_workbook(folder / "zuzhi-kaohe.xlsx").active
    head, *body = list(sheet.iter_rows(values_only=True))
    org = [dict(zip(head, r)) for r in body if r[0] == "nky-zhiliang"]
    demo = [r for r in csv.DictReader(io.StringIO((folder / "minzhu-ceping.csv").read_text(encoding="utf-8-sig")))
            if r["unit_id"] == "nky-zhiliang"]
    total = Fraction(0)
    for item in book.items:
        o = _votes([(r["value"], r["rating"]) for r in org if r["ref"] == item.id], scale)
        d = _votes([(r["value"], r["rating"]) for r in demo if r["ref"] == item.id], scale)
        total += Fraction(item.points) * (Fraction(7, 10) * o + Fraction(3, 10) * d)
    assert total == Fraction("89.995")
    row = scores(out, "2023-nkyuan")["nky-zhiliang"]
    assert (row["total"], row["grade"]) == ("90.00", "优秀")


def test_veto_in_2023_bars_the_best_nonpublic_enterprise(out):
    s = scores(out, "2023-annual")
    veto = s["bh-fg-hengtai"]
    assert (veto["total"], veto["grade"], veto["veto"], veto["awards"]) == ("97.00", "较差", "V1", "")
    others = [r for r in s.values() if r["category"] == "非公有制企业" and r["unit_id"] != "bh-fg-hengtai"]
    assert veto["rank"] == str(len(others) + 1)
    assert all(float(r["total"]) < 97 for r in others)
    cups = sorted(r["unit_id"] for r in others if "liudongbei" in r["awards"].split(";"))
    assert cups == ["xh-fg-caoyuan", "xh-fg-xinyuan"]


def test_tie_at_the_cup_cut_off_lists_both_and_flags_them_until_a_correction_settles_it(out):
    """The 2023 公示稿 (r0) had 市水务局 and 市统计局 tied at 96.00 for the third 流动杯; an objection during
    公示 corrected 市统计局's A1-4 (−2) and the first published revision gave the cups to the top three."""
    import json
    s = scores(out, "2023-annual/r0")
    jiguan = [r for r in s.values() if r["category"] == "机关事业单位"]
    winners = [r["unit_id"] for r in jiguan if "liudongbei" in r["awards"].split(";")]
    assert len(winners) == 4 and {"szjg-shuiwu", "szjg-tongji"} <= set(winners)
    assert s["szjg-shuiwu"]["total"] == s["szjg-tongji"]["total"] == "96.00"
    assert s["szjg-shuiwu"]["rank"] == s["szjg-tongji"]["rank"] == "3"
    doc = json.loads((out / "results/2023-annual/r0/data/scores.json").read_text(encoding="utf-8"))
    tied = {u["unit_id"]: u["tied"] for u in doc["units"]}
    assert "liudongbei" in tied["szjg-shuiwu"] and "liudongbei" in tied["szjg-tongji"]
    now = scores(out, "2023-annual")
    assert now["szjg-tongji"]["total"] == "98.00" and "liudongbei" in now["szjg-tongji"]["awards"]
    assert "liudongbei" not in now["szjg-shuiwu"]["awards"] and now["szjg-shuiwu"]["total"] == "97.00"


def test_district_organisation_department_is_scored_on_its_units(out):
    """千分制: 核查基层目标 800 = 800 × mean(child total / child max) over the district's scored units."""
    s = scores(out, "2024-annual")
    maxima = {"2024-shizhi-jiguan": 100, "2022-jiceng": 100, "2022-qianfenzhi": 1000}
    units = list(csv.DictReader(io.StringIO((CONTENT / "units.csv").read_text(encoding="utf-8-sig"))))
    for org in ("sb-zuzhibu", "qi-zuzhibu"):
        kids = [u["unit_id"] for u in units if u["parent_id"] == org and u["unit_id"] in s]
        rates = [Fraction(s[k]["total"]) / maxima[s[k]["rulebook"]] for k in kids]
        expected = min(Fraction(800), 800 * sum(rates) / len(rates))
        assert s[org]["A1"] == f"{float(expected):.1f}"


def test_year_is_the_mean_of_twelve_months_plus_the_years_own_bonus_and_penalty(out):
    months = [scores(out, f"2024-{m:02d}") for m in range(1, 13)]
    year = scores(out, "2024-nengyuan")
    rows = list(csv.DictReader(io.StringIO((CONTENT / "results/2024-nengyuan/jiafen-fafen.csv").read_text(encoding="utf-8-sig"))))
    add = {"J2": 2, "J3": 1}
    for uid, row in year.items():
        items = sum(Fraction(m[uid][i]) for m in months for i in ("A1", "B1", "C1", "D1", "E1")) / 12
        bonus = min(Fraction(5), sum(add.get(r["ref"], 0) * int(r["value"] or 1) for r in rows if r["unit_id"] == uid))
        penalty = sum(20 * int(r["value"] or 1) for r in rows if r["unit_id"] == uid and r["ref"] == "K1")
        expected = max(Fraction(0), items + bonus - penalty)
        # monthly item scores are whole hundredths, so their published values are exact; the year rounds half-up
        assert Fraction(row["total"]) == Fraction(int(expected * 100 + Fraction(1, 2)), 100)
    winners = sorted(u for u, r in year.items() if "xianjin" in r["awards"])
    assert len(winners) == 3 and all(Fraction(year[u]["total"]) >= 85 for u in winners)


def test_drafts_and_provisional_rounds(out, tmp_path, kaohe):
    assert (out / "results/2025-01/data/scores.csv").exists()
    plain = tmp_path / "plain"
    assert kaohe("build", "--content", str(CONTENT), "--output", str(plain)).code == 0
    assert not (plain / "results/2025-01").exists()
    assert (plain / "results/2024-annual/data/scores.csv").exists()
