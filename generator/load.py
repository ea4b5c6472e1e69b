"""Reading the content folder into the content model, collecting every problem on the way."""
from __future__ import annotations

from pathlib import Path

from .content import Content, SiteConfig
from .errors import ContentError, Report
from .rounds import check_round_refs, load_rounds
from .rules import load_rulebooks
from .schema import Fields
from .corrections import check_published, read_corrections
from .lock import LOCK, read_lock, rubric_hash, verify
from .notice import read_notice
from .units import load_units
from .yamlio import load_yaml, read_text

def load_content(root: Path, shown: str, report: Report, warm=None) -> Content:
    if not root.is_dir():
        raise ContentError(_single(shown, f"找不到内容文件夹 {shown};请用 --content 指定内容文件夹,或在项目根目录运行"))
    config = load_site(root / "site.yaml", f"{shown}/site.yaml", report)
    if warm is not None:         # under serve the Warm lives on: the same units.csv gives the same units
        units = warm.read("units", root / "units.csv", shown,
                          lambda found: load_units(root / "units.csv", f"{shown}/units.csv", found), report)
    else:
        units = load_units(root / "units.csv", f"{shown}/units.csv", report)
    broken: set = set()
    rulebooks = load_rulebooks(root / "rules", f"{shown}/rules", report, broken, warm)
    rounds, results = load_rounds(root / "results", f"{shown}/results", report, warm)
    content = Content(root=shown, config=config, units=units, rulebooks=rulebooks, rounds=rounds, results=results, broken=broken)
    for rnd in rounds.values():
        check_round_refs(rnd, rulebooks, units, rounds, report)
        load_publication(content, root / "results" / rnd.id, rnd, report)
        load_notice(content, root / "results" / rnd.id, rnd, report)
    for book in rulebooks.values():
        for cat in book.applies_to:
            if units and not any(u.category == cat for u in units.values()):
                report.warning(book.path, book.line, f"applies_to 中的类别“{cat}”在名册 units.csv 中没有单位;请检查类别名称")
    return content


def load_notice(content: Content, folder: Path, rnd, report: Report) -> None:
    """The round's 通报 (notice.md, or the file round.yaml names); without one a standard 通报 is written."""
    name = rnd.notice or "notice.md"
    path = folder / name
    if not path.is_file():
        if rnd.notice:
            report.error(rnd.yaml_path, rnd.line_of.get("notice"), f"notice 指定的文件 {name} 不存在;请建立该文件,或删去 notice 一行(将自动生成通报)")
        return
    source = read_notice(path, f"{rnd.path}/{name}", report)
    if source is not None:
        content.notices[rnd.id] = source


def load_publication(content: Content, folder: Path, rnd, report: Report) -> None:
    """The round's publication record and corrections: locked files unchanged, status as published."""
    lock = read_lock(folder, rnd.path, report)
    fixes = read_corrections(folder, rnd.path, report)
    content.corrections[rnd.id] = fixes or []
    if lock is None:
        if rnd.status != "draft":
            report.error(rnd.yaml_path, rnd.line_of.get("status"),
                         f"status 为“{rnd.status}”,但该轮次没有发布记录 {LOCK};status 由 kaohe publish 设置:"
                         f"请改回 status: draft,再运行 kaohe publish {rnd.id}")
        elif fixes:
            report.warning(f"{rnd.path}/corrections.csv", None, "该轮次尚未发布,可以直接修改结果文件;更正记录仍会按顺序应用")
        return
    content.locks[rnd.id] = lock
    verify(lock, folder, rnd.path, report)
    if fixes is not None:
        check_published(lock, fixes, rnd.path, report)
    if rnd.status != lock.latest.status:
        report.error(rnd.yaml_path, rnd.line_of.get("status"),
                     f"status“{rnd.status}”与发布记录不符(第 {lock.latest.number} 版为“{lock.latest.status}”);"
                     f"status 由 kaohe publish 设置,请改回 status: {lock.latest.status}")
    for book_id in dict.fromkeys(rnd.rulebooks.values()):
        book = content.rulebooks.get(book_id)
        if book is not None and book_id in lock.rubric and rubric_hash(book) != lock.rubric[book_id]:
            report.error(book.path, book.line, f"细则 {book_id} 的评分内容在轮次 {rnd.id} 发布后被改动,这会改变已发布的结果;"
                                               f"请恢复原内容。如需修订细则,请另立新版(新文件,写 supersedes: {book_id})")


def load_site(path: Path, shown: str, report: Report) -> SiteConfig:
    data = {}
    if path.is_file():
        try:
            data = load_yaml(read_text(path, shown), shown) or {}
        except ContentError as exc:
            report.extend(exc.report)
            data = {}
    else:
        report.warning(shown, None, "没有 site.yaml,网站标题将使用默认值;请建立 site.yaml 并填写 title 和 organisation")
    f = Fields(data, shown, report, "站点配置")
    title = f.text("title") or "党建工作目标管理考核"
    organisation = f.text("organisation") or ""
    profile = f.text("profile") or "internal"
    if profile not in ("internal", "public"):
        report.error(shown, f.line_of("profile"), f"profile“{profile}”无效;只能是 internal(内部)或 public(公开)")
        profile = "internal"
    internal = f.strings("internal")
    theme = f.text("theme")
    f.done()
    return SiteConfig(title, organisation, profile, internal, theme, {})


def _single(path: str, message: str) -> Report:
    report = Report()
    report.error(path, None, message)
    return report
