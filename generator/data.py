"""The round's data files: scores.csv, scores.json, scores.xlsx and items.csv (SPEC §8).

Scores stay exact integers of 10^-precision until they are written. Text is made once per distinct
value (a round of 100,000 units has millions of item scores but only thousands of distinct ones),
and rows are joined as plain strings: that is what makes items.csv of 3 million rows cheap.
"""
from __future__ import annotations

import json

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
    keys = [(cat_pos.get(u.category, len(cats)), u.category, int(score.rank[i]), i) for i, u in enumerate(layout.units)]
    return np.array([k[-1] for k in sorted(keys)], dtype=np.int64)


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


JOIN_BLOCK = 50_000    # rows joined and encoded at a time (items.csv has 3 million rows at 100,000 units)


def _join(header: list[str], columns: list[np.ndarray]) -> bytes:
    out = [(BOM + ",".join(_field(h) for h in header) + NEWLINE).encode("utf-8")]
    n = len(columns[0]) if columns else 0
    for a in range(0, n, JOIN_BLOCK):
        block = zip(*(c[a:a + JOIN_BLOCK] for c in columns))
        out.append((NEWLINE.join(map(",".join, block)) + NEWLINE).encode("utf-8"))
    return b"".join(out)


DATA_FILES = ("scores.csv", "scores.json", "scores.xlsx", "items.csv")


def data_files(score: RoundScore, public_internal: tuple[str, ...] = ()) -> dict[str, bytes]:
    """relative path (under results/<round>/data/) -> file bytes."""
    return {name: data_file(score, name, public_internal) for name in DATA_FILES}


def data_file(score: RoundScore, name: str, public_internal: tuple[str, ...] = ()) -> bytes:
    """One of DATA_FILES (each can be made on its own, so that the files of a round are made in parallel)."""
    layout = score.layout
    order = unit_order(score)
    items = published_items(score)
    applies = layout.applies()
    if name == "items.csv":
        return _items_csv(score, order, items, applies, show_self=SELF_SOURCE not in public_internal)
    item_ids = list(dict.fromkeys(it.id for it in layout.items))
    table = _score_table(score, order, item_ids, items, applies)
    if name == "scores.csv":
        return _join(SCORE_COLUMNS + item_ids, [texts(c) if isinstance(c, list) else c for c in table])
    if name == "scores.json":
        return _json(score, table, item_ids, order)
    if name == "scores.xlsx":
        return _xlsx(score, table, item_ids, order)
    raise ValueError(f"unknown data file {name!r}")


def _score_table(score: RoundScore, order, item_ids, items, applies) -> list:
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


def _json(score: RoundScore, table: list, item_ids: list[str], order) -> bytes:
    """scores.json, one unit per line, built from the same text as scores.csv: decimal text such as
    "94.50" is a JSON number, so no value passes through a binary float."""
    layout = score.layout
    rnd = layout.round

    def strings(values) -> np.ndarray:
        codes, uniq = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
        return np.array([json.dumps(v, ensure_ascii=False) for v in uniq], dtype=object)[codes]

    cache: dict = {}

    def lists(per_unit) -> list[str]:
        out = []
        for x in per_unit:
            key = tuple(x)
            if key not in cache:
                cache[key] = json.dumps(list(key), ensure_ascii=False)
            out.append(cache[key])
        return out

    unit_id, name, category, rulebook = (strings(table[k]) for k in range(4))
    total, grade, rank = table[4], strings(table[5]), table[6]
    rank_of = score.rank_size[order].astype(str)
    awards = lists([a for a, _ in score.awards[u]] for u in order)
    tied = lists([a for a, t in score.awards[u] if t] for u in order)
    vetoes = lists([layout.vetoes[v][1].id for v in score.vetoes[u]] for u in order)
    keys = [json.dumps(i, ensure_ascii=False) + ": " for i in item_ids]
    item_cols = table[len(SCORE_COLUMNS):]
    lines = []
    for i in range(len(order)):
        items = ", ".join(keys[j] + col[i] for j, col in enumerate(item_cols) if col[i])
        lines.append(f'{{"unit_id": {unit_id[i]}, "name": {name[i]}, "category": {category[i]}, "rulebook": {rulebook[i]}, '
                     f'"total": {total[i]}, "grade": {grade[i]}, "rank": {rank[i]}, "rank_of": {rank_of[i]}, '
                     f'"awards": {awards[i]}, "tied": {tied[i]}, "veto": {vetoes[i]}, "items": {{{items}}}}}')
    head = {"round": rnd.id, "title": rnd.title, "year": rnd.year, "status": rnd.status, "items": item_ids}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n "units": [\n' + ",\n".join(lines) + "\n]}\n"
    return text.encode("utf-8")


def _xlsx(score: RoundScore, table: list, item_ids: list[str], order) -> bytes:
    """The same table as scores.csv, as a spreadsheet: numbers as numbers, with each unit's precision."""
    header = SCORE_COLUMNS + item_ids
    numeric = [{"total": "row", "rank": 0}.get(c) for c in SCORE_COLUMNS] + ["row"] * len(item_ids)
    columns = [np.asarray(c, dtype=object) for c in table]
    return xlsx.workbook(score.layout.round.title, "成绩", header, columns, numeric, score.precision[order])


def _items_csv(score: RoundScore, order, items, applies, show_self: bool) -> bytes:
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
    header = ITEM_COLUMNS[:5]
    if show_self:
        columns.append(numbers(published_self(score)[u, g_idx], prec, score.own.has[u, g_idx]))
        header = ITEM_COLUMNS
    return _join(header, columns)
