"""The captioning encoder-decoder (after Zhou et al. 2018, "End-to-end dense video captioning with
masked transformer"): a transformer encoder over a segment's clip features, a transformer decoder
over WordPiece tokens.

Encoder input (memory tokens, d_model wide):

* one **vector token**: the segment's fixed-size vector (for the default system
  ``[mean VideoBERT video-token state (H), mean template [MASK] state (H), pooled clip features (D)]``,
  for the features-only baseline the pooled clip features (D) alone), each part LayerNorm'd on its
  own, concatenated and projected. In training, ``part_dropout`` blanks whole parts per segment
  (modality dropout: the part becomes zeros before its LayerNorm, i.e. that norm's learned bias):
  with a few hundred captions a 2H-wide vector unique to each segment is memorised (a captioner
  fed Gaussian noise in its place reaches a *lower* training loss than one fed VideoBERT's
  vectors, and is worse on held-out segments), and blanking it makes the captioner also work from
  the clip features alone;
* one token per clip of the segment (its clip features (D), LayerNorm'd and projected, plus a
  learned position), zero-padded and masked beyond the segment's length.

Output vocabulary: the full WordPiece vocabulary of the model's tokenizer (T ids). With
``word_embeddings`` given (the VideoBERT model's text embedding rows, (T, E)) the decoder's input
and output embeddings are those rows, frozen and tied (input ``Linear(E, d)(E[id])``, logits
``Linear(d, E)(y) @ E^T + b``), so only the projections and a bias are learned: what makes a
30k-way output learnable from a few hundred captions (the rows are standardised per dimension
first: BERT's are ~0.05 in scale). Without them a fresh tied ``Embedding(T, d)``.
``[CLS]`` is the decoder's start token, ``[SEP]`` its end token, ``[PAD]`` padding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm


@dataclass
class CaptionFeatures:
    """What the encoder reads for N segments.

    Attributes:
        vector: float32 (N, F) fixed-size vector per segment, F = sum(parts).
        parts: widths of ``vector``'s parts (each LayerNorm'd separately), e.g. (H, H, D) or (D,).
        clips: float32 (N, S, D) each segment's clip features, zero-padded to S (S may be 0).
        lengths: int64 (N,) clips per segment (<= S).
    """

    vector: np.ndarray
    parts: tuple[int, ...]
    clips: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.vector)

    def take(self, idx: np.ndarray | Sequence[int] | slice) -> CaptionFeatures:
        """The features of the segments ``idx``."""
        return CaptionFeatures(self.vector[idx], self.parts, self.clips[idx], self.lengths[idx])

    @property
    def clip_dim(self) -> int:
        return int(self.clips.shape[2])

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(vector (N, F), clips (N, S, D), lengths (N,))`` on ``device``."""
        return (
            torch.from_numpy(np.ascontiguousarray(self.vector, dtype=np.float32)).to(device),
            torch.from_numpy(np.ascontiguousarray(self.clips, dtype=np.float32)).to(device),
            torch.from_numpy(np.asarray(self.lengths, dtype=np.int64)).to(device),
        )


@dataclass(frozen=True)
class SpecialIds:
    """Decoder token ids: start (``[CLS]``), end (``[SEP]``), padding, and ids never generated."""

    bos: int
    eos: int
    pad: int
    banned: tuple[int, ...] = ()

    @classmethod
    def of(cls, tokenizer: object) -> SpecialIds:
        """The ids of a :class:`videobert.text.tokenizer.VideoBertTokenizer`."""
        eos = int(tokenizer.sep_token_id)  # type: ignore[attr-defined]
        t = int(tokenizer.text_vocab_size)  # type: ignore[attr-defined]
        special = {int(i) for i in tokenizer.special_ids if int(i) < t}  # type: ignore[attr-defined]
        return cls(
            bos=int(tokenizer.cls_token_id),  # type: ignore[attr-defined]
            eos=eos,
            pad=int(tokenizer.pad_token_id),  # type: ignore[attr-defined]
            banned=tuple(sorted(special - {eos})),
        )


