"""Scorer: alignment, failure policies, same denominator, extra metrics, averages, pairing."""

from __future__ import annotations

import math
import shutil

import pytest
from helpers.scoring import failed, make_bench, make_run, ordered, pointwise, question

from perrecbench import failures
from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.models.llm.options import variant_from_config
from perrecbench.records import PairStats, Prediction, ScoreRow
from perrecbench.run.costs import CALLS_PER_QUESTION, INCONSISTENCY
from perrecbench.score.averages import cell_averages
from perrecbench.score.compare import compare_runs
from perrecbench.score.runs import load_run, load_runs
from perrecbench.score.scoring import score_run, score_runs

# medium questions; member order is not the true order
Q1 = question("medium", "i1", [0.5, 1.5, -1.0])  # true order [1, 0, 2]
Q2 = question("medium", "i2", [-1.0, 0.0, 1.0])  # true order [2, 1, 0]
Q3 = question("medium", "i3", [1.0, -1.0, 0.0])  # true order [0, 2, 1]


@pytest.fixture
def bench(tmp_path):
    return make_bench(tmp_path / "bench", {"medium": [Q1, Q2, Q3]})


def rows_by_metric(rows):
    return {(r.level, r.metric): r for r in rows}


def test_failed_counts_zero_in_tau_b_and_is_skipped_in_official(bench, tmp_path):
    run = make_run(
        tmp_path / "a",
        bench,
        "model-a",
        "list",
        {"medium": [ordered(Q1.id, [1, 0, 2]), failed(Q2.id)]},
    )
    loaded = load_run(run)
    tau = rows_by_metric(score_run(loaded, "tau-b"))[("medium", "tau-b")]
    assert tau.score == pytest.approx(1 / 3)  # (1 + 0 failed + 0 missing) / 3
    assert (tau.n_questions, tau.n_failed, tau.n_missing, tau.n_scored) == (3, 1, 1, 3)
    assert tau.failure_policy == "failed=0"
    off = rows_by_metric(score_run(loaded, "official-v1"))[("medium", "official-v1")]
    assert off.score == pytest.approx(1.0)
    assert (off.n_questions, off.n_failed, off.n_missing, off.n_scored) == (3, 1, 1, 1)
    assert off.failure_policy == "failed=skipped"


def test_same_denominator_for_every_model(bench, tmp_path):
    a = make_run(tmp_path / "a", bench, "a", "list", {"medium": [ordered(Q1.id, [1, 0, 2])]})
    b = make_run(
        tmp_path / "b",
        bench,
        "b",
        "list",
        {
            "medium": [
                ordered(Q1.id, [1, 0, 2]),
                ordered(Q2.id, [2, 1, 0]),
                ordered(Q3.id, [0, 2, 1]),
            ]
        },
    )
    rows = score_runs(load_runs([a, b]), "tau-b", n_resamples=200)
    taus = {r.model: r for r in rows if r.metric == "tau-b"}
    assert taus["a"].n_questions == taus["b"].n_questions == 3
    assert taus["a"].score == pytest.approx(1 / 3)
    assert taus["b"].score == pytest.approx(1.0)
    assert taus["b"].ci_low == taus["b"].ci_high == 1.0


def test_tau_b_and_official_differ_on_three_users(tmp_path):
    q = question("medium", "x", [1.0, -1.0, 0.0])  # ids best first: [1, 3, 2]
    bench = make_bench(tmp_path / "bench", {"medium": [q]})
    run = load_run(
        make_run(tmp_path / "r", bench, "m", "pair", {"medium": [ordered(q.id, [2, 0, 1])]})
    )
    tau = rows_by_metric(score_run(run, "tau-b"))[("medium", "tau-b")]
    off = rows_by_metric(score_run(run, "official-v1"))[("medium", "official-v1")]
    assert tau.score == pytest.approx(1 / 3)  # SPEC 5 example: [3,1,2] vs [1,3,2]
    assert off.score == pytest.approx(-1.0)
    v2 = rows_by_metric(score_run(run, "official-v2"))[("medium", "official-v2")]
    assert v2.score == pytest.approx(1 / 3)  # the authors' correction agrees with positions
    assert v2.failure_policy == "failed=skipped"


