"""`kaohe build`'s cache of scored rounds, kept between runs, so that a corrected row rescores one round.

Within one `kaohe serve`, warm.py keeps every round's scored states from one rebuild to the next. This
keeps them on disk for `kaohe build`: after a build, each round's scored states (warm.WarmRound) are
pickled into one file, named by a digest of everything they were made from:

- the round's own files (`results/<round>/`) and every content file outside `results/` (warm.own_keys);
- the generator's code, and the Python, numpy and pandas versions;
- the content folder as the messages name it (`--content`), since kept problems are reported again.

Each round view's page keys (pagekeys.RoundKeys, 32 bytes a unit) are kept the same way, named also by
the own digests of the rounds of the year before (a scorecard shows that year's result) and the build
options (pages.SiteModel.stored_keys). So are the rows of each data file (data.RowCache), keyed inside
by their units' data keys (pagekeys.RoundKeys.data), in one file per round, data file and profile,
rewritten by the process that makes the data file (not the spreadsheet's: numbered, large, little gain).

The next build loads the files whose names it computes from the current inputs, and reads and scores only
the other rounds: at 10,000 units a round's states load in about 0.04 s, against 0.35 s to read and
score it. Every file begins with the SHA-256 of the rest: a file cut short or damaged is not taken (the
round is scored again). Files no build would ask for any more are deleted after each build.

The cache is outside the output folder, which is deployed: it holds every field of units.csv, the
internal ones too, which a `--profile public` site must not carry. It is in $KAOHE_CACHE, else
$XDG_CACHE_HOME/kaohe, else ~/.cache/kaohe, in one folder per content folder, readable by its owner
only; about 3 KB per unit and round (1.7 KB of scored states). KAOHE_CACHE=off turns it off. The files are pickles: whoever can
write them can run code as the user who builds, like whoever can write the generator's own files, so
the folder is the user's own.
"""
from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
from pathlib import Path

from .warm import Warm

ENV = "KAOHE_CACHE"
OFF = ("off", "0", "no", "false")
SUFFIX = ".pickle"
KEYS = ".keys"         # a round view's page keys: its view key and unit keys, 32 bytes each
ROWS = ".rows"         # a data file's rows (data.RowCache), by key
TMP = ".tmp"           # a file being written


