"""The authors' layout both ways, and their prediction files scored by both metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_path
from helpers.scoring import write_release
from scipy.stats import kendalltau

from perrecbench import LEVELS
from perrecbench.bench import Benchmark
from perrecbench.errors import ConfigError, InputDataError
from perrecbench.interop import release
from perrecbench.records import ScoreRow
from perrecbench.run.rundir import RunDir
from perrecbench.score.runs import load_run
from perrecbench.score.scoring import score_run

OUTPUTS = ("reference", "official-samples", "outputs")
FILE_METHOD = {"point": "point", "pair": "pair", "group": "list"}


@pytest.fixture(scope="module")
def small_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    write_release(root, ["A1", "A2", "A3", "A4"], seed=3)
    return root


@pytest.fixture(scope="module")
def small_bench(small_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("benches") / "small"
    release.import_release(small_release / "data", out)
    return out


def test_import_questions_follow_first_group(small_release, small_bench):
    folder = small_release / "data" / "Books" / "Books-processed"
    bench = Benchmark(small_bench)
    for level in LEVELS:
        groups = json.loads((folder / f"item2group_avg_diff_sample-{level}.json").read_text())
        qs = {q.item_id: q for q in bench.questions("test", level)}
        assert sorted(qs) == sorted(groups)
        for asin, gs in groups.items():
            q = qs[asin]
            assert q.id == f"{level}-{asin}" and q.split == "test"
            assert [u.user_id for u in q.users] == [
                m["user_id"] for m in gs[0]
            ]  # first group, order kept
            assert [u.relative_rating for u in q.users] == [m["relative_rating"] for m in gs[0]]
            assert [u.avg_rating for u in q.users] == [m["avg_rating"] for m in gs[0]]
            assert [u.history_len for u in q.users] == [m["history_len"] for m in gs[0]]
        assert len(bench.questions("heldout", level)) == 3
    assert bench.manifest.source == "authors-release"
    assert bench.manifest.params["user_mean"] == "all"
    assert bench.manifest.params["timestamps"] == "synthesized"
    assert bench.manifest.counts.history_len_mismatches == 0


def test_import_writes_the_builders_parquet_columns(small_bench):
    """reviews.parquet and items.parquet of an import are written as a build writes them
    (`build.columns`): same columns, types, nullability and compression."""
    import pyarrow.parquet as pq

    from perrecbench.bench import ITEMS, REVIEWS
    from perrecbench.builder.columns import ITEMS_SCHEMA, REVIEWS_SCHEMA

    for name, schema in ((REVIEWS, REVIEWS_SCHEMA), (ITEMS, ITEMS_SCHEMA)):
        f = pq.ParquetFile(small_bench / name)
        assert f.schema_arrow.equals(schema) and f.metadata.num_rows > 0
        assert f.metadata.row_group(0).column(0).compression == "ZSTD"


def test_synthesized_timestamps_put_history_len_entries_before(small_release, small_bench):
    folder = small_release / "data" / "Books" / "Books-processed"
    history = json.loads((folder / "userid2history.json").read_text())
    bench = Benchmark(small_bench)
    ctx = bench.context
    for level in LEVELS:
        for q in bench.questions("test", level):
            assert q.query_time == min(u.timestamp for u in q.users)
            for u in q.users:
                past = ctx.history(u.user_id, before=u.timestamp)
                assert len(past) == u.history_len
                assert [r.item_id for r in past] == [
                    e["parent_asin"] for e in history[u.user_id][: u.history_len]
                ]
                ratings = [e["rating"] for e in history[u.user_id][: u.history_len]]
                # most frequent of the earlier ratings, ties to the first seen
                best = (
                    max(ratings, key=lambda r: (ratings.count(r), -ratings.index(r)))
                    if ratings
                    else None
                )
                expected = u.avg_rating if best is None else best
                assert u.most_common_rating == expected
                # the query review itself is context at the member's time
                assert any(
                    r.item_id == q.item_id and r.timestamp == u.timestamp
                    for r in ctx.item_ratings(q.item_id, u.timestamp + 1)
                )


def test_items_and_profiles(small_bench):
    bench = Benchmark(small_bench)
    item = bench.context.item("A1")
    assert item.title == "Query item A1" and item.author == "Q. Author" and item.category == "Books"
    profiles = json.loads((small_bench / "profiles" / "release.json").read_text())
    assert profiles and all(v.startswith("Profile of ") for v in profiles.values())


def test_accepts_processed_folder_and_root(small_release, tmp_path):
    folder = small_release / "data" / "Books" / "Books-processed"
    assert release.find_release_folders(folder) == {"Books": folder}
    assert release.find_release_folders(small_release) == {"Books": folder}
    assert release.find_release_folders(small_release / "data" / "Books") == {"Books": folder}
    with pytest.raises(InputDataError, match="Electronics"):
        release.find_release_folders(small_release, ["Electronics"])
    with pytest.raises(InputDataError, match="no <cat>-processed"):
        release.find_release_folders(tmp_path)


def test_bad_files_raise_input_data_error_with_path(tmp_path):
    folder = write_release(tmp_path / "r1", ["A1"], heldout=0)
    (folder / "userid2history.json").unlink()
    with pytest.raises(InputDataError, match="userid2history.json"):
        release.import_release(folder, tmp_path / "out")
    folder = write_release(tmp_path / "r2", ["A1"], heldout=0)
    (folder / "item2group_avg_diff_sample-easy.json").write_text('{"A1": [[{"user_id": 1,}]]}')
    with pytest.raises(InputDataError, match=r"item2group_avg_diff_sample-easy.json:1"):
        release.import_release(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_members_are_skipped_and_counted(tmp_path):
    folder = write_release(tmp_path / "r", ["A1", "A2"], heldout=0)
    path = folder / "item2group_avg_diff_sample-hard.json"
    groups = json.loads(path.read_text())
    del groups["A2"][0][1]["relative_rating"]
    path.write_text(json.dumps(groups))
    rep = release.import_release(folder, tmp_path / "out")
    assert rep.questions["test"] == {"easy": 2, "medium": 2, "hard": 1}
    assert rep.skipped["missing_field"] == 1
    assert rep.examples == [f"{path}:A2: group rejected: user {groups['A2'][0][1]['user_id']}: "
                            "missing 'relative_rating'"]
    assert rep.skipped["extra groups ignored (first group counts)"] == 6


def test_impossible_values_and_malformed_groups_are_rejected_as_the_builder_does(tmp_path):
    """Ratings 0, 6 and NaN, a user twice in a group, negative and far-future times and
    malformed groups: counted per reason in the builder's words, the first few per
    file as `file:key: reason`, printed by the command; never scored, never NaN."""
    from helpers.cli import invoke

    asins = ["A1", "A2", "A3", "A4", "A5", "A6"]
    folder = write_release(tmp_path / "r", asins, heldout=0, timestamps=True)
    path = folder / "item2group_avg_diff_sample-medium.json"
    groups = json.loads(path.read_text())
    groups["A1"][0][1]["rating"] = 0
    groups["A2"][0][0]["rating"] = 6
    groups["A3"][0][2]["relative_rating"] = float("nan")  # json.dumps writes NaN, json.load reads it
    groups["A4"][0][2] = dict(groups["A4"][0][0])
    groups["A5"][0][1]["timestamp"] = -5
    groups["bad1"], groups["bad2"] = "oops", [[{"user_id": "only"}], 3]
    path.write_text(json.dumps(groups))
    hpath = folder / "userid2history.json"
    history = json.loads(hpath.read_text())
    u0 = groups["A6"][0][0]["user_id"]
    history[u0][-1]["timestamp"] = -1
    history[u0][0]["rating"] = float("nan")
    history[groups["A6"][0][1]["user_id"]][-1]["timestamp"] = 1_231_006_505_000_000  # year ~41,000
    hpath.write_text(json.dumps(history))
    out = tmp_path / "out"
    result = invoke(["import-release", "--data", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    bench = Benchmark(out)
    assert [q.item_id for q in bench.questions("test", "medium")] == ["A6"]
    assert "NaN" not in (out / "test-medium.jsonl").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    skipped = manifest["counts"]["skipped"]
    assert {k: v for k, v in skipped.items() if not k.startswith("extra")} == {
        "bad_rating": 4, "duplicate_member": 1, "bad_timestamp": 2, "future_timestamp": 1,
        "malformed_row": 1, "missing_field": 1}
    uid = {a: [m["user_id"] for m in groups[a][0]] for a in asins}
    want = [f"{path}:A1: group rejected: user {uid['A1'][1]}: rating 0 outside 1..5",
            f"{path}:A2: group rejected: user {uid['A2'][0]}: rating 6 outside 1..5",
            f"{path}:A3: group rejected: user {uid['A3'][2]}: relative_rating nan is not a number",
            f"{path}:A4: group rejected: user {uid['A4'][0]} is in it twice",
            f"{path}:A5: group rejected: user {uid['A5'][1]}: timestamp -5 is not a valid time"]
    assert [e for e in manifest["bad_lines"] if e.startswith(str(path))] == want  # the first 5 of the file
    assert f"{hpath}:{u0} entry 0: rating nan is not a number" in manifest["bad_lines"]
    assert f"{hpath}:{u0} entry {len(history[u0]) - 1}: timestamp -1 is not a valid time" in manifest["bad_lines"]
    assert ("skipped: bad rating 4, bad timestamp 2, user twice in one group 1, timestamp after 2100 1, "
            "malformed row 1, missing field 1") in result.output
    assert f"  {want[0]}" in result.output


def test_refuses_to_overwrite_a_foreign_directory(small_release, tmp_path):
    (tmp_path / "notabench").mkdir()
    (tmp_path / "notabench" / "keep.txt").write_text("x")
    with pytest.raises(ConfigError):
        release.import_release(small_release, tmp_path / "notabench")


def test_export_then_import_round_trip(small_bench, tmp_path):
    folder = release.export_release(small_bench, tmp_path / "data")
    assert folder == tmp_path / "data" / "small" / "small-processed"
    groups = json.loads((folder / "item2group_avg_diff_sample-medium.json").read_text())
    assert all(len(gs) == 1 and len(gs[0]) == 3 for gs in groups.values())
    items = json.loads((folder / "parentasin2item.json").read_text())
    assert items["A1"]["author"] == {"name": "Q. Author"}
    history = json.loads((folder / "userid2history.json").read_text())
    some = next(iter(history.values()))
    assert {"parent_asin", "rating", "timestamp", "relative_rating"} <= set(some[0])
    assert sum(e["relative_rating"] for e in some) == pytest.approx(0.0)
    back = tmp_path / "back"
    rep = release.import_release(tmp_path / "data", back)
    assert rep.users_synthesized_time == 0 and rep.history_len_mismatches == 0
    a, b = Benchmark(small_bench), Benchmark(back)
    for split in ("test", "heldout"):
        for level in LEVELS:
            assert a.questions(split, level) == b.questions(split, level)
    assert json.loads((back / "profiles" / "release.json").read_text()) == json.loads(
        (small_bench / "profiles" / "release.json").read_text()
    )
    assert b.context.item("A2") == a.context.item("A2")


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_prediction_file_failures_missing_and_unknown(small_bench, tmp_path):
    bench = Benchmark(small_bench)
    qs = {q.item_id: q for q in bench.questions("test", "medium")}
    pred = _write(
        tmp_path / "m_medium_group_0.json",
        {
            "A1": [[[2, 1, 3]]],
            "A2": ["format_not_correct"],
            "A3": [[[1, 1, 2]]],
            "ZZZ": [[[1, 2, 3]]],
        },
    )
    rep = release.import_release_results(
        small_bench, pred, "group", "medium", "m", tmp_path / "run"
    )
    assert (rep.written, rep.failed, rep.unknown_items, rep.missing) == (3, 2, 1, 1)
    assert rep.failures == {"no_answer": 1, "not_a_permutation": 1}
    recs = {
        r.prediction.question_id: r.prediction for r in RunDir(tmp_path / "run").read_predictions()
    }
    assert recs["medium-A1"].order == [1, 0, 2]
    assert recs["medium-A2"].failure == "no_answer" and "format_not_correct" in recs["medium-A2"].failure_detail
    run = load_run(tmp_path / "run")
    assert run.method == "list" and run.manifest.bench_fingerprint
    tau = next(r for r in score_run(run, n_resamples=50) if r.metric == "tau-b")
    assert (tau.n_questions, tau.n_failed, tau.n_missing) == (4, 2, 1)
    true_scores = qs["A1"].true_scores()
    from perrecbench.score.metrics import tau_b_order

    assert tau.score == pytest.approx(tau_b_order([1, 0, 2], true_scores) / 4)

    point = _write(
        tmp_path / "p.json",
        {"A1": [[4, "format_not_correct", 3]], "A2": [[4, 5]], "A3": [[5, 4, 1]]},
    )
    rep = release.import_release_results(
        small_bench, point, "point", "medium", "m", tmp_path / "prun"
    )
    assert rep.failures == {"no_answer": 1, "invalid_answer": 1}
    recs = {
        r.prediction.question_id: r.prediction for r in RunDir(tmp_path / "prun").read_predictions()
    }
    q3 = qs["A3"]
    assert recs["medium-A3"].ratings == [5.0, 4.0, 1.0]
    assert recs["medium-A3"].scores == pytest.approx(
        [r - m.avg_rating for r, m in zip([5, 4, 1], q3.users, strict=True)]
    )


def test_levels_merge_into_one_run_and_reimport_replaces(small_bench, tmp_path):
    out = tmp_path / "run"
    easy = _write(tmp_path / "e.json", {"A1": [[[1, 2]]], "A2": [[[2, 1]]]})
    hard = _write(tmp_path / "h.json", {"A1": [[[1, 2, 3, 4]]]})
    release.import_release_results(small_bench, easy, "pair", "easy", "m", out)
    release.import_release_results(small_bench, hard, "pair", "hard", "m", out)
    release.import_release_results(small_bench, easy, "pair", "easy", "m", out)
    rd = RunDir(out)
    assert rd.read_manifest().levels == ["easy", "hard"]
    assert set(rd.read_manifest().imported_from) == {"easy", "hard"}
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 3
    with pytest.raises(Exception, match="different run"):
        release.import_release_results(small_bench, easy, "list", "easy", "m", out)
    with pytest.raises(ConfigError):
        release.import_release_results(small_bench, easy, "rank", "easy", "m", tmp_path / "x")
    with pytest.raises(InputDataError, match="no item matches"):
        release.import_release_results(
            small_bench,
            _write(tmp_path / "z.json", {"Q": [[1]]}),
            "pair",
            "easy",
            "m",
            tmp_path / "y",
        )


def test_released_outputs_score_with_both_metrics(tmp_path):
    """The real gpt-4o-mini outputs on a fabricated release of their 200 query items."""
    outputs = shared_path(*OUTPUTS)
    asins = list(json.loads((outputs / "gpt-4o-mini_easy_group_0.json").read_text()))
    assert len(asins) == 200
    write_release(tmp_path / "rel", asins, seed=1, heldout=0)
    bench_dir = tmp_path / "bench"
    release.import_release(tmp_path / "rel", bench_dir)
    bench = Benchmark(bench_dir)
    scores: dict[tuple[str, str, str], ScoreRow] = {}
    for level in LEVELS:
        for tag, method in FILE_METHOD.items():
            run_dir = tmp_path / f"run-{method}"
            rep = release.import_release_results(
                bench_dir,
                outputs / f"gpt-4o-mini_{level}_{tag}_0.json",
                tag,
                level,
                "gpt-4o-mini",
                run_dir,
            )
            assert (rep.written, rep.failed, rep.missing, rep.unknown_items) == (200, 0, 0, 0)
    for method in FILE_METHOD.values():
        run = load_run(tmp_path / f"run-{method}")
        assert run.levels == ["easy", "medium", "hard"]
        for metric in ("tau-b", "official-v1", "official-v2"):
            for r in score_run(run, metric, n_resamples=100, extra=False):
                assert (r.n_questions, r.n_failed, r.n_missing) == (200, 0, 0)
                scores[(r.level, method, metric)] = r
    for method in FILE_METHOD.values():
        assert scores[("easy", method, "tau-b")].score == pytest.approx(
            scores[("easy", method, "official-v1")].score
        )
    assert any(
        scores[("hard", m, "tau-b")].score
        != pytest.approx(scores[("hard", m, "official-v1")].score)
        for m in FILE_METHOD.values()
    )
    # official-v1 reproduces the released evaluator: scipy on the raw id lists
    for level, tag in (("hard", "group"), ("medium", "point")):
        raw = json.loads((outputs / f"gpt-4o-mini_{level}_{tag}_0.json").read_text())
        taus = []
        for q in bench.questions("test", level):
            true_ids = np.argsort(np.array(q.true_scores()))[::-1] + 1
            entry = raw[q.item_id][0]
            if tag == "point":
                pred_ids = (
                    np.argsort(np.array(entry) - np.array([u.avg_rating for u in q.users]))[::-1]
                    + 1
                )
            else:
                pred_ids = entry[0]
            taus.append(kendalltau(pred_ids, true_ids).statistic)
        assert scores[(level, FILE_METHOD[tag], "official-v1")].score == pytest.approx(
            float(np.mean(taus))
        )



def _ranks(ids):
    """Best-first 1-based ids -> each user's 0-based position, indexed by user."""
    return [list(ids).index(u) for u in range(1, len(ids) + 1)]


