"""The messages `perrecbench run` sends, for SFT rows: the one place that knows how.

A model is trained on the prompts it will be evaluated with only if both come from the
same renderer with the same options. `run` renders through the LLM recommender
(`question_prompts(q).messages(method, members)`); this wraps exactly that, so when
the prompt assembly moves, only this module changes.
"""

from __future__ import annotations

from typing import Any

from ..bench import Benchmark
from ..types import Question

#: the backend named only to build the renderer; nothing is sent and no key is needed
_RENDER_BACKEND = "openai"


class RunPrompts:
    """Chat messages for (question, method, members), as `run` renders them with `options`
    (the `--option`/flag names of `run`: prompt_set, templates, profile, k, rel_rating, ...)."""

    def __init__(self, bench: Benchmark, split: str, options: dict[str, Any]):
        from ..models.llm.recommender import create_llm_recommender

        self._rec = create_llm_recommender(_RENDER_BACKEND, "sft-data", dict(options))
        self._rec.load(bench, split)
        self.options = self._rec.opts

    def messages(self, q: Question, method: str, members: list[int]) -> list[dict[str, str]]:
        msgs = self._rec.question_prompts(q).messages(method, list(members))
        return [{"role": str(m.role), "content": str(m.content)} for m in msgs]

    def config(self) -> dict[str, Any]:
        """The prompt options as `run` records them in its manifest."""
        cfg = self._rec.config()
        return {k: v for k, v in cfg.items() if k not in ("backend", "generation", "samples",
                                                          "max_parse_retries", "pair_strategy")}
