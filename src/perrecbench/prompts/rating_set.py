"""The four older LLM rating-prediction prompt families the paper compares with (SPEC 6b),
read from the user's copy of the authors' `code/` folder and filled as documented here.

    --prompt-set rating-wang | rating-liu | rating-dai | rating-bookgpt   [--prompt-variant 0..3]

Each family has four variants, `templates_point/{1wang,2liu,3dai,4BookGPT}/<dir><v>.txt`
(nothing of them ships with PerRecBench). A template has two `{}` slots: the user's
history, then the query item. The release does not publish the code that filled them,
so the filling is ours, fixed here and checked by a golden test:

* a history entry is `"<title>" by <author>, rated <r>` (`, rated <r>` right after the
  quoted title when there is no author); `<r>` is the stored rating as Python prints a
  float (`4.0`, `3.5`) -- the same information our own prompts show;
* entries are the member's k BM25-retrieved earlier reviews (as for every prompt set),
  one per line with the family's marker, the markers the families' published versions
  show (`raw/`), continued past the fourth entry:

  | family | 0 | 1 | 2 | 3 |
  |---|---|---|---|---|
  | wang | `- e` | `- e` | `- e` | `- e` |
  | liu | `- Book A: e` | `i. e` (roman) | `* e` | `#1 e` |
  | dai | inline, `; `-separated | same | same | same |
  | bookgpt | `- Book 1: e` | `- Previous Rating 1: e` | `- Rating for Book A: e` | `- Score for Book Alpha: e` |

  Letters run A..Z, AA, AB, ...; roman numerals are lower case; Greek names run Alpha
  .. Omega, then Alpha2, Beta2, ...;
* the query slot gets the quoted title and author like an entry without its rating;
  where the template already quotes the slot (`"{}"`), just the title;
* one user message, no system message (the families have none). They take no profile,
  chain-of-thought, few-shot demos or relative ratings; the answer is a bare number
  (liu: `(x stars, xx%)`), read by `parsing.parse_first_rating`.
"""

from __future__ import annotations

import string
from pathlib import Path

from ..errors import ConfigError
from .components import Components, HistoryEntry, Message, PromptOptions, QueryItem, check_users
from .official_set import read_template
from .retrieval import rating_text

#: prompt set name -> the family's folder under templates_point/
FAMILIES = {"rating-wang": "1wang", "rating-liu": "2liu", "rating-dai": "3dai", "rating-bookgpt": "4BookGPT"}
VARIANTS = (0, 1, 2, 3)
#: methods these prompts can ask: one member's rating (pointwise, or the rating task)
METHODS = ("point",)

_GREEK = ("Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho "
          "Sigma Tau Upsilon Phi Chi Psi Omega").split()
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
          (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


def letters(i: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA (spreadsheet columns)."""
    out = ""
    while i > 0:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def roman(i: int) -> str:
    """1 -> i, 4 -> iv, 14 -> xiv."""
    out = ""
    for value, text in _ROMAN:
        while i >= value:
            out += text
            i -= value
    return out


def greek(i: int) -> str:
    """1 -> Alpha, 24 -> Omega, 25 -> Alpha2."""
    name = _GREEK[(i - 1) % len(_GREEK)]
    rnd = (i - 1) // len(_GREEK)
    return name if rnd == 0 else f"{name}{rnd + 1}"


#: (family, variant) -> the line of entry number i (1-based); None: inline list
MARKERS = {
    ("rating-wang", 0): lambda i, e: f"- {e}",
    ("rating-liu", 0): lambda i, e: f"- Book {letters(i)}: {e}",
    ("rating-liu", 1): lambda i, e: f"{roman(i)}. {e}",
    ("rating-liu", 2): lambda i, e: f"* {e}",
    ("rating-liu", 3): lambda i, e: f"#{i} {e}",
    ("rating-bookgpt", 0): lambda i, e: f"- Book {i}: {e}",
    ("rating-bookgpt", 1): lambda i, e: f"- Previous Rating {i}: {e}",
    ("rating-bookgpt", 2): lambda i, e: f"- Rating for Book {letters(i)}: {e}",
    ("rating-bookgpt", 3): lambda i, e: f"- Score for Book {greek(i)}: {e}",
}
for _v in VARIANTS[1:]:
    MARKERS[("rating-wang", _v)] = MARKERS[("rating-wang", 0)]
INLINE_SEPARATOR = "; "


def entry_text(h: HistoryEntry) -> str:
    """`"Dune" by Frank Herbert, rated 5.0`."""
    by = f" by {h.author}" if h.author else ""
    return f'"{h.title}"{by}, rated {rating_text(h.rating)}'


def history_text(family: str, variant: int, history: tuple[HistoryEntry, ...]) -> str:
    """The history slot: one marked line per entry, or dai's inline list."""
    entries = [entry_text(h) for h in history]
    marker = MARKERS.get((family, variant))
    if marker is None:
        return INLINE_SEPARATOR.join(entries)
    return "\n".join(marker(i, e) for i, e in enumerate(entries, 1))


def query_slot(query: QueryItem, quoted: bool) -> str:
    if quoted:
        return query.title
    return f'"{query.title}"' + (f" by {query.author}" if query.author else "")


def template_path(templates_dir: Path, family: str, variant: int) -> Path:
    folder = FAMILIES[family]
    return Path(templates_dir) / "templates_point" / folder / f"{folder}{variant}.txt"


def query_is_quoted(template: str) -> bool:
    """Whether the template writes its second (query) slot as `"{}"`."""
    parts = list(string.Formatter().parse(template))
    fields = [i for i, (_, f, _, _) in enumerate(parts) if f is not None]
    if len(fields) < 2:
        return False
    before = parts[fields[1]][0]
    after = parts[fields[1] + 1][0] if fields[1] + 1 < len(parts) else ""
    return before.endswith('"') and after.startswith('"')


class RatingFamilySet:
    """One family and variant, its template validated when constructed."""

    answer = "number"  # a bare number, not our JSON: `parsing.parse_first_rating`
    methods = METHODS

    def __init__(self, name: str, templates_dir: Path | str, variant: int | None = None):
        if name not in FAMILIES:
            raise ConfigError(f"unknown rating prompt family {name!r}; choose from {', '.join(FAMILIES)}")
        variant = 0 if variant is None else variant
        if variant not in VARIANTS:
            raise ConfigError(f"--prompt-variant {variant}: the {name} family has variants 0-3")
        self.name, self.family, self.variant = name, name, variant
        self.dir = Path(templates_dir)
        if not self.dir.is_dir():
            raise ConfigError(f"templates directory not found: {self.dir}")
        self.template = read_template(template_path(self.dir, name, variant), 2)
        self.quoted = query_is_quoted(self.template)

    def render(self, method: str, components: Components, options: PromptOptions) -> list[Message]:
        check_users(method, components, METHODS)
        profile = options.use_profile and any(u.profile for u in components.users)
        if options.cot or options.demos or options.rel_rating or profile:
            raise ConfigError(f"the {self.name} prompts take no profile, CoT, few-shot demos or relative "
                              "ratings (they have no place for them)")
        user = components.users[0]
        text = self.template.format(history_text(self.family, self.variant, user.history),
                                    query_slot(components.query, self.quoted))
        return [Message("user", text)]
