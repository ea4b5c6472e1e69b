"""`kaohe serve`: build once with drafts, serve the output folder with livereload, rebuild on change.

One thread does everything. Tornado's IOLoop answers requests and, every POLL_MS (less often for a
content folder of thousands of files, see poll()), and at once when inotify says a watched file was saved
(Wakeup, on Linux), compares a snapshot of the watched files with the previous one; on any difference it
runs `build()` right there, with what the previous build computed kept where its inputs are the same
(warm.py: scored rounds, result files read and checked, round views, page keys, compiled templates,
search records): at 10,000 units one more deduction is in place about 0.6 s after it is saved, the
bench's heavier correction (1,695 pages re-rendered) about 0.8 s (bench/RESULTS.md), a little quicker than `kaohe
build` answered by its resident process (resident.py), which has a process to start. So builds never overlap, however many files one
save touches, and no request is answered mid-build (the build also swaps the new site in atomically).
Browsers are then told to reload.

While a rebuild is failing, every HTML page is replaced by an error page. livereload's output transform
injects its script into that page like into any other HTML response, so the browser reloads on the
next change and recovers by itself once the file is fixed. Other files are served as before.
"""
from __future__ import annotations

import gc
import html
import ipaddress
import logging
import os
import sys
import threading
import time
import traceback
import webbrowser
from pathlib import Path

from livereload import Server
from livereload.handlers import LiveReloadHandler, StaticFileHandler
from livereload.watcher import Watcher
from tornado.ioloop import IOLoop, PeriodicCallback

from .build import build
from .errors import ContentError
from .holes import SpanFill
from .warm import COLLECT_AFTER, UNCOLLECTED, Warm

POLL_MS = 50      # how often the watched files are compared (at most): a rebuild starts within this
                  # (a comparison takes 0.4 ms for the 10,000-unit bench content: under 1% of a core)
POLL_SHARE = 20   # ... but never more often than every 20 times a comparison takes (5% of a core when idle)
COLLECT_NOW_UNITS = 20_000   # ... or at once after every rebuild of a site of more units
REPO_THEMES = Path(__file__).resolve().parent.parent / "themes"
PAGE_SUFFIXES = (".html", ".htm")
CONTENT_FAILED = "内容有误,网站未更新"
BUILD_CRASHED = "生成网站时出错,网站未更新"


def ignored(name: str) -> bool:
    """Hidden files (including kaohe's `.output.new-PID`/`.output.old-PID`), Office lock files and editor
    backups never trigger a build."""
    return name.startswith((".", "~$")) or name.endswith(("~", ".swp", ".tmp"))


def watched_folders(content: Path) -> list[Path]:
    """The content folder and the theme folders (a missing one is watched too, in case it is created)."""
    folders = [content, REPO_THEMES, content.parent / "themes"]
    return list(dict.fromkeys(f.resolve() for f in folders))


def snapshot(folders: list[Path], output: Path) -> dict[str, tuple[int, int, int]]:
    """(mtime, size, inode) of every watched file; the output folder and ignored names are left out."""
    skip = output.resolve()
    files: dict[str, tuple[int, int, int]] = {}
    for folder in folders:
        for root, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if not ignored(d) and Path(root, d).resolve() != skip]
            for name in names:
                if ignored(name):
                    continue
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # deleted while we looked; the next snapshot will notice
                files[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return files


def error_page(title: str, lines: list[str]) -> str:
    items = "\n".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.6 sans-serif;margin:2em auto;max-width:60em;padding:0 1em}}
