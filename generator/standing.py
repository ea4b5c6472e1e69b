"""Grades, ranks and awards, from the published (rounded) totals.

- Grade: the first band whose `min` the total reaches; a veto sets its grade instead.
- Rank: competition ranking (1, 2, 2, 4) within category and rulebook; a vetoed unit ranks after every
  unit without a veto, whatever its score (一票否决 puts it at the bottom of its class).
- Awards: `quota` (top N per category) or `share` (top ⌊n × share⌋ of the participants, or of each
  category), only at or above `min_score`, never for a vetoed unit; every unit tied at the cut-off
  is listed and flagged 并列 for the committee to decide.
"""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from .content import Award
from .score import RoundScore

CMP_DECIMALS = 4   # totals of every precision compared as integers of 10^-4


def settle(score: RoundScore) -> None:
    layout = score.layout
    n = layout.n_units
    vetoed = np.array([bool(v) for v in score.vetoes], dtype=bool)
    cmp = score.total * 10 ** (CMP_DECIMALS - score.precision)

    grades = [""] * n
    for b, book in enumerate(layout.books):
        p = book.precision
        us = np.flatnonzero(layout.book_of == b)
        names = np.full(len(us), book.grades[-1].name, dtype=object)
        assigned = np.zeros(len(us), dtype=bool)
        for grade in book.grades:
            threshold = math.ceil(grade.min * 10**p)
            hit = ~assigned & (score.total[us] >= threshold)
            names[hit] = grade.name
            assigned |= hit
        order = [g.name for g in book.grades]
        for j, u in enumerate(us):
            if score.vetoes[u]:
                veto_grades = [layout.vetoes[v][1].grade for v in score.vetoes[u]]
                names[j] = max(veto_grades, key=order.index)
            grades[u] = names[j]
    score.grade = grades

    key = np.where(vetoed, cmp - 10**15, cmp)
    group = [(u.category, int(layout.book_of[i])) for i, u in enumerate(layout.units)]
    rank = np.zeros(n, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    by_group: dict = {}
    for u, g in enumerate(group):
        by_group.setdefault(g, []).append(u)
    for members in by_group.values():
        m = np.array(members)
        ordered = np.sort(-key[m])
        rank[m] = np.searchsorted(ordered, -key[m], side="left") + 1
        size[m] = len(m)
    score.rank, score.rank_size = rank, size

    score.awards = [[] for _ in range(n)]
    score.award_lists = {}
    categories = np.array([u.category for u in layout.units], dtype=object)
    for award in layout.round.awards:
        winners = _award(award, cmp, vetoed, categories)
        score.award_lists[award.id] = winners
        for u, tied in winners:
            score.awards[u].append((award.id, tied))


def _award(award: Award, cmp: np.ndarray, vetoed: np.ndarray, categories: np.ndarray) -> list[tuple[int, bool]]:
    n = len(cmp)
    eligible = ~vetoed
    if award.min_score is not None:
        eligible &= cmp >= math.ceil(award.min_score * 10**CMP_DECIMALS)
    if award.categories:
        eligible &= np.isin(categories, list(award.categories))
    pools: list[tuple[np.ndarray, int]] = []
    if award.quota is not None:
        for cat, quota in award.quota.items():
            pools.append((np.flatnonzero(eligible & (categories == cat)), quota))
    elif award.per_category:
        for cat in dict.fromkeys(categories.tolist()):
            if award.categories and cat not in award.categories:
                continue
            members = categories == cat
            pools.append((np.flatnonzero(eligible & members), _share(members.sum(), award.share)))
    else:
        in_scope = np.isin(categories, list(award.categories)) if award.categories else np.ones(n, dtype=bool)
        pools.append((np.flatnonzero(eligible), _share(in_scope.sum(), award.share)))
    winners = []
    for pool, places in pools:
        if places <= 0 or len(pool) == 0:
            continue
        order = pool[np.argsort(-cmp[pool], kind="stable")]
        if len(order) <= places:
            chosen = order
            cut = None
        else:
            cut = cmp[order[places - 1]]
            chosen = order[cmp[order] >= cut]
        over = len(chosen) > places
        for u in chosen:
            winners.append((int(u), bool(over and cmp[u] == cut)))
    winners.sort(key=lambda w: (-cmp[w[0]], w[0]))
    return winners


def _share(n: int, share: Decimal) -> int:
    """⌊n × share⌋, exactly."""
    return int(math.floor(Decimal(int(n)) * share))
