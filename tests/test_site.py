"""The built site: a golden tree for a small content folder, a link check over the whole example site,
no markup injection, the public profile, theme overrides, and atomic writes.

Golden files: set KAOHE_GOLDEN=update to rewrite tests/golden/expected/ after an intended change,
then review the diff in git.
"""
from __future__ import annotations

import difflib
import os
import re
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import REPO, RULEBOOK_T, ContentDir
from generator.build import build
from generator.errors import ContentError

GOLDEN = REPO / "tests" / "golden"
CONTENT = REPO / "content"


def tree(root: Path, skip=("pagefind/", "assets/", ".kaohe-manifest.json")) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith(skip)}


def test_golden_site(tmp_path):
    out = tmp_path / "output"
    build(GOLDEN / "content", out, drafts=True, shown="content", search=False)
    got = tree(out)
    expected_dir = GOLDEN / "expected"
    if os.environ.get("KAOHE_GOLDEN") == "update":
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, data in got.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_bytes(data)
    expected = tree(expected_dir)
    problems = []
    for rel in sorted(set(got) | set(expected)):
        if rel not in got:
            problems.append(f"missing: {rel}")
        elif rel not in expected:
            problems.append(f"unexpected: {rel}")
        elif got[rel] != expected[rel]:
            if rel.endswith((".html", ".csv", ".json", ".js", ".css")):
                diff = difflib.unified_diff(expected[rel].decode("utf-8-sig").splitlines(),
                                            got[rel].decode("utf-8-sig").splitlines(), f"expected/{rel}", f"got/{rel}",
                                            lineterm="", n=2)
                problems.append("\n".join(list(diff)[:60]))
            else:
                problems.append(f"differs: {rel}")
    assert not problems, "\n".join(problems) + "\n(if intended: KAOHE_GOLDEN=update pytest tests/test_site.py)"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src", "action", "poster", "data") and value is not None:
                self.refs.append((tag, value))


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("example") / "output"
    build(CONTENT, out, drafts=True, shown="content")
    return out


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def test_every_link_of_the_example_site_resolves_and_nothing_is_external(example):
    pages = sorted(example.rglob("*.html"))
    assert len(pages) > 600
    parsed = {p: parse(p) for p in pages}
    broken = []
    for page, links in parsed.items():
        for tag, ref in links.refs:
            if ref.startswith("data:"):
                continue
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                broken.append(f"{page.relative_to(example)}: external or scripted reference {ref!r}")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_file():
                broken.append(f"{page.relative_to(example)}: broken link {ref!r}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(example)}: no #{parts.fragment} in {target.relative_to(example)}")
    assert not broken, "\n".join(broken[:40])
    # the stylesheet and scripts reference nothing outside the site either
    for asset in list((example / "assets").rglob("*.css")) + list((example / "assets").rglob("*.js")):
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), asset
    assert (example / "pagefind" / "pagefind-ui.js").is_file()


def test_every_page_of_spec_8_exists(example):
    for rel in ("index.html", "rules/index.html", "rules/2024-shizhi-jiguan/index.html",
                "rules/2024-shizhi-jiguan/changes/index.html", "units/index.html", "units/szjg-shuiwu/index.html",
                "results/2023-annual/index.html", "results/2023-annual/szjg-shuiwu/index.html",
                "results/2023-annual/data/scores.csv", "results/2023-annual/data/scores.json",
                "results/2023-annual/data/scores.xlsx", "results/2023-annual/data/items.csv"):
        assert (example / rel).is_file(), rel


