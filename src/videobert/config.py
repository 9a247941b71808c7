"""Pipeline configs: plain dataclasses, read from YAML, then dotted ``key=value`` overrides.

Example::

    cfg = load_config(PretrainConfig, "pretrain.yaml", ["optim.lr=3e-4", "max_steps=200"])

Values in overrides are parsed as YAML scalars (so ``1e-4``, ``true``, ``[1, 2]`` work).
The model's own config is the transformers config, not one of these.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from typing import Any, TypeVar

import yaml

from videobert.errors import VideoBertError

T = TypeVar("T")


class ConfigError(VideoBertError):
    """An unknown key or a value of the wrong type in a config file or override."""


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key) if len(args) == 1 else value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads "3e-4" (no decimal point) as a string; accept any float literal.
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if origin in (tuple,) and isinstance(value, list):
        return tuple(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"config key {key!r}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a (nested) dict, rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown config key(s) {sorted(prefix + k for k in unknown)} for {cls.__name__}")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a plain nested dict (for YAML/JSON)."""
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a nested dict (in place; also returned)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else ""
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = value
    return data


def load_config(cls: type[T], path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None) -> T:
    """Defaults of ``cls``, updated by the YAML file at ``path``, then by ``overrides``."""
    data: dict[str, Any] = to_dict(cls())
    if path is not None:
        deep_update(data, read_yaml_mapping(path))
    apply_overrides(data, overrides or [])
    return from_dict(cls, data)


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in the YAML file at ``path`` (an empty file reads as ``{}``).

    Raises:
        ConfigError: the file holds something other than a mapping.
    """
    with open(path, encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh) or {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping")
    return loaded


def deep_update(base: dict[str, Any], new: dict[str, Any]) -> None:
    """Merge ``new`` into ``base`` in place: nested dicts are merged key by key, other values replaced."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = v


_deep_update = deep_update  # old private name
