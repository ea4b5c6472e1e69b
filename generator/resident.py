"""The resident build process: what makes a second `kaohe build` of a large site as quick as `kaohe serve`.

A new `kaohe build` process spends about 0.5 s importing pandas, Jinja2 and the generator, then reads back
from the disk cache what it can, and still has to check, score and key every changed round afresh:
2.9 s at 10,000 units for one corrected row. `kaohe serve` does the same rebuild in about 1 s because it
keeps what the previous build computed in memory (warm.py). So after a build of a site of 1,000 to 20,000
units, `kaohe build` forks itself: the copy detaches from the terminal and stays, holding that memory
(warm.Warm), listening on a Unix socket named after the content and output folders, the user and the
generator's code. The next `kaohe build` of the same folders finds it before importing anything heavy,
hands it its arguments, working folder, environment and its own stdout and stderr (SCM_RIGHTS, so
messages, the progress line and `isatty()` are exactly those of a build in the process itself) and
waits for the exit code. The resident process runs the very same build() (with the Warm, as `kaohe
serve` does: tests/test_serve.py and tests/test_resident.py check that it writes the same site as a
fresh build), then waits for the next one.

It goes away by itself after IDLE seconds without a build (KAOHE_RESIDENT_IDLE, default 10 minutes), and
it is never asked again once the generator's code changes (its name would be another). KAOHE_RESIDENT=off
turns it off (and stops one that is there); =on keeps one whatever the site's size. Only Linux (abstract
Unix sockets, fork); builds with --pdf run in their own process. Only the same user may connect
(SO_PEERCRED). If the resident process fails to answer, the build runs in the calling process, which is
safe: a build either replaces the site whole or leaves it as it was.

This module is imported before anything heavy: it needs only the standard library.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import socket
import struct
import sys
import traceback
from pathlib import Path

ENV = "KAOHE_RESIDENT"
IDLE_ENV = "KAOHE_RESIDENT_IDLE"
IDLE = 600.0            # seconds without a build before the resident process exits
MIN_UNITS = 1_000       # below this a build in its own process takes about a second anyway
MAX_UNITS = 20_000      # above this what it keeps (about 75 KB a unit) is too much to hold unasked
REQUEST_SECONDS = 10.0  # how long a connection may take to send its request
OFF = ("off", "0", "no", "false")
ON = ("on", "1", "yes", "true")
PACKAGE = Path(__file__).resolve().parent
HEADER = struct.Struct("!I")


def setting() -> str:
    value = os.environ.get(ENV, "").strip().lower()
    return "off" if value in OFF else "on" if value in ON else "auto"


def possible(args) -> bool:
    """Whether this build may use or leave a resident process at all."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and not args.pdf


def address(args) -> str:
    """The abstract socket's name: one resident process per user, content folder, output folder, Python
    environment (sys.prefix: a venv's `python` and `python3` are the same), installed libraries and
    generator code."""
    h = hashlib.sha256()
    for part in (str(os.getuid()), os.path.realpath(args.content), os.path.realpath(args.output),
                 sys.prefix, sys.version, str(PACKAGE), code_signature(PACKAGE), libraries_signature()):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return "\0kaohe-build-" + h.hexdigest()[:40]


