"""A user's recommender through every door: a class in a file or a module on the command
line, the Python API (`perrecbench.evaluate`), an installed plugin with a real entry
point, and the examples/ that show each of them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench

import perrecbench
from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.models.plugins import is_object_spec
from perrecbench.models.registry import resolve
from perrecbench.records import RunManifest
from perrecbench.run.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
MYREC = f"{EXAMPLES / 'myrec.py'}:RecentTaste"

# a class without a `name`: its label is the spec
PLAIN = '''
from perrecbench import ScoreRecommender


class Plain(ScoreRecommender):
    DEFAULTS = {"shift": 0.0}

    def score_users(self, question):
        return [-m.avg_rating + self.options["shift"] for m in question.users]
'''


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


def _run(bench, model, out, method="list", *extra):
    return invoke(["run", "--bench", str(bench), "--model", model, "--method", method, "--out", str(out),
                   "--no-progress", *extra])


def _score_json(*dirs):
    res = invoke(["score", *map(str, dirs), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _n_predictions(out):
    return len(RunDir(out).read_predictions())


def test_object_specs_are_told_from_model_names():
    for spec in ("./myrec.py:MyRec", "myrec.py:MyRec", "/abs/dir/m.py:A.B", "mypkg.myrec:MyRec", "m:C"):
        assert is_object_spec(spec), spec
    for spec in ("openai/llama3.1:8b", "baseline/random", "hf/org/model", "llama3.1:8b", "a/b.c:D", "x.py:",
                 "example-plugin"):
        assert not is_object_spec(spec), spec


def test_a_class_in_a_file_end_to_end_from_the_command_line(bench, tmp_path):
    out = tmp_path / "recent"
    res = _run(bench, MYREC, out, "list,pair", "--option", "k=3", "--limit", "2")
    assert res.exit_code == 0, res.output
    for method in ("list", "pair"):
        manifest = RunDir(out / method).read_manifest()
        assert manifest.model == "recent-taste"  # the class's own name
        assert manifest.variant == "k=3" and manifest.recommender_config == {"k": 3, "batch_size": 16}
        assert manifest.model_spec == MYREC and manifest.model_source and len(manifest.model_source) == 64
        assert _n_predictions(out / method) == 6  # --limit 2 x 3 levels
    rerun = _run(bench, MYREC, out, "list,pair", "--option", "k=3")  # resumed: only the rest is asked
    assert rerun.exit_code == 0 and "12 already done" in rerun.output.replace("\n", " ")
    rows = _score_json(out / "list", out / "pair")
    assert {(r["model"], r["method"]) for r in rows} == {("recent-taste", "list"), ("recent-taste", "pair")}
    assert all(r["n_questions"] == 4 and r["n_missing"] == 0 for r in rows)
    board = invoke(["leaderboard", str(out / "list"), str(out / "pair"), "--format", "csv"])
    assert board.exit_code == 0 and "recent-taste" in board.stdout


def test_a_class_in_a_module_is_labelled_by_its_spec(bench, tmp_path, monkeypatch):
    pkg = tmp_path / "src" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plain.py").write_text(PLAIN)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    out = tmp_path / "plain"
    res = _run(bench, "mypkg.plain:Plain", out, "point", "--option", "shift=0.5")
    assert res.exit_code == 0, res.output
    manifest = RunDir(out).read_manifest()
    assert manifest.model == "mypkg.plain:Plain"  # no `name` of its own: the spec, never "model"
    assert manifest.model_spec == "mypkg.plain:Plain" and manifest.variant == "shift=0.5"
    assert _n_predictions(out) == 12
    rows = _score_json(out)
    assert {r["model"] for r in rows} == {"mypkg.plain:Plain"} and len([r for r in rows if r["metric"] == "tau-b"]) == 3


def test_options_are_checked_against_what_the_class_declares(bench, tmp_path):
    with pytest.raises(ConfigError, match=r"recent-taste: unknown option\(s\) depth \(valid: batch_size, k\)"):
        _run(bench, MYREC, tmp_path / "a", "list", "--option", "depth=2")
    with pytest.raises(ConfigError, match="option k='many' is not a int"):
        _run(bench, MYREC, tmp_path / "b", "list", "--option", "k=many")
    with pytest.raises(ConfigError, match=r"--temperature: LLM option\(s\), not for .*not an LLM"):
        _run(bench, MYREC, tmp_path / "c", "list", "--temperature", "0.2")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_specs_that_name_nothing_usable_are_one_clear_error(tmp_path):
    (tmp_path / "notrec.py").write_text("class NotRec:\n    pass\n")
    (tmp_path / "broken.py").write_text("raise RuntimeError('no GPU here')\n")
    (tmp_path / "abstract.py").write_text("from perrecbench import ScoreRecommender\n"
                                          "class Half(ScoreRecommender):\n    pass\n")
    cases = {
        f"{tmp_path / 'missing.py'}:X": "no such file",
        f"{tmp_path / 'notrec.py'}:Nope": "has no 'Nope'",
        f"{tmp_path / 'notrec.py'}:NotRec": "not a subclass of perrecbench.Recommender",
        f"{tmp_path / 'broken.py'}:X": "importing it failed: RuntimeError: no GPU here",
        f"{tmp_path / 'abstract.py'}:Half": "does not implement score_users",
        "no_such_module_xyz.sub:X": "no module named 'no_such_module_xyz'",
        "nothing-installed-by-this-name": "unknown model",
        "./myrec.py": "name the class in the file too",
    }
    for spec, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            resolve(spec)


def test_what_the_runner_needs_comes_from_the_class_not_the_name(tmp_path):
    (tmp_path / "caller.py").write_text(textwrap.dedent('''
        from perrecbench import Prediction, Recommender

        class Caller(Recommender):
            """A pipeline that sends requests somewhere: shared by the methods of a run."""
            makes_calls = True
            DEFAULTS = {"max_concurrency": 1}

            async def predict(self, question, method):
                return Prediction(question_id=question.id, order=list(range(question.n)))
    '''))
    from perrecbench.run.plan import RunRequest

    spec = f"{tmp_path / 'caller.py'}:Caller"
    req = RunRequest(bench=tmp_path, model=spec, methods=["list", "pair"], out=tmp_path / "o", max_concurrency=3)
    assert not req.entry.llm and req.entry.makes_calls
    assert req.model_options() == {"max_concurrency": 3}  # it declares the option, so it gets it
    assert req.questions_at_once() == 6
    model, jobs = req.create_jobs()
    assert jobs[0].model is jobs[1].model is model and model.name == spec
    plain = RunRequest(bench=tmp_path, model=MYREC, methods=["list", "pair"], out=tmp_path / "p")
    _, jobs = plain.create_jobs()
    assert jobs[0].model is not jobs[1].model and plain.questions_at_once() == plain.max_concurrency
    assert plain.model_options() == {}


def test_a_changed_class_source_refuses_to_resume(bench, tmp_path):
    src = tmp_path / "mine.py"
    src.write_text(PLAIN)
    spec = f"{src}:Plain"
    out = tmp_path / "run"
    assert _run(bench, spec, out, "list", "--limit", "1").exit_code == 0
    assert _run(bench, spec, out, "list", "--limit", "2").exit_code == 0  # same source: resumed
    assert _n_predictions(out) == 6
    src.write_text(PLAIN.replace("+ self.options", "* 2 + self.options"))
    with pytest.raises(BenchmarkError, match=f"made with another version of {spec}"):
        _run(bench, spec, out, "list")
    assert _n_predictions(out) == 6


def test_a_sweep_varies_a_user_class_option(bench, tmp_path):
    out = tmp_path / "sweep"
    res = invoke(["sweep", "--bench", str(bench), "--model", MYREC, "--method", "list", "--vary", "k=1,2",
                  "--out", str(out), "--no-progress", "--resamples", "20"])
    assert res.exit_code == 0, res.output
    manifests = {c: RunDir(out / c / "list").read_manifest() for c in ("base", "k=1", "k=2")}
    assert {c: m.recommender_config["k"] for c, m in manifests.items()} == {"base": 5, "k=1": 1, "k=2": 2}
    with pytest.raises(ConfigError, match="has the options k, batch_size"):
        invoke(["sweep", "--bench", str(bench), "--model", MYREC, "--method", "list", "--vary", "depth=1,2",
                "--out", str(tmp_path / "s2"), "--no-progress"])


def test_evaluate_returns_the_rows_score_prints(bench, tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    try:
        from myrec import RecentTaste
    finally:
        sys.path.remove(str(EXAMPLES))
    b = perrecbench.open_benchmark(bench)
    assert len(b.questions(split="test", level="hard")) == 4
    member = b.questions(split="test", level="easy")[0].users[0]
    history = b.context.history(member.user_id, before=member.timestamp)
    assert history and all(r.timestamp < member.timestamp for r in history)
    out = tmp_path / "api"
    rows = perrecbench.evaluate(RecentTaste({"k": 2}), b, methods=["list", "point"], out=out, limit=3)
    assert json.dumps(rows, sort_keys=True) == json.dumps(_score_json(out / "list", out / "point"), sort_keys=True)
    assert {r["model"] for r in rows} == {"recent-taste"} and all(r["n_questions"] == 3 for r in rows)
    assert perrecbench.score_runs([out / "list", out / "point"]) == rows
    # a second call resumes: nothing is asked again, the rows are the same
    assert perrecbench.evaluate(RecentTaste({"k": 2}), str(bench), methods="list,point", out=out, limit=3) == rows
    with pytest.raises(ConfigError, match="unknown option"):
        RecentTaste({"depth": 1})
    with pytest.raises(ConfigError, match=r"takes a recommender object: RecentTaste\(\)"):
        perrecbench.evaluate(RecentTaste, b, methods=["list"], out=tmp_path / "cls")
    by_spec = perrecbench.evaluate(MYREC, b, methods=["list"], out=tmp_path / "spec", limit=3, options={"k": 2})
    def strip(rs):
        return [{k: v for k, v in r.items() if k != "run"} for r in rs]

    assert strip(by_spec) == strip([r for r in rows if r["method"] == "list"])  # the same model, named


def test_evaluate_labels_an_unnamed_object_and_runs_inside_an_event_loop(bench, tmp_path):
    ns: dict = {}
    exec(PLAIN, ns)  # a class defined in a notebook
    model = ns["Plain"]()

    async def notebook_cell():
        return perrecbench.evaluate(model, bench, methods=["list"], out=tmp_path / "nb", limit=1)

    rows = asyncio.run(notebook_cell())
    assert len([r for r in rows if r["metric"] == "tau-b"]) == 3 and rows[0]["model"] == model.name == "Plain"
    assert RunDir(tmp_path / "nb").read_manifest().model == model.name


def test_a_batched_method_is_called_with_batches(bench, tmp_path):
    calls: list[int] = []

    class Batched(perrecbench.ScoreRecommender):
        name = "batched"
        DEFAULTS = {"batch_size": 5}

        def score_users(self, question):
            calls.append(0)  # one question through `predict`
            return [float(m.avg_rating) for m in question.users]

        def score_batch(self, questions):
            calls.append(len(questions))
            return [[float(m.avg_rating) for m in q.users] for q in questions]

    rows = perrecbench.evaluate(Batched(), bench, methods=["list", "pair"], out=tmp_path / "b")
    assert sorted(calls) == [2, 2, 5, 5, 5, 5] and sum(calls) == 24  # 12 questions x 2 methods, <= 5 at once
    assert all(r["n_failed"] == 0 and r["n_scored"] == 4 for r in rows if r["metric"] == "tau-b"), rows
    calls.clear()
    perrecbench.evaluate(Batched({"batch_size": 1}), bench, methods=["list"], out=tmp_path / "one")
    assert calls == [0] * 12  # a batch of one: `predict` per question

    class Wrong(Batched):
        async def predict_batch(self, questions, method):
            return []

    perrecbench.evaluate(Wrong(), bench, methods=["list"], out=tmp_path / "w")
    preds = RunDir(tmp_path / "w").read_predictions()
    assert len(preds) == 12 and all(p.prediction.failure == "internal" for p in preds)
    assert "returned 0 answers for 5 questions" in preds[0].prediction.failure_detail


def _dist_info(root: Path, name: str, entry_points: dict[str, str]) -> None:
    """A distribution's metadata on sys.path: what `pip install` leaves, enough for
    importlib.metadata to find its entry points."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[perrecbench.models]\n{lines}")


