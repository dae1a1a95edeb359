"""Methods on top of a scripted client: parsing, retries with new sample indices, voting,
pairwise aggregation, failure recording."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter

import pytest

from perrecbench import failures
from perrecbench.models.llm.client import CallFailed, Completion, Usage
from perrecbench.models.llm.config import GenerateConfig
from perrecbench.models.llm.sampling import Asker, majority
from perrecbench.models.llm.strategies import predict_list, predict_pair, predict_point
from perrecbench.prompts.components import Message
from perrecbench.types import Member, Question


def _question(rel=(0.5, -1.0, 2.0, -0.2), avg=(3.0, 4.0, 2.5, 3.5)) -> Question:
    users = tuple(
        Member(f"u{i}", a + r, r, a, round(a), 20, 1000 + i) for i, (r, a) in enumerate(zip(rel, avg, strict=True))
    )
    return Question("q1", {2: "easy", 3: "medium", 4: "hard"}[len(users)], "test", "item", 1000, users)


class Prompts:
    def messages(self, method, members):
        return [Message("user", f"{method}:" + ",".join(map(str, members)))]


class ScriptedClient:
    """answer(method, members, sample_index) -> text; raise CallFailed to simulate transport loss."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[str, int]] = []
        self.notes: list[tuple] = []

    async def generate(self, messages, config, sample_index=0, tags=None):
        content = messages[-1].content
        self.calls.append((content, sample_index))
        method, members = content.split(":")
        text = self.answer(method, [int(m) for m in members.split(",")], sample_index)
        return Completion(text, Usage(1, 1), 0.0, False, "scripted", "stop", sample_index, 1)

    def note(self, tags, sample_index, failure, detail=""):
        self.notes.append((sample_index, failure.name))


def _asker(client, samples=1, retries=5):
    return Asker(client, GenerateConfig(temperature=0.1), samples, retries)


def run(coro):
    return asyncio.run(coro)


def test_point_scores_are_rating_minus_average():
    q = _question()
    ratings = {0: 4, 1: 3, 2: 5, 3: 3}
    client = ScriptedClient(lambda m, users, s: json.dumps({"predicted_rating": ratings[users[0]]}))
    pred = run(predict_point(q, Prompts(), _asker(client)))
    assert pred.ok and pred.ratings == [4.0, 3.0, 5.0, 3.0]
    assert pred.scores == pytest.approx([1.0, -1.0, 2.5, -0.5])
    assert pred.order == [2, 0, 3, 1] and pred.n_calls == 4 and pred.n_failed_calls == 0


def test_point_relative_rating_answers_are_the_scores():
    q = _question()
    client = ScriptedClient(lambda m, users, s: f'{{"predicted_rating": {users[0] - 1.5}}}')
    pred = run(predict_point(q, Prompts(), _asker(client), rel_rating=True))
    assert pred.scores == [-1.5, -0.5, 0.5, 1.5]
    assert pred.ratings == pytest.approx([1.5, 3.5, 3.0, 5.0])
    assert pred.order == [3, 2, 1, 0]


def test_unparsable_answers_are_retried_with_new_sample_indices():
    q = _question(rel=(0.5, -1.0), avg=(3.0, 4.0))

    def answer(method, users, s):
        if users[0] == 0 and s < 2:
            return "I would rather not say." if s == 0 else "maybe"
        return '{"predicted_rating": 4}'

    client = ScriptedClient(answer)
    pred = run(predict_point(q, Prompts(), _asker(client)))
    assert pred.ok and pred.n_calls == 4 and pred.n_failed_calls == 2
    assert sorted(s for c, s in client.calls if c == "point:0") == [0, 1, 2]
    assert pred.parse_failures == {"no_answer": 2}
    assert [n[1] for n in client.notes] == ["no_answer"] * 2


def test_point_fails_after_the_last_retry_and_says_why():
    q = _question(rel=(0.5, -1.0), avg=(3.0, 4.0))
    client = ScriptedClient(lambda m, users, s: '{"predicted_rating": 9}' if users[0] else '{"predicted_rating": 2}')
    pred = run(predict_point(q, Prompts(), _asker(client, retries=5)))
    assert not pred.ok and pred.failure == "out_of_range" and "9" in pred.failure_detail
    assert pred.order is None
    assert sum(1 for c, _ in client.calls if c == "point:1") == 6  # 1 + 5 retries (as released)
    assert pred.partial_answers == [2.0, None]


def test_self_consistency_votes_on_parsed_answers():
    q = _question(rel=(0.5, -1.0), avg=(3.0, 4.0))
    votes = {0: "Rating: 4", 1: '{"predicted_rating": 2}', 2: "2 out of 5"}
    client = ScriptedClient(lambda m, users, s: votes[s])
    pred = run(predict_point(q, Prompts(), _asker(client, samples=3)))
    assert pred.ratings == [2.0, 2.0] and pred.n_calls == 6
    assert pred.sample_answers == [[4.0, 2.0, 2.0], [4.0, 2.0, 2.0]]


def test_vote_ties_go_to_the_earliest_slot():
    assert majority([4.0, 2.0]) == 4.0
    assert majority([None, 2.0, 3.0]) == 2.0
    assert majority([[1, 0], [0, 1], [0, 1]]) == [0, 1]
    assert majority(["B", "A", "A", "B"]) == "B"
    assert majority([None, None]) is None


