"""Reading answers out of real model output, with a failure category instead of a guess.

Every parser returns `Parsed(value, failure, detail)`; `failure` is None on success or
one of the answer categories of `perrecbench.failures` (`failures.PARSE`). Rules, in short:

* The answer is the *last* one in the text (reasoning comes first); a JSON object with
  the expected key beats loose text anywhere. JSON may sit in code fences, use single
  quotes, unquoted keys, trailing commas, or numbers written as strings.
* `parse_point` -> float rating; loose forms "Rating: 4", "4/5", "4 out of 5", "4 stars",
  or a bare number. Outside [lo, hi] -> out_of_range.
* `parse_first_rating` (prompts that ask for a bare number) -> the first number in
  [lo, hi] anywhere in the text ("4", "4.25", "(4 stars, 80%)", "I'd say 3"); numbers
  but none in range -> out_of_range.
* `parse_list` -> best-first **0-based member indices**. The model is asked for 1-based
  user numbers (User1..Usern) and only those are accepted: a list that is not a
  permutation of 1..n (0-based, duplicates, missing users) -> not_a_permutation.
  Forms: {"predicted_ranking": [..]}, "[3, 1, 2]", "[User3, User1, User2]",
  "User3 > User1 > User2", "User3, User1, User2", numbered lines "1. User3"; without
  JSON the last candidate naming n users wins (reasoning often compares two).
* `parse_pair` -> "A" or "B": "[User A]", "User A", "**User B**", a bare "A". The final
  answer is the last line (after the last "answer:" marker when there is one); if it
  names both users -> ambiguous.
* Nothing found: `refusal` when the text declines, else `no_answer`; blank -> `empty`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .. import failures
from ..failures import Failure

_NUM = r"[-+]?\d+(?:\.\d+)?"
_REFUSAL = re.compile(
    r"\b(?:I\s*(?:'m|’m|am)\s+(?:sorry|unable|not able)|I\s+(?:cannot|can't|can’t|can not|won't)"
    r"|as an AI|not enough (?:information|data)|insufficient (?:information|data))",
    re.I,
)
_OBJECT = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Parsed:
    value: Any = None
    failure: Failure | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _nothing(text: str, what: str) -> Parsed:
    if _REFUSAL.search(text):
        return Parsed(None, failures.REFUSAL, text.strip()[:200])
    return Parsed(None, failures.NO_ANSWER, f"no {what} found")


def _loads_lenient(s: str) -> Any:
    """json.loads, then with the usual LLM deviations repaired; None when hopeless."""
    attempts = [s]
    fixed = re.sub(r",\s*([}\]])", r"\1", s)  # trailing commas
    fixed = re.sub(r"([{,]\s*)([A-Za-z_][\w ]*?)\s*:", r'\1"\2":', fixed)  # unquoted keys
    attempts.append(fixed)
    if "'" in fixed:
        attempts.append(re.sub(r"'([^']*)'", r'"\1"', fixed))
    for a in attempts:
        try:
            return json.loads(a)
        except ValueError:
            continue
    return None


def _objects(text: str) -> list[tuple[int, dict]]:
    """(position, dict) for each innermost {...} that parses as a JSON object."""
    out = []
    for m in _OBJECT.finditer(text):
        obj = _loads_lenient(m.group(0))
        if isinstance(obj, dict):
            out.append((m.start(), obj))
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        m = re.search(_NUM, v)
        return float(m.group(0)) if m else None
    return None


# ---------------------------------------------------------------------------- point

_POINT_TEXT = [
    re.compile(rf"predicted[_ ]rating[\s\"'*:=]{{0,6}}({_NUM})", re.I),
    re.compile(rf"\brating\s*(?:is|of|:|=|would be|will be)\s*(?:about|around|approximately)?\s*\**\s*({_NUM})", re.I),
    re.compile(rf"({_NUM})\s*(?:/\s*5\b|out of 5\b|stars?\b)", re.I),
]


def parse_point(text: str | None, lo: float = 1.0, hi: float = 5.0) -> Parsed:
    """A 1-5 rating (or any [lo, hi] range, e.g. -4..4 for relative ratings)."""
    text = text or ""
    if not text.strip():
        return Parsed(None, failures.EMPTY)
    found: list[tuple[int, float]] = []
    for pos, obj in _objects(text):
        for key, v in obj.items():
            if "rating" in str(key).lower() or "score" in str(key).lower():
                num = _number(v)
                if num is not None:
                    found.append((pos, num))
    if not found:
        for pat in _POINT_TEXT:
            found += [(m.start(), float(m.group(1))) for m in pat.finditer(text)]
        bare = re.fullmatch(rf"\W*({_NUM})\W*", text.strip())
        if bare:
            found.append((0, float(bare.group(1))))
    if not found:
        return _nothing(text, "rating")
    value = max(found, key=lambda p: p[0])[1]
    if not lo <= value <= hi:
        return Parsed(value, failures.OUT_OF_RANGE, f"{value:g} is outside {lo:g}..{hi:g}")
    return Parsed(value)


_ANY_NUM = re.compile(r"(?<![\d.])[-+]?\d+(?:\.\d+)?")


def parse_first_rating(text: str | None, lo: float = 1.0, hi: float = 5.0) -> Parsed:
    """The answer of a prompt that asks for a bare number (the older rating families,
    liu's `(x stars, xx%)`): the first number in the text that lies in [lo, hi]. Numbers
    but none in range -> out_of_range; no number -> refusal or no_answer."""
    text = text or ""
    if not text.strip():
        return Parsed(None, failures.EMPTY)
    numbers = [float(m.group(0)) for m in _ANY_NUM.finditer(text)]
    for value in numbers:
        if lo <= value <= hi:
            return Parsed(value)
    if numbers:
        return Parsed(numbers[0], failures.OUT_OF_RANGE, f"no number in {lo:g}..{hi:g} (first: {numbers[0]:g})")
    return _nothing(text, "rating")


# ---------------------------------------------------------------------------- list

_USER_NUM = re.compile(r"^\W*(?:user\s*)?(\d+)\W*$", re.I)
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_SEP = r"\s*(?:>>?|->|→|,|;)\s*"
_CHAIN = re.compile(rf"user\s*\d+(?:{_SEP}user\s*\d+)+", re.I)
_NUM_CHAIN = re.compile(r"\b\d+(?:\s*>\s*\d+)+\b")
_NUMBERED_ITEM = re.compile(r"(?:^|(?<=:))[ \t]*(\d+)[.)]\s*\**\s*user\s*(\d+)", re.I | re.M)


def _user_numbers(items: list[Any]) -> list[int] | None:
    out = []
    for it in items:
        if isinstance(it, bool):
            return None
        if isinstance(it, int):
            out.append(it)
            continue
        if isinstance(it, float) and it.is_integer():
            out.append(int(it))
            continue
        m = _USER_NUM.match(str(it))
        if not m:
            return None
        out.append(int(m.group(1)))
    return out


def _split_items(s: str) -> list[str]:
    return [p for p in re.split(_SEP, s.strip()) if p]


def _numbered_runs(text: str) -> list[tuple[int, list[int]]]:
    """Numbered lines "1. User3", "2. User1", ... as (position, user numbers) runs."""
    runs: list[tuple[int, list[int]]] = []
    for m in _NUMBERED_ITEM.finditer(text):
        rank, user = int(m.group(1)), int(m.group(2))
        if rank == 1:
            runs.append((m.start(), [user]))
        elif runs and rank == len(runs[-1][1]) + 1:
            runs[-1][1].append(user)
    return [r for r in runs if len(r[1]) >= 2]


def parse_list(text: str | None, n: int) -> Parsed:
    """Best-first 0-based member indices from a 1-based ranking of User1..Usern."""
    text = text or ""
    if not text.strip():
        return Parsed(None, failures.EMPTY)
    ranking: list[int] | None = None
    json_hits = []
    for pos, obj in _objects(text):
        for key, v in obj.items():
            if "rank" in str(key).lower() or "order" in str(key).lower():
                items = v if isinstance(v, list) else _split_items(str(v).strip("[]"))
                nums = _user_numbers(items)
                if nums is not None:
                    json_hits.append((pos, nums))
    if json_hits:
        ranking = max(json_hits, key=lambda h: h[0])[1]
    else:
        loose = []
        for m in _BRACKETS.finditer(text):
            nums = _user_numbers(_split_items(m.group(1).replace('"', "").replace("'", "")))
            if nums is not None and len(nums) >= 2:
                loose.append((m.start(), nums))
        for pat in (_CHAIN, _NUM_CHAIN):
            for m in pat.finditer(text):
                loose.append((m.start(), [int(x) for x in re.findall(r"\d+", m.group(0))]))
        loose += _numbered_runs(text)
        if loose:  # the last complete ranking; reasoning often compares just two users
            full = [h for h in loose if len(h[1]) == n] or loose
            ranking = max(full, key=lambda h: h[0])[1]
    if ranking is None:
        return _nothing(text, "ranking")
    if sorted(ranking) != list(range(1, n + 1)):
        hint = " (user numbers start at 1)" if sorted(ranking) == list(range(n)) else ""
        return Parsed(ranking, failures.NOT_A_PERMUTATION, f"{ranking} is not a permutation of 1..{n}{hint}")
    return Parsed([i - 1 for i in ranking])


# ---------------------------------------------------------------------------- pair

_LABEL = re.compile(r"\buser[\s_-]*([ab])\b", re.I)
_MARKER = re.compile(r"(?:final answer|answer)\s*(?:is\b|:|：|-)", re.I)
_BARE = re.compile(r"^\W*(?:(?:final\s+)?answer\W*)?([ab])\W*$", re.I)


def parse_pair(text: str | None) -> Parsed:
    """"A" if User A is said to prefer the item more, "B" for User B."""
    text = text or ""
    if not text.strip():
        return Parsed(None, failures.EMPTY)
    markers = list(_MARKER.finditer(text))
    region = text[markers[-1].end():] if markers else text
    lines = [ln for ln in region.splitlines() if ln.strip()]
    scopes = ([lines[-1]] if lines else []) + [region, text]
    for scope in scopes:
        labels = {m.group(1).upper() for m in _LABEL.finditer(scope)}
        if len(labels) == 1:
            return Parsed(labels.pop())
        if len(labels) == 2:
            return Parsed(None, failures.AMBIGUOUS, f"both users named in: {scope.strip()[:200]}")
    for scope in ([lines[-1]] if lines else []) + [region.strip()]:
        bare = _BARE.match(scope.strip())
        if bare:
            return Parsed(bare.group(1).upper())
    return _nothing(text, "user choice")
