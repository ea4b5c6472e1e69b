"""`kaohe serve`: a real server in a subprocess, real HTTP and WebSocket requests, real edits to a real
content folder. Every wait has a deadline; no test asserts how fast anything is."""
from __future__ import annotations

import asyncio
import csv
import io
import html
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tornado.websocket import websocket_connect

from conftest import REPO, RULEBOOK_T, ContentDir
from generator.serve import BUILD_CRASHED, CONTENT_FAILED, REPO_THEMES, serve, snapshot, watched_folders

DEADLINE = 90          # seconds; generous, for a loaded 2-core machine
LIVERELOAD = 'livereload.js?port='
HEADER = "unit_id,ref,value,source,rating,note\n"
GOOD = HEADER + "a,A2,100,,,\na,B1,10,,,\na,B2,1,,优秀,\n"
ROUND = "title: 轮次\nyear: 2024\nrulebooks: {机关事业单位: t}\nstatus: draft\n"   # a draft: serve builds drafts
SCRIPT = ("import sys; from pathlib import Path; from generator.serve import serve; "
          "serve(Path(sys.argv[1]), Path(sys.argv[2]), port=int(sys.argv[3]))")


def make_content(tmp_path: Path) -> ContentDir:
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.units("a,甲单位,机关事业单位,")
    site.round("r", ROUND, GOOD)
    return site


def save(path: Path, text: str) -> None:
    """Save as careful editors do: write a temp file beside the target (ignored by the watcher), rename it over."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`serve()` running in its own process, as `kaohe serve` runs it."""

    def __init__(self, tmp_path: Path, content: Path, output: Path):
        self.out_file, self.err_file = tmp_path / "serve.out", tmp_path / "serve.err"
        for _attempt in range(3):   # the free port may be taken by someone else before the server binds it
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}/"
            with open(self.out_file, "wb") as out, open(self.err_file, "wb") as err:
                self.proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(content), str(output), str(self.port)],
                                             cwd=REPO, stdout=out, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline and self.proc.poll() is None and f"正在预览:{self.url}" not in self.stdout:
                time.sleep(0.1)
            if f"正在预览:{self.url}" in self.stdout:
                return
            self.kill()
            if "无法在" not in self.stderr:
                break
        raise AssertionError(f"server did not start\n{self.stdout}\n{self.stderr}")

    @property
    def stdout(self) -> str:
        return self.out_file.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_file.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) of GET path."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("Content-Type", ""), exc.read()

    def reload_after(self, change) -> dict:
        """Connect as a browser's livereload.js does, make `change`, and return the message that follows it."""
        async def run() -> dict:
            ws = await asyncio.wait_for(websocket_connect(f"ws://127.0.0.1:{self.port}/livereload"), DEADLINE)
            try:
                hello = json.dumps({"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]})
                ws.write_message(hello)
                ws.write_message(json.dumps({"command": "info", "url": self.url}))
                ws.write_message(hello)
                for _ in range(2):   # the second reply proves "info" was handled: we are a registered browser
                    assert json.loads(await asyncio.wait_for(ws.read_message(), DEADLINE))["command"] == "hello"
                change()
                message = await asyncio.wait_for(ws.read_message(), DEADLINE)
                assert message is not None, f"connection closed\n{self.stderr}"
                return json.loads(message)
            finally:
                ws.close()
        return asyncio.run(run())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=DEADLINE)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)


@pytest.fixture
def start(tmp_path):
    servers: list[Server] = []

    def run(content: Path, output: Path) -> Server:
        servers.append(Server(tmp_path, content, output))
        return servers[-1]

    yield run
    for server in servers:
        server.kill()