def cache_folder(content_dir: Path) -> Path | None:
    """Where the rounds of this content folder are cached (None: turned off)."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in OFF:
        return None
    if setting:
        base = Path(setting)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "kaohe"
    where = hashlib.sha256(str(content_dir.absolute()).encode("utf-8")).hexdigest()[:24]
    return base / where


class RoundCache:
    """The scored rounds of one content folder on disk (see the module's docstring)."""

    def __init__(self, folder: Path, code: bytes, shown: str):
        self.folder = folder
        import numpy
        import pandas
        self.salt = hashlib.sha256(b"\0".join([code, shown.encode("utf-8"), sys.version.encode("utf-8"),
                                               numpy.__version__.encode(), pandas.__version__.encode()])).digest()
        self.loaded: set[str] = set()              # rounds taken from the cache
        self.loaded_keys: set[str] = set()         # keys files taken from the cache
        self.names: dict[str, str] = {}            # round id (or "keys:"/"rows:" …) -> its file's name
        self.pending: dict[str, bytes] = {}        # keys files to write after the build
        self.family = ""                           # see fill()

    def name(self, rid: str, own: bytes) -> str:
        return hashlib.sha256(self.salt + rid.encode("utf-8") + b"\0" + own).hexdigest() + SUFFIX

    def fill(self, warm: Warm) -> None:
        """Put into `warm` every round whose file is in the cache (warm.keys: the rounds' own digests)."""
        # the keys and rows files of one set of build options begin with this: a build deletes only its own
        # set's old ones, so that builds with other options (a public site beside the internal one) keep theirs
        self.family = hashlib.sha256(repr(warm.options).encode("utf-8")).hexdigest()[:12] + "-"
        self.names = {rid: self.name(rid, own) for rid, own in warm.keys.items()}
        for rid, name in self.names.items():
            data = self._read(name)
            if data is None:
                continue
            gc.disable()        # millions of objects, none in cycles: no collection while they load
            try:
                entry = pickle.loads(data)
            except Exception:   # written by another version of a library: scored again
                continue
            finally:
                gc.enable()
            if getattr(entry, "own", None) == warm.keys[rid]:
                warm.rounds[rid] = entry
                self.loaded.add(rid)

    def keys_name(self, rid: str, made_from: bytes) -> str:
        """The file of a round view's page keys (pagekeys.RoundKeys): `made_from` digests what the view is
        made from besides the code (its round's and the year before's own digests, the build options)."""
        name = self.family + hashlib.sha256(self.salt + b"keys\0" + rid.encode("utf-8") + b"\0" + made_from).hexdigest() + KEYS
        self.names["keys:" + rid] = name
        return name

    def load_keys(self, name: str, units: int) -> tuple[bytes, list[bytes]] | None:
        """(view key, unit keys) as stored, or None."""
        data = self._read(name)
        if data is None or len(data) != 32 * (units + 1):
            return None
        self.loaded_keys.add(name)
        return bytes(data[:32]), [bytes(data[i:i + 32]) for i in range(32, len(data), 32)]

    def store_keys(self, name: str, view_key: bytes, units: list[bytes]) -> None:
        self.pending[name] = view_key + b"".join(units)

    def rows_name(self, space: tuple) -> str:
        """The file of a data file's rows (data.RowCache) for `space` (round, file, profile, internal). Its
        rows are keyed by the data keys of their units, so it is named by what it is for, not made from."""
        name = self.family + hashlib.sha256(self.salt + b"rows\0" + pickle.dumps(space, protocol=5)).hexdigest() + ROWS
        self.names["rows:" + repr(space)] = name
        return name

    def load_rows(self, space: tuple) -> dict:
        data = self._read(self.rows_name(space))
        if data is None:
            return {}
        try:
            return pickle.loads(data)
        except Exception:
            return {}

    def save_rows(self, space: tuple, cache) -> None:
        """After a data file is made (in the process that made it): its rows, those made now and those still
        current from before (a row's key begins with its unit's key), for the next build."""
        if not cache.new:
            return
        current = set(cache.keys)
        rows = {k: v for k, v in cache.rows.items() if k[:32] in current}
        rows.update(cache.new)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._write(self.rows_name(space), pickle.dumps(rows, protocol=5))
        except OSError:
            pass

    def save(self, warm: Warm) -> None:
        """After a build: write the rounds scored in it, and delete the files no build asks for now. A cache
        that cannot be written (a read-only home) only costs the next build its time."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            for rid, entry in warm.rounds.items():
                name = self.names.get(rid)
                if name is not None and rid not in self.loaded and not (self.folder / name).exists():
                    self._write(name, pickle.dumps(entry, protocol=5))
            for name, data in self.pending.items():
                if name not in self.loaded_keys and not (self.folder / name).exists():
                    self._write(name, data)
            wanted = set(self.names.values())
            for path in self.folder.iterdir():
                name = path.name
                if name not in wanted and (name.endswith((SUFFIX, TMP)) or
                                           (name.endswith((KEYS, ROWS)) and name.startswith(self.family))):
                    path.unlink(missing_ok=True)
        except OSError:
            pass

    def _read(self, name: str) -> memoryview | None:
        """A file's payload, if it is whole: each file begins with the SHA-256 of the rest, so a file cut
        short or damaged is never taken (a wrong page key would keep a stale page)."""
        try:
            data = (self.folder / name).read_bytes()
        except OSError:
            return None
        payload = memoryview(data)[32:]
        return payload if len(data) > 32 and hashlib.sha256(payload).digest() == data[:32] else None

    def _write(self, name: str, payload: bytes) -> None:
        tmp = self.folder / f"{name}.{os.getpid()}{TMP}"      # a killed build's is deleted by the next one
        with open(tmp, "wb") as f:
            f.write(hashlib.sha256(payload).digest())
            f.write(payload)
        os.replace(tmp, self.folder / name)


def code_digest(digests: dict, package: Path) -> bytes:
    """One digest of the generator's files (write.inputs_hash's digests of them, by path)."""
    h = hashlib.sha256()
    for path in sorted(p for p in digests if package in p.parents):
        h.update(str(path.relative_to(package)).encode("utf-8") + b"\0" + digests[path])
    return h.digest()
