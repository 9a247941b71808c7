"""Video captioning on frozen VideoBERT features, as in the paper (Sun et al. 2019, section 4.3).

Features (computed once per segment, the encoder frozen): the paper's template
``[CLS] now let me show you how to [MASK] the [MASK] [>] video [SEP]`` is run through VideoBERT and
three vectors are kept — the final hidden states at the two ``[MASK]`` positions and the mean of the
video tokens' states — giving ``(N, 3, H)`` features.

Decoder: a small transformer decoder (``n_layers`` layers of width ``d_model``) cross-attends to
the three projected feature vectors and predicts WordPiece tokens from a vocabulary restricted to
the tokens seen in the training captions (plus BOS/EOS/PAD/UNK), trained with teacher forcing
and label smoothing. Decoding: greedy and beam search (length-normalised log-probability).

Baseline in the same run: the nearest-neighbour caption, i.e. the training caption of the training
segment whose bag of visual words is closest (cosine) to the segment's. All systems are scored with
pycocoevalcap (:mod:`videobert.eval.captions`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from videobert.data.annotations import Segment
from videobert.errors import VideoBertError
from videobert.eval.baselines import nearest_neighbour_captions
from videobert.eval.captions import java_available, score_caption_sets
from videobert.eval.intervals import unit_intervals
from videobert.model.inference import batched, model_device
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, register_task
from videobert.tasks.strips import StripRow, render_strip, word_tiles
from videobert.utils.arrays import evenly_spaced, subsample_evenly
from videobert.utils.runtime import seed_everything, torch_threads

log = logging.getLogger(__name__)

TASK = "caption"
PAD, BOS, EOS, UNK = 0, 1, 2, 3
N_SPECIAL = 4


@dataclass
class CaptionConfig(TaskConfig):
    """Settings of :func:`caption` (and those of :class:`TaskConfig`: the decoder trains on
    ``train_subset``'s captions and captions ``subset``'s segments; ``batch_size`` is the
    VideoBERT forward pass's).

    Attributes:
        template: text side of the feature template; each ``[MASK]`` gives one feature vector.
        max_length: VideoBERT sequence length for the features (video words evenly subsampled).
        max_video_tokens: video tokens whose own final states are decoder memory slots (0: none).
        d_model, n_layers, n_heads, dropout: decoder size.
        max_caption_tokens: WordPiece tokens per caption (training truncation and decoding limit).
        steps, train_batch_size, lr, weight_decay, warmup, label_smoothing: teacher-forcing training.
        beam: beam width of beam search; length_penalty: score / length ** length_penalty.
        max_train_segments, max_segments: caps on training / evaluated segments (None or 0: all;
            evaluated ones evenly spaced).
        meteor: compute METEOR (a JVM): None = when ``java`` is on PATH (otherwise the report's notes
            say it was left out, and captions are tokenised by :mod:`videobert.eval.ptb`), True =
            required (an error without Java), False = never.
    """

    template: str = "now let me show you how to [MASK] the [MASK]"
    max_length: int = 64
    max_video_tokens: int = 12
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    dropout: float = 0.1
    max_caption_tokens: int = 20
    steps: int = 300
    train_batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 50
    label_smoothing: float = 0.1
    beam: int = 4
    length_penalty: float = 0.7
    max_train_segments: int | None = None
    max_segments: int | None = 400
    meteor: bool | None = None


# ----------------------------------------------------------------------------------------------
# features
# ----------------------------------------------------------------------------------------------


@torch.inference_mode()
def segment_features(
    model: Any,
    tokenizer: Any,
    visual_words: Sequence[np.ndarray],
    template: str = CaptionConfig.template,
    max_length: int = 64,
    batch_size: int = 128,
    max_video_tokens: int = 0,
) -> np.ndarray:
    """Frozen VideoBERT features of each segment.

    Args:
        visual_words: per segment, vocab-local visual words int (k_i,), k_i >= 1.
        max_video_tokens: K, slots for the video tokens' own final states (0: none).

    Returns:
        float32 (N, M + 1 + K, H): the final hidden states at the template's M ``[MASK]`` positions
        (M = 2 for the default template), the mean final state over the video tokens, then the
        states of the first K video tokens (evenly subsampled to K when longer), zero rows where a
        segment has fewer (the decoder sees a zero row as a constant "empty" slot).
    """
    model.eval()
    device = model_device(model)
    text, _ = tokenizer.encode_template(template)
    n_masks = sum(1 for t in text if t == tokenizer.mask_token_id)
    hidden_size = int(model.config.hidden_size)
    k = max(int(max_video_tokens), 0)
    out = np.zeros((len(visual_words), n_masks + 1 + k, hidden_size), dtype=np.float32)
    encs = [tokenizer.encode_pair(text, w, max_length, fit="subsample") for w in visual_words]
    for chunk, batch in batched(tokenizer, encs, batch_size, False, "caption features", device):
        hidden = model(**batch).last_hidden_state.float()  # (B, L, H)
        is_mask = batch["input_ids"] == tokenizer.mask_token_id  # (B, L)
        # Video tokens: type 1 and real, minus the final [SEP].
        is_video = (
            (batch["token_type_ids"] == 1)
            & (batch["attention_mask"] == 1)
            & (batch["input_ids"] != tokenizer.sep_token_id)
        )
        masks = hidden[is_mask].reshape(len(chunk), n_masks, hidden_size)  # (B*M, H) -> (B, M, H)
        vid = (hidden * is_video[..., None]).sum(dim=1) / is_video.sum(dim=1, keepdim=True).clamp(
            min=1
        )  # (B, H)
        out[chunk, : n_masks + 1] = torch.cat([masks, vid[:, None, :]], dim=1).cpu().numpy()  # (B, M+1, H)
        for b, i in enumerate(chunk):
            states = hidden[b][is_video[b]]  # (k_i, H)
            take = subsample_evenly(np.arange(len(states)), k)  # (<= K,)
            out[i, n_masks + 1 : n_masks + 1 + len(take)] = states[torch.from_numpy(take)].cpu().numpy()
    return out


def config_features(
    model: Any, tokenizer: Any, visual_words: Sequence[np.ndarray], cfg: CaptionConfig
) -> np.ndarray:
    """:func:`segment_features` with ``cfg``'s template, max_length, batch_size and
    max_video_tokens: float32 (N, M + 1 + K, H)."""
    return segment_features(
        model, tokenizer, visual_words, cfg.template, cfg.max_length, cfg.batch_size, cfg.max_video_tokens
    )


# ----------------------------------------------------------------------------------------------
# vocabulary
# ----------------------------------------------------------------------------------------------


class CaptionVocab:
    """A small output vocabulary: PAD, BOS, EOS, UNK, then the WordPiece ids seen in training captions."""

    def __init__(self, wordpiece_ids: Sequence[int]) -> None:
        self.wordpieces = np.asarray(sorted({int(i) for i in wordpiece_ids}), dtype=np.int64)  # (n,)
        self.index = {int(w): i + N_SPECIAL for i, w in enumerate(self.wordpieces)}

    def __len__(self) -> int:
        return N_SPECIAL + len(self.wordpieces)

    def encode(self, wordpiece_ids: Sequence[int], max_tokens: int) -> list[int]:
        """``[BOS] tokens.. [EOS]`` as local ids (unknown pieces -> UNK), at most ``max_tokens`` tokens."""
        return [BOS, *(self.index.get(int(w), UNK) for w in list(wordpiece_ids)[:max_tokens]), EOS]

    def decode(self, local_ids: Sequence[int]) -> list[int]:
        """WordPiece ids of local ids, stopping at EOS and dropping BOS/PAD/UNK."""
        out = []
        for i in local_ids:
            i = int(i)
            if i == EOS:
                break
            if i >= N_SPECIAL:
                out.append(int(self.wordpieces[i - N_SPECIAL]))
        return out


# ----------------------------------------------------------------------------------------------
# decoder
# ----------------------------------------------------------------------------------------------


class CaptionDecoder(nn.Module):
    """Transformer decoder over the (N, M, H) VideoBERT features as its memory.

    Args:
        feature_dim: H, the VideoBERT hidden size. n_memory: M, feature vectors per segment.
        vocab_size: local output vocabulary size. max_len: longest token sequence (with BOS/EOS).
    """

    def __init__(
        self,
        feature_dim: int,
        n_memory: int,
        vocab_size: int,
        max_len: int,
        d_model: int = 192,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.feature_norm = nn.LayerNorm(feature_dim)
        self.memory_proj = nn.Linear(feature_dim, d_model)
        self.memory_pos = nn.Parameter(torch.zeros(n_memory, d_model))
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.pos = nn.Embedding(max_len, d_model)
        layer = nn.TransformerDecoderLayer(
            d_model, n_heads, 4 * d_model, dropout=dropout, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, n_layers)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)
        self.max_len = max_len

    def memory(self, features: torch.Tensor) -> torch.Tensor:
        """(B, M, H) features -> (B, M, d_model) memory."""
        return self.memory_proj(self.feature_norm(features)) + self.memory_pos

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Logits (B, t, vocab) of the next token after each prefix of ``tokens`` (B, t) local ids."""
        t = tokens.shape[1]
        x = self.embed(tokens) + self.pos(torch.arange(t, device=tokens.device))  # (B, t, d)
        causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).triu(1)  # (t, t) True = hidden
        y = self.decoder(x, memory, tgt_mask=causal, tgt_is_causal=True, tgt_key_padding_mask=tokens == PAD)
        return self.out(self.norm(y))  # (B, t, vocab)


