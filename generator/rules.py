"""Rulebooks (考核细则): Markdown with YAML front matter, one file or a folder of section files."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from .content import (DEFAULT_RATING_SCALE, BonusRule, Criterion, Grade, Item, Penalty, RankBand,
                      Rulebook, Section, Tier, Veto)
from .errors import ContentError, Report
from .numbers import plain
from .schema import Fields, check_number
from .yamlio import load_yaml, read_text, split_front_matter

KIND_KEYS = ("criteria", "tiers", "rank", "direct", "rating", "aggregate")
ITEM_KEYS = {"id", "title", "points", "requirements", "methods", "measure", "default", *KIND_KEYS}
AGGREGATE_STATS = ("mean", "min", "max", "median")


def load_rulebooks(rules_dir: Path, shown: str, report: Report, broken: set | None = None,
                   warm=None) -> dict[str, Rulebook]:
    """Every rulebook under rules/; ids of rulebooks with errors are added to `broken`. With `warm` (kaohe
    serve), a rulebook file whose bytes did not change since the last build is not read again (Warm.read;
    its YAML took 0.01 s of every rebuild at the bench's two rulebooks)."""
    books: dict[str, Rulebook] = {}
    broken = set() if broken is None else broken
    if not rules_dir.is_dir():
        report.error(shown, None, "找不到细则文件夹 rules/;请在内容文件夹中建立 rules/ 并放入细则文件")
        return books
    for entry in sorted(rules_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "_")):
            continue
        errors_before = len(report.errors)
        if entry.is_dir():
            book = _load_folder(entry, f"{shown}/{entry.name}", report)
        elif entry.suffix == ".md" and warm is not None:
            name = f"{shown}/{entry.name}"
            book = warm.read(("rulebook", name), entry, name, lambda found: _load_file(entry, name, found), report)
        elif entry.suffix == ".md":
            book = _load_file(entry, f"{shown}/{entry.name}", report)
        else:
            continue
        if book is None:
            continue
        if len(report.errors) > errors_before:
            broken.add(book.id)
        expected = entry.stem if entry.is_file() else entry.name
        if book.id != expected:
            report.error(book.path, book.line, f"细则编号 id: {book.id} 与文件名“{expected}”不一致;请把 id 改为 {expected},或把文件改名为 {book.id}")
        if book.id in books:
            report.error(book.path, book.line, f"细则编号 {book.id} 与 {books[book.id].path} 重复;每本细则的 id 必须唯一")
            continue
        books[book.id] = book
    for book in books.values():
        if book.supersedes and book.supersedes not in books:
            report.error(book.path, book.line, f"supersedes: {book.supersedes} 指向的细则不存在;请写上一版细则的 id,或删去此键")
        elif book.supersedes == book.id:
            report.error(book.path, book.line, "supersedes 不能指向本细则自身;请写上一版细则的 id")
    return books


def _read_front(path: Path, shown: str, report: Report):
    try:
        text = read_text(path, shown)
        front, offset, body, _ = split_front_matter(text, shown)
        data = load_yaml(front, shown, offset)
    except ContentError as exc:
        report.extend(exc.report)
        return None, ""
    if data is None:
        report.error(shown, 2, "YAML 前言是空的;请填写细则的键值")
        return None, ""
    return data, body


def _load_file(path: Path, shown: str, report: Report) -> Rulebook | None:
    data, body = _read_front(path, shown, report)
    if data is None:
        return None
    return parse_rulebook(data, body, shown, report, None)


def _load_folder(folder: Path, shown: str, report: Report) -> Rulebook | None:
    index = folder / "index.md"
    if not index.is_file():
        report.error(shown, None, "细则文件夹中缺少 index.md;请在其中写入细则的前言(id、title、total、grades 等)")
        return None
    data, body = _read_front(index, f"{shown}/index.md", report)
    if data is None:
        return None
    if isinstance(data, dict) and "sections" in data:
        report.error(f"{shown}/index.md", data.line_of("sections"),
                     "文件夹形式的细则,各部分应分别写在文件夹中的其他 .md 文件里,index.md 不能再有 sections;请把 sections 移到部分文件中")
    sections = []
    for part in sorted(folder.glob("*.md"), key=lambda p: p.name):
        if part.name == "index.md":
            continue
        part_shown = f"{shown}/{part.name}"
        front, part_body = _read_front(part, part_shown, report)
        if front is not None:
            sections.append((front, part_body, part_shown))
    if not sections:
        report.error(shown, None, "细则文件夹中没有部分文件;请为每个部分建立一个 .md 文件(前言写 id、title、points、items)")
    return parse_rulebook(data, body, f"{shown}/index.md", report, sections)