def test_a_built_in_name_shadows_a_plugin_with_a_warning(bench, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist_info(site, "shadowing", {"openai": "shadow_mod:X", "baseline/random": "shadow_mod:Y"})
    monkeypatch.syspath_prepend(str(site))
    entry = resolve("baseline/random")
    assert entry.cls is not None and entry.cls.__module__.startswith("perrecbench.")  # the built-in wins
    assert len(entry.warnings) == 1 and "'baseline/random' (shadow_mod:Y, from shadowing 0.1) is shadowed" \
        in entry.warnings[0]
    assert "plugin 'openai'" in resolve("openai/gpt-x").warnings[0]
    res = _run(bench, "baseline/random", tmp_path / "r", "list", "--limit", "1")
    assert res.exit_code == 0 and "warning: the plugin 'baseline/random'" in res.output.replace("\n", " ")
    listing = invoke(["models"])
    assert "shadowed by the built-in" in listing.output


def test_predictions_script_writes_the_import_format_without_perrecbench(bench, tmp_path):
    """export-questions' documented line format in, import-predictions' format out (the
    script's own check; the round trip through both commands is in their tests)."""
    b = perrecbench.open_benchmark(bench)
    lines = []
    for q in b.questions(split="test", level="medium"):
        members = [{"user_id": m.user_id, "timestamp": m.timestamp, "avg_rating": m.avg_rating,
                    "most_common_rating": m.most_common_rating,
                    "history": [{"item_id": r.item_id, "title": "t", "rating": r.rating, "timestamp": r.timestamp}
                                for r in b.context.history(m.user_id, before=m.timestamp)]} for m in q.users]
        lines.append(json.dumps({"question_id": q.id, "level": q.level, "item": {"item_id": q.item_id},
                                 "members": members}))
    (tmp_path / "q.jsonl").write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = EXAMPLES / "predictions_from_questions.py"
    proc = subprocess.run([sys.executable, "-I", str(script), str(tmp_path / "q.jsonl"), str(tmp_path / "p.jsonl"),
                           "--k", "2"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [o["question_id"] for o in out] == [q.id for q in b.questions(split="test", level="medium")]
    sys.path.insert(0, str(EXAMPLES))
    try:
        from myrec import RecentTaste
    finally:
        sys.path.remove(str(EXAMPLES))
    model = RecentTaste({"k": 2})
    model.prepare(b, "test")
    for o, q in zip(out, b.questions(split="test", level="medium"), strict=True):
        scores = dict(zip([m.user_id for m in q.users], model.score_users(q), strict=True))
        assert o["order"] == sorted(scores, key=lambda u: -scores[u])  # the same rule as the class
    ratings = subprocess.run([sys.executable, "-I", str(script), str(tmp_path / "q.jsonl"), str(tmp_path / "r.jsonl"),
                              "--ratings"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ratings.returncode == 0
    first = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert set(first) == {"question_id", "ratings"} and len(first["ratings"]) == 3


def test_the_example_script_evaluates_from_python(bench, tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "evaluate_myrec.py"), str(bench), str(tmp_path / "py"),
                           "1"], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "py" / "rows.json").read_text())
    assert {(r["model"], r["method"]) for r in rows} == {("recent-taste", "list"), ("recent-taste", "pair")}
    assert "recent-taste   list  easy" in proc.stdout


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory):
    """A virtual environment with examples/plugin installed by pip (nothing downloaded):
    made with --system-site-packages, it also sees this interpreter's packages and the
    perrecbench under test through a .pth file."""
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    # without pip: the venv's own (older) setuptools would build the plugin; this pip
    # installs into it (`--python`) with the build backend the .pth file shows it
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    here = [p for p in sys.path if p and Path(p).is_dir() and ("site-packages" in p or p.endswith("src"))]
    (Path(site) / "perrecbench_parent.pth").write_text("".join(f"{p}\n" for p in here))
    source = root / "plugin"  # a copy: pip builds in the source folder
    shutil.copytree(EXAMPLES / "plugin", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-build-isolation", "--no-index", "--disable-pip-version-check", "-q", str(source)],
                   check=True, capture_output=True, cwd=root)
    return python


def _child(python, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(python), "-m", "perrecbench", *args], capture_output=True, text=True, env=env,
                          cwd=cwd)


