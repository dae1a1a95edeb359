"""`import-release`, `import-release-results`, `export-release`: the authors' data layout."""

from __future__ import annotations

from pathlib import Path

import typer


def import_release_cmd(
    data: Path = typer.Option(
        ..., "--data", help="The release's data/ folder (or one <cat>-processed folder)."
    ),
    out: Path = typer.Option(..., "--out", help="Benchmark directory to write."),
    category: list[str] = typer.Option(
        None, "--category", help="Import only these categories (repeatable)."
    ),
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


def export_release_cmd(
    bench: Path = typer.Option(..., "--bench", help="Benchmark directory."),
    out: Path = typer.Option(..., "--out", help="Folder playing the role of the release's data/."),
) -> None:
    """Write a benchmark in the authors' layout so their code can run on it."""
    from ..interop.release import export_release

    folder = export_release(bench, out)
    typer.echo(f"wrote {folder}")


def register(app: typer.Typer) -> None:
    """Add the release commands."""
    app.command("import-release")(import_release_cmd)
    app.command("import-release-results")(import_release_results_cmd)
    app.command("export-release")(export_release_cmd)
