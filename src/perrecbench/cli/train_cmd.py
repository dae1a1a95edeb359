"""`perrecbench sft-data`, `train`, `merge` and `train-configs`: the paper's SFT study (SPEC 6).

Torch, transformers, TRL, PEFT and datasets (the `train` extra) are imported inside
the commands, so the rest of the CLI never loads them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from ..locking import locked
from ..terminal.progress import console
from .bounds import fraction
from .lock_option import WAIT

_PROMPT = "Prompt (as in run)"


@locked("out")  # before the rows are made
def sft_data(
    bench: Path = typer.Option(..., "--bench", "-b", help="benchmark directory"),
    fmt: str = typer.Option(..., "--format", help="point, pair, group or mix (the union, shuffled)"),
    out: Path = typer.Option(..., "--out", "-o", help="output directory (datasets DatasetDict + JSON Lines)"),
    split: str = typer.Option("train", help="train, or heldout (for an evaluation set); never test"),
    levels: str | None = typer.Option(None, help="comma-separated levels (default: all in the split)"),
    limit: int | None = typer.Option(None, min=1, help="first N questions per level"),
    seed: int = typer.Option(0, min=0, help="shuffle seed of the mix"),
    dataset_split: str | None = typer.Option(None, help="split name in the DatasetDict "
                                             "(default train_sft, or test_sft for heldout)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier SFT data directory"),
    option: list[str] = typer.Option([], "--option", help="prompt option key=value as in run (repeatable)",
                                     rich_help_panel=_PROMPT),
    prompt_set: str | None = typer.Option(None, help="default, official or official-sample-run",
                                          rich_help_panel=_PROMPT),
    templates: Path | None = typer.Option(None, help="the authors' template dir (official prompt sets)",
                                          rich_help_panel=_PROMPT),
    profile: str | None = typer.Option(None, help="none, offline or a profiles label", rich_help_panel=_PROMPT),
    k: int | None = typer.Option(None, "--k", min=0, help="history items per user (default 4)",
                                 rich_help_panel=_PROMPT),
    rel_rating: bool = typer.Option(False, "--rel-rating", help="show (and answer) relative ratings",
                                    rich_help_panel=_PROMPT),
    describe_items: bool = typer.Option(False, "--describe-items", help="include item descriptions",
                                        rich_help_panel=_PROMPT),
    shots: int | None = typer.Option(None, min=0, help="few-shot demonstrations", rich_help_panel=_PROMPT),
    wait: bool = WAIT,
) -> None:
    """Chat rows {"messages": \\[system, user, assistant]} for SFT: `run`'s prompts, the truth as answer."""
    from ..parsing import parse_levels
    from ..run.plan import parse_option_pairs
    from ..train.sft_make import make_sft_data

    flags = {"prompt_set": prompt_set, "templates": str(templates) if templates else None, "profile": profile,
             "k": k, "rel_rating": rel_rating or None, "describe_items": describe_items or None, "shots": shots}
    options = {**parse_option_pairs(option), **{key: v for key, v in flags.items() if v is not None}}
    written, n_questions = make_sft_data(bench, fmt, out, split, parse_levels(levels), limit, seed, dataset_split,
                                         overwrite, options)
    per = "; ".join(f"{f} {sum(c.values())} ({', '.join(f'{lv} {n}' for lv, n in c.items())})"
                    for f, c in written.counts.items())
    console.print(f"wrote {written.rows} rows from {n_questions} {split} questions "
                  f"into {out} (split {written.dataset_split}): {per}", soft_wrap=True)


