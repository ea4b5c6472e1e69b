"""The 通报 (notice): notice.md read and checked with its helper calls expanded, or the standard notice.

A notice body is author Markdown that may call a fixed set of helpers, e.g. `{{ top_deductions(10) }}`.
Each call is parsed with `ast` and must name a helper with literal arguments: author text is never
evaluated nor run through Jinja, so a notice can neither run code nor inject markup. Calls become
placeholder tokens, the Markdown is rendered safely (`markup.render`), then each token is replaced by
the helper's HTML, built with `escape` around every text (a token alone in its paragraph replaces the
whole `<p>`).

Headings: Markdown `#`/`##` are 一级标题 (黑体), `###` 二级标题 (楷体). A paragraph that begins with
“一、” or “（一）” (Word habit) gets its lead run, up to the first “。” (at most 30 characters), marked as
the same level, so “（一）抓好整改。各单位要……” prints “（一）抓好整改。” in 楷体.
"""
from __future__ import annotations

import ast
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from . import markup
from .errors import ContentError, Report
from .render import output_escape
from .model import NoticeData, NoticePage, RoundCard
from .numbers import date_text
from .schema import Fields
from .yamlio import load_yaml, read_text, split_front_matter

REQUIRED = object()
HELPERS = {                                      # name -> ((parameter, type, default), …)
    "grade_table": (), "awards": (), "top_deductions": (("n", int, 10),), "corrections": (),
    "units": (("grade", str, REQUIRED),), "rankings": (("category", str, ""),),
}
USAGE = {"grade_table": "{{ grade_table() }}", "awards": "{{ awards() }}", "corrections": "{{ corrections() }}",
         "top_deductions": "{{ top_deductions(10) }}", "units": '{{ units(grade="优秀") }}',
         "rankings": '{{ rankings() }} 或 {{ rankings(category="社区") }}'}
ANNEXES = {"rankings": "考核结果排名表", "corrections": "更正情况", "grade_table": "考核等次统计表",
           "awards": "评奖结果", "top_deductions": "主要扣分问题"}
CALL = re.compile(r"\{\{(.*?)\}\}")
NUM = "一二三四五六七八九十"
LEAD = re.compile(rf"<p>((?:[{NUM}]+、(?![{NUM}]))|（[{NUM}]+）)([^<。]{{1,30}}(?:。|(?=</p>)))")
KEYS = {"doc_no", "to", "signer", "date", "title", "attachments"}


@dataclass(frozen=True, slots=True)
class HelperCall:
    name: str
    args: tuple[tuple[str, object], ...]         # (parameter, value), defaults filled in
    line: int                                    # in notice.md
    token: str                                   # its placeholder in the Markdown


@dataclass(frozen=True, slots=True)
class NoticeSource:
    path: str                                    # notice.md as shown to the author
    doc_no: str
    to: str
    signer: str
    date: dt.date | None
    title: str
    body: str                                    # Markdown, each helper call replaced by its token
    calls: tuple[HelperCall, ...]
    annexes: tuple[str, ...]                     # helper names listed under `attachments:`


class _Bad(Exception):
    """A helper call the author must fix; the message is Chinese."""


# ---------------------------------------------------------------- reading notice.md

def read_notice(path: Path, shown: str, report: Report) -> NoticeSource | None:
    try:
        text = read_text(path, shown)
        if not text.lstrip("\ufeff").startswith("---"):
            report.error(shown, 1, "文件开头缺少 YAML 前言;请在第一行写“---”,其后写 doc_no(文号)、to(主送)、"
                                   "signer(落款)、date(成文日期),再用一行“---”结束,正文写在其后")
            return None
        front, offset, body, body_line = split_front_matter(text, shown)
        data = load_yaml(front, shown, offset)
    except ContentError as exc:
        report.extend(exc.report)
        return None
    if data is None:
        report.error(shown, 2, "YAML 前言是空的;请填写 doc_no(文号)、to(主送)、signer(落款)、date(成文日期)")
        return None
    f = Fields(data, shown, report, "通报")
    if not f.ok:
        return None
    doc_no = f.text("doc_no", required=True) or ""
    to = (f.text("to", required=True) or "").strip().rstrip(":：")
    signer = f.text("signer", required=True) or ""
    date, title = f.date("date", required=True), (f.text("title") or "").strip()
    annexes = f.strings("attachments")
    for name in annexes:
        if name not in ANNEXES:
            report.error(shown, f.line_of("attachments"), f"attachments 中的“{name}”不是可用的附件;"
                         f"可写 {'、'.join(ANNEXES)},如 attachments: [rankings, corrections]")
    f.done(KEYS)
    salt = hashlib.sha256(body.encode("utf-8")).hexdigest()[:12]
    body, calls = _find_calls(body, body_line, shown, report, salt)
    return NoticeSource(shown, doc_no, to, signer, date, title, body, calls,
                        tuple(n for n in annexes if n in ANNEXES))


