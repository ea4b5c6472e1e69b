"""The site model: every variable a template gets, in one file (the theme author's contract).

Each page template receives `page` (one of the *Page classes below) plus `site` (SiteInfo) and
`root` (the relative path from the page to the site root, e.g. "../../"; every link is
`root ~ "units/x/index.html"`, so the site works from any sub-path and from a file share).
Numbers arrive formatted as text ("94.50"): templates never do arithmetic on scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class SiteInfo:
    title: str
    organisation: str
    public: bool                     # --profile public: internal fields are absent from the model


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str                         # relative to the site root


@dataclass(frozen=True, slots=True)
class Download:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Status:
    """A round's state as shown on its pages."""
    key: str                         # draft | 公示 | published
    label: str                       # 草稿 | 公示稿 | 已发布
    note: str                        # e.g. "公示期至 2025年1月20日,如有异议请向……反映"


# ---------------------------------------------------------------- rulebooks

@dataclass(frozen=True, slots=True)
class CriterionView:
    id: str
    text: str
    deduct: str                      # "2" (per occurrence when unit is set), "" for zero
    unit: str
    max_deduct: str
    zero: bool


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    title: str
    points: str
    kind: str                        # deduction | tiers | rank | direct | rating | aggregate
    kind_label: str
    requirements: Markup
    methods: tuple[str, ...]
    criteria: tuple[CriterionView, ...]
    scoring: tuple[str, ...]         # how a non-deduction item is scored, as sentences


@dataclass(frozen=True, slots=True)
class SectionView:
    id: str
    title: str
    points: str
    intro: Markup
    items: tuple[ItemView, ...]


@dataclass(frozen=True, slots=True)
class RuleLine:
    """A bonus rule, penalty or veto."""
    id: str
    text: str
    amount: str                      # "+1 分/条", "−3 分/次", "等次定为 差"


@dataclass(frozen=True, slots=True)
class RulebookCard:
    id: str
    title: str
    issuer: str
    year: int
    effective: str
    applies_to: tuple[str, ...]
    total: str
    url: str
    supersedes: Link | None
    superseded_by: Link | None


@dataclass(frozen=True, slots=True)
class RulebookPage:
    card: RulebookCard
    body: Markup
    grades: tuple[tuple[str, str], ...]          # (name, "≥ 90")
    rating_scale: tuple[tuple[str, str], ...]
    sections: tuple[SectionView, ...]
    bonus_cap: str
    bonus: tuple[RuleLine, ...]
    penalties: tuple[RuleLine, ...]
    vetoes: tuple[RuleLine, ...]
    rounds: tuple[Link, ...]                     # rounds scored under it
    changes_url: str | None


@dataclass(frozen=True, slots=True)
class RulesIndexPage:
    years: tuple[tuple[int, tuple[RulebookCard, ...]], ...]     # newest year first
    chains: tuple[tuple[RulebookCard, ...], ...]                # edition chains, oldest → newest


@dataclass(frozen=True, slots=True)
class ChangesPage:
    card: RulebookCard
    old: RulebookCard
    diff: object                                 # changes.RulebookDiff


# ---------------------------------------------------------------- units

class UnitCard(NamedTuple):
    """A unit as the pages link to it. A named tuple, not a frozen dataclass: made for every unit in every
    ranking and index (a frozen dataclass's __init__ cost 5 µs, 0.05 s per ranking of 10,000 units)."""
    id: str
    name: str
    category: str
    url: str
    former_names: tuple[str, ...]
    active_until: str


@dataclass(frozen=True, slots=True)
class HistoryRow:
    round: Link
    year: int
    status: Status
    rulebook: Link
    total: str
    grade: str
    rank: str                                    # "3 / 30"
    awards: tuple[str, ...]
    veto: bool
    scorecard: str


@dataclass(frozen=True, slots=True)
class UnitPage:
    unit: UnitCard
    parent: UnitCard | None
    children: tuple[UnitCard, ...]
    extra: tuple[tuple[str, str], ...]           # other columns of units.csv
    history: tuple[HistoryRow, ...]              # newest first
    trend: Markup                                # SVG


@dataclass(frozen=True, slots=True)
class UnitGroup:
    category: str
    units: tuple[tuple[UnitCard, int], ...]      # (unit, depth under its parent within the category)


@dataclass(frozen=True, slots=True)
class UnitsIndexPage:
    groups: tuple[UnitGroup, ...]
    count: int


# ---------------------------------------------------------------- rounds

@dataclass(frozen=True, slots=True)
class AwardBadge:
    id: str
    name: str
    tied: bool                                   # 并列 at the cut-off: for the committee to decide