def parse_rulebook(data, body: str, path: str, report: Report, section_files) -> Rulebook | None:
    f = Fields(data, path, report, "细则")
    if not f.ok:
        return None
    rid = f.ident("id", slug=True)
    title = f.text("title", required=True) or ""
    issuer = f.text("issuer") or ""
    year = f.number("year", required=True, integer=True, minimum=1921)
    effective = f.date("effective")
    supersedes = f.text("supersedes")
    applies_to = f.strings("applies_to")
    total = f.number("total", required=True, positive=True)
    precision = f.number("precision", integer=True, minimum=0)
    if precision is not None and precision > 4:
        report.error(path, f.line_of("precision"), f"precision 为 {precision},小数位数过多;公布分数至多保留 4 位小数")
        precision = None
    grades = _grades(f, path, report)
    scale = _rating_scale(f, path, report)
    known_ids: dict[str, int] = {}

    def claim(ident: str | None, line: int, file: str) -> None:
        if ident is None:
            return
        if ident in known_ids:
            report.error(file, line, f"编号 {ident} 在本细则中重复(另见第 {known_ids[ident]} 行);细则内每个部分、项目、评分标准、加减分项的编号都必须唯一")
        else:
            known_ids[ident] = line

    sections: list[Section] = []
    if section_files is None:
        for i, raw in enumerate(f.seq("sections", required=True) or []):
            line = f.map["sections"].line_of(i) if hasattr(f.map["sections"], "line_of") else f.line
            section = _section(raw, "", path, line, report, claim)
            if section:
                sections.append(section)
    else:
        for raw, intro, spath in section_files:
            section = _section(raw, intro, spath, getattr(raw, "line", 1), report, claim)
            if section:
                sections.append(section)

    cap, bonus = _bonus(f, path, report, claim)
    penalties = _penalties(f, path, report, claim)
    vetoes = _vetoes(f, path, report, claim, grades)
    f.done()

    if total is not None and sections and all(s.points is not None for s in sections):
        summed = sum((s.points for s in sections), Decimal(0))
        if summed != total:
            parts = "+".join(plain(s.points) for s in sections)
            report.error(path, f.line_of("total"), f"各部分分值合计 {plain(summed)} 分({parts}),与 total: {plain(total)} 不符;请核对各部分分值或总分")
    if rid is None or total is None or year is None or grades is None:
        return None
    return Rulebook(id=rid, title=title, issuer=issuer, year=int(year), effective=effective,
                    supersedes=supersedes, applies_to=applies_to, total=total,
                    precision=int(precision) if precision is not None else 2, grades=grades,
                    rating_scale=scale, sections=tuple(sections), bonus_cap=cap, bonus=bonus,
                    penalties=penalties, vetoes=vetoes, body=body, path=path, line=f.line or 1)


def _grades(f: Fields, path: str, report: Report) -> tuple[Grade, ...] | None:
    raw = f.seq("grades", required=True)
    if raw is None:
        return None
    grades = []
    for i, g in enumerate(raw):
        gf = Fields(g, path, report, f"第 {i + 1} 个等次", raw.line_of(i) if hasattr(raw, "line_of") else f.line)
        name = gf.text("name", required=True)
        low = gf.number("min", required=True)
        gf.done()
        if name is not None and low is not None:
            grades.append(Grade(name, low))
    if not grades:
        report.error(path, f.line_of("grades"), "grades 中没有等次;请至少写一个等次,如 {name: 合格, min: 0}")
        return None
    for prev, cur in zip(grades, grades[1:]):
        if cur.min >= prev.min:
            report.error(path, f.line_of("grades"),
                         f"等次应按分数线从高到低排列:“{cur.name}”的 min {plain(cur.min)} 不低于上一档“{prev.name}”的 {plain(prev.min)};请调整顺序或分数线")
            return None
    if grades[-1].min != 0:
        report.error(path, f.line_of("grades"), f"最低一档“{grades[-1].name}”的 min 应为 0,否则低于 {plain(grades[-1].min)} 分的单位没有等次;请改为 min: 0")
        return None
    names = [g.name for g in grades]
    if len(set(names)) != len(names):
        report.error(path, f.line_of("grades"), "等次名称重复;每个等次的 name 必须不同")
        return None
    return tuple(grades)


