"""What a prompt is made of, independent of wording: the contract between retrieval and prompt sets.

`perrecbench render --components FILE` reads exactly this shape as JSON:
    {"users": [{"profile", "most_common_rating", "avg_rating",
                "history": [{"title", "author", "rating"}]}],
     "query": {"title", "author"}}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class HistoryEntry:
    title: str
    author: str | None
    rating: float  # the user's rating, or relative rating in the rel_rating variant


@dataclass(frozen=True)
class UserBlock:
    history: tuple[HistoryEntry, ...]
    profile: str | None = None
    most_common_rating: float | None = None
    avg_rating: float | None = None


@dataclass(frozen=True)
class QueryItem:
    title: str
    author: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Components:
    users: tuple[UserBlock, ...]
    query: QueryItem

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Components:
        users = tuple(
            UserBlock(
                history=tuple(
                    HistoryEntry(str(h.get("title") or ""), h.get("author"), float(h["rating"]))
                    for h in u.get("history") or []
                ),
                profile=u.get("profile"),
                most_common_rating=_opt_float(u.get("most_common_rating")),
                avg_rating=_opt_float(u.get("avg_rating")),
            )
            for u in d["users"]
        )
        q = d["query"]
        return cls(users, QueryItem(str(q.get("title") or ""), q.get("author"), q.get("description")))


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class PromptOptions:
    """Variants that change the wording (not the information) of a prompt."""

    cot: bool = False  # reason first, then answer
    rel_rating: bool = False  # history shows relative ratings
    use_profile: bool = True
    demos: tuple[Any, ...] = field(default_factory=tuple)  # few-shot demonstrations


def check_users(method: str, components: Components, methods) -> None:
    """Shared input check of every prompt set: a known method, and one user for pointwise,
    two (A then B) for pairwise."""
    from ..errors import ConfigError

    if method not in methods:
        raise ConfigError(f"unknown method {method!r}")
    expected = {"point": 1, "pair": 2}.get(method)
    if expected is not None and len(components.users) != expected:
        raise ConfigError(f"{method} prompts take {expected} user(s), got {len(components.users)}")


class PromptSet(Protocol):
    """A family of prompts: one renderer per method."""

    name: str

    def render(self, method: str, components: Components, options: PromptOptions) -> list[Message]:
        """Chat messages for one call. method: point (1 user), pair (2 users: A, B), list (n users)."""
        ...
