"""Test helpers: real content folders on disk, built by the real command line."""
from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import pytest

from generator.cli import main

REPO = Path(__file__).resolve().parent.parent

# A small rulebook with every item kind, hand-checked in test_scoring.py.
RULEBOOK_T = """\
---
id: t
title: 测试细则
issuer: 测试工委
year: 2024
applies_to: [机关事业单位, 社区]
total: 100
grades:
  - {name: 优秀, min: 90}
  - {name: 较好, min: 80}
  - {name: 差, min: 0}
sections:
  - id: A
    title: 甲部分
    points: 40
    items:
      - id: A1
        title: 扣分项
        points: 10
        criteria:
          - {id: A1-1, text: 年初无计划, deduct: 2}
          - {id: A1-2, text: 集中学习缺一次, deduct: 2, unit: 次, max_deduct: 6}
          - {id: A1-3, text: 发生违纪行为, zero: true}
      - id: A2
        title: 分档项
        points: 25
        measure: 出勤率(%)
        tiers: [{min: 100, score: 25}, {min: 90, score: 20}, {min: 0, score: 10}]
      - id: A3
        title: 直接打分项
        points: 5
        direct: true
        default: 3
  - id: B
    title: 乙部分
    points: 60
    items:
      - id: B1
        title: 排名项
        points: 10
        measure: 浏览得分
        rank: {order: desc, bands: [{top: 1, score: 10}, {top: 2, score: 8}, {score: 3}]}
      - id: B2
        title: 测评项
        points: 50
        rating: true
bonus: {cap: 5, rules: [{id: J1, text: 经验被刊登, add: 4, unit: 条}]}
penalties: [{id: K1, text: 被通报批评, deduct: 3, unit: 次}]
vetoes: [{id: V1, text: 发生重大案件, grade: 差}]
---
测试细则正文。
"""

# A deduction-only rulebook: one item of 100 points per criterion set, for edge cases.
RULEBOOK_D = """\
---
id: d
title: 扣分细则
year: 2024
total: 100
grades:
  - {name: 优秀, min: 90}
  - {name: 较好, min: 80}
  - {name: 差, min: 0}
sections:
  - id: A
    title: 唯一部分
    points: 100
    items:
      - id: A1
        title: 甲项
        points: 50
        criteria:
          - {id: A1-1, text: 甲, deduct: 2.4}
          - {id: A1-2, text: 乙, deduct: 7.605}
          - {id: A1-3, text: 丙, deduct: 1, unit: 次}
          - {id: A1-4, text: 丁, deduct: 10, unit: 次}
      - id: A2
        title: 乙项
        points: 50
        criteria:
          - {id: A2-1, text: 戊, deduct: 1, unit: 次}
          - {id: A2-2, text: 己, deduct: 0.5, unit: 次, max_deduct: 2}
bonus: {cap: 5, rules: [{id: J1, text: 加分, add: 2, unit: 条}]}
penalties:
  - {id: K1, text: 罚分, deduct: 20, unit: 次}
  - {id: K2, text: 封顶罚分, deduct: 3, unit: 次, max: 5}
vetoes: [{id: V1, text: 否决, grade: 差}]
---
"""


class ContentDir:
    """A content folder under tmp_path, written file by file as an author would."""

    def __init__(self, root: Path):
        self.root = root
        (root / "rules").mkdir(parents=True, exist_ok=True)
        (root / "results").mkdir(exist_ok=True)
        self.write("site.yaml", "title: 测试站点\norganisation: 测试组织部\ninternal: [note, 自评]\n")

    def write(self, rel: str, text: str | bytes, encoding: str = "utf-8") -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding=encoding)
        return path

    def rulebook(self, text: str, name: str | None = None) -> None:
        rid = name or text.split("id:", 1)[1].split()[0]
        self.write(f"rules/{rid}.md", text)

    def units(self, rows: str) -> None:
        self.write("units.csv", "unit_id,name,category,parent_id\n" + textwrap.dedent(rows).strip() + "\n")

    def round(self, rid: str, yaml_text: str, results: dict | str | None = None) -> None:
        self.write(f"results/{rid}/round.yaml", f"id: {rid}\n" + textwrap.dedent(yaml_text).strip() + "\n")
        if isinstance(results, str):
            results = {"results.csv": results}
        for name, body in (results or {}).items():
            if isinstance(body, str):
                body = textwrap.dedent(body).strip() + "\n"
            self.write(f"results/{rid}/{name}", body)


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture(autouse=True, scope="session")
def round_cache(tmp_path_factory):
    """kaohe build's cache of scored rounds (generator/cache.py) goes to a folder of the test session, not
    to the home folder: every build of the tests takes and stores rounds there, as a user's builds do."""
    import os
    folder = tmp_path_factory.mktemp("kaohe-cache")
    old = os.environ.get("KAOHE_CACHE")
    os.environ["KAOHE_CACHE"] = str(folder)
    yield folder
    if old is None:
        del os.environ["KAOHE_CACHE"]
    else:
        os.environ["KAOHE_CACHE"] = old


@pytest.fixture
def site(tmp_path):
    return ContentDir(tmp_path / "content")


@pytest.fixture
def kaohe(capsys, tmp_path):
    """Run the real command line in-process; returns Run(code, stdout, stderr)."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def build(kaohe, site: ContentDir, *extra: str) -> Path:
    """Build with drafts (test rounds are drafts: publishing is tested in test_publish.py)."""
    out = site.root.parent / "output"
    run = kaohe("build", "--content", str(site.root), "--output", str(out), "--drafts", *extra)
    assert run.code == 0, run.err
    return out


def scores(out: Path, rid: str) -> dict[str, dict]:
    text = (out / "results" / rid / "data" / "scores.csv").read_text(encoding="utf-8-sig")
    return {row["unit_id"]: row for row in csv.DictReader(io.StringIO(text))}


def items(out: Path, rid: str) -> dict[tuple[str, str], dict]:
    text = (out / "results" / rid / "data" / "items.csv").read_text(encoding="utf-8-sig")
    return {(row["unit_id"], row["item_id"]): row for row in csv.DictReader(io.StringIO(text))}
