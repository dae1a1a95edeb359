"""LLMRecommender: options, manifest config, prompts per question, dry-run estimates."""

from __future__ import annotations

import pytest
from helpers.tiny_bench import make_tiny_bench

from perrecbench.bench import Benchmark
from perrecbench.errors import BenchmarkError, ConfigError, ModelError
from perrecbench.models.llm.estimate import estimate_run, heap_pairs_worst, output_tokens_guess
from perrecbench.models.llm.pricing import PriceTable, read_prices
from perrecbench.models.llm.recommender import answer_schema, create_llm_recommender
from perrecbench.models.registry import create_model


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return Benchmark(make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny"))


def test_registry_builds_llm_recommenders():
    rec = create_model("openai/some-model", {"base_url": "http://127.0.0.1:9/v1"})
    assert rec.name == "openai/some-model" and rec.methods == ("point", "pair", "list", "rating")
    assert create_model("anthropic/claude-x", {}).name == "anthropic/claude-x"


def test_unknown_or_bad_options_are_errors():
    with pytest.raises(ConfigError, match="temprature"):
        create_llm_recommender("openai", "m", {"temprature": 0.5})
    with pytest.raises(ConfigError, match="pair_strategy"):
        create_llm_recommender("openai", "m", {"pair_strategy": "bubble"})
    with pytest.raises(ConfigError, match="samples"):
        create_llm_recommender("openai", "m", {"samples": 0})
    with pytest.raises(ConfigError, match="--templates"):
        create_llm_recommender("openai", "m", {"prompt_set": "official"})
    with pytest.raises(ConfigError, match="JSON mode"):
        create_llm_recommender("anthropic", "m", {"json_mode": "object"})
    with pytest.raises(ConfigError, match="temperature"):
        create_llm_recommender("openai", "m", {"temperature": 5})
    with pytest.raises(ConfigError, match="top_p"):
        create_llm_recommender("openai", "m", {"top_p": 0})


def test_generation_defaults_follow_the_release():
    rec = create_llm_recommender("openai", "m", {})
    point, pair = rec.generation("point"), rec.generation("pair")
    assert (point.temperature, point.top_p, point.max_tokens) == (0.1, 1.0, 800)
    assert pair.max_tokens == 512
    user = create_llm_recommender("openai", "m", {"max_tokens": 64, "temperature": 0.0, "seed": 1})
    assert user.generation("pair").max_tokens == 64 and user.generation("list").temperature == 0.0


def test_json_mode_attaches_the_method_schema():
    rec = create_llm_recommender("openai", "m", {"json_mode": "object-schema", "cot": True})
    cfg = rec.generation("list")
    assert cfg.response_format == "json_object_schema"
    assert cfg.json_schema == answer_schema("list", cot=True)
    assert "reasoning" in cfg.json_schema["properties"]
    assert create_llm_recommender("openai", "m", {"json_mode": "object"}).generation("point").json_schema is None


def test_config_holds_what_changes_answers_and_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-in-config")
    rec = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1", "samples": 3,
                                                 "profile": "offline", "max_concurrency": 50})
    cfg = rec.config()
    assert cfg["samples"] == 3 and cfg["profile"] == "offline" and cfg["generation"]["pair"]["max_tokens"] == 512
    text = repr(cfg)
    assert "sk-never" not in text and "127.0.0.1" not in text and "max_concurrency" not in text


def test_question_prompts_build_user_blocks_once(bench):
    rec = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1", "k": 2})
    rec.load(bench, "test")
    q = bench.questions("test", "hard")[0]
    prompts = rec.question_prompts(q)
    assert len(prompts.full.users) == 4 and all(len(u.history) == 2 for u in prompts.full.users)
    ab = prompts.messages("pair", [0, 3])[-1].content
    ba = prompts.messages("pair", [3, 0])[-1].content
    assert ab != ba and "User A" in ab
    assert "User4" in prompts.messages("list", [0, 1, 2, 3])[-1].content


