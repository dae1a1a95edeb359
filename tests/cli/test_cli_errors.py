"""How the `perrecbench` process ends on a user's mistake or Ctrl-C: typer's usage message
and exit 2 for a usage error (also without the `click` package), a message naming the
option for an out-of-range number, exit 130 and one line saying what is saved for Ctrl-C
in any command, and piped help that keeps every word."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI
from typer.testing import CliRunner

from perrecbench.cli import main as cli_main
from perrecbench.cli.main import app
from perrecbench.errors import BenchmarkError, ConfigError

REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    """This checkout's code, a private home, and no terminal width (as in a pipe)."""
    path = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PERRECBENCH_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("COLUMNS", None)
    return env


def _command() -> list[str]:
    """The installed `perrecbench` script beside this interpreter (else `python -m perrecbench`)."""
    script = Path(sys.executable).parent / "perrecbench"
    return [str(script)] if script.exists() else [sys.executable, "-m", "perrecbench"]


def _perrecbench(args: list[str], home: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*_command(), *args], env=_env(home), cwd=home.parent, capture_output=True,
                          text=True, timeout=120, **kw)


def _crash_files(home: Path) -> list[Path]:
    return list((home / "crashes").glob("*")) if (home / "crashes").exists() else []


REQUIRED_RUN = ["--bench", "b", "--model", "baseline/bias", "--method", "list", "--out", "o"]

