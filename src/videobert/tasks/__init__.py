"""videobert.tasks: what a pretrained VideoBERT does.

``zero_shot`` (verb/noun from a template), ``classify`` (video classification with k-fold CV),
``retrieve`` (text<->video by alignment score); shared loading in ``common``. Each task is a plain
function ``task(model, tokenizer, inputs, cfg) -> result dict`` and a CLI sub-command.
"""
