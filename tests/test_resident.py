"""The resident build process (generator/resident.py): real `kaohe build` processes, a real forked resident
process, real edits. Every wait has a deadline; no test asserts how fast anything is."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

from conftest import REPO
from generator import resident
from test_incremental import GOLDEN, same_bytes, stamps

DEADLINE = 60
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the resident process is Linux-only")


def kaohe(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "KAOHE_CACHE": str(cwd / "cache"), **env}
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=DEADLINE * 3)


def folders(root: Path, output: str = "output") -> Namespace:
    """The arguments resident.address() is computed from, as `kaohe build` in `root` gets them."""
    return Namespace(content=str(root / "content"), output=str(root / output), pdf=False)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:      # reparented to us (a subreaper) or to init: a zombie is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started_pid(run: subprocess.CompletedProcess) -> int:
    assert "已在后台保留这次生成的中间结果" in run.stderr, run.stderr
    return int(run.stderr.split("(进程 ")[1].split(")")[0])


@pytest.fixture
def golden(tmp_path):
    shutil.copytree(GOLDEN, tmp_path / "content")
    yield tmp_path
    resident.stop(folders(tmp_path))


BUILD = ("build", "--content", "content", "--output", "output", "--drafts")


def test_the_next_build_is_run_by_the_resident_process_and_writes_the_same_site(golden):
    first = kaohe(golden, *BUILD, KAOHE_RESIDENT="on", KAOHE_RESIDENT_IDLE="120")
    assert first.returncode == 0, first.stderr
    pid = started_pid(first)
    assert alive(pid)

    # a correction: the resident process rebuilds, its messages reach this process's stdout and stderr
    fixes = golden / "content/results/2024/corrections.csv"
    fixes.write_text(fixes.read_text(encoding="utf-8") + "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录\n",
                     encoding="utf-8")
    again = kaohe(golden, *BUILD, "-v", KAOHE_RESIDENT="on")
    assert again.returncode == 0, again.stderr
    assert "后台进程:沿用上次生成留在内存中的结果" in again.stderr
    assert "已生成 output/:" in again.stdout and "个页面重新生成" in again.stdout
    assert "已在后台保留" not in again.stderr            # the same process answered: no second one
    full = kaohe(golden, "build", "--content", "content", "--output", "full", "--drafts", KAOHE_RESIDENT="off")
    assert full.returncode == 0, full.stderr
    assert same_bytes(golden / "output", golden / "full") == []

    # bad input through the resident process: the same message and exit code, the site as it was
    before = stamps(golden / "output")
    good = fixes.read_text(encoding="utf-8")
    fixes.write_text(good + "2025-02-11,no-such-unit,B1,组织考核,value,1,2,错误的一行\n", encoding="utf-8")
    broken = kaohe(golden, *BUILD, KAOHE_RESIDENT="on")
    assert broken.returncode == 1
    assert "content/results/2024/corrections.csv:" in broken.stderr and "错误" in broken.stderr
    assert "未生成任何文件" in broken.stderr
    assert stamps(golden / "output") == before
    fixes.write_text(good, encoding="utf-8")
    same = kaohe(golden, *BUILD, KAOHE_RESIDENT="on")
    assert same.returncode == 0 and "没有变化" in same.stdout, same.stderr
    assert alive(pid)

    # KAOHE_RESIDENT=off: the build runs in its own process and the resident process is stopped
    off = kaohe(golden, *BUILD, KAOHE_RESIDENT="off")
    assert off.returncode == 0 and "没有变化" in off.stdout
    deadline = time.monotonic() + DEADLINE
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert resident.stop(folders(golden)) is None


def test_the_resident_process_fills_its_memory_before_answering_and_writes_nothing(golden, monkeypatch):
    """Before it answers, the resident process makes what a kaohe serve would keep (every round read and
    checked again, full page keys, unit page keys, the data files' rows: cli._warm_up) in a build that
    writes nothing: the site stays as the asking build left it, even when the content was edited
    meanwhile (that edit waits for the next kaohe build)."""
    from generator import cli
    from generator.cache import cache_folder
    from generator.warm import Warm
    monkeypatch.chdir(golden)
    monkeypatch.setenv("KAOHE_CACHE", str(golden / "cache"))
    args = Namespace(content="content", output="output", drafts=True, profile=None, pdf=False, verbose=False)
    warm = Warm()
    assert cli._build_here(args, warm, cache_folder(Path("content")))[0] == 0
    assert warm.unit_keys is None and not warm.data_rows and not warm.checked     # what kaohe build's Warm lacks
    before = stamps(golden / "output")
    units = golden / "content/units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("甲局", "甲局(新名)"), encoding="utf-8")
    cli._warm_up(args, warm)
    assert stamps(golden / "output") == before
    assert warm.unit_keys is not None and warm.data_rows and warm.checked and not warm.refresh
    again = kaohe(golden, *BUILD, KAOHE_RESIDENT="off")           # the edit, by the next build
    assert again.returncode == 0 and "个页面重新生成" in again.stdout, again.stderr

    # the same in a real resident process: it has warmed up when it answers, and written nothing
    first = kaohe(golden, *BUILD, "--output", "other", KAOHE_RESIDENT="on", KAOHE_RESIDENT_IDLE="120")
    assert first.returncode == 0, first.stderr
    started_pid(first)
    before = stamps(golden / "other")
    reply = resident.stop(folders(golden, "other"))      # answered once the warm-up is over
    assert reply is not None and reply["warmed"] is True and reply["builds"] == 0
    assert stamps(golden / "other") == before


def test_a_resident_process_answers_only_for_its_own_folders_and_options_are_passed_on(golden):
    first = kaohe(golden, *BUILD, KAOHE_RESIDENT="on", KAOHE_RESIDENT_IDLE="120")
    pid = started_pid(first)
    # another output folder is another site: built here, with a resident process of its own
    other = kaohe(golden, "build", "--content", "content", "--output", "other", KAOHE_RESIDENT="on",
                  KAOHE_RESIDENT_IDLE="120")
    assert other.returncode == 0, other.stderr
    other_pid = started_pid(other)
    assert other_pid != pid
    try:
        # options are the request's: without --drafts the draft round is left out, by the resident process
        fixes = golden / "content/results/2024/corrections.csv"
        fixes.write_text(fixes.read_text(encoding="utf-8") + "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录\n",
                         encoding="utf-8")
        public = kaohe(golden, "build", "--content", "content", "--output", "output", "--profile", "public", "-v",
                       KAOHE_RESIDENT="on")
        assert public.returncode == 0, public.stderr
        assert "后台进程" in public.stderr
        fresh = kaohe(golden, "build", "--content", "content", "--output", "fresh", "--profile", "public",
                      KAOHE_RESIDENT="off")
        assert fresh.returncode == 0, fresh.stderr
        assert same_bytes(golden / "output", golden / "fresh") == []
    finally:
        resident.stop(folders(golden, "other"))


def test_a_resident_process_goes_away_when_idle(golden):
    first = kaohe(golden, *BUILD, KAOHE_RESIDENT="on", KAOHE_RESIDENT_IDLE="1")
    pid = started_pid(first)
    assert "空闲 1 秒后自动退出" in first.stderr
    deadline = time.monotonic() + DEADLINE
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid)
    later = kaohe(golden, *BUILD, "-v", KAOHE_RESIDENT="on", KAOHE_RESIDENT_IDLE="1")
    assert later.returncode == 0 and "后台进程:" not in later.stderr


def test_a_small_site_leaves_no_resident_process_unless_asked(golden):
    env = {k: v for k, v in os.environ.items() if k != resident.ENV}
    run = subprocess.run([sys.executable, "-m", "generator", *BUILD], cwd=golden, capture_output=True, text=True,
                         env={**env, "KAOHE_CACHE": str(golden / "cache")}, timeout=DEADLINE * 3)
    assert run.returncode == 0, run.stderr
    assert "后台" not in run.stderr
    assert resident.stop(folders(golden)) is None
    assert not resident.wanted(resident.MIN_UNITS - 1) and resident.wanted(resident.MIN_UNITS)
    assert not resident.wanted(resident.MAX_UNITS + 1)


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another user needs root")
def test_a_socket_another_user_listens_on_is_never_sent_anything(golden):
    """Anyone can take an abstract socket's name. If another user listens at this site's address, kaohe
    build sends it nothing (the request carries the environment) and builds in its own process."""
    import socket
    name = resident.address(folders(golden))     # this user's, computed before acting as the other one
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid == 0:                                 # the other user
        try:
            os.close(stop_w)
            os.close(ready_r)
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(name)
            sock.listen(1)
            os.write(ready_w, b"+")
            sock.settimeout(DEADLINE)
            conn, _ = sock.accept()
            conn.settimeout(DEADLINE)
            os.write(ready_w, b"sent" if conn.recv(1 << 16) else b"none")
            os.read(stop_r, 1)                   # still listening: the name stays taken until the test is over
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(stop_r)
    try:
        assert os.read(ready_r, 1) == b"+"
        run = kaohe(golden, *BUILD, "-v", KAOHE_RESIDENT="on", KAOHE_RESIDENT_IDLE="120")
        assert run.returncode == 0, run.stderr
        assert "后台进程:" not in run.stderr and "已在后台保留" not in run.stderr   # built here; the name is taken
        assert os.read(ready_r, 8) == b"none"
    finally:
        os.close(stop_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def test_another_version_of_the_generator_is_another_resident_process(tmp_path):
    package = tmp_path / "generator"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    before = resident.code_signature(package)
    (package / "a.py").write_text("x = 22\n")
    assert resident.code_signature(package) != before
    os.utime(package / "a.py", ns=(1, 1))
    changed = resident.code_signature(package)
    os.utime(package / "a.py", ns=(2, 2))
    assert resident.code_signature(package) != changed


def test_an_upgraded_library_is_another_resident_process(tmp_path):
    site = tmp_path / "lib" / "site-packages"
    (site / "jinja2-3.1.6.dist-info").mkdir(parents=True)
    before = resident.libraries_signature([str(site)])
    assert "jinja2-3.1.6.dist-info" in before
    (site / "jinja2-3.1.6.dist-info").rename(site / "jinja2-3.1.7.dist-info")
    assert resident.libraries_signature([str(site)]) != before


def test_the_command_line_does_not_import_pandas_before_asking_the_resident_process():
    """What makes a resident build quick: the asking process imports none of the heavy libraries."""
    code = ("import sys; from generator import cli, resident; "
            "print(sorted(m for m in ('pandas', 'numpy', 'jinja2') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=DEADLINE)
    assert done.stdout.strip() == "[]", done.stderr


def test_between_builds_the_resident_process_does_its_background_work_then_goes_away_when_idle():
    """resident._serve: after the warm-up and after each build, the work fill() gives (holes.SpanFill: where
    the averages are in scorecards the last build kept) is done a step at a time while no build is asked
    for; only then does the idle time start, after which the process goes away."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(f"\0kaohe-test-{os.getpid()}-{time.monotonic_ns()}")
    sock.listen(1)
    steps: list = []

    class Work:
        PAUSE = 0.001

        def step(self) -> bool:
            steps.append(time.monotonic())
            return len(steps) < 5
    made: list = []

    def fill():
        made.append(1)
        return Work() if len(made) == 1 else None
    start = time.monotonic()
    with sock:
        resident._serve(sock, run=None, idle=0.3, warmed=True, fill=fill)
    assert len(steps) == 5 and made == [1]
    assert time.monotonic() - steps[-1] >= 0.3          # idle counted from the end of the work
    assert time.monotonic() - start < DEADLINE
