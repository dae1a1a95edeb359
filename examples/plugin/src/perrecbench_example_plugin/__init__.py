"""An installable recommender: the entry point `example-longrun` names `LongRun`.

Imported by perrecbench only when `--model example-longrun` names it (or `perrecbench
models` lists the plugins).
"""

from __future__ import annotations

from perrecbench import Question, ScoreRecommender


class LongRun(ScoreRecommender):
    """A member whose ratings have lately risen above their long-run level likes the
    item more: the mean of the last `recent` ratings minus the mean of all before."""

    name = "example-longrun"
    DEFAULTS = {"recent": 3}

    def score_users(self, question: Question) -> list[float]:
        context = self.loaded().context
        scores = []
        for member in question.users:
            ratings = [r.rating for r in context.history(member.user_id, before=member.timestamp)]
            n = self.options["recent"]
            if len(ratings) <= n or n == 0:
                scores.append(0.0)
                continue
            recent, past = ratings[-n:], ratings[:-n]
            scores.append(sum(recent) / len(recent) - sum(past) / len(past))
        return scores
