"""`published.lock`: what a published round was built from, so that nothing can rewrite it silently.

Written by `kaohe publish` beside round.yaml, in YAML a person can read:

    round: 2023-annual
    files: {jiguan.csv: <sha256>, …}        # every result file, frozen at the first publication
    rubric: {2023-shizhi-jiguan: <sha256>}   # the scoring part of each rulebook used
    setup: <sha256>                          # round.yaml without its status lines
    corrections: [<sha256 of row 1>, …]      # the published rows of corrections.csv, in order
    revisions:
      - {revision: 0, status: 公示, date: 2025-01-06, until: 2025-01-20, corrections: 0}
      - {revision: 1, status: published, date: 2025-01-21, corrections: 1}

`archive/` beside it keeps a copy of the locked result files (to name the first changed line) and
each revision's data files as published (`archive/r<N>/data/`, `archive/r<N>/data-public/`), which
the site serves from then on: a published scores.csv never changes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ContentError, Report
from .rounds import NOT_RESULTS
from .yamlio import as_date, load_yaml, read_text

LOCK = "published.lock"
ARCHIVE = "archive"
HEADER = "# kaohe publish 写入的发布记录,请勿手工修改。已发布的结果如需更正,请写入 corrections.csv,再运行 kaohe publish。\n"


@dataclass(frozen=True, slots=True)
class Revision:
    number: int
    status: str                      # 公示 | published
    date: dt.date
    until: dt.date | None
    corrections: int                 # rows of corrections.csv included


@dataclass
class Lock:
    round_id: str
    files: dict = field(default_factory=dict)
    rubric: dict = field(default_factory=dict)
    setup: str = ""
    corrections: list = field(default_factory=list)
    revisions: list = field(default_factory=list)

    @property
    def latest(self) -> Revision:
        return self.revisions[-1]

    def to_yaml(self) -> str:
        data = {"round": self.round_id, "files": dict(sorted(self.files.items())), "rubric": dict(sorted(self.rubric.items())),
                "setup": self.setup, "corrections": list(self.corrections),
                "revisions": [{"revision": r.number, "status": r.status, "date": r.date.isoformat(),
                               **({"until": r.until.isoformat()} if r.until else {}), "corrections": r.corrections}
                              for r in self.revisions]}
        return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def result_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx")
                  and p.name not in NOT_RESULTS and not p.name.startswith((".", "~$")))


def setup_hash(round_yaml: Path) -> str:
    """round.yaml as it bears on scores: everything but the lines `kaohe publish` itself sets."""
    lines = [ln for ln in round_yaml.read_text(encoding="utf-8-sig").splitlines()
             if not ln.startswith(("status:", "until:"))]
    return sha256("\n".join(lines).encode("utf-8"))


def rubric_hash(book) -> str:
    """The scoring part of a rulebook (not its narrative): what a published result depends on."""
    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__
                    if k not in ("line", "path", "body", "intro", "requirements", "methods")}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return str(value) if value is not None else None
    keys = ("total", "precision", "grades", "rating_scale", "sections", "bonus_cap", "bonus", "penalties", "vetoes")
    return sha256(json.dumps({k: plain(getattr(book, k)) for k in keys}, ensure_ascii=False, sort_keys=True).encode())


def read_lock(folder: Path, shown: str, report: Report) -> Lock | None:
    path = folder / LOCK
    if not path.is_file():
        return None
    where = f"{shown}/{LOCK}"
    try:
        data = load_yaml(read_text(path, where), where)
        lock = Lock(str(data["round"]), dict(data.get("files") or {}), dict(data.get("rubric") or {}),
                    str(data.get("setup") or ""), list(data.get("corrections") or []))
        for r in data["revisions"]:
            lock.revisions.append(Revision(int(r["revision"]), str(r["status"]), as_date(r["date"]),
                                           as_date(r.get("until")) if r.get("until") else None, int(r["corrections"])))
        if not lock.revisions or any(r.date is None for r in lock.revisions):
            raise ValueError
    except ContentError as exc:
        report.extend(exc.report)
        return None
    except (KeyError, TypeError, ValueError):
        report.error(where, None, "发布记录已损坏;它由 kaohe publish 写入,请从版本库恢复原文件,不要手工修改")
        return None
    return lock


def verify(lock: Lock, folder: Path, shown: str, report: Report) -> None:
    """Every locked result file unchanged, none added or removed; report the first changed line."""
    now = {p.name: p for p in result_files(folder)}
    fix = "已发布的结果不能直接修改;请恢复原文件,把更正写入 corrections.csv(日期、单位、编号、来源、字段、原值、新值、理由),再运行 kaohe publish"
    for name, digest in lock.files.items():
        path = now.get(name)
        if path is None:
            report.error(f"{shown}/{name}", None, f"已发布的结果文件被删除或改名;{fix}")
        elif sha256(path.read_bytes()) != digest:
            line = first_changed_line(folder / ARCHIVE / "files" / name, path)
            report.error(f"{shown}/{name}", line, f"已发布的结果文件被改动(第 {line} 行起与发布时不同);{fix}" if line
                         else f"已发布的结果文件被改动;{fix}")
    for name in sorted(set(now) - set(lock.files)):
        report.error(f"{shown}/{name}", None, f"轮次已发布后新增了结果文件;{fix}")
    if lock.setup and (folder / "round.yaml").is_file() and setup_hash(folder / "round.yaml") != lock.setup:
        report.error(f"{shown}/round.yaml", None, "已发布轮次的 round.yaml 被改动(细则、参评单位、权重或奖项等);"
                                                  "这会改变已发布的结果,请恢复原内容")


def first_changed_line(archived: Path, current: Path) -> int | None:
    if not archived.is_file() or current.suffix.lower() != ".csv":
        return None
    old = archived.read_bytes().splitlines()
    new = current.read_bytes().splitlines()
    for i, (a, b) in enumerate(zip(old, new), start=1):
        if a != b:
            return i
    return min(len(old), len(new)) + 1 if len(old) != len(new) else None
