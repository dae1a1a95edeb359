"""The render / show / profiles commands."""

from __future__ import annotations

import json
import sys

import pytest
import typer
from helpers.profile_bench import make_bench
from typer.testing import CliRunner

from perrecbench.cli import prompt_cmd
from perrecbench.errors import ConfigError, InputDataError
from perrecbench.models.llm import text as llm_text
from perrecbench.prompts.components import Components, PromptOptions
from perrecbench.prompts.official_set import OfficialPromptSet

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    prompt_cmd.register(a)
    return a


def comps(title: str, n: int = 1) -> dict:
    return {
        "users": [
            {"profile": f"profile {i}", "most_common_rating": 4, "avg_rating": 3.5,
             "history": [{"title": f"{title} past {i}", "author": None, "rating": 5}]}
            for i in range(n)
        ],
        "query": {"title": title, "author": "Someone"},
    }


def test_render_single_file(app, tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(comps("Night Train"), indent=2))
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(f)])
    assert res.exit_code == 0, res.output
    msgs = json.loads(res.output)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "Night Train" in msgs[1]["content"] and "profile 0" in msgs[1]["content"]
    res = runner.invoke(app, ["render", "--method", "point", "--no-profile", "--cot", "--components", str(f)])
    assert "profile 0" not in json.loads(res.output)[1]["content"]


def test_render_json_lines_keeps_order(app, tmp_path):
    f = tmp_path / "c.jsonl"
    titles = ["Alpha", "Bravo", "Charlie"]
    f.write_text("\n".join(json.dumps(comps(t, 3)) for t in titles) + "\n")
    res = runner.invoke(app, ["render", "--method", "list", "--components", str(f)])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().split("\n")
    assert len(lines) == 3
    for t, line in zip(titles, lines, strict=True):
        msgs = json.loads(line)
        assert f"Title: {t}" in msgs[-1]["content"] and "User3" in msgs[-1]["content"]


def test_render_one_line_jsonl_file_answers_in_json_lines(app, tmp_path):
    """A .jsonl file with one question is still JSON Lines: one line out, not indented JSON."""
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps(comps("Alpha", 1)) + "\n")
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(f)])
    assert res.exit_code == 0, res.output
    (line,) = res.output.strip().split("\n")
    assert "Title: Alpha" in json.loads(line)[-1]["content"]
    plain = tmp_path / "one.json"
    plain.write_text(json.dumps(comps("Alpha", 1)))
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(plain)])
    assert res.output.startswith("[\n")  # one JSON document: pretty-printed as before


def test_render_stdin_and_official(app, shared):
    templates = shared("reference", "official-templates")
    doc = comps("Orphan Train", 2)
    res = runner.invoke(
        app,
        ["render", "--method", "pair", "--prompt-set", "official", "--templates", str(templates),
         "--components", "-"],
        input=json.dumps(doc),
    )
    assert res.exit_code == 0, res.output
    expected = OfficialPromptSet(templates).render("pair", Components.from_dict(doc), PromptOptions())
    assert json.loads(res.output) == [{"role": m.role, "content": m.content} for m in expected]


def test_render_errors_name_the_line(app, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(comps("A")) + "\n{not json\n" + json.dumps(comps("C")) + "\n")
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(f)])
    assert isinstance(res.exception, InputDataError)
    assert f"{f}:2: not valid JSON" in str(res.exception)
    g = tmp_path / "bad.json"
    g.write_text('{\n  "users": [],\n  "query": {"title": "x"},,\n}')
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(g)])
    assert isinstance(res.exception, InputDataError) and f"{g}:3:" in str(res.exception)
    h = tmp_path / "missing.jsonl"
    h.write_text(json.dumps(comps("A")) + "\n" + json.dumps({"users": [{}]}) + "\n")
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(h)])
    assert isinstance(res.exception, InputDataError) and f"{h}:2: not a components object" in str(res.exception)
    res = runner.invoke(app, ["render", "--method", "triple", "--components", str(f)])
    assert isinstance(res.exception, ConfigError)
    res = runner.invoke(app, ["render", "--method", "point", "--components", str(tmp_path / "nope.json")])
    assert isinstance(res.exception, InputDataError)
    res = runner.invoke(app, ["render", "--method", "point", "--prompt-set", "official", "--components", str(f)])
    assert isinstance(res.exception, ConfigError) and "--templates" in str(res.exception)