def test_released_outputs_official_v2_is_the_corrected_rule(tmp_path):
    """official-v2 on the stored gpt-4o-mini answers equals the authors' corrected rule,
    stated here independently: rank vectors indexed by user, then scipy's kendalltau."""
    outputs = shared_path(*OUTPUTS)
    asins = list(json.loads((outputs / "gpt-4o-mini_hard_group_0.json").read_text()))
    write_release(tmp_path / "rel", asins, seed=1, heldout=0)
    bench_dir = tmp_path / "bench"
    release.import_release(tmp_path / "rel", bench_dir)
    bench = Benchmark(bench_dir)
    for level, tag in (("hard", "group"), ("medium", "point"), ("hard", "pair")):
        run_dir = tmp_path / f"run-{level}-{tag}"
        release.import_release_results(bench_dir, outputs / f"gpt-4o-mini_{level}_{tag}_0.json", tag, level,
                                       "gpt-4o-mini", run_dir)
        (row,) = score_run(load_run(run_dir), "official-v2", n_resamples=10, extra=False)
        raw = json.loads((outputs / f"gpt-4o-mini_{level}_{tag}_0.json").read_text())
        taus = []
        for q in bench.questions("test", level):
            true_ids = list(np.argsort(np.array(q.true_scores()), kind="quicksort")[::-1] + 1)
            entry = raw[q.item_id][0]
            if tag == "point":
                rel = np.array(entry) - np.array([u.avg_rating for u in q.users])
                pred_ids = list(np.argsort(rel, kind="quicksort")[::-1] + 1)
            else:
                pred_ids = entry[0]
            taus.append(kendalltau(_ranks(pred_ids), _ranks(true_ids)).statistic)
        assert row.score == pytest.approx(float(np.mean(taus)))
        v1 = score_run(load_run(run_dir), "official-v1", n_resamples=10, extra=False)[0].score
        if level == "hard" and tag == "group":
            assert row.score != pytest.approx(v1)  # the correction changes the published kind of number


def test_numbers_as_text_are_read_as_the_builder_reads_them(tmp_path):
    folder = write_release(tmp_path / "r", ["A1", "A2"], heldout=0)
    path = folder / "item2group_avg_diff_sample-easy.json"
    groups = json.loads(path.read_text())
    first = groups["A1"][0][0]
    first["avg_rating"], first["history_len"] = str(first["avg_rating"]), float(first["history_len"])
    groups["A2"][0][0]["avg_rating"] = True  # a boolean is not a rating
    path.write_text(json.dumps(groups))
    rep = release.import_release(folder, tmp_path / "out")
    assert rep.questions["test"]["easy"] == 1
    assert rep.skipped["bad_rating"] == 1 and "avg_rating true is not a number" in rep.examples[0]
