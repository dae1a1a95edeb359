"""LLM runner speed: `perrecbench run` against a local fake server with fixed latency.

Starts `tests/servers/fake_openai.py` in its own process (default 100 ms per answer),
builds (or reuses) the default synthetic benchmark (3 levels x 200 test questions),
and runs `perrecbench run` for point, pair and list at concurrency 32, each as a real
CLI process with a fresh cache. For each it prints wall time next to

* the ideal: requests x latency / concurrency (a perfectly packed pipe), and
* one request at a time: measured on the first `--seq-limit` questions per level with
  --max-concurrency 1, then extrapolated per request to the full run (stated as such),

then reruns all three into new run directories from the cache (target: < 5 s, zero
requests), runs list once more at a realistic 1 s latency, and optionally writes the
table into docs/performance.md under "## LLM runner" (other sections are kept).

    python benchmarks/run_speed.py [--workdir /tmp/prb-run-speed] [--latency 0.1]
                                   [--concurrency 32] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "servers" / "fake_openai.py"
DOCS = REPO / "docs" / "performance.md"
METHODS = ("point", "pair", "list")
TARGET_RATIO = 1.3
TARGET_CACHED_S = 5.0
#: earlier results of this script, kept in the report so changes can be compared
HISTORY = [
    "Before the speed-ups of BM25 retrieval, context loading and batched writes (same machine and "
    "settings, load average 1.12): requests phase 27.3 s = 1.54x of ideal, whole processes 37.2 s = "
    "2.10x (start-up 2.3-3.1 s per process), cached re-run 10.4 s (point 4.4 s, pair 3.3 s, list 2.7 s).",
    "",
]


def build_bench(path: Path) -> None:
    """The default synthetic benchmark: `perrecbench build --source synthetic`, or the
    library route when this checkout's CLI does not offer that source yet."""
    if (path / "manifest.json").exists():
        return
    cmd = [sys.executable, "-m", "perrecbench.cli.main", "build", "--source", "synthetic", "--out", str(path),
           "--no-progress"]
    if subprocess.run(cmd, capture_output=True, text=True).returncode == 0:
        return
    shutil.rmtree(path, ignore_errors=True)
    import duckdb

    from perrecbench.build.builder import build_benchmark
    from perrecbench.build.params import BuildParams
    from perrecbench.data.synthetic import generate

    _, reviews, items = generate({"seed": 0})
    con = duckdb.connect()
    con.register("_r", reviews)
    con.register("_i", items)
    con.execute("CREATE TABLE raw_reviews AS SELECT * FROM _r")
    con.execute("CREATE TABLE raw_items AS SELECT * FROM _i")
    build_benchmark(con, BuildParams(seed=0), path)
    con.close()


