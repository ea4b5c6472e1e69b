"""A round's shape: who takes part, under which rulebook, and the index of every id they may be scored on.

Scoring works on integer positions, not on ids: participant `u`, item `gi` (over all the round's
rulebooks), criterion `ci`, bonus rule `bi`, penalty `pi`, veto `vi`. `Layout` holds those tables
as numpy arrays once per round, so the scoring of 100,000 units is a handful of array operations.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .content import Content, Criterion, Item, Round, Rulebook, Unit
from .numbers import fp

NO_MAX = -1


@dataclass
class Layout:
    round: Round
    units: list[Unit]
    index: dict[str, int]
    books: list[Rulebook]
    book_of: np.ndarray            # u -> book index
    items: list[Item]
    item_book: np.ndarray          # gi -> book index
    item_points: np.ndarray        # gi -> points (fixed point)
    book_items: list[range]        # book index -> its gi range
    criteria: list[Criterion]
    crit_item: np.ndarray          # ci -> gi
    crit_deduct: np.ndarray
    crit_max: np.ndarray           # NO_MAX where uncapped
    crit_zero: np.ndarray
    bonus: list = field(default_factory=list)       # (book index, BonusRule)
    penalties: list = field(default_factory=list)   # (book index, Penalty)
    vetoes: list = field(default_factory=list)      # (book index, Veto)
    refs: dict = field(default_factory=dict)        # (book index, ref) -> (kind, position)

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def applies(self) -> np.ndarray:
        """Boolean U×I: item gi belongs to participant u's rulebook."""
        return self.book_of[:, None] == self.item_book[None, :]


def participants(rnd: Round, content: Content) -> list[Unit]:
    if rnd.participants is not None:
        return [content.units[uid] for uid in dict.fromkeys(rnd.participants)
                if uid in content.units and rnd.rulebook_for(content.units[uid].category) in content.rulebooks]
    if "*" in rnd.rulebooks:
        book = content.rulebooks.get(rnd.rulebooks["*"])
        if book is None:
            return []
        cats = set(book.applies_to)
        return [u for u in content.units.values() if (not cats or u.category in cats) and u.active_in(rnd.year)]
    return [u for u in content.units.values()
            if rnd.rulebooks.get(u.category) in content.rulebooks and u.active_in(rnd.year)]


def build_layout(rnd: Round, content: Content) -> Layout:
    units = participants(rnd, content)
    book_ids = list(dict.fromkeys(rnd.rulebook_for(u.category) for u in units))
    # keep the order the round lists its rulebooks in, then any others
    listed = [b for b in dict.fromkeys(rnd.rulebooks.values()) if b in book_ids]
    book_ids = listed + [b for b in book_ids if b not in listed]
    books = [content.rulebooks[b] for b in book_ids]
    book_pos = {b.id: i for i, b in enumerate(books)}
    book_of = np.array([book_pos[rnd.rulebook_for(u.category)] for u in units], dtype=np.int64)

    items, item_book, ranges = [], [], []
    criteria, crit_item, crit_deduct, crit_max, crit_zero = [], [], [], [], []
    refs: dict = {}
    layout_bonus, layout_pen, layout_veto = [], [], []
    for b, book in enumerate(books):
        start = len(items)
        for item in book.items:
            gi = len(items)
            items.append(item)
            item_book.append(b)
            refs[(b, item.id)] = ("item", gi)
            for c in item.criteria:
                refs[(b, c.id)] = ("criterion", len(criteria))
                criteria.append(c)
                crit_item.append(gi)
                crit_deduct.append(fp(c.deduct))
                crit_max.append(fp(c.max_deduct) if c.max_deduct is not None else NO_MAX)
                crit_zero.append(c.zero)
        ranges.append(range(start, len(items)))
        for rule in book.bonus:
            refs[(b, rule.id)] = ("bonus", len(layout_bonus))
            layout_bonus.append((b, rule))
        for pen in book.penalties:
            refs[(b, pen.id)] = ("penalty", len(layout_pen))
            layout_pen.append((b, pen))
        for veto in book.vetoes:
            refs[(b, veto.id)] = ("veto", len(layout_veto))
            layout_veto.append((b, veto))

    return Layout(
        round=rnd, units=units, index={u.id: i for i, u in enumerate(units)}, books=books, book_of=book_of,
        items=items, item_book=np.array(item_book, dtype=np.int64),
        item_points=np.array([fp(it.points) for it in items], dtype=np.int64), book_items=ranges,
        criteria=criteria, crit_item=np.array(crit_item, dtype=np.int64),
        crit_deduct=np.array(crit_deduct, dtype=np.int64), crit_max=np.array(crit_max, dtype=np.int64),
        crit_zero=np.array(crit_zero, dtype=bool), bonus=layout_bonus, penalties=layout_pen,
        vetoes=layout_veto, refs=refs)
