"""PerRecBench's own prompts: the release's information and answer formats, our wording.

Messages: one system message (the task), then for each few-shot demo a user turn
(rendered exactly like the real question) and an assistant turn (its true answer), then
the question. Answers: pointwise `{"predicted_rating": x}` (1-5; with relative ratings,
the relative rating, -4..4), listwise `{"predicted_ranking": [..]}` over User1..Usern
best first, pairwise `[User A]` or `[User B]`. With `cot`, the model reasons briefly
and puts the answer alone on its last line.

The "profile block" (`use_profile`) is the profile text plus the user's most common and
average rating, as in the release.
"""

from __future__ import annotations

from .components import (
    Components,
    HistoryEntry,
    Message,
    PromptOptions,
    QueryItem,
    UserBlock,
    check_users,
)

_ROLE = (
    "You help a shop personalise its recommendations. You will see what people have "
    "rated before (1 = disliked, 5 = loved). Some people rate everything high and some "
    "everything low, so always read a rating against that person's usual level and "
    "focus on their personal taste."
)
_REL_NOTE = (
    " Past ratings are shown relative to each person's own average: +1.0 means one star "
    "above what they usually give, -1.0 one star below."
)
_TASK = {
    "point": "Estimate the rating this person will give the product described below.",
    "list": (
        "Several people bought the product described below. Order them from the one who "
        "will like it most, compared with their usual ratings, to the one who will like it least."
    ),
    "pair": (
        "Two people bought the product described below. Decide which of them will like it "
        "more, compared with their usual ratings."
    ),
}
_TASK_REL_POINT = (
    "Estimate this person's relative rating for the product described below: the stars "
    "they will give it minus their average."
)
_ANSWER = {
    "point": 'a JSON object {"predicted_rating": x} where x is a number from 1 to 5',
    "point_rel": 'a JSON object {"predicted_rating": x} where x is a number from -4 to 4',
    "list": (
        'a JSON object {"predicted_ranking": [...]} listing every user number once '
        "(2 stands for User2), the one who likes the product most first"
    ),
    "pair": 'either "[User A]" or "[User B]"',
}


class DefaultPromptSet:
    name = "default"

    def render(self, method: str, components: Components, options: PromptOptions) -> list[Message]:
        check_users(method, components, _TASK)
        messages = [Message("system", self.system(method, options))]
        for demo in options.demos:
            messages.append(Message("user", self.question(method, demo.components, options)))
            messages.append(Message("assistant", demo.answer))
        messages.append(Message("user", self.question(method, components, options)))
        return messages

    def system(self, method: str, options: PromptOptions) -> str:
        text = _ROLE + (_REL_NOTE if options.rel_rating else "")
        task = _TASK_REL_POINT if method == "point" and options.rel_rating else _TASK[method]
        return f"{text}\n\n{task}"

    def question(self, method: str, c: Components, options: PromptOptions) -> str:
        if method == "point":
            names = ["Customer"]
        elif method == "pair":
            names = ["User A", "User B"]
        else:
            names = [f"User{i}" for i in range(1, len(c.users) + 1)]
        parts = [_user_text(n, u, options) for n, u in zip(names, c.users, strict=True)]
        parts.append(_query_text(c.query))
        parts.append(_answer_instruction(method, options))
        return "\n\n".join(parts)


def _user_text(name: str, user: UserBlock, options: PromptOptions) -> str:
    lines = [f"## {name}"]
    if options.use_profile:
        if user.profile:
            lines.append(f"Profile: {user.profile.strip()}")
        stats = []
        if user.most_common_rating is not None:
            stats.append(f"most often {user.most_common_rating:.1f}")
        if user.avg_rating is not None:
            stats.append(f"on average {user.avg_rating:.1f}")
        if stats:
            lines.append("Usual rating: " + ", ".join(stats))
    if user.history:
        kind = "relative ratings" if options.rel_rating else "ratings"
        lines.append(f"Past {kind}, most relevant first:")
        lines += [_entry_line(h, options.rel_rating) for h in user.history]
    else:
        lines.append("Past ratings: none available.")
    return "\n".join(lines)


def _entry_line(h: HistoryEntry, relative: bool) -> str:
    by = f" by {h.author}" if h.author else ""
    value = f"{h.rating:+.1f}" if relative else f"{h.rating:.1f}"
    return f'- "{h.title}"{by}: {value}'


def _query_text(q: QueryItem) -> str:
    lines = ["## Product", f"Title: {q.title}"]
    if q.author:
        lines.append(f"Author: {q.author}")
    if q.description:
        lines.append(f"Description: {q.description}")
    return "\n".join(lines)


def _answer_instruction(method: str, options: PromptOptions) -> str:
    fmt = _ANSWER["point_rel" if method == "point" and options.rel_rating else method]
    if options.cot:
        return (
            "Think it through in a few short sentences first. Then write your answer alone "
            f"on the last line: {fmt}."
        )
    return f"Answer with {fmt}, and nothing else."
