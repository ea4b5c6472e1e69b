"""The pipeline, top to bottom: load → validate → score → site files → write.

`check()` is the same pipeline stopped before rendering, so `kaohe check` and `kaohe build` can never
disagree. Everything is read, checked and scored in memory before the first byte is written.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .content import Content
from .data import RowCache, data_file
from .errors import Report
from .load import load_content
from .corrections import apply as apply_corrections
from .layout import build_layout
from .score import RoundScore, score_round
from .standing import settle
from .model import SiteInfo
from .pages import SiteModel
from .parallel import workers_for, write_pages
from .revisions import plan_round
from .render import DEFAULT_THEME, Renderer, lookup_index, theme_dirs
from .records import kept_records, search_records
from .searchindex import SearchIndex
from .warm import Warm
from . import __version__
from .write import ExistCheck, inputs_hash, remove_later, unchanged, write_site


@dataclass
class Site:
    content: Content
    scores: dict                 # round id -> RoundScore
    report: Report
    timings: list = field(default_factory=list)
    files: int = 0
    pages: int = 0
    states: dict = field(default_factory=dict)   # round id -> {corrections included: RoundScore}
    content_dir: str = ""
    model: object = None
    search_kept: bool = False    # the previous build's search index was kept (its records were unchanged)
    kept: int = 0                # pages kept from the previous build without rendering (their inputs were the same)
    refilled: int = 0            # scorecards redrawn by replacing their category averages only (holes.py)


class Timer:
    def __init__(self, log):
        self.log = log
        self.steps: list[tuple[str, float]] = []
        self.t = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self.t))
        if self.log:
            self.log(f"  {step}: {now - self.t:.2f} 秒")
        self.t = now


def check(content_dir: Path, shown: str | None = None, log=None, warm=None) -> Site:
    """Load, validate and score everything; raise ContentError listing every problem. With `warm` (serve),
    rounds whose inputs did not change since the last build are taken as they were scored then."""
    report = Report()
    timer = Timer(log)
    content = load_content(content_dir, shown or str(content_dir), report, warm)
    timer.lap("读取内容")
    scores, states = score_all(content, report, warm)
    check_notices(content, scores, report)
    timer.lap("计分")
    report.raise_if_errors()
    return Site(content, scores, report, timer.steps, states=states, content_dir=str(content_dir))


def score_all(content: Content, report: Report, warm=None) -> tuple[dict, dict]:
    """Score every round: its current state (every correction applied), and for a published round each
    published revision's state too (the corrections it included). Returns (current, {round: {k: score}})."""
    scores: dict[str, RoundScore] = {}
    states: dict[str, dict[int, RoundScore]] = {}
    for rid in round_order(content, report):
        rnd = content.rounds[rid]
        if any(book not in content.rulebooks or book in content.broken for book in rnd.rulebooks.values()):
            continue  # the rulebook's own errors are reported; scoring against it would only echo them
        if any(sub not in scores for sub in rnd.from_rounds if sub in content.rounds):
            continue
        fixes = content.corrections.get(rid, [])
        if warm is not None and rid in warm.kept and content.results[rid] is None:
            kept = warm.rounds[rid]
            report.extend(kept.scored)
            states[rid] = kept.states
            scores[rid] = kept.states[len(fixes)]
            continue
        whole, report = report, (Report() if warm is not None else report)
        lock = content.locks.get(rid)
        marks = sorted({r.corrections for r in lock.revisions if r.corrections <= len(fixes)} if lock else set())
        marks = [k for k in marks if k != len(fixes)] + [len(fixes)]
        layout = warm.layout(rid, partial(build_layout, rnd, content)) if warm is not None else build_layout(rnd, content)
        counted = counted_refs(layout)
        frame, done, states[rid] = content.results[rid], 0, {}
        for k in marks:
            final = k == len(fixes)
            frame = apply_corrections(frame, fixes[done:k], counted, f"{rnd.path}/corrections.csv", report)
            done = k
            # a published revision's rows were checked when it was published; report problems once, on the
            # current state
            score = score_round(rnd, content, frame, scores, report if final else Report(),
                                warm.file_memo(rid, fixes[:k]) if warm is not None else None, layout)
            settle(score)
            states[rid][k] = score
        scores[rid] = states[rid][len(fixes)]
        content.results[rid] = None   # the checked rows live on in score.rows; free the raw text
        if warm is not None:
            whole.extend(report)
            warm.remember(rid, rnd, states[rid], report)
            report = whole
    return scores, states


def check_notices(content: Content, scores: dict, report: Report) -> None:
    """A notice.md's helper calls can only be checked against the scored round (a grade or category it names)."""
    from .notice import notice_page
    from .pages import rule_url
    from .scorecards import RoundView
    for rid, source in content.notices.items():
        if rid in scores:
            view = RoundView(scores[rid], public_internal=())
            notice_page(source, view.notice_data(content.config.organisation, rule_url), view.card, None, report,
                        source.path)


