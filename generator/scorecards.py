"""Round overviews and scorecards: the site model of one scored round.

`RoundView` precomputes what every page of the round needs once (published numbers, section sums,
each unit's result rows grouped by position), so building one scorecard is a few list lookups.
"""
from __future__ import annotations

from collections import defaultdict, namedtuple
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import numpy as np

from . import charts
from .content import ABSTAIN_RATINGS, DEFAULT_SOURCE, SELF_SOURCE
from .data import published_items, published_self, numbers
from .holes import hole
from .model import (AdjustmentLine, AwardBadge, AwardList, DeductionLine, Download, FrequentDeduction, ItemLine,
                    Link, NoticeData, PreviousResult, RankRow, Ranking, RoundCard, RoundPage, ScorecardPage, SectionLine, Status,
                    UnitCard)
from .numbers import SCALE, date_text, fmt, plain, round_half_up
from .render import output_escape
from .score import SCALE2, RoundScore

STATUS_LABELS = {"draft": "草稿", "公示": "公示稿", "published": "已发布"}
FREQUENT = 10
ROW_FIELDS = ("kind", "idx", "gi", "source", "count", "value", "rating", "note")
Row = namedtuple("Row", ROW_FIELDS)
MEMO_LIMIT = 100_000     # item lines remembered per round view; most units share most of theirs


def status_of(rnd) -> Status:
    note = ""
    if rnd.status == "公示":
        note = f"公示期至 {date_text(rnd.until)}" if rnd.until else "公示期内"
    elif rnd.status == "draft":
        note = "草稿:结果尚未公布,仅供内部核对"
    return Status(rnd.status, STATUS_LABELS.get(rnd.status, rnd.status), note)


def unit_card(unit) -> UnitCard:
    return UnitCard(unit.id, unit.name, unit.category, f"units/{unit.id}/index.html", unit.former_names,
                    unit.active_until.isoformat() if unit.active_until else "")


