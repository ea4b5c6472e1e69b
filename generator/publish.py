"""`kaohe publish ROUND [--provisional --until DATE]`: the life cycle draft → 公示 → published → revisions.

Each step checks everything first (the whole pipeline, as `kaohe check`), then records the step in
published.lock, freezes the result files and the revision's data files in archive/, and sets the
status in round.yaml. Nothing is written when anything is wrong.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from .build import check
from .data import data_files
from .errors import fail
from .lock import ARCHIVE, LOCK, Lock, Revision, result_files, rubric_hash, setup_hash, sha256


def publish(content_dir: Path, round_id: str, *, provisional: bool = False, until: dt.date | None = None,
            date: dt.date | None = None, shown: str | None = None) -> str:
    shown = shown or str(content_dir)
    site = check(content_dir, shown)                       # raises ContentError listing every problem
    content = site.content
    rnd = content.rounds.get(round_id)
    if rnd is None:
        raise fail(f"{shown}/results", None, f"没有编号为 {round_id} 的轮次;现有:{'、'.join(content.rounds) or '无'}")
    folder = content_dir / "results" / round_id
    date = date or dt.date.today()
    lock = content.locks.get(round_id)
    fixes = content.corrections.get(round_id, [])
    if provisional and lock is not None:
        raise fail(rnd.yaml_path, None, f"该轮次已{'在公示中' if lock.latest.status == '公示' else '正式发布'},不能再次公示;"
                                        f"正式发布请运行 kaohe publish {round_id}")
    if provisional and until is None:
        raise fail(rnd.yaml_path, None, "公示须写明公示截止日期;请加 --until 2025-01-20")
    if provisional and until < date:
        raise fail(rnd.yaml_path, None, f"公示截止日期 {until} 早于发布日期 {date};请核对 --until")
    if lock is None:
        lock = Lock(round_id, {p.name: sha256(p.read_bytes()) for p in result_files(folder)},
                    {b.id: rubric_hash(b) for b in site.scores[round_id].layout.books}, setup_hash(folder / "round.yaml"))
        number = 0 if provisional else 1
    else:
        latest = lock.latest
        if latest.status == "published" and len(fixes) == latest.corrections:
            raise fail(f"{rnd.path}/corrections.csv", None, f"没有待发布的更正(第 {latest.number} 版已包含全部 "
                                                            f"{latest.corrections} 条),无需再次发布")
        if date < latest.date:
            raise fail(rnd.yaml_path, None, f"发布日期 {date} 早于上一版的 {latest.date};请核对日期")
        number = latest.number + 1
    lock.corrections = [c.digest for c in fixes]
    revision = Revision(number, "公示" if provisional else "published", date, until if provisional else None, len(fixes))
    lock.revisions.append(revision)

    archive = folder / ARCHIVE
    if not (archive / "files").is_dir():
        (archive / "files").mkdir(parents=True)
        for p in result_files(folder):
            shutil.copyfile(p, archive / "files" / p.name)
    score = site.scores[round_id]
    for sub, internal in (("data", ()), ("data-public", content.config.internal)):
        target = archive / f"r{number}" / sub
        target.mkdir(parents=True, exist_ok=True)
        for name, data in data_files(score, internal).items():
            (target / name).write_bytes(data)
    (folder / LOCK).write_text(lock.to_yaml(), encoding="utf-8")
    set_status(folder / "round.yaml", revision.status, revision.until)
    what = f"公示稿(第 0 版,公示期至 {until})" if provisional else f"第 {number} 版"
    pending = f",含更正 {len(fixes)} 条" if fixes else ""
    return f"已发布 {rnd.title}:{what},{date} 发布,{score.layout.n_units} 个单位{pending}。记录见 {rnd.path}/{LOCK}。"


def set_status(path: Path, status: str, until: dt.date | None) -> None:
    """Set status (and until) in round.yaml, keeping the author's other lines and comments."""
    text = path.read_text(encoding="utf-8-sig")
    lines = [ln for ln in text.splitlines() if not re.match(r"until\s*:", ln)]
    status_line = f"status: {status}"
    for i, ln in enumerate(lines):
        if re.match(r"status\s*:", ln):
            comment = ln[ln.index("#"):] if "#" in ln else ""
            lines[i] = f"{status_line}  {comment}".rstrip()
            break
    else:
        lines.append(status_line)
    if until:
        index = next(i for i, ln in enumerate(lines) if ln.startswith("status:"))
        lines.insert(index + 1, f"until: {until.isoformat()}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
