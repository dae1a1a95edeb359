"""`perrecbench merge`: exact = the weighted average of the updates; naive = the release's average
of A and B; PEFT's other types by name; reloadable with PEFT and as a full model."""

from __future__ import annotations

import json

import pytest
from helpers.cli import invoke
from helpers.train_fixtures import tiny_train_args

from perrecbench.errors import ConfigError
from perrecbench.train.lora_weights import read_adapter, relative_error


@pytest.fixture(scope="module")
def adapters(tiny_llama, point_sft, tmp_path_factory):
    """Two adapters trained from different seeds: their A matrices start apart, so averaging
    A and B is visibly not averaging B @ A (from one seed they would look alike)."""
    root = tmp_path_factory.mktemp("adapters")
    outs = []
    for seed in (1, 2):
        out = root / f"seed{seed}"
        res = invoke(tiny_train_args(tiny_llama, point_sft[0], out, f"seed={seed}", "max_steps=3", "save_steps=10"))
        assert res.exit_code == 0, res.output
        outs.append(out)
    return outs


def _merge(adapters, out, method, *extra):
    res = invoke(["merge", *map(str, adapters), "--method", method, "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return read_adapter(out), res.output


@pytest.mark.parametrize("weights", [None, "3,7"])
def test_exact_is_the_weighted_average_of_the_updates_on_every_layer(adapters, tmp_path, weights):
    a, b = (read_adapter(p) for p in adapters)
    w = (0.5, 0.5) if weights is None else (0.3, 0.7)
    merged, output = _merge(adapters, tmp_path / "exact", "exact", *(["--weights", weights] if weights else []))
    assert merged.config["r"] == a.config["r"] + b.config["r"] == 32
    assert merged.modules == a.modules and len(a.modules) == 14  # 7 projections x 2 layers
    worst = max(relative_error(merged.delta(m), w[0] * a.delta(m) + w[1] * b.delta(m)) for m in a.modules)
    assert worst < 1e-6
    assert "max relative error" in output
    report = json.loads((tmp_path / "exact" / "merge_report.json").read_text())
    assert report["max_rel_error_vs_update_average"] < 1e-6 and report["weights"] == pytest.approx(list(w))


def test_naive_is_the_elementwise_average_and_not_the_update_average(adapters, tmp_path):
    a, b = (read_adapter(p) for p in adapters)
    merged, _ = _merge(adapters, tmp_path / "naive", "naive")
    assert merged.config["r"] == 16 and merged.tensors.keys() == a.tensors.keys()
    for k, t in merged.tensors.items():
        assert float((t - (a.tensors[k] + b.tensors[k]) / 2).abs().max()) < 1e-7
    worst = max(relative_error(merged.delta(m), (a.delta(m) + b.delta(m)) / 2) for m in a.modules)
    assert worst > 0.1  # different seeds: avg(B) avg(A) is far from avg(B A)


@pytest.mark.parametrize("method", ["linear", "svd", "ties"])
def test_peft_combination_types_run_by_name_and_are_not_exact(adapters, tmp_path, method):
    a, b = (read_adapter(p) for p in adapters)
    merged, _ = _merge(adapters, tmp_path / method, method)
    worst = max(relative_error(merged.delta(m), (a.delta(m) + b.delta(m)) / 2) for m in a.modules)
    assert worst > 1e-3


def test_merged_adapters_reload_with_peft_and_as_a_full_model(adapters, tiny_llama, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged, _ = _merge(adapters, tmp_path / "exact", "exact", "--full-model", str(tmp_path / "full"))
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), tmp_path / "exact")
    peft_model.eval()
    full = AutoModelForCausalLM.from_pretrained(tmp_path / "full")
    with torch.no_grad():
        via_peft, via_full, plain = (m(ids).logits for m in (peft_model, full, base))
    assert float((via_peft - via_full).abs().max()) < 1e-5
    assert float((via_full - plain).abs().max()) > 1e-4  # the update is really in there
    # the full model's weights are base + the merged update
    a, b = (read_adapter(p) for p in adapters)
    module = a.modules[0]
    name = module.removeprefix("base_model.model.") + ".weight"
    got = full.state_dict()[name].double() - base.state_dict()[name].double()
    assert relative_error(got, (a.delta(module) + b.delta(module)) / 2) < 1e-5
    assert (tmp_path / "full" / "tokenizer_config.json").exists()


def test_merge_errors_are_clear(adapters, tmp_path):
    with pytest.raises(ConfigError, match="two or more"):
        invoke(["merge", str(adapters[0]), "--method", "exact", "--out", str(tmp_path / "x")])
    with pytest.raises(ConfigError, match="unknown merge method 'average'"):
        invoke(["merge", *map(str, adapters), "--method", "average", "--out", str(tmp_path / "x")])
    with pytest.raises(ConfigError, match="2 weights for 3 adapters|3 weights for 2 adapters"):
        invoke(["merge", *map(str, adapters), "--method", "naive", "--weights", "1,2,3", "--out", str(tmp_path / "x")])
    with pytest.raises(Exception, match="not a LoRA adapter directory"):
        invoke(["merge", str(adapters[0]), str(tmp_path), "--method", "naive", "--out", str(tmp_path / "y")])
