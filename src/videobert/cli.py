"""The ``videobert`` command line: one sub-command per pipeline stage and task, plus ``demo``.

Each sub-command lives in ``videobert.commands.<module>`` and exposes
``register(subparsers) -> None``, which adds it through ``videobert.commands.dialect`` (one
dialect for all: positional inputs, ``--config``, ``key=value`` anywhere, ``--print-config``).
Modules are imported when the CLI starts; a stage whose module is absent, or whose third-party
dependency is not installed (a training-only machine without PyAV, say), is not offered, and
asking for it names what is missing. A user error (``VideoBertError``, or an OS error such as a
read-only or full disk) is printed as one line and exits 1; ``-vv`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from videobert import __version__

log = logging.getLogger("videobert")

# Order is the order shown in --help: the pipeline, then the tasks, then the demo.
COMMAND_MODULES: tuple[str, ...] = (
    "synth",
    "probe",
    "transcribe",
    "extract",
    "import_features",
    "vocab",
    "tokenize",
    "label_actions",
    "pretrain",
    "tasks",
    "report",
    "export",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="videobert",
        description="VideoBERT: narrated videos -> clip features -> visual words -> BERT -> tasks.",
    )
    parser.add_argument("--version", action="version", version=f"videobert {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from videobert.plugins import load_plugins

    load_plugins()  # their tasks and backbones become sub-commands and --backbone names
    missing: dict[str, str] = {}
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"videobert.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"videobert.commands.{name}":
                continue
            if not exc.name or exc.name.split(".")[0] == "videobert":
                raise
            missing[name] = exc.name.split(".")[0]
            continue
        module.register(sub)
    if missing:
        parser.epilog = "unavailable here (missing packages): " + ", ".join(
            f"{name} (needs {pkg})" for name, pkg in missing.items()
        )
    return parser


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Log to stderr: INFO by default, DEBUG with -vv, WARNING with -q."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if verbose < 2:
        for noisy in ("PIL", "matplotlib", "urllib3", "filelock", "httpx", "huggingface_hub", "faiss.loader"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line, its ``key=value`` overrides in ``overrides`` (see commands.dialect)."""
    from videobert.commands.dialect import split_overrides

    parser = build_parser()
    rest, overrides = split_overrides(parser, list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(rest)
    if overrides and not getattr(args, "func", None):
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    args.overrides = overrides
    args._parser = parser
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videobert`` console script."""
    args = parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    if not getattr(args, "func", None):
        args._parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as exc:  # one clear line for the user; the traceback with -vv
        from videobert.errors import VideoBertError

        if isinstance(exc, VideoBertError):
            log.debug("error", exc_info=True)
            log.error("%s", exc)
            return 1
        if isinstance(exc, OSError) and exc.strerror:
            log.debug("error", exc_info=True)
            where = exc.filename if exc.filename is not None else "videobert"
            log.error("%s: %s", where, exc.strerror)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
