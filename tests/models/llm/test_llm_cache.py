"""The response cache: golden key, what the key depends on, persistence, concurrent writers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import sqlite3

import pytest

from perrecbench.errors import ConfigError
from perrecbench.models.llm.cache import (
    ResponseCache,
    cache_key,
    canonical_json,
    default_cache_path,
)
from perrecbench.models.llm.config import GenerateConfig

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Rate: ü 5?"}]
OPTIONS = {"temperature": 0.1, "top_p": 1.0, "max_tokens": 800, "seed": 42}


def test_golden_key():
    key = cache_key("openai", "http://localhost:8000/v1", "llama-3.1-8b", MESSAGES, OPTIONS, 3)
    assert key == "v1:f33fb0b2002f1fcce762868b65cd6dfda8627f064b9b8d61167e1b45a573e45d"
    # the key is documented as sha256 of canonical JSON: users can recompute it by hand
    ident = {"backend": "openai", "base_url": "http://localhost:8000/v1", "model": "llama-3.1-8b",
             "messages": MESSAGES, "options": OPTIONS, "sample_index": 3}
    text = canonical_json(ident)
    assert " " not in text.replace("Be brief.", "").replace("Rate: ü 5?", "")
    assert key == "v1:" + hashlib.sha256(text.encode()).hexdigest()


def test_key_ignores_option_order_and_api_key(monkeypatch):
    a = cache_key("openai", "u", "m", MESSAGES, OPTIONS, 0)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other-secret")
    reordered = dict(reversed(list(OPTIONS.items())))
    assert cache_key("openai", "u", "m", MESSAGES, reordered, 0) == a


@pytest.mark.parametrize("change", ["backend", "endpoint", "model", "messages", "options", "sample"])
def test_key_changes_with_every_identity_field(change):
    args = {"backend": "openai", "endpoint": "u", "model": "m", "messages": MESSAGES,
            "options": OPTIONS, "sample_index": 0}
    base = cache_key(**args)
    new = dict(args)
    new.update({
        "backend": {"backend": "anthropic"},
        "endpoint": {"endpoint": "v"},
        "model": {"model": "m2"},
        "messages": {"messages": MESSAGES[:1]},
        "options": {"options": {**OPTIONS, "temperature": 0.7}},
        "sample": {"sample_index": 1},
    }[change])
    assert cache_key(**new) != base


def test_only_output_affecting_options_enter_the_key():
    a = GenerateConfig(temperature=0.1, max_tokens=10, timeout=5.0, n=1).output_options()
    b = GenerateConfig(temperature=0.1, max_tokens=10, timeout=99.0, n=3).output_options()
    assert a == b == {"temperature": 0.1, "max_tokens": 10}
    assert GenerateConfig(stop=("\n",)).output_options() == {"stop": ["\n"]}


def test_roundtrip_stats_and_clear(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    assert cache.get("v1:x") is None
    cache.put("v1:x", "openai", "m1", {"text": "hi", "raw": {"a": [1, 2]}})
    cache.put("v1:y", "openai", "m2", {"text": "yo"})
    cache.put("v1:z", "anthropic", "m1", {"text": "z"})
    assert cache.get("v1:x") == {"text": "hi", "raw": {"a": [1, 2]}}
    st = cache.stats()
    assert st["entries"] == 3 and set(st["models"]) == {"openai/m1", "openai/m2", "anthropic/m1"}
    assert cache.clear("openai/m1") == 1
    assert cache.get("v1:x") is None and cache.get("v1:z") is not None
    assert cache.clear() == 2
    assert cache.stats()["entries"] == 0
    cache.close()


def test_persists_across_instances_and_uses_wal(tmp_path):
    path = tmp_path / "c.sqlite"
    c1 = ResponseCache(path)
    c1.put("v1:k", "openai", "m", {"text": "kept"})
    c1.close()
    c2 = ResponseCache(path)
    assert c2.get("v1:k")["text"] == "kept"
    assert c2._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    c2.close()


def test_damaged_entry_is_a_miss(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("v1:k", "openai", "m", {"text": "x"})
    with sqlite3.connect(path) as db:
        db.execute("UPDATE responses SET response = '{not json'")
    assert cache.get("v1:k") is None
    cache.close()


def test_default_location_follows_home(monkeypatch, tmp_path):
    monkeypatch.setenv("PERRECBENCH_HOME", str(tmp_path / "h"))
    assert default_cache_path() == tmp_path / "h" / "cache.sqlite"


def test_unusable_location_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot open the response cache"):
        ResponseCache(blocker / "sub" / "c.sqlite")


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(path)
    for i in range(n):
        cache.put(f"v1:{worker}:{i}", "openai", f"m{worker}", {"text": json.dumps([worker, i])})
    cache.close()


def test_concurrent_writer_processes(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path).close()
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = ResponseCache(path)
    assert cache.stats()["entries"] == 600
    assert json.loads(cache.get("v1:3:149")["text"]) == [3, 149]
    cache.close()
