"""Benchmark kaohe on generated workloads.

    python bench/run.py [--sizes 1000,10000,100000] [--repeat 3] [--scenarios check,build-cold]

For each size the workload (bench/workload.py) is generated once into bench/work/<N>/content
(reused while the generator, seed and round count are unchanged; --regen forces it). Then every
scenario runs as a subprocess, --repeat times, interleaved (check, build, check, build, …), and
we record wall time, CPU time and the child's peak RSS (os.wait4's rusage). The Markdown report is
printed and appended to bench/RESULTS.md (--replace starts the file afresh).

To add a measurement, append a Scenario to SCENARIOS: a name, a function giving the argv from the
Ctx (paths of this size's workload) and an optional setup callable run before each repetition.

Scenarios besides check and build-cold:
- build-warm: kaohe build over the output of a previous build, nothing changed;
- build-correction: one result value in the last round of a copy of the content is changed (and
  changed back on the next repetition), then kaohe build over that copy's existing output, with the
  cache of scored rounds that the earlier builds left (bench/work/cache, generator/cache.py: the copy
  is built, then corrected once, untimed, since a first build writes no cache); build-cold clears that
  cache for its content before each run. At 1,000-20,000 units the first of those builds leaves a
  resident process (generator/resident.py) and the timed builds are answered by it, as a user's are;
  every other kaohe run here has KAOHE_RESIDENT=off (a cold build must be one);
- build-deduction: the same, for one more deduction of one unit (the value serve-deduction flips);
- serve-correction: the same change under a running `kaohe serve` (started once per size on its own
  copy, not timed); bench/serve_probe.py flips the value and waits until the site is rebuilt; the time is
  the probe's own, from the save to the rebuilt site in place (not its process's: its start-up and its read
  of serve's log added about 0.15 s that no user waits for);
- serve-deduction: the same, for one more deduction of one unit (moves no shown category average);
  these four scenarios pause QUIET seconds before each timed run after the first, as a person does
  between two corrections (see QUIET);
- hugo: the same scorecard and round-index pages built by Hugo (bench/hugo/), for comparison; its
  content pages are generated from kaohe's data files (setup, not timed). Skipped if `hugo` is
  not installed (this script installs nothing; on Debian: apt-get install -y hugo).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
RESULTS = BENCH / "RESULTS.md"
WORKLOAD = BENCH / "workload.py"
SETTLE = 15.0    # seconds of quiet after deleting old outputs, before a timed run
TRASH = WORK / ".trash"   # previous outputs moved aside during a run, deleted after its last measurement


@dataclass
class Ctx:
    size: int
    rounds: int
    seed: int
    root: Path            # bench/work/<N>
    rows: int = 0         # result rows in the workload (all rounds)

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def correction(self) -> Path:      # copy of content + its own output for build-correction
        return self.root / "correction"

    @property
    def serve(self) -> Path:           # copy of content + its own output for serve-correction
        return self.root / "serve"

    @property
    def hugo_site(self) -> Path:
        return self.root / "hugo"

    @property
    def hugo_public(self) -> Path:     # Hugo's --destination, moved aside before every run
        return self.root / "hugo-public"


def kaohe() -> list[str]:
    """The kaohe command of the interpreter running this script (the project's venv)."""
    script = Path(sys.executable).parent / "kaohe"
    return [str(script)] if script.exists() else [sys.executable, "-m", "generator"]


def remove(path: Path) -> None:
    """Get a previous output out of the way of a timed run by moving it aside; it is deleted after the last
    measurement. On this ext4 disk, making many small folders soon after deleting many others is 2–4×
    slower (measured: 20,000 folders with a page each in 1.0 s; 2.3–4 s within 15 s of deleting 20,000
    others, whatever was synced or waited), which would charge the cleanup to kaohe and Hugo alike, and a
    user's first build does not follow a deletion. When the disk is short of room, it is deleted now."""
    if not path.exists():
        return
    room = shutil.disk_usage(WORK).free
    if room < 3 * tree_size(path):
        shutil.rmtree(path, ignore_errors=True)
        os.sync()
        time.sleep(SETTLE)
        return
    TRASH.mkdir(parents=True, exist_ok=True)
    path.rename(TRASH / f"{path.parent.name}-{path.name}-{time.time_ns()}")


def tree_size(path: Path) -> int:
    return sum(os.lstat(os.path.join(root, name)).st_blocks * 512
               for root, _dirs, names in os.walk(path) for name in names)


def empty_trash(settle: bool) -> None:
    if TRASH.exists():
        shutil.rmtree(TRASH, ignore_errors=True)
        if settle:
            os.sync()
            time.sleep(SETTLE)


def generator_module(name: str):
    """A light module of kaohe's (generator.cache, generator.resident: the standard library only; the heavy
    imports are elsewhere), imported into this script."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module(f"generator.{name}")


def remove_output(ctx: Ctx) -> None:
    """A cold build: no previous output, and no rounds scored by an earlier build in kaohe's cache."""
    remove(ctx.output)
    folder = generator_module("cache").cache_folder(ctx.content)
    if folder is not None:
        remove(folder)


# Before each timed correction under serve or a resident process: a pause, as between two corrections a person
# saves. Both collect the previous build's objects after a second of quiet (serve.COLLECT_AFTER; 0.3 s at
# 10,000 units); back to back, that collection fell into the next timed rebuild (0.1-0.3 s more).
QUIET = 2.0
RESIDENT_OFF = {"KAOHE_RESIDENT": "off"}    # no resident process (generator/resident.py): a build of its own
RESIDENT_AUTO = {"KAOHE_RESIDENT": None}    # kaohe build's default: a resident process for 1,000-20,000 units


def environment(changes: dict) -> dict:
    """os.environ with `changes` (None: the variable removed)."""
    env = {k: v for k, v in os.environ.items() if k not in changes}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def build_untimed(content: Path, output: Path, env: dict = RESIDENT_OFF) -> None:
    subprocess.run([*kaohe(), "build", "--content", str(content), "--output", str(output), "--drafts"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=environment(env))


def ensure_output(ctx: Ctx) -> None:
    if not ctx.output.exists():
        build_untimed(ctx.content, ctx.output)


def ensure_current(ctx: Ctx) -> None:
    """An output built from exactly this content and this code: after the code changed, the output of an
    earlier run would make the first timed "nothing changed" build a full one."""
    build_untimed(ctx.content, ctx.output)


CORRECTION_REF = "A5"      # a tiers item every unit has a value for (attendance, 50–100)


def setup_correction(ctx: Ctx, state_name: str = "state.json") -> None:
    """Keep a copy of the content with a built output; flip one result value of the last round.

    The copy (bench/work/<N>/correction/) is made and built once (not timed); each repetition then
    toggles the value of the first CORRECTION_REF row of the last round's first results CSV between
    its original and 60 (build-deduction: the value state-deduction.json names, flip_state), so every
    timed build runs over an output that is exactly one change old. These builds run as a user's do: at
    1,000-20,000 units the first leaves a resident process (generator/resident.py), and the untimed
    correction after it is the first that process makes, so the timed runs are the ones after that.
    """
    base = ctx.correction
    content, output, state_path = base / "content", base / "output", base / state_name
    # the copy's output must come from this version of kaohe, or the first timed run renders everything
    code = hashlib.sha256(b"".join(f.read_bytes() for f in sorted([*(REPO / "generator").glob("*.py"),
                                                                      *(REPO / "themes").rglob("*.*")]))).hexdigest()
    stamp = (ctx.root / "workload.json").read_text("utf-8") + code
    state = json.loads(state_path.read_text("utf-8")) if state_path.is_file() else {}
    if state.get("workload") != stamp or not content.is_dir() or not output.is_dir():
        stop_resident(ctx)
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(ctx.content, content)
        build_untimed(content, output, RESIDENT_AUTO)
        for name, deduction in (("state.json", False), ("state-deduction.json", True)):
            (base / name).write_text(json.dumps(flip_state(content, stamp, deduction), ensure_ascii=False), "utf-8")
        state = json.loads(state_path.read_text("utf-8"))
        # and one correction, not timed: a first build writes no cache (generator/cache.py), the first
        # build after a change does; the timed runs are the corrections after that, as during 公示
        flip(content, state)
        build_untimed(content, output, RESIDENT_AUTO)
    elif ctx.size <= generator_module("resident").MAX_UNITS and \
            not generator_module("resident").running(correction_folders(ctx)):
        for _ in range(2):      # as above: a build that leaves a resident process, then its first build
            flip(content, state)
            build_untimed(content, output, RESIDENT_AUTO)
    else:
        time.sleep(QUIET)
    flip(content, state)


def correction_build(ctx: Ctx) -> list[str]:
    """The timed kaohe build of build-correction and build-deduction, over the correction copy."""
    return [*kaohe(), "build", "--content", str(ctx.correction / "content"), "--output", str(ctx.correction / "output"),
            "--drafts", "-v"]


def setup_deduction(ctx: Ctx) -> None:
    setup_correction(ctx, "state-deduction.json")


def correction_folders(ctx: Ctx):
    from argparse import Namespace
    return Namespace(content=str(ctx.correction / "content"), output=str(ctx.correction / "output"), pdf=False)


def stop_resident(ctx: Ctx) -> None:
    """Stop the resident process of the correction copy, printing its peak memory (what it keeps)."""
    said = generator_module("resident").stop(correction_folders(ctx))
    if said:
        print(f"[{ctx.size}] kaohe build 后台进程峰值内存 {said['peak_kib'] / 1024:.0f} MiB"
              f"({said['builds']} 次生成)", flush=True)


def flip(content: Path, state: dict) -> list[str]:
    """Toggle the value `state` (flip_state) names between its original and changed text; the row's cells."""
    path = content / state["file"]
    lines = path.read_text("utf-8").split("\n")
    cells = lines[state["line"]].split(",")
    cells[2] = state["changed"] if cells[2] == state["original"] else state["original"]
    lines[state["line"]] = ",".join(cells)
    path.write_text("\n".join(lines), "utf-8")
    return cells


DEDUCTION_REF = "A1-1"     # a criterion: 未及时传达学习…, 1 point per time, at most 2


def flip_state(content: Path, stamp: str, deduction: bool = False) -> dict:
    """Which value the correction scenarios flip, in the last round's first results CSV: the first
    CORRECTION_REF row, between its value and 60 (90 if it was 60), which happens to move the shown
    category average of a section for the unit's whole category; or (`deduction`) the first DEDUCTION_REF
    row counted once, between 1 and 2 times, a correction that moves no shown average."""
    last = sorted((content / "results").glob("*/round.yaml"))[-1].parent
    path = sorted(p for p in last.glob("*.csv") if p.name != "corrections.csv")[0]
    lines = path.read_text("utf-8").split("\n")
    if deduction:
        line = next(i for i, text in enumerate(lines) if text.split(",")[1:3] == [DEDUCTION_REF, "1"])
        original, changed = "1", "2"
    else:
        line = next(i for i, text in enumerate(lines) if text.split(",")[1:2] == [CORRECTION_REF])
        original = lines[line].split(",")[2]
        changed = "90" if original == "60" else "60"
    return {"workload": stamp, "file": str(path.relative_to(content)), "line": line, "original": original,
            "changed": changed}


_servers: dict = {}      # size -> the running `kaohe serve` of serve-correction and serve-deduction


def setup_serve(ctx: Ctx) -> None:
    """Start `kaohe serve` on a copy of the content (bench/work/<N>/serve/) once per size, and wait for its
    first build (not timed); each repetition's probe then flips one value and waits for the rebuild
    (serve-correction and serve-deduction flip different values of the same copy)."""
    if ctx.size in _servers:
        time.sleep(QUIET)
        return
    stop_servers()
    base = ctx.serve
    content, output, state_path = base / "content", base / "output", base / "state.json"
    stamp = (ctx.root / "workload.json").read_text("utf-8")
    state = json.loads(state_path.read_text("utf-8")) if state_path.is_file() else {}
    if state.get("workload") != stamp or not content.is_dir() or not (base / "state-deduction.json").is_file():
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(ctx.content, content)
        state_path.write_text(json.dumps(flip_state(content, stamp), ensure_ascii=False), "utf-8")
        (base / "state-deduction.json").write_text(json.dumps(flip_state(content, stamp, deduction=True),
                                                              ensure_ascii=False), "utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(base / "serve.log", "wb")
    proc = subprocess.Popen([*kaohe(), "serve", "--content", str(content), "--output", str(output),
                             "--port", str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    _servers[ctx.size] = proc
    start = time.perf_counter()
    while "正在预览".encode("utf-8") not in (base / "serve.log").read_bytes():
        if proc.poll() is not None or time.perf_counter() - start > 1800:
            raise SystemExit(f"kaohe serve 未能启动,见 {base / 'serve.log'}")
        time.sleep(0.2)


def stop_servers() -> None:
    """Stop the running `kaohe serve`s, printing each one's peak memory (what it keeps between rebuilds)."""
    for size, proc in _servers.items():
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
            print(f"[{size}] kaohe serve 峰值内存 {int(peak) / 1024:.0f} MiB", flush=True)
        except (OSError, StopIteration):
            pass
        proc.terminate()
        proc.wait(timeout=30)
    _servers.clear()


_hugo_sites_made: set = set()


def setup_hugo(ctx: Ctx) -> None:
    """Generate the Hugo site from kaohe's data files (once per size and run); clear the destination."""
    if ctx.size not in _hugo_sites_made:
        ensure_output(ctx)
        sys.path.insert(0, str(BENCH / "hugo"))
        from make_site import make_site
        make_site(ctx.output, ctx.hugo_site)
        _hugo_sites_made.add(ctx.size)
    remove(ctx.hugo_public)


KAOHE_PAGES_RE = re.compile(r"(\d+) 个页面.*?([0-9.]+) 页/秒")


def kaohe_pages(ctx: Ctx, run) -> tuple[int | None, float | None]:
    """(pages, pages/s) as kaohe build reports them on its last output line."""
    m = KAOHE_PAGES_RE.search(run.stdout)
    return (int(m.group(1)), float(m.group(2))) if m else (None, None)


def hugo_pages(ctx: Ctx, run) -> tuple[int | None, float | None]:
    """(HTML files Hugo wrote, None): Hugo reports no rate of its own."""
    return sum(1 for _ in ctx.hugo_public.rglob("*.html")), None


@dataclass
class Scenario:
    name: str
    describe: str
    argv: Callable[[Ctx], list[str]]
    setup: Callable[[Ctx], None] = lambda ctx: None
    pages: Callable | None = None     # (ctx, run) -> (pages written, self-reported pages/s), after the run
    needs: str | None = None          # a command that must be on PATH, else the scenario is skipped
    env: dict = field(default_factory=lambda: dict(RESIDENT_OFF))   # environment changes for the timed run
    # run -> the time the command measured itself, taken instead of its process's wall time (serve_probe.py:
    # from the save to the rebuilt site in place; its own start-up and its read of serve's log are not serve's)
    timed: Callable | None = None


PROBED = re.compile(r"更正后 ([0-9.]+) 秒")


def probe_time(run) -> float | None:
    """What serve_probe.py measured: from the save to the rebuilt site in place."""
    found = PROBED.search(run.stdout)
    return float(found.group(1)) if found else None


SCENARIOS = [
    Scenario("check", "kaohe check: read, validate and score every round",
             lambda c: [*kaohe(), "check", "--content", str(c.content), "-v"]),
    Scenario("build-cold", "kaohe build into an output folder moved aside",
             lambda c: [*kaohe(), "build", "--content", str(c.content), "--output", str(c.output), "--drafts", "-v"],
             setup=remove_output, pages=kaohe_pages),
    Scenario("serve-correction", "one result value changed under a running kaohe serve, until the rebuilt "
             "site is in place (bench/serve_probe.py; memory is the probe's)",
             lambda c: [sys.executable, str(BENCH / "serve_probe.py"), str(c.serve / "state.json"),
                        str(c.serve / "content"), str(c.serve / "output"), str(c.serve / "serve.log")],
             setup=setup_serve, timed=probe_time),
    Scenario("serve-deduction", "as serve-correction, but the change is one more deduction (a count from 1 to "
             "2), which moves no shown category average",
             lambda c: [sys.executable, str(BENCH / "serve_probe.py"), str(c.serve / "state-deduction.json"),
                        str(c.serve / "content"), str(c.serve / "output"), str(c.serve / "serve.log")],
             setup=setup_serve, timed=probe_time),
    Scenario("build-warm", "kaohe build over the output of a previous build (nothing changed)",
             lambda c: [*kaohe(), "build", "--content", str(c.content), "--output", str(c.output), "--drafts", "-v"],
             setup=ensure_current, pages=kaohe_pages),
    Scenario("build-correction", "kaohe build over the previous output after one result value changed (the "
             "value serve-correction flips; at 1,000-20,000 units answered by the resident process the earlier "
             "builds left, generator/resident.py: memory is the asking process's, the resident process's peak "
             "is printed when it is stopped)",
             correction_build, setup=setup_correction, pages=kaohe_pages, env=dict(RESIDENT_AUTO)),
    Scenario("build-deduction", "as build-correction, for the one more deduction of serve-deduction",
             correction_build, setup=setup_deduction, pages=kaohe_pages, env=dict(RESIDENT_AUTO)),
    Scenario("hugo", "Hugo building the same scorecard and round-index pages (from kaohe's data files)",
             lambda c: ["hugo", "--quiet", "--destination", str(c.hugo_public), "--source", str(c.hugo_site)],
             setup=setup_hugo, pages=hugo_pages, needs="hugo"),
]
DEFAULT_SCENARIOS = "check,build-cold"


@dataclass
class Run:
    wall: float
    cpu: float
    maxrss_kib: int
    code: int
    steps: dict            # step name from `-v` -> seconds
    stdout: str
    stderr: str
    pages: int | None = None        # pages written (kaohe's own count, or HTML files Hugo wrote)
    rate: float | None = None       # pages/s as the program itself reports it (kaohe only)


@dataclass
class Result:
    size: int
    scenario: Scenario
    ctx: Ctx
    runs: list = field(default_factory=list)

    @property
    def ok(self) -> list[Run]:
        return [r for r in self.runs if r.code == 0]


STEP_RE = re.compile(r"^\s+(\S.*?): ([0-9.]+) 秒\s*$")


def measure(argv: list[str], log_base: Path, env: dict | None = None) -> Run:
    log_base.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_base.with_suffix(".stdout"), log_base.with_suffix(".stderr")
    # the previous run's files may still be in the page cache, waiting to be written back: that writeback
    # would run during this run and be charged to it (kaohe and Hugo alike)
    os.sync()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=environment(env or {}))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)   # reaped by wait4, tell Popen
    stdout = out_path.read_text("utf-8", errors="replace")
    stderr = err_path.read_text("utf-8", errors="replace")
    steps = {}
    for line in stderr.splitlines():
        m = STEP_RE.match(line)
        if m:
            steps[m.group(1)] = steps.get(m.group(1), 0.0) + float(m.group(2))
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode, steps, stdout, stderr)


def generator_hash() -> str:
    return hashlib.sha256(WORKLOAD.read_bytes()).hexdigest()[:16]


def count_rows(content: Path) -> int:
    rows = 0
    for path in sorted((content / "results").glob("*/*.csv")):
        if path.name == "corrections.csv":
            continue
        data = path.read_bytes()
        rows += data.count(b"\n") - 1 + (0 if data.endswith(b"\n") else 1)
    return rows


def prepare(size: int, rounds: int, seed: int, regen: bool) -> tuple[Ctx, float | None]:
    """Generate the workload of one size unless an identical one is already there."""
    ctx = Ctx(size, rounds, seed, WORK / str(size))
    stamp_path = ctx.root / "workload.json"
    want = {"units": size, "rounds": rounds, "seed": seed, "generator": generator_hash()}
    if not regen and stamp_path.is_file() and ctx.content.is_dir():
        stamp = json.loads(stamp_path.read_text("utf-8"))
        if all(stamp.get(k) == v for k, v in want.items()):
            ctx.rows = stamp["rows"]
            print(f"[{size}] 复用已生成的负载 {ctx.content.relative_to(REPO)}({ctx.rows} 行结果)", flush=True)
            return ctx, None
    ctx.root.mkdir(parents=True, exist_ok=True)
    for stale in (ctx.output, ctx.correction, ctx.hugo_site, ctx.hugo_public):   # built from the old workload
        shutil.rmtree(stale, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(WORKLOAD), "--units", str(size), "--out", str(ctx.content),
                    "--rounds", str(rounds), "--seed", str(seed)], cwd=REPO, check=True)
    took = time.perf_counter() - start
    ctx.rows = count_rows(ctx.content)
    stamp_path.write_text(json.dumps(want | {"rows": ctx.rows, "gen_seconds": round(took, 2)}, ensure_ascii=False), "utf-8")
    return ctx, took


# ---------------------------------------------------------------- report

def machine() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = {}
    for mod in ("pandas", "numpy", "jinja2"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "?"
    return {"nproc": os.cpu_count(), "cpu": model, "mem": mem, "python": platform.python_version(),
            "os": platform.platform(), **versions}


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def pages_of(res: Result) -> int | None:
    counts = [r.pages for r in res.ok if r.pages]
    return counts[-1] if counts else None


def hugo_comparison(results: list[Result]) -> list[str]:
    """Lines under the table: kaohe build-cold pages/s next to Hugo's, and their ratio."""
    out = []
    for size in dict.fromkeys(res.size for res in results):
        by = {res.scenario.name: res for res in results if res.size == size and res.ok}
        cold, hugo = by.get("build-cold"), by.get("hugo")
        if not (cold and hugo and pages_of(cold) and pages_of(hugo)):
            continue
        k_wall = pages_of(cold) / statistics.median(r.wall for r in cold.ok)
        h_wall = pages_of(hugo) / statistics.median(r.wall for r in hugo.ok)
        rates = [r.rate for r in cold.ok if r.rate]
        k_self = statistics.median(rates) if rates else None
        said = (f",kaohe 自报 {fmt_rate(k_self)} 页/秒(不含 Python 启动),按自报计比值 {k_self / h_wall:.2f}"
                if k_self else "")
        out.append(f"- {size:,} 单位:kaohe build-cold {fmt_rate(k_wall)} 页/秒({pages_of(cold):,} 页),"
                   f"Hugo {fmt_rate(h_wall)} 页/秒({pages_of(hugo):,} 页);"
                   f"**kaohe 页/秒 ÷ Hugo 页/秒 = {k_wall / h_wall:.2f}**(均按墙钟中位数){said}。")
    if out:
        out = ["", "与 Hugo 对比(页/秒 = 写出的 HTML 页面数 ÷ 墙钟时间中位数):", ""] + out + [
            "", "注意:kaohe 的页面更丰富(图表、细则链接、说明、单位历次页、细则页),而且 kaohe 的时间包括"
            "读取内容、计分、数据文件(CSV/JSON/XLSX)和搜索索引;Hugo 只渲染每个单位次一张记分卡和每轮一个"
            "单位列表(bench/hugo/),其内容页由 kaohe 的 scores.json 和 items.csv 预先生成,不计时。"]
    return out


def report(results: list[Result], cmdline: str, gen_times: dict) -> str:
    m = machine()
    now = dt.datetime.now().astimezone()
    lines = [f"## {now:%Y-%m-%d %H:%M %z}", "",
             f"- 命令:`{cmdline}`",
             f"- 机器:{m['nproc']} 核 {m['cpu']},内存 {m['mem']};{m['os']}",
             f"- Python {m['python']},pandas {m['pandas']},numpy {m['numpy']},Jinja2 {m['jinja2']}",
             "- 负载:bench/workload.py(每个单位 3 个轮次,每轮约 13 行结果);计时为子进程墙钟时间,"
             "内存为子进程峰值 RSS(wait4 ru_maxrss)。",
             ""]
    if gen_times:
        lines.append("- 生成负载用时:" + ",".join(f"{n} 单位 {t:.1f} 秒" for n, t in gen_times.items()))
        lines.append("")
    lines += ["| 单位数 | 场景 | 成功/次数 | 中位数 s | 最小 s | 最大 s | CPU s(中位) | 峰值内存 MiB | 结果行/s | 单位次/s | 页面 | 页/s(墙钟) |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        ok = res.ok
        if ok:
            walls = [r.wall for r in ok]
            med = statistics.median(walls)
            unit_rounds = res.size * res.ctx.rounds
            lines.append(f"| {res.size:,} | {res.scenario.name} | {len(ok)}/{len(res.runs)} | {med:.2f} | {min(walls):.2f} | "
                         f"{max(walls):.2f} | {statistics.median(r.cpu for r in ok):.2f} | "
                         f"{max(r.maxrss_kib for r in ok) / 1024:.0f} | {fmt_rate(res.ctx.rows / med)} | {fmt_rate(unit_rounds / med)} | "
                         + (f"{pages_of(res):,} | {fmt_rate(pages_of(res) / med)} |" if pages_of(res) else " | |"))
        else:
            lines.append(f"| {res.size:,} | {res.scenario.name} | 0/{len(res.runs)} | 失败 | | | | | | | | |")
    lines += hugo_comparison(results)
    # per-step breakdown from `kaohe -v`
    steps = list(dict.fromkeys(s for res in results for r in res.ok for s in r.steps))
    if steps:
        lines += ["", "各步骤耗时(`-v` 输出,中位数,秒):", "",
                  "| 单位数 | 场景 | " + " | ".join(steps) + " |",
                  "|---:|---|" + "---:|" * len(steps)]
        for res in results:
            if not res.ok:
                continue
            cells = []
            for s in steps:
                vals = [r.steps[s] for r in res.ok if s in r.steps]
                cells.append(f"{statistics.median(vals):.2f}" if vals else "")
            lines.append(f"| {res.size:,} | {res.scenario.name} | " + " | ".join(cells) + " |")
    rows = {res.size: (res.ctx.rows, res.size * res.ctx.rounds) for res in results}
    lines += ["", "结果行数:" + ",".join(f"{n:,} 单位 = {r:,} 行 / {u:,} 单位次" for n, (r, u) in rows.items())]
    said = [(res, res.ok[-1].stdout.strip().splitlines()[-1]) for res in results if res.ok and res.ok[-1].stdout.strip()]
    if said:
        lines += ["", "kaohe 的输出(最后一次成功运行):", ""]
        lines += [f"- {res.size} {res.scenario.name}:{text}" for res, text in said]
    failures = [(res, r) for res in results for r in res.runs if r.code != 0]
    if failures:
        lines += ["", "失败的运行:", ""]
        for res, r in failures:
            tail = "\n".join(r.stderr.strip().splitlines()[-15:])
            lines += [f"- {res.size} {res.scenario.name}: 退出码 {r.code}", "", "```", tail, "```", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="kaohe 基准测试")
    p.add_argument("--sizes", default="1000,10000,100000", help="单位数,逗号分隔")
    p.add_argument("--repeat", type=int, default=3, help="每个场景运行次数(交错进行)")
    p.add_argument("--rounds", type=int, default=3, help="负载的轮次数")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenarios", default=DEFAULT_SCENARIOS,
                   help=f"场景,逗号分隔;可选 {','.join(s.name for s in SCENARIOS)}")
    p.add_argument("--regen", action="store_true", help="重新生成负载,即使已有相同的")
    p.add_argument("--replace", action="store_true", help="覆盖 RESULTS.md,而不是追加")
    args = p.parse_args(argv)
    # kaohe build's cache of scored rounds (generator/cache.py): in the work folder, not the home folder;
    # build-cold clears it for its content before every run (remove_output)
    os.environ["KAOHE_CACHE"] = str(WORK / "cache")
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    by_name = {s.name: s for s in SCENARIOS}
    unknown = [n for n in args.scenarios.split(",") if n not in by_name]
    if unknown:
        p.error(f"未知场景 {','.join(unknown)};可选 {','.join(by_name)}")
    scenarios = [by_name[n] for n in args.scenarios.split(",")]
    for sc in [sc for sc in scenarios if sc.needs and shutil.which(sc.needs) is None]:
        print(f"跳过场景 {sc.name}:找不到命令 `{sc.needs}`(本脚本不安装任何软件;Debian 上可用 "
              f"apt-get install -y {sc.needs} 安装)", flush=True)
        scenarios.remove(sc)
    if not scenarios:
        print("没有可运行的场景", file=sys.stderr)
        return 1
    cmdline = shlex.join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])

    results: list[Result] = []
    gen_times: dict = {}
    empty_trash(settle=True)      # left by an interrupted run
    try:
        measure_all(sizes, scenarios, args, results, gen_times)
    finally:
        stop_servers()
        empty_trash(settle=False)
    return save_report(results, cmdline, gen_times, args.replace)


