"""Answer parsing on realistic messy model output."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perrecbench import failures
from perrecbench.prompts.parsing import parse_list, parse_pair, parse_point

# ----------------------------------------------------------------------------- point

POINT_OK = [
    ('{"predicted_rating": 4}', 4.0),
    ('{"predicted_rating": 3.5}', 3.5),
    ('```json\n{"predicted_rating": 2.0}\n```', 2.0),
    ("{'predicted_rating': 5}", 5.0),
    ('{"predicted_rating": "4"}', 4.0),
    ('{"predicted_rating": "4.5 stars"}', 4.5),
    ("{predicted_rating: 3,}", 3.0),
    ("Rating: 4", 4.0),
    ("Predicted rating: **4.5**", 4.5),
    ("4", 4.0),
    ("  3.0.  ", 3.0),
    ("I'd give it 4/5.", 4.0),
    ("Probably 2 out of 5", 2.0),
    ('{"Rating": 1}', 1.0),
    ('{"score": 5, "reason": "loves the series"}', 5.0),
    (
        "The user's average rating is 3.6 and they liked similar thrillers (5.0).\n"
        "So the rating would be slightly above average.\n{\"predicted_rating\": 4.2}",
        4.2,
    ),
    (
        'Example format {"predicted_rating": <rating>}. Looking at history...\n'
        '{"predicted_rating": 2.5}\nFinal: {"predicted_rating": 3}',
        3.0,
    ),
    ('Reasoning... final answer\n{"predicted_rating": 4, }', 4.0),
]


@pytest.mark.parametrize("text,value", POINT_OK)
def test_point_ok(text, value):
    p = parse_point(text)
    assert p.ok, (text, p)
    assert p.value == value


@pytest.mark.parametrize(
    "text,failure",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        (None, "empty"),
        ("I'm sorry, but I cannot predict a rating for this user.", "refusal"),
        ("As an AI, I don't have personal opinions.", "refusal"),
        ("The user seems to like mysteries.", "no_answer"),
        ('{"predicted_rating": <rating>}', "no_answer"),
        ('{"predicted_rating": 7}', "out_of_range"),
        ('{"predicted_rating": 0}', "out_of_range"),
        ("Rating: 10", "out_of_range"),
    ],
)
def test_point_failures(text, failure):
    p = parse_point(text)
    assert p.failure is not None and p.failure.name == failure
    assert p.failure in failures.PARSE


def test_point_relative_range():
    assert parse_point('{"predicted_rating": -1.5}', lo=-4, hi=4).value == -1.5
    assert parse_point("predicted_rating: -0.5", lo=-4, hi=4).value == -0.5
    assert parse_point('{"predicted_rating": -1.5}').failure.name == "out_of_range"
    assert parse_point('{"predicted_rating": 4.5}', lo=-4, hi=4).failure.name == "out_of_range"


def test_point_last_answer_wins():
    text = '{"predicted_rating": 2}\nOn reflection the author is a favourite.\n{"predicted_rating": 5}'
    assert parse_point(text).value == 5.0
    # JSON beats loose text even when the loose text comes later
    assert parse_point('{"predicted_rating": 3}\nThey gave similar books 5 stars.').value == 3.0


# ----------------------------------------------------------------------------- list

LIST_OK = [
    ('{"predicted_ranking": [2, 1, 3]}', 3, [1, 0, 2]),
    ('```json\n{"predicted_ranking": [3, 1, 2]}\n```', 3, [2, 0, 1]),
    ("{'predicted_ranking': ['User2', 'User1']}", 2, [1, 0]),
    ('{"predicted_ranking": "3, 1, 2"}', 3, [2, 0, 1]),
    ('{"predicted_ranking": "User3 > User1 > User2"}', 3, [2, 0, 1]),
    ('{"predicted_ranking": [2.0, 1.0]}', 2, [1, 0]),
    ("[3, 1, 2]", 3, [2, 0, 1]),
    ("Ranking: [User4, User2, User1, User3]", 4, [3, 1, 0, 2]),
    ("User3 > User1 > User2", 3, [2, 0, 1]),
    ("User 2 -> User 1", 2, [1, 0]),
    ("The order is User2, User3, User1.", 3, [1, 2, 0]),
    ("3 > 1 > 2", 3, [2, 0, 1]),
    ("1. User3\n2. User1\n3. **User2**", 3, [2, 0, 1]),
    (
        "User1 rates everything 5. User2 and User3 both like the author; User2 > User3 on fit.\n"
        "Final ranking: User2 > User3 > User1",
        3,
        [1, 2, 0],
    ),
    (
        'Let us compare [User1] with [User2]. {"predicted_ranking": [1, 2]} was my first guess.\n'
        'Answer: {"predicted_ranking": [2, 1]}',
        2,
        [1, 0],
    ),
]


@pytest.mark.parametrize("text,n,order", LIST_OK)
def test_list_ok(text, n, order):
    p = parse_list(text, n)
    assert p.ok, (text, p)
    assert p.value == order


@pytest.mark.parametrize(
    "text,n,failure",
    [
        ("", 3, "empty"),
        ("I cannot rank these users without more data.", 3, "refusal"),
        ("All three users seem similar.", 3, "no_answer"),
        ('{"predicted_ranking": <user_ranking>}', 3, "no_answer"),
        ('{"predicted_ranking": [1, 2]}', 3, "not_a_permutation"),
        ('{"predicted_ranking": [1, 1, 2]}', 3, "not_a_permutation"),
        ('{"predicted_ranking": [1, 2, 4]}', 3, "not_a_permutation"),
        ('{"predicted_ranking": [2, 0, 1]}', 3, "not_a_permutation"),
        ("[User5, User1, User2]", 3, "not_a_permutation"),
    ],
)
def test_list_failures(text, n, failure):
    assert parse_list(text, n).failure.name == failure


def test_list_zero_based_is_rejected_with_a_hint():
    p = parse_list('{"predicted_ranking": [1, 0, 2]}', 3)
    assert p.failure.name == "not_a_permutation" and "start at 1" in p.detail


STYLES = [
    lambda p: json.dumps({"predicted_ranking": p}),
    lambda p: "```json\n" + json.dumps({"predicted_ranking": p}, indent=2) + "\n```",
    lambda p: str(p),
    lambda p: " > ".join(f"User{i}" for i in p),
    lambda p: ", ".join(f"User{i}" for i in p),
    lambda p: "\n".join(f"{k}. User{i}" for k, i in enumerate(p, 1)),
    lambda p: "{'predicted_ranking': [" + ", ".join(f"'User{i}'" for i in p) + "]}",
]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=2, max_value=6).flatmap(lambda n: st.permutations(list(range(1, n + 1)))),
    st.sampled_from(range(len(STYLES))),
    st.sampled_from(["", "Let me think about each user first.\n\n", "Answer: "]),
)
def test_list_roundtrip_any_permutation_any_style(perm, style, prefix):
    text = prefix + STYLES[style](list(perm))
    p = parse_list(text, len(perm))
    assert p.ok, (text, p)
    assert p.value == [i - 1 for i in perm]


# ----------------------------------------------------------------------------- pair

PAIR_OK = [
    ("[User A]", "A"),
    ("[User B]", "B"),
    ("User A", "A"),
    ("user b", "B"),
    ("**User B**", "B"),
    ("A", "A"),
    ("(B)", "B"),
    ("Answer: B", "B"),
    ('{"answer": "A"}', "A"),
    ('{"preferred_user": "User B"}', "B"),
    ("The answer is [User A].", "A"),
    (
        "[User A] mostly reads thrillers, while [User B] has rated three books by this author highly.\n"
        "[User B]",
        "B",
    ),
    (
        "Answer: Let's think step by step. User A likes romance; User B likes history.\n"
        "Final answer: [User B]",
        "B",
    ),
]


@pytest.mark.parametrize("text,label", PAIR_OK)
def test_pair_ok(text, label):
    p = parse_pair(text)
    assert p.ok, (text, p)
    assert p.value == label


@pytest.mark.parametrize(
    "text,failure",
    [
        ("", "empty"),
        ("I'm sorry, I can't determine that.", "refusal"),
        ("Both users would probably like it equally.", "no_answer"),
        ("[User A] or [User B]", "ambiguous"),
        ("Final answer: User A is more likely than User B.", "ambiguous"),
    ],
)
def test_pair_failures(text, failure):
    assert parse_pair(text).failure.name == failure
