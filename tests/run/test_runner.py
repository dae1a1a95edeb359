"""The runner itself (`run.runner.run` / `run_jobs`), without the command line: resume asks
only what is not answered, a run stopped mid-way (cancelled, Ctrl-C, a setting that cannot
work) keeps its answers and the next call finishes the rest, `limit`, and a server's
Retry-After. A recommender defined here counts what it is asked; LLM runs go to the fake
OpenAI-compatible server on loopback, whose request count shows what was sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Callable

import pytest
from helpers.cli import predictions
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench import RATING
from perrecbench.bench import Benchmark
from perrecbench.errors import ConfigError
from perrecbench.models.base import Recommender
from perrecbench.models.registry import create_model
from perrecbench.records import Prediction
from perrecbench.run.rundir import RunDir
from perrecbench.run.runner import Job, RunOptions, run, run_jobs

PER_LEVEL = 4  # test questions per level of the tiny benchmark (3 levels)


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Benchmark:
    return Benchmark(make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny", per_level=PER_LEVEL))


class Counting(Recommender):
    """Answers every question in member order and records what it was asked; from its
    `stop_at`-th question on (0-based), `stop()` is called instead of answering."""

    name = "test/counting"
    methods = ("point", "pair", "list", RATING)

    def __init__(self, stop_at: int | None = None, stop: Callable[[], object] | None = None):
        self.asked: list[str] = []
        self.stop_at, self.stop = stop_at, stop

    async def predict(self, question, method):
        if self.stop_at is not None and len(self.asked) >= self.stop_at:
            await self.stop()
        self.asked.append(question.id)
        if method == RATING:
            return Prediction(question_id=question.id, ratings=[3.0] * question.n)
        return Prediction(question_id=question.id, order=list(range(question.n)))


def _lines(out) -> list[str]:
    """Question ids of a run directory's prediction lines, one per line as written: a
    question answered twice would show twice."""
    return [json.loads(line)["question_id"] for line in (out / "predictions.jsonl").read_text().splitlines()]


def test_resume_asks_only_the_questions_not_answered(bench, tmp_path):
    out = tmp_path / "run"
    first = Counting()
    s1 = run(first, bench, "list", out, RunOptions(limit=2))
    assert (s1.total, s1.answered, s1.skipped) == (6, 6, 0)
    second = Counting()
    s2 = run(second, bench, "list", out)
    assert (s2.total, s2.skipped, s2.answered) == (3 * PER_LEVEL, 6, 3 * PER_LEVEL - 6)
    assert not set(second.asked) & set(first.asked)
    assert sorted(first.asked + second.asked) == sorted(predictions(out))
    third = Counting()
    s3 = run(third, bench, "list", out)
    assert third.asked == [] and (s3.skipped, s3.answered) == (3 * PER_LEVEL, 0)
    assert len(RunDir(out).read_predictions()) == 3 * PER_LEVEL


def _fake(url: str, **options) -> Recommender:
    """`openai/fake` on the loopback server; no answer cache unless asked, so only the
    runner's resume can keep a request from being sent again."""
    return create_model("openai/fake", {"base_url": url, "retry_base_delay": 0.01, "cache": False, **options})


def test_resume_sends_no_request_for_an_answered_question(bench, tmp_path):
    out = tmp_path / "llm"
    with FakeOpenAI() as srv:
        run(_fake(srv.url), bench, "point", out, RunOptions(levels=["easy"], limit=1))
        first = srv.stats()["requests"]
        done = predictions(out)
        assert list(done) == ["test-easy-0"] and first == done["test-easy-0"].n_calls > 0
        summary = run(_fake(srv.url), bench, "point", out, RunOptions(levels=["easy"]))
        preds = predictions(out)
        assert summary.skipped == 1 and summary.answered == PER_LEVEL - 1 and len(preds) == PER_LEVEL
        assert all(p.ok for p in preds.values())
        new = sum(p.n_calls for q, p in preds.items() if q != "test-easy-0")
        assert srv.stats()["requests"] - first == new  # nothing asked again for test-easy-0
        before = srv.stats()["requests"]
        again = run(_fake(srv.url), bench, "point", out, RunOptions(levels=["easy"]))
        assert again.answered == 0 and srv.stats()["requests"] == before


async def _cancel() -> None:
    raise asyncio.CancelledError


async def _setting_that_cannot_work() -> None:
    raise ConfigError("a setting that cannot work")


