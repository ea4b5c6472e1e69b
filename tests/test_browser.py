"""The built example site in a real browser (Debian's chromium driven by Playwright), used as a person
would: over http from a real server under a sub-path, and from file:// as from a file share.

The site is built once per module; it is served from its parent folder so pages live under /site/,
which proves every link, script and search result works from a sub-path. Every page opened records its
console messages, page errors and requests; each test ends by asserting there were no errors and that
nothing was requested from outside the site. Every wait is bounded."""
from __future__ import annotations

import csv
import functools
import io
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from conftest import REPO
from generator.cli import main

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package); browser tests need it",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
expect = sync_api.expect

CONTENT = REPO / "content"
SUB = "site"                      # the sub-path the site is served under: http://127.0.0.1:PORT/site/
ROUND = "2023-annual"
UNIT = "szjg-shuiwu"
TIMEOUT = 10_000                  # ms; bounded, yet generous enough for a loaded 2-core machine
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

expect.set_options(timeout=TIMEOUT)


# ---------------------------------------------------------------------------------------------- data

def units_csv() -> dict[str, dict]:
    with open(CONTENT / "units.csv", encoding="utf-8-sig", newline="") as f:
        return {row["unit_id"]: row for row in csv.DictReader(f)}


def former_names(row: dict) -> list[str]:
    return [n.strip() for n in re.split(r"[;;]", row.get("former_names") or "") if n.strip()]


def round_title(rid: str) -> str:
    return yaml.safe_load((CONTENT / "results" / rid / "round.yaml").read_text(encoding="utf-8"))["title"]


def scores(out: Path, rid: str) -> dict[str, dict]:
    text = (out / "results" / rid / "data" / "scores.csv").read_text(encoding="utf-8-sig")
    return {row["unit_id"]: row for row in csv.DictReader(io.StringIO(text))}


# ------------------------------------------------------------------------------------------ fixtures

UNITS_PER_BUNDLE = 50     # the example's units are searched across three Pagefind bundles, as a province's are


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example content built once, by the real command line, into <tmp>/site, with its units indexed
    in bundles of 50 so that the search box has to merge three bundles."""
    from generator import searchindex
    out = tmp_path_factory.mktemp("browser") / SUB
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(searchindex, "UNITS_PER_BUNDLE", UNITS_PER_BUNDLE)
        assert main(["build", "--content", str(CONTENT), "--output", str(out)]) == 0
    assert (out / "index.html").is_file() and (out / "pagefind").is_dir()
    assert (out / "pagefind-2").is_dir() and (out / "pagefind-3").is_dir() and not (out / "pagefind-4").exists()
    return out


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server(site):
    """A real ThreadingHTTPServer on 127.0.0.1 (free port) serving the site's parent folder."""
    handler = functools.partial(QuietHandler, directory=str(site.parent))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base(server) -> str:
    """The site's address under its sub-path, ending in '/'."""
    return f"{server}/{SUB}/"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True,
                              timeout=60_000)
        try:
            yield b
        finally:
            b.close()


class Watch:
    """What every page of one browser context logged, failed at, and asked for."""

    def __init__(self, server: str, site: Path):
        self.server, self.site = urlsplit(server), site.resolve()
        self.console: list[str] = []       # console errors
        self.warnings: list[str] = []      # console warnings (reported, not failed on)
        self.errors: list[str] = []        # uncaught exceptions
        self.requests: list[str] = []      # every URL asked for
        self.failed: list[str] = []        # requests that failed or got an error status
        self._pages: set[int] = set()

    def attach(self, page) -> None:
        if id(page) in self._pages:
            return
        self._pages.add(id(page))
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"{page.url}: {err}"))
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("requestfailed", lambda req: self.failed.append(f"{req.url}: {req.failure}"))
        page.on("response", lambda res: res.status >= 400 and self.failed.append(f"{res.url}: HTTP {res.status}"))

    def _console(self, msg) -> None:
        line = f"{msg.type}: {msg.text} ({msg.location.get('url', '')})"
        if msg.type in ("error", "assert"):
            self.console.append(line)
        elif msg.type == "warning":
            self.warnings.append(line)

    def outside(self) -> list[str]:
        """Requests for anything but this site: another host or port, a path outside /site/, or a file
        outside the built folder."""
        bad = []
        for url in self.requests:
            u = urlsplit(url)
            if u.scheme in ("data", "blob", "about"):
                continue
            if u.scheme in ("http", "https", "ws", "wss"):
                if u.hostname != "127.0.0.1" or u.port != self.server.port or not u.path.startswith(f"/{SUB}/"):
                    bad.append(url)
            elif u.scheme == "file":
                if not Path(unquote(u.path)).resolve().is_relative_to(self.site):
                    bad.append(url)
            else:
                bad.append(url)
        return bad

    def assert_clean(self) -> None:
        assert not self.errors, "uncaught page errors:\n" + "\n".join(self.errors)
        assert not self.console, "console errors:\n" + "\n".join(self.console)
        assert not self.failed, "failed requests:\n" + "\n".join(self.failed)
        assert not self.outside(), "requests outside the site:\n" + "\n".join(self.outside())


