"""From a question to prompt Components: per user, the k most relevant earlier reviews.

Relevance is BM25 (see bm25.py) between each history entry and the query item, both
as the *text the release rendered* (`entry_text`, `query_text`): the scores depend on
every token of that text (section headers included), so this text is the retrieval
contract and the official prompt set renders with the very same functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from ..bench import Context
from ..errors import ConfigError
from ..types import Item, Question
from .bm25 import doc_tokens, query_tokens, top_k
from .components import Components, HistoryEntry, QueryItem, UserBlock

#: bump when retrieval or `Components` change, so memoised Components are not reused
RETRIEVAL_VERSION = 1
QUERY_START = "<|The Start of Query Item Information|>\n"
QUERY_END = "<|The End of Query Item Information|>"


def rating_text(rating: float, relative: bool = False) -> str:
    """How a rating is written: the stored float as Python prints it (4.0, 4.5), or a
    relative rating with one decimal (-0.4)."""
    return f"{rating:.1f}" if relative else str(float(rating))


def entry_text(entry: HistoryEntry, relative: bool = False, label: str = "User") -> str:
    """One history entry: title, author when present, the user's rating (no trailing newline)."""
    text = f"### Item Title\n{entry.title}\n"
    if entry.author:
        text += f"### Item Author\n{entry.author}\n"
    return text + f"### {label} Rating\n{rating_text(entry.rating, relative)}"


def query_text(query: QueryItem) -> str:
    """The query item block; a description is added only when the caller asked for it."""
    text = QUERY_START + f"### Item Title\n{query.title}\n"
    if query.author:
        text += f"### Item Author\n{query.author}\n"
    if query.description:
        text += f"### Item Description\n{query.description}\n"
    return text + QUERY_END


def query_item(item: Item, include_description: bool = False) -> QueryItem:
    description = item.description if include_description and item.description else None
    return QueryItem(item.title, item.author or None, description)


def retrieve(entries: Sequence[HistoryEntry], query: QueryItem, k: int, relative: bool = False) -> list[HistoryEntry]:
    """The k entries most relevant to `query`, best first (the release's order)."""
    docs = [entry_tokens(e, relative) for e in entries]
    return [entries[i] for i in top_k(docs, query_tokens(query_text(query)), k)]


def entry_tokens(entry: HistoryEntry, relative: bool = False) -> list[str]:
    """`doc_tokens(entry_text(entry, relative))`, with the title/author part memoised:
    whitespace splitting of parts joined by newlines is the concatenation of their
    splits, and a run tokenises the same items over and over."""
    return [*_item_tokens(entry.title, entry.author), "###", "User", "Rating", *_rating_tokens(entry.rating, relative)]


@lru_cache(maxsize=1 << 16)
def _item_tokens(title: str, author: str | None) -> tuple[str, ...]:
    text = f"### Item Title\n{title}\n"
    if author:
        text += f"### Item Author\n{author}\n"
    return tuple(doc_tokens(text))


@lru_cache(maxsize=1 << 12)
def _rating_tokens(rating: float, relative: bool) -> tuple[str, ...]:
    return tuple(doc_tokens(rating_text(rating, relative)))


def lookup_profile(profiles: Mapping[Any, str] | None, user_id: str, timestamp: int) -> str | None:
    """A profile for this user as of `timestamp`: keys (user_id, ts), "user_id@ts", or user_id."""
    if not profiles:
        return None
    for key in ((user_id, timestamp), f"{user_id}@{timestamp}", user_id):
        if key in profiles:
            return profiles[key]
    return None


def block_for(
    context: Context,
    user_id: str,
    before: int,
    query: QueryItem,
    k: int,
    avg_rating: float,
    most_common_rating: float | None,
    profile: str | None = None,
    rel_rating: bool = False,
) -> UserBlock:
    """A user's block: top-k of the reviews strictly before `before`."""
    history = []
    for r in context.history(user_id, before=before):
        item = context.item(r.item_id)
        rating = r.rating - avg_rating if rel_rating else r.rating
        history.append(HistoryEntry(item.title, item.author or None, float(rating)))
    chosen = retrieve(history, query, k, relative=rel_rating)
    return UserBlock(tuple(chosen), profile, most_common_rating, avg_rating)


def components_for(
    question: Question,
    context: Context,
    method_users: Sequence[int],
    k: int = 4,
    profiles: Mapping[Any, str] | None = None,
    rel_rating: bool = False,
    include_description: bool = False,
) -> Components:
    """Components for one call: the members at `method_users` (0-based, in that order).

    Pointwise calls pass one index, pairwise two (A then B), listwise all of them.
    """
    if k < 0:
        raise ConfigError(f"k must be >= 0, got {k}")
    query = query_item(context.item(question.item_id), include_description)
    users = []
    for idx in method_users:
        if not 0 <= idx < question.n:
            raise ConfigError(f"question {question.id} has {question.n} users; no member index {idx}")
        m = question.users[idx]
        profile = lookup_profile(profiles, m.user_id, m.timestamp)
        users.append(
            block_for(context, m.user_id, m.timestamp, query, k, m.avg_rating, m.most_common_rating,
                      profile, rel_rating)
        )
    return Components(tuple(users), query)


def components_namespace(bench_fingerprint: str, split: str, k: int, rel_rating: bool, include_description: bool) -> str:
    """Everything that decides a question's profile-free Components, as one short key:
    Components memoised under it are valid exactly while these stay the same."""
    ident = json.dumps([RETRIEVAL_VERSION, bench_fingerprint, split, k, rel_rating, include_description])
    # "parts-v1:" is the prefix earlier versions stored: Components they memoised stay valid
    return "parts-v1:" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]


def with_profiles(comps: Components, question: Question, profiles: Mapping[Any, str] | None) -> Components:
    """`comps` (all of `question`'s members, in order) with each member's profile set."""
    if not profiles:
        return comps
    users = tuple(replace(u, profile=lookup_profile(profiles, m.user_id, m.timestamp))
                  for u, m in zip(comps.users, question.users))
    return Components(users, comps.query)
