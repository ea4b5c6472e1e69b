"""What the full-text search index holds: one SearchRecord per unit, rulebook and round.

Pagefind indexes these small records (rendered by the theme's `search.html`) rather than the pages
themselves. A record holds what a reader searches by — names, former names, categories, the text of a
rulebook — and no scores, so correcting a score never changes the index: a rebuild reuses the previous
index whenever the records are the same (see searchindex.py), and a first build indexes a few hundred
bytes per unit instead of a whole page.
"""
from __future__ import annotations

from .markup import render
from .model import SearchRecord
from .numbers import plain


def search_records(model):
    """Every record of the site model (pages.SiteModel), in a fixed order."""
    yield from head_records(model)
    yield from unit_records(model)


def kept_records(model, memo: dict, signature) -> tuple[list, bytes | None]:
    """search_records() under serve, with `memo` (warm.Warm.records) the last build's: its unit records
    when `signature` (the round ids and digests of what each round's participants are read from:
    units.csv, the rulebooks, round.yaml; and what the profile hides) is the same, and then also their
    pickled bytes when the other records are equal too. Returns (records, their pickled bytes or None)."""
    head = list(head_records(model))
    if memo.get("signature") == signature:
        units = memo["units"]
        if memo["head"] == head and memo.get("dumped") is not None:
            return head + units, memo["dumped"]
    else:
        units = list(unit_records(model))
    memo.clear()
    memo.update(signature=signature, head=head, units=units)
    return head + units, None


def head_records(model):
    """The records of the rulebooks and rounds."""
    content = model.content
    for book in content.rulebooks.values():
        yield rulebook_record(book, f"rules/{book.id}/index.html")
    for rid in model.round_ids:
        view = model.views[rid]
        rnd = view.rnd
        lines = [f"{rnd.year} 年度 · {view.card.status.label}",
                 "考核依据:" + "、".join(b.title for b in view.layout.books)]
        if rnd.awards:
            lines.append("奖项:" + "、".join(a.name for a in rnd.awards))
        if rnd.from_rounds:
            lines.append("由分轮次汇总:" + "、".join(content.rounds[r].title for r in rnd.from_rounds if r in content.rounds))
        yield SearchRecord(f"results/{rid}/index.html", rnd.title, (("年度", str(rnd.year)), ("类型", "考核轮次")),
                           (), tuple(lines))


def unit_records(model):
    """The records of the units: names, former names, category, parent, the rounds each took part in."""
    content = model.content
    for unit in content.units.values():
        lines = [f"考核类别:{unit.category}", f"编号:{unit.id}"]
        if unit.former_names:
            lines.append("曾用名:" + "、".join(unit.former_names))
        parent = content.units.get(unit.parent_id) if unit.parent_id else None
        if parent is not None:
            lines.append(f"上级单位:{parent.name}")
        lines += [f"{k}:{v}" for k, v in unit.extra.items() if v and k not in model.internal]
        taken = [content.rounds[rid].title for rid, _u in model.taken.get(unit.id, ())]
        if taken:
            lines.append("参加考核:" + "、".join(taken))
        meta = (("曾用名", "、".join(unit.former_names)),) if unit.former_names else ()
        yield SearchRecord(f"units/{unit.id}/index.html", unit.name, (("类别", unit.category), ("类型", "单位")),
                           meta, tuple(lines))


def rulebook_record(book, path: str) -> SearchRecord:
    lines = [f"{book.year} 年 · {book.issuer}" + (f" · 适用于{'、'.join(book.applies_to)}" if book.applies_to else "")]
    if book.body:
        lines.append(render(book.body))
    for section in book.sections:
        lines.append(f"{section.id} {section.title}(分值 {plain(section.points)})")
        if section.intro:
            lines.append(render(section.intro))
        for item in section.items:
            lines.append(f"{item.id} {item.title}")
            if item.requirements:
                lines.append(render(item.requirements))
            lines += [f"{c.id} {c.text}" for c in item.criteria]
    lines += [f"加分:{r.text}" for r in book.bonus]
    lines += [f"减分:{r.text}" for r in book.penalties]
    lines += [f"一票否决:{v.text}" for v in book.vetoes]
    return SearchRecord(path, book.title, (("年度", str(book.year)), ("类型", "考核细则")), (), tuple(lines))