def test_csv_text_and_markdown_never_inject_markup(tmp_path):
    out = tmp_path / "output"
    build(GOLDEN / "content", out, drafts=True, shown="content", search=False)
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>&</b>" not in text, page
    card = (out / "results/2023/jg-a/index.html").read_text(encoding="utf-8")
    assert "缺1次 &lt;img src=x onerror=alert(1)&gt;" in card
    assert "乙局 &lt;b&gt;&amp;&lt;/b&gt;" in (out / "units/index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (out / "rules/2023-t/index.html").read_text(encoding="utf-8")


def test_template_output_is_escaped_exactly_as_markupsafe_does():
    """render.output_escape (what an autoescaped {{ }} writes) is markupsafe.escape's text for every kind
    of value a template shows; a Markup value (already safe) is written as it is."""
    from decimal import Decimal
    from markupsafe import Markup, escape
    from generator.render import output_escape
    for value in ("<script>alert('1')</script> & \"x\"", Markup("<b>安全</b>"), 3, None, Decimal("1.50"), "普通文字",
                  ("a<b",)):
        assert output_escape(value) == str(escape(value)), value


def test_public_profile_has_no_internal_field_anywhere(tmp_path):
    """Internal result fields, and a units.csv column marked internal, are in no page, data file or search
    record of a public build."""
    from generator.records import search_records
    content = tmp_path / "content"
    shutil.copytree(GOLDEN / "content", content)
    (content / "site.yaml").write_text((content / "site.yaml").read_text(encoding="utf-8")
                                       .replace("internal: [note, 自评]", "internal: [note, 自评, 联系人]"), encoding="utf-8")
    out = tmp_path / "output"
    site = build(content, out, drafts=True, shown="content", profile="public")
    assert not any("张三" in str(line) for r in search_records(site.model) for line in r.lines)
    internal = ("缺1次", "学习记录缺失", "被市委通报", "自评扣3分", "说明,含逗号", "发生案件", "张三")
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for marker in internal:
                assert marker.encode() not in data, (path, marker)
    card = (out / "results/2024/jg-a/index.html").read_text(encoding="utf-8")
    assert "自评" not in card
    # the internal build shows them
    inner = tmp_path / "inner"
    build(GOLDEN / "content", inner, drafts=True, shown="content", search=False)
    card = (inner / "results/2024/jg-a/index.html").read_text(encoding="utf-8")
    assert "学习记录缺失" in card and "自评" in card


def test_a_theme_folder_overrides_default_templates_and_assets(tmp_path):
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.units("a,甲单位,机关事业单位,")
    site.write("site.yaml", "title: 主题测试\ntheme: mine\n")
    theme = tmp_path / "themes" / "mine"
    (theme / "templates").mkdir(parents=True)
    (theme / "static").mkdir()
    (theme / "templates" / "units_index.html").write_text(
        '{% extends "base.html" %}{% block main %}<p class="mine">{{ page.count }} 个单位(自定义主题)</p>{% endblock %}',
        encoding="utf-8")
    (theme / "static" / "kaohe.css").write_text("body { color: #123456; }\n", encoding="utf-8")
    out = tmp_path / "output"
    build(site.root, out, shown="content", search=False)
    assert '<p class="mine">1 个单位(自定义主题)</p>' in (out / "units/index.html").read_text(encoding="utf-8")
    assert (out / "assets/kaohe.css").read_text(encoding="utf-8") == "body { color: #123456; }\n"
    assert (out / "assets/kaohe.js").is_file()          # the rest comes from the default theme
    assert "kh-title" in (out / "index.html").read_text(encoding="utf-8")


def test_a_broken_theme_template_is_a_clear_error_and_the_site_stays(tmp_path, monkeypatch, kaohe):
    monkeypatch.chdir(tmp_path)
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.units("a,甲单位,机关事业单位,")
    assert kaohe("build", "--content", "content", "--output", "output").code == 0
    before = tree(tmp_path / "output")
    site.write("site.yaml", "title: 主题测试\ntheme: bad\n")
    templates = tmp_path / "themes" / "bad" / "templates"
    templates.mkdir(parents=True)
    (templates / "unit.html").write_text('{% extends "base.html" %}\n{% block main %}\n{{ page.no_such_field }}\n{% endblock %}\n',
                                         encoding="utf-8")
    run = kaohe("build", "--content", "content", "--output", "output")
    assert run.code == 1
    assert any(line.startswith("themes/bad/templates/unit.html:3: 错误: 主题模板渲染出错") for line in run.lines), run.lines
    assert tree(tmp_path / "output") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "output", "themes"]


