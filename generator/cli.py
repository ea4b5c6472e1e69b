"""`kaohe` command line: parses arguments and calls the pipeline; prints problems without tracebacks."""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

from .errors import ContentError, WorkerLost


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kaohe", description="党建工作目标管理考核结果静态网站生成器")
    sub = p.add_subparsers(dest="command", metavar="命令")

    def common(sp, output: bool = False):
        sp.add_argument("--content", default="content", help="内容文件夹(默认 content)")
        if output:
            sp.add_argument("--output", default="output", help="输出文件夹(默认 output)")
        sp.add_argument("-v", "--verbose", action="store_true", help="显示各步骤耗时")

    common(sub.add_parser("check", help="检查全部内容,报告所有问题,不生成网站"))
    b = sub.add_parser("build", help="计分并生成网站")
    common(b, output=True)
    b.add_argument("--drafts", action="store_true", help="包括草稿轮次")
    b.add_argument("--profile", choices=["internal", "public"], help="public:不输出 site.yaml 中标为 internal 的字段")
    b.add_argument("--pdf", action="store_true", help="同时用无头 Chromium 把每个轮次的通报打印为 notice.pdf(A4,公文格式)")
    sv = sub.add_parser("serve", help="预览:含草稿生成网站,在本机提供访问,内容或主题改动后自动重新生成并刷新浏览器")
    common(sv, output=True)
    sv.add_argument("--port", type=int, default=8000, help="端口(默认 8000)")
    sv.add_argument("--open", action="store_true", help="启动后打开浏览器")
    pb = sub.add_parser("publish", help="公示或发布一个轮次,或发布其更正(记录下一版)")
    pb.add_argument("round", help="轮次编号")
    pb.add_argument("--content", default="content", help="内容文件夹(默认 content)")
    pb.add_argument("--provisional", action="store_true", help="作为公示稿发布(须同时写 --until)")
    pb.add_argument("--until", type=_date, help="公示截止日期,如 2025-01-20")
    pb.add_argument("--date", type=_date, help="发布日期(默认今天)")
    n = sub.add_parser("new", help="从带注释的模板新建细则或轮次")
    n.add_argument("what", choices=["rulebook", "round"], help="rulebook(细则)或 round(轮次)")
    n.add_argument("id", help="编号,如 2025-shizhi-jiguan")
    n.add_argument("--content", default="content", help="内容文件夹(默认 content)")
    return p


