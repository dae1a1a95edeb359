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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError, install_hint
from .config import TrainConfig

LOG = "train_log.jsonl"
SUMMARY = "train_summary.json"
CONFIG = "train_config.json"
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


def train(cfg: TrainConfig, out: Path, progress: bool = True) -> TrainSummary:
    """Train (or resume) a LoRA adapter into `out`; returns the summary also written there."""
    start = time.monotonic()
    out = Path(out)
    check_resumable(out, cfg)
    prep = prepare(cfg)
    device, precision = _device_precision(cfg)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    from ..models.llm.hf_loading import load_causal_lm

    last = get_last_checkpoint(str(out)) if out.is_dir() else None
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
    log = _loss_log(out / LOG)
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
    summary = TrainSummary(
        steps=int(trainer.state.global_step), tokens=int(tokens) if tokens is not None else None,
        seconds=round(time.monotonic() - start, 2), train_seconds=round(train_seconds, 2),
        tokens_per_second=_rate(tokens, result), first_loss=log.first("loss"), final_loss=log.last("loss"),
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


def _rate(tokens: float | None, result: Any) -> float | None:
    """Tokens per second of the training loop (TRL counts the tokens of this process's
    run, summed over devices: a resumed run counts its own part only)."""
    runtime = result.metrics.get("train_runtime")
    return round(tokens / runtime, 1) if runtime and tokens is not None else None


def _peak_memory_mb(device: str) -> float | None:
    import torch

    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB
    except (ImportError, OSError):
        return None


def _loss_log(path: Path) -> Any:
    """A callback that appends every log event of the main process to `train_log.jsonl`
    (a resumed run continues the file) and keeps the figures the summary needs."""
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        def __init__(self) -> None:
            self.records: list[dict[str, Any]] = []

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            rec = {"step": state.global_step, "epoch": state.epoch, "time": round(time.time(), 3)}
            rec.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            self.records.append(rec)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, sort_keys=True) + "\n")

        def first(self, key: str) -> float | None:
            return next((r[key] for r in self.records if key in r), None)

        def last(self, key: str) -> float | None:
            return next((r[key] for r in reversed(self.records) if key in r), None)

    return LossLog()