def train(
    config: str | None = typer.Option(None, "--config", "-c", help="YAML config file, or a shipped config's "
                                      "name (see train-configs)"),
    set_: list[str] = typer.Option([], "--set", help="override a setting: key=value, e.g. lora.r=8 or "
                                   "max_steps=12 (repeatable)"),
    out: Path = typer.Option(..., "--out", "-o", help="adapter directory (checkpoints, log, summary); "
                             "rerun the same command to resume"),
    progress: bool = typer.Option(True, help="show the progress bar"),
    check_only: bool = typer.Option(False, "--check", help="validate config, data and chat template; "
                                    "train nothing"),
    wait: bool = WAIT,
) -> None:
    """LoRA fine-tuning with TRL's SFT trainer (release recipe by default); runs under `accelerate launch`."""
    from ..train.config import load_config
    from ..train.trainer import finished, prepare
    from ..train.trainer import train as run_training

    cfg = load_config(config, set_)
    done = None if check_only else finished(out, cfg)
    if done is not None:
        if _is_main_process():
            console.print(f"{out} already holds this training, finished ({done.steps} steps): nothing to do; "
                          "train into another --out to train again", soft_wrap=True)
        return
    if check_only:
        prep = prepare(cfg)
        console.print(f"ok: {len(prep.rows)} rows fit (dropped {prep.too_long} longer than {cfg.max_length} "
                      f"tokens), chat template {prep.template.source}", soft_wrap=True)
        return
    summary = run_training(cfg, out, progress)
    if _is_main_process():
        loss = "" if summary.first_loss is None else f", loss {summary.first_loss:.4f} -> {summary.final_loss:.4f}"
        ev = "" if summary.eval_loss_after is None else (
            f", eval loss {summary.eval_loss_before} -> {summary.eval_loss_after}")
        rate = "" if summary.tokens_per_second is None else f" ({summary.tokens_per_second:.0f} tokens/s)"
        console.print(f"trained {summary.steps} steps on {summary.rows} rows"
                      + (f" ({summary.rows_too_long} too long, dropped)" if summary.rows_too_long else "")
                      + f"{loss}{ev}; {summary.tokens} tokens in {summary.train_seconds:.1f} s{rate}"
                      + (f", resumed from {summary.resumed_from}" if summary.resumed_from else "")
                      + f"; adapter in {out}", soft_wrap=True)


def _merge_help() -> str:
    from ..train.merge import IS_EXACT_AVERAGE

    exact = [m for m, e in IS_EXACT_AVERAGE.items() if e]
    other = [m for m, e in IS_EXACT_AVERAGE.items() if not e]
    return (f"{', '.join(exact)}: the exact weighted average of the updates dW = (alpha/r) B A (PEFT cat, rank "
            f"r1+r2+...); not the average of the updates: {', '.join(other)} (naive: the release's "
            "element-wise average of A and B; the rest are PEFT's combination types)")


def merge(
    adapters: list[Path] = typer.Argument(..., metavar="ADAPTER", help="two or more LoRA adapter directories"),
    method: str = typer.Option(..., "--method", help=_merge_help()),
    out: Path = typer.Option(..., "--out", "-o", help="merged adapter directory"),
    weights: str | None = typer.Option(None, help="comma-separated weights, normalised to sum to 1 "
                                       "(default: equal)"),
    full_model: Path | None = typer.Option(None, "--full-model", help="also write base + merged update as "
                                           "a full model into this directory"),
    base_model: str | None = typer.Option(None, help="base model (default: the one the adapters name)"),
    dtype: str = typer.Option("auto", help="dtype the base model is loaded in: auto, float32, bfloat16, float16"),
    density: float | None = typer.Option(None, callback=fraction,
                                         help="ties/dare/magnitude_prune: fraction kept (default 1)"),
    svd_rank: int | None = typer.Option(None, min=1,
                                        help="svd types: rank of the result (default: the largest input's)"),
    wait: bool = WAIT,
) -> None:
    """Merge LoRA adapters (the release's naive average, the exact average, or a PEFT method)."""
    from ..train.merge import merge as run_merge

    w = None
    if weights:
        try:
            w = [float(x) for x in weights.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--weights {weights!r}: expected numbers separated by commas") from None
    report = run_merge(adapters, method, out, w, full_model, base_model, dtype, density, svd_rank)
    console.print(f"merged {len(adapters)} adapters with {method} (weights "
                  f"{', '.join(f'{x:.3g}' for x in report.weights)}) into {out}: rank {report.rank}, "
                  f"{report.modules} modules; update vs the weighted average of the inputs' updates: max "
                  f"relative error {report.max_rel_error_vs_update_average:.2e}"
                  + (f"; full model in {report.full_model}" if report.full_model else ""), soft_wrap=True)


def train_configs(
    out: Path | None = typer.Option(None, "--out", "-o", help="copy the shipped configs into this directory"),
) -> None:
    """The shipped example configs: the release recipes, a CPU-sized run, DeepSpeed ZeRO-3 for accelerate."""
    import shutil

    from ..train.config import CONFIG_DIR

    files = sorted(CONFIG_DIR.glob("*.yaml"))
    for f in files:
        first = next((line[1:].strip() for line in f.read_text(encoding="utf-8").splitlines()
                      if line.startswith("#")), "")
        console.print(f"{f.stem:<30} {first}", soft_wrap=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy2(f, out / f.name)
        console.print(f"copied {len(files)} files into {out}")


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def register(app: typer.Typer) -> None:
    """Add the fine-tuning commands to the app."""
    app.command("sft-data")(sft_data)
    app.command("train")(train)
    app.command("merge")(merge)
    app.command("train-configs")(train_configs)