def test_official_v2_skips_failed_and_missing_as_v1(bench, tmp_path):
    run = load_run(make_run(tmp_path / "a", bench, "model-a", "list",
                            {"medium": [ordered(Q1.id, [1, 0, 2]), failed(Q2.id)]}))
    v1 = rows_by_metric(score_run(run, "official-v1"))[("medium", "official-v1")]
    v2 = rows_by_metric(score_run(run, "official-v2"))[("medium", "official-v2")]
    assert (v2.n_questions, v2.n_failed, v2.n_missing, v2.n_scored) == (3, 1, 1, 1)
    assert (v1.n_scored, v1.failure_policy) == (v2.n_scored, v2.failure_policy)


def test_exact_and_pair_accuracy_rows(bench, tmp_path):
    run = make_run(
        tmp_path / "r",
        bench,
        "m",
        "list",
        {"medium": [ordered(Q1.id, [1, 0, 2]), ordered(Q2.id, [2, 0, 1])]},
    )
    rows = rows_by_metric(score_run(load_run(run), n_resamples=100))
    assert rows[("medium", "exact")].score == pytest.approx(1 / 3)
    # Q1 3/3 pairs, Q2 2/3 pairs, Q3 missing = 0
    assert rows[("medium", "pair_acc")].score == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert ("medium", "mae") not in rows  # not a pointwise run


def test_pointwise_rows(tmp_path):
    q1 = question("easy", "p1", [1.0, -0.5], avgs=[3.0, 4.0])  # true ratings 4.0, 3.5
    q2 = question("easy", "p2", [-1.0, 0.5], avgs=[3.5, 2.5])  # true ratings 2.5, 3.0
    bench = make_bench(tmp_path / "bench", {"easy": [q1, q2]})
    preds = [pointwise(q1, [5.0, 3.0]), pointwise(q2, [3.0, 3.0])]
    run = load_run(make_run(tmp_path / "r", bench, "m", "point", {"easy": preds}))
    rows = rows_by_metric(score_run(run, n_resamples=200))
    errors = [1.0, -0.5, 0.5, 0.0]
    assert rows[("easy", "mae")].score == pytest.approx(sum(abs(e) for e in errors) / 4)
    assert rows[("easy", "rmse")].score == pytest.approx(math.sqrt(sum(e * e for e in errors) / 4))
    pred_rel, true_rel = [2.0, -1.0, -0.5, 0.5], [1.0, -0.5, -1.0, 0.5]
    from scipy.stats import pearsonr

    assert rows[("easy", "pearson")].score == pytest.approx(pearsonr(pred_rel, true_rel).statistic)
    assert rows[("easy", "pearson")].ci_low <= rows[("easy", "pearson")].ci_high
    assert rows[("easy", "mae")].failure_policy == "failed=excluded"
    # tau from predicted relative ratings: q1 right, q2 right (-0.5 < 0.5)
    assert rows[("easy", "tau-b")].score == pytest.approx(1.0)
    official = score_run(run, "official-v1", n_resamples=50, extra=False)
    assert [r.score for r in official] == [1.0]


def test_pointwise_tie_is_zero_in_tau_b_but_broken_by_argsort_in_official(tmp_path):
    q = question("easy", "t", [-1.0, 1.0])  # true ids best first: [2, 1]
    bench = make_bench(tmp_path / "bench", {"easy": [q]})
    run = load_run(
        make_run(tmp_path / "r", bench, "m", "point", {"easy": [pointwise(q, [4.0, 4.0])]})
    )
    assert rows_by_metric(score_run(run, "tau-b"))[("easy", "tau-b")].score == 0.0
    assert rows_by_metric(score_run(run, "tau-b"))[("easy", "exact")].score == 0.0
    # argsort([0, 0]) reversed -> ids [2, 1]: the release counts the tie as a correct answer
    assert (
        rows_by_metric(score_run(run, "official-v1"))[("easy", "official-v1")].score == 1.0
    )
    assert rows_by_metric(score_run(run, "official-v2"))[("easy", "official-v2")].score == 1.0


def test_invalid_order_counts_as_failed(bench, tmp_path):
    run = make_run(tmp_path / "r", bench, "m", "list", {"medium": [ordered(Q1.id, [0, 0, 1])]})
    tau = rows_by_metric(score_run(load_run(run)))[("medium", "tau-b")]
    assert tau.n_failed == 1 and tau.n_missing == 2 and tau.score == 0.0


