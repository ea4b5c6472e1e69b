"""A correction that moves a category's shown average changes every scorecard of that category. Under
serve (and in kaohe build's resident process) those scorecards are redrawn by writing the new averages
into their files (generator/holes.py), which must give exactly the bytes of rendering them again."""
from __future__ import annotations

import re
import shutil

import pytest

from conftest import REPO
from generator.build import build
from generator.warm import Warm
from test_incremental import files, same_bytes, unit_keys_are_fresh

GOLDEN = REPO / "tests" / "golden" / "content"
PEER = "results/2024/jg-b/index.html"          # jg-a's only peer in its category (机关事业单位) in 2024


def site(tmp_path):
    """The golden site with its 2024 round still a draft (not yet locked), whose results are edited as
    they are before publication."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN, content)
    round_dir = content / "results/2024"
    for name in ("published.lock", "corrections.csv"):
        (round_dir / name).unlink()
    shutil.rmtree(round_dir / "archive")
    yaml = round_dir / "round.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("status: 公示", "status: draft"), encoding="utf-8")
    return content, tmp_path / "output"


def correct_jg_a(content, value: str) -> None:
    """jg-a's B1 (attendance, 90 %) as `value`: below 80 % the item drops from 6 to 2 points, and so does
    the category's average of section B; jg-b, its only peer, stays first with the same grade and award."""
    results = content / "results/2024/results.csv"
    text = results.read_text(encoding="utf-8")
    results.write_text(re.sub(r"jg-a,B1,\d+,", f"jg-a,B1,{value},", text), encoding="utf-8")


def full_build(content, tmp_path):
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content", search=False)
    return full


def test_a_moved_average_is_written_into_the_peers_scorecards_as_rendering_would(tmp_path):
    content, out = site(tmp_path)
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    before = (out / PEER).read_bytes()
    correct_jg_a(content, "70")       # the category's average of section B moves
    again = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert again.refilled == 1        # jg-b's scorecard: only its averages changed
    assert (out / PEER).read_bytes() != before
    # jg-b's unit page shows its total, grade, rank and award only: its key is the last build's, and right
    unit_keys_are_fresh(warm, content)
    assert same_bytes(out, full_build(content, tmp_path)) == []
    # and back: the averages written a second time, over the first ones
    correct_jg_a(content, "75")       # 2 points as well: no average moves, nothing is refilled
    assert build(content, out, drafts=True, shown="content", search=False, warm=warm).refilled == 0
    correct_jg_a(content, "85")       # back to 6 points: the first averages, written over the second
    third = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert third.refilled == 1
    assert same_bytes(out, full_build(content, tmp_path / "again")) == []


def test_a_scorecard_changed_by_hand_is_rendered_again_not_refilled(tmp_path):
    content, out = site(tmp_path)
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    page = out / PEER
    page.write_bytes(page.read_bytes().replace("类别平均".encode("utf-8"), "类别均值".encode("utf-8"), 1))
    correct_jg_a(content, "70")
    again = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert again.refilled == 0
    assert same_bytes(out, full_build(content, tmp_path)) == []


def test_a_hole_character_in_a_result_note_is_shown_as_written(tmp_path):
    """Private-use characters mark where the averages go while a scorecard is rendered; a note that carries
    one is not mistaken for an average: the page is rendered with its averages in place."""
    content, out = site(tmp_path)
    results = content / "results/2024/results.csv"
    odd = "\U000F0001\U000F0000"
    results.write_text(results.read_text(encoding="utf-8").replace("被市委通报", f"被市委通报{odd}"),
                       encoding="utf-8")
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert odd in (out / PEER).read_text(encoding="utf-8")
    assert warm.spans[PEER] is None            # rendered plainly: nothing to refill next time
    full = full_build(content, tmp_path)
    assert same_bytes(out, full) == []
    correct_jg_a(content, "70")
    again = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert again.refilled == 0
    assert same_bytes(out, full_build(content, tmp_path / "again")) == []


def test_another_themes_scorecards_are_always_rendered(tmp_path):
    """The holes are placed for the default theme's templates only: another theme may use an average in
    any way, so its scorecards are rendered with the averages in place."""
    content, out = site(tmp_path)
    templates = tmp_path / "themes" / "mine" / "templates"
    templates.mkdir(parents=True)
    (templates / "scorecard.html").write_text(
        '{% extends "base.html" %}{% block main %}{% for s in page.sections %}'
        '<p>{{ s.title }} {{ "高于" if s.average|float < 18 else "不高于" }} 18</p>{% endfor %}{% endblock %}',
        encoding="utf-8")
    config = content / "site.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "theme: mine\n", encoding="utf-8")
    warm = Warm()
    build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert not warm.spans
    correct_jg_a(content, "70")
    again = build(content, out, drafts=True, shown="content", search=False, warm=warm)
    assert again.refilled == 0
    assert same_bytes(out, full_build(content, tmp_path)) == []
    assert files(out)


@pytest.mark.parametrize("edited", [False, True])
def test_serve_started_over_an_up_to_date_site_finds_the_averages_in_the_background(tmp_path, monkeypatch, edited):
    """kaohe serve started over an up-to-date site draws no scorecard, so it does not know where their
    averages are; between rebuilds it draws them in the background (holes.SpanFill), and the first
    correction that moves an average refills them, with the bytes of a full build. A scorecard changed by
    hand is not the drawing: the correction draws it again."""
    import asyncio

    from tornado.ioloop import IOLoop

    from livereload.handlers import LiveReloadHandler
    from livereload.watcher import Watcher

    from generator.serve import Preview
    monkeypatch.setattr(LiveReloadHandler, "watcher", Watcher())
    content, out = site(tmp_path)
    build(content, out, drafts=True, shown="content")        # the site, up to date (serve indexes it too)
    if edited:
        page = out / PEER
        page.write_bytes(page.read_bytes().replace("类别平均".encode("utf-8"), "类别均值".encode("utf-8"), 1))
    preview = Preview(content, out, "content")
    loop = preview.loop = IOLoop()
    try:
        preview.rebuild()                      # writes nothing: only fills the preview's memory
        assert preview.filling is not None and PEER not in preview.warm.spans
        assert any(space[0] == "2024" and rows for space, rows in preview.warm.data_rows.items())
        deadline = loop.time() + 60

        async def filled() -> None:
            while preview.filling is not None and loop.time() < deadline:
                await asyncio.sleep(0.01)
        loop.run_sync(filled)
        assert preview.filling is None and PEER in preview.warm.spans
        correct_jg_a(content, "70")           # the category's average of section B moves
        preview.poll()
        assert preview.failure is None and preview.refilled == (0 if edited else 1)
        loop.run_sync(filled)
    finally:
        loop.close()
    full = tmp_path / "full"
    build(content, full, drafts=True, shown="content")
    assert same_bytes(out, full) == []