def _find_calls(body: str, first_line: int, shown: str, report: Report, salt: str):
    calls: list[HelperCall] = []
    lines = []
    for number, line in enumerate(body.split("\n"), start=first_line):
        def replace(match: re.Match) -> str:
            try:
                name, args = parse_call(match.group(1))
            except _Bad as exc:
                report.error(shown, number, str(exc))
                return ""
            calls.append(HelperCall(name, args, number, f"KHN{salt}X{len(calls)}X"))
            return calls[-1].token
        line = CALL.sub(replace, line)
        if "{{" in line:
            report.error(shown, number, "“{{”没有配对的“}}”;辅助函数须写在同一行,如 {{ awards() }};"
                                        "若只想显示花括号,请改用全角“｛”")
            line = line.replace("{{", "")
        lines.append(line)
    return "\n".join(lines), tuple(calls)


def parse_call(expr: str) -> tuple[str, tuple[tuple[str, object], ...]]:
    """`top_deductions(10)` -> ("top_deductions", (("n", 10),)); anything else raises _Bad."""
    names = "、".join(f"{n}()" for n in HELPERS)
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        node = None
    if isinstance(node, ast.Name) and node.id in HELPERS:
        raise _Bad(f"辅助函数 {node.id} 后面缺少括号;请写成 {USAGE[node.id]}")
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise _Bad(f"“{{{{{expr}}}}}”不是辅助函数的调用;双花括号中只能写 {names} 之一,如 {{{{ top_deductions(10) }}}}")
    name, spec = node.func.id, HELPERS.get(node.func.id)
    if spec is None:
        raise _Bad(f"未知的辅助函数 {name};可用的辅助函数有 {names}")
    usage = USAGE[name]
    if len(node.args) > len(spec):
        raise _Bad(f"{name}() 的参数过多;请写成 {usage}")
    given = {param: arg for (param, _, _), arg in zip(spec, node.args)}
    for kw in node.keywords:
        if kw.arg is None or kw.arg not in {p for p, _, _ in spec} or kw.arg in given:
            raise _Bad(f"{name}() 的参数 {kw.arg or '**'} 不对;请写成 {usage}")
        given[kw.arg] = kw.value
    args = []
    for param, kind, default in spec:
        if param not in given:
            if default is REQUIRED:
                raise _Bad(f"{name}() 缺少参数 {param};请写成 {usage}")
            args.append((param, default))
            continue
        try:
            value = None if isinstance(given[param], ast.Starred) else ast.literal_eval(given[param])
        except Exception:                      # ValueError, TypeError, MemoryError, RecursionError…
            value = None
        if kind is int and (type(value) is not int or value < 1):
            raise _Bad(f"{name}() 的参数 {param} 应是正整数;请写成 {usage}")
        if kind is str and not isinstance(value, str):
            raise _Bad(f"{name}() 的参数 {param} 应是加英文引号的文字;请写成 {usage}")
        args.append((param, value))
    return name, tuple(args)


# ---------------------------------------------------------------- helpers: (block HTML, inline HTML or None)

def _p(text) -> Markup:
    return Markup("<p>{}</p>").format(text)


