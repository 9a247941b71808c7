"""Plugins: modules that register tasks or backbones of their own before the CLI is built.

A plugin is any importable module that calls ``videobert.tasks.register_task`` or
``videobert.features.registry.register_backbone`` when imported. The CLI imports, before it
builds its sub-commands, every module named in ``VIDEOBERT_PLUGINS`` (comma-separated) and every
entry point of the group ``videobert.plugins`` of installed packages, so a plugin's task is a
``videobert NAME`` sub-command and its backbone a ``--backbone`` choice.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points

from videobert.errors import VideoBertError

log = logging.getLogger(__name__)

ENV_VAR = "VIDEOBERT_PLUGINS"
ENTRY_POINT_GROUP = "videobert.plugins"


def load_plugins() -> list[str]:
    """Import the plugin modules; returns their names.

    Raises:
        VideoBertError: a module named in ``VIDEOBERT_PLUGINS`` cannot be imported.
    """
    loaded = []
    for name in [m.strip() for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise VideoBertError(f"{ENV_VAR}: cannot import plugin module {name!r} ({exc})") from exc
        loaded.append(name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
        loaded.append(ep.value)
    if loaded:
        log.debug("plugins: %s", ", ".join(loaded))
    return loaded