class Server:
    """The fake server in its own process, so it does not share the runner's CPU."""

    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0", "--latency", str(latency)],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def requests(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats") as resp:
            return int(json.load(resp)["requests"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run_cli(bench: Path, out: Path, method: str, url: str, concurrency: int, home: Path,
            limit: int | None = None) -> dict:
    """One `perrecbench run` process: wall seconds (start-up included), when it started
    (epoch), and its output."""
    cmd = [sys.executable, "-m", "perrecbench.cli.main", "run", "--bench", str(bench), "--model",
           "openai/fake", "--method", method, "--out", str(out), "--base-url", url,
           "--max-concurrency", str(concurrency), "--no-progress"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "PERRECBENCH_HOME": str(home)}
    started = time.time()
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"perrecbench run failed:\n{res.stdout}\n{res.stderr}")
    return {"wall_s": wall, "cpu_s": _children_cpu() - cpu0, "started": started,
            "output": res.stdout + res.stderr}


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def answer_times(calls: Path) -> list[float]:
    """When each successful request's answer arrived (calls.jsonl `ts`), sorted."""
    return sorted(json.loads(line)["ts"] for line in calls.read_text().splitlines() if '"status": "ok"' in line)


def one_run(server: Server, bench: Path, work: Path, name: str, method: str, concurrency: int,
            latency: float, limit: int | None = None) -> dict:
    """Run one method with a fresh cache; split its wall time into start-up and requests."""
    home, out = work / f"home-{name}", work / f"run-{name}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    before = server.requests()
    res = run_cli(bench, out, method, server.url, concurrency, home, limit)
    ts = answer_times(out / "calls.jsonl")
    requests = server.requests() - before
    first_sent = ts[0] - latency
    return {
        "method": method, "requests": requests, "wall_s": res["wall_s"], "cpu_s": res["cpu_s"],
        "startup_s": first_sent - res["started"],  # interpreter, imports, benchmark, SDK
        "phase_s": ts[-1] - first_sent,  # first request sent .. last answer
        "ideal_s": requests * latency / concurrency,
        "gap_s": (ts[-1] - ts[0]) / max(len(ts) - 1, 1),  # between answers
        "home": home,
    }


def measure(args: argparse.Namespace) -> dict:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    bench = work / "bench"
    t0 = time.perf_counter()
    build_bench(bench)
    print(f"benchmark: {bench} (ready in {time.perf_counter() - t0:.1f} s)")
    n_questions = sum(len((bench / f"test-{lv}.jsonl").read_text().splitlines()) for lv in ("easy", "medium", "hard"))
    server = Server(args.latency)
    rows, cached = [], []
    try:
        for method in METHODS:
            row = one_run(server, bench, work, method, method, args.concurrency, args.latency)
            # one request at a time on a subset; the time between answers, times all requests
            seq = one_run(server, bench, work, f"seq-{method}", method, 1, args.latency, args.seq_limit)
            row["sequential_s"] = seq["gap_s"] * row["requests"]
            row["seq_requests"] = seq["requests"]
            rows.append(row)
            print(f"{method:<5} {row['requests']:>6} requests  wall {row['wall_s']:5.1f} s  (start-up "
                  f"{row['startup_s']:.1f} s, requests {row['phase_s']:.1f} s)  ideal {row['ideal_s']:5.1f} s  "
                  f"one at a time ~{row['sequential_s']:.0f} s (from {seq['requests']} requests)")
        for method in METHODS:
            out = work / f"cached-{method}"
            shutil.rmtree(out, ignore_errors=True)
            before = server.requests()
            res = run_cli(bench, out, method, server.url, args.concurrency, work / f"home-{method}")
            cached.append({"method": method, "wall_s": res["wall_s"], "requests": server.requests() - before})
            print(f"cached {method:<5} {res['wall_s']:5.2f} s, {cached[-1]['requests']} requests")
    finally:
        server.stop()
    slow = None
    if args.slow_latency:
        server = Server(args.slow_latency)
        try:
            slow = one_run(server, bench, work, "slow-list", "list", args.concurrency, args.slow_latency)
        finally:
            server.stop()
        print(f"list at {args.slow_latency:g} s latency: wall {slow['wall_s']:.1f} s, requests "
              f"{slow['phase_s']:.1f} s, ideal {slow['ideal_s']:.1f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"rows": rows, "cached": cached, "slow": slow, "questions": n_questions, "latency": args.latency,
            "load": load, "date": time.strftime("%Y-%m-%d"),
            "slow_latency": args.slow_latency, "concurrency": args.concurrency, "seq_limit": args.seq_limit}


def report(res: dict) -> str:
    rows, cached, slow = res["rows"], res["cached"], res["slow"]
    tot = {k: sum(r[k] for r in rows) for k in ("requests", "wall_s", "cpu_s", "startup_s", "phase_s",
                                                "ideal_s", "sequential_s")}
    cached_wall = sum(c["wall_s"] for c in cached)
    cached_req = sum(c["requests"] for c in cached)
    load = res.get("load", float("nan"))
    lines = [
        "## LLM runner",
        "",
        f"`python benchmarks/run_speed.py --write-docs` — measured {res.get('date', '?')} on "
        f"{platform.machine()} with {os.cpu_count()} CPU cores (load average {load:.2f} at the end), "
        f"Python {platform.python_version()}. Default synthetic benchmark ({res['questions']} test questions: "
        "3 levels x 200); fake OpenAI-compatible server `tests/servers/fake_openai.py` in its own process, "
        f"answering after {res['latency'] * 1000:.0f} ms; `perrecbench run --max-concurrency {res['concurrency']}` "
        "as a real CLI process per method, fresh cache.",
        "",
        "* *wall*: the whole process. *start-up*: process start to first request sent (interpreter and "
        "imports, loading the benchmark context, importing the OpenAI SDK). *requests*: first request sent "
        "to last answer. *ideal*: requests x latency / concurrency.",
        f"* *one at a time*: `--max-concurrency 1` on the first {res['seq_limit']} questions per level; "
        "the mean time between answers, multiplied by the full run's requests (an extrapolation).",
        "",
        "| method | requests | wall | runner CPU | start-up | requests phase | ideal | wall / ideal "
        "| requests / ideal | one at a time (extrapolated) | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*rows, {"method": "**all**", **tot}]:
        lines.append(
            f"| {r['method']} | {r['requests']} | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s | {r['startup_s']:.1f} s | "
            f"{r['phase_s']:.1f} s | {r['ideal_s']:.1f} s | {r['wall_s'] / r['ideal_s']:.2f}x | "
            f"{r['phase_s'] / r['ideal_s']:.2f}x | {r['sequential_s']:.0f} s | {r['sequential_s'] / r['wall_s']:.0f}x |"
        )
    ok_wall = tot["wall_s"] / tot["ideal_s"] <= TARGET_RATIO
    ok_phase = tot["phase_s"] / tot["ideal_s"] <= TARGET_RATIO
    lines += [
        "",
        f"Target within {TARGET_RATIO}x of ideal: whole processes {'met' if ok_wall else 'NOT met'} "
        f"({tot['wall_s'] / tot['ideal_s']:.2f}x), requests phase {'met' if ok_phase else 'NOT met'} "
        f"({tot['phase_s'] / tot['ideal_s']:.2f}x).",
        "",
        f"Why: the runner process used {tot['cpu_s']:.1f} s of CPU for {tot['requests']} requests "
        f"({1000 * tot['cpu_s'] / tot['requests']:.1f} ms each, start-up included) against "
        f"{tot['ideal_s']:.1f} s of ideal wall time, i.e. it needs about one full core (the machine has "
        f"{os.cpu_count()}, one of them also serving the fake server). Profiles of the requests phase put "
        "most of it in the OpenAI SDK's HTTP stack (httpx2, httpcore2, anyio, h11: ~2.5-3 ms per request); "
        "BM25 retrieval is ~0.3 ms per user block (scores bit for bit equal to rank_bm25, computed only "
        "where a query token occurs), and cache rows, call-log lines and predictions are written in "
        "batches every 0.2 s. Each process also pays a fixed start-up (the start-up column): interpreter "
        "and imports ~0.6 s, loading the benchmark context ~0.25 s, importing the OpenAI SDK and building "
        "its clients ~1 s (skipped when every answer is cached). With a real LLM (seconds per answer) "
        "the CPU is no longer the limit -- see the 1 s row below.",
    ]
    if slow:
        lines += [
            "",
            f"Same list run with the server answering after {res['slow_latency']:g} s (closer to a real LLM): "
            f"{slow['requests']} requests, wall {slow['wall_s']:.1f} s, requests phase {slow['phase_s']:.1f} s, "
            f"ideal {slow['ideal_s']:.1f} s ({slow['phase_s'] / slow['ideal_s']:.2f}x).",
        ]
    lines += [
        "",
        f"Fully cached re-run (same cache, new run directories): {cached_wall:.1f} s for the three processes ("
        + ", ".join(f"{c['method']} {c['wall_s']:.1f} s" for c in cached)
        + f"), {cached_req} requests. Target: the three together < {TARGET_CACHED_S:.0f} s with zero requests: "
        + _verdict(cached_wall, max(c["wall_s"] for c in cached), cached_req)
        + ". Each process is measured whole (start-up included), as a user runs one process per method; "
        "the target is for the sum. A cached run still loads the benchmark and rebuilds every prompt "
        "(BM25 retrieval included) to compute the cache keys; the SDK is not imported.",
        "",
        *HISTORY,
    ]
    return "\n".join(lines)


def _verdict(total: float, worst: float, requests: int) -> str:
    if requests:
        return f"NOT met ({requests} requests were sent)"
    if total < TARGET_CACHED_S:
        return "met (all three processes together)"
    if worst < TARGET_CACHED_S:
        return f"NOT met (each process alone is under {TARGET_CACHED_S:.0f} s, the three together are not)"
    return "NOT met"


def write_docs(section: str) -> None:
    """Replace (or add) the "## LLM runner" section; keep every other section."""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n\n"
    pattern = re.compile(r"^## LLM runner\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/prb-run-speed")
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seq-limit", type=int, default=10, help="questions per level for the sequential sample")
    ap.add_argument("--slow-latency", type=float, default=1.0,
                    help="also run list at this server latency (0 to skip)")
    ap.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    ap.add_argument("--from-json", help="report the measurements saved by an earlier run (no measuring)")
    args = ap.parse_args()
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
    else:
        res = measure(args)
        saved = Path(args.workdir) / "results.json"
        saved.write_text(json.dumps(res, default=str, indent=1))
        print(f"measurements saved to {saved}")
    section = report(res)
    print()
    print(section)
    if args.write_docs:
        write_docs(section)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