USAGE_ERRORS = {
    "mistyped flag": ["run", "--lmit", "3", *REQUIRED_RUN],
    "missing option": ["run", "--bench", "b"],
    "not a number": ["run", "--limit", "abc", *REQUIRED_RUN],
    "no arguments": ["score"],
    "unknown command": ["scroe"],
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_a_usage_error_prints_the_usage_and_exits_2(case, tmp_path):
    home = tmp_path / "home"
    res = _perrecbench(USAGE_ERRORS[case], home)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Usage: " in res.stderr and "Error: " in res.stderr, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "internal error" not in res.stderr
    assert not _crash_files(home)


def _without_click(args: list[str], home: Path) -> subprocess.CompletedProcess:
    """The CLI in a process where `import click` fails, as on the core install (typer >= 0.26
    vendors click and does not install it)."""
    code = ("import sys; sys.modules['click'] = None; "
            f"sys.argv = ['perrecbench', *{args!r}]; "
            "from perrecbench.cli.main import main; main()")
    return subprocess.run([sys.executable, "-c", code], env=_env(home), cwd=home.parent, capture_output=True,
                          text=True, timeout=120)


def test_the_cli_works_without_the_click_package(tmp_path):
    home = tmp_path / "home"
    res = _without_click(["run", "--lmit", "3", *REQUIRED_RUN], home)
    assert res.returncode == 2 and "No such option: --lmit" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not _crash_files(home)
    res = _without_click(["--help"], home)
    assert res.returncode == 0 and "build" in res.stdout, res.stderr
    res = _without_click(["run", "--bench", str(tmp_path / "nowhere"), "--model", "baseline/bias", "--method",
                          "list", "--out", str(tmp_path / "o")], home)
    assert res.returncode == BenchmarkError.exit_code and "error: " in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


# ---------------------------------------------------------------------------- numbers

REQUIRED = {
    "run": REQUIRED_RUN,
    "sweep": [*REQUIRED_RUN, "--vary", "k=1,2"],
    "build": ["--out", "o"],
    "score": ["r"],
    "correlate": ["r"],
    "breakdown": ["r", "--by", "level"],
    "report": ["r", "--out", "o"],
    "demo": [],
    "render": ["--method", "list", "--components", "c.json"],
    "show": ["--bench", "b", "--id", "q"],
    "profiles": ["--bench", "b", "--offline"],
    "sft-data": ["--bench", "b", "--format", "point", "--out", "o"],
    "merge": ["a1", "a2", "--method", "naive", "--out", "o"],
}

BAD_NUMBERS = [
    ("run", "--limit", "-1"), ("run", "--limit", "0"), ("run", "--max-concurrency", "0"),
    ("run", "--pairs-seed", "-1"), ("run", "--rpm", "0"), ("run", "--tpm", "nan"), ("run", "--temperature", "nan"),
    ("run", "--temperature", "-0.5"), ("run", "--top-p", "0"), ("run", "--top-p", "1.5"),
    ("run", "--max-tokens", "0"), ("run", "--seed", "-1"), ("run", "--samples", "0"), ("run", "--timeout", "inf"),
    ("run", "--max-attempts", "0"), ("run", "--shots", "-1"), ("run", "--k", "-1"), ("run", "--prompt-variant", "4"),
    ("sweep", "--limit", "-1"), ("sweep", "--max-concurrency", "0"), ("sweep", "--resamples", "0"),
    ("sweep", "--rpm", "inf"), ("sweep", "--timeout", "0"), ("sweep", "--max-attempts", "0"),
    ("sweep", "--pairs-seed", "-1"),
    ("build", "--workers", "-2"), ("build", "--window-days", "nan"), ("build", "--window-days", "0"),
    ("build", "--window-days", "-inf"), ("build", "--seed", "-1"), ("build", "--min-history", "-1"),
    ("build", "--n-items", "-1"), ("build", "--n-heldout", "-1"), ("build", "--max-train", "-1"),
    ("score", "--seed", "-1"), ("correlate", "--seed", "-1"), ("breakdown", "--seed", "-1"),
    ("breakdown", "--buckets", "0"), ("breakdown", "--top", "0"), ("report", "--seed", "-1"), ("demo", "--seed", "-1"),
    ("render", "--prompt-variant", "9"), ("show", "--k", "-1"), ("profiles", "--max-concurrency", "0"),
    ("profiles", "--max-history", "0"), ("sft-data", "--limit", "0"), ("sft-data", "--seed", "-1"),
    ("sft-data", "--k", "-1"), ("sft-data", "--shots", "-1"), ("merge", "--density", "0"),
    ("merge", "--density", "1.5"), ("merge", "--density", "nan"), ("merge", "--svd-rank", "0"),
]


@pytest.mark.parametrize(("command", "option", "value"), BAD_NUMBERS, ids=lambda x: str(x))
def test_a_number_out_of_range_is_a_usage_error_naming_the_option(command, option, value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # were the value accepted, the command's relative paths land here
    res = CliRunner().invoke(app, [command, option, value, *REQUIRED[command]], env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{option}'" in res.output, res.output


@pytest.mark.parametrize("gap", ["nan", "1,inf,0.5", "easy=nan"])
def test_a_min_gap_that_is_no_finite_number_is_refused(gap, tmp_path):
    with pytest.raises(ConfigError, match="--min-gap: not a finite number"):
        invoke(["build", "--min-gap", gap, "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_the_run_request_refuses_a_negative_limit_and_no_slots(tmp_path):
    """The library's request objects check what the CLI's bounds check, for callers of
    `run.plan` and `run.sweep` (a negative limit slices questions from the end)."""
    from perrecbench.run.plan import RunRequest
    from perrecbench.run.sweep import SweepRequest

    base = {"bench": tmp_path, "model": "baseline/bias", "methods": ["list"], "out": tmp_path / "o"}
    with pytest.raises(ConfigError, match="--limit must be at least 1, got -1"):
        RunRequest(**base, limit=-1)
    with pytest.raises(ConfigError, match="--max-concurrency must be at least 1, got 0"):
        RunRequest(**base, max_concurrency=0)
    with pytest.raises(ConfigError, match="--limit must be at least 1, got 0"):
        SweepRequest(RunRequest(**base, limit=0), axes={"seed": [1, 2]})


# ---------------------------------------------------------------------------- a run directory as --bench

def test_a_run_directory_given_as_the_benchmark_is_named_so(tmp_path):
    bench = make_tiny_bench(tmp_path / "bench")
    runs = tmp_path / "runs" / "bias-list"
    res = invoke(["run", "--bench", str(bench), "--model", "baseline/bias", "--method", "list", "--out", str(runs),
                  "--no-progress"])
    assert res.exit_code == 0, res.output
    with pytest.raises(BenchmarkError) as info:
        invoke(["run", "--bench", str(runs), "--model", "baseline/bias", "--method", "list", "--out",
                str(tmp_path / "again"), "--no-progress"])
    message = str(info.value)
    assert f"{runs} is a run directory (baseline/bias, method list), not a benchmark directory" in message
    assert str(bench) in message  # the benchmark it ran on
    assert "upgrade" not in message and "format version" not in message


# ---------------------------------------------------------------------------- Ctrl-C

@pytest.mark.parametrize(("command", "target", "args", "saved"), [
    ("build", "perrecbench.builder.pipeline.build_from_source", ["--source", "synthetic"], "OUT is left as it was"),
    ("train", "perrecbench.train.trainer.train", ["--config", "cpu-tiny"], "checkpoints saved so far stay in OUT"),
])
def test_ctrl_c_in_a_command_exits_130_with_one_line(command, target, args, saved, tmp_path, monkeypatch, capsys):
    """KeyboardInterrupt anywhere in a command reaches main() (typer alone would return
    130 from `app(standalone_mode=False)`, and `train` ended with exit 0 and no word)."""
    module, name = target.rsplit(".", 1)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(__import__(module, fromlist=[name]), name, interrupted)
    if command == "train":
        import perrecbench.train.config as config

        monkeypatch.setattr(config, "load_config", lambda *a, **k: object())
    monkeypatch.setattr(sys, "argv", ["perrecbench", command, *args, "--out", str(tmp_path / "out"),
                                      "--no-progress"])
    with pytest.raises(SystemExit) as info:
        cli_main.main()
    assert info.value.code == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"interrupted: {cli_main.SAVED_ON_INTERRUPT[command]}"]
    assert saved in err


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it (a shell that starts the tests in the
    background makes children ignore SIGINT, and Python then raises no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_profiles_exits_130_and_says_what_is_saved(tmp_path):
    """A real `perrecbench profiles` process, interrupted while its request hangs in the
    server (the forced point: the server has received it and holds it)."""
    bench = make_tiny_bench(tmp_path / "bench")
    home = tmp_path / "home"
    with FakeOpenAI(faults=[{"kind": "slow", "delay": 30.0, "times": -1}]) as srv:
        proc = subprocess.Popen(
            [*_command(), "profiles", "--bench", str(bench), "--model", "openai/fake", "--base-url", srv.url,
             "--max-concurrency", "1"],
            env={**_env(home), "OPENAI_API_KEY": "sk-test"}, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
        try:
            deadline = time.monotonic() + 60
            while srv.stats()["requests"] < 1:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the request never reached the server"
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert err.strip().splitlines()[-1] == f"interrupted: {cli_main.SAVED_ON_INTERRUPT['profiles']}", err


_POOL_CHILD = """
import signal, sys, time
from pathlib import Path
from perrecbench.builder.pool import WorkerPool

signal.signal(signal.SIGINT, signal.default_int_handler)
flag = Path(sys.argv[1])

def work(payload, task):
    flag.touch()
    time.sleep(60)

try:
    with WorkerPool(None, 2) as pool:
        list(pool.map(work, range(4)))
except KeyboardInterrupt:
    print("parent interrupted")
    sys.exit(130)
"""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_ctrl_c_in_a_terminal_stops_the_build_workers_quietly(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: the build's forked workers
    leave it to the parent (which stops the pool) instead of each printing a traceback."""
    flag = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", _POOL_CHILD, str(flag)], env=_env(tmp_path / "home"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():  # the forced point: a worker is busy with a task
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no worker started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130 and out.strip() == "parent interrupted", out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


# ---------------------------------------------------------------------------- help

def _flat(text: str) -> str:
    """Help text without rich's box characters and line breaks."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def test_piped_help_keeps_brackets_and_whole_option_help(tmp_path):
    home = tmp_path / "home"
    res = _perrecbench(["sft-data", "--help"], home)
    assert res.returncode == 0, res.stderr
    assert '{"messages": [system, user, assistant]}' in _flat(res.stdout)
    res = _perrecbench(["run", "--help"], home)
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout, res.stdout
    method_help = next(p.help for p in typer.main.get_command(app).commands["run"].params if p.name == "method")
    assert method_help in _flat(res.stdout)
    assert "hf/" in _flat(res.stdout)  # --model names every backend


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    out = []
    for name, cmd in root.commands.items():
        out.append([name])
        out += [[name, sub] for sub in getattr(cmd, "commands", {})]
    return out


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_help_shows_its_square_brackets(command):
    """rich reads `[word]` as markup and drops it; every help text and docstring keeps its
    brackets (escaped as `\\[`) and nothing is cut at the width piped help gets."""
    cmd = typer.main.get_command(app)
    for part in command:
        cmd = cmd.commands[part]
    res = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(cli_main.PIPED_HELP_WIDTH)})
    assert res.exit_code == 0, res.output
    shown = _flat(res.output)
    texts = [cmd.help or ""] + [p.help or "" for p in cmd.params if getattr(p, "help", None)]
    for text in texts:
        for bracket in re.findall(r"\[[^\]]*\]", text.replace("\\[", "[")):
            assert _flat(bracket) in shown, f"{' '.join(command)}: {bracket!r} is missing from its help"
    assert "…" not in res.output, res.output


# ---------------------------------------------------------------------------- install hints

def test_a_missing_extra_is_named_for_the_index_and_for_a_clone(tmp_path, monkeypatch):
    from perrecbench.errors import ModelError

    bench = make_tiny_bench(tmp_path / "bench")
    monkeypatch.setitem(sys.modules, "anthropic", None)  # not installed: find_spec says None
    with pytest.raises(ModelError) as info:
        invoke(["run", "--bench", str(bench), "--model", "anthropic/claude-x", "--method", "list", "--out",
                str(tmp_path / "o"), "--no-progress"])
    assert str(info.value).endswith(
        "needs the SDK: pip install 'perrecbench[anthropic]' (from a clone: pip install -e '.[anthropic]')")


@pytest.mark.parametrize("weights", [[float("nan"), 1.0], [float("inf"), 1.0], [1.0, -1.0], [0.0, 0.0]])
def test_merge_weights_must_be_finite(weights):
    from perrecbench.train.merge import normalised_weights

    with pytest.raises(ConfigError, match="weights must be finite and non-negative with a positive sum"):
        normalised_weights(weights, 2)
