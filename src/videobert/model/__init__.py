"""videobert.model: ``VideoBertConfig``, ``VideoBertForPreTraining``, ``from_bert`` and the
model-level inference the tasks use (``videobert.model.inference``).

Names are imported on first use (transformers' BERT modelling code takes seconds to import, and
the CLI should not pay that to print its help). ``import videobert`` registers the config and the
models with transformers' Auto classes (``videobert.model.auto``).
"""

from __future__ import annotations

from videobert.utils.lazy import lazy_attributes

_EXPORTS = {
    "VideoBertConfig": "videobert.model.configuration",
    "IGNORE_INDEX": "videobert.model.modeling",
    "VideoBertForPreTraining": "videobert.model.modeling",
    "VideoBertModel": "videobert.model.modeling",
    "VideoBertPreTrainingOutput": "videobert.model.modeling",
    "from_bert": "videobert.model.init",
    "mix_narration": "videobert.model.init",
    "narration_directions": "videobert.model.init",
    "packaged_bert_path": "videobert.model.init",
    "project_centroids": "videobert.model.init",
    "random_init": "videobert.model.init",
    "load_model": "videobert.model.loading",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
