"""`kaohe new rulebook ID` / `kaohe new round ID`: commented templates that pass `kaohe check`."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from .errors import fail
from .schema import SLUG_RE

RULEBOOK = """\
---
# 考核细则模板:按本单位细则逐项填写。“#”后是说明,可保留也可删除。
id: {id}                        # 编号,必须与文件名一致,会成为网址的一部分
title: 基层党建工作目标管理考核细则
issuer: 中共××委员会             # 制发机关
year: {year}
effective: {year}-01-01
# supersedes: 上一版细则的编号   # 有上一版时填写,网站会列出两版的变化
applies_to: [机关事业单位]       # 适用的单位类别,须与 units.csv 的 category 一致
total: 100                       # 总分,必须等于各部分分值之和
precision: 2                     # 公布分数保留的小数位数
grades:                          # 等次,按分数线从高到低,最后一档 min 为 0
  - {{name: 优秀, min: 90}}
  - {{name: 较好, min: 80}}
  - {{name: 一般, min: 70}}
  - {{name: 差, min: 0}}
sections:
  - id: A
    title: 班子自身建设
    points: 60                   # 必须等于本部分各项分值之和
    items:
      - id: A1
        title: 坚持理论学习
        points: 30
        requirements: |
          1. 中心组理论学习年初有计划、年终有总结;
          2. 全年集中学习不少于6次。
        methods: [听取汇报, 查阅档案]
        criteria:                # 评分标准:deduct 每次扣分;unit 表示按次累计;max_deduct 封顶;zero 表示本项不得分
          - {{id: A1-1, text: 中心组学习年初无计划, deduct: 2}}
          - {{id: A1-2, text: 全年集中学习缺一次, deduct: 2, unit: 次, max_deduct: 10}}
          - {{id: A1-3, text: 班子成员发生违反政治纪律行为, zero: true}}
      - id: A2
        title: 参会出勤
        points: 30
        measure: 参会出勤率(%)   # 分档计分:按 value 所达到的最高一档得分
        tiers:
          - {{min: 100, score: 30}}
          - {{min: 90, score: 25}}
          - {{min: 0, score: 15}}
        default: 15              # 未录入数值时的得分;不写则必须为每个单位录入
  - id: B
    title: 创新创优
    points: 40
    items:
      - id: B1
        title: 自定创新目标
        points: 40
        direct: true             # 直接打分:value 填 0 到 40 之间的得分
        default: 30
bonus:                           # 加分项,cap 为加分上限
  cap: 5
  rules:
    - {{id: J1, text: 经验做法被市级以上党建刊物刊登, add: 1, unit: 篇}}
penalties:                       # 减分项,上不封顶(写 max 可封顶)
  - {{id: K1, text: 被上级通报批评, deduct: 3, unit: 次}}
vetoes:                          # 一票否决:等次直接定为 grade,且不得评奖
  - {{id: V1, text: 发生重大违纪违法案件, grade: 差}}
---

## 一、目的

(在此写考核的目的和依据。)

## 二、考核方式

(在此写考核的组织方式、时间安排。)

## 三、附则

本细则由××负责解释。
"""

ROUND = """\
# 考核轮次模板。“#”后是说明,可保留也可删除。
id: {id}                         # 编号,必须与文件夹名一致
title: {year}年度基层党建工作目标管理考核
year: {year}
rulebooks:                       # 各类别适用的细则编号(也可只写一本:rulebooks: 细则编号)
  {category}: {rulebook}
participants: all                # all:上述类别中当年仍在的全部单位;或列出单位编号 [u1, u2]
status: draft                    # draft 草稿;公示 和 published 由 kaohe publish 设置
composition: {{组织考核: 1.0}}     # 得分来源及权重,如 {{组织考核: 0.7, 民主测评: 0.3}}
awards:                          # 奖项:quota 各类别名额,或 share 比例;min_score 最低分
  - {{id: xianjin, name: 先进单位, share: 0.3, min_score: 90}}
# from_rounds: [{year}-01, {year}-02]  # 由若干分轮次汇总时填写
# from_stat: mean
"""

RESULTS = "unit_id,ref,value,source,rating,note\n"


def new(content: Path, what: str, ident: str) -> str:
    if not SLUG_RE.match(ident):
        raise fail(ident, None, "编号只能由小写英文字母、数字、“-”“_”组成,且以字母或数字开头;请换一个编号")
    year = _year(ident)
    if what == "rulebook":
        target = content / "rules" / f"{ident}.md"
        if target.exists() or (content / "rules" / ident).exists():
            raise fail(str(target), None, "该细则已存在,未作改动;请换一个编号")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(RULEBOOK.format(id=ident, year=year), encoding="utf-8")
        return f"已新建 {target};请按注释填写,然后运行 kaohe check 检查。"
    folder = content / "results" / ident
    if folder.exists():
        raise fail(str(folder), None, "该轮次文件夹已存在,未作改动;请换一个编号")
    category, rulebook = _latest_rulebook(content)
    folder.mkdir(parents=True)
    (folder / "round.yaml").write_text(ROUND.format(id=ident, year=year, category=category, rulebook=rulebook), encoding="utf-8")
    (folder / "results.csv").write_text(RESULTS, encoding="utf-8-sig")
    return (f"已新建 {folder}/round.yaml 和 results.csv;请核对 rulebooks 与 participants,"
            f"把考核结果逐行录入 results.csv(每行:单位编号,评分标准编号,次数,来源,评价,扣分说明),然后运行 kaohe check。")


def _year(ident: str) -> int:
    m = re.match(r"(19|20)\d\d", ident)
    return int(m.group(0)) if m else dt.date.today().year


def _latest_rulebook(content: Path) -> tuple[str, str]:
    """The newest rulebook (by file name) and its first category, to prefill the round."""
    rules = content / "rules"
    names = sorted((p.stem if p.is_file() else p.name) for p in rules.iterdir()
                   if (p.suffix == ".md" or p.is_dir()) and not p.name.startswith((".", "_"))) if rules.is_dir() else []
    if not names:
        return "机关事业单位", "请填写细则编号"
    name = names[-1]
    path = rules / f"{name}.md" if (rules / f"{name}.md").exists() else rules / name / "index.md"
    m = re.search(r"^applies_to:\s*\[([^\],]+)", path.read_text(encoding="utf-8-sig"), re.M)
    return (m.group(1).strip() if m else "机关事业单位"), name