@pytest.fixture
def watch(server, site):
    return Watch(server, site)


@pytest.fixture
def page(browser, watch):
    """A fresh browser context and page; every page opened in it is watched."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  service_workers="block")
    context.set_default_timeout(TIMEOUT)
    context.set_default_navigation_timeout(TIMEOUT)
    context.on("page", watch.attach)
    pg = context.new_page()
    watch.attach(pg)
    try:
        yield pg
    finally:
        context.close()
    if watch.warnings:
        print("console warnings:\n" + "\n".join(watch.warnings))


def url_re(path: str) -> re.Pattern:
    """A pattern for a full URL ending in `path` (optionally followed by a fragment)."""
    return re.compile(re.escape(path) + r"(#.*)?$")


# ---------------------------------------------------------------------------------------------- tests

def test_directory_filter_unit_history_scorecard(page, watch, base, site):
    """Home → 参评单位 → filter by part of a name → the unit → 查看 its 2023 scorecard; the total and
    grade shown are those in the round's scores.csv."""
    query = "水务"
    units = units_csv()
    expected = sorted(r["name"] for r in units.values()
                      if query in r["name"] + "".join(former_names(r)) + r["unit_id"])
    assert units[UNIT]["name"] in expected
    name = units[UNIT]["name"]

    page.goto(base + "index.html")
    expect(page).to_have_title(re.compile(".+"))
    page.locator(".kh-nav").get_by_role("link", name="参评单位", exact=True).click()
    expect(page).to_have_url(url_re(f"/{SUB}/units/index.html"))

    items = page.locator("#kh-units [data-kh-item]")
    expect(items).to_have_count(len(units))
    expect(items.filter(visible=True)).to_have_count(len(units))

    page.locator("#kh-filter-units").press_sequentially(query, delay=60)
    shown = items.filter(visible=True)
    expect(shown).to_have_count(len(expected))
    assert sorted(t.strip() for t in shown.locator("a").all_inner_texts()) == expected
    expect(page.locator("[data-kh-count]")).to_contain_text(str(len(expected)))
    # groups left without a match are hidden too
    for group in page.locator("#kh-units [data-kh-group]").all():
        if group.locator("[data-kh-item]:not([hidden])").count() == 0:
            expect(group).to_be_hidden()

    shown.get_by_role("link", name=name, exact=True).click()
    expect(page).to_have_url(url_re(f"/{SUB}/units/{UNIT}/index.html"))
    expect(page.locator("h1")).to_have_text(name)
    history = page.locator("table.kh-table").filter(has=page.get_by_role("columnheader", name="记分卡"))
    expect(history).to_be_visible()

    title = round_title(ROUND)
    row = history.locator("tbody tr").filter(has=page.get_by_role("link", name=title, exact=True))
    expect(row).to_have_count(1)
    row.get_by_role("link", name="查看", exact=True).click()
    expect(page).to_have_url(url_re(f"/{SUB}/results/{ROUND}/{UNIT}/index.html"))

    want = scores(site, ROUND)[UNIT]
    expect(page.locator("h1")).to_contain_text(name)
    expect(page.locator(".kh-total").filter(has_text="总分").locator(".kh-big")).to_have_text(want["total"])
    expect(page.locator(".kh-total").filter(has_text="等次").locator(".kh-grade")).to_have_text(want["grade"])
    expect(page.locator("table.kh-scorecard")).to_be_visible()
    watch.assert_clean()


def deduction_cases() -> list[tuple[str, str]]:
    # a rulebook written as a folder (2022-shizhi-jiguan) and one written as a single file (2022-jiceng)
    return [(ROUND, UNIT), ("2022-annual", "bh-cun-dongying")]


@pytest.mark.parametrize("rid,uid", deduction_cases())
def test_deduction_links_to_criterion(page, watch, base, site, rid, uid):
    """Each deduction on a scorecard links to its criterion on the rulebook page: the URL fragment is the
    criterion id and that row exists once, is visible, scrolled into view and reads as clicked."""
    rulebook = scores(site, rid)[uid]["rulebook"]
    card = f"{base}results/{rid}/{uid}/index.html"
    page.goto(card)
    links = page.locator("table.kh-scorecard a.kh-criterion")
    count = links.count()
    assert count >= 1, f"{card} shows no deduction"
    for i in range(count):
        if i:
            page.goto(card)
        link = links.nth(i)
        text = link.inner_text().strip()
        href = link.get_attribute("href")
        assert href and "#" in href, href
        cid = href.rsplit("#", 1)[1]
        assert cid, href
        link.click()
        expect(page).to_have_url(url_re(f"/{SUB}/rules/{rulebook}/index.html#{cid}"))
        assert page.evaluate("decodeURIComponent(location.hash.slice(1))") == cid
        target = page.locator(f'[id="{cid}"]')
        expect(target).to_have_count(1)
        expect(target).to_be_visible()
        expect(target).to_contain_text(text)
        expect(target).to_be_in_viewport()
        # the :target row is the one the browser jumped to
        assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == cid
    watch.assert_clean()


