"""``VideoBertConfig``: a ``BertConfig`` whose vocabulary is WordPiece + ``[>]`` + visual words.

The joint id space (docs/ARCHITECTURE.md): ``[0, T)`` the text checkpoint's WordPiece ids,
``T`` the video separator ``[>]``, ``[T+1, T+1+V)`` the ``V`` visual words. ``vocab_size`` is
always derived as ``T + 1 + V``.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import BertConfig


@strict
class VideoBertConfig(BertConfig):
    """BERT config plus the joint-vocabulary layout and the pretraining loss weights.

    Attributes:
        text_vocab_size: ``T``, the size of the WordPiece vocabulary of the text checkpoint.
        num_visual_words: ``V``, the number of visual words (leaves of the hierarchical k-means).
        cls_token_id, sep_token_id, mask_token_id: BERT's own special ids (pad is ``pad_token_id``).
        text_mlm_weight, video_mlm_weight, alignment_weight: weights of the three losses in ``loss``.
        alignment_pooling: what the alignment head (through BERT's pooler) reads: ``"cls"`` the
            ``[CLS]`` state (the paper), or ``"mean"`` the attention-masked mean of all final
            states — better when starting from a sentence-embedding checkpoint such as the packaged
            MiniLM, whose ``[CLS]`` state is nearly constant across inputs (it was trained with mean
            pooling).
    """

    model_type = "videobert"

    text_vocab_size: int = 30522
    num_visual_words: int = 0
    cls_token_id: int = 101
    sep_token_id: int = 102
    mask_token_id: int = 103
    text_mlm_weight: float | int = 1.0
    video_mlm_weight: float | int = 1.0
    alignment_weight: float | int = 1.0
    alignment_pooling: str = "cls"

    def __post_init__(self, **kwargs):
        self.vocab_size = self.text_vocab_size + 1 + self.num_visual_words
        super().__post_init__(**kwargs)

    @property
    def video_sep_token_id(self) -> int:
        """Id of ``[>]`` (= ``T``)."""
        return self.text_vocab_size

    @property
    def visual_offset(self) -> int:
        """Joint id of visual word 0 (= ``T + 1``)."""
        return self.text_vocab_size + 1

    def is_visual(self, ids):  # noqa: ANN001, ANN201 - works on ints and tensors alike
        """True where a joint id is a visual word (``ids >= T + 1``)."""
        return ids >= self.visual_offset
