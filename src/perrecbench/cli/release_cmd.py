"""`import-release`, `import-release-results`, `export-release`: the authors' data layout;
`import-predictions`: any system's answers (JSON Lines, TREC) through the same importer."""

from __future__ import annotations

from pathlib import Path

import typer

from .lock_option import WAIT


def import_release_cmd(
    data: Path = typer.Option(
        ..., "--data", help="The release's data/ folder (or one <cat>-processed folder)."
    ),
    out: Path = typer.Option(..., "--out", help="Benchmark directory to write."),
    category: list[str] = typer.Option(
        None, "--category", help="Import only these categories (repeatable)."
    ),
    wait: bool = WAIT,
) -> None:
    """Turn the authors' released data into a benchmark directory."""
    from ..interop.release import import_release

    rep = import_release(data, out, category or None)
    counts = ", ".join(f"{s}/{lv}: {n}" for s, d in rep.questions.items() for lv, n in d.items())
    typer.echo(f"wrote {rep.out_dir} from {', '.join(rep.categories)}: {counts}")
    typer.echo(f"{rep.reviews} context reviews, {rep.items} items, {rep.profiles} profiles")
    if rep.users_synthesized_time:
        typer.echo(
            f"{rep.users_synthesized_time} users had no timestamps: synthesized from list order"
        )
    if rep.history_len_mismatches:
        typer.secho(f"warning: {rep.history_len_mismatches} members' history_len disagrees with timestamps",
                    fg="yellow", err=True)  # fmt: skip
    for line in rep.summary():
        typer.secho(line, fg="yellow", err=True)


def import_release_results_cmd(
    bench: Path = typer.Option(..., "--bench", help="Benchmark imported from the release."),
    pred: Path = typer.Option(
        ..., "--pred", help="A release prediction file, e.g. gpt-4o-mini_hard_group_0.json."
    ),
    method: str = typer.Option(..., "--method", help="point, pair or list (their 'group')."),
    level: str = typer.Option(..., "--level", help="easy, medium or hard."),
    model: str = typer.Option(..., "--model", help="Model name for the run manifest."),
    out: Path = typer.Option(..., "--out", help="Run directory to write (or add this level to)."),
    wait: bool = WAIT,
) -> None:
    """Turn one of the authors' prediction files into a run directory for `perrecbench score`."""
    from ..interop.release import import_release_results

    rep = import_release_results(bench, pred, method, level, model, out)
    typer.echo(
        f"wrote {rep.written} {rep.level} {rep.method} answers to {rep.run_dir} "
        f"({rep.failed} failed, {rep.missing} questions without an answer, {rep.unknown_items} unknown items)"
    )
    for reason, n in sorted(rep.failures.items()):
        typer.echo(f"  failed {n}: {reason}")


def import_predictions_cmd(
    bench: Path = typer.Option(..., "--bench", help="Benchmark directory the predictions answer."),
    method: str = typer.Option(..., "--method", help="point, pair, list or rating."),
    model: str = typer.Option(..., "--model", help="The system's label (the run's model name)."),
    file: Path = typer.Option(..., "--file", help="Predictions file: JSON Lines or a TREC run file."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl (default) or trec (question_id Q0 user_id rank score "
                                                       "tag; pair/list only)."),
    split: str = typer.Option("test", "--split", help="Split the file answers."),
    pairs: str = typer.Option("400", "--pairs", help="rating: the pairs asked (as given to export-questions or "
                                                     "run), or all."),
    pairs_seed: int = typer.Option(0, "--pairs-seed", min=0, help="rating: seed of the pair sample."),
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    wait: bool = WAIT,
) -> None:
    """Check a predictions file from any system one-to-one against the benchmark and write it
    as a run directory for `perrecbench score`. Any bad line refuses the whole file."""
    from ..interop.predictions import import_predictions
    from ..run.plan import parse_pairs

    rep = import_predictions(bench, file, method, model, out, fmt, split, parse_pairs(pairs), pairs_seed)
    typer.echo(f"wrote {rep.written} {rep.split} {rep.method} answers to {rep.run_dir} ({rep.failed} failed, "
               f"{rep.missing} questions without an answer, scored as missing)")
    for level, n in rep.missing_by_level.items():
        if n:
            typer.secho(f"  missing {n} {level} questions", fg="yellow", err=True)
    for reason, n in sorted(rep.failures.items()):
        typer.echo(f"  failed {n}: {reason}")


def export_release_cmd(
    bench: Path = typer.Option(..., "--bench", help="Benchmark directory."),
    out: Path = typer.Option(..., "--out", help="Folder playing the role of the release's data/."),
    wait: bool = WAIT,
) -> None:
    """Write a benchmark in the authors' layout so their code can run on it."""
    from ..interop.release import export_release

    folder = export_release(bench, out)
    typer.echo(f"wrote {folder}")


def register(app: typer.Typer) -> None:
    """Add the release commands."""
    app.command("import-release")(import_release_cmd)
    app.command("import-release-results")(import_release_results_cmd)
    app.command("import-predictions")(import_predictions_cmd)
    app.command("export-release")(export_release_cmd)
