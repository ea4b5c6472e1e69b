"""Rendering pages on every core: the site model is built once, then forked worker processes each render
and write their share of the per-unit pages straight into the new site folder.

Fork shares the scored site with the workers without copying or pickling it; each page depends only on
the model, so the output is the same whatever the number of workers.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import traceback
from .errors import ContentError

SMALL = 500           # below this many units, one process is faster than starting workers


def workers_for(units: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if units < SMALL else max(1, cores)


def write_pages(model, renderer, files, workers: int, progress=None, tasks=()) -> int:
    """Render every page of `model` into the new site (`files`: write.Files); returns the number of pages.
    `tasks` (callables taking `files`, e.g. writing the data files) are run by the last share, since the
    first renders the site-wide pages."""
    model.prepare()        # what every share needs (the page keys), computed once before forking
    if workers <= 1:
        return _render_share(model, renderer, files, 0, 1, None, progress, tasks)
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    errors = ctx.SimpleQueue()
    procs = [ctx.Process(target=_child, args=(model, renderer, files, k, workers, counter, errors,
                                              tasks if k == workers - 1 else ()), daemon=True)
             for k in range(1, workers)]
    for proc in procs:
        proc.start()
    try:
        mine = _render_share(model, renderer, files, 0, workers, counter, progress)
        while any(p.is_alive() for p in procs):
            if progress:
                progress(counter.value)
            # back as soon as a worker ends (a fixed sleep here cost up to 0.2 s of every rebuild)
            multiprocessing.connection.wait([p.sentinel for p in procs if p.is_alive()], timeout=0.2)
            if not errors.empty():
                break
    finally:
        for proc in procs:
            proc.join(timeout=0.1 if not errors.empty() else None)
            if proc.is_alive():
                proc.terminate()
    if not errors.empty():
        kind, payload = errors.get()
        if kind == "content":
            raise ContentError(payload)
        raise RuntimeError(f"生成页面的子进程出错:\n{payload}")
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("生成页面的子进程异常退出")
    return counter.value if counter is not None else mine


def _child(model, renderer, files, k, n, counter, errors, tasks) -> None:
    try:
        files.digests, files.sources, files.kept, files.staged = {}, {}, 0, []   # the parent's are its own
        _render_share(model, renderer, files, k, n, counter, None, tasks)
        files.save_part(k)
    except ContentError as exc:
        errors.put(("content", exc.report))
    except BaseException:     # a bug: carried to the parent, which stops the build
        errors.put(("crash", traceback.format_exc()))
        os._exit(1)


def _render_share(model, renderer, files, k: int, n: int, counter, progress, tasks=()) -> int:
    model.shard = (k, n)
    for task in tasks:
        task(files)
    count = 0
    for page in model.pages():
        source = renderer.fingerprint(page)
        if not files.reuse(page.path, source):
            files.put(page.path, renderer.render(page))
        count += 1
        if counter is not None and count % 50 == 0:
            with counter.get_lock():
                counter.value += 50
            if progress:
                progress(counter.value)
        elif counter is None and progress:
            progress(count)
    if counter is not None:
        with counter.get_lock():
            counter.value += count % 50
    return count
