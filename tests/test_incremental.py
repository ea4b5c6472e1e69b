"""Rebuilds: nothing changed means nothing is done; otherwise unchanged files keep their inode and
mtime (an rsync deploy copies only what changed), and a rebuild always equals a full build."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from generator.build import build
from generator.build import build as build_site
from generator.errors import ContentError
from generator.pagekeys import RoundKeys
from generator.warm import Warm
from generator.write import MANIFEST

GOLDEN = REPO / "tests" / "golden" / "content"


def files(root):
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def stamps(root):
    return {rel: (p.stat().st_ino, p.stat().st_mtime_ns) for rel, p in files(root).items()}


def add_once(path, marker: str, row: str) -> None:
    """Append a row to a CSV file unless a row containing `marker` is there already."""
    text = path.read_text(encoding="utf-8")
    if marker not in text:
        path.write_text(text + row + "\n", encoding="utf-8")


EARLIER = "2024-02-01,jg-a,B1,组织考核,value,96,90,复核出勤记录"   # a correction of 2023, the year before 2024


def same_bytes(a, b):
    fa, fb = files(a), files(b)
    fa.pop(MANIFEST, None), fb.pop(MANIFEST, None)
    assert sorted(fa) == sorted(fb)
    return [rel for rel in fa if fa[rel].read_bytes() != fb[rel].read_bytes()]


def keys_are_fresh(warm) -> None:
    """The unit keys a serve rebuild took from the build before (pagekeys.RoundKeys.carried) are the keys
    computed afresh."""
    for view, _before in warm.views.values():
        if view.keys is not None and view.keys.ready():
            fresh = RoundKeys(view)
            assert view.keys.units() == [fresh._unit(u) for u in range(view.layout.n_units)]
            assert view.keys.data() == fresh.data()


def unit_keys_are_fresh(warm, content) -> None:
    """The unit pages' keys a serve rebuild took from the build before (pages.SiteModel.unit_page_keys)
    are those a fresh site model computes (when it keeps any: a kaohe build's Warm starts without them)."""
    if warm.unit_keys is None:
        return
    from generator.build import check, published_rounds
    from generator.pages import SiteModel
    from generator.revisions import plan_round
    site = check(content, "content")
    config = site.content.config
    model = SiteModel(site, {rid: plan_round(rid, site, True) for rid in published_rounds(site, True)},
                      config.internal if config.profile == "public" else ())
    children = model.children()
    assert warm.unit_keys[2] == {unit.id: model.unit_page_key(unit, children) for unit in site.content.units.values()}


def manifest_is_true(out) -> None:
    """The manifest records every file of the site with the SHA-256 of its bytes, the search bundles
    included (hashed by the process that ran Pagefind): later builds trust it to decide what to rewrite."""
    recorded = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert recorded == {rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in files(out).items() if rel != MANIFEST}


def test_nothing_changed_means_nothing_is_done(tmp_path, kaohe):
    shutil.copytree(GOLDEN, tmp_path / "content")
    out = tmp_path / "output"
    assert kaohe("build", "--content", str(tmp_path / "content"), "--output", str(out)).code == 0
    before = stamps(out)
    run = kaohe("build", "--content", str(tmp_path / "content"), "--output", str(out))
    assert run.code == 0 and "没有变化" in run.out and "未改写任何文件" in run.out
    assert stamps(out) == before
    # a different option is a different site
    run = kaohe("build", "--content", str(tmp_path / "content"), "--output", str(out), "--drafts")
    assert run.code == 0 and "没有变化" not in run.out


def test_a_changed_row_rewrites_only_what_changed_and_equals_a_full_build(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    build(content, out, drafts=True, shown="content", search=False)
    before = stamps(out)
    # a draft-able change: a unit's name (no locked file is touched)
    units = content / "units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("甲局", "甲局(新名)"), encoding="utf-8")
    build(content, out, drafts=True, shown="content", search=False)
    after = stamps(out)
    kept = [rel for rel in before if rel in after and after[rel] == before[rel]]
    changed = [rel for rel in after if rel not in before or after[rel] != before[rel]]
    assert "rules/2023-t/index.html" in kept and "assets/kaohe.css" in kept
    assert "units/jg-a/index.html" in changed and "results/2023/jg-a/index.html" in changed
    assert "units/index.html" in changed           # the list of units is keyed on the registry
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


EDITS = st.lists(st.sampled_from(["rename", "note", "title", "theme", "correction", "undo", "earlier", "broken",
                                  "reason", "deleted", "rulebook"]),
                 min_size=1, max_size=4)


@pytest.mark.parametrize("mode", ["build", "serve", "cache", "resident"])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_incremental_rebuilds_equal_full_builds(tmp_path_factory, monkeypatch, mode, edits):
    """Random edits, each followed by a rebuild over the previous output: the result equals a full build.
    serve: the rebuilds share a Warm, as `kaohe serve`'s do (rounds, views and templates kept); cache: they
    take rounds and page keys from the cache of earlier builds, as `kaohe build`'s do (cache.py); resident:
    the first build uses the cache, the rebuilds keep its Warm, as a resident process does (resident.py).
    In serve and cache modes the files kept are checked by another process (write.ExistCheck, which only
    sites of thousands of files use); "deleted" removes output files by hand, which a rebuild makes again."""
    monkeypatch.setattr("generator.write.CHECK_FILES", 0 if mode in ("serve", "cache") else 10 ** 9)
    root = tmp_path_factory.mktemp("inc")
    content = root / "content"
    shutil.copytree(GOLDEN, content)
    out = root / "output"
    warm = Warm() if mode in ("serve", "resident") else None
    cache = root / "cache" if mode in ("cache", "resident") else None
    build_site(content, out, drafts=True, shown="content", search=False, warm=warm, cache=cache)
    if mode == "resident":
        cache = None

    def build(*args, **kwargs):
        return build_site(*args, cache=cache, **kwargs)
    for i, edit in enumerate(edits):
        if edit == "rename":
            p = content / "units.csv"
            p.write_text(p.read_text(encoding="utf-8").replace("乙局", f"乙局{i}"), encoding="utf-8")
        elif edit == "note":
            add_once(content / "results/2024/corrections.csv", ",note,",
                     "2025-02-01,jg-a,A1-2,组织考核,note,学习记录缺失,已补记录,补交学习记录后更正说明")
        elif edit == "title":
            p = content / "site.yaml"
            p.write_text(p.read_text(encoding="utf-8").replace("金样例考核网站", f"金样例考核网站{i}"), encoding="utf-8")
        elif edit == "theme":
            themes = root / "themes" / "mine" / "templates"
            themes.mkdir(parents=True, exist_ok=True)
            (themes / "unit.html").write_text('{% extends "base.html" %}{% block main %}<p>' + str(i)
                                              + '{{ page.unit.name }}</p>{% endblock %}', encoding="utf-8")
            p = content / "site.yaml"
            if "theme:" not in p.read_text(encoding="utf-8"):
                p.write_text(p.read_text(encoding="utf-8") + "theme: mine\n", encoding="utf-8")
        elif edit == "correction":
            add_once(content / "results/2024/corrections.csv", "jg-b,B1", "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录")
        elif edit == "undo":
            shutil.copy(GOLDEN / "units.csv", content / "units.csv")
        elif edit == "reason":         # only a correction's reason: no score moves, the 通报 lists it
            p = content / "results/2024/corrections.csv"
            add_once(p, "jg-b,B1", "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录")
            p.write_text(p.read_text(encoding="utf-8").replace("复核出勤记录", f"复核出勤记录{i}"), encoding="utf-8")
        elif edit == "rulebook":       # a rulebook's narrative (not what a published result depends on)
            p = content / "rules/2024-t.md"
            p.write_text(re.sub(r"有记录[0-9]*。", f"有记录{i}。", p.read_text(encoding="utf-8")), encoding="utf-8")
        elif edit == "deleted":        # pages deleted by hand: a unit page, a scorecard, a rulebook
            for rel in ("units/jg-b/index.html", "results/2023/jg-a/index.html", "rules/2023-t/index.html"):
                (out / rel).unlink(missing_ok=True)
        elif edit == "earlier":        # the year before changes: 2024's scorecards show it as 上一年度
            add_once(content / "results/2023/corrections.csv", "jg-a,B1", EARLIER)
        elif edit == "broken":         # a build that fails, then the file as it was
            p = content / "results/2024/corrections.csv"
            text = p.read_text(encoding="utf-8")
            p.write_text(text + "2025-02-11,no-such-unit,B1,组织考核,value,1,2,错误的一行\n", encoding="utf-8")
            with pytest.raises(ContentError):
                build(content, out, drafts=True, shown="content", search=False, warm=warm)
            p.write_text(text, encoding="utf-8")
        build(content, out, drafts=True, shown="content", search=False, warm=warm)
        if warm is not None:
            keys_are_fresh(warm)
            unit_keys_are_fresh(warm, content)
    full = root / "full"
    build_site(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


@pytest.mark.parametrize("per_bundle, serve", [(20_000, False), (2, False), (20_000, True)])
def test_search_index_is_kept_when_only_scores_change(tmp_path, monkeypatch, per_bundle, serve):
    """The full-text index holds names and rulebook text, never scores: a correction leaves the Pagefind
    bundles untouched (same inodes, Pagefind not run), a renamed unit remakes them, and either way the
    rebuilt site equals a full build byte for byte, index included. Also with the units split over
    several bundles, as on a province's site, and under serve, which keeps the unit records of the
    build before (records.kept_records)."""
    from generator import searchindex
    monkeypatch.setattr(searchindex, "UNITS_PER_BUNDLE", per_bundle)
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    warm = Warm() if serve else None

    def build(content, out, **options):
        return build_site(content, out, warm=warm if out.name == "output" else None, **options)

    def bundle():
        return {rel: st for rel, st in stamps(out).items() if rel.startswith("pagefind")}

    def equals_full_build(name):
        full = tmp_path / name
        build(content, full, drafts=True, shown="content")
        assert same_bytes(out, full) == []

    build(content, out, drafts=True, shown="content")
    manifest_is_true(out)
    first = bundle()
    assert any(rel.startswith("pagefind/fragment/") for rel in first)
    assert (out / "pagefind-2").is_dir() == (per_bundle == 2)     # 4 units: two bundles of two
    fixes = content / "results/2024/corrections.csv"
    fixes.write_text(fixes.read_text(encoding="utf-8") + "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录\n",
                     encoding="utf-8")
    assert build(content, out, drafts=True, shown="content").search_kept
    assert bundle() == first
    equals_full_build("full-1")

    # a bundle file deleted by hand: the next rebuild makes the index afresh instead of keeping it
    next(out.glob("pagefind/fragment/*")).unlink()
    fixes.write_text(fixes.read_text(encoding="utf-8").replace(",99,94,", ",99,95,"), encoding="utf-8")
    assert not build(content, out, drafts=True, shown="content").search_kept
    equals_full_build("full-1b")

    units = content / "units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("乙局", "乙局(新名)"), encoding="utf-8")
    assert not build(content, out, drafts=True, shown="content").search_kept
    assert bundle() != first
    manifest_is_true(out)
    equals_full_build("full-2")
    manifest_is_true(tmp_path / "full-2")


def test_page_keys_are_the_same_in_every_process(tmp_path, kaohe):
    """Page keys must not depend on the process (Python randomizes str hashes per process): after an edit
    that changes no page, a rebuild in a new process renders nothing and rewrites nothing."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    assert kaohe("build", "--content", str(content), "--output", str(out), "--drafts").code == 0
    before = stamps(out)
    site_yaml = content / "site.yaml"
    site_yaml.write_text(site_yaml.read_text(encoding="utf-8") + "# 只加了一行注释\n", encoding="utf-8")
    run = kaohe("build", "--content", str(content), "--output", str(out), "--drafts")
    assert run.code == 0 and "其中 0 个页面重新生成" in run.out, run.out
    after = stamps(out)
    assert {rel: st for rel, st in after.items() if rel != MANIFEST} == \
        {rel: st for rel, st in before.items() if rel != MANIFEST}


def test_unit_keys_computed_with_a_helper_process_are_the_same(tmp_path, monkeypatch):
    """From 5,000 keys on, a forked helper computes every other unit's key (pagekeys.compute_units): the
    site and its manifest (each page's source key) are exactly those of a build that computes them all."""
    from generator import build as build_module, pagekeys
    build(GOLDEN, tmp_path / "alone", drafts=True, search=False, shown="content")
    helped = tmp_path / "helped"
    odd_units = pagekeys._odd_units

    def marked(todo, send):       # runs in the helper process
        helped.with_suffix(".ran").write_text("yes", encoding="utf-8")
        odd_units(todo, send)
    monkeypatch.setattr(pagekeys, "HELPED", 0)
    monkeypatch.setattr(pagekeys, "_odd_units", marked)
    monkeypatch.setattr(build_module, "workers_for", lambda units: 2)
    build(GOLDEN, helped, drafts=True, search=False, shown="content")
    assert helped.with_suffix(".ran").is_file()
    assert same_bytes(tmp_path / "alone", helped) == []
    sources = [json.loads((out / MANIFEST).read_text(encoding="utf-8"))["sources"] for out in (tmp_path / "alone", helped)]
    assert sources[0] == sources[1]


def test_a_correction_renders_only_the_pages_it_changes(tmp_path):
    """One corrected row re-renders the unit's pages and the round's overview, not the site; and the
    result equals a full build."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    first = build(content, out, drafts=True, shown="content", search=False)
    fixes = content / "results/2024/corrections.csv"
    fixes.write_text(fixes.read_text(encoding="utf-8") + "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录\n",
                     encoding="utf-8")
    site = build(content, out, drafts=True, shown="content", search=False)
    assert site.pages == first.pages and 0 < site.pages - site.kept < site.pages // 2
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


def test_a_killed_in_place_update_is_followed_by_a_whole_new_tree(tmp_path):
    """If an in-place update was killed outright (its marker and staged files left behind), the next build
    does not trust the folder: it makes a whole new site, without the leftovers, equal to a full build."""
    from generator.write import BUSY, STAGED
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    build(content, out, drafts=True, shown="content", search=False)
    (out / BUSY).write_text("kaohe build\n", encoding="utf-8")
    (out / "assets" / ("kaohe.css" + STAGED)).write_text("half", encoding="utf-8")   # a file nothing rewrites
    units = content / "units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("甲局", "甲局(新名)"), encoding="utf-8")
    build(content, out, drafts=True, shown="content", search=False)
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []
    assert not (out / BUSY).exists()


def correct_jg_b(content) -> None:
    fixes = content / "results/2024/corrections.csv"
    fixes.write_text(fixes.read_text(encoding="utf-8") + "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录\n",
                     encoding="utf-8")


@pytest.mark.parametrize("workers, pending", [(1, None), (2, None), (2, 30_000)])
def test_changed_files_are_written_over_their_targets_but_never_through_another_hard_link(tmp_path, monkeypatch,
                                                                                          workers, pending):
    """A rebuild writes a changed page over the current one (the same inode, new bytes and mtime), except
    where the file has another hard link, as in a snapshot made with `cp -al` or `rsync --link-dest`: that
    copy keeps the old bytes. A unit added since makes new pages in new folders. With two processes, the
    second one's changed pages reach the writing process through shared memory (write.Files.share_pending);
    past PENDING_BYTES a process's changed files are staged beside their targets and renamed over them."""
    import generator.build as build_module
    import generator.write as write_module
    monkeypatch.setattr(build_module, "workers_for", lambda units: workers)
    if pending is not None:
        monkeypatch.setattr(write_module, "PENDING_BYTES", pending)
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    build(content, out, drafts=True, shown="content", search=False)
    card, other = out / "results/2024/jg-b/index.html", out / "results/2023/jg-b/index.html"
    snapshot = tmp_path / "snapshot.html"
    os.link(card, snapshot)
    old_card, before = card.read_bytes(), stamps(out)
    correct_jg_b(content)
    units = content / "units.csv"
    units.write_text(units.read_text(encoding="utf-8") + "gw-new,新设工委,党(工)委,,,,\n", encoding="utf-8")
    build(content, out, drafts=True, shown="content", search=False)
    after = stamps(out)
    assert snapshot.read_bytes() == old_card and card.read_bytes() != old_card
    assert after["results/2024/jg-b/index.html"][0] != before["results/2024/jg-b/index.html"][0]   # replaced
    overwritten = [rel for rel in before if rel in after and after[rel][0] == before[rel][0]
                   and after[rel][1] != before[rel][1]]
    if pending is None:
        assert "results/2024/index.html" in overwritten and "units/index.html" in overwritten
    else:         # some in memory, the rest staged and renamed over their targets
        changed = [rel for rel in before if rel in after and after[rel] != before[rel]]
        assert overwritten and set(changed) - set(overwritten)
    assert "results/2023/jg-b/index.html" in before and after["results/2023/jg-b/index.html"] == before[
        "results/2023/jg-b/index.html"] and other.is_file()
    assert "units/gw-new/index.html" in after and "units/gw-new/index.html" not in before
    manifest_is_true(out)
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


def test_the_content_folder_typed_another_way_keeps_the_pages_that_did_not_change(tmp_path, monkeypatch):
    """`kaohe build --content content`, then `--content ./content` (or from another working folder): the
    paths in messages differ, the pages do not; a correction in between re-renders what it changes, not
    the whole site, and the result equals a full build."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    monkeypatch.chdir(tmp_path)
    first = build(content, out, drafts=True, shown="content", search=False)
    correct_jg_b(content)
    site = build(content, out, drafts=True, shown="./content", search=False)
    assert 0 < site.pages - site.kept < first.pages // 2
    full = tmp_path / "full"
    build(content, full, drafts=True, shown=str(content), search=False)
    assert same_bytes(out, full) == []


def test_replaced_files_are_freed_after_the_build_from_a_trash_beside_the_site(tmp_path, monkeypatch):
    """Files renamed over their targets (staged: over INPLACE_MAX) keep their old inode in a trash folder
    beside the site until a detached `rm` frees it after the build (write.Files._trash): the new bytes are
    in place, a hard link elsewhere keeps the old ones, nothing is left behind, and a trash left by a killed
    build is removed by the next."""
    import time

    import generator.write as write_module
    monkeypatch.setattr(write_module, "INPLACE_MAX", 0)      # every changed file staged and renamed
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    build(content, out, drafts=True, shown="content", search=False)
    overview = out / "results/2024/index.html"
    os.link(overview, tmp_path / "snapshot.html")
    old = overview.read_bytes()
    left = tmp_path / ".output.trash-1-2"
    left.mkdir()
    (left / "0").write_bytes(b"old")
    correct_jg_b(content)
    build(content, out, drafts=True, shown="content", search=False)
    assert overview.read_bytes() != old and (tmp_path / "snapshot.html").read_bytes() == old
    deadline = time.monotonic() + 30
    while list(tmp_path.glob(".output.trash-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".output.trash-*")) == []
    assert not any(".trash-" in rel for rel in files(out))
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_write_that_fails_during_the_update_leaves_the_site_as_it_was(tmp_path, monkeypatch, workers):
    """A disk that fills up while the changed files are written over the old ones: every file already
    written gets its old bytes back, the manifest is as before and the error is raised; the next build
    updates the site in place as usual (with two processes, from the second one's shared memory too)."""
    import errno

    import generator.build as build_module
    import generator.write as gw
    monkeypatch.setattr(build_module, "workers_for", lambda units: workers)
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    build(content, out, drafts=True, shown="content", search=False)
    before = {rel: p.read_bytes() for rel, p in files(out).items()}
    correct_jg_b(content)
    real, calls = os.pwrite, []

    def full_disk(fd, data, offset):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)
    monkeypatch.setattr(gw.os, "pwrite", full_disk)
    with pytest.raises(OSError):
        build(content, out, drafts=True, shown="content", search=False)
    assert len(calls) == 3
    assert {rel: p.read_bytes() for rel, p in files(out).items()} == before
    monkeypatch.setattr(gw.os, "pwrite", real)
    site = build(content, out, drafts=True, shown="content", search=False)
    assert site.kept > 0                     # in place again: the site was trusted
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


def test_serve_started_over_an_up_to_date_site_fills_its_memory_and_writes_nothing(tmp_path):
    """kaohe serve's first build over a site already built from the same inputs keeps every page and writes
    no page, but leaves the Warm filled, so that the first corrected row is as quick as the next ones;
    kaohe build (and serve once filled) still does nothing at all."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    build(content, out, drafts=True, shown="content", search=False)
    assert build(content, out, drafts=True, shown="content", search=False) is None
    before = stamps(out)
    warm = Warm()
    site = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert site is not None and site.kept == site.pages and warm.views
    after = stamps(out)
    assert {rel: stamp for rel, stamp in after.items() if rel != MANIFEST} == \
        {rel: stamp for rel, stamp in before.items() if rel != MANIFEST}
    assert build(content, out, drafts=True, shown="content", search=False, warm=warm) is None
    correct_jg_b(content)
    again = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert 0 < again.pages - again.kept < again.pages // 2
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


def test_serve_rescores_only_changed_rounds_and_still_equals_a_full_build(tmp_path):
    """`kaohe serve` keeps a round whose files did not change (warm.py), but not the view of a round whose
    year before changed: its scorecards show that year's result (上一年度)."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert warm.kept == set() and sorted(warm.rounds) == ["2023", "2024"]
    views = {rid: view for rid, (view, _before) in warm.views.items()}
    card = out / "results/2024/jg-a/index.html"
    before = card.read_text(encoding="utf-8")
    add_once(content / "results/2023/corrections.csv", "jg-a,B1", EARLIER)
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert warm.kept == {"2024"}                                 # 2024 was not read or scored again …
    assert warm.views["2024"][0] is not views["2024"]            # … but its view is new: its year before changed
    assert card.read_text(encoding="utf-8") != before
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


@pytest.mark.parametrize("relpath", ["/etc/passwd", "../x/index.html", "a/../../x", "a/./b", "a//b", "a/", "..",
                                     ".", "", "a\\..\\b"])
def test_an_output_path_that_could_leave_the_site_is_refused(relpath):
    # the last guard under every file the build writes (unit ids are checked when read, test_errors.py)
    from generator.write import safe_path
    with pytest.raises(ValueError):
        safe_path("/site", relpath)
    assert safe_path("/site", "results/r1/a..b/index.html") == "/site/results/r1/a..b/index.html"


def cache_files(cache):
    """How many files of each kind the cache holds."""
    kinds = [p.name.rsplit(".", 1)[1] for p in cache.rglob("*") if p.is_file()]
    return {kind: kinds.count(kind) for kind in sorted(set(kinds))}


def test_kaohe_build_takes_unchanged_rounds_from_its_cache(tmp_path, kaohe, monkeypatch):
    """`kaohe build` reads and scores only the rounds whose files changed (cache.py), outside the output
    folder, and writes the same site as a build without the cache, even from damaged cache files."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    cache = tmp_path / "cache"
    monkeypatch.setenv("KAOHE_CACHE", str(cache))
    out = tmp_path / "output"
    args = ("build", "--content", str(content), "--output", str(out), "--drafts", "--profile", "public", "-v")
    fixes = content / "results/2024/corrections.csv"

    def correct(value: str) -> None:
        add_once(fixes, "jg-b,B1", "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录")
        fixes.write_text(re.sub(r"jg-b,B1,组织考核,value,99,\d+,", f"jg-b,B1,组织考核,value,99,{value},",
                                fixes.read_text(encoding="utf-8")), encoding="utf-8")

    assert kaohe(*args).code == 0 and cache_files(cache) == {}       # a first build writes no cache
    correct("94")
    run = kaohe(*args)
    assert run.code == 0 and "成绩文件未变" not in run.err
    # two rounds, each with its view's keys; the rows of 2024's data files but the spreadsheet (2023's
    # data files are as archived when published)
    assert cache_files(cache) == {"keys": 2, "pickle": 2, "rows": 3}
    correct("95")
    run = kaohe(*args)
    assert run.code == 0 and "计分缓存:1 个轮次的成绩文件未变" in run.err          # 2023 came from the cache
    assert cache_files(cache) == {"keys": 2, "pickle": 2, "rows": 3}      # 2024's earlier files are gone
    assert not any(p.suffix in (".pickle", ".keys", ".rows") for p in out.rglob("*"))

    def full_build():
        monkeypatch.setenv("KAOHE_CACHE", "off")
        full = tmp_path / "full"
        shutil.rmtree(full, ignore_errors=True)
        assert kaohe("build", "--content", str(content), "--output", str(full), "--drafts", "--profile", "public").code == 0
        monkeypatch.setenv("KAOHE_CACHE", str(cache))
        return full
    assert same_bytes(out, full_build()) == []
    # an internal site built beside the public one: the same scored rounds, its own keys and rows, and
    # neither build deletes the other's
    internal = ("build", "--content", str(content), "--output", str(tmp_path / "internal"), "--drafts")
    assert kaohe(*internal).code == 0
    correct("96")
    assert kaohe(*internal).code == 0 and cache_files(cache) == {"keys": 4, "pickle": 2, "rows": 6}
    correct("95")
    assert kaohe(*args).code == 0 and cache_files(cache) == {"keys": 4, "pickle": 2, "rows": 6}
    for path in cache.rglob("*.*"):        # damaged files (same length, one byte changed) are not taken
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    correct("97")                      # the files of 2023 are asked for again, and refused
    run = kaohe(*args)
    assert run.code == 0 and "成绩文件未变" not in run.err
    assert same_bytes(out, full_build()) == []
    monkeypatch.setenv("KAOHE_CACHE", "off")
    shutil.rmtree(cache)
    assert kaohe("build", "--content", str(content), "--output", str(tmp_path / "other")).code == 0
    correct("98")
    assert kaohe("build", "--content", str(content), "--output", str(tmp_path / "other")).code == 0
    assert not cache.exists()


def test_serve_remakes_only_the_data_rows_whose_unit_changed(tmp_path, monkeypatch):
    """Under serve a data file is assembled from the rows of earlier rebuilds (data.RowCache): after a
    correction only the rows of the units whose page keys moved are made (here the one unit of the
    corrected category), and the files still equal a full build's."""
    import generator.build as build_module
    from test_data_files import make
    made = []

    class Spy(build_module.RowCache):
        def __init__(self, rows, keys):
            super().__init__(rows, keys)
            made.append(self)
    monkeypatch.setattr(build_module, "RowCache", Spy)
    site = make(tmp_path)
    out = tmp_path / "output"
    warm = Warm()
    build(site.root, out, drafts=True, shown="content", search=False, warm=warm)
    assert [(len(c.keys), len(c.new)) for c in made] == [(3, 3)] * 4          # every row made once
    made.clear()
    results = site.root / "results/r/results.csv"
    results.write_text(results.read_text(encoding="utf-8").replace("c,A2-2,1,", "c,A2-2,2,"), encoding="utf-8")
    build(site.root, out, drafts=True, shown="content", search=False, warm=warm)
    assert [(len(c.rows), len(c.new)) for c in made] == [(3, 1)] * 4          # c's row only
    full = tmp_path / "full"
    build(site.root, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


def test_serve_rechecks_only_the_result_files_that_changed(tmp_path, monkeypatch):
    """Under serve a round's result files are checked one at a time (results.FileMemo): after an edit only
    the file that changed is checked again; every file when what they are checked against changed (the
    rulebook); a file with rows of a corrected unit, since the correction changes them. The scored rows
    are exactly those of checking every file afresh, the site equals a full build's, and a file with a
    problem gets the same messages as in a fresh build."""
    import sys
    import generator.results as results_module
    from generator.build import check
    sys.path.insert(0, str(REPO / "bench"))
    from workload import generate
    content, out = tmp_path / "content", tmp_path / "output"
    generate(60, content, rounds=1)
    folder = content / "results" / "bench-2022"
    checked = []
    real = results_module._check_part

    def spy(layout, frame, content, report):
        checked.extend(sorted({name.rsplit("/", 1)[-1] for name in frame["_file"]}))
        return real(layout, frame, content, report)
    monkeypatch.setattr(results_module, "_check_part", spy)
    warm = Warm()
    keyed, computed = [], []
    real_unit = RoundKeys._unit

    def unit_spy(self, u):
        keyed.append(u)
        return real_unit(self, u)
    monkeypatch.setattr(RoundKeys, "_unit", unit_spy)

    def rebuild() -> list[str]:
        checked.clear()
        keyed.clear()
        build(content, out, drafts=True, shown="content", search=False, warm=warm)
        made = sorted(checked)
        computed[:] = [len(keyed)]
        keys_are_fresh(warm)
        unit_keys_are_fresh(warm, content)
        fresh = check(content, "content")
        assert warm.rounds["bench-2022"].states[len(fresh.content.corrections["bench-2022"])].rows.equals(
            fresh.scores["bench-2022"].rows)
        full = tmp_path / "full"
        shutil.rmtree(full, ignore_errors=True)
        build(content, full, drafts=True, shown="content", search=False)
        assert same_bytes(out, full) == []
        return made

    def edit(name: str, line: int, value: str) -> None:
        path = folder / name
        lines = path.read_text(encoding="utf-8").split("\n")
        cells = lines[line].split(",")
        cells[2] = value
        lines[line] = ",".join(cells)
        path.write_text("\n".join(lines), encoding="utf-8")

    with_rows = sorted(p.name for p in folder.glob("*.csv") if len(p.read_text(encoding="utf-8").split("\n")) > 2)
    assert len(with_rows) >= 4 and "jiguan.csv" in with_rows and "shequ.csv" in with_rows
    assert rebuild() == with_rows                          # the first build checks every file
    assert computed == [60]                                # every unit's page key computed
    edit("jiguan.csv", 1, "3")
    assert rebuild() == ["jiguan.csv"]
    assert 0 < computed[0] < 60                            # the units that moved; the others' keys taken
    book = next((content / "rules").glob("*.md"))
    book.write_text(book.read_text(encoding="utf-8").replace("title: ", "title: 新", 1), encoding="utf-8")
    assert rebuild() == with_rows                          # the rulebook changed: everything is checked again
    uid, ref, value, note = (folder / "shequ.csv").read_text(encoding="utf-8").split("\n")[1].split(",")
    (folder / "corrections.csv").write_text("date,unit_id,ref,source,field,old,new,reason\n"
                                            f"2025-01-09,{uid},{ref},组织考核,note,{note},已整改,复核\n", encoding="utf-8")
    assert rebuild() == ["shequ.csv"]                      # the file with the corrected unit's rows
    with open(folder / "corrections.csv", "a", encoding="utf-8") as f:   # a value: its row is the correction's
        f.write(f"2025-01-10,{uid},{ref},组织考核,value,{value},{value},复核\n")
    assert rebuild() == ["corrections.csv", "shequ.csv"]
    edit("jiguan.csv", 1, "不是数字")
    with pytest.raises(ContentError) as failed:
        build(content, out, drafts=True, shown="content", search=False, warm=warm)
    with pytest.raises(ContentError) as fresh:
        check(content, "content")
    assert failed.value.report.lines() == fresh.value.report.lines()
    assert any("jiguan.csv:2" in line and "不是有效数字" in line for line in failed.value.report.lines())
    edit("jiguan.csv", 1, "2")
    assert rebuild() == ["corrections.csv", "jiguan.csv", "shequ.csv"]
    assert len(warm.checked["bench-2022"]) == len(with_rows)
    # a file read once under serve (kept packed, Warm.read) still reports its warning in every rebuild
    first = (folder / "jiguan.csv").read_text(encoding="utf-8").split("\n")[2].split(",")
    (folder / "extra.csv").write_text(f"unit_id,ref,value,other\n{first[0]},{first[1]},{first[2]},x\n", encoding="utf-8")
    rebuild()
    edit("jiguan.csv", 1, "1")
    site = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert any("extra.csv" in line and "未知的列 other" in line for line in site.report.lines())


def test_the_manifest_kept_in_memory_is_used_only_while_the_file_is_unchanged(tmp_path):
    """write_manifest keeps what it wrote for the next build of the same process (serve); a manifest that
    was changed, replaced or removed since is read from disk."""
    import os
    import time
    from generator.write import read_manifest, write_manifest
    manifest = {"inputs": "a" * 64, "notes": {}, "files": {"index.html": "0" * 64}, "sources": {"index.html": "1" * 64}}
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) is manifest
    path = tmp_path / MANIFEST
    text = path.read_text(encoding="utf-8")
    time.sleep(0.01)
    path.write_text(text.replace("1" * 64, "2" * 64), encoding="utf-8")    # the same size, in place
    assert read_manifest(tmp_path)["sources"] == {"index.html": "2" * 64}
    write_manifest(tmp_path, manifest)
    os.replace(tmp_path / MANIFEST, tmp_path / "old")
    (tmp_path / "old").rename(tmp_path / MANIFEST)       # the same file back: still the one written
    assert read_manifest(tmp_path) is manifest
    (tmp_path / MANIFEST).unlink()
    assert read_manifest(tmp_path) == {}
    assert json.loads(text) == manifest           # what is written is plain compact JSON
    assert text == json.dumps(manifest, ensure_ascii=False, separators=(",", ":"))


def test_a_file_is_hashed_again_whenever_its_bytes_may_have_changed(tmp_path, monkeypatch):
    """write.file_digest keeps a file's SHA-256 by its inode, size and times (kaohe serve and the resident
    process do not read the unchanged content folder again): a rewrite with the same size and the old
    modification time put back still changes the change time, and is seen; a file written just before it
    was read is read again next time."""
    import time as clock

    from generator import write
    path = tmp_path / "results.csv"
    path.write_bytes(b"unit_id,ref,value\na,A1,1\n")
    write.file_digest(path)
    assert path not in write._digests                     # written just now: read again next time
    real = clock.time_ns
    monkeypatch.setattr(write.time, "time_ns", lambda: real() + 3 * 10**9)     # three seconds later
    first = write.file_digest(path)
    assert first == hashlib.sha256(path.read_bytes()).digest()
    assert path in write._digests                         # kept: not read again while unchanged
    stamp = os.stat(path)
    clock.sleep(0.01)
    path.write_bytes(b"unit_id,ref,value\na,A1,2\n")       # the same size
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))   # and the old modification time put back
    assert write.file_digest(path) == hashlib.sha256(b"unit_id,ref,value\na,A1,2\n").digest() != first


def children_checking() -> list[int]:
    """This process's children that are running write.ExistCheck's program."""
    found = []
    for task in os.listdir("/proc/self/task"):
        for pid in open(f"/proc/self/task/{task}/children").read().split():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"isfile(root + os.sep + rel)" in cmdline:
                found.append(int(pid))
    return found


@pytest.mark.parametrize("works", [True, False])
def test_files_deleted_by_hand_are_found_by_the_check_process(tmp_path, monkeypatch, works):
    """write.ExistCheck: another process finds which files of the site are missing while the content is
    read; a rebuild makes them again. When the check fails, each kept file is checked as it is kept."""
    from generator.write import ExistCheck
    monkeypatch.setattr("generator.write.CHECK_FILES", 0)
    if not works:
        monkeypatch.setattr(ExistCheck, "PROGRAM", "import sys; sys.exit(3)")
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    gone = ["units/jg-b/index.html", "results/2023/jg-a/index.html", "rules/2023-t/index.html"]
    for rel in gone:
        (out / rel).unlink()
    check = ExistCheck.start(out)
    assert check.missing() == (set(gone) if works else None)
    # a build that fails stops its check
    corrections = content / "results/2024/corrections.csv"
    text = corrections.read_text(encoding="utf-8")
    corrections.write_text(text + "2025-02-11,no-such-unit,B1,组织考核,value,1,2,错误的一行\n", encoding="utf-8")
    with pytest.raises(ContentError):
        build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert children_checking() == []
    corrections.write_text(text, encoding="utf-8")
    # a correction: the deleted pages, which it does not change, are made again
    add_once(corrections, "jg-b,B1", "2025-02-10,jg-b,B1,组织考核,value,99,94,复核出勤记录")
    before = stamps(out)
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert all((out / rel).is_file() for rel in gone)
    assert stamps(out)["rules/2024-t/index.html"] == before["rules/2024-t/index.html"]    # kept as it was
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []


def test_serve_reads_a_rulebook_again_only_when_it_changed(tmp_path, monkeypatch):
    """Under serve an unchanged rulebook file is taken as read by the build before (Warm.read); a changed
    one is read again, and the rebuild equals a full build; so does one after a unit is renamed."""
    import generator.rules as rules_module
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    out = tmp_path / "output"
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    read = []
    load_file = rules_module._load_file
    monkeypatch.setattr(rules_module, "_load_file", lambda path, *a: (read.append(path.name), load_file(path, *a))[1])
    correct_jg_b(content)
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert read == []
    book = content / "rules/2024-t.md"
    book.write_text(book.read_text(encoding="utf-8").replace("有记录。", "有记录(新)。"), encoding="utf-8")
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert read == ["2024-t.md"]
    assert "有记录(新)" in (out / "rules/2024-t/index.html").read_text(encoding="utf-8")
    # a unit renamed: the rounds' layouts (kept while their context is the same: Warm.layout) are made again
    units = content / "units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("甲局", "甲局(新名)"), encoding="utf-8")
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    assert same_bytes(out, full) == []
