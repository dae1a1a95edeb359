"""The report's colours, shared by the HTML tables and the figures so both read the same.

Scores use a diverging scale centred on 0 (chance): red below, blue above (ColorBrewer
RdBu, without its darkest ends so numbers on it stay legible). Its limit is symmetric
and shared by every cell of one table, so equal colours mean equal scores. Methods and
failure categories use the Okabe-Ito palette, which stays distinct for colour-blind readers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: ColorBrewer RdBu (9 inner classes), from -limit to +limit
DIVERGING = ("#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7",
             "#d1e5f0", "#92c5de", "#4393c3", "#2166ac")  # fmt: skip
METHOD = {"point": "#E69F00", "pair": "#0072B2", "list": "#009E73"}
RATING = "#CC79A7"  # the rating-prediction task, beside the three methods
OURS = "#0072B2"
PUBLISHED = "#9a9a9a"
CATEGORICAL = ("#D55E00", "#E69F00", "#CC79A7", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
               "#7f7f7f")  # fmt: skip


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def scale_limit(values: Iterable[float | None], floor: float = 0.1) -> float:
    """The symmetric limit of a table's scale: its largest |score|, rounded up to 0.05
    and at least `floor` (so a table of near-zero scores is not painted as extremes)."""
    biggest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    return max(floor, math.ceil(biggest * 20 - 1e-9) / 20)


def diverging(value: float | None, limit: float) -> str:
    """The colour of `value` on the scale [-limit, limit] (clipped); white-grey for none."""
    if value is None or not math.isfinite(value) or limit <= 0:
        return "#f7f7f7"
    t = (max(-limit, min(limit, value)) + limit) / (2 * limit) * (len(DIVERGING) - 1)
    i = min(int(t), len(DIVERGING) - 2)
    a, b = _rgb(DIVERGING[i]), _rgb(DIVERGING[i + 1])
    f = t - i
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def ink(background: str) -> str:
    """Black or white text, whichever reads better on `background` (WCAG luminance)."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(background))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#111111" if lum > 0.28 else "#ffffff"


def category(index: int) -> str:
    return CATEGORICAL[index % len(CATEGORICAL)]
