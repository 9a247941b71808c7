"""``export(work, out)``: a trained VideoBERT as a self-contained, shareable Hugging Face directory.

::

    OUT/config.json, model.safetensors     VideoBertForPreTraining (AutoModelForPreTraining; AutoModel
                                           loads its encoder), no optimiser state
    OUT/tokenizer.json, ...                the joint tokenizer (AutoTokenizer; len == vocab_size)
    OUT/processor_config.json, visual_vocab/, feature_spec.json[, feature_weights.safetensors]
                                           the processor: a new video -> visual words -> inputs
    OUT/pretrain_config.yaml, versions.json   how it was trained, with what
    OUT/README.md                          the model card (data, vocabulary, training, validation,
                                           task results beside their baselines, use, loading)

``videobert.load(OUT)`` returns the model and its processor; ``huggingface-cli upload`` pushes OUT
as it is.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videobert.errors import VideoBertError
from videobert.utils.io import atomic_write_text, read_json, read_jsonl, share_tree
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)


@dataclass
class ExportConfig:
    """Settings of ``videobert export`` (none yet beyond its inputs: WORK, OUT, ``--checkpoint``)."""


def export(
    work: str | os.PathLike[str], out: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None
) -> Path:
    """Write the export of ``work``'s final checkpoint (or ``checkpoint``) into ``out``; returns it.

    Raises:
        VideoBertError: ``out`` exists and is not empty (nothing is overwritten).
    """
    from videobert.model.loading import load_model
    from videobert.processor import VideoBertProcessor
    from videobert.train.checkpoint import CONFIG_FILE, VERSIONS_FILE

    wd = WorkDir.of(work).require()
    ckpt = wd.resolve_checkpoint(checkpoint)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise VideoBertError(f"{out}: not empty; export into a new folder")
    tmp = out.with_name(f".{out.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model, _, _ = load_model(ckpt)
    model.save_pretrained(tmp)
    processor = VideoBertProcessor.from_work(wd.root, ckpt)
    processor.save_pretrained(tmp)
    for name in (CONFIG_FILE, VERSIONS_FILE):
        if (ckpt / name).is_file():
            shutil.copyfile(ckpt / name, tmp / name)
    atomic_write_text(tmp / "README.md", model_card(wd, ckpt, model, processor))
    share_tree(tmp)
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    log.info("exported %s to %s", ckpt, out)
    return out


def _json(path: Path) -> dict[str, Any]:
    try:
        return read_json(path) if path.is_file() else {}
    except (OSError, VideoBertError):
        return {}


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _results(wd: WorkDir) -> list[str]:
    """Markdown rows of every task report: metric, value, baseline (and its interval when given)."""
    rows = []
    for path in sorted(wd.reports.glob("*.json")) if wd.reports.is_dir() else []:
        rep = _json(path)
        if "metrics" not in rep:
            continue
        base = rep.get("baseline", rep.get("chance", {})) or {}
        intervals = rep.get("intervals", {}) or {}
        for name, value in rep["metrics"].items():
            ci = intervals.get(name)
            shown = _fmt(value) + (f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if isinstance(ci, list | tuple) and len(ci) == 2 else "")
            rows.append(f"| {rep.get('task', path.stem)} | {name} | {shown} | {_fmt(base.get(name, ''))} "
                        f"({rep.get('baseline_name', 'chance')}) | {rep.get('n', '')} |")  # fmt: skip
    return rows


def model_card(wd: WorkDir, ckpt: Path, model: Any, processor: Any) -> str:
    """The README.md of an export: what the model was trained on and how well it does, how to use it."""
    from videobert.train.checkpoint import CONFIG_FILE

    corpus = _json(wd.corpus_stats)
    vocab = processor.vocab_config
    cfg = model.config
    evals = [e for e in read_jsonl(wd.pretrain_log) if e.get("kind") == "eval"]
    last = evals[-1] if evals else {}
    lines = [
        "---",
        "library_name: transformers",
        "tags: [videobert, video-language, video, bert]",
        "---",
        "",
        "# VideoBERT",
        "",
        "A VideoBERT (Sun et al., *VideoBERT: A Joint Model for Video and Language Representation Learning*, "
        "ICCV 2019) trained with the videobert package on `[CLS] text [>] video [SEP]`: "
        "WordPiece text and visual words (hierarchical k-means clusters of clip features) in one vocabulary.",
        "",
        "## Use",
        "",
        "```python",
        "import videobert",
        "model, processor = videobert.load('.')  # this folder",
        "inputs = processor(text='now let me show you how to cut the tomato', video='clip.mp4')",
        "print(videobert.align(model, inputs), videobert.zero_shot_actions(model, processor, video='clip.mp4'))",
        "```",
        "",
        "`import videobert` registers the model with transformers: `AutoModelForPreTraining.from_pretrained('.')` "
        "(masked text / visual-word prediction and the alignment head), `AutoModel` (the encoder), "
        "`AutoTokenizer` (the joint vocabulary: `len(tokenizer) == config.vocab_size`; "
        "`tokenizer(text, '[vw12][vw7]')` lays out `[CLS] text [>] video [SEP]`).",
        "",
        "Intended use: research on video-language representations: zero-shot action classification, "
        "text-video retrieval, captioning features, forecasting. The model knows only the visual words and "
        "the narration it was trained on; it is not a safety-critical or general-purpose video recogniser.",
        "",
        "## Data",
        "",
        f"- corpus: {_fmt(corpus.get('videos', '?'))} videos ({_fmt(corpus.get('train_videos', '?'))} train, "
        f"{_fmt(corpus.get('val_videos', '?'))} validation), {_fmt(corpus.get('sentences', '?'))} sentences, "
        f"{_fmt(corpus.get('video_only_rows', '?'))} video-only rows",
        f"- clip features: {processor.describe_features()}",
        f"- visual vocabulary: {vocab.get('n_words')} words ({vocab.get('levels')} levels x {vocab.get('branching')}"
        f" branches), {vocab.get('n_used_words', '?')} used, assignment `{vocab.get('method', 'tree')}`",
        "",
        "## Training",
        "",
        f"- model: {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, {cfg.num_attention_heads} heads; "
        f"vocabulary {cfg.vocab_size} = {cfg.text_vocab_size} WordPiece + `[>]` + {cfg.num_visual_words} visual words",
        f"- checkpoint: `{ckpt.name}`; settings in `{CONFIG_FILE}`, library versions in `versions.json`",
        "",
    ]
    if (ckpt / CONFIG_FILE).is_file():
        lines += ["```yaml", (ckpt / CONFIG_FILE).read_text(encoding="utf-8").rstrip(), "```", ""]
    lines += ["## Validation (after pretraining)", ""]
    if last:
        lines += ["| objective | accuracy | loss | n |", "|---|---|---|---|"]
        for obj in ("text_mlm", "video_mlm", "alignment"):
            lines.append(f"| {obj} | {_fmt(last.get(f'val_{obj}_acc'))} | {_fmt(last.get(f'val_{obj}_loss'))} | "
                         f"{last.get(f'val_n_{obj}', '')} |")  # fmt: skip
        lines += ["", f"Chance: masked visual word 1/{cfg.num_visual_words}, alignment 0.5.", ""]
    else:
        lines += ["(no validation log)", ""]
    results = _results(wd)
    lines += ["## Task results", ""]
    if results:
        lines += ["| task | metric | value | baseline | n |", "|---|---|---|---|---|", *results, ""]
        for path in sorted(wd.reports.glob("*.json")):
            lines += [f"- {path.stem}: {note}" for note in _json(path).get("notes", []) or []]
        lines.append("")
    else:
        lines += ["(no task was run before export)", ""]
    return "\n".join(lines) + "\n"


__all__ = ["ExportConfig", "export", "model_card"]