def train_decoder(
    features: np.ndarray, targets: Sequence[list[int]], vocab_size: int, cfg: CaptionConfig
) -> tuple[CaptionDecoder, list[float]]:
    """Teacher-forced training of a :class:`CaptionDecoder`.

    Args:
        features: float32 (N, M, H) segment features.
        targets: N local-id sequences ``[BOS] .. [EOS]``.

    Returns:
        The trained decoder (eval mode) and the loss of every step.
    """
    n, n_mem, feat_dim = features.shape
    max_len = cfg.max_caption_tokens + 2
    dec = CaptionDecoder(
        feat_dim, n_mem, vocab_size, max_len, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout
    )
    tok = torch.full((n, max_len), PAD, dtype=torch.long)
    for i, t in enumerate(targets):
        tok[i, : len(t)] = torch.tensor(t[:max_len])
    feats = torch.from_numpy(features)
    opt = torch.optim.AdamW(dec.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=cfg.label_smoothing)
    gen = torch.Generator().manual_seed(cfg.seed)
    losses = []
    dec.train()
    for _ in tqdm(range(cfg.steps), desc="caption decoder", leave=False, disable=cfg.steps < 50):
        idx = torch.randint(0, n, (min(cfg.train_batch_size, n),), generator=gen)
        batch = tok[idx]  # (B, max_len)
        length = int((batch != PAD).sum(dim=1).max())
        batch = batch[:, :length]  # (B, max_len) -> (B, t)
        logits = dec(batch[:, :-1], dec.memory(feats[idx]))  # (B, t-1, vocab)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))  # (B*(t-1), vocab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    dec.eval()
    return dec, losses


