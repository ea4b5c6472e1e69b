"""Assessment rounds: `results/<round>/round.yaml` and the result files beside it."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from .content import DEFAULT_SOURCE, Award, Round, Rulebook, Unit
from .errors import ContentError, Report
from .numbers import plain
from .schema import Fields, check_number
from .tables import LINE, read_table
from .warm import serving
from .yamlio import load_yaml, read_text

STATUSES = ("draft", "公示", "published")
RESULT_COLUMNS = ("unit_id", "ref", "value", "source", "rating", "note")
FILE = "_file"
NOT_RESULTS = {"corrections.csv"}


def load_rounds(results_dir: Path, shown: str, report: Report, warm=None) -> tuple[dict[str, Round], dict[str, pd.DataFrame]]:
    """Every round.yaml and its result files. With `warm` (serve, warm.py), a round whose scored states are
    kept is not read again: its table is None and the problems its files had are reported as before."""
    rounds: dict[str, Round] = {}
    tables: dict[str, pd.DataFrame] = {}
    if not results_dir.is_dir():
        return rounds, tables
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        fshown = f"{shown}/{folder.name}"
        yaml_path = folder / "round.yaml"
        if not yaml_path.is_file():
            report.error(fshown, None, "轮次文件夹中缺少 round.yaml;请用“kaohe new round 轮次编号”生成,或删除此文件夹")
            continue
        try:
            data = load_yaml(read_text(yaml_path, f"{fshown}/round.yaml"), f"{fshown}/round.yaml")
        except ContentError as exc:
            report.extend(exc.report)
            continue
        rnd = parse_round(data, folder.name, fshown, report)
        if rnd is None:
            continue
        rounds[rnd.id] = rnd
        if warm is not None and rnd.id in warm.kept and rnd.id == folder.name:
            report.extend(warm.rounds[rnd.id].read)
            tables[rnd.id] = None
            continue
        read = Report()
        tables[rnd.id] = read_results(folder, fshown, read, warm)
        report.extend(read)
        if warm is not None:
            warm.reading[rnd.id] = read
    return rounds, tables


def parse_round(data, folder_name: str, fshown: str, report: Report) -> Round | None:
    path = f"{fshown}/round.yaml"
    f = Fields(data, path, report, "轮次")
    if not f.ok:
        return None
    rid = f.ident("id", slug=True)
    if rid and rid != folder_name:
        report.error(path, f.line_of("id"), f"轮次编号 id: {rid} 与文件夹名“{folder_name}”不一致;请改为 id: {folder_name}")
    title = f.text("title", required=True) or ""
    year = f.number("year", required=True, integer=True, minimum=1921)
    raw_books = f.raw("rulebooks", required=True)
    books: dict = {}
    if isinstance(raw_books, str):
        books = {"*": raw_books.strip()}
    elif isinstance(raw_books, dict):
        books = {str(k): str(v).strip() for k, v in raw_books.items()}
    elif raw_books is not None:
        report.error(path, f.line_of("rulebooks"), "rulebooks 应是一本细则的 id,或“类别: 细则 id”的映射")
    participants = f.raw("participants")
    members = None
    if participants is None or participants == "all":
        members = None
    elif isinstance(participants, list):
        members = tuple(str(p).strip() for p in participants)
    else:
        report.error(path, f.line_of("participants"), f"participants 应是 all 或单位编号列表,这里是“{participants}”")
    status = f.text("status") or "draft"
    if status not in STATUSES:
        report.error(path, f.line_of("status"), f"status“{status}”无效;只能是 draft(草稿)、公示 或 published(已发布),一般由 kaohe publish 设置")
        status = "draft"
    until = f.date("until")
    composition = _composition(f, path, report)
    awards = _awards(f, path, report)
    from_rounds = f.strings("from_rounds")
    from_stat = f.text("from_stat") or "mean"
    if from_stat not in ("mean", "sum"):
        report.error(path, f.line_of("from_stat"), f"from_stat“{from_stat}”无效;只能是 mean(平均)或 sum(合计)")
    notice = f.text("notice")
    if notice and not (Path(fshown) / notice).name == notice:
        report.error(path, f.line_of("notice"), "notice 只能写本轮次文件夹中的文件名,如 notice.md")
    f.done()
    if rid is None or year is None:
        return None
    lines = {k: f.line_of(k) for k in f.map}
    if isinstance(raw_books, dict):
        lines.update({("rulebooks", k): raw_books.line_of(k) for k in raw_books} if hasattr(raw_books, "line_of") else {})
    if isinstance(participants, list) and hasattr(participants, "line_of"):
        lines.update({("participants", i): participants.line_of(i) for i in range(len(participants))})
    return Round(id=rid, title=title, year=int(year), rulebooks=books, participants=members, status=status,
                 composition=composition, awards=awards, from_rounds=from_rounds, from_stat=from_stat,
                 notice=notice, until=until, path=fshown, yaml_path=path, line_of=lines)


def _composition(f: Fields, path: str, report: Report) -> dict:
    raw = f.mapping("composition")
    if raw is None:
        return {DEFAULT_SOURCE: Decimal(1)}
    out = {}
    for source, weight in raw.items():
        line = raw.line_of(source) if hasattr(raw, "line_of") else f.line
        w = check_number(weight, path, line, f"composition 中“{source}”的权重", report)
        if w is not None:
            out[str(source)] = w
    if out and sum(out.values()) != 1:
        report.warning(path, f.line_of("composition"), f"composition 各来源权重合计为 {plain(sum(out.values()))},不是 1;总分满分将不等于细则总分,请确认")
    return out or {DEFAULT_SOURCE: Decimal(1)}


def _awards(f: Fields, path: str, report: Report) -> tuple[Award, ...]:
    raw = f.seq("awards") or []
    out = []
    seen = set()
    for i, a in enumerate(raw):
        line = raw.line_of(i) if hasattr(raw, "line_of") else f.line
        af = Fields(a, path, report, f"第 {i + 1} 个奖项", line)
        if not af.ok:
            continue
        aid = af.ident("id", slug=True)
        name = af.text("name", required=True) or (aid or "")
        quota_raw = af.mapping("quota")
        share = af.number("share")
        per_category = af.flag("per_category")
        min_score = af.number("min_score")
        cats = af.strings("categories") or None
        af.done()
        if aid in seen:
            report.error(path, af.line, f"奖项编号 {aid} 重复;每个奖项的 id 必须唯一")
        seen.add(aid)
        if (quota_raw is None) == (share is None):
            report.error(path, af.line, f"奖项“{name}”应写 quota(各类别名额)或 share(比例)二者之一")
            continue
        quota = None
        if quota_raw is not None:
            quota = {}
            for cat, n in quota_raw.items():
                d = check_number(n, path, quota_raw.line_of(cat) if hasattr(quota_raw, "line_of") else af.line,
                                 f"奖项“{name}”在“{cat}”的名额", report, integer=True)
                if d is not None:
                    quota[str(cat)] = int(d)
        if share is not None and not (0 < share <= 1):
            report.error(path, af.line_of("share"), f"奖项“{name}”的 share {plain(share)} 应在 0 到 1 之间,如 0.3 表示 30%")
            continue
        if aid:
            out.append(Award(aid, name, quota, share, per_category, min_score, cats, af.line or line))
    return tuple(out)


def read_results(folder: Path, fshown: str, report: Report, warm=None) -> pd.DataFrame:
    """The round's result files as one frame, a file after another, with each row's file and line. With
    `warm` of serve, each file's digest is noted by the name rows are reported under (results.FileMemo),
    and a file whose bytes did not change since it was last read is not read again (Warm.read): a
    correction changes one file of a round, and reading the others took 0.06 s at 10,000 units. What is
    kept is kept_form()."""
    frames = []
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx")
                   and p.name not in NOT_RESULTS and not p.name.startswith((".", "~$")))
    for p in files:
        shown = f"{fshown}/{p.name}"
        if serving(warm) is not None:
            warm.file_digests[shown] = warm.digests.get(p)
            frame = warm.read(("results", shown), p, shown, lambda found: kept_form(read_result_file(p, shown, found)),
                              report)
            if frame is not None and not isinstance(frame, pd.DataFrame):
                frame = unpack(frame)
        else:
            frame = read_result_file(p, shown, report)
        if frame is not None:
            frames.append(frame)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in RESULT_COLUMNS} | {LINE: pd.Series(dtype="int64"), FILE: pd.Series(dtype=str)})
    return pd.concat(frames, ignore_index=True)


def read_result_file(p: Path, shown: str, report: Report) -> pd.DataFrame | None:
    """One result file's rows (RESULT_COLUMNS, its line numbers and name), or None if it cannot be used."""
    try:
        frame = read_table(p, shown)
    except ContentError as exc:
        report.extend(exc.report)
        return None
    missing = [c for c in ("unit_id", "ref") if c not in frame.columns]
    for column in missing:
        report.error(shown, 1, f"缺少必填列 {column};结果文件第一行应包含列名 unit_id,ref,value,source,rating,note(后四列可选)")
    if missing:
        return None
    for column in frame.columns:
        if column not in RESULT_COLUMNS and column != LINE:
            report.warning(shown, 1, f"未知的列 {column},已忽略;结果文件的列为 {','.join(RESULT_COLUMNS)}")
    for column in RESULT_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame = frame[list(RESULT_COLUMNS) + [LINE]]
    frame[FILE] = shown
    return frame


