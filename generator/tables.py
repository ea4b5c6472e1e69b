"""Reading tables that staff save from Excel: CSV in UTF-8, UTF-8 with BOM or GB18030/GBK, and .xlsx.

Every table comes back as a DataFrame of strings with a `_line` column: the line of the row in the
file (the header is line 1), so an error can say exactly where to look.
"""
from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import fail

LINE = "_line"


def decode(data: bytes, shown: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise fail(shown, None, "文件编码无法识别(既不是 UTF-8,也不是 GBK/GB18030);请在 Excel 中“另存为”CSV UTF-8 格式") from None


def read_table(path: Path, shown: str) -> pd.DataFrame:
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, shown)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(shown, None, f"无法读取文件({exc.strerror})") from None
    return read_csv_text(decode(data, shown), shown)


def read_csv_text(text: str, shown: str) -> pd.DataFrame:
    if not text.strip():
        raise fail(shown, 1, "文件是空的;第一行应是列名,如 unit_id,ref,value")
    try:
        with warnings.catch_warnings():
            # more cells than column names: pandas would silently shift or drop them
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), dtype=object, keep_default_na=False, na_filter=False,
                                skip_blank_lines=False, skipinitialspace=False, engine="c", index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
        line, count, expected = _first_wide_row(text)
        if line:
            raise fail(shown, line, f"此行有 {count} 列,多于列名行的 {expected} 列;文字中含英文逗号时请把该格用英文双引号括起来,"
                                    f"或改用中文逗号“，”") from None
        raise fail(shown, _parser_line(str(exc)), f"CSV 格式有误({exc});请检查引号是否成对") from None
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    frame[LINE] = _line_numbers(text, len(frame))
    return _drop_empty(frame)


def _first_wide_row(text: str) -> tuple[int | None, int, int]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    line = 2
    for row in reader:
        if len(row) > len(header):
            return line, len(row), len(header)
        line = reader.line_num + 1
    return None, 0, len(header)


def _parser_line(message: str) -> int | None:
    import re
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _line_numbers(text: str, n: int):
    """Line of each data row; rows are line 2, 3, … unless a quoted cell spans several lines."""
    if '"' not in text or text.count("\n") <= n + 1:
        return range(2, n + 2)
    lines = []
    reader = csv.reader(io.StringIO(text))
    start = 1
    for i, _row in enumerate(reader):
        if i > 0:
            lines.append(start)
        start = reader.line_num + 1
    # pandas and csv agree on rows for well-formed input; pad defensively
    lines += list(range(lines[-1] + 1 if lines else 2, lines[-1] + 1 + n - len(lines) if lines else n + 2))
    return lines[:n]


def _drop_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel leaves rows of empty cells (",,,") after the data: they are not rows."""
    cols = [c for c in frame.columns if c != LINE]
    if not cols or frame.empty:
        return frame
    rows = np.arange(len(frame))      # the rows blank in every column so far: few after the first column
    for c in cols:
        codes, uniques = pd.factorize(frame[c].to_numpy(dtype=object)[rows], use_na_sentinel=False)
        rows = rows[np.array([str(u).strip() == "" for u in uniques], dtype=bool)[codes]]
        if not len(rows):
            return frame
    blank = np.zeros(len(frame), dtype=bool)
    blank[rows] = True
    return frame.loc[~blank].reset_index(drop=True)


def _read_xlsx(path: Path, shown: str) -> pd.DataFrame:
    try:
        import openpyxl
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise fail(shown, None, f"无法打开 Excel 文件({type(exc).__name__});请确认它是 .xlsx 格式且未损坏") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise fail(shown, 1, "工作表是空的;第一行应是列名,如 unit_id,ref,value")
        names = [("" if h is None else str(h)).strip() for h in header]
        records, lines = [], []
        for number, row in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in row[:len(names)]]
            cells += [""] * (len(names) - len(cells))
            if all(c == "" for c in cells):
                continue
            records.append(cells)
            lines.append(number)
    finally:
        book.close()
    frame = pd.DataFrame(records, columns=names, dtype=object) if records else pd.DataFrame(columns=names, dtype=object)
    frame = frame.loc[:, [n != "" for n in names]] if "" in names else frame
    frame[LINE] = lines
    return frame


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)  # shortest text that reads back as the same number, as Excel shows it
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value).strip()
