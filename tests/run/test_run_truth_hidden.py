"""A model is never handed the answer by accident (issue 16, section 6): every model but
the built-in oracle gets questions without truth and a benchmark whose evaluated split
is stripped; reading the truth stops the run with a clear error."""

from __future__ import annotations

import asyncio
import json
import pickle

import pytest
from helpers.cli import invoke
from helpers.cli import predictions as _preds
from helpers.cli import run_args as _args
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench.bench import Benchmark
from perrecbench.errors import PerRecBenchError, TruthHiddenError
from perrecbench.models.base import Recommender, ScoreRecommender
from perrecbench.models.baselines import BASELINES, OracleBaseline, create_baseline, sees_truth
from perrecbench.records import Prediction
from perrecbench.run.runner import Job, RunOptions, run, run_jobs
from perrecbench.types import Member, PublicMember, Question

HIDDEN = "the truth is hidden from models"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return Benchmark(make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny"))


# -- the public view ----------------------------------------------------------------------

def _q() -> Question:
    users = (Member("u1", 5.0, 1.2, 3.8, 4.0, 20, 1000), Member("u2", 2.0, -1.5, 3.5, 3.0, 18, 1001))
    return Question("easy-1", "easy", "test", "i1", 1000, users)


@pytest.mark.parametrize("read", [
    lambda q: q.users[0].rating,
    lambda q: q.users[1].relative_rating,
    lambda q: q.true_order(),
    lambda q: q.true_scores(),
    lambda q: getattr(q.users[0], "rating", float("nan")),  # no silent default
], ids=["rating", "relative_rating", "true_order", "true_scores", "getattr-default"])
def test_reading_the_truth_of_a_public_question_raises_a_clear_error(read):
    with pytest.raises(TruthHiddenError, match=HIDDEN) as err:
        read(_q().public())
    assert isinstance(err.value, PerRecBenchError)  # the CLI prints it in one line


def test_the_public_view_keeps_what_a_model_may_read_and_nothing_else():
    q, p = _q(), _q().public()
    assert (p.id, p.level, p.split, p.item_id, p.query_time, p.n) == (q.id, q.level, q.split, q.item_id,
                                                                       q.query_time, q.n)
    m = p.users[0]
    assert isinstance(m, PublicMember) and isinstance(m, Member)  # model code typed for members runs
    assert (m.user_id, m.avg_rating, m.most_common_rating, m.history_len, m.timestamp) == ("u1", 3.8, 4.0, 20,
                                                                                          1000)
    assert m.to_dict() == {"user_id": "u1", "avg_rating": 3.8, "most_common_rating": 4.0, "history_len": 20,
                           "timestamp": 1000}
    text = repr(p) + json.dumps(p.to_dict())
    assert "rating': 5.0" not in text and "1.2" not in text and "relative" not in text
    assert p.is_public and not q.is_public and p.public() is p
    assert pickle.loads(pickle.dumps(p)) == p and hash(p) == hash(q.public())
    with pytest.raises(TruthHiddenError):  # nor can a value be put back
        object.__setattr__(m, "rating", 5.0)
    assert q.true_order() == [0, 1]  # the full question is untouched


def test_the_public_benchmark_strips_only_the_split_being_evaluated(bench):
    view = bench.public("test")
    assert all(q.is_public for lv in view.available("test") for q in view.questions("test", lv))
    assert view.question("test-easy-0").is_public
    held = view.questions("heldout", "easy")  # few-shot demonstrations keep their truth
    assert held == bench.questions("heldout", "easy") and held[0].true_order()
    assert view.context is bench.context  # loaded once, shared
    assert view.fingerprint == bench.fingerprint and view.path == bench.path
    assert not bench.questions("test", "easy")[0].is_public


# -- user models through the runner -----------------------------------------------------

class PeeksInPredict(ScoreRecommender):
    name = "user/peek"

    def score_users(self, question):
        return [m.relative_rating for m in question.users]


class PeeksInPrepare(ScoreRecommender):
    """Reads the evaluated split's questions through the benchmark `prepare` receives."""

    name = "user/peek-prepare"

    def prepare(self, bench, split, calls=None):
        super().prepare(bench, split, calls)
        b = self.loaded()
        self.truth = {(m.user_id, q.item_id): m.relative_rating
                      for lv in b.available(split) for q in b.questions(split, lv) for m in q.users}

    def score_users(self, question):
        return [self.truth[(m.user_id, question.item_id)] for m in question.users]


class LearnsFromHeldout(ScoreRecommender):
    """Fits on the held-out split's truth (allowed) and reads only public member fields."""

    name = "user/heldout"

    def prepare(self, bench, split, calls=None):
        super().prepare(bench, split, calls)
        rel = [m.relative_rating for lv in bench.available("heldout") for q in bench.questions("heldout", lv)
               for m in q.users]
        self.offset = sum(rel) / len(rel)

    def score_users(self, question):
        return [self.offset - m.avg_rating for m in question.users]


class PeeksFullContract(Recommender):
    name = "user/full"

    async def predict(self, question, method):
        return Prediction(question_id=question.id, order=question.true_order())


class SaysItIsTheOracle(OracleBaseline):
    """A subclass of the oracle, or a class that takes its name, is not the oracle."""

    name = "baseline/oracle"


@pytest.mark.parametrize(("cls", "method"), [
    *((cls, m) for cls in (PeeksInPredict, PeeksInPrepare, SaysItIsTheOracle) for m in ("list", "point", "rating")),
    (PeeksFullContract, "list"),
])
def test_a_user_model_that_reads_the_truth_is_refused(bench, tmp_path, cls, method):
    model = cls() if cls is PeeksFullContract else cls({})
    with pytest.raises(TruthHiddenError, match=HIDDEN):
        run(model, bench, method, tmp_path / "r", RunOptions(pairs=10))
    assert not sees_truth(model)


def test_the_refusal_reaches_the_user_as_one_line(bench, tmp_path, monkeypatch, capsys):
    """A user's class named on the command line, through the CLI's error path:
    `error: the truth is hidden ...`, no traceback."""
    import perrecbench.cli.main as cli_main

    peek = tmp_path / "peek.py"
    peek.write_text("from perrecbench import ScoreRecommender\n\n\n"
                    "class Peek(ScoreRecommender):\n"
                    "    name = 'peek'\n\n"
                    "    def score_users(self, question):\n"
                    "        return [m.relative_rating for m in question.users]\n")
    monkeypatch.setattr("sys.argv", ["perrecbench", "run", "--bench", str(bench.path), "--model",
                                     f"{peek}:Peek", "--method", "list", "--out", str(tmp_path / "r"),
                                     "--no-progress"])
    with pytest.raises(SystemExit) as exit_:
        cli_main.main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == TruthHiddenError.exit_code
    assert err.startswith(f"error: {HIDDEN}: Member.relative_rating") and "\n" not in err


def test_a_model_may_learn_from_the_heldout_split(bench, tmp_path):
    summary = run(LearnsFromHeldout({}), bench, "list", tmp_path / "r")
    assert summary.answered == summary.total > 0 and summary.failed == 0


def test_the_oracle_still_scores_one(bench, tmp_path):
    jobs = [Job(create_baseline("oracle"), m, tmp_path / m) for m in ("pair", "list")]
    run_jobs(jobs, bench)
    res = invoke(["score", str(tmp_path / "pair"), str(tmp_path / "list"), "--format", "json"])
    rows = [r for r in json.loads(res.stdout) if r["metric"] == "tau-b"]
    assert len(rows) == 6 and all(r["score"] == 1.0 for r in rows)
    assert sees_truth(BASELINES["oracle"]())


@pytest.mark.parametrize("name", sorted(set(BASELINES) - {"oracle"}))
def test_baselines_answer_as_they_did_with_the_truth_in_hand(bench, tmp_path, name):
    """Each built-in baseline reads only history and public fields: through the runner
    (public questions and benchmark) its answers equal those on the full questions."""
    methods = ("point", "pair", "list")
    jobs = [Job(create_baseline(name), m, tmp_path / m) for m in methods]
    run_jobs(jobs, bench)
    direct = create_baseline(name)
    direct.prepare(bench, "test")
    for m in methods:
        got = _preds(tmp_path / m)
        for lv in bench.available("test"):
            for q in bench.questions("test", lv):
                want = asyncio.run(direct.predict(q, m))
                assert (got[q.id].order, got[q.id].scores, got[q.id].ratings) == (want.order, want.scores,
                                                                                  want.ratings)


def test_llm_few_shot_demonstrations_keep_the_heldout_truth(bench, tmp_path):
    """Listwise few-shot demos come from the held-out split with their true orders: the
    stripped test split does not touch them."""
    from perrecbench.prompts.fewshot import group_demos

    with FakeOpenAI() as srv:
        out = tmp_path / "fs"
        res = invoke(_args(bench.path, out, "list", srv.url, "--levels", "medium", "--shots", "1",
                           "--profile", "offline", "--log-prompts"))
        assert res.exit_code == 0, res.output
    preds = _preds(out)
    assert len(preds) == 4 and all(p.ok for p in preds.values())
    demo = group_demos(bench.questions("heldout", "medium"), bench.context, "list", 1)[0]
    calls = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    prompts = [json.dumps(c["messages"]) for c in calls if c.get("messages")]
    assert prompts and all(json.dumps(demo.answer)[1:-1] in p for p in prompts)
