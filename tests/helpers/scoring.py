"""Hand-made benchmark and run directories for the scoring, release and CLI tests."""

from __future__ import annotations

from pathlib import Path

from perrecbench import failures
from perrecbench.bench import bench_fingerprint, questions_file, write_manifest, write_questions
from perrecbench.records import BenchManifest, Prediction, PredictionLine, RunManifest
from perrecbench.run.rundir import RunDir
from perrecbench.types import Member, Question


def member(uid: str, rel: float, avg: float = 3.0, ts: int = 1_000, history_len: int = 0) -> Member:
    return Member(uid, avg + rel, rel, avg, round(avg), history_len, ts)


def question(level: str, item: str, rels: list[float], avgs: list[float] | None = None) -> Question:
    avgs = avgs or [3.0] * len(rels)
    users = tuple(
        member(f"{item}-u{i}", r, a, ts=1_000 + i)
        for i, (r, a) in enumerate(zip(rels, avgs, strict=True))
    )
    return Question(f"{level}-{item}", level, "test", item, 1_000, users)


def make_bench(path: Path, questions: dict[str, list[Question]], name: str = "handmade") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for level, qs in questions.items():
        write_questions(questions_file(path, "test", level), qs)
    write_manifest(path, BenchManifest(name=name, kind="perrecbench"))
    return path


def make_run(
    path: Path, bench: Path, model: str, method: str, preds: dict[str, list[Prediction]],
    model_config: dict | None = None, variant: str | None = None,
) -> Path:
    """`preds`: level -> predictions (question ids must match the bench). Without a
    `variant`, the run reads as one recorded before runs carried their label."""
    rd = RunDir(path)
    rd.write_manifest(RunManifest(
        model=model, method=method, split="test", bench=str(bench.resolve()),
        bench_fingerprint=bench_fingerprint(bench), levels=sorted(preds), model_config=model_config or {},
        variant=variant,
    ))
    with rd.appender() as fh:
        for level, ps in preds.items():
            for p in ps:
                fh.write(PredictionLine(level=level, split="test", prediction=p).to_json() + "\n")
    return path


def ordered(qid: str, order: list[int]) -> Prediction:
    return Prediction(question_id=qid, order=order)


def failed(qid: str) -> Prediction:
    return Prediction.failed(qid, failures.NO_ANSWER, "no answer in the reply")


def pointwise(q: Question, ratings: list[float]) -> Prediction:
    scores = [r - m.avg_rating for r, m in zip(ratings, q.users, strict=True)]
    order = sorted(range(q.n), key=lambda i: -scores[i])
    return Prediction(question_id=q.id, order=order, scores=scores, ratings=list(ratings))


def write_release(
    root: Path,
    asins: list[str],
    cat: str = "Books",
    seed: int = 0,
    timestamps: bool = False,
    heldout: int = 3,
) -> Path:
    """Fabricate the authors' layout (SPEC 2.2) under root/data/<cat>/<cat>-processed/.

    Every level gets one group per asin (easy 2, medium 3, hard 4 users) with distinct
    relative ratings and averages whose differences are never whole numbers, so
    pointwise answers never tie. Each member's history holds `history_len` earlier
    entries, then the query review, then one later entry.
    """
    import json

    import numpy as np

    from perrecbench import GROUP_SIZE, LEVELS

    rng = np.random.default_rng(seed)
    folder = root / "data" / cat / f"{cat}-processed"
    folder.mkdir(parents=True)
    items: dict[str, dict] = {}
    history: dict[str, list[dict]] = {}
    profiles: dict[str, str] = {}
    clock = 1_600_000_000_000

    def make_group(level: str, asin: str, tag: str) -> list[dict]:
        nonlocal clock
        n = GROUP_SIZE[level]
        rels = rng.choice(np.arange(-2.0, 2.01, 0.25), size=n, replace=False)
        group = []
        for k in range(n):
            uid = f"{cat}-{tag}-{level}-{asin}-{k}"
            avg = 2.0 + 0.37 * k + float(rng.integers(0, 100)) / 1000
            h = int(rng.integers(0, 5))
            entries = []
            for j in range(h + 2):
                clock += 60_000
                if j == h:
                    e = {"parent_asin": asin, "rating": float(np.clip(round(avg + rels[k]), 1, 5))}
                else:
                    hid = f"H{int(rng.integers(0, 50))}"
                    items.setdefault(
                        hid, {"title": f"History book {hid}", "author": {"name": "Ann Writer"}}
                    )
                    e = {"parent_asin": hid, "rating": float(rng.integers(1, 6))}
                if timestamps:
                    e["timestamp"] = clock
                entries.append(e)
            history[uid] = entries
            if k == 0:
                profiles[uid] = f"Profile of {uid}"
            group.append(
                {
                    "user_id": uid,
                    "history_len": h,
                    "relative_rating": float(rels[k]),
                    "avg_rating": avg,
                }
            )
        return group

    for asin in asins:
        items[asin] = {
            "title": f"Query item {asin}",
            "author": {"name": "Q. Author"},
            "main_category": cat,
        }
    for level in LEVELS:
        groups = {
            asin: [make_group(level, asin, "t"), make_group(level, asin, "x")] for asin in asins
        }
        (folder / f"item2group_avg_diff_sample-{level}.json").write_text(json.dumps(groups))
        held = {f"HO{i}": [make_group(level, f"HO{i}", "h")] for i in range(heldout)}
        for asin in held:
            items.setdefault(asin, {"title": f"Held-out item {asin}"})
        (folder / f"held_out-{level}.json").write_text(json.dumps(held))
    (folder / "parentasin2item.json").write_text(json.dumps(items))
    (folder / "userid2history.json").write_text(json.dumps(history))
    (folder / "userid2profile.json").write_text(json.dumps(profiles))
    return folder
