"""The 通报: notice.md and its helper calls, the standard notice, the GB/T 9704 page and its PDF.

The PDF tests print a notice rendered with the real theme through Debian's chromium and read it back
with poppler's pdftotext/pdfinfo; they are skipped only when chromium is missing.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import REPO
from generator.errors import ContentError, Report
from generator.model import NoticeData, Page, RoundCard, SiteInfo, Status
from generator.notice import notice_page, parse_call, read_notice
from generator.pdf import find_chromium, print_pdf, reproducible
from generator.render import Renderer

SHOWN = "results/r/notice.md"
THEME = REPO / "themes" / "default"
DATE = dt.date(2025, 1, 20)

DATA = NoticeData(
    round_title="2024年度党建工作目标管理考核", year=2024, organisation="中共测试市委组织部", units=4,
    grade_names=("优秀", "较好", "一般"),
    grade_rows=(("机关事业单位", (1, 1, 0), 2), ("社区", (1, 0, 1), 2)),
    awards=(("五星级党组织", "各类别 1 个", (("第一<b>机关</b>", "机关事业单位", "95.00", False),
                                          ("甲社区", "社区", "92.00", True), ("乙社区", "社区", "92.00", True))),),
    top_deductions=(("集中学习缺一次", "理论学习", 3, "6.00"), ("年初无计划", "组织建设", 2, "4.00")),
    corrections=(("2025年1月10日", "甲社区", "评分标准 A1-2 次数", "3", "2", "材料补正", "总分 90.00 → 92.00"),),
    by_grade=(("优秀", (("第一<b>机关</b>", "机关事业单位", "95.00"), ("甲社区", "社区", "92.00"))),
              ("较好", (("第二机关", "机关事业单位", "85.00"),)), ("一般", (("乙社区", "社区", "70.00"),))),
    rankings=(("机关事业单位", (("1", "第一<b>机关</b>", "95.00", "优秀"), ("2", "第二机关", "85.00", "较好"))),
              ("社区", (("1", "甲社区", "92.00", "优秀"), ("2", "乙社区", "70.00", "一般")))),
    rulebooks=("2024年度党建工作目标管理考核细则",),
)


def card(status: str = "published") -> RoundCard:
    label = {"公示": "公示稿", "draft": "草稿"}.get(status, "已发布")
    return RoundCard(id="r", title="2024年度党建工作目标管理考核", year=2024,
                     status=Status(status, label, "公示期至 2025年1月27日"), units=4,
                     url="results/r/index.html")


FRONT = "---\ndoc_no: 测组通〔2025〕3号\nto: 各基层党组织\nsigner: 中共测试市委组织部\ndate: 2025-01-20\n---\n"


def notice(tmp_path: Path, body: str, front: str = FRONT):
    """read_notice + notice_page on a notice.md with `body`; returns (page, problem lines)."""
    path = tmp_path / "notice.md"
    path.write_text(front + textwrap.dedent(body), encoding="utf-8")
    report = Report()
    source = read_notice(path, SHOWN, report)
    page = notice_page(source, DATA, card(), None, report, SHOWN) if source else None
    return page, report.lines()


# ---------------------------------------------------------------- helper calls

def test_helpers_expand_and_everything_is_escaped(tmp_path):
    page, problems = notice(tmp_path, """\
        现将结果通报如下。<script>alert(1)</script>

        {{ grade_table() }}

        评为优秀的单位有：{{ units(grade="优秀") }}。

        {{ awards() }}

        {{ top_deductions(1) }}

        {{ rankings(category="社区") }}

        {{ corrections() }}
        """)
    assert problems == []
    body = str(page.body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert "第一&lt;b&gt;机关&lt;/b&gt;" in body and "<b>" not in body
    assert "评为优秀的单位有：第一&lt;b&gt;机关&lt;/b&gt;、甲社区。" in body          # inline form
    assert body.count('<table class="kh-n-table') == 4
    assert "<p><table" not in body                                           # a block replaces its <p>
    assert "集中学习缺一次" in body and "年初无计划" not in body                      # top_deductions(1)
    assert "乙社区" in body and "第二机关" not in body.split("优秀")[-1]
    assert "是否授予待考核委员会研究确定" in body
    assert "KHN" not in body                                                  # no token left behind
    assert (page.doc_no, page.to, page.signer, page.date) == ("测组通〔2025〕3号", "各基层党组织", "中共测试市委组织部",
                                                              "2025年1月20日")
    assert page.title == "关于2024年度党建工作目标管理考核结果的通报" and not page.generated


@pytest.mark.parametrize("call, message", [
    ("{{ foo() }}", "未知的辅助函数 foo;可用的辅助函数有 grade_table()、awards()、top_deductions()、"
                    "corrections()、units()、rankings()"),
    ("{{ __import__('os') }}", "未知的辅助函数 __import__;"),
    ("{{ __import__('os').system('touch /tmp/kaohe-pwned') }}", "不是辅助函数的调用;"),
    ("{{ 1 + 1 }}", "不是辅助函数的调用;"),
    ("{{ awards }}", "辅助函数 awards 后面缺少括号;请写成 {{ awards() }}"),
    ("{{ top_deductions(__import__('os')) }}", "top_deductions() 的参数 n 应是正整数;请写成 {{ top_deductions(10) }}"),
    ("{{ top_deductions(0) }}", "top_deductions() 的参数 n 应是正整数"),
    ("{{ top_deductions('10') }}", "top_deductions() 的参数 n 应是正整数"),
    ("{{ top_deductions(*[10]) }}", "top_deductions() 的参数 n 应是正整数"),
    ("{{ awards(1) }}", "awards() 的参数过多;请写成 {{ awards() }}"),
    ("{{ units() }}", 'units() 缺少参数 grade;请写成 {{ units(grade="优秀") }}'),
    ("{{ units(level='优秀') }}", "units() 的参数 level 不对"),
    ("{{ units(grade=优秀) }}", "units() 的参数 grade 应是加英文引号的文字"),
    ("{{ units(grade='卓越') }}", "units() 的等次“卓越”不存在;本轮次的等次有 优秀、较好、一般"),
    ("{{ rankings(category='学校') }}", "rankings() 的类别“学校”不存在;本轮次的类别有 机关事业单位、社区"),
    ("共有 {{ awards() }} 个", "awards() 生成表格或多个段落,须单独成段;请把 {{ awards() }} 单独写一行,前后各空一行"),
    ("{{ awards()", "“{{”没有配对的“}}”"),
])
def test_a_bad_helper_call_is_an_error_on_its_line(tmp_path, call, message):
    page, problems = notice(tmp_path, f"第一段。\n\n{call}\n")
    line = FRONT.count("\n") + 3                                             # front matter, 第一段, blank
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{SHOWN}:{line}: 错误: ") and message in problems[0], problems
    assert not Path("/tmp/kaohe-pwned").exists()
    assert "<script" not in str(page.body) and "KHN" not in str(page.body)


def test_parse_call_never_evaluates():
    calls = []
    with pytest.raises(Exception):
        parse_call("top_deductions(calls.append(1))")
    assert calls == []
    assert parse_call(' units( grade = "优秀" ) ') == ("units", (("grade", "优秀"),))
    assert parse_call("top_deductions()") == ("top_deductions", (("n", 10),))


def test_front_matter_problems_are_reported_with_lines(tmp_path):
    front = "---\ndoc_no: 测组通〔2025〕3号\nsigner: [甲, 乙]\ndate: 明年\nsigned: 2025-01-01\n---\n"
    _page, problems = notice(tmp_path, "正文。\n", front)
    assert problems == [
        f"{SHOWN}:2: 错误: 通报缺少必填键 to;请补上“to: …”",
        f"{SHOWN}:3: 错误: 通报的 signer 应是一段文字,这里却是列表",
        f"{SHOWN}:4: 错误: 通报的 date“明年”不是日期;请写成 2024-01-01 的形式",
        f"{SHOWN}:5: 警告: 通报中有未知的键 signed,已忽略;请检查是否拼写有误",
    ]


def test_an_impossible_date_is_reported_on_its_line(tmp_path):
    _page, problems = notice(tmp_path, "正文。\n", FRONT.replace("2025-01-20", "2025-13-01"))
    assert problems == [f"{SHOWN}:5: 错误: 通报的 date“2025-13-01”不是日期;请写成 2024-01-01 的形式"]


def test_missing_front_matter_says_what_to_write(tmp_path):
    _page, problems = notice(tmp_path, "正文。\n", front="")
    assert problems == [f"{SHOWN}:1: 错误: 文件开头缺少 YAML 前言;请在第一行写“---”,其后写 doc_no(文号)、to(主送)、"
                        "signer(落款)、date(成文日期),再用一行“---”结束,正文写在其后"]


def test_attachments_and_a_title_from_front_matter(tmp_path):
    front = FRONT.replace("---\n", "---\ntitle: 关于考核结果的通报\nattachments: [rankings, corrections]\n", 1)
    page, problems = notice(tmp_path, "正文。\n", front)
    assert problems == []
    assert page.title == "关于考核结果的通报"
    assert [title for title, _ in page.attachments] == ["考核结果排名表", "更正情况"]


# ---------------------------------------------------------------- the standard notice

def test_standard_notice_without_notice_md():
    report = Report()
    page = notice_page(None, DATA, card(), "results/r/notice/notice.pdf", report, SHOWN, DATE)
    assert report.lines() == [] and page.generated
    body = str(page.body)
    for part in ("根据《2024年度党建工作目标管理考核细则》有关规定，中共测试市委组织部组织开展了2024年度党建工作目标管理考核工作",
                 "现将考核结果通报如下。", "<h2>一、考核结果</h2>", "<h2>二、存在问题</h2>", "<h2>三、下一步要求</h2>",
                 "评为“优秀”等次的2个，评为“较好”等次的1个，评为“一般”等次的1个",
                 "甲社区、乙社区名次并列于名额线，是否授予待考核委员会研究确定",
                 "一是集中学习缺一次（涉及3个单位，共扣6.00分）；二是年初无计划", "见附件1", "见附件2",
                 '<span class="kh-n-h2">（一）认真抓好问题整改。</span>'):
        assert part in body, part
    assert "第一&lt;b&gt;机关&lt;/b&gt;" in body and "<b>" not in body
    assert [title for title, _ in page.attachments] == ["考核结果排名表", "更正情况"]
    assert page.title == "关于2024年度党建工作目标管理考核结果的通报"
    assert (page.date, page.signer, page.doc_no) == ("2025年1月20日", "中共测试市委组织部", "")
    assert notice_page(None, DATA, card(), None, report, SHOWN).date == ""


# ---------------------------------------------------------------- the page and its PDF

def render(page, out: Path) -> Path:
    renderer = Renderer([THEME], SiteInfo(title="党建考核", organisation="中共测试市委组织部", public=False))
    html = renderer.render(Page(path="results/r/notice/index.html", template="notice.html", page=page,
                                title=page.title, section="results"))
    target = out / "results" / "r" / "notice" / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(html)
    (out / "assets").mkdir(exist_ok=True)
    for asset in (THEME / "static").iterdir():
        shutil.copy(asset, out / "assets" / asset.name)
    return target


def test_the_page_links_its_css_pdf_and_marks_a_gongshi_notice(tmp_path):
    page = notice_page(None, DATA, card("公示"), "results/r/notice/notice.pdf", Report(), SHOWN, DATE)
    html = render(page, tmp_path).read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="../../../assets/notice.css">' in html
    assert '<a class="kh-n-pdf" href="../../../results/r/notice/notice.pdf" download>' in html
    assert '<p class="kh-n-stamp">公示稿</p>' in html and "打印:" in html
    assert '<p class="kh-n-to">各基层党组织：</p>' in html and "<li>1．考核结果排名表</li>" in html
    assert "第一&lt;b&gt;机关&lt;/b&gt;" in html and "<b>" not in html
    published = notice_page(None, DATA, card(), None, Report(), SHOWN, DATE)
    html = render(published, tmp_path / "published").read_text(encoding="utf-8")
    assert "kh-n-stamp" not in html and "kh-n-pdf" not in html


def test_chromium_missing_is_a_content_error(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.pdf.find_chromium", lambda: None)
    with pytest.raises(ContentError) as caught:
        print_pdf(tmp_path / "a.html", tmp_path / "a.pdf")
    assert "请安装 Debian 的 chromium 软件包" in str(caught.value)


def test_reproducible_keeps_lengths():
    pdf = (b"%PDF-1.4\n1 0 obj <</CreationDate (D:20261122125711+00'00')\n/ModDate (D:20261122125711Z)>>\n"
           b"trailer <</ID [<0123456789ABCDEF> <FEDCBA9876543210>]>>\n")
    fixed = reproducible(pdf, DATE)
    assert len(fixed) == len(pdf)
    assert b"(D:20250120000000+00'00')" in fixed and b"(D:20250120000000Z)" in fixed
    assert b"0123456789ABCDEF" not in fixed and reproducible(fixed, DATE) == fixed


needs_chromium = pytest.mark.skipif(find_chromium() is None,
                                    reason="chromium 未安装(Debian 的 chromium 软件包):无法测试通报 PDF")


def poppler(*args: str) -> str:
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} is missing: apt-get install -y poppler-utils")
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    page = notice_page(None, DATA, card("公示"), "results/r/notice/notice.pdf", Report(), SHOWN, DATE)
    html = render(page, out)
    first, second = out / "first.pdf", out / "second.pdf"
    print_pdf(html, first, DATE)
    print_pdf(html, second, DATE)
    return page, first, second


@needs_chromium
def test_the_notice_prints_on_a4_with_page_numbers(printed):
    page, pdf, _ = printed
    text = poppler("pdftotext", str(pdf), "-")
    flat = re.sub(r"\s+", "", text)
    assert page.title in flat and "第二机关" in flat and "公示稿" in flat and "2025年1月20日" in flat
    # Chromium's PDFs give pdftotext no word spaces; -layout with a fine pitch places them by position.
    layout = re.sub(r"[ \t]+", " ", poppler("pdftotext", "-layout", "-fixed", "3", str(pdf), "-"))
    assert "— 1 —" in layout and "— 2 —" in layout
    info = poppler("pdfinfo", str(pdf))
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert (round(width), round(height)) == (595, 842), info
    assert "Mon Jan 20 00:00:00 2025 UTC" in info                             # CreationDate fixed to the notice date
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 3                                                          # body, then one page per 附件
    last = poppler("pdftotext", "-f", str(pages), "-l", str(pages), str(pdf), "-")
    assert last.lstrip().startswith("附件2")


@needs_chromium
def test_two_prints_are_byte_identical(printed):
    _page, first, second = printed
    assert first.read_bytes() == second.read_bytes()
