"""Scorecards whose category average moved, redrawn without rendering them again.

A scorecard shows its category's section averages (in the section headings and the chart). When a
correction moves a shown average, every scorecard of that category changes, though nothing else on them
does: at 10,000 units that was about 1,500 pages to render again for one corrected row, most of the time
of the rebuild.

So, in a process that keeps a Warm (kaohe serve, the resident process of kaohe build) and with the
default theme's templates, a scorecard is rendered with a *hole* (one private-use character,
U+F0000 + n) wherever a category average goes, and the holes are then filled with the category's
texts (`fills`, the same for all of its scorecards). Where each fill landed in the written bytes is kept
(`spans`, in Warm.spans). The next rebuild, for a scorecard whose inputs other than the averages are the
same (its own key, pagekeys.RoundKeys.own) and whose file still has exactly the bytes written, replaces
the old fills by the new ones in the file as it is: the same bytes as rendering it again, in about a sixth of
the time.

A page where a hole character does not appear exactly once per fill (a result row's text that carries
one) is rendered with the averages in place instead, as every page is without a Warm: those bytes are
the same by construction (the fills are what the template and the chart would have written), and the
tests compare rebuilds under serve with fresh builds.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from array import array
from dataclasses import dataclass
from types import SimpleNamespace

from .write import prefetch as prefetch_file, read_manifest, safe_path

BASE = 0xF0000                       # Supplementary Private Use Area-A: no text kaohe writes uses it
HOLES = re.compile("([\U000F0000-\U000F0FFF])")


def hole(n: int) -> str:
    return chr(BASE + n)


@dataclass(slots=True)
class Holes:
    """How a scorecard is made with holes: the fills of its category, its own source (the fingerprint of
    everything but the averages), the spans of the page as written by the last build (own source, SHA-256
    of the bytes, spans) when known, and the model with the averages in place (when holes cannot be used)."""
    fills: list[bytes]
    own: str
    before: tuple | None
    plain: object


def make(page, renderer, files) -> tuple[bytes, array | None, bool]:
    """The bytes of `page` (a scorecard with `page.holes`), their spans and whether the current file was read:
    the current file with its fills replaced when it is the one the last build wrote from the same own
    inputs, else rendered with holes, else rendered plainly (spans None). The caller records the spans
    with the bytes' SHA-256 (record())."""
    holes = page.holes
    before = holes.before
    if before is not None and before[0] == holes.own:
        try:
            with open(safe_path(files.current, page.path), "rb") as f:
                old = f.read()
        except OSError:
            old = None
        if old is not None and hashlib.sha256(old).hexdigest() == before[1]:
            files.refilled += 1
            return (*refill(old, before[2], holes.fills), True)
    made = render(renderer, page, holes.fills)
    if made is None:
        page.page, page.make = None, holes.plain
        return renderer.render(page), None, False
    return (*made, False)


def prefetch(root, paths) -> None:
    """Ask the kernel to start reading these files of the current site (the scorecards about to be refilled)
    now, all at once: read one by one when they are no longer cached, 1,300 scorecards cost a worker about
    0.1 s of waiting on the disk."""
    for rel in paths:
        prefetch_file(safe_path(root, rel))


def record(files, page, digest: str, spans: array | None) -> None:
    """Keep where the fills of the page just written (SHA-256 `digest`) are, for the next rebuild."""
    files.spans[page.path] = (page.holes.own, digest, spans) if spans is not None else None


def render(renderer, page, fills: list[bytes]) -> tuple[bytes, array] | None:
    """The page rendered with holes, then filled: its bytes and spans (offset, length, fill number per
    fill, in the order they appear); None when the holes do not each appear exactly once."""
    parts = HOLES.split(renderer.render_text(page))
    if len(parts) != 2 * len(fills) + 1:
        return None
    spans = array("i")
    out = []
    at = 0
    for k, part in enumerate(parts):
        if k & 1:
            n = ord(part) - BASE
            if n >= len(fills):
                return None
            data = fills[n]
            spans.extend((at, len(data), n))
        else:
            data = part.encode("utf-8")
        out.append(data)
        at += len(data)
    if sorted(spans[2::3]) != list(range(len(fills))):
        return None
    return b"".join(out), spans


