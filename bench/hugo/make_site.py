"""Turn a kaohe output folder into a Hugo site with the same scorecard and round-index pages.

    python bench/hugo/make_site.py <kaohe output> <hugo site>

Reads output/results/<round>/data/scores.json (totals, grade, rank) and items.csv (item rows) and
writes <site>/config.toml plus one content page per unit and round whose JSON front matter holds
the scorecard rows, and one _index.md per round. The templates are bench/hugo/layouts, used as the
site's theme (themesDir = bench, theme = hugo), so the site folder holds only generated files.
"""
from __future__ import annotations

import csv
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _num(x) -> str:
    return "" if x is None else f"{float(x):.2f}"


def make_site(output: Path, site: Path, title: str = "基层党建工作目标管理考核(基准测试)") -> int:
    """Write the Hugo site; return the number of unit-round pages."""
    output, site = Path(output), Path(site)
    shutil.rmtree(site, ignore_errors=True)
    content = site / "content"
    (content / "results").mkdir(parents=True)
    (site / "config.toml").write_text(
        'baseURL = "/"\nlanguageCode = "zh-CN"\n'
        f"title = {json.dumps(title, ensure_ascii=False)}\n"
        f"themesDir = {json.dumps(str(HERE.parent))}\ntheme = {json.dumps(HERE.name)}\n"
        'disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]\n', "utf-8")
    (content / "_index.md").write_text(json.dumps({"title": title}, ensure_ascii=False) + "\n", "utf-8")
    (content / "results" / "_index.md").write_text('{"title": "考核结果"}\n', "utf-8")
    pages = 0
    rounds = sorted(p.parent.parent for p in (output / "results").glob("*/data/scores.json"))
    if not rounds:
        raise SystemExit(f"{output} 中没有 results/<轮次>/data/scores.json;请先用 kaohe build --drafts 生成")
    for order, rdir in enumerate(reversed(rounds), start=1):      # newest round first
        data = json.loads((rdir / "data" / "scores.json").read_text("utf-8"))
        rows = defaultdict(list)
        with open(rdir / "data" / "items.csv", encoding="utf-8-sig", newline="") as f:
            for r in csv.DictReader(f):
                rows[r["unit_id"]].append([r["item_id"], r["points"], r["deducted"], r["score"]])
        folder = content / "results" / rdir.name
        folder.mkdir()
        (folder / "_index.md").write_text(json.dumps(
            {"title": data["title"], "year": data.get("year"), "status": data.get("status"), "weight": order},
            ensure_ascii=False) + "\n", "utf-8")
        for weight, u in enumerate(data["units"], start=1):
            fm = {"title": u["name"], "unit_id": u["unit_id"], "category": u["category"],
                  "total": _num(u.get("total")), "grade": u.get("grade") or "", "rank": u.get("rank"),
                  "rank_of": u.get("rank_of"), "veto": u.get("veto") or [], "weight": weight,
                  "rows": rows.get(u["unit_id"], [])}
            (folder / f"{u['unit_id']}.md").write_text(json.dumps(fm, ensure_ascii=False) + "\n", "utf-8")
            pages += 1
    return pages


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    n = make_site(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"已写出 {n} 个单位次页面到 {sys.argv[2]}")
