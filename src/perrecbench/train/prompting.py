"""The messages `perrecbench run` sends, for SFT rows: the one place that knows how.

A model is trained on the prompts it will be evaluated with only if both come from the
same renderer with the same options. `run` renders through the LLM recommender's
`models.llm.prompting.Prompter`; this uses exactly that, with the options validated as
`run` validates them.
"""

from __future__ import annotations

from typing import Any

from ..bench import Benchmark
from ..models.llm.options import PROMPT_IDENTITY
from ..types import Question

#: the recorded settings that decide the prompts (the rest of `run`'s config is decoding
#: and method): the LLM options declared with the prompt role and recorded
PROMPT_CONFIG = PROMPT_IDENTITY


class RunPrompts:
    """Chat messages for (question, method, members), as `run` renders them with `options`
    (the `--option`/flag names of `run`: prompt_set, templates, profile, k, rel_rating, ...)."""

    def __init__(self, bench: Benchmark, split: str, options: dict[str, Any]):
        from ..models.llm.options import split_options
        from ..models.llm.prompting import Prompter
        from ..models.llm.providers.base import NoOptions

        self.options, _ = split_options(dict(options), NoOptions)
        self._prompter = Prompter(self.options, bench, split)

    def messages(self, q: Question, method: str, members: list[int]) -> list[dict[str, str]]:
        msgs = self._prompter.messages(q, method, list(members))
        return [{"role": str(m.role), "content": str(m.content)} for m in msgs]

    def config(self) -> dict[str, Any]:
        """The prompt options as `run` records them in its manifest."""
        o = self.options.model_dump()
        return {k: o[k] for k in PROMPT_CONFIG}
