"""Fingerprints of everything the pipeline writes, to prove a refactor changed no output.

Builds four benchmarks through the CLI -- synthetic (seed 3), MovieLens latest-small,
the Amazon 2023 sample (relaxed thresholds: it is sparse) and an ml-100k copy made
from latest-small -- runs the five baselines with all three methods on each, scores
them, and writes one JSON document:

* per benchmark: sha256 of every questions file, and of the *rows* of each Parquet
  file (Parquet bytes may change with the writer's metadata; the rows must not);
* per benchmark: every `score --format json` row (value and interval) of the baselines.

    python benchmarks/output_fingerprints.py --out before.json            # on main
    python benchmarks/output_fingerprints.py --out after.json             # on the change
    python benchmarks/output_fingerprints.py --compare before.json after.json

`--compare` prints each difference and exits 1 when there is one. The score rows are
compared on the fields both versions write (a field added by a change is listed, not
counted as a difference).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PERRECBENCH_SHARED", REPO.parent / "shared"))
BASELINES = ("random", "oracle", "bias", "content", "cf")
ROW_KEY = ("model", "method", "level", "metric")


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "perrecbench", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise SystemExit(f"perrecbench {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def make_ml100k(src: Path, dst: Path, encoding: str = "latin-1") -> Path:
    """ml-latest-small rewritten in the ml-100k layout (u.data, u.item, u.genre)."""
    dst.mkdir(parents=True, exist_ok=True)
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
              "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
              "Romance", "Sci-Fi", "Thriller", "War", "Western"]
    alias = {"Children": "Children's"}
    with open(src / "ratings.csv", newline="", encoding="utf-8") as fh, \
            open(dst / "u.data", "w", encoding="ascii", newline="\n") as out:
        for r in csv.DictReader(fh):
            out.write(f"{r['userId']}\t{r['movieId']}\t{int(float(r['rating']) + 0.5)}\t{r['timestamp']}\n")
    with open(src / "movies.csv", newline="", encoding="utf-8") as fh, \
            open(dst / "u.item", "w", encoding=encoding, errors="replace", newline="\n") as out:
        for r in csv.DictReader(fh):
            names = {alias.get(g, g) for g in r["genres"].split("|")}
            flags = "|".join("1" if g in names else "0" for g in genres)
            title = r["title"].replace("|", "/")
            out.write(f"{r['movieId']}|{title}|01-Jan-1995||http://x|{flags}\n")
    (dst / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)), encoding="latin-1")
    return dst


def _rows_digest(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    h = hashlib.sha256()
    h.update(json.dumps(table.schema.names).encode())
    for row in table.to_pylist():
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
    return f"sha256:{h.hexdigest()} ({table.num_rows} rows)"


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint_bench(name: str, build_args: list[str], work: Path) -> dict:
    bench = work / name / "bench"
    _cli("build", *build_args, "--out", str(bench), "--no-progress")
    out: dict = {"files": {}, "scores": []}
    for f in sorted(bench.iterdir()):
        if f.suffix == ".jsonl":
            out["files"][f.name] = _file_digest(f)
        elif f.suffix == ".parquet":
            out["files"][f.name] = _rows_digest(f)
    runs = []
    for model in BASELINES:
        for method in ("point", "pair", "list"):
            rd = work / name / "runs" / f"{model}-{method}"
            _cli("run", "--bench", str(bench), "--model", f"baseline/{model}", "--method", method,
                 "--out", str(rd), "--no-progress")
            runs.append(str(rd))
    rows = json.loads(_cli("score", *runs, "--format", "json"))
    for r in rows:
        r.pop("run", None)
    out["scores"] = rows
    return out


def collect(work: Path) -> dict:
    data = SHARED / "data"
    ml = data / "movielens-latest-small"
    ml100k = make_ml100k(ml, work / "ml-100k-src")
    return {
        "synthetic-seed3": fingerprint_bench("synthetic", ["--source", "synthetic", "--seed", "3",
                                                           "--option", "seed=3"], work),
        "movielens-latest-small": fingerprint_bench("movielens", ["--source", "movielens", "--input",
                                                                  str(ml)], work),
        "amazon2023-sample": fingerprint_bench(
            "amazon", ["--source", "amazon2023", "--input", str(data / "amazon2023-sample"),
                       "--min-history", "2", "--window-days", "3650", "--n-items", "5",
                       "--n-heldout", "2"], work),
        "ml-100k": fingerprint_bench("ml100k", ["--source", "movielens", "--input", str(ml100k)], work),
    }


def compare(a: dict, b: dict) -> list[str]:
    diffs: list[str] = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            diffs.append(f"{name}: only in {'the first' if name in a else 'the second'}")
            continue
        fa, fb = a[name]["files"], b[name]["files"]
        for f in sorted(set(fa) | set(fb)):
            if fa.get(f) != fb.get(f):
                diffs.append(f"{name}/{f}: {fa.get(f)} != {fb.get(f)}")
        ra = {tuple(r[k] for k in ROW_KEY): r for r in a[name]["scores"]}
        rb = {tuple(r[k] for k in ROW_KEY): r for r in b[name]["scores"]}
        for key in sorted(set(ra) | set(rb), key=str):
            x, y = ra.get(key), rb.get(key)
            if x is None or y is None:
                diffs.append(f"{name} {key}: row only in {'the first' if y is None else 'the second'}")
                continue
            for field in sorted(set(x) & set(y)):
                if x[field] != y[field]:
                    diffs.append(f"{name} {key} {field}: {x[field]!r} != {y[field]!r}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="write the fingerprints here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--workdir", type=Path, help="keep the benchmarks and runs here (default: a temp dir)")
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        diffs = compare(a, b)
        added = sorted({f for n in b for r in b[n]["scores"] for f in r}
                       - {f for n in a for r in a[n]["scores"] for f in r})
        if added:
            print(f"fields only in {args.compare[1]}: {', '.join(added)}")
        n_rows = sum(len(v["scores"]) for v in a.values())
        n_files = sum(len(v["files"]) for v in a.values())
        print("\n".join(diffs) if diffs else
              f"identical: {n_files} files and {n_rows} score rows over {len(a)} benchmarks")
        sys.exit(1 if diffs else 0)
    if not args.out:
        ap.error("--out or --compare is required")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="prb-fp-"))
    if args.workdir and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PERRECBENCH_HOME", str(work / "home"))
    result = collect(work)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}: " + ", ".join(f"{k} ({len(v['files'])} files, {len(v['scores'])} rows)"
                                           for k, v in result.items()))


if __name__ == "__main__":
    main()
