"""The typed data behind the core sections, collected from score rows and loaded runs.

Nothing here computes a score: cells are score rows (`score --format json`), paired
tests are `score --compare` rows, averages are `leaderboard`'s, costs and failure
categories come from `score.call_costs` and `score.failure_counts`. Only attribute access is
used on score rows, so any record with the score-row fields works.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..constants import LEVELS, METHODS
from ..errors import PerRecBenchError
from ..run.costs import CALLS_PER_QUESTION, INCONSISTENCY
from ..score.averages import cell_averages, reads_truth
from ..score.call_costs import CallCosts, read_call_costs
from ..score.compare import compare_runs
from ..score.failure_counts import FailureCounts, failure_counts
from ..score.metric_table import failure_policy
from ..score.runs import LoadedRun
from .colors import scale_limit
from .leaderboard import row_labels
from .reference import ReferenceRow, method_means
from .section import Progress, no_progress

#: the fields of a score row, in the order `score --format json` prints them
SCORE_FIELDS = ("model", "method", "level", "metric", "score", "ci_low", "ci_high",
                "n_questions", "n_failed", "n_missing", "n_scored", "failure_policy", "run",
                "variant")  # fmt: skip
#: the paired tests of the method comparison, as (A, B) of A - B
METHOD_PAIRS = (("pair", "point"), ("list", "point"), ("list", "pair"))


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def score_record(row: Any) -> dict[str, Any]:
    """A score row as `score --format json` prints it (NaN as null)."""
    return {f: (_num(getattr(row, f)) if f in ("score", "ci_low", "ci_high") else getattr(row, f))
            for f in SCORE_FIELDS}


def cell_key(level: str, method: str) -> str:
    return f"{level}/{method}"


@dataclass(frozen=True)
class Cell:
    """One score row as the page shows it: the value, its 95% interval and its counts."""

    run: str
    level: str
    method: str
    metric: str
    score: float | None
    ci_low: float | None
    ci_high: float | None
    n_questions: int
    n_scored: int
    n_failed: int
    n_missing: int

    @classmethod
    def from_row(cls, row: Any) -> Cell:
        return cls(str(row.run), row.level, row.method, row.metric, _num(row.score),
                   _num(row.ci_low), _num(row.ci_high), row.n_questions, row.n_scored,
                   row.n_failed, row.n_missing)  # fmt: skip


@dataclass(frozen=True)
class BoardLine:
    """One leaderboard row: a model (with its variant) over the 9 cells."""

    label: str
    cells: dict[str, Cell]  # cell_key(level, method) -> cell
    avg: float | None  # mean of the cells present, as `leaderboard` computes it
    n_cells: int
    model: str = ""  # the model alone (without its variant)

    @property
    def complete(self) -> bool:
        return self.n_cells == len(LEVELS) * len(METHODS)


@dataclass(frozen=True)
class LeaderboardData:
    metric: str
    policy: str
    lines: tuple[BoardLine, ...]  # best Avg. first
    limit: float  # the colour scale runs from -limit to +limit
    #: which run filled a cell two runs of one row claimed (`score.runs.one_run_per_cell`)
    notes: tuple[str, ...] = ()


def _preference_rows(rows: Sequence[Any], metric: str) -> list[Any]:
    return [r for r in rows if r.metric == metric and r.method in METHODS and r.level in LEVELS]


def leaderboard_data(rows: Sequence[Any], metric: str) -> LeaderboardData:
    """The leaderboard of `rows`' `metric` cells, labelled and ordered like `leaderboard`."""
    kept = _preference_rows(rows, metric)
    labels = row_labels(kept)
    cells: dict[str, dict[str, Cell]] = {}
    models: dict[str, str] = {}
    for r in kept:
        cells.setdefault(labels[r.run], {})[cell_key(r.level, r.method)] = Cell.from_row(r)
        models[labels[r.run]] = r.model
    avgs = {a.model: a for a in cell_averages(kept, metric, label=lambda r: labels[r.run])}
    lines = [
        BoardLine(label, c, avgs[label].score if label in avgs else None,
                  avgs[label].n_cells if label in avgs else 0, models[label])
        for label, c in cells.items()
    ]
    lines.sort(key=lambda b: -(b.avg if b.avg is not None else -math.inf))
    policy = failure_policy(metric)
    limit = scale_limit(c.score for line in lines for c in line.cells.values())
    return LeaderboardData(metric, policy, tuple(lines), limit)


# --- method comparison ------------------------------------------------------------------


@dataclass(frozen=True)
class PairedTest:
    """Method A vs method B of one model on one level: a `score --compare A B` row."""

    level: str
    method_a: str
    method_b: str
    run_a: str
    run_b: str
    score_a: float | None
    score_b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float
    n: int
    exact_p: bool

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


@dataclass(frozen=True)
class ModelMethods:
    label: str
    cells: dict[str, Cell]
    tests: tuple[PairedTest, ...]


@dataclass(frozen=True)
class MethodComparisonData:
    metric: str
    models: tuple[ModelMethods, ...]
    notes: tuple[str, ...]
    limit: float


