"""Failures and cost per run: failure categories, calls per question, tokens and dollars."""

from __future__ import annotations

from collections.abc import Mapping

from ...constants import LEVELS
from ...score.metric_table import failure_policy, skips_failures
from .. import figures
from .. import formatting as fmt
from ..html import attrs, esc, label_cell, table
from ..page_data import CostData, RunCost, cost_data, leaderboard_data
from ..section import FigureSpec, Progress, ReportInputs, Section


def _calls_cell(r: RunCost, level: str) -> str:
    c = r.calls.get(level)
    if c is None:
        return f'<td class="num muted">{fmt.DASH}</td>'
    data = attrs(data_run=c.run, data_level=c.level, data_method=c.method, data_metric=c.metric,
                 data_score=fmt.full(c.score), data_ci_low=fmt.full(c.ci_low),
                 data_ci_high=fmt.full(c.ci_high), data_n=c.n_questions)
    return (f'<td class="num" title="95% interval {esc(fmt.interval(c.ci_low, c.ci_high))}"{data}>'
            f"{fmt.score(c.score)}</td>")


def _categories(r: RunCost) -> str:
    parts = [f"{esc(k)} {v:,}" for k, v in r.categories.items()]
    return " · ".join(parts) if parts else '<span class="muted">none</span>'


def _cost_cells(r: RunCost) -> str:
    k = r.costs
    if k is None:
        return '<td class="muted" colspan="5">no model calls</td>'
    dollars = fmt.usd(k.cost_usd) if k.cost_known else (
        f"{fmt.usd(k.cost_usd)} + ?" if k.cost_usd else "?")
    unpriced = f"{k.unpriced:,} answers have no known price" if k.unpriced else "all answers priced"
    data = attrs(data_costs=r.run, data_sent=k.sent, data_cached=k.cached,
                 data_errors=sum(k.errors.values()), data_prompt_tokens=k.prompt_tokens,
                 data_completion_tokens=k.completion_tokens, data_cost_usd=fmt.full(k.cost_usd),
                 data_unpriced=k.unpriced)
    errors = " · ".join(f"{esc(c)} {n:,}" for c, n in k.errors.items()) or "none"
    return (f'<td class="num"{data}>{fmt.count(k.sent)}</td><td class="num">{fmt.count(k.cached)}</td>'
            f'<td class="num" title="{esc(errors)}">{fmt.count(sum(k.errors.values()))}</td>'
            f'<td class="num">{fmt.count(k.prompt_tokens)} / {fmt.count(k.completion_tokens)}</td>'
            f'<td class="num" title="{esc(unpriced)}">{esc(dollars)}</td>')


def render(data: CostData, figs: Mapping[str, str]) -> str:
    logged = any(r.costs is not None for r in data.runs)
    counted = any(r.calls for r in data.runs)
    group = '<tr class="group"><th colspan="6"></th>'
    group += '<th colspan="3">calls / question</th>' if counted else ""
    group += '<th colspan="5">model calls (calls.jsonl, all sessions)</th>' if logged else ""
    heads = [("model", ""), ("method", ""), ("questions", "num"), ("failed", "num"),
             ("missing", "num"), ("failure categories", "")]
    heads += [(lv, "num") for lv in LEVELS] if counted else []
    heads += [("requests", "num"), ("cache hits", "num"), ("errors", "num"),
              ("tokens in / out", "num"), ("cost", "num")] if logged else []
    head = group + "</tr><tr>" + "".join(f'<th class="{c}">{esc(h)}</th>' for h, c in heads) + "</tr>"
    rows = []
    previous = None
    for r in data.runs:
        fail = attrs(data_failures=r.run, data_failed=r.n_failed, data_missing=r.n_missing)
        first = r.label != previous
        label = label_cell(r.label) if first else "<td></td>"
        previous = r.label
        rows.append(
            f'<tr class="ours{" first" if first else ""}">{label}<td>{esc(r.method)}</td>'
            f'<td class="num">{fmt.count(r.n_questions)}</td><td class="num"{fail}>{fmt.count(r.n_failed)}</td>'
            f'<td class="num">{fmt.count(r.n_missing)}</td><td>{_categories(r)}</td>'
            + ("".join(_calls_cell(r, lv) for lv in LEVELS) if counted else "")
            + (_cost_cells(r) if logged else "") + "</tr>")
    scored = (f"is left out of {esc(data.metric)} ({esc(failure_policy(data.metric))})"
              if skips_failures(data.metric) else "scores 0")
    notes = [f"A failed answer (unparseable, not a permutation, a refusal, ...) {scored} and is "
             "counted under its category; a missing one was never answered (an interrupted run, or a question an imported "
             "file leaves out)."]
    if counted:
        notes.append("Calls per question count every model call of an answered question: retries "
                     "and self-consistency samples included, and for pairwise runs one call per "
                     "comparison the sort asked for (baselines too).")
    if logged:
        notes.append("Requests, errors (failed attempts: 429s, timeouts, ...; hover for their "
                     "categories), tokens and dollars add up each run's calls.jsonl over all its "
                     "sessions: tokens (prompt / completion) and dollars of the answers received; "
                     "cache hits cost nothing again; a local server costs $0.")
    else:
        notes.append("No run has a call log (baselines answer locally), so nothing was paid.")
    body = table(head, rows, "costs") + "".join(f'<p class="note">{n}</p>' for n in notes)
    return body + figs.get("failures", "") + figs.get("calls-per-question", "")


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    board = leaderboard_data(inputs.rows, inputs.metric)
    data = cost_data(inputs.runs, inputs.rows, board, progress)
    if not data.runs:
        return None
    specs = []
    if data.any_failures:
        specs.append(FigureSpec("failures", "Share of each run's questions that failed, by failure "
                                "category, and never answered.", figures.failure_bars, data))
    if any(r.calls and r.costs is not None for r in data.runs):  # model calls, not a baseline's sort
        specs.append(FigureSpec("calls-per-question", "Model calls per answered question, per level, "
                                "with 95% bootstrap intervals.", figures.calls_bars, data))
    return Section(key="costs", title="Failures and cost", data=data, render=render, figures=tuple(specs),
                   lead="What each run could not answer, and what answering took.")
