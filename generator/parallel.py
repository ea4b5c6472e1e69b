"""Rendering pages on every core: the site model is built once, then forked worker processes each render
and write their share of the per-unit pages straight into the new site folder.

Fork shares the scored site with the workers without copying or pickling it; each page depends only on
the model, so the output is the same whatever the number of workers.
"""
from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import traceback
from functools import partial
from . import holes
from .errors import ContentError, WorkerLost
from .render import keyed_source

SMALL = 500           # below this many units, one process is faster than starting workers


def workers_for(units: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if units < SMALL else max(1, cores)


def write_pages(model, renderer, files, workers: int, progress=None, tasks=()) -> int:
    """Render every page of `model` into the new site (`files`: write.Files); returns the number of pages.
    Each process renders its share of the per-unit pages (model.pages()), then takes the remaining jobs
    one at a time until none is left: the site-wide pages (model.jobs()) and `tasks` (callables taking
    `files`, e.g. writing one data file), larger ones first. Whichever process finishes its share first
    takes the most jobs, so the processes end at about the same time."""
    model.prepare()        # what every share needs (the page keys), computed once before forking
    large, small = model.jobs()
    jobs = [*(partial(_page_job, job) for job in large), *(partial(_file_job, task) for task in tasks),
            *(partial(_page_job, job) for job in small)]
    if workers <= 1:
        return _render_share(model, renderer, files, 0, 1, None, progress, jobs, None)
    files.share_pending(workers)
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    claimed = ctx.Value("q", 0)      # the next job to take
    errors = ctx.SimpleQueue()
    pipes = [ctx.Pipe(duplex=False) for _ in range(1, workers)]      # a worker says here that it has finished
    procs = [ctx.Process(target=_child, args=(model, renderer, files, k, workers, counter, errors, jobs, claimed,
                                              pipes[k - 1][1]), daemon=True)
             for k in range(1, workers)]
    # the objects of the site model, made before the fork, are left out of the garbage collector's full
    # collections until the workers are done: a worker that ran one traversed (and copied) the whole heap
    gc.freeze()
    try:
        for proc in procs:
            proc.start()
    finally:
        gc.unfreeze()
    for _receive, send in pipes:
        send.close()
    waiting = {proc.sentinel: (proc, receive) for proc, (receive, _send) in zip(procs, pipes)}
    finished = 0
    try:
        mine = _render_share(model, renderer, files, 0, workers, counter, progress, jobs, claimed)
        # back as soon as every worker has finished its part (a fixed sleep here cost up to 0.2 s of every
        # rebuild), not when it has exited: a forked process of a large site takes 0.02 s to go
        while waiting and errors.empty():
            if progress:
                progress(counter.value)
            ready = multiprocessing.connection.wait([r for _p, r in waiting.values()] + list(waiting), timeout=0.2)
            for sentinel, (proc, receive) in list(waiting.items()):
                if receive.poll():
                    try:
                        finished += receive.recv_bytes() == b"done"
                    except (EOFError, OSError):
                        pass
                    del waiting[sentinel]
                elif sentinel in ready:        # it ended without finishing: `errors` says why
                    del waiting[sentinel]
    finally:
        failed = not errors.empty() or finished < len(procs)
        for proc in procs:
            if failed:
                proc.join(timeout=0.1)
                if proc.is_alive():
                    proc.terminate()
            proc.join(timeout=None if failed else 0)     # a finished worker is reaped later, if still exiting
        for receive, _send in pipes:
            receive.close()
    if not errors.empty():
        kind, payload = errors.get()
        if kind == "content":
            raise ContentError(payload)
        raise RuntimeError(f"生成页面的子进程出错:\n{payload}")
    if finished < len(procs):
        raise WorkerLost("生成页面的子进程异常退出(可能是内存不足或被强行终止)")
    return counter.value if counter is not None else mine


def _child(model, renderer, files, k, n, counter, errors, jobs, claimed, finished) -> None:
    try:
        files.digests, files.sources, files.kept, files.staged, files.rows = {}, {}, 0, [], {}   # the parent's are its own
        files.pending, files.pending_size, files.spans, files.refilled = [], 0, {}, 0
        files.buffer, files.placed = (files.shared[k - 1] if files.shared else None), []
        _render_share(model, renderer, files, k, n, counter, None, jobs, claimed)
        files.save_part(k)
        finished.send_bytes(b"done")
    except ContentError as exc:
        errors.put(("content", exc.report))
    except BaseException:     # a bug: carried to the parent, which stops the build
        errors.put(("crash", traceback.format_exc()))
        os._exit(1)


def _page_job(job, renderer, files) -> int:
    """A job of site-wide pages: render those whose source changed; returns how many pages it has."""
    count = 0
    for page in job():
        _one(page, renderer, files)
        count += 1
    return count


def _file_job(task, renderer, files) -> int:
    """A job that writes files other than pages (a data file): no page to count."""
    task(files)
    return 0


def _one(page, renderer, files) -> None:
    source = page.source or renderer.fingerprint(page)
    if files.reuse(page.path, source):
        return
    if page.holes is None:
        files.put(page.path, renderer.render(page))
    else:
        data, spans, read = holes.make(page, renderer, files)
        holes.record(files, page, files.put(page.path, data, read), spans)


class Keeper:
    """Keeps the current site's per-unit pages whose fingerprint is unchanged before any Page is made: a
    rebuild after a correction keeps tens of thousands of them, and making a Page object for each cost
    more than deciding to keep it. model.pages() asks for a group (template, section, draft, superseded,
    made once per round), then keep() for the round's share of pages at once; a page not kept is yielded
    with its fingerprint."""

    def __init__(self, renderer, files):
        self.renderer, self.files = renderer, files

    def group(self, template: str, section: str, draft: bool = False, superseded=None) -> bytes:
        return self.renderer.group(template, section, draft, superseded)

    def keep(self, group: bytes, paths: list[str], titles: list[str], keys: list[bytes]) -> list[str | None]:
        """For each page (path, title, key): None when the current site's page is kept, else its fingerprint
        (to render it). Pages are taken a round's share at a time: in list comprehensions the Python cost
        per kept page is about half of a call per page."""
        sources = [keyed_source(group, p, t, k) for p, t, k in zip(paths, titles, keys)]
        kept = self.files.reuse_all(paths, sources)
        return [None if ok else source for source, ok in zip(sources, kept)]


def _render_share(model, renderer, files, k: int, n: int, counter, progress, jobs=(), claimed=None) -> int:
    model.shard = (k, n)
    count = 0
    reported = 0

    def report() -> None:
        nonlocal reported
        if counter is not None:
            with counter.get_lock():
                counter.value += count - reported
            reported = count
            if progress:
                progress(counter.value)
        elif progress:
            progress(count)

    for page in model.pages(Keeper(renderer, files)):
        if page is not None:          # None: kept by the Keeper
            _one(page, renderer, files)
        count += 1
        if count - reported >= 50:
            report()
    alone = iter(range(len(jobs)))
    while True:
        if claimed is None:
            i = next(alone, len(jobs))
        else:
            with claimed.get_lock():
                i = claimed.value
                claimed.value += 1
        if i >= len(jobs):
            break
        count += jobs[i](renderer, files)        # _page_job or _file_job
        report()
    report()
    return count
