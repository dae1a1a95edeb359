"""The benchmark's domain records: members, questions, reviews, items (answers and the
other records that cross stages are in `records`).

Timestamps are integer milliseconds since the epoch everywhere (sources in seconds
are converted when read). Ratings are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import TruthHiddenError

#: what a model may read of a member (the public view; `PublicMember`)
PUBLIC_MEMBER_FIELDS = ("user_id", "avg_rating", "most_common_rating", "history_len", "timestamp")
#: what a member's public view hides: what the model is scored against
TRUTH_FIELDS = ("rating", "relative_rating")
_MAY_READ = ("a model may read a member's " + ", ".join(PUBLIC_MEMBER_FIELDS)
             + " and the benchmark's context before that timestamp (docs/extending.md, 'What a model may look at')")


def truth_hidden(what: str) -> TruthHiddenError:
    """The one error of a model that read the truth (its message says what it may read)."""
    return TruthHiddenError(f"the truth is hidden from models: {what} is what the model is scored against; "
                            + _MAY_READ)


@dataclass(frozen=True)
class Member:
    """One user of a question's group, with the truth about the query item."""

    user_id: str
    rating: float
    relative_rating: float  # rating - avg_rating: the ground truth signal
    avg_rating: float  # user's average (earlier reviews by default; see manifest user_mean)
    most_common_rating: float
    history_len: int  # number of the user's reviews strictly before `timestamp`
    timestamp: int  # when this user reviewed the query item (ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "rating": self.rating,
            "relative_rating": self.relative_rating,
            "avg_rating": self.avg_rating,
            "most_common_rating": self.most_common_rating,
            "history_len": self.history_len,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Member:
        return cls(
            user_id=str(d["user_id"]),
            rating=float(d["rating"]),
            relative_rating=float(d["relative_rating"]),
            avg_rating=float(d["avg_rating"]),
            most_common_rating=float(d.get("most_common_rating", d["avg_rating"])),
            history_len=int(d.get("history_len", 0)),
            timestamp=int(d.get("timestamp", 0)),
        )

    def public(self) -> Member:
        """This member as a model sees it: without `rating` and `relative_rating`."""
        return PublicMember.of(self)


class _Hidden:
    """A truth field of `PublicMember`: reading it raises `TruthHiddenError`. A data
    descriptor (it defines __set__), so no value stored on the instance can shadow it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> float:
        if obj is None:
            raise AttributeError(self.name)  # class access: as if the field did not exist
        raise truth_hidden(f"Member.{self.name} of user {obj.user_id!r}")

    def __set__(self, obj: Any, value: float) -> NoReturn:
        raise truth_hidden(f"Member.{self.name}")


class PublicMember(Member):
    """A member as every model but the built-in oracle sees it: the `Member` fields of
    `PUBLIC_MEMBER_FIELDS`; reading `rating` or `relative_rating` raises a clear
    `TruthHiddenError` (not an AttributeError that a `getattr` default would swallow).

    A subclass of `Member`, so model code typed for members runs unchanged on it.
    Made with `Member.public()`; equal, hashed, printed and serialised by its public
    fields only."""

    rating = _Hidden()
    relative_rating = _Hidden()

    def __init__(self, user_id: str, avg_rating: float, most_common_rating: float, history_len: int,
                 timestamp: int) -> None:
        for name, value in zip(PUBLIC_MEMBER_FIELDS, (user_id, avg_rating, most_common_rating, history_len,
                                                      timestamp), strict=True):
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, m: Member) -> PublicMember:
        if isinstance(m, PublicMember):
            return m
        return cls(m.user_id, m.avg_rating, m.most_common_rating, m.history_len, m.timestamp)

    def _public(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in PUBLIC_MEMBER_FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicMember) and self._public() == other._public()

    def __hash__(self) -> int:
        return hash(self._public())

    def __repr__(self) -> str:
        return "PublicMember(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in PUBLIC_MEMBER_FIELDS) + ")"

    def __reduce__(self) -> tuple[Any, ...]:  # copy/pickle by the public fields (not Member's __init__)
        return (PublicMember, self._public())

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in PUBLIC_MEMBER_FIELDS}


@dataclass(frozen=True)
class Question:
    """One group of users who all rated `item_id`: rank them by relative rating."""

    id: str
    level: str
    split: str
    item_id: str
    query_time: int  # earliest member timestamp (ms)
    users: tuple[Member, ...]

    @property
    def n(self) -> int:
        return len(self.users)

    @property
    def is_public(self) -> bool:
        """Whether this is a model's view of the question (`public()`): no truth."""
        return any(isinstance(m, PublicMember) for m in self.users)

    def public(self) -> Question:
        """The question as every model but the built-in oracle sees it: its members are
        `PublicMember`s, and `true_scores()` / `true_order()` raise `TruthHiddenError`."""
        if self.is_public:
            return self
        return Question(self.id, self.level, self.split, self.item_id, self.query_time,
                        tuple(m.public() for m in self.users))

    def _truth(self, what: str) -> None:
        if self.is_public:
            raise truth_hidden(f"Question.{what} of question {self.id!r}")

    def true_scores(self) -> list[float]:
        self._truth("true_scores()")
        return [m.relative_rating for m in self.users]

    def true_order(self) -> list[int]:
        """Member indices (0-based) best first; the builder guarantees no ties."""
        self._truth("true_order()")
        return sorted(range(self.n), key=lambda i: -self.users[i].relative_rating)

    def to_dict(self) -> dict[str, Any]:
        # hand-written: dataclasses.asdict deep-copies and dominates build time
        return {
            "id": self.id,
            "level": self.level,
            "split": self.split,
            "item_id": self.item_id,
            "query_time": self.query_time,
            "users": [m.to_dict() for m in self.users],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Question:
        return cls(
            id=str(d["id"]),
            level=str(d["level"]),
            split=str(d.get("split", "test")),
            item_id=str(d["item_id"]),
            query_time=int(d.get("query_time", 0)),
            users=tuple(Member.from_dict(u) for u in d["users"]),
        )


@dataclass(frozen=True)
class Review:
    """One (user, item, rating, time) row of the deduplicated review table."""

    user_id: str
    item_id: str
    rating: float
    timestamp: int


@dataclass(frozen=True)
class Item:
    """Item metadata as far as the benchmark uses it."""

    item_id: str
    title: str = ""
    author: str | None = None
    category: str | None = None
    description: str | None = None