def _rating_scale(f: Fields, path: str, report: Report) -> dict:
    raw = f.mapping("rating_scale")
    if raw is None:
        return dict(DEFAULT_RATING_SCALE)
    scale = {}
    for name, value in raw.items():
        line = raw.line_of(name) if hasattr(raw, "line_of") else f.line
        d = check_number(value, path, line, f"rating_scale 中“{name}”的系数", report)
        if d is None:
            continue
        if d > 1:
            report.error(path, line, f"rating_scale 中“{name}”的系数 {plain(d)} 大于 1;系数应在 0 到 1 之间")
            continue
        scale[str(name)] = d
    return scale


def _section(raw, intro: str, path: str, line: int, report: Report, claim) -> Section | None:
    f = Fields(raw, path, report, "部分", line)
    if not f.ok:
        return None
    sid = f.ident("id")
    title = f.text("title", required=True) or ""
    points = f.number("points", required=True)
    what = f"部分 {sid or ''}".strip()
    claim(sid, f.line, path)
    items = []
    raw_items = f.seq("items", required=True) or []
    for i, item in enumerate(raw_items):
        parsed = _item(item, sid or "?", path, raw_items.line_of(i) if hasattr(raw_items, "line_of") else f.line, report, claim)
        if parsed:
            items.append(parsed)
    f.done()
    if points is not None and items and len(items) == len(raw_items):
        summed = sum((it.points for it in items), Decimal(0))
        if summed != points:
            parts = "+".join(plain(it.points) for it in items)
            report.error(path, f.line_of("points"),
                         f"{what}“{title}”各项分值合计 {plain(summed)} 分({parts}),与 points: {plain(points)} 不符;请核对各项分值")
    if sid is None or points is None:
        return None
    return Section(sid, title, points, tuple(items), intro.strip(), path, f.line or line)


def _item(raw, section_id: str, path: str, line: int, report: Report, claim) -> Item | None:
    f = Fields(raw, path, report, "项目", line)
    if not f.ok:
        return None
    iid = f.ident("id")
    what = f"项目 {iid}" if iid else "项目"
    f.what = what
    claim(iid, f.line, path)
    title = f.text("title", required=True) or ""
    points = f.number("points", required=True)
    requirements = f.text("requirements") or ""
    methods = f.strings("methods")
    measure = f.text("measure")
    present = [k for k in KIND_KEYS if f.has(k) and f.map[k] not in (None, False)]
    if not present:
        report.error(path, f.line, f"{what} 未指明计分方式;请写 criteria(扣分标准)、tiers、rank、direct: true、rating: true 或 aggregate 之一")
        f.done(ITEM_KEYS)
        return None
    if len(present) > 1:
        report.error(path, f.line, f"{what} 同时写了 {'、'.join(present)} 两种以上计分方式;每个项目只能用一种,请删去多余的")
        f.done(ITEM_KEYS)
        return None
    key = present[0]
    kind = "deduction" if key == "criteria" else key
    fields: dict = {}
    if kind == "deduction":
        fields["criteria"] = _criteria(f, path, report, claim, what, points)
    elif kind == "tiers":
        fields["tiers"] = _tiers(f, path, report, what, points)
    elif kind == "rank":
        desc, bands = _rank(f, path, report, what, points)
        fields["rank_desc"], fields["rank_bands"] = desc, bands
    elif kind in ("direct", "rating"):
        if f.raw(key) is not True:
            report.error(path, f.line_of(key), f"{what}的 {key} 应写作 {key}: true")
    elif kind == "aggregate":
        af = Fields(f.raw("aggregate"), path, report, f"{what}的 aggregate", f.line_of("aggregate"))
        of = af.text("of") or "children"
        stat = af.text("stat") or "mean"
        af.done()
        if of != "children":
            report.error(path, f.line_of("aggregate"), f"{what}的 aggregate.of 只能是 children(下级单位)")
        if stat not in AGGREGATE_STATS:
            report.error(path, f.line_of("aggregate"), f"{what}的 aggregate.stat“{stat}”无效;请用 mean(平均)、min、max 或 median")
            stat = "mean"
        fields["aggregate_stat"] = stat
    default = f.number("default")
    if default is not None and points is not None and default > points:
        report.error(path, f.line_of("default"), f"{what}的 default {plain(default)} 超过本项分值 {plain(points)}")
    if default is not None and kind == "deduction":
        report.warning(path, f.line_of("default"), f"{what}是扣分项,无记录即得满分,default 不起作用;可删去")
    if kind in ("tiers", "rank") and not measure:
        report.warning(path, f.line, f"{what}没有写 measure(计量的是什么,如“参会出勤率(%)”);记分卡上将无法说明数值含义")
    f.done()
    if iid is None or points is None:
        return None
    return Item(id=iid, title=title, points=points, kind=kind, section_id=section_id,
                requirements=requirements, methods=methods, measure=measure, default=default,
                line=f.line or line, **fields)