@pytest.mark.parametrize("which", ["example unit", "last unit"])
def test_pagefind_search_over_http(page, watch, base, which):
    """Full-text search on the home page finds the unit by its Chinese name, whichever bundle indexes it
    (the last unit is in the third); the result links carry the sub-path and lead to the unit page."""
    uid = UNIT if which == "example unit" else list(units_csv())[-1]
    name = units_csv()[uid]["name"]
    page.goto(base + "index.html")
    box = page.locator("#kh-pagefind .pagefind-ui__search-input")
    expect(box).to_be_visible()
    box.click()
    box.press_sequentially(name, delay=60)

    results = page.locator("#kh-pagefind .pagefind-ui__result-link")
    expect(results.first).to_be_visible()
    hit = results.filter(has_text=name)
    expect(hit.first).to_be_visible()
    wanted = f"/{SUB}/units/{uid}/index.html"
    hrefs = [a.get_attribute("href") or "" for a in results.all()]
    assert all(h.startswith(f"/{SUB}/") for h in hrefs), hrefs
    assert wanted in hrefs, hrefs

    results.and_(page.locator(f'[href="{wanted}"]')).first.click()
    expect(page).to_have_url(url_re(wanted))
    expect(page.locator("h1")).to_have_text(name)
    watch.assert_clean()


def lookup_cases() -> list[tuple[str, str]]:
    """(unit id, former name): the example unit's first former name, and the last of the first unit
    that has several."""
    units = units_csv()
    cases = [(UNIT, former_names(units[UNIT])[0])]
    several = next(uid for uid, row in units.items() if len(former_names(row)) > 1)
    cases.append((several, former_names(units[several])[-1]))
    return cases


@pytest.mark.parametrize("uid,former", lookup_cases())
def test_lookup_by_former_name_from_file(page, watch, site, uid, former):
    """Opened from a file share (file://): the name lookup finds a unit by a former name and its link
    opens the unit page; full-text search says it needs the server instead of failing."""
    name = units_csv()[uid]["name"]
    page.goto(site.joinpath("index.html").as_uri())
    expect(page.locator("#kh-pagefind")).to_contain_text("服务器")

    page.locator("#kh-lookup-input").press_sequentially(former, delay=60)
    results = page.locator("[data-kh-lookup] ul.kh-lookup-results li")
    expect(results.first).to_be_visible()
    by_name = page.get_by_role("link", name=name, exact=True)
    link = results.locator(by_name)
    expect(link).to_have_count(1)
    expect(results.filter(has=by_name)).to_contain_text(former)
    link.click()

    unit_page = site.joinpath("units", uid, "index.html").as_uri()
    expect(page).to_have_url(url_re(unit_page))
    assert page.url.startswith("file://")
    expect(page.locator("h1")).to_have_text(name)
    watch.assert_clean()


def test_print_scorecard(page, watch, base):
    """Printed, a scorecard drops the navigation and breadcrumbs but keeps the table; it prints to PDF."""
    page.goto(f"{base}results/{ROUND}/{UNIT}/index.html")
    expect(page.locator(".kh-nav")).to_be_visible()
    expect(page.locator(".kh-crumbs")).to_be_visible()

    page.emulate_media(media="print")
    expect(page.locator(".kh-nav")).to_be_hidden()
    expect(page.locator(".kh-crumbs")).to_be_hidden()
    expect(page.locator("table.kh-scorecard")).to_be_visible()
    expect(page.locator(".kh-total").first).to_be_visible()

    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF"), pdf[:20]
    assert len(pdf) > 1000
    watch.assert_clean()


def test_pages_load_cleanly(page, watch, base, site):
    """Each kind of page, over http and from file://, loads with no error and nothing from outside."""
    rulebook = scores(site, ROUND)[UNIT]["rulebook"]
    paths = ["index.html", "units/index.html", f"units/{UNIT}/index.html", "rules/index.html",
             f"rules/{rulebook}/index.html", f"results/{ROUND}/index.html", f"results/{ROUND}/{UNIT}/index.html"]
    for path in paths:
        for url in (base + path, site.joinpath(*path.split("/")).as_uri()):
            page.goto(url)
            expect(page.locator("main#main")).to_be_visible()
            expect(page.locator("h1").first).not_to_be_empty()
            # the site's stylesheet loaded and applied (the header gets its coloured background from it)
            assert page.evaluate("getComputedStyle(document.querySelector('.kh-header')).backgroundColor") \
                not in ("rgba(0, 0, 0, 0)", "transparent"), url
    watch.assert_clean()
    assert watch.requests, "no request recorded"
