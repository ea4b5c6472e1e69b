"""Exact numbers for scores.

Every number an author writes (points, deductions, weights, measured values) is a decimal with at
most `DECIMALS` places. Scoring works on fixed-point integers: `fp(x) = x × SCALE`, which numpy
adds and compares exactly in int64. The few operations that divide (a rating's weighted mean, the
mean of earlier rounds, an aggregate of children) produce `fractions.Fraction`, also exact. Nothing
is ever a binary float, so rounding half-up to the published precision is exact: 89.995 → 90.00.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

DECIMALS = 6
SCALE = 10**DECIMALS


def to_decimal(value) -> Decimal | None:
    """A YAML or cell value as an exact Decimal, or None if it is not a plain decimal number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):  # from an .xlsx cell: Excel's shortest round-trip text
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.endswith("%"):
            text = text[:-1].strip()
        if not text or not _is_plain_number(text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    return None


def _is_plain_number(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    if not body:
        return False
    whole, _, frac = body.partition(".")
    return (whole.isascii() and frac.isascii() and (whole.isdigit() or whole == "")
            and (frac.isdigit() or frac == "") and (whole or frac) != "")


def decimals_of(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def fp(d: Decimal | int) -> int:
    """Fixed-point integer of a decimal with at most DECIMALS places (checked at load time)."""
    return int(Decimal(d) * SCALE)


def round_half_up(value: Fraction | int, precision: int, scale: int = 1) -> int:
    """`value / scale` rounded half-up to `precision` decimals, returned as an integer of 10^-precision.

    Integer arithmetic only (floor((2·n·10^p + d) / 2d)): this runs for every item of every scorecard.
    Totals are floored at 0 before rounding, so half-up and half-away-from-zero agree.
    """
    if isinstance(value, int):
        num, den = value, scale
    else:
        num, den = value.numerator, value.denominator * scale
    return (2 * num * 10**precision + den) // (2 * den)


def fmt(units: int, precision: int) -> str:
    """An integer of 10^-precision as text with exactly `precision` decimals: 9000, 2 → "90.00"."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    if precision == 0:
        return f"{sign}{units}"
    whole, frac = divmod(units, 10**precision)
    return f"{sign}{whole}.{frac:0{precision}d}"


def date_text(d) -> str:
    """A date as Chinese documents write it, Arabic numerals without leading zeros: 2025年1月20日."""
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def plain(d: Decimal) -> str:
    """A Decimal as authors write it: 5, 0.5, 2.25 (no exponent, no trailing zeros)."""
    d = d.normalize()
    text = format(d, "f")
    return text
