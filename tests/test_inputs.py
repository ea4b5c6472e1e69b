"""Result files as staff save them: UTF-8, UTF-8 with BOM, GB18030/GBK from Excel, and .xlsx."""
from __future__ import annotations

import openpyxl
import pytest

from conftest import RULEBOOK_T, ContentDir, build, items, scores

ROUND = "title: 轮次\nyear: 2024\nrulebooks: {机关事业单位: t}\n"
ROWS = [
    ("unit_id", "ref", "value", "source", "rating", "note"),
    ("a", "A1-2", "2", "", "", "全年集中学习缺2次(见会议记录)"),
    ("a", "A2", "92.5", "", "", ""),
    ("a", "B1", "7", "", "", ""),
    ("a", "B2", "4", "", "优秀", ""),
    ("a", "B2", "1", "", "较好", ""),
    ("a", "B2", "2", "", "不了解", ""),
    ("a", "A1", "8", "自评", "", "自评扣2分"),
]


def _csv(rows) -> str:
    return "\r\n".join(",".join(r) for r in rows) + "\r\n"


def _content(tmp_path, name: str, data: bytes) -> ContentDir:
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.units("a,甲单位,机关事业单位,")
    site.round("r", ROUND)
    site.write(f"results/r/{name}", data)
    return site


def _xlsx(rows, path) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        # numbers as Excel stores them (numeric cells), text as text
        sheet.append([float(v) if v.replace(".", "", 1).isdigit() and "." in v else int(v) if v.isdigit() else v for v in row])
    book.save(path)
    return path.read_bytes()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "xlsx"])
def test_every_encoding_scores_the_same(tmp_path, kaohe, encoding):
    if encoding == "xlsx":
        data = _xlsx(ROWS, tmp_path / "in.xlsx")
        name = "results.xlsx"
    else:
        data = _csv(ROWS).encode(encoding)
        name = "results.csv"
    site = _content(tmp_path, name, data)
    out = build(kaohe, site)
    s, it = scores(out, "r")["a"], items(out, "r")
    # A1 10 − 4 = 6; A2 92.5 → 20; A3 default 3; B1 rank 1 → 10; B2 50 × (4 + 0.8) / 5 = 48 → 87
    assert (it[("a", "A1")]["score"], it[("a", "A2")]["score"], it[("a", "B2")]["score"]) == ("6.00", "20.00", "48.00")
    assert it[("a", "A1")]["self_score"] == "8.00"
    assert s["total"] == "87.00"


def test_gb18030_file_errors_keep_their_line_and_chinese_text(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    rows = ROWS + [("a", "A1-2", "两次", "", "", "缺两次")]
    _content(tmp_path, "组织考核.csv", _csv(rows).encode("gb18030"))
    run = kaohe("check", "--content", "content")
    assert run.code == 1
    assert "content/results/r/组织考核.csv:9: 错误: value“两次”不是有效数字;请填写阿拉伯数字(至多 6 位小数)" in run.lines


def test_xlsx_errors_name_the_spreadsheet_row(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    rows = ROWS + [("zz", "A1-2", "1", "", "", "")]
    _content(tmp_path, "results.xlsx", _xlsx(rows, tmp_path / "in.xlsx"))
    run = kaohe("check", "--content", "content")
    assert "content/results/r/results.xlsx:9: 错误: 单位编号“zz”不在名册 units.csv 中;请核对编号,或先在名册中登记该单位" in run.lines


def test_quoted_multiline_notes_do_not_shift_line_numbers(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    text = ('unit_id,ref,value,source,rating,note\r\n'
            'a,A1-2,1,,,"第一行说明\r\n第二行说明"\r\n'
            'a,A2,95,,,\r\n'
            'a,B1,1,,,\r\n'
            'a,B2,1,,优,\r\n')
    _content(tmp_path, "results.csv", text.encode("utf-8"))
    run = kaohe("check", "--content", "content")
    assert any(line.startswith("content/results/r/results.csv:6: 错误: 评价“优”") for line in run.lines), run.lines


def test_trailing_empty_excel_rows_and_crlf_are_ignored(tmp_path, kaohe):
    text = _csv(ROWS) + ",,,,,\r\n,,,,,\r\n"
    site = _content(tmp_path, "results.csv", text.encode("utf-8-sig"))
    assert scores(build(kaohe, site), "r")["a"]["total"] == "87.00"


def test_values_with_percent_signs_and_several_result_files(tmp_path, kaohe):
    site = _content(tmp_path, "a.csv", _csv(ROWS[:2] + [("a", "A2", "100%", "", "", "")]).encode())
    site.write("results/r/b.csv", _csv([ROWS[0]] + ROWS[3:]).encode("gb18030"))
    out = build(kaohe, site)
    # A2 100% → 25 (instead of 20): 92
    assert scores(out, "r")["a"]["total"] == "92.00"


def test_unreadable_encoding_is_a_clear_error(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    _content(tmp_path, "results.csv", b"unit_id,ref\n\xff\xfe\xfa,\x81\n")
    run = kaohe("check", "--content", "content")
    assert run.code == 1
    assert ("content/results/r/results.csv: 错误: 文件编码无法识别(既不是 UTF-8,也不是 GBK/GB18030);"
            "请在 Excel 中“另存为”CSV UTF-8 格式") in run.lines


def test_units_registry_in_gbk_with_former_names(tmp_path, kaohe):
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.write("units.csv", "unit_id,name,category,parent_id,former_names,phone\r\n"
                            "a,甲单位,机关事业单位,,旧名一;旧名二,123\r\n".encode("gbk"))
    site.round("r", ROUND, _csv(ROWS))
    from generator.errors import Report
    from generator.load import load_content
    report = Report()
    content = load_content(site.root, "content", report)
    unit = content.units["a"]
    assert unit.name == "甲单位" and unit.former_names == ("旧名一", "旧名二") and unit.extra == {"phone": "123"}


def test_a_row_with_more_cells_than_columns_is_an_error_not_a_shift(tmp_path, monkeypatch, kaohe):
    """An unquoted comma in a note makes a row one cell too long; pandas would silently shift every cell."""
    monkeypatch.chdir(tmp_path)
    rows = _csv(ROWS[:2]) + "a,A2,95,,,说明,含逗号\r\n" + "a,A2,90,,,说明,又含逗号\r\n"
    _content(tmp_path, "results.csv", rows.encode("utf-8"))
    run = kaohe("check", "--content", "content")
    assert run.code == 1
    assert ("content/results/r/results.csv:3: 错误: 此行有 7 列,多于列名行的 6 列;文字中含英文逗号时请把该格用英文双引号括起来,"
            "或改用中文逗号“，”") in run.lines
