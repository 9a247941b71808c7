"""Video captioning as in the paper (Sun et al. 2019, section 4.3, Table 2): VideoBERT features plus
clip features into a transformer encoder-decoder, against the same model on clip features alone.

Features of a segment (the VideoBERT encoder frozen, computed once): the paper's fill-in-the-blank
template ``[CLS] now let's [MASK] the [MASK] to the [MASK], and then [MASK] the [MASK]. [>] video
[SEP]`` is run through VideoBERT; the mean final state of the video tokens and the mean final
state of the five ``[MASK]`` tokens (2 x H) are concatenated with the segment's pooled clip
features: the mean over the segment's clips of ``WORK/features/<backbone>/<id>.npy`` rows (D; the
backbone the vocabulary was fitted on, ``WORK/vocab/config.json`` "backbone"; the segment's clips
by :func:`videobert.data.alignment.align_sentence`, the rule that gives its visual words).

Captioner (:mod:`videobert.tasks.caption_model`, after Zhou et al. 2018): a transformer encoder over
one token for that (2H + D) vector followed by one token per clip of the segment (its D clip
features, at most ``max_clips``, evenly subsampled), and a transformer decoder over the full
WordPiece vocabulary of the model's tokenizer, its embeddings the VideoBERT text embeddings
(frozen, tied, with learned projections; ``embeddings="learned"``: fresh ones). Trained with teacher
forcing (label smoothing) on the training captions; greedy and beam decoding.

Systems of one run (same architecture, training budget and seed):

* ``beam`` / ``greedy``: VideoBERT + clip features (the report's ``metrics``: beam);
* ``baseline_beam`` / ``baseline_greedy``: clip features only (the vector token is the pooled
  clip features, D wide; the paper's "S3D" row; the report's ``baseline``: beam);
* ``nearest_neighbour``: the training caption of the segment with the closest bag of visual words.

Departures from the paper (also ``details.departures`` of the report): the clip features are
whatever backbone WORK was extracted with (the paper: S3D on Kinetics); the encoder-decoder is
small (``d_model`` 256, 2 + 2 layers by default; Zhou et al.: 2 + 2 layers of 1024 wide) and trained
for ``steps`` steps from scratch on the training captions only; the vocabulary is the VideoBERT
model's WordPiece (the paper: its own word vocabulary); the clip features also enter as a sequence
(Zhou et al.'s encoder attends over clips) besides the pooled vector; no dense (proposal) part: the
ground-truth segments are captioned, as in the paper's Table 2; modality dropout (``videobert_dropout``,
0.5): in training a segment's VideoBERT vectors are blanked half of the time, because with a few
hundred captions the captioner memorises the training segments through them (measured on the
built-in corpus, 4 seeds: CIDEr 7.34 without it, 7.59 with it, 7.98 for clip features alone; the
same captioner fed Gaussian noise for those vectors: 7.09 at a lower training loss).

Scoring: pycocoevalcap (:mod:`videobert.eval.captions`) against the segments' sentences, with 95%
bootstrap intervals over segments paired with the baseline.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.data.alignment import align_sentence
from videobert.data.annotations import Segment
from videobert.errors import InputFileError, VideoBertError
from videobert.eval.baselines import nearest_neighbour_captions
from videobert.eval.captions import java_available, require_scorers, score_caption_sets
from videobert.eval.intervals import unit_intervals
from videobert.model.inference import batched, model_device
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, load_task_inputs, register_task
from videobert.tasks.caption_model import (
    CaptionFeatures,
    CaptionModel,
    SpecialIds,
    TrainSettings,
    beam_decode,
    greedy_decode,
    train_caption_model,
)
from videobert.tasks.strips import StripRow, render_strip, word_tiles
from videobert.utils.arrays import evenly_spaced, subsample_evenly
from videobert.utils.runtime import resolve_device, seed_everything
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)

TASK = "caption"

#: The paper's feature template (section 4.3).
PAPER_TEMPLATE = "now let's [MASK] the [MASK] to the [MASK], and then [MASK] the [MASK]."

#: Inputs of a captioner: VideoBERT vectors + clip features, clip features only, VideoBERT only.
SYSTEMS = ("videobert+clips", "clips", "videobert")

#: Table 2 of the paper (YouCook2 validation, ground-truth segments, S3D features).
PAPER_TABLE2 = {
    "dataset": "YouCook2 validation segments with S3D clip features (Sun et al. 2019, Table 2); "
    "not comparable unless this run is on YouCook2 with S3D features",
    "VideoBERT + S3D": {"BLEU-4": 4.33, "METEOR": 11.94, "ROUGE-L": 28.80, "CIDEr": 0.55},
    "VideoBERT": {"BLEU-4": 4.04, "METEOR": 11.01, "ROUGE-L": 27.50, "CIDEr": 0.49},
    "S3D": {"BLEU-4": 3.24, "METEOR": 9.52, "ROUGE-L": 26.09, "CIDEr": 0.31},
    "scale": "BLEU-4, METEOR and ROUGE-L in percent (this report: fractions), CIDEr as is",
}


@dataclass
class CaptionConfig(TaskConfig):
    """Settings of :func:`caption` (and those of :class:`TaskConfig`: the captioners train on
    ``train_subset``'s captions and caption ``subset``'s segments; ``batch_size`` is the VideoBERT
    forward pass's).

    Attributes:
        template: text side of the feature template (its ``[MASK]`` states are averaged).
        max_length: VideoBERT sequence length for the features (video words evenly subsampled).
        backbone: clip features folder (None: the vocabulary's backbone, else the only one).
        max_clips: clip tokens per segment in the encoder (evenly subsampled; the pooled vector
            always averages all the segment's clips).
        embeddings: ``"bert"`` (decoder embeddings = the VideoBERT text embeddings, frozen and
            tied) or ``"learned"`` (fresh tied embeddings).
        output_vocab: ``"full"`` (softmax over every WordPiece id) or ``"train"`` (over the pieces of
            the training captions only: a cost saving for small CPU runs such as the demo).
        d_model, n_layers, n_heads, dropout: encoder-decoder size (n_layers each side).
        videobert_dropout: in training the VideoBERT + clips captioner, the probability that a
            segment's VideoBERT vectors are blanked (modality dropout; the clip features stay):
            without it the captioner memorises the training segments through those vectors
            (:mod:`videobert.tasks.caption_model`). 0: never.
        max_caption_tokens: WordPiece tokens per caption (training truncation and decoding limit).
        steps, train_batch_size, lr, weight_decay, warmup, label_smoothing: teacher forcing.
        beam: beam width; length_penalty: beam score / length ** length_penalty.
        max_train_segments, max_segments: caps on training / evaluated segments (None or 0: all;
            evaluated ones evenly spaced).
        device: where the captioners train and decode and the VideoBERT features are computed
            (None: cuda when available, else cpu).
        meteor: compute METEOR (a JVM): None = when ``java`` is on PATH, True = required, False = never.
    """

    template: str = PAPER_TEMPLATE
    max_length: int = 64
    backbone: str | None = None
    max_clips: int = 32
    embeddings: str = "bert"
    output_vocab: str = "full"
    d_model: int = 256
    n_layers: int = 2
    n_heads: int = 4
    dropout: float = 0.1
    videobert_dropout: float = 0.5
    max_caption_tokens: int = 24
    steps: int = 1500
    train_batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 100
    label_smoothing: float = 0.1
    beam: int = 4
    length_penalty: float = 0.7
    max_train_segments: int | None = None
    max_segments: int | None = None
    meteor: bool | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embeddings not in ("bert", "learned"):
            raise ValueError(f"embeddings must be 'bert' or 'learned', got {self.embeddings!r}")
        if self.output_vocab not in ("full", "train"):
            raise ValueError(f"output_vocab must be 'full' or 'train', got {self.output_vocab!r}")
        if not 0.0 <= self.videobert_dropout < 1.0:
            raise ValueError(f"videobert_dropout must be in [0, 1), got {self.videobert_dropout}")
        if self.max_clips < 1 or self.steps < 1 or self.max_caption_tokens < 1 or self.beam < 1:
            raise ValueError("max_clips, steps, max_caption_tokens and beam must be >= 1")


# ----------------------------------------------------------------------------------------------
# inputs: clip features beside the visual words
# ----------------------------------------------------------------------------------------------

ClipTable = dict[str, tuple[np.ndarray, np.ndarray]]  # video id -> (float32 (n, D), float64 (n, 2) s)


@dataclass
class CaptionInputs(TaskInputs):
    """:class:`TaskInputs` plus the clip features of the videos.

    Attributes:
        clip_features: video id -> (float32 (n_clips, D) features, float64 (n_clips, 2) [start, end) s).
        backbone: the features folder they come from.
        feature_errors: video id -> why its features could not be used (its segments are skipped).
    """

    clip_features: ClipTable = field(default_factory=dict)
    backbone: str | None = None
    feature_errors: dict[str, str] = field(default_factory=dict)


def caption_backbone(work: WorkDir, backbone: str | None = None) -> str:
    """The clip features to caption from: ``backbone``, else ``WORK/vocab/config.json``'s
    "backbone" (the features the visual words were quantised from), else the only one."""
    from videobert.vocab.assign import resolve_backbone

    if backbone:
        return resolve_backbone(work, backbone)
    if work.vocab_config.is_file():
        try:
            named = json.loads(work.vocab_config.read_text(encoding="utf-8")).get("backbone")
        except (OSError, ValueError, AttributeError) as exc:
            raise InputFileError(work.vocab_config, f"not a readable JSON object ({exc})") from exc
        if named and work.features(str(named)).is_dir():
            return str(named)
    return resolve_backbone(work, None)


def load_clip_features(work: WorkDir, video_ids: Sequence[str], backbone: str) -> tuple[ClipTable, dict[str, str]]:
    """Each video's clip features and clip times from ``WORK/features/<backbone>``.

    Returns:
        ``(video id -> (float32 (n, D), float64 (n, 2)), video id -> why not)``: a missing, unreadable
        or malformed file (rows differ from the times', not 2-D, not finite, another D) is recorded
        with its reason and the video skipped.
    """
    table: ClipTable = {}
    bad: dict[str, str] = {}
    dim: int | None = None
    for vid in tqdm(list(video_ids), desc="clip features", leave=False, disable=len(video_ids) < 50):
        fpath, tpath = work.feature_file(backbone, vid), work.feature_times_file(backbone, vid)
        try:
            feats = np.load(fpath, allow_pickle=False)
            times = np.load(tpath, allow_pickle=False)
        except (OSError, ValueError) as exc:
            bad[vid] = f"{fpath}: cannot read the clip features or their times ({exc})"
            continue
        times = np.asarray(times, dtype=np.float64)
        if feats.ndim != 2 or times.ndim != 2 or times.shape[1] != 2 or len(feats) != len(times) or not len(feats):
            bad[vid] = f"{fpath}: features {feats.shape} and times {times.shape} are not (n, D) and (n, 2), n >= 1"
            continue
        feats = feats.astype(np.float32)
        if not (np.isfinite(feats).all() and np.isfinite(times).all()):
            bad[vid] = f"{fpath}: features or times are not finite"
            continue
        if dim is not None and feats.shape[1] != dim:
            bad[vid] = f"{fpath}: {feats.shape[1]} features per clip, other videos have {dim}"
            continue
        dim = feats.shape[1]
        table[vid] = (feats, times)
    for vid, why in bad.items():
        log.warning("caption: video %s skipped: %s", vid, why)
    return table, bad


def load_caption_inputs(work: WorkDir, annotations: Any, cfg: CaptionConfig) -> CaptionInputs:
    """:func:`load_task_inputs` plus the clip features of the evaluated and training videos."""
    require_scorers()  # the CLI's first error when pycocoevalcap is missing
    base = load_task_inputs(work, annotations, cfg)
    backbone = caption_backbone(work, cfg.backbone)
    ids = sorted({v.video_id for v in [*base.videos, *base.train_videos]})
    table, bad = load_clip_features(work, ids, backbone)
    log.info("caption: clip features of %d/%d video(s) from features/%s", len(table), len(ids), backbone)
    return CaptionInputs(**vars(base), clip_features=table, backbone=backbone, feature_errors=bad)


def segment_clip_features(feats: np.ndarray, times: np.ndarray, start: float, end: float) -> np.ndarray:
    """float32 (k, D) the clip features of span ``[start, end)`` s (``align_sentence``'s clips)."""
    first, last = align_sentence(start, end, times)
    return feats[first:last]


# ----------------------------------------------------------------------------------------------
# features
# ----------------------------------------------------------------------------------------------


@torch.inference_mode()
def videobert_vectors(
    model: Any,
    tokenizer: Any,
    visual_words: Sequence[np.ndarray],
    template: str = PAPER_TEMPLATE,
    max_length: int = 64,
    batch_size: int = 128,
) -> np.ndarray:
    """The paper's frozen VideoBERT features of each segment.

    Args:
        visual_words: per segment, vocab-local visual words int (k_i,), k_i >= 1.

    Returns:
        float32 (N, 2, H): the mean final state over the video tokens, then the mean final state
        over the template's ``[MASK]`` tokens.
    """
    model.eval()
    device = model_device(model)
    text, _ = tokenizer.encode_template(template)
    if tokenizer.mask_token_id not in text:
        raise VideoBertError(f"caption template {template!r} holds no [MASK]")
    hidden_size = int(model.config.hidden_size)
    out = np.zeros((len(visual_words), 2, hidden_size), dtype=np.float32)
    encs = [tokenizer.encode_pair(text, w, max_length, fit="subsample") for w in visual_words]
    for chunk, batch in batched(tokenizer, encs, batch_size, False, "caption features", device):
        hidden = model(**batch).last_hidden_state.float()  # (B, L, H)
        is_mask = (batch["input_ids"] == tokenizer.mask_token_id).float()  # (B, L)
        # Video tokens: type 1 and real, minus the final [SEP].
        is_video = (
            (batch["token_type_ids"] == 1)
            & (batch["attention_mask"] == 1)
            & (batch["input_ids"] != tokenizer.sep_token_id)
        ).float()  # (B, L)
        vid = (hidden * is_video[..., None]).sum(1) / is_video.sum(1, keepdim=True).clamp(min=1)  # (B, H)
        msk = (hidden * is_mask[..., None]).sum(1) / is_mask.sum(1, keepdim=True).clamp(min=1)  # (B, H)
        out[chunk] = torch.stack([vid, msk], dim=1).cpu().numpy()  # (B, 2, H)
    return out


def assemble_features(
    system: str, vectors: np.ndarray | None, clip_seqs: Sequence[np.ndarray] | None, max_clips: int
) -> CaptionFeatures:
    """The encoder inputs of one system for N segments.

    Args:
        system: one of :data:`SYSTEMS`.
        vectors: float32 (N, 2, H) :func:`videobert_vectors` (needed unless ``system == "clips"``).
        clip_seqs: per segment its clips' features float32 (k_i, D), k_i >= 1 (unless "videobert").

    Returns:
        vector = ``[video mean, mask mean, pooled clips]`` (2H + D), ``[pooled clips]`` (D) or
        ``[video mean, mask mean]`` (2H); clips = the segments' clip features, at most ``max_clips``
        each (evenly subsampled), (N, S, D), empty (N, 0, 0) for "videobert".
    """
    if system not in SYSTEMS:
        raise VideoBertError(f"unknown caption system {system!r}: use one of {', '.join(SYSTEMS)}")
    vec_parts: list[np.ndarray] = []
    parts: list[int] = []
    n = len(vectors) if vectors is not None else len(clip_seqs or [])
    if system != "clips":
        if vectors is None:
            raise VideoBertError(f"caption system {system!r} needs the VideoBERT vectors")
        h = vectors.shape[2]
        vec_parts += [vectors[:, 0], vectors[:, 1]]
        parts += [h, h]
    if system == "videobert":
        clips = np.zeros((n, 0, 0), dtype=np.float32)
        lengths = np.zeros(n, dtype=np.int64)
    else:
        if clip_seqs is None or len(clip_seqs) != n:
            raise VideoBertError(f"caption system {system!r} needs each segment's clip features")
        d = int(clip_seqs[0].shape[1])
        vec_parts.append(np.stack([c.mean(axis=0) for c in clip_seqs]).astype(np.float32))  # (N, D)
        parts.append(d)
        taken = [c[subsample_evenly(np.arange(len(c)), max_clips)] for c in clip_seqs]  # (<= S, D) each
        s = max(len(c) for c in taken)
        clips = np.zeros((n, s, d), dtype=np.float32)
        for i, c in enumerate(taken):
            clips[i, : len(c)] = c
        lengths = np.asarray([len(c) for c in taken], dtype=np.int64)
    vector = np.concatenate(vec_parts, axis=1).astype(np.float32)  # (N, F)
    return CaptionFeatures(vector, tuple(parts), clips, lengths)


# ----------------------------------------------------------------------------------------------
# the captioner
# ----------------------------------------------------------------------------------------------


@dataclass
class Captioner:
    """A trained encoder-decoder and what it reads."""

    model: CaptionModel
    system: str
    cfg: CaptionConfig

    def decode(self, feats: CaptionFeatures, beam: int | None = None) -> tuple[list[list[int]], np.ndarray]:
        """WordPiece captions and their summed log-probabilities; ``beam`` <= 1: greedy (default cfg.beam)."""
        beam = self.cfg.beam if beam is None else beam
        if beam <= 1:
            return greedy_decode(self.model, feats, self.cfg.max_caption_tokens)
        return beam_decode(self.model, feats, self.cfg.max_caption_tokens, beam, self.cfg.length_penalty)

    def caption_features(self, tokenizer: Any, feats: CaptionFeatures, beam: int | None = None) -> list[str]:
        """Caption strings of encoder inputs."""
        return [tokenizer.decode_text(row) for row in self.decode(feats, beam)[0]]

    def caption(
        self,
        model: Any,
        tokenizer: Any,
        visual_words: Sequence[np.ndarray],
        clip_seqs: Sequence[np.ndarray] | None = None,
        beam: int | None = None,
    ) -> list[str]:
        """Captions of segments given as vocab-local visual words (k_i,) and, unless the system is
        "videobert", their clips' features (k_i, D)."""
        vec = None if self.system == "clips" else config_vectors(model, tokenizer, visual_words, self.cfg)
        feats = assemble_features(self.system, vec, clip_seqs, self.cfg.max_clips)
        return self.caption_features(tokenizer, feats, beam)


def config_vectors(model: Any, tokenizer: Any, visual_words: Sequence[np.ndarray], cfg: CaptionConfig) -> np.ndarray:
    """:func:`videobert_vectors` with ``cfg``'s template, max_length and batch_size: (N, 2, H)."""
    return videobert_vectors(model, tokenizer, visual_words, cfg.template, cfg.max_length, cfg.batch_size)


def fit_captioner(
    model: Any, tokenizer: Any, feats: CaptionFeatures, sentences: Sequence[str], system: str, cfg: CaptionConfig
) -> tuple[Captioner, dict[str, Any]]:
    """Train one system's encoder-decoder on ``feats`` and their sentences (same seed for every system).

    Returns:
        the captioner and {"system", "input_dim", "parameters", "steps", "first_loss", "final_loss", "seconds"}.
    """
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    t0 = time.perf_counter()
    emb = None
    if cfg.embeddings == "bert":
        emb = model.bert.embeddings.word_embeddings.weight[: tokenizer.text_vocab_size]  # (T, H)
    targets = [tokenizer.encode_text(s) for s in sentences]
    allowed = sorted({int(i) for t in targets for i in t}) if cfg.output_vocab == "train" else None
    # modality dropout on the VideoBERT parts, only where clip features remain to caption from
    n_vb = len(feats.parts) - 1 if system == "videobert+clips" else 0
    part_dropout = [cfg.videobert_dropout] * n_vb + [0.0] * (len(feats.parts) - n_vb)
    net = CaptionModel(
        feats.parts, feats.clip_dim, cfg.max_clips, tokenizer.text_vocab_size, cfg.max_caption_tokens + 2,
        SpecialIds.of(tokenizer), emb, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout, allowed, part_dropout,
    )  # fmt: skip
    settings = TrainSettings(
        cfg.steps, cfg.train_batch_size, cfg.lr, cfg.weight_decay, cfg.warmup, cfg.label_smoothing, cfg.seed
    )
    losses = train_caption_model(net, feats, targets, settings, device, desc=f"caption {system}")
    tail = losses[-20:]
    info = {
        "system": system,
        "input_dim": net.input_dim,
        "clip_dim": feats.clip_dim,
        "parameters": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "segments": len(feats),
        "steps": cfg.steps,
        "first_loss": losses[0],
        "final_loss": float(np.mean(tail)),
        "seconds": round(time.perf_counter() - t0, 2),
        "device": str(device),
    }
    log.info(
        "caption %s: %d segments, input %d, loss %.3f -> %.3f in %.1f s",
        system, len(feats), net.input_dim, info["first_loss"], info["final_loss"], info["seconds"],
    )  # fmt: skip
    return Captioner(net, system, cfg), info


def usable_segments(segments: Sequence[Segment], clips: ClipTable | None) -> list[Segment]:
    """Segments with a sentence, visual words and (when ``clips`` is given) clip features."""
    return [
        s for s in segments
        if s.sentence.strip() and len(s.visual_words) and (clips is None or s.video_id in clips)
    ]  # fmt: skip


def clip_sequences(segments: Sequence[Segment], clips: ClipTable) -> list[np.ndarray]:
    """Each segment's clip features float32 (k_i, D)."""
    return [segment_clip_features(*clips[s.video_id], s.start, s.end) for s in segments]


def train_captioner(
    model: Any,
    tokenizer: Any,
    train_segments: Sequence[Segment],
    cfg: CaptionConfig | None = None,
    clips: ClipTable | None = None,
    system: str | None = None,
) -> tuple[Captioner, dict[str, Any]]:
    """One captioner trained on ``train_segments``' captions.

    Args:
        clips: the videos' clip features (:class:`CaptionInputs`); without them the system is
            "videobert" (VideoBERT vectors only, what :mod:`videobert.tasks.summarize` can feed).
        system: one of :data:`SYSTEMS` (default: "videobert+clips" with clips, else "videobert").
    """
    cfg = cfg or CaptionConfig()
    system = system or ("videobert+clips" if clips is not None else "videobert")
    if system != "videobert" and clips is None:
        raise VideoBertError(f"caption system {system!r} needs clip features (load_caption_inputs)")
    segs = usable_segments(train_segments, clips if system != "videobert" else None)
    if cfg.max_train_segments:
        segs = segs[: cfg.max_train_segments]
    if not segs:
        raise VideoBertError("captioning needs training segments with sentences, visual words and clip features")
    vec = None if system == "clips" else config_vectors(model, tokenizer, [s.visual_words for s in segs], cfg)
    seqs = None if system == "videobert" else clip_sequences(segs, clips or {})
    feats = assemble_features(system, vec, seqs, cfg.max_clips)
    return fit_captioner(model, tokenizer, feats, [s.sentence for s in segs], system, cfg)


# ----------------------------------------------------------------------------------------------
# the task
# ----------------------------------------------------------------------------------------------


def departures(cfg: CaptionConfig, backbone: str | None, model: Any) -> list[str]:
    """How this run differs from the paper's captioning setup."""
    vocab = (
        "vocabulary: the VideoBERT tokenizer's WordPiece ids"
        if cfg.output_vocab == "full"
        else "vocabulary: the WordPiece ids of the training captions (output_vocab=train)"
    )
    return [
        f"clip features: WORK/features/{backbone} (the paper: S3D pretrained on Kinetics)",
        f"VideoBERT: this work directory's model (hidden size {int(model.config.hidden_size)}, "
        f"{int(model.config.num_hidden_layers)} layers; the paper: BERT-large initialised, 24 layers, 1024 wide)",
        f"encoder-decoder: {cfg.n_layers} + {cfg.n_layers} layers, d_model {cfg.d_model}, {cfg.n_heads} heads "
        "(Zhou et al. 2018: 2 + 2 layers, 1024 wide); trained from scratch for "
        f"{cfg.steps} steps of {cfg.train_batch_size} captions on the training captions",
        vocab + (" with its text embeddings, frozen and tied" if cfg.embeddings == "bert" else " with learned embeddings")
        + " (the paper: a word vocabulary of the captioning model)",
        "encoder input: the paper's vector (VideoBERT video mean, [MASK] mean, pooled clip features) as one "
        f"token plus up to {cfg.max_clips} clip-feature tokens (Zhou et al. attend over clip features)",
        "no event proposals: the annotated segments are captioned (as in the paper's Table 2)",
    ] + (
        [
            f"modality dropout: in training, a segment's VideoBERT vectors are blanked with probability "
            f"{cfg.videobert_dropout} (the clip features stay); not in the paper"
        ]
        if cfg.videobert_dropout
        else []
    )


def caption(model: Any, tokenizer: Any, inputs: TaskInputs, cfg: CaptionConfig | None = None) -> TaskReport:
    """Train the VideoBERT + clip features captioner and the clip-features-only one on
    ``inputs.train_segments``, caption ``inputs.segments``, score against their sentences.

    Args:
        inputs: a :class:`CaptionInputs` (clip features; :func:`load_caption_inputs`).

    Returns:
        the report: ``metrics`` (VideoBERT + clips, beam; BLEU-1..4, METEOR when computed, ROUGE-L,
        CIDEr) beside the clip-features-only system's (beam) with paired intervals; ``details``:
        ``systems`` (beam, greedy, baseline_beam, baseline_greedy, nearest_neighbour), ``training``
        per system, ``features``, ``paper``, ``departures`` and, when something was left out, ``notes``.
    """
    require_scorers()  # before any training: a missing scorer is the first error, not the last
    cfg = cfg or CaptionConfig()
    clips = getattr(inputs, "clip_features", None)
    if not clips:
        raise VideoBertError(
            "captioning needs clip features beside the visual words (WORK/features/<backbone>); "
            "load the inputs with videobert.tasks.caption.load_caption_inputs"
        )
    meteor, notes = cfg.meteor, []
    if meteor is None:
        meteor = java_available()
    if not java_available():
        notes.append(
            "no 'java' on PATH: METEOR not computed, and captions were tokenised by videobert.eval.ptb "
            "(the Python port of pycocoevalcap's PTB tokenizer) instead of the Java one; install a JRE "
            "(e.g. default-jre-headless) for the reference scorers"
        )
        log.warning("caption: %s", notes[-1])
    errors = dict(getattr(inputs, "feature_errors", {}) or {})
    if errors:
        notes.append(f"{len(errors)} video(s) without usable clip features skipped, e.g. {next(iter(errors.values()))}")
    train = usable_segments(inputs.train_segments, clips)
    if cfg.max_train_segments:
        train = train[: cfg.max_train_segments]
    segs = usable_segments(inputs.segments, clips)
    segs = [segs[i] for i in evenly_spaced(len(segs), cfg.max_segments or None)]
    if not train or not segs:
        raise VideoBertError(
            f"captioning needs {cfg.train_subset!r} and {cfg.subset!r} segments with sentences, visual words "
            f"and clip features (got {len(train)} and {len(segs)})"
        )
    device = resolve_device(cfg.device)
    home = model_device(model)
    model.to(device)
    try:
        vec_train = config_vectors(model, tokenizer, [s.visual_words for s in train], cfg)
        vec_eval = config_vectors(model, tokenizer, [s.visual_words for s in segs], cfg)
    finally:
        model.to(home)
    seq_train, seq_eval = clip_sequences(train, clips), clip_sequences(segs, clips)
    sentences = [s.sentence for s in train]
    ours, info_ours = fit_captioner(
        model, tokenizer, assemble_features("videobert+clips", vec_train, seq_train, cfg.max_clips),
        sentences, "videobert+clips", cfg,
    )  # fmt: skip
    base, info_base = fit_captioner(
        model, tokenizer, assemble_features("clips", None, seq_train, cfg.max_clips), sentences, "clips", cfg
    )
    f_ours = assemble_features("videobert+clips", vec_eval, seq_eval, cfg.max_clips)
    f_base = assemble_features("clips", None, seq_eval, cfg.max_clips)
    caps = {
        "beam": ours.caption_features(tokenizer, f_ours, cfg.beam),
        "greedy": ours.caption_features(tokenizer, f_ours, 1),
        "baseline_beam": base.caption_features(tokenizer, f_base, cfg.beam),
        "baseline_greedy": base.caption_features(tokenizer, f_base, 1),
        "nearest_neighbour": nearest_neighbour_captions(train, segs, int(model.config.num_visual_words)),
    }
    keys = [f"{s.video_id}#{s.index}" for s in segs]
    refs = {k: [s.sentence] for k, s in zip(keys, segs, strict=True)}
    per_item: dict[str, dict[str, Any]] = {}
    systems = score_caption_sets(
        refs,
        {name: dict(zip(keys, c, strict=True)) for name, c in caps.items()},
        meteor=bool(meteor),
        tokenizer="auto",
        per_item=per_item,
    )
    log.info(
        "caption: CIDEr %.3f / BLEU-4 %.4f (VideoBERT + clips, beam) vs %.3f / %.4f (clips only, beam), "
        "nearest neighbour %.3f / %.4f",
        systems["beam"]["CIDEr"], systems["beam"]["BLEU-4"], systems["baseline_beam"]["CIDEr"],
        systems["baseline_beam"]["BLEU-4"], systems["nearest_neighbour"]["CIDEr"], systems["nearest_neighbour"]["BLEU-4"],
    )  # fmt: skip
    details = {
        "systems": systems,
        "system_names": {
            "beam": "VideoBERT + clip features, beam search",
            "greedy": "VideoBERT + clip features, greedy",
            "baseline_beam": "clip features only, beam search",
            "baseline_greedy": "clip features only, greedy",
            "nearest_neighbour": "nearest-neighbour caption (bag of visual words)",
        },
        "training": {"videobert+clips": info_ours, "clips": info_base},
        "features": {
            "backbone": getattr(inputs, "backbone", None),
            "clip_dim": f_ours.clip_dim,
            "videobert_dim": 2 * int(model.config.hidden_size),
            "template": cfg.template,
            "train_segments": len(train),
            "skipped_videos": sorted(errors),
        },
        "paper": PAPER_TABLE2,
        "departures": departures(cfg, getattr(inputs, "backbone", None), model),
        **({"notes": notes} if notes else {}),
    }
    intervals = unit_intervals(per_item["beam"], per_item["baseline_beam"], n=len(segs), seed=cfg.seed)
    report = TaskReport(
        TASK, systems["beam"], systems["baseline_beam"], "clip features only (same encoder-decoder, beam)",
        len(segs), asdict(cfg), details=details, intervals=intervals,
    )  # fmt: skip
    for j, i in enumerate(evenly_spaced(len(segs), cfg.n_examples)):
        s = segs[i]
        words = s.visual_words[:8]
        rows = [StripRow("video", word_tiles(words, inputs.thumbs), [str(int(w)) for w in words])]
        name = f"caption_{j}.png"
        report.images[name] = render_strip(rows, title=f"pred: {caps['beam'][i]} | truth: {s.sentence}")
        report.examples.append(
            {
                "video_id": s.video_id,
                "segment": [s.start, s.end],
                "truth": s.sentence,
                "pred": caps["beam"][i],
                "greedy": caps["greedy"][i],
                "baseline": caps["baseline_beam"][i],
                "nearest_neighbour": caps["nearest_neighbour"][i],
                "image": name,
            }
        )
    return report


register_task(
    Task(
        TASK,
        "captioning: encoder-decoder on VideoBERT + clip features vs clip features alone",
        CaptionConfig,
        caption,
        load_caption_inputs,
    )
)
