"""The chat template a model is trained with: its own rendering, with the answer marked.

Loss on the assistant's tokens only is TRL's `assistant_only_loss=True`, which masks what
a template puts between `{% generation %}` and `{% endgeneration %}`. Few shipped
templates have those markers (SmolLM2's ChatML and Meta's Llama 3.1 do not, and TRL
patches neither), so we ship training variants and use one only after checking, on
probe chats and on the dataset's own rows, that it renders *exactly* the text the
model's own template renders -- the model is trained on the bytes it will be asked
with -- and that its mask is the answer plus the end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..errors import ConfigError

#: shipped training templates, tried in this order when the model's own has no markers
SHIPPED = ("smollm2_training", "chatml_training", "llama3_1_training")
#: chats every training template must render like the model's own (besides the dataset rows)
PROBES: tuple[tuple[dict[str, str], ...], ...] = (
    ({"role": "system", "content": "You rank people."}, {"role": "user", "content": "Who likes it more?"},
     {"role": "assistant", "content": "[User A]"}),
    ({"role": "system", "content": "S"}, {"role": "user", "content": "Rate:\n- \"A\": 4.0\n"},
     {"role": "assistant", "content": '{"predicted_rating": 4.0}'}),
)
#: dataset rows whose rendering is compared (structure is checked on every row)
SAMPLE_ROWS = 256


@dataclass(frozen=True)
class TrainingTemplate:
    """`source`: "model" (its own had markers), a shipped name, "trl", or a file path."""

    source: str
    text: str


def shipped_template(name: str) -> str:
    return (files(__package__) / "templates" / f"{name}.jinja").read_text(encoding="utf-8")


def has_generation_markers(template: str) -> bool:
    return "{% generation %}" in template.replace("{%-", "{%").replace("-%}", "%}").replace("  ", " ")


def render(tokenizer: Any, messages: Sequence[dict[str, str]], template: str | None = None,
           add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, chat_template=template,
                                         add_generation_prompt=add_generation_prompt)


def answer_mask_ids(tokenizer: Any, messages: Sequence[dict[str, str]], template: str) -> list[int]:
    """The tokens the loss is computed on (TRL's assistant mask of the rendered chat)."""
    out = tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True, chat_template=template)
    return [i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m]


def check_rows(rows: Sequence[Sequence[dict[str, str]]]) -> None:
    """Every row is a chat ending with one assistant answer after a user turn."""
    for n, msgs in enumerate(rows, 1):
        if not isinstance(msgs, (list, tuple)) or len(msgs) < 2:
            raise ConfigError(f"dataset row {n}: 'messages' must be a list of at least a user and an assistant turn")
        for m in msgs:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise ConfigError(f"dataset row {n}: every message needs a string 'role' and 'content'")
            if m["role"] not in ("system", "user", "assistant"):
                raise ConfigError(f"dataset row {n}: unknown role {m['role']!r} (system, user, assistant)")
        if msgs[-1]["role"] != "assistant" or msgs[-2]["role"] != "user":
            raise ConfigError(f"dataset row {n}: the last turn must be the assistant's answer to a user turn")
        if not msgs[-1]["content"].strip():
            raise ConfigError(f"dataset row {n}: the assistant's answer is empty")


def _mismatch(tokenizer: Any, own: str, text: str, chats: Sequence[Sequence[dict[str, str]]]) -> str | None:
    """Why `text` cannot stand in for the model's template on `chats` (None: it can)."""
    from jinja2 import TemplateError

    for chat in chats:
        for prefix, gen in ((chat, False), (chat[:-1], True)):
            try:
                if render(tokenizer, prefix, text, gen) != render(tokenizer, prefix, own, gen):
                    return "renders differently from the model's template"
            except (TemplateError, ValueError, TypeError) as exc:
                return f"fails to render: {exc}"
        try:
            ids = answer_mask_ids(tokenizer, chat, text)
        except (TemplateError, ValueError, TypeError) as exc:
            return f"fails to mark the answer: {exc}"
        answer = chat[-1]["content"].strip()
        # the answer, then the end-of-turn token (a special token: the model learns to stop)
        if tokenizer.decode(ids, skip_special_tokens=True).strip() != answer or \
                tokenizer.decode(ids).strip() == answer:
            return "does not mark exactly the answer and its end-of-turn token"
    return None


def choose_training_template(tokenizer: Any, rows: Sequence[Sequence[dict[str, str]]],
                             choice: str = "auto") -> TrainingTemplate:
    """The template to train with; a clear error when the rows do not fit the model's template.

    `choice`: "auto" (the model's own if it has markers, else the first shipped or TRL
    training template that passes), a shipped name, or a path to a Jinja file."""
    from jinja2 import TemplateError

    own = getattr(tokenizer, "chat_template", None)
    if not isinstance(own, str) or not own.strip():
        raise ConfigError("the model's tokenizer has no chat template: chat models only (or set "
                          "chat_template: FILE.jinja in the config)")
    check_rows(rows)
    chats = [list(p) for p in PROBES] + [list(r) for r in _sample(rows)]
    for n, chat in enumerate(chats[len(PROBES):], 1):
        try:
            render(tokenizer, chat, own)
        except (TemplateError, ValueError, TypeError) as exc:
            raise ConfigError(f"the dataset does not match the model's chat template (row {n}): {exc}") from None
    tried = []
    for source, text in _candidates(tokenizer, own, choice):
        why = _mismatch(tokenizer, own, text, chats)
        if why is None:
            return TrainingTemplate(source, text)
        tried.append(f"{source}: {why}")
    raise ConfigError("no training chat template matches the model's own for this dataset ("
                      + "; ".join(tried) + "); write one with {% generation %} markers around the assistant's "
                      "answer and set chat_template: FILE.jinja")


def _candidates(tokenizer: Any, own: str, choice: str) -> list[tuple[str, str]]:
    if choice != "auto":
        if choice in SHIPPED:
            return [(choice, shipped_template(choice))]
        path = Path(choice)
        if not path.is_file():
            raise ConfigError(f"chat_template {choice!r}: neither a file nor one of {', '.join(SHIPPED)}")
        return [(str(path), path.read_text(encoding="utf-8"))]
    if has_generation_markers(own):
        return [("model", own)]
    out = [(name, shipped_template(name)) for name in SHIPPED]
    try:
        from trl.chat_template_utils import get_training_chat_template

        trl_text = get_training_chat_template(tokenizer)
        if trl_text:
            out.append(("trl", trl_text))
    except (ImportError, ValueError):
        pass  # TRL patches only templates it knows
    return out


def _sample(rows: Sequence[Sequence[dict[str, str]]]) -> list[Sequence[dict[str, str]]]:
    """First, last and evenly spaced rows (the formats of a mix are interleaved by its shuffle)."""
    if len(rows) <= SAMPLE_ROWS:
        return list(rows)
    step = len(rows) / SAMPLE_ROWS
    return [rows[int(i * step)] for i in range(SAMPLE_ROWS - 1)] + [rows[-1]]