def test_provisional_rounds_say_until_when_and_pending_corrections_show_only_with_drafts(tmp_path):
    out = tmp_path / "output"
    build(GOLDEN / "content", out, shown="content", search=False)
    page = (out / "results/2024/index.html").read_text(encoding="utf-8")
    assert "公示稿" in page and "公示期至 2025年1月15日" in page and "待发布" not in page
    assert "公示期间补交签到表" not in (out / "results/2024/jg-a/index.html").read_text(encoding="utf-8")
    drafts = tmp_path / "drafts"
    build(GOLDEN / "content", drafts, drafts=True, shown="content", search=False)
    page = (drafts / "results/2024/index.html").read_text(encoding="utf-8")
    assert "待发布" in page and "含尚未发布的更正 1 条" in page
    assert "公示期间补交签到表" in (drafts / "results/2024/jg-a/index.html").read_text(encoding="utf-8")
    # the 公示稿 as it was shown stays whole under r0/
    assert "公示期至 2025年1月15日" in (drafts / "results/2024/r0/index.html").read_text(encoding="utf-8")


def test_missing_theme_folder_is_reported(tmp_path):
    site = ContentDir(tmp_path / "content")
    site.rulebook(RULEBOOK_T)
    site.units("a,甲单位,机关事业单位,")
    site.write("site.yaml", "title: x\ntheme: nowhere\n")
    with pytest.raises(ContentError) as err:
        build(site.root, tmp_path / "output", shown="content", search=False)
    assert "找不到主题文件夹" in str(err.value)


@pytest.mark.skipif(not shutil.which("chromium") or not shutil.which("pdftotext"), reason="needs Debian's chromium and poppler-utils")
def test_build_pdf_prints_each_notice_on_a4(tmp_path):
    import subprocess
    out = tmp_path / "output"
    build(GOLDEN / "content", out, shown="content", search=False, pdf=True)
    pdf = out / "results/2023/notice/notice.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    assert "关于2023年度测试考核结果的通报" in flat and "甲局" in flat and "2024年1月12日" in flat
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    assert 'href="../../../results/2023/notice/notice.pdf"' in (out / "results/2023/notice/index.html").read_text(encoding="utf-8")
    # the same content prints the same bytes
    again = tmp_path / "again"
    build(GOLDEN / "content", again, shown="content", search=False, pdf=True)
    assert (again / "results/2023/notice/notice.pdf").read_bytes() == pdf.read_bytes()


def test_parallel_rendering_gives_the_same_site_as_one_process(tmp_path, monkeypatch):
    from generator import parallel
    serial = tmp_path / "serial"
    build(GOLDEN / "content", serial, drafts=True, shown="content", search=False)
    monkeypatch.setattr(parallel, "SMALL", 0)
    monkeypatch.setattr(parallel, "workers_for", lambda units: 3)
    forked = tmp_path / "forked"
    build(GOLDEN / "content", forked, drafts=True, shown="content", search=False)
    assert tree(forked) == tree(serial)


def test_a_theme_error_in_a_worker_process_is_reported_and_the_site_stays(tmp_path, monkeypatch, kaohe):
    from generator import parallel
    monkeypatch.setattr(parallel, "workers_for", lambda units: 2)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(GOLDEN / "content", tmp_path / "content")
    assert kaohe("build", "--content", "content", "--output", "output").code == 0
    before = tree(tmp_path / "output", skip=())       # the whole site, its manifest and search index included
    (tmp_path / "content/site.yaml").write_text("title: t\ntheme: bad\n", encoding="utf-8")
    templates = tmp_path / "themes/bad/templates"
    templates.mkdir(parents=True)
    (templates / "scorecard.html").write_text('{% extends "base.html" %}{% block main %}{{ page.nope }}{% endblock %}',
                                              encoding="utf-8")
    run = kaohe("build", "--content", "content", "--output", "output")
    assert run.code == 1 and any("主题模板渲染出错" in line for line in run.lines)
    assert tree(tmp_path / "output", skip=()) == before   # updated in place: nothing staged is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "output", "themes"]


