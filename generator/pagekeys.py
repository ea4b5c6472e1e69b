"""Page keys: a digest of everything a page is made from, computed without making the page.

A rebuild keeps a page whose key (with the theme and the generator: render.Renderer.fingerprint) is the
one recorded in the manifest, so the page's model is never built and nothing is rendered. Keys are
deliberately wide: a key covers *everything* the page's model is computed from (the round, its
rulebooks, its units, the unit's result rows and scores, its category's shown averages, its result in
the previous year, its corrections), so a page can be re-rendered needlessly but never kept stale.
tests/test_incremental.py checks that rebuilds equal full builds after random edits.

For a scorecard the key is made of three parts:
- the view key: the round as this view shows it (card, base URL, status), its rulebooks and units, and
  what the profile hides;
- the category key: the category's section averages as shown and as drawn;
- the unit key: the unit's row of every score array, its result rows, grade, vetoes, awards, exact
  values, corrections and previous result (and its children's totals when the rulebook has an
  aggregate item).
A unit page is keyed on the unit and, per round it took part in, the view key and the unit's summary
(total, grade, rank, awards, veto), which is all it shows of a round.
"""
from __future__ import annotations

import hashlib
import io
import operator
import pickle
from collections import defaultdict
from dataclasses import fields

import numpy as np

from .content import Unit


