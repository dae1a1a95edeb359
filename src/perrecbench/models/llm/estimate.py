"""`--dry-run`: how many requests, tokens and dollars a run would take, without calling.

Requests per question: point n; list 1; rating 1; pair "allpairs" n(n-1); pair "heap" twice the
largest number of distinct pairs the heap sort can compare for n members (the exact
count depends on the answers) -- all times the number of samples. Parse retries are
not counted (they only happen on bad answers). Prompt tokens are the characters of the
actually rendered prompts / 4; output tokens a per-method guess (a short JSON answer,
or ~150 more with chain-of-thought, capped at max_tokens). Costs use the price table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import permutations
from typing import TYPE_CHECKING, Any

from ...bench import Benchmark
from ...types import Question
from ..ranking import heap_sort_async
from .pricing import PriceTable

if TYPE_CHECKING:
    from .cache import ResponseCache
    from .config import GenerateConfig
    from .recommender import LLMRecommender

CHARS_PER_TOKEN = 4
COT_TOKENS = 150


@dataclass
class Estimate:
    model: str
    method: str
    questions: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    cached: int = 0  # requests already answered in the cache (exactly known requests only)
    per_level: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never really waits, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("coroutine awaited something real")


@cache
def heap_pairs_worst(n: int) -> int:
    """Most distinct pairs the heap sort compares for n members (memoised comparisons).

    Exhaustive over the n! true orders for n <= 7; n(n-1)/2 beyond (an upper bound)."""
    if n < 2:
        return 0
    if n > 7:
        return n * (n - 1) // 2
    worst = 0
    for perm in permutations(range(n)):
        rank = {m: r for r, m in enumerate(perm)}
        seen: set[tuple[int, int]] = set()

        def better(a: int, b: int, rank=rank, seen=seen) -> Awaitable[bool]:
            seen.add((min(a, b), max(a, b)))
            return _ready(rank[a] < rank[b])

        _drive(heap_sort_async(n, better))
        worst = max(worst, len(seen))
    return worst


async def _ready(value: bool) -> bool:
    return value


def output_tokens_guess(method: str, n: int, cot: bool, max_tokens: int | None) -> int:
    base = {"point": 10, "rating": 10, "pair": 6, "list": 8 + 3 * n}[method]
    if cot:
        base += COT_TOKENS
    return min(base, max_tokens) if max_tokens else base


def estimate_run(
    rec: LLMRecommender,
    bench: Benchmark,
    method: str,
    split: str = "test",
    levels: list[str] | None = None,
    limit: int | None = None,
    prices: PriceTable | None = None,
    cache: ResponseCache | None = None,
    questions: Mapping[str, Sequence[Question]] | None = None,
) -> Estimate:
    """Count what `perrecbench run` would send for these questions. `rec` is an
    `LLMRecommender` after `load()`; `cache` (optional) counts requests already cached.
    `questions` (per level) replaces the benchmark's levels, e.g. the rating task's
    (`tasks.questions_for`)."""
    o = rec.opts
    est = Estimate(model=rec.name, method=method)
    samples = o.samples
    if questions is None:
        questions = {level: bench.questions(split, level)[:limit] if limit is not None
                     else bench.questions(split, level) for level in levels or bench.available(split)}
    for level, qs in questions.items():
        lv = {"questions": len(qs), "requests": 0, "prompt_tokens": 0, "output_tokens": 0}
        for q in qs:
            cfg = rec.generation(method, q.n)
            prompts = rec.question_prompts(q)
            exact = True
            if method in ("point", "rating"):
                calls = [prompts.messages("point", [i]) for i in range(q.n)]
                n_req = len(calls)
            elif method == "list":
                calls = [prompts.messages("list", list(range(q.n)))]
                n_req = 1
            else:
                calls = [prompts.messages("pair", [a, b]) for a in range(q.n) for b in range(q.n) if a != b]
                if o.pair_strategy == "heap":
                    n_req = 2 * heap_pairs_worst(q.n)
                    exact = n_req == len(calls)
                else:
                    n_req = len(calls)
            chars = sum(len(m.content) for msgs in calls for m in msgs) / max(len(calls), 1)
            n_req *= samples
            lv["requests"] += n_req
            lv["prompt_tokens"] += int(n_req * chars / CHARS_PER_TOKEN)
            lv["output_tokens"] += n_req * output_tokens_guess(method, q.n, o.cot, cfg.max_tokens)
            if cache is not None and exact:
                est.cached += sum(
                    cache.get(rec_key(rec, msgs, cfg, s)) is not None for msgs in calls for s in range(samples)
                )
        est.per_level[level] = lv
        est.questions += lv["questions"]
        est.requests += lv["requests"]
        est.prompt_tokens += lv["prompt_tokens"]
        est.output_tokens += lv["output_tokens"]
    prices = prices or PriceTable.load(o.prices)
    est.cost_usd = prices.cost(rec.model, est.prompt_tokens, est.output_tokens, local=rec.api.local)
    if method == "pair" and o.pair_strategy == "heap":
        est.notes.append("pair/heap: worst case of the heap sort; the real count depends on the answers")
    est.notes.append("parse retries not included; output tokens are a rough guess")
    return est


def rec_key(rec: LLMRecommender, messages: list[Any], cfg: GenerateConfig, sample: int) -> str:
    from .cache import cache_key
    from .client import chat_messages

    return cache_key(rec.api.backend, rec.api.endpoint, rec.model, chat_messages(messages),
                     cfg.output_options(), sample)
