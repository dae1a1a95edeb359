"""Retrieval into Components, few-shot demos, and the default prompt set."""

from __future__ import annotations

import json
import re

import pytest
from helpers.profile_bench import DAY, T0, make_bench

from perrecbench.errors import ConfigError
from perrecbench.prompts.bm25 import doc_tokens, query_tokens, top_k
from perrecbench.prompts.components import (
    Components,
    HistoryEntry,
    PromptOptions,
    QueryItem,
    UserBlock,
)
from perrecbench.prompts.default_set import DefaultPromptSet
from perrecbench.prompts.fewshot import Demo, group_demos, point_demos
from perrecbench.prompts.parsing import parse_list, parse_pair, parse_point
from perrecbench.prompts.profiles import offline_profiles
from perrecbench.prompts.retrieval import components_for, entry_text, query_text


@pytest.fixture
def bench(tmp_path):
    return make_bench(tmp_path / "bench")


# ----------------------------------------------------------------------------- retrieval

def test_components_take_top_k_of_strictly_earlier_history(bench):
    q = bench.questions("test", "medium")[0]
    ctx = bench.context
    c = components_for(q, ctx, [2, 0], k=4)
    assert len(c.users) == 2
    assert c.query == QueryItem("The Inspector's Last Alibi", "Agatha Stone", None)
    u3, u1 = c.users
    assert len(u1.history) == 4
    assert u1.avg_rating == q.users[0].avg_rating and u1.most_common_rating == q.users[0].most_common_rating
    # the same order as BM25 over all earlier entries, rendered as the release did
    earlier = ctx.history("u1", before=q.users[0].timestamp)
    entries = [HistoryEntry(ctx.item(r.item_id).title, ctx.item(r.item_id).author, r.rating) for r in earlier]
    order = top_k([doc_tokens(entry_text(e)) for e in entries], query_tokens(query_text(c.query)), 4)
    assert list(u1.history) == [entries[i] for i in order]
    # release quirk: the query splits on " " only, so words next to a newline (here the
    # whole two-word author name) are glued to headers and never match a document token
    assert "Author\nAgatha" in query_tokens(query_text(c.query))
    assert all(h.title != "The Inspector's Last Alibi" for u in c.users for h in u.history)


def test_history_cut_off_is_strict(bench):
    q = bench.questions("test", "easy")[0]
    ctx = bench.context
    m = q.users[0]
    moved = type(m)(**{**m.__dict__, "timestamp": T0 + 30 * DAY})  # same instant as u1's i3 review
    q2 = type(q)(q.id, q.level, q.split, q.item_id, q.query_time, (moved,))
    c = components_for(q2, ctx, [0], k=10)
    assert {h.title for h in c.users[0].history} == {"Murder at the Manor", "The Detective's Clue", "Galaxy Station"}


def test_rel_rating_profiles_and_description(bench):
    q = bench.questions("test", "easy")[0]
    profs = offline_profiles(bench, "test")
    c = components_for(q, bench.context, [0, 1], k=10, profiles=profs, rel_rating=True, include_description=True)
    u1 = c.users[0]
    assert u1.profile.startswith("Offline profile from 10 earlier ratings")
    assert sorted(round(h.rating + u1.avg_rating, 6) for h in u1.history) == [2, 2, 3, 3, 3, 4, 4, 4, 5, 5]
    assert c.query.description == "About The Inspector's Last Alibi."
    by_id = components_for(q, bench.context, [1], profiles={"u2": "plain id key"})
    assert by_id.users[0].profile == "plain id key"
    with pytest.raises(ConfigError, match="no member index 5"):
        components_for(q, bench.context, [5])


# ----------------------------------------------------------------------------- few-shot

def test_point_demos_come_from_the_users_own_past(bench):
    q = bench.questions("test", "easy")[0]
    ctx = bench.context
    demos = point_demos(q, 0, ctx, n=3, k=2, seed=7)
    assert len(demos) == 3 and demos == point_demos(q, 0, ctx, n=3, k=2, seed=7)
    past = {ctx.item(r.item_id).title: r for r in ctx.history("u1", before=q.users[0].timestamp)}
    for d in demos:
        target = past[d.components.query.title]
        assert json.loads(d.answer) == {"predicted_rating": target.rating}
        assert len(d.components.users[0].history) <= 2
        for h in d.components.users[0].history:
            assert past[h.title].timestamp < target.timestamp  # demo history precedes its query
    assert len(point_demos(q, 0, ctx, n=50, k=2, seed=1)) == 8  # items 3..10 have >= k earlier
    assert len(point_demos(q, 0, ctx, n=50, k=2, seed=1, min_history=1)) == 9
    rel = point_demos(q, 0, ctx, n=1, k=2, seed=7, rel_rating=True)[0]
    assert json.loads(rel.answer)["predicted_rating"] == pytest.approx(
        past[rel.components.query.title].rating - q.users[0].avg_rating, abs=0.05)


