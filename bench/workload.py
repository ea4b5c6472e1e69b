"""Generate a synthetic kaohe content folder (SPEC format) for benchmarks.

    python bench/workload.py --units 100000 --out bench/work/100000/content [--rounds 3] [--seed 1]

Writes site.yaml, units.csv, rules/bench-2024.md and results/bench-<year>/ (round.yaml plus one
results CSV per category). The same arguments always give the same bytes. All per-row work is done
with numpy arrays and plain string joins, so 100k units × 3 rounds take a few seconds.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

RULEBOOK_ID = "bench-2024"
FIRST_YEAR = 2022

# category -> (share of units, results file name, name suffixes, quota of the 流动杯 per 1000 units)
CATEGORIES = {
    "机关事业单位": (0.20, "jiguan.csv", ["局机关党委", "委机关党支部", "中心党支部", "办公室党支部", "事务所党支部", "学校党总支", "医院党委", "研究院党支部"]),
    "国有企业": (0.10, "guoqi.csv", ["集团党委", "有限公司党委", "公司党支部", "分公司党支部", "车间党支部", "项目部党支部"]),
    "非公有制企业": (0.15, "feigong.csv", ["科技有限公司党支部", "商贸有限公司党支部", "实业有限公司联合党支部", "物流有限公司党支部", "建设工程有限公司党支部", "电子有限公司党支部", "食品有限公司党支部"]),
    "街道": (0.05, "jiedao.csv", ["街道党工委", "街道机关党委", "街道综合党委", "街道社区党委"]),
    "社区": (0.25, "shequ.csv", ["社区党委", "社区党总支", "社区党支部", "小区党支部", "社区联合党支部", "社区网格党支部"]),
    "农村": (0.25, "nongcun.csv", ["村党委", "村党总支", "村党支部", "村联合党支部", "新村党支部", "村股份经济合作社党支部"]),
}

DISTRICTS = ["城关", "东城", "西城", "南湖", "北湖", "江滨", "河西", "开发", "高新", "新港", "临江", "青山",
             "白云", "龙泉", "金沙", "桃源", "柳林", "松岭", "梅园", "枫桥", "凤凰", "望江", "滨海", "长安",
             "永宁", "太平", "兴华", "文昌", "安康", "丰泽", "云台", "石门", "黄岗", "红旗", "双桥", "三江",
             "五里", "七星", "九龙", "万安"]
PLACES = ["和平", "建设", "幸福", "光明", "团结", "胜利", "前进", "友谊", "民主", "人民", "解放", "新华",
          "朝阳", "东风", "红星", "向阳", "振兴", "繁荣", "富强", "和谐", "康乐", "长青", "福寿", "金桥",
          "银河", "翠湖", "碧水", "青松", "绿园", "花园", "春晖", "秋实", "夏荷", "冬梅", "晨曦", "锦绣",
          "瑞丰", "恒通", "鼎盛", "宏达", "华兴", "隆昌", "泰和", "嘉禾", "德胜", "仁和", "礼贤", "智远",
          "信诚", "忠义", "孝感", "廉泉", "明德", "崇文", "尚武", "启航", "远洋", "星河", "月湖", "日新",
          "桂花", "荷塘", "竹园", "梨园", "杏林", "桑园", "茶山", "稻香", "麦田", "果岭", "石桥", "木兰",
          "玉泉", "铁山", "铜锣", "锡林", "金河", "水口", "火炬", "土城", "沙坪", "河口", "湖滨", "海棠",
          "山湾", "峰景", "岭南", "坪山", "塘下", "湾头", "洲头", "岛西", "湘江", "汉水", "淮北", "洛阳",
          "汾河", "渭南", "泾川", "漓江"]
CN_NUM = "〇一二三四五六七八九"

# ---------------------------------------------------------------- the rulebook
# Each section: (id, title, points, items). Each item: (id, title, points, kind, spec)
#   deduction spec: list of criteria (text, deduct, unit or None, max_deduct or None); deduct 0 = zero
D = "deduction"
SECTIONS = [
    ("A", "党的政治建设和思想建设", 20, [
        ("A1", "坚持把党的政治建设摆在首位", 4, D, [
            ("未及时传达学习党中央重大决策部署", 1, "次", 2), ("“第一议题”制度落实不到位", 1, None, None),
            ("意识形态工作责任制未落实", 2, None, None), ("班子成员发生违反政治纪律行为", 0, None, None)]),
        ("A2", "理论学习中心组学习", 3, D, [
            ("年初无学习计划或年终无总结", 1, None, None), ("全年集中学习少于12次", 0.5, "次", 2),
            ("学习记录不完整", 0.5, "次", None)]),
        ("A3", "党员教育培训", 3, D, [
            ("未制定年度党员教育培训计划", 1, None, None), ("党员年度集中学习培训少于32学时", 1, None, None),
            ("未按要求组织党员参加网上学习", 0.5, "次", 1.5)]),
        ("A4", "意识形态和宣传工作", 3, D, [
            ("未按要求开展意识形态分析研判", 1, None, None), ("宣传阵地管理不规范", 0.5, "处", 1.5),
            ("发生意识形态领域负面舆情", 2, "次", None)]),
        ("A5", "党员集中学习出勤", 4, "tiers", {
            "measure": "党员集中学习平均出勤率(%)", "tiers": [(100, 4), (90, 3), (80, 2), (0, 1)]}),
        ("A6", "党内集中教育", 3, D, [
            ("未制定实施方案", 1, None, None), ("专题组织生活会未召开", 2, None, None),
            ("整改清单未按期销号", 0.5, "项", 2)]),
    ]),
    ("B", "党的组织建设", 20, [
        ("B1", "基层党组织设置和换届", 4, D, [
            ("党组织未按期换届", 2, None, None), ("党组织设置不规范", 1, None, None),
            ("党员组织关系转接不及时", 0.5, "人次", 2)]),
        ("B2", "“三会一课”制度落实", 4, D, [
            ("支部党员大会少开一次", 1, "次", 2), ("支委会少开一次", 0.5, "次", 2),
            ("党课少上一次", 1, "次", 2), ("会议记录不规范", 0.5, None, None)]),
        ("B3", "组织生活会和民主评议党员", 4, D, [
            ("未召开年度组织生活会", 2, None, None), ("批评与自我批评不深入", 1, None, None),
            ("未开展民主评议党员", 1, None, None)]),
        ("B4", "党员发展和管理", 4, D, [
            ("发展党员程序不规范", 1, "人", 3), ("党员档案管理不规范", 0.5, None, None),
            ("失联党员未及时排查处置", 0.5, "人", 1.5)]),
        ("B5", "党组织书记抓基层党建述职评议", 4, "direct", {}),
    ]),
    ("C", "党风廉政建设", 15, [
        ("C1", "落实全面从严治党主体责任", 3, D, [
            ("未签订党风廉政建设责任书", 1, None, None), ("未专题研究部署党风廉政建设工作", 1, None, None),
            ("“一岗双责”落实不到位", 0.5, None, None)]),
        ("C2", "廉政教育", 3, D, [
            ("未开展警示教育", 1, None, None), ("廉政谈话未按要求开展", 0.5, "次", 1.5)]),
        ("C3", "作风建设", 3, D, [
            ("违反中央八项规定精神被查处", 2, "起", None), ("“四风”问题整改不到位", 1, None, None),
            ("公务接待管理不规范", 0.5, None, None)]),
        ("C4", "党建宣传信息投稿", 3, "tiers", {
            "measure": "全年被采用稿件(篇)", "tiers": [(4, 3), (3, 2), (2, 1), (0, 0)]}),
        ("C5", "巡察和审计反馈问题整改", 3, D, [
            ("巡察反馈问题未按期整改", 1, "项", 3), ("整改台账不完整", 0.5, None, None)]),
    ]),
    ("D", "围绕中心服务大局", 15, [
        ("D1", "党建与业务深度融合", 3, D, [
            ("未建立党建与业务融合工作机制", 1, None, None), ("党员先锋岗、示范岗作用发挥不明显", 0.5, None, None),
            ("年度重点任务完成滞后", 1, "项", 2)]),
        ("D2", "联系服务群众", 3, D, [
            ("未开展党员志愿服务活动", 1, None, None), ("群众反映问题未及时办结", 0.5, "件", 2)]),
        ("D3", "“双报到”和结对共建", 3, D, [
            ("在职党员未到社区报到", 0.5, "人", 1.5), ("结对共建活动流于形式", 1, None, None),
            ("未建立共建工作台账", 0.5, None, None)]),
        ("D4", "党建品牌创建", 3, D, [
            ("未开展党建品牌创建", 1, None, None), ("品牌特色不鲜明、成效不明显", 0.5, None, None)]),
        ("D5", "群众满意度", 3, "rank", {"measure": "群众满意度测评得分"}),
    ]),
    ("E", "党建工作保障", 15, [
        ("E1", "党建工作责任制", 3, D, [
            ("未制定年度党建工作要点", 1, None, None), ("书记未履行第一责任人职责", 1, None, None),
            ("班子成员未落实“一岗双责”", 1, None, None)]),
        ("E2", "党建阵地建设", 3, D, [
            ("党员活动室不达标", 1, None, None), ("阵地设施使用率低", 0.5, None, None)]),
        ("E3", "党务干部队伍建设", 3, D, [
            ("未按要求配备专兼职党务干部", 1, None, None), ("党务干部未参加业务培训", 0.5, "人次", 1.5),
            ("党务干部履职不到位", 0.5, None, None)]),
        ("E4", "党费收缴", 3, "tiers", {
            "measure": "党费按时足额收缴率(%)", "tiers": [(100, 3), (95, 2), (90, 1), (0, 0)]}),
        ("E5", "党建信息化", 3, D, [
            ("党员信息系统数据更新不及时", 0.5, "次", 1.5), ("智慧党建平台使用不规范", 0.5, None, None),
            ("未按时报送党内统计数据", 1, None, None)]),
    ]),
    ("F", "基础工作", 15, [
        ("F1", "党务公开", 4, D, [
            ("未按规定公开党务", 1, None, None), ("公开内容不全面、不及时", 0.5, "次", 2)]),
        ("F2", "档案资料管理", 4, D, [
            ("党建档案未分类归档", 1, None, None), ("资料缺失", 0.5, "项", 2),
            ("台账记录与实际不符", 1, None, None)]),
        ("F3", "信息报送", 4, D, [
            ("未按时报送材料", 0.5, "次", 2), ("报送信息质量不高被退回", 0.5, "次", 1.5),
            ("迟报漏报重大事项", 2, None, None)]),
        ("F4", "年终综合评价", 3, "direct", {}),
    ]),
]
BONUS_CAP = 5
BONUS = [("J1", "经验做法被市级以上党建媒体刊发", 1, "条"), ("J2", "获得市级以上党建工作表彰", 2, "项"),
         ("J3", "承办全市党建工作现场会", 3, None)]
PENALTIES = [("K1", "被上级党组织通报批评", 2, "次"), ("K2", "发生重大安全生产责任事故", 5, None)]
VETOES = [("V1", "发生严重违纪违法案件或重大群体性事件", "差")]
GRADES = [("优秀", 90), ("较好", 80), ("一般", 70), ("差", 0)]

HOWS = ["查阅会议记录", "现场检查", "抽查台账", "座谈了解", "查阅档案资料", "核查系统数据"]
VALUE_NOTES = {
    "A5": ["据学习签到表统计", "据学习强国平台数据核实", "抽查签到表与会议记录一致", "含补学人次"],
    "C4": ["据市委组织部信息科采用统计", "含党建网刊发稿件", "经宣传部门核对", "含内部简报采用"],
    "D5": ["第三方测评机构提供", "据入户问卷统计", "据网上测评结果", "据电话回访统计"],
    "E4": ["据党费收缴台账核实", "个别党员补交", "经财务凭证核对", "据系统缴费记录"],
    "B5": ["述职评议会现场评定", "考核组综合评定", "听取述职后评议", "经考核组合议"],
    "F4": ["考核组年终综合评定", "结合平时考核情况评定", "综合各方面意见评定", "经考核组合议"],
}
BONUS_NOTES = {
    "J1": ["《党建研究》刊发经验做法", "市委组织部网站转载", "省级党建微信公众号刊发", "市级党刊刊登"],
    "J2": ["获评市级先进基层党组织", "获市级“五星”党支部称号", "获省级党建工作示范点", "获市级党建品牌"],
    "J3": ["承办全市党建工作现场推进会", "承办全市组织工作观摩会", "承办全市基层党建交流会", "承办全市现场会"],
    "K1": ["因工作落实不力被通报", "因信息报送迟延被通报", "因整改不到位被通报", "上级督查发现问题被通报"],
    "K2": ["经应急管理部门认定", "发生较大安全事故", "经调查认定负有责任", "事故已通报"],
    "V1": ["经纪检监察机关查实", "班子成员受到党纪处分", "发生群体性事件并造成恶劣影响", "经上级党组织认定"],
}


def num(x) -> str:
    return f"{x:g}"


def flow_text(text: str) -> str:
    assert not any(ch in text for ch in ",:{}[]#'\"&*!|>%@`"), text
    return text


def rank_bands(n: int) -> list[tuple[int | None, int]]:
    top1 = max(1, round(n * 0.2))
    top2 = max(top1 + 1, round(n * 0.6))
    return [(top1, 3), (top2, 2), (None, 1)]


def rulebook_markdown(n_units: int) -> str:
    out = ["---", f"id: {RULEBOOK_ID}", "title: 基层党建工作目标管理考核细则(基准测试)",
           "issuer: 中共××市委组织部", "year: 2024", "effective: 2024-01-01",
           "applies_to: [" + ", ".join(CATEGORIES) + "]", "total: 100", "precision: 2", "grades:"]
    out += [f"  - {{name: {g}, min: {m}}}" for g, m in GRADES]
    out.append("sections:")
    for sid, stitle, spoints, items in SECTIONS:
        out += [f"  - id: {sid}", f"    title: {stitle}", f"    points: {spoints}", "    items:"]
        for iid, ititle, ipoints, kind, spec in items:
            out += [f"      - id: {iid}", f"        title: {ititle}", f"        points: {ipoints}",
                    "        requirements: |",
                    f"          {ititle}工作部署到位、制度健全、记录完整，按本细则评分标准逐项考核。",
                    "        methods: [听取汇报、查阅档案, 实地察看, 个别访谈]"]
            if kind == D:
                out.append("        criteria:")
                for k, (text, deduct, unit, mx) in enumerate(spec, start=1):
                    parts = [f"id: {iid}-{k}", f"text: {flow_text(text)}"]
                    if deduct == 0:
                        parts.append("zero: true")
                    else:
                        parts.append(f"deduct: {num(deduct)}")
                        if unit:
                            parts.append(f"unit: {unit}")
                        if mx is not None:
                            parts.append(f"max_deduct: {num(mx)}")
                    out.append("          - {" + ", ".join(parts) + "}")
            elif kind == "tiers":
                out.append(f"        measure: {spec['measure']}")
                out.append("        tiers:")
                out += [f"          - {{min: {lo}, score: {sc}}}" for lo, sc in spec["tiers"]]
            elif kind == "rank":
                out.append(f"        measure: {spec['measure']}")
                bands = ", ".join(f"{{top: {t}, score: {s}}}" if t else f"{{score: {s}}}" for t, s in rank_bands(n_units))
                out.append(f"        rank: {{order: desc, bands: [{bands}]}}")
            elif kind == "direct":
                out.append("        direct: true")
    out += ["bonus:", f"  cap: {BONUS_CAP}", "  rules:"]
    for bid, text, add, unit in BONUS:
        out.append(f"    - {{id: {bid}, text: {text}, add: {add}" + (f", unit: {unit}" if unit else "") + "}")
    out.append("penalties:")
    for pid, text, deduct, unit in PENALTIES:
        out.append(f"  - {{id: {pid}, text: {text}, deduct: {deduct}" + (f", unit: {unit}" if unit else "") + "}")
    out.append("vetoes:")
    out += [f"  - {{id: {vid}, text: {text}, grade: {g}}}" for vid, text, g in VETOES]
    out += ["---", "", "# 基层党建工作目标管理考核细则", "",
            "## 一、目的", "", "为全面落实新时代党的建设总要求，推动基层党组织全面进步、全面过硬，制定本细则。", "",
            "## 二、考核方式", "",
            "考核采取听取汇报、查阅档案、实地察看、个别访谈相结合的方式，实行百分制。"
            "扣分项扣完为止；加分项累计不超过 5 分；减分项上不封顶。", "",
            "## 三、附则", "", "本细则由中共××市委组织部负责解释，自 2024 年 1 月 1 日起施行。", ""]
    return "\n".join(out)


class Refs:
    """Every ref of the rulebook in rulebook order, with what the result rows need to know."""

    def __init__(self):
        self.ids: list[str] = []
        self.notes: list[list[str]] = []
        self.crit: list[int] = []          # ref positions of criteria (excluding the zero one)
        self.crit_deduct: list[float] = []
        self.crit_unit: list[bool] = []
        self.zero: int = -1
        self.pos: dict[str, int] = {}
        for _sid, _st, _sp, items in SECTIONS:
            for iid, _it, _ip, kind, spec in items:
                if kind == D:
                    for k, (text, deduct, unit, _mx) in enumerate(spec, start=1):
                        p = self._add(f"{iid}-{k}", [f"{how}，{m}月{text}" for m in range(1, 13) for how in HOWS])
                        if deduct == 0:
                            self.zero = p
                        else:
                            self.crit.append(p)
                            self.crit_deduct.append(deduct)
                            self.crit_unit.append(unit is not None)
                else:
                    self._add(iid, VALUE_NOTES[iid])
        for rid, *_ in BONUS + PENALTIES + VETOES:
            self._add(rid, BONUS_NOTES[rid])
        width = max(len(n) for n in self.notes)
        # notes[ref, j]: a note for that ref; cycle short lists to a common width
        self.note_table = np.array([[n[j % len(n)] for j in range(width)] for n in self.notes], dtype=object)
        self.id_arr = np.array(self.ids, dtype=object)

    def _add(self, rid: str, notes: list[str]) -> int:
        self.pos[rid] = len(self.ids)
        self.ids.append(rid)
        self.notes.append(notes)
        return self.pos[rid]


def make_units(n: int, rng: np.random.Generator):
    """(ids, names, categories as int codes, parent index or -1, former names)."""
    cats = list(CATEGORIES)
    shares = np.array([CATEGORIES[c][0] for c in cats])
    counts = np.floor(shares * n).astype(int)
    counts[np.argsort(-shares, kind="stable")[: n - counts.sum()]] += 1
    cat = np.repeat(np.arange(len(cats)), counts)
    cat = cat[rng.permutation(n)]
    names = np.empty(n, dtype=object)
    for c, cname in enumerate(cats):
        members = np.flatnonzero(cat == c)
        suffixes = CATEGORIES[cname][2]
        combos = len(DISTRICTS) * len(PLACES) * len(suffixes)
        picks = rng.choice(combos, size=len(members), replace=len(members) > combos)
        d, rest = np.divmod(picks, len(PLACES) * len(suffixes))
        p, s = np.divmod(rest, len(suffixes))
        base = [f"{DISTRICTS[a]}区{PLACES[b]}{suffixes[x]}" for a, b, x in zip(d.tolist(), p.tolist(), s.tolist())]
        if len(members) > combos:  # only for very large N: keep names unique
            seen: dict[str, int] = {}
            for i, name in enumerate(base):
                k = seen.get(name, 0)
                seen[name] = k + 1
                if k:
                    base[i] = f"{name}(第{k + 1})"
        names[members] = base
    ids = np.array([f"u{i:06d}" for i in range(1, n + 1)], dtype=object)
    # ~5% of units have a parent: 社区 under a 街道 (~20% of 社区 = 5% of all units)
    parent = np.full(n, -1, dtype=np.int64)
    streets = np.flatnonzero(cat == cats.index("街道"))
    communities = np.flatnonzero(cat == cats.index("社区"))
    if len(streets):
        child = communities[rng.random(len(communities)) < 0.2]
        parent[child] = streets[rng.integers(0, len(streets), len(child))]
    former = np.full(n, "", dtype=object)
    renamed = np.flatnonzero(rng.random(n) < 0.01)
    for i in renamed.tolist():
        former[i] = f"原{names[i]}"
    return ids, names, cat, parent, former


def units_csv(ids, names, cat, parent, former) -> str:
    cats = np.array(list(CATEGORIES), dtype=object)
    parent_ids = np.where(parent >= 0, ids[np.maximum(parent, 0)], "")
    lines = map(",".join, zip(ids.tolist(), names.tolist(), cats[cat].tolist(), parent_ids.tolist(), former.tolist()))
    return "unit_id,name,category,parent_id,former_names\n" + "\n".join(lines) + "\n"


def round_yaml(year: int, counts: dict[str, int]) -> str:
    quota = ", ".join(f"{c}: {max(1, counts[c] // 100)}" for c in CATEGORIES)
    books = "\n".join(f"  {c}: {RULEBOOK_ID}" for c in CATEGORIES)
    return (f"id: bench-{year}\ntitle: {year}年度基层党建工作目标管理考核(基准测试)\nyear: {year}\n"
            f"rulebooks:\n{books}\nparticipants: all\nstatus: draft\ncomposition: {{组织考核: 1.0}}\n"
            f"awards:\n  - {{id: liudongbei, name: 流动杯, quota: {{{quota}}}, min_score: 90}}\n"
            f"  - {{id: xianjin, name: 先进基层党组织, share: 0.1, min_score: 85}}\n")


HALF = np.array([num(x / 2) for x in range(0, 9)], dtype=object)   # "0", "0.5", … "4"


def round_rows(n: int, quality: np.ndarray, refs: Refs, rng: np.random.Generator):
    """Arrays (unit, ref, sub, value, note) of one round's result rows, unsorted."""
    u_parts, r_parts, s_parts, v_parts = [], [], [], []

    def add(units, ref, values, sub=None):
        units = np.asarray(units, dtype=np.int64)
        u_parts.append(units)
        r_parts.append(np.broadcast_to(np.asarray(ref, dtype=np.int64), units.shape).copy())
        s_parts.append(np.zeros(len(units), dtype=np.int64) if sub is None else sub)
        v_parts.append(np.broadcast_to(np.asarray(values, dtype=object), units.shape).copy())

    everyone = np.arange(n)
    q = quality + rng.normal(0, 0.5, n)   # this year's form

    # deductions: k distinct criteria per unit, weighted (small deductions are found more often)
    crit = np.array(refs.crit)
    weight = 1.0 / np.array(refs.crit_deduct)
    k = np.clip(np.rint(6.5 - 2.0 * q + rng.normal(0, 1.0, n)), 0, 12).astype(np.int64)
    keys = -np.log(rng.random((n, len(crit)))) / weight          # Efraimidis–Spirakis
    order = np.argsort(keys, axis=1, kind="stable")
    take = np.arange(len(crit))[None, :] < k[:, None]
    du = np.broadcast_to(everyone[:, None], order.shape)[take]
    dc = order[take]
    has_unit = np.array(refs.crit_unit)[dc]
    count = np.where(has_unit, rng.choice([1, 2, 3], size=len(dc), p=[0.7, 0.22, 0.08]), 1)
    # a count of 2-3 is sometimes entered as separate findings of 1, each with its own note
    split = has_unit & (count > 1) & (rng.random(len(dc)) < 0.3)
    reps = np.where(split, count, 1)
    du, dc, count, split = (np.repeat(a, reps) for a in (du, dc, count, split))
    sub = np.arange(len(du)) - np.repeat(np.cumsum(reps) - reps, reps)
    has_unit = np.array(refs.crit_unit)[dc]
    value = np.where(~has_unit, "", np.where(split, "1", count.astype(str).astype(object)))
    add(du, crit[dc], value.astype(object), sub)

    zero = np.flatnonzero(rng.random(n) < 0.0015)
    add(zero, refs.zero, "")

    # a value for every tiers / direct / rank item
    attend = np.clip(np.rint(95 + 3 * q + rng.normal(0, 4, n)), 50, 100).astype(np.int64)
    add(everyone, refs.pos["A5"], attend.astype(str).astype(object))
    papers = rng.poisson(np.maximum(0.3, 2.8 + 0.8 * q))
    add(everyone, refs.pos["C4"], papers.astype(str).astype(object))
    full = rng.random(n) < np.clip(0.8 + 0.05 * q, 0, 1)
    dues = np.clip(np.rint((96 + 2 * q + rng.normal(0, 2.5, n)) * 10) / 10, 80, 99.9)
    add(everyone, refs.pos["E4"], np.where(full, "100", np.char.mod("%g", dues).astype(object)))
    sat = np.clip(90 + 3 * q + rng.normal(0, 2.5, n), 60, 100)
    add(everyone, refs.pos["D5"], np.char.mod("%.2f", sat).astype(object))
    b5 = np.clip(np.rint((3.3 + 0.4 * q + rng.normal(0, 0.4, n)) * 2), 0, 8).astype(np.int64)
    add(everyone, refs.pos["B5"], HALF[b5])
    f4 = np.clip(np.rint((2.5 + 0.3 * q + rng.normal(0, 0.3, n)) * 2), 0, 6).astype(np.int64)
    add(everyone, refs.pos["F4"], HALF[f4])

    # bonus: 0-2 distinct rules; penalties; veto
    nb = rng.choice([0, 1, 2], size=n, p=[0.68, 0.25, 0.07])
    first = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    for slot in (0, 1):
        who = np.flatnonzero(nb > slot)
        rule = (first[who] + slot) % 3
        bonus_ids = np.array([refs.pos[b[0]] for b in BONUS])
        vals = np.where(rule == 0, rng.choice(["1", "2"], size=len(who), p=[0.7, 0.3]).astype(object),
                        np.where(rule == 1, "1", ""))
        u_parts.append(who.astype(np.int64))
        r_parts.append(bonus_ids[rule])
        s_parts.append(np.zeros(len(who), dtype=np.int64))
        v_parts.append(vals.astype(object))
    k1 = np.flatnonzero(rng.random(n) < 0.04)
    add(k1, refs.pos["K1"], rng.choice(["1", "2"], size=len(k1), p=[0.8, 0.2]).astype(object))
    k2 = np.flatnonzero(rng.random(n) < 0.005)
    add(k2, refs.pos["K2"], "")
    veto = np.flatnonzero(rng.random(n) < 0.001)
    add(veto, refs.pos["V1"], "")

    unit = np.concatenate(u_parts)
    ref = np.concatenate(r_parts)
    sub = np.concatenate(s_parts)
    value = np.concatenate(v_parts)
    # Chinese notes on about half the rows (always on a veto)
    pick = rng.integers(0, refs.note_table.shape[1], len(unit))
    note = refs.note_table[ref, pick]
    blank = (rng.random(len(unit)) < 0.5) & (ref != refs.pos["V1"])
    note[blank] = ""
    order = np.lexsort((sub, ref, unit))
    return unit[order], ref[order], value[order], note[order]


