"""Writing the site so that a failed build leaves the previous site whole.

`.kaohe-manifest.json` in the output records the SHA-256 of every file, the source fingerprint of every
page and a hash of every input (content, themes, the generator itself, the build options). A rebuild
whose inputs did not change does nothing. Any other rebuild of a site with a manifest updates it in
place: unchanged files are not touched (they keep their inode and mtime, so an rsync deploy copies only
what changed), changed files are kept in memory (up to PENDING_BYTES a process; the rest, and files over
INPLACE_MAX, staged beside their targets) and written over them, or renamed over them, only once everything
has been made (see Files.commit). A first
build is made as a new tree beside the output and swapped in.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

MANIFEST = ".kaohe-manifest.json"
PART = ".kaohe-part-"
STAGED = ".kaohe-new"          # a changed file, written beside its target until the build has succeeded
STAGED_DIR = ".kaohe-new-"     # a folder made by another program, beside the one it replaces
BUSY = ".kaohe-updating"       # present while a build updates the site in place
TRASH = ".trash-"              # .<site>.trash-…: old files replaced by a build, beside the site (Files._trash)
SPANS = ".spans"               # where a worker's scorecards have their averages (holes.py)
PENDING_BYTES = 64 << 20       # changed files a process keeps in memory until the commit; the rest are staged
# a changed file larger than this (an overview, a 通报, a data file: megabytes each at 10,000 units) is staged and
# renamed over its target rather than written over it: the rename costs the same for a large file, and writing
# over it meant reading its old bytes first (for the rollback), at disk speed when they are no longer cached
INPLACE_MAX = 256 << 10


def read_manifest(output: Path) -> dict:
    """The manifest of the site in `output`, or {} when there is none (or it is damaged). The manifest this
    process wrote last is kept in memory while the file is the one it wrote (same inode, size and mtime):
    under serve every rebuild starts by reading it, 0.04 s for the 9 MB of a 10,000-unit site."""
    path = output / MANIFEST
    try:
        with open(path, "rb") as f:
            stamp = _stamp(os.fstat(f.fileno()))
            if _written.get(str(path.absolute()), (None,))[0] == stamp:
                return _written[str(path.absolute())][1]
            manifest = orjson.loads(f.read())
    except (OSError, ValueError):
        return {}
    _written.clear()        # kept as if written: a build reads it twice (ExistCheck.start, write_site)
    _written[str(path.absolute())] = (stamp, manifest)
    return manifest


_written: dict = {}      # absolute manifest path -> (its stat stamp, the manifest) as write_manifest left it


def _stamp(st) -> tuple:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_dev


def inputs_hash(folders: list[Path], options: dict, files: dict | None = None) -> str:
    """One hash over every file of the given folders (path and bytes) and the build options. `files`, if
    given, receives each file's own SHA-256 by path (warm.py reuses them rather than reading the files again)."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            one = file_digest(path)
            if files is not None:
                files[path] = one
            digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
            digest.update(one)
    return digest.hexdigest()


_digests: dict = {}     # path -> (its stat when read, SHA-256): files read by an earlier build of this process


def file_digest(path: Path) -> bytes:
    """The SHA-256 of a file's bytes. A process that builds again (kaohe serve, the resident process) does
    not read a file again while its inode, size, modification and change times are those it had when read:
    the 14 MB of a 10,000-unit content folder are read by every build, and once the system has dropped
    them from its cache that took about 0.08 s. Any write changes the change time, which no program can
    set back; a file changed less than two seconds before it was read is read again next time (timestamps
    are only as fine as the kernel's clock tick)."""
    st = os.stat(path)
    stamp = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _digests.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    one = hashlib.sha256(path.read_bytes()).digest()
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > 2_000_000_000:
        _digests[path] = (stamp, one)
    return one