def test_a_worker_process_that_dies_is_reported_and_the_site_stays(tmp_path, monkeypatch, kaohe):
    """A worker killed outright (out of memory, a signal) never says it has finished: the build stops with
    a message, whatever the worker had made is dropped, and the previous site stays whole."""
    from generator import build, parallel
    monkeypatch.setattr(build, "workers_for", lambda units: 2)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(GOLDEN / "content", tmp_path / "content")
    assert kaohe("build", "--content", "content", "--output", "output").code == 0
    before = tree(tmp_path / "output", skip=())
    share = parallel._render_share

    def dying(model, renderer, files, k, *args, **kwargs):
        count = share(model, renderer, files, k, *args, **kwargs)
        if k == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return count
    monkeypatch.setattr(parallel, "_render_share", dying)
    units = tmp_path / "content/units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("甲局", "甲局(新名)"), encoding="utf-8")
    run = kaohe("build", "--content", "content", "--output", "output")
    assert run.code == 1 and any("子进程异常退出" in line and "输出文件夹保持原样" in line for line in run.lines), run.lines
    assert tree(tmp_path / "output", skip=()) == before


def test_a_broken_search_template_is_reported_as_a_theme_error_and_the_site_stays(tmp_path, monkeypatch, kaohe):
    """The search records are written and indexed by a background process; a theme whose search.html fails
    still gets the template's own message, naming the file, and the previous site stays whole."""
    scratch_before = set(Path("/dev/shm").glob("kaohe-search-*"))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(GOLDEN / "content", tmp_path / "content")
    assert kaohe("build", "--content", "content", "--output", "output").code == 0
    before = tree(tmp_path / "output", skip=())
    (tmp_path / "content/site.yaml").write_text("title: t\ntheme: bad\n", encoding="utf-8")
    templates = tmp_path / "themes/bad/templates"
    templates.mkdir(parents=True)
    (templates / "search.html").write_text("<main>{{ record.nope }}</main>\n", encoding="utf-8")
    run = kaohe("build", "--content", "content", "--output", "output")
    assert run.code == 1
    assert any("主题模板渲染出错" in line and "search.html" in line for line in run.lines), run.lines
    assert tree(tmp_path / "output", skip=()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "output", "themes"]
    assert set(Path("/dev/shm").glob("kaohe-search-*")) <= scratch_before      # no scratch folder is left


