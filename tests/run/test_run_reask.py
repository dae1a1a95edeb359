"""Re-asking failed questions of an earlier run: transport failures by default, never a bug
over and over, everything with `all`; and a bug in a model does not stop the run."""

from __future__ import annotations

import pytest
from helpers.tiny_bench import make_tiny_bench

from perrecbench import failures
from perrecbench.bench import Benchmark
from perrecbench.errors import ConfigError
from perrecbench.models.base import Recommender
from perrecbench.records import Prediction
from perrecbench.run.reask import should_reask
from perrecbench.run.rundir import RunDir
from perrecbench.run.runner import RunOptions, run


class Flaky(Recommender):
    """Raises a bug on question ids containing "-1", fails question "-2" in transport."""

    name = "test/flaky"

    def __init__(self):
        self.asked: list[str] = []

    async def predict(self, question, method):
        self.asked.append(question.id)
        if question.id.endswith("-1"):
            raise ZeroDivisionError("a bug")
        if question.id.endswith("-2"):
            return Prediction.failed(question.id, failures.SERVER_ERROR, "503 after 6 attempts")
        return Prediction(question_id=question.id, order=list(range(question.n)))


@pytest.mark.parametrize(("category", "transient"), [(f.name, f.reask) for f in failures.ALL])
def test_policy_follows_the_vocabulary(category, transient):
    p = Prediction(question_id="q", status="failed", failure=category)
    assert should_reask(p, "transient") is transient
    assert should_reask(p, "all") and not should_reask(p, "none")
    assert not should_reask(Prediction(question_id="q", order=[0, 1]), "all")
    with pytest.raises(ConfigError):
        should_reask(p, "sometimes")


def test_a_bug_is_recorded_as_internal_and_not_asked_again_by_default(tmp_path):
    bench = Benchmark(make_tiny_bench(tmp_path / "b", per_level=3))
    out = tmp_path / "run"
    first = Flaky()
    summary = run(first, bench, "list", out, RunOptions(levels=["easy"]))
    assert summary.answered == 3 and summary.failed == 2
    preds = {r.prediction.question_id: r.prediction for r in RunDir(out).read_predictions()}
    assert preds["test-easy-1"].failure == "internal" and "ZeroDivisionError: a bug" in preds["test-easy-1"].failure_detail
    again = Flaky()
    run(again, bench, "list", out, RunOptions(levels=["easy"]))
    assert again.asked == ["test-easy-2"]  # the transport failure, not the bug
    everything = Flaky()
    run(everything, bench, "list", out, RunOptions(levels=["easy"], reask="all"))
    assert sorted(everything.asked) == ["test-easy-1", "test-easy-2"]
