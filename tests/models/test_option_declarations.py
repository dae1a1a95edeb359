"""Each option is declared once (`models.options.option`); the identity config, the sweep
axes, the SFT prompt config and the CLI flags are derived from the declarations."""

from __future__ import annotations

import asyncio
import typing
from pathlib import Path

import pytest
from helpers.cli import invoke
from typer.main import get_command

from perrecbench.cli.llm_flags import flag_specs, flag_type, option_value, param_name
from perrecbench.cli.main import app
from perrecbench.errors import ConfigError
from perrecbench.models.baselines import BASELINES
from perrecbench.models.llm.options import (
    IDENTITY,
    PROMPT_IDENTITY,
    SWEEP_AXES,
    LLMOptions,
    unset_value,
)
from perrecbench.models.llm.recommender import create_llm_recommender
from perrecbench.models.options import ROLES, declared, names
from perrecbench.run.sweep import axis_defaults
from perrecbench.train.prompting import PROMPT_CONFIG

#: what run manifests record today (their identity, hence the cache keys): must not move
RECORDED = ("samples", "max_resamples", "pair_strategy", "cot", "shots", "shots_seed", "profile", "k",
            "rel_rating", "prompt_set", "describe_items")
#: the LLM flags each command accepts today (parameter names; `no_cache` is --no-cache)
RUN_FLAGS = {"base_url", "rpm", "tpm", "temperature", "top_p", "max_tokens", "seed", "samples", "stop",
             "json_mode", "timeout", "max_attempts", "no_cache", "cache_path", "log_prompts", "pair_strategy",
             "cot", "shots", "profile", "k", "rel_rating", "prompt_set", "prompt_variant", "templates",
             "describe_items", "prices"}
SWEEP_FLAGS = {"base_url", "rpm", "tpm", "timeout", "max_attempts", "no_cache", "cache_path", "prices",
               "templates"}


def test_every_llm_option_declares_a_role_and_help():
    for spec in declared(LLMOptions).values():
        assert spec.role in ROLES and spec.help, spec.name
        assert not (spec.role == "transport" and (spec.identity or spec.sweep)), spec.name


def test_the_identity_config_is_the_declared_identity_options():
    assert IDENTITY == RECORDED
    config = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1"}).config()
    assert list(config) == ["backend", "generation", *IDENTITY]
    rating = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1",
                                                    "prompt_set": "rating-wang", "templates": "x"}).config()
    assert rating["prompt_variant"] == 0  # recorded only for the rating families (declared identity=False)


def test_sweep_axes_are_the_declared_sweepable_options():
    assert set(SWEEP_AXES) == set(names(LLMOptions)) - set(names(LLMOptions, role="transport")) - {"stop",
                                                                                                    "templates"}
    base = axis_defaults("openai/m", list(SWEEP_AXES))
    # unset decoding is the release's when it is one value for every method
    assert (base["temperature"], base["top_p"], base["max_tokens"], base["seed"]) == (0.1, 1.0, None, None)
    assert base["k"] == 4 and base["json_mode"] == "off" and base == {a: unset_value(a) for a in SWEEP_AXES}
    with pytest.raises(ConfigError, match="an LLM sweep varies"):
        axis_defaults("openai/m", ["rpm"])


def test_baseline_sweep_axes_and_defaults_come_from_its_declaration():
    cf = BASELINES["cf"]
    assert cf.DEFAULTS == {"k": 20, "shrinkage": 10.0, "min_corater": 2}
    assert axis_defaults("baseline/cf", ["shrinkage"]) == {"shrinkage": 10.0}
    assert all(s.help and s.role == "method" for s in declared(cf.Options).values())
    with pytest.raises(ConfigError, match="baseline/cf: bad option"):
        cf({"k": -1})
    with pytest.raises(ConfigError, match=r"baseline/cf: unknown option\(s\) kk \(valid: k, min_corater, shrinkage\)"):
        cf({"kk": 1})


def test_sft_prompt_config_is_the_declared_prompt_identity():
    assert PROMPT_CONFIG == PROMPT_IDENTITY == ("cot", "shots", "shots_seed", "profile", "k", "rel_rating",
                                                "prompt_set", "describe_items")


def _params(command):
    return {p.name: p for p in get_command(app).commands[command].params}


