"""User profiles: offline statistics, LLM generation with an incremental cache, loading."""

from __future__ import annotations

import asyncio
import json

import pytest
from helpers.profile_bench import DAY, T0, make_bench

from perrecbench.bench import Benchmark
from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.prompts.profiles import (
    generate_profiles,
    load_profiles,
    members,
    offline_profiles,
    profile_key,
    profile_messages,
)


@pytest.fixture
def bench(tmp_path) -> Benchmark:
    return make_bench(tmp_path / "bench")


def test_members_are_distinct_user_times(bench):
    ms = members(bench, "test")
    assert len(ms) == 3 and len(set(ms)) == 3
    assert {u for u, _ in ms} == {"u1", "u2", "u3"}
    assert members(bench, "test", ["easy"]) == ms[:2]


def test_offline_profile_uses_only_earlier_reviews(bench):
    profs = offline_profiles(bench, "test", ["easy"])
    q = bench.questions("test", "easy")[0]
    text = profs[profile_key("u1", q.users[0].timestamp)]
    assert text.startswith("Offline profile from 10 earlier ratings: average 3.5, most common")
    assert "Most rated categories: Books (7), Electronics (2), Home & Kitchen (1)." in text
    assert "Agatha Stone (2)" in text
    assert 'Highest rated: "Murder at the Manor" (5.0), "The Detective\'s Clue" (5.0)' in text
    assert 'Lowest rated: "Galaxy Station" (2.0), "Robots of Mars" (2.0)' in text
    assert "Inspector" not in text and "Starship" not in text  # the query and later items
    assert profs == offline_profiles(bench, "test", ["easy"])  # deterministic


def test_generate_profiles_caches_and_resumes(bench):
    calls: list[list] = []

    async def fake(messages):
        calls.append(messages)
        user = messages[-1].content
        return f"likes {user.count('- ')} things"

    report = asyncio.run(generate_profiles(bench, fake, "fake", split="test", max_concurrency=2))
    assert (report.generated, report.reused, report.failed) == (3, 0, 0)
    saved = json.loads((bench.path / "profiles" / "fake.json").read_text())
    assert set(saved) == {profile_key(u, t) for u, t in members(bench, "test")}
    assert not (bench.path / "profiles" / "fake.partial.jsonl").exists()
    # the history given to the model ends before the question
    assert all("Inspector" not in m[-1].content for m in calls)
    again = asyncio.run(generate_profiles(bench, fake, "fake", split="test"))
    assert (again.generated, again.reused) == (0, 3) and len(calls) == 3
    assert load_profiles(bench, "fake") == saved


def test_interrupted_run_keeps_profiles(bench):
    seen = 0

    async def flaky(messages):
        nonlocal seen
        seen += 1
        if seen == 2:
            raise KeyboardInterrupt
        return "a profile"

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(generate_profiles(bench, flaky, "flaky", split="test", max_concurrency=1))
    kept = load_profiles(bench, "flaky")
    assert list(kept.values()) == ["a profile"]

    async def ok(messages):
        return "a profile"

    report = asyncio.run(generate_profiles(bench, ok, "flaky", split="test"))
    assert (report.reused, report.generated) == (1, 2)


def test_failed_calls_are_counted_not_fatal(bench):
    async def bad(messages):
        if '"Love in Paris" by Rose Heart: 3.0' in messages[-1].content:
            raise RuntimeError("rate limited")
        return "  "

    report = asyncio.run(generate_profiles(bench, bad, "bad", split="test"))
    assert report.failed == 3 and report.generated == 0
    assert any("rate limited" in e for e in report.errors) and any("empty" in e for e in report.errors)


def test_journal_with_cut_line_is_tolerated(bench):
    d = bench.path / "profiles"
    d.mkdir()
    (d / "x.partial.jsonl").write_text('{"key": "u1@1", "profile": "p"}\n{"key": "u2@', encoding="utf-8")
    assert load_profiles(bench, "x") == {"u1@1": "p"}
    with pytest.raises(BenchmarkError, match="no profiles labelled 'nope'"):
        load_profiles(bench, "nope")
    (d / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(BenchmarkError, match="not valid JSON"):
        load_profiles(bench, "broken")
    with pytest.raises(ConfigError, match="label"):
        load_profiles(bench, "../evil")


def test_official_profile_template(bench, shared):
    templates = shared("reference", "official-templates")
    ctx = bench.context
    msgs = profile_messages(ctx.history("u1", before=T0 + 30 * DAY), ctx,
                            (templates / "template_profile" / "gen_profile.txt").read_text())
    assert len(msgs) == 1 and msgs[0].role == "user"
    assert msgs[0].content.startswith("### User Behavior history\n### Item Title\nMurder at the Manor\n")
    assert "### User Rating\n5.0\n\n### Item Title\nThe Detective's Clue" in msgs[0].content
    seen = []

    async def fake(messages):
        seen.append(messages)
        return "p"

    asyncio.run(generate_profiles(bench, fake, "official", split="test", templates_dir=templates))
    assert seen and all(m[0].content.startswith("### User Behavior history") for m in seen)