def results_files(ids, cat, unit, ref, value, note, refs: Refs) -> dict[str, str]:
    files = {}
    row_cat = cat[unit]
    uid = ids[unit]
    rid = refs.id_arr[ref]
    for c, cname in enumerate(CATEGORIES):
        m = row_cat == c
        lines = map(",".join, zip(uid[m].tolist(), rid[m].tolist(), value[m].tolist(), note[m].tolist()))
        files[CATEGORIES[cname][1]] = "unit_id,ref,value,note\n" + "\n".join(lines) + "\n"
    return files


def generate(n: int, out: Path, rounds: int = 3, seed: int = 1) -> dict:
    if out.exists():
        if any(out.iterdir()) and not (out / "site.yaml").is_file():
            raise SystemExit(f"{out} 不是空文件夹,也不像生成的内容文件夹(没有 site.yaml);为安全起见不覆盖")
        shutil.rmtree(out)
    (out / "rules").mkdir(parents=True)
    rng = np.random.default_rng([seed, 0])
    ids, names, cat, parent, former = make_units(n, rng)
    quality = rng.normal(0, 1, n)
    refs = Refs()

    def write(rel: str, text: str) -> None:
        (out / rel).write_bytes(text.encode("utf-8"))

    write("site.yaml", "title: 基层党建工作目标管理考核(基准测试)\norganisation: 中共××市委组织部\n"
                       "profile: internal\ninternal: [note]\n")
    write("units.csv", units_csv(ids, names, cat, parent, former))
    write(f"rules/{RULEBOOK_ID}.md", rulebook_markdown(n))
    counts = {c: int((cat == i).sum()) for i, c in enumerate(CATEGORIES)}
    total_rows = 0
    for r in range(rounds):
        year = FIRST_YEAR + r
        folder = out / "results" / f"bench-{year}"
        folder.mkdir(parents=True)
        write(f"results/bench-{year}/round.yaml", round_yaml(year, counts))
        unit, ref, value, note = round_rows(n, quality, refs, np.random.default_rng([seed, 1, year]))
        total_rows += len(unit)
        for name, text in results_files(ids, cat, unit, ref, value, note, refs).items():
            write(f"results/bench-{year}/{name}", text)
    return {"units": n, "rounds": rounds, "rows": total_rows, "seed": seed}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="生成基准测试用的考核内容文件夹")
    p.add_argument("--units", type=int, required=True, help="单位数")
    p.add_argument("--out", type=Path, required=True, help="输出的内容文件夹")
    p.add_argument("--rounds", type=int, default=3, help=f"轮次数(bench-{FIRST_YEAR} 起,默认 3)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.units < 1 or args.rounds < 1:
        p.error("--units 和 --rounds 必须为正整数")
    start = time.perf_counter()
    info = generate(args.units, args.out, args.rounds, args.seed)
    print(f"已生成 {args.out}: {info['units']} 个单位, {info['rounds']} 个轮次, {info['rows']} 行结果, "
          f"用时 {time.perf_counter() - start:.1f} 秒", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
