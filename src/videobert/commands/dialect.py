"""One dialect for every sub-command.

Every ``videobert COMMAND`` takes its inputs (and ``WORK``) as positionals, then any mix of

* ``--config FILE``: a YAML file of the command's config dataclass;
* ``key=value`` overrides (dotted keys, YAML scalars), anywhere on the line, e.g.
  ``videobert caption WORK --annotations A beam=3``; ``--set key=value`` says the same;
* flags that are shortcuts for config keys (``--batch-size 4`` = ``batch_size=4``), named the same
  in every command that has the setting;
* ``--print-config``: print the resolved settings as YAML (readable back with ``--config``) and stop.

Order of precedence: the dataclass defaults, a preset (``pretrain --preset``), ``--config``, flags,
``key=value``. An unknown key at any depth is an error with a did-you-mean suggestion.

A command is a :class:`Command` record added with :func:`add_command`; ``cli.main`` lifts the
``key=value`` items out of the argument list with :func:`split_overrides` before argparse sees it.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from videobert.config import attribute_docs, config_yaml, load_config

OVERRIDE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*=")
_FLAG_KEYS = "_config_flag_keys"


@dataclass(frozen=True)
class Flag:
    """A flag that sets a config key.

    Attributes:
        option: the flag, e.g. ``"--batch-size"``.
        key: the dotted config key it sets, e.g. ``"batch_size"``.
        help: its help text.
        type: converts the flag's value (``None``: a string).
        const: when not None the flag takes no value and sets ``key`` to ``const``.
        choices: allowed values.
    """

    option: str
    key: str
    help: str
    type: Callable[[str], Any] | None = None
    const: Any = None
    choices: Sequence[Any] | None = None


@dataclass(frozen=True)
class Command:
    """A sub-command.

    Attributes:
        name: the sub-command.
        help: one line for ``videobert --help``.
        run: ``(args, cfg) -> exit code``; ``cfg`` is the resolved config.
        config_class: the config dataclass.
        description: text of ``videobert NAME --help``, or a callable giving it when help is asked
            for (e.g. a list that takes heavy imports to build).
        arguments: adds the positionals and the input flags that are not config keys.
        flags: the config keys that also get a flag (see :func:`config_flags`: ``"key"`` or
            ``"key:--option"``).
        load: ``(args, config_file, overrides, values) -> cfg`` when the config is not plain
            :func:`videobert.config.load_config` of ``config_class`` (e.g. a preset first).
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace, Any], int]
    config_class: type
    description: str | Callable[[], str] | None = None
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    flags: Sequence[str] = field(default_factory=tuple)
    load: Callable[[argparse.Namespace, str | None, list[str], dict[str, Any]], Any] | None = None


def add_command(subparsers: argparse._SubParsersAction, cmd: Command) -> argparse.ArgumentParser:
    """Add ``cmd`` to ``subparsers`` with the shared options; returns its parser."""
    lazy = cmd.description if callable(cmd.description) else None
    p = subparsers.add_parser(
        cmd.name,
        help=cmd.help,
        description=None if lazy else (cmd.description or cmd.help),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Settings: {cmd.config_class.__name__} fields as key=value (anywhere), a --config "
        "YAML file, or the flags above; --print-config shows them resolved.",
    )
    if lazy is not None:
        p.format_help = _with_description(p, lazy)  # type: ignore[method-assign]
    if cmd.arguments is not None:
        cmd.arguments(p)
    keys: dict[str, str] = {}
    for i, flag in enumerate(config_flags(cmd.config_class, *cmd.flags)):
        dest = f"_cfg{i}"
        keys[dest] = flag.key
        if flag.const is not None:
            p.add_argument(
                flag.option,
                dest=dest,
                action="store_const",
                const=flag.const,
                default=argparse.SUPPRESS,
                help=f"{flag.help} (= {flag.key}={flag.const})",
            )
        else:
            p.add_argument(flag.option, dest=dest, type=flag.type, choices=flag.choices,
                           default=argparse.SUPPRESS, metavar=flag.key.rsplit(".", 1)[-1].upper(),
                           help=f"{flag.help} (= {flag.key}=...)")  # fmt: skip
    p.add_argument(
        "--config", default=None, metavar="FILE", help=f"YAML file of {cmd.config_class.__name__} settings"
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved settings as YAML and exit")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting (the same as KEY=VALUE anywhere on the line; repeatable)")  # fmt: skip
    p.set_defaults(func=lambda args: _invoke(cmd, args), **{_FLAG_KEYS: keys}, overrides=[])
    return p


def _with_description(p: argparse.ArgumentParser, describe: Callable[[], str]) -> Callable[[], str]:
    """``p.format_help`` that fills in the description when help is printed."""
    plain = p.format_help

    def format_help() -> str:
        p.description = describe()
        return plain()

    return format_help


def resolve_config(cmd: Command, args: argparse.Namespace) -> Any:
    """The command's config from its defaults, ``--config``, flags and ``key=value`` overrides."""
    values = {
        key: getattr(args, dest) for dest, key in getattr(args, _FLAG_KEYS, {}).items() if hasattr(args, dest)
    }
    overrides = [*getattr(args, "overrides", []), *getattr(args, "set", [])]
    if cmd.load is not None:
        return cmd.load(args, args.config, overrides, values)
    return load_config(cmd.config_class, args.config, overrides, values)


