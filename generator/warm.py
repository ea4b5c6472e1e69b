"""What `kaohe serve` (and the resident process of `kaohe build`, resident.py) keeps between two rebuilds, so
that a corrected row shows up at once.

A rebuild in the same process starts from the previous build's work where its inputs are the same:

- a round's scored states (every correction state, with the problems found while reading and scoring it)
  are kept when none of the files it is scored from changed: its own folder `results/<round>/`, every
  content file outside `results/` (site.yaml, units.csv, the rulebooks), and the rounds it draws on
  (from_rounds), compared by their bytes. Its result files are then not read again;
- when a round is scored again (a correction), each of its result files whose bytes did not change is
  not read again (rounds.read_results, rounds.kept_form), and its checked rows are taken as they were when
  nothing they are checked against changed and no correction names one of its units (results.FileMemo);
- a round's view (its grouped rows, category averages, item lines and page keys) is kept when its scored
  state is the very one kept and so are the rounds of the year before (a scorecard shows the unit's
  result of the previous year), with the same options (drafts, profile). A new view of a round starts
  from the last one's: the page and data keys of the units whose every input is the same
  (pagekeys.RoundKeys.carried) and its item lines (pages.SiteModel);
- the units' search records and the rounds each unit took part in are kept while units.csv, the
  rulebooks and every round.yaml are the same (`contexts`);
- the renderer (compiled templates and rendered item rows) is kept while the themes and the generator are
  the same, and the last manifest written while its file is unchanged (write.read_manifest);
- where each scorecard's category averages are in its file (`spans`), so that a scorecard whose average
  alone moved is redrawn by replacing them (holes.py).

Everything kept is exactly what the rebuild would compute again: tests/test_serve.py checks that a
rebuild after each kind of edit writes the same site as a fresh build.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Report

CHECKED_UNITS = 20_000    # rounds up to this size keep their checked result files (about 1 KB a unit); sites up
# to this size keep where their scorecards' averages are (holes.py, about 0.7 KB a scorecard)
# A process that keeps a Warm (kaohe serve, the resident process of kaohe build) collects the previous build's
# objects (a full collection: 0.3 s at 10,000 units) once it has been quiet this many seconds, so that a
# correction saved just after another does not wait for it ...
COLLECT_AFTER = 1.0
UNCOLLECTED = 3           # ... or at once after this many builds without a collection (memory stays bounded)


@dataclass
class WarmRound:
    own: bytes                    # digest of the files this round is scored from (without from_rounds)
    from_rounds: tuple            # the rounds it draws on, as its round.yaml said
    read: Report                  # problems found while reading its result files (warnings only, or it is not kept)
    states: dict                  # {corrections included: RoundScore}
    scored: Report                # problems found while scoring it


@dataclass
class Warm:
    rounds: dict = field(default_factory=dict)     # round id -> WarmRound
    views: dict = field(default_factory=dict)      # round id -> RoundView of the last build
    options: tuple | None = None                   # the build options the views were made for
    renderer: object = None
    keys: dict = field(default_factory=dict)       # round id -> own digest, for the build under way
    kept: set = field(default_factory=set)         # rounds whose scored states this build takes as they are
    reading: dict = field(default_factory=dict)    # round id -> problems found reading it, in this build
    stored: object = None                          # cache.RoundCache of kaohe build, or None
    digests: dict = field(default_factory=dict)    # path -> SHA-256 of each input file, for the build under way
    files: dict = field(default_factory=dict)      # name -> (what it was read from, problems, value): see read()
    data_rows: dict = field(default_factory=dict)  # (round, data file, profile, internal) -> {row key: text}
    checked: dict = field(default_factory=dict)    # round id -> {result file: (its key, its checked rows)}
    contexts: dict = field(default_factory=dict)   # round id -> what its result files are checked against
    file_digests: dict = field(default_factory=dict)   # result file (as named in messages) -> SHA-256
    records: dict = field(default_factory=dict)    # the search records of the last build (records.kept_records)
    taken: tuple = (None, None)                    # (signature, the rounds each unit took part in): SiteModel
    unit_keys: tuple | None = None                 # (units, taken, unit id -> unit page key): SiteModel
    # scorecard path -> (own source, SHA-256, spans): where its averages are in its file (holes.py); None
    # when this Warm is not used by another build
    spans: dict | None = field(default_factory=dict)
    lasts: object = None          # units -> whether this Warm is kept after a build of that size (None: it is)
    refresh: bool = False         # the next build rescores every round and makes every data file's rows (cli._warm_up)
    layouts: dict = field(default_factory=dict)    # round id -> (its context, its layout.build_layout())
    drawn: tuple | None = None    # (site model, output folder) of the last build, until holes.SpanFill.of takes it

    def begin(self, content_dir: Path, options: tuple, digests: dict | None = None, stored=None) -> None:
        """Before a build: digest every round's own inputs and decide which rounds are kept. `digests`:
        the files' SHA-256 by path where the build has them already (write.inputs_hash); `stored`
        (cache.RoundCache, kaohe build): where rounds scored by an earlier run are taken from."""
        if options != self.options:
            self.views = {}
            self.layouts = {}
            self.options = options
        self.digests = digests or {}
        if self.refresh:                # every round read, checked and scored again (cli._warm_up)
            self.rounds.clear()
        self.keys, self.contexts = own_keys(content_dir, self.digests)
        self.stored = stored
        if stored is not None:
            stored.fill(self)
        self.kept = set()
        self.reading = {}
        for rid in self.keys:
            self._keep(rid, [])

    def _keep(self, rid: str, trail: list) -> bool:
        if rid in self.kept:
            return True
        entry = self.rounds.get(rid)
        if entry is None or entry.own != self.keys.get(rid) or rid in trail:
            return False
        if not all(self._keep(sub, trail + [rid]) for sub in entry.from_rounds):
            return False
        self.kept.add(rid)
        return True

    def remember(self, rid: str, rnd, states: dict, scored: Report) -> None:
        """After scoring a round without errors: keep it for the next build."""
        read = self.reading.get(rid)
        if rid in self.keys and read is not None and not read.errors and not scored.errors:
            self.rounds[rid] = WarmRound(self.keys[rid], tuple(rnd.from_rounds), read, states, scored)

    def file_memo(self, rid: str, fixes: list):
        """For score_round under serve: a function of the round's layout giving what check_rows keeps of
        each result file (results.FileMemo), or None for kaohe build, whose Warm does not live on, and
        for rounds of more than CHECKED_UNITS units."""
        if serving(self) is None:
            return None
        from .results import FileMemo

        def memo(layout):
            if layout.n_units > CHECKED_UNITS:
                self.checked.pop(rid, None)
                return None
            return FileMemo(self.checked.setdefault(rid, {}), self.contexts.get(rid), self.file_digests,
                            {c.unit_id for c in fixes})
        return memo

    def layout(self, rid: str, make):
        """`make()` (the round's layout.build_layout()), or the layout made last time when the round's
        context is the same: its round.yaml and every file outside results/ (units.csv, the rulebooks),
        all a layout is made from (0.017 s of each correction at 10,000 units). Only under serve."""
        context = self.contexts.get(rid)
        if context is None or serving(self) is None:
            return make()
        kept = self.layouts.get(rid)
        if kept is not None and kept[0] == context:
            return kept[1]
        layout = make()
        self.layouts[rid] = (context, layout)
        return layout

    def read(self, name: str, path: Path, shown: str, make, report: Report):
        """`make(report)` (reading the file at `path`, e.g. units.csv), or what it gave last time when the
        file's bytes and the way it is named in messages are the same and it had no errors; its problems are
        reported again either way. At 10,000 units this saves 0.05 s of each rebuild for units.csv."""
        digest = self.digests.get(path)
        if digest is not None:
            kept = self.files.get(name)
            if kept is not None and kept[0] == (digest, shown):
                report.extend(kept[1])
                return kept[2]
        found = Report()
        value = make(found)
        report.extend(found)
        if digest is not None and not found.errors:
            self.files[name] = ((digest, shown), found, value)
        else:
            self.files.pop(name, None)
        return value

    def remember_rows(self, made: dict, model) -> None:
        """After a build: keep the data files' rows it made (data.RowCache), with those kept before that
        are still current (a row's key begins with its unit's key in the round's current view, RoundKeys.data)."""
        for space, new in made.items():
            rid = space[0]
            if rid not in model.views or model.views[rid].keys is None:
                continue
            rows = self.data_rows[space] = {**self.data_rows.get(space, {}), **new}
            keys = model.views[rid].keys.data()
            # a row no longer current is never used (its key names what it was made from), only kept: the
            # rows are pruned once they are half as many again as the units (0.03 s of every rebuild at 10,000
            # units when pruned each time)
            if len(rows) > len(keys) * 3 // 2:
                current = set(keys)
                self.data_rows[space] = {k: v for k, v in rows.items() if k[:32] in current}

    def forget_others(self) -> None:
        """Drop rounds whose folders are gone."""
        for rid in [r for r in self.rounds if r not in self.keys]:
            del self.rounds[rid]
            self.views.pop(rid, None)
        for space in [s for s in self.data_rows if s[0] not in self.keys]:
            del self.data_rows[space]
        for rid in [r for r in self.checked if r not in self.keys]:
            del self.checked[rid]
        for rid in [r for r in self.layouts if r not in self.keys]:
            del self.layouts[rid]


def serving(warm: Warm | None) -> Warm | None:
    """`warm` when it lives on to the next build (kaohe serve); None for no Warm, or for kaohe build's,
    which is filled from its cache (`stored`) and dropped after the build: what only a next build in the
    same process could use is not kept in it."""
    return warm if warm is not None and warm.stored is None else None


def own_keys(content_dir: Path, digests: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """round id (its folder's name) -> digest of every content file outside results/ and every file of
    results/<round>/, by path and bytes (`digests`: each file's SHA-256 by path, where known); and round id
    -> digest of the files outside results/ and its round.yaml, what its result rows are checked against
    (results.FileMemo)."""
    shared = hashlib.sha256()
    results = content_dir / "results"
    for path in sorted(p for p in content_dir.rglob("*") if p.is_file()):
        if results in path.parents:
            continue
        shared.update(path.relative_to(content_dir).as_posix().encode("utf-8") + b"\0" + _file_digest(path, digests))
    keys, contexts = {}, {}
    if results.is_dir():
        for folder in sorted(p for p in results.iterdir() if p.is_dir()):
            digest = shared.copy()
            context = shared.copy()
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                one = path.relative_to(folder).as_posix().encode("utf-8") + b"\0" + _file_digest(path, digests)
                digest.update(one)
                if path == folder / "round.yaml":
                    context.update(one)
            keys[folder.name] = digest.digest()
            contexts[folder.name] = context.digest()
    return keys, contexts


def _file_digest(path: Path, digests: dict) -> bytes:
    known = digests.get(path)
    return known if known is not None else hashlib.sha256(path.read_bytes()).digest()
