"""LLM runner speed: `perrecbench run` against a local fake server with fixed latency.

Starts `tests/servers/fake_openai.py` in its own process (default 100 ms per answer),
builds (or reuses) the default synthetic benchmark (3 levels x 200 test questions),
and runs `perrecbench run` for point, pair and list at concurrency 32, each as a real
CLI process with a fresh cache. For each it prints wall time next to

* the ideal: requests x latency / concurrency (a perfectly packed pipe), and
* one request at a time: measured on the first `--seq-limit` questions per level with
  --max-concurrency 1, then extrapolated per request to the full run (stated as such),

then reruns all three into new run directories from the cache (target: < 5 s in all,
zero requests), and optionally writes the table into docs/performance.md under
"## LLM runner" (other sections are left as they are).

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
            limit: int | None = None) -> tuple[float, str]:
    """Wall seconds of one `perrecbench run` process (startup included), and its output."""
    cmd = [sys.executable, "-m", "perrecbench.cli.main", "run", "--bench", str(bench), "--model",
           "openai/fake", "--method", method, "--out", str(out), "--base-url", url,
           "--max-concurrency", str(concurrency), "--no-progress"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "PERRECBENCH_HOME": str(home)}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"perrecbench run failed:\n{res.stdout}\n{res.stderr}")
    return wall, res.stdout + res.stderr


def measure(args: argparse.Namespace) -> dict:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    bench = work / "bench"
    t0 = time.perf_counter()
    build_bench(bench)
    print(f"benchmark: {bench} (ready in {time.perf_counter() - t0:.1f} s)")
    n_questions = sum(len((bench / f"test-{lv}.jsonl").read_text().splitlines()) for lv in ("easy", "medium", "hard"))
    server = Server(args.latency)
    rows = []
    try:
        for method in METHODS:
            home = work / f"home-{method}"
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(work / f"run-{method}", ignore_errors=True)
            before = server.requests()
            wall, out_full = run_cli(bench, work / f"run-{method}", method, server.url, args.concurrency, home)
            requests = server.requests() - before
            ideal = requests * args.latency / args.concurrency
            # one request at a time, on a subset, extrapolated per request
            seq_home = work / f"home-seq-{method}"
            shutil.rmtree(seq_home, ignore_errors=True)
            shutil.rmtree(work / f"seq-{method}", ignore_errors=True)
            before = server.requests()
            run_cli(bench, work / f"seq-{method}", method, server.url, 1, seq_home, limit=args.seq_limit)
            seq_requests = server.requests() - before
            sequential = per_request_seconds(work / f"seq-{method}" / "calls.jsonl") * requests
            rows.append({"method": method, "requests": requests, "wall_s": wall, "ideal_s": ideal,
                         "run_s": _elapsed(out_full), "sequential_s": sequential, "seq_requests": seq_requests})
            print(f"{method:<5} {requests:>6} requests  {wall:6.1f} s   ideal {ideal:6.1f} s "
                  f"({wall / ideal:.2f}x)   one at a time ~{sequential:7.1f} s (extrapolated from "
                  f"{seq_requests} requests)")
        cached = []
        for method in METHODS:
            shutil.rmtree(work / f"cached-{method}", ignore_errors=True)
            before = server.requests()
            wall, out = run_cli(bench, work / f"cached-{method}", method, server.url, args.concurrency,
                                work / f"home-{method}")
            cached.append({"method": method, "wall_s": wall, "run_s": _elapsed(out),
                           "requests": server.requests() - before})
            print(f"cached {method:<5} {wall:5.2f} s ({cached[-1]['run_s']:.2f} s in the runner), "
                  f"{cached[-1]['requests']} requests")
    finally:
        server.stop()
    return {"rows": rows, "cached": cached, "questions": n_questions, "latency": args.latency,
            "concurrency": args.concurrency, "seq_limit": args.seq_limit}


def per_request_seconds(calls: Path) -> float:
    """Seconds between consecutive answers of a one-at-a-time run (start-up excluded)."""
    ts = sorted(json.loads(line)["ts"] for line in calls.read_text().splitlines() if '"status": "ok"' in line)
    return (ts[-1] - ts[0]) / (len(ts) - 1)


def _elapsed(output: str) -> float:
    """The run's own elapsed seconds from its summary line (startup excluded)."""
    m = re.search(r"already done, ([\d.]+) s", output)
    if not m:
        raise SystemExit(f"no summary line in:\n{output}")
    return float(m.group(1))


def report(res: dict) -> str:
    rows, cached = res["rows"], res["cached"]
    total_req = sum(r["requests"] for r in rows)
    total_wall = sum(r["wall_s"] for r in rows)
    total_ideal = sum(r["ideal_s"] for r in rows)
    total_seq = sum(r["sequential_s"] for r in rows)
    cached_wall = sum(c["wall_s"] for c in cached)
    cached_req = sum(c["requests"] for c in cached)
    lines = [
        "## LLM runner",
        "",
        f"`python benchmarks/run_speed.py` — measured {time.strftime('%Y-%m-%d')} on "
        f"{platform.machine()} with {os.cpu_count()} CPU cores, Python {platform.python_version()}.",
        f"Default synthetic benchmark ({res['questions']} test questions: 3 levels x 200), fake "
        f"OpenAI-compatible server (`tests/servers/fake_openai.py`, own process) answering in "
        f"{res['latency'] * 1000:.0f} ms, `perrecbench run --max-concurrency {res['concurrency']}`, fresh cache. "
        "Wall time is the whole CLI process (start-up included). Ideal = requests x latency / "
        "concurrency. One-at-a-time = `--max-concurrency 1` on the first "
        f"{res['seq_limit']} questions per level, extrapolated per request to the full run.",
        "",
        "| method | requests | wall (CLI) | in the runner | ideal | wall / ideal | runner / ideal "
        "| one at a time (extrapolated) | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['requests']} | {r['wall_s']:.1f} s | {r['run_s']:.1f} s | {r['ideal_s']:.1f} s | "
            f"{r['wall_s'] / r['ideal_s']:.2f}x | {r['run_s'] / r['ideal_s']:.2f}x | {r['sequential_s']:.0f} s | "
            f"{r['sequential_s'] / r['wall_s']:.0f}x |"
        )
    total_run = sum(r["run_s"] for r in rows)
    lines.append(
        f"| **all** | {total_req} | {total_wall:.1f} s | {total_run:.1f} s | {total_ideal:.1f} s | "
        f"{total_wall / total_ideal:.2f}x | {total_run / total_ideal:.2f}x | {total_seq:.0f} s | "
        f"{total_seq / total_wall:.0f}x |"
    )
    ok = "met" if total_wall / total_ideal <= TARGET_RATIO else "NOT met"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cok = "met" if cached_wall < TARGET_CACHED_S and cached_req == 0 else "NOT met"
    lines += [
        "",
        f"Target within {TARGET_RATIO}x of ideal (whole CLI wall time): {ok}. "
        f"Load average when the report was written: {load:.2f}.",
        "",
        f"Fully cached re-run (same cache, new run directories, three CLI processes): "
        f"{cached_wall:.1f} s in all ("
        + ", ".join(f"{c['method']} {c['wall_s']:.1f} s" for c in cached)
        + "; of which in the runner itself: "
        + ", ".join(f"{c['run_s']:.1f} s" for c in cached)
        + f"), {cached_req} requests. Target < {TARGET_CACHED_S:.0f} s and zero requests: {cok}.",
        "",
    ]
    return "\n".join(lines)


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
    ap.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = ap.parse_args()
    section = report(measure(args))
    print()
    print(section)
    if args.write_docs:
        write_docs(section)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
