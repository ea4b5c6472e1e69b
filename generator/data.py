"""The round's data files: scores.csv, scores.json, scores.xlsx and items.csv (SPEC §8).

Scores are exact integers of 10^-precision until the last step. Writing them through float64 with
a fixed number of decimals prints exactly those digits: every such value below 2^53 / 10^4 is
closer to its own float than half a unit in the last published place.
"""
from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pandas as pd

from .content import SELF_SOURCE
from .numbers import DECIMALS, round_half_up
from .score import RoundScore

BOM = "\ufeff"
SCORE_COLUMNS = ["unit_id", "name", "category", "rulebook", "total", "grade", "rank", "awards", "veto"]
ITEM_COLUMNS = ["unit_id", "item_id", "points", "deducted", "score", "self_score"]
XLSX_EPOCH = dt.datetime(2000, 1, 1)


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


def data_files(score: RoundScore, public_internal: tuple[str, ...] = ()) -> dict[str, bytes]:
    """relative path (under results/<round>/data/) -> file bytes."""
    layout = score.layout
    order = unit_order(score)
    item_ids = list(dict.fromkeys(it.id for it in layout.items))
    column_of = {iid: j for j, iid in enumerate(item_ids)}
    precisions = sorted(set(score.precision.tolist())) or [2]
    p = precisions[0]
    uniform = len(precisions) == 1
    items = published_items(score)
    applies = layout.applies()

    n = len(order)
    scale_p = 10.0 ** score.precision[order]
    matrix = np.full((n, len(item_ids)), np.nan)
    for gi, it in enumerate(layout.items):
        rows = applies[order, gi]
        matrix[rows, column_of[it.id]] = items[order[rows], gi] / scale_p[rows]
    veto_ids = [",".join(layout.vetoes[v][1].id for v in score.vetoes[u]) for u in order]
    awards = [";".join(a for a, _tied in score.awards[u]) for u in order]
    base = pd.DataFrame({
        "unit_id": [layout.units[u].id for u in order],
        "name": [layout.units[u].name for u in order],
        "category": [layout.units[u].category for u in order],
        "rulebook": [layout.books[layout.book_of[u]].id for u in order],
        "total": score.total[order] / scale_p,
        "grade": [score.grade[u] for u in order],
        "rank": score.rank[order],
        "awards": awards,
        "veto": veto_ids,
    })
    table = pd.concat([base, pd.DataFrame(matrix, columns=item_ids)], axis=1)
    if not uniform:   # mixed precisions in one round: format each cell by its unit's precision
        for col in ["total"] + item_ids:
            table[col] = [("" if np.isnan(v) else f"{v:.{int(pp)}f}") for v, pp in zip(table[col], score.precision[order])]
    files = {
        "scores.csv": _csv(table, p),
        "scores.json": _json(score, order, item_ids, items, applies),
        "scores.xlsx": _xlsx(table, score, p if uniform else None),
        "items.csv": _items_csv(score, order, items, applies, show_self=SELF_SOURCE not in public_internal),
    }
    return files


def _csv(table: pd.DataFrame, precision: int) -> bytes:
    text = table.to_csv(index=False, float_format=f"%.{precision}f", na_rep="", lineterminator="\r\n")
    return (BOM + text).encode("utf-8")


def _json(score: RoundScore, order, item_ids, items, applies) -> bytes:
    layout = score.layout
    rnd = layout.round
    units = []
    for u in order:
        p = int(score.precision[u])
        div = 10**p
        unit = layout.units[u]
        units.append({
            "unit_id": unit.id, "name": unit.name, "category": unit.category,
            "rulebook": layout.books[layout.book_of[u]].id,
            "total": _num(score.total[u], div), "grade": score.grade[u],
            "rank": int(score.rank[u]), "rank_of": int(score.rank_size[u]),
            "awards": [a for a, _ in score.awards[u]],
            "tied": [a for a, tied in score.awards[u] if tied],
            "veto": [layout.vetoes[v][1].id for v in score.vetoes[u]],
            "items": {layout.items[gi].id: _num(items[u, gi], div) for gi in np.flatnonzero(applies[u])},
        })
    head = {"round": rnd.id, "title": rnd.title, "year": rnd.year, "status": rnd.status, "items": item_ids}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n "units": [\n'
    text += ",\n".join(json.dumps(unit, ensure_ascii=False) for unit in units) + "\n]}\n"
    return text.encode("utf-8")


def _num(units: int, div: int):
    return int(units) // div if div == 1 else int(units) / div


def _xlsx(table: pd.DataFrame, score: RoundScore, precision: int | None) -> bytes:
    import xlsxwriter
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_urls": False})
    book.set_properties({"title": score.layout.round.title, "created": XLSX_EPOCH, "author": "kaohe"})
    sheet = book.add_worksheet("成绩")
    head = book.add_format({"bold": True, "bg_color": "#EFEFEF", "border": 1})
    number = book.add_format({"num_format": "0" if precision == 0 else "0." + "0" * (precision or 2)})
    sheet.write_row(0, 0, list(table.columns), head)
    numeric = [c for c in table.columns if c not in ("unit_id", "name", "category", "rulebook", "grade", "awards", "veto", "rank")]
    for j, col in enumerate(table.columns):
        values = table[col].tolist()
        if col in numeric and precision is not None:
            for i, v in enumerate(values):
                if v == v:  # not NaN
                    sheet.write_number(i + 1, j, v, number)
        elif col == "rank":
            for i, v in enumerate(values):
                sheet.write_number(i + 1, j, int(v))
        else:
            for i, v in enumerate(values):
                if v != "" and v == v:
                    sheet.write_string(i + 1, j, str(v))
    sheet.freeze_panes(1, 2)
    sheet.set_column(1, 1, 28)
    book.close()
    return buf.getvalue()


def _items_csv(score: RoundScore, order, items, applies, show_self: bool) -> bytes:
    layout = score.layout
    own = published_self(score)
    u_idx, g_idx = np.nonzero(applies[order])
    u = order[u_idx]
    p = score.precision[u]
    div = 10.0 ** p
    # points at each unit's precision, rounded half-up like the scores
    q = 10 ** (DECIMALS - p)
    points_p = (layout.item_points[g_idx] + q // 2) // q
    score_p = items[u, g_idx]
    frame = pd.DataFrame({
        "unit_id": [layout.units[x].id for x in u],
        "item_id": [layout.items[g].id for g in g_idx],
        "points": points_p / div,
        "deducted": (points_p - score_p) / div,
        "score": score_p / div,
    })
    if show_self:
        has = score.own.has[u, g_idx]
        frame["self_score"] = np.where(has, own[u, g_idx] / div, np.nan)
    precisions = set(p.tolist())
    if len(precisions) > 1:
        for col in [c for c in frame.columns if c not in ("unit_id", "item_id")]:
            frame[col] = [("" if np.isnan(v) else f"{v:.{int(pp)}f}") for v, pp in zip(frame[col], p)]
    prec = precisions.pop() if len(precisions) == 1 else 2
    text = frame.to_csv(index=False, float_format=f"%.{prec}f", na_rep="", lineterminator="\r\n")
    return (BOM + text).encode("utf-8")