def _criteria(f: Fields, path: str, report: Report, claim, what: str, points) -> tuple[Criterion, ...]:
    raw = f.seq("criteria") or []
    out = []
    for i, c in enumerate(raw):
        line = raw.line_of(i) if hasattr(raw, "line_of") else f.line
        cf = Fields(c, path, report, f"{what}的第 {i + 1} 条评分标准", line)
        if not cf.ok:
            continue
        cid = cf.ident("id")
        if cid:
            cf.what = f"评分标准 {cid}"
        claim(cid, cf.line, path)
        text = cf.text("text", required=True) or ""
        zero = cf.flag("zero")
        deduct = cf.number("deduct", required=not zero)
        unit = cf.text("unit")
        max_deduct = cf.number("max_deduct")
        cf.done()
        if zero and deduct:
            report.error(path, cf.line, f"{cf.what}写了 zero: true(本项不得分),就不能再写 deduct;请删去其一")
        if deduct is not None and points is not None and deduct > points:
            report.warning(path, cf.line_of("deduct"), f"{cf.what}每次扣 {plain(deduct)} 分,超过本项分值 {plain(points)} 分;扣完为止")
        if max_deduct is not None and deduct is not None and max_deduct < deduct:
            report.error(path, cf.line_of("max_deduct"), f"{cf.what}的 max_deduct {plain(max_deduct)} 小于每次扣分 {plain(deduct)};请核对")
        if cid is None or (deduct is None and not zero):
            continue
        out.append(Criterion(cid, text, deduct or Decimal(0), unit, max_deduct, zero, cf.line or line))
    return tuple(out)


def _tiers(f: Fields, path: str, report: Report, what: str, points) -> tuple[Tier, ...]:
    raw = f.seq("tiers") or []
    tiers = []
    for i, t in enumerate(raw):
        line = raw.line_of(i) if hasattr(raw, "line_of") else f.line
        tf = Fields(t, path, report, f"{what}的第 {i + 1} 档", line)
        low = tf.number("min", required=True, minimum=None)
        score = tf.number("score", required=True)
        tf.done()
        if low is None or score is None:
            continue
        if points is not None and score > points:
            report.error(path, tf.line, f"{tf.what}得分 {plain(score)} 超过本项分值 {plain(points)};请核对")
        tiers.append(Tier(low, score))
    if not tiers:
        report.error(path, f.line_of("tiers"), f"{what}的 tiers 中没有分档;请写如 - {{min: 90, score: 20}}")
    for prev, cur in zip(tiers, tiers[1:]):
        if cur.min >= prev.min:
            report.error(path, f.line_of("tiers"), f"{what}的分档应按 min 从高到低排列:{plain(cur.min)} 排在了 {plain(prev.min)} 之后;请调整顺序")
            break
    return tuple(tiers)