def unchanged(output: Path, inputs: str) -> bool:
    """The output was built from exactly these inputs and is still whole."""
    # the manifest begins with its inputs hash (manifest_of): a rebuild after a change reads no further
    # (the manifest is 9 MB at 10,000 units; write_site reads it whole anyway)
    try:
        with open(output / MANIFEST, "rb") as f:
            head = f.read(len(MANIFEST_HEAD) + len(inputs) + 1)
    except OSError:
        return False
    if head != (MANIFEST_HEAD + inputs + '"').encode("utf-8"):
        return False
    manifest = read_manifest(output)
    if manifest.get("inputs") != inputs:
        return False
    root, isfile = str(output), os.path.isfile      # strings: 40,000 pathlib joins cost 0.2 s at 10,000 units
    return all([isfile(safe_path(root, rel)) for rel in manifest.get("files", {})])


class Files:
    """Puts the files of a build into place.

    A first build (or one over a folder without a valid manifest) writes a whole new tree beside the
    output and swaps it in; a file equal to the current site's is hard-linked from it. A rebuild over a
    site this build made before updates it in place: a changed file is kept in memory (or, past
    PENDING_BYTES or over INPLACE_MAX, written beside its target as `name.kaohe-new`) and written over its
    target (renamed over it) only when everything has been made (commit), unchanged files are not touched
    at all, and a folder made by another program (the Pagefind bundle) is made beside the old
    one and swapped. Either way nothing the reader sees changes until the build has succeeded.
    """

    def __init__(self, root: Path, current: Path, previous: dict, inplace: bool = False):
        self.root, self.current, self.inplace = root, current, inplace
        self.old = previous.get("files", {})
        self.old_sources = previous.get("sources", {})   # page path -> fingerprint of what it was rendered from
        self.old_notes = previous.get("notes", {})       # e.g. {"search": key of the records the index came from}
        self.digests: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.foreign: list[str] = []              # folders or files written by other programs, see adopt()
        self.hashed: dict[str, dict] = {}         # foreign folder -> {path within it: SHA-256}, when known
        self.staged: list[str] = []               # in place: files written as name.kaohe-new, renamed at the end
        self.pending: list[tuple[str, bytes]] = []  # in place: changed files written over their targets at the end
        self.pending_size = 0
        # a worker's changed files go into shared memory its parent made before forking (share_pending),
        # which then writes them from there: 0.04 s less than pickling 20 MB through a file and back
        self.shared: list = []                    # per worker k ≥ 1: an anonymous shared mmap of PENDING_BYTES
        self.buffer = None                        # in a worker: its own shared mmap
        self.placed: list = []                    # in a worker: (relpath, offset, length) of each file in it
        self.restored = False                     # overwrite() failed and put every file back as it was
        self.kept = 0                             # pages kept from the current site without rendering
        self.rows: dict = {}                      # data files' rows made (build.round_data), for kaohe serve
        self.made: set[str] = set()          # folders of the new site made so far
        self.spans: dict = {}                     # scorecard path -> where its averages are (holes.py), or None
        self.refilled = 0                         # scorecards made by replacing their averages (holes.py)
        self.missing: set | None = None           # files of the current site found missing (ExistCheck), if checked

    def folder(self, name: str) -> Path:
        """Where another program writes the site's top-level folder `name` (e.g. the Pagefind bundle)."""
        self.foreign.append(name)
        return self._made_at(name)

    def _made_at(self, name: str) -> Path:
        """Where a file or folder written by another program is before the site is replaced."""
        return self.root / (f"{STAGED_DIR}{name}" if self.inplace else name)

    def _target(self, relpath: str) -> str:
        """Where the file `relpath` goes in the new site, its folder made. Strings rather than Paths: this
        runs for every file of a first build (pathlib's objects cost about 1 s of CPU at 10,000 units)."""
        target = safe_path(self.root, relpath)
        parent = target.rpartition(os.sep)[0]
        if parent not in self.made:
            try:
                os.mkdir(parent)             # the usual case: one new folder per page, its parent made already
            except FileExistsError:
                pass
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
            self.made.add(parent)
        return target

    def keep_tree(self, prefix: str) -> bool:
        """Keep every file of the current site under `prefix` (e.g. "pagefind/") as it is; False if any is
        missing, in which case the folder must be made afresh."""
        kept = {rel: digest for rel, digest in self.old.items() if rel.startswith(prefix)}
        if not kept:
            return False
        if self.inplace:        # one walk of the folder rather than a stat per file (a bundle has thousands)
            if not set(kept) <= files_under(self.current, prefix):
                self.drop_tree(prefix)
                return False
            self.digests.update(kept)
        for rel in sorted(kept) if not self.inplace else ():
            if not self._link(rel, self._target(rel)):
                self.drop_tree(prefix)
                return False
            self.digests[rel] = kept[rel]
        self.foreign = [f for f in self.foreign if f != prefix.rstrip("/")]
        return True

    def drop_tree(self, prefix: str) -> None:
        """Undo keep_tree(prefix), whole or in part: the folder is to be made afresh after all."""
        for rel in [rel for rel in self.digests if rel.startswith(prefix)]:
            del self.digests[rel]
        if not self.inplace:
            shutil.rmtree(safe_join(self.root, prefix.rstrip("/")), ignore_errors=True)
        if prefix.rstrip("/") not in self.foreign:
            self.foreign.append(prefix.rstrip("/"))

    def reuse(self, relpath: str, source: str, page: bool = True) -> bool:
        """Keep the current site's page (or data file) when it was made from exactly this source: it is not
        made at all."""
        return self.reuse_all([relpath], [source], page)[0]

    def reuse_all(self, relpaths: list[str], sources: list[str], page: bool = True) -> list[bool]:
        """reuse() for many files at once (parallel.Keeper, a round's share of pages): whether each was kept."""
        self.sources.update(zip(relpaths, sources))
        old_sources, old = self.old_sources, self.old
        same = [old_sources.get(p) == s and p in old for p, s in zip(relpaths, sources)]
        if self.inplace and self.missing is not None:      # checked before the fork (ExistCheck)
            missing = self.missing
            kept = [ok and p not in missing for p, ok in zip(relpaths, same)]
        elif self.inplace:
            root, isfile = self.current, os.path.isfile
            kept = [ok and isfile(safe_path(root, p)) for p, ok in zip(relpaths, same)]
        else:
            kept = [ok and self._link(p, self._target(p)) for p, ok in zip(relpaths, same)]
        digests = self.digests
        for p, ok in zip(relpaths, kept):
            if ok:
                digests[p] = old[p]
        if page:
            self.kept += sum(kept)
        return kept

    def put(self, relpath: str, data: bytes, read: bool = False) -> str:
        """Write `data` as the file `relpath` of the new site (see the class); returns its SHA-256. `read`:
        this process has just read the current file (it is cached)."""
        digest = hashlib.sha256(data).hexdigest()
        self.digests[relpath] = digest
        if self.old.get(relpath) == digest:
            if self.inplace and os.path.isfile(safe_path(self.current, relpath)):
                return digest
            if not self.inplace and self._link(relpath, self._target(relpath)):
                return digest
        if self.inplace and len(data) <= INPLACE_MAX and self.pending_size + len(data) <= PENDING_BYTES:
            if self.buffer is not None:
                self.buffer[self.pending_size:self.pending_size + len(data)] = data
                self.placed.append((relpath, self.pending_size, len(data)))
            else:
                self.pending.append((relpath, data))
            self.pending_size += len(data)
            if not read:        # overwrite() reads its old bytes first: have the kernel fetch them meanwhile
                prefetch(safe_path(self.current, relpath))
            return digest
        target = self._target(relpath)
        if self.inplace:
            target += STAGED
            self.staged.append(relpath)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)   # as open(): the umask applies
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return digest

    def _link(self, relpath: str, target: str) -> bool:
        try:
            os.link(safe_path(self.current, relpath), target)
            return True
        except OSError:
            return False

    def share_pending(self, workers: int) -> None:
        """Before forking `workers` - 1 workers over a site updated in place: the shared memory each one
        keeps its changed files in (pages are touched only as they are written)."""
        if self.inplace and workers > 1:
            import mmap
            self.shared = [mmap.mmap(-1, PENDING_BYTES) for _ in range(1, workers)]

    def save_part(self, k: int) -> None:
        """A worker process hands its digests to the parent through a file."""
        part = self.root / f"{PART}{k}.json"
        part.write_bytes(orjson.dumps([self.digests, self.sources, self.kept, self.staged, k, self.placed]))
        if self.rows:
            with open(self.root / f"{PART}{k}.rows", "wb") as f:
                pickle.dump(self.rows, f, protocol=pickle.HIGHEST_PROTOCOL)
        if self.spans:
            with open(self.root / f"{PART}{k}{SPANS}", "wb") as f:
                pickle.dump((self.spans, self.refilled), f, protocol=pickle.HIGHEST_PROTOCOL)

    def adopt(self) -> None:
        """Take in the workers' digests and the files made by other programs (Pagefind, PDFs), which were
        announced through `folder()` or in `self.foreign` (a file or folder each, relative to the site)."""
        for part in sorted(self.root.glob(f"{PART}*.json")):
            digests, sources, kept, staged, k, placed = orjson.loads(part.read_bytes())
            self.digests.update(digests)
            self.sources.update(sources)
            self.kept += kept
            self.staged += staged
            if placed:
                view = memoryview(self.shared[k - 1])
                self.pending += [(rel, view[at:at + n]) for rel, at, n in placed]
            part.unlink()
        for part in sorted(self.root.glob(f"{PART}*.rows")):
            with open(part, "rb") as f:
                self.rows.update(pickle.load(f))
            part.unlink()
        for part in sorted(self.root.glob(f"{PART}*{SPANS}")):
            with open(part, "rb") as f:
                spans, refilled = pickle.load(f)
            self.spans.update(spans)
            self.refilled += refilled
            part.unlink()
        for rel in self.foreign:
            top = self._made_at(rel)
            if rel in self.hashed:       # hashed by the program that made them (the Pagefind driver)
                made = [(top / sub, f"{rel}/{sub}", digest) for sub, digest in self.hashed[rel].items()]
            else:
                made = [(path, rel + path.as_posix()[len(top.as_posix()):], None)
                        for path in ([top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()))]
            for path, name, digest in made:
                digest = digest or hashlib.sha256(path.read_bytes()).hexdigest()
                self.digests[name] = digest
                if not self.inplace and self.old.get(name) == digest:
                    spare = path.with_name(path.name + STAGED)
                    path.rename(spare)
                    if self._link(name, path):
                        spare.unlink()
                    else:
                        spare.rename(path)

    def discard(self) -> None:
        """In place, after a failure: remove what this build staged; the site is as it was."""
        for rel in self.staged:
            target = safe_join(self.root, rel)
            target.with_name(target.name + STAGED).unlink(missing_ok=True)
        for rel in self.foreign:
            shutil.rmtree(self._made_at(rel), ignore_errors=True)
        for part in [*self.root.glob(f"{PART}*.json"), *self.root.glob(f"{PART}*.rows"),
                     *self.root.glob(f"{PART}*{SPANS}")]:
            part.unlink()
        self.pending = []

    def commit(self, manifest: dict) -> None:
        """In place: write the changed files kept in memory over their targets (overwrite()), rename the
        staged ones over theirs, swap the foreign folders, delete the files this build no longer makes, then
        write the manifest. The old manifest goes first, so that if this is interrupted the next build makes
        a whole new tree rather than trusting a half-updated one."""
        (self.root / MANIFEST).unlink(missing_ok=True)
        self.overwrite()
        targets = [safe_path(self.root, rel) for rel in self.staged]
        trash = self._trash() if targets else None

        def swap(i: int, target: str) -> None:
            if trash is not None:       # the old file lives on in the trash, freed after the build
                try:
                    os.link(target, f"{trash}{os.sep}{i}")
                except OSError:         # a new file, or no hard links here: the rename frees the old one
                    pass
            os.replace(target + STAGED, target)
        if len(targets) > 16:       # renames in different folders run in parallel in the kernel: about twice as fast
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(swap, range(len(targets)), targets))
        else:
            for i, target in enumerate(targets):
                swap(i, target)
        if trash is not None:
            free_later(trash)
        for rel in self.foreign:
            staged, final, old = self._made_at(rel), self.root / rel, self.root / f"{STAGED_DIR}old-{rel}"
            if final.exists():
                final.rename(old)
            staged.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        digests = self.digests
        gone = sorted((rel for rel in self.old if rel not in digests), reverse=True)
        for rel in gone:
            path = safe_join(self.root, rel)
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == self.root:
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break
        write_manifest(self.root, manifest)

    def _trash(self) -> str | None:
        """A new folder beside the site (not in it: a deploy copying the site must not see it) where commit()
        keeps the old files that staged ones replace. A rename over a file frees the old file's blocks
        there and then: 19 ms for the six files of megabytes (an overview, a 通报, the data files) that a
        correction replaces at 10,000 units. Kept in the trash, they are freed by a detached `rm` after the
        build. Trash left by a build that was killed is removed here."""
        parent, name = self.root.parent, self.root.name
        for left in parent.glob(f".{name}{TRASH}*"):
            shutil.rmtree(left, ignore_errors=True)
        folder = os.path.join(parent, f".{name}{TRASH}{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.mkdir(folder)
        except OSError:
            return None
        return folder

    def overwrite(self) -> None:
        """Write each changed file kept in memory over its target. On this machine's ext4 that costs about
        20 µs a file, where making a staged file and renaming it over the old one cost about 300 µs (a new
        inode, and the old one's blocks freed): 1,695 pages of a correction at 10,000 units in about 0.05 s
        instead of 0.3 s. Each file's old bytes are read first; if any write fails (a full disk), every file
        already written gets its old bytes back and the error is raised, so the site is as it was. A file
        with other hard links (a snapshot made with cp -al or rsync --link-dest) is never changed in place:
        it is replaced by a new file, as a staged one would be, and the other links keep the old bytes."""
        pending, self.pending, self.pending_size = self.pending, [], 0
        if not pending:
            return
        done: list = []          # (relpath, old bytes or None when the file is new) of each file written

        def one(item):
            rel, data = item
            path = safe_path(self.root, rel)
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                self._target(rel)              # its folder, when the file is new
                with open(path, "xb") as f:
                    f.write(data)
                return rel, None
            try:
                st = os.fstat(fd)
                old = os.pread(fd, st.st_size, 0) if st.st_size else b""
                if st.st_nlink > 1 or len(old) != st.st_size:
                    os.close(fd)
                    fd = -1
                    _replace(path, data)
                    return rel, old
                view, at = memoryview(data), 0
                while at < len(data):
                    at += os.pwrite(fd, view[at:], at)
                if len(data) < st.st_size:
                    os.ftruncate(fd, len(data))
                return rel, old
            finally:
                if fd >= 0:
                    os.close(fd)

        failure = None
        for item in pending:      # in one thread: with 8 (as for the renames) 1,695 files took 3 times as long
            try:
                done.append(one(item))
            except BaseException as exc:
                failure = exc
                break
        if failure is not None:
            for rel, old in done:
                path = safe_path(self.root, rel)
                if old is None:
                    os.unlink(path)
                else:
                    _replace(path, old)
            self.restored = True
            raise failure


CHECK_FILES = 5_000     # a site of fewer files has each kept file checked by the process keeping it ...
CHECK_MAX_FILES = 150_000   # ... and so has one of more: the check's process would hold its whole manifest
# (about 300 MB at 100,000 units, beside a build that peaks at 2-3 GB there)


class ExistCheck:
    """Which files of the current site (as its manifest lists them) are missing, found by another process
    while this one reads and scores the content.

    A rebuild keeps a file only if it is still there. At 10,000 units a correction keeps about 40,000 files,
    and a stat costs 2.8 µs on this machine (the path walk): 0.055 s of each worker's share, paid after the
    fork, where every millisecond is waited for. Here the stats run on the core that idles while the
    changed round is read and scored, in a small new Python process that reads the manifest itself (a
    fork of this process cost more than it saved: 0.07 s of its copy-on-write page faults at 10,000 units),
    and the workers look each file up in `missing`. A file deleted after the check is made again by the next
    build, as one deleted during a build always was."""

    PROGRAM = """
import os, sys
import orjson
root, manifest = sys.argv[1], sys.argv[2]
with open(manifest, "rb") as f:
    st = os.fstat(f.fileno())
    files = orjson.loads(f.read()).get("files", {})
isfile = os.path.isfile
missing = [rel for rel in files if not isfile(root + os.sep + rel)]
sys.stdout.buffer.write(f"ok {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_dev}\\n".encode() + "\\n".join(missing).encode("utf-8"))
"""

    def __init__(self, output: Path, stamp: tuple, files: dict):
        import subprocess
        self.stamp, self.files = stamp, files      # the manifest it checks, as this process read it
        root = str(output.absolute())
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", self.PROGRAM, root, os.path.join(root, MANIFEST)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, close_fds=True)
        except OSError:                 # no process to spare: each file is checked as it is kept
            self.proc = None

    @classmethod
    def start(cls, output: Path) -> ExistCheck | None:
        """A check of the site in `output`, or None where it is not worth a process (or there is no site)."""
        files = read_manifest(output).get("files", {})
        known = _written.get(str((output / MANIFEST).absolute()))
        if not CHECK_FILES <= len(files) <= CHECK_MAX_FILES or known is None or known[1].get("files") is not files:
            return None
        return cls(output, known[0], files)

    def missing(self) -> set[str] | None:
        """The files found missing; None if the check failed or read another manifest (each file is then
        checked as it is kept)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            data = proc.stdout.read()
        except OSError:
            data = b""
        proc.stdout.close()
        head, _, body = data.partition(b"\n")
        words = head.split()
        if proc.wait() != 0 or len(words) != 5 or words[0] != b"ok" or tuple(int(w) for w in words[1:]) != self.stamp:
            return None
        return set(body.decode("utf-8").split("\n")) - {""}

    def close(self) -> None:
        """Done with the check before its answer was asked for (a build that failed): the process is stopped."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()


def prefetch(path: str) -> None:
    """Ask the kernel to read the file into its cache in the background (when it is there at all)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
    except (OSError, AttributeError):
        pass
    finally:
        os.close(fd)


def _replace(path: str, data: bytes) -> None:
    """A new file with `data` renamed over `path`."""
    with open(path + STAGED, "wb") as f:
        f.write(data)
    os.replace(path + STAGED, path)


def files_under(root: Path, prefix: str) -> set[str]:
    """The relative paths of the files under root/prefix (prefix ends with "/")."""
    top = safe_path(root, prefix.rstrip("/"))
    out = set()
    for folder, _dirs, names in os.walk(top):
        rel = prefix + folder[len(top) + 1:] + "/" if folder != top else prefix
        out.update(rel + name for name in names)
    return out


def safe_join(root: Path, relpath: str) -> Path:
    """root/relpath, refusing any path that would leave root (ids are checked earlier; this is the last guard)."""
    return Path(safe_path(root, relpath))


def safe_path(root, relpath: str) -> str:
    """safe_join as a string (tens of thousands of these per rebuild: pathlib's joins cost more than the
    stat they are for)."""
    # an empty, "." or ".." part, found with substring tests rather than a loop over the parts
    framed = f"/{relpath}/"
    if "//" in framed or "/./" in framed or "/../" in framed or "\\" in relpath:
        raise ValueError(f"unsafe output path: {relpath!r}")
    return f"{root}{os.sep}{relpath}" if os.sep == "/" else os.path.join(str(root), *relpath.split("/"))


def write_manifest(folder: Path, manifest: dict, final: Path | None = None) -> None:
    """Compact JSON in one line, UTF-8 (what json.dumps(ensure_ascii=False, separators=(",", ":")) writes):
    9 MB at 10k units. Kept in memory for read_manifest, under the path the site will have (`final`, when
    `folder` is a new tree about to be renamed there: the rename keeps the file's inode and times)."""
    path = folder / MANIFEST
    # the top level in its own order (inputs first: unchanged() reads only that far), each part with its
    # keys sorted by orjson (in C: sorting the 90,000 entries of a 10,000-unit site in Python cost 0.02 s)
    body = b",".join(orjson.dumps(key) + b":" + orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
                     for key, value in manifest.items())
    with open(path, "wb") as f:
        f.write(b"{" + body + b"}")
        f.flush()
        stamp = _stamp(os.fstat(f.fileno()))
    _written.clear()              # one site per process is kept (serve); a build of another drops it
    _written[str(((final or folder) / MANIFEST).absolute())] = (stamp, manifest)


def write_site(output: Path, files, before_swap=None, inputs: str = "", done=None, inplace: bool = True,
               dry: bool = False) -> int:
    """Write (relpath, bytes) pairs (a dict or an iterator: files are written as they are made, so a
    large site never sits in memory whole), then `before_swap(writer)`, which may add more (through
    `writer.put`, `writer.reuse`, or a program writing into `writer.folder(name)`), then put the result
    in place (see Files). A site with a valid manifest is updated in place when `inplace`; anything else
    is built as a new tree beside `output` and swapped in. Returns the file count. `dry`: over a site that
    can be updated in place, everything is made and nothing written (0 without such a site)."""
    output = output.absolute()
    parent = output.parent
    parent.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(output)
    busy = output / BUSY
    if inplace and previous.get("files") and output.is_dir() and not busy.exists():
        # BUSY marks an in-place update under way: if one is ever killed outright, its staged files
        # may be left behind, and the next build makes a whole new tree instead of updating this one
        if not dry:
            busy.write_text("kaohe build\n", encoding="utf-8")
        writer = Files(output, output, previous, inplace=True)
        try:
            for relpath, data in (files.items() if isinstance(files, dict) else files):
                writer.put(relpath, data)
            if before_swap is not None:
                before_swap(writer)
            writer.adopt()
            if done is not None:
                done(writer)
        except BaseException:
            writer.discard()
            busy.unlink(missing_ok=True)
            raise
        if dry:
            writer.discard()
            return len(writer.digests)
        try:
            writer.commit(manifest_of(writer, inputs))
        except BaseException:
            if writer.restored:        # no file of the site changed after all: it is as it was, manifest too
                writer.discard()
                write_manifest(output, previous)
                busy.unlink(missing_ok=True)
            raise
        busy.unlink()
        return len(writer.digests)
    if dry:
        return 0
    tmp = parent / f".{output.name}.new-{os.getpid()}"
    old = parent / f".{output.name}.old-{os.getpid()}"
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        writer = Files(tmp, output, previous)
        tmp.mkdir()
        for relpath, data in (files.items() if isinstance(files, dict) else files):
            writer.put(relpath, data)
        if before_swap is not None:
            before_swap(writer)  # e.g. the pages (in worker processes), then the search index
        writer.adopt()
        if done is not None:
            done(writer)
        write_manifest(tmp, manifest_of(writer, inputs), output)
        count = len(writer.digests)
        if output.exists():
            output.rename(old)
        tmp.rename(output)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not output.exists():
            old.rename(output)
        raise
    if old.exists():
        remove_later(old, count)
    return count


MANIFEST_HEAD = '{"inputs":"'         # how write_manifest's JSON begins (inputs first, compact)


def manifest_of(writer: Files, inputs: str) -> dict:
    """The manifest of what `writer` made (written with each part's keys sorted: write_manifest)."""
    return {"inputs": inputs, "notes": writer.notes, "files": writer.digests, "sources": writer.sources}


def free_later(folder: str) -> None:
    """Delete `folder` (a trash of old files: Files._trash) in a detached `rm`, so that this process does
    not wait for their blocks to be freed; where that cannot be, now."""
    if not _rm_detached(folder):
        shutil.rmtree(folder, ignore_errors=True)


def remove_later(folder: Path, files: int) -> None:
    """Delete the replaced site. A large one (tens of thousands of files take seconds) is deleted by a
    detached `rm` so the build returns at once; the new site is already in place either way."""
    if not (files > 5000 and _rm_detached(str(folder))):
        shutil.rmtree(folder, ignore_errors=True)


def _rm_detached(folder: str) -> bool:
    """Start `rm -rf folder` in a session of its own (it outlives this process); whether it could be."""
    rm = shutil.which("rm")
    if not rm:
        return False
    import subprocess
    try:
        subprocess.Popen([rm, "-rf", "--", folder], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    return True
