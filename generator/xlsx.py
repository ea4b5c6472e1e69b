"""A minimal, fast, deterministic .xlsx writer for one table of text and numbers.

xlsxwriter spent 3.9 s per round of 10,000 units (13 of the build's 14 s), one Python call chain per
cell. The table is already formatted as text for scores.csv, so here each cell is one f-string and the
sheet is one join: about 0.4 µs a cell. The package is the smallest SpreadsheetML that Excel, WPS,
LibreOffice and openpyxl open: inline strings, a styles part with one number format per precision,
a frozen header row. Zip entries carry a fixed date, so the same table gives the same bytes.
"""
from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

FIXED_DATE = (1980, 1, 1, 0, 0, 0)

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
<Default Extension="xml" ContentType="application/xml"/>\
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>\
</Types>"""

ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>\
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>\
</Relationships>"""

CORE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" \
xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title><dc:creator>kaohe</dc:creator></cp:coreProperties>"""

WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>"""

WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>\
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>\
</Relationships>"""

# cellXfs: 0 plain, 1 bold header, 2+p number with p decimals (p = 0..4)
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">\
<numFmts count="4"><numFmt numFmtId="164" formatCode="0.0"/><numFmt numFmtId="165" formatCode="0.00"/>\
<numFmt numFmtId="166" formatCode="0.000"/><numFmt numFmtId="167" formatCode="0.0000"/></numFmts>\
<fonts count="2"><font><sz val="11"/><name val="宋体"/></font><font><b/><sz val="11"/><name val="宋体"/></font></fonts>\
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>\
<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""

SHEET_HEAD = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">\
<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>\
</sheetView></sheetViews><cols><col min="2" max="2" width="30" customWidth="1"/></cols><sheetData>"""
SHEET_TAIL = "</sheetData></worksheet>"


def _factorize(values):
    import numpy as np
    import pandas as pd
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes, ["" if u is None else u for u in uniques]


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text(value: str) -> str:
    # XML 1.0 forbids most control characters; a stray one from a CSV must not corrupt the file
    clean = "".join(ch for ch in value if ch >= " " or ch in "\t\n\r")
    return escape(clean)


def escaped(values):
    """A text column as sheet_rows takes it: each value as XML text, each distinct one escaped once."""
    import numpy as np
    codes, uniq = _factorize(values)
    return np.array([_text(str(u)) for u in uniq], dtype=object)[codes]


def sheet_rows(columns: list, numeric: list, precision, numbers: list[str]) -> list[str]:
    """The <row> elements of a table's rows. columns: equal-length sequences of text ("" for an empty
    cell), the text columns escaped already (escaped()); numbers[i]: row i's number in the sheet.
    numeric[j]: None for a text column; an int p for numbers shown with p decimals; "row" for numbers
    shown with the row's `precision[i]` decimals (decimal text such as "94.50" is written as the number
    itself)."""
    styles = [str(2 + int(p)) for p in precision]
    cells = []
    for j, col in enumerate(columns):
        ref = column_letter(j)
        if numeric[j] == "row":
            cells.append([f'<c r="{ref}{r}" s="{st}"><v>{v}</v></c>' if v else ""
                          for r, st, v in zip(numbers, styles, col)])
        elif numeric[j] is not None:
            st = 2 + int(numeric[j])
            cells.append([f'<c r="{ref}{r}" s="{st}"><v>{v}</v></c>' if v else "" for r, v in zip(numbers, col)])
        else:
            cells.append([f'<c r="{ref}{r}" t="inlineStr"><is><t>{v}</t></is></c>' if v else ""
                          for r, v in zip(numbers, col)])
    return [f'<row r="{r}">' + "".join(row) + "</row>" for r, row in zip(numbers, zip(*cells))]


def workbook(title: str, sheet: str, header: list[str], body) -> bytes:
    """A workbook of one sheet: the header row, then `body`, the other rows as XML (sheet_rows), in parts
    of text or UTF-8 bytes (each part is compressed as it comes: a sheet of 100,000 rows never sits in
    memory whole)."""
    head = '<row r="1">' + "".join(f'<c r="{column_letter(j)}1" s="1" t="inlineStr"><is><t>{_text(h)}</t></is></c>'
                                   for j, h in enumerate(header)) + "</row>"
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "docProps/core.xml": CORE.format(title=_text(title)),
        "xl/workbook.xml": WORKBOOK.format(name=_text(sheet)),
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/styles.xml": STYLES,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in parts.items():
            zf.writestr(_entry(name), text.encode("utf-8"), compresslevel=1)
        with zf.open(_entry("xl/worksheets/sheet1.xml"), "w") as out:     # the sheet, a part at a time
            out.write((SHEET_HEAD + head).encode("utf-8"))
            for part in body:
                out.write(part if isinstance(part, bytes) else part.encode("utf-8"))
            out.write(SHEET_TAIL.encode("utf-8"))
    return buf.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info._compresslevel = 1          # what writestr(compresslevel=1) sets; zf.open() reads it from here
    return info
