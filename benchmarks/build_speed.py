"""Build speed and memory: the DuckDB builder vs a pure-Python/json reference.

Generates an Amazon-Reviews-2023-format review file (default 5 million reviews, with
a few duplicates and malformed lines like real files) plus item metadata, then
builds the benchmark from it twice, each side in its own process so peak memory is
its own: `perrecbench build` and `benchmarks/reference_build.py`. Prints time and
peak RSS of both, their ratio, and whether the test questions are identical.

    python benchmarks/build_speed.py [--reviews 5000000] [--workdir /tmp/prb-speed]
    python benchmarks/build_speed.py --breakdown   # only ours, wall and CPU time per stage
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def generate(path: Path, meta: Path, n_reviews: int, seed: int = 0) -> None:
    """Stream a synthetic review file in chunks: users with habits, items with quality."""
    rng = np.random.default_rng(seed)
    per_user = 25
    n_users = max(1, n_reviews // per_user)
    n_items = max(10, n_users // 4)
    user_bias = rng.normal(0, 0.6, n_users)
    item_q = rng.normal(0, 0.5, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    pop /= pop.sum()
    t0, span = 1_500_000_000_000, 3 * 365 * 86_400_000
    words = ["Great", "Fine", "Bad", "Love it", "Not for me", "Works", "Meh"]
    chunk = 20_000
    with open(path, "w", encoding="utf-8") as fh:
        written = 0
        for start in range(0, n_users, chunk):
            users = np.arange(start, min(n_users, start + chunk))
            u = np.repeat(users, per_user)
            items = rng.choice(n_items, size=len(u), p=pop)
            ts = t0 + rng.integers(0, span, size=len(u))
            raw = 3.9 + user_bias[u] + item_q[items] + rng.normal(0, 0.9, len(u))
            ratings = np.clip(np.rint(raw), 1, 5)
            lines = []
            for k in range(len(u)):
                asin = f"B{items[k]:09d}"
                lines.append(
                    f'{{"rating": {ratings[k]:.1f}, "title": "{words[k % len(words)]}", '
                    f'"text": "Review text {k}.", "images": [], "asin": "{asin}", '
                    f'"parent_asin": "{asin}", "user_id": "U{u[k]:08d}", "timestamp": {ts[k]}, '
                    '"helpful_vote": 0, "verified_purchase": true}\n'
                )
            if start == 0:  # real files have the odd broken line and duplicate
                lines.insert(3, '{"rating": 5.0, "title": "truncated li\n')
                lines.append(lines[10])
            fh.writelines(lines)
            written += len(lines)
    with open(meta, "w", encoding="utf-8") as fh:
        for i in range(n_items):
            fh.write(json.dumps({"main_category": "Books", "title": f"Book number {i} &amp; more",
                                 "parent_asin": f"B{i:09d}", "average_rating": 4.1,
                                 "rating_number": 10, "features": [], "description": [],
                                 "details": {"Author": f"Author {i % 997}"}}) + "\n")


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB of that process tree's largest process, exit code)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(err[-3000:], file=sys.stderr)
    return wall, usage.ru_maxrss / 1024.0, code


def breakdown(reviews: Path, meta: Path, out: Path, memory_limit: str) -> None:
    """Build in this process and print wall and CPU seconds (all threads and worker
    processes) per stage: loading, then the builder's progress stages."""
    import resource

    import duckdb

    from perrecbench.build.builder import build_benchmark
    from perrecbench.build.params import BuildParams
    from perrecbench.data.sources import load_source

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    rows: list[tuple[str, float, float]] = []
    mark = [time.monotonic(), cpu(), "load (checked JSON lines, checksums)"]

    def step(stage: str, done: int = 0, total: int = 0) -> None:
        if stage != mark[2]:
            now, c = time.monotonic(), cpu()
            rows.append((str(mark[2]), now - float(mark[0]), c - float(mark[1])))
            mark[:] = [now, c, stage]

    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    load_source(con, "amazon2023", [reviews], [meta], {"memory_limit": memory_limit})
    step("deduplicating reviews")
    build_benchmark(con, BuildParams(), out, progress=step, memory_limit=memory_limit)
    for name, wall, c in rows:
        print(f"  {name:48s} {wall:6.1f} s wall  {c:6.1f} s CPU")
    print(f"  {'total':48s} {sum(r[1] for r in rows):6.1f} s wall  {sum(r[2] for r in rows):6.1f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reviews", type=int, default=5_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/prb-build-speed"))
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="only ours, in-process, time per stage")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    reviews, meta = work / "reviews.jsonl", work / "meta.jsonl"
    marker = reviews.with_suffix(".n")  # remembers the size the file was generated with
    if not (reviews.exists() and marker.exists() and marker.read_text() == str(args.reviews)):
        t = time.monotonic()
        generate(reviews, meta, args.reviews)
        marker.write_text(str(args.reviews))
        print(f"generated {args.reviews:,} reviews ({reviews.stat().st_size / 2**20:.0f} MiB) "
              f"in {time.monotonic() - t:.1f}s")
    ours_out, ref_out = work / "bench-duckdb", work / "bench-reference"
    if args.breakdown:
        breakdown(reviews, meta, ours_out, args.memory_limit)
        return
    for d in (ours_out, ref_out):
        shutil.rmtree(d, ignore_errors=True)
    ours = measure([sys.executable, "-m", "perrecbench", "build", "--source", "amazon2023",
                    "--input", str(reviews), "--meta", str(meta), "--out", str(ours_out),
                    "--memory-limit", args.memory_limit, "--no-progress"])
    print(f"perrecbench build : {ours[0]:8.1f} s  peak RSS {ours[1]:7.0f} MiB  (exit {ours[2]})")
    if args.skip_reference:
        return
    ref = measure([sys.executable, str(HERE / "reference_build.py"), str(reviews), str(ref_out)])
    print(f"pure-Python ref   : {ref[0]:8.1f} s  peak RSS {ref[1]:7.0f} MiB  (exit {ref[2]})")
    print(f"speed-up {ref[0] / ours[0]:.1f}x   memory ratio {ref[1] / ours[1]:.2f}x")
    same = all(
        (ours_out / f"test-{lv}.jsonl").read_bytes() == (ref_out / f"test-{lv}.jsonl").read_bytes()
        for lv in ("easy", "medium", "hard")
    )
    print(f"identical test questions: {same}")
    targets = ref[0] / ours[0] >= 10 and ours[1] < 2048
    print(f"targets (>= 10x faster, peak RSS < 2 GiB): {'met' if targets else 'NOT met'}")


if __name__ == "__main__":
    main()
