"""The registry of assessed units: `units.csv`."""
from __future__ import annotations

import re
from pathlib import Path

from .content import Unit
from .errors import ContentError, Report
from .schema import SLUG_RE
from .tables import LINE, read_table
from .yamlio import as_date

REQUIRED = ("unit_id", "name", "category")
# Unit pages live at results/<round>/<unit>/, beside the round's own folders: these names are taken.
RESERVED = re.compile(r"^(data|notice|corrections|assets|pagefind|r\d+)$")
KNOWN = {"unit_id", "name", "category", "parent_id", "former_names", "active_until"}


def load_units(path: Path, shown: str, report: Report) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    if not path.is_file():
        report.error(shown, None, "找不到单位名册 units.csv;请在内容文件夹中建立它,列为 unit_id,name,category,parent_id")
        return units
    try:
        frame = read_table(path, shown)
    except ContentError as exc:
        report.extend(exc.report)
        return units
    missing = [c for c in REQUIRED if c not in frame.columns]
    for column in missing:
        report.error(shown, 1, f"缺少必填列 {column};请在第一行(列名行)加上 {column}")
    if missing:
        return units
    extra_cols = [c for c in frame.columns if c not in KNOWN and c != LINE]
    rows = frame.to_dict("records")
    for row in rows:
        line = int(row[LINE])
        uid = row["unit_id"].strip()
        name = row["name"].strip()
        category = row["category"].strip()
        if not uid:
            report.error(shown, line, "unit_id 为空;请为该单位填写编号(小写英文字母、数字、“-”或“_”)", group="unit_id-empty")
            continue
        if not SLUG_RE.match(uid):
            report.error(shown, line, f"单位编号“{uid}”不合规范:编号会成为网址的一部分,只能由小写英文字母、数字、“-”“_”组成,"
                                      f"且以字母或数字开头(不能含空格、“/”、“..”或中文);请改正", group="unit_id-bad")
            continue
        if RESERVED.match(uid):
            report.error(shown, line, f"单位编号“{uid}”是网站保留的名称(data、notice、corrections、assets、pagefind、r加数字);请换一个编号")
            continue
        if uid in units:
            report.error(shown, line, f"单位编号 {uid} 重复(第 {units[uid].line} 行已有);每个单位的编号必须唯一")
            continue
        if not name:
            report.error(shown, line, f"单位 {uid} 的 name(名称)为空;请填写单位全称", group="name-empty")
        if not category:
            report.error(shown, line, f"单位 {uid} 的 category(考核类别)为空;请填写,如 机关事业单位、国有企业、社区", group="category-empty")
        until_text = row.get("active_until", "").strip()
        until = None
        if until_text:
            until = as_date(until_text.replace("/", "-"))
            if until is None:
                report.error(shown, line, f"单位 {uid} 的 active_until“{until_text}”不是日期;请写成 2024-12-31 的形式")
        former = tuple(n.strip() for n in row.get("former_names", "").replace(";", ";").split(";") if n.strip())
        parent = row.get("parent_id", "").strip() or None
        extra = {c: row[c] for c in extra_cols}
        units[uid] = Unit(uid, name, category, parent, former, until, extra, line)
    for unit in units.values():
        if unit.parent_id is None:
            continue
        if unit.parent_id not in units:
            report.error(shown, unit.line, f"单位 {unit.id} 的上级 parent_id“{unit.parent_id}”不在名册中;请填写名册中已有的单位编号,或留空")
        elif _has_cycle(unit, units):
            report.error(shown, unit.line, f"单位 {unit.id} 的上级关系形成了循环;请检查 parent_id")
    return units


def _has_cycle(unit: Unit, units: dict[str, Unit]) -> bool:
    seen = {unit.id}
    current = unit.parent_id
    while current is not None and current in units:
        if current in seen:
            return True
        seen.add(current)
        current = units[current].parent_id
    return False
