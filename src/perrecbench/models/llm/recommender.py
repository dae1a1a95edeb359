"""`openai/<model>` and `anthropic/<model>` as recommenders: options, prompts, methods.

`create_llm_recommender` is called by `models.registry`; options come from the CLI
(`perrecbench run` flags and `--option key=value`) and are validated here, so an
unknown or mistyped option is an error, not a silent default.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ... import METHODS
from ...bench import Benchmark
from ...errors import ConfigError
from ...prompts.components import Components, PromptOptions
from ...types import Prediction, Question
from ..base import Recommender
from .config import GenerateConfig, defaults_for
from .prestart import workers_for

#: questions whose prompt parts are kept for the next method asking about them
PROMPT_MEMO = 512
JSON_MODES = {"off": None, "object": "json_object", "schema": "json_schema", "object-schema": "json_object_schema"}


class LLMOptions(BaseModel):
    """Everything `perrecbench run` can set for an LLM; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    # where and how to send requests (do not change answers)
    base_url: list[str] = Field(default_factory=list)
    max_concurrency: int = Field(default=8, ge=1)
    # openai backend: the SDK's HTTP library, and helper processes that run it
    http: Literal["auto", "aiohttp", "httpx"] = "auto"
    http_workers: int | Literal["auto"] = "auto"
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    retry_base_delay: float = Field(default=1.0, ge=0)
    retry_max_delay: float = Field(default=60.0, ge=0)
    cache: bool = True
    cache_path: str | None = None
    prices: str | None = None
    calls_log: str | None = None
    log_prompts: bool = False
    # decoding (None = the release's default for the method)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    json_mode: Literal["off", "object", "schema", "object-schema"] = "off"
    # method variants
    samples: int = Field(default=1, ge=1)
    max_parse_retries: int = Field(default=5, ge=0)
    pair_strategy: Literal["heap", "allpairs"] = "heap"
    cot: bool = False
    shots: int = Field(default=0, ge=0)
    shots_seed: int = 0
    profile: str = "none"
    k: int = Field(default=4, ge=0)
    rel_rating: bool = False
    prompt_set: str = "default"
    templates: str | None = None
    describe_items: bool = False


def parse_options(options: dict[str, Any]) -> LLMOptions:
    opts = dict(options)
    if isinstance(opts.get("base_url"), str):
        opts["base_url"] = [opts["base_url"]]
    if isinstance(opts.get("stop"), str):
        opts["stop"] = [opts["stop"]]
    try:
        return LLMOptions(**opts)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad LLM option(s): {errs}") from None


def create_llm_recommender(provider: str, model: str, options: dict[str, Any]) -> LLMRecommender:
    """Options the backend owns (e.g. hf's `adapter`) go to the backend, which checks them."""
    from .providers import provider_option_names

    own = provider_option_names(provider)
    backend_options = {k: v for k, v in options.items() if k in own}
    common = {k: v for k, v in options.items() if k not in own}
    return LLMRecommender(provider, model, parse_options(common), backend_options)


def transport_for(provider: str, o: LLMOptions) -> dict[str, Any]:
    """Transport settings for the provider (`http_workers=auto`: see `prestart.workers_for`)."""
    if provider != "openai":
        if o.http_workers not in ("auto", 0) or o.http != "auto":
            raise ConfigError("http and http_workers apply to the openai backend only")
        return {}
    workers = workers_for(o.max_concurrency, o.http_workers)
    if workers < 0:
        raise ConfigError(f"http_workers must be 0 or more, got {workers}")
    return {"http": o.http, "http_workers": workers}