def dumps(value) -> bytes:
    """`value` pickled without the memo, so that the bytes depend on the values only. With the memo, a
    second reference to the same object is written as a back-reference, so equal values held by shared or
    by separate objects (a grade name from this build's rulebook or from a round kept from the last build,
    warm.py) would pickle differently and needlessly change a key. Key values never refer to themselves."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True
    pickler.dump(value)
    return out.getvalue()


# A unit as a tuple of its fields, for keys: pickling the frozen dataclass itself goes through dataclasses'
# __getstate__, in Python (28 ms for the 10,000 units of a round's view key, against 6 ms for these tuples).
UNIT_STATE = operator.attrgetter(*(f.name for f in fields(Unit)))
CATEGORY = operator.attrgetter("category")


def units_state(units) -> list[tuple]:
    return list(map(UNIT_STATE, units))


PATH_FIELDS = frozenset(("path", "yaml_path"))   # where a file was read from, as messages name it


def pathless(value):
    """`value` (a round, a rulebook, a notice's source: frozen dataclasses) as a key sees it: every field but
    the paths messages name their files by, which follow the content folder as typed on the command line
    (`content`, `./content`, an absolute path). No page shows them, and with them the same content built
    from another working folder or spelling made every page's key new: a rebuild drew all 40,000 pages of
    a 10,000-unit site again."""
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return (type(value).__name__, tuple(pathless(getattr(value, f.name)) for f in fields(value)
                                           if f.name not in PATH_FIELDS))
    if isinstance(value, (tuple, list)):
        return tuple(pathless(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, pathless(v)) for k, v in value.items())
    return value


def digest(*parts) -> bytes:
    return hashlib.sha256(dumps(parts)).digest()


class RoundKeys:
    """The page keys of one RoundView (scorecards, overview, notice)."""

    def __init__(self, view, before: "RoundKeys | None" = None):
        """`before` (serve): the keys of the previous rebuild's view of the same round, whose unit keys are
        taken for the units whose every input is the same (carried()); the others are computed."""
        self.view = view
        layout = view.layout
        card = view.card
        self.view_key = digest(view.base, card, pathless(layout.round), pathless(layout.books), units_state(layout.units),
                               view.show_notes, view.show_self, view.multi_source)
        self.matrix = unit_matrix(view)
        self.categories: dict = {}
        self.kids = children_of(layout)
        self._units: list[bytes] | None = None
        self._own: dict[int, bytes] = {}       # unit -> own key (own()), for the units whose key was computed
        self._data: list[bytes] | None = None
        # which units show the same summary (total, grade, rank, awards, veto) as in `before` under the same
        # view key, all a unit page shows of the round (pages.SiteModel.unit_page_keys); False when unknown
        self.kept_summaries = False
        self._carried = self.carried(before) if before is not None else None
        # a unit whose page key is carried has the same data key too (made from a subset of the same values)
        self._carried_data = [before._data[u] if key is not None else None for u, key in enumerate(self._carried)] \
            if self._carried is not None and before._data is not None else None

    @classmethod
    def stored(cls, view, view_key: bytes, units: list[bytes]) -> "RoundKeys":
        """The keys of a view made from the same inputs as one whose keys were stored (cache.py)."""
        keys = cls.__new__(cls)
        keys.view, keys.view_key, keys._units = view, view_key, units
        keys.categories, keys.kids, keys.matrix, keys._data, keys._own = {}, children_of(view.layout), None, None, {}
        keys._carried = keys._carried_data = None
        keys.kept_summaries = False
        return keys

    def category(self, category: str, b: int) -> bytes:
        key = (category, b)
        if key not in self.categories:
            self.categories[key] = digest(self.view.category_averages(category, b))
        return self.categories[key]

    def unit(self, u: int) -> bytes:
        if self._units is not None:
            return self._units[u]
        return self._unit(u)

    def _unit(self, u: int) -> bytes:
        view, score, layout = self.view, self.view.score, self.view.layout
        unit = layout.units[u]
        rows = view.row_values(u)
        kids = [view.totals[c] for c in self.kids.get(unit.id, ())] if self.kids is not None else ()
        previous = view.history(unit.id, view.rnd) if view.history else None
        corrections = view.corrections.get(unit.id) if view.corrections else None
        # self scores are shown as published (view.own, in the matrix), so their exact values need no place here
        rest = dumps((rows, score.grade[u], score.vetoes[u], score.awards[u], view.exact_by_unit.get(u),
                      kids, previous, corrections))
        b = int(layout.book_of[u])
        own = self._own[u] = hashlib.sha256(self.view_key + self.matrix[u].tobytes() + rest).digest()
        return hashlib.sha256(own + self.category(unit.category, b)).digest()

    def own(self, u: int) -> bytes:
        """The key of everything a unit's scorecard shows but its category's averages (holes.py)."""
        own = self._own.get(u)
        if own is None:
            if self.matrix is None:
                self.matrix = unit_matrix(self.view)
            self._unit(u)
            own = self._own[u]
        return own

    def summary(self, u: int) -> tuple:
        """What a unit page shows of this round: total, grade, rank, awards, veto (with the view key)."""
        score = self.view.score
        return (int(score.total[u]), int(score.precision[u]), score.grade[u], int(score.rank[u]),
                int(score.rank_size[u]), score.awards[u], score.vetoes[u])

    def units(self) -> list[bytes]:
        if self._units is None:
            carried = self._carried
            self._units = [self._unit(u) for u in range(self.view.layout.n_units)] if carried is None else \
                [key if key is not None else self._unit(u) for u, key in enumerate(carried)]
            self._carried = None
        return self._units

    def missing(self) -> int:
        """How many unit keys are still to be computed."""
        if self._units is not None:
            return 0
        if self._carried is None:
            return self.view.layout.n_units
        return self._carried.count(None)

    def carried(self, before: "RoundKeys") -> list | None:
        """Per unit, the key `before` has for it when the unit's key is made from the same values in both
        views (so it would be the same), else None; None for every unit when the views differ in more
        than scores (the view key), or `before` is not whole. The caller (pages.SiteModel) passes only a
        `before` whose view showed the same previous-year results (the rounds of the year before kept).

        Compared per unit: its row of the score matrix, its result rows (column by column, vectorised),
        its category's averages, grade, vetoes and awards, exact values and corrections (by their pickled
        bytes where either has any, since equal numbers of different types would pickle differently)."""
        if before._units is None or before.matrix is None or before.view_key != self.view_key \
                or self.kids is not None or before.kids is not None or before.matrix.shape != self.matrix.shape:
            return None
        new, old = self.view, before.view
        n = new.layout.n_units
        same = (self.matrix == before.matrix).all(axis=1)
        # result rows: units with as many rows as before, compared row by row at the same offset
        starts_new, starts_old = np.asarray(new.starts, dtype=np.int64), np.asarray(old.starts, dtype=np.int64)
        counts = np.diff(starts_new)
        same &= counts == np.diff(starts_old)
        unit_of_row = np.repeat(np.arange(n), counts)
        rows = np.flatnonzero(same[unit_of_row])
        rows_old = rows + (starts_old[:-1] - starts_new[:-1])[unit_of_row[rows]]
        differ = np.zeros(len(rows), dtype=bool)
        for col_new, col_old in zip(new.cols, old.cols):
            if col_new.dtype != col_old.dtype:
                return None
            differ |= np.asarray(col_new[rows] != col_old[rows_old], dtype=bool)
        same[unit_of_row[rows[differ]]] = False
        # per unit values, most of them empty or shared by many units
        units = new.layout.units
        score_new, score_old = new.score, old.score
        pairs = list(zip(map(CATEGORY, units), new.layout.book_of.tolist()))
        categories = {pair: self.category(*pair) == before.category(*pair) for pair in set(pairs)}
        same &= np.array([categories[pair] for pair in pairs], dtype=bool)
        # what a unit page shows of the round (summary()): total, precision, rank and rank size are the first
        # four of the matrix's last seven columns (unit_matrix)
        summary = (self.matrix[:, -7:-3] == before.matrix[:, -7:-3]).all(axis=1)
        summary &= np.array([type(a) is type(b) and a == b for a, b in zip(score_new.grade, score_old.grade)], dtype=bool)
        for new_values, old_values in ((score_new.vetoes, score_old.vetoes), (score_new.awards, score_old.awards)):
            summary &= np.array([a == b and (not a or dumps(a) == dumps(b)) for a, b in zip(new_values, old_values)],
                                dtype=bool)
        self.kept_summaries = summary
        same &= summary
        for u in set(new.exact_by_unit) | set(old.exact_by_unit):
            if same[u] and dumps(new.exact_by_unit.get(u)) != dumps(old.exact_by_unit.get(u)):
                same[u] = False
        if new.corrections or old.corrections:
            position = {unit.id: u for u, unit in enumerate(units)}
            for unit_id in set(new.corrections or ()) | set(old.corrections or ()):
                u = position.get(unit_id)
                if u is not None and same[u] and dumps((new.corrections or {}).get(unit_id)) != \
                        dumps((old.corrections or {}).get(unit_id)):
                    same[u] = False
        keys = before._units
        return [keys[u] if ok else None for u, ok in enumerate(same.tolist())]

    def data(self) -> list[bytes]:
        """The key of each unit's rows in the data files (data.RowCache): what they show, the unit and the
        round as in the view key, the unit's row of the score matrix, grade, vetoes and awards. Narrower
        than its page key, which also covers the category's averages and the year before that a scorecard
        shows: after a correction that moves an average, the rows of the category are not made again."""
        if self._data is None:
            score = self.view.score
            matrix = self.matrix if self.matrix is not None else unit_matrix(self.view)
            head = self.view_key
            carried = self._carried_data or [None] * self.view.layout.n_units
            self._data = [key or hashlib.sha256(head + matrix[u].tobytes()
                                                + dumps((score.grade[u], score.vetoes[u], score.awards[u]))).digest()
                          for u, key in enumerate(carried)]
            self._carried_data = None
        return self._data

    def ready(self) -> bool:
        return self._units is not None

    def whole(self, *extra) -> bytes:
        """A page that shows every unit of the round (the overview, the 通报)."""
        return hashlib.sha256(self.view_key + b"".join(self.units()) + digest(*extra)).digest()


def children_of(layout) -> dict | None:
    """parent id -> positions of its children in the round, when the round has an aggregate item (a
    unit's scorecard then shows its children's totals), else None."""
    if not any(item.kind == "aggregate" for item in layout.items):
        return None
    kids = defaultdict(list)
    for c, unit in enumerate(layout.units):
        if unit.parent_id:
            kids[unit.parent_id].append(c)
    return kids


def unit_matrix(view) -> np.ndarray:
    """Every number of a unit's page that is one per unit (or per unit and item), a row per unit; the last
    seven columns are its total, precision, rank, rank size, bonus, bonus before the cap and penalty."""
    score = view.score
    columns = [score.item.fp, view.items, view.own, score.own.has,
               np.stack([score.total, score.precision, score.rank, score.rank_size, score.bonus, score.bonus_raw,
                         score.penalty], axis=1)]
    return np.ascontiguousarray(np.hstack([np.asarray(c, dtype=np.int64) for c in columns]))


HELPED = 5000          # below this many unit keys to compute, forking a helper costs more than it saves


def compute_units(todo: list[RoundKeys], helper: bool) -> None:
    """Compute the unit keys of each RoundKeys in `todo`. With `helper` (a second core that would otherwise
    wait) and at least HELPED keys, a forked process computes the odd units' keys while this one computes
    the even ones, and sends them back as bytes (32 per key): the keys are the same either way. At 10,000
    units and three rounds this is 0.5 s of a rebuild after a correction, before any page is rendered."""
    if helper and sum(k.missing() for k in todo) >= HELPED and not any(k._carried is not None for k in todo):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_odd_units, args=(todo, send), daemon=True)
        proc.start()
        send.close()
        even = [[k._unit(u) for u in range(0, k.view.layout.n_units, 2)] for k in todo]
        try:
            odd = receive.recv()
        except EOFError:             # the helper failed: its keys are computed here instead
            odd = None
        proc.join()
        if odd is not None and len(odd) == len(todo):
            for keys, mine, theirs in zip(todo, even, odd):
                units: list = [None] * keys.view.layout.n_units
                units[0::2] = mine
                units[1::2] = [theirs[i:i + 32] for i in range(0, len(theirs), 32)]
                keys._units = units
    for keys in todo:
        keys.units()


def _odd_units(todo: list[RoundKeys], send) -> None:
    send.send([b"".join(k._unit(u) for u in range(1, k.view.layout.n_units, 2)) for k in todo])
    send.close()