def test_cell_averages_flag_incomplete(bench, tmp_path):
    rows = [
        ScoreRow(model="m", method=meth, level=lv, metric="tau-b", score=0.1 * i, ci_low=0, ci_high=0,
                 n_questions=1, n_failed=0, n_missing=0, n_scored=1, failure_policy="failed=0", run="r")
        for i, (lv, meth) in enumerate(
            (lv, meth) for lv in ("easy", "medium", "hard") for meth in ("point", "pair", "list")
        )
    ]
    (avg,) = cell_averages(rows, "tau-b")
    assert avg.complete and avg.n_cells == 9 and avg.score == pytest.approx(0.4)
    (part,) = cell_averages(rows[:2], "tau-b")
    assert not part.complete and part.n_cells == 2 and part.score == pytest.approx(0.05)


def test_compare_runs(bench, tmp_path):
    good = {
        "medium": [ordered(Q1.id, [1, 0, 2]), ordered(Q2.id, [2, 1, 0]), ordered(Q3.id, [0, 2, 1])]
    }
    bad = {
        "medium": [ordered(Q1.id, [2, 0, 1]), ordered(Q2.id, [0, 1, 2]), ordered(Q3.id, [1, 2, 0])]
    }
    a = load_run(make_run(tmp_path / "a", bench, "a", "list", good))
    b = load_run(make_run(tmp_path / "b", bench, "b", "list", bad))
    (same,) = compare_runs(a, a)
    assert same.diff == 0.0 and same.p_value == 1.0 and same.n == 3
    (diff,) = compare_runs(a, b, n_resamples=200)
    assert diff.diff == pytest.approx(diff.score_a - diff.score_b)
    assert diff.diff > 1.0 and diff.exact_p
    assert diff.p_value == pytest.approx(2 / 8)  # 3 positive differences, exact enumeration


def test_fingerprint_mismatch_and_missing_bench(bench, tmp_path):
    run = make_run(tmp_path / "r", bench, "m", "list", {"medium": [ordered(Q1.id, [1, 0, 2])]})
    other = make_bench(tmp_path / "other", {"medium": [Q1]}, name="other")
    with pytest.raises(BenchmarkError, match="different benchmark"):
        load_run(run, other)
    moved = tmp_path / "moved"
    shutil.move(str(bench), moved)
    with pytest.raises(BenchmarkError, match="--bench"):
        load_run(run)
    assert load_run(run, moved).levels == [
        "medium"
    ]  # same manifest bytes -> same fingerprint
    with pytest.raises(ConfigError):
        score_run(load_run(run, moved), "kendall")
    with pytest.raises(BenchmarkError):
        load_run(tmp_path / "nope")


def test_stray_answers_are_warned_and_ignored(bench, tmp_path):
    run = make_run(
        tmp_path / "r",
        bench,
        "m",
        "list",
        {"medium": [ordered(Q1.id, [1, 0, 2]), ordered("medium-zzz", [0, 1, 2])]},
    )
    loaded = load_run(run)
    stray, incomplete = loaded.warnings
    assert "1 medium answers match no question" in stray
    assert "incomplete, 2 of its 3 medium questions have no answer" in incomplete
    tau = rows_by_metric(score_run(loaded))[("medium", "tau-b")]
    assert tau.n_missing == 2 and tau.score == pytest.approx(1 / 3)


def test_leaderboard_labels_two_runs_of_one_model(bench, tmp_path):
    from perrecbench.report.leaderboard import build_leaderboard
    from perrecbench.terminal.board_text import to_csv

    a = make_run(tmp_path / "run-a", bench, "m", "list", {"medium": [ordered(Q1.id, [1, 0, 2])]})
    b = make_run(tmp_path / "run-b", bench, "m", "list", {"medium": [ordered(Q1.id, [2, 0, 1])]})
    c = make_run(
        tmp_path / "run-c", bench, "other", "pair", {"medium": [ordered(Q1.id, [1, 0, 2])]}
    )
    rows = score_runs(load_runs([a, b, c]), n_resamples=0, extra=False)
    board = build_leaderboard(rows)
    labels = [r.label for r in board.rows]
    assert sorted(labels) == ["m (run-a)", "m (run-b)", "other"]
    assert board.rows[0].avg == pytest.approx(1 / 3)
    assert "m (run-b)" in to_csv(board)