async def _ctrl_c() -> None:
    """What a terminal's Ctrl-C does: SIGINT to the process, while a request is pending."""
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.sleep(30)  # cancelled by the interrupt; never answers


def _finish_after_stop(bench, out, stopped: Counting, total: int) -> None:
    """The next call answers exactly the questions the stopped run did not."""
    kept = predictions(out)
    assert sorted(kept) == sorted(stopped.asked)
    rest = Counting()
    summary = run(rest, bench, "pair", out, RunOptions(max_concurrency=1))
    assert summary.skipped == len(kept) and summary.answered == total - len(kept) and not summary.interrupted
    assert not set(rest.asked) & set(kept)
    assert sorted(_lines(out)) == sorted(predictions(out)) and len(predictions(out)) == total


def test_a_run_cancelled_mid_way_keeps_its_answers_and_the_next_call_finishes(bench, tmp_path):
    out = tmp_path / "cancelled"
    stopped = Counting(stop_at=5, stop=_cancel)
    summary = run(stopped, bench, "pair", out, RunOptions(max_concurrency=1))
    assert summary.interrupted and summary.answered == 5 and len(stopped.asked) == 5
    _finish_after_stop(bench, out, stopped, 3 * PER_LEVEL)


def test_ctrl_c_mid_way_keeps_the_answers_and_the_next_call_finishes(bench, tmp_path):
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("asyncio turns SIGINT into a cancel only in the main thread with the default handler")
    out = tmp_path / "ctrl-c"
    stopped = Counting(stop_at=3, stop=_ctrl_c)
    summary = run(stopped, bench, "pair", out, RunOptions(max_concurrency=1))
    assert summary.interrupted and summary.answered == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the terminal's Ctrl-C is back
    _finish_after_stop(bench, out, stopped, 3 * PER_LEVEL)


def test_a_setting_that_cannot_work_stops_the_run_and_keeps_the_answers(bench, tmp_path):
    out = tmp_path / "stopped"
    stopped = Counting(stop_at=4, stop=_setting_that_cannot_work)
    with pytest.raises(ConfigError, match="cannot work"):
        run(stopped, bench, "pair", out, RunOptions(max_concurrency=1))
    assert len(predictions(out)) == 4
    _finish_after_stop(bench, out, stopped, 3 * PER_LEVEL)


def test_limit_asks_the_first_questions_of_each_level_and_a_larger_limit_resumes(bench, tmp_path):
    out = tmp_path / "limit"
    model = Counting()
    summary = run(model, bench, "point", out, RunOptions(levels=["easy", "hard"], limit=2))
    assert summary.per_level == {"easy": 2, "hard": 2} and summary.total == summary.answered == 4
    assert sorted(model.asked) == ["test-easy-0", "test-easy-1", "test-hard-0", "test-hard-1"]
    assert RunDir(out).read_manifest().asked == {"easy": 2, "hard": 2}
    more = Counting()
    summary = run(more, bench, "point", out, RunOptions(levels=["easy", "hard"], limit=3))
    assert sorted(more.asked) == ["test-easy-2", "test-hard-2"] and summary.skipped == 4
    assert RunDir(out).read_manifest().asked == {"easy": 3, "hard": 3}
    # the rating task: the first `limit` pairs of its sample, in jobs next to a preference method
    rating, pref = Counting(), Counting()
    s_rating, s_pref = run_jobs([Job(rating, RATING, tmp_path / "rating"), Job(pref, "list", tmp_path / "list")],
                                bench, RunOptions(limit=3))
    assert s_rating.total == s_rating.answered == 3 and len(rating.asked) == 3
    assert s_pref.total == 9 and s_pref.per_level == {"easy": 3, "medium": 3, "hard": 3}


def test_retry_after_is_honoured(bench, tmp_path):
    out = tmp_path / "retry-after"
    with FakeOpenAI() as srv:
        srv.configure(faults=[{"kind": "status", "status": 429, "retry_after": "1", "times": 1}])
        summary = run(_fake(srv.url), bench, "list", out, RunOptions(levels=["easy"], limit=1))
        log = srv.stats()["log"]
    assert [e["status"] for e in log] == [429, 200]
    # retry_base_delay is 0.01 s: only the server's Retry-After makes the runner wait a second
    assert log[1]["t"] - log[0]["t"] >= 1.0
    assert summary.answered == 1 and summary.failed == 0 and predictions(out)["test-easy-0"].ok