def test_profiles_and_shots(bench):
    rec = create_llm_recommender("openai", "m", {"profile": "offline", "shots": 2})
    rec.load(bench, "test")
    q = bench.questions("test", "medium")[0]
    point = rec.question_prompts(q).messages("point", [1])
    assert "Offline profile" in point[-1].content
    assert [m.role for m in point].count("assistant") == 2  # two demos from the user's own history
    lst = rec.question_prompts(q).messages("list", [0, 1, 2])
    assert [m.role for m in lst].count("assistant") == 2  # two held-out groups
    with pytest.raises(ConfigError, match="held-out"):
        rec.load(bench, "heldout")


def test_missing_profile_label_is_a_clear_error(bench):
    rec = create_llm_recommender("openai", "m", {"profile": "gpt4-profiles"})
    with pytest.raises(BenchmarkError, match="perrecbench profiles"):
        rec.load(bench, "test")


def test_prepare_checks_the_key_but_load_does_not(bench):
    rec = create_llm_recommender("openai", "gpt-4o", {})
    rec.load(bench, "test")  # dry runs need no key
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        rec.prepare(bench, "test")


def test_heap_worst_case_pairs():
    assert [heap_pairs_worst(n) for n in (1, 2, 3, 4)] == [0, 1, 3, 6]
    assert heap_pairs_worst(9) == 36


def test_estimate_counts_requests_per_method(bench):
    rec = create_llm_recommender("openai", "gpt-4o-mini", {"samples": 2})
    rec.load(bench, "test")
    n_members = sum(q.n for lv in ("easy", "medium", "hard") for q in bench.questions("test", lv))
    point = estimate_run(rec, bench, "point")
    assert point.requests == 2 * n_members and point.questions == 12
    assert estimate_run(rec, bench, "list").requests == 2 * 12
    pair = estimate_run(rec, bench, "pair", levels=["easy", "hard"], limit=2)
    assert pair.requests == 2 * 2 * (2 * 1 + 2 * 6) and pair.questions == 4
    assert point.prompt_tokens > 50 * point.requests  # real rendered prompts, not a constant
    price = PriceTable().lookup("gpt-4o-mini")
    expected = (point.prompt_tokens * price[0] + point.output_tokens * price[1]) / 1e6
    assert point.cost_usd == pytest.approx(expected)
    local = create_llm_recommender("openai", "x", {"base_url": "http://localhost:8000/v1"})
    local.load(bench, "test")
    assert estimate_run(local, bench, "list").cost_usd == 0.0


def test_output_token_guess():
    assert output_tokens_guess("point", 1, False, 800) < output_tokens_guess("point", 1, True, 800)
    assert output_tokens_guess("list", 4, True, 50) == 50


def test_price_table_prefixes_and_user_file(tmp_path):
    table = PriceTable()
    assert table.lookup("gpt-4o-2024-08-06") == table.lookup("gpt-4o")
    assert table.lookup("gpt-4o-mini-2024-07-18") == table.lookup("gpt-4o-mini") != table.lookup("gpt-4o")
    assert table.lookup("claude-3-5-sonnet-20241022") == (3.0, 15.0)
    assert table.cost("mystery-model", 10, 10) is None and table.cost("gpt-4o", 10, 10, local=True) == 0.0
    path = tmp_path / "prices.json"
    path.write_text('{"My-Model": [1, 2], "gpt-4o": {"input": 9, "output": 9}}')
    user = PriceTable.load(path)
    assert user.lookup("my-model") == (1.0, 2.0) and user.lookup("gpt-4o") == (9.0, 9.0)
    path.write_text('{"x": [1]}')
    with pytest.raises(ConfigError, match="USD per 1M"):
        read_prices(path)


def test_home_price_file_is_picked_up(_private_home):
    (_private_home / "prices.json").write_text('{"house-model": [0.5, 1.5]}')
    assert PriceTable.load().lookup("house-model") == (0.5, 1.5)


