"""What a pretrained VideoBERT computes for the tasks, beside the model itself.

Every sequence is laid out by the tokenizer (``VideoBertTokenizer.encode_pair`` and ``pad``); these
functions run the model on such encodings in batches (on the model's device, under
``torch.inference_mode``) and read its heads:

* :func:`text_logits` / :func:`visual_logits`: the masked-token head restricted to the WordPiece or
  the visual vocabulary, without the full (N, T + 1 + V) product;
* :func:`alignment_log_probs`: log P(aligned) of (text, video) sequences from the alignment head;
* :func:`next_visual_word_logits`: the visual word at a trailing ``[MASK]`` of a video-only sequence;
* :func:`fill_visual_masks`: visual words generated left to right from text (masked filling);
* :func:`lower_forward` and :class:`TopStack`: the truncated forward that fine-tuning uses (frozen
  lower layers once, trainable copies of the top layers many times).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

Encoding = dict[str, list[int]]
Batch = dict[str, torch.Tensor]


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameterless module)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def to_device(batch: Batch, device: torch.device) -> Batch:
    """Every tensor of ``batch`` on ``device``."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def batched(
    tokenizer: Any,
    encodings: Sequence[Encoding],
    batch_size: int,
    sort_by_length: bool = False,
    desc: str | None = None,
    device: torch.device | None = None,
) -> Iterator[tuple[np.ndarray, Batch]]:
    """``(indices (b,), padded batch)`` over ``encodings`` in batches of ``batch_size``.

    Args:
        sort_by_length: group similar lengths (less padding); ``indices`` say which encodings a
            batch holds, so results can be put back in order.
        desc: a tqdm label (a bar is shown for four batches or more); None: no bar.
        device: where the batch tensors go (default: stay on the CPU).
    """
    n = len(encodings)
    order = (
        np.argsort([len(e["input_ids"]) for e in encodings], kind="stable")
        if sort_by_length
        else np.arange(n)
    )
    starts = range(0, n, max(1, batch_size))
    for s in tqdm(starts, desc=desc, disable=desc is None or len(starts) < 4, leave=False):
        idx = order[s : s + batch_size]
        batch = tokenizer.pad([encodings[i] for i in idx])
        yield idx, (to_device(batch, device) if device is not None else batch)


def _head_bias(head: Any) -> torch.Tensor:
    return head.bias if getattr(head, "bias", None) is not None else head.decoder.bias


def visual_logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """(N, V) masked-token logits of the vocab-local visual words from (N, H) final hidden states
    (the joint head's rows ``[T+1, T+1+V)``)."""
    head = model.cls.predictions
    voff = int(model.config.visual_offset)
    h = head.transform(hidden)  # (N, H)
    return h @ head.decoder.weight[voff:].T + _head_bias(head)[voff:]  # (N, V)


def text_logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """(N, T) masked-token logits of the WordPiece ids from (N, H) final hidden states."""
    head = model.cls.predictions
    t = int(model.config.text_vocab_size)
    h = head.transform(hidden)  # (N, H)
    return h @ head.decoder.weight[:t].T + _head_bias(head)[:t]  # (N, T)


@torch.inference_mode()
def alignment_log_probs(
    model: Any,
    tokenizer: Any,
    encodings: Sequence[Encoding],
    batch_size: int = 128,
    desc: str | None = None,
) -> np.ndarray:
    """float64 (N,) ``log P(aligned)`` of each encoded (text, video) sequence: the log-softmax of
    the alignment head's (B, 2) logits at index 1."""
    model.eval()
    out = np.zeros(len(encodings), dtype=np.float64)
    for idx, batch in batched(tokenizer, encodings, batch_size, True, desc, model_device(model)):
        logits = model(**batch).alignment_logits.float()  # (B, 2)
        out[idx] = torch.log_softmax(logits, dim=-1)[:, 1].double().cpu().numpy()
    return out


@torch.inference_mode()
def next_visual_word_logits(
    model: Any,
    tokenizer: Any,
    contexts: Sequence[np.ndarray],
    batch_size: int = 128,
    desc: str | None = None,
) -> np.ndarray:
    """float32 (N, V) visual-word logits of the clip after each context, read at the trailing
    ``[MASK]`` of ``[CLS] [>] w_1 .. w_t [MASK] [SEP]`` (contexts: vocab-local int (t_i,), t_i >= 0)."""
    model.eval()
    max_length = int(model.config.max_position_embeddings)
    encodings = [tokenizer.encode_pair(None, np.asarray(c), max_length, video_masks=1) for c in contexts]
    out = np.zeros((len(contexts), int(model.config.num_visual_words)), dtype=np.float32)
    for idx, batch in batched(tokenizer, encodings, batch_size, True, desc, model_device(model)):
        hidden = model(**batch).last_hidden_state  # (B, L, H)
        mask_pos = batch["attention_mask"].sum(dim=1) - 2  # (B,): [MASK] sits just before the last [SEP]
        picked = hidden[torch.arange(len(idx), device=hidden.device), mask_pos]  # (B, H)
        out[idx] = visual_logits(model, picked).float().cpu().numpy()
    return out