@pytest.mark.parametrize(("command", "expected"), [("run", RUN_FLAGS), ("sweep", SWEEP_FLAGS)])
def test_cli_llm_flags_are_the_declared_ones(command, expected):
    specs = flag_specs(command)
    assert {param_name(s) for s in specs} == expected
    params = _params(command)
    for spec in specs:
        p = params[param_name(spec)]
        flag = spec.flag
        spelled = list(flag.names) or [f"--{param_name(spec).replace('_', '-')}"]
        assert p.opts == spelled, spec.name
        assert (p.min, p.max) == (flag.min, flag.max), spec.name
        assert getattr(p.callback, "__name__", None) == flag.check, spec.name  # a `cli.bounds` check
        assert spec.help in p.help, spec.name
        kind = flag_type(spec)
        if kind is bool:
            assert p.is_flag
        elif kind == list[str]:
            assert p.multiple
        else:
            assert p.type_descriptor.annotation in typing.get_args(kind), spec.name
    # the defaults the help states come from the declarations
    assert params["timeout"].help.endswith("(default 120)")
    assert params["max_attempts"].help.endswith("(default 6)")
    if command == "run":
        assert params["max_tokens"].help.endswith("(default 800, pair 512 as released)")
        assert params["k"].help.endswith("(default 4)")


def test_flag_values_reach_the_request_as_options(monkeypatch, tmp_path):
    """What the command hands `RunRequest.llm_flags`: set flags as option values, the rest None."""
    import perrecbench.run.plan as plan

    seen = {}

    class Stop(Exception):
        pass

    def capture(cls, *args):
        seen.update(args[-1])  # from_text's last argument: the LLM flags
        raise Stop

    monkeypatch.setattr(plan.RunRequest, "from_text", classmethod(capture))
    with pytest.raises(Stop):
        invoke(["run", "--bench", str(tmp_path), "--model", "openai/m", "--method", "point", "--out",
                str(tmp_path / "o"), "--no-cache", "--cot", "--stop", "A", "--stop", "B", "--cache-path",
                str(tmp_path / "c.sqlite"), "--k", "2", "--temperature", "0"])
    assert {k: v for k, v in seen.items() if v is not None} == {
        "cache": False, "cot": True, "stop": ["A", "B"], "cache_path": str(tmp_path / "c.sqlite"), "k": 2,
        "temperature": 0.0}
    assert set(seen) == {s.name for s in flag_specs("run")}
    spec = declared(LLMOptions)["rel_rating"]
    assert option_value(spec, False) is None and option_value(spec, True) is True
    assert option_value(declared(LLMOptions)["templates"], Path("t")) == "t"


def test_a_provider_is_made_through_its_constructor_contract():
    from perrecbench.models.llm.providers import create_provider, register_plugin
    from perrecbench.models.llm.providers.base import ModelAPI

    made = []

    class Recording(ModelAPI):
        backend = "recording-test"

        def __init__(self, model, base_urls=None, options=None, concurrency=8):
            super().__init__(model, base_urls, options, concurrency)
            made.append((model, list(base_urls or []), self.options, concurrency))

        @property
        def endpoint(self):
            return "recording:" + self.model

        async def generate(self, messages, config, seed):
            raise AssertionError("no request")

    register_plugin("recording-test", Recording)
    api = create_provider("recording-test", "m1", ["http://x"], {}, 3)
    assert made == [("m1", ["http://x"], Recording.Options(), 3)] and api.concurrency == 3
    assert api.connection_key() == create_provider("recording-test", "m1").connection_key()
    assert api.connection_key() != create_provider("recording-test", "m2").connection_key()


def test_recommenders_with_equal_connection_keys_share_one_connection(tmp_path):
    """Cells of a sweep share one pool: equal keys -> one provider, one limiter, one cache,
    closed when the last holder lets go; another key (another cache) -> its own."""
    from perrecbench.models.llm.connection import ConnectionPool

    base = {"base_url": "http://127.0.0.1:9/v1", "cache_path": str(tmp_path / "c.sqlite")}
    pool = ConnectionPool()
    recs = [create_llm_recommender("openai", "m", {**base, "k": k}) for k in (1, 2)]
    other = create_llm_recommender("openai", "m", {**base, "cache_path": str(tmp_path / "d.sqlite")})
    for r in (*recs, other):
        r.pool = pool
        r.connect()
    a, b = (r.client for r in recs)
    assert recs[0].connection_key() == recs[1].connection_key() != other.connection_key()
    assert a.api is b.api and a.limiter is b.limiter and a.cache is b.cache
    assert other.client.api is not a.api and other.client.cache is not a.cache

    async def close(r):
        await r.aclose()

    asyncio.run(close(recs[0]))
    assert not recs[1]._connection.closed  # still held by the second cell
    asyncio.run(close(recs[1]))
    assert recs[1]._connection.closed
    asyncio.run(close(other))