def test_main_prints_error_without_traceback(tmp_path, monkeypatch, capsys):
    from perrecbench.cli.main import main

    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(comps("A")) + "\n[oops\n")
    monkeypatch.setattr(sys, "argv", ["perrecbench", "render", "--method", "point", "--components", str(f)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == InputDataError.exit_code
    err = capsys.readouterr().err
    assert f"error: {f}:2: not valid JSON" in err and "Traceback" not in err


def test_show_question(app, tmp_path):
    bench = make_bench(tmp_path / "b")
    res = runner.invoke(app, ["show", "--bench", str(bench.path), "--id", "test-medium-q1"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "question test-medium-q1  (test, medium, 3 users)" in out
    assert "The Inspector's Last Alibi by Agatha Stone" in out
    truth = [bench.questions("test", "medium")[0].true_order()]
    assert "truth    " + " > ".join(f"User{i + 1}" for i in truth[0]) in out
    assert out.count("--- system ---") == 1 and "## User3" in out
    res = runner.invoke(app, ["show", "--bench", str(bench.path), "--id", "test-easy-q1", "--method", "point", "--k", "2"])
    assert res.exit_code == 0 and res.output.count("--- user ---") == 2
    res = runner.invoke(app, ["show", "--bench", str(bench.path), "--id", "nope"])
    assert "no question with id" in str(res.exception)


def test_profiles_offline_and_model(app, tmp_path, monkeypatch):
    bench = make_bench(tmp_path / "b")
    res = runner.invoke(app, ["profiles", "--bench", str(bench.path), "--offline", "--levels", "easy"])
    assert res.exit_code == 0, res.output
    saved = json.loads((bench.path / "profiles" / "offline.json").read_text())
    assert len(saved) == 2 and all(v.startswith("Offline profile") for v in saved.values())
    res = runner.invoke(app, ["show", "--bench", str(bench.path), "--id", "test-easy-q1", "--profiles", "offline"])
    assert "Profile: Offline profile from" in res.output

    closed = []

    def fake_llm(model, base_url):
        async def generate(messages):
            return f"profile by {model}"

        async def close():
            closed.append(True)

        return generate, close

    monkeypatch.setattr(llm_text, "text_generator", fake_llm)
    res = runner.invoke(app, ["profiles", "--bench", str(bench.path), "--model", "openai/gpt-x"])
    assert res.exit_code == 0, res.output
    assert "3 new, 0 cached" in res.output and closed == [True]
    saved = json.loads((bench.path / "profiles" / "openai--gpt-x.json").read_text())
    assert set(saved.values()) == {"profile by openai/gpt-x"}
    res = runner.invoke(app, ["profiles", "--bench", str(bench.path)])
    assert isinstance(res.exception, ConfigError)
    res = runner.invoke(app, ["profiles", "--bench", str(bench.path), "--offline", "--levels", "extreme"])
    assert isinstance(res.exception, ConfigError)


def test_profiles_model_without_key_fails_fast(app, tmp_path):
    bench = make_bench(tmp_path / "b")
    res = runner.invoke(app, ["profiles", "--bench", str(bench.path), "--model", "openai/gpt-4o-mini"])
    assert res.exception is not None and "OPENAI_API_KEY" in str(res.exception)
    assert not (bench.path / "profiles").exists() or not any((bench.path / "profiles").iterdir())


def test_profiles_decode_as_the_release_with_a_paragraph_of_tokens():
    """The profile writer's decoding comes from the declared defaults; what enters the
    cache key is what it was when the settings were written in the command (cached
    profiles are still found)."""
    assert llm_text.PROFILE_CONFIG.output_options() == {"temperature": 0.1, "top_p": 1.0, "max_tokens": 600}
    assert llm_text.PROFILE_CONFIG.timeout == 120.0