class RankRow(NamedTuple):
    """A unit's row of a round's rankings and award lists (a named tuple for the same reason as UnitCard)."""
    rank: int
    unit: UnitCard
    total: str
    grade: str
    awards: tuple[AwardBadge, ...]
    veto: str                                    # veto text, or ""
    scorecard: str


@dataclass(frozen=True, slots=True)
class Ranking:
    category: str
    rulebook: Link
    rows: tuple[RankRow, ...]
    average: str


@dataclass(frozen=True, slots=True)
class AwardList:
    id: str
    name: str
    rule: str                                    # "各类别名额:机关事业单位 3 个……;不低于 90 分"
    winners: tuple[RankRow, ...]
    tied: bool


@dataclass(frozen=True, slots=True)
class FrequentDeduction:
    criterion: Link                              # to the rulebook anchor
    item: str
    units: int                                   # how many units lost points on it
    points: str                                  # points lost in all


@dataclass(frozen=True, slots=True)
class RoundCard:
    id: str
    title: str
    year: int
    status: Status
    units: int
    url: str


@dataclass(frozen=True, slots=True)
class RoundPage:
    card: RoundCard
    grades: Markup                               # SVG grade distribution
    rulebooks: tuple[Link, ...]
    composition: str
    grade_counts: tuple[tuple[str, int], ...]
    rankings: tuple[Ranking, ...]
    awards: tuple[AwardList, ...]
    frequent: tuple[FrequentDeduction, ...]
    downloads: tuple[Download, ...]
    from_rounds: tuple[Link, ...]
    links: tuple[Link, ...] = ()                 # 通报, 更正记录, earlier revisions


@dataclass(frozen=True, slots=True)
class DeductionLine:
    criterion: Link                              # criterion text, linked to its anchor in the rulebook
    criterion_id: str
    count: str                                   # "2 次", "" for a yes/no criterion
    points: str                                  # points lost, "本项不得分" for a zero criterion
    notes: tuple[str, ...]                       # the assessor's remarks (internal in a public build)
    source: str


@dataclass(frozen=True, slots=True)
class ItemLine:
    id: str
    title: str
    url: str                                     # the item's anchor in the rulebook
    points: str
    score: str
    lost: str                                    # points − score, "" when nothing was lost
    self_score: str                              # "" when none (or internal)
    deductions: tuple[DeductionLine, ...]
    basis: tuple[str, ...]                       # how a non-deduction item got its score
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SectionLine:
    id: str
    title: str
    points: str
    score: str
    average: str                                 # category average of this section
    items: tuple[ItemLine, ...]


@dataclass(frozen=True, slots=True)
class AdjustmentLine:
    """A bonus, penalty or veto that applied."""
    rule: Link
    count: str
    points: str
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PreviousResult:
    round: Link
    total: str
    grade: str
    rank: str
    scorecard: str


@dataclass(frozen=True, slots=True)
class ScorecardPage:
    round: RoundCard
    unit: UnitCard
    rulebook: Link
    sections: tuple[SectionLine, ...]
    items_total: str
    bonus: tuple[AdjustmentLine, ...]
    bonus_total: str                             # after the cap
    bonus_capped: bool
    penalties: tuple[AdjustmentLine, ...]
    penalty_total: str
    vetoes: tuple[AdjustmentLine, ...]
    total: str
    grade: str
    rank: int
    rank_of: int
    awards: tuple[AwardBadge, ...]
    next_grade: str                              # "距“优秀”还差 1.50 分", or ""
    composition: str
    chart: Markup                                # SVG: this unit vs the category average per section
    previous: PreviousResult | None
    self_total: str
    corrections: tuple = ()                      # CorrectionLine: this unit's corrections, oldest first


# ---------------------------------------------------------------- home

@dataclass(frozen=True, slots=True)
class RoundTile:
    """A round on the home page: its card and its grade distribution."""
    card: RoundCard
    grades: Markup                               # SVG grade distribution


@dataclass(frozen=True, slots=True)
class HomePage:
    rounds: tuple[RoundTile, ...]                # latest first
    rulebooks: int
    units: int
    notices: tuple[Link, ...] = ()               # the latest 通报
    search_bundles: tuple[str, ...] = ()         # further Pagefind bundles to merge ("pagefind-2/", …) on large sites


