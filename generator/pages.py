"""From the scored site to pages: which model object each URL of SPEC §8 gets.

`site_pages()` yields `Page`s one at a time (a round's scorecards are built as they are rendered),
so a site of 100,000 units never holds all its page models at once.
"""
from __future__ import annotations

from collections import defaultdict
from functools import partial

from . import charts
from .changes import diff_rulebooks
from .content import KIND_NAMES
from .markup import render
from .model import (ChangesPage, CriterionView, HistoryRow, HomePage, ItemView, Link, Page, PreviousResult,
                    RoundTile, RuleLine, RulebookCard, RulebookPage, RulesIndexPage, SectionView, UnitGroup, UnitPage,
                    UnitsIndexPage)
from .numbers import plain
from .errors import Report
from .holes import Holes, prefetch
from .notice import notice_page
from .render import keyed_source
from .pagekeys import UNIT_STATE, RoundKeys, compute_units, digest, pathless, units_state
from .searchindex import bundle_names
from .revisions import correction_line, corrections_page, revision_status
from .scorecards import RoundView, status_of, unit_card
from .warm import CHECKED_UNITS, serving

HOME_ROUNDS = 6


def rule_url(book_id: str) -> str:
    return f"rules/{book_id}/index.html"


class SiteModel:
    """The views of every built round, and the cross-links between rounds, units and rulebooks."""

    def __init__(self, site, plans: dict, public_internal: tuple[str, ...], pdf: bool = False, warm=None):
        self.site = site
        self.pdf = pdf
        self.shard = (0, 1)      # (k, n): this process renders the k-th of n shares of the per-unit pages
        self.content = site.content
        self.plans = plans
        self.serve = serving(warm)                # the Warm of kaohe serve, or None
        # where the scorecards' averages are (holes.py), when a next build in this process can use it and the
        # site is not so large that keeping them costs too much (about 0.7 KB a scorecard: 0.2 GB at 100,000 units)
        units = len(site.content.units)
        self.spans = warm.spans if warm is not None and warm.spans is not None and units <= CHECKED_UNITS and \
            (warm.lasts is None or warm.lasts(units)) else None
        self.internal = public_internal
        self.round_ids = sorted(plans, key=lambda r: (self.content.rounds[r].year, r))
        # under serve: the rounds built and what each one's participants are read from (units.csv, the
        # rulebooks, its round.yaml: warm.contexts); what is derived from these alone is kept while they are
        self.rounds_read = (tuple(self.round_ids), tuple(self.serve.contexts.get(r) for r in self.round_ids)) \
            if self.serve is not None else None
        sub = {s for r in self.round_ids for s in self.content.rounds[r].from_rounds}
        self.sub_rounds = sub
        self.views = {}
        self.key_files: dict = {}       # round id -> the cache file its view's page keys go to (stored_keys)
        kept: set = set()
        for rid in self.round_ids:
            plan = plans[rid]
            view = self.kept_view(rid, plan, warm, kept)
            if view is None:
                view = RoundView(plan.score, public_internal=public_internal, history=self.previous,
                                 status=plan.status, corrections=self.unit_corrections(rid, plan.score))
                before = self.keys_before(rid, warm, kept)
                if before is not None:
                    view.keys = RoundKeys(view, before)
                    # the item lines made for the last view (RoundView.item_line): a line is a function of its
                    # memo key and of what the view key covers, except an aggregate item's, which names the
                    # unit's children's scores; the same objects also find their rendered rows (Renderer.fragment)
                    if before.view_key == view.keys.view_key and not view.aggregate_items:
                        view.memo = before.view.memo
            else:
                view.history = self.previous
                kept.add(rid)
            self.views[rid] = view
        self.kept_views = kept                    # rounds whose view is the last build's (serve)
        self.unit_keys: dict | None = None         # unit id -> its unit page's key, when computed in prepare()
        if warm is not None:
            warm.views = {rid: (view, self.year_before(rid)) for rid, view in self.views.items()}
            if warm.stored is not None:
                self.stored_keys(warm, kept)
        self.taken = self.rounds_taken()          # unit id -> [(round id, u)]
        books = self.content.rulebooks
        self.superseded_by = {b.supersedes: b.id for b in books.values() if b.supersedes in books}

    def kept_view(self, rid: str, plan, warm, kept: set):
        """The last build's view of the round (serve, warm.py), when it shows exactly what a new one would:
        the same scored state (kept, not rescored) and the same rounds of the year before, each kept too."""
        if warm is None or rid not in warm.views:
            return None
        view, before = warm.views[rid]
        now = self.year_before(rid)
        if view.score is not plan.score or before != now or not all(r in kept for r, _sub in now):
            return None
        return view

    def rounds_taken(self) -> dict:
        """unit id -> [(round id, its position in the round)], for every unit that took part in a round.
        Under serve, the last build's while `rounds_read` is the same (30,000 appends at 10,000 units)."""
        warm = self.serve
        if warm is not None and warm.taken[0] == self.rounds_read:
            return warm.taken[1]
        taken = defaultdict(list)
        for rid in self.round_ids:
            for u, unit in enumerate(self.plans[rid].score.layout.units):
                taken[unit.id].append((rid, u))
        if warm is not None:
            warm.taken = (self.rounds_read, taken)
        return taken

    def keys_before(self, rid: str, warm, kept: set):
        """The page keys of the last build's view of the round (serve), to take the keys of its units that
        did not change from (pagekeys.RoundKeys.carried): only when that view showed the same results of
        the year before (those rounds' views are kept), with the same options."""
        if warm is None or rid not in warm.views:
            return None
        view, before = warm.views[rid]
        now = self.year_before(rid)
        if view.keys is None or before != now or not all(r in kept for r, _sub in now):
            return None
        return view.keys

    def stored_keys(self, warm, kept: set) -> None:
        """kaohe build (cache.py): take each view's page keys from the cache when the view is made from the
        same inputs as when they were stored (its round and the rounds of the year before, each by its own
        digest, and the build options); the others are stored once computed (save_keys)."""
        for rid, view in self.views.items():
            if rid in kept or view.keys is not None:
                continue
            made_from = digest(warm.keys.get(rid), warm.options, self.internal,
                               [(r, sub, warm.keys.get(r)) for r, sub in self.year_before(rid)])
            name = warm.stored.keys_name(rid, made_from)
            found = warm.stored.load_keys(name, view.layout.n_units)
            if found is not None:
                view.keys = RoundKeys.stored(view, *found)
            else:
                self.key_files[rid] = name

    def save_keys(self, stored) -> None:
        for rid, name in self.key_files.items():
            keys = self.views[rid].keys
            if keys is not None and keys.ready():
                stored.store_keys(name, keys.view_key, keys.units())

    def year_before(self, rid: str) -> tuple:
        """The rounds a scorecard of `rid` may take the previous year's result from, and whether each is a
        sub-round (see previous())."""
        year = self.content.rounds[rid].year
        return tuple((r, r in self.sub_rounds) for r in self.round_ids if self.content.rounds[r].year == year - 1)

    # ------------------------------------------------------------ cross-links
    def previous(self, unit_id: str, rnd) -> PreviousResult | None:
        """The unit's result in the previous year's round (a main round rather than a monthly one)."""
        candidates = [(rid, u) for rid, u in self.taken.get(unit_id, ()) if self.content.rounds[rid].year == rnd.year - 1]
        if not candidates:
            return None
        candidates.sort(key=lambda c: (c[0] in self.sub_rounds, -self.content.rounds[c[0]].year, c[0]))
        rid, u = candidates[0]
        return self.views[rid].previous_result(u)

    def card(self, book) -> RulebookCard:
        sup = self.content.rulebooks.get(book.supersedes) if book.supersedes else None
        newer = self.content.rulebooks.get(self.superseded_by.get(book.id, ""))
        return RulebookCard(book.id, book.title, book.issuer, book.year,
                            book.effective.isoformat() if book.effective else "", book.applies_to, plain(book.total),
                            rule_url(book.id), Link(sup.title + f"({sup.year})", rule_url(sup.id)) if sup else None,
                            Link(newer.title + f"({newer.year})", rule_url(newer.id)) if newer else None)

    # ------------------------------------------------------------ pages
    def pages(self, keeper):
        """This process's share of the per-unit pages (unit pages and scorecards), each a Page to render or
        None when `keeper` (parallel.Keeper) kept the current site's; the site-wide pages are jobs(), which
        the processes take one at a time once their share is done."""
        yield from self.unit_pages(keeper)
        for rid in self.round_ids:
            view, plan = self.views[rid], self.plans[rid]
            yield from self.scorecards(keeper, view, view.card.status.key == "draft")
            for rev, score in plan.revisions:     # every published revision, whole and for good, under r<N>/
                yield from self.scorecards(keeper, self.revision_view(rid, rev, score), False, latest_link(rid, rev))

    def jobs(self) -> tuple[list, list]:
        """The site-wide pages, in groups: callables each returning some Pages, as (the large ones: each
        round's overview and 通报, a row per unit; the rest)."""
        rounds, rest = [], [lambda: [self.home()], self.rule_pages, self.units_index]
        for rid in self.round_ids:
            rounds.append(partial(self.whole_round, rid))
            if rid in self.content.locks:
                rest.append(partial(self.round_corrections, rid))
            for rev, score in self.plans[rid].revisions:
                rounds.append(partial(self.whole_revision, rid, rev, score))
        return rounds, rest

    def whole_round(self, rid: str):
        """The round's overview, then its 通报: they share the view's rankings, which are let go once both
        are rendered (a row per unit: hundreds of MB at 100,000 units, and under serve the view is kept)."""
        view, plan = self.views[rid], self.plans[rid]
        draft = view.card.status.key == "draft"
        links = [Link("通报", f"results/{rid}/notice/index.html")]
        if rid in self.content.locks:
            links.append(Link("更正记录", f"results/{rid}/corrections/index.html"))
            links += [Link(f"第 {rev.number} 版", f"results/{rid}/r{rev.number}/index.html") for rev, _ in plan.revisions]
        yield Page(f"results/{rid}/index.html", "round.html", None, view.rnd.title, "results", draft,
                   key=self.keys(view).whole("overview", links), make=partial(view.overview, rule_url, links))
        yield self.notice(view, draft, plan.revision.date if plan.revision else None,
                          f"results/{rid}/notice/notice.pdf" if self.pdf else None)
        view.forget_rankings()

    def whole_revision(self, rid: str, rev, score):
        """A published revision's overview and 通报, from one view of it made for them."""
        old = self.revision_view(rid, rev, score)
        latest = latest_link(rid, rev)
        links = [Link("最新结果", f"results/{rid}/index.html")]
        yield Page(f"{old.base}index.html", "round.html", None, f"{old.rnd.title}(第 {rev.number} 版)", "results",
                   False, superseded=latest, key=self.keys(old).whole("overview", links),
                   make=partial(old.overview, rule_url, links))
        notice = self.notice(old, False, rev.date, None)
        notice.superseded = latest
        yield notice

    def revision_view(self, rid: str, rev, score) -> RoundView:
        return RoundView(score, public_internal=self.internal, history=self.previous, base=f"results/{rid}/r{rev.number}/",
                         status=revision_status(rev), corrections=self.unit_corrections(rid, score))

    def round_corrections(self, rid: str) -> list[Page]:
        view, plan = self.views[rid], self.plans[rid]
        base = f"results/{rid}/"
        return [Page(f"{base}corrections/index.html", "corrections.html",
                     corrections_page(plan, self.site, view.card, base), f"{view.rnd.title} · 更正记录", "results",
                     view.card.status.key == "draft")]

    def notice(self, view: RoundView, draft: bool, date, pdf_url) -> Page:
        source = self.content.notices.get(view.rnd.id)
        organisation = self.content.config.organisation

        def make():
            report = Report()
            page = notice_page(source, view.notice_data(organisation, rule_url), view.card, pdf_url,
                               report, source.path if source else view.rnd.path, date)
            report.raise_if_errors()       # found by check() already; a notice that fails here is a bug
            return page
        return Page(f"{view.base}notice/index.html", "notice.html", None, "", "results", draft,
                    key=self.keys(view).whole("notice", pathless(source), organisation, date, pdf_url), make=make)

    def keys(self, view: RoundView) -> RoundKeys:
        """The page keys of a view, made once (before the workers fork, for the current views)."""
        if view.keys is None:
            view.keys = RoundKeys(view)
        return view.keys

    def prepare(self, helper: bool = False) -> None:
        """Compute every current view's unit keys once, in the parent, for all workers to share (and, under
        serve, for the next rebuild: a kept view keeps its keys). With `helper` and many keys to compute, a
        forked process computes every other unit's key meanwhile (pagekeys.compute_units). Under serve, the
        unit pages' keys too (unit_page_keys)."""
        todo = [keys for keys in map(self.keys, self.views.values()) if not keys.ready()]
        for keys in todo:
            if keys._carried_data is not None:    # serve: the data keys too, once for every process
                keys.data()
        compute_units(todo, helper)
        if self.serve is not None and self.unit_keys is None:
            self.unit_keys = self.unit_page_keys(self.serve)

    def unit_page_keys(self, warm) -> dict:
        """unit id -> the key of its unit page, for every unit (serve). A unit's key from the last build is
        taken when the registry and the rounds each unit took part in are the very objects it was made
        from (warm.read, rounds_taken) and, in every round the unit took part in, the view is the last
        build's or shows the unit's same summary under the same view key (RoundKeys.kept_summaries): after
        a correction that moves a category's average, the keys of that category's units are not made again."""
        units, taken = self.content.units, self.taken
        before = warm.unit_keys
        same = before is not None and before[0] is units and before[1] is taken
        kept = {rid: None if rid in self.kept_views else self.keys(view).kept_summaries
                for rid, view in self.views.items()}
        out = {}
        children = self.children()
        for unit in units.values():
            if same and all(rid in kept and (kept[rid] is None or (kept[rid] is not False and kept[rid][u]))
                            for rid, u in taken.get(unit.id, ())):
                out[unit.id] = before[2][unit.id]
            else:
                out[unit.id] = self.unit_page_key(unit, children)
        warm.unit_keys = (units, taken, out)
        return out

    def unit_page_key(self, unit, children) -> bytes:
        """What a unit page shows: the unit, its parent and children, and its summary in each round."""
        units = self.content.units
        parent = units.get(unit.parent_id) if unit.parent_id else None
        return digest(UNIT_STATE(unit), parent and UNIT_STATE(parent), units_state(children.get(unit.id, ())),
                      [(self.keys(self.views[rid]).view_key, self.keys(self.views[rid]).summary(u))
                       for rid, u in self.taken.get(unit.id, ())])

    def scorecards(self, keeper, view: RoundView, draft: bool, superseded: Link | None = None):
        keys = self.keys(view)
        group = keeper.group("scorecard.html", "results", draft, superseded)
        k, n = self.shard
        units, suffix = view.layout.units, f" · {view.rnd.title}"
        share = range(k, len(units), n)          # this process's share: per-unit pages are shared by position
        paths = [view.scorecard_url(u) for u in share]
        titles = [units[u].name + suffix for u in share]
        unit_keys = [keys.unit(u) for u in share]
        sources = keeper.keep(group, paths, titles, unit_keys)
        # with holes for the averages where a next build can refill them (holes.py; the default theme only)
        spans = self.spans if keeper.renderer.stock else None
        if spans is not None:
            prefetch(keeper.files.current, [path for path, source in zip(paths, sources) if source and path in spans])
        book_of = view.layout.book_of
        for u, path, title, key, source in zip(share, paths, titles, unit_keys, sources):
            if source is None:
                yield None
                continue
            holes = None if spans is None else Holes(
                view.average_fills(units[u].category, int(book_of[u])),
                keyed_source(group, path, title, keys.own(u)), spans.get(path), partial(view.scorecard, u, rule_url))
            yield Page(path, "scorecard.html", None, title, "results", draft, superseded=superseded, key=key,
                       make=partial(view.scorecard, u, rule_url, holes is not None), source=source, holes=holes)

    def unit_corrections(self, rid: str, score) -> dict:
        """unit id -> its corrections included in this state of the round (with the revision that published each)."""
        fixes = self.content.corrections.get(rid, [])
        lock = self.content.locks.get(rid)
        if not fixes:
            return {}
        included = score_corrections(self.site, rid, score)
        out = defaultdict(list)
        for i, c in enumerate(fixes[:included]):
            number = next((r.number for r in lock.revisions if r.corrections > i), -1) if lock else -1
            out[c.unit_id].append(correction_line(c, number, score, f"results/{rid}/"))
        return out

    def home(self) -> Page:
        main = [rid for rid in reversed(self.round_ids) if rid not in self.sub_rounds]
        cards = tuple(RoundTile(self.views[rid].card, self.views[rid].grades_chart()) for rid in main)
        notices = tuple(Link(f"关于{self.views[rid].rnd.title}结果的通报", f"results/{rid}/notice/index.html")
                        for rid in main[:HOME_ROUNDS])
        page = HomePage(cards, len(self.content.rulebooks), len(self.content.units), notices,
                        tuple(f"{name}/" for name in bundle_names(len(self.content.units))[1:]))
        return Page("index.html", "home.html", page, "首页", "home")

    def rule_pages(self):
        books = list(self.content.rulebooks.values())
        by_year = defaultdict(list)
        for book in books:
            by_year[book.year].append(self.card(book))
        chains = []
        for book in books:
            if book.supersedes in self.content.rulebooks:
                continue                          # not the first edition
            chain, cur = [], book
            while cur is not None:
                chain.append(self.card(cur))
                cur = self.content.rulebooks.get(self.superseded_by.get(cur.id, ""))
            if len(chain) > 1:
                chains.append(tuple(chain))
        years = tuple((y, tuple(sorted(cards, key=lambda c: c.id))) for y, cards in sorted(by_year.items(), reverse=True))
        yield Page("rules/index.html", "rules_index.html", RulesIndexPage(years, tuple(chains)), "考核细则", "rules")
        used = defaultdict(list)
        for rid in self.round_ids:
            for book in self.site.scores[rid].layout.books:
                used[book.id].append(Link(self.content.rounds[rid].title, f"results/{rid}/index.html"))
        for book in books:
            old = self.content.rulebooks.get(book.supersedes) if book.supersedes else None
            changes = f"rules/{book.id}/changes/index.html" if old else None
            yield Page(rule_url(book.id), "rulebook.html", self.rulebook(book, tuple(used[book.id]), changes),
                       book.title, "rules")
            if old:
                yield Page(changes, "changes.html", ChangesPage(self.card(book), self.card(old), diff_rulebooks(old, book)),
                           f"{book.title} · 修订对照", "rules")

    def rulebook(self, book, rounds, changes_url) -> RulebookPage:
        sections = tuple(SectionView(s.id, s.title, plain(s.points), render(s.intro),
                                     tuple(_item_view(it) for it in s.items)) for s in book.sections)
        return RulebookPage(
            card=self.card(book), body=render(book.body),
            grades=tuple((g.name, f"≥ {plain(g.min)}" if g.min else "其余") for g in book.grades),
            rating_scale=tuple((k, plain(v)) for k, v in book.rating_scale.items()), sections=sections,
            bonus_cap=plain(book.bonus_cap) if book.bonus_cap is not None else "",
            bonus=tuple(RuleLine(r.id, r.text, f"+{plain(r.add)} 分" + (f"/{r.unit}" if r.unit else "")
                                 + (f",至多 {plain(r.max)} 分" if r.max is not None else "")) for r in book.bonus),
            penalties=tuple(RuleLine(r.id, r.text, f"−{plain(r.deduct)} 分" + (f"/{r.unit}" if r.unit else "")
                                     + (f",至多 {plain(r.max)} 分" if r.max is not None else ",上不封顶"))
                            for r in book.penalties),
            vetoes=tuple(RuleLine(v.id, v.text, f"等次定为“{v.grade}”,不得评奖") for v in book.vetoes),
            rounds=rounds, changes_url=changes_url)

    def children(self) -> dict:
        units = self.content.units
        children = defaultdict(list)
        for unit in units.values():
            if unit.parent_id in units:
                children[unit.parent_id].append(unit)
        return children

    def units_index(self) -> list[Page]:
        """The list of units, keyed on the registry alone (its model is made only if it is rendered: at
        10,000 units making and pickling it for its fingerprint took 0.025 s of every rebuild)."""
        units = self.content.units
        return [Page("units/index.html", "units_index.html", None, "参评单位", "units",
                     key=digest("units-index", units_state(units.values())), make=self.units_index_page)]

    def units_index_page(self) -> UnitsIndexPage:
        units = self.content.units
        children = self.children()
        groups = defaultdict(list)
        for unit in units.values():
            parent = units.get(unit.parent_id) if unit.parent_id else None
            if parent is not None and parent.category == unit.category:
                continue                          # listed under its parent
            groups[unit.category].append((unit_card(unit), 0))
            for child in children.get(unit.id, ()):
                if child.category == unit.category:
                    groups[unit.category].append((unit_card(child), 1))
        return UnitsIndexPage(tuple(UnitGroup(c, tuple(members)) for c, members in groups.items()), len(units))

    def unit_pages(self, keeper):
        units = self.content.units
        children = self.children()
        group = keeper.group("unit.html", "units")
        k, n = self.shard
        share = list(units.values())[k::n]        # this process's share (see scorecards())
        if self.unit_keys is not None:
            keys = [self.unit_keys[unit.id] for unit in share]
        else:
            keys = [self.unit_page_key(unit, children) for unit in share]
        paths = [f"units/{unit.id}/index.html" for unit in share]
        titles = [unit.name for unit in share]
        for unit, path, key, source in zip(share, paths, keys, keeper.keep(group, paths, titles, keys)):
            yield source and Page(path, "unit.html", None, unit.name, "units", key=key,
                                  make=partial(self.unit_page, unit, children), source=source)

    def unit_page(self, unit, children) -> UnitPage:
        history = []
        points = []
        y_max = 0
        bands = ()
        for rid, u in self.taken.get(unit.id, ()):
            view = self.views[rid]
            score = view.score
            book = view.layout.books[view.layout.book_of[u]]
            history.append(HistoryRow(Link(view.rnd.title, f"results/{rid}/index.html"), view.rnd.year,
                                      status_of(view.rnd), Link(book.title, rule_url(book.id)), view.totals[u],
                                      score.grade[u], f"{int(score.rank[u])} / {int(score.rank_size[u])}",
                                      tuple(b.name + ("(并列)" if b.tied else "") for b in view.badges(u)),
                                      bool(score.vetoes[u]), view.scorecard_url(u)))
            points.append((view.rnd.title.replace("基层党建工作目标管理考核", ""), float(score.total[u]) / 10 ** book.precision,
                           view.totals[u]))
            y_max = max(y_max, float(book.total))
            bands = tuple((g.name, float(g.min)) for g in book.grades if g.min)
        parent = self.content.units.get(unit.parent_id) if unit.parent_id else None
        trend = charts.trend(f"t-{unit.id}", points, "历次考核总分", y_max or 100, bands) if points else \
            charts.empty(f"t-{unit.id}", "历次考核总分", "尚无考核结果")
        return UnitPage(unit_card(unit), unit_card(parent) if parent else None,
                        tuple(unit_card(c) for c in children.get(unit.id, ())),
                        tuple((k, v) for k, v in unit.extra.items() if v and k not in self.internal),
                        tuple(reversed(history)), trend)