def _all_messages(rec, bench):
    out = {}
    for level in bench.available("test"):
        for q in bench.questions("test", level):
            prompts = rec.question_prompts(q)
            users = list(range(q.n))
            out[(level, q.id)] = [prompts.messages("point", [1]), prompts.messages("pair", [0, 1]),
                                  prompts.messages("list", users)]
    return out


@pytest.mark.parametrize("opts", [{}, {"profile": "offline", "k": 3, "rel_rating": True}])
def test_memoised_components_give_the_same_prompts_without_loading_reviews(tmp_path, opts):
    """The second recommender (another model, same benchmark and settings) takes every
    question's retrieved histories from the cache file: same messages, reviews unread."""
    path = make_tiny_bench(tmp_path / "b")
    cache = str(tmp_path / "cache.sqlite")
    base = {"base_url": "http://127.0.0.1:9/v1", "cache_path": cache, **opts}
    first_bench = Benchmark(path)
    first = create_llm_recommender("openai", "model-a", base)
    first.prepare(first_bench, "test")
    assert "context" in first_bench.__dict__  # nothing memoised yet: reviews loaded up front
    expected = _all_messages(first, first_bench)
    first.flush()
    second_bench = Benchmark(path)
    second = create_llm_recommender("openai", "model-b", base)
    second.prepare(second_bench, "test")
    got = _all_messages(second, second_bench)
    assert got == expected
    if opts.get("profile") != "offline":  # offline profiles are made from the reviews
        assert "context" not in second_bench.__dict__
    # other retrieval settings are another namespace: computed afresh, not reused
    other = create_llm_recommender("openai", "model-b", {**base, "k": 1})
    other.prepare(Benchmark(path), "test")
    q = second_bench.questions("test", "easy")[0]
    assert all(len(u.history) <= 1 for u in other.question_prompts(q).full.users)
    # without a response cache nothing is memoised or read
    off = create_llm_recommender("openai", "model-c", {**base, "cache": False})
    off.prepare(Benchmark(path), "test")
    assert off.prompter is not None and off.prompter.memo is None


def test_damaged_memo_rows_are_recomputed(tmp_path):
    import sqlite3

    path = make_tiny_bench(tmp_path / "b")
    base = {"base_url": "http://127.0.0.1:9/v1", "cache_path": str(tmp_path / "c.sqlite")}
    first = create_llm_recommender("openai", "a", base)
    first.prepare(Benchmark(path), "test")
    expected = _all_messages(first, Benchmark(path))
    first.flush()
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("UPDATE components SET components = '{not json'")
    second = create_llm_recommender("openai", "b", base)
    second.prepare(Benchmark(path), "test")
    assert _all_messages(second, Benchmark(path)) == expected


def test_dry_run_estimate_reads_the_memo(tmp_path):
    """A dry run after a real one takes retrieved histories from the cache file: same
    estimate, and the benchmark's reviews are not loaded."""
    from perrecbench.models.llm.cache import ResponseCache

    path = make_tiny_bench(tmp_path / "b")
    base = {"base_url": "http://127.0.0.1:9/v1", "cache_path": str(tmp_path / "c.sqlite")}
    cold = create_llm_recommender("openai", "m", base)
    cold.load(Benchmark(path), "test")
    expected = estimate_run(cold, Benchmark(path), "list", "test", None, None)
    filler = create_llm_recommender("openai", "m", base)
    filler.prepare(Benchmark(path), "test")
    _all_messages(filler, Benchmark(path))
    filler.flush()
    warm_bench = Benchmark(path)
    warm = create_llm_recommender("openai", "m", base)
    store = ResponseCache(tmp_path / "c.sqlite")
    warm.load(warm_bench, "test", store)
    try:
        got = estimate_run(warm, warm_bench, "list", "test", None, None)
    finally:
        store.close()
    assert (got.requests, got.prompt_tokens) == (expected.requests, expected.prompt_tokens)
    assert "context" not in warm_bench.__dict__
