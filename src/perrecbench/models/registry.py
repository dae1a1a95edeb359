"""Model strings -> recommenders.

    baseline/<name>           a built-in baseline (`baselines.BASELINES`)
    <backend>/<model>         an LLM through a built-in backend (`llm.providers`)
    ./path.py:Class           a user's class in a file
    package.module:Class      a user's class in an importable module
    NAME                      an installed plugin's recommender class
    NAME/<model>              an installed plugin's LLM provider class (`<model>` goes to it)

Plugins are entry points of the group `perrecbench.models` (`plugins`), imported only
when named. Built-in names win over plugins, with a warning naming the shadowed plugin.
What the runner, the plan and a sweep need to know of a model -- whether it takes the LLM
flags, whether it makes calls, which options it declares -- comes from `ModelEntry`,
that is from the model's class, never from its name's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..errors import ConfigError, PerRecBenchError
from . import plugins
from .base import Recommender, source_hash
from .options import check_options


def _llm_backends() -> tuple[str, ...]:
    from .llm.providers import names

    return names()


def is_provider(obj: Any) -> bool:
    from .llm.providers.base import ModelAPI

    return isinstance(obj, type) and issubclass(obj, ModelAPI)


def is_recommender(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Recommender)


@dataclass(frozen=True)
class ModelEntry:
    """What a `--model` spec names: a class constructed as `cls(options)` (a baseline, a
    user's or a plugin's class), or an LLM (`backend`/`model`, its provider built in or a
    plugin's). `warnings` are for the user (a plugin shadowed by a built-in name)."""

    spec: str
    cls: type[Recommender] | None = None
    backend: str | None = None
    model: str | None = None
    label: str | None = None  # the class's own `name`, or the spec
    warnings: tuple[str, ...] = field(default=())

    @property
    def llm(self) -> bool:
        """Takes the LLM flags (`--temperature`, `--base-url`...) and `max_concurrency`."""
        return self.backend is not None

    @property
    def makes_calls(self) -> bool:
        """One object answers every method of a run; more questions open than slots."""
        return self.llm or bool(self.cls is not None and self.cls.makes_calls)

    @property
    def defaults(self) -> dict[str, Any]:
        """The options a class declares (an LLM's are the LLM options; see `llm.options`)."""
        return dict(self.cls.DEFAULTS) if self.cls is not None else {}

    @property
    def declaration(self) -> type[BaseModel] | dict[str, Any]:
        """What declares the model's options (`models.options.declared` reads it): the
        LLM options, the class's `Options`, or its plain `DEFAULTS`."""
        if self.llm:
            from .llm.options import LLMOptions

            return LLMOptions
        assert self.cls is not None
        return self.cls.Options or dict(self.cls.DEFAULTS)

    @property
    def source(self) -> str | None:
        """Hash of the class's source file (a user's or a plugin's class), else None."""
        return source_hash(self.cls) if self.cls is not None else None

    def create(self, options: dict[str, Any] | None = None) -> Recommender:
        if self.llm:
            from .llm.recommender import create_llm_recommender

            assert self.backend is not None and self.model is not None
            return create_llm_recommender(self.backend, self.model, dict(options or {}))
        assert self.cls is not None
        if self.spec.startswith("baseline/"):
            return self.cls(options)
        label = self.label or self.spec
        checked = check_options(label, options, self.cls.Options, self.cls.DEFAULTS)
        try:
            model = self.cls(checked)
        except PerRecBenchError:
            raise
        except Exception as exc:  # a user's constructor: one line, never a traceback
            raise ConfigError(f"{self.spec}: creating the model failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(model, Recommender):
            raise ConfigError(f"{self.spec}: not a perrecbench Recommender")
        if not model.name or model.name == Recommender.name:
            model.name = self.spec
        model.spec = self.spec
        return model


def _class_entry(spec: str, obj: Any, what: str, warnings: tuple[str, ...] = ()) -> ModelEntry:
    if not is_recommender(obj):
        raise ConfigError(f"{what} is not a subclass of perrecbench.Recommender or perrecbench.ScoreRecommender")
    if getattr(obj, "__abstractmethods__", None):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise ConfigError(f"{what} does not implement {missing}")
    own = obj.name if obj.name != Recommender.name else None
    return ModelEntry(spec=spec, cls=obj, label=own or spec, warnings=warnings)


def _shadowed(names: list[str], builtin: str) -> tuple[str, ...]:
    out = []
    installed = {ep.name: ep for ep in plugins.installed()}  # one scan of the entry points
    for name in names:
        ep = installed.get(name)
        if ep is not None:
            out.append(f"the plugin {ep.name!r} ({ep.value}, from {plugins.distribution(ep)}) is shadowed by "
                       f"the built-in {builtin}; rename it in its entry point to use it")
    return tuple(out)


def resolve(spec: str) -> ModelEntry:
    """What `spec` names (imports a user's class or a named plugin; nothing else)."""
    if plugins.is_object_spec(spec):
        return _class_entry(spec, plugins.load_object(spec), spec)
    prefix, sep, name = spec.partition("/")
    if prefix == "baseline" and sep:
        from .baselines import BASELINES

        if name not in BASELINES:
            raise ConfigError(f"unknown baseline {name!r}; valid: {', '.join(sorted(BASELINES))}")
        return ModelEntry(spec=spec, cls=BASELINES[name], label=spec,
                          warnings=_shadowed([spec, prefix], f"baseline {spec}"))
    backends = _llm_backends()
    if sep and name and prefix in backends:
        return ModelEntry(spec=spec, backend=prefix, model=name, label=spec,
                          warnings=_shadowed([spec, prefix], f"LLM backend {prefix!r}"))
    ep = plugins.find(spec)
    if ep is not None:
        obj = plugins.load(ep)
        if is_provider(obj):
            raise ConfigError(f"plugin {spec} is an LLM provider: name a model, --model {spec}/<model>")
        return _class_entry(spec, obj, f"plugin {spec} ({ep.value})")
    ep = plugins.find(prefix) if sep and name else None
    if ep is not None:
        obj = plugins.load(ep)
        if is_recommender(obj):
            raise ConfigError(f"plugin {prefix} is a recommender class: use --model {prefix}")
        if not is_provider(obj):
            raise ConfigError(f"plugin {prefix} ({ep.value}) is neither a perrecbench Recommender nor an LLM "
                              "provider (a subclass of perrecbench.models.llm.providers.base.ModelAPI)")
        from .llm.providers import register_plugin

        register_plugin(prefix, obj)
        return ModelEntry(spec=spec, backend=prefix, model=name, label=spec)
    if spec.endswith(".py"):
        raise ConfigError(f"{spec}: name the class in the file too, --model {spec}:ClassName")
    kinds = ", ".join(["baseline/<name>", *(f"{b}/<model>" for b in backends), "PATH.py:Class", "module:Class",
                       *(ep.name for ep in plugins.installed())])
    raise ConfigError(f"unknown model {spec!r}: use {kinds}")


def create_model(spec: str, options: dict[str, Any] | None = None) -> Recommender:
    return resolve(spec).create(options)


def is_llm(spec: str) -> bool:
    """Whether `spec` is an LLM (takes the LLM flags); decided by what it names."""
    return resolve(spec).llm


def variant_for_config(spec: str, config: dict[str, Any]) -> str:
    """The variant label a model's recommender gives a run recorded with `config` (for
    run manifests written before manifests carried the label)."""
    if spec.startswith("baseline/"):
        from .baselines import BASELINES

        cls = BASELINES.get(spec.partition("/")[2])
        return "" if cls is None else cls.variant_of(config)
    if "profile" not in config:  # not an LLM run of ours (e.g. imported results)
        return ""
    from .llm.options import variant_from_config

    return variant_from_config(config)


def adapter_label(config: dict[str, Any]) -> str:
    """The adapter part of an LLM run's variant ("" for none): added to the label of runs
    recorded before the variant named it."""
    from .llm.options import adapter_label as label

    return label(config)