def counted_refs(layout):
    """Whether a unit's rows for a ref are counts that add up (criteria, bonus, penalties, vetoes)."""
    def counted(unit_id: str, ref: str) -> bool:
        u = layout.index.get(unit_id)
        hit = layout.refs.get((int(layout.book_of[u]), ref)) if u is not None else None
        return hit is not None and hit[0] != "item"
    return counted


def round_order(content: Content, report: Report) -> list[str]:
    """Rounds in an order where every from_rounds source comes first; a cycle is an error."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(rid: str, trail: list[str]) -> None:
        if state.get(rid) == 2:
            return
        if state.get(rid) == 1:
            rnd = content.rounds[rid]
            report.error(rnd.yaml_path, rnd.line_of.get("from_rounds"),
                         f"from_rounds 形成了循环引用({' → '.join(trail + [rid])});请删去其中一处引用")
            return
        state[rid] = 1
        for sub in content.rounds[rid].from_rounds:
            if sub in content.rounds:
                visit(sub, trail + [rid])
        state[rid] = 2
        order.append(rid)

    for rid in content.rounds:
        visit(rid, [])
    return order


def build(content_dir: Path, output: Path, *, drafts: bool = False, profile: str | None = None,
          shown: str | None = None, log=None, search: bool = True, progress=None, pdf: bool = False,
          warm=None, cache: Path | None = None, dry: bool = False) -> Site:
    """Build the site into `output`. `warm` (warm.Warm, kept by `kaohe serve` between rebuilds): start from
    what the previous build in this process computed, where its inputs are the same. `cache` (kaohe build,
    cache.py): a folder of rounds scored by earlier runs, taken where their inputs are the same, and
    where the rounds scored now are kept for the next run. `dry`: everything is made but nothing is
    written, the site stays as it is (the resident process filling its Warm: cli._warm_up)."""
    shown = shown or str(content_dir)
    options = {"drafts": drafts, "profile": profile, "search": search, "pdf": pdf, "version": __version__}
    digests: dict = {}
    inputs = inputs_hash([content_dir, content_dir.parent / "themes", DEFAULT_THEME.parent, Path(__file__).parent],
                         options, digests)
    # built from exactly these inputs, and whole: nothing to do; except for kaohe serve's Warm while it holds
    # nothing yet (serve started over an up-to-date site), which this build fills, writing nothing, so that
    # the first corrected row is as quick as the next ones (3 s instead of 1 s at 10,000 units)
    if unchanged(output, inputs) and (warm is None or warm.views or cache is not None) and not (warm and warm.refresh):
        return None
    # which files of the current site are still there, found by another process meanwhile (write.ExistCheck)
    exists = None if pdf or dry else ExistCheck.start(output)
    try:
        stored = None
        if cache is not None:           # kaohe build: a fresh Warm (kept by a resident process, resident.py)
            from .cache import RoundCache, code_digest
            if warm is None:            # dropped after this build: nothing for a next one is kept in it
                warm = Warm(spans=None)
            stored = RoundCache(cache, code_digest(digests, Path(__file__).parent), shown)
        if warm is not None:
            warm.begin(content_dir, (shown, drafts, profile, pdf), digests, stored)
        site = check(content_dir, shown, log, warm)
        if stored is not None and log and stored.loaded:
            log(f"  计分缓存:{len(stored.loaded)} 个轮次的成绩文件未变,沿用上次的计分结果")
        profile = profile or site.content.config.profile
        report = Report()
        themes = theme_dirs(content_dir, shown, site.content.config.theme, report)
        report.raise_if_errors()
        renderer = Renderer(themes, SiteInfo(site.content.config.title, site.content.config.organisation, profile == "public"))
        if warm is not None:            # the same themes and generator: keep the compiled templates and rendered rows
            if warm.renderer is not None and warm.renderer.salt == renderer.salt and warm.renderer.themes == themes:
                renderer = warm.renderer
            warm.renderer = renderer
            warm.forget_others()
        timer = Timer(log)
        files = site_files(site, drafts=drafts, profile=profile, renderer=renderer, progress=progress, pdf=pdf, warm=warm)

        def finish(writer) -> None:  # the pages, then what is made from them, before the site is replaced
            index = None
            try:
                if search:   # Pagefind indexes the search records in the background while the pages are rendered
                    model, dumped = site.model, None
                    if model.serve is not None:      # serve: the unit records of the last build
                        records, dumped = kept_records(model, model.serve.records, (model.rounds_read, model.internal))
                    else:
                        records = list(search_records(model))
                    index = SearchIndex(records, renderer.render_record, renderer.salt,
                                        scratch_folder(output, len(records)), writer.folder, dumped)
                    if model.serve is not None:
                        model.serve.records["dumped"] = index.dumped
                    writer.notes["search"] = index.key
                    if not index.start(writer.old_notes.get("search")):
                        site.search_kept = all([writer.keep_tree(name + "/") for name in index.names])
                        if not site.search_kept:       # some bundle is missing from the current site: make them all
                            for name in index.names:
                                writer.drop_tree(name + "/")
                            index.start(None)
                        elif log:
                            log("  搜索索引:单位名称、细则等检索内容未变,沿用上次的索引")
                    index.release()
                    del records
                if exists is not None and writer.inplace and writer.old is exists.files:
                    writer.missing = exists.missing()
                workers = workers_for(len(site.content.units))
                # the page keys, before the data files' (which need them): helped by a second process when no
                # Pagefind run takes the other core
                site.model.prepare(helper=workers > 1 and (index is None or index.proc is None))
                site.pages = write_pages(site.model, renderer, writer, workers, progress,
                                         data_jobs(site, profile, renderer.salt, warm, cold=not writer.old))
                timer.lap("生成页面")
                if index is not None:
                    writer.hashed.update(index.finish())
            finally:     # also when a search record fails to render (a theme's search.html): no scratch is left
                if index is not None:
                    index.stop()
                    # the scratch holds the records only when Pagefind was started (a kept index leaves it empty,
                    # and starting a detached rm for it cost a fork of this process)
                    remove_later(index.scratch, index.count if index.proc is not None else 0)
            if pdf:   # Chromium prints the pages as written: a --pdf build always makes a new tree (inplace=False)
                writer.foreign += print_notices(site, writer.root, drafts)
        made: dict = {}            # the data files' rows the processes made (serve)
        first: list = []           # whether there was no site in the output folder before

        def done(writer) -> None:
            site.kept = writer.kept
            site.refilled = writer.refilled
            made.update(writer.rows)
            if site.model.spans is not None:
                site.model.spans.update(writer.spans)
            first.append(not writer.old)
        site.files = write_site(output, files, before_swap=finish, inputs=inputs, inplace=not pdf, done=done, dry=dry)
        cold = first[0]
        if warm is not None and made:
            warm.remember_rows(made, site.model)
        if warm is not None and site.model.spans is not None:   # where the averages are: holes.SpanFill
            warm.drawn = (site.model, output.absolute())
        timer.lap("搜索索引与交换")
        # a first build (no site there before) writes no cache: it would cost it 0.3 s at 10,000 units, and
        # only the builds after a change use one; the first of them writes it
        if stored is not None and not cold:
            site.model.save_keys(stored)
            stored.save(warm)
            timer.lap("保存缓存")
        site.timings += timer.steps
        return site
    finally:
        if exists is not None:
            exists.close()


def round_data(site: Site, rid: str, revision, score, prefix: str, profile: str, internal, writer,
               key: str | None, name: str, rows=None) -> None:
    """One data file of a revision as archived when it was published (it never changes), else the current
    site's when it was made from the same scores (`key`), else made now: with `rows` (namespace, the rows
    kept in memory, the round's RoundKeys, kaohe build's cache or None), only the rows not made by an
    earlier build (data.RowCache); the new ones go to the cache (kaohe build) or back to the building
    process in writer.rows (serve)."""
    archived = Path(site.content_dir) / "results" / rid / "archive" / f"r{revision.number}" / \
        ("data-public" if profile == "public" else "data") if revision is not None else None
    if archived is not None and archived.is_dir():
        path = archived / name
        if path.is_file():
            writer.put(prefix + name, path.read_bytes())
        return
    if key is not None and writer.reuse(prefix + name, key, page=False):
        return
    cache = None
    if rows is not None:
        space, known, keys, stored = rows
        cache = RowCache(stored.load_rows(space) if stored is not None else known, keys.data())
    writer.put(prefix + name, data_file(score, name, internal, cache))
    if cache is None:
        return
    if stored is not None:       # kaohe build: the rows go to the cache on disk, from this process
        stored.save_rows(space, cache)
    else:                        # kaohe serve: to the building process, which keeps them in its Warm
        writer.rows[space] = cache.new


def scratch_folder(output: Path, records: int) -> Path:
    """A folder for the search records Pagefind reads: in memory (/dev/shm) where there is one with room
    (a record takes a page of 4 KB and a folder; containers often give /dev/shm only 64 MB), since making
    ten thousand small files on disk takes seconds; else beside the output."""
    import tempfile
    shm = Path("/dev/shm")
    where = output.absolute().parent
    try:
        if shm.is_dir() and os.access(shm, os.W_OK):
            room = os.statvfs(shm)
            if room.f_bavail * room.f_frsize > 4 * 8192 * (records + 100):
                where = shm
    except OSError:
        pass
    where.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(where)
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-", dir=where))


SCRATCH = "kaohe-search-"       # a scratch folder's name: this, the building process's id, "-", a random part


def remove_stale_scratch(where: Path) -> None:
    """Delete the scratch folders of builds that were killed outright (SIGKILL, the machine's OOM killer)
    before they could remove them: in /dev/shm they would hold memory until the next reboot, hundreds of
    MB at 100,000 units. A folder is stale when no process with its id is running."""
    for folder in where.glob(f"{SCRATCH}*-*"):
        pid = folder.name[len(SCRATCH):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:           # a process of another user: alive
            pass


ROW_CACHE_UNITS = 20_000    # the data files' rows are kept for rounds up to this size (about 3 KB a unit)


def data_jobs(site: Site, profile: str, salt: bytes, warm=None, cold: bool = False) -> list:
    """Each round's data files (scores.csv/json/xlsx, items.csv), and each published revision's (archived),
    one job per file (parallel.write_pages shares them out), the larger kinds first. With `warm` (serve,
    or kaohe build's cache), the current data files are made from the rows kept from earlier builds
    (data.RowCache): in the Warm under serve, in the cache folder for kaohe build (cache.py), but not
    by a first build (`cold`)."""
    model = site.model
    internal = model.internal
    jobs = []
    for name in ("scores.xlsx", "items.csv", "scores.json", "scores.csv"):
        for rid, plan in model.plans.items():
            keys = model.keys(model.views[rid])
            key = hashlib.sha256(salt + keys.whole("data", profile, internal)).hexdigest()
            rows = None
            # the rows of the spreadsheet, numbered and large, are kept in memory (serve) but not on disk;
            # a Warm being filled (refresh) has every file made from rows, to keep them
            if warm is not None and plan.score.layout.n_units <= ROW_CACHE_UNITS and \
                    (warm.stored is None or (name != "scores.xlsx" and not cold)):
                space = (rid, name, profile, internal)
                if warm.stored is not None:
                    warm.stored.rows_name(space)       # a file the cache keeps
                rows = (space, warm.data_rows.get(space, {}), keys, warm.stored)
            jobs.append(partial(round_data, site, plan.round_id, plan.revision, plan.score, f"results/{rid}/data/",
                                profile, internal, key=None if rows and warm.refresh else key, name=name, rows=rows))
            for rev, score in plan.revisions:
                jobs.append(partial(round_data, site, rid, rev, score, f"results/{rid}/r{rev.number}/data/", profile,
                                    internal, key=None, name=name))
    return jobs        # each is called with the writer (write.Files) of the process that takes it


def print_notices(site: Site, tmp: Path, drafts: bool) -> list[str]:
    """results/<round>/notice/notice.pdf: each round's 通报 printed by headless Chromium (GB/T 9704 layout)."""
    from .pdf import print_pdf
    made = []
    for rid in published_rounds(site, drafts):
        lock = site.content.locks.get(rid)
        folder = tmp / "results" / rid / "notice"
        print_pdf(folder / "index.html", folder / "notice.pdf", lock.latest.date if lock else None)
        made.append(f"results/{rid}/notice/notice.pdf")
    return made


def revisions_index(site: Site) -> bytes:
    """assets/revisions.js: each round's latest published revision, so that a revision's permanent pages
    (never rewritten) can say in the browser that a newer revision exists."""
    latest = {rid: lock.latest.number for rid, lock in sorted(site.content.locks.items())}
    return ("window.KAOHE_REVISIONS = " + json.dumps(latest, separators=(",", ":")) + ";\n").encode("utf-8")


def published_rounds(site: Site, drafts: bool) -> list[str]:
    return [rid for rid, rnd in site.content.rounds.items() if rid in site.scores and (drafts or not rnd.is_draft)]


def site_files(site: Site, *, drafts: bool, profile: str | None, renderer: Renderer, progress=None, pdf: bool = False,
               warm=None):
    """The output files made here, as (relative path, bytes): the theme's assets and the lookup and revision
    scripts; it also builds the site model, whose pages and data files are written in finish() (build)."""
    profile = profile or site.content.config.profile
    internal = site.content.config.internal if profile == "public" else ()
    plans = {rid: plan_round(rid, site, drafts) for rid in published_rounds(site, drafts)}
    site.model = SiteModel(site, plans, internal, pdf=pdf, warm=warm)   # its pages are rendered in parallel, in finish()
    yield from renderer.assets()
    yield "assets/lookup.js", lookup_index(site.content)
    yield "assets/revisions.js", revisions_index(site)
