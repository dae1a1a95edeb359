"""BM25 equals rank_bm25.BM25Okapi score for score and in get_top_n order (ties included)."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from itertools import islice

import numpy as np
import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi as Reference

from perrecbench.prompts.bm25 import BM25Okapi, doc_tokens, query_tokens, top_k
from perrecbench.prompts.components import HistoryEntry, QueryItem
from perrecbench.prompts.retrieval import entry_text, query_text


def reference_top(docs: list[list[str]], query: list[str], k: int) -> list[int]:
    return Reference(docs).get_top_n(query, list(range(len(docs))), k)


def test_hand_computed_scores():
    docs = [["a", "b"], ["b", "c", "c"], ["d"]]
    bm = BM25Okapi(docs)
    # n(a)=1, n(b)=2, n(c)=1, n(d)=1 over N=3; b's idf ln(1.5/2.5) < 0 is floored
    idf_a = math.log(3 - 1 + 0.5) - math.log(1 + 0.5)
    idf_b = math.log(3 - 2 + 0.5) - math.log(2 + 0.5)
    assert idf_b < 0
    avg_idf = (idf_a + idf_b + idf_a + idf_a) / 4
    assert bm.idf["b"] == pytest.approx(0.25 * avg_idf)
    avgdl = 6 / 3
    tf_part = lambda f, dl: f * 2.5 / (f + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))  # noqa: E731
    scores = bm.get_scores(["a", "c", "zzz"])
    assert scores[0] == pytest.approx(idf_a * tf_part(1, 2))
    assert scores[1] == pytest.approx(idf_a * tf_part(2, 3))
    assert scores[2] == 0.0
    assert top_k(docs, ["a", "c"], 2) == [1, 0]


def test_tokenisers_follow_the_release():
    assert doc_tokens("### Item Title\nA  B\n") == ["###", "Item", "Title", "A", "B"]
    assert query_tokens("<|x|>\n### Item Title\nA  B") == ["<|x|>\n###", "Item", "Title\nA", "", "B"]


def test_edge_cases():
    assert top_k([], ["a"], 3) == []
    assert top_k([["a"]], ["a"], 0) == []
    assert top_k([[], []], ["a"], 2) == [1, 0]  # no tokens at all: zero scores, no crash
    # with two documents a term in one of them has idf ln(1.5) - ln(1.5) = 0: no signal
    assert top_k([["a"], ["b"]], ["a"], 10) == [1, 0] == reference_top([["a"], ["b"]], ["a"], 10)
    assert top_k([["a"], ["b"], ["c"]], ["a"], 10) == [0, 2, 1]


def test_ties_follow_numpy_argsort_reversed():
    # 40 identical documents and a few matches: more than 16 elements, so numpy's
    # introsort (not insertion sort) decides the order of equal scores
    docs = [["x", "y"]] * 40 + [["q", "y"], ["q", "q"], ["y"]] + [["x", "y"]] * 7
    for query in (["q"], ["zz"], ["x"], ["y", "q"]):
        assert top_k(docs, query, 50) == reference_top(docs, query, 50)
        assert np.array_equal(BM25Okapi(docs).get_scores(query), Reference(docs).get_scores(query))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=8), min_size=1, max_size=30),
    st.lists(st.sampled_from("abcdefghij"), max_size=6),
    st.integers(min_value=1, max_value=35),
)
def test_random_corpora_equal_reference(docs, query, k):
    if not any(docs):
        return  # rank_bm25 itself divides by zero on a corpus without tokens
    assert np.array_equal(BM25Okapi(docs).get_scores(query), Reference(docs).get_scores(query))
    assert top_k(docs, query, k) == reference_top(docs, query, k)


def _amazon():
    base = shared_path("data", "amazon2023-sample")
    meta = {}
    for line in (base / "meta.jsonl").read_text(encoding="utf-8").splitlines():
        m = json.loads(line)
        meta[m["parent_asin"]] = m
    by_user = defaultdict(list)
    for line in (base / "reviews.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        by_user[r["user_id"]].append(r)
    return meta, by_user


def test_amazon_retrieval_order_matches_rank_bm25():
    meta, by_user = _amazon()
    checked = 0
    for reviews in list(by_user.values())[:80]:
        reviews = sorted(reviews, key=lambda r: r["timestamp"])
        if len(reviews) < 6:
            continue
        entries = []
        for r in reviews:
            m = meta.get(r["parent_asin"], {})
            entries.append(HistoryEntry(m.get("title") or r["parent_asin"], m.get("store"), float(r["rating"])))
        for qi in range(5, len(reviews)):  # query = a later item, docs = the earlier ones
            q = meta.get(reviews[qi]["parent_asin"], {})
            query = query_tokens(query_text(QueryItem(q.get("title") or "", q.get("store"))))
            docs = [doc_tokens(entry_text(e)) for e in entries[:qi]]
            assert top_k(docs, query, 4) == reference_top(docs, query, 4)
            assert top_k(docs, query, len(docs)) == reference_top(docs, query, len(docs))
            checked += 1
    assert checked > 100


def test_movielens_titles_match_rank_bm25():
    base = shared_path("data", "movielens-latest-small")
    with open(base / "movies.csv", encoding="utf-8") as fh:
        titles = {row["movieId"]: row["title"] for row in csv.DictReader(fh)}
    by_user = defaultdict(list)
    with open(base / "ratings.csv", encoding="utf-8") as fh:
        for row in islice(csv.DictReader(fh), 6000):
            by_user[row["userId"]].append(row)
    checked = 0
    for rows in by_user.values():
        rows = sorted(rows, key=lambda r: int(r["timestamp"]))[:120]
        entries = [HistoryEntry(titles[r["movieId"]], None, float(r["rating"])) for r in rows]
        docs = [doc_tokens(entry_text(e)) for e in entries]
        for qi in range(20, len(rows), 7):
            query = query_tokens(query_text(QueryItem(entries[qi].title)))
            assert top_k(docs[:qi], query, 4) == reference_top(docs[:qi], query, 4)
            checked += 1
    assert checked > 50
