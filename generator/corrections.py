"""`corrections.csv`: how a published result is changed, in the open, one dated row at a time.

Columns: date, unit_id, ref, source, field, old, new, reason. `field` is `value` (a count, measured
value or score: the sum of the unit's rows for that ref and source), `note` (the assessor's remark),
or a rating (优秀/较好/…: that rating's number of votes). `old` must equal the current value (empty
when there is none), or the build stops at that row: a correction always knows what it replaces.
The file is append-only: rows already published are locked by their hashes in published.lock.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd

from .content import DEFAULT_SOURCE
from .errors import ContentError, Report
from .lock import Lock, sha256
from .numbers import plain, to_decimal
from .rounds import FILE
from .tables import LINE, read_table
from .yamlio import as_date

NAME = "corrections.csv"
COLUMNS = ("date", "unit_id", "ref", "source", "field", "old", "new", "reason")


@dataclass(frozen=True, slots=True)
class Correction:
    line: int
    date: dt.date
    unit_id: str
    ref: str
    source: str
    field: str
    old: str
    new: str
    reason: str
    digest: str                      # of the row's cells: published rows may never change


def read_corrections(folder: Path, shown: str, report: Report) -> list[Correction] | None:
    """The file's rows; None when the file itself cannot be read (reported)."""
    path = folder / NAME
    where = f"{shown}/{NAME}"
    if not path.is_file():
        return []
    try:
        frame = read_table(path, where)
    except ContentError as exc:
        report.extend(exc.report)
        return None
    missing = [c for c in COLUMNS if c not in frame.columns]
    for column in missing:
        report.error(where, 1, f"缺少列 {column};更正记录的列为 {','.join(COLUMNS)}")
    if missing:
        return None
    out = []
    for row in frame.to_dict("records"):
        line = int(row[LINE])
        cells = {c: str(row[c]).strip() for c in COLUMNS}
        date = as_date(cells["date"].replace("/", "-"))
        if date is None:
            report.error(where, line, f"date“{cells['date']}”不是日期;请写成 2025-03-02 的形式")
            continue
        if not cells["reason"]:
            report.error(where, line, "更正理由 reason 为空;每一处更正都必须写明理由(如“经复核,……”)")
            continue
        if not cells["unit_id"] or not cells["ref"]:
            report.error(where, line, "unit_id 和 ref 不能为空;请写明更正哪个单位的哪一项")
            continue
        field = cells["field"] or "value"
        digest = sha256("\x1f".join(cells[c] for c in COLUMNS).encode("utf-8"))
        out.append(Correction(line, date, cells["unit_id"], cells["ref"], cells["source"] or DEFAULT_SOURCE, field,
                              cells["old"], cells["new"], cells["reason"], digest))
    return out


def check_published(lock: Lock | None, corrections: list[Correction], shown: str, report: Report) -> None:
    """Published rows are append-only: each must still be there, unchanged, in its place."""
    if lock is None:
        return
    where = f"{shown}/{NAME}"
    for i, digest in enumerate(lock.corrections):
        if i >= len(corrections):
            report.error(where, None, f"已发布的第 {i + 1} 条更正被删除;更正记录只能追加,请恢复原有各行")
            return
        if corrections[i].digest != digest:
            report.error(where, corrections[i].line, "已发布的更正记录被改动;更正记录只能追加,不能修改已发布的行。"
                                                     "如需再次更正,请在末尾追加一行")
            return


def apply(frame: pd.DataFrame, corrections: list[Correction], counted, where: str, report: Report) -> pd.DataFrame:
    """The result rows after these corrections, in order. `counted(unit_id, ref)` says whether the ref's
    rows are counts that add up (criteria, bonus, penalties, vetoes) rather than one value."""
    for c in corrections:
        frame = _apply_one(frame, c, counted, where, report)
    return frame


def _apply_one(frame: pd.DataFrame, c: Correction, counted, where: str, report: Report) -> pd.DataFrame:
    unit = frame["unit_id"].astype(str).str.strip() == c.unit_id
    ref = frame["ref"].astype(str).str.strip() == c.ref
    source = frame["source"].astype(str).str.strip().replace("", DEFAULT_SOURCE) == c.source
    rating = frame["rating"].astype(str).str.strip()
    is_note = c.field == "note"
    votes = c.field not in ("value", "note")
    mask = unit & ref & source & ((rating == c.field) if votes else (rating == "") if not is_note else True)
    rows = frame[mask]
    adds_up = votes or counted(c.unit_id, c.ref)
    if is_note:
        current = "" if rows.empty else str(rows.iloc[0]["note"]).strip()
        if c.old != current:
            report.error(where, c.line, f"原值 old“{c.old}”与当前备注“{current}”不一致;请核对后填写当前的备注原文")
            return frame
        frame = frame.copy()
        frame.loc[mask, "note"] = c.new
        return frame
    current = _current(rows, adds_up)
    if not _same(c.old, current):
        shown_now = plain(current) if isinstance(current, Decimal) else "(无)"
        report.error(where, c.line, f"原值 old“{c.old or '(空)'}”与单位 {c.unit_id} 的 {c.ref} 当前值 {shown_now} 不一致;"
                                    f"更正须以当前值为原值,请核对(该项可能已被前面的更正改过)")
        return frame
    new = to_decimal(c.new) if c.new else None
    if c.new and new is None:
        report.error(where, c.line, f"新值 new“{c.new}”不是数字;请填写阿拉伯数字,或留空表示删除该项记录")
        return frame
    kept = frame[~mask]
    if new is None or (adds_up and new == 0):
        return kept
    row = {"unit_id": c.unit_id, "ref": c.ref, "value": plain(new), "source": c.source,
           "rating": c.field if votes else "", "note": f"更正:{c.reason}", LINE: c.line, FILE: where}
    return pd.concat([kept, pd.DataFrame([row], columns=frame.columns)], ignore_index=True)


def _current(rows: pd.DataFrame, adds_up: bool):
    if rows.empty:
        return None
    values = [to_decimal(v) if str(v).strip() else Decimal(1) for v in rows["value"]]
    if adds_up:
        return sum((v for v in values if v is not None), Decimal(0))
    return values[0]


def _same(old: str, current) -> bool:
    if not old.strip():
        return current is None or current == 0
    value = to_decimal(old)
    return value is not None and current is not None and value == current