def _invoke(cmd: Command, args: argparse.Namespace) -> int:
    cfg = resolve_config(cmd, args)
    if args.print_config:
        sys.stdout.write(config_yaml(cfg))
        return 0
    return int(cmd.run(args, cfg) or 0)


def split_overrides(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(argv without the key=value items, the key=value items)`` for a ``videobert`` command line.

    A ``key=value`` item is one that is not the value of an option (``--annotations a=b.json``
    stays a path) and comes before any ``--``; write ``./a=b.mp4`` for an input named like one.
    """
    argv = list(argv)
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1
    if sub is None or i >= len(argv) or argv[i] not in sub.choices:
        return argv, []
    sp = sub.choices[argv[i]]
    out, overrides = argv[: i + 1], []
    expect = 0
    rest = iter(argv[i + 1 :])
    for tok in rest:
        if expect:
            out.append(tok)
            expect -= 1
        elif tok == "--":
            out += [tok, *rest]
        elif tok.startswith("-") and tok != "-":
            out.append(tok)
            if "=" not in tok:
                expect = _values_taken(sp, tok)
        elif OVERRIDE_RE.match(tok):
            overrides.append(tok)
        else:
            out.append(tok)
    return out, overrides


def _values_taken(parser: argparse.ArgumentParser, option: str) -> int:
    """How many of the following items the option ``option`` consumes (0 when unknown)."""
    actions = parser._option_string_actions
    action = actions.get(option)
    if action is None:  # argparse accepts unique prefixes
        matches = {a for name, a in actions.items() if name.startswith(option)}
        action = matches.pop() if len(matches) == 1 else None
    if action is None:
        return 0
    if action.nargs is None:
        return 1
    return action.nargs if isinstance(action.nargs, int) else 1


# ------------------------------------------------------------------------------------------------
# flags derived from the config dataclass
# ------------------------------------------------------------------------------------------------


def config_flags(config_class: type, *keys: str) -> tuple[Flag, ...]:
    """Flags for config keys, typed and documented by the dataclass itself.

    ``"key"`` gives ``--key`` (underscores as dashes; dotted keys reach nested dataclasses, e.g.
    ``"clips.fps"``), ``"key:--option"`` names the flag. A ``bool`` key is a switch: ``--key``
    sets True when the default is False, ``--no-key`` sets False when it is True. The flag's type
    (int, float, str; a ``Literal``'s choices; YAML for lists, tuples and mappings) and help (the
    field's line in the dataclass's ``Attributes:``) come from the dataclass.
    """
    flags = []
    for spec in keys:
        key, _, option = spec.partition(":")
        cls, default = config_class, config_class()
        *parents, name = key.split(".")
        for part in parents:
            default = getattr(default, part)
            cls = type(default)
        tp = _unwrap_optional(typing.get_type_hints(cls)[name])
        value = getattr(default, name)
        help_ = attribute_docs(cls).get(name, name.replace("_", " ")).rstrip(".")
        if tp is bool and value is not None:
            option = option or ("--no-" if value else "--") + name.replace("_", "-")
            flags.append(Flag(option, key, help_, const=not value))
            continue
        option = option or "--" + name.replace("_", "-")
        if typing.get_origin(tp) is typing.Literal:
            flags.append(Flag(option, key, help_, choices=typing.get_args(tp)))
        elif tp in (int, float, str):
            flags.append(Flag(option, key, help_, tp))
        else:
            flags.append(Flag(option, key, help_, _yaml_value))
    return tuple(flags)


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _yaml_value(raw: str) -> Any:
    """A flag's value read as YAML (``[1, 5]``, ``true``, ``{a: 1}``), else the plain string."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


# ------------------------------------------------------------------------------------------------
# arguments shared by several commands
# ------------------------------------------------------------------------------------------------


def work_argument(p: argparse.ArgumentParser, help_: str = "work directory") -> None:
    """The positional ``WORK``."""
    p.add_argument("work", metavar="WORK", help=help_)


def inputs_and_work_arguments(p: argparse.ArgumentParser, name: str, metavar: str, help_: str) -> None:
    """Positional inputs (one or more) and a required ``--work WORK``: the stages that bring files in."""
    p.add_argument(name, nargs="+", metavar=metavar, help=help_)
    p.add_argument("--work", required=True, metavar="WORK", help="work directory")


def annotations_argument(p: argparse.ArgumentParser, help_: str | None = None) -> None:
    """``--annotations FILE`` (YouCook2 layout)."""
    p.add_argument(
        "--annotations",
        default=None,
        metavar="FILE",
        help=help_ or "YouCook2-layout annotation JSON (default: WORK/annotations.json or beside WORK)",
    )


#: The clip-grid flags of a config with a ``clips: ClipSpec`` field.
CLIP_KEYS = ("clips.fps", "clips.frames:--clip-frames", "clips.stride", "clips.partial")


__all__ = [
    "CLIP_KEYS",
    "Command",
    "Flag",
    "add_command",
    "annotations_argument",
    "config_flags",
    "resolve_config",
    "split_overrides",
    "work_argument",
]
