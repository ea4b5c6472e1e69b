"""`Grid`: exact scores of participants × items.

Most scores are fixed-point integers (`fp`, at `scale`); a score that came out of a division (a
rating's weighted mean, a mean over earlier rounds, an aggregate of children) is kept as an exact
`Fraction` in `exact`, with 0 in `fp`. `has` says where a value exists (a 自评 score may be absent).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np


class Grid:
    __slots__ = ("fp", "exact", "has", "scale")

    def __init__(self, n_units: int, n_items: int, scale: int):
        self.fp = np.zeros((n_units, n_items), dtype=np.int64)
        self.exact: dict[tuple[int, int], Fraction] = {}
        self.has = np.zeros((n_units, n_items), dtype=bool)
        self.scale = scale

    def set_exact(self, u: int, gi: int, value: Fraction) -> None:
        """Store a Fraction (in points); kept in `fp` when it is a whole number of 1/scale."""
        scaled = value * self.scale
        if scaled.denominator == 1:
            self.fp[u, gi] = int(scaled)
            self.exact.pop((u, gi), None)
        else:
            self.fp[u, gi] = 0
            self.exact[(u, gi)] = value
        self.has[u, gi] = True

    def value(self, u: int, gi: int) -> Fraction:
        hit = self.exact.get((u, gi))
        return hit if hit is not None else Fraction(int(self.fp[u, gi]), self.scale)

    def row_totals(self) -> tuple[np.ndarray, dict[int, Fraction]]:
        """Per unit: the fixed-point sum, and for units with exact cells the exact Fraction total."""
        sums = self.fp.sum(axis=1)
        exact: dict[int, Fraction] = {}
        for (u, _gi), value in self.exact.items():
            exact[u] = exact.get(u, Fraction(int(sums[u]), self.scale)) + value
        return sums, exact

    def unit_total(self, u: int) -> Fraction:
        total = Fraction(int(self.fp[u].sum()), self.scale)
        for (uu, _gi), value in self.exact.items():
            if uu == u:
                total += value
        return total
