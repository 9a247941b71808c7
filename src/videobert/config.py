"""Pipeline configs: plain dataclasses, read from YAML, then dotted ``key=value`` overrides.

Example::

    cfg = load_config(PretrainConfig, "pretrain.yaml", ["lr=3e-4", "max_steps=200"])

Order: the dataclass defaults, then ``base`` (a preset's nested dict), then the YAML file, then
``values`` (dotted key -> Python value, e.g. from CLI flags), then ``overrides`` (``key=value``
strings, parsed as YAML scalars, so ``1e-4``, ``true``, ``[1, 2]`` work). Unknown keys at any depth
are errors with a did-you-mean suggestion; a field typed ``dict`` (free-form settings handed to
another config, such as the transformers model config) may carry a hook in its metadata,
``field(metadata={"validate": fn})``, called as ``fn(value, key)`` to reject what it cannot take.
The model's own config is the transformers config, not one of these.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import yaml

from videobert.errors import VideoBertError

T = TypeVar("T")

_YAML_FLOAT = re.compile(r"^[-+]?\d+(\.\d*)?[eE][-+]?\d+$")


class ConfigError(VideoBertError):
    """An unknown key, a value of the wrong type, or an unreadable config file."""


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``name``, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(keys: Iterable[str], allowed: Iterable[str], where: str, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first of ``keys`` not in ``allowed``, with a suggestion."""
    allowed = sorted(set(allowed))
    for key in sorted(keys):
        if key not in allowed:
            raise ConfigError(f"unknown config key {prefix + key!r} for {where}{suggest(key, allowed)}")


def _coerce(value: Any, tp: Any, key: str, meta: Mapping[str, Any] | None = None) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            hint = suggest(str(value), [str(c) for c in choices])
            raise ConfigError(f"config key {key!r}: {value!r} is not one of {list(choices)}{hint}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key, meta) if len(args) == 1 else value
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
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if (tp is dict or origin is dict) and not isinstance(value, dict):
        raise ConfigError(f"config key {key!r}: expected a mapping, got {value!r}")
    if (tp is dict or origin is dict) and meta and meta.get("validate"):
        meta["validate"](value, key)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"config key {key!r}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a (nested) mapping, rejecting unknown keys at every depth."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    check_keys(data, fields, cls.__name__, prefix)
    kwargs = {k: _coerce(v, hints[k], prefix + k, fields[k].metadata) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # a __post_init__ check
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a plain nested dict (for YAML/JSON; tuples become lists)."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def kwargs_of(cfg: Any) -> dict[str, Any]:
    """A config dataclass's fields as keyword arguments of the function it configures (one level:
    nested configs stay dataclasses, unlike ``dataclasses.asdict``)."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


def parse_override(item: str) -> tuple[str, Any]:
    """``"a.b=value"`` -> ``("a.b", value)``, the value read as a YAML scalar (``3e-4`` as a float)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {item!r} has no key")
    if _YAML_FLOAT.match(raw.strip()):
        return key, float(raw)
    try:
        return key, (yaml.safe_load(raw) if raw != "" else "")
    except yaml.YAMLError:
        return key, raw  # not YAML (e.g. "[MASK] the [MASK]"): the plain string


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data[a][b][c] = value`` for ``key = "a.b.c"`` (sections created as needed)."""
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {key!r}: {part!r} is not a section")
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a nested dict (in place; also returned)."""
    for item in overrides:
        set_dotted(data, *parse_override(item))
    return data


def load_config(
    cls: type[T],
    path: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] | None = None,
    values: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> T:
    """Defaults of ``cls``, then ``base``, the YAML file at ``path``, ``values``, ``overrides``
    (``prefix``: where these settings sit in a larger config, for error messages)."""
    data: dict[str, Any] = to_dict(cls())
    if base:
        deep_update(data, copy.deepcopy(dict(base)))
    if path is not None:
        deep_update(data, read_yaml_mapping(path))
    for key, value in (values or {}).items():
        set_dotted(data, key, value)
    apply_overrides(data, overrides or [])
    return from_dict(cls, data, prefix=prefix)


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in the YAML file at ``path`` (an empty file reads as ``{}``).

    Raises:
        ConfigError: the file cannot be read, is not YAML, or holds something other than a mapping.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            loaded = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}: not a valid YAML config file{line}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping")
    return loaded


def deep_update(base: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Merge ``new`` into ``base`` in place: nested dicts are merged key by key, other values replaced."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = v


def validate_as(get_cls: Callable[[], type]) -> Callable[[Mapping[str, Any], str], None]:
    """A ``validate`` hook (see the module docstring): the mapping must build ``get_cls()``'s dataclass.

    ``get_cls`` is called only when a value is checked, so the dataclass's module is imported late.
    """

    def validate(value: Mapping[str, Any], key: str) -> None:
        from_dict(get_cls(), value, prefix=f"{key}.")

    return validate


def attribute_docs(cls: type) -> dict[str, str]:
    """Field name -> its text in the ``Attributes:`` sections of dataclass ``cls``'s docstring and
    its bases' (Google style; ``a, b: text`` documents both; continuation lines are joined)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        out.update(_own_attribute_docs(klass))
    return out


def _own_attribute_docs(cls: type) -> dict[str, str]:
    doc = cls.__dict__.get("__doc__") or ""
    if "Attributes:" not in doc:
        return {}
    out: dict[str, str] = {}
    current: list[str] = []
    for line in doc.split("Attributes:", 1)[1].splitlines():
        stripped = line.strip()
        head = re.match(r"^([A-Za-z_][\w, ]*):\s+(.*)$", stripped)
        if head and line.startswith(" " * 8) and not line.startswith(" " * 12):
            current = [n.strip() for n in head.group(1).split(",")]
            for name in current:
                out[name] = head.group(2)
        elif stripped and current:
            for name in current:
                out[name] += " " + stripped
        elif not stripped and out:
            current = []
    return out


def config_yaml(cfg: Any) -> str:
    """``cfg`` (a config dataclass or a mapping) as YAML that ``--config`` reads back."""
    data = to_dict(cfg) if dataclasses.is_dataclass(cfg) else cfg
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
