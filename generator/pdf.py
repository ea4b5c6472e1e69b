"""Printing a built page (the 通报) to PDF with headless Chromium, reproducibly.

Chromium (Debian's `chromium` package) lays the page out with the theme's print CSS: `@page` size and
margins, and the page-margin boxes that carry the page numbers. It stamps the PDF with the time of
printing; those dates are overwritten with a fixed value of the same byte length (so the
cross-reference offsets stay valid), and a document /ID, if any, with a hash of the content, so the
same page always prints to the same bytes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import fail

TIMEOUT = 120                                    # seconds; a notice prints in one or two
DATE = re.compile(rb"(/(?:CreationDate|ModDate)\s*\()(D:[^)]*)(\))")
ID = re.compile(rb"(/ID\s*\[\s*<)([0-9A-Fa-f]*)(>\s*<)([0-9A-Fa-f]*)(>\s*\])")


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def print_pdf(html_path: Path, pdf_path: Path, date: dt.date | None = None) -> None:
    """Print `html_path` to `pdf_path` (A4 from the page's CSS); the same page gives the same bytes."""
    exe = find_chromium()
    if exe is None:
        raise fail(str(pdf_path), None, "找不到 Chromium 浏览器,无法把通报打印为 PDF;请安装 Debian 的 chromium 软件包"
                                        "(sudo apt-get install chromium)后重新生成")
    with tempfile.TemporaryDirectory(prefix="kaohe-pdf-") as tmp:
        out = Path(tmp) / "out.pdf"
        command = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-extensions", f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
                   f"--print-to-pdf={out}", Path(html_path).resolve().as_uri()]
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise fail(str(pdf_path), None, f"Chromium 打印 PDF 超过 {TIMEOUT} 秒仍未完成;请检查页面能否在浏览器中打开,"
                                            "稍后重试") from None
        except OSError as exc:
            raise fail(str(pdf_path), None, f"无法启动 Chromium({exc.strerror});请检查 chromium 软件包是否完整安装") from None
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise fail(str(pdf_path), None, f"Chromium 未能生成 PDF(返回码 {done.returncode}:{detail[0][:200]});"
                                            "请确认页面文件存在,并可在浏览器中正常打开")
        data = reproducible(out.read_bytes(), date)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    partial = pdf_path.with_name(pdf_path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, pdf_path)


def reproducible(data: bytes, date: dt.date | None = None) -> bytes:
    """Fixed creation/modification dates and /ID, each the same length as what it replaces."""
    day = date or dt.date(2000, 1, 1)
    stamp = f"D:{day:%Y%m%d}000000".encode("ascii")

    def fixed(match: re.Match) -> bytes:
        value = match.group(2)
        zone = {0: b"", 1: b"Z", 6: b"+00'00", 7: b"+00'00'"}.get(len(value) - len(stamp))
        return match.group(1) + (stamp + zone if zone is not None else value) + match.group(3)

    data = DATE.sub(fixed, data)
    digest = hashlib.sha256(ID.sub(lambda m: m.group(1) + m.group(3) + m.group(5), data)).hexdigest().upper()

    def ident(match: re.Match) -> bytes:
        first = (digest * 4)[:len(match.group(2))].encode("ascii")
        second = (digest * 4)[:len(match.group(4))].encode("ascii")
        return match.group(1) + first + match.group(3) + second + match.group(5)

    return ID.sub(ident, data)