KEPT_ROWS = 300_000    # a result file of up to this many rows is kept as a frame, a larger one packed


def kept_form(frame: pd.DataFrame | None):
    """What kaohe serve keeps of a result file it has read: the frame made again from each column's codes
    and distinct values, so that a text that appears in many rows is kept once (8.5 MB for a round of 133,000
    rows at 10,000 units, against 60 MB as read), and taken as it is by the next build (pandas copies on
    write, so no build changes it). Unpacking it again cost 0.025 s of each correction at 10,000 units. A
    file of more than KEPT_ROWS rows is kept packed (pack(): half the memory)."""
    if frame is None:
        return None
    packed = pack(frame)
    return unpack(packed) if len(frame) <= KEPT_ROWS else packed


def pack(frame: pd.DataFrame | None):
    """A frame as (column name, dtype, codes, distinct values) per column: what unpack() makes it again."""
    if frame is None:
        return None
    packed = []
    for name, column in frame.items():
        codes, uniques = pd.factorize(column.to_numpy(), use_na_sentinel=False)
        packed.append((name, column.dtype, codes.astype(np.int32), np.asarray(uniques, dtype=object)))
    return packed


def unpack(packed) -> pd.DataFrame | None:
    if packed is None:
        return None
    return pd.DataFrame({name: pd.Series(uniques[codes] if len(codes) else uniques[:0], dtype=dtype)
                         for name, dtype, codes, uniques in packed})


