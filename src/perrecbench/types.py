"""The benchmark's domain records: members, questions, reviews, items (answers and the
other records that cross stages are in `records`).

Timestamps are integer milliseconds since the epoch everywhere (sources in seconds
are converted when read). Ratings are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    def true_scores(self) -> list[float]:
        return [m.relative_rating for m in self.users]

    def true_order(self) -> list[int]:
        """Member indices (0-based) best first; the builder guarantees no ties."""
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
