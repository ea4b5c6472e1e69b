"""Reading typed values out of YAML mappings, reporting every problem with its line.

`Fields(mapping, path, report, what)` reads one mapping (a rulebook, a section, an item…). Each
getter reports a missing or mistyped value as an error on the value's own line and returns None,
so the caller keeps going and the author sees every problem at once. `done()` warns about keys
the format does not know (usually a typo).
"""
from __future__ import annotations

import re
from decimal import Decimal

from .errors import Report
from .numbers import DECIMALS, decimals_of, to_decimal
from .yamlio import YList, YMap, as_date

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class Fields:
    def __init__(self, mapping, path: str, report: Report, what: str, line: int | None = None):
        self.path = path
        self.report = report
        self.what = what
        self.ok = isinstance(mapping, dict)
        self.map: dict = mapping if self.ok else {}
        self.line = getattr(mapping, "line", None) or line
        self.used: set = set()
        if not self.ok:
            report.error(path, line, f"{what}应是“键: 值”形式的映射,这里却是{describe(mapping)};请按格式改写")

    def line_of(self, key) -> int | None:
        if isinstance(self.map, YMap):
            return self.map.line_of(key)
        return self.line

    def has(self, key) -> bool:
        return key in self.map

    def raw(self, key, required: bool = False):
        self.used.add(key)
        if key not in self.map or self.map[key] is None:
            if required and self.ok:
                self.report.error(self.path, self.line, f"{self.what}缺少必填键 {key};请补上“{key}: …”")
            return None
        return self.map[key]

    def text(self, key, required: bool = False) -> str | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key} 应是一段文字,这里却是{describe(value)}")
            return None
        text = str(value) if not isinstance(value, Decimal) else format(value, "f")
        if required and not text.strip():
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key} 不能为空;请填写")
            return None
        return text

    def ident(self, key, required: bool = True, slug: bool = False) -> str | None:
        value = self.text(key, required)
        if value is None:
            return None
        pattern = SLUG_RE if slug else ID_RE
        if not pattern.match(value):
            rule = "小写英文字母、数字、连字符“-”或下划线“_”,且以字母或数字开头" if slug else \
                "英文字母、数字、“-”“_”“.”,且以字母或数字开头"
            self.report.error(self.path, self.line_of(key),
                              f"{self.what}的编号“{value}”不合规范;编号只能由{rule}组成(它会成为网址的一部分)")
            return None
        return value

    def number(self, key, required: bool = False, minimum: Decimal | int | None = 0,
               integer: bool = False, positive: bool = False) -> Decimal | None:
        value = self.raw(key, required)
        if value is None:
            return None
        return check_number(value, self.path, self.line_of(key), f"{self.what}的 {key}", self.report,
                            minimum=minimum, integer=integer, positive=positive)

    def flag(self, key) -> bool:
        value = self.raw(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key} 应为 true 或 false,这里是“{value}”")
            return False
        return value

    def date(self, key, required: bool = False):
        value = self.raw(key, required)
        if value is None:
            return None
        d = as_date(value)
        if d is None:
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key}“{value}”不是日期;请写成 2024-01-01 的形式")
        return d

    def seq(self, key, required: bool = False) -> list | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key} 应是列表(每行以“- ”开头),这里却是{describe(value)}")
            return None
        return value

    def mapping(self, key, required: bool = False) -> dict | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key} 应是“键: 值”映射,这里却是{describe(value)}")
            return None
        return value

    def strings(self, key) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or any(isinstance(v, (list, dict)) for v in value):
            self.report.error(self.path, self.line_of(key), f"{self.what}的 {key} 应是文字列表,如 [甲, 乙]")
            return ()
        return tuple(str(v) for v in value if v is not None)

    def done(self, known: set | frozenset | None = None) -> None:
        known = self.used if known is None else set(known) | self.used
        for key in self.map:
            if key not in known:
                self.report.warning(self.path, self.line_of(key),
                                    f"{self.what}中有未知的键 {key},已忽略;请检查是否拼写有误")


def check_number(value, path: str, line: int | None, what: str, report: Report, *, minimum=0,
                 integer: bool = False, positive: bool = False) -> Decimal | None:
    d = to_decimal(value)
    if d is None or isinstance(value, bool):
        report.error(path, line, f"{what}应是数字,这里是“{value}”;请填写阿拉伯数字")
        return None
    if decimals_of(d) > DECIMALS:
        report.error(path, line, f"{what}“{value}”小数位数超过 {DECIMALS} 位;请保留至多 {DECIMALS} 位小数")
        return None
    if integer and d != d.to_integral_value():
        report.error(path, line, f"{what}应是整数,这里是“{value}”")
        return None
    if positive and d <= 0:
        report.error(path, line, f"{what}应大于 0,这里是“{value}”")
        return None
    if minimum is not None and d < minimum:
        report.error(path, line, f"{what}不能小于 {minimum},这里是“{value}”")
        return None
    return d


def describe(value) -> str:
    if isinstance(value, (dict, YMap)):
        return "映射"
    if isinstance(value, (list, YList)):
        return "列表"
    if value is None:
        return "空值"
    return f"“{value}”"