def refill(old: bytes, spans: array, fills: list[bytes]) -> tuple[bytes, array]:
    """`old` with each of its fills (spans) replaced by the fill of the same number in `fills`."""
    out = []
    new = array("i")
    start = at = 0
    for k in range(0, len(spans), 3):
        offset, length, n = spans[k], spans[k + 1], spans[k + 2]
        piece = old[start:offset]
        data = fills[n]
        out.append(piece)
        out.append(data)
        at += len(piece)
        new.extend((at, len(data), n))
        at += len(data)
        start = offset + length
    out.append(old[start:])
    return b"".join(out), new


def stock(themes: list, default) -> bool:
    """Whether every template comes from the default theme: the holes are placed for its templates only
    (another theme's scorecard may use an average otherwise than by writing it)."""
    return all(theme == default or not os.path.isdir(os.path.join(theme, "templates"))
               or not any(files for _root, _dirs, files in os.walk(os.path.join(theme, "templates")))
               for theme in themes)


class SpanFill:
    """Where the averages are in the scorecards a build kept without drawing them, found in the background
    between rebuilds (kaohe serve, the resident process of kaohe build).

    A build learns where a scorecard's averages are only when it draws the scorecard. kaohe serve started
    over an up-to-date site draws none (its first build writes nothing), so its first correction that moves
    a category's average drew that whole category again: 1.5 s at 10,000 units instead of 0.8 s (1.05 s
    instead of 0.87 s for the first correction the resident process answers). So after a build, serve and
    the resident process draw each current scorecard whose spans are not known, a few at a time while it is idle
    (`step`), newest round first, and keeps its spans with the drawing's SHA-256: a later refill uses them
    only on a file with exactly those bytes (make()), so a file changed by hand, or drawn otherwise since,
    is drawn again. Published revisions are not done: they never change."""

    STEP = 0.05           # seconds of drawing at a time: requests and saved files wait at most this long
    PAUSE = 0.01          # between two steps, for whatever else the process has to do

    @classmethod
    def of(cls, warm) -> SpanFill | None:
        """The fill for the last build of `warm` (Warm.drawn, taken: the model is let go with the fill), or
        None when there is nothing to find (no build, spans not kept, another theme's templates)."""
        drawn, warm.drawn = warm.drawn, None
        if drawn is None or warm.renderer is None or not warm.renderer.stock:
            return None
        model, output = drawn
        return cls(model, warm.renderer, output) if model.spans is not None else None

    def __init__(self, model, renderer, output):
        self.model, self.renderer = model, renderer
        present = read_manifest(output).get("files", {})
        self.pages = self._pages(_Lacking(renderer, str(output), model.spans, present))

    def _pages(self, keeper):
        model = self.model
        model.shard = (0, 1)
        for rid in reversed(model.round_ids):
            view = model.views[rid]
            yield from model.scorecards(keeper, view, view.card.status.key == "draft")

    def step(self) -> bool:
        """Draw scorecards for about STEP seconds; whether any are left."""
        end = time.perf_counter() + self.STEP
        for page in self.pages:
            if page is None or page.holes is None:
                continue
            made = render(self.renderer, page, page.holes.fills)
            if made is not None:
                data, spans = made
                self.model.spans[page.path] = (page.holes.own, hashlib.sha256(data).hexdigest(), spans)
            if time.perf_counter() > end:
                return True
        return False


class _Lacking:
    """A parallel.Keeper for SpanFill: a scorecard of the current site whose spans are not known is to be
    drawn (its fingerprint); every other page is kept (None)."""

    def __init__(self, renderer, root: str, spans: dict, files: dict):
        self.renderer, self.files = renderer, SimpleNamespace(current=root)
        self.spans, self.present = spans, files

    def group(self, template: str, section: str, draft: bool = False, superseded=None) -> bytes:
        return self.renderer.group(template, section, draft, superseded)

    def keep(self, group: bytes, paths: list[str], titles: list[str], keys: list[bytes]) -> list[str | None]:
        from .render import keyed_source
        spans, present = self.spans, self.present
        return [keyed_source(group, p, t, k) if p not in spans and p in present else None
                for p, t, k in zip(paths, titles, keys)]
