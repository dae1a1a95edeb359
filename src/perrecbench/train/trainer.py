"""LoRA supervised fine-tuning with TRL's `SFTTrainer` and a PEFT LoRA: our part is the checks.

Before the model is loaded: the config is validated (`config.py`), the rows are read,
the training chat template is chosen and verified against the model's own on the
rows (`chat_template.py`), and rows longer than `max_length` are dropped and counted
(truncation would cut off the answer, the only tokens with a loss). Then TRL trains;
distribution is accelerate's (`accelerate launch ... perrecbench train` runs this
unchanged, one process per device, ZeRO-3 through a DeepSpeed accelerate config).

OUT receives TRL's checkpoints (`checkpoint-N/`, resumed from the last one when the
same command runs again), the final adapter and tokenizer, `train_log.jsonl` (one line
per logged step: loss, learning rate, tokens seen, eval loss) and `train_summary.json`.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError, install_hint
from ..locking import locked
from ..models.llm.hf_loading import ADAPTER_CONFIG
from .config import TrainConfig

LOG = "train_log.jsonl"
SUMMARY = "train_summary.json"
CONFIG = "train_config.json"
#: written into each checkpoint: what the training had done by then (tokens, seconds), so a
#: resumed run's summary covers the whole training, not only its own segment
PROGRESS = "perrecbench_progress.json"
#: settings that may change between a run and its resumption (they do not change what is trained)
RESUMABLE = ("logging_steps", "save_steps", "save_total_limit", "eval_steps", "report_to")


@dataclass
class TrainSummary:
    steps: int
    tokens: int | None
    seconds: float
    train_seconds: float
    tokens_per_second: float | None
    first_loss: float | None
    final_loss: float | None
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    rows: int = 0
    rows_too_long: int = 0
    eval_rows: int = 0
    resumed_from: str | None = None
    chat_template: str = ""
    precision: str = ""
    device: str = ""
    peak_memory_mb: float | None = None
    adapter: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Prepared:
    rows: list[list[dict[str, str]]]
    eval_rows: list[list[dict[str, str]]] | None
    too_long: int
    tokenizer: Any
    template: Any  # chat_template.TrainingTemplate


def require_train_extra() -> None:
    import importlib.util

    missing = [m for m in ("torch", "transformers", "trl", "peft", "datasets", "yaml")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"fine-tuning needs {', '.join(missing)}: {install_hint('train')}")


def prepare(cfg: TrainConfig) -> _Prepared:
    """Everything that can fail on bad input, before any model weights are read."""
    from ..models.llm.hf_loading import load_tokenizer
    from .chat_template import choose_training_template
    from .sft_files import load_chats

    require_train_extra()
    rows = load_chats(cfg.dataset, cfg.dataset_split)
    eval_rows = load_chats(cfg.eval_dataset, cfg.eval_split) if cfg.eval_dataset else None
    tok = load_tokenizer(cfg.model, cfg.gguf_file, cfg.trust_remote_code)
    template = choose_training_template(tok, rows + (eval_rows or []), cfg.chat_template)
    rows, too_long = _fitting(tok, rows, template.text, cfg.max_length)
    if not rows:
        raise ConfigError(f"every row is longer than max_length {cfg.max_length} tokens; raise max_length")
    if eval_rows is not None:
        eval_rows, _ = _fitting(tok, eval_rows, template.text, cfg.max_length)
    return _Prepared(rows, eval_rows, too_long, tok, template)


def _fitting(tok: Any, rows: list, template: str, max_length: int) -> tuple[list, int]:
    texts = tok.apply_chat_template(rows, tokenize=False, chat_template=template)
    lengths = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
    keep = [r for r, n in zip(rows, lengths) if n <= max_length]
    return keep, len(rows) - len(keep)


def _device_precision(cfg: TrainConfig) -> tuple[str, str]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = cfg.precision
    if precision == "auto":
        precision = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision in ("bf16", "fp16") and device == "cpu":
        raise ConfigError(f"precision {precision} needs a GPU here; use precision: fp32 (or auto) on CPU")
    return device, precision


def check_resumable(out: Path, cfg: TrainConfig) -> None:
    """OUT holds no run, or a run of this config (then it resumes)."""
    old_file = out / CONFIG
    if not old_file.exists():
        return
    old = json.loads(old_file.read_text(encoding="utf-8"))
    new = cfg.model_dump(mode="json")
    differ = sorted(k for k in set(old) | set(new) if k not in RESUMABLE and old.get(k) != new.get(k))
    if differ:
        raise ConfigError(f"{out} holds a training run with another config ({', '.join(differ)} differ): "
                          "resume with the same settings, or train into another --out")


def finished(out: Path, cfg: TrainConfig) -> TrainSummary | None:
    """The summary of a training of this config that already ran to its end in `out`, or None.
    A finished training is left alone: running it again would train past `max_steps`."""
    out = Path(out)
    check_resumable(out, cfg)
    summary, adapter = out / SUMMARY, out / ADAPTER_CONFIG
    if not (summary.is_file() and adapter.is_file() and (out / CONFIG).is_file()):
        return None
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
        return TrainSummary(**data)
    except (ValueError, TypeError):
        return None  # a damaged summary: train (resume) again and write it anew


@locked("out", when=lambda: os.environ.get("RANK", "0") == "0")  # the other ranks of a launch share its lock
def train(cfg: TrainConfig, out: Path, progress: bool = True) -> TrainSummary:
    """Train (or resume) a LoRA adapter into `out`; returns the summary also written there.
    A training already finished in `out` is not run again: its summary is returned."""
    start = time.monotonic()
    out = Path(out)
    done = finished(out, cfg)
    if done is not None:
        return done
    require_train_extra()
    with _quiet_libraries(progress):
        return _train(cfg, out, progress, start)


@contextmanager
def _quiet_libraries(progress: bool) -> Iterator[None]:
    """The libraries' deprecation notices (FutureWarning) are theirs to fix, not the user's:
    hidden while training; without progress, their bars (loading weights, tokenizing the
    dataset, writing shards) are off too. Both are restored afterwards."""
    import datasets.utils.logging as ds_logging
    import transformers.utils.logging as tf_logging

    tf_on, ds_on = tf_logging.is_progress_bar_enabled(), ds_logging.is_progress_bar_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if not progress:
            tf_logging.disable_progress_bar()
            ds_logging.disable_progress_bar()
        try:
            yield
        finally:
            if tf_on and not progress:
                tf_logging.enable_progress_bar()
            if ds_on and not progress:
                ds_logging.enable_progress_bar()


def _train(cfg: TrainConfig, out: Path, progress: bool, start: float) -> TrainSummary:
    prep = prepare(cfg)
    device, precision = _device_precision(cfg)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    from ..models.llm.hf_loading import load_causal_lm

    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    earlier = _progress_at(Path(last)) if last else _Progress()
    checkpointing = cfg.gradient_checkpointing if cfg.gradient_checkpointing != "auto" else device == "cuda"
    try:  # made before the model is loaded: under DeepSpeed ZeRO-3 this sets up sharded loading
        args = SFTConfig(
            output_dir=str(out), assistant_only_loss=True, max_length=cfg.max_length,
            per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.gradient_accumulation, learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, lr_scheduler_type=cfg.lr_scheduler,
            warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
            bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device == "cpu",
            gradient_checkpointing=checkpointing, seed=cfg.seed, logging_steps=cfg.logging_steps,
            save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
            eval_strategy="steps" if prep.eval_rows and cfg.eval_steps else "no", eval_steps=cfg.eval_steps,
            report_to=cfg.report_to, disable_tqdm=not progress, **cfg.sft_args,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"TRL rejects the training settings: {exc}") from None
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    extra: dict[str, Any] = {}
    if cfg.attn_implementation:
        extra["attn_implementation"] = cfg.attn_implementation
    local = Path(cfg.model).expanduser()
    name = str(local.resolve()) if local.exists() else cfg.model  # the adapter records where its base is
    model = load_causal_lm(name, cfg.gguf_file, dtype, cfg.trust_remote_code, **extra)
    # PEFT's annotation says int, but it scales by alpha / r and a float alpha works
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,  # type: ignore[arg-type]
                      target_modules=list(cfg.lora.target_modules), task_type="CAUSAL_LM")
    tok = prep.tokenizer
    own_template = tok.chat_template
    tok.chat_template = prep.template.text  # has {% generation %}: TRL masks the answer with it
    log = _loss_log(out / LOG, _kept_log(out / LOG, earlier.step if last else None), earlier)
    try:
        trainer = SFTTrainer(
            model=model, args=args, processing_class=tok, peft_config=lora,
            train_dataset=Dataset.from_list([{"messages": r} for r in prep.rows]),
            eval_dataset=Dataset.from_list([{"messages": r} for r in prep.eval_rows]) if prep.eval_rows else None,
            callbacks=[log],
        )
    except ValueError as exc:  # e.g. target modules the model does not have
        raise ConfigError(f"cannot set up training: {exc}") from None
    main = trainer.is_world_process_zero()
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG).write_text(json.dumps(cfg.model_dump(mode="json"), indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")
    before = _eval_loss(trainer) if prep.eval_rows and last is None else _loss_before(out)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=last)
    train_seconds = time.monotonic() - t0
    after = _eval_loss(trainer) if prep.eval_rows else None
    tok.chat_template = own_template  # the adapter ships the model's template, not the marked one
    trainer.save_model(str(out))
    if main:
        tok.save_pretrained(str(out))
    tokens = log.last("num_tokens")
    train_seconds += earlier.train_seconds
    summary = TrainSummary(
        steps=int(trainer.state.global_step), tokens=int(tokens) if tokens is not None else None,
        seconds=round(time.monotonic() - start + earlier.seconds, 2), train_seconds=round(train_seconds, 2),
        tokens_per_second=_rate(tokens, train_seconds), first_loss=log.first("loss"), final_loss=log.last("loss"),
        eval_loss_before=before, eval_loss_after=after, rows=len(prep.rows), rows_too_long=prep.too_long,
        eval_rows=len(prep.eval_rows or []), resumed_from=Path(last).name if last else None,
        chat_template=prep.template.source, precision=precision, device=device,
        peak_memory_mb=_peak_memory_mb(device), adapter=str(out),
        extra={"train_runtime": result.metrics.get("train_runtime")},
    )
    if main:
        (out / SUMMARY).write_text(json.dumps(asdict(summary), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def _eval_loss(trainer: Any) -> float | None:
    loss = trainer.evaluate().get("eval_loss")
    return None if loss is None else float(loss)


def _loss_before(out: Path) -> float | None:
    """The eval loss before training, from the interrupted run's log (step 0), so a resumed
    run's summary still compares with it."""
    path = out / LOG
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if rec.get("step") == 0 and "eval_loss" in rec:
            return rec["eval_loss"]
    return None


