"""Results a command prints in several formats: one object each, one method a format
(`to_table`, `to_markdown`, `to_json`, `to_csv`, as ranx's `Report`), so a command asks
`result.render(fmt)` instead of choosing a renderer itself."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError
from ..records import ComparisonRow, ScoreRow
from ..records.analysis import BreakdownTable, CorrelationReport
from . import board_text as lb
from .analysis_text import breakdown_csv, breakdown_text, correlation_csv, correlation_text


class Printable:
    """A result with a text for each of its `FORMATS`."""

    FORMATS: ClassVar[tuple[str, ...]] = ("table", "json", "csv", "markdown")

    @classmethod
    def check_format(cls, fmt: str) -> str:
        """`--format` before any work is done: one of the formats this result prints."""
        if fmt not in cls.FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(cls.FORMATS)}, got {fmt!r}")
        return fmt

    def render(self, fmt: str) -> str:
        """The text of format `fmt` (one of `FORMATS`)."""
        render = getattr(self, f"to_{self.check_format(fmt)}")
        text: str = render()
        return text

    def to_table(self) -> str:
        raise NotImplementedError

    def to_json(self) -> str:
        raise NotImplementedError

    def to_csv(self) -> str:
        raise NotImplementedError

    def to_markdown(self) -> str:
        raise NotImplementedError


def record_json(record: Any) -> str:
    """A typed analysis result as JSON, stamped with this installation's provenance."""
    from ..records import provenance

    data = record.model_copy(update={"provenance": provenance.current()}).to_data()
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class ScoreResult(Printable):
    """`perrecbench score`: a row per run, level and metric; with `board`, the table and
    Markdown texts add the leaderboard (JSON and CSV are the rows only)."""

    rows: Sequence[ScoreRow]
    board: lb.Leaderboard | None = None

    def to_json(self) -> str:
        return json.dumps([r.to_dict() for r in self.rows], indent=2) + "\n"

    def to_csv(self) -> str:
        return lb.detail_csv(self.rows)

    def to_table(self) -> str:
        text = lb.render_detail(self.rows)
        return text if self.board is None else text + "\n" + lb.render_table(self.board)

    def to_markdown(self) -> str:
        text = lb.detail_markdown(self.rows)
        return text if self.board is None else text + "\n" + lb.to_markdown(self.board)


COMPARISON_HEADER = ["level", "metric", "A", "B", "score A", "score B", "A - B", "95% CI", "p", "n"]


def _sides(r: ComparisonRow) -> tuple[str, str]:
    """How the table names A and B: label and method, and the run directory when that
    alone would name both sides alike."""
    a, b = f"{r.label_a or r.model_a} ({r.method_a})", f"{r.label_b or r.model_b} ({r.method_b})"
    return (f"{a} {r.run_a}", f"{b} {r.run_b}") if a == b else (a, b)


@dataclass
class ComparisonResult(Printable):
    """`perrecbench score --compare`: run A against run B, a row per level."""

    rows: Sequence[ComparisonRow]

    def _lines(self) -> list[list[str]]:
        return [[r.level, r.metric, *_sides(r), f"{r.score_a:.3f}", f"{r.score_b:.3f}", f"{r.diff:+.3f}",
                 f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]", f"{r.p_value:.4f}{'' if r.exact_p else ' (MC)'}", str(r.n)]
                for r in self.rows]  # fmt: skip

    def to_json(self) -> str:
        return json.dumps([r.to_dict() for r in self.rows], indent=2)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COMPARISON_HEADER)
        w.writerows(self._lines())
        return buf.getvalue()

    def to_markdown(self) -> str:
        out = ["| " + " | ".join(COMPARISON_HEADER) + " |", "|" + "|".join("---" for _ in COMPARISON_HEADER) + "|"]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in self._lines()]) + "\n"

    def to_table(self) -> str:
        from rich.table import Table

        table = Table(title="Paired comparison (sign-flip permutation test; bootstrap CI)")
        for h in COMPARISON_HEADER:
            table.add_column(h)
        for line in self._lines():
            table.add_row(*line)
        return lb.render_text(table, 180)


@dataclass
class LeaderboardResult(Printable):
    """`perrecbench leaderboard` (and `demo`): the paper's table."""

    FORMATS: ClassVar[tuple[str, ...]] = ("table", "markdown", "csv")

    board: lb.Leaderboard

    def to_table(self) -> str:
        return lb.render_table(self.board)

    def to_markdown(self) -> str:
        return lb.to_markdown(self.board)

    def to_csv(self) -> str:
        return lb.to_csv(self.board)


@dataclass
class AnalysisResult(Printable):
    """An analysis' typed record (`records.analysis`): its JSON is the record itself."""

    FORMATS: ClassVar[tuple[str, ...]] = ("table", "json", "csv")

    record: Any

    def to_json(self) -> str:
        return record_json(self.record)


@dataclass
class CorrelationResult(AnalysisResult):
    """`perrecbench correlate`: preference scores against rating-prediction error."""

    record: CorrelationReport

    def to_table(self) -> str:
        return correlation_text(self.record)

    def to_csv(self) -> str:
        return correlation_csv(self.record)


@dataclass
class BreakdownResult(AnalysisResult):
    """`perrecbench breakdown`: scores by category, exposure, level or method."""

    record: BreakdownTable

    def to_table(self) -> str:
        return breakdown_text(self.record)

    def to_csv(self) -> str:
        return breakdown_csv(self.record)
