"""Report speed: `perrecbench report` against `perrecbench score --format json` on the same runs.

The report scores the runs exactly as `score` does, then adds paired tests, failure and
cost totals, figures in three formats and the page; `score` in the same run is the
baseline, so the ratio says what the page costs on top of the numbers. Each command
runs in its own process (imports included, as a user would run it); peak RSS is its own.
Then, in this process, the report's time per stage.

    python benchmarks/report_speed.py RUN_DIR...            # e.g. the runs of docs/report_pictures.sh
    python benchmarks/report_speed.py --movielens ../shared/data/movielens-latest-small
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _cli(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `perrecbench` process."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "perrecbench", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the largest so far
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"perrecbench {' '.join(args[:1])} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def _baseline_runs(data: Path, work: Path) -> list[str]:
    bench = work / "bench"
    _cli(["build", "--source", "movielens", "--input", str(data), "--out", str(bench), "--no-progress"])
    runs = []
    for m in ("random", "oracle", "bias", "content", "cf"):
        _cli(["run", "--bench", str(bench), "--model", f"baseline/{m}", "--method", "point,pair,list",
              "--out", str(work / "runs" / m), "--no-progress"])
        runs.append(str(work / "runs" / m))
    return runs


def _stages(runs: list[str], out: Path) -> list[tuple[str, float]]:
    sys.path.insert(0, str(SRC))
    from perrecbench.report.collect import collect_sections, load_inputs
    from perrecbench.report.writer import write_report

    marks: list[tuple[str, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    inputs = load_inputs(runs, reference=True, progress=progress)
    write_report(out, inputs, collect_sections(inputs, progress), progress=progress)
    marks.append(("end", time.perf_counter()))
    return [(s, marks[i + 1][1] - t) for i, (s, t) in enumerate(marks[:-1])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", help="run directories (or folders of runs)")
    ap.add_argument("--movielens", type=Path, help="build MovieLens and run the five baselines first")
    ap.add_argument("--repeat", type=int, default=3, help="timings per command (the best is kept)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="prb-report-speed-"))
    runs = list(args.runs) or (_baseline_runs(args.movielens, work) if args.movielens else [])
    if not runs:
        ap.error("give run directories or --movielens DIR")
    score = min((_cli(["score", *runs, "--format", "json"]) for _ in range(args.repeat)), key=lambda x: x[0])
    report = min((_cli(["report", *runs, "--out", str(work / "report"), "--reference", "--no-progress"])
                  for _ in range(args.repeat)), key=lambda x: x[0])
    print(f"score --format json: {score[0]:6.2f} s  peak {score[1]:6.0f} MB   (baseline)")
    print(f"report --reference:  {report[0]:6.2f} s  peak {report[1]:6.0f} MB   "
          f"= {report[0] / score[0]:.2f}x the time of score")
    for stage, seconds in _stages(runs, work / "report-stages"):
        print(f"  {stage:<20} {seconds:6.2f} s")
    sizes = {p.name: p.stat().st_size for p in (work / "report").rglob("*") if p.is_file()}
    print(f"files: index.html {sizes['index.html'] / 1024:.0f} KB, "
          f"{len(sizes) - 3} figure files {sum(v for k, v in sizes.items() if '.' in k and k.rsplit('.', 1)[1] in ('svg', 'png', 'pdf')) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
