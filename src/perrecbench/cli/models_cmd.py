"""`perrecbench models`: every model `--model` can name -- the baselines, the LLM backends
and each installed plugin -- with its options."""

from __future__ import annotations

import json
from typing import Any

import typer


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "none"


def _provider_options(cls: Any) -> dict[str, Any]:
    return {name: f.default for name, f in cls.Options.model_fields.items()}


def model_rows() -> list[dict[str, Any]]:
    """One row per model kind: name, kind, where it comes from, its options (a plugin
    that fails to import is listed with the reason)."""
    from ..errors import PerRecBenchError
    from ..models import plugins
    from ..models.baselines import BASELINES
    from ..models.llm.providers import names, provider_class
    from ..models.registry import is_provider, is_recommender

    rows: list[dict[str, Any]] = []
    for name, cls in BASELINES.items():
        rows.append({"name": f"baseline/{name}", "kind": "baseline", "source": "built in",
                     "options": dict(cls.DEFAULTS)})
    for backend in names():
        rows.append({"name": f"{backend}/<model>", "kind": "LLM backend", "source": "built in",
                     "options": _provider_options(provider_class(backend))})
    builtin = {*(f"baseline/{b}" for b in BASELINES), "baseline", *names()}
    for ep in plugins.installed():
        row: dict[str, Any] = {"name": ep.name, "kind": "plugin", "source": f"{ep.value} ({plugins.distribution(ep)})",
                               "options": {}}
        if ep.name in builtin:
            row["warning"] = f"shadowed by the built-in {ep.name}"
        try:
            obj = plugins.load(ep)
        except PerRecBenchError as exc:
            row["error"] = str(exc)
            obj = None
        if is_provider(obj):
            row.update(name=f"{ep.name}/<model>", kind="plugin LLM backend", options=_provider_options(obj),
                       llm_options=True)
        elif is_recommender(obj):
            row.update(kind="plugin recommender", options=dict(obj.DEFAULTS))
        elif obj is not None:
            row["error"] = "neither a perrecbench Recommender class nor an LLM provider class"
        rows.append(row)
    return rows


def models(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List the models --model can name: baselines, LLM backends, installed plugins (with options)."""
    rows = model_rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        line = f"{row['name']:<28} {row['kind']:<20} options: {_options_text(row['options'])}"
        if row["kind"].startswith("plugin"):
            line += f"  [{row['source']}]"
        typer.echo(line)
        if row.get("llm_options"):
            typer.echo(f"{'':<28} {'':<20} and every LLM option (perrecbench run --help)")
        for key in ("warning", "error"):
            if row.get(key):
                typer.secho(f"{'':<28} {key}: {row[key]}", fg="yellow", err=False)
    typer.echo("also: PATH.py:Class or module:Class, a subclass of perrecbench.Recommender or ScoreRecommender")


def register(app: typer.Typer) -> None:
    """Add `models`."""
    app.command("models")(models)
