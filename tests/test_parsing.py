"""The one `key=value` parser (`perrecbench.parsing`): the variations the four flags need
are parameters, and bad input is one `ConfigError` line naming the flag."""

from __future__ import annotations

import pytest

from perrecbench.errors import ConfigError, validation_message
from perrecbench.parsing import (
    json_or_text,
    parse_key_values,
    parse_levels,
    word_list,
    yaml_or_text,
)
from perrecbench.run.plan import parse_option_pairs
from perrecbench.run.sweep import parse_axis
from perrecbench.train.config import parse_overrides


def test_values_are_typed_by_the_given_function():
    pairs = ["max-tokens=64", "stop=[\"x\"]", "name=plain text", "on=true"]
    assert parse_key_values(pairs, "--option") == [
        ("max_tokens", 64), ("stop", ["x"]), ("name", "plain text"), ("on", True)]
    assert parse_key_values(["lr=0.5", "mods=[q_proj, v_proj]", "empty="], "--set", yaml_or_text) == [
        ("lr", 0.5), ("mods", ["q_proj", "v_proj"]), ("empty", None)]
    assert parse_key_values(["k=1, 2,4,2", "cot=off,on"], "--vary", word_list) == [
        ("k", [1, 2, 4]), ("cot", [False, True])]
    assert json_or_text("{not json") == "{not json"


def test_dashes_in_keys_are_kept_when_asked():
    assert parse_key_values(["n-users=3"], "--option", underscores=False) == [("n-users", 3)]
    assert parse_key_values(["n-users=3"], "--option") == [("n_users", 3)]


@pytest.mark.parametrize("text", ["novalue", "=3", " =3"])
def test_a_pair_without_key_or_sign_names_the_flag(text):
    with pytest.raises(ConfigError, match=f"--option expects key=value, got '{text}'"):
        parse_key_values([text], "--option")


def test_need_value_and_the_expected_form():
    with pytest.raises(ConfigError, match=r"--vary expects SETTING=V1,V2,\.\.\., got 'k='"):
        parse_key_values(["k="], "--vary", word_list, expects="SETTING=V1,V2,...", need_value=True)


def test_the_four_flags_share_it():
    assert parse_option_pairs(["max-tokens=8", "x=a"]) == {"max_tokens": 8, "x": "a"}
    assert parse_overrides(["lora.r=8", "bf16=false"]) == [("lora.r", 8), ("bf16", False)]
    assert parse_axis("prompt-set=default,official") == ("prompt_set", ["default", "official"])
    for bad, call in (("x", parse_option_pairs), ("x", parse_overrides)):
        with pytest.raises(ConfigError):
            call([bad])
    with pytest.raises(ConfigError, match="--vary"):
        parse_axis("k=")


def test_levels():
    assert parse_levels("easy, hard") == ["easy", "hard"] and parse_levels(None) is None and parse_levels("") is None
    with pytest.raises(ConfigError, match=r"unknown level\(s\) \['extreme'\]"):
        parse_levels("easy,extreme")


def test_one_validation_message():
    from pydantic import BaseModel, ValidationError

    class M(BaseModel):
        a: int
        b: dict[str, int] = {}

    with pytest.raises(ValidationError) as info:
        M(a="x", b={"k": "y"})
    assert validation_message(info.value) == ("a: Input should be a valid integer, unable to parse string as an "
                                              "integer; b.k: Input should be a valid integer, unable to parse "
                                              "string as an integer")
    with pytest.raises(ValidationError) as info:
        M.model_validate(3)
    assert validation_message(info.value).startswith("value: ")