@pytest.mark.skipif(os.name != "posix", reason="Ctrl+C is sent as SIGINT")
def test_serves_the_site_shows_content_errors_and_recovers(tmp_path, start):
    site = make_content(tmp_path)
    output = tmp_path / "output"
    server = start(site.root, output)

    status, _, data = server.get("results/r/data/scores.csv")
    assert status == 200 and data == (output / "results/r/data/scores.csv").read_bytes()
    status, ctype, home = server.get("")
    assert status == 200 and ctype.startswith("text/html")
    assert LIVERELOAD in home.decode("utf-8")   # pages get the reload script when served...
    assert LIVERELOAD.encode() not in (output / "index.html").read_bytes()   # ...not when built
    assert server.get("no-such-page.html")[0] == 404   # while the content is fine, a missing page is just missing

    results = site.root / "results/r/results.csv"
    message = server.reload_after(lambda: save(results, GOOD + "<b>&x,A2,1,,,\n"))
    assert message["command"] == "reload"
    expected = f"{site.root}/results/r/results.csv:5: 错误: 单位编号“<b>&x”不在名册 units.csv 中;请核对编号,或先在名册中登记该单位"
    for path in ("no-such-page.html", "index.html", "", "results/r/"):
        status, ctype, body = server.get(path)
        page = body.decode("utf-8")
        assert (status, ctype) == (500, "text/html; charset=UTF-8"), path
        assert CONTENT_FAILED in page and html.escape(expected) in page and "<b>&x" not in page
        assert LIVERELOAD in page   # so the browser reloads on the next save
    status, _, still = server.get("results/r/data/scores.csv")
    assert (status, still) == (200, data)   # the old site is still there
    assert expected in server.stderr

    message = server.reload_after(lambda: save(results, GOOD.replace("a,A2,100", "a,A2,90")))
    assert message["command"] == "reload"
    assert server.get("no-such-page.html")[0] == 404
    status, _, home = server.get("")
    assert status == 200 and CONTENT_FAILED not in home.decode("utf-8") and LIVERELOAD in home.decode("utf-8")
    status, _, fixed = server.get("results/r/data/scores.csv")
    assert status == 200 and fixed != data and fixed == (output / "results/r/data/scores.csv").read_bytes()

    assert server.stop() == 0
    assert server.stdout.rstrip().endswith("已停止预览。")


def test_a_crashing_build_shows_the_exception_and_the_server_stays_up(tmp_path, start):
    site = make_content(tmp_path)
    output = tmp_path / "out" / "site"
    server = start(site.root, output)
    results = site.root / "results/r/results.csv"

    shutil.rmtree(output.parent)
    output.parent.write_text("a file where the output's folder should be", encoding="utf-8")
    assert server.reload_after(lambda: save(results, GOOD))["command"] == "reload"
    status, _, body = server.get("index.html")
    page = body.decode("utf-8")
    assert status == 500 and BUILD_CRASHED in page and LIVERELOAD in page
    assert "Traceback (most recent call last):" in server.stderr   # the traceback went to the terminal...
    traceback = server.stderr.split("Traceback (most recent call last):")[-1].splitlines()[1:]
    exception = next(line for line in traceback if line and not line.startswith(" "))
    assert html.escape(exception) in page   # ...and its last line to the page: "FileExistsError: … '…/out'"

    output.parent.unlink()
    assert server.reload_after(lambda: save(results, GOOD))["command"] == "reload"
    assert server.get("no-such-page.html")[0] == 404
    assert server.get("index.html")[0] == 200 and server.get("results/r/data/scores.csv")[0] == 200


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's table of listening sockets")
def test_listens_on_localhost_only(tmp_path, start):
    server = start(make_content(tmp_path).root, tmp_path / "output")
    listening = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == server.port:   # 0A: LISTEN
                listening.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]) if width == 8 else address)
    assert listening == {"127.0.0.1"}


def test_refuses_to_listen_beyond_this_machine(tmp_path):
    site = make_content(tmp_path)
    with pytest.raises(ValueError, match="只能监听本机地址"):
        serve(site.root, tmp_path / "output", host="0.0.0.0")
    assert not (tmp_path / "output").exists()


def test_the_watcher_sees_content_and_themes_but_not_output_or_temp_files(tmp_path):
    site = make_content(tmp_path)
    output = site.root / "output"   # even an output folder inside the content folder is left out
    site.write("rules/sub/a.md", "x")
    for name in ("output/index.html", ".output.new-123/index.html", ".output.old-123/x.csv", ".results.csv.swx",
                 "rules/t.md.swp", "rules/t.md~", "results/r/~$results.xlsx", "results/r/results.csv.tmp"):
        site.write(name, "x")
    theme_page = tmp_path / "themes/mine/page.html"
    theme_page.parent.mkdir(parents=True)
    theme_page.write_text("x", encoding="utf-8")

    folders = watched_folders(site.root)
    assert folders == [site.root.resolve(), REPO_THEMES, theme_page.parent.parent.resolve()]
    seen = {Path(p) for p in snapshot(folders, output)}
    ours = {p.relative_to(tmp_path.resolve()).as_posix() for p in seen if not p.is_relative_to(REPO_THEMES)}
    assert ours == {"content/site.yaml", "content/units.csv", "content/rules/t.md", "content/rules/sub/a.md",
                    "content/results/r/round.yaml", "content/results/r/results.csv", "themes/mine/page.html"}