def latest_link(rid: str, rev) -> Link:
    """What a revision's permanent pages point to: the round's latest result."""
    return Link(f"{rid}:{rev.number}", f"results/{rid}/index.html")


def score_corrections(site, rid: str, score) -> int:
    """How many corrections a scored state of the round includes."""
    return next(k for k, s in site.states[rid].items() if s is score)


def _item_view(item) -> ItemView:
    criteria = tuple(CriterionView(c.id, c.text, "" if c.zero else plain(c.deduct), c.unit or "",
                                   plain(c.max_deduct) if c.max_deduct is not None else "", c.zero)
                     for c in item.criteria)
    return ItemView(item.id, item.title, plain(item.points), item.kind, KIND_NAMES[item.kind],
                    render(item.requirements), item.methods, criteria, tuple(_scoring(item)))


def _scoring(item) -> list[str]:
    measure = f"“{item.measure}”" if item.measure else "数值"
    out = []
    if item.kind == "tiers":
        out.append(f"按{measure}分档计分:" + ";".join(f"达到 {plain(t.min)} 得 {plain(t.score)} 分" for t in item.tiers))
    elif item.kind == "rank":
        order = "越高" if item.rank_desc else "越低"
        out.append(f"按{measure}在参评单位中的名次计分({order}越靠前,并列同名次):"
                   + ";".join((f"前 {b.top} 名" if b.top else "其余") + f"得 {plain(b.score)} 分" for b in item.rank_bands))
    elif item.kind == "direct":
        out.append(f"由考核组直接评定得分(0—{plain(item.points)} 分)")
    elif item.kind == "rating":
        out.append(f"按测评票计分:得分 = {plain(item.points)} × Σ(票数 × 评价系数)÷ 有效票数")
    elif item.kind == "aggregate":
        out.append(f"按下级单位得分率({'平均' if item.aggregate_stat == 'mean' else item.aggregate_stat})折算:"
                   f"得分 = {plain(item.points)} × 得分率,不超过 {plain(item.points)} 分")
    if item.default is not None and item.kind != "deduction":
        out.append(f"未录入时按 {plain(item.default)} 分计")
    return out
