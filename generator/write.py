"""Writing the site: everything is built beside the output folder and swapped in at the end, so an
interrupted or failed build leaves the previous site whole.

`.kaohe-manifest.json` in the output records the SHA-256 of every file and a hash of every input
(content, themes, the generator itself, the build options). A rebuild hard-links each file whose bytes
did not change from the current site instead of writing it again, so it keeps its modification time
and an rsync deploy copies only what changed; a rebuild whose inputs did not change does nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

MANIFEST = ".kaohe-manifest.json"
PART = ".kaohe-part-"


def read_manifest(output: Path) -> dict:
    try:
        return json.loads((output / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def inputs_hash(folders: list[Path], options: dict) -> str:
    """One hash over every file of the given folders (path and bytes) and the build options."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def unchanged(output: Path, inputs: str) -> bool:
    """The output was built from exactly these inputs and is still whole."""
    manifest = read_manifest(output)
    if manifest.get("inputs") != inputs:
        return False
    return all((output / rel).is_file() for rel in manifest.get("files", {}))


class Files:
    """Puts files into the new site folder; a file equal to the current site's is hard-linked from it."""

    def __init__(self, tmp: Path, current: Path, old_digests: dict, old_sources: dict | None = None,
                 old_notes: dict | None = None):
        self.tmp, self.current, self.old = tmp, current, old_digests
        self.old_sources = old_sources or {}      # page path -> fingerprint of what it was rendered from
        self.old_notes = old_notes or {}          # e.g. {"search": key of the records the search index came from}
        self.digests: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.foreign: list[str] = []              # files or folders written by other programs, see adopt()
        self.made: set[Path] = set()

    def keep_tree(self, prefix: str) -> bool:
        """Keep every file of the current site under `prefix` (e.g. "pagefind/") as it is; False if any is
        missing, in which case the folder must be made afresh."""
        kept = {rel: digest for rel, digest in self.old.items() if rel.startswith(prefix)}
        if not kept:
            return False
        for rel in sorted(kept):
            target = safe_join(self.tmp, rel)
            if target.parent not in self.made:
                target.parent.mkdir(parents=True, exist_ok=True)
                self.made.add(target.parent)
            if not self._link(rel, target):
                shutil.rmtree(safe_join(self.tmp, prefix.rstrip("/")), ignore_errors=True)
                for done in kept:
                    self.digests.pop(done, None)
                return False
            self.digests[rel] = kept[rel]
        return True

    def reuse(self, relpath: str, source: str) -> bool:
        """Keep the current site's page when it was rendered from exactly this source: no rendering at all."""
        self.sources[relpath] = source
        if self.old_sources.get(relpath) != source or relpath not in self.old:
            return False
        target = safe_join(self.tmp, relpath)
        if target.parent not in self.made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(target.parent)
        if not self._link(relpath, target):
            return False
        self.digests[relpath] = self.old[relpath]
        return True

    def put(self, relpath: str, data: bytes) -> None:
        target = safe_join(self.tmp, relpath)
        if target.parent not in self.made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(target.parent)
        digest = hashlib.sha256(data).hexdigest()
        self.digests[relpath] = digest
        if self.old.get(relpath) == digest and self._link(relpath, target):
            return
        target.write_bytes(data)

    def _link(self, relpath: str, target: Path) -> bool:
        try:
            os.link(safe_join(self.current, relpath), target)
            return True
        except OSError:
            return False

    def save_part(self, k: int) -> None:
        """A worker process hands its digests to the parent through a file."""
        (self.tmp / f"{PART}{k}.json").write_text(json.dumps([self.digests, self.sources]), encoding="utf-8")

    def adopt(self) -> None:
        """Take in the workers' digests and the files made by other programs (Pagefind, PDFs), which were
        announced in `self.foreign` (a file or folder each, relative to the site)."""
        for part in sorted(self.tmp.glob(f"{PART}*.json")):
            digests, sources = json.loads(part.read_text(encoding="utf-8"))
            self.digests.update(digests)
            self.sources.update(sources)
            part.unlink()
        made = []
        for rel in self.foreign:
            top = safe_join(self.tmp, rel)
            made += [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
        for path in sorted(made):
            rel = path.relative_to(self.tmp).as_posix()
            if rel in self.digests or rel == MANIFEST:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            self.digests[rel] = digest
            if self.old.get(rel) == digest:
                spare = path.with_name(path.name + ".kaohe-new")
                path.rename(spare)
                if self._link(rel, path):
                    spare.unlink()
                else:
                    spare.rename(path)


def safe_join(root: Path, relpath: str) -> Path:
    """root/relpath, refusing any path that would leave root (ids are checked earlier; this is the last guard)."""
    parts = relpath.split("/")
    if relpath.startswith("/") or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"unsafe output path: {relpath!r}")
    return root.joinpath(*parts)


def write_site(output: Path, files, before_swap=None, inputs: str = "") -> int:
    """Write (relpath, bytes) pairs (a dict or an iterator: files are written as they are made, so a
    large site never sits in memory whole) beside `output`, then swap it in. `before_swap(tmp, files)`
    may add more (through `files.put`, or by writing into tmp). Returns the file count."""
    output = output.absolute()
    parent = output.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{output.name}.new-{os.getpid()}"
    old = parent / f".{output.name}.old-{os.getpid()}"
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        previous = read_manifest(output)
        writer = Files(tmp, output, previous.get("files", {}), previous.get("sources", {}), previous.get("notes", {}))
        tmp.mkdir()
        for relpath, data in (files.items() if isinstance(files, dict) else files):
            writer.put(relpath, data)
        if before_swap is not None:
            before_swap(tmp, writer)  # e.g. the pages (in worker processes), then the search index
        writer.adopt()
        manifest = {"inputs": inputs, "notes": dict(sorted(writer.notes.items())),
                    "files": dict(sorted(writer.digests.items())), "sources": dict(sorted(writer.sources.items()))}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=0), encoding="utf-8")
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


def remove_later(folder: Path, files: int) -> None:
    """Delete the replaced site. A large one (tens of thousands of files take seconds) is deleted by a
    detached `rm` so the build returns at once; the new site is already in place either way."""
    rm = shutil.which("rm")
    if files > 5000 and rm:
        import subprocess
        subprocess.Popen([rm, "-rf", "--", str(folder)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        shutil.rmtree(folder, ignore_errors=True)