def test_group_demos_from_heldout(bench):
    held = bench.questions("heldout", "medium")
    ctx = bench.context
    (d,) = group_demos(held, ctx, "list", n=1, k=3, seed=0)
    truth = [i + 1 for i in held[0].true_order()]
    assert json.loads(d.answer) == {"predicted_ranking": truth}
    assert len(d.components.users) == 3 and d.components.query.title == "Starship Colony"
    (p,) = group_demos(held, ctx, "pair", n=1, k=3, seed=3)
    assert p.answer in ("[User A]", "[User B]") and len(p.components.users) == 2
    with pytest.raises(ConfigError, match="held-out"):
        group_demos(held, ctx, "list", n=2)
    with pytest.raises(ConfigError):
        group_demos(held, ctx, "point", n=1)


# ----------------------------------------------------------------------------- default set

def _user(i: int, profile: str | None = "Reads crime novels.") -> UserBlock:
    return UserBlock(
        (HistoryEntry(f"Book {i}", "Ann Author", 5.0), HistoryEntry("Phone case", None, -0.75)),
        profile, 4.0, 3.66,
    )


QUERY = QueryItem("Night Train", "Ann Author")
PSET = DefaultPromptSet()


def test_pointwise_default():
    msgs = PSET.render("point", Components((_user(1),), QUERY), PromptOptions())
    assert [m.role for m in msgs] == ["system", "user"]
    user = msgs[1].content
    assert "## Customer\nProfile: Reads crime novels.\nUsual rating: most often 4.0, on average 3.7" in user
    assert '- "Book 1" by Ann Author: 5.0\n- "Phone case": -0.8' in user
    assert "## Product\nTitle: Night Train\nAuthor: Ann Author" in user
    assert user.endswith('Answer with a JSON object {"predicted_rating": x} where x is a number from 1 to 5, and nothing else.')
    # the format the prompt asks for is what the parser reads
    assert parse_point('{"predicted_rating": 4}').value == 4.0


def test_listwise_and_pairwise_default():
    users = tuple(_user(i) for i in range(1, 4))
    user = PSET.render("list", Components(users, QUERY), PromptOptions())[1].content
    assert [m.group(0) for m in re.finditer(r"^## User\d", user, re.M)] == ["## User1", "## User2", "## User3"]
    assert '{"predicted_ranking": [...]}' in user
    assert parse_list('{"predicted_ranking": [2, 3, 1]}', 3).value == [1, 2, 0]
    pair = PSET.render("pair", Components(users[:2], QUERY), PromptOptions())
    assert "## User A\n" in pair[1].content and "## User B\n" in pair[1].content
    assert '"[User A]" or "[User B]"' in pair[1].content
    assert parse_pair("[User B]").value == "B"
    with pytest.raises(ConfigError, match="2 user"):
        PSET.render("pair", Components(users, QUERY), PromptOptions())
    with pytest.raises(ConfigError, match="unknown method"):
        PSET.render("triple", Components(users, QUERY), PromptOptions())


def test_variants_default():
    c = Components((_user(1, profile=None),), QUERY)
    cot = PSET.render("point", c, PromptOptions(cot=True))[1].content
    assert "few short sentences" in cot and "last line" in cot
    rel = PSET.render("point", c, PromptOptions(rel_rating=True))
    assert "relative" in rel[0].content and "from -4 to 4" in rel[1].content
    assert '- "Book 1" by Ann Author: +5.0' in rel[1].content
    noprof = PSET.render("point", Components((_user(1),), QUERY), PromptOptions(use_profile=False))[1].content
    assert "Profile" not in noprof and "Usual rating" not in noprof
    assert "Profile:" not in PSET.render("point", c, PromptOptions())[1].content
    empty = Components((UserBlock(()),), QueryItem("X"))
    assert "none available" in PSET.render("point", empty, PromptOptions())[1].content


def test_demos_become_chat_turns():
    demo = Demo(Components((_user(9),), QueryItem("Old Book")), '{"predicted_rating": 2.0}')
    msgs = PSET.render("point", Components((_user(1),), QUERY), PromptOptions(demos=(demo, demo)))
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Old Book" in msgs[1].content and msgs[2].content == '{"predicted_rating": 2.0}'
    assert "Night Train" in msgs[-1].content