def measure_all(sizes: list[int], scenarios: list, args, results: list, gen_times: dict) -> None:
    """Every scenario of every size, repetitions interleaved; appends to `results`."""
    for size in sizes:
        ctx, took = prepare(size, args.rounds, args.seed, args.regen)
        if took is not None:
            gen_times[size] = took
        batch = [Result(size, sc, ctx) for sc in scenarios]
        for rep in range(args.repeat):
            for res in batch:
                res.scenario.setup(ctx)
                run = measure(res.scenario.argv(ctx), ctx.logs / f"{res.scenario.name}-{rep + 1}", res.scenario.env)
                if run.code == 0 and res.scenario.pages:
                    run.pages, run.rate = res.scenario.pages(ctx, run)
                if run.code == 0 and res.scenario.timed and res.scenario.timed(run) is not None:
                    run.wall = res.scenario.timed(run)
                res.runs.append(run)
                status = "ok" if run.code == 0 else f"退出码 {run.code}"
                print(f"[{size}] {res.scenario.name} #{rep + 1}: {run.wall:.2f} 秒,CPU {run.cpu:.2f} 秒,"
                      f"峰值 {run.maxrss_kib / 1024:.0f} MiB,{status}", flush=True)
                if run.code != 0:
                    print("\n".join(run.stderr.strip().splitlines()[-15:]), file=sys.stderr, flush=True)
        results += batch
        stop_resident(ctx)


def save_report(results: list, cmdline: str, gen_times: dict, replace: bool) -> int:
    text = report(results, cmdline, gen_times)
    print()
    print(text)
    if replace or not RESULTS.exists():
        RESULTS.write_text("# kaohe 基准测试结果\n\n由 `bench/run.py` 生成,每次运行追加一节。\n\n" + text, "utf-8")
    else:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 1 if any(r.code != 0 for res in results for r in res.runs) else 0


if __name__ == "__main__":
    sys.exit(main())