def test_an_installed_plugin_through_its_entry_point(plugin_python, bench, tmp_path):
    check = subprocess.run([str(plugin_python), "-c", "import perrecbench; print(perrecbench.__file__)"],
                           capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                 if k != "PYTHONPATH"})
    assert Path(check.stdout.strip()).is_relative_to(REPO / "src"), check  # the code under test
    listing = _child(plugin_python, "models", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "example-longrun" in listing.stdout and "options: recent=3" in listing.stdout
    assert "example-first/<model>" in listing.stdout and "rating=3.0" in listing.stdout
    assert "baseline/cf" in listing.stdout and "openai/<model>" in listing.stdout
    # a recommender class
    res = _child(plugin_python, "run", "--bench", str(bench), "--model", "example-longrun", "--method", "list,pair",
                 "--out", str(tmp_path / "rec"), "--option", "recent=2", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    manifest = RunManifest.read(tmp_path / "rec" / "list" / "manifest.json")
    assert manifest.model == "example-longrun" and manifest.variant == "recent=2" and manifest.model_source
    assert _n_predictions(tmp_path / "rec" / "pair") == 12
    # an LLM provider: the LLM runner with every LLM option
    res = _child(plugin_python, "run", "--bench", str(bench), "--model", "example-first/tiny", "--method",
                 "list,point", "--out", str(tmp_path / "llm"), "--temperature", "0.3", "--option", "rating=4",
                 "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    manifest = RunManifest.read(tmp_path / "llm" / "point" / "manifest.json")
    config = manifest.recommender_config
    assert manifest.model == "example-first/tiny" and config["generation"]["point"]["temperature"] == 0.3
    assert config["backend"] == "example-first" and config["provider"] == {"rating": 4.0}
    preds = RunDir(tmp_path / "llm" / "list").read_predictions()
    assert len(preds) == 12 and all(p.prediction.ok for p in preds)
    point = RunDir(tmp_path / "llm" / "point").read_predictions()
    assert all(p.prediction.ratings == [4.0] * len(p.prediction.ratings) for p in point)
    assert (tmp_path / "llm" / "list" / "calls.jsonl").exists()
    # the two kinds are named their own way
    bad = _child(plugin_python, "run", "--bench", str(bench), "--model", "example-first", "--method", "list",
                 "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert bad.returncode != 0 and "is an LLM provider: name a model, --model example-first/<model>" in bad.stderr
    assert "Traceback" not in bad.stderr


def _commands() -> set[str]:
    from perrecbench.cli.main import app

    return {c.name for c in app.registered_commands if c.name}


def test_a_predictions_file_scores_as_the_class_it_mirrors(bench, tmp_path):
    """export-questions -> the example script -> import-predictions scores exactly as the
    same rule run as a class (skipped on a branch without those two commands)."""
    if not {"export-questions", "import-predictions"} <= _commands():
        pytest.skip("export-questions / import-predictions are not on this branch")
    assert invoke(["export-questions", "--bench", str(bench), "--split", "test", "--out",
                   str(tmp_path / "q.jsonl")]).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-I", str(EXAMPLES / "predictions_from_questions.py"),
                           str(tmp_path / "q.jsonl"), str(tmp_path / "p.jsonl"), "--k", "2"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = invoke(["import-predictions", "--bench", str(bench), "--method", "list", "--model", "recent-taste",
                  "--file", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "imported")])
    assert res.exit_code == 0, res.output
    assert _run(bench, MYREC, tmp_path / "class", "list", "--option", "k=2").exit_code == 0
    imported, native = _score_json(tmp_path / "imported"), _score_json(tmp_path / "class")
    assert [(r["level"], r["score"]) for r in imported if r["metric"] == "tau-b"] == \
        [(r["level"], r["score"]) for r in native if r["metric"] == "tau-b"]


def test_the_package_root_offers_the_api_lazily():
    code = ("import sys, perrecbench; assert 'perrecbench.api' not in sys.modules; "
            "from perrecbench import Prediction, Question, Recommender, ScoreRecommender, evaluate, open_benchmark, "
            "score_runs; assert 'perrecbench.api' in sys.modules; assert 'evaluate' in dir(perrecbench); "
            "assert Question.__module__ == 'perrecbench.types' and Prediction.__module__ == 'perrecbench.records.prediction'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        perrecbench.nope  # noqa: B018
