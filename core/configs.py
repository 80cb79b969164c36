"""Run configs (nested dataclasses: the cache key and the command line's flags) to and from flags and dicts.

    flat_fields(cls)                  (flag name, attribute path, field) of every leaf field
    add_config_arguments(ap, config)  one --flag per leaf field, defaults from `config`
    config_from_arguments(args, cfg)  a copy of `cfg` with every flag's value
    config_like(default, values)      a copy of `default` with a snapshot's "config" dict
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import fields, is_dataclass


def flat_fields(cls, prefix: str = "") -> list[tuple[str, tuple[str, ...], dataclasses.Field]]:
    """(flag name, attribute path, field) of every leaf field of a (nested) config dataclass."""
    out = []
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        if is_dataclass(default):
            out += [(n, (f.name,) + path, g) for n, path, g in flat_fields(type(default), prefix)]
        else:
            out.append((f.name, (f.name,), f))
    names = [n for n, _, _ in out]
    dup = {n for n in names if names.count(n) > 1}
    return [(".".join(path) if n in dup else n, path, f) for n, path, f in out]


def parse_value(kind: type, text: str):
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    if kind is tuple:
        return tuple(t for t in text.split(",") if t)
    return kind(text)


def add_config_arguments(ap: argparse.ArgumentParser, config) -> None:
    """One --flag per leaf field of `config` (defaults from it): the CLI reaches every setting."""
    for name, path, f in flat_fields(type(config)):
        value = config
        for p in path:
            value = getattr(value, p)
        kind = type(value) if value is not None else str
        ap.add_argument(f"--{name.replace('_', '-')}", dest=name, type=lambda s, k=kind: parse_value(k, s), default=value,
                        metavar=kind.__name__.upper(), help=f"default {value!r}")


def config_from_arguments(args: argparse.Namespace, config):
    """A copy of `config` with every flag's value."""
    def build(obj, prefix: tuple[str, ...]):
        changes = {}
        for f in fields(obj):
            v = getattr(obj, f.name)
            if is_dataclass(v):
                changes[f.name] = build(v, prefix + (f.name,))
        flat = {path: name for name, path, _ in flat_fields(type(config))}
        for f in fields(obj):
            key = prefix + (f.name,)
            if key in flat:
                changes[f.name] = getattr(args, flat[key])
        return dataclasses.replace(obj, **changes)

    return build(config, ())


def config_like(default, values: dict):
    """A copy of the dataclass `default` with the fields in `values` (a snapshot's "config": nested dicts for nested
    dataclasses, lists for tuples); fields it lacks keep their defaults, unknown keys raise TypeError."""
    changes = {}
    for name, v in values.items():
        if name not in {f.name for f in fields(default)}:
            raise TypeError(f"{type(default).__name__} has no field {name!r}")
        old = getattr(default, name)
        changes[name] = (config_like(old, v) if is_dataclass(old) and isinstance(v, dict)
                         else tuple(v) if isinstance(old, tuple) and isinstance(v, list) else v)
    return dataclasses.replace(default, **changes)