def check_round_refs(rnd: Round, rulebooks: dict[str, Rulebook], units: dict[str, Unit],
                     rounds: dict[str, Round], report: Report) -> None:
    """Cross-file checks of round.yaml: rulebooks exist, participants exist and are mapped."""
    path = rnd.yaml_path
    for cat, book in rnd.rulebooks.items():
        line = rnd.line_of.get(("rulebooks", cat), rnd.line_of.get("rulebooks"))
        if book not in rulebooks:
            where = "" if cat == "*" else f"类别“{cat}”对应的"
            report.error(path, line, f"{where}细则 {book} 不存在;请写 rules/ 中已有的细则 id(现有:{'、'.join(rulebooks) or '无'})")
        elif cat != "*" and not any(u.category == cat for u in units.values()):
            report.warning(path, line, f"名册 units.csv 中没有类别为“{cat}”的单位;请检查类别名称是否与名册一致")
    if rnd.participants is not None:
        seen = {}
        for i, uid in enumerate(rnd.participants):
            line = rnd.line_of.get(("participants", i), rnd.line_of.get("participants"))
            if uid in seen:
                report.error(path, line, f"参评单位 {uid} 重复列出;请删去重复的一行")
            seen[uid] = line
            unit = units.get(uid)
            if unit is None:
                report.error(path, line, f"参评单位 {uid} 不在名册 units.csv 中;请核对单位编号")
            elif rnd.rulebook_for(unit.category) is None:
                report.error(path, line, f"参评单位 {uid}({unit.name})的类别“{unit.category}”在 rulebooks 中没有对应细则;请在 rulebooks 中为该类别指定细则")
    for sub in rnd.from_rounds:
        if sub not in rounds:
            report.error(path, rnd.line_of.get("from_rounds"), f"from_rounds 中的轮次 {sub} 不存在;请写 results/ 中已有的轮次编号")
        elif sub == rnd.id:
            report.error(path, rnd.line_of.get("from_rounds"), "from_rounds 不能包含本轮次自身")
    for award in rnd.awards:
        if award.quota:
            for cat in award.quota:
                if cat not in rnd.rulebooks and "*" not in rnd.rulebooks:
                    report.warning(path, award.line, f"奖项“{award.name}”的名额类别“{cat}”不在本轮次的 rulebooks 中;该类别不会有获奖单位")
