"""videobert.model: ``VideoBertConfig``, ``VideoBertForPreTraining`` and ``from_bert``."""

from transformers import AutoConfig, AutoModelForPreTraining

from videobert.model.configuration import VideoBertConfig
from videobert.model.init import (
    from_bert,
    mix_narration,
    narration_directions,
    packaged_bert_path,
    project_centroids,
    random_init,
)
from videobert.model.modeling import IGNORE_INDEX, VideoBertForPreTraining, VideoBertPreTrainingOutput

try:  # lets AutoConfig / AutoModelForPreTraining open our checkpoints too
    AutoConfig.register("videobert", VideoBertConfig)
    AutoModelForPreTraining.register(VideoBertConfig, VideoBertForPreTraining)
except ValueError:  # already registered (module reloaded)
    pass

__all__ = [
    "IGNORE_INDEX",
    "VideoBertConfig",
    "VideoBertForPreTraining",
    "VideoBertPreTrainingOutput",
    "from_bert",
    "mix_narration",
    "narration_directions",
    "packaged_bert_path",
    "project_centroids",
    "random_init",
]
