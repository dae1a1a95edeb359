"""Chat messages for an LLM's calls about a question: the one renderer of `run` (and of
the training data, which must see exactly what a run sends).

A `Prompter` is made from the LLM options and a benchmark split. For each question it
builds the question's `Components` once -- every member's BM25-retrieved history and the
query item, from the memo when an earlier run stored them, else by retrieval (the
benchmark's reviews are loaded only then) -- adds profiles, and renders the messages of
any call (one member pointwise, two pairwise, all listwise) with the chosen prompt set,
few-shot demos and variants.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...bench import Benchmark
from ...errors import ConfigError
from ...prompts.components import Components, Message, PromptOptions
from ...types import Question
from .components_memo import ComponentsMemo, ComponentsStore
from .options import LLMOptions

#: questions whose Components are kept for the next method asking about them
PROMPT_MEMO = 512


class Prompter:
    """Renders the messages of `options`' prompts for questions of one benchmark split."""

    def __init__(self, options: LLMOptions, bench: Benchmark, split: str,
                 store: ComponentsStore | None = None):
        from ...prompts.registry import get_prompt_set

        if options.shots and split == "heldout":
            raise ConfigError("few-shot demos come from the held-out split; run on test or train")
        if options.prompt_set != "default" and not options.templates:
            raise ConfigError(f"--prompt-set {options.prompt_set} needs --templates DIR")
        self.opts, self.bench, self.split = options, bench, split
        self.prompt_set = get_prompt_set(options.prompt_set, options.templates, options.prompt_variant)
        self.profiles = self._load_profiles()
        self.memo: ComponentsMemo | None = None
        if store is not None:
            from ...prompts.retrieval import components_namespace

            o = options
            ns = components_namespace(bench.fingerprint, split, o.k, o.rel_rating, o.describe_items)
            self.memo = ComponentsMemo(store, ns)
        self._group_demos: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._questions: OrderedDict[tuple[str, str], QuestionPrompts] = OrderedDict()

    def needs_reviews(self) -> bool:
        """Whether rendering will read the benchmark's reviews (no memoised Components)."""
        return self.memo is None or len(self.memo) == 0

    def _load_profiles(self) -> dict[str, str] | None:
        from ...prompts import profiles as prof

        label = self.opts.profile
        if label == "none":
            return None
        if label == prof.OFFLINE:
            out = prof.offline_profiles(self.bench, self.split)
            if self.opts.shots and self.bench.available("heldout"):
                out.update(prof.offline_profiles(self.bench, "heldout"))
            return out
        return prof.load_profiles(self.bench, label)

    def question(self, q: Question) -> QuestionPrompts:
        """The prompts of one question (the last PROMPT_MEMO questions are kept)."""
        key = (q.level, q.id)
        hit = self._questions.get(key)
        if hit is not None and hit.q is q:
            self._questions.move_to_end(key)
            return hit
        from ...prompts.retrieval import with_profiles

        o = self.opts
        full = with_profiles(self.components(q), q, self.profiles)
        base = PromptOptions(cot=o.cot, rel_rating=o.rel_rating, use_profile=o.profile != "none")
        made = self._questions[key] = QuestionPrompts(self, q, full, base)
        if len(self._questions) > PROMPT_MEMO:
            self._questions.popitem(last=False)
        return made

    def messages(self, q: Question, method: str, members: Sequence[int]) -> list[Message]:
        return self.question(q).messages(method, members)

    def components(self, q: Question) -> Components:
        """All members' retrieved histories and the query item (profile-free), memoised."""
        from ...prompts.retrieval import components_for

        if self.memo is not None and (hit := self.memo.get(q)) is not None:
            return hit
        o = self.opts
        comps = components_for(q, self.bench.context, range(q.n), o.k, None, o.rel_rating, o.describe_items)
        if self.memo is not None:
            self.memo.put(q, comps)
        return comps

    def group_demos(self, level: str, method: str) -> tuple[Any, ...]:
        """The few-shot demos of a pair/list question of `level` (the same for every question)."""
        from ...prompts.fewshot import group_demos

        key = (level, method)
        if key not in self._group_demos:
            o = self.opts
            self._group_demos[key] = tuple(group_demos(
                self.bench.questions("heldout", level), self.bench.context, method, o.shots, o.k,
                o.shots_seed, self.profiles, o.rel_rating,
            ))
        return self._group_demos[key]


class QuestionPrompts:
    """Messages for calls about members of one question; its Components are built once."""

    def __init__(self, prompter: Prompter, q: Question, full: Components, base: PromptOptions):
        self.prompter, self.q, self.full, self.base = prompter, q, full, base
        self._point_demos: dict[int, tuple[Any, ...]] = {}

    def demos(self, method: str, members: Sequence[int]) -> tuple[Any, ...]:
        from ...prompts.fewshot import point_demos

        p, o = self.prompter, self.prompter.opts
        if not o.shots:
            return ()
        if method != "point":
            return p.group_demos(self.q.level, method)
        i = members[0]
        if i not in self._point_demos:
            self._point_demos[i] = tuple(point_demos(
                self.q, i, p.bench.context, o.shots, o.k, o.shots_seed, p.profiles, o.rel_rating
            ))
        return self._point_demos[i]

    def messages(self, method: str, members: Sequence[int]) -> list[Message]:
        members = list(members)
        comps = Components(tuple(self.full.users[i] for i in members), self.full.query)
        options = replace(self.base, demos=self.demos(method, members))
        return self.prompter.prompt_set.render(method, comps, options)
