"""`perrecbench run` options end to end: pair strategy, self-consistency samples and seeds,
request/token rate limits, and decoding options on the wire (a real loopback server)."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

import pytest
from helpers.cli import invoke as cli_invoke
from helpers.cli import predictions as _preds
from helpers.cli import run_args as _args
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI, Handler

from perrecbench.run.rundir import RunDir

#: members per question at each level of the tiny benchmark (4 test questions per level)
SIZES = {"easy": 2, "medium": 3, "hard": 4}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


class _RecordingHandler(Handler):
    """The fake server's handler, keeping each request's JSON body (the server's own log
    has no top_p or stop)."""

    bodies: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/control":
            self.bodies.append(json.loads(raw))
        keep, self.rfile = self.rfile, io.BytesIO(raw)
        try:
            super().do_POST()
        finally:
            self.rfile = keep  # the connection's next request reads from the socket again


@pytest.fixture
def server():
    srv = FakeOpenAI()
    handler = type("Recording", (_RecordingHandler,), {"bodies": []})
    srv.httpd.RequestHandlerClass = handler
    srv.bodies = handler.bodies
    with srv:
        yield srv


def invoke(args):
    """Every run here must succeed."""
    result = cli_invoke(args)
    assert result.exit_code == 0, result.output
    return result


def _level(qid: str) -> str:
    return qid.split("-")[1]  # test-<level>-<j>


def _calls(out):
    return [json.loads(line) for line in (Path(out) / "calls.jsonl").read_text().splitlines()]


def _span(log) -> float:
    ts = sorted(e["t"] for e in log)
    return ts[-1] - ts[0]


# -- pair strategy ------------------------------------------------------------------------


def test_allpairs_asks_every_pair_in_both_orders(bench, server, tmp_path):
    invoke(_args(bench, tmp_path / "all", "pair", server.url, "--pair-strategy", "allpairs", "--no-cache"))
    allp = _preds(tmp_path / "all")
    assert len(allp) == 12 and all(p.ok for p in allp.values())
    for qid, p in allp.items():
        n = SIZES[_level(qid)]
        assert p.n_calls == n * (n - 1) and p.n_failed_calls == 0
        assert p.pairs.strategy == "allpairs" and p.pairs.asked == n * (n - 1) // 2
        # the fake server judges by a fixed order of users, the same in both positions
        assert p.pairs.inconsistency_rate == 0.0 and p.pairs.inconsistent == 0
        assert sorted(p.order) == list(range(n))
        assert sum(p.scores) == n * (n - 1) / 2  # Copeland: one point per pair
    assert server.stats()["requests"] == sum(p.n_calls for p in allp.values()) == 4 * (2 + 6 + 12)
    # both orders of every pair reached the server
    calls = _calls(tmp_path / "all")
    for qid in allp:
        sent = {(c["pair"][0], c["pair"][1], c["order"]) for c in calls
                if c["question_id"] == qid and c["status"] == "ok"}
        n = SIZES[_level(qid)]
        assert sent == {(a, b, o) for a in range(n) for b in range(a + 1, n) for o in ("ab", "ba")}

    invoke(_args(bench, tmp_path / "heap", "pair", server.url, "--no-cache"))
    heap = _preds(tmp_path / "heap")
    assert all(p.ok and p.pairs.strategy == "heap" for p in heap.values())
    for qid in allp:
        assert allp[qid].n_calls >= heap[qid].n_calls
        # a consistent, transitive judge: both aggregations give the same order
        assert allp[qid].order == heap[qid].order
    assert sum(p.n_calls for p in allp.values()) > sum(p.n_calls for p in heap.values())
    assert RunDir(tmp_path / "all").read_manifest().recommender_config["pair_strategy"] == "allpairs"


# -- self-consistency samples and seeds -----------------------------------------------------


def test_samples_send_one_request_per_sample_with_seed_plus_index(bench, server, tmp_path):
    invoke(_args(bench, tmp_path / "s1", "point", server.url, "--no-cache", "--seed", "5"))
    one = server.stats()
    assert one["requests"] == 4 * (2 + 3 + 4)
    assert {e["seed"] for e in one["log"]} == {5}
    server.configure(reset=True)

    invoke(_args(bench, tmp_path / "s3", "point", server.url, "--no-cache", "--seed", "5", "--samples", "3"))
    three = server.stats()
    assert three["requests"] == 3 * one["requests"]
    seeds = defaultdict(list)
    for e in three["log"]:
        seeds[e["prompt"]].append(e["seed"])
    assert len(seeds) == one["requests"]  # the same prompts, each asked three times
    assert all(sorted(s) == [5, 6, 7] for s in seeds.values())
    for qid, p in _preds(tmp_path / "s3").items():
        n = SIZES[_level(qid)]
        assert p.ok and p.n_calls == 3 * n
        assert [len(a) for a in p.sample_answers] == [3] * n
    assert RunDir(tmp_path / "s3").read_manifest().recommender_config["samples"] == 3


# -- rate limits ----------------------------------------------------------------------------


def test_rpm_spaces_requests_beyond_the_first_minutes_burst(bench, server, tmp_path):
    """The request bucket starts full (one minute's worth: `rpm` requests go at once), then
    refills at rpm/60 per second: request k (0-based) waits until (k + 1 - rpm) * 60 / rpm."""
    rpm, n = 138, 4 * 36  # point, 4 samples: 144 requests, 6 beyond the burst
    invoke(_args(bench, tmp_path / "rpm", "point", server.url, "--no-cache", "--samples", "4",
                 "--rpm", str(rpm)))
    log = server.stats()["log"]
    assert len(log) == n and all(e["status"] == 200 for e in log)
    ts = sorted(e["t"] for e in log)
    expected = (n - rpm) * 60 / rpm  # 2.6 s; without a limit all arrive within a fraction of that
    assert ts[-1] - ts[0] >= 0.8 * expected
    for k in range(rpm, n):  # every request past the burst waited its turn
        assert ts[k] - ts[0] >= (k + 1 - rpm) * 60 / rpm - 0.5
    assert all(p.ok for p in _preds(tmp_path / "rpm").values())


def test_tpm_holds_requests_until_the_tokens_are_back(bench, server, tmp_path):
    """One request at a time, --max-tokens 1: each request takes about its prompt's tokens
    from the bucket (the rest of the estimate is given back with the reply's usage)."""
    common = ["--no-cache", "--max-concurrency", "1", "--max-tokens", "1"]
    invoke(_args(bench, tmp_path / "free", "list", server.url, *common))
    usage = [c["usage"] for c in _calls(tmp_path / "free")]
    used = [u["prompt_tokens"] + u["completion_tokens"] for u in usage]
    total = sum(used)
    assert len(used) == 12
    server.configure(reset=True)

    tpm = total / (1 + 3 / 60)  # the whole run needs ~3 s of refill beyond the full bucket
    invoke(_args(bench, tmp_path / "tpm", "list", server.url, *common, "--tpm", f"{tpm:.1f}"))
    log = server.stats()["log"]
    assert len(log) == 12
    # the last request waits until all but its own completion tokens are refilled
    expected = (total - max(u["completion_tokens"] for u in usage) - tpm) * 60 / tpm
    assert expected > 2
    assert _span(log) >= 0.8 * expected


# -- decoding options on the wire and in the manifest --------------------------------------


def test_stop_and_top_p_reach_the_request_and_the_manifest(bench, server, tmp_path):
    out = tmp_path / "sp"
    invoke(_args(bench, out, "list", server.url, "--levels", "easy", "--limit", "1",
                 "--stop", "###", "--stop", "END", "--top-p", "0.5", "--temperature", "0.3"))
    (body,) = server.bodies
    assert body["stop"] == ["###", "END"] and body["top_p"] == 0.5 and body["temperature"] == 0.3
    generation = RunDir(out).read_manifest().recommender_config["generation"]
    assert set(generation) == {"point", "pair", "list"}
    for g in generation.values():
        assert g["stop"] == ["###", "END"] and g["top_p"] == 0.5 and g["temperature"] == 0.3
    assert generation["pair"]["max_tokens"] == 512 and generation["list"]["max_tokens"] == 800

    # the release's defaults when not given: top_p 1.0 sent, no stop
    invoke(_args(bench, tmp_path / "dflt", "list", server.url, "--levels", "easy", "--limit", "1"))
    assert server.bodies[1]["top_p"] == 1.0 and "stop" not in server.bodies[1]
    assert "stop" not in RunDir(tmp_path / "dflt").read_manifest().recommender_config["generation"]["list"]

    # both change the answer, so both are in the cache key: a new value is a new request
    invoke(_args(bench, tmp_path / "sp2", "list", server.url, "--levels", "easy", "--limit", "1",
                 "--stop", "###", "--stop", "END", "--top-p", "0.5", "--temperature", "0.3"))
    assert len(server.bodies) == 2  # same options: from the cache
    invoke(_args(bench, tmp_path / "sp3", "list", server.url, "--levels", "easy", "--limit", "1",
                 "--stop", "###", "--top-p", "0.5", "--temperature", "0.3"))
    assert len(server.bodies) == 3 and server.bodies[2]["stop"] == ["###"]


def test_stop_and_top_p_reach_the_anthropic_request(bench, server, tmp_path):
    pytest.importorskip("anthropic")
    args = _args(bench, tmp_path / "an", "list", server.url.removesuffix("/v1"), "--levels", "easy",
                 "--limit", "1", "--stop", "###", "--top-p", "0.5")
    args[args.index("openai/fake")] = "anthropic/claude-fake"
    invoke(args)
    (body,) = server.bodies
    assert body["stop_sequences"] == ["###"] and body["top_p"] == 0.5
    assert "stop" not in body and "seed" not in body
