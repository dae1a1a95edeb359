"""`hf/<model>`: an in-process transformers backend through the same runner as every model."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest
from helpers.cli import invoke
from helpers.train_fixtures import tiny_train_args

from perrecbench.errors import ConfigError
from perrecbench.models.llm.config import GenerateConfig
from perrecbench.models.llm.providers.hf_local import HFLocalAPI, HFOptions
from perrecbench.models.registry import create_model


def _prompts(point_sft, n):
    rows = [json.loads(line) for line in (point_sft[0] / "train_sft.jsonl").read_text().splitlines()]
    return [r["messages"][:-1] for r in rows[:n]]


def _ask(api, prompts, cfg, seeds):
    async def main():
        try:
            return await asyncio.gather(*(api.generate(p, cfg, s) for p, s in zip(prompts, seeds)))
        finally:
            await api.aclose()

    return [o.text for o in asyncio.run(main())]


def test_concurrent_requests_are_batched_and_answer_as_alone(tiny_llama, point_sft):
    prompts = _prompts(point_sft, 10)
    greedy = GenerateConfig(temperature=0.0, max_tokens=8)
    api = HFLocalAPI(str(tiny_llama), options=HFOptions(batch_size=4))
    batched = _ask(api, prompts, greedy, [None] * 10)
    api2 = HFLocalAPI(str(tiny_llama), options=HFOptions(batch_size=1))
    alone = _ask(api2, prompts, greedy, [None] * 10)
    assert batched == alone


def test_batches_collect_concurrent_requests(tiny_llama, point_sft):
    prompts = _prompts(point_sft, 10)
    api = HFLocalAPI(str(tiny_llama), options=HFOptions(batch_size=4))
    sizes = []

    async def main():
        try:
            outs = await asyncio.gather(*(api.generate(p, GenerateConfig(temperature=0.0, max_tokens=4), None)
                                          for p in prompts))
            sizes.extend(api._batcher.batches)
            return outs
        finally:
            await api.aclose()

    outs = asyncio.run(main())
    assert sizes == [4, 4, 2]
    assert all(o.prompt_tokens > 0 and o.completion_tokens == 4 and o.finish_reason == "length" for o in outs)


def test_sampling_honours_each_requests_seed_whatever_its_batch(tiny_llama, point_sft):
    prompts = _prompts(point_sft, 6)
    hot = GenerateConfig(temperature=1.0, max_tokens=12)
    api = HFLocalAPI(str(tiny_llama), options=HFOptions(batch_size=6))
    together = _ask(api, prompts, hot, [1, 2, 3, 4, 5, 6])
    api = HFLocalAPI(str(tiny_llama), options=HFOptions(batch_size=2))
    shuffled = _ask(api, prompts[::-1], hot, [6, 5, 4, 3, 2, 1])[::-1]
    assert together == shuffled
    api = HFLocalAPI(str(tiny_llama), options=HFOptions(batch_size=6))
    other = _ask(api, prompts, hot, [11, 12, 13, 14, 15, 16])
    assert other != together


def test_options_are_checked(tiny_llama, tmp_path):
    with pytest.raises(ConfigError, match="bad hf option.*batch_size"):
        create_model(f"hf/{tiny_llama}", {"batch_size": 0})
    with pytest.raises(ConfigError, match="max_concurency"):
        create_model(f"hf/{tiny_llama}", {"max_concurency": 2})
    with pytest.raises(ConfigError, match="hf backend has no JSON mode"):
        create_model(f"hf/{tiny_llama}", {"json_mode": "object"})
    with pytest.raises(ConfigError, match="drop --base-url"):
        create_model(f"hf/{tiny_llama}", {"base_url": "http://127.0.0.1:1/v1"})
    rec = create_model(f"hf/{tmp_path / 'missing'}", {})
    with pytest.raises(Exception, match="no such model directory"):
        rec.check()
    rec = create_model(f"hf/{tiny_llama}", {"adapter": str(tmp_path)})
    with pytest.raises(Exception, match="not a LoRA adapter directory"):
        rec.check()


def test_the_cache_key_follows_the_adapter_files(tiny_llama, point_sft, tmp_path):
    out = tmp_path / "ad"
    assert invoke(tiny_train_args(tiny_llama, point_sft[0], out, "max_steps=1")).exit_code == 0
    before = HFLocalAPI(str(tiny_llama), options=HFOptions(adapter=str(out))).endpoint
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert HFLocalAPI(str(tiny_llama), options=HFOptions(adapter=str(copy))).endpoint == before  # same files, same answers
    from safetensors.torch import load_file, save_file

    weights = load_file(copy / "adapter_model.safetensors")
    first = sorted(weights)[0]
    weights[first] = weights[first] + 1e-3  # retrained in place
    save_file(weights, copy / "adapter_model.safetensors")
    assert HFLocalAPI(str(tiny_llama), options=HFOptions(adapter=str(copy))).endpoint != before
    assert HFLocalAPI(str(tiny_llama)).endpoint != before


def test_run_and_rerun_through_the_runner(tiny_llama, sft_bench, tmp_path):
    args = ["run", "--bench", str(sft_bench), "--model", f"hf/{tiny_llama}", "--method", "list", "--out",
            str(tmp_path / "run"), "--levels", "easy", "--limit", "3", "--k", "1", "--temperature", "0",
            "--max-tokens", "6", "--option", "max_parse_retries=0", "--option", "batch_size=3", "--no-progress"]
    first = invoke(args)
    assert first.exit_code == 0, first.output
    assert "of 3 questions" in first.output and "req 3 " in first.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model_config"]["provider"]["endpoint"].startswith("hf:")
    again = invoke([*args, "--retry-failed", "all"])  # replies come from the cache: no model is loaded
    assert again.exit_code == 0 and "req 0 " in again.output and "cached 3" in again.output
