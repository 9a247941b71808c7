"""VideoBERT in transformers' Auto classes: ``AutoConfig``, ``AutoModel`` (the encoder,
``VideoBertModel``) and ``AutoModelForPreTraining`` (``VideoBertForPreTraining``) open VideoBERT
checkpoints and exported models once :func:`register` has run, which ``import videobert`` does.

The model classes are registered as stand-ins that import ``videobert.model.modeling`` (and
transformers' BERT modelling code, seconds to import) only when a model is loaded or built, so
``import videobert`` (and the CLI) stay quick.
"""

from __future__ import annotations

import importlib
from typing import Any


class _Deferred:
    """Stands in for a model class in an Auto mapping; imports it on first use."""

    def __init__(self, name: str, config_class: type) -> None:
        self.__name__ = name
        self.config_class = config_class

    def _real(self) -> Any:
        return getattr(importlib.import_module("videobert.model.modeling"), self.__name__)

    def from_pretrained(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().from_pretrained(*args, **kwargs)

    def _from_config(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()._from_config(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


_DONE = False


def register() -> None:
    """Register the config and the models with transformers' Auto classes (once)."""
    global _DONE
    if _DONE:
        return
    from transformers import AutoConfig, AutoModel, AutoModelForPreTraining

    from videobert.model.configuration import VideoBertConfig

    AutoConfig.register(VideoBertConfig.model_type, VideoBertConfig, exist_ok=True)
    AutoModel.register(VideoBertConfig, _Deferred("VideoBertModel", VideoBertConfig), exist_ok=True)
    AutoModelForPreTraining.register(VideoBertConfig, _Deferred("VideoBertForPreTraining", VideoBertConfig), exist_ok=True)
    _DONE = True
