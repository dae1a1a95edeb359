"""A recommender in one file: `perrecbench run --model examples/myrec.py:RecentTaste ...`.

Each member is scored by how their latest ratings compare with their usual level: a
member who has lately rated above their own average is guessed to like the query item
more than their habit says. It reads only what a model may look at: the question's
members (`user_id`, `avg_rating`, the time of their review) and their reviews strictly
before that time (`self.bench.context.history`).

    perrecbench run --bench BENCH --model examples/myrec.py:RecentTaste --method list \\
        --option k=3 --out runs/recent
    python examples/evaluate_myrec.py BENCH runs/recent-py      # the same from Python
"""

from __future__ import annotations

from perrecbench import Question, ScoreRecommender


class RecentTaste(ScoreRecommender):
    """Mean of a member's `k` latest ratings minus their average rating."""

    name = "recent-taste"
    #: the options `--option key=value` may set, with their defaults (a value is cast to
    #: the default's type; an unknown key is an error). `batch_size`: questions scored
    #: per `score_batch` call.
    DEFAULTS = {"k": 5, "batch_size": 16}

    def score_users(self, question: Question) -> list[float]:
        context = self.loaded().context  # the benchmark handed to prepare()
        scores = []
        for member in question.users:
            history = context.history(member.user_id, before=member.timestamp)[-self.options["k"]:]
            recent = sum(r.rating for r in history) / len(history) if history else member.avg_rating
            scores.append(recent - member.avg_rating)
        return scores

    def score_batch(self, questions: list[Question]) -> list[list[float]]:
        # a model that scores many questions in one pass (a network on a GPU) does it here;
        # the runner hands it up to `batch_size` questions at once
        return [self.score_users(q) for q in questions]