def method_comparison_data(
    runs: Sequence[LoadedRun], board: LeaderboardData, metric: str, seed: int, resamples: int,
    progress: Progress = no_progress,
) -> MethodComparisonData:
    """For each leaderboard model, the paired tests of its methods (`METHOD_PAIRS`)."""
    by_path = {str(r.path): r for r in runs}
    todo = []
    for line in board.lines:
        run_of = {c.method: c.run for c in line.cells.values()}
        todo += [(line, a, b, run_of[a], run_of[b]) for a, b in METHOD_PAIRS if a in run_of and b in run_of]
    tests: dict[str, list[PairedTest]] = {}
    notes = []
    for i, (line, a, b, run_a, run_b) in enumerate(todo):
        progress("paired tests", i, len(todo))
        try:
            compared = compare_runs(by_path[run_a], by_path[run_b], metric, resamples, seed)
        except PerRecBenchError as exc:  # other benchmarks or no shared level: say so
            notes.append(f"{line.label}: {a} vs {b} not compared ({exc})")
            continue
        tests.setdefault(line.label, []).extend(
            PairedTest(c.level, a, b, run_a, run_b, _num(c.score_a), _num(c.score_b), _num(c.diff),
                       _num(c.ci_low), _num(c.ci_high), c.p_value, c.n, c.exact_p)
            for c in compared
        )
    progress("paired tests", len(todo), len(todo))
    models = tuple(ModelMethods(line.label, line.cells, tuple(tests.get(line.label, ())))
                   for line in board.lines if len({c.method for c in line.cells.values()}) > 1)
    return MethodComparisonData(metric, models, tuple(notes), board.limit)


# --- failures and cost ------------------------------------------------------------------


@dataclass(frozen=True)
class RunCost:
    """One run: its failures by category and level, and what its calls cost."""

    label: str
    run: str
    method: str
    failures: tuple[FailureCounts, ...]
    calls: dict[str, Cell]  # level -> the `calls/question` score row
    inconsistency: dict[str, Cell]  # level -> the `pair inconsistency` row (pairwise LLM runs)
    costs: CallCosts | None  # None: the run has no call log (baselines)

    @property
    def n_questions(self) -> int:
        return sum(f.n_questions for f in self.failures)

    @property
    def n_failed(self) -> int:
        return sum(f.n_failed for f in self.failures)

    @property
    def n_missing(self) -> int:
        return sum(f.n_missing for f in self.failures)

    @property
    def categories(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for f in self.failures:
            for k, v in f.categories.items():
                total[k] = total.get(k, 0) + v
        return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class CostData:
    runs: tuple[RunCost, ...]
    metric: str = "tau-b"  # whose failure policy the page states

    @property
    def any_failures(self) -> bool:
        return any(r.n_failed or r.n_missing for r in self.runs)


def cost_data(
    runs: Sequence[LoadedRun], rows: Sequence[Any], board: LeaderboardData,
    progress: Progress = no_progress,
) -> CostData:
    """Per run (in leaderboard order, then method order): failures, calls/question, costs."""
    label_of = {c.run: line.label for line in board.lines for c in line.cells.values()}
    order = {line.label: i for i, line in enumerate(board.lines)}
    out = []
    for i, run in enumerate(runs):
        progress("failures and costs", i, len(runs))
        path = str(run.path)
        if path not in label_of:  # not a preference run (e.g. a rating run): its own section
            continue
        mine = [r for r in rows if r.run == path]
        out.append(RunCost(
            label=label_of[path], run=path, method=run.method, failures=tuple(failure_counts(run)),
            calls={r.level: Cell.from_row(r) for r in mine if r.metric == CALLS_PER_QUESTION},
            inconsistency={r.level: Cell.from_row(r) for r in mine if r.metric == INCONSISTENCY},
            costs=read_call_costs(Path(path)),
        ))
    progress("failures and costs", len(runs), len(runs))
    method_rank = {m: i for i, m in enumerate(METHODS)}
    out.sort(key=lambda r: (order[r.label], method_rank.get(r.method, len(METHODS)), r.run))
    return CostData(tuple(out), board.metric)


# --- the published table --------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceData:
    """The paper's 19 rows beside our Avg., with each side's mean per method."""

    metric: str  # ours; the published numbers are "official-v1"
    published: tuple[ReferenceRow, ...]
    ours: tuple[BoardLine, ...]
    published_method_means: dict[str, float]
    our_method_means: dict[str, float | None]
    limit: float
    excluded: tuple[str, ...] = ()  # our rows left out of our means (they read the truth)

    @property
    def comparable(self) -> bool:
        return self.metric == "official-v1"


def reference_data(board: LeaderboardData, reference: Sequence[ReferenceRow]) -> ReferenceData:
    """Our mean per method is over our models but the oracle, which reads the truth (as in
    `correlate`); the oracle's row is still shown."""
    ours: dict[str, float | None] = {}
    for m in METHODS:
        vals = [c.score for line in board.lines if not reads_truth(line.model) for c in line.cells.values()
                if c.method == m and c.score is not None]
        ours[m] = sum(vals) / len(vals) if vals else None
    limit = max(board.limit, scale_limit(v for r in reference for v in r.cells.values()))
    excluded = tuple(line.label for line in board.lines if reads_truth(line.model))
    return ReferenceData(board.metric, tuple(reference), board.lines,
                         method_means(list(reference)), ours, limit, excluded)
