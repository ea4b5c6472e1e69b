"""Which state of a round each URL shows, and what each correction changed.

A published round is shown at its URL as its latest published revision (or, with --drafts, with the
pending corrections applied, marked 待发布); every other revision stays whole under r<N>/. The
corrections page compares consecutive states unit by unit, so a unit whose rank moved only because
another unit's score changed is listed too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .lock import Revision
from .model import CorrectionLine, CorrectionsPage, ImpactLine, RevisionBlock, RoundCard, Status
from .numbers import date_text
from .scorecards import STATUS_LABELS, unit_card

@dataclass
class RoundPlan:
    round_id: str
    score: object                    # RoundScore shown at the round's URL
    status: Status
    revision: Revision | None        # the revision shown there (None: a draft, or pending corrections)
    revisions: list = field(default_factory=list)  # [(Revision, RoundScore)]: every published one, under r<N>/
    pending: int = 0                 # corrections not yet published, applied (drafts only)


def revision_status(rev: Revision) -> Status:
    if rev.status == "公示":
        return Status("公示", "公示稿", f"公示期至 {date_text(rev.until)}" if rev.until else "公示期内")
    return Status("published", "已发布", f"{date_text(rev.date)}发布" + (f"(第 {rev.number} 版)" if rev.number > 1 else ""))


def plan_round(rid: str, site, drafts: bool) -> RoundPlan:
    lock = site.content.locks.get(rid)
    states = site.states[rid]
    fixes = site.content.corrections.get(rid, [])
    if lock is None:
        note = "草稿:结果尚未公布,仅供内部核对"
        return RoundPlan(rid, states[len(fixes)], Status("draft", "草稿", note), None)
    latest = lock.latest
    pending = len(fixes) - latest.corrections if drafts else 0
    if pending > 0:
        status = Status("draft", "待发布", f"含尚未发布的更正 {pending} 条,仅供核对;正式结果见第 {latest.number} 版")
        plan = RoundPlan(rid, states[len(fixes)], status, None, pending=pending)
    else:
        plan = RoundPlan(rid, states[latest.corrections], revision_status(latest), latest)
    # every published revision also has its own permanent pages, written once and never changed
    plan.revisions = [(rev, states[rev.corrections]) for rev in lock.revisions]
    return plan


def corrections_page(plan: RoundPlan, site, card: RoundCard, base: str) -> CorrectionsPage:
    rid = plan.round_id
    lock = site.content.locks[rid]
    fixes = site.content.corrections.get(rid, [])
    states = site.states[rid]
    blocks = []
    steps = [(rev, rev.corrections) for rev in lock.revisions]
    if plan.pending:
        steps.append((None, len(fixes)))
    previous_k = 0
    for rev, k in steps:
        rows = fixes[previous_k:k]
        if rows:
            before, after = states[previous_k], states[k]
            number = rev.number if rev else -1
            label = (f"第 {rev.number} 版({date_text(rev.date)}{'公示' if rev.status == '公示' else '发布'})"
                     if rev else "待发布的更正")
            url = f"{base}index.html" if rev is None else f"{base}r{rev.number}/index.html"
            blocks.append(RevisionBlock(number, label, date_text(rev.date) if rev else "", url,
                                        tuple(correction_line(c, number, after, base) for c in rows),
                                        tuple(impact(before, after, {c.unit_id for c in rows}, base))))
        previous_k = k
    history = tuple((rev.number, STATUS_LABELS.get(rev.status, rev.status), date_text(rev.date),
                     f"{base}r{rev.number}/index.html") for rev in lock.revisions)
    return CorrectionsPage(card, tuple(reversed(blocks)), history)


def correction_line(c, number: int, score, base: str) -> CorrectionLine:
    layout = score.layout
    u = layout.index.get(c.unit_id)
    unit = layout.units[u] if u is not None else None
    hit = layout.refs.get((int(layout.book_of[u]), c.ref)) if u is not None else None
    what = c.ref
    if hit:
        kind, pos = hit
        thing = {"criterion": layout.criteria, "item": layout.items}.get(kind)
        text = (thing[pos].text if kind == "criterion" else thing[pos].title) if thing else \
            {"bonus": layout.bonus, "penalty": layout.penalties, "veto": layout.vetoes}[kind][pos][1].text
        what = f"{c.ref}“{text}”"
    field_name = {"value": "", "note": "(备注)"}.get(c.field, f"({c.field}票数)")
    return CorrectionLine(c.date.isoformat(), number, unit_card(unit) if unit else None,
                          f"{base}{c.unit_id}/index.html", what + field_name, c.old or "(无)", c.new or "(无)", c.reason)


def impact(before, after, corrected: set, base: str) -> list[ImpactLine]:
    """Units whose total, grade, rank or awards differ between two states of the round."""
    out = []
    b_index = before.layout.index
    for u, unit in enumerate(after.layout.units):
        v = b_index.get(unit.id)
        if v is None:
            continue
        old = (_total(before, v), before.grade[v], int(before.rank[v]), _awards(before, v))
        new = (_total(after, u), after.grade[u], int(after.rank[u]), _awards(after, u))
        if old != new:
            out.append(ImpactLine(unit_card(unit), f"{base}{unit.id}/index.html", (old[0], new[0]), (old[1], new[1]),
                                  (old[2], new[2]), (old[3], new[3]), unit.id in corrected))
    out.sort(key=lambda line: (not line.direct, line.unit.category, line.rank[1]))
    return out


def _total(score, u: int) -> str:
    from .numbers import fmt
    return fmt(int(score.total[u]), int(score.precision[u]))


def _awards(score, u: int) -> str:
    names = {a.id: a.name for a in score.layout.round.awards}
    return "、".join(names[a] + ("(并列)" if tied else "") for a, tied in score.awards[u])