def _rank(f: Fields, path: str, report: Report, what: str, points):
    rf = Fields(f.raw("rank"), path, report, f"{what}的 rank", f.line_of("rank"))
    order = rf.text("order") or "desc"
    if order not in ("desc", "asc"):
        report.error(path, f.line_of("rank"), f"{what}的 rank.order“{order}”无效;desc 表示数值越大名次越前,asc 表示越小越前")
    raw = rf.seq("bands", required=True) or []
    rf.done()
    bands = []
    last_top = 0
    for i, b in enumerate(raw):
        line = raw.line_of(i) if hasattr(raw, "line_of") else f.line
        bf = Fields(b, path, report, f"{what}的第 {i + 1} 个名次段", line)
        top = bf.number("top", integer=True, positive=True)
        score = bf.number("score", required=True)
        bf.done()
        if score is None:
            continue
        if points is not None and score > points:
            report.error(path, bf.line, f"{bf.what}得分 {plain(score)} 超过本项分值 {plain(points)};请核对")
        if top is not None and top <= last_top:
            report.error(path, bf.line, f"{bf.what}的 top {plain(top)} 应大于上一段的 {last_top};请按名次从前到后排列")
        if top is None and i != len(raw) - 1:
            report.error(path, bf.line, f"{bf.what}没有 top,只能作为最后一段(其余名次)")
        bands.append(RankBand(int(top) if top is not None else None, score))
        last_top = int(top) if top is not None else last_top
    return order != "asc", tuple(bands)


def _bonus(f: Fields, path: str, report: Report, claim):
    bf = Fields(f.raw("bonus"), path, report, "加分项 bonus", f.line_of("bonus")) if f.has("bonus") else None
    if bf is None or not bf.ok:
        return None, ()
    cap = bf.number("cap")
    raw = bf.seq("rules") or []
    bf.done()
    return cap, _adjustments(raw, bf.line, "加分项", "add", BonusRule, path, report, claim)


def _penalties(f: Fields, path: str, report: Report, claim) -> tuple[Penalty, ...]:
    return _adjustments(f.seq("penalties") or [], f.line, "减分项", "deduct", Penalty, path, report, claim)


def _adjustments(raw, line0, name: str, amount_key: str, cls, path: str, report: Report, claim) -> tuple:
    """Bonus rules and penalties: {id, text, add|deduct, unit, max}."""
    out = []
    for i, r in enumerate(raw):
        line = raw.line_of(i) if hasattr(raw, "line_of") else line0
        rf = Fields(r, path, report, f"第 {i + 1} 条{name}", line)
        rid = rf.ident("id")
        if rid:
            rf.what = f"{name} {rid}"
        claim(rid, rf.line, path)
        text = rf.text("text", required=True) or ""
        amount = rf.number(amount_key, required=True)
        unit = rf.text("unit")
        mx = rf.number("max")
        rf.done()
        if rid and amount is not None:
            out.append(cls(rid, text, amount, unit, mx, rf.line or line))
    return tuple(out)


def _vetoes(f: Fields, path: str, report: Report, claim, grades) -> tuple[Veto, ...]:
    raw = f.seq("vetoes") or []
    names = [g.name for g in grades] if grades else []
    out = []
    for i, v in enumerate(raw):
        line = raw.line_of(i) if hasattr(raw, "line_of") else f.line
        vf = Fields(v, path, report, f"第 {i + 1} 条一票否决项", line)
        vid = vf.ident("id")
        if vid:
            vf.what = f"一票否决项 {vid}"
        claim(vid, vf.line, path)
        text = vf.text("text", required=True) or ""
        grade = vf.text("grade") or (names[-1] if names else "")
        vf.done()
        if names and grade not in names:
            report.error(path, vf.line_of("grade"), f"{vf.what}的等次“{grade}”不在本细则的 grades 中;请写 {'、'.join(names)} 之一")
            continue
        if vid:
            out.append(Veto(vid, text, grade, vf.line or line))
    return tuple(out)
