"""Fingerprints of everything the pipeline writes, to prove a refactor changed no output.

After merging a change, compare this tree with the commit before it (one command):

    python benchmarks/output_fingerprints.py --ref c4effe1
    python benchmarks/output_fingerprints.py --ref c4effe1 --parts release,llm   # the quick half

`--ref` extracts REF's src/ (`git archive`; nothing in the checkout changes) and runs
the same steps twice at once -- with REF's code and with this tree's (by PYTHONPATH),
each in its own folder, on the same inputs and against one fake OpenAI server (the
LLM parts take turns on it) -- then prints every difference and exits 1 when there is
one, 0 with a line starting "identical". Paths under a side's folder are written as
`<work>`, so the two compare. Both documents are kept (ref.json, tree.json; `--keep DIR`).

Or in three steps, each tree running its own copy of this script:

    python benchmarks/output_fingerprints.py --out before.json     # on the old tree
    python benchmarks/output_fingerprints.py --out after.json      # on the change
    python benchmarks/output_fingerprints.py --compare before.json after.json

(with the same --fake-port both times: the server's address is part of every cache key).

What is compared, per section (`--parts`, default all):

* synthetic, movielens, amazon, ml100k -- benchmarks built by `perrecbench build`
  (synthetic seed 3, MovieLens latest-small, the Amazon 2023 sample with relaxed
  thresholds, an ml-100k copy of latest-small; the real data from ../shared): sha256
  of every questions file, of the *rows* of each Parquet file (Parquet bytes may
  change with the writer's metadata; the rows must not), the manifest less its
  provenance, and every `score --format json` row (value and interval) of the five
  baselines with point, pair and list;
* release -- `perrecbench import-release` of a fabricated release (the layout of
  tests/helpers/scoring.py's `write_release`, 4 items, seed 3): the same, plus the
  profiles file;
* llm -- `perrecbench run` of `openai/fake` against tests/servers/fake_openai.py (a
  loopback process) on the release benchmark: point, pair and list with default
  settings; rating; list/pair/point with profile, shots, k, chain-of-thought,
  self-consistency, seed, temperature, max tokens, all-pairs, relative ratings and
  item descriptions; the official prompt set and a rating prompt family (the authors'
  templates from ../shared/reference); the `--dry-run` of one; a `sweep` (k x
  cot) and its `--dry-run`. Per run directory: the manifest less provenance and time
  (so `model_config`, keys and values, and the variant), `predictions.jsonl` bytes
  (one request at a time, so the order is fixed), the cache keys its calls used and
  the calls less their timings, the requests the server saw, the score rows; and the
  cache file's keys and memoised prompt Components.

The CLI commands of one side run in one long-lived process (imports paid once):
`--fresh-processes` starts one per command instead (slower, stricter). The score
rows are compared on the fields both versions write (a field added by a change is
listed, not counted as a difference).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PERRECBENCH_SHARED", REPO.parent / "shared"))
BASELINES = ("random", "oracle", "bias", "content", "cf")
ROW_KEY = ("model", "method", "level", "metric", "variant")
BUILDS = ("synthetic", "movielens", "amazon", "ml100k")
PARTS = (*BUILDS, "release", "llm")
FAKE_PORT = 47891
FORMAT = 2

#: the LLM runs on the release benchmark: name -> arguments after --bench/--model/--out/--base-url
LLM_RUNS: dict[str, list[str]] = {
    "default": ["--method", "point,pair,list"],
    "rating": ["--method", "rating", "--pairs", "12"],
    "options": ["--method", "point,pair,list", "--profile", "release", "--shots", "1", "--k", "2", "--cot",
                "--samples", "3", "--seed", "7", "--temperature", "0.7", "--top-p", "0.9", "--max-tokens", "300",
                "--pair-strategy", "allpairs", "--rel-rating", "--describe-items", "--json-mode", "object",
                "--levels", "easy,medium"],
    "official": ["--method", "point,pair,list", "--prompt-set", "official", "--templates", "{templates}"],
    "rating-family": ["--method", "point,rating", "--pairs", "8", "--prompt-set", "rating-liu",
                      "--prompt-variant", "2", "--templates", "{templates}"],
}
TEMPLATES = SHARED / "reference" / "official-templates"
SWEEP = ["--method", "point,list", "--vary", "k=2,4", "--vary", "cot=off,on", "--limit", "2",
         "--resamples", "50"]

# A command runner inside one Python process of the side under test: reads one JSON
# argument list per line on stdin, runs `python -m perrecbench` in-process, answers
# one JSON line {code, stdout, stderr} on the original stdout (fd 1 itself goes to
# stderr, so nothing a command prints can break the protocol).
_DRIVER = r"""
import contextlib, io, json, os, runpy, sys
proto = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
import perrecbench
proto.write(json.dumps({"module": perrecbench.__file__}) + "\n"); proto.flush()
for line in sys.stdin:
    args = json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    sys.argv = ["perrecbench", *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module("perrecbench", run_name="__main__", alter_sys=False)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:
            import traceback
            traceback.print_exc()
            code = 99
    proto.write(json.dumps({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}) + "\n")
    proto.flush()
"""


class Side:
    """The CLI of one tree (its src/ on PYTHONPATH), with its own PERRECBENCH_HOME."""

    def __init__(self, src: Path, home: Path, cwd: Path, fresh: bool):
        self.src, self.fresh, self.cwd = src.resolve(), fresh, cwd
        self.env = {**os.environ, "PYTHONPATH": str(self.src), "PERRECBENCH_HOME": str(home),
                    "PYTHONHASHSEED": "0", "COLUMNS": "120", "NO_COLOR": "1"}
        self.proc: subprocess.Popen[str] | None = None
        if not fresh:
            self.proc = subprocess.Popen([sys.executable, "-c", _DRIVER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, env=self.env, cwd=cwd)
            hello = json.loads(self._readline())
            self._check_module(hello["module"])
        else:
            probe = subprocess.run([sys.executable, "-c", "import perrecbench; print(perrecbench.__file__)"],
                                   capture_output=True, text=True, env=self.env, cwd=cwd, check=True)
            self._check_module(probe.stdout.strip())

    def _check_module(self, module: str) -> None:
        if not Path(module).resolve().is_relative_to(self.src):
            raise SystemExit(f"PYTHONPATH={self.src} imports perrecbench from {module}: is it installed "
                             "non-editable? (run from a virtualenv with an editable install)")

    def _readline(self) -> str:
        assert self.proc and self.proc.stdout
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the command process of {self.src} ended (code {self.proc.wait()})")
        return line

    def cli(self, *args: str, ok: bool = True) -> str:
        """The command's standard output; stops the script when it fails."""
        return self.cli_both(*args, ok=ok)[0]

    def cli_both(self, *args: str, ok: bool = True) -> tuple[str, str]:
        """The command's standard output and error."""
        if self.proc is None:
            proc = subprocess.run([sys.executable, "-m", "perrecbench", *args], capture_output=True, text=True,
                                  env=self.env, cwd=self.cwd)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            assert self.proc.stdin
            self.proc.stdin.write(json.dumps(list(args)) + "\n")
            self.proc.stdin.flush()
            reply = json.loads(self._readline())
            code, out, err = reply["code"], reply["stdout"], reply["stderr"]
        if ok and code != 0:
            raise SystemExit(f"perrecbench {' '.join(args)} failed ({code}) with {self.src}:\n{err}")
        return out, err

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


class FakeServer:
    """tests/servers/fake_openai.py as a loopback process on a fixed port."""

    def __init__(self, port: int):
        script = REPO / "tests" / "servers" / "fake_openai.py"
        self.proc = subprocess.Popen([sys.executable, str(script), "--port", str(port)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.proc.kill()
            raise SystemExit(f"the fake server did not start on port {port} (taken? use --fake-port)")
        self.url = f"http://127.0.0.1:{line}/v1"
        self._root = f"http://127.0.0.1:{line}"

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self._root + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        self._post("/control", {"reset": True, "faults": [], "latency": 0.0})

    def requests(self) -> int:
        with urllib.request.urlopen(self._root + "/stats", timeout=30) as resp:
            return int(json.loads(resp.read())["requests"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


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


def make_release(root: Path) -> Path:
    """The fabricated release of the interop tests (tests/helpers/scoring.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from helpers.scoring import write_release
    finally:
        sys.path.remove(str(REPO / "tests"))
    write_release(root, ["A1", "A2", "A3", "A4"], seed=3)
    return root / "data"


def make_inputs(inputs: Path, parts: list[str]) -> Path:
    """The inputs both sides read (made once, outside the sides' folders)."""
    if inputs.exists():
        shutil.rmtree(inputs)
    inputs.mkdir(parents=True)
    if "ml100k" in parts:
        make_ml100k(SHARED / "data" / "movielens-latest-small", inputs / "ml-100k-src")
    if "release" in parts or "llm" in parts:
        make_release(inputs / "release")
    return inputs


def _rows_digest(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    h = hashlib.sha256()
    h.update(json.dumps(table.schema.names).encode())
    for row in table.to_pylist():
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
    return f"sha256:{h.hexdigest()} ({table.num_rows} rows)"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return "sha256:" + h.hexdigest()


def _section() -> dict[str, Any]:
    return {"files": {}, "scores": [], "values": {}}


def _text(out_err: tuple[str, str]) -> str:
    return f"{out_err[0]}\n[stderr]\n{out_err[1]}"


def _method_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("manifest.json") if (p.parent / "predictions.jsonl").exists())


class Collector:
    """Every part run by one side in its own `work` folder. Paths under `work` are written
    as `<work>` in the fingerprints, so sides in different folders compare equal."""

    def __init__(self, side: Side, work: Path, inputs: Path, server: FakeServer | None,
                 server_lock: threading.Lock):
        self.side, self.work, self.inputs = side, work, inputs
        self.server, self.server_lock = server, server_lock

    def _norm(self, data: bytes) -> bytes:
        return data.replace(str(self.work).encode(), b"<work>")

    def digest(self, path: Path) -> str:
        return _digest(self._norm(path.read_bytes()))

    def manifest(self, path: Path, drop: tuple[str, ...] = ("provenance",)) -> dict[str, Any]:
        data = json.loads(self._norm(path.read_bytes()))
        return {k: v for k, v in data.items() if k not in drop}

    def bench_files(self, bench: Path, sec: dict[str, Any]) -> None:
        for f in sorted(bench.rglob("*")):
            name = str(f.relative_to(bench))
            if f.suffix == ".jsonl" or (f.suffix == ".json" and f.name != "manifest.json"):
                sec["files"][name] = self.digest(f)
            elif f.suffix == ".parquet":
                sec["files"][name] = _rows_digest(f)
        sec["values"]["manifest"] = self.manifest(bench / "manifest.json")

    def score_rows(self, dirs: list[str]) -> list[dict[str, Any]]:
        rows = json.loads(self._norm(self.side.cli("score", *dirs, "--format", "json").encode()))
        for r in rows:
            r.pop("run", None)
        return rows

    def baseline_scores(self, bench: Path, runs: Path, sec: dict[str, Any]) -> None:
        dirs = []
        for model in BASELINES:
            for method in ("point", "pair", "list"):
                rd = runs / f"{model}-{method}"
                self.side.cli("run", "--bench", str(bench), "--model", f"baseline/{model}", "--method", method,
                              "--out", str(rd), "--no-progress")
                dirs.append(str(rd))
        sec["scores"] = self.score_rows(dirs)

    def build(self, name: str) -> dict[str, Any]:
        data = SHARED / "data"
        args = {
            "synthetic": ["--source", "synthetic", "--seed", "3", "--option", "seed=3"],
            "movielens": ["--source", "movielens", "--input", str(data / "movielens-latest-small")],
            "amazon": ["--source", "amazon2023", "--input", str(data / "amazon2023-sample"), "--min-history", "2",
                       "--window-days", "3650", "--n-items", "5", "--n-heldout", "2"],
            "ml100k": ["--source", "movielens", "--input", str(self.inputs / "ml-100k-src")],
        }[name]
        bench = self.work / name / "bench"
        self.side.cli("build", *args, "--out", str(bench), "--no-progress")
        sec = _section()
        self.bench_files(bench, sec)
        self.baseline_scores(bench, self.work / name / "runs", sec)
        return sec

    def release(self) -> tuple[dict[str, Any], Path]:
        data = self.inputs / "release" / "data"
        bench = self.work / "release" / "bench"
        self.side.cli("import-release", "--data", str(data), "--out", str(bench))
        sec = _section()
        sec["values"]["input"] = _tree_digest(data)
        self.bench_files(bench, sec)
        self.baseline_scores(bench, self.work / "release" / "runs", sec)
        return sec, bench

    def calls(self, path: Path) -> tuple[list[str], str]:
        """The cache keys a run's calls used, and a digest of its calls less their timings."""
        keys, lines = set(), []
        if path.exists():
            for line in path.read_text().splitlines():
                rec = json.loads(line)
                if rec.get("key"):
                    keys.add(rec["key"])
                lines.append(json.dumps({k: v for k, v in rec.items() if k not in ("ts", "latency_s")},
                                        sort_keys=True))
        return sorted(keys), _digest(self._norm("\n".join(sorted(lines)).encode()))

    def run_dir(self, rd: Path, label: str, sec: dict[str, Any]) -> None:
        sec["values"][f"{label}/manifest"] = self.manifest(rd / "manifest.json", ("provenance", "created"))
        sec["files"][f"{label}/predictions.jsonl"] = self.digest(rd / "predictions.jsonl")
        keys, calls = self.calls(rd / "calls.jsonl")
        sec["values"][f"{label}/cache keys"] = keys
        sec["files"][f"{label}/calls.jsonl (less timings)"] = calls

    def llm(self, bench: Path) -> dict[str, dict[str, Any]]:
        """The LLM runs; the server is this side's alone meanwhile (its request counts)."""
        server, cli, work = self.server, self.side.cli, self.work
        assert server is not None
        base = ["--bench", str(bench), "--model", "openai/fake", "--base-url", server.url, "--no-progress",
                "--max-concurrency", "1", "--option", "retry_base_delay=0.01"]
        out: dict[str, dict[str, Any]] = {}
        for name, args in LLM_RUNS.items():
            sec = out[f"llm/{name}"] = _section()
            root = work / "llm" / name
            server.reset()
            cli("run", *base, *[str(TEMPLATES) if a == "{templates}" else a for a in args], "--out", str(root))
            sec["values"]["requests"] = server.requests()
            dirs = _method_dirs(root)
            for rd in dirs:
                self.run_dir(rd, rd.name, sec)
            sec["scores"] = self.score_rows([str(d) for d in dirs])
        dry = out["llm/dry-run"] = _section()
        dry["values"]["run --dry-run"] = self._norm(_text(self.side.cli_both(
            "run", *base, *LLM_RUNS["options"], "--out", str(work / "llm" / "dry"), "--dry-run")).encode()).decode()
        sweep = out["llm/sweep"] = _section()
        root = work / "llm" / "sweep"
        sweep_args = ["sweep", "--bench", str(bench), "--model", "openai/fake", "--base-url", server.url,
                      "--no-progress", "--max-concurrency", "1", "--option", "retry_base_delay=0.01", *SWEEP]
        sweep["values"]["sweep --dry-run"] = self._norm(_text(self.side.cli_both(
            *sweep_args, "--out", str(work / "llm" / "sweep-dry"), "--dry-run")).encode()).decode()
        server.reset()
        cli(*sweep_args, "--out", str(root))
        sweep["values"]["requests"] = server.requests()
        sweep["values"]["sweep.json"] = self.manifest(root / "sweep.json", ("provenance", "created"))
        sweep["values"]["sweep-table.json"] = self.manifest(root / "sweep-table.json", ("provenance", "created"))
        sweep["files"]["sweep-table.csv"] = self.digest(root / "sweep-table.csv")
        figures = root / "figures"
        sweep["values"]["figures"] = sorted(p.name for p in figures.iterdir()) if figures.exists() else []
        for rd in _method_dirs(root):
            self.run_dir(rd, str(rd.relative_to(root)), sweep)
        cache = out["llm/cache"] = _section()
        with contextlib.closing(sqlite3.connect(self.side.env["PERRECBENCH_HOME"] + "/cache.sqlite")) as db:
            cache["values"]["response keys"] = [k for (k,) in db.execute("SELECT key FROM responses ORDER BY key")]
            cache["values"]["components"] = {
                f"{ns} {qid}": _digest(c.encode()) for ns, qid, c in db.execute("SELECT * FROM components")}
        return out

    def collect(self, parts: list[str]) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        timings: dict[str, float] = {}
        for name in BUILDS:
            if name in parts:
                t0 = time.perf_counter()
                sections[name] = self.build(name)
                timings[name] = round(time.perf_counter() - t0, 1)
        if "release" in parts or "llm" in parts:
            t0 = time.perf_counter()
            sec, bench = self.release()
            if "release" in parts:
                sections["release"] = sec
            timings["release"] = round(time.perf_counter() - t0, 1)
            if "llm" in parts:
                with self.server_lock:
                    t0 = time.perf_counter()
                    sections.update(self.llm(bench))
                    timings["llm"] = round(time.perf_counter() - t0, 1)
        return {"format": FORMAT, "parts": parts, "sections": sections, "seconds": timings}


# -- comparing ------------------------------------------------------------------------


def _sections(doc: dict[str, Any]) -> dict[str, Any]:
    """Format 2 documents, and format 1 (name -> {files, scores}) as written before."""
    return doc["sections"] if "sections" in doc else doc


def _value_diffs(where: str, x: Any, y: Any, out: list[str]) -> None:
    if x == y:
        return
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y), key=str):
            if k not in x or k not in y:
                out.append(f"{where}.{k}: only in {'the first' if k in x else 'the second'} ({(x if k in x else y)[k]!r})")
            else:
                _value_diffs(f"{where}.{k}", x[k], y[k], out)
    elif isinstance(x, list) and isinstance(y, list) and all(isinstance(v, str) for v in (*x, *y)) \
            and len(x) == len(set(x)) and len(y) == len(set(y)) and (len(x) > 5 or len(y) > 5):
        a, b = set(x), set(y)
        if a == b:
            out.append(f"{where}: same {len(a)} entries in another order")
        else:
            out.append(f"{where}: {len(a - b)} only in the first (e.g. {sorted(a - b)[:2]}), "
                       f"{len(b - a)} only in the second (e.g. {sorted(b - a)[:2]}), {len(a & b)} shared")
    elif isinstance(x, str) and isinstance(y, str) and "\n" in x + y:
        import difflib

        diff = list(difflib.unified_diff(x.splitlines(), y.splitlines(), "first", "second", lineterm="", n=1))
        out.append(f"{where}: text differs\n  " + "\n  ".join(diff[:40]))
    else:
        out.append(f"{where}: {x!r} != {y!r}")


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    sa, sb = _sections(a), _sections(b)
    diffs: list[str] = []
    for name in sorted(set(sa) | set(sb)):
        if name not in sa or name not in sb:
            diffs.append(f"{name}: only in {'the first' if name in sa else 'the second'}")
            continue
        x, y = sa[name], sb[name]
        fa, fb = x.get("files", {}), y.get("files", {})
        for f in sorted(set(fa) | set(fb)):
            if fa.get(f) != fb.get(f):
                diffs.append(f"{name}/{f}: {fa.get(f)} != {fb.get(f)}")
        va, vb = x.get("values", {}), y.get("values", {})
        for k in sorted(set(va) | set(vb)):
            if k not in va or k not in vb:
                diffs.append(f"{name} {k}: only in {'the first' if k in va else 'the second'}")
            else:
                _value_diffs(f"{name} {k}", va[k], vb[k], diffs)
        ra = {tuple(r.get(k) for k in ROW_KEY): r for r in x.get("scores", [])}
        rb = {tuple(r.get(k) for k in ROW_KEY): r for r in y.get("scores", [])}
        for key in sorted(set(ra) | set(rb), key=str):
            p, q = ra.get(key), rb.get(key)
            if p is None or q is None:
                diffs.append(f"{name} {key}: row only in {'the first' if q is None else 'the second'}")
                continue
            for field in sorted(set(p) & set(q)):
                if p[field] != q[field]:
                    diffs.append(f"{name} {key} {field}: {p[field]!r} != {q[field]!r}")
    return diffs


def report(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> int:
    """Print the differences (or a one-line summary); the exit status."""
    sa, sb = _sections(a), _sections(b)
    diffs = compare(a, b)
    added = sorted({f for s in sb.values() for r in s.get("scores", []) for f in r}
                   - {f for s in sa.values() for r in s.get("scores", []) for f in r})
    if added:
        print(f"score fields only in {names[1]}: {', '.join(added)}")
    if diffs:
        print("\n".join(diffs))
        print(f"{len(diffs)} differences between {names[0]} and {names[1]}")
        return 1
    n_rows = sum(len(v.get("scores", [])) for v in sa.values())
    n_files = sum(len(v.get("files", {})) for v in sa.values())
    n_values = sum(len(v.get("values", {})) for v in sa.values())
    print(f"identical: {n_files} files, {n_values} values (manifests, model configs, cache keys, ...) and "
          f"{n_rows} score rows over {len(sa)} sections")
    return 0


# -- the two ways to run it -----------------------------------------------------------


@contextlib.contextmanager
def _server(parts: list[str], port: int) -> Iterator[FakeServer | None]:
    if "llm" not in parts:
        yield None
        return
    server = FakeServer(port)
    try:
        yield server
    finally:
        server.stop()


def fingerprint(src: Path, work: Path, inputs: Path, parts: list[str], server: FakeServer | None,
                server_lock: threading.Lock, fresh: bool) -> dict[str, Any]:
    """Run every part with the code in `src` inside a clean `work` folder."""
    if work.exists():
        shutil.rmtree(work)
    (work / "home").mkdir(parents=True)
    side = Side(src, work / "home", work, fresh)
    try:
        return Collector(side, work, inputs, server, server_lock).collect(parts)
    finally:
        side.close()


def extract_ref(ref: str, dst: Path) -> Path:
    """REF's src/ under dst, by `git archive` (the checkout and its worktrees are untouched)."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, "src"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {ref}: {archive.stderr.decode().strip()}")
    tar = dst / "src.tar"
    tar.write_bytes(archive.stdout)
    with tarfile.open(tar) as tf:
        tf.extractall(dst, filter="data")
    tar.unlink()
    return dst / "src"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", metavar="COMMIT", help="compare this tree with COMMIT's code (e.g. c4effe1)")
    ap.add_argument("--out", type=Path, help="write this tree's fingerprints here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)} (default all)")
    ap.add_argument("--workdir", type=Path, help="where the benchmarks and runs go (default: a temp dir)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="with --ref: write ref.json and tree.json here")
    ap.add_argument("--fake-port", type=int, default=FAKE_PORT, help=f"fake server port (default {FAKE_PORT})")
    ap.add_argument("--fresh-processes", action="store_true", help="one process per CLI command (slower)")
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        sys.exit(report(a, b, (str(args.compare[0]), str(args.compare[1]))))
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := sorted(set(parts) - set(PARTS)):
        ap.error(f"unknown part(s) {', '.join(unknown)}: choose from {', '.join(PARTS)}")
    if not (args.ref or args.out):
        ap.error("--ref, --out or --compare is required")
    base = args.workdir or Path(tempfile.mkdtemp(prefix="prb-fp-"))
    t0 = time.perf_counter()
    inputs = make_inputs(base / "inputs", parts)
    lock = threading.Lock()
    with _server(parts, args.fake_port) as server:
        if not args.ref:
            result = fingerprint(REPO / "src", base / "work", inputs, parts, server, lock, args.fresh_processes)
            args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
            print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s: "
                  + ", ".join(f"{k} ({len(v['files'])} files, {len(v['values'])} values, {len(v['scores'])} rows)"
                              for k, v in result["sections"].items()))
            return
        sources = {"ref": extract_ref(args.ref, base / "ref-code"), "tree": REPO / "src"}
        docs: dict[str, dict[str, Any]] = {}

        def side(label: str) -> None:  # the two sides at once; the LLM parts one after the other
            docs[label] = fingerprint(sources[label], base / f"work-{label}", inputs, parts, server, lock,
                                      args.fresh_processes)
            print(f"{label} ({sources[label]}): done at {time.perf_counter() - t0:.0f} s, "
                  f"per part {docs[label]['seconds']}", flush=True)

        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(side, label) for label in sources]:
                f.result()
    keep = args.keep or base
    keep.mkdir(parents=True, exist_ok=True)
    for label, doc in docs.items():
        (keep / f"{label}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"fingerprints in {keep}/ref.json and {keep}/tree.json")
    sys.exit(report(docs["ref"], docs["tree"], (f"{args.ref}", "this tree")))


if __name__ == "__main__":
    main()