class CaptionModel(nn.Module):
    """Transformer encoder-decoder: (vector token + clip tokens) -> WordPiece caption.

    Args:
        parts: widths of the vector token's parts. clip_dim: D (0: no clip tokens). max_clips: S.
        vocab_size: T, output ids. max_len: longest decoder sequence (with start/end).
        word_embeddings: float (T, E) frozen tied embeddings, or None for learned ones.
        allowed: ids the softmax runs over (None: all T); others get logit -inf. A cost saving for
            small CPU runs (the demo: the training captions' pieces), not the default.
        part_dropout: per part of the vector token, the probability that a training segment sees
            it blanked (all of one segment's parts with the same probability are blanked together);
            None: no blanking.
    """

    def __init__(
        self,
        parts: Sequence[int],
        clip_dim: int,
        max_clips: int,
        vocab_size: int,
        max_len: int,
        ids: SpecialIds,
        word_embeddings: torch.Tensor | None = None,
        d_model: int = 256,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.1,
        allowed: Sequence[int] | None = None,
        part_dropout: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = int(vocab_size)
        if allowed is not None:
            keep = torch.tensor(sorted({int(i) for i in allowed} | {ids.eos}), dtype=torch.long)  # (T',)
            local = torch.full((vocab_size,), -1, dtype=torch.long)
            local[keep] = torch.arange(len(keep))
            self.register_buffer("allowed", keep, persistent=False)
            self.register_buffer("local", local, persistent=False)
        else:
            self.allowed = None
            self.local = None
        self.parts = tuple(int(p) for p in parts)
        self.ids = ids
        self.max_len = max_len
        self.part_norms = nn.ModuleList(nn.LayerNorm(p) for p in self.parts)
        drop = tuple(float(x) for x in (part_dropout or [0.0] * len(self.parts)))
        if len(drop) != len(self.parts) or not all(0.0 <= x < 1.0 for x in drop):
            raise ValueError(f"part_dropout needs one probability in [0, 1) per part {self.parts}, got {drop}")
        self.part_dropout = drop
        self.vector_proj = nn.Linear(sum(self.parts), d_model)
        self.clip_dim = int(clip_dim)
        if self.clip_dim:
            self.clip_norm = nn.LayerNorm(self.clip_dim)
            self.clip_proj = nn.Linear(self.clip_dim, d_model)
        self.memory_pos = nn.Embedding(max_clips + 1, d_model)  # 0: the vector token
        enc = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(enc, n_layers, enable_nested_tensor=False)
        self.enc_norm = nn.LayerNorm(d_model)
        if word_embeddings is not None:
            emb = word_embeddings.detach().float().clone()  # (T, E)
            emb = (emb - emb.mean(dim=0)) / emb.std(dim=0).clamp(min=1e-6)  # unit scale: BERT's rows are ~0.05
            self.register_buffer("word_embeddings", emb, persistent=False)
            self.embed_in = nn.Linear(emb.shape[1], d_model)
            self.embed_out = nn.Linear(d_model, emb.shape[1])
            self.embed = None
        else:
            self.word_embeddings = None
            self.embed = nn.Embedding(vocab_size, d_model, padding_idx=ids.pad)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size))
        self.pos = nn.Embedding(max_len, d_model)
        dec = nn.TransformerDecoderLayer(d_model, n_heads, 4 * d_model, dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(dec, n_layers)
        self.dec_norm = nn.LayerNorm(d_model)
        self.d_model = d_model

    @property
    def input_dim(self) -> int:
        """F, the width of the vector token's input."""
        return sum(self.parts)

    def encode(
        self, vector: torch.Tensor, clips: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(memory (B, 1 + S, d), memory padding mask (B, 1 + S), True = padding)`` of
        vector (B, F), clips (B, S, D), lengths (B,)."""
        chunks = list(torch.split(vector, list(self.parts), dim=-1))
        if self.training and any(self.part_dropout):
            b = vector.shape[0]
            draws = {p: torch.rand(b, 1, device=vector.device) >= p for p in set(self.part_dropout) if p > 0}  # (B, 1)
            chunks = [c * draws[p] if p > 0 else c for c, p in zip(chunks, self.part_dropout, strict=True)]
        v = torch.cat([norm(c) for norm, c in zip(self.part_norms, chunks, strict=True)], dim=-1)  # (B, F)
        tokens = [self.vector_proj(v)[:, None]]  # (B, 1, d)
        b = vector.shape[0]
        pad = torch.zeros(b, 1, dtype=torch.bool, device=vector.device)
        if self.clip_dim and clips.shape[1]:
            s = clips.shape[1]
            tokens.append(self.clip_proj(self.clip_norm(clips)))  # (B, S, d)
            pad = torch.cat([pad, torch.arange(s, device=vector.device)[None] >= lengths[:, None]], dim=1)
        x = torch.cat(tokens, dim=1)  # (B, 1 + S, d)
        x = x + self.memory_pos(torch.arange(x.shape[1], device=x.device))
        return self.enc_norm(self.encoder(x, src_key_padding_mask=pad)), pad

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            return self.embed(tokens)
        return self.embed_in(self.word_embeddings[tokens])  # (B, t, E) -> (B, t, d)

    def local_logits(self, y: torch.Tensor) -> torch.Tensor:
        """(..., T') logits over the ``allowed`` ids (all T when None) of decoder states (..., d)."""
        table = self.embed.weight if self.embed is not None else self.word_embeddings  # (T, E or d)
        bias = self.out_bias
        if self.allowed is not None:
            table, bias = table[self.allowed], bias[self.allowed]
        z = y if self.embed is not None else self.embed_out(y)
        return z @ table.T + bias

    def logits(self, y: torch.Tensor) -> torch.Tensor:
        """(..., T) next-token logits of decoder states (..., d); -inf outside ``allowed``."""
        sub = self.local_logits(y)
        if self.allowed is None:
            return sub
        full = torch.full((*sub.shape[:-1], self.vocab_size), float("-inf"), dtype=sub.dtype, device=sub.device)
        full[..., self.allowed] = sub
        return full

    def target_index(self, gold: torch.Tensor) -> torch.Tensor:
        """Indices of WordPiece ids ``gold`` in :meth:`local_logits`' last dimension."""
        return gold if self.local is None else self.local[gold]

    def decode_states(self, tokens: torch.Tensor, memory: torch.Tensor, memory_pad: torch.Tensor) -> torch.Tensor:
        """Decoder states (B, t, d) after each prefix of ``tokens`` (B, t)."""
        t = tokens.shape[1]
        x = self._embed(tokens) + self.pos(torch.arange(t, device=tokens.device))  # (B, t, d)
        causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).triu(1)  # (t, t) True = hidden
        y = self.decoder(
            x, memory, tgt_mask=causal, tgt_is_causal=True,
            tgt_key_padding_mask=tokens == self.ids.pad, memory_key_padding_mask=memory_pad,
        )  # fmt: skip
        return self.dec_norm(y)

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor, memory_pad: torch.Tensor) -> torch.Tensor:
        """Logits (B, t, T) of the next token after each prefix of ``tokens`` (B, t)."""
        return self.logits(self.decode_states(tokens, memory, memory_pad))


@dataclass
class TrainSettings:
    """Teacher-forcing settings of :func:`train_caption_model` (steps of ``batch_size`` captions,
    AdamW, linear warm-up then cosine decay, gradient clipping at 1)."""

    steps: int = 1500
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 100
    label_smoothing: float = 0.1
    seed: int = 0


def token_matrix(targets: Sequence[Sequence[int]], max_len: int, ids: SpecialIds) -> torch.Tensor:
    """int64 (N, max_len) ``[start] pieces.. [end]`` rows padded with ``ids.pad`` (pieces cut to fit)."""
    tok = torch.full((len(targets), max_len), ids.pad, dtype=torch.long)
    for i, t in enumerate(targets):
        row = [ids.bos, *[int(x) for x in t][: max_len - 2], ids.eos]
        tok[i, : len(row)] = torch.tensor(row)
    return tok


def train_caption_model(
    model: CaptionModel,
    feats: CaptionFeatures,
    targets: Sequence[Sequence[int]],
    settings: TrainSettings,
    device: torch.device | str = "cpu",
    desc: str = "caption model",
) -> list[float]:
    """Teacher-forced training of ``model`` on N segments' features and WordPiece captions
    (``targets``: N id lists without start/end). The model ends in eval mode on ``device``.

    Returns:
        the loss (mean cross-entropy per target token, label-smoothed) of every step.
    """
    device = torch.device(device)
    model.to(device).train()
    ids = model.ids
    tok = token_matrix(targets, model.max_len, ids).to(device)  # (N, L)
    vector, clips, lengths = feats.tensors(device)
    n = len(feats)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)

    def lr_at(step: int) -> float:
        if step < settings.warmup:
            return (step + 1) / settings.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - settings.warmup) / max(1, settings.steps - settings.warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    gen = torch.Generator().manual_seed(settings.seed)
    losses: list[float] = []
    for _ in tqdm(range(settings.steps), desc=desc, leave=False, disable=settings.steps < 50):
        idx = torch.randint(0, n, (min(settings.batch_size, n),), generator=gen).to(device)
        batch = tok[idx]  # (B, L)
        length = int((batch != ids.pad).sum(dim=1).max())
        batch = batch[:, :length]  # (B, L) -> (B, t)
        memory, pad = model.encode(vector[idx], clips[idx], lengths[idx])
        states = model.decode_states(batch[:, :-1], memory, pad)  # (B, t-1, d)
        gold = batch[:, 1:]  # (B, t-1)
        keep = gold != ids.pad
        logits = model.local_logits(states[keep])  # (n_tokens, T'): the output vocabulary, real positions only
        loss = loss_fn(logits.float(), model.target_index(gold[keep]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.item()))
    model.eval()
    return losses


def _step_log_probs(model: CaptionModel, seq: torch.Tensor, memory: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """(B, T) log-probabilities of the next token after ``seq`` (B, t), never a banned id."""
    logp = torch.log_softmax(model(seq, memory, pad)[:, -1].float(), dim=-1)  # (B, T)
    if model.ids.banned:
        logp[:, list(model.ids.banned)] = float("-inf")
    return logp


@torch.inference_mode()
def greedy_decode(
    model: CaptionModel, feats: CaptionFeatures, max_tokens: int, batch_size: int = 256
) -> tuple[list[list[int]], np.ndarray]:
    """Arg-max captions: ``(WordPiece ids per segment without start/end, float64 (N,) their
    summed log-probability including the end token)``."""
    model.eval()
    device = next(model.parameters()).device
    ids = model.ids
    out: list[list[int]] = []
    scores = np.zeros(len(feats), dtype=np.float64)
    for s in range(0, len(feats), batch_size):
        memory, pad = model.encode(*feats.take(slice(s, s + batch_size)).tensors(device))
        b = memory.shape[0]
        seq = torch.full((b, 1), ids.bos, dtype=torch.long, device=device)
        done = torch.zeros(b, dtype=torch.bool, device=device)
        total = torch.zeros(b, dtype=torch.float64, device=device)
        for step in range(max_tokens + 1):
            logp = _step_log_probs(model, seq, memory, pad)  # (B, T)
            if step == max_tokens:  # the length limit: end here
                nxt = torch.full((b,), ids.eos, dtype=torch.long, device=device)
            else:
                nxt = logp.argmax(dim=-1)  # (B,)
            total += torch.where(done, 0.0, logp.gather(1, nxt[:, None])[:, 0].double())
            nxt = torch.where(done, torch.full_like(nxt, ids.pad), nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            done |= nxt == ids.eos
            if bool(done.all()):
                break
        out += [_strip(row, ids) for row in seq[:, 1:].tolist()]
        scores[s : s + b] = total.cpu().numpy()
    return out, scores


@torch.inference_mode()
def beam_decode(
    model: CaptionModel,
    feats: CaptionFeatures,
    max_tokens: int,
    beam: int = 4,
    length_penalty: float = 0.7,
    batch_size: int = 64,
) -> tuple[list[list[int]], np.ndarray]:
    """Beam-search captions: ``(WordPiece ids per segment, float64 (N,) summed log-probability)``.

    Every segment keeps ``beam`` hypotheses; a finished one (end token emitted, forced at
    ``max_tokens`` pieces) keeps its score. The result is the hypothesis with the best
    ``sum log p / n ** length_penalty`` (n: its tokens with the end token; 0: the raw sum).
    """
    model.eval()
    device = next(model.parameters()).device
    ids = model.ids
    k = max(int(beam), 1)
    out: list[list[int]] = []
    best_scores = np.zeros(len(feats), dtype=np.float64)
    for s in range(0, len(feats), batch_size):
        memory, pad = model.encode(*feats.take(slice(s, s + batch_size)).tensors(device))
        b = memory.shape[0]
        memory = memory.repeat_interleave(k, dim=0)  # (B, M, d) -> (B*K, M, d)
        pad = pad.repeat_interleave(k, dim=0)  # (B*K, M)
        seq = torch.full((b * k, 1), ids.bos, dtype=torch.long, device=device)
        scores = torch.full((b, k), float("-inf"), device=device)
        scores[:, 0] = 0.0
        done = torch.zeros(b * k, dtype=torch.bool, device=device)
        lengths = torch.zeros(b * k, device=device)
        for step in range(max_tokens + 1):
            logp = _step_log_probs(model, seq, memory, pad)  # (B*K, T)
            v = logp.shape[-1]
            if step == max_tokens:  # the length limit: only the end token
                forced = torch.full_like(logp, float("-inf"))
                forced[:, ids.eos] = logp[:, ids.eos]
                logp = forced
            # A finished hypothesis is extended by padding only, at no cost; a live one never by padding.
            frozen = torch.full_like(logp, float("-inf"))
            frozen[:, ids.pad] = 0.0
            logp[:, ids.pad] = float("-inf")
            logp = torch.where(done[:, None], frozen, logp)
            cand = (scores.reshape(b * k, 1) + logp).reshape(b, k * v)  # (B*K, T) -> (B, K*T)
            top_scores, top_idx = cand.topk(k, dim=-1)  # (B, K)
            src = top_idx // v  # (B, K) the hypothesis each extends
            tok = top_idx % v  # (B, K)
            flat_src = (src + torch.arange(b, device=device)[:, None] * k).reshape(-1)  # (B*K,)
            seq = torch.cat([seq[flat_src], tok.reshape(-1, 1)], dim=1)  # (B*K, t+1)
            prev_done = done[flat_src]
            lengths = lengths[flat_src] + (~prev_done).float()
            done = prev_done | (tok.reshape(-1) == ids.eos)
            scores = top_scores
            if bool(done.all()):
                break
        raw = scores.reshape(-1)  # (B*K,)
        norm = raw / lengths.clamp(min=1) ** length_penalty
        norm = torch.where(torch.isfinite(norm), norm, torch.full_like(norm, -1e30))
        best = norm.reshape(b, k).argmax(dim=-1)  # (B,)
        for i in range(b):
            j = i * k + int(best[i])
            out.append(_strip(seq[j, 1:].tolist(), ids))
            best_scores[s + i] = float(raw[j])
    return out, best_scores


@torch.inference_mode()
def caption_log_probs(
    model: CaptionModel, feats: CaptionFeatures, captions: Sequence[Sequence[int]], batch_size: int = 256
) -> np.ndarray:
    """float64 (N,) ``log P(caption + end token | segment)`` of given WordPiece captions."""
    model.eval()
    device = next(model.parameters()).device
    ids = model.ids
    tok = token_matrix(captions, max(len(c) for c in captions) + 2, ids).to(device)  # (N, L)
    out = np.zeros(len(feats), dtype=np.float64)
    for s in range(0, len(feats), batch_size):
        memory, pad = model.encode(*feats.take(slice(s, s + batch_size)).tensors(device))
        batch = tok[s : s + batch_size]
        logp = torch.log_softmax(model(batch[:, :-1], memory, pad).float(), dim=-1)  # (B, L-1, T)
        gold = batch[:, 1:]
        lp = logp.gather(2, gold[..., None])[..., 0].masked_fill(gold == ids.pad, 0.0)  # (B, L-1)
        out[s : s + len(batch)] = lp.sum(dim=1).double().cpu().numpy()
    return out


def _strip(row: list[int], ids: SpecialIds) -> list[int]:
    """Ids up to (not including) the first end token, without padding."""
    res = []
    for t in row:
        if t == ids.eos:
            break
        if t != ids.pad:
            res.append(int(t))
    return res


__all__ = [
    "CaptionFeatures",
    "CaptionModel",
    "SpecialIds",
    "TrainSettings",
    "beam_decode",
    "caption_log_probs",
    "greedy_decode",
    "token_matrix",
    "train_caption_model",
]
