"""How the report rounds, in one place (the page states these rules, and tests check them).

Every shown number is the value of `perrecbench score --format json` (or of
`score --compare`) rounded for display; the page's `data-*` attributes hold the
unrounded value:

* our scores, intervals and Avg.: 3 decimals (as the terminal tables);
* differences of a paired test: 3 decimals with a sign;
* p-values: 4 decimals, "<0.0001" below that;
* published scores, and every score in a figure: 2 decimals, as printed in the paper;
* tokens and counts: whole numbers with thousands separators;
* dollars: 4 decimals below $10, cents above;
* a missing value (no answer scored, no price): an em dash.

Negative numbers use the minus sign (U+2212), so columns of numbers line up; a value
that rounds to zero shows no minus (0.000, +0.000).
"""

from __future__ import annotations

import math

MINUS = "\u2212"
DASH = "\u2014"
#: the rules above, as the page and `report.json` state them
RULES = (
    "our scores, intervals and Avg.: 3 decimals (a value that rounds to zero shows no minus)",
    "paired differences: 3 decimals with a sign",
    "p-values: 4 decimals, <0.0001 below that",
    "published scores: 2 decimals, as printed in the paper",
    "figures: 2 decimals",
    "tokens and counts: whole numbers",
    "dollars: 4 decimals below $10, cents above",
)


def _value(value: float | None) -> float | None:
    """The value, or None when there is none (None or NaN)."""
    return None if value is None or math.isnan(value) else value


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def _rounded(value: float, decimals: int) -> float:
    """`value` rounded, with a negative zero made positive: -0.0001 shows as 0.000."""
    return round(value, decimals) + 0.0


def score(value: float | None, decimals: int = 3) -> str:
    """A score: `decimals` places (3 for ours, 2 for published)."""
    v = _value(value)
    return DASH if v is None else _signed(f"{_rounded(v, decimals):.{decimals}f}")


def diff(value: float | None) -> str:
    """A paired difference, always with its sign."""
    v = _value(value)
    return DASH if v is None else _signed(f"{_rounded(v, 3):+.3f}")


def interval(low: float | None, high: float | None, decimals: int = 3) -> str:
    if _value(low) is None or _value(high) is None:
        return DASH
    return f"[{score(low, decimals)}, {score(high, decimals)}]"


def signed_interval(low: float | None, high: float | None) -> str:
    if _value(low) is None or _value(high) is None:
        return DASH
    return f"[{diff(low)}, {diff(high)}]"


def p_value(value: float | None) -> str:
    v = _value(value)
    if v is None:
        return DASH
    return "<0.0001" if v < 0.00005 else f"{v:.4f}"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def usd(value: float | None) -> str:
    v = _value(value)
    if v is None:
        return DASH
    return f"${v:,.2f}" if v >= 10 else f"${v:.4f}"


def full(value: float | None) -> str:
    """The unrounded value for a `data-*` attribute: `repr` round-trips a float exactly."""
    v = _value(value)
    return "" if v is None else repr(float(v))