def answer_schema(method: str, cot: bool, n: int | None = None, rel_rating: bool = False) -> dict[str, Any]:
    """JSON schema of an answer, for JSON modes that take one.

    With the group size `n` known, the schema also bounds the answer (ranking length and
    user numbers, rating range), so grammar-constrained servers cannot produce an
    answer of the wrong shape; uniqueness of ranked users is still checked by parsing.
    """
    props: dict[str, Any] = {"reasoning": {"type": "string"}} if cot else {}
    if method == "point":
        lo, hi = (-4, 4) if rel_rating else (1, 5)
        props["predicted_rating"] = {"type": "number", "minimum": lo, "maximum": hi}
        required = ["predicted_rating"]
    elif method == "list":
        items: dict[str, Any] = {"type": "integer", "minimum": 1}
        ranking: dict[str, Any] = {"type": "array", "items": items}
        if n is not None:
            items["maximum"] = n
            ranking.update(minItems=n, maxItems=n)
        props["predicted_ranking"] = ranking
        required = ["predicted_ranking"]
    else:
        props["answer"] = {"type": "string", "enum": ["[User A]", "[User B]"]}
        required = ["answer"]
    return {"type": "object", "properties": props, "required": required}


class LLMRecommender(Recommender):
    """An LLM answering with prompts from a prompt set; see `strategies` for the methods."""

    methods = METHODS

    def __init__(self, provider: str, model: str, options: LLMOptions,
                 backend_options: dict[str, Any] | None = None):
        from .providers import create_provider

        self.provider = provider
        self.model = model
        self.name = f"{provider}/{model}"
        self.opts = options
        self.api = create_provider(provider, model, options.base_url, **transport_for(provider, options),
                                   **(backend_options or {}))
        if options.json_mode != "off" and provider in ("anthropic", "hf"):
            raise ConfigError(f"the {provider} backend has no JSON mode; drop --json-mode")
        if options.prompt_set != "default" and not options.templates:
            raise ConfigError(f"--prompt-set {options.prompt_set} needs --templates DIR")
        self.client = None
        self.bench: Benchmark | None = None
        self.split = "test"
        self.prompt_set: Any = None
        self.profiles: dict[str, str] | None = None
        self._group_demos: dict[tuple[str, str], tuple] = {}
        self._final_stats: dict[str, Any] = {}
        self._generation: dict[tuple[str, int | None], GenerateConfig] = {}
        # a question's prompt parts (BM25 retrieval included), reused by the methods of
        # one `run --method a,b,c` that ask about the same question close together
        self._prompts: OrderedDict[tuple[str, str], QuestionPrompts] = OrderedDict()
        self._parts: dict[str, str] | None = None  # memoised prompt parts (see _question_parts)
        self.parts_cache: Any = None  # a ResponseCache for the memo when there is no client (dry runs)
        self._parts_ns = ""
        try:  # decoding options are checked now, not at the first question
            for method in METHODS:
                self.generation(method)
        except ValidationError as exc:
            errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"bad decoding option(s): {errs}") from None

    # -- configuration ----------------------------------------------------------------

    def generation(self, method: str, n: int | None = None) -> GenerateConfig:
        """Decoding options of `method`: the release's defaults under the user's choices.
        The group size `n` only bounds a JSON-schema answer (see `answer_schema`)."""
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
            schema = answer_schema(method, o.cot, n, o.rel_rating)
            cfg = cfg.model_copy(update={"json_schema": schema})
        return cfg

    def config(self) -> dict[str, Any]:
        o = self.opts
        return {
            "backend": self.provider,
            "generation": {
                m: {k: v for k, v in self.generation(m).output_options().items() if k != "json_schema"}
                for m in METHODS
            },
            "samples": o.samples,
            "max_parse_retries": o.max_parse_retries,
            "pair_strategy": o.pair_strategy,
            "cot": o.cot,
            "shots": o.shots,
            "shots_seed": o.shots_seed,
            "profile": o.profile,
            "k": o.k,
            "rel_rating": o.rel_rating,
            "prompt_set": o.prompt_set,
            "describe_items": o.describe_items,
            **({"backend_options": self.api.options()} if hasattr(self.api, "options") else {}),
        }

    # -- setup ------------------------------------------------------------------------

    def load(self, bench: Benchmark, split: str) -> None:
        """Everything but the connection: context, prompt set, profiles (used by --dry-run)."""
        from ...prompts.registry import get_prompt_set

        o = self.opts
        if o.shots and split == "heldout":
            raise ConfigError("few-shot demos come from the held-out split; run on test or train")
        self.bench, self.split = bench, split
        self.prompt_set = get_prompt_set(o.prompt_set, o.templates)
        self._parts, self._prompts = None, OrderedDict()
        self.profiles = self._load_profiles(bench, split)

    def _load_profiles(self, bench: Benchmark, split: str) -> dict[str, str] | None:
        from ...prompts import profiles as prof

        label = self.opts.profile
        if label == "none":
            return None
        if label == prof.OFFLINE:
            out = prof.offline_profiles(bench, split)
            if self.opts.shots and "heldout" in _splits(bench):
                out.update(prof.offline_profiles(bench, "heldout"))
            return out
        return prof.load_profiles(bench, label)

    def check(self) -> None:
        """Fail early (missing SDK or key) before a run directory is created; then get
        the transport ready (HTTP worker processes import the SDK while the benchmark loads)."""
        self.api.check()
        self.api.start()

    def prepare(self, bench: Benchmark, split: str) -> None:
        self.load(bench, split)
        self.connect()
        if not self._parts_memo():  # nothing memoised: retrieval needs the reviews; a broken file fails now
            _ = bench.context

    def connect(self) -> None:
        """Check the backend (SDK, key) and build the client; no request is sent."""
        from .cache import ResponseCache
        from .client import LLMClient, open_call_log
        from .limits import Limiter, RetryPolicy
        from .pricing import PriceTable

        if self.client is not None:
            return
        o = self.opts
        self.check()
        self.client = LLMClient(
            self.api,
            cache=ResponseCache(o.cache_path) if o.cache else None,
            limiter=Limiter(o.max_concurrency, o.rpm, o.tpm),
            retry=RetryPolicy(o.max_attempts, o.retry_base_delay, o.retry_max_delay),
            log=open_call_log(o.calls_log, o.log_prompts) if o.calls_log else None,
            prices=PriceTable.load(o.prices),
            deferred=True,
        )

    def flush(self) -> None:
        """Write answers held back for batching (the runner calls this before it records
        predictions, so a recorded prediction always has its answers cached and logged)."""
        if self.client is not None:
            self.client.flush()

    def loaded_bench(self) -> Benchmark:
        if self.bench is None:
            raise RuntimeError("prepare() the recommender before predicting")
        return self.bench

    # -- prompts ----------------------------------------------------------------------

    def question_prompts(self, q: Question) -> QuestionPrompts:
        key = (q.level, q.id)
        hit = self._prompts.get(key)
        if hit is not None and hit.q is q:
            self._prompts.move_to_end(key)
            return hit
        from ...prompts.retrieval import with_profiles

        o = self.opts
        full = with_profiles(self._question_parts(q), q, self.profiles)
        base = PromptOptions(cot=o.cot, rel_rating=o.rel_rating, use_profile=o.profile != "none")
        made = self._prompts[key] = QuestionPrompts(self, q, full, base)
        if len(self._prompts) > PROMPT_MEMO:
            self._prompts.popitem(last=False)
        return made

    def _question_parts(self, q: Question) -> Components:
        """All members' retrieved histories and the query item: from the cache file's
        memo when an earlier run on this benchmark computed them, else by BM25 (the
        benchmark's reviews are loaded only then)."""
        from ...prompts.retrieval import components_for

        memo = self._parts_memo()
        qid = f"{q.level}/{q.id}"
        raw = memo.get(qid) if memo is not None else None
        if raw is not None:
            try:
                parts = Components.from_dict(json.loads(raw))
                if len(parts.users) == q.n:
                    return parts
            except (ValueError, KeyError, TypeError):
                pass  # a damaged row is a miss; it is rewritten below
        o = self.opts
        parts = components_for(q, self.loaded_bench().context, range(q.n), o.k, None, o.rel_rating,
                               o.describe_items)
        if memo is not None:  # a memo exists only where a store does
            text = json.dumps(parts.to_dict(), ensure_ascii=False, separators=(",", ":"))
            memo[qid] = text
            self._parts_store().put_prompt_parts(self._parts_ns, qid, text)
        return parts

    def _parts_store(self) -> Any:
        """The response cache that holds the memo: the client's, or (for a dry run, which
        has no client) `parts_cache` when the caller set one."""
        if self.client is not None:
            return self.client.cache
        return self.parts_cache

    def _parts_memo(self) -> dict[str, str] | None:
        """Memoised prompt parts of this benchmark, split and retrieval settings (loaded
        once per run; None without a response cache)."""
        store = self._parts_store()
        if self._parts is None and store is not None:
            from ...bench import bench_fingerprint
            from ...prompts.retrieval import parts_namespace

            o = self.opts
            bench = self.loaded_bench()
            self._parts_ns = parts_namespace(bench_fingerprint(bench.path), self.split, o.k, o.rel_rating,
                                             o.describe_items)
            self._parts = store.prompt_parts(self._parts_ns)
        return self._parts

    def group_demos(self, level: str, method: str) -> tuple:
        """The few-shot demos of a pair/list question of `level` (same for every question)."""
        from ...prompts.fewshot import group_demos

        key = (level, method)
        if key not in self._group_demos:
            o = self.opts
            bench = self.loaded_bench()
            self._group_demos[key] = tuple(group_demos(
                bench.questions("heldout", level), bench.context, method, o.shots, o.k, o.shots_seed, self.profiles, o.rel_rating
            ))
        return self._group_demos[key]

    # -- answering --------------------------------------------------------------------

    async def predict(self, question: Question, method: str) -> Prediction:
        from .sampling import Asker
        from .strategies import predict_list, predict_pair, predict_point

        if self.client is None:
            raise RuntimeError("prepare() the recommender before predicting")
        o = self.opts
        prompts = self.question_prompts(question)
        asker = Asker(self.client, self.generation(method, question.n), o.samples, o.max_parse_retries)
        if method == "point":
            return await predict_point(question, prompts, asker, o.rel_rating)
        if method == "pair":
            return await predict_pair(question, prompts, asker, o.pair_strategy)
        if method == "list":
            return await predict_list(question, prompts, asker)
        raise ConfigError(f"unknown method {method!r}")

    def stats(self) -> dict[str, Any]:
        return self.client.stats() if self.client is not None else dict(self._final_stats)

    async def aclose(self) -> None:
        if self.client is not None:
            self._final_stats = self.client.stats()
            await self.client.aclose()
            if self.client.cache is not None:
                self.client.cache.close()
            self.client = None


class QuestionPrompts:
    """Messages for calls about members of one question; user blocks are built once."""

    def __init__(self, rec: LLMRecommender, q: Question, full: Components, base: PromptOptions):
        self.rec, self.q, self.full, self.base = rec, q, full, base
        self._point_demos: dict[int, tuple] = {}

    def demos(self, method: str, members: list[int]) -> tuple:
        from ...prompts.fewshot import point_demos

        rec, o = self.rec, self.rec.opts
        if not o.shots:
            return ()
        if method != "point":
            return rec.group_demos(self.q.level, method)
        i = members[0]
        if i not in self._point_demos:
            self._point_demos[i] = tuple(point_demos(
                self.q, i, rec.loaded_bench().context, o.shots, o.k, o.shots_seed, rec.profiles, o.rel_rating
            ))
        return self._point_demos[i]

    def messages(self, method: str, members: list[int]) -> list[Any]:
        members = list(members)
        comps = Components(tuple(self.full.users[i] for i in members), self.full.query)
        options = replace(self.base, demos=self.demos(method, members))
        return self.rec.prompt_set.render(method, comps, options)


def _splits(bench: Benchmark) -> list[str]:
    from ... import SPLITS

    return [s for s in SPLITS if bench.available(s)]

