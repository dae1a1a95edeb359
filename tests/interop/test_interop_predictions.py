"""`perrecbench import-predictions`: JSON Lines and TREC files from any system, end to end
on a tiny benchmark, scored against an independent Kendall tau-b; every malformed file
refused with its line and nothing written; missing questions reported and scored as such."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from helpers.tiny_bench import make_tiny_bench
from scipy.stats import kendalltau
from typer.testing import CliRunner

from perrecbench import LEVELS
from perrecbench.bench import Benchmark
from perrecbench.cli.main import app
from perrecbench.errors import InputDataError, PerRecBenchError
from perrecbench.interop.predictions import import_predictions
from perrecbench.run.rundir import RunDir
from perrecbench.tasks import rating_questions


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny", per_level=5, heldout=1)


def _questions(bench):
    b = Benchmark(bench)
    return {level: b.questions("test", level) for level in LEVELS}


def _orders(bench, seed=0):
    """A random best-first order of user ids for every test question."""
    rng = random.Random(seed)
    out = {}
    for qs in _questions(bench).values():
        for q in qs:
            ids = [m.user_id for m in q.users]
            rng.shuffle(ids)
            out[q.id] = ids
    return out


def _tau(order, q):
    """Independent tau-b: each member's place in the order vs their true relative rating."""
    place = {u: -k for k, u in enumerate(order)}
    return kendalltau([place[m.user_id] for m in q.users], [m.relative_rating for m in q.users]).statistic


def _expected(bench, orders):
    """Per level the mean tau over every test question, an absent one counting 0."""
    return {level: float(np.mean([_tau(orders[q.id], q) if q.id in orders else 0.0 for q in qs]))
            for level, qs in _questions(bench).items()}


