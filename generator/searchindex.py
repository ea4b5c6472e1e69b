"""Full-text search with Pagefind: run in the background from search records, reused when they are
unchanged, and made byte-for-byte reproducible.

Pagefind indexes the site's SearchRecords (records.py), each rendered by the theme's `search.html` into a
small page in a scratch folder at the same relative path as the page it stands for, so every result
links to the real page. A site of more than UNITS_PER_BUNDLE units is indexed in several bundles. The run starts before the pages are rendered and overlaps with them. The
records carry no scores: when a rebuild's records (and the search template) are the same as the
previous build's, the previous index is kept as it is and Pagefind does not run at all.

Pagefind (1.5) writes its filter indexes and its metadata file in hash-map order, which changes from
run to run (Pagefind issue #638: fragments became stable in 1.3, "filter/metadata indexes" did not).
kaohe promises that the same content builds the same bytes, so after Pagefind has run, each filter
index is rewritten with its values sorted, the metadata's list of filters sorted by name, and the
files renamed after the hash of their new content. The records themselves are untouched: only the
order of entries in two maps changes, which the search client does not depend on.

The files are gzip (Pagefind's JS inflates them) of "pagefind_dcd" + CBOR; a small CBOR codec for
the types Pagefind writes (unsigned and negative integers, byte and text strings, arrays, maps,
simple values) is enough.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path


MAGIC = b"pagefind_dcd"
BUNDLE = "pagefind"
# Pagefind holds every record of a run in memory (about 23 KB each: 2.3 GB for 100,000 units). A large
# site is therefore indexed in several bundles of at most this many units, one Pagefind run after the
# other: "pagefind/" (rulebooks, rounds and the first units), then "pagefind-2/", "pagefind-3/", …, which
# the search box merges (PagefindUI mergeIndex), so every unit stays searchable at any size.
UNITS_PER_BUNDLE = 20_000
JEMALLOC_CONF = "_RJEM_MALLOC_CONF"      # jemalloc's settings, as the pagefind binary (tikv-jemallocator) reads them
RECORDS = "records.pickle"       # in the scratch folder: (path, page bytes) pickled one after the other
DIGESTS = "digests.json"         # in the scratch folder: the SHA-256 of every file of every bundle, by drive()
# The background process: drive() in a fresh interpreter that imports this package from where it is
DRIVER = "import sys; sys.path.insert(0, sys.argv[1]); from generator.searchindex import drive; drive(*sys.argv[2:])"


def drive(records: str, runs: str, folders: str, digests: str) -> None:
    """The background process: write the record pages, run Pagefind once per bundle, make each bundle
    canonical, then hash its files for the manifest. All of it overlaps with the rendering of the pages;
    done by the build after the pages, the canonicalizing and hashing (10,000 fragment files at 10,000
    units) were 0.25 s with one core idle."""
    made = set()
    with open(records, "rb") as f:
        while True:
            try:
                path, data = pickle.load(f)
            except EOFError:
                break
            folder = os.path.dirname(path)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            with open(path, "wb") as page:
                page.write(data)
    os.unlink(records)
    for argv in json.loads(runs):
        subprocess.run(argv, check=True)
    hashed = []
    for bundle in map(Path, json.loads(folders)):
        canonicalize(bundle)
        hashed.append({path.relative_to(bundle).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
                       for path in sorted(bundle.rglob("*")) if path.is_file()})
    Path(digests).write_text(json.dumps(hashed), encoding="utf-8")


def pagefind_env() -> dict:
    """The environment Pagefind runs in. Pagefind allocates with jemalloc, which by default hands memory
    back to the system and takes it again 4 KB at a time: 450,000 page faults for 10,000 records, a third
    of its CPU time. In transparent huge pages (jemalloc's `thp:always`, where the system allows them in
    madvise mode, as Debian does) it takes 7,000, for 1.5 s less CPU at 10,000 units and about 10% more
    memory. The setting changes nothing in the index. A value the user has set is kept."""
    env = dict(os.environ)
    env.setdefault(JEMALLOC_CONF, "thp:always")
    return env


def bundle_names(units: int) -> list[str]:
    """The bundle folders of a site with this many units."""
    return [BUNDLE] + [f"{BUNDLE}-{i}" for i in range(2, -(-units // UNITS_PER_BUNDLE) + 1)]


def split(records: list) -> list[list]:
    """Records by bundle: the first holds every rulebook and round and the first units."""
    units = [r for r in records if r.path.startswith("units/")]
    rest = [r for r in records if not r.path.startswith("units/")]
    chunks = [units[i:i + UNITS_PER_BUNDLE] for i in range(0, len(units), UNITS_PER_BUNDLE)] or [[]]
    return [rest + chunks[0], *chunks[1:]]


class SearchIndex:
    """The Pagefind bundles of one build: `start()` before the pages are rendered, `finish()` after.
    `folder(name)` says where the bundle `name` is to be written."""

    def __init__(self, records, render, salt: bytes, scratch: Path, folder, dumped: bytes | None = None):
        """`dumped`: the records pickled (pagekeys.dumps), when known (serve, records.kept_records)."""
        self.records = list(records)
        self.render, self.scratch = render, scratch
        self.parts = split(self.records)
        self.names = bundle_names(sum(1 for r in self.records if r.path.startswith("units/")))
        self.folders = [folder(name) for name in self.names]
        from .pagekeys import dumps      # here: the background process imports this module, without numpy
        self.dumped = dumped if dumped is not None else dumps(self.records)
        self.key = hashlib.sha256(salt + self.dumped).hexdigest()
        self.count = len(self.records)
        self.proc = None

    def start(self, previous_key: str | None) -> bool:
        """Start Pagefind in the background (one run per bundle, one after the other); False (and nothing
        started) when the previous build's index was made from exactly these records and can be kept."""
        if previous_key == self.key:
            return False
        runs = []
        # the records go to the background process in one file, which it unpacks into one small page each:
        # making ten thousand folders and files is its time, not the build's
        bundle_file = self.scratch / RECORDS
        with open(bundle_file, "wb") as out:
            for i, (part, bundle) in enumerate(zip(self.parts, self.folders)):
                site = self.scratch / str(i + 1)
                for record in part:
                    pickle.dump((str(site.joinpath(*record.path.split("/"))), self.render(record)), out,
                                protocol=pickle.HIGHEST_PROTOCOL)
                runs.append([sys.executable, "-m", "pagefind", "--site", str(site), "--output-path", str(bundle),
                             "--keep-index-url", "--silent"])
        package = str(Path(__file__).resolve().parent.parent)
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, package, str(bundle_file), json.dumps(runs),
                                      json.dumps([str(f) for f in self.folders]), str(self.scratch / DIGESTS)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pagefind_env())
        return True

    def release(self) -> None:
        """Once started (or kept): the records are in the background process's file, not needed here (at
        100,000 units they are a few hundred MB of the build's peak memory)."""
        self.records = self.parts = self.dumped = None

    def finish(self) -> dict:
        """Wait for the background process; the SHA-256 of each file of each bundle made, by bundle name
        and path within the bundle (none when the index was kept)."""
        if self.proc is None:
            return {}
        out, err = self.proc.communicate()
        if self.proc.returncode != 0:
            lines = [line for line in (err.strip() or out.strip()).splitlines() if line.strip()]
            raise RuntimeError(f"Pagefind 建立搜索索引失败:{lines[-1] if lines else self.proc.returncode}")
        hashed = json.loads((self.scratch / DIGESTS).read_text(encoding="utf-8"))
        return dict(zip(self.names, hashed))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ CBOR (the subset Pagefind writes)

