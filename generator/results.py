"""Result rows: checked against the registry, the round and the unit's rulebook, then coded for scoring.

The output `Rows` frame has one row per accepted result row with integer positions (see layout.py):
`u`, `kind`, `idx` (criterion/item/bonus/penalty/veto position), `gi` (item, where there is one),
`source`, `count`, `value` (fixed point), `rating`, `note`, `_file`, `_line`.
Kinds: criterion, measure (tiers/rank value), score (direct), self (自评 score), vote, bonus, penalty, veto.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from .content import ABSTAIN_RATINGS, DEFAULT_SOURCE, KIND_NAMES, SELF_SOURCE, Content
from .errors import Report
from .layout import Layout
from .numbers import DECIMALS, SCALE, decimals_of, plain, to_decimal
from .rounds import FILE
from .tables import LINE

COUNTED = ("criterion", "bonus", "penalty", "veto", "vote")
UNIT_LEVEL = ("bonus", "penalty", "veto")
CATEGORICAL = ("kind", "source", "rating", FILE)     # the checked rows' categorical columns


def any_of(values: np.ndarray, choices) -> np.ndarray:
    """Membership in a few strings: on object arrays, a handful of equality passes beat np.isin's sort."""
    out = np.zeros(len(values), dtype=bool)
    for choice in choices:
        out |= values == choice
    return out


