"""BM25Okapi, score-for-score equal to `rank_bm25.BM25Okapi` with its defaults.

The release retrieved each user's k history items with rank_bm25; to reproduce its
prompts the scores must be bitwise identical (ties and near-ties decide the order), so
this follows the same arithmetic in the same order:

    idf(t)   = ln(N - n_t + 0.5) - ln(n_t + 0.5); a negative idf is replaced by
               epsilon * (mean idf over the vocabulary, before replacement)
    score(d) = sum over query tokens q (repeats counted, in query order) of
               idf(q) * f(q,d) * (k1 + 1) / (f(q,d) + k1 * (1 - b + b * |d| / avgdl))

Tokens are whatever the caller passes: the release split documents on any whitespace
(`str.split()`) and the query on single spaces (`str.split(" ")`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import chain

import numpy as np


class BM25Okapi:
    """BM25 index over tokenised documents (k1 1.5, b 0.75, epsilon 0.25 as in rank_bm25)."""

    def __init__(
        self,
        corpus: Sequence[Sequence[str]],
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ):
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.doc_len = [len(doc) for doc in corpus]
        self.doc_freqs: list[dict[str, int]] = []
        doc_count: dict[str, int] = {}  # insertion order matters for the idf sum
        for doc in corpus:
            freqs: dict[str, int] = {}
            for tok in doc:
                freqs[tok] = freqs.get(tok, 0) + 1
            self.doc_freqs.append(freqs)
            for tok in freqs:
                doc_count[tok] = doc_count.get(tok, 0) + 1
        self.corpus_size = len(self.doc_freqs)
        self.avgdl = sum(self.doc_len) / self.corpus_size if self.corpus_size else 0.0
        self.idf = self._idf(doc_count)

    def _idf(self, doc_count: dict[str, int]) -> dict[str, float]:
        idf: dict[str, float] = {}
        total = 0.0
        negative = []
        for tok, n in doc_count.items():
            value = math.log(self.corpus_size - n + 0.5) - math.log(n + 0.5)
            idf[tok] = value
            total += value
            if value < 0:
                negative.append(tok)
        average = total / len(idf) if idf else 0.0
        for tok in negative:
            idf[tok] = self.epsilon * average
        return idf

    def get_scores(self, query: Sequence[str]) -> np.ndarray:
        """One score per document, in corpus order."""
        score = np.zeros(self.corpus_size)
        if not self.corpus_size or self.avgdl == 0:
            return score  # rank_bm25 divides by zero here; nothing can match anyway
        doc_len = np.array(self.doc_len)
        for q in query:
            q_freq = np.array([doc.get(q) or 0 for doc in self.doc_freqs])
            score += (self.idf.get(q) or 0) * (
                q_freq * (self.k1 + 1) / (q_freq + self.k1 * (1 - self.b + self.b * doc_len / self.avgdl))
            )
        return score


def top_k(docs_tokens: Sequence[Sequence[str]], query_tokens: Sequence[str], k: int) -> list[int]:
    """Indices of the k best documents, best first, with rank_bm25's `get_top_n` order.

    `get_top_n` takes `np.argsort(scores)[::-1][:n]`: ascending introsort reversed, so
    among equal scores the *later* document usually comes first. We call the same
    numpy function on the same scores, so ties fall exactly as in the release.
    """
    if k <= 0 or not docs_tokens:
        return []
    scores = np.array(fast_scores(docs_tokens, query_tokens))
    return [int(i) for i in np.argsort(scores)[::-1][:k]]


def fast_scores(
    corpus: Sequence[Sequence[str]], query: Sequence[str], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25
) -> list[float]:
    """`BM25Okapi(corpus).get_scores(query)`, bit for bit, in a fraction of the time.

    Retrieval runs once per user block (thousands per run), so this skips what cannot
    change a score: a query token absent from a document adds idf * 0.0, which leaves
    any sum as it is; idf depends only on a token's document count, so each distinct
    count is logged once. Every remaining operation is the same float64 arithmetic in
    the same order as the vectorised version (numpy's + - * / round like Python's).
    """
    n_docs = len(corpus)
    doc_len = [len(doc) for doc in corpus]
    avgdl = sum(doc_len) / n_docs if n_docs else 0.0
    if not n_docs or avgdl == 0:
        return [0.0] * n_docs
    # document counts in first-appearance order (the order the idf sum runs in)
    doc_count: Counter = Counter()
    doc_count.update(chain.from_iterable(dict.fromkeys(doc) for doc in corpus))
    by_count: dict[int, float] = {}
    total = 0.0
    for n in doc_count.values():
        value = by_count.get(n)
        if value is None:
            value = by_count[n] = math.log(n_docs - n + 0.5) - math.log(n + 0.5)
        total += value  # sequential, like rank_bm25 (not sum(): 3.12 compensates)
    average = total / len(doc_count)
    idf = {}
    for q in query:
        if q in doc_count and q not in idf:
            value = by_count[doc_count[q]]
            idf[q] = epsilon * average if value < 0 else value
    terms = [(q, idf[q]) for q in query if q in idf]
    kp1 = k1 + 1
    scores = []
    for doc, dl in zip(corpus, doc_len):
        score = 0.0
        if terms:
            norm = k1 * (1 - b + b * dl / avgdl)
            for q, w in terms:
                tf = doc.count(q)
                if tf:
                    score += w * (tf * kp1 / (tf + norm))
        scores.append(score)
    return scores


def doc_tokens(text: str) -> list[str]:
    """Tokens of a history document: split on any whitespace, as the release did."""
    return text.split()


def query_tokens(text: str) -> list[str]:
    """Tokens of the query block: split on single spaces only (newlines stay inside tokens)."""
    return text.split(" ")
