"""Build speed and memory: the DuckDB builder vs a pure-Python reference, and at Books scale.

Generates Amazon-Reviews-2023-format review files (users with habits, items with
quality, 25 reviews per user, a few duplicates and malformed lines like real files)
plus item metadata, then:

    python benchmarks/build_speed.py [--reviews 5000000]   # ours vs benchmarks/reference_build.py
    python benchmarks/build_speed.py --breakdown           # ours in-process, wall and CPU per stage
    python benchmarks/build_speed.py --floor               # DuckDB's floor on the same file
    python benchmarks/build_speed.py --scale               # 1M, 5M, 20M, 4 categories, 30M (20 GB)

Every build runs `perrecbench build` as its own process. Memory is measured from
outside: the largest single process's peak RSS (`os.wait4`, what `/usr/bin/time -v`
prints), and the process tree's peak, sampled every 0.2 s: the sum of the
processes' PSS (proportional set size: pages shared by the forked workers counted
once, not once per process; the sum of their RSS would count DuckDB's memory once
per worker). Temporary disk is DuckDB's spill folder, sampled the same way.
`--scale` prints the growth ratios against the previous size and deletes what it
generated unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORDS = ("the story kept me reading late into the night and the characters felt real "
         "although the middle dragged a little I would still recommend it to friends who "
         "like a slow build with a satisfying ending the prose is clear and the author "
         "clearly knows the subject well enough to make it come alive on every page").split()


def generate(path: Path, meta: Path | None, n_reviews: int, seed: int = 0, text_bytes: int = 0,
             item_prefix: str = "B") -> None:
    """Stream a synthetic review file in chunks: users with habits, items with quality.

    `text_bytes`: about that many characters of review text per line (0: a few words).
    """
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
    texts = [" ".join(WORDS[(k * 7) % len(WORDS):] + WORDS)[:max(1, text_bytes + (k % 9) * 40 - 160)]
             for k in range(64)] if text_bytes else None
    chunk = 20_000
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n_users, chunk):
            users = np.arange(start, min(n_users, start + chunk))
            u = np.repeat(users, per_user)
            items = rng.choice(n_items, size=len(u), p=pop)
            ts = t0 + rng.integers(0, span, size=len(u))
            raw = 3.9 + user_bias[u] + item_q[items] + rng.normal(0, 0.9, len(u))
            ratings = np.clip(np.rint(raw), 1, 5)
            lines = []
            for k in range(len(u)):
                asin = f"{item_prefix}{items[k]:09d}"
                text = texts[k % 64] if texts else f"Review text {k}."
                lines.append(
                    f'{{"rating": {ratings[k]:.1f}, "title": "{words[k % len(words)]}", '
                    f'"text": "{text}", "images": [], "asin": "{asin}", '
                    f'"parent_asin": "{asin}", "user_id": "U{u[k]:08d}", "timestamp": {ts[k]}, '
                    '"helpful_vote": 0, "verified_purchase": true}\n'
                )
            if start == 0:  # real files have the odd broken line and duplicate
                lines.insert(3, '{"rating": 5.0, "title": "truncated li\n')
                lines.append(lines[10])
            fh.writelines(lines)
    if meta is None:
        return
    with open(meta, "w", encoding="utf-8") as fh:
        for i in range(n_items):
            fh.write(json.dumps({"main_category": "Books", "title": f"Book number {i} &amp; more",
                                 "parent_asin": f"{item_prefix}{i:09d}", "average_rating": 4.1,
                                 "rating_number": 10, "features": [], "description": [],
                                 "details": {"Author": f"Author {i % 997}"}}) + "\n")


def ensure(work: Path, name: str, n_reviews: int, seed: int = 0, text_bytes: int = 0,
           item_prefix: str = "B") -> tuple[Path, Path]:
    """Generate `name`.jsonl (+ meta) once; a marker remembers what it was generated with."""
    work.mkdir(parents=True, exist_ok=True)
    reviews, meta = work / f"{name}.jsonl", work / f"meta_{name}.jsonl"
    marker = work / f"{name}.n"
    spec = f"{n_reviews} {seed} {text_bytes} {item_prefix}"
    if not (reviews.exists() and meta.exists() and marker.exists() and marker.read_text() == spec):
        t = time.monotonic()
        generate(reviews, meta, n_reviews, seed, text_bytes, item_prefix)
        marker.write_text(spec)
        print(f"generated {name}: {n_reviews:,} reviews ({reviews.stat().st_size / 1e9:.2f} GB) "
              f"in {time.monotonic() - t:.0f}s", flush=True)
    return reviews, meta


# ---------------------------------------------------------------- measuring a process tree

def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _tree(root: int) -> list[int]:
    kids, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _kib(pid: int, path: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _du(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


@dataclass
class Measured:
    wall: float
    max_rss: float  # GB, the largest single process (wait4)
    tree_pss: float  # GB, peak of the sampled sum of PSS over the process tree
    tree_rss: float  # GB, peak of the sampled sum of RSS (counts shared pages once per process)
    spill: float  # GB, peak of the spill folder
    cpu: float  # s, user + system of the process tree (DuckDB's threads and the workers)
    code: int
    err: str


def measure(cmd: list[str], spill_dir: Path | None = None, every: float = 0.2) -> Measured:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks = {"pss": 0, "rss": 0, "spill": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            pids = _tree(proc.pid)
            peaks["pss"] = max(peaks["pss"], sum(_kib(p, "smaps_rollup", "Pss:") for p in pids))
            peaks["rss"] = max(peaks["rss"], sum(_kib(p, "status", "VmRSS:") for p in pids))
            if spill_dir is not None:
                peaks["spill"] = max(peaks["spill"], _du(spill_dir))

    err_lines: list[bytes] = []
    reader = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
    sampler = threading.Thread(target=sample, daemon=True)
    reader.start()
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    stop.set()
    sampler.join()
    reader.join()
    err = b"".join(err_lines).decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(err[-3000:], file=sys.stderr)
    return Measured(wall, usage.ru_maxrss * 1024 / 1e9, peaks["pss"] * 1024 / 1e9,
                    peaks["rss"] * 1024 / 1e9, peaks["spill"] / 1e9, usage.ru_utime + usage.ru_stime, code, err)


def build_cmd(reviews: list[Path], metas: list[Path], out: Path, memory_limit: str, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "perrecbench", "build", "--source", "amazon2023", "--out", str(out),
           "--memory-limit", memory_limit, "--no-progress", *extra]
    for r in reviews:
        cmd += ["--input", str(r)]
    for m in metas:
        cmd += ["--meta", str(m)]
    return cmd


def build_ours(reviews: list[Path], metas: list[Path], out: Path, memory_limit: str, *extra: str) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    return measure(build_cmd(reviews, metas, out, memory_limit, *extra),
                   spill_dir=out.parent / (out.name + ".building"))


# ---------------------------------------------------------------- modes

def breakdown(reviews: list[Path], metas: list[Path], out: Path, memory_limit: str) -> float:
    """Build in this process and print wall and CPU seconds (all threads and worker
    processes) per stage, as the build reports its stages. Returns the total wall."""
    import resource

    from perrecbench.builder.params import BuildParams
    from perrecbench.builder.pipeline import build_from_source

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    rows: list[tuple[str, float, float]] = []
    mark: list = [time.monotonic(), cpu(), None]

    def step(stage: str, done: int = 0, total: int = 0) -> None:
        base = stage.split(", step ")[0]
        if base != mark[2]:
            now, c = time.monotonic(), cpu()
            if mark[2] is not None:
                rows.append((str(mark[2]), now - float(mark[0]), c - float(mark[1])))
            mark[:] = [now, c, base]

    shutil.rmtree(out, ignore_errors=True)
    build_from_source("amazon2023", reviews, metas, out, BuildParams(), memory_limit=memory_limit,
                      progress=step)
    step("end")
    # forked workers are reaped when the pool closes: their CPU lands in the stage after
    for name, wall, c in rows:
        print(f"  {name:58s} {wall:6.1f} s wall  {c:6.1f} s CPU")
    total = sum(r[1] for r in rows)
    print(f"  {'total':58s} {total:6.1f} s wall  {sum(r[2] for r in rows):6.1f} s CPU", flush=True)
    return total


def floor(reviews: Path) -> tuple[float, float]:
    """DuckDB's floor on this file: a bare `read_json` of the review fields into a table
    (it cannot say which lines it skipped), and one sort of that table by user and time."""
    import duckdb

    con = duckdb.connect(config={"preserve_insertion_order": False})
    t = time.monotonic()
    con.execute(f"""CREATE TABLE r AS SELECT user_id, coalesce(parent_asin, asin) AS item_id, rating, "timestamp"
                    FROM read_json('{reviews}', columns={{user_id: 'VARCHAR', parent_asin: 'VARCHAR',
                    asin: 'VARCHAR', rating: 'DOUBLE', "timestamp": 'BIGINT'}}, ignore_errors=true,
                    format='newline_delimited')""")
    parse = time.monotonic() - t
    t = time.monotonic()
    con.execute('CREATE TABLE s AS SELECT * FROM r ORDER BY user_id, "timestamp"')
    sort = time.monotonic() - t
    con.close()
    return parse, sort


def _gb(x: float) -> str:
    return f"{x:.2f}"


def scale(work: Path, memory_limit: str, keep: bool, sizes: list[str]) -> None:
    """1M, 5M, 20M, 20M as four category files, 30M with Books-length texts (~20 GB)."""
    plan = {
        "1M": ("1M", [(1_000_000, 0, 0, "B")]),
        "5M": ("5M", [(5_000_000, 0, 0, "B")]),
        "20M": ("20M", [(20_000_000, 0, 0, "B")]),
        "4x5M": ("20M in 4 category files", [(5_000_000, k, 0, "ABCD"[k]) for k in range(4)]),
        "30M": ("30M, Books-length texts", [(30_000_000, 0, 540, "B")]),
    }
    rows = []
    print("| reviews | files (GB) | --memory-limit | wall s | CPU s | max RSS GB | tree PSS GB | "
          "tree RSS GB | spill GB | wall / previous | CPU / previous | rows / previous |", flush=True)
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    prev = None
    for key in sizes:
        label, files = plan[key]
        made = [ensure(work / key, f"part{k}", n, seed, text, prefix)
                for k, (n, seed, text, prefix) in enumerate(files)]
        n_rows = sum(f[0] for f in files)
        size = sum(r.stat().st_size for r, _ in made) / 1e9
        out = work / key / "bench"
        m = build_ours([r for r, _ in made], [mm for _, mm in made], out, memory_limit)
        ratio = f"{m.wall / prev[0]:.2f}x" if prev else ""
        cpu_ratio = f"{m.cpu / prev[2]:.2f}x" if prev else ""
        rows_ratio = f"{n_rows / prev[1]:.1f}x" if prev else ""
        status = "" if m.code == 0 else f" FAILED ({m.code})"
        print(f"| {label} | {size:.2f} | {memory_limit} | {m.wall:.1f}{status} | {m.cpu:.0f} | {_gb(m.max_rss)} | "
              f"{_gb(m.tree_pss)} | {_gb(m.tree_rss)} | {_gb(m.spill)} | {ratio} | {cpu_ratio} | {rows_ratio} |",
              flush=True)
        rows.append((label, m))
        prev = (m.wall, n_rows, m.cpu) if key != "4x5M" else prev
        shutil.rmtree(out, ignore_errors=True)
        if not keep:
            shutil.rmtree(work / key, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reviews", type=int, default=5_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/prb-build-speed"))
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="only ours, in-process, time per stage")
    ap.add_argument("--floor", action="store_true", help="DuckDB's floor (bare parse, one sort) on the file")
    ap.add_argument("--scale", action="store_true", help="1M, 5M, 20M, 4 files, 30M (20 GB) builds")
    ap.add_argument("--sizes", default="1M,5M,20M,4x5M,30M", help="--scale: which rows")
    ap.add_argument("--keep", action="store_true", help="--scale: keep the generated files")
    args = ap.parse_args()
    if args.scale:
        scale(args.workdir, args.memory_limit, args.keep, args.sizes.split(","))
        return
    n = args.reviews
    reviews, meta = ensure(args.workdir, f"reviews-{n}", n)
    if args.floor:
        parse, sort = floor(reviews)
        print(f"DuckDB floor: bare read_json {parse:.2f} s + one sort {sort:.2f} s = {parse + sort:.2f} s")
        return
    ours_out, ref_out = args.workdir / "bench-duckdb", args.workdir / "bench-reference"
    if args.breakdown:
        breakdown([reviews], [meta], ours_out, args.memory_limit)
        return
    ours = build_ours([reviews], [meta], ours_out, args.memory_limit)
    print(f"perrecbench build : {ours.wall:8.1f} s  CPU {ours.cpu:6.1f} s  max RSS {ours.max_rss:5.2f} GB  "
          f"tree PSS {ours.tree_pss:5.2f} GB  spill {ours.spill:5.2f} GB  (exit {ours.code})")
    if args.skip_reference:
        return
    shutil.rmtree(ref_out, ignore_errors=True)
    ref = measure([sys.executable, str(HERE / "reference_build.py"), str(reviews), str(ref_out)])
    print(f"pure-Python ref   : {ref.wall:8.1f} s  CPU {ref.cpu:6.1f} s  max RSS {ref.max_rss:5.2f} GB  "
          f"(exit {ref.code})")
    print(f"speed-up {ref.wall / ours.wall:.1f}x   memory ratio {ref.max_rss / ours.tree_pss:.2f}x")
    same = all(
        (ours_out / f"test-{lv}.jsonl").read_bytes() == (ref_out / f"test-{lv}.jsonl").read_bytes()
        for lv in ("easy", "medium", "hard")
    )
    print(f"identical test questions: {same}")


if __name__ == "__main__":
    main()
