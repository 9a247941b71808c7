"""Loading a trained VideoBERT (model + joint tokenizer) from a checkpoint directory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from videobert.errors import InputFileError, VideoBertError

log = logging.getLogger(__name__)


def load_model(path: str | os.PathLike[str]) -> tuple[Any, Any, Path]:
    """``(VideoBertForPreTraining in eval mode on the CPU, VideoBertTokenizer, path)`` of a
    checkpoint directory (``WORK/checkpoints/step-N`` or any ``save_pretrained`` directory that
    also holds the tokenizer).

    Raises:
        InputFileError: the directory's model or tokenizer files cannot be read.
    """
    from videobert.model.modeling import VideoBertForPreTraining
    from videobert.text.tokenizer import VideoBertTokenizer

    path = Path(path)
    try:
        model = VideoBertForPreTraining.from_pretrained(path)
    except Exception as exc:  # OSError, ValueError, RuntimeError, safetensors' own error...
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"cannot load the model ({first})") from exc
    tokenizer = VideoBertTokenizer.from_pretrained(path)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise VideoBertError(
            f"{path}: the tokenizer has {tokenizer.vocab_size} ids but the model {model.config.vocab_size}"
        )
    model.eval()
    log.info("loaded checkpoint %s", path)
    return model, tokenizer, path


__all__ = ["load_model"]
