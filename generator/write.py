"""Writing the site: everything is built beside the output folder and swapped in at the end, so an
interrupted or failed build leaves the previous site whole."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def safe_join(root: Path, relpath: str) -> Path:
    """root/relpath, refusing any path that would leave root (ids are checked earlier; this is the last guard)."""
    parts = relpath.split("/")
    if relpath.startswith("/") or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"unsafe output path: {relpath!r}")
    return root.joinpath(*parts)


def write_site(output: Path, files, before_swap=None) -> int:
    """Write (relpath, bytes) pairs (a dict or an iterator: files are written as they are made, so a
    large site never sits in memory whole) beside `output`, then swap it in. Returns the file count."""
    output = output.absolute()
    parent = output.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{output.name}.new-{os.getpid()}"
    old = parent / f".{output.name}.old-{os.getpid()}"
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        made: set[Path] = set()
        count = 0
        for relpath, data in (files.items() if isinstance(files, dict) else files):
            target = safe_join(tmp, relpath)
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(data)
            count += 1
        if before_swap is not None:
            before_swap(tmp)          # e.g. the search index, made from the finished pages
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
        shutil.rmtree(old, ignore_errors=True)
    return count
