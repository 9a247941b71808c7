"""VideoBERT: a joint model for video and language representation learning (Sun et al., ICCV 2019).

Stages talk through files under a work directory (see docs/ARCHITECTURE.md):
extract -> fit-vocab -> tokenize -> pretrain -> tasks -> report -> export. The public API mirrors
the CLI: each stage's function (``extract``, ``fit_vocab``, ``build_corpus``, ``pretrain``,
``run_task``, ``build_report``, ``export``), and the model in a few calls::

    model, processor = videobert.load("demo-work/export")      # or a work directory
    inputs = processor(text="now let me show you how to cut the tomato", video="clip.mp4")
    videobert.align(model, inputs); videobert.zero_shot_actions(model, processor, video="clip.mp4")

Importing the package registers VideoBERT with transformers' ``AutoConfig``, ``AutoModel`` and
``AutoModelForPreTraining``; names below are imported on first use.
"""

from videobert.model.auto import register as _register_auto_classes
from videobert.utils.lazy import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "load": "videobert.api",
    "align": "videobert.api",
    "zero_shot_actions": "videobert.api",
    "VideoBertConfig": "videobert.model.configuration",
    "VideoBertModel": "videobert.model.modeling",
    "VideoBertForPreTraining": "videobert.model.modeling",
    "VideoBertTokenizer": "videobert.text.tokenizer",
    "VideoBertProcessor": "videobert.processor",
    "WorkDir": "videobert.workdir",
    "VideoBertError": "videobert.errors",
    "synthesize": "videobert.datasets.synthetic",
    "extract": "videobert.features.extract",
    "fit_vocab": "videobert.vocab.assign",
    "build_gallery": "videobert.vocab.gallery",
    "build_corpus": "videobert.data.corpus",
    "pretrain": "videobert.train.pretrain",
    "load_pretrain_config": "videobert.train.config",
    "run_task": "videobert.tasks.base",
    "get_task": "videobert.tasks.base",
    "task_names": "videobert.tasks.base",
    "build_report": "videobert.report.html",
    "export": "videobert.export",
    "forecast_next": "videobert.tasks.forecast",
    "fill_visual_masks": "videobert.model.inference",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__ = lazy_attributes(__name__, _EXPORTS)

_register_auto_classes()
