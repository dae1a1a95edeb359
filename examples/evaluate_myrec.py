"""Evaluate `myrec.RecentTaste` from Python: `python examples/evaluate_myrec.py BENCH OUT`.

`perrecbench.evaluate` runs the object through the same runner as `perrecbench run`
(resumable: run it again and only missing answers are asked) and returns the rows
`perrecbench score OUT/<method> --format json` prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import perrecbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from myrec import RecentTaste  # noqa: E402


def main(bench_dir: str, out: str, limit: int | None = None) -> list[dict]:
    bench = perrecbench.open_benchmark(bench_dir)
    rows = perrecbench.evaluate(RecentTaste({"k": 3}), bench, methods=["list", "pair"], out=out, limit=limit)
    for row in rows:
        score = "n/a" if row["score"] is None else f"{row['score']:+.3f}"
        print(f"{row['model']:<14} {row['method']:<5} {row['level']:<7} tau-b {score}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python examples/evaluate_myrec.py BENCH OUT [LIMIT]")
    result = main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
    Path(sys.argv[2], "rows.json").write_text(json.dumps(result, indent=2))
