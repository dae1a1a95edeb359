"""Failures and cost: the call-log totals, the failure categories, and the costs section
of a report on LLM runs answered by a real loopback server (some answers unparseable)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from headless_chromium import Chromium
from helpers.cli import run_args
from helpers.scoring import failed, make_bench, make_run, ordered, question
from helpers.tiny_bench import make_tiny_bench
from report_helpers import DOM_EXPRESSIONS, check_cells, ok, score_json
from servers.fake_openai import FakeOpenAI

from perrecbench import failures
from perrecbench.records import Prediction
from perrecbench.report.collect import collect_sections, load_inputs
from perrecbench.report.sections import costs, leaderboard
from perrecbench.report.writer import write_report
from perrecbench.score.call_costs import read_call_costs, summarize_calls
from perrecbench.score.failure_counts import INVALID, failure_counts
from perrecbench.score.runs import load_run
from perrecbench.score.scoring import score_run

COSTS = "JSON.stringify([...document.querySelectorAll('[data-costs]')].map(e => e.dataset))"
FAILURES = ("JSON.stringify([...document.querySelectorAll('[data-failures]')]"
            ".map(e => ({...e.dataset, shown: e.textContent})))")
LINES = [
    {"status": "ok", "usage": {"prompt_tokens": 100, "completion_tokens": 20}, "cost_usd": 0.0015},
    {"status": "ok", "usage": {"prompt_tokens": 50, "completion_tokens": 5}, "cost_usd": 0.0005},
    {"status": "ok", "usage": {"prompt_tokens": 7, "completion_tokens": 3}},  # no known price
    {"status": "ok", "usage": {"prompt_tokens": None, "completion_tokens": None}, "cost_usd": 0.0},
    {"status": "cached", "usage": {"prompt_tokens": 100, "completion_tokens": 20}},
    {"status": "error", "category": "rate_limit", "http_status": 429, "retry_in_s": 0.5},
    {"status": "error", "category": "rate_limit", "http_status": 429},
    {"status": "error", "category": "timeout"},
    {"status": "skipped", "category": "auth"},
    {"status": "parse_failure", "category": "no_answer"},
]


def test_call_totals_count_every_kind_of_line():
    text = [json.dumps({"ts": 1.0, **x}) for x in LINES] + ["", "[1, 2]", '{"status": "ok", "usa']  # blank, not an object, torn
    k = summarize_calls(text)
    assert (k.lines, k.bad_lines) == (12, 2)
    assert (k.answered, k.cached, k.skipped, k.sent) == (4, 1, 1, 7)
    assert k.errors == {"rate_limit": 2, "timeout": 1} and k.parse_failures == {"no_answer": 1}
    assert (k.prompt_tokens, k.completion_tokens, k.no_usage) == (157, 28, 1)  # cached tokens not paid again
    assert k.cost_usd == pytest.approx(0.002) and k.unpriced == 1 and not k.cost_known


def test_a_run_without_a_call_log_has_no_costs(tmp_path):
    assert read_call_costs(tmp_path) is None


def test_failure_categories_add_up_to_the_scored_failures(tmp_path):
    qs = {"easy": [question("easy", f"e{i}", [1.0, -1.0]) for i in range(4)],
          "medium": [question("medium", f"m{i}", [1.0, 0.0, -1.0]) for i in range(3)]}
    bench = make_bench(tmp_path / "b", qs)
    preds = {
        "easy": [ordered("easy-e0", [0, 1]), failed("easy-e1"),
                 Prediction(question_id="easy-e2", status="failed", failure=failures.REFUSAL.name)],  # e3 missing
        "medium": [ordered("medium-m0", [0, 1, 1]),  # ok, but not a permutation: scored as failed
                   Prediction(question_id="medium-m1", status="failed"), ordered("medium-m2", [2, 1, 0])],
    }
    run = load_run(make_run(tmp_path / "r", bench, "m", "list", preds))
    counts = {c.level: c for c in failure_counts(run)}
    assert counts["easy"].categories == {"no_answer": 1, "refusal": 1} and counts["easy"].n_missing == 1
    assert counts["medium"].categories == {INVALID: 1, "unknown": 1} and counts["medium"].n_missing == 0
    rows = {r.level: r for r in score_run(run, n_resamples=10) if r.metric == "tau-b"}
    for level, c in counts.items():
        assert (c.n_failed, c.n_missing, c.n_questions) == (rows[level].n_failed, rows[level].n_missing,
                                                            rows[level].n_questions)


@pytest.fixture(scope="module")
def llm_runs(tmp_path_factory):
    """A pairwise and a listwise run of openai/fake; listwise answers about 3+ users are
    never parseable, so medium and hard fail after their retries."""
    root = tmp_path_factory.mktemp("llm")
    bench = make_tiny_bench(root / "bench", per_level=3)
    faults = [{"kind": "malformed", "first_k": 99, "match": "User3"}]
    with FakeOpenAI(faults=faults) as srv:
        for method in ("pair", "list"):
            res = ok(run_args(bench, root / "runs" / method, method, srv.url, "--max-concurrency", "2"))
            assert "failed" in res
    return [root / "runs" / m for m in ("pair", "list")]


def test_costs_section_in_chromium_equals_the_call_logs(llm_runs, tmp_path):
    inputs = load_inputs(llm_runs, resamples=200)
    sections = collect_sections(inputs, builders=(leaderboard.build, costs.build))
    files = write_report(tmp_path / "rep", inputs, sections)
    assert {p.name for p in files.figures} >= {"failures.svg", "calls-per-question.pdf"}
    rows = score_json(llm_runs, "--resamples", "200")
    with Chromium() as browser:
        visit = browser.open_page(files.index, (*DOM_EXPRESSIONS, COSTS, FAILURES))
    assert visit.errors == [] and len(visit.requests) == 1
    check_cells(json.loads(visit.values[DOM_EXPRESSIONS[0]]), rows, "tau-b")
    shown_costs = {c["costs"]: c for c in json.loads(visit.values[COSTS])}
    assert set(shown_costs) == set(map(str, llm_runs))
    for run in llm_runs:  # the totals, recomputed here from the raw call log
        lines = [json.loads(x) for x in (Path(run) / "calls.jsonl").read_text().splitlines()]
        c = shown_costs[str(run)]
        ok_lines = [x for x in lines if x["status"] == "ok"]
        assert int(c["sent"]) == len(ok_lines) + sum(x["status"] == "error" for x in lines) > 0
        assert int(c["promptTokens"]) == sum(x["usage"]["prompt_tokens"] for x in ok_lines) > 0
        assert int(c["completionTokens"]) == sum(x["usage"]["completion_tokens"] for x in ok_lines)
        assert float(c["costUsd"]) == sum(x["cost_usd"] for x in ok_lines) == 0.0  # a local server is free
    shown_failures = {f["failures"]: f for f in json.loads(visit.values[FAILURES])}
    for run in llm_runs:
        mine = [r for r in rows if r["run"] == str(run) and r["metric"] == "tau-b"]
        f = shown_failures[str(run)]
        assert int(f["failed"]) == int(f["shown"]) == sum(r["n_failed"] for r in mine)
    assert int(shown_failures[str(llm_runs[1])]["failed"]) > 0  # the listwise run did fail
    doc = json.loads(files.data.read_text())
    listwise = next(r for r in doc["sections"]["costs"]["runs"] if r["method"] == "list")
    cats = {k for level in listwise["failures"] for k in level["categories"]}
    assert cats and all(isinstance(k, str) for k in cats)