@torch.inference_mode()
def fill_visual_masks(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    n_words: int | Sequence[int] = 8,
    temperature: float = 0.0,
    top_k: int = 0,
    seed: int = 0,
    batch_size: int = 128,
    max_text_tokens: int = 32,
) -> list[np.ndarray]:
    """Visual words (vocab-local int64 (n_i,)) generated for each sentence, left to right.

    The model reads ``[CLS] sentence [>] [MASK] x n [SEP]``; at step j the j-th ``[MASK]`` is
    replaced by the arg-max (``temperature == 0``) or a sample of the masked-token head restricted
    to the visual vocabulary, and the model runs again.

    Args:
        n_words: words per sentence (one int for all, or one per sentence).
        temperature: 0 for greedy decoding, > 0 to sample from softmax(logits / temperature).
        top_k: sample only from the ``top_k`` most likely words (0: no restriction).
        max_text_tokens: WordPiece tokens of each sentence kept.
    """
    model.eval()
    device = model_device(model)
    gen = torch.Generator().manual_seed(seed)
    voff = int(tokenizer.visual_offset)
    counts = [int(n_words)] * len(sentences) if isinstance(n_words, int) else [int(n) for n in n_words]
    max_length = int(model.config.max_position_embeddings)
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(sentences)
    encodings = [
        tokenizer.encode_pair(tokenizer.encode_text(s)[:max_text_tokens], [], max_length, video_masks=c)
        for s, c in zip(sentences, counts, strict=True)
    ]
    for chunk, batch in batched(tokenizer, encodings, batch_size, False, "text-to-video", device):
        input_ids = batch["input_ids"]  # (B, L)
        rows = torch.arange(len(chunk), device=device)
        first = torch.tensor([len(encodings[i]["input_ids"]) - 1 - counts[i] for i in chunk], device=device)
        cnt = torch.tensor([counts[i] for i in chunk], device=device)
        for j in range(int(cnt.max()) if len(chunk) else 0):
            active = cnt > j  # (B,)
            hidden = model(
                input_ids=input_ids, token_type_ids=batch["token_type_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state  # (B, L, H)
            pos = first + j  # (B,)
            logits = visual_logits(model, hidden[rows, pos.clamp(max=input_ids.shape[1] - 1)]).float()  # (B, V)
            if temperature > 0:
                logits = logits / temperature
                if top_k > 0:
                    kth = torch.topk(logits, min(top_k, logits.shape[1]), dim=-1).values[:, -1:]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = torch.softmax(logits, dim=-1).cpu()
                pick = torch.multinomial(probs, 1, generator=gen)[:, 0].to(device)  # (B,)
            else:
                pick = logits.argmax(dim=-1)  # (B,)
            input_ids[rows[active], pos[active]] = (pick + voff)[active]
        for b, i in enumerate(chunk):
            f = int(first[b])
            out[i] = (input_ids[b, f : f + counts[i]] - voff).cpu().numpy().astype(np.int64)
    return out


# ----------------------------------------------------------------------------------------------
# the truncated forward of fine-tuning
# ----------------------------------------------------------------------------------------------


def lower_forward(model: Any, batch: Batch, n_top: int) -> torch.Tensor:
    """float (B, L, H) hidden states entering the top ``n_top`` encoder layers (all layers below run).

    With ``n_top == 0`` this is the encoder output ``last_hidden_state``.
    """
    base = getattr(model, "base_model", model)
    enc = base(**batch, output_hidden_states=True, return_dict=True)
    n_layers = len(base.encoder.layer)
    return enc.hidden_states[n_layers - n_top]  # hidden_states[0] = embeddings, [i] = after layer i


class TopStack(torch.nn.Module):
    """The top ``n_top`` encoder layers and the pooler of a model, copied (trainable on their own).

    The pooled state follows the model's ``alignment_pooling`` (``[CLS]`` or masked mean).

    ``forward(hidden (B, L, H), attention_mask (B, L)) -> (last_hidden_state (B, L, H), pooled (B, H))``
    equals the full model's outputs when ``hidden`` comes from :func:`lower_forward` with the same
    ``n_top`` and the copy is unchanged. Fine-tuning a copy leaves the source model untouched, and
    the frozen lower layers run once per input instead of once per epoch.
    """

    def __init__(self, model: Any, n_top: int, copy_weights: bool = True) -> None:
        super().__init__()
        base = getattr(model, "base_model", model)
        layers = list(base.encoder.layer)
        top = layers[len(layers) - n_top :] if n_top > 0 else []
        self.config = base.config
        self.layers = torch.nn.ModuleList([copy.deepcopy(m) if copy_weights else m for m in top])
        pooler = base.pooler
        self.pooler = (copy.deepcopy(pooler) if copy_weights else pooler) if pooler is not None else None

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if len(self.layers):
            from transformers.masking_utils import create_bidirectional_mask

            mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
            for layer in self.layers:
                out = layer(hidden, mask)
                hidden = out[0] if isinstance(out, tuple) else out
        from videobert.model.modeling import alignment_pool

        mode = getattr(self.config, "alignment_pooling", "cls")
        pooled = alignment_pool(hidden, attention_mask, self.pooler, mode)  # (B, H)
        return hidden, pooled


__all__ = [
    "TopStack",
    "alignment_log_probs",
    "batched",
    "fill_visual_masks",
    "lower_forward",
    "model_device",
    "next_visual_word_logits",
    "text_logits",
    "to_device",
    "visual_logits",
]