def _table(head, rows, caption: str = "", nums: tuple[int, ...] = ()) -> Markup:
    th = Markup("").join(Markup('<th scope="col">{}</th>').format(c) for c in head)
    # thousands of rows (a ranking of every unit): plain string joins of escaped cells, wrapped once
    opens = ['<td class="kh-n-num">' if i in nums else "<td>" for i in range(len(head))]
    # (output_escape: markupsafe's escaping as a plain str, without a Markup object per cell)
    trs = Markup("".join("<tr>" + "".join(f"{opens[i]}{output_escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                         for r in rows))
    cap = Markup("<caption>{}</caption>").format(caption) if caption else Markup("")
    wide = " kh-n-wide" if len(head) >= 6 else ""
    return Markup('<table class="kh-n-table{}">{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
        wide, cap, th, trs)


def grade_table(data: NoticeData):
    rows = [(cat, *counts, total) for cat, counts, total in data.grade_rows]
    if len(rows) > 1:
        rows.append(("合计", *(sum(r[1][i] for r in data.grade_rows) for i in range(len(data.grade_names))),
                     sum(r[2] for r in data.grade_rows)))
    nums = tuple(range(1, len(data.grade_names) + 2))
    return _table(("类别", *data.grade_names, "合计"), rows, nums=nums) if rows else _p("无。"), None


def _award_line(name: str, winners) -> str:
    if not winners:
        return f"“{name}”：空缺。"
    text = f"“{name}”（{len(winners)}个）：{'、'.join(w[0] for w in winners)}。"
    tied = [w[0] for w in winners if w[3]]
    return text + (f"其中，{'、'.join(tied)}名次并列于名额线，是否授予待考核委员会研究确定。" if tied else "")


def awards(data: NoticeData):
    lines = [_p(_award_line(name, winners)) for name, _rule, winners in data.awards]
    return Markup("").join(lines) or _p("本次考核未设奖项。"), None


def top_deductions(data: NoticeData, n: int = 10):
    rows = [(i, text, item, units, points) for i, (text, item, units, points) in enumerate(data.top_deductions[:n], 1)]
    return (_table(("序号", "扣分问题", "所属项目", "涉及单位数", "扣分合计"), rows, nums=(0, 3, 4)) if rows
            else _p("本次考核无扣分问题。")), None


def corrections(data: NoticeData):
    head = ("日期", "单位", "更正内容", "原内容", "更正为", "原因", "对结果的影响")
    return (_table(head, data.corrections) if data.corrections else _p("无更正。")), None


def units(data: NoticeData, grade: str):
    found = dict(data.by_grade)
    if grade not in found and grade not in data.grade_names:
        raise _Bad(f"units() 的等次“{grade}”不存在;本轮次的等次有 {'、'.join(data.grade_names) or '(无)'}")
    text = "、".join(u for u, _cat, _total in found.get(grade, ())) or "无"
    return _p(text), escape(text)


def rankings(data: NoticeData, category: str = ""):
    known = [c for c, _ in data.rankings]
    if category and category not in known:
        raise _Bad(f"rankings() 的类别“{category}”不存在;本轮次的类别有 {'、'.join(known) or '(无)'}")
    tables = [_table(("名次", "单位", "总分", "等次"), rows, caption=cat if len(known) > 1 else "", nums=(0, 2))
              for cat, rows in data.rankings if not category or cat == category]
    return Markup("").join(tables) or _p("无。"), None


BUILDERS = {"grade_table": grade_table, "awards": awards, "top_deductions": top_deductions,
            "corrections": corrections, "units": units, "rankings": rankings}


def _annex(name: str, data: NoticeData) -> tuple[str, Markup]:
    return ANNEXES[name], BUILDERS[name](data, **{p: d for p, _, d in HELPERS[name]})[0]


# ---------------------------------------------------------------- the page

def notice_page(source: NoticeSource | None, data: NoticeData, card: RoundCard, pdf_url: str | None,
                report: Report, shown: str, date: dt.date | None = None) -> NoticePage:
    """The notice from notice.md, or (source None) the standard 通报 written from `data`."""
    title = f"关于{data.round_title}结果的通报"
    if source is None:
        body, annexes = standard_body(data)
        return NoticePage(card, data.organisation, "", title, "各基层党组织", body, data.organisation,
                          date_text(date), annexes, pdf_url, True)
    body = _expand(source, data, report)
    annexes = tuple(_annex(name, data) for name in source.annexes)
    return NoticePage(card, data.organisation, source.doc_no, source.title or title, source.to, body,
                      source.signer, date_text(source.date or date), annexes, pdf_url, False)


def _leads(html: str) -> str:
    def mark(m: re.Match) -> str:
        level = "kh-n-h2" if m.group(1).startswith("（") else "kh-n-h1"
        return f'<p><span class="{level}">{m.group(1)}{m.group(2)}</span>'
    return LEAD.sub(mark, html)


def _expand(source: NoticeSource, data: NoticeData, report: Report) -> Markup:
    html = _leads(str(markup.render(source.body)))
    for call in source.calls:
        try:
            block, inline = BUILDERS[call.name](data, **dict(call.args))
        except _Bad as exc:
            report.error(source.path, call.line, str(exc))
            block, inline = Markup(""), Markup("")
        alone = f"<p>{call.token}</p>"
        if alone in html:
            html = html.replace(alone, str(block))
        elif inline is not None:
            html = html.replace(call.token, str(inline))
        elif call.token in html:
            report.error(source.path, call.line, f"{call.name}() 生成表格或多个段落,须单独成段;"
                                                 f"请把 {USAGE[call.name]} 单独写一行,前后各空一行")
            html = html.replace(call.token, "")
    return Markup(html)


REQUIREMENTS = (
    "（一）认真抓好问题整改。各单位要对照考核反馈的问题，逐条分析原因，制定整改措施，明确责任人和完成时限，"
    "做到问题不解决不放过、整改不到位不销号，切实以整改实效提升党建工作质量。",
    "（二）持续压实工作责任。各级党组织书记要切实履行抓党建第一责任人职责，坚持把党建工作与业务工作"
    "同谋划、同部署、同推进、同考核，推动全面从严治党主体责任落到实处。",
    "（三）巩固拓展考核成果。考核结果好的单位要珍惜荣誉、再接再厉，发挥示范带动作用；考核结果不理想的单位"
    "要正视差距、奋起直追。各单位要以此次考核为契机，对标先进找差距，推动基层党建工作全面进步、全面过硬。",
)


def standard_body(data: NoticeData) -> tuple[Markup, tuple[tuple[str, Markup], ...]]:
    """The 通报 written when a round has no notice.md: 缘由, 一、二、三, and the 附件."""
    h2, h3 = (lambda t: Markup("<h2>{}</h2>").format(t)), (lambda t: Markup("<h3>{}</h3>").format(t))
    basis = "".join(f"《{t}》" for t in data.rulebooks) or "考核细则"
    org = data.organisation
    out = [_p(f"根据{basis}有关规定，{org}组织开展了{data.round_title}工作。经综合评定，现将考核结果通报如下。"),
           h2("一、考核结果"), h3("（一）考核等次")]
    totals = [sum(row[1][i] for row in data.grade_rows) for i in range(len(data.grade_names))]
    counts = "，".join(f"评为“{g}”等次的{n}个" for g, n in zip(data.grade_names, totals) if n)
    text = f"本次考核共有{data.units}个单位参加。" + (f"经综合评定，{counts}。" if counts else "")
    top = next(((g, rows) for g, rows in data.by_grade if rows), None)
    if top:
        text += f"评为“{top[0]}”等次的单位是：{'、'.join(u for u, _c, _t in top[1])}。"
    out.append(_p(text))
    if data.awards:
        out.append(h3("（二）评奖情况"))
        out += [_p(_award_line(name, winners)) for name, _rule, winners in data.awards]
    annexes = [_annex("rankings", data)]
    see = "各单位考核得分及排名情况见附件1。"
    if data.corrections:
        annexes.append(_annex("corrections", data))
        see += f"考核结果经核实更正{len(data.corrections)}处，更正情况见附件2。"
    out += [_p(see), h2("二、存在问题")]
    problems = data.top_deductions[:5]
    if problems:
        listed = "；".join(f"{NUM[i]}是{crit.rstrip('。；;，, ')}（涉及{n}个单位，共扣{points}分）"
                          for i, (crit, _item, n, points) in enumerate(problems))
        out.append(_p(f"从考核情况看，各单位党建工作总体推进有力，但也存在一些薄弱环节，扣分较为集中的问题主要有：{listed}。"))
    else:
        out.append(_p("从考核情况看，本次考核未发现扣分较为集中的问题，但个别单位在工作落实上仍有差距，需要引起重视。"))
    out.append(h2("三、下一步要求"))
    out += [_p(text) for text in REQUIREMENTS]
    return Markup(_leads(str(Markup("").join(out)))), tuple(annexes)