# The cyclic garbage collector's thresholds (Python's are 700, 10, 10). A build allocates millions of
# objects that live on (the scored site) and millions that die at once (each page's model and text),
# and almost none of them in reference cycles; at the default a young collection ran every few hundred
# allocations, about a hundred per thousand pages. Only the young generation's threshold is raised: the
# older ones still collect what does form cycles (a round view and its page keys refer to each other).
# Measured at 10,000 units: 1.2 s less CPU for the build (about 5%), and no more memory at its peak.
GC_THRESHOLDS = (50_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    return _reporting(lambda: _command(args))


def _command(args) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "build":
        return _build(args)
    if args.command == "serve":
        from .serve import serve
        serve(Path(args.content), Path(args.output), port=args.port, shown=args.content, open_browser=args.open)
        return 0
    if args.command == "publish":
        from .publish import publish
        print(publish(Path(args.content), args.round, provisional=args.provisional, until=args.until,
                      date=args.date, shown=args.content), flush=True)
        return 0
    if args.command == "new":
        from .scaffold import new
        print(new(Path(args.content), args.what, args.id), flush=True)
        return 0
    return 0


def _reporting(run) -> int:
    """run() -> exit code, with content problems printed (exit 1) rather than raised."""
    try:
        return run()
    except ContentError as exc:
        _print_problems(exc.report.lines())
        errors = len(exc.report.errors)
        print(f"发现 {errors} 个错误,未生成任何文件;请按上面的提示修改后重试。", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("已中断;输出文件夹保持原样。", file=sys.stderr, flush=True)
        return 130
    except WorkerLost as exc:
        print(f"{exc};输出文件夹保持原样,请重试。", file=sys.stderr, flush=True)
        return 1


def _date(text: str):
    import datetime as dt
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}”不是日期,请写成 2025-01-20 的形式") from None


def _print_problems(lines: list[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr, flush=True)


def _log(args):
    return (lambda msg: print(msg, file=sys.stderr)) if args.verbose else None


def _check(args) -> int:
    from .build import check
    site = check(Path(args.content), args.content, _log(args))
    _print_problems(site.report.lines())
    units = sum(s.layout.n_units for s in site.scores.values())
    print(f"检查通过:{len(site.content.rulebooks)} 本细则,{len(site.content.units)} 个单位,"
          f"{len(site.content.rounds)} 个轮次,共计分 {units} 个单位次;{len(site.report.warnings)} 个警告。")
    return 0


def _build(args) -> int:
    """A build in this process, or by the resident process of these folders (resident.py), which keeps what
    the previous build computed: start-up and a cold start are then skipped."""
    from . import resident
    mode = resident.setting() if resident.possible(args) else "off"
    if mode != "off":
        code = resident.ask(args)
        if code is not None:
            return code
    elif resident.possible(args):
        resident.stop(args)         # KAOHE_RESIDENT=off: no resident process for these folders any more
    from .cache import cache_folder
    from .warm import Warm
    warm = Warm(lasts=resident.wanted) if mode != "off" else None     # kept by the resident process, if one stays
    code, units = _build_here(args, warm, cache_folder(Path(args.content)))
    if warm is not None and units is not None and resident.wanted(units):
        pid = resident.start(args, lambda again: _reporting(lambda: _build_here(again, warm, None)[0]),
                             lambda: _warm_up(args, warm), lambda: _span_fill(warm))
        if pid is not None:
            print(resident.started_message(pid), file=sys.stderr, flush=True)
    return code


def _span_fill(warm):
    """In the resident process, between builds: where the averages are in the scorecards the last build
    kept without drawing them (holes.SpanFill), so that the next correction refills them."""
    from .holes import SpanFill
    return SpanFill.of(warm)


def _warm_up(args, warm) -> None:
    """In the resident process, before it answers: a build of the same folders that writes nothing
    (`dry`) and makes afresh what kaohe build's Warm lacks and kaohe serve's has (every round read and
    checked file by file, full page keys, unit page keys, the data files' rows: `refresh`), so that the
    first corrected row is as quick as the next ones (1.6 s instead of 1.0 s at 10,000 units)."""
    from .build import build
    warm.refresh = True
    try:
        build(Path(args.content), Path(args.output), drafts=args.drafts, profile=args.profile, shown=args.content,
              warm=warm, dry=True)
    finally:
        warm.refresh = False


def _build_here(args, warm, cache) -> tuple[int, int | None]:
    """(exit code, units of the site built or None when nothing needed building)."""
    from .build import build, published_rounds
    start = time.perf_counter()
    progress = Progress() if sys.stderr.isatty() else None
    site = build(Path(args.content), Path(args.output), drafts=args.drafts, profile=args.profile,
                 shown=args.content, log=_log(args), progress=progress, pdf=args.pdf, warm=warm, cache=cache)
    if site is None:
        print(f"内容、主题和选项都没有变化,{args.output}/ 已是最新,未改写任何文件"
              f"(用时 {time.perf_counter() - start:.1f} 秒)。", flush=True)
        return 0, None
    if progress:
        progress.done()
    _print_problems(site.report.lines())
    rounds = published_rounds(site, args.drafts)
    units = sum(site.scores[r].layout.n_units for r in rounds)
    skipped = len(site.scores) - len(rounds)
    extra = f"(另有 {skipped} 个草稿轮次未输出,加 --drafts 可输出)" if skipped else ""
    if site.kept:
        extra += f";其中 {site.pages - site.kept} 个页面重新生成,{site.kept} 个页面的来源未变、沿用上次"
    seconds = time.perf_counter() - start
    print(f"已生成 {args.output}/:{site.pages} 个页面,{len(site.content.units)} 个单位,{len(rounds)} 个轮次"
          f"({units} 个单位次){extra},用时 {seconds:.1f} 秒({site.pages / max(seconds, 1e-9):.0f} 页/秒)。", flush=True)
    return 0, len(site.content.units)


class Progress:
    """A one-line progress count on the terminal for long builds (shown from the 2,000th page on)."""

    def __init__(self):
        self.shown = False

    def __call__(self, pages: int) -> None:
        if pages >= 2000 and pages % 500 == 0:
            print(f"\r  正在生成页面:{pages} 页", end="", file=sys.stderr, flush=True)
            self.shown = True

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)
