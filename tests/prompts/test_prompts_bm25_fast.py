"""The fast BM25 path gives rank_bm25's scores bit for bit, including negative idf floors."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi as Reference

from perrecbench.prompts.bm25 import doc_tokens, fast_scores, query_tokens
from perrecbench.prompts.components import HistoryEntry, QueryItem
from perrecbench.prompts.retrieval import entry_text, query_text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=9), min_size=1, max_size=40),
    st.lists(st.sampled_from("abcdefghij"), max_size=8),
)
def test_scores_bitwise_equal_reference(docs, query):
    if not any(docs):
        return  # rank_bm25 divides by zero here
    ours = np.array(fast_scores(docs, query))
    ref = Reference(docs).get_scores(query)
    assert ours.dtype == ref.dtype and np.array_equal(ours, ref)
    assert ours.tobytes() == ref.tobytes()  # no -0.0 / +0.0 or 1-ulp differences


def test_prompt_shaped_documents():
    # the real shape: every document shares the section headers (negative idf floors)
    entries = [HistoryEntry(f"Book {i % 7} of Saga {i % 3}", None if i % 4 else f"Author {i % 5}", float(1 + i % 5))
               for i in range(60)]
    docs = [doc_tokens(entry_text(e)) for e in entries]
    query = query_tokens(query_text(QueryItem("Saga 2 Book 3", "Author 4")))
    assert np.array(fast_scores(docs, query)).tobytes() == Reference(docs).get_scores(query).tobytes()


def test_empty_inputs():
    assert fast_scores([], ["a"]) == []
    assert fast_scores([[], []], ["a"]) == [0.0, 0.0]
    assert fast_scores([["a"]], []) == [0.0]
