"""The round's data files: scores.csv, scores.json, scores.xlsx and items.csv (SPEC §8).

Scores stay exact integers of 10^-precision until they are written. Text is made once per distinct
value (a round of 100,000 units has millions of item scores but only thousands of distinct ones),
and rows are joined as plain strings: that is what makes items.csv of 3 million rows cheap.
"""
from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd

from . import xlsx
from .content import SELF_SOURCE
from .numbers import DECIMALS, fmt, round_half_up
from .score import RoundScore

BOM = "\ufeff"
SCORE_COLUMNS = ["unit_id", "name", "category", "rulebook", "total", "grade", "rank", "awards", "veto"]
ITEM_COLUMNS = ["unit_id", "item_id", "points", "deducted", "score", "self_score"]
NEWLINE = "\r\n"


def published_items(score: RoundScore) -> np.ndarray:
    """Composed item scores rounded half-up to each unit's precision (integers of 10^-precision)."""
    q = 10 ** (2 * DECIMALS - score.precision)[:, None]
    out = (score.item.fp + q // 2) // q
    for (u, gi), value in score.item.exact.items():
        out[u, gi] = round_half_up(value, int(score.precision[u]))
    return out


def published_self(score: RoundScore) -> np.ndarray:
    q = 10 ** (DECIMALS - score.precision)[:, None]
    out = (score.own.fp + q // 2) // q
    for (u, gi), value in score.own.exact.items():
        out[u, gi] = round_half_up(value, int(score.precision[u]))
    return out


def unit_order(score: RoundScore) -> np.ndarray:
    """Rows by category (in the round's order), then rank, then registry order."""
    layout = score.layout
    cats = list(layout.round.rulebooks)
    cat_pos = {c: i for i, c in enumerate(cats)}
    categories = [u.category for u in layout.units]
    by_name = {c: i for i, c in enumerate(sorted(set(categories)))}      # a category outside the round's: by name
    # numpy's lexsort (last key first) rather than sorting 10,000 tuples for each data file: 12 ms to 1 ms
    return np.lexsort((np.arange(len(categories)), np.asarray(score.rank, dtype=np.int64)[:len(categories)],
                       np.array([by_name[c] for c in categories], dtype=np.int64),
                       np.array([cat_pos.get(c, len(cats)) for c in categories], dtype=np.int64))).astype(np.int64)


def numbers(values: np.ndarray, precision: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Integers of 10^-precision as text ("90.00"), "" where not present; each distinct value formatted once."""
    key = values.astype(np.int64) * 8 + precision.astype(np.int64)   # precision ≤ 4 fits in 3 bits
    uniq, inverse = np.unique(key, return_inverse=True)
    text = np.array([fmt(int(k) >> 3, int(k) & 7) for k in uniq], dtype=object)[inverse.reshape(-1)]
    if present is not None:
        text[~present] = ""
    return text


def texts(values) -> np.ndarray:
    """Strings as CSV fields (quoted where they hold a comma, quote or line break)."""
    arr = np.asarray(values, dtype=object)
    if not len(arr):
        return arr
    codes, uniq = pd.factorize(arr, use_na_sentinel=False)
    return np.array([_field(str(v)) for v in uniq], dtype=object)[codes]


def _field(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


DATA_FILES = ("scores.csv", "scores.json", "scores.xlsx", "items.csv")


class RowCache:
    """The text of a data file's rows from earlier builds (kaohe serve; kaohe build's cache), by key.

    A unit's data key (pagekeys.RoundKeys.data) covers everything its rows show (its fields, scores,
    grade, rank, awards and vetoes, the round and its rulebooks), so a row whose key is known is not made
    again: after one corrected row only the rows whose rank or values moved are. A spreadsheet row also
    carries its row number, which is part of its key there. The rows made now are collected in `new`.
    Rows are kept as UTF-8 bytes, encoded once when made: encoding every row's text again on each rebuild
    cost 0.04 s of a correction's CPU at 10,000 units (most of it the 14 MB spreadsheet sheet)."""

    def __init__(self, rows: dict, keys: list[bytes]):
        self.rows = rows        # key -> text, from earlier builds (not changed here)
        self.keys = keys        # unit index -> its key
        self.new: dict = {}     # key -> text made in this build


def data_files(score: RoundScore, public_internal: tuple[str, ...] = ()) -> dict[str, bytes]:
    """relative path (under results/<round>/data/) -> file bytes."""
    return {name: data_file(score, name, public_internal) for name in DATA_FILES}


def data_file(score: RoundScore, name: str, public_internal: tuple[str, ...] = (), cache: RowCache | None = None) -> bytes:
    """One of DATA_FILES (each can be made on its own, so that the files of a round are made in parallel).
    With `cache`, rows made by earlier builds are taken from it (RowCache).

    Each file is made in two steps: columns for many units at once (numpy), then the text of each unit's
    rows (Python, what costs). With a cache, both steps run only for the units whose rows it lacks."""
    layout = score.layout
    order = unit_order(score)
    items = published_items(score)
    applies = layout.applies()
    item_ids = list(dict.fromkeys(it.id for it in layout.items))
    if name == "items.csv":
        show_self = SELF_SOURCE not in public_internal
        header = ITEM_COLUMNS if show_self else ITEM_COLUMNS[:5]
        prepare = partial(_item_rows, score, items=items, applies=applies, show_self=show_self, per_unit=cache is not None)
        return _csv(header, _rows(order, cache, prepare, len(order)))
    if name == "scores.csv":
        return _csv(SCORE_COLUMNS + item_ids,
                    _rows(order, cache, partial(_score_rows, score, item_ids=item_ids, items=items, applies=applies),
                          len(order)))
    if name == "scores.json":
        return _json(score, item_ids,
                     _rows(order, cache, partial(_json_rows, score, item_ids=item_ids, items=items, applies=applies),
                           len(order)))
    if name == "scores.xlsx":
        return _xlsx(score, item_ids,
                     _rows(order, cache, partial(_xlsx_rows, score, item_ids=item_ids, items=items, applies=applies),
                           XLSX_BLOCK, True))
    raise ValueError(f"unknown data file {name!r}")


JOIN_LINES = 50_000     # items.csv lines joined at a time
XLSX_BLOCK = 2000      # rows made and compressed at a time: a sheet of 100,000 rows never sits in memory whole


def _rows(order: np.ndarray, cache: RowCache | None, prepare, block: int, numbered: bool = False):
    """The text of each unit's rows, in `order`, as lists of texts of at most `block` units. `prepare(units,
    positions)` computes the columns of those units (at those positions in `order`) and returns make(idx),
    the texts of units[idx]. Without a cache every unit is prepared at once and made a block at a time, and
    the texts are str; with one, only the units whose rows it lacks are prepared and made, and the texts are
    UTF-8 bytes (RowCache)."""
    n = len(order)
    if cache is None:
        make = prepare(order, np.arange(n))
        for a in range(0, n, max(1, block)):
            yield make(np.arange(a, min(n, a + block)))
        return
    keys = [cache.keys[u] for u in order.tolist()]
    if numbered:               # a spreadsheet row carries its number
        keys = [k + str(i).encode() for i, k in enumerate(keys)]
    texts = [cache.rows.get(k) for k in keys]
    miss = np.array([i for i, t in enumerate(texts) if t is None], dtype=np.int64)
    if len(miss):
        made = prepare(order[miss], miss)(np.arange(len(miss)))
        for i, text in zip(miss.tolist(), made):
            texts[i] = cache.new[keys[i]] = text.encode("utf-8")
    for a in range(0, n, max(1, block)):
        yield texts[a:a + block]


def _csv(header: list[str], blocks) -> bytes:
    return b"".join([(BOM + ",".join(_field(h) for h in header) + NEWLINE).encode("utf-8"), *_encoded(blocks)])


ENCODE_CHARS = 1 << 20     # text joined and encoded at a time: items.csv is 120 MB at 100,000 units


def _encoded(blocks) -> list[bytes]:
    """The texts of `blocks` as UTF-8, joined into parts of about ENCODE_CHARS characters, so that neither
    a whole file's text nor a list of its millions of lines is ever held at once. Blocks of bytes (_rows
    with a cache) are joined as they are."""
    out, part, size = [], [], 0
    for texts in blocks:
        if texts and isinstance(texts[0], bytes):
            out.append(b"".join(texts))
            continue
        for text in texts:
            part.append(text)
            size += len(text)
            if size >= ENCODE_CHARS:
                out.append("".join(part).encode("utf-8"))
                part, size = [], 0
    if part:
        out.append("".join(part).encode("utf-8"))
    return out


def _score_table(score: RoundScore, order, item_ids, items, applies) -> list:
    """The columns of scores.csv: lists of values for the text columns, arrays of text for the others."""
    layout = score.layout
    prec = score.precision[order]
    columns: list = [
        [layout.units[u].id for u in order],
        [layout.units[u].name for u in order],
        [layout.units[u].category for u in order],
        [layout.books[layout.book_of[u]].id for u in order],
        numbers(score.total[order], prec),
        [score.grade[u] for u in order],
        score.rank[order].astype(str).astype(object),
        [";".join(a for a, _tied in score.awards[u]) for u in order],
        [",".join(layout.vetoes[v][1].id for v in score.vetoes[u]) for u in order],
    ]
    gis_of = {iid: [gi for gi, it in enumerate(layout.items) if it.id == iid] for iid in item_ids}
    for iid in item_ids:
        value = np.zeros(len(order), dtype=np.int64)
        present = np.zeros(len(order), dtype=bool)
        for gi in gis_of[iid]:     # an id shared by two rulebooks: each unit has it in at most one
            mask = applies[order, gi]
            value[mask] = items[order[mask], gi]
            present |= mask
        columns.append(numbers(value, prec, present))
    return columns


def _score_rows(score: RoundScore, order, positions, item_ids, items, applies):
    """scores.csv: a line per unit."""
    table = _score_table(score, order, item_ids, items, applies)
    columns = [texts(c) if isinstance(c, list) else c for c in table]

    def make(idx) -> list[str]:
        return [",".join(row) + NEWLINE for row in zip(*(c[idx] for c in columns))]
    return make


def _json_rows(score: RoundScore, order, positions, item_ids: list[str], items, applies):
    """scores.json, a line per unit, from the same text as scores.csv: decimal text such as "94.50" is a
    JSON number, so no value passes through a binary float."""
    layout = score.layout
    table = _score_table(score, order, item_ids, items, applies)

    def strings(values) -> np.ndarray:
        codes, uniq = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
        return np.array([json.dumps(v, ensure_ascii=False) for v in uniq], dtype=object)[codes]

    cache: dict = {}

    def lists(per_unit) -> np.ndarray:
        out = []
        for x in per_unit:
            key = tuple(x)
            if key not in cache:
                cache[key] = json.dumps(list(key), ensure_ascii=False)
            out.append(cache[key])
        return np.array(out, dtype=object)

    unit_id, name, category, rulebook = (strings(table[k]) for k in range(4))
    total, grade, rank = table[4], strings(table[5]), table[6]
    rank_of = score.rank_size[order].astype(str)
    awards = lists([a for a, _ in score.awards[u]] for u in order)
    tied = lists([a for a, t in score.awards[u] if t] for u in order)
    vetoes = lists([layout.vetoes[v][1].id for v in score.vetoes[u]] for u in order)
    keys = [json.dumps(i, ensure_ascii=False) + ": " for i in item_ids]
    item_cols = table[len(SCORE_COLUMNS):]

    def make(idx) -> list[str]:
        lines = []
        for i in idx.tolist():
            values = ", ".join(keys[j] + col[i] for j, col in enumerate(item_cols) if col[i])
            lines.append(f'{{"unit_id": {unit_id[i]}, "name": {name[i]}, "category": {category[i]}, '
                         f'"rulebook": {rulebook[i]}, "total": {total[i]}, "grade": {grade[i]}, "rank": {rank[i]}, '
                         f'"rank_of": {rank_of[i]}, "awards": {awards[i]}, "tied": {tied[i]}, "veto": {vetoes[i]}, '
                         f'"items": {{{values}}}}}')
        return lines
    return make


def _json(score: RoundScore, item_ids: list[str], blocks) -> bytes:
    rnd = score.layout.round
    head = {"round": rnd.id, "title": rnd.title, "year": rnd.year, "status": rnd.status, "items": item_ids}
    lines = [line for texts in blocks for line in texts]
    body = b",\n".join(lines) if lines and isinstance(lines[0], bytes) else ",\n".join(lines).encode("utf-8")
    return (json.dumps(head, ensure_ascii=False)[:-1] + ',\n "units": [\n').encode("utf-8") + body + b"\n]}\n"


NUMERIC = [{"total": "row", "rank": 0}.get(c) for c in SCORE_COLUMNS]   # xlsx.sheet_rows: how each column is written


def _xlsx_rows(score: RoundScore, order, positions, item_ids: list[str], items, applies):
    """The spreadsheet's rows of these units, at these positions (the header is row 1)."""
    table = _score_table(score, order, item_ids, items, applies)
    numeric = NUMERIC + ["row"] * len(item_ids)
    # text cells escaped once per distinct text, for the whole column
    columns = [xlsx.escaped(c) if numeric[j] is None else np.asarray(c, dtype=object) for j, c in enumerate(table)]
    precision = score.precision[order]
    numbers = (positions + 2).astype(str)

    def make(idx) -> list[str]:
        return xlsx.sheet_rows([c[idx] for c in columns], numeric, precision[idx], numbers[idx].tolist())
    return make


def _xlsx(score: RoundScore, item_ids: list[str], blocks) -> bytes:
    """The same table as scores.csv, as a spreadsheet: numbers as numbers, with each unit's precision."""
    return xlsx.workbook(score.layout.round.title, "成绩", SCORE_COLUMNS + item_ids,
                         (b"".join(t) if t and isinstance(t[0], bytes) else "".join(t) for t in blocks))


def _item_rows(score: RoundScore, order, positions, items, applies, show_self: bool, per_unit: bool):
    """items.csv: the units' lines (one per item that applies to the unit), as one text per unit
    (`per_unit`, for RowCache) or as texts of JOIN_LINES lines for all."""
    layout = score.layout
    u_idx, g_idx = np.nonzero(applies[order])
    u = order[u_idx]
    prec = score.precision[u]
    # points at each unit's precision, rounded half-up like the scores
    q = 10 ** (DECIMALS - prec)
    points = (layout.item_points[g_idx] + q // 2) // q
    value = items[u, g_idx]
    unit_ids = texts([un.id for un in layout.units])[u]
    item_ids = texts([it.id for it in layout.items])[g_idx]
    columns = [unit_ids, item_ids, numbers(points, prec), numbers(points - value, prec), numbers(value, prec)]
    if show_self:
        columns.append(numbers(published_self(score)[u, g_idx], prec, score.own.has[u, g_idx]))

    def make(idx) -> list[str]:
        if len(idx) != len(order):        # _rows makes items.csv's prepared units in one call
            raise ValueError("items.csv rows are made for all prepared units at once")
        if not per_unit:          # blocks of lines, each joined on its own (3 million lines at 100,000 units)
            return [NEWLINE.join(map(",".join, zip(*(c[a:a + JOIN_LINES] for c in columns)))) + NEWLINE
                    for a in range(0, len(u), JOIN_LINES)]
        lines = [",".join(row) + NEWLINE for row in zip(*columns)]
        ends = np.cumsum(np.bincount(u_idx, minlength=len(order))).tolist()
        return ["".join(lines[a:b]) for a, b in zip([0] + ends[:-1], ends)]
    return make
