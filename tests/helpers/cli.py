"""`perrecbench run` in-process for the CLI tests: arguments, invocation, answers."""

from __future__ import annotations

from typer.testing import CliRunner

from perrecbench.cli.main import app
from perrecbench.run.rundir import RunDir


def run_args(bench, out, method, url, *extra):
    """A `run` of the fake model against a loopback server, retrying quickly, no progress bar."""
    return ["run", "--bench", str(bench), "--model", "openai/fake", "--method", method, "--out", str(out),
            "--base-url", url, "--option", "retry_base_delay=0.01", "--no-progress", *extra]


def invoke(args):
    """The CLI in-process; an unexpected exception is raised, not hidden in the result."""
    result = CliRunner().invoke(app, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def predictions(out):
    """question id -> Prediction of a run directory."""
    return {r.prediction.question_id: r.prediction for r in RunDir(out).read_predictions()}