def test_slot_retries_use_index_slot_plus_samples_times_retry():
    q = _question(rel=(0.5, -1.0), avg=(3.0, 4.0))
    client = ScriptedClient(lambda m, users, s: "garbage" if s == 1 else '{"predicted_rating": 3}')
    run(predict_point(q, Prompts(), _asker(client, samples=2)))
    assert sorted(s for c, s in client.calls if c == "point:0") == [0, 1, 3]


def test_list_parses_a_permutation():
    q = _question()
    client = ScriptedClient(lambda m, users, s: 'Thinking...\n{"predicted_ranking": [3, 1, 4, 2]}')
    pred = run(predict_list(q, Prompts(), _asker(client)))
    assert pred.ok and pred.order == [2, 0, 3, 1] and pred.n_calls == 1


def test_list_failure_is_categorised():
    q = _question()
    client = ScriptedClient(lambda m, users, s: '{"predicted_ranking": [1, 1, 2, 3]}')
    pred = run(predict_list(q, Prompts(), _asker(client, retries=2)))
    assert not pred.ok and pred.failure == "not_a_permutation" and pred.n_calls == 3 and pred.n_failed_calls == 3


def _truthful(q):
    rel = q.true_scores()
    return lambda m, users, s: "[User A]" if rel[users[0]] > rel[users[1]] else "[User B]"


def test_pair_heap_recovers_the_truth_and_memoises():
    q = _question()
    client = ScriptedClient(_truthful(q))
    pred = run(predict_pair(q, Prompts(), _asker(client), "heap"))
    assert pred.ok and pred.order == q.true_order()
    asked = Counter(c for c, _ in client.calls)
    assert max(asked.values()) == 1  # every ordered pair at most once
    pairs = {tuple(sorted(map(int, c.split(":")[1].split(",")))) for c in asked}
    for a, b in pairs:  # always both orders
        assert f"pair:{a},{b}" in asked and f"pair:{b},{a}" in asked
    assert pred.n_calls == len(asked) == 2 * pred.pairs.asked
    assert pred.pairs.inconsistency_rate == 0.0


def test_pair_inconsistent_answers_count_as_not_better():
    q = _question()
    client = ScriptedClient(lambda m, users, s: "[User A]")  # position bias: always the first
    pred = run(predict_pair(q, Prompts(), _asker(client), "heap"))
    assert pred.ok and sorted(pred.order) == [0, 1, 2, 3]
    assert pred.pairs.inconsistent == pred.pairs.asked and pred.pairs.inconsistency_rate == 1.0


def test_pair_allpairs_ties_inconsistency():
    q = _question(rel=(0.5, -1.0, 2.0), avg=(3.0, 4.0, 2.5))
    rel = q.true_scores()

    def answer(m, users, s):
        if set(users) == {0, 1}:
            return "[User A]"  # inconsistent for the pair (0, 1)
        return "[User A]" if rel[users[0]] > rel[users[1]] else "[User B]"

    pred = run(predict_pair(q, Prompts(), _asker(ScriptedClient(answer)), "allpairs"))
    assert pred.scores == [0.5, 0.5, 2.0]  # 2 beats both; 0 and 1 tie
    assert pred.order == [2, 0, 1] and pred.n_calls == 6
    assert pred.pairs.inconsistent == 1 and pred.pairs.inconsistency_rate == pytest.approx(1 / 3, abs=1e-4)


def test_pair_with_no_parsable_comparison_fails():
    q = _question(rel=(0.5, -1.0), avg=(3.0, 4.0))
    client = ScriptedClient(lambda m, users, s: "Both users might like it.")
    pred = run(predict_pair(q, Prompts(), _asker(client, retries=1), "heap"))
    assert not pred.ok and pred.failure == "no_answer" and pred.n_calls == 4


def test_pair_single_unparsable_comparison_is_not_better():
    q = _question(rel=(0.5, -1.0, 2.0), avg=(3.0, 4.0, 2.5))
    truthful = _truthful(q)

    def answer(m, users, s):
        return "hmm" if users == [2, 0] else truthful(m, users, s)

    pred = run(predict_pair(q, Prompts(), _asker(ScriptedClient(answer), retries=0), "heap"))
    assert pred.ok and pred.pairs.unparsed == 1 and pred.n_failed_calls == 1


def _transport_failure(fail_on):
    def answer(m, users, s):
        if re.fullmatch(fail_on, f"{m}:{','.join(map(str, users))}"):
            raise CallFailed(failures.RATE_LIMIT, "gave up after 6 attempts", 6)
        return {"point": '{"predicted_rating": 3}', "list": '{"predicted_ranking": [1, 2]}'}.get(m, "[User A]")
    return answer


@pytest.mark.parametrize("method", ["point", "pair", "list"])
def test_transport_failure_fails_the_question_with_its_category(method):
    q = _question(rel=(0.5, -1.0), avg=(3.0, 4.0))
    client = ScriptedClient(_transport_failure(r"(point:1|pair:1,0|list:.*)"))
    fn = {"point": predict_point, "pair": predict_pair, "list": predict_list}[method]
    pred = run(fn(q, Prompts(), _asker(client)))
    assert not pred.ok and pred.failure == "rate_limit" and pred.n_failed_calls >= 1