def _rate(tokens: float | None, seconds: float) -> float | None:
    """Tokens per second of the training loop over the whole training (TRL counts the
    tokens summed over devices)."""
    return round(tokens / seconds, 1) if seconds and tokens is not None else None


@dataclass(frozen=True)
class _Progress:
    """What the training had done when a checkpoint was saved (zeros: nothing yet)."""

    step: int = 0
    tokens: float = 0
    train_seconds: float = 0.0
    seconds: float = 0.0


def _progress_at(checkpoint: Path) -> _Progress:
    """The progress saved with a checkpoint; for a checkpoint without our file (made by an
    older version), the step and tokens from the trainer's own state, no seconds."""
    try:
        data = json.loads((checkpoint / PROGRESS).read_text(encoding="utf-8"))
        return _Progress(int(data["step"]), float(data["tokens"]), float(data["train_seconds"]),
                         float(data["seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        tokens = next((r["num_tokens"] for r in reversed(state.get("log_history", [])) if "num_tokens" in r), 0)
        return _Progress(int(state.get("global_step", 0)), float(tokens))
    except (OSError, ValueError, KeyError, TypeError):
        return _Progress()


def _kept_log(path: Path, step: int | None) -> list[dict[str, Any]]:
    """The log lines of the steps a resumed run does not repeat (those up to its checkpoint;
    none when it starts afresh); the main process rewrites the file with only those, so no
    step is logged twice."""
    if not path.exists():
        return []
    kept: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if step is not None and isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= step:
            kept.append(rec)
    if os.environ.get("RANK", "0") != "0":
        return kept
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept), encoding="utf-8")
    tmp.replace(path)
    return kept


def _peak_memory_mb(device: str) -> float | None:
    import torch

    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB
    except (ImportError, OSError):
        return None


def _loss_log(path: Path, kept: list[dict[str, Any]], earlier: _Progress) -> Any:
    """A callback that appends every log event of the main process to `train_log.jsonl`
    (a resumed run continues the file after the lines it keeps), counts tokens over the whole
    training (TRL restarts its count on resume), writes the progress into each checkpoint,
    and keeps the figures the summary needs."""
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        def __init__(self) -> None:
            self.records: list[dict[str, Any]] = list(kept)
            self.started = time.monotonic()
            self.train_started = time.monotonic()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.train_started = time.monotonic()

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if not state.is_world_process_zero:
                return
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                now = time.monotonic()
                progress = {"step": state.global_step, "tokens": self.last("num_tokens") or 0,
                            "train_seconds": round(earlier.train_seconds + now - self.train_started, 3),
                            "seconds": round(earlier.seconds + now - self.started, 3)}
                (folder / PROGRESS).write_text(json.dumps(progress, sort_keys=True) + "\n", encoding="utf-8")

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            rec = {"step": state.global_step, "epoch": state.epoch, "time": round(time.time(), 3)}
            rec.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            if "num_tokens" in rec:
                rec["num_tokens"] += earlier.tokens
            self.records.append(rec)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, sort_keys=True) + "\n")

        def first(self, key: str) -> float | None:
            return next((r[key] for r in self.records if key in r), None)

        def last(self, key: str) -> float | None:
            return next((r[key] for r in reversed(self.records) if key in r), None)

    return LossLog()