def _decode(data: bytes, pos: int):
    head = data[pos]
    major, info = head >> 5, head & 31
    pos += 1
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        arg = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    else:
        raise ValueError(f"unsupported CBOR item {head:#x}")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        raw = data[pos:pos + arg]
        return (raw if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        pairs = []
        for _ in range(arg):
            key, pos = _decode(data, pos)
            value, pos = _decode(data, pos)
            pairs.append((key, value))
        return ("map", pairs), pos
    if major == 7 and info in (20, 21, 22):
        return {20: False, 21: True, 22: None}[info], pos
    raise ValueError(f"unsupported CBOR item {head:#x}")


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise ValueError("integer too large")


def _encode(item) -> bytes:
    if item is False or item is True or item is None:
        return bytes([0xE0 | {False: 20, True: 21, None: 22}[item]])
    if isinstance(item, int):
        return _head(0, item) if item >= 0 else _head(1, -1 - item)
    if isinstance(item, bytes):
        return _head(2, len(item)) + item
    if isinstance(item, str):
        raw = item.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(item, tuple) and item[0] == "map":
        return _head(5, len(item[1])) + b"".join(_encode(k) + _encode(v) for k, v in item[1])
    if isinstance(item, list):
        return _head(4, len(item)) + b"".join(_encode(x) for x in item)
    raise TypeError(type(item))


def _read(path: Path):
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(MAGIC):
        raise ValueError(f"{path.name}: not a Pagefind file")
    value, _ = _decode(data, len(MAGIC))
    return value


def _write(folder: Path, prefix: str, suffix: str, value) -> str:
    """Write value under a name derived from its content; returns the name used in references."""
    data = MAGIC + _encode(value)
    name = f"{prefix}_{hashlib.sha256(data).hexdigest()[:13 if suffix == '.pf_meta' else 7]}"
    (folder / f"{name}{suffix}").write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
    return name


# ------------------------------------------------------------------ canonical order

def canonicalize(bundle: Path) -> None:
    entry_path = bundle / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for language, info in entry["languages"].items():
        meta_path = bundle / f"pagefind.{info['hash']}.pf_meta"
        meta = _read(meta_path)
        filters = _filter_list(meta)
        renamed = {}
        for pair in filters:
            name, old_hash = pair
            path = bundle / "filter" / f"{old_hash}.pf_filter"
            value = _read(path)                      # [filter name, [[value, [page, …]], …]]
            value[1].sort(key=lambda entry: entry[0])
            path.unlink()
            renamed[old_hash] = _write(bundle / "filter", language, ".pf_filter", value)
        for pair in filters:
            pair[1] = renamed[pair[1]]
        filters.sort(key=lambda pair: pair[0])
        meta_path.unlink()
        info["hash"] = _write(bundle, f"pagefind.{language}", ".pf_meta", meta).removeprefix("pagefind.")
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _filter_list(meta) -> list:
    """The metadata's list of [filter name, filter file hash] pairs: its fourth part, after the
    version, the pages ([hash, size]) and the index chunks ([from, to, hash])."""
    part = meta[3] if len(meta) > 3 else []
    if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in part):
        raise ValueError("unexpected Pagefind metadata layout")
    return part
