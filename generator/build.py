"""The pipeline, top to bottom: load → validate → score → site files → write.

`check()` is the same pipeline stopped before rendering, so `kaohe check` and `kaohe build` can never
disagree. Everything is read, checked and scored in memory before the first byte is written.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .content import Content
from .data import data_files
from .errors import Report
from .load import load_content
from .score import RoundScore, score_round
from .standing import settle
from .model import SiteInfo
from .pages import SiteModel
from .render import Renderer, lookup_index, theme_dirs
from .searchindex import run_pagefind
from .write import write_site


@dataclass
class Site:
    content: Content
    scores: dict                 # round id -> RoundScore
    report: Report
    timings: list = field(default_factory=list)
    files: int = 0
    pages: int = 0


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


def check(content_dir: Path, shown: str | None = None, log=None) -> Site:
    """Load, validate and score everything; raise ContentError listing every problem."""
    report = Report()
    timer = Timer(log)
    content = load_content(content_dir, shown or str(content_dir), report)
    timer.lap("读取内容")
    scores = score_all(content, report)
    timer.lap("计分")
    report.raise_if_errors()
    return Site(content, scores, report, timer.steps)


def score_all(content: Content, report: Report) -> dict[str, RoundScore]:
    scores: dict[str, RoundScore] = {}
    for rid in round_order(content, report):
        rnd = content.rounds[rid]
        if any(book not in content.rulebooks or book in content.broken for book in rnd.rulebooks.values()):
            continue  # the rulebook's own errors are reported; scoring against it would only echo them
        if any(sub not in scores for sub in rnd.from_rounds if sub in content.rounds):
            continue
        score = score_round(rnd, content, content.results[rid], scores, report)
        settle(score)
        scores[rid] = score
        content.results[rid] = None   # the checked rows live on in score.rows; free the raw text
    return scores


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
          shown: str | None = None, log=None, search: bool = True, progress=None) -> Site:
    shown = shown or str(content_dir)
    site = check(content_dir, shown, log)
    profile = profile or site.content.config.profile
    report = Report()
    themes = theme_dirs(content_dir, shown, site.content.config.theme, report)
    report.raise_if_errors()
    renderer = Renderer(themes, SiteInfo(site.content.config.title, site.content.config.organisation, profile == "public"))
    timer = Timer(log)
    files = site_files(site, drafts=drafts, profile=profile, renderer=renderer, progress=progress)
    site.files = write_site(output, files, before_swap=run_pagefind if search else None)
    timer.lap("生成并写入文件")
    site.timings += timer.steps
    return site


def published_rounds(site: Site, drafts: bool) -> list[str]:
    return [rid for rid, rnd in site.content.rounds.items() if rid in site.scores and (drafts or not rnd.is_draft)]


def site_files(site: Site, *, drafts: bool, profile: str | None, renderer: Renderer, progress=None):
    """Every output file as (relative path, bytes), made one at a time: data files, pages, assets."""
    profile = profile or site.content.config.profile
    internal = site.content.config.internal if profile == "public" else ()
    rounds = published_rounds(site, drafts)
    for rid in rounds:
        for name, data in data_files(site.scores[rid], internal).items():
            yield f"results/{rid}/data/{name}", data
    model = SiteModel(site, rounds, internal)
    for page in model.pages():
        yield page.path, renderer.render(page)
        site.pages += 1
        if progress:
            progress(site.pages)
    yield from renderer.assets()
    yield "assets/lookup.js", lookup_index(site.content, profile == "public")
