"""Declaring a model's options (one declaration per option), and checking `--option key=value`.

An option is declared once, as a field of a pydantic `Options` class made with
`option(default, role=..., help=...)`: its type and bounds, its default, its help and its
role (kept in the field's metadata as a `Declared`). Everything else is derived from that declaration (`declared`):

    role       what it changes: "transport" (where and how fast requests go; never the
               answers), "decoding" (the requests' sampling settings), "prompt" (what is
               asked), "method" (how answers are made: samples, pair strategy...)
    identity   recorded in the run's config, so part of its identity (default: prompt and
               method options; decoding is recorded per method as `generation`)
    sweep      a setting `perrecbench sweep --vary` may vary (default: every role but
               transport -- those are shared by every cell)
    flag       the command-line flag, when there is one (`Flag`): the commands that have
               it, its spelling, its bounds

The LLM options (`llm.options.LLMOptions`) and a recommender class's options
(`base.Recommender.Options`) are declared this way. A class may still declare plain
`DEFAULTS` (`{name: default}`): `declared` reads those as method options, each default's
type the option's type, checked by `parse_options` as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from ..errors import ConfigError, validation_message

Role = Literal["transport", "decoding", "prompt", "method"]
ROLES: tuple[Role, ...] = ("transport", "decoding", "prompt", "method")


@dataclass(frozen=True)
class Flag:
    """How an option appears on the command line. `commands`: the commands with the flag
    (`run`, `sweep`); `names`: its spelling when not `--<name-with-dashes>` (a bool
    without one gets typer's `--x/--no-x`); `invert`: the flag sets the option False
    (`--no-cache`); `path`: the value is a file or directory; `min`/`max`/`check`:
    bounds the flag enforces (`check` names a `cli.bounds` callback: finite, positive,
    fraction); `panel`: the help panel when not the LLM one."""

    commands: tuple[str, ...] = ("run",)
    names: tuple[str, ...] = ()
    invert: bool = False
    path: bool = False
    min: float | None = None
    max: float | None = None
    check: str | None = None
    panel: str | None = None


@dataclass(frozen=True)
class Declared:
    """What `option` adds to a field's metadata (pydantic keeps it and ignores it)."""

    role: Role
    identity: bool
    sweep: bool
    flag: Flag | None


def option(default: Any = None, *, role: Role, help: str, identity: bool | None = None,  # noqa: A002
           sweep: bool | None = None, flag: Flag | None = None, default_factory: Any = None,
           **constraints: Any) -> Any:
    """A declared option: a pydantic `Field` carrying its role, help and flag."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    meta = Declared(role, role in ("prompt", "method") if identity is None else identity,
                    role != "transport" if sweep is None else sweep, flag)
    field: FieldInfo = (Field(default_factory=default_factory, description=help, **constraints)
                        if default_factory is not None else Field(default, description=help, **constraints))
    field.metadata.append(meta)
    return field


@dataclass(frozen=True)
class OptionSpec:
    """One declared option, as every derived list reads it."""

    name: str
    role: Role
    default: Any
    help: str
    identity: bool
    sweep: bool
    flag: Flag | None
    annotation: Any = None


def _spec(name: str, f: FieldInfo) -> OptionSpec:
    meta = next((m for m in f.metadata if isinstance(m, Declared)), None)
    if meta is None:  # a plain field: a method option
        meta = Declared("method", True, True, None)
    return OptionSpec(name=name, role=meta.role, default=f.get_default(call_default_factory=True),
                      help=f.description or "", identity=meta.identity, sweep=meta.sweep, flag=meta.flag,
                      annotation=f.annotation)


def declared(options: type[BaseModel] | dict[str, Any]) -> dict[str, OptionSpec]:
    """The declared options, in declaration order: of an `Options` class, or of a plain
    `DEFAULTS` dict (method options of each default's type)."""
    if isinstance(options, dict):
        return {k: OptionSpec(k, "method", v, "", True, True, None, type(v)) for k, v in options.items()}
    return {name: _spec(name, f) for name, f in options.model_fields.items()}


def names(options: type[BaseModel] | dict[str, Any], *, role: Role | None = None, identity: bool | None = None,
          sweep: bool | None = None) -> tuple[str, ...]:
    """The names of the declared options that match (declaration order)."""
    return tuple(s.name for s in declared(options).values()
                 if (role is None or s.role == role) and (identity is None or s.identity == identity)
                 and (sweep is None or s.sweep == sweep))


def defaults(options: type[BaseModel]) -> dict[str, Any]:
    """Each declared option's default (the `DEFAULTS` of a class that declares `Options`)."""
    return {s.name: s.default for s in declared(options).values()}


def check_declared(model: str, options: dict[str, Any] | None, declaration: type[BaseModel]) -> dict[str, Any]:
    """`options` validated by a class's `Options` declaration: every option, defaults
    filled in; an unknown key or a bad value is a `ConfigError` naming the model."""
    from pydantic import ValidationError

    options = dict(options or {})
    unknown = sorted(set(options) - set(declaration.model_fields))
    if unknown:
        valid = ", ".join(sorted(declaration.model_fields)) or "none"
        raise ConfigError(f"{model}: unknown option(s) {', '.join(unknown)} (valid: {valid})")
    try:
        return declaration(**options).model_dump()
    except ValidationError as exc:
        raise ConfigError(f"{model}: bad option(s): {validation_message(exc)}") from None


def check_options(model: str, options: dict[str, Any] | None, declaration: type[BaseModel] | None,
                  defaults: dict[str, Any]) -> dict[str, Any]:
    """A model's options checked by its declaration: its `Options` class when it has one,
    else its plain `DEFAULTS` (`parse_options`)."""
    if declaration is not None:
        return check_declared(model, options, declaration)
    return parse_options(model, options, defaults)


def parse_options(model: str, options: dict[str, Any] | None, defaults: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `options`, cast to each default's type; unknown keys are errors."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "none"
        raise ConfigError(f"{model}: unknown option(s) {', '.join(unknown)} (valid: {valid})")
    out = dict(defaults)
    for key, raw in options.items():
        kind = type(defaults[key])
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{model}: option {key}={raw!r} is not a {kind.__name__}") from None
        if isinstance(value, (int, float)) and value < 0:
            raise ConfigError(f"{model}: option {key} must not be negative (got {raw!r})")
        out[key] = value
    return out