LLM_DEFAULTS = {"backend": "openai", "samples": 1, "pair_strategy": "heap", "cot": False, "shots": 0,
                "profile": "none", "k": 4, "rel_rating": False, "prompt_set": "default", "describe_items": False}


@pytest.mark.parametrize(("changes", "label"), [
    ({}, "no profile"),
    ({"profile": "offline"}, "offline profile"),
    ({"profile": "gpt-4o-mini"}, "profile: gpt-4o-mini"),
    ({"cot": True, "shots": 2, "samples": 5}, "no profile, CoT, 2-shot, 5 samples"),
    ({"pair_strategy": "allpairs", "k": 8, "rel_rating": True, "prompt_set": "official"},
     "no profile, official prompts, allpairs, k=8, relative ratings"),
])
def test_an_llm_run_is_labelled_by_its_settings(changes, label):
    assert variant_from_config({**LLM_DEFAULTS, **changes}) == label


def test_runs_without_profiles_and_with_offline_profiles_are_labelled_apart(bench, tmp_path):
    from perrecbench.report.leaderboard import build_leaderboard
    from perrecbench.terminal.board_text import detail_csv, render_detail

    preds = {"medium": [ordered(Q1.id, [1, 0, 2])]}
    a = make_run(tmp_path / "a", bench, "m", "list", preds, LLM_DEFAULTS)
    b = make_run(tmp_path / "b", bench, "m", "list", preds, {**LLM_DEFAULTS, "profile": "offline"})
    c = make_run(tmp_path / "c", bench, "baseline/bias", "list", preds, {"name": "bias"})
    rows = score_runs(load_runs([a, b, c]), n_resamples=0, extra=False)
    labels = sorted(r.label for r in build_leaderboard(rows).rows)
    assert labels == ["baseline/bias", "m [no profile]", "m [offline profile]"]
    assert "m [offline profile]" in render_detail(rows, width=250)  # text, not rich markup
    from perrecbench.terminal.board_text import render_table

    assert "m [no profile]" in render_table(build_leaderboard(rows), width=250)
    head, first = detail_csv(rows).splitlines()[:2]
    assert head.startswith("model,variant,method") and first.startswith("m,no profile,list")


def test_calls_per_question_and_pair_inconsistency_rows(bench, tmp_path):
    def pair(qid, order, calls, rate):
        return Prediction(question_id=qid, order=order, n_calls=calls, pairs=PairStats(inconsistency_rate=rate))

    preds = [pair(Q1.id, [1, 0, 2], 6, 0.0), pair(Q2.id, [2, 1, 0], 8, 0.5),
             Prediction.failed(Q3.id, failures.NO_ANSWER, n_calls=10)]
    run = make_run(tmp_path / "p", bench, "m", "pair", {"medium": preds}, LLM_DEFAULTS)
    rows = rows_by_metric(score_run(load_run(run), n_resamples=200))
    calls = rows[("medium", CALLS_PER_QUESTION)]
    assert calls.score == pytest.approx(8.0) and calls.n_scored == 3  # failed answers cost calls too
    assert calls.ci_low <= 8.0 <= calls.ci_high
    inc = rows[("medium", INCONSISTENCY)]
    assert inc.score == pytest.approx(0.25) and inc.n_scored == 2  # the failed one has no rate
    assert rows[("medium", "tau-b")].n_scored == 3  # ranking rows unchanged
    listwise = make_run(tmp_path / "l", bench, "m", "list",
                        {"medium": [Prediction(question_id=Q1.id, order=[1, 0, 2], n_calls=1)]}, LLM_DEFAULTS)
    metrics = {r.metric for r in score_run(load_run(listwise), n_resamples=0)}
    assert CALLS_PER_QUESTION in metrics and INCONSISTENCY not in metrics
    baseline = make_run(tmp_path / "b", bench, "baseline/bias", "list", {"medium": [ordered(Q1.id, [1, 0, 2])]})
    metrics = {r.metric for r in score_run(load_run(baseline), n_resamples=0)}
    assert CALLS_PER_QUESTION not in metrics  # no calls, no cost rows
