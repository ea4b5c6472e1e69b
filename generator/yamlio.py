"""YAML and front matter that keep line numbers and exact decimals.

PyYAML forgets where a value came from once it builds Python objects, and turns `0.1` into a binary
float. Content authors need both: the line of a bad value, and the decimal they wrote. This loader
returns `YMap` (a dict that knows its own line and each key's line) and `YList` (a list that knows
each element's line), and reads every float as `decimal.Decimal` from its source text.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import yaml

from .errors import fail


class YMap(dict):
    """A mapping from YAML with `line` (1-based) and `key_lines[key]`."""

    line: int = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    line_offset = 0


# libyaml's parser, with the same constructors, where PyYAML was built with it: a rulebook parses about
# ten times faster. Its error messages are worded differently, so malformed YAML is parsed again by the
# pure-Python loader, whose messages _yaml_message translates.
_FastLoader = type("_FastLoader", (yaml.CSafeLoader,), {"line_offset": 0}) if getattr(yaml, "__with_libyaml__", False) else None


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> YMap:
    loader.flatten_mapping(node)
    out = YMap()
    out.line = node.start_mark.line + 1 + loader.line_offset
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict)):
            raise yaml.constructor.ConstructorError(None, None, "键不能是列表或映射", key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"键“{key}”重复出现", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1 + loader.line_offset
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> YList:
    out = YList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1 + loader.line_offset
    out.item_lines = [child.start_mark.line + 1 + loader.line_offset for child in node.value]
    return out


def _construct_float(loader: _Loader, node: yaml.ScalarNode):
    text = loader.construct_scalar(node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text  # .inf / .nan: left as text, refused by the number checks with a clear message
    return value if value.is_finite() else text


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode):
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:      # 2025-13-01: kept as text, refused by the date checks with the key's line
        return loader.construct_scalar(node)


for _cls in (_Loader, _FastLoader) if _FastLoader is not None else (_Loader,):
    _cls.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)
    _cls.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _yaml_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    translations = {
        "found character '\\t' that cannot start any token": "出现了制表符(Tab);YAML 只能用空格缩进",
        "mapping values are not allowed here": "此处不能出现冒号;含冒号的文字请加英文引号",
        "could not find expected ':'": "缺少冒号“:”",
        "did not find expected key": "缩进不对齐,或缺少“键: 值”中的键",
        "did not find expected '-' indicator": "列表项缩进不一致",
        "found undefined alias": "引用了未定义的锚点",
        "expected <block end>, but found '<block mapping start>'": "缩进不一致",
        "expected <block end>, but found '-'": "列表项缩进不一致",
    }
    for en, zh in translations.items():
        if problem.startswith(en):
            return zh
    if "键" in problem:
        return problem
    return f"YAML 格式有误({problem})"


def load_yaml(text: str, path: str, line_offset: int = 0):
    """Parse YAML text; raise a ContentError naming the line on malformed input."""
    if _FastLoader is not None:
        loader = _FastLoader(text)
        loader.line_offset = line_offset
        try:
            return loader.get_single_data()
        except yaml.YAMLError:
            pass                # parsed again below, for PyYAML's own message
        finally:
            loader.dispose()
    loader = _Loader(text)
    loader.line_offset = line_offset
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 + line_offset if mark else None
        raise fail(path, line, f"{_yaml_message(exc)};请按 YAML 格式改正(用空格缩进,“键: 值”之间留一个空格)") from None
    finally:
        loader.dispose()


def split_front_matter(text: str, path: str) -> tuple[str, int, str, int]:
    """Split `---\\nYAML\\n---\\nbody`; return (yaml, yaml_line_offset, body, body_first_line)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise fail(path, 1, "文件开头缺少 YAML 前言(front matter);请在第一行写“---”,其后写细则的键值,再用一行“---”结束")
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), 1, "\n".join(lines[i + 1:]), i + 2
    raise fail(path, 1, "YAML 前言没有结束;请在前言末尾加一行“---”")


def read_text(path, shown: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(shown, None, f"无法读取文件({exc.strerror});请检查文件是否存在、是否有读取权限") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    raise fail(shown, None, "文件编码无法识别;请另存为 UTF-8 编码")


def as_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
