"""Training chat templates render exactly like the model's own and mark exactly the answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.train_fixtures import needs

from perrecbench.errors import ConfigError
from perrecbench.train.chat_template import (
    PROBES,
    answer_mask_ids,
    choose_training_template,
    render,
    shipped_template,
)


@pytest.fixture(scope="module")
def rows(sft_bench, tmp_path_factory):
    needs("datasets")
    from helpers.cli import invoke

    out = tmp_path_factory.mktemp("rows") / "mix"
    res = invoke(["sft-data", "--bench", str(sft_bench), "--format", "mix", "--out", str(out), "--k", "1",
                  "--limit", "2"])
    assert res.exit_code == 0, res.output
    return [json.loads(line)["messages"] for line in (out / "train_sft.jsonl").read_text().splitlines()]


def test_smollm2_training_template_renders_like_the_model_and_marks_the_answer(smollm2_dir, rows):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    own, mine = tok.chat_template, shipped_template("smollm2_training")
    no_system = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "[User B]"}]
    for chat in [*rows, *map(list, PROBES), no_system]:
        for prefix, gen in ((chat, False), (chat[:-1], True)):
            assert render(tok, prefix, mine, gen) == render(tok, prefix, own, gen)
        masked = tok.decode(answer_mask_ids(tok, chat, mine))
        assert masked == chat[-1]["content"] + "<|im_end|>"
    chosen = choose_training_template(tok, rows)
    assert chosen.source == "smollm2_training"


def test_llama31_training_template_renders_like_metas(tiny_llama):
    """Against TRL's copy of Meta's Llama 3.1 template (rendering is text: any tokenizer does)."""
    from importlib.resources import files

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    meta = (files("trl") / "chat_templates" / "llama3_1.jinja").read_text(encoding="utf-8")
    mine = shipped_template("llama3_1_training")
    chats = [list(p) for p in PROBES] + [[{"role": "user", "content": " padded  "},
                                         {"role": "assistant", "content": "{\"predicted_ranking\": [2, 1]}"}]]
    for chat in chats:
        for prefix, gen in ((chat, False), (chat[:-1], True)):
            assert render(tok, prefix, mine, gen) == render(tok, prefix, meta, gen)
    tok.chat_template = meta
    tok.add_special_tokens({"additional_special_tokens": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    assert choose_training_template(tok, chats).source == "llama3_1_training"


def test_rows_that_do_not_fit_the_template_are_clear_errors(tiny_llama, rows):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    with pytest.raises(ConfigError, match="last turn must be the assistant"):
        choose_training_template(tok, [rows[0][:-1]])
    with pytest.raises(ConfigError, match="unknown role 'tool'"):
        choose_training_template(tok, [[{"role": "tool", "content": "x"}, *rows[0]]])
    # a template that refuses system messages (as Gemma's and Mistral's do)
    tok.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role "
                         "not supported') }}{% endif %}{{ m['content'] }}{% endfor %}")
    with pytest.raises(ConfigError, match="does not match the model's chat template .*System role not supported"):
        choose_training_template(tok, rows)
    # a template none of ours reproduces: an error that says how to supply one
    tok.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    with pytest.raises(ConfigError, match="no training chat template matches"):
        choose_training_template(tok, rows)
    tok.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        choose_training_template(tok, rows)


def test_a_template_file_with_markers_is_used_when_it_renders_alike(tiny_llama, rows, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    path = Path(tmp_path / "mine.jinja")
    path.write_text(shipped_template("chatml_training"))
    assert choose_training_template(tok, rows, str(path)).source == str(path)
    with pytest.raises(ConfigError, match="neither a file nor"):
        choose_training_template(tok, rows, str(tmp_path / "missing.jinja"))
