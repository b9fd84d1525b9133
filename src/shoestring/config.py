"""Typed configs: one dataclass is the single source of truth for the CLI, config files and saved models.

A config is a ``@dataclass`` whose fields carry their help text in ``metadata``::

    @dataclass
    class VampireConfig(Config):
        latent_dim: int = param(81, "K, the number of topics (latent dimensions)", min=1)

``add_arguments`` turns the fields into argparse options (``--latent-dim``), ``from_args`` reads them back,
``to_dict``/``from_dict`` round-trip through JSON (unknown keys are an error, so a typo in a config file
does not pass silently), and ``validate`` checks every declared bound and choice, raising
:class:`~shoestring.errors.ConfigError` with the fix.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
import typing
from typing import Any, TypeVar

from shoestring.errors import ConfigError

C = TypeVar("C", bound="Config")


def param(default: Any, help: str, *, choices: tuple | None = None, min: float | None = None,
          max: float | None = None, cli: bool = True, nargs: str | None = None, above: float | None = None) -> Any:
    """Declare a config field with its help text and constraints (used by the CLI and ``validate``).

    ``min``/``max`` are inclusive bounds; ``above`` an exclusive lower bound (``--minutes`` must be > 0).
    Float fields never accept NaN or infinity."""
    meta = {"help": help, "choices": choices, "min": min, "max": max, "cli": cli, "nargs": nargs, "above": above}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp):
    """(python type, optional?) for a field annotation such as ``int``, ``float | None``, ``list[int]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner, _ = _base_type(args[0])
        return inner, True
    if origin in (list, tuple):
        return list, False
    return tp, False


@dataclasses.dataclass
class Config:
    """Base class for shoestring configs."""

    def validate(self: C) -> C:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            name = f"{f.name} (--{f.name.replace('_', '-')})"  # read by Python and CLI users alike
            base, optional = _base_type(hints[f.name])
            if value is None:
                if not optional:
                    raise ConfigError(f"{name} must be set", hint=meta.get("help"))
                continue
            if base is int and isinstance(value, float) and value.is_integer():
                value = int(value)
                setattr(self, f.name, value)
            if base is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            if base in (int, float, str, bool) and not isinstance(value, base):
                raise ConfigError(f"{name} must be of type {base.__name__}, got {value!r}")
            if base is float and not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number; got {value!r}", hint=meta.get("help"))
            if base is list and any(isinstance(v, float) and not math.isfinite(v) for v in value):
                raise ConfigError(f"{name} must hold finite numbers; got {value!r}")
            if meta.get("choices") and value not in meta["choices"]:
                raise ConfigError(f"{name} must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
            above = meta.get("above")
            if above is not None and not value > above:
                raise ConfigError(f"{name} must be > {above}; got {value!r}", hint=meta.get("help"))
            lo, hi = meta.get("min"), meta.get("max")
            if lo is not None and value < lo:
                raise ConfigError(f"{name} must be >= {lo}; got {value!r}", hint=meta.get("help"))
            if hi is not None and value > hi:
                raise ConfigError(f"{name} must be <= {hi}; got {value!r}", hint=meta.get("help"))
        self._check()
        return self

    def _check(self) -> None:
        """Cross-field checks; subclasses override and raise ConfigError."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], d: dict, *, source: str = "config") -> C:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} setting(s) in {source}: {', '.join(unknown)}",
                              hint=f"valid settings: {', '.join(sorted(names))}")
        return cls(**d).validate()

    @classmethod
    def from_json(cls: type[C], path) -> C:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f), source=str(path))

    def replace(self: C, **changes) -> C:
        return dataclasses.replace(self, **changes).validate()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, *, exclude: tuple[str, ...] = ()) -> None:
        """Add one ``--option`` per field; defaults are left as ``None`` so ``from_args`` keeps the dataclass
        default (and a config file, if any) unless the user typed the option."""
        hints = typing.get_type_hints(cls)
        group = parser.add_argument_group(f"{cls.__name__} settings")
        for f in dataclasses.fields(cls):
            if f.name in exclude or not f.metadata.get("cli", True):
                continue
            meta = f.metadata
            base, _ = _base_type(hints[f.name])
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            flag = "--" + f.name.replace("_", "-")
            help_text = f"{meta.get('help', '')} (default: {default})".replace("%", "%%")
            if base is bool:
                group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                   help=help_text)
            elif base is list:
                inner = typing.get_args(hints[f.name])
                item = typing.get_args(inner[0])[0] if typing.get_origin(inner[0]) in (list, tuple) else (
                    inner[0] if inner else str)
                group.add_argument(flag, dest=f.name, nargs=meta.get("nargs") or "+", type=item, default=None,
                                   help=help_text, metavar=f.name.upper())
            else:
                group.add_argument(flag, dest=f.name, type=base, default=None, help=help_text,
                                   choices=meta.get("choices"), metavar=None if meta.get("choices") else
                                   f.name.upper())

    @classmethod
    def from_args(cls: type[C], ns: argparse.Namespace, base: C | None = None) -> C:
        values = dataclasses.asdict(base) if base is not None else {}
        for f in dataclasses.fields(cls):
            v = getattr(ns, f.name, None)
            if v is not None:
                values[f.name] = v
        return cls(**values).validate()