def test_the_scratch_of_a_killed_build_is_removed_by_the_next(tmp_path, monkeypatch, kaohe):
    """A build killed outright (kill -9, the OOM killer) cannot remove its search scratch folder, which in
    /dev/shm holds memory until a reboot; the next build removes it, but never that of a build still running."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    where = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else tmp_path
    stale, running = where / f"kaohe-search-{dead.pid}-test", where / f"kaohe-search-{os.getpid()}-test"
    for folder in (stale, running):
        (folder / "1").mkdir(parents=True)
        (folder / "1/index.html").write_text("<p>x</p>", encoding="utf-8")
    try:
        monkeypatch.chdir(tmp_path)
        shutil.copytree(GOLDEN / "content", tmp_path / "content")
        assert kaohe("build", "--content", "content", "--output", "output").code == 0
        assert not stale.exists() and (running / "1/index.html").is_file()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(running, ignore_errors=True)


def test_search_records_hold_names_and_rulebook_text_but_no_scores(tmp_path):
    """What Pagefind indexes: every unit (by name, former name, category), every rulebook with its item
    and criterion text, every round; no score, grade or rank, so a correction never touches the index."""
    from html import escape
    from generator.records import search_records
    from generator.render import Renderer, DEFAULT_THEME
    from generator.model import SiteInfo
    site = build(GOLDEN / "content", tmp_path / "output", drafts=True, shown="content", search=False)
    records = {r.path: r for r in search_records(site.model)}
    content = site.content
    assert {f"units/{u}/index.html" for u in content.units} <= set(records)
    assert {f"rules/{b}/index.html" for b in content.rulebooks} <= set(records)
    assert {f"results/{r}/index.html" for r in site.scores} <= set(records)
    renderer = Renderer([DEFAULT_THEME], SiteInfo("t", "o", False))
    for book in content.rulebooks.values():
        page = renderer.render_record(records[f"rules/{book.id}/index.html"]).decode("utf-8")
        assert "data-pagefind-body" in page and 'data-pagefind-filter="类型:考核细则"' in page
        for item in (it for s in book.sections for it in s.items):
            assert escape(item.title) in page
            assert all(escape(c.text) in page for c in item.criteria)
    former = next(u for u in content.units.values() if u.former_names)
    assert ("曾用名", "、".join(former.former_names)) in records[f"units/{former.id}/index.html"].meta
    for rid, score in site.scores.items():
        for u, unit in enumerate(score.layout.units):
            text = renderer.render_record(records[f"units/{unit.id}/index.html"]).decode("utf-8")
            assert escape(unit.name) in text and f"类别:{escape(unit.category)}" in text
            total = site.model.views[rid].totals[u]
            assert total not in text and "名次" not in text and "等次" not in text, (unit.id, total)


def test_item_rows_are_a_theme_fragment_shared_only_between_equal_rows(tmp_path):
    """scorecard_row.html renders one item row; rows are rendered once per distinct line and shared, so a
    theme can override the row alone, and each unit still shows its own score on it."""
    content = tmp_path / "content"
    shutil.copytree(GOLDEN / "content", content)
    (content / "site.yaml").write_text((content / "site.yaml").read_text(encoding="utf-8") + "theme: mine\n",
                                       encoding="utf-8")
    templates = tmp_path / "themes" / "mine" / "templates"
    templates.mkdir(parents=True)
    (templates / "scorecard_row.html").write_text(
        '<tr class="mine" id="{{ it.id }}"><td>{{ it.id }}={{ it.score }}</td></tr>\n', encoding="utf-8")
    site = build(content, tmp_path / "output", drafts=True, shown="content", search=False)
    for rid, score in site.scores.items():
        view = site.model.views[rid]
        for u, unit in enumerate(score.layout.units):
            page = (tmp_path / "output" / view.scorecard_url(u)).read_text(encoding="utf-8")
            card = view.scorecard(u, lambda b: f"rules/{b}/index.html")
            for line in (it for s in card.sections for it in s.items):
                assert f'<tr class="mine" id="{line.id}"><td>{line.id}={line.score}</td></tr>' in page


def test_the_name_lookup_lists_every_unit_and_rulebook_as_compact_json(tmp_path):
    """assets/lookup.js (the name lookup that works from a file share): every unit by name, former names and
    category, every rulebook; written by orjson as json.dumps(ensure_ascii=False) writes it, markup as text."""
    import json

    from generator.build import check
    from generator.render import lookup_index
    content = tmp_path / "content"
    shutil.copytree(GOLDEN / "content", content)
    units = content / "units.csv"
    units.write_text(units.read_text(encoding="utf-8") + 'x-1,"引号""反斜杠\\、</script>",党(工)委,,旧名\u2028,,\n',
                     encoding="utf-8")
    site = check(content, "content")
    data = lookup_index(site.content)
    prefix, suffix = b"window.KAOHE_LOOKUP = ", b";\n"
    assert data.startswith(prefix) and data.endswith(suffix)
    entries = json.loads(data[len(prefix):-len(suffix)])
    assert data[len(prefix):-len(suffix)] == json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode()
    names = {e["i"]: e["n"] for e in entries if e["t"] == "单位"}
    assert names["x-1"] == '引号"反斜杠\\、</script>' and names["jg-b"] == "乙局 <b>&</b>"
    assert set(names) == {"gw", "jg-a", "jg-b", "sq-c", "x-1"}
    assert {e["i"] for e in entries if e["t"] == "细则"} == set(site.content.rulebooks)