class RoundView:
    def __init__(self, score: RoundScore, *, public_internal: tuple[str, ...], history=None, base: str | None = None,
                 status: Status | None = None, corrections=()):
        self.score = score
        self.layout = layout = score.layout
        self.rnd = layout.round
        self.base = base or f"results/{self.rnd.id}/"
        self.corrections = corrections      # unit id -> (CorrectionLine, …) up to this state
        self.keys = None                    # pagekeys.RoundKeys, made when the pages are listed
        self.show_notes = "note" not in public_internal
        self.show_self = SELF_SOURCE not in public_internal
        self.history = history          # callable(unit_id, round) -> PreviousResult | None
        self.award_names = None
        self.rank_rows: dict = {}
        self.overviews: dict = {}
        self.fills: dict = {}               # (category, book) -> average_fills()
        self.items = published_items(score)
        self.own = published_self(score)
        self.applies = layout.applies()
        self.totals = numbers(score.total, score.precision).tolist()      # each distinct total formatted once
        self.multi_source = len([s for s in self.rnd.composition if s != SELF_SOURCE]) > 1
        self.composition = _composition(self.rnd)
        self._group_rows()
        self._sections()
        self.card = RoundCard(self.rnd.id, self.rnd.title, self.rnd.year, status or status_of(self.rnd), layout.n_units,
                              self.base + "index.html")

    # ------------------------------------------------------------ precomputation
    def _group_rows(self) -> None:
        rows = self.score.rows
        order = np.argsort(rows["u"].to_numpy(), kind="stable")
        cols = [rows[c].to_numpy()[order] for c in ROW_FIELDS]
        # numpy columns (a list of Python objects per row would hold hundreds of MB at 100,000 units);
        # a unit's few rows become Python values when its page is made
        self.cols = [(v if v.dtype.kind in "iub" else v.astype(object)) for v in cols]
        us = rows["u"].to_numpy()[order]
        self.starts = np.searchsorted(us, np.arange(self.layout.n_units + 1), side="left").tolist()
        self.memo = {}

    def row_values(self, u: int) -> list[list]:
        """The unit's result rows, column by column, as Python values."""
        a, b = self.starts[u], self.starts[u + 1]
        return [col[a:b].tolist() for col in self.cols] if b > a else []

    def rows_of(self, u: int) -> list[Row]:
        values = self.row_values(u)
        return list(map(Row._make, zip(*values))) if values else []

    def _sections(self) -> None:
        """Exact section sums per unit and their category averages, computed once for the round: section
        sums are integers of 1/SCALE² (a Fraction only for a unit with a rating or averaged item)."""
        layout, item = self.layout, self.score.item
        self.section_cols = []           # per book: list of (section, gi list)
        for b, book in enumerate(layout.books):
            start = layout.book_items[b].start
            cols, k = [], start
            for section in book.sections:
                cols.append((section, list(range(k, k + len(section.items)))))
                k += len(section.items)
            self.section_cols.append(cols)
        exact_by_unit = defaultdict(list)
        for (u, gi), value in item.exact.items():
            exact_by_unit[u].append((gi, value))
        self.exact_by_unit = exact_by_unit
        self.section_sums = {}           # book index -> int64 array U×S (only rows of that book's units matter)
        for b, cols in enumerate(self.section_cols):
            self.section_sums[b] = np.stack([item.fp[:, gis].sum(axis=1) for _s, gis in cols], axis=1) \
                if cols else np.zeros((layout.n_units, 0), dtype=np.int64)
        groups = defaultdict(list)
        for u, unit in enumerate(layout.units):
            groups[(unit.category, int(layout.book_of[u]))].append(u)
        self.groups = groups
        self.averages = {}
        self.average_shown = {}
        for (cat, b), members in groups.items():
            sums = [Fraction(0)] * len(self.section_cols[b])
            plain_members = [u for u in members if u not in exact_by_unit]
            totals = self.section_sums[b][plain_members].sum(axis=0) if plain_members else []
            for s, total in enumerate(totals):
                sums[s] += Fraction(int(total), SCALE2)
            for u in members:
                if u in exact_by_unit:
                    for s, value in enumerate(self.section_values(u)):
                        sums[s] += value
            self.averages[(cat, b)] = [v / len(members) for v in sums]
        self.points_text = [fmt(round_half_up(Fraction(it.points), layout.books[layout.item_book[gi]].precision),
                                layout.books[layout.item_book[gi]].precision) for gi, it in enumerate(layout.items)]
        self.points_units = [round_half_up(Fraction(it.points), layout.books[layout.item_book[gi]].precision)
                             for gi, it in enumerate(layout.items)]
        self.section_points = [[float(s.points) for s, _ in cols] for cols in self.section_cols]
        self.section_points_text = [[plain(s.points) for s, _ in cols] for cols in self.section_cols]
        self.aggregate_items = frozenset(gi for gi, it in enumerate(layout.items) if it.kind == "aggregate")

    def category_averages(self, category: str, b: int) -> tuple[list[str], list]:
        """A category's section averages as shown (text) and as drawn (rate of the section's points). The
        chart draws the shown, rounded average, so that a small change in one unit's score, which does not
        move the shown average, leaves the category's other scorecards as they are."""
        key = (category, b)
        if key not in self.average_shown:
            p = self.layout.books[b].precision
            shown = [round_half_up(a, p) for a in self.averages[key]]
            self.average_shown[key] = ([fmt(a, p) for a in shown],
                                       [float(Fraction(a, 10 ** p) / Fraction(s.points)) if s.points else None
                                        for (s, _), a in zip(self.section_cols[b], shown)])
        return self.average_shown[key]

    def section_values(self, u: int) -> list:
        """The unit's section sums: ints of 1/SCALE², or Fractions where an item was exact."""
        b = int(self.layout.book_of[u])
        row = [int(v) for v in self.section_sums[b][u]]
        exact = self.exact_by_unit.get(u)
        if not exact:
            return row
        cells = dict(exact)
        out = []
        for (_section, gis), value in zip(self.section_cols[b], row):
            total = Fraction(value, SCALE2)
            for gi in gis:
                if gi in cells:
                    total += cells[gi]
            out.append(total)
        return out

    def grades_chart(self) -> str:
        return charts.grade_distribution(f"g-{self.rnd.id}", self.grade_counts(), "等次分布")

    def grade_counts(self) -> list[tuple[str, int]]:
        names = list(dict.fromkeys(g.name for book in self.layout.books for g in book.grades))
        counts = {n: 0 for n in names}
        for g in self.score.grade:
            counts[g] = counts.get(g, 0) + 1
        return list(counts.items())

    # ------------------------------------------------------------ overview
    def badges(self, u: int) -> tuple[AwardBadge, ...]:
        awards = self.score.awards[u]
        if not awards:
            return ()
        if self.award_names is None:
            self.award_names = {a.id: a.name for a in self.rnd.awards}
        return tuple(AwardBadge(a, self.award_names[a], tied) for a, tied in awards)

    def rank_row(self, u: int) -> RankRow:
        """A unit's row of the rankings and award lists, made once per view (the overview and the 通报 share it)."""
        row = self.rank_rows.get(u)
        if row is None:
            vetoes = self.score.vetoes[u]
            veto = "、".join(self.layout.vetoes[v][1].text for v in vetoes) if vetoes else ""
            row = self.rank_rows[u] = RankRow(int(self.score.rank[u]), unit_card(self.layout.units[u]), self.totals[u],
                                              self.score.grade[u], self.badges(u), veto, self.scorecard_url(u))
        return row

    def scorecard_url(self, u: int) -> str:
        return f"{self.base}{self.layout.units[u].id}/index.html"

    def overview(self, rule_url, links=()) -> RoundPage:
        layout = self.layout
        rankings, awards, frequent = self.ranked(rule_url)
        downloads = tuple(Download(label, f"{self.base}data/{name}") for name, label in
                          (("scores.xlsx", "成绩表(Excel)"), ("scores.csv", "成绩表(CSV)"),
                           ("items.csv", "逐项得分(CSV)"), ("scores.json", "成绩数据(JSON)")))
        books = tuple(Link(b.title, rule_url(b.id)) for b in layout.books)
        return RoundPage(self.card, self.grades_chart(), books, self.composition, tuple(self.grade_counts()),
                         rankings, awards, frequent, downloads,
                         tuple(Link(r, f"results/{r}/index.html") for r in self.rnd.from_rounds), tuple(links))

    def forget_rankings(self) -> None:
        self.rank_rows.clear()
        self.overviews.clear()

    def ranked(self, rule_url) -> tuple:
        """(rankings, award lists, frequent deductions) of the round, made once per view: the overview and
        the 通报 both show them."""
        made = self.overviews.get(rule_url)
        if made is not None:
            return made
        layout, score = self.layout, self.score
        rank = score.rank.tolist()
        total = score.total.tolist()
        rankings = []
        for (cat, b), members in self.groups.items():
            members = sorted(members, key=lambda u: (rank[u], u))
            book = layout.books[b]
            avg = Fraction(sum(total[u] for u in members), 10 ** book.precision) / len(members)
            rankings.append(Ranking(cat, Link(book.title, rule_url(book.id)), tuple(self.rank_row(u) for u in members),
                                    fmt(round_half_up(avg, book.precision), book.precision)))
        cat_order = {c: i for i, c in enumerate(self.rnd.rulebooks)}
        rankings.sort(key=lambda r: (cat_order.get(r.category, len(cat_order)), r.category))
        awards = []
        for award in self.rnd.awards:
            winners = tuple(self.rank_row(u) for u, _ in score.award_lists.get(award.id, []))
            awards.append(AwardList(award.id, award.name, _award_rule(award), winners,
                                    any(t for _, t in score.award_lists.get(award.id, []))))
        made = self.overviews[rule_url] = (tuple(rankings), tuple(awards), self.frequent(rule_url))
        return made

    def frequent(self, rule_url) -> tuple[FrequentDeduction, ...]:
        """The criteria most units lost points on: the year's 存在问题."""
        layout = self.layout
        rows = self.score.rows
        count = rows["count"].to_numpy()
        hit = np.flatnonzero((rows["kind"] == "criterion").to_numpy() & (count > 0))
        if not len(hit):
            return ()
        # one (criterion, unit) pair per unit that lost points on it, with what it lost there (capped as
        # the criterion says), then per criterion: numpy sums in exact integers (0.03 s at 10,000 units
        # as a pandas groupby and a Python loop over the pairs)
        pair = rows["idx"].to_numpy()[hit].astype(np.int64) * (layout.n_units + 1) + rows["u"].to_numpy()[hit]
        order = np.argsort(pair, kind="stable")
        pair = pair[order]
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        counts = np.add.reduceat(count[hit][order].astype(np.int64), starts)
        idx = pair[starts] // (layout.n_units + 1)
        lost = counts * layout.crit_deduct[idx]
        cap = layout.crit_max[idx]
        lost = np.where(cap >= 0, np.minimum(lost, cap), lost)
        firsts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        crits = idx[firsts]
        units = np.diff(np.r_[firsts, len(idx)])
        amounts = np.add.reduceat(lost, firsts)
        top = np.lexsort((crits, -amounts, -units))[:FREQUENT]
        top = [(int(crits[k]), (int(units[k]), int(amounts[k]))) for k in top]
        out = []
        for ci, (n, amount) in top:
            c = layout.criteria[ci]
            gi = int(layout.crit_item[ci])
            book = layout.books[layout.item_book[gi]]
            out.append(FrequentDeduction(Link(c.text, f"{rule_url(book.id)}#{c.id}"), layout.items[gi].title, n,
                                         _dec_text(amount)))
        return tuple(out)

    # ------------------------------------------------------------ scorecard
    def average_fills(self, category: str, b: int) -> list[bytes]:
        """What a scorecard of the category writes where its averages go, in the order of scorecard()'s
        holes (holes.py): per section, the heading's average, the chart's bar and text, and the chart
        description's part."""
        key = (category, b)
        fills = self.fills.get(key)
        if fills is None:
            fills = []
            for s, (text, rate) in enumerate(zip(*self.category_averages(category, b))):
                svg, desc = charts.comparison_average(s, rate, text)
                fills += [output_escape(text).encode("utf-8"), svg.encode("utf-8"),
                          charts.description(desc).encode("utf-8")]
            self.fills[key] = fills
        return fills

    def scorecard(self, u: int, rule_url, holes: bool = False) -> ScorecardPage:
        """The scorecard of unit `u`; with `holes`, with a hole (holes.py) wherever an average goes."""
        layout, score = self.layout, self.score
        unit = layout.units[u]
        b = int(layout.book_of[u])
        book = layout.books[b]
        p = book.precision
        rows = self.rows_of(u)
        by_gi = defaultdict(list)
        adjust = defaultdict(list)
        for r in rows:
            if r.kind in ("bonus", "penalty", "veto"):
                adjust[(r.kind, r.idx)].append(r)
            else:
                by_gi[r.gi].append(r)
        book_url = rule_url(book.id)
        sections = []
        values = self.section_values(u)
        exact = u in self.exact_by_unit          # then some section sums are Fractions, else ints of 1/SCALE²
        if holes:
            n = len(self.section_cols[b])
            average_texts, average_rates = [hole(3 * s) for s in range(n)], [None] * n
            averages = [(hole(3 * s + 1), hole(3 * s + 2)) for s in range(n)]
        else:
            average_texts, average_rates = self.category_averages(unit.category, b)
            averages = None
        if exact:
            texts = [fmt(round_half_up(value, p, _scale(value)), p) for value in values]
            rates = [float(v) / _scale(v) / points if points else 0.0
                     for v, points in zip(values, self.section_points[b])]
            items_total = sum(v if isinstance(v, Fraction) else Fraction(v, SCALE2) for v in values) \
                if values else Fraction(0)
        else:
            texts = [fmt(round_half_up(value, p, SCALE2), p) for value in values]
            rates = [value / SCALE2 / points if points else 0.0 for value, points in zip(values, self.section_points[b])]
            items_total = Fraction(sum(values), SCALE2)
        items_row = self.items[u].tolist()
        own_row = self.own[u].tolist() if self.show_self else None
        has_row = self.score.own.has[u].tolist()
        row = (items_row, own_row, has_row)
        memo, aggregate, show_self = self.memo, self.aggregate_items, self.show_self
        for (section, gis), points_text, text, avg in zip(self.section_cols[b], self.section_points_text[b], texts,
                                                          average_texts):
            lines = []
            for gi in gis:
                found = by_gi.get(gi, ())
                # the key of item_line(), built here: this runs for every item of every scorecard
                key = (gi, tuple(found), items_row[gi], own_row[gi] if show_self and has_row[gi] else None,
                       u if gi in aggregate else None)
                line = memo.get(key)
                lines.append(line if line is not None else self.item_line(u, gi, found, book, book_url, row, key))
            sections.append(SectionLine(section.id, section.title, points_text, text, avg, tuple(lines)))
        chart = charts.section_comparison(
            f"s-{unit.id}",
            [(s.title, rate, avg_rate, f"{text}/{points_text}", avg)
             for (s, _), points_text, rate, text, avg, avg_rate
             in zip(self.section_cols[b], self.section_points_text[b], rates, texts, average_texts, average_rates)],
            f"各部分得分与{unit.category}平均", averages)
        bonus = self._adjustments(adjust, "bonus", layout.bonus, book_url, "add") if adjust else ()
        penalties = self._adjustments(adjust, "penalty", layout.penalties, book_url, "deduct") if adjust else ()
        vetoes = tuple(AdjustmentLine(Link(f"{layout.vetoes[v][1].text}(等次定为“{layout.vetoes[v][1].grade}”)",
                                           f"{book_url}#{layout.vetoes[v][1].id}"), "", "一票否决",
                                      self._notes(adjust.get(("veto", v), [])))
                       for v in score.vetoes[u])
        own_total = ""
        if self.show_self and self.score.own.has[u].any():
            own_total = fmt(int(self.own[u][self.score.own.has[u]].sum()), p)
        return ScorecardPage(
            round=self.card, unit=unit_card(unit), rulebook=Link(book.title, book_url), sections=tuple(sections),
            items_total=fmt(round_half_up(items_total, p), p), bonus=bonus,
            bonus_total=_dec_text(int(score.bonus[u])), bonus_capped=bool(score.bonus_raw[u] > score.bonus[u]),
            penalties=penalties, penalty_total=_dec_text(int(score.penalty[u])), vetoes=vetoes,
            total=self.totals[u], grade=score.grade[u], rank=int(score.rank[u]), rank_of=int(score.rank_size[u]),
            awards=self.badges(u), next_grade=self._next_grade(u, book), composition=self.composition,
            chart=chart, previous=self.history(unit.id, self.rnd) if self.history else None, self_total=own_total,
            corrections=tuple(self.corrections.get(unit.id, ())) if self.corrections else ())

    def item_line(self, u: int, gi: int, rows, book, book_url: str, row=None, key=None) -> ItemLine:
        """One item's line of a scorecard. It depends only on the item, its result rows, its score and the
        unit's self-assessment, which most units share (at 10,000 units, 3% of the lines are distinct):
        each distinct line is made once per round and shared. `row`: the unit's (scores, self scores,
        has self score) as lists, when the caller has them; `key`: the line's memo key, when the caller
        has built it (scorecard())."""
        if key is None:
            items, own_row, has = row if row is not None else (self.items[u].tolist(), self.own[u].tolist(),
                                                                self.score.own.has[u].tolist())
            own = own_row[gi] if self.show_self and has[gi] else None
            key = (gi, tuple(rows), items[gi], own,
                   u if gi in self.aggregate_items else None)   # its basis names the unit's children
        line = self.memo.get(key)
        if line is None:
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            line = self.memo[key] = self._item_line(u, gi, rows, book, book_url)
        return line

    def _item_line(self, u: int, gi: int, rows, book, book_url: str) -> ItemLine:
        item = self.layout.items[gi]
        p = book.precision
        points = self.points_units[gi]
        score = int(self.items[u, gi])
        deductions, notes = [], []
        crit_rows = defaultdict(list)
        for r in rows:
            if r.kind == "criterion":
                crit_rows[(r.source, r.idx)].append(r)
            elif self.show_notes and r.note:
                notes.append(r.note)
        for (source, ci), group in crit_rows.items():
            c = self.layout.criteria[ci]
            count = sum(int(r.count) for r in group)
            if c.zero:
                lost = "本项不得分" if count else "0"
            else:
                amount = count * self.layout.crit_deduct[ci]
                if self.layout.crit_max[ci] >= 0:
                    amount = min(amount, int(self.layout.crit_max[ci]))
                lost = _dec_text(int(amount))
            deductions.append(DeductionLine(Link(c.text, f"{book_url}#{c.id}"), c.id,
                                            f"{count} {c.unit}" if c.unit else "", lost, self._notes(group),
                                            source if self.multi_source else ""))
        basis = self._basis(u, gi, item, rows)
        own = ""
        if self.show_self and self.score.own.has[u, gi]:
            own = fmt(int(self.own[u, gi]), p)
        return ItemLine(item.id, item.title, f"{book_url}#{item.id}", self.points_text[gi], fmt(score, p),
                        fmt(points - score, p) if points != score else "", own, tuple(deductions), tuple(basis),
                        tuple(notes))

    def _basis(self, u: int, gi: int, item, rows: list) -> list[str]:
        out = []
        sources = [s for s in self.rnd.composition if s != SELF_SOURCE] or [DEFAULT_SOURCE]
        prefix = (lambda s: f"{s}:") if self.multi_source else (lambda s: "")
        if self.rnd.from_rounds:
            how = "平均" if self.rnd.from_stat == "mean" else "合计"
            return [f"由 {len(self.rnd.from_rounds)} 个分轮次中本单位的得分{how}而来"]
        for source in sources:
            mine = [r for r in rows if r.source == source]
            votes = [r for r in mine if r.kind == "vote"]
            measured = [r for r in mine if r.kind in ("measure", "score")]
            if votes:
                tally = defaultdict(int)
                for r in votes:
                    tally[r.rating] += int(r.count)
                counted = "、".join(f"{k} {n} 票" for k, n in tally.items() if k not in ABSTAIN_RATINGS)
                abstain = sum(n for k, n in tally.items() if k in ABSTAIN_RATINGS)
                out.append(prefix(source) + counted + (f"(另有弃权 {abstain} 票,不计入)" if abstain else ""))
            elif measured:
                value = _dec_text(int(measured[0].value))
                if item.kind == "direct":
                    out.append(f"{prefix(source)}评定得分 {value}")
                else:
                    out.append(f"{prefix(source)}{item.measure or '数值'}:{value}")
            elif item.kind == "aggregate":
                out.append(self._aggregate_basis(u, item))
            elif item.kind != "deduction" and item.default is not None:
                out.append(f"{prefix(source)}未录入,按默认 {plain(item.default)} 分计")
        if item.kind == "tiers":
            out.append("分档:" + ";".join(f"≥{plain(t.min)} 得 {plain(t.score)} 分" for t in item.tiers))
        elif item.kind == "rank":
            out.append("按名次:" + ";".join((f"前 {band.top} 名" if band.top else "其余") + f"得 {plain(band.score)} 分"
                                             for band in item.rank_bands))
        return out

    def _aggregate_basis(self, u: int, item) -> str:
        layout = self.layout
        kids = [c for c, unit in enumerate(layout.units) if unit.parent_id == layout.units[u].id]
        if not kids:
            return "本轮次没有下级单位参评"
        names = "、".join(f"{layout.units[c].name} {self.totals[c]}" for c in kids[:8])
        more = f" 等 {len(kids)} 个单位" if len(kids) > 8 else ""
        return f"按下级单位得分率换算({'平均' if item.aggregate_stat == 'mean' else item.aggregate_stat}):{names}{more}"

    def _adjustments(self, adjust, kind: str, rules, book_url: str, attr: str) -> tuple[AdjustmentLine, ...]:
        out = []
        for (k, idx), group in sorted(adjust.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if k != kind:
                continue
            rule = rules[idx][1]
            count = sum(int(r.count) for r in group)
            amount = count * int(getattr(rule, attr) * SCALE)
            if rule.max is not None:
                amount = min(amount, int(rule.max * SCALE))
            out.append(AdjustmentLine(Link(rule.text, f"{book_url}#{rule.id}"),
                                      f"{count} {rule.unit}" if rule.unit else "", _dec_text(amount), self._notes(group)))
        return tuple(out)

    def _notes(self, rows) -> tuple[str, ...]:
        if not self.show_notes:
            return ()
        return tuple(r.note for r in rows if r.note)

    def _next_grade(self, u: int, book) -> str:
        if self.score.vetoes[u]:
            return ""
        names = [g.name for g in book.grades]
        here = names.index(self.score.grade[u]) if self.score.grade[u] in names else 0
        if here == 0:
            return ""
        target = book.grades[here - 1]
        gap = Fraction(target.min) - Fraction(int(self.score.total[u]), 10 ** book.precision)
        return f"距“{target.name}”还差 {fmt(round_half_up(gap, book.precision), book.precision)} 分"

    def notice_data(self, organisation: str, rule_url) -> NoticeData:
        """What the 通报 helpers draw on, from this state of the round."""
        layout, score = self.layout, self.score
        names = tuple(n for n, _ in self.grade_counts())
        grade = list(score.grade)
        rows = []
        for (cat, b), members in self.groups.items():
            counts = dict.fromkeys(names, 0)
            for u in members:
                counts[grade[u]] = counts.get(grade[u], 0) + 1
            rows.append((cat, tuple(counts[n] for n in names), len(members)))
        rankings, award_lists, frequent = self.ranked(rule_url)
        awards = tuple((a.name, a.rule, tuple((w.unit.name, w.unit.category, w.total,
                                                any(b.tied for b in w.awards if b.id == a.id)) for w in a.winners))
                       for a in award_lists)
        frequent = tuple((f.criterion.text, f.item, f.units, f.points) for f in frequent)
        fixes = []
        for lines in (self.corrections or {}).values():
            for c in lines:
                u = layout.index.get(c.unit.id) if c.unit else None
                after = f"总分 {self.totals[u]},{score.grade[u]}" if u is not None else ""
                fixes.append((c.date, c.unit.name if c.unit else "", c.what, c.old, c.new, c.reason, after))
        fixes.sort()
        total = score.total.tolist()
        in_grade: dict = {n: [] for n in names}
        for u in sorted(range(layout.n_units), key=lambda u: (-total[u], u)):
            if grade[u] in in_grade:
                in_grade[grade[u]].append((layout.units[u].name, layout.units[u].category, self.totals[u]))
        by_grade = tuple((n, tuple(in_grade[n])) for n in names)
        rankings = tuple((r.category, tuple((str(row.rank), row.unit.name, row.total, row.grade) for row in r.rows))
                         for r in rankings)
        return NoticeData(self.rnd.title, self.rnd.year, organisation, layout.n_units, names, tuple(rows), awards,
                          frequent, tuple(fixes), by_grade, rankings, tuple(b.title for b in layout.books))

    def previous_result(self, u: int) -> PreviousResult:
        return PreviousResult(Link(self.rnd.title, self.base + "index.html"), self.totals[u], self.score.grade[u],
                              f"{int(self.score.rank[u])} / {int(self.score.rank_size[u])}", self.scorecard_url(u))


def _scale(value) -> int:
    """Section sums are ints of 1/SCALE², or exact Fractions."""
    return 1 if isinstance(value, Fraction) else SCALE2


@lru_cache(maxsize=4096)
def _dec_text(amount_fp: int) -> str:
    """A fixed-point amount as authors write numbers: 2, 0.5."""
    return plain(Decimal(amount_fp) / SCALE)


def _composition(rnd) -> str:
    parts = [(s, w) for s, w in rnd.composition.items()]
    if len(parts) == 1 and parts[0][1] == 1:
        return ""
    return "总分 = " + " + ".join(f"{s} × {plain(w * 100)}%" for s, w in parts)


def _award_rule(award) -> str:
    parts = []
    if award.quota:
        parts.append("名额:" + "、".join(f"{c} {n} 个" for c, n in award.quota.items()))
    if award.share is not None:
        scope = "各类别" if award.per_category else "参评单位"
        parts.append(f"{scope}前 {plain(award.share * 100)}%(向下取整)")
    if award.categories:
        parts.append("限 " + "、".join(award.categories))
    if award.min_score is not None:
        parts.append(f"不低于 {plain(award.min_score)} 分")
    parts.append("被一票否决的单位不参评")
    return ";".join(parts)

