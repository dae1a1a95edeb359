"""`perrecbench sft-data`: run's prompts with the truth as the answer, never a test item."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.train_fixtures import needs
from servers.fake_openai import FakeOpenAI

from perrecbench.bench import Benchmark, questions_file, write_questions
from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.prompts.parsing import parse_list, parse_pair, parse_point

K = ["--k", "1"]


def _sft(bench, out, fmt, *extra):
    needs("datasets")
    res = invoke(["sft-data", "--bench", str(bench), "--format", fmt, "--out", str(out), *K, *extra])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in (Path(out) / "train_sft.jsonl").read_text().splitlines()]


def _questions(bench, split="train"):
    b = Benchmark(bench)
    return {(q.level, q.id): q for lv in b.available(split) for q in b.questions(split, lv)}


def test_user_messages_equal_what_run_sends(sft_bench, tmp_path):
    """Every prompt `run --log-prompts` sends for the train split is an SFT row's prompt, and
    every SFT row's prompt is one that run sends (pairs: all of them, in both orders)."""
    rows = {f: _sft(sft_bench, tmp_path / f, f, "--limit", "3") for f in ("point", "pair", "group")}
    with FakeOpenAI() as srv:
        res = invoke(["run", "--bench", str(sft_bench), "--model", "openai/fake", "--method", "point,pair,list",
                      "--out", str(tmp_path / "run"), "--base-url", srv.url, "--split", "train", "--limit", "3",
                      "--log-prompts", "--no-progress", "--option", "pair_strategy=allpairs", *K])
    assert res.exit_code == 0, res.output
    for fmt, method in (("point", "point"), ("pair", "pair"), ("group", "list")):
        sent = Counter()
        for line in (tmp_path / "run" / method / "calls.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec.get("status") == "ok":
                sent[json.dumps(rec["messages"], sort_keys=True)] += 1
        prompts = Counter(json.dumps(r["messages"][:-1], sort_keys=True) for r in rows[fmt])
        assert set(sent) == set(prompts), fmt
        assert all(r["messages"][0]["role"] == "system" and r["messages"][-1]["role"] == "assistant"
                   for r in rows[fmt])
    # counts: 3 questions per level; point 1 row per member, pair 2 per pair, group 1 per question
    assert Counter(r["level"] for r in rows["group"]) == {"easy": 3, "medium": 3, "hard": 3}
    assert Counter(r["level"] for r in rows["point"]) == {"easy": 6, "medium": 9, "hard": 12}
    assert Counter(r["level"] for r in rows["pair"]) == {"easy": 6, "medium": 18, "hard": 36}


@pytest.mark.parametrize("rel", [False, True])
def test_assistant_turns_parse_back_to_the_truth(sft_bench, tmp_path, rel):
    qs = _questions(sft_bench)
    rows = _sft(sft_bench, tmp_path / "mix", "mix", "--limit", "4", *(["--rel-rating"] if rel else []))
    seen = Counter()
    for r in rows:
        q = qs[(r["level"], r["question_id"])]
        answer, members = r["messages"][-1]["content"], r["members"]
        seen[r["format"]] += 1
        if r["format"] == "point":
            m = q.users[members[0]]
            lo, hi = (-4.0, 4.0) if rel else (1.0, 5.0)
            got = parse_point(answer, lo, hi)
            assert got.ok and got.value == pytest.approx(m.relative_rating if rel else m.rating, abs=0.0501)  # one decimal, as the demos answer
        elif r["format"] == "pair":
            a, b = members
            want = "A" if q.users[a].relative_rating > q.users[b].relative_rating else "B"
            assert parse_pair(answer).value == want
        else:
            assert members == list(range(q.n))
            assert parse_list(answer, q.n).value == q.true_order()
    assert set(seen) == {"point", "pair", "group"}


def test_mix_is_the_union_shuffled_with_the_seed(sft_bench, tmp_path):
    single = [r for f in ("point", "pair", "group") for r in _sft(sft_bench, tmp_path / f, f, "--limit", "2")]
    mix0 = _sft(sft_bench, tmp_path / "m0", "mix", "--limit", "2", "--seed", "0")
    mix0b = _sft(sft_bench, tmp_path / "m0b", "mix", "--limit", "2", "--seed", "0")
    mix1 = _sft(sft_bench, tmp_path / "m1", "mix", "--limit", "2", "--seed", "1")

    def key(r):
        return json.dumps(r, sort_keys=True)

    assert Counter(map(key, mix0)) == Counter(map(key, single))
    assert [key(r) for r in mix0] == [key(r) for r in mix0b]
    assert [key(r) for r in mix0] != [key(r) for r in mix1] != [key(r) for r in single]


def test_written_as_jsonl_datasets_and_manifest(sft_bench, tmp_path):
    import datasets

    rows = _sft(sft_bench, tmp_path / "p", "pair", "--limit", "2", "--levels", "easy,hard")
    ds = datasets.load_from_disk(str(tmp_path / "p"))
    assert list(ds) == ["train_sft"]
    assert ds["train_sft"]["messages"] == [r["messages"] for r in rows]
    man = json.loads((tmp_path / "p" / "sft_manifest.json").read_text())
    assert man["counts"] == {"pair": {"easy": 4, "hard": 24}} and man["rows"] == 28
    assert man["split"] == "train" and man["questions"] == {"easy": 2, "hard": 2}
    assert man["bench_fingerprint"].startswith("sha256:") and man["prompt"]["k"] == 1
    held = tmp_path / "h"
    res = invoke(["sft-data", "--bench", str(sft_bench), "--format", "group", "--out", str(held), "--split",
                  "heldout", *K])
    assert res.exit_code == 0, res.output
    assert list(datasets.load_from_disk(str(held))) == ["test_sft"]
    # a second write needs --overwrite, and never replaces a directory that is not SFT data
    with pytest.raises(ConfigError, match="--overwrite"):
        invoke(["sft-data", "--bench", str(sft_bench), "--format", "group", "--out", str(held), "--split",
                "heldout", *K])
    with pytest.raises(ConfigError, match="not an SFT data directory"):
        invoke(["sft-data", "--bench", str(sft_bench), "--format", "group", "--out", str(sft_bench), "--overwrite"])


def test_a_test_item_never_enters_training_data(sft_bench, tmp_path):
    needs("datasets")
    with pytest.raises(ConfigError, match="test questions must never reach training data"):
        invoke(["sft-data", "--bench", str(sft_bench), "--format", "point", "--out", str(tmp_path / "t"),
                "--split", "test"])
    # a benchmark whose train file smuggles in a test item
    bad = tmp_path / "bad"
    shutil.copytree(sft_bench, bad)
    b = Benchmark(bad)
    test_q = b.questions("test", "easy")[0]
    train = b.questions("train", "easy")
    leaked = type(test_q)(test_q.id + "-x", "easy", "train", test_q.item_id, test_q.query_time, test_q.users)
    write_questions(questions_file(bad, "train", "easy"), [*train, leaked])
    with pytest.raises(BenchmarkError, match=f"asks about {test_q.item_id}, an item of the test split"):
        invoke(["sft-data", "--bench", str(bad), "--format", "point", "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()
    with pytest.raises(ConfigError, match="--cot"):
        invoke(["sft-data", "--bench", str(sft_bench), "--format", "point", "--out", str(tmp_path / "c"),
                "--option", "cot=true"])