def factorize(column) -> tuple[np.ndarray, list[str]]:
    """(codes, stripped distinct values): per-cell work is done once per distinct value.

    A round of 100,000 units has millions of cells but only thousands of distinct ones
    (unit ids, refs, counts like "1", sources), so this is what keeps checking fast."""
    codes, uniques = pd.factorize(np.asarray(column, dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64), [str(u).strip() for u in uniques]


def cells(column) -> np.ndarray:
    """The column's stripped text, as an object array."""
    codes, uniques = factorize(column)
    return np.array(uniques, dtype=object)[codes] if len(codes) else np.array([], dtype=object)


def parse_values(column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(present, ok, fixed-point value) for each cell, parsing each distinct text once."""
    codes, uniques = factorize(column)
    present_u = np.array([t != "" for t in uniques], dtype=bool)
    ok_u = np.ones(len(uniques), dtype=bool)
    value_u = np.zeros(len(uniques), dtype=np.int64)
    for k, text in enumerate(uniques):
        if not text:
            continue
        d = to_decimal(text)
        if d is None or decimals_of(d) > DECIMALS or abs(d) >= 10**12:
            ok_u[k] = False
        else:
            value_u[k] = int(d * SCALE)
    if not len(codes):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    return present_u[codes], ok_u[codes], value_u[codes]


def check_rows(layout: Layout, frame: pd.DataFrame, content: Content, report: Report, memo=None) -> pd.DataFrame:
    """The accepted rows of `frame`, coded for scoring; every problem goes to `report`. With `memo`
    (FileMemo, kaohe serve), the rows of a result file checked by an earlier rebuild are taken as they
    were when the file and everything it is checked against are the same."""
    if memo is not None and len(frame):
        rows = _check_by_file(layout, frame, content, report, memo)
        if rows is not None:
            return rows
    rows = _check_part(layout, frame, content, report)
    _check_duplicates(rows, layout, report)
    return rows


class FileMemo:
    """What kaohe serve keeps of a round's checked result files between rebuilds (warm.py).

    A file's checked rows depend on its rows and on what they are checked against: the registry, the
    rulebooks and round.yaml (`context`, a digest of every content file outside results/ and of the
    round's round.yaml). Its rows are the file as read (`digests`: shown name -> SHA-256 of its bytes)
    unless a correction of the state being scored touched them: a correction only changes or removes
    rows of its own unit (corrections.apply), so a file without rows of a `corrected` unit is as read."""

    def __init__(self, store: dict, context: bytes, digests: dict, corrected: set):
        self.store, self.context, self.digests, self.corrected = store, context, digests, corrected

    def key(self, name: str, unit_ids: np.ndarray):
        digest = self.digests.get(name)
        if digest is None or self.context is None:
            return None
        if self.corrected and any(str(u).strip() in self.corrected for u in pd.unique(unit_ids)):
            return None
        return self.context, digest


def _check_by_file(layout: Layout, frame: pd.DataFrame, content: Content, report: Report, memo: FileMemo):
    """check_rows, one result file at a time, each taken from `memo` where it can be; None where that
    would not give exactly the rows (and problems, in their order) of checking the frame whole: a
    file's rows not together, or a problem in any file checked now."""
    files = frame[FILE].to_numpy()
    ends = [*(np.flatnonzero(files[1:] != files[:-1]) + 1).tolist(), len(files)]
    names = [files[end - 1] for end in ends]
    if len(set(names)) < len(names):
        return None
    unit_ids = frame["unit_id"].to_numpy()
    parts, start, made = [], 0, {}
    for name, end in zip(names, ends):
        key = memo.key(name, unit_ids[start:end])
        kept = memo.store.get(name)
        if key is not None and kept is not None and kept[0] == key:
            parts.append(kept[1])
        else:
            found = Report()
            rows = _check_part(layout, frame.iloc[start:end], content, found)
            if found.problems:
                return None
            parts.append(rows)
            if key is not None:
                made[name] = (key, rows)
        start = end
    # the categories are those one pd.Categorical of every row has (sorted)
    rows = pd.DataFrame({column: union_categoricals([part[column] for part in parts], sort_categories=True)
                         if column in CATEGORICAL else
                         pd.Series(np.concatenate([part[column].to_numpy() for part in parts]), dtype=dtype)
                         for column, dtype in parts[0].dtypes.items()})
    _check_duplicates(rows, layout, report)
    memo.store.update(made)
    return rows


def _check_part(layout: Layout, frame: pd.DataFrame, content: Content, report: Report) -> pd.DataFrame:
    rnd = layout.round
    n = len(frame)
    files = frame[FILE].to_numpy()
    lines = frame[LINE].to_numpy()
    bad = np.zeros(n, dtype=bool)

    def err(mask: np.ndarray, group: str, message) -> None:
        """Report each row of mask (message may be a function of the row position)."""
        for i in np.flatnonzero(mask & ~bad):
            report.error(files[i], int(lines[i]), message(i) if callable(message) else message, group=group)
        bad[mask] = True

    u_codes, u_uniques = factorize(frame["unit_id"])
    uids = np.array(u_uniques, dtype=object)[u_codes] if n else np.array([], dtype=object)
    u_arr = np.array([layout.index.get(x, -1) for x in u_uniques], dtype=np.int64)[u_codes] if n else np.zeros(0, dtype=np.int64)
    known = np.array([x in content.units for x in u_uniques], dtype=bool)[u_codes] if n else np.zeros(0, dtype=bool)
    in_round = u_arr >= 0
    err(uids == "", "unit-empty", "unit_id 为空;请填写单位编号")
    err(~known, "unit-unknown", lambda i: f"单位编号“{uids[i]}”不在名册 units.csv 中;请核对编号,或先在名册中登记该单位")
    err(known & ~in_round, "unit-not-in-round",
        lambda i: f"单位 {uids[i]}({content.units[uids[i]].name})不是本轮次“{rnd.title}”的参评单位;请核对编号,或在 round.yaml 的 participants 中加入")

    r_codes, r_uniques = factorize(frame["ref"])
    ref_arr = np.array(r_uniques, dtype=object)[r_codes] if n else np.array([], dtype=object)
    book = np.where(in_round, layout.book_of[np.maximum(u_arr, 0)], -1) if layout.n_units else np.full(n, -1)
    # look each distinct (rulebook, ref) pair up once
    pair = (book + 1) * max(len(r_uniques), 1) + r_codes
    p_codes, p_uniques = pd.factorize(pair)
    kind_u = np.empty(len(p_uniques), dtype=object)
    pos_u = np.full(len(p_uniques), -1, dtype=np.int64)
    for k, key in enumerate(p_uniques):
        b, r = divmod(int(key), max(len(r_uniques), 1))
        hit = layout.refs.get((b - 1, r_uniques[r]))
        if hit is not None:
            kind_u[k], pos_u[k] = hit
    kinds = kind_u[p_codes] if n else np.array([], dtype=object)
    pos = pos_u[p_codes] if n else np.zeros(0, dtype=np.int64)
    err(ref_arr == "", "ref-empty", "ref 为空;请填写评分标准、项目、加分项、减分项或否决项的编号")
    err(pos < 0, "ref-unknown", lambda i: (
        f"编号“{ref_arr[i]}”不在单位 {uids[i]} 适用的细则 {layout.books[book[i]].id} 中;请核对编号(见该细则的评分标准编号,如 A1-1)"))

    source = cells(frame["source"])
    source[source == ""] = DEFAULT_SOURCE
    rating = cells(frame["rating"])
    has_rating = rating != ""
    present, ok, value = parse_values(frame["value"])
    vtext = frame["value"].to_numpy()
    err(present & ~ok, "value-nan", lambda i: f"value“{vtext[i]}”不是有效数字;请填写阿拉伯数字(至多 {DECIMALS} 位小数)")

    is_item = kinds == "item"
    gi = np.where(is_item, pos, -1)
    crit = kinds == "criterion"
    if len(layout.criteria):
        gi[crit] = layout.crit_item[pos[crit]]
    item_kind = np.array([it.kind for it in layout.items] + [""], dtype=object)[gi]   # gi −1 reads ""
    self_rows = source == SELF_SOURCE
    composed = set(rnd.composition)

    # what each row is
    row_kind = np.where(any_of(kinds, UNIT_LEVEL), kinds, "")
    row_kind = np.where(crit, "criterion", row_kind)
    vote = has_rating & ~any_of(kinds, UNIT_LEVEL)
    err(vote & crit, "vote-on-criterion", lambda i: f"rating 列只用于测评票,应对应项目编号,而“{ref_arr[i]}”是评分标准;请把 ref 改为所属项目的编号,或清空 rating 列")
    err(vote & self_rows, "vote-self", "自评行的 value 填自评分,不填 rating;请清空 rating 列,或把 source 改为测评来源(如 民主测评)")
    err(vote & (item_kind == "aggregate"), "vote-aggregate", lambda i: f"项目 {ref_arr[i]} 是汇总项,得分由下级单位换算,不能投票")
    row_kind = np.where(vote & is_item, "vote", row_kind)
    plain_item = is_item & ~vote
    row_kind = np.where(plain_item & self_rows, "self", row_kind)
    row_kind = np.where(plain_item & ~self_rows & any_of(item_kind, ("tiers", "rank")), "measure", row_kind)
    row_kind = np.where(plain_item & ~self_rows & (item_kind == "direct"), "score", row_kind)
    wrong_item = plain_item & ~self_rows & any_of(item_kind, ("deduction", "rating", "aggregate"))
    err(wrong_item, "item-kind", lambda i: _wrong_item_message(layout, gi[i], ref_arr[i]))
    err(crit & self_rows, "self-criterion", lambda i: f"自评行应填项目编号和自评分,而“{ref_arr[i]}”是评分标准;请把 ref 改为项目编号 {layout.items[gi[i]].id}")

    # sources
    scored_row = any_of(row_kind, ("criterion", "measure", "score", "vote"))
    err(scored_row & ~any_of(source, composed), "source", lambda i: (
        f"来源“{source[i]}”不在本轮次的 composition 中(现有:{'、'.join(composed)});请改正 source 列,或在 round.yaml 的 composition 中加入该来源"))
    if rnd.from_rounds:
        err(any_of(row_kind, ("criterion", "measure", "score", "vote", "self")), "from-rounds", (
            f"本轮次的项目得分由 from_rounds({'、'.join(rnd.from_rounds)})汇总而来,这里只能录入加分、减分和一票否决;项目结果请录入到各分轮次"))

    # counts: whole numbers, one by default
    counted = any_of(row_kind, COUNTED)
    count = np.where(present, value // SCALE, 1)
    whole = (value % SCALE == 0) & (value >= 0)
    err(counted & present & ok & ~whole, "count", lambda i: f"value“{vtext[i]}”应是次数或票数,只能为 0 或正整数;请改正")
    once = np.zeros(n, dtype=bool)
    if len(layout.criteria):
        no_unit = np.array([c.unit is None for c in layout.criteria])
        once[crit] = no_unit[pos[crit]]
    err(crit & (count > 1) & once, "count-once", lambda i: (
        f"评分标准 {ref_arr[i]}“{layout.criteria[pos[i]].text}”不按次扣分(没有 unit),value 只能是 1;如确需按次计,请在细则中为它写上 unit"))

    # ratings must be on the scale (abstentions are counted apart)
    for i in np.flatnonzero(vote & ~bad):
        scale = layout.books[book[i]].rating_scale
        if rating[i] not in scale and rating[i] not in ABSTAIN_RATINGS:
            report.error(files[i], int(lines[i]), f"评价“{rating[i]}”不在细则的 rating_scale 中;请填写 {'、'.join(scale)} 之一(“不了解”等弃权票也可录入,不计入测评得分)", group="rating")
            bad[i] = True

    # values that are scores
    needs_value = any_of(row_kind, ("measure", "score", "self"))
    err(needs_value & ~present, "value-missing", lambda i: f"项目 {ref_arr[i]} 需要在 value 列填写{'自评分' if self_rows[i] else '数值'};请补上")
    is_score = any_of(row_kind, ("score", "self"))
    points = np.append(layout.item_points, 0)[gi]   # gi −1 (no item) reads the appended 0
    over = is_score & present & ((value > points) | (value < 0))
    err(over, "score-range", lambda i: f"项目 {ref_arr[i]} 的得分 {vtext[i].strip()} 超出范围;应在 0 到 {plain(layout.items[gi[i]].points)} 分之间")

    keep = ~bad
    rows = pd.DataFrame({
        "u": u_arr[keep], "kind": pd.Categorical(row_kind[keep]), "idx": pos[keep], "gi": gi[keep],
        "source": pd.Categorical(source[keep]), "count": np.where(counted, count, 0)[keep], "value": value[keep],
        "rating": pd.Categorical(rating[keep]), "note": pd.Series(cells(frame["note"])[keep], dtype=object),
        FILE: pd.Categorical(files[keep]), LINE: lines[keep].astype(np.int64)})
    return rows


def _wrong_item_message(layout: Layout, gi: int, ref: str) -> str:
    item = layout.items[gi]
    if item.kind == "deduction":
        first = item.criteria[0].id if item.criteria else f"{item.id}-1"
        return (f"项目 {ref} 是扣分项,请按评分标准编号录入扣分(如 {first}),不要直接写项目编号;"
                f"若这是自评分,请在 source 列写“自评”")
    if item.kind == "rating":
        return f"项目 {ref} 是测评项,每行应在 rating 列写 优秀/较好/一般/差,在 value 列写票数"
    return f"项目 {ref} 是{KIND_NAMES[item.kind]},得分由下级单位得分自动换算,不能录入"


def _check_duplicates(rows: pd.DataFrame, layout: Layout, report: Report) -> None:
    """A second measured value or score for the same unit, item and source is an error."""
    single = rows[rows["kind"].isin(("measure", "score", "self"))]
    if single.empty:
        return
    dup = single.duplicated(["u", "gi", "source"], keep=False)
    if not dup.any():
        return
    for _, group in single[dup].groupby(["u", "gi", "source"], sort=False):
        first = group.iloc[0]
        for _, row in group.iloc[1:].iterrows():
            unit = layout.units[row["u"]]
            report.error(row[FILE], int(row[LINE]),
                         f"单位 {unit.id} 的项目 {layout.items[row['gi']].id}(来源 {row['source']})已在 {first[FILE]} 第 {first[LINE]} 行录入过数值;"
                         f"同一项目只能有一个{'自评分' if row['kind'] == 'self' else '数值'},请删去重复的一行", group="duplicate")
