"""Rendering pages with the theme: Jinja2 (autoescape on, StrictUndefined), assets, search indexes.

A theme is a folder with `templates/` and `static/`. `site.yaml`'s `theme: NAME` puts
`themes/NAME/` (beside the content folder) in front of the default theme: any template or asset
it has replaces the default one of the same name.
"""
from __future__ import annotations

import hashlib
import pickle
import traceback
from pathlib import Path

import orjson

from markupsafe import Markup, escape
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.compiler import CodeGenerator

from .errors import ContentError, Report, fail
from .holes import stock
from .model import Page, SiteInfo
from .pagekeys import dumps

DEFAULT_THEME = Path(__file__).resolve().parent.parent / "themes" / "default"


def theme_dirs(content_dir: Path, shown: str, theme: str | None, report: Report) -> list[Path]:
    dirs = []
    if theme:
        own = content_dir.parent / "themes" / theme
        if own.is_dir():
            dirs.append(own)
        else:
            report.error(f"{shown}/site.yaml", None, f"找不到主题文件夹 {own};请建立该文件夹(其中放 templates/ 和 static/),或删去 site.yaml 中的 theme")
    if not (DEFAULT_THEME / "templates").is_dir():
        report.error(str(DEFAULT_THEME), None, "找不到默认主题;请以可编辑方式安装 kaohe(pip install -e .),使 themes/default 与 generator 位于同一目录")
    dirs.append(DEFAULT_THEME)
    return dirs


try:
    from markupsafe import _escape_inner        # the C function behind markupsafe.escape
except ImportError:                             # a markupsafe without it: the public function
    def _escape_inner(text: str) -> str:
        return str(escape(text))


def output_escape(value) -> str:
    """What `{{ value }}` writes with autoescape on: markupsafe.escape's text, as a plain str. Jinja only
    joins what a template outputs (and wraps a captured block in Markup itself), so the Markup object
    escape() builds for every expression (a Python-level __new__, about a tenth of a scorecard's time)
    is not needed here; the escaping is markupsafe's own, character for character."""
    if type(value) is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape_inner(str(value))


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, except that an autoescaped `{{ }}` calls output_escape."""

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            return super()._output_child_pre(node, frame, finalize)
        self.write("environment.output_escape(")
        if finalize.src is not None:
            self.write(finalize.src)


class _Environment(Environment):
    code_generator_class = _CodeGenerator
    output_escape = staticmethod(output_escape)


def _environment_class() -> type:
    """_Environment where it writes what Jinja itself would (the override relies on a method of Jinja's
    code generator); else Jinja's own Environment."""
    source = ("{% macro m(x) %}[{{ x }}|{{ x }}]{% endmacro %}{{ a }}{{ b }}{{ c }}|{% for i in l %}<{{ i }}{{ m(i) }}>"
              "{% endfor %}{% if c %}{{ a }}!{% endif %}{% set t %}{{ a }}{{ c }}{% endset %}{{ t }}")
    try:
        out = _Environment(autoescape=True).from_string(source).render(a="<&'\">", b=Markup("<i>"), c=1, l=[1, "&"])
        expected = Environment(autoescape=True).from_string(source).render(a="<&'\">", b=Markup("<i>"), c=1, l=[1, "&"])
    except Exception:
        return Environment
    return _Environment if out == expected == ("&lt;&amp;&#39;&#34;&gt;<i>1|<1[1|1]><&amp;[&amp;|&amp;]>"
                                               "&lt;&amp;&#39;&#34;&gt;!&lt;&amp;&#39;&#34;&gt;1") else Environment


ENVIRONMENT = _environment_class()


