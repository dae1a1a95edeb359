"""`<backend>/<model>` LLMs as recommenders: one provider, one client, one prompter, the methods.

`create_llm_recommender` is called by `models.registry`; options come from the CLI
(`perrecbench run` flags and `--option key=value`) and are validated by `options`
(shared ones) and by the provider's own `Options` class, so an unknown or mistyped
option is an error, not a silent default.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from ...bench import Benchmark
from ...constants import METHODS, RATING
from ...errors import ConfigError, StorageFull, validation_message
from ...prompts.registry import is_rating_family
from ...records import Prediction
from ...types import Question
from ..base import CallSink, Recommender, UsageStats
from .components_memo import ComponentsStore
from .config import GenerateConfig, defaults_for
from .connection import Connection, ConnectionPool
from .options import IDENTITY, JSON_MODES, LLMOptions, split_options, variant_from_config
from .prompting import Prompter, QuestionPrompts
from .schema import answer_schema


def create_llm_recommender(backend: str, model: str, options: dict[str, Any]) -> LLMRecommender:
    from .providers import provider_class

    shared, own = split_options(options, provider_class(backend).Options, backend)
    return LLMRecommender(backend, model, shared, own)


def _check_rating_family(o: LLMOptions) -> None:
    """The older rating families have no place for a profile, CoT, demos or relative
    ratings, and answer with a bare number (no JSON mode)."""
    if not is_rating_family(o.prompt_set):
        if o.prompt_variant is not None:
            raise ConfigError(f"--prompt-variant is for the rating-* prompt sets, not {o.prompt_set!r}")
        return
    bad = [flag for flag, on in (("--profile", o.profile != "none"), ("--cot", o.cot), ("--shots", o.shots),
                                 ("--rel-rating", o.rel_rating), ("--json-mode", o.json_mode != "off")) if on]
    if bad:
        raise ConfigError(f"--prompt-set {o.prompt_set} takes no {', '.join(bad)} (its templates have no place "
                          "for them and ask for a bare number)")
    if o.prompt_variant is not None and o.prompt_variant > 3:
        raise ConfigError(f"--prompt-variant {o.prompt_variant}: the rating families have variants 0-3")


class LLMRecommender(Recommender):
    """An LLM answering with prompts from a prompt set; see `strategies` for the methods."""

    methods: tuple[str, ...] = (*METHODS, RATING)
    makes_calls = True

    def __init__(self, provider: str, model: str, options: LLMOptions, provider_options: BaseModel | None = None):
        from .providers import create_provider

        self.provider = provider
        self.model = model
        self.name = f"{provider}/{model}"
        self.opts = options
        self.api = create_provider(provider, model, options.base_url, provider_options, options.max_concurrency)
        if options.json_mode != "off" and not self.api.json_mode:
            raise ConfigError(f"the {provider} backend has no JSON mode; drop --json-mode")
        if options.prompt_set != "default" and not options.templates:
            raise ConfigError(f"--prompt-set {options.prompt_set} needs --templates DIR")
        _check_rating_family(options)
        if is_rating_family(options.prompt_set):
            self.methods = ("point", RATING)
        self.client: Any = None
        self.prompter: Prompter | None = None
        #: where connections of this recommender's key are found (a sweep gives its cells one)
        self.pool = ConnectionPool()
        self._connection: Connection | None = None  # what the client sends through
        self._final_stats = UsageStats()
        self._generation: dict[tuple[str, int | None], GenerateConfig] = {}
        try:  # decoding options are checked now, not at the first question
            for method in METHODS:
                self.generation(method)
        except ValidationError as exc:
            errs = validation_message(exc)
            raise ConfigError(f"bad decoding option(s): {errs}") from None

    # -- configuration ----------------------------------------------------------------

    def generation(self, method: str, n: int | None = None) -> GenerateConfig:
        """Decoding options of `method`: the release's defaults under the user's choices.
        The group size `n` only bounds a JSON-schema answer (see `schema.answer_schema`).
        The rating task decodes as pointwise (the same one-member rating question)."""
        method = "point" if method == RATING else method
        key = (method, n)
        if key not in self._generation:
            self._generation[key] = self._generation_for(method, n)
        return self._generation[key]

    def _generation_for(self, method: str, n: int | None) -> GenerateConfig:
        o = self.opts
        user = GenerateConfig(
            temperature=o.temperature, top_p=o.top_p, max_tokens=o.max_tokens, seed=o.seed,
            stop=tuple(o.stop) if o.stop else None, n=o.samples, timeout=o.timeout,
            response_format=JSON_MODES[o.json_mode],
        )
        cfg = defaults_for(method).merge(user)
        if cfg.response_format in ("json_schema", "json_object_schema"):
            cfg = cfg.model_copy(update={"json_schema": answer_schema(method, o.cot, n, o.rel_rating)})
        return cfg

    def config(self) -> dict[str, Any]:
        """The run's identity: the backend, the decoding per method, every option declared
        `identity` (`options.IDENTITY`) and the provider's settings that change answers."""
        o = self.opts
        config: dict[str, Any] = {
            "backend": self.provider,
            "generation": {
                m: {k: v for k, v in self.generation(m).output_options().items() if k != "json_schema"}
                for m in METHODS
            },
            **{name: getattr(o, name) for name in IDENTITY},
        }
        if is_rating_family(o.prompt_set):  # only then: other runs keep the config (identity) they had
            config["prompt_variant"] = o.prompt_variant or 0
        if own := self.api.output_config():
            config["provider"] = own
        return config

    def variant(self) -> str:
        return variant_from_config(self.config())

    # -- setup ------------------------------------------------------------------------

    def check(self) -> None:
        """Fail early (missing SDK or key) before a run directory is created; then get the
        transport ready (HTTP helper processes import the SDK while the benchmark loads).
        From here on the provider object is the pool's for this key."""
        self.api = self.pool.provider(self.connection_key(), self.api)
        self.api.check()
        self.api.start()

    def load(self, bench: Benchmark, split: str, store: ComponentsStore | None = None) -> Prompter:
        """Everything but the connection: prompt set, profiles, memoised Components (a dry
        run needs only this)."""
        self.prompter = Prompter(self.opts, bench, split, store)
        return self.prompter

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:
        self.connect(calls)
        prompter = self.load(bench, split, self.client.cache)
        if prompter.needs_reviews():  # retrieval will read the reviews: a broken file fails now
            _ = bench.context

    def connection_key(self) -> Hashable:
        """Recommenders with equal keys send through one connection, one set of request
        slots and one cache when they share a pool (`connection`): the provider's key,
        the cache and the limits (the transport options that are shared, not per client)."""
        o = self.opts
        return (self.api.connection_key(), o.cache, o.cache_path, o.max_concurrency, o.rpm, o.tpm)

    def connect(self, calls: CallSink | None = None) -> None:
        """Check the backend (SDK, key) and build the client; no request is sent."""
        from .cache import ResponseCache
        from .client import LLMClient
        from .limits import Limiter, RetryPolicy
        from .pricing import PriceTable

        if self.client is not None:
            return
        o = self.opts
        self.check()
        conn = self._connection = self.pool.connect(
            self.connection_key(), self, self.api,
            lambda: (Limiter(o.max_concurrency, o.rpm, o.tpm), ResponseCache(o.cache_path) if o.cache else None))
        self.client = LLMClient(
            conn.api,
            cache=conn.cache,
            limiter=conn.limiter,
            retry=RetryPolicy(o.max_attempts, o.retry_base_delay, o.retry_max_delay),
            calls=calls,
            log_prompts=o.log_prompts,
            prices=PriceTable.load(o.prices),
        )

    def flush(self) -> None:
        if self.client is not None:
            self.client.flush()

    def question_prompts(self, q: Question) -> QuestionPrompts:
        if self.prompter is None:
            raise RuntimeError("load() or prepare() the recommender first")
        return self.prompter.question(q)

    # -- answering --------------------------------------------------------------------

    async def predict(self, question: Question, method: str) -> Prediction:
        from .sampling import Asker
        from .strategies import predict_list, predict_pair, predict_point, predict_rating

        if self.client is None:
            raise RuntimeError("prepare() the recommender before predicting")
        o = self.opts
        prompts = self.question_prompts(question)
        asker = Asker(self.client, self.generation(method, question.n), o.samples, o.max_resamples)
        if method == RATING:
            return await predict_rating(question, prompts, asker, o.rel_rating, self.number_answers())
        if method == "point":
            return await predict_point(question, prompts, asker, o.rel_rating, self.number_answers())
        if method == "pair":
            return await predict_pair(question, prompts, asker, o.pair_strategy)
        if method == "list":
            return await predict_list(question, prompts, asker)
        raise ConfigError(f"unknown method {method!r}")

    def number_answers(self) -> bool:
        """Whether the prompt set asks for a bare number rather than our JSON answer."""
        return self.prompter is not None and getattr(self.prompter.prompt_set, "answer", "json") == "number"

    def stats(self) -> UsageStats:
        stats = self.client.stats() if self.client is not None else self._final_stats
        # the shared slots are counted once, by their first holder
        conn = self._connection
        return replace(stats, inflight=0) if conn is not None and conn.owner != id(self) else stats

    async def aclose(self) -> None:
        if self.client is not None:
            self._final_stats = self.client.stats()
            try:
                self.client.flush()
            except StorageFull:
                pass  # the runner stopped on it and said so; what is held stays in memory
            finally:
                self.client = None
                if self._connection is not None:
                    await self._connection.release(self)