@torch.inference_mode()
def greedy_decode(
    dec: CaptionDecoder, features: np.ndarray, max_tokens: int, batch_size: int = 256
) -> list[list[int]]:
    """Local-id captions (without BOS/EOS) for (N, M, H) features, arg-max at every step."""
    out: list[list[int]] = []
    for s in range(0, len(features), batch_size):
        mem = dec.memory(torch.from_numpy(features[s : s + batch_size]))  # (B, M, d)
        b = mem.shape[0]
        seq = torch.full((b, 1), BOS, dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        for _ in range(max_tokens + 1):
            logits = dec(seq, mem)[:, -1]  # (B, V)
            logits[:, :EOS] = float("-inf")  # never PAD or BOS
            logits[:, UNK] = float("-inf")
            nxt = logits.argmax(dim=-1)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            done |= nxt == EOS
            if bool(done.all()):
                break
        for row in seq[:, 1:].tolist():
            out.append(_strip_tokens(row))
    return out


@torch.inference_mode()
def beam_decode(
    dec: CaptionDecoder,
    features: np.ndarray,
    max_tokens: int,
    beam: int = 4,
    length_penalty: float = 0.7,
    batch_size: int = 128,
) -> list[list[int]]:
    """Local-id captions for (N, M, H) features by beam search.

    Every item keeps ``beam`` hypotheses; finished ones (EOS emitted) keep their score. The result
    is the hypothesis with the best ``sum log p / n_tokens ** length_penalty`` (n_tokens with EOS).
    """
    out: list[list[int]] = []
    k = beam
    for s in range(0, len(features), batch_size):
        mem = dec.memory(torch.from_numpy(features[s : s + batch_size]))  # (B, M, d)
        b = mem.shape[0]
        mem = mem.repeat_interleave(k, dim=0)  # (B, M, d) -> (B*K, M, d)
        seq = torch.full((b * k, 1), BOS, dtype=torch.long)
        scores = torch.full((b, k), float("-inf"))
        scores[:, 0] = 0.0
        done = torch.zeros(b * k, dtype=torch.bool)
        lengths = torch.zeros(b * k)
        for _ in range(max_tokens + 1):
            logp = torch.log_softmax(dec(seq, mem)[:, -1].float(), dim=-1)  # (B*K, V)
            logp[:, BOS] = float("-inf")  # PAD is set below; UNK is never useful in a caption
            logp[:, UNK] = float("-inf")
            v = logp.shape[-1]
            # A finished hypothesis may only be extended by PAD, at no cost.
            frozen = torch.full_like(logp, float("-inf"))
            frozen[:, PAD] = 0.0
            logp = torch.where(done[:, None], frozen, logp)
            logp[~done, PAD] = float("-inf")
            cand = scores.reshape(b * k, 1) + logp  # (B*K, V)
            cand = cand.reshape(b, k * v)  # (B*K, V) -> (B, K*V)
            top_scores, top_idx = cand.topk(k, dim=-1)  # (B, K)
            src = top_idx // v  # (B, K) beam each comes from
            tok = top_idx % v  # (B, K)
            flat_src = (src + torch.arange(b)[:, None] * k).reshape(-1)  # (B, K) -> (B*K,)
            seq = torch.cat([seq[flat_src], tok.reshape(-1, 1)], dim=1)  # (B*K, t+1)
            prev_done = done[flat_src]
            lengths = lengths[flat_src] + (~prev_done).float()
            done = prev_done | (tok.reshape(-1) == EOS)
            scores = top_scores
            if bool(done.all()):
                break
        norm = scores.reshape(-1) / lengths.clamp(min=1) ** length_penalty  # (B*K,)
        norm = torch.where(torch.isfinite(norm), norm, torch.full_like(norm, -1e30))
        best = norm.reshape(b, k).argmax(dim=-1)  # (B,)
        for i in range(b):
            out.append(_strip_tokens(seq[i * k + int(best[i]), 1:].tolist()))
    return out


def _strip_tokens(row: list[int]) -> list[int]:
    """Tokens up to (not including) the first EOS, without PAD."""
    res = []
    for t in row:
        if t == EOS:
            break
        if t != PAD:
            res.append(int(t))
    return res


# ----------------------------------------------------------------------------------------------
# the captioner and the task
# ----------------------------------------------------------------------------------------------


@dataclass
class Captioner:
    """A trained decoder with its vocabulary: captions for segments' visual words."""

    decoder: CaptionDecoder
    vocab: CaptionVocab
    cfg: CaptionConfig

    def caption_features(self, tokenizer: Any, features: np.ndarray, beam: int | None = None) -> list[str]:
        """Captions of (N, M, H) features; ``beam`` <= 1 greedy, else beam search (default cfg.beam)."""
        beam = self.cfg.beam if beam is None else beam
        with torch_threads(1):
            if beam <= 1:
                local = greedy_decode(self.decoder, features, self.cfg.max_caption_tokens)
            else:
                local = beam_decode(
                    self.decoder, features, self.cfg.max_caption_tokens, beam, self.cfg.length_penalty
                )
        return [tokenizer.decode_text(self.vocab.decode(row)) for row in local]

    def caption(
        self, model: Any, tokenizer: Any, visual_words: Sequence[np.ndarray], beam: int | None = None
    ) -> list[str]:
        """Captions of segments given as vocab-local visual words (k_i,)."""
        feats = config_features(model, tokenizer, visual_words, self.cfg)
        return self.caption_features(tokenizer, feats, beam)


def train_captioner(
    model: Any, tokenizer: Any, train_segments: Sequence[Segment], cfg: CaptionConfig | None = None
) -> tuple[Captioner, dict[str, Any]]:
    """Features of the training segments, then a decoder trained on their captions.

    Returns:
        The captioner and training info {"segments", "vocab", "steps", "first_loss", "final_loss", "seconds"}.
    """
    cfg = cfg or CaptionConfig()
    seed_everything(cfg.seed)
    segs = [s for s in train_segments if s.sentence.strip() and len(s.visual_words)]
    if cfg.max_train_segments:
        segs = segs[: cfg.max_train_segments]
    if not segs:
        raise VideoBertError("captioning needs training segments with sentences and visual words")
    t0 = time.perf_counter()
    feats = config_features(model, tokenizer, [s.visual_words for s in segs], cfg)
    pieces = [[int(i) for i in tokenizer.encode_text(s.sentence)] for s in segs]
    vocab = CaptionVocab([w for p in pieces for w in p])
    targets = [vocab.encode(p, cfg.max_caption_tokens) for p in pieces]
    with torch_threads(1):
        dec, losses = train_decoder(feats, targets, len(vocab), cfg)
    tail = losses[-20:] or [float("nan")]
    info = {
        "segments": len(segs),
        "vocab": len(vocab),
        "steps": cfg.steps,
        "first_loss": losses[0] if losses else None,
        "final_loss": float(np.mean(tail)),
        "seconds": time.perf_counter() - t0,
    }
    log.info(
        "caption decoder: %d segments, vocab %d, loss %.3f -> %.3f",
        len(segs),
        len(vocab),
        info["first_loss"] or 0,
        info["final_loss"],
    )
    return Captioner(dec, vocab, cfg), info


def caption(model: Any, tokenizer: Any, inputs: TaskInputs, cfg: CaptionConfig | None = None) -> TaskReport:
    """Train the decoder on ``inputs.train_segments``, caption ``inputs.segments``, score against
    their sentences with pycocoevalcap.

    Returns:
        the report: ``metrics`` (beam search; BLEU-1..4, METEOR when computed, ROUGE-L, CIDEr)
        beside the nearest-neighbour captions' (same keys); ``details`` ``systems`` {"beam",
        "greedy", "nearest_neighbour"} with every system's metrics, ``training`` and, when METEOR
        was left out, ``notes`` saying why.
    """
    cfg = cfg or CaptionConfig()
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
    captioner, info = train_captioner(model, tokenizer, inputs.train_segments, cfg)
    train = [s for s in inputs.train_segments if s.sentence.strip() and len(s.visual_words)]
    segs = [s for s in inputs.segments if s.sentence.strip() and len(s.visual_words)]
    segs = [segs[i] for i in evenly_spaced(len(segs), cfg.max_segments or None)]
    if not segs:
        raise VideoBertError(f"captioning needs {cfg.subset!r} segments with sentences and visual words")
    feats = config_features(model, tokenizer, [s.visual_words for s in segs], cfg)
    greedy = captioner.caption_features(tokenizer, feats, beam=1)
    beam = captioner.caption_features(tokenizer, feats, beam=cfg.beam)
    nn_caps = nearest_neighbour_captions(train, segs, int(model.config.num_visual_words))
    keys = [f"{s.video_id}#{s.index}" for s in segs]
    refs = {k: [s.sentence] for k, s in zip(keys, segs, strict=True)}
    per_item: dict[str, dict[str, Any]] = {}
    systems = score_caption_sets(
        refs,
        {
            "beam": dict(zip(keys, beam, strict=True)),
            "greedy": dict(zip(keys, greedy, strict=True)),
            "nearest_neighbour": dict(zip(keys, nn_caps, strict=True)),
        },
        meteor=bool(meteor),
        tokenizer="auto",
        per_item=per_item,
    )
    log.info(
        "caption: CIDEr %.3f / BLEU-4 %.4f (beam), %.3f / %.4f (greedy), nearest neighbour %.3f / %.4f",
        systems["beam"]["CIDEr"], systems["beam"]["BLEU-4"], systems["greedy"]["CIDEr"],
        systems["greedy"]["BLEU-4"], systems["nearest_neighbour"]["CIDEr"], systems["nearest_neighbour"]["BLEU-4"],
    )  # fmt: skip
    details = {"systems": systems, "training": info, **({"notes": notes} if notes else {})}
    intervals = unit_intervals(per_item["beam"], per_item["nearest_neighbour"], n=len(segs), seed=cfg.seed)
    report = TaskReport(TASK, systems["beam"], systems["nearest_neighbour"], "nearest-neighbour caption", len(segs), asdict(cfg), details=details, intervals=intervals)
    for j, i in enumerate(evenly_spaced(len(segs), cfg.n_examples)):
        s = segs[i]
        words = s.visual_words[:8]
        rows = [StripRow("video", word_tiles(words, inputs.thumbs), [str(int(w)) for w in words])]
        name = f"caption_{j}.png"
        report.images[name] = render_strip(rows, title=f"pred: {beam[i]} | truth: {s.sentence}")
        report.examples.append(
            {
                "video_id": s.video_id,
                "segment": [s.start, s.end],
                "truth": s.sentence,
                "pred": beam[i],
                "greedy": greedy[i],
                "nearest_neighbour": nn_caps[i],
                "image": name,
            }
        )
    return report


register_task(
    Task(
        TASK,
        "captioning: decoder on frozen VideoBERT features vs nearest-neighbour captions",
        CaptionConfig,
        caption,
    )
)
