"""Runs made in the test itself, and the checks every report test shares: the page's
numbers against `perrecbench score --format json`, and a screenshot that is not blank."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from helpers.cli import invoke

from perrecbench import LEVELS, METHODS

BASELINES = ("random", "oracle", "bias", "content", "cf")
MINUS = "\u2212"
#: the page's numbers with their unrounded values, read from the DOM Chromium built
DOM_CELLS = """JSON.stringify([...document.querySelectorAll('[data-metric]')].map(e => ({
  ...e.dataset, shown: (e.querySelector('.v') || e).textContent.trim(),
  interval: (e.querySelector('.ci') || {textContent: ''}).textContent.trim()})))"""
DOM_TESTS = """JSON.stringify([...document.querySelectorAll('[data-compare-a]')].map(e => ({
  ...e.dataset, shown: e.querySelector('.d').textContent.trim(),
  sub: e.querySelector('.sub').textContent.trim()})))"""
DOM_AVGS = "JSON.stringify([...document.querySelectorAll('[data-avg]')].map(e => ({...e.dataset, shown: e.querySelector('.v').textContent.trim()})))"
DOM_PUBLISHED = "JSON.stringify([...document.querySelectorAll('[data-published]')].map(e => ({...e.dataset, shown: e.textContent.trim()})))"
DOM_EXPRESSIONS = (DOM_CELLS, DOM_TESTS, DOM_AVGS, DOM_PUBLISHED, "document.title",
                   "[...document.querySelectorAll('section')].map(s => s.id)")


def ok(args: list[str]) -> str:
    res = invoke(args)
    assert res.exit_code == 0, res.output
    return res.output


def baseline_runs(root: Path, build_args: list[str], bench: Path | None = None, *run_args: str) -> list[Path]:
    """Build a benchmark under `root` (or use the `bench` built already) and run the five
    baselines with all three methods (`run_args`: more `run` flags, say a `--limit`)."""
    if bench is None:
        bench = root / "bench"
        ok(["build", *build_args, "--out", str(bench), "--no-progress"])
    runs = []
    for name in BASELINES:
        out = root / "runs" / name
        ok(["run", "--bench", str(bench), "--model", f"baseline/{name}", "--method", "point,pair,list",
            "--out", str(out), "--no-progress", *run_args])
        runs += [out / m for m in METHODS]
    return runs


def score_json(run_dirs: list[Path], *extra: str) -> list[dict]:
    return json.loads(ok(["score", *map(str, run_dirs), "--format", "json", *extra]))


def rounded(value: float | None, decimals: int = 3, sign: bool = False) -> str:
    """The page's rounding rule, written out again independently of the report code."""
    if value is None:
        return "\u2014"
    text = f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"
    if float(text) == 0:  # -0.000 shows as 0.000 (+0.000)
        text = text.replace("-", "+" if sign else "")
    return text.replace("-", MINUS)


def as_float(text: str) -> float | None:
    return None if text == "" else float(text)


def check_cells(cells: list[dict], rows: list[dict], metric: str) -> int:
    """Every number cell equals its score row; every preference-score row is on the page."""
    by_key = {(r["run"], r["level"], r["metric"]): r for r in rows}
    seen = set()
    for c in cells:
        row = by_key[(c["run"], c["level"], c["metric"])]
        assert as_float(c["score"]) == row["score"], c
        assert as_float(c["ciLow"]) == row["ci_low"] and as_float(c["ciHigh"]) == row["ci_high"], c
        assert c["shown"] == rounded(row["score"]), c
        if c["interval"]:
            assert c["interval"] == f"[{rounded(row['ci_low'])}, {rounded(row['ci_high'])}]", c
        seen.add((c["run"], c["level"], c["metric"]))
    wanted = {(r["run"], r["level"], r["metric"]) for r in rows
              if r["metric"] == metric and r["method"] in METHODS and r["level"] in LEVELS}
    assert wanted <= seen, wanted - seen
    return len(cells)


def check_averages(avgs: list[dict], rows: list[dict], metric: str, labels: dict[str, str]) -> None:
    """Avg. = the mean of the label's 9 cells, from the JSON rows (`labels`: run -> label)."""
    per_label: dict[str, list[float]] = {}
    for r in rows:
        if r["metric"] == metric and r["score"] is not None and r["method"] in METHODS:
            per_label.setdefault(labels[r["run"]], []).append(r["score"])
    for a in avgs:
        vals = per_label[a["avg"]]
        assert math.isclose(float(a["value"]), sum(vals) / len(vals), abs_tol=1e-12), a
        assert a["shown"].rstrip("*") == rounded(sum(vals) / len(vals))


def check_tests(tests: list[dict], compare) -> int:
    """Each paired-test cell equals `score A B --compare --format json` (`compare(a, b)`)."""
    cache: dict[tuple[str, str], dict[str, dict]] = {}
    for t in tests:
        key = (t["compareA"], t["compareB"])
        if key not in cache:
            cache[key] = {r["level"]: r for r in compare(*key)}
        row = cache[key][t["level"]]
        assert as_float(t["diff"]) == row["diff"] and as_float(t["p"]) == row["p_value"], t
        assert as_float(t["ciLow"]) == row["ci_low"] and as_float(t["ciHigh"]) == row["ci_high"], t
        assert int(t["n"]) == row["n"]
        assert t["shown"] == rounded(row["diff"], sign=True)
        p = "<0.0001" if row["p_value"] < 0.00005 else f"{row['p_value']:.4f}"
        assert t["sub"] == f"[{rounded(row['ci_low'], sign=True)}, {rounded(row['ci_high'], sign=True)}] · p={p}"
    return len(cache)


def pixel_variety(png: bytes) -> tuple[int, float]:
    """(distinct colours, share of the most common colour) of a screenshot."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.thumbnail((640, 4000))
    counts = img.getcolors(maxcolors=img.width * img.height)
    return len(counts), max(counts)[0] / (img.width * img.height)


def assert_not_blank(png: bytes) -> None:
    colours, top = pixel_variety(png)
    assert colours > 200 and top < 0.9, f"screenshot looks blank: {colours} colours, top colour {top:.0%}"