def _write(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


class Result:
    """What `perrecbench` would print and exit with (cli.main prints a PerRecBenchError
    as `error: ...` with its exit code; anything else is a test failure)."""

    def __init__(self, args):
        res = CliRunner().invoke(app, [str(a) for a in args])
        exc = res.exception
        if exc is not None and not isinstance(exc, (SystemExit, PerRecBenchError)):
            raise exc
        self.stdout = res.stdout
        self.exit_code = exc.exit_code if isinstance(exc, PerRecBenchError) else res.exit_code
        self.output = res.output + (f"error: {exc}" if isinstance(exc, PerRecBenchError) else "")


def _import(bench, file, method, out, *extra):
    return Result(["import-predictions", "--bench", bench, "--method", method, "--model", "mysys",
                   "--file", file, "--out", out, *extra])


def _scores(out, metric="tau-b"):
    res = Result(["score", out, "--format", "json", "--metric", metric])
    assert res.exit_code == 0, res.output
    return {(r["level"], r["metric"]): r for r in json.loads(res.stdout)}


def test_jsonl_orders_scored_as_independent_tau_b_with_missing_questions(bench, tmp_path):
    orders = _orders(bench)
    dropped = ["test-hard-1", "test-easy-0"]
    kept = {qid: o for qid, o in orders.items() if qid not in dropped}
    file = _write(tmp_path / "p.jsonl", [json.dumps({"question_id": q, "order": o}) for q, o in kept.items()])
    res = _import(bench, file, "list", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert "wrote 13 test list answers" in res.output and "2 questions without an answer" in res.output
    rows = _scores(tmp_path / "run")
    for level, value in _expected(bench, kept).items():
        assert rows[(level, "tau-b")]["score"] == pytest.approx(value)
    assert rows[("hard", "tau-b")]["n_missing"] == 1 and rows[("medium", "tau-b")]["n_missing"] == 0
    manifest = RunDir(tmp_path / "run").read_manifest()
    assert (manifest.model, manifest.method, manifest.split, manifest.variant) == ("mysys", "list", "test", "")
    assert manifest.bench_fingerprint == Benchmark(bench).fingerprint
    assert manifest.recommender_config == {"source": "predictions-file", "format": "jsonl"}


def test_jsonl_scores_and_failures(bench, tmp_path):
    orders = _orders(bench, seed=1)
    lines = []
    for qid, order in orders.items():
        if qid == "test-medium-2":
            lines.append(json.dumps({"question_id": qid, "failure": "refusal", "failure_detail": "declined"}))
            continue
        lines.append(json.dumps({"question_id": qid, "scores": {u: 10.0 - k for k, u in enumerate(order)}}))
    res = _import(bench, _write(tmp_path / "p.jsonl", lines), "pair", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert "1 failed" in res.output and "failed 1: refusal" in res.output
    rows = _scores(tmp_path / "run")
    expected = _expected(bench, {q: o for q, o in orders.items() if q != "test-medium-2"})
    for level, value in expected.items():
        assert rows[(level, "tau-b")]["score"] == pytest.approx(value)
    assert rows[("medium", "tau-b")]["n_failed"] == 1


def test_trec_run_file_orders_by_score_then_rank(bench, tmp_path):
    orders = _orders(bench, seed=2)
    lines = []
    for qid, order in orders.items():
        for k, uid in enumerate(order):
            # pairs of equal scores: the rank column decides between them
            lines.append(f"{qid} Q0 {uid} {k + 1} {float(-(k // 2)):.1f} mysys")
    random.Random(3).shuffle(lines)  # trec_eval needs no order; neither do we
    res = _import(bench, _write(tmp_path / "run.trec", lines), "list", tmp_path / "run", "--format", "trec")
    assert res.exit_code == 0, res.output
    rows = _scores(tmp_path / "run")
    for level, value in _expected(bench, orders).items():
        assert rows[(level, "tau-b")]["score"] == pytest.approx(value)
        assert rows[(level, "tau-b")]["n_missing"] == 0


def test_jsonl_point_ratings(bench, tmp_path):
    rng = random.Random(4)
    lines, taus = [], {}
    for level, qs in _questions(bench).items():
        vals = []
        for q in qs:
            ratings = {m.user_id: rng.uniform(1, 5) for m in q.users}
            lines.append(json.dumps({"question_id": q.id, "ratings": ratings}))
            rel = [ratings[m.user_id] - m.avg_rating for m in q.users]
            vals.append(kendalltau(rel, [m.relative_rating for m in q.users]).statistic)
        taus[level] = float(np.mean(vals))
    res = _import(bench, _write(tmp_path / "p.jsonl", lines), "point", tmp_path / "run")
    assert res.exit_code == 0, res.output
    rows = _scores(tmp_path / "run")
    for level, value in taus.items():
        assert rows[(level, "tau-b")]["score"] == pytest.approx(value)
        assert rows[(level, "mae")]["n_scored"] == 5


def test_rating_task_pairs(bench, tmp_path):
    pool = rating_questions(Benchmark(bench), "test", seed=5)[:12]
    lines, errors = [], []
    for k, q in enumerate(pool[:10]):  # two pairs of the sample left out: missing
        member = q.users[0]
        lines.append(json.dumps({"question_id": q.id, "ratings": {member.user_id: 1.0 + k % 5}}))
        errors.append(abs(1.0 + k % 5 - member.rating))
    res = _import(bench, _write(tmp_path / "r.jsonl", lines), "rating", tmp_path / "run",
                  "--pairs", "12", "--pairs-seed", "5")
    assert res.exit_code == 0, res.output
    assert "2 questions without an answer" in res.output
    rows = _scores(tmp_path / "run")
    assert rows[("rating", "mae")]["score"] == pytest.approx(float(np.mean(errors)))
    assert rows[("rating", "mae")]["n_missing"] == 2
    # a pair outside the sample the options name is refused
    outside = rating_questions(Benchmark(bench), "test", seed=5)[20]
    extra = json.dumps({"question_id": outside.id, "ratings": {outside.users[0].user_id: 3}})
    res = _import(bench, _write(tmp_path / "r2.jsonl", [*lines, extra]), "rating", tmp_path / "run2",
                  "--pairs", "12", "--pairs-seed", "5")
    assert res.exit_code != 0 and "r2.jsonl:11: question not in the split" in res.output
    assert "rating pairs (seed 5)" in res.output and not (tmp_path / "run2").exists()


def _good_lines(bench):
    return [json.dumps({"question_id": q, "order": o}) for q, o in _orders(bench).items()]


Q = "test-medium-0"
BAD_JSONL = {
    "not json": ("{question_id: 1", "malformed line"),
    "no question id": (json.dumps({"order": ["u1"]}), "malformed line"),
    "unknown field": (json.dumps({"question_id": Q, "ranking": []}), "malformed line"),
    "two answers": (json.dumps({"question_id": Q, "order": [], "scores": {}}), "malformed line"),
    "failure and answer": (json.dumps({"question_id": Q, "order": [], "failure": "refusal"}), "malformed line"),
    "ratings for a ranking": (json.dumps({"question_id": Q, "ratings": {}}), "malformed line"),
    "order not strings": (json.dumps({"question_id": Q, "order": [1, 2, 3]}), "malformed line"),
    "duplicate key": ('{"question_id": "' + Q + '", "question_id": "x", "order": []}', "malformed line"),
    "unknown question": (json.dumps({"question_id": "nope", "order": []}), "question not in the split"),
    "heldout question": (json.dumps({"question_id": "heldout-easy-0", "order": []}), "question not in the split"),
    "given twice": (None, "question given twice"),
    "stranger": (None, "user not in the question's group"),
    "member left out": (None, "answer does not name every member once"),
    "member twice": (None, "answer does not name every member once"),
    "score not a number": (None, "malformed line"),
    "unknown failure": (json.dumps({"question_id": Q, "failure": "tired"}), "unknown failure category"),
}


def _bad_line(bench, case):
    line, reason = BAD_JSONL[case]
    order = _orders(bench)[Q]
    if case == "given twice":
        line = json.dumps({"question_id": Q, "order": order})
    elif case == "stranger":
        line = json.dumps({"question_id": Q, "order": [*order[:-1], "someone-else"]})
    elif case == "member left out":
        line = json.dumps({"question_id": Q, "order": order[:-1]})
    elif case == "member twice":
        line = json.dumps({"question_id": Q, "order": [order[0], *order[:-1]]})
    elif case == "score not a number":
        line = json.dumps({"question_id": Q, "scores": {u: "high" for u in order}})
    return line, reason


@pytest.mark.parametrize("case", sorted(BAD_JSONL))
def test_malformed_jsonl_refused_with_its_line_and_nothing_written(bench, tmp_path, case):
    line, reason = _bad_line(bench, case)
    good = [g for g in _good_lines(bench) if case == "given twice" or f'"{Q}"' not in g]
    at = len(good) if case == "given twice" else 4  # a repeat comes after the first answer
    lines = [*good[:at], line, *good[at:]]
    file = _write(tmp_path / "p.jsonl", lines)
    res = _import(bench, file, "list", tmp_path / "run")
    assert res.exit_code == 2, res.output
    assert f"{file}:{at + 1}: {reason}" in res.output
    assert "nothing written" in res.output
    assert not (tmp_path / "run").exists()


TREC_GOOD = "{q} Q0 {u} {r} {s} mysys"


def _trec_lines(bench):
    return [TREC_GOOD.format(q=qid, u=u, r=k + 1, s=-k) for qid, order in _orders(bench).items()
            for k, u in enumerate(order)]


@pytest.mark.parametrize("case,reason", [
    ("five columns", "malformed line"),
    ("rank not an integer", "malformed line"),
    ("score not a number", "malformed line"),
    ("unknown question", "question not in the split"),
    ("stranger", "user not in the question's group"),
    ("user twice", "answer does not name every member once"),
])
def test_malformed_trec_refused_with_its_line(bench, tmp_path, case, reason):
    lines = _trec_lines(bench)
    q, _, u, *_ = lines[2].split()
    bad = {
        "five columns": f"{q} Q0 {u} 1 0.5",
        "rank not an integer": f"{q} Q0 {u} first 0.5 mysys",
        "score not a number": f"{q} Q0 {u} 1 nan mysys",
        "unknown question": f"nope Q0 {u} 1 0.5 mysys",
        "stranger": f"{q} Q0 stranger 9 -9 mysys",
        "user twice": f"{q} Q0 {u} 9 -9 mysys",
    }[case]
    lines.insert(5, bad)
    file = _write(tmp_path / "run.trec", lines)
    res = _import(bench, file, "list", tmp_path / "run", "--format", "trec")
    assert res.exit_code == 2, res.output
    assert f"{file}:6: {reason}" in res.output
    assert not (tmp_path / "run").exists()


def test_trec_member_left_out_names_the_question_line(bench, tmp_path):
    lines = _trec_lines(bench)
    lines = [line for line in lines[1:]]  # the first question loses its best user
    file = _write(tmp_path / "run.trec", lines)
    res = _import(bench, file, "list", tmp_path / "run", "--format", "trec")
    assert res.exit_code == 2 and f"{file}:1: answer does not name every member once" in res.output


def test_every_bad_line_counted_per_reason_first_few_quoted(bench, tmp_path):
    lines = _good_lines(bench) + [json.dumps({"question_id": f"nope-{k}", "order": []}) for k in range(7)]
    lines += ["not json"]
    file = _write(tmp_path / "p.jsonl", lines)
    with pytest.raises(InputDataError) as err:
        import_predictions(bench, file, "list", "mysys", tmp_path / "run")
    text = str(err.value)
    assert "8 line(s) refused, nothing written (7 question not in the split, 1 malformed line)" in text
    assert text.count(f"\n  {file}:") == 5 and "... and 3 more" in text
    assert not (tmp_path / "run").exists()


def test_refused_file_leaves_an_earlier_import_as_it_was(bench, tmp_path):
    out = tmp_path / "run"
    assert _import(bench, _write(tmp_path / "a.jsonl", _good_lines(bench)), "list", out).exit_code == 0
    before = (out / "predictions.jsonl").read_bytes(), (out / "manifest.json").read_bytes()
    bad = _write(tmp_path / "b.jsonl", [*_good_lines(bench), "{"])
    assert _import(bench, bad, "list", out).exit_code == 2
    assert ((out / "predictions.jsonl").read_bytes(), (out / "manifest.json").read_bytes()) == before


def test_never_overwrites_a_run_that_was_not_imported(bench, tmp_path):
    out = tmp_path / "run"
    assert _import(bench, _write(tmp_path / "a.jsonl", _good_lines(bench)), "list", out).exit_code == 0
    manifest = RunDir(out).read_manifest()
    RunDir(out).write_manifest(manifest.model_copy(update={"imported_from": None,
                                                           "recommender_config": {"seed": 0}}))
    before = (out / "predictions.jsonl").read_bytes()
    res = _import(bench, tmp_path / "a.jsonl", "list", out)
    assert res.exit_code == 4 and "not imported this way" in res.output
    assert (out / "predictions.jsonl").read_bytes() == before


def test_bad_options_are_one_line_errors(bench, tmp_path):
    file = _write(tmp_path / "p.jsonl", _good_lines(bench))
    res = _import(bench, file, "point", tmp_path / "run", "--format", "trec")
    assert res.exit_code == 3 and "use --format jsonl" in res.output
    assert _import(bench, file, "rank", tmp_path / "run").exit_code == 3
    assert _import(bench, file, "list", tmp_path / "run", "--format", "csv").exit_code == 3
    assert _import(bench, file, "list", tmp_path / "run", "--split", "tset").exit_code == 3
    assert "no train questions" in _import(bench, file, "list", tmp_path / "run", "--split", "train").output
    empty = _write(tmp_path / "e.jsonl", [])
    res = _import(bench, empty, "list", tmp_path / "run")
    assert res.exit_code == 2 and "no answer in the file" in res.output
    assert not (tmp_path / "run").exists()


def test_the_command_prints_the_refusal_without_a_traceback(bench, tmp_path):
    import subprocess
    import sys

    file = _write(tmp_path / "p.jsonl", [*_good_lines(bench)[:3], "oops"])
    proc = subprocess.run([sys.executable, "-m", "perrecbench", "import-predictions", "--bench", str(bench),
                           "--method", "list", "--model", "m", "--file", str(file), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {file}: 1 line(s) refused, nothing written (1 malformed line)")
    assert f"{file}:4: malformed line" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()
