"""Scoring each kind of item for one source: pure functions of a Layout, coded rows and a Grid.

Every function fills the cells of its items in `grid` (fixed point at SCALE) and marks them in
`grid.has`; cells left unmarked have no value (see `score.missing_values`).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from .content import ABSTAIN_RATINGS
from .grid import Grid
from .layout import NO_MAX, Layout
from .numbers import SCALE, fp


def deductions(layout: Layout, rows: pd.DataFrame, grid: Grid, applies: np.ndarray) -> None:
    """Deduction items: full points, less Σ min(count × deduct, max_deduct) over criteria, floored at 0
    (扣完为止); 0 if a `zero` criterion occurred."""
    kinds = np.array([it.kind == "deduction" for it in layout.items], dtype=bool)
    if not kinds.any():
        return
    cols = np.flatnonzero(kinds)
    grid.fp[:, cols] = np.where(applies[:, cols], layout.item_points[cols][None, :], 0)
    grid.has[:, cols] = applies[:, cols]
    crit = rows[rows["kind"] == "criterion"]
    if crit.empty:
        return
    n_crit = len(layout.criteria)
    key = crit["u"].to_numpy() * n_crit + crit["idx"].to_numpy()
    keys, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse, weights=None, minlength=len(keys)).astype(np.int64) * 0
    np.add.at(counts, inverse, crit["count"].to_numpy())
    u = keys // n_crit
    ci = keys % n_crit
    ded = counts * layout.crit_deduct[ci]
    cap = layout.crit_max[ci]
    ded = np.where(cap != NO_MAX, np.minimum(ded, cap), ded)
    zero = layout.crit_zero[ci] & (counts > 0)
    gi = layout.crit_item[ci]
    n_items = layout.n_items
    cell = u * n_items + gi
    cells, cinv = np.unique(cell, return_inverse=True)
    total = np.zeros(len(cells), dtype=np.int64)
    np.add.at(total, cinv, ded)
    zeroed = np.zeros(len(cells), dtype=bool)
    np.logical_or.at(zeroed, cinv, zero)
    cu, cg = cells // n_items, cells % n_items
    score = np.maximum(layout.item_points[cg] - total, 0)
    grid.fp[cu, cg] = np.where(zeroed, 0, score)


def tiers(layout: Layout, rows: pd.DataFrame, grid: Grid) -> None:
    """Tiers: the score of the first band (highest min first) that the measured value reaches."""
    measured = rows[rows["kind"] == "measure"]
    for gi, group in measured.groupby("gi", sort=True):
        item = layout.items[gi]
        if item.kind != "tiers":
            continue
        mins = np.array([fp(t.min) for t in reversed(item.tiers)], dtype=np.int64)
        scores = np.array([fp(t.score) for t in reversed(item.tiers)], dtype=np.int64)
        u = group["u"].to_numpy()
        k = np.searchsorted(mins, group["value"].to_numpy(), side="right")
        grid.fp[u, gi] = np.where(k > 0, scores[np.maximum(k - 1, 0)], 0)
        grid.has[u, gi] = True


def ranks(layout: Layout, rows: pd.DataFrame, grid: Grid) -> None:
    """Rank: competition rank of the measured value among the round's units under the rulebook,
    scored by the first band whose `top` the rank is within."""
    measured = rows[rows["kind"] == "measure"]
    for gi, group in measured.groupby("gi", sort=True):
        item = layout.items[gi]
        if item.kind != "rank":
            continue
        values = group["value"].to_numpy()
        key = -values if item.rank_desc else values
        ordered = np.sort(key)
        rank = np.searchsorted(ordered, key, side="left") + 1   # 1 + number strictly better
        score = np.zeros(len(values), dtype=np.int64)
        done = np.zeros(len(values), dtype=bool)
        for band in item.rank_bands:
            hit = ~done if band.top is None else (~done & (rank <= band.top))
            score[hit] = fp(band.score)
            done |= hit
        u = group["u"].to_numpy()
        grid.fp[u, gi] = score
        grid.has[u, gi] = True


def entered(rows: pd.DataFrame, grid: Grid, kind: str) -> None:
    """Scores as entered: `score` rows of direct items (checked to lie within 0..points), or `self`
    rows, the unit's own 自评 scores (shown beside; weight 0 unless composed)."""
    scored = rows[rows["kind"] == kind]
    if scored.empty:
        return
    u, gi = scored["u"].to_numpy(), scored["gi"].to_numpy()
    grid.fp[u, gi] = scored["value"].to_numpy()
    grid.has[u, gi] = True


def votes(layout: Layout, rows: pd.DataFrame, grid: Grid) -> None:
    """Votes: points × Σ(votes × rating_scale[r]) / Σ votes, whatever the item's kind.
    Abstentions (不了解…) are left out of both sums; an item with only abstentions has no value."""
    cast = rows[rows["kind"] == "vote"]
    if cast.empty:
        return
    tally = cast.groupby(["u", "gi", "rating"], sort=True)["count"].sum()
    current = None
    num = den = 0
    for (u, gi, rating), count in tally.items():
        if (u, gi) != current:
            _store_vote(layout, grid, current, num, den)
            current, num, den = (u, gi), 0, 0
        if rating in ABSTAIN_RATINGS:
            continue
        scale = layout.books[layout.item_book[gi]].rating_scale
        num += int(count) * fp(scale[rating])
        den += int(count)
    _store_vote(layout, grid, current, num, den)


def _store_vote(layout: Layout, grid: Grid, cell, num: int, den: int) -> None:
    if cell is None or den == 0:
        return
    u, gi = cell
    grid.set_exact(int(u), int(gi), Fraction(int(layout.item_points[gi]) * num, SCALE * SCALE * den))


def aggregate(points: Fraction, stat: str, ratios: list[Fraction]) -> Fraction:
    """Aggregate: min(points, points × stat(child total / child max))."""
    ratios = sorted(ratios)
    if stat == "min":
        s = ratios[0]
    elif stat == "max":
        s = ratios[-1]
    elif stat == "median":
        mid = len(ratios) // 2
        s = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    else:
        s = sum(ratios, Fraction(0)) / len(ratios)
    return min(points, points * s)