h1{{color:#b00}} li{{font-family:monospace;white-space:pre-wrap;margin:.4em 0}}</style></head>
<body><h1>{title}</h1>
<p>请按下面的提示修改;保存后网站会自动重新生成,本页随之刷新。</p>
<ol>
{items}
</ol></body></html>
"""


class Preview:
    """Builds the site and remembers whether the last build failed, and why."""

    def __init__(self, content: Path, output: Path, shown: str | None):
        self.content, self.output, self.shown = content, output, shown
        self.folders = watched_folders(content)
        self.seen = snapshot(self.folders, output)
        self.failure: tuple[str, list[str]] | None = None   # (page title, problem lines)
        self.warm = Warm()       # what each rebuild keeps from the one before (warm.py)
        self.timer: PeriodicCallback | None = None      # what calls poll(), once serving
        self.loop: IOLoop | None = None                 # the IOLoop serving, once serving
        self.pending = None                             # the collection scheduled by collect_later()
        self.uncollected = 0                            # rebuilds since the last collection
        self.units = 0                                  # units of the last site built
        self.refilled = 0                               # scorecards the last build refilled (holes.py)
        self.filling: SpanFill | None = None            # finding where the averages are (fill_spans) ...
        self.fill_next = None                           # ... whose next step is scheduled here

    def rebuild(self) -> None:
        start = time.perf_counter()
        # until a build has filled the Warm, each makes every data file's rows too (as the resident process's
        # warm-up does, cli._warm_up): started over an up-to-date site, the first build keeps every file and
        # would leave them unmade, and the first correction made every row of its round (0.3 s at 10,000 units)
        self.warm.refresh = not self.warm.views
        try:
            site = build(self.content, self.output, drafts=True, shown=self.shown, warm=self.warm)
        except ContentError as exc:
            self.failure = (CONTENT_FAILED, exc.report.lines())
            print("\n".join(exc.report.lines()), file=sys.stderr)
        except Exception as exc:   # a bug or an unwritable output: keep serving, show it, print the traceback
            traceback.print_exc()
            self.failure = (BUILD_CRASHED, [f"{type(exc).__name__}: {exc}", "详细信息见运行 kaohe serve 的终端。"])
        else:
            self.warm.refresh = False
            self.failure = None
            if site is None:            # nothing that the site is made from changed
                return
            self.units = len(site.content.units)
            self.refilled = site.refilled
            self.fill_spans()
            for line in site.report.lines():
                print(line, file=sys.stderr)
            print(f"已生成 {site.files} 个文件,其中 {site.pages - site.kept} 个页面重新生成,"
                  f"用时 {time.perf_counter() - start:.1f} 秒。", flush=True)
            return
        print(f"{self.failure[0]};修改后保存即可自动重新生成。", file=sys.stderr, flush=True)

    def fill_spans(self) -> None:
        """After a build, find in the background where the averages are in the scorecards it kept without
        drawing (holes.SpanFill), a step at a time between the IOLoop's other work, so that the next
        correction that moves a category's average refills them instead of drawing them. Without an IOLoop
        (before serving starts), once it is there."""
        if self.loop is None:
            return
        if self.fill_next is not None:           # a newer build: its own fill replaces the one under way
            self.loop.remove_timeout(self.fill_next)
            self.fill_next = None
        fill = self.filling = SpanFill.of(self.warm)
        if fill is None:
            return

        def step() -> None:
            self.fill_next = None
            if fill.step():
                self.fill_next = self.loop.call_later(fill.PAUSE, step)
            else:
                self.filling = None
        self.fill_next = self.loop.call_later(fill.PAUSE, step)

    def poll(self) -> None:
        """Called by the IOLoop: one full build per poll that sees any change, then reload the browsers."""
        start = time.perf_counter()
        now = snapshot(self.folders, self.output)
        if self.timer is not None:     # a content folder of thousands of files is compared less often
            self.timer.callback_time = max(POLL_MS, POLL_SHARE * 1000 * (time.perf_counter() - start))
        if now != self.seen:
            self.seen = now   # taken before the build: a save during the build triggers one more
            self.rebuild()
            LiveReloadHandler.reload_waiters("*")
            self.collect_later()

    def collect_later(self) -> None:
        """collect() once the preview has been quiet for COLLECT_AFTER seconds: a full collection takes
        0.3 s at 10,000 units, and a save made meanwhile (the next corrected row) would wait for it. But
        never more than UNCOLLECTED rebuilds in a row go uncollected (an editor saving every second would
        otherwise never let it run, and each build's leftovers take about 70 MB at 10,000 units), and on a
        site of more than COLLECT_NOW_UNITS units always now (at 100,000 units two builds' leftovers took
        serve past 4 GB, and a rebuild takes seconds there anyway). Without an IOLoop (tests), now."""
        self.uncollected += 1
        if self.pending is not None:
            self.loop.remove_timeout(self.pending)
            self.pending = None
        if self.loop is None or self.uncollected >= UNCOLLECTED or self.units > COLLECT_NOW_UNITS:
            self._collect()
        else:
            self.pending = self.loop.call_later(COLLECT_AFTER, self._collect)

    def _collect(self) -> None:
        self.pending = None
        self.uncollected = 0
        collect()


def collect() -> None:
    """Free the previous build's site model now that the new site is in place and the browsers are told.
    Its round views and their page keys refer to each other, so only a full collection frees them, and the
    raised thresholds of the `kaohe` command (cli.GC_THRESHOLDS) seldom run one: without this, serve grew
    by about 55 MB per rebuild at 10,000 units."""
    gc.collect()


class Wakeup:
    """Linux's inotify, where there is one: the preview looks at the files as soon as one is saved, rather
    than at its next poll (every POLL_MS: 25 ms of every correction's wait on average). Every watched folder
    is watched, and folders made later once they are seen. The poll stays: it is what notices a change
    where inotify cannot (a folder on a network share), and it alone decides whether anything changed."""

    # IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF, IN_ONLYDIR
    MASK = 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 | 0x01000000

    def __init__(self, preview: Preview, loop: IOLoop):
        self.preview, self.fd, self.watched = preview, None, set()
        if not sys.platform.startswith("linux"):
            return
        try:
            import ctypes
            import ctypes.util
            self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd < 0:
            return
        self.fd = fd
        self.watch()
        loop.add_handler(fd, self.woken, IOLoop.READ)

    def watch(self) -> None:
        """Watch every watched folder not watched yet (a folder already watched is kept as it is)."""
        skip = self.preview.output.resolve()
        for folder in self.preview.folders:
            for root, dirs, _names in os.walk(folder):
                dirs[:] = [d for d in dirs if not ignored(d) and Path(root, d).resolve() != skip]
                if root not in self.watched and self.libc.inotify_add_watch(self.fd, os.fsencode(root), self.MASK) >= 0:
                    self.watched.add(root)

    def woken(self, fd: int, _events: int) -> None:
        try:
            while os.read(fd, 1 << 16):
                pass
        except BlockingIOError:
            pass
        self.watched.clear()         # folders deleted and made again get new watches
        self.watch()
        self.preview.poll()


class PageHandler(StaticFileHandler):
    """livereload's static file handler, except that HTML pages become the error page while builds fail."""

    preview: Preview   # set on a per-server subclass

    async def get(self, path: str, include_body: bool = True) -> None:
        if self.preview.failure and self.is_page(path):
            self.set_status(500)
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(error_page(*self.preview.failure))
            return
        await super().get(path, include_body)

    def is_page(self, path: str) -> bool:
        return (path in ("", ".") or path.endswith(("/",) + PAGE_SUFFIXES)
                or os.path.isdir(os.path.join(self.root, path)))


def serve(content: Path, output: Path, *, port: int = 8000, host: str = "127.0.0.1",
          shown: str | None = None, open_browser: bool = False) -> None:
    """Build with drafts, serve `output` on host:port with livereload, rebuild on change; Ctrl+C stops."""
    if not is_loopback(host):
        raise ValueError(f"预览服务只能监听本机地址(如 127.0.0.1),不能是 {host}")
    output = output.absolute()
    preview = Preview(content, output, shown)
    preview.rebuild()
    collect()

    logging.getLogger("tornado.access").addHandler(logging.NullHandler())   # no English line per 404
    server = Server(watcher=Watcher())   # a plain watcher, never polled: Preview.poll does the watching
    server.root = str(output)
    server.default_filename = "index.html"
    server.SFH = type("Handler", (PageHandler,), {"preview": preview})
    url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    try:
        server.application(port, host, debug=False)
    except OSError as exc:
        raise SystemExit(f"无法在 {url} 启动预览:{exc.strerror};请用 --port 换一个端口") from None
    preview.timer = PeriodicCallback(preview.poll, POLL_MS)
    preview.timer.start()
    preview.loop = IOLoop.current()
    Wakeup(preview, preview.loop)
    preview.fill_spans()
    print(f"正在预览:{url} (按 Ctrl+C 停止)", flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    loop = IOLoop.current()
    try:
        loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        loop.close(all_fds=True)
    print("已停止预览。", flush=True)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
