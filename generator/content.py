"""The content model: what `load` reads and `validate`/`score` work on.

Typed, immutable records; numbers are exact `Decimal`s; every record keeps the file and line it
came from so later stages can point an author at it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

ITEM_KINDS = ("deduction", "tiers", "rank", "direct", "rating", "aggregate")
KIND_NAMES = {"deduction": "扣分项", "tiers": "分档计分项", "rank": "排名计分项", "direct": "直接打分项",
              "rating": "测评项", "aggregate": "汇总项"}
DEFAULT_SOURCE = "组织考核"
SELF_SOURCE = "自评"
DEFAULT_RATING_SCALE = {"优秀": Decimal("1.0"), "较好": Decimal("0.8"), "一般": Decimal("0.6"), "差": Decimal("0.0")}
# Ratings that are collected but mean "no opinion": reported on the scorecard, left out of the count.
ABSTAIN_RATINGS = ("不了解", "弃权", "不清楚", "无法评价")


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    category: str
    parent_id: str | None
    former_names: tuple[str, ...]
    active_until: dt.date | None
    extra: dict
    line: int

    def active_in(self, year: int) -> bool:
        return self.active_until is None or self.active_until.year >= year


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    text: str
    deduct: Decimal          # 0 for a `zero` criterion
    unit: str | None         # 次/例/篇…: counted; None: happens or not
    max_deduct: Decimal | None
    zero: bool
    line: int


@dataclass(frozen=True, slots=True)
class Tier:
    min: Decimal
    score: Decimal


@dataclass(frozen=True, slots=True)
class RankBand:
    top: int | None          # None: everyone below the previous bands
    score: Decimal


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    title: str
    points: Decimal
    kind: str
    section_id: str
    requirements: str = ""
    methods: tuple[str, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    tiers: tuple[Tier, ...] = ()            # highest min first
    measure: str | None = None
    default: Decimal | None = None
    rank_desc: bool = True
    rank_bands: tuple[RankBand, ...] = ()
    aggregate_stat: str = "mean"
    line: int = 0

    @property
    def needs_value(self) -> bool:
        return self.kind in ("tiers", "rank", "direct", "rating")


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    points: Decimal
    items: tuple[Item, ...]
    intro: str
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class BonusRule:
    id: str
    text: str
    add: Decimal
    unit: str | None
    max: Decimal | None
    line: int


@dataclass(frozen=True, slots=True)
class Penalty:
    id: str
    text: str
    deduct: Decimal
    unit: str | None
    max: Decimal | None
    line: int


@dataclass(frozen=True, slots=True)
class Veto:
    id: str
    text: str
    grade: str
    line: int


@dataclass(frozen=True, slots=True)
class Grade:
    name: str
    min: Decimal


@dataclass(frozen=True, slots=True)
class Rulebook:
    id: str
    title: str
    issuer: str
    year: int
    effective: dt.date | None
    supersedes: str | None
    applies_to: tuple[str, ...]
    total: Decimal
    precision: int
    grades: tuple[Grade, ...]
    rating_scale: dict
    sections: tuple[Section, ...]
    bonus_cap: Decimal | None
    bonus: tuple[BonusRule, ...]
    penalties: tuple[Penalty, ...]
    vetoes: tuple[Veto, ...]
    body: str
    path: str
    line: int

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)


@dataclass(frozen=True, slots=True)
class Award:
    id: str
    name: str
    quota: dict | None                 # category -> N
    share: Decimal | None
    per_category: bool
    min_score: Decimal | None
    categories: tuple[str, ...] | None
    line: int


@dataclass(frozen=True, slots=True)
class Round:
    id: str
    title: str
    year: int
    rulebooks: dict                    # category -> rulebook id ("*" when one rulebook for all)
    participants: tuple[str, ...] | None   # None: all units of the mapped categories
    status: str
    composition: dict                  # source -> Decimal weight
    awards: tuple[Award, ...]
    from_rounds: tuple[str, ...]
    from_stat: str
    notice: str | None
    until: dt.date | None
    path: str                          # shown path of the round folder
    yaml_path: str
    line_of: dict = field(default_factory=dict)   # key -> line in round.yaml

    def rulebook_for(self, category: str) -> str | None:
        if "*" in self.rulebooks:
            return self.rulebooks["*"]
        return self.rulebooks.get(category)

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"


@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str
    organisation: str
    profile: str
    internal: tuple[str, ...]
    theme: str | None
    extra: dict


@dataclass
class Content:
    """Everything read from the content folder, before scoring."""
    root: str
    config: SiteConfig
    units: dict            # id -> Unit, in file order
    rulebooks: dict        # id -> Rulebook, sorted by id
    rounds: dict           # id -> Round, sorted by id
    results: dict          # round id -> pandas.DataFrame of raw result rows
    broken: set = field(default_factory=set)   # ids of rulebooks that have errors: not scored against
    locks: dict = field(default_factory=dict)          # round id -> lock.Lock (published rounds)
    corrections: dict = field(default_factory=dict)    # round id -> [corrections.Correction]
    notices: dict = field(default_factory=dict)        # round id -> notice.NoticeSource (notice.md)
