"""`--dry-run` of `run` and `sweep`: what each run of a request would send, counted
without calling (`models.llm.estimate`). A run is a sweep of one cell, so one function
serves both; the commands print its result (`terminal.run_text`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bench import Benchmark
from ..tasks import questions_for
from .plan import RunRequest

if TYPE_CHECKING:
    from ..models.llm.estimate import Estimate


@dataclass
class CellEstimate:
    """One run of the request: a sweep cell's name (`""` for a plain run), its method and
    what it would send."""

    cell: str
    method: str
    estimate: Estimate


@dataclass
class DryRun:
    """What a request would send: nothing for a model that makes no calls (`calls` False;
    its options are still checked), else an estimate per cell and method."""

    model: str
    calls: bool
    cells: int = 1
    runs: list[CellEstimate] = field(default_factory=list)

    def total(self) -> Estimate:
        """Every run's estimate added up (the cost None when a run's model has no known price)."""
        from ..models.llm.estimate import Estimate

        total = Estimate(model=self.model, method=",".join(dict.fromkeys(r.method for r in self.runs)))
        for est in (r.estimate for r in self.runs):
            total.questions += est.questions
            total.requests += est.requests
            total.cached += est.cached
            total.prompt_tokens += est.prompt_tokens
            total.output_tokens += est.output_tokens
            total.cost_usd = None if total.cost_usd is None or est.cost_usd is None else total.cost_usd + est.cost_usd
        return total


def dry_run(request: RunRequest, cells: Sequence[tuple[str, Mapping[str, Any]]] = (("", {}),)) -> DryRun:
    """Estimate every method of `request` for each cell (a name and the settings the cell
    sets; a plain run is one cell that sets nothing). Components memoised by earlier runs
    are read from the response cache, and the ones made now are kept there for later."""
    bench = Benchmark(request.bench)
    if not request.entry.llm:
        for _, settings in cells:
            request.entry.create(request.model_options(settings))  # options are still checked
        return DryRun(model=request.model, calls=False, cells=len(cells))
    from ..models.llm.cache import ResponseCache, default_cache_path
    from ..models.llm.estimate import estimate_run
    from ..models.llm.recommender import LLMRecommender

    first = request.model_options(cells[0][1])  # where the cache is is shared by every cell
    path = Path(first.get("cache_path") or default_cache_path())
    cache = ResponseCache(path) if first.get("cache", True) and path.exists() else None
    out = DryRun(model=request.model, calls=True, cells=len(cells))
    try:
        for name, settings in cells:
            rec = request.entry.create(request.model_options(settings))
            assert isinstance(rec, LLMRecommender)  # entry.llm above
            rec.load(bench, request.split, cache)
            for method in request.methods:
                questions = questions_for(bench, method, request.split, request.levels, request.limit,
                                          request.pairs, request.rating_seed)
                est = estimate_run(rec, bench, method, request.split, cache=cache, questions=questions)
                out.runs.append(CellEstimate(name, method, est))
    finally:
        if cache is not None:
            cache.close()
    return out
