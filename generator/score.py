"""Scoring a round: item scores per source, composition, bonus and penalties, totals.

Data in, data out: `score_round` takes the content, the checked rows and the already scored rounds
it draws on (from_rounds), and returns a `RoundScore`; it never reads or writes a file.
Grades, ranks and awards are added by `standing.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from . import items as kinds
from .content import SELF_SOURCE, Content, Round
from .errors import Report
from .grid import Grid
from .layout import Layout, build_layout
from .numbers import DECIMALS, SCALE, fp, round_half_up
from .results import check_rows

SCALE2 = SCALE * SCALE
LISTED = 10   # unit ids named in one "missing value" message


@dataclass
class RoundScore:
    layout: Layout
    rows: pd.DataFrame
    grids: dict              # source -> Grid of item scores (SCALE)
    own: Grid                # 自评 scores (SCALE), present where has
    item: Grid               # composed item scores (SCALE²)
    bonus_raw: np.ndarray    # Σ bonus before the cap (SCALE)
    bonus: np.ndarray        # after the cap (SCALE)
    penalty: np.ndarray      # (SCALE)
    vetoes: list             # per unit: tuple of veto positions
    total: np.ndarray        # published total, integer of 10^-precision
    precision: np.ndarray
    exact: dict = field(default_factory=dict)   # u -> exact unrounded total, where it is not a whole fp
    grade: list = field(default_factory=list)
    rank: np.ndarray | None = None
    rank_size: np.ndarray | None = None
    awards: list = field(default_factory=list)  # per unit: list of (award id, tied)
    award_lists: dict = field(default_factory=dict)  # award id -> list of (u, tied)

    def item_value(self, u: int, gi: int) -> Fraction:
        return self.item.value(u, gi)


def score_round(rnd: Round, content: Content, frame: pd.DataFrame, prior: dict, report: Report,
                memo=None, layout: Layout | None = None) -> RoundScore:
    """`layout`: the round's build_layout(), when the caller has it (it is read-only, so the states of a
    round can share it)."""
    layout = layout or build_layout(rnd, content)
    rows = check_rows(layout, frame, content, report, memo(layout) if memo is not None else None)
    applies = layout.applies()
    shape = (layout.n_units, layout.n_items)
    grids = {}
    for source in rnd.composition:
        if source == SELF_SOURCE:
            continue
        if rnd.from_rounds:
            grids[source] = _from_rounds(layout, prior, source, applies, report)
        else:
            grids[source] = _score_source(layout, rows[rows["source"] == source], applies)
    own = _from_rounds(layout, prior, SELF_SOURCE, applies, report) if rnd.from_rounds else Grid(*shape, SCALE)
    if not rnd.from_rounds:
        kinds.entered(rows, own, "self")
    _fill_missing(layout, grids, own, applies, report)

    bonus_raw, bonus, penalty, vetoes = _unit_level(layout, rows)
    weights = {s: fp(w) for s, w in rnd.composition.items()}
    sources = dict(grids)
    if SELF_SOURCE in weights:
        sources[SELF_SOURCE] = own
    item = _compose(sources, weights, shape)
    precision = np.array([layout.books[b].precision for b in layout.book_of], dtype=np.int64)
    score = RoundScore(layout, rows, grids, own, item, bonus_raw, bonus, penalty, vetoes,
                       np.zeros(layout.n_units, dtype=np.int64), precision)
    _totals(score)
    _aggregates(score, sources, weights, applies, report)
    return score


def _score_source(layout: Layout, rows: pd.DataFrame, applies: np.ndarray) -> Grid:
    grid = Grid(layout.n_units, layout.n_items, SCALE)
    kinds.deductions(layout, rows, grid, applies)
    kinds.tiers(layout, rows, grid)
    kinds.ranks(layout, rows, grid)
    kinds.entered(rows, grid, "score")
    kinds.votes(layout, rows, grid)
    return grid


def _fill_missing(layout: Layout, grids: dict, own: Grid, applies: np.ndarray, report: Report) -> None:
    """An item that needs a value and has none takes its `default`, or is an error."""
    rnd = layout.round
    needs = np.array([it.needs_value for it in layout.items], dtype=bool)
    checks = list(grids.items())
    if SELF_SOURCE in rnd.composition:
        needs_self = np.array([it.kind != "aggregate" for it in layout.items], dtype=bool)
        checks.append((SELF_SOURCE, own))
    for source, grid in checks:
        wanted = needs_self if source == SELF_SOURCE else needs
        missing = applies & ~grid.has & wanted[None, :]
        for gi in np.flatnonzero(missing.any(axis=0)):
            item = layout.items[gi]
            us = np.flatnonzero(missing[:, gi])
            if item.default is not None and source != SELF_SOURCE:
                grid.fp[us, gi] = fp(item.default)
                grid.has[us, gi] = True
                continue
            names = "、".join(layout.units[u].id for u in us[:LISTED]) + (f" 等 {len(us)} 个单位" if len(us) > LISTED else "")
            what = "自评分" if source == SELF_SOURCE else {"rating": "测评票", "direct": "得分"}.get(item.kind, "数值")
            if rnd.from_rounds:
                report.error(rnd.yaml_path, rnd.line_of.get("from_rounds"),
                             f"{names} 在 from_rounds 的各轮次中都没有项目 {item.id}“{item.title}”(来源 {source})的得分;请检查这些单位是否参加了分轮次")
                continue
            hint = "" if source == SELF_SOURCE else f",或在细则中为项目 {item.id} 设置 default"
            report.error(rnd.path, None, f"{names} 缺少项目 {item.id}“{item.title}”(来源 {source})的{what};"
                                         f"请在结果文件中补录(unit_id,ref={item.id},value,source={source}){hint}")


def _unit_level(layout: Layout, rows: pd.DataFrame):
    n = layout.n_units
    bonus_raw = np.zeros(n, dtype=np.int64)
    penalty = np.zeros(n, dtype=np.int64)
    for kind, rules, attr, out in (("bonus", layout.bonus, "add", bonus_raw), ("penalty", layout.penalties, "deduct", penalty)):
        sub = rows[rows["kind"] == kind]
        if sub.empty:
            continue
        counts = sub.groupby(["u", "idx"], sort=True)["count"].sum()
        u = counts.index.get_level_values(0).to_numpy()
        idx = counts.index.get_level_values(1).to_numpy()
        each = np.array([fp(getattr(rules[i][1], attr)) for i in range(len(rules))], dtype=np.int64)
        cap = np.array([fp(rules[i][1].max) if rules[i][1].max is not None else -1 for i in range(len(rules))], dtype=np.int64)
        amount = counts.to_numpy() * each[idx]
        amount = np.where(cap[idx] >= 0, np.minimum(amount, cap[idx]), amount)
        np.add.at(out, u, amount)
    caps = np.array([fp(b.bonus_cap) if b.bonus_cap is not None else -1 for b in layout.books], dtype=np.int64)
    unit_cap = caps[layout.book_of] if n else np.zeros(0, dtype=np.int64)
    bonus = np.where(unit_cap >= 0, np.minimum(bonus_raw, unit_cap), bonus_raw)
    vetoes = [()] * n
    sub = rows[(rows["kind"] == "veto") & (rows["count"] > 0)]
    if not sub.empty:
        found: dict[int, list] = {}
        for u, idx in sorted(set(zip(sub["u"].tolist(), sub["idx"].tolist()))):
            found.setdefault(u, []).append(idx)
        for u, idxs in found.items():
            vetoes[u] = tuple(idxs)
    return bonus_raw, bonus, penalty, vetoes


def _compose(sources: dict, weights: dict, shape) -> Grid:
    """Σ weight × source item score, exact, at SCALE²."""
    item = Grid(*shape, SCALE2)
    exact_cells = set()
    for source, grid in sources.items():
        item.fp += grid.fp * weights[source]
        item.has |= grid.has
        exact_cells.update(grid.exact)
    for u, gi in exact_cells:
        item.set_exact(u, gi, sum((Fraction(weights[s]) / SCALE * g.value(u, gi) for s, g in sources.items()), Fraction(0)))
    return item


def _totals(score: RoundScore, only=None) -> None:
    """Total = Σ composed items + capped bonus − penalties, floored at 0, rounded half-up."""
    adjust = (score.bonus - score.penalty) * SCALE
    if only is not None:
        for u in only:
            _exact_total(score, u, score.item.unit_total(u), int(adjust[u]))
        return
    sums, exact = score.item.row_totals()
    raw = np.maximum(sums + adjust, 0)
    q = 10 ** (2 * DECIMALS - score.precision)
    score.total[:] = (raw + q // 2) // q
    for u, value in exact.items():
        _exact_total(score, u, value, int(adjust[u]))


def _exact_total(score: RoundScore, u: int, items_total: Fraction, adjust: int) -> None:
    value = max(items_total + Fraction(adjust, SCALE2), Fraction(0))
    if (value * SCALE2).denominator == 1:
        score.exact.pop(u, None)
    else:
        score.exact[u] = value
    score.total[u] = round_half_up(value, int(score.precision[u]))


def _aggregates(score: RoundScore, sources: dict, weights: dict, applies, report: Report) -> None:
    """Aggregate items: a unit scored on its children in this round, after the children are totalled."""
    layout = score.layout
    agg_cols = [gi for gi, it in enumerate(layout.items) if it.kind == "aggregate"]
    if not agg_cols:
        return
    pending = {u for u in range(layout.n_units) if applies[u, agg_cols].any()}
    children: dict[int, list[int]] = {u: [] for u in pending}
    for c, unit in enumerate(layout.units):
        parent = layout.index.get(unit.parent_id) if unit.parent_id else None
        if parent in children:
            children[parent].append(c)
    while pending:
        ready = [u for u in sorted(pending) if not any(c in pending for c in children[u])]
        if not ready:
            break
        for u in ready:
            pending.discard(u)
            for gi in agg_cols:
                if not applies[u, gi]:
                    continue
                item = layout.items[gi]
                kids = children[u]
                if kids:
                    ratios = [Fraction(int(score.total[c]), 10 ** int(score.precision[c])) / Fraction(layout.books[layout.book_of[c]].total)
                              for c in kids]
                    value = kinds.aggregate(Fraction(item.points), item.aggregate_stat, ratios)
                elif item.default is not None:
                    value = Fraction(item.default)
                else:
                    unit = layout.units[u]
                    report.error(layout.round.path, None, f"单位 {unit.id}({unit.name})的汇总项 {item.id}“{item.title}”按下级单位得分换算,"
                                                          f"但本轮次没有它的下级单位参评;请在 units.csv 中为下级单位填写 parent_id: {unit.id},"
                                                          f"或在细则中为该项设置 default")
                    value = Fraction(0)
                for grid in sources.values():
                    grid.set_exact(u, gi, value)
                score.item.set_exact(u, gi, sum((Fraction(weights[s]) / SCALE * value for s in sources), Fraction(0)))
            _totals(score, only=[u])


def _from_rounds(layout: Layout, prior: dict, source: str, applies: np.ndarray, report: Report) -> Grid:
    """This round's item scores as the mean (or sum) of earlier rounds' scores of the same source."""
    rnd = layout.round
    shape = (layout.n_units, layout.n_items)
    sums = np.zeros(shape, dtype=np.int64)
    cnt = np.zeros(shape, dtype=np.int64)
    extra: dict = {}
    line = rnd.line_of.get("from_rounds")
    for sub_id in rnd.from_rounds:
        sub = prior.get(sub_id)
        if sub is None:
            continue
        g = sub.own if source == SELF_SOURCE else sub.grids.get(source)
        if g is None:
            report.error(rnd.yaml_path, line, f"分轮次 {sub_id} 没有来源“{source}”的得分;请使两者的 composition 一致")
            continue
        sub_books = {b.id: i for i, b in enumerate(sub.layout.books)}
        for b, book in enumerate(layout.books):
            us = np.flatnonzero(layout.book_of == b)
            u_sub = np.array([sub.layout.index.get(layout.units[u].id, -1) for u in us], dtype=np.int64)
            there = u_sub >= 0
            sb = sub_books.get(book.id, -2)
            wrong = there & (sub.layout.book_of[np.maximum(u_sub, 0)] != sb) if len(us) else there
            for u in us[wrong]:
                report.error(rnd.yaml_path, line, f"单位 {layout.units[u].id} 在分轮次 {sub_id} 中适用的细则与本轮次({book.id})不同,无法汇总;请使各轮次对该单位适用同一本细则")
            ok = there & ~wrong
            if not ok.any():
                continue
            cols = np.array(list(layout.book_items[b]), dtype=np.int64)
            sub_cols = np.array([sub.layout.refs[(sb, layout.items[gi].id)][1] for gi in cols], dtype=np.int64)
            rows_here, rows_sub = us[ok], u_sub[ok]
            block_has = g.has[np.ix_(rows_sub, sub_cols)]
            sums[np.ix_(rows_here, cols)] += np.where(block_has, g.fp[np.ix_(rows_sub, sub_cols)], 0)
            cnt[np.ix_(rows_here, cols)] += block_has
            if g.exact:
                back_u = {int(s): int(h) for s, h in zip(rows_sub, rows_here)}
                back_c = {int(s): int(h) for s, h in zip(sub_cols, cols)}
                for (su, sg), value in g.exact.items():
                    if su in back_u and sg in back_c:
                        key = (back_u[su], back_c[sg])
                        extra[key] = extra.get(key, Fraction(0)) + value
    grid = Grid(*shape, SCALE)
    has = applies & (cnt > 0)
    mean = rnd.from_stat == "mean"
    div = np.maximum(cnt, 1) if mean else np.ones(shape, dtype=np.int64)
    whole = (sums % div == 0) & has
    grid.fp = np.where(whole, sums // div, 0)
    grid.has = has
    for u, gi in zip(*np.nonzero(has & ~whole)):
        grid.set_exact(int(u), int(gi), Fraction(int(sums[u, gi]), SCALE * int(div[u, gi])))
    for (u, gi), value in extra.items():
        if has[u, gi]:
            grid.set_exact(u, gi, (grid.value(u, gi) * (int(div[u, gi])) + value) / int(div[u, gi]))
    if source != SELF_SOURCE:
        for u in np.flatnonzero(applies.any(axis=1) & (cnt.max(axis=1) == 0)):
            report.error(rnd.yaml_path, line, f"单位 {layout.units[u].id}({layout.units[u].name})没有参加 from_rounds 中的任何轮次,无法汇总;请从 participants 中删去,或核对分轮次")
    return grid
