"""Markdown written by content authors, rendered so that it can never inject markup or script.

Raw HTML in the source is shown as text (the HTML block and inline HTML processors are removed), and
links or images with a scheme other than http(s)/mailto are dropped; images from outside the site
are dropped too, since the intranet cannot fetch them.
"""
from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import markdown
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):")


class _SafeLinks(Treeprocessor):
    def run(self, root: Element) -> None:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag == "a":
                    href = child.get("href", "")
                    scheme = SCHEME.match(href)
                    if scheme and scheme.group(1).lower() not in ("http", "https", "mailto"):
                        del child.attrib["href"]
                    elif scheme:
                        child.set("rel", "noopener noreferrer")
                elif child.tag == "img":
                    src = child.get("src", "")
                    if SCHEME.match(src) or src.startswith("//"):
                        parent.remove(child)   # external or scripted image: not fetched on the intranet


class _Safe(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "kaohe_safe_links", 0)


_md = markdown.Markdown(extensions=["tables", "sane_lists", _Safe()], output_format="html")


def render(text: str) -> Markup:
    """Author Markdown as safe HTML."""
    if not text or not text.strip():
        return Markup("")
    _md.reset()
    return Markup(_md.convert(text))