def test_a_long_preview_frees_each_previous_build(tmp_path, monkeypatch):
    """Under the `kaohe` command's garbage-collector thresholds, the previous build's site model (its round
    views and their page keys refer to each other) is freed after every rebuild, once the preview has been
    quiet for a moment, so a preview left running through a day of corrections does not grow (it grew by
    about 55 MB per rebuild at 10,000 units)."""
    import asyncio
    import gc
    import weakref

    from tornado.ioloop import IOLoop

    from livereload.handlers import LiveReloadHandler
    from livereload.watcher import Watcher

    from generator import serve as serve_module
    from generator.cli import GC_THRESHOLDS
    shutil.copytree(REPO / "tests/golden/content", tmp_path / "content")
    models = []
    build = serve_module.build

    def remembered(*args, **kwargs):
        site = build(*args, **kwargs)
        models.append(weakref.ref(site.model))
        return site
    monkeypatch.setattr(serve_module, "build", remembered)
    monkeypatch.setattr(LiveReloadHandler, "watcher", Watcher())     # as serve() sets up; no browser waits
    monkeypatch.setattr(serve_module, "COLLECT_AFTER", 0.05)
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        preview = serve_module.Preview(tmp_path / "content", tmp_path / "output", "content")
        preview.rebuild()
        gc.collect()        # the site model, still in use, moves to the oldest generation, as a large one does
        fixes = tmp_path / "content/results/2024/corrections.csv"
        fixes.write_text(fixes.read_text(encoding="utf-8") + "2025-02-10,jg-b,B1,组织考核,value,99,94,复核\n",
                         encoding="utf-8")
        loop = preview.loop = IOLoop()
        preview.poll()
        assert preview.failure is None and len(models) == 2 and preview.pending is not None
        loop.run_sync(lambda: asyncio.sleep(0.3))       # quiet: the scheduled collection runs
        assert preview.pending is None
        assert models[0]() is None and models[1]() is not None
        # saves in quick succession: collected at the latest after UNCOLLECTED rebuilds, without quiet
        for k in range(serve_module.UNCOLLECTED):
            fixes.write_text(fixes.read_text(encoding="utf-8").replace(",复核", f",复核{k}"), encoding="utf-8")
            preview.poll()
        assert preview.failure is None and len(models) == 2 + serve_module.UNCOLLECTED
        assert preview.pending is None and all(model() is None for model in models[:-1]) and models[-1]() is not None
        # a large site (here: more than one unit) is collected after every rebuild
        monkeypatch.setattr(serve_module, "COLLECT_NOW_UNITS", 1)
        fixes.write_text(fixes.read_text(encoding="utf-8").replace(",复核", ",复核再"), encoding="utf-8")
        preview.poll()
        assert preview.pending is None and all(model() is None for model in models[:-1]) and models[-1]() is not None
        loop.close()
    finally:
        gc.set_threshold(*before)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_a_save_is_seen_at_once_without_waiting_for_the_poll(tmp_path, monkeypatch):
    """serve.Wakeup: with inotify, a saved file (also one in a folder made after the preview started) starts
    a rebuild at once; here no poll runs at all, so only the wake-up can have started it."""
    from tornado.ioloop import IOLoop

    from livereload.handlers import LiveReloadHandler
    from livereload.watcher import Watcher

    from generator.serve import Preview, Wakeup

    def a2(path: Path) -> str:
        return next(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))["A2"]
    monkeypatch.setattr(LiveReloadHandler, "watcher", Watcher())     # as serve() sets up; no browser waits
    site = make_content(tmp_path)
    output = tmp_path / "output"
    preview = Preview(site.root, output, "content")
    preview.rebuild()
    builds = []
    rebuild = preview.rebuild
    preview.rebuild = lambda: (builds.append(1), rebuild())
    loop = preview.loop = IOLoop()
    try:
        wake = Wakeup(preview, loop)
        assert wake.fd is not None

        async def until(count: int) -> None:
            deadline = time.monotonic() + DEADLINE
            while len(builds) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        loop.run_sync(lambda: asyncio.sleep(0.2))
        assert builds == []                         # nothing saved, nothing built
        save(site.root / "results/r/results.csv", GOOD.replace("a,A2,100", "a,A2,95"))
        loop.run_sync(lambda: until(1))
        assert len(builds) == 1 and preview.failure is None
        assert a2(output / "results/r/data/scores.csv") == "20.00"        # 出勤率 95%: the 90% tier
        # a new round's folder, then its files
        site.round("r2", ROUND.replace("轮次", "第二轮"), GOOD)
        loop.run_sync(lambda: until(2))
        loop.run_sync(lambda: asyncio.sleep(0.3))
        assert (output / "results/r2/index.html").is_file()
        built = len(builds)
        assert a2(output / "results/r2/data/scores.csv") == "25.00"
        save(site.root / "results/r2/results.csv", GOOD.replace("a,A2,100", "a,A2,80"))
        loop.run_sync(lambda: until(built + 1))
        assert len(builds) == built + 1
        assert a2(output / "results/r2/data/scores.csv") == "10.00"
    finally:
        loop.close(all_fds=True)
