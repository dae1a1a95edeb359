"""Every flag a command accepted when the snapshot was taken is still accepted, the same way.

`tests/fixtures/cli_flags.json` records, for every command and subcommand of the CLI
(typer's click tree), each option parameter: its option strings (long names and short
aliases), its `--no-x` forms, whether it takes a value, is an on/off switch or counts,
and whether it may be repeated; and the positional arguments. Users type these flags
in scripts, so a refactor may add flags but never drop one, move an alias to another
option, or turn a switch into an option that wants a value (or back).

The snapshot was taken on main c4effe1 (before issue 15). Regenerate it only when a
flag is removed on purpose: `python tests/cli/test_cli_flags.py --write`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer.main

SNAPSHOT = Path(__file__).resolve().parents[1] / "fixtures" / "cli_flags.json"


def _kind(param: Any) -> str:
    if param.count:
        return "count"
    return "switch" if param.is_flag else "value"


def describe(command: Any) -> dict[str, Any]:
    """The options (keyed by their first option string) and arguments of one command
    (typer's click, vendored or not: parameters are told apart by `param_type_name`)."""
    options: dict[str, Any] = {}
    arguments: list[dict[str, Any]] = []
    for param in command.params:
        if param.param_type_name == "option":
            options[param.opts[0]] = {
                "opts": sorted(param.opts),
                "secondary_opts": sorted(param.secondary_opts),
                "kind": _kind(param),
                "multiple": bool(param.multiple),
                "nargs": param.nargs,
            }
        elif param.param_type_name == "argument":
            arguments.append({"nargs": param.nargs, "required": bool(param.required)})
    return {"options": options, "arguments": arguments}


def snapshot() -> dict[str, Any]:
    """command path ("" for the root, "cache stats" for a subcommand) -> its description."""
    from perrecbench.cli.main import app

    out: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        out[" ".join(path)] = describe(command)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


def _by_opt(desc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """option string (any of a parameter's, `--no-x` forms too) -> that parameter."""
    found: dict[str, dict[str, Any]] = {}
    for param in desc["options"].values():
        for opt in (*param["opts"], *param["secondary_opts"]):
            found[opt] = param
    return found


def differences(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What a user typing a recorded command line would find broken now."""
    problems: list[str] = []
    for path, before in recorded.items():
        where = f"perrecbench {path}".rstrip()
        if path not in now:
            problems.append(f"{where}: the command is gone")
            continue
        after = _by_opt(now[path])
        for first, param in before["options"].items():
            for opt in (*param["opts"], *param["secondary_opts"]):
                if opt not in after:
                    problems.append(f"{where}: {opt} is no longer accepted")
            current = after.get(first)
            if current is None:
                continue
            if not set(param["opts"]) <= set(current["opts"]):
                problems.append(f"{where}: {first}'s aliases {param['opts']} are now split: {current['opts']}")
            if not set(param["secondary_opts"]) <= set(current["secondary_opts"]):
                problems.append(f"{where}: {first}'s negations {param['secondary_opts']} are now "
                                f"{current['secondary_opts']}")
            for field in ("kind", "multiple", "nargs"):
                if current[field] != param[field]:
                    problems.append(f"{where}: {first} {field} was {param[field]!r}, is {current[field]!r}")
        if now[path]["arguments"] != before["arguments"]:
            problems.append(f"{where}: positional arguments were {before['arguments']}, are {now[path]['arguments']}")
    return problems


def test_every_recorded_command_and_flag_is_still_accepted_the_same_way():
    problems = differences(json.loads(SNAPSHOT.read_text()), snapshot())
    assert not problems, "\n".join(problems)


def test_the_snapshot_covers_the_commands_users_type():
    """A guard on the instrument itself: an empty or truncated snapshot proves nothing."""
    recorded = json.loads(SNAPSHOT.read_text())
    assert {"run", "sweep", "build", "score", "cache stats", "cache clear"} <= set(recorded)
    run = _by_opt(recorded["run"])
    assert run["-b"]["kind"] == "value" and run["--no-progress"]["kind"] == "switch"
    assert run["--option"]["multiple"] and run["--base-url"]["multiple"]
    assert sum(len(c["options"]) for c in recorded.values()) > 150


def test_a_dropped_flag_is_reported():
    """The comparison fails when a flag disappears or changes kind (a doctored snapshot)."""
    recorded = json.loads(SNAPSHOT.read_text())
    recorded["run"]["options"]["--bench"]["opts"].append("--benchmark-dir")
    recorded["run"]["options"]["--cot"]["kind"] = "value"
    recorded["cache clear"]["options"]["--yes"]["secondary_opts"] = ["--no-yes"]
    problems = differences(recorded, snapshot())
    assert "perrecbench run: --benchmark-dir is no longer accepted" in problems
    assert "perrecbench run: --cot kind was 'value', is 'switch'" in problems
    assert "perrecbench cache clear: --no-yes is no longer accepted" in problems
    assert len(problems) == 5  # the two above also report the changed alias and negation sets


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/cli/test_cli_flags.py --write  (regenerates the snapshot)")
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    commands = []
    for path, desc in sorted(snapshot().items()):  # one line per option: reviewable diffs
        options = ",\n".join(f"   {json.dumps(k)}: {json.dumps(v, sort_keys=True)}"
                              for k, v in sorted(desc["options"].items()))
        commands.append(f" {json.dumps(path)}: {{\n  \"arguments\": {json.dumps(desc['arguments'])},\n"
                        f"  \"options\": {{\n{options}\n  }}\n }}")
    SNAPSHOT.write_text("{\n" + ",\n".join(commands) + "\n}\n")
    print(f"wrote {SNAPSHOT}")
