"""``VideoBertForPreTraining``: transformers' ``BertModel`` over the joint text + visual vocabulary.

Heads (parameter names match ``BertForPreTraining``/``BertForMaskedLM`` so their checkpoints load
as they are):

* ``cls.predictions`` — BERT's masked-token head (transform, then a decoder tied to the word
  embeddings plus a bias) over the whole joint vocabulary. In training it runs only at labelled
  positions (gather first, then transform + decoder), which is where most of a stock
  ``BertForPreTraining``'s compute goes for a large vocabulary.
* ``cls.alignment`` — a 2-way linear layer on the pooled ``[CLS]`` state: 1 = the text and the video
  are aligned, 0 = they are not (linguistic-visual alignment).

Batches are padded (one sequence per row) or packed (``videobert.data.packing``: several examples
per row with ``example_ids`` / ``example_starts``): attention is then kept within each example by
a block-diagonal mask, and the alignment head pools and scores each example.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertModel, BertPreTrainedModel
from transformers.models.bert.modeling_bert import BertLMPredictionHead
from transformers.utils import ModelOutput

from videobert.model.configuration import VideoBertConfig

IGNORE_INDEX = -100


@dataclass
class VideoBertPreTrainingOutput(ModelOutput):
    """What ``VideoBertForPreTraining.forward`` returns.

    Shapes: B sequences (examples) in rows of length L (B rows when padded, R when packed), N
    labelled positions in the batch, V_all = ``config.vocab_size``.

    Attributes:
        loss: () weighted sum ``text_mlm_weight * text_mlm_loss + video_mlm_weight * video_mlm_loss
            + alignment_weight * alignment_loss`` (only when labels are given).
        text_mlm_loss: () mean cross-entropy over labelled positions whose label is a text id
            (0 when there is none, still attached to the graph).
        video_mlm_loss: () the same over labelled positions whose label is a visual word.
        alignment_loss: () mean cross-entropy of ``alignment_logits`` where ``alignment_labels != -100``.
        mlm_logits: (N, V_all) logits at the labelled positions, in row-major (b, l) order.
        mlm_labels: (N,) the labels at those positions.
        mlm_positions: (N,) flat indices ``b * L + l`` of those positions.
        alignment_logits: (B, 2) logits of [not aligned, aligned].
        prediction_logits: (B, L, V_all) logits at every position (only with ``return_all_logits``).
        last_hidden_state: (B, L, H) encoder output.
        pooled_output: (B, H) pooled ``[CLS]`` state.
        num_text_labels, num_video_labels, num_alignment_labels: () long, counts behind each mean.
    """

    loss: torch.Tensor | None = None
    text_mlm_loss: torch.Tensor | None = None
    video_mlm_loss: torch.Tensor | None = None
    alignment_loss: torch.Tensor | None = None
    mlm_logits: torch.Tensor | None = None
    mlm_labels: torch.Tensor | None = None
    mlm_positions: torch.Tensor | None = None
    alignment_logits: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    pooled_output: torch.Tensor | None = None
    num_text_labels: torch.Tensor | None = None
    num_video_labels: torch.Tensor | None = None
    num_alignment_labels: torch.Tensor | None = None


class VideoBertPreTrainingHeads(nn.Module):
    """BERT's MLM head (``predictions``) plus the 2-way alignment head (``alignment``)."""

    def __init__(self, config: VideoBertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.alignment = nn.Linear(config.hidden_size, 2)


def _selected_mean(values: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` (N,) where ``select`` (N,) bool; 0 (attached to the graph) when none is.

    Computed as a masked sum over a clamped count: no data-dependent shape, no host sync.
    """
    return (values * select).sum() / select.sum().clamp(min=1)


def block_attention_mask(example_ids: torch.Tensor, dtype: torch.dtype, attn_implementation: str | None) -> torch.Tensor:
    """The (R, 1, L, L) mask that keeps attention within each packed example.

    Args:
        example_ids: (R, L) long, the example of each token, -1 on padding (padding attends to
            the padding of its row, so no query row is empty; no real token attends to it).
        dtype: the attention scores' dtype (eager attention adds the mask to them).
        attn_implementation: the config's ``_attn_implementation``: ``"eager"`` gets an additive
            float mask (0 / dtype min), anything else (SDPA) a bool mask (True = attend).
    """
    allowed = example_ids[:, None, :, None] == example_ids[:, None, None, :]  # (R, 1, L, L)
    if attn_implementation == "eager":
        return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
            ~allowed, torch.finfo(dtype).min
        )
    return allowed


def pool_examples(
    sequence_output: torch.Tensor,
    example_ids: torch.Tensor,
    example_starts: torch.Tensor,
    pooler: nn.Module | None,
    mode: str,
) -> torch.Tensor:
    """The (E, H) state the alignment head reads for each of the E examples of a packed batch.

    Args:
        sequence_output: (R, L, H) final states. example_ids: (R, L) long, -1 on padding.
        example_starts: (E,) long flat index ``r * L + l`` of each example's ``[CLS]``.
        mode: ``"cls"`` each example's ``[CLS]`` state, ``"mean"`` the mean of its states; then
            the pooler (dense + tanh) as in :func:`alignment_pool`.
    """
    rows, length, hidden = sequence_output.shape
    flat = sequence_output.reshape(rows * length, hidden)  # (R*L, H)
    if mode == "cls":
        state = flat.index_select(0, example_starts)  # (E, H)
    elif mode == "mean":
        n_examples = example_starts.shape[0]
        ids = torch.arange(n_examples, device=example_ids.device)
        member = (example_ids.reshape(1, -1) == ids[:, None]).to(flat.dtype)  # (E, R*L) one-hot
        state = (member @ flat) / member.sum(1, keepdim=True).clamp(min=1.0)  # (E, H)
    else:
        raise ValueError(f"alignment_pooling must be 'cls' or 'mean', got {mode!r}")
    if pooler is None:
        return state
    return pooler.activation(pooler.dense(state))  # (E, H)


def alignment_pool(
    sequence_output: torch.Tensor, attention_mask: torch.Tensor | None, pooler: nn.Module | None, mode: str
) -> torch.Tensor:
    """The (B, H) state the alignment head reads, from final states (B, L, H) and a (B, L) mask.

    ``mode`` ``"cls"``: BERT's pooler (dense + tanh) on the ``[CLS]`` state; ``"mean"``: the same
    pooler on the mean of the non-padding states. Without a pooler, the raw ``[CLS]`` / mean state.
    """
    if mode == "cls":
        state = sequence_output[:, 0]  # (B, H)
    elif mode == "mean":
        mask = attention_mask if attention_mask is not None else torch.ones_like(sequence_output[..., 0])
        mask = mask.unsqueeze(-1).to(sequence_output.dtype)  # (B, L) -> (B, L, 1)
        state = (sequence_output * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
    else:
        raise ValueError(f"alignment_pooling must be 'cls' or 'mean', got {mode!r}")
    if pooler is None:
        return state
    return pooler.activation(pooler.dense(state))  # (B, H)


class VideoBertForPreTraining(BertPreTrainedModel):
    """VideoBERT: BERT over ``[CLS] text [>] video [SEP]`` with masked-token and alignment heads."""

    config_class = VideoBertConfig
    config: VideoBertConfig
    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: VideoBertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = VideoBertPreTrainingHeads(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        alignment_labels: torch.Tensor | None = None,
        regime: torch.Tensor | None = None,
        return_all_logits: bool = False,
        inputs_embeds: torch.Tensor | None = None,
        example_ids: torch.Tensor | None = None,
        example_starts: torch.Tensor | None = None,
        mlm_positions: torch.Tensor | None = None,
        **kwargs,
    ) -> VideoBertPreTrainingOutput:
        """Run the encoder and the heads on a batch (the dict of docs/ARCHITECTURE.md).

        A batch is padded (B sequences of L) or packed (``videobert.data.packing``: R rows of L
        holding B examples, with ``example_ids`` / ``example_starts``); every per-sequence output
        (alignment logits, pooled states) is then per example.

        Args:
            input_ids: (R, L) long joint ids. attention_mask: (R, L) 1 real / 0 pad.
            token_type_ids: (R, L) 0 text side, 1 video side.
            position_ids: (R, L) long; packed batches restart them at each example.
            labels: (R, L) long, the original id at predicted positions, -100 elsewhere.
            alignment_labels: (B,) long, 1 aligned, 0 misaligned, -100 no target.
            regime: (B,) long (0 text, 1 video, 2 text-video); accepted for the batch dict, unused.
            return_all_logits: also return ``prediction_logits`` (R, L, V_all) at every position.
            example_ids: (R, L) long, a packed batch's example of each token (-1 padding): attention
                stays within each example. example_starts: (B,) flat index of each example's ``[CLS]``.
            mlm_positions: (N,) flat indices of the labelled positions (as the batch builder
                computed them; None: found here, a host sync on CUDA).
        """
        del regime
        packed = example_ids is not None
        if packed:
            if example_starts is None:
                raise ValueError("a packed batch (example_ids) needs example_starts")
            dtype = self.bert.embeddings.word_embeddings.weight.dtype
            if torch.is_autocast_enabled(example_ids.device.type):
                dtype = torch.get_autocast_dtype(example_ids.device.type)
            attention_mask = block_attention_mask(example_ids, dtype, self.config._attn_implementation)
        enc = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        sequence_output = enc.last_hidden_state  # (R, L, H)
        mode = self.config.alignment_pooling
        if packed:
            pooled_output = pool_examples(sequence_output, example_ids, example_starts, self.bert.pooler, mode)
        elif mode == "cls":
            pooled_output = enc.pooler_output  # (B, H)
        else:
            pooled_output = alignment_pool(sequence_output, attention_mask, self.bert.pooler, mode)
        bsz, seq_len, hidden = sequence_output.shape
        alignment_logits = self.cls.alignment(pooled_output)  # (B, 2)

        out = VideoBertPreTrainingOutput(
            alignment_logits=alignment_logits,
            last_hidden_state=sequence_output,
            pooled_output=pooled_output,
        )
        if return_all_logits:
            out.prediction_logits = self.cls.predictions(sequence_output)  # (R, L, V_all)

        if labels is not None:
            flat_labels = labels.reshape(-1)  # (R, L) -> (R*L,)
            positions = mlm_positions
            if positions is None:
                positions = (flat_labels != IGNORE_INDEX).nonzero(as_tuple=True)[0]  # (N,)
            flat_hidden = sequence_output.reshape(bsz * seq_len, hidden)  # (R, L, H) -> (R*L, H)
            picked = flat_hidden.index_select(0, positions)  # (N, H)
            mlm_logits = self.cls.predictions(picked)  # (N, V_all)
            mlm_labels = flat_labels.index_select(0, positions)  # (N,)
            is_video = mlm_labels >= self.config.visual_offset  # (N,)
            token_ce = F.cross_entropy(mlm_logits.float(), mlm_labels, reduction="none")  # (N,)
            out.text_mlm_loss = _selected_mean(token_ce, ~is_video)
            out.video_mlm_loss = _selected_mean(token_ce, is_video)
            out.mlm_logits, out.mlm_labels, out.mlm_positions = mlm_logits, mlm_labels, positions
            out.num_text_labels = (~is_video).sum()
            out.num_video_labels = is_video.sum()
            if alignment_labels is not None:
                has_align = alignment_labels != IGNORE_INDEX  # (B,)
                align_ce = F.cross_entropy(
                    alignment_logits.float(), alignment_labels, ignore_index=IGNORE_INDEX, reduction="none"
                )  # (B,), 0 where there is no target
                out.alignment_loss = _selected_mean(align_ce, has_align)
                out.num_alignment_labels = has_align.sum()
            else:
                out.alignment_loss = alignment_logits.sum() * 0.0
                out.num_alignment_labels = torch.zeros((), dtype=torch.long, device=labels.device)
            cfg = self.config
            out.loss = (
                cfg.text_mlm_weight * out.text_mlm_loss
                + cfg.video_mlm_weight * out.video_mlm_loss
                + cfg.alignment_weight * out.alignment_loss
            )
        return out


class VideoBertModel(BertModel):
    """The VideoBERT encoder alone (what ``AutoModel`` loads from a VideoBERT checkpoint): BERT
    over the joint vocabulary, returning ``last_hidden_state`` (B, L, H) and ``pooler_output``
    (B, H); the pretraining heads of :class:`VideoBertForPreTraining` are left out."""

    config_class = VideoBertConfig


__all__ = [
    "IGNORE_INDEX",
    "VideoBertForPreTraining",
    "VideoBertModel",
    "VideoBertPreTrainingOutput",
    "alignment_pool",
    "block_attention_mask",
    "pool_examples",
]
