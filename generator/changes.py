"""What changed between two editions of a rulebook (考核细则), for the "what changed" page.

`diff_rulebooks(old, new)` matches sections, items, criteria, bonus rules, penalties and vetoes by id
(ids are stable across editions) and lists, in rulebook order, what was added, removed or changed.
The order is the new edition's; a removed thing is placed where it stood in the old edition, after
the nearest earlier sibling that is still there. Children of an added or removed thing are not
listed again (a new item's criteria are part of "item added"), except ones that moved there from
elsewhere. Rulebook-level fields come first as one change "细则"; the bonus cap ("加分项封顶")
comes just before the bonus rules, where it stands in the rulebook. Values are rendered as text the
way authors write them ("5", "0.5"); "" means "not set". Changed texts (titles, requirements,
criteria…) also carry a character-level inline diff (`Detail.diff`) for the template to mark up.
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Callable, NamedTuple, Sequence

from .content import KIND_NAMES, Item, RankBand, Rulebook, Tier
from .numbers import plain

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# An unchanged run shorter than this between two edits is folded into them, so that a reworded
# phrase reads as one deletion and one insertion instead of a confetti of single characters.
MIN_EQUAL_RUN = 3
AGGREGATE_NAMES = {"mean": "平均值", "min": "最低值", "max": "最高值", "median": "中位数"}

Ops = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Detail:
    """One field that differs: its Chinese label, old and new value as text ("" = not set)."""
    field: str
    old: str
    new: str
    diff: Ops = ()       # for texts: ("=" | "-" | "+", text) runs; "="+"-" is old, "="+"+" is new


@dataclass(frozen=True, slots=True)
class Change:
    kind: str            # "added" | "removed" | "changed"
    target: str          # "项目 C1", "评分标准 C3-2", "部分 C", "加分项封顶", "细则" …
    anchor: str          # HTML anchor: the id in the new edition, or in the old one when removed
    title: str           # the thing's title or text (the new one, unless removed)
    details: tuple[Detail, ...] = ()


@dataclass(frozen=True, slots=True)
class RulebookDiff:
    old_id: str
    new_id: str
    changes: tuple[Change, ...]

    def counts(self) -> dict[str, int]:
        """How many things were added, removed and changed."""
        out = {ADDED: 0, REMOVED: 0, CHANGED: 0}
        for change in self.changes:
            out[change.kind] += 1
        return out

    @property
    def empty(self) -> bool:
        return not self.changes


class _Field(NamedTuple):
    label: str
    get: Callable[[Any], str]
    prose: bool = False      # a text: compared with an inline diff
    summary: bool = False    # shown with an added or removed thing (its points, deduction…)


def _num(value) -> str:
    return "" if value is None else plain(value)


def _text(value: str | None) -> str:
    return (value or "").strip()


def _tiers(tiers: Sequence[Tier]) -> str:
    return "；".join(f"≥{plain(t.min)}：{plain(t.score)}分" for t in tiers)


def _band(band: RankBand) -> str:
    return f"{'其余' if band.top is None else f'前{band.top}名'} {plain(band.score)}分"


def _bands(item: Item) -> str:
    if item.kind != "rank" or not item.rank_bands:
        return ""
    order = "数值越大名次越前" if item.rank_desc else "数值越小名次越前"
    return "；".join(_band(b) for b in item.rank_bands) + f"（{order}）"


def _deduct(c) -> str:
    return "本项不得分" if c.zero else plain(c.deduct)


BOOK_FIELDS = (
    _Field("标题", lambda b: _text(b.title), prose=True),
    _Field("发文机关", lambda b: _text(b.issuer)),
    _Field("适用对象", lambda b: "、".join(b.applies_to)),
    _Field("总分", lambda b: plain(b.total)),
    _Field("保留小数位数", lambda b: str(b.precision)),
    _Field("等次", lambda b: "；".join(f"{g.name} {plain(g.min)}分以上" for g in b.grades), prose=True),
    _Field("测评系数", lambda b: "；".join(f"{k} {plain(v)}" for k, v in b.rating_scale.items()), prose=True),
)
SECTION_FIELDS = (
    _Field("标题", lambda s: _text(s.title), prose=True),
    _Field("分值", lambda s: plain(s.points), summary=True),
)
ITEM_FIELDS = (
    _Field("标题", lambda i: _text(i.title), prose=True),
    _Field("所属部分", lambda i: i.section_id),
    _Field("分值", lambda i: plain(i.points), summary=True),
    _Field("计分方式", lambda i: KIND_NAMES.get(i.kind, i.kind), summary=True),
    _Field("目标要求", lambda i: _text(i.requirements), prose=True),
    _Field("考核方式", lambda i: "；".join(m.strip() for m in i.methods), prose=True),
    _Field("计量", lambda i: _text(i.measure), summary=True),
    _Field("分档", lambda i: _tiers(i.tiers), summary=True),
    _Field("名次段", _bands, summary=True),
    _Field("汇总方式", lambda i: AGGREGATE_NAMES.get(i.aggregate_stat, i.aggregate_stat)
           if i.kind == "aggregate" else "", summary=True),
    _Field("默认分", lambda i: _num(i.default), summary=True),
)
CRITERION_FIELDS = (
    _Field("评分标准", lambda c: _text(c.text), prose=True),
    _Field("扣分", _deduct, summary=True),
    _Field("计量单位", lambda c: c.unit or "", summary=True),
    _Field("扣分上限", lambda c: _num(c.max_deduct), summary=True),
)


def _adjustment_fields(verb: str, amount: str) -> tuple[_Field, ...]:
    """Fields of a bonus rule (verb 加, attribute add) or a penalty (扣, deduct)."""
    return (_Field("内容", lambda r: _text(r.text), prose=True),
            _Field(f"{verb}分", lambda r: plain(getattr(r, amount)), summary=True),
            _Field("计量单位", lambda r: r.unit or "", summary=True),
            _Field(f"{verb}分上限", lambda r: _num(r.max), summary=True))


BONUS_FIELDS = _adjustment_fields("加", "add")
PENALTY_FIELDS = _adjustment_fields("扣", "deduct")
VETO_FIELDS = (
    _Field("内容", lambda v: _text(v.text), prose=True),
    _Field("等次", lambda v: v.grade, summary=True),
)


def inline_diff(old: str, new: str) -> Ops:
    """Character-level diff of two texts as ("=" | "-" | "+", text) runs, deletions before insertions.

    Short unchanged runs between two edits are folded into the edits, so the result reads as whole
    phrases replaced. Joining the "=" and "-" runs gives `old`; the "=" and "+" runs give `new`.
    """
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    runs: list[list[str]] = []          # ["=", text] or ["~", deleted, inserted]
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            runs.append(["=", old[i1:i2]])
        elif runs and runs[-1][0] == "~":
            runs[-1][1] += old[i1:i2]
            runs[-1][2] += new[j1:j2]
        else:
            runs.append(["~", old[i1:i2], new[j1:j2]])
    merged: list[list[str]] = []
    for run in runs:
        # fold `edit, short equal, edit` into one edit
        if (run[0] == "~" and len(merged) >= 2 and merged[-1][0] == "=" and merged[-2][0] == "~"
                and len(merged[-1][1]) < MIN_EQUAL_RUN):
            same = merged.pop()[1]
            merged[-1][1] += same + run[1]
            merged[-1][2] += same + run[2]
        else:
            merged.append(run)
    out: list[tuple[str, str]] = []
    for run in merged:
        if run[0] == "=":
            out.append(("=", run[1]))
        else:
            out.extend((op, text) for op, text in (("-", run[1]), ("+", run[2])) if text)
    return tuple(out)


def _compare(target: str, anchor: str, old, new, fields: Sequence[_Field], title: Callable[[Any], str],
             extra: Sequence[Detail] = ()) -> Change | None:
    """The change of one thing matched by id (either side may be None), or None when unchanged."""
    if old is None or new is None:
        thing, kind = (new, ADDED) if old is None else (old, REMOVED)
        details = []
        for f in fields:
            value = f.get(thing)
            if f.summary and value:
                details.append(Detail(f.label, "", value) if kind == ADDED else Detail(f.label, value, ""))
        return Change(kind, target, anchor, title(thing), tuple(details))
    details = list(extra)
    for f in fields:
        a, b = f.get(old), f.get(new)
        if a != b:
            details.append(Detail(f.label, a, b, inline_diff(a, b) if f.prose and a and b else ()))
    return Change(CHANGED, target, anchor, title(new), tuple(details)) if details else None


def _merge(old_ids: Sequence[str], new_ids: Sequence[str], gone: Callable[[str], bool]) -> list[str]:
    """New ids in order, with the `gone` old ids placed after their nearest earlier surviving sibling."""
    here = set(new_ids)
    after: dict[str | None, list[str]] = {}
    prev: str | None = None
    for ident in old_ids:
        if gone(ident):
            after.setdefault(prev, []).append(ident)
        elif ident in here:
            prev = ident
    out = list(after.get(None, ()))
    for ident in new_ids:
        out.append(ident)
        out.extend(after.get(ident, ()))
    return out


def _flat(out: list[Change], name: str, old: Sequence, new: Sequence, fields: Sequence[_Field]) -> None:
    """Bonus rules, penalties or vetoes: a flat list matched by id."""
    before, now = {r.id: r for r in old}, {r.id: r for r in new}
    for ident in _merge(list(before), list(now), lambda i: i not in now):
        _keep(out, _compare(f"{name} {ident}", ident, before.get(ident), now.get(ident), fields, lambda r: _text(r.text)))


def _keep(out: list[Change], change: Change | None, quiet: bool = False) -> bool:
    """Append `change` unless there is none, or `quiet` and it is an addition or removal.

    Returns whether the thing itself was added or removed (its children are then quiet).
    """
    if change is not None and not (quiet and change.kind != CHANGED):
        out.append(change)
    return change is not None and change.kind != CHANGED


def diff_rulebooks(old: Rulebook, new: Rulebook) -> RulebookDiff:
    """Everything that changed from the superseded edition `old` to `new`, in rulebook order."""
    out: list[Change] = []
    _keep(out, _compare("细则", new.id, old, new, BOOK_FIELDS, lambda b: _text(b.title)))
    old_sections, new_sections = {s.id: s for s in old.sections}, {s.id: s for s in new.sections}
    old_items, new_items = {i.id: i for i in old.items}, {i.id: i for i in new.items}
    old_crit = {c.id: (c, i.id) for i in old.items for c in i.criteria}
    new_crit = {c.id: (c, i.id) for i in new.items for c in i.criteria}
    for sid in _merge(list(old_sections), list(new_sections), lambda i: i not in new_sections):
        os_, ns = old_sections.get(sid), new_sections.get(sid)
        section_gone = _keep(out, _compare(f"部分 {sid}", sid, os_, ns, SECTION_FIELDS, lambda s: _text(s.title)))
        item_ids = _merge([i.id for i in os_.items] if os_ else [], [i.id for i in ns.items] if ns else [],
                          lambda i: i not in new_items)
        for iid in item_ids:
            oi, ni = old_items.get(iid), new_items.get(iid)
            item_gone = _keep(out, _compare(f"项目 {iid}", iid, oi, ni, ITEM_FIELDS, lambda i: _text(i.title)),
                              quiet=section_gone)
            for cid in _merge([c.id for c in oi.criteria] if oi else [], [c.id for c in ni.criteria] if ni else [],
                              lambda c: c not in new_crit):
                (oc, o_parent), (nc, n_parent) = old_crit.get(cid, (None, "")), new_crit.get(cid, (None, ""))
                moved = [Detail("所属项目", o_parent, n_parent)] if oc and nc and o_parent != n_parent else []
                change = _compare(f"评分标准 {cid}", cid, oc, nc, CRITERION_FIELDS, lambda c: _text(c.text), moved)
                _keep(out, change, quiet=item_gone)
    old_cap, new_cap = _num(old.bonus_cap) or "不封顶", _num(new.bonus_cap) or "不封顶"
    if old_cap != new_cap:
        out.append(Change(CHANGED, "加分项封顶", "bonus", "加分项封顶", (Detail("加分封顶", old_cap, new_cap),)))
    _flat(out, "加分项", old.bonus, new.bonus, BONUS_FIELDS)
    _flat(out, "减分项", old.penalties, new.penalties, PENALTY_FIELDS)
    _flat(out, "一票否决项", old.vetoes, new.vetoes, VETO_FIELDS)
    return RulebookDiff(old.id, new.id, tuple(out))