@dataclass
class Page:
    """One output page: which template renders which model object, at which path."""
    path: str                                    # e.g. "units/x/index.html"
    template: str
    page: object
    title: str
    section: str                                 # nav highlight: home | rules | units | results
    draft: bool = False
    superseded: Link | None = None               # a revision's permanent page: text "<round>:<N>", url of the latest
    key: bytes | None = None                     # made from exactly these inputs (pagekeys.py); then `page` is None
    make: object = None                          # …and this callable makes the model, only if the page is rendered
    source: str | None = None                    # its fingerprint, when already computed (parallel.Keeper)
    holes: object = None                         # a scorecard made with holes for its averages (holes.Holes)


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """One entry of the full-text search index, rendered by `search.html` into a small page that Pagefind
    indexes in place of the page itself (its result links to `path`). It holds what a reader searches
    by — names, former names, categories, rulebook text — and no scores, so a corrected score never
    changes the search index."""
    path: str                                    # the page the result opens, e.g. "units/x/index.html"
    title: str
    filters: tuple[tuple[str, str], ...]         # (name, value): 年度, 类别, 类型
    meta: tuple[tuple[str, str], ...] = ()       # (name, value) shown with the result, e.g. 曾用名
    lines: tuple[object, ...] = ()               # text (str, or Markup from a rulebook's Markdown)


# ---------------------------------------------------------------- publishing

@dataclass(frozen=True, slots=True)
class NoticeData:
    """What the 通报 helpers can draw on, already formatted (filled by the build from a scored round)."""
    round_title: str
    year: int
    organisation: str                            # 发文机关, from site.yaml
    units: int
    grade_names: tuple[str, ...]
    grade_rows: tuple[tuple[str, tuple[int, ...], int], ...]     # (category, counts per grade name, total)
    awards: tuple[tuple[str, str, tuple[tuple[str, str, str, bool], ...]], ...]
    # (award name, rule, winners: (unit name, category, total, tied))
    top_deductions: tuple[tuple[str, str, int, str], ...]       # (criterion text, item title, units, points)
    corrections: tuple[tuple[str, str, str, str, str, str, str], ...]
    # (date, unit name, what was corrected, old, new, reason, "总分 95.00 → 96.00,等次 …")
    by_grade: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]   # (grade, ((unit, category, total), …))
    rankings: tuple[tuple[str, tuple[tuple[str, str, str, str], ...]], ...]
    # (category, ((rank, unit name, total, grade), …))
    rulebooks: tuple[str, ...] = ()              # titles of the rulebooks the round was scored under


@dataclass(frozen=True, slots=True)
class NoticePage:
    """The 通报 (GB/T 9704-2012 layout)."""
    round: RoundCard
    organisation: str                            # 发文机关标志
    doc_no: str                                  # 文号, e.g. 市组通〔2025〕3号
    title: str
    to: str                                      # 主送机关
    body: Markup
    signer: str                                  # 落款
    date: str                                    # 成文日期 in Arabic numerals: 2025年1月20日
    attachments: tuple[tuple[str, Markup], ...]  # (附件 title, table)
    pdf_url: str | None
    generated: bool                              # True when no notice.md: the standard 通报


@dataclass(frozen=True, slots=True)
class CorrectionLine:
    date: str
    revision: int                                # the revision that published it (0: pending)
    unit: UnitCard
    scorecard: str
    what: str                                    # "评分标准 A1-2 “……” 次数" / "备注"
    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImpactLine:
    """A unit whose published result changed between two revisions (directly or through others' ranks)."""
    unit: UnitCard
    scorecard: str
    total: tuple[str, str]                       # (old, new)
    grade: tuple[str, str]
    rank: tuple[int, int]
    awards: tuple[str, str]
    direct: bool                                 # corrected itself, rather than moved by another's change


@dataclass(frozen=True, slots=True)
class RevisionBlock:
    number: int                                  # 0 公示稿, 1.. published; -1 pending (待发布)
    label: str                                   # "第 2 次发布(2025年3月2日)" / "待发布"
    date: str
    url: str                                     # the revision's own pages (latest: the round's URL)
    corrections: tuple[CorrectionLine, ...]
    impact: tuple[ImpactLine, ...]


@dataclass(frozen=True, slots=True)
class CorrectionsPage:
    round: RoundCard
    revisions: tuple[RevisionBlock, ...]         # newest first
    history: tuple[tuple[int, str, str, str], ...]   # (revision, status label, date, url): the life cycle


def _fast_getstate() -> None:
    """Pickling a slotted frozen dataclass calls dataclasses.fields() for every object, which made the
    page fingerprint (render.Renderer.fingerprint pickles the whole model) a fifth of rendering; a
    precomputed getter gives the same state tuple without it."""
    import dataclasses
    from operator import attrgetter
    for obj in list(globals().values()):
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and "__slots__" in obj.__dict__:
            names = [f.name for f in dataclasses.fields(obj)]
            get = attrgetter(*names)
            obj.__getstate__ = (lambda self, get=get: (get(self),)) if len(names) == 1 else \
                (lambda self, get=get: get(self))


_fast_getstate()