class Renderer:
    def __init__(self, themes: list[Path], site: SiteInfo):
        self.themes = themes
        self.site = site
        # everything a page's bytes depend on besides its model: the templates and the generator itself
        salt = hashlib.sha256(pickle.dumps(site))
        for folder in [*themes, Path(__file__).parent]:
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                salt.update(path.as_posix().encode("utf-8") + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        self.salt = salt.digest()
        self.env = ENVIRONMENT(
            loader=ChoiceLoader([FileSystemLoader(str(t / "templates")) for t in themes]),
            autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True, auto_reload=False)   # kept only while the theme files are the same (salt)
        self.fragments: dict = {}
        self.templates: dict = {}
        self.stock = stock(themes, DEFAULT_THEME)     # every template is the default theme's (holes.py)
        self.env.filters["fragment"] = self.fragment
        self.env.filters["fragments"] = self.fragments_of

    FRAGMENTS = 100_000     # rendered fragments remembered; most units share most of their item rows

    def fragment(self, value, template: str, **names) -> Markup:
        """`{{ it|fragment("scorecard_row.html", root=root) }}`: render a small template with `it` and the
        given names only, once per distinct (template, it, names), and reuse the result. The fragment sees
        nothing else, so the cache can never show stale text; at 10,000 units about 3% of a round's item
        rows are distinct, so the rest are not rendered at all."""
        # keyed on the object itself (RoundView.item_line hands out one object per distinct row); the entry
        # holds the object, so its id cannot be reused by another while the entry lives
        key = (template, id(value), tuple(names.items()))
        hit = self.fragments.get(key)
        if hit is None:
            if len(self.fragments) >= self.FRAGMENTS:
                self.fragments.clear()
            hit = (value, Markup(self.template(template).render(it=value, **names)))
            self.fragments[key] = hit
        return hit[1]

    def fragments_of(self, values, template: str, **names) -> Markup:
        """`{{ s.items|fragments("scorecard_row.html", root=root) }}`: `fragment` for each value, joined; the
        same text as a `{% for %}` loop over `fragment`, without a template loop per row."""
        names_key = tuple(names.items())
        cache = self.fragments
        out = []
        for value in values:
            hit = cache.get((template, id(value), names_key))
            out.append(hit[1] if hit is not None else self.fragment(value, template, **names))
        return Markup("".join(out))

    def template(self, name: str):
        """A theme template, loaded once. Its globals become a plain dict: Jinja copies them into every
        render's context, and copying the ChainMap it keeps them in costs more than rendering a small
        fragment; the globals never change during a build."""
        template = self.templates.get(name)
        if template is None:
            template = self.templates[name] = self.env.get_template(name)
            template.globals = dict(template.globals)
        return template

    def fingerprint(self, page: Page) -> str:
        """What the page is rendered from: its model, its place and template, the theme and the code.
        A rebuild keeps the current page when this is unchanged, without rendering it."""
        if page.key is not None:        # a keyed page (pagekeys.py): cheap, no model to pickle
            return keyed_source(self.group(page.template, page.section, page.draft, page.superseded), page.path,
                                page.title, page.key)
        parts = (page.path, page.template, page.title, page.section, page.draft, page.superseded, page.page)
        return hashlib.sha256(self.salt + dumps(parts)).hexdigest()

    def group(self, template: str, section: str, draft: bool, superseded) -> bytes:
        """The part of a keyed page's fingerprint that a whole group of pages shares (a round's scorecards):
        computed once per group, then keyed_source() per page, without making the Page (parallel.Keeper)."""
        return self.salt + "\0".join((template, section, str(draft),
                                      superseded.text + "\0" + superseded.url if superseded else "")).encode("utf-8")

    def render(self, page: Page) -> bytes:
        return self.render_text(page).encode("utf-8")

    def render_text(self, page: Page) -> str:
        if page.page is None:           # a keyed page: its model is made only now that it is rendered
            page.page = page.make()
            page.title = page.title or page.page.title
        root = "../" * page.path.count("/")
        try:
            template = self.template(page.template)
            return template.render(page=page.page, meta=page, site=self.site, root=root)
        except TemplateError as exc:
            raise template_problem(exc, page) from None

    def render_record(self, record) -> bytes:
        """A search record (model.SearchRecord) as the small page Pagefind indexes."""
        try:
            return self.template("search.html").render(record=record, site=self.site).encode("utf-8")
        except TemplateError as exc:
            raise template_problem(exc, Page(record.path, "search.html", record, record.title, "")) from None

    def assets(self):
        """(assets/<path>, bytes) for every static file; a theme earlier in the list wins."""
        seen = {}
        for theme in reversed(self.themes):
            static = theme / "static"
            if static.is_dir():
                for path in sorted(static.rglob("*")):
                    if path.is_file() and not path.name.startswith("."):
                        seen[path.relative_to(static).as_posix()] = path
        for rel in sorted(seen):
            yield f"assets/{rel}", seen[rel].read_bytes()


def keyed_source(group: bytes, path: str, title: str, key: bytes) -> str:
    """A keyed page's fingerprint: its group (Renderer.group), place, title and key."""
    return hashlib.sha256(group + f"\0{path}\0{title}\0".encode("utf-8") + key).hexdigest()


def template_problem(exc: TemplateError, page: Page) -> ContentError:
    """A theme template that fails is the theme author's error: name the template file and line."""
    path, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if not isinstance(exc, TemplateSyntaxError):
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith((".html", ".htm", ".xml", ".txt")):
                path, line = frame.filename, frame.lineno
                break
    what = "语法错误" if isinstance(exc, TemplateSyntaxError) else "渲染出错"
    return fail(path or page.template, line, f"主题模板{what}({exc.message}),生成 {page.path} 时发生;"
                                            f"请改正模板,网站未更新")


def lookup_index(content) -> bytes:
    """assets/lookup.js: units and rulebooks by name and former name, for finding them from a file share
    (where Pagefind cannot run). A script assigning a global works from file://, where fetch() does not."""
    entries = [{"t": "单位", "n": u.name, "f": "、".join(u.former_names), "c": u.category, "i": u.id,
                "u": f"units/{u.id}/index.html"} for u in content.units.values()]
    entries += [{"t": "细则", "n": b.title, "f": "", "c": str(b.year), "i": b.id, "u": f"rules/{b.id}/index.html"}
                for b in content.rulebooks.values()]
    # orjson writes what json.dumps(ensure_ascii=False, separators=(",", ":")) writes (tests/test_site.py), in
    # a tenth of the time: 0.02 s of every rebuild at 10,000 units
    return b"window.KAOHE_LOOKUP = " + orjson.dumps(entries) + b";\n"
