"""The LLM flags of `run` and `sweep`, made from the options' declarations (`LLMOptions`).

Each LLM option that declares a `Flag` for a command becomes one typer parameter of that
command: its spelling, type, bounds and help (with the default stated from the
declaration) come from the declaration, so adding an option with a flag is one field in
`models/llm/options.py`. `@llm_flags("run")` adds them to a command function in place of
its `llm_flags: dict` parameter, which then receives the flags that were given
(`{option name: value}`; a flag left out is None, as `RunRequest` expects).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from ..models.llm.options import LLMOptions, default_text
from ..models.options import OptionSpec, declared
from . import bounds

F = TypeVar("F", bound=Callable[..., Any])

#: the help panel of each command's LLM flags
PANELS = {"run": "LLM", "sweep": "LLM (shared by every cell)"}
_CHECKS: dict[str, Callable[[float | None], float | None]] = {
    "finite": bounds.finite, "positive": bounds.positive, "fraction": bounds.fraction,
}


def flag_specs(command: str) -> list[OptionSpec]:
    """The declared LLM options with a flag of `command`, in declaration order."""
    return [s for s in declared(LLMOptions).values() if s.flag is not None and command in s.flag.commands]


def param_name(spec: OptionSpec) -> str:
    """The command function's parameter: the option's name (`no_cache` for an inverted flag)."""
    assert spec.flag is not None
    return f"no_{spec.name}" if spec.flag.invert else spec.name


def _base_type(annotation: Any) -> Any:
    """`float | None` -> float, `Literal["a", "b"]` -> str, `list[str] | None` -> list."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _base_type(args[0])
    if origin is typing.Literal:
        return type(args[0])
    if origin is list:
        return list
    return annotation


def flag_type(spec: OptionSpec) -> Any:
    """The parameter's annotation: bool for switches, list[str] for repeatable flags,
    `Path | None` for paths, else the option's type or None (None: not given)."""
    assert spec.flag is not None
    base = _base_type(spec.annotation)
    if spec.flag.invert or base is bool:
        return bool
    if base is list:
        return list[str]
    if spec.flag.path:
        return Path | None
    return base | None


def flag_help(spec: OptionSpec) -> str:
    """The declared help, with the default as the declaration states it."""
    text = default_text(spec.name) if spec.flag is not None and not spec.flag.invert else ""
    if text and isinstance(spec.default, str):
        text = f"'{text}'"  # a word among the choices the help lists: `(default 'default')`
    return f"{spec.help} (default {text})" if text else spec.help


def flag_option(spec: OptionSpec, command: str) -> Any:
    """The typer option of `spec`'s flag on `command`."""
    flag = spec.flag
    assert flag is not None
    kind = flag_type(spec)
    default: Any = False if kind is bool else [] if kind == list[str] else None
    return typer.Option(
        default, *flag.names, help=flag_help(spec), min=flag.min, max=flag.max,
        callback=_CHECKS[flag.check] if flag.check else None, rich_help_panel=flag.panel or PANELS[command],
    )


def option_value(spec: OptionSpec, value: Any) -> Any:
    """A flag's value as the option takes it; None when the flag was left out."""
    assert spec.flag is not None
    if spec.flag.invert:
        return False if value else None
    if isinstance(value, bool):
        return True if value else None
    if isinstance(value, list):
        return list(value) or None
    if isinstance(value, Path):
        return str(value)
    return value


def llm_flags(command: str) -> Callable[[F], F]:
    """Decorator: give a command function `command`'s LLM flags in place of its
    `llm_flags` parameter, which receives `{option: value}` of every flag."""

    def decorate(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        specs = flag_specs(command)
        params: list[inspect.Parameter] = []
        for p in sig.parameters.values():
            if p.name != "llm_flags":
                params.append(p)
                continue
            params += [inspect.Parameter(param_name(s), p.kind, default=flag_option(s, command),
                                         annotation=flag_type(s)) for s in specs]

        @functools.wraps(func)
        def command_fn(*args: Any, **kwargs: Any) -> Any:
            given = {s.name: option_value(s, kwargs.pop(param_name(s), None)) for s in specs}
            return func(*args, **kwargs, llm_flags=given)

        command_fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command_fn.__annotations__ = {p.name: p.annotation for p in params}
        return command_fn  # type: ignore[return-value]

    return decorate