def code_signature(package: Path) -> str:
    """The generator's files by name, size and modification time: a changed one gives another address, so
    an older resident process is simply never asked again (and exits when idle)."""
    parts = []
    for folder, dirs, names in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                parts.append(f"{os.path.relpath(os.path.join(folder, name), package)}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def libraries_signature(path=None) -> str:
    """The installed distributions with their versions (the names of site-packages' *.dist-info folders):
    after an upgrade of Jinja2 or pandas, a resident process that has the old ones loaded is not asked."""
    return "|".join(sorted(name for folder in (sys.path if path is None else path)
                           if folder.endswith("site-packages") and os.path.isdir(folder)
                           for name in os.listdir(folder) if name.endswith(".dist-info")))


def request_argv(args) -> list[str]:
    argv = ["build", "--content", args.content, "--output", args.output]
    if args.drafts:
        argv.append("--drafts")
    if args.profile:
        argv += ["--profile", args.profile]
    if args.verbose:
        argv.append("-v")
    return argv


def _send(sock: socket.socket, message: dict, fds=()) -> None:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    data = HEADER.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    sock.sendall(data)


def _receive(sock: socket.socket, with_fds: bool = False):
    """One message (and the file descriptors sent with it); None if the other side closed first."""
    fds: list[int] = []
    try:
        if with_fds:
            data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 2)
        else:
            data = sock.recv(1 << 16)
        while len(data) < HEADER.size or len(data) < HEADER.size + HEADER.unpack_from(data)[0]:
            more = sock.recv(1 << 16)
            if not more:
                raise EOFError
            data += more
        size = HEADER.unpack_from(data)[0]
        return json.loads(data[HEADER.size:HEADER.size + size]), fds
    except EOFError:
        for fd in fds:
            os.close(fd)
        return None, []
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def _connect(args) -> socket.socket | None:
    """A connection to the resident process of these folders, if one listens there and it is this user's:
    an abstract socket's name can be taken by anyone, and the request carries the environment."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address(args))
        if _peer_uid(sock) != os.getuid():
            raise PermissionError("another user's socket")
    except OSError:
        sock.close()
        return None
    return sock


def _peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def running(args) -> bool:
    """Whether a resident process of these folders answers (it is not asked anything)."""
    sock = _connect(args)
    if sock is not None:
        sock.close()
    return sock is not None


def ask(args) -> int | None:
    """Have the resident process of these folders run this build: its exit code, or None when there is no
    resident process (or it did not answer), and the build is to run here."""
    try:
        streams = [sys.stdout.fileno(), sys.stderr.fileno()]
    except (AttributeError, OSError, ValueError):      # no stdout or stderr to hand over: build here
        return None
    sock = _connect(args)
    if sock is None:
        return None
    with sock:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            _send(sock, {"argv": request_argv(args), "cwd": os.getcwd(), "env": dict(os.environ)}, streams)
            reply, _ = _receive(sock)
        except KeyboardInterrupt:
            print("已中断等待;后台进程会把这次生成做完:网站要么整体更新,要么保持原样。", file=sys.stderr, flush=True)
            return 130
        except OSError:
            reply = None
    if reply is None:
        print("后台进程未能完成这次生成,改在本进程中生成。", file=sys.stderr, flush=True)
        return None
    return int(reply["code"])


def stop(args) -> dict | None:
    """Ask the resident process of these folders to exit; its last figures (peak memory, builds run), or
    None when there was none."""
    sock = _connect(args)
    if sock is None:
        return None
    with sock:
        try:
            _send(sock, {"stop": True})
            reply, _ = _receive(sock)
        except OSError:
            return None
    return reply


def wanted(units: int) -> bool:
    """Whether to stay resident after building a site of this many units."""
    mode = setting()
    return mode == "on" or (mode == "auto" and MIN_UNITS <= units <= MAX_UNITS)


def idle_seconds() -> float:
    try:
        return max(0.1, float(os.environ.get(IDLE_ENV, "")))
    except ValueError:
        return IDLE


def start(args, run, warm_up=None, fill=None) -> int | None:
    """Fork a resident process that answers the next builds of these folders with `run(args) -> exit code`
    (which keeps its Warm), after `warm_up()` (which fills that Warm without writing anything); the pid, or
    None when one is there already or it cannot be made. A build asked for during the warm-up waits for it.
    `fill()`: after the warm-up and each build, work to do while no build is asked for, or None (an object
    whose step() does some and says whether any is left: holes.SpanFill)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address(args))     # bound before the fork, so that it answers as soon as this process ends
        sock.listen(8)
    except OSError:
        sock.close()
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    idle = idle_seconds()
    pid = os.fork()
    if pid:
        sock.close()
        return pid
    try:       # the resident process: never returns
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        os.closerange(3, sock.fileno())
        os.closerange(sock.fileno() + 1, 1 << 16)
        gc.collect()
        warmed = None
        if warm_up is not None:
            try:            # content changed meanwhile into something that fails: the builds will say so
                warm_up()
                warmed = True
            except Exception:
                warmed = False
            gc.collect()
        _serve(sock, run, idle, warmed, fill)
    except BaseException:
        pass
    finally:
        os._exit(0)


def _serve(sock: socket.socket, run, idle: float, warmed: bool | None = None, fill=None) -> None:
    from .warm import COLLECT_AFTER, UNCOLLECTED     # as kaohe serve collects
    builds, uncollected = 0, 0
    work = fill() if fill is not None else None      # done a step at a time while no build is asked for
    while True:
        sock.settimeout(work.PAUSE if work is not None else COLLECT_AFTER if uncollected else idle)
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            if work is not None:
                if not work.step():
                    work = None
                continue
            if not uncollected:
                return               # idle: go away
            gc.collect()
            uncollected = 0
            continue
        with conn:
            if _peer_uid(conn) != os.getuid():
                continue
            conn.settimeout(REQUEST_SECONDS)      # a caller that connects and sends nothing is not waited for
            try:
                request, fds = _receive(conn, with_fds=True)
            except (OSError, ValueError):
                continue
            conn.settimeout(None)
            if request is None:
                continue
            if request.get("stop"):
                _send(conn, {"stopped": True, "builds": builds, "peak_kib": _peak_kib(), "warmed": warmed})
                return
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                continue
            code, healthy = _answer(request, fds, run)
            builds += 1
            try:
                _send(conn, {"code": code})
            except OSError:
                pass
            work = fill() if fill is not None and healthy else None     # once the caller has its answer
        if not healthy:
            return                  # an unexpected failure: what it keeps may be inconsistent
        uncollected += 1
        if uncollected >= UNCOLLECTED:
            gc.collect()
            uncollected = 0


def _answer(request: dict, fds: list[int], run) -> tuple[int, bool]:
    """Run one build with the caller's stdout, stderr, working folder and environment."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    healthy = True
    try:
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        from .cli import _parser
        args = _parser().parse_args(request["argv"])
        if args.verbose:
            print("  后台进程:沿用上次生成留在内存中的结果", file=sys.stderr, flush=True)
        code = run(args)
    except SystemExit as exc:     # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        traceback.print_exc()
        code, healthy = 1, False
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        for fd in (null, *fds):
            os.close(fd)
        os.environ.clear()
        os.environ.update(saved_env)
        try:
            os.chdir(saved_cwd)
        except OSError:
            os.chdir("/")
    return code, healthy


def _peak_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0


def started_message(pid: int) -> str:
    minutes = idle_seconds() / 60
    span = f"{minutes:.0f} 分钟" if minutes >= 1 else f"{idle_seconds():.0f} 秒"
    return (f"已在后台保留这次生成的中间结果(进程 {pid}):对同一内容和输出文件夹再运行 kaohe build 会快得多;"
            f"空闲 {span}后自动退出,设环境变量 {ENV}=off 可不保留。")

