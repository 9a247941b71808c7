"""``VideoBertProcessor``: from a video (file, frames or clip features) and text to model inputs.

It holds what a checkpoint alone cannot turn a new video into input with: the joint tokenizer, the
visual vocabulary (the hierarchical k-means tree and its assignment method) and the feature spec
(backbone name and weights, clip grid, input size, as ``WORK/features/<backbone>/info.json``
recorded them), and runs the pipeline's own steps: decode on the clip grid, the backbone, the
float16 storage of ``extract``, the vocabulary's assignment. A video file therefore gets the same
visual words as ``videobert extract`` + ``fit-vocab`` gave it.

Saved as (``save_pretrained`` / ``from_pretrained``, the transformers convention)::

    DIR/processor_config.json        {"processor_class": "VideoBertProcessor", ...}
    DIR/tokenizer.json, tokenizer_config.json, videobert_tokenizer.json   the joint tokenizer
    DIR/visual_vocab/                config.json + centroids.safetensors
    DIR/feature_spec.json            backbone, weights, clip grid, input size (+ the features' info)
    DIR/feature_weights.safetensors  the backbone's weights when they came from a local file
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from videobert.errors import InputFileError, VideoBertError
from videobert.utils.io import atomic_write_json, read_json

log = logging.getLogger(__name__)

PROCESSOR_CONFIG = "processor_config.json"
FEATURE_SPEC = "feature_spec.json"
VOCAB_DIR = "visual_vocab"
WEIGHTS_FILE = "feature_weights.safetensors"


def feature_spec_from_info(info: dict[str, Any]) -> dict[str, Any]:
    """The processor's feature spec from a features ``info.json`` (what ``extract`` or
    ``import-features`` wrote). An imported set has no backbone to run (``imported``: true,
    ``clips`` None, its ``step`` / ``window`` in seconds): such a processor takes clip features
    or visual words, not videos."""
    if info.get("imported"):
        return {
            "backbone": info["backbone"], "imported": True, "weights": None, "random_weights": False,
            "weights_file": None, "input_size": None, "frames_per_clip": None, "clips": None,
            "step": info.get("step"), "window": info.get("window"), "dim": int(info["dim"]), "info": info,
        }  # fmt: skip
    source = str(info.get("weights") or "")
    spec: dict[str, Any] = {
        "backbone": info["backbone"],
        "weights": None,
        "random_weights": source.startswith("random"),
        "weights_file": source[len("file:") :] if source.startswith("file:") else None,
        "input_size": list(info["crop_size"]) if info.get("crop_size") else None,
        "frames_per_clip": info.get("frames_per_clip"),
        "clips": {
            "fps": float(info["fps"]),
            "frames": int(info["clip_frames"]),
            "stride": int(info["stride_frames"]) if info.get("stride_frames") else None,
            "partial": info.get("partial") or "pad",
        },
        "dim": int(info["dim"]),
        "info": info,
    }
    if source.startswith("torchvision:"):
        spec["weights"] = source.rsplit(".", 1)[-1]  # the enum member, e.g. KINETICS400_V1
    return spec


class VideoBertProcessor:
    """Tokenizer + visual vocabulary + feature spec; see the module docstring.

    Args:
        tokenizer: a :class:`videobert.text.tokenizer.VideoBertTokenizer`.
        vocab: the fitted :class:`videobert.vocab.hkmeans.HierarchicalKMeans`.
        vocab_config: its ``config.json`` (``method``: ``tree`` or ``flat`` assignment).
        feature_spec: see :func:`feature_spec_from_info`.
        root: the directory the processor was loaded from (a local weights file lives there).
    """

    def __init__(
        self,
        tokenizer: Any,
        vocab: Any,
        vocab_config: dict[str, Any],
        feature_spec: dict[str, Any],
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        if vocab.n_words != tokenizer.num_visual_words:
            raise VideoBertError(
                f"the visual vocabulary has {vocab.n_words} words but the tokenizer {tokenizer.num_visual_words}"
            )
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.vocab_config = dict(vocab_config)
        self.feature_spec = dict(feature_spec)
        self.root = None if root is None else Path(root)
        self._backbone: Any = None

    # ------------------------------------------------------------------ construction / IO
    @classmethod
    def from_work(cls, work: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None) -> VideoBertProcessor:
        """The processor of a work directory: the checkpoint's tokenizer, ``vocab/`` and the
        features' ``info.json`` of the vocabulary's backbone."""
        from videobert.text.tokenizer import VideoBertTokenizer
        from videobert.vocab.assign import load_vocab
        from videobert.workdir import WorkDir

        wd = WorkDir.of(work).require()
        tokenizer = VideoBertTokenizer.from_pretrained(wd.resolve_checkpoint(checkpoint))
        vocab, vocab_cfg = load_vocab(wd.root)
        backbone = vocab_cfg.get("backbone") or wd.backbones()[0]
        info_path = wd.features(backbone) / "info.json"
        if not info_path.is_file():
            raise InputFileError(info_path, "no feature settings (run `videobert extract` first)")
        return cls(tokenizer, vocab, vocab_cfg, feature_spec_from_info(read_json(info_path)))

    def save_pretrained(self, path: str | os.PathLike[str]) -> Path:
        """Write the processor into directory ``path`` (see the module docstring); returns it."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(path)
        self.vocab.save(path / VOCAB_DIR, extra={k: v for k, v in self.vocab_config.items() if k not in self.vocab.config()})
        spec = dict(self.feature_spec)
        weights_file = self._weights_file()
        if weights_file is not None:
            if weights_file.resolve() != (path / WEIGHTS_FILE).resolve():
                _copy_weights(weights_file, path / WEIGHTS_FILE)
            spec["weights_file"] = WEIGHTS_FILE
        atomic_write_json(path / FEATURE_SPEC, spec)
        atomic_write_json(path / PROCESSOR_CONFIG, {"processor_class": type(self).__name__, "feature_spec": FEATURE_SPEC,
                                                     "visual_vocab": VOCAB_DIR})  # fmt: skip
        return path

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> VideoBertProcessor:
        """Load what :meth:`save_pretrained` wrote."""
        from videobert.text.tokenizer import VideoBertTokenizer
        from videobert.vocab.hkmeans import HierarchicalKMeans

        path = Path(path)
        if not (path / PROCESSOR_CONFIG).is_file():
            raise InputFileError(path / PROCESSOR_CONFIG, "not a VideoBERT processor directory")
        vocab = HierarchicalKMeans.load(path / VOCAB_DIR)
        return cls(
            VideoBertTokenizer.from_pretrained(path),
            vocab,
            read_json(path / VOCAB_DIR / "config.json"),
            read_json(path / FEATURE_SPEC),
            root=path,
        )

    def _weights_file(self) -> Path | None:
        name = self.feature_spec.get("weights_file")
        if not name:
            return None
        p = Path(name)
        return p if p.is_absolute() or self.root is None else self.root / p

    # ------------------------------------------------------------------ video -> visual words
    def _check_extractable(self) -> None:
        """A processor of imported features cannot make features for a new video: say so."""
        spec = self.feature_spec
        if spec.get("imported"):
            raise VideoBertError(
                f"the clip features {spec['backbone']!r} were imported (videobert import-features), not extracted: "
                f"this processor has no backbone to turn a video into them; give features=(n_clips, {spec['dim']}) "
                "clip features made as the imported ones were, or visual_words="
            )

    @property
    def clip_spec(self) -> Any:
        """The clip grid (``videobert.video.clips.ClipSpec``)."""
        from videobert.video.clips import ClipSpec

        self._check_extractable()
        return ClipSpec(**self.feature_spec["clips"])

    def describe_features(self) -> str:
        """One line on the clip features (the model card's): backbone, D, weights and clip grid."""
        spec = self.feature_spec
        head = f"`{spec['backbone']}` ({spec['dim']}-d)"
        if spec.get("imported"):
            return f"{head}, imported (one row per {spec.get('step'):g} s, {spec.get('window'):g} s windows)"
        return (f"{head}, weights `{spec.get('info', {}).get('weights', spec.get('weights'))}`, clips of "
                f"{spec['clips']['frames']} frames at {spec['clips']['fps']:g} fps")  # fmt: skip

    def backbone(self, device: str | None = None) -> Any:
        """The feature backbone of the spec (built once; its weights as the spec names them)."""
        self._check_extractable()
        if self._backbone is None:
            from videobert.features.registry import build_backbone

            spec = self.feature_spec
            weights = self._weights_file() or spec.get("weights")
            size = spec.get("input_size")
            self._backbone = build_backbone(
                spec["backbone"],
                weights=None if spec.get("random_weights") else weights,
                random_weights=bool(spec.get("random_weights")),
                device=device,
                crop_size=tuple(size) if size else None,
                frames_per_clip=spec.get("frames_per_clip"),
            )
        return self._backbone

    def clip_features(self, video: str | os.PathLike[str], batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """``(float16 (n_clips, D) features, float64 (n_clips, 2) clip [start, end) s)`` of a video
        file, as ``videobert extract`` computes and stores them."""
        from videobert.video.clips import iter_clips

        bb = self.backbone()
        feats, times, frames = [], [], []
        for clip in iter_clips(video, self.clip_spec, size=bb.decode_size):
            frames.append(clip.frames)
            times.append((clip.start, clip.end))
            if len(frames) == batch_size:
                feats.append(bb.embed(np.stack(frames)))
                frames = []
        if frames:
            feats.append(bb.embed(np.stack(frames)))
        if not feats:
            raise InputFileError(video, "no complete clip (video too short)")
        return np.concatenate(feats).astype(np.float16), np.asarray(times, dtype=np.float64).reshape(-1, 2)

    def frame_features(self, frames: np.ndarray, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`clip_features` for decoded frames (N, H, W, 3) uint8 RGB taken at the clip
        grid's rate (``clip_spec.fps``); frames are resized to the backbone's decode size."""
        import torch
        import torch.nn.functional as F

        from videobert.video.clips import clip_starts
        from videobert.video.decode import target_size

        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise VideoBertError(f"frames must be uint8 (N, H, W, 3) RGB, got {frames.dtype} {frames.shape}")
        bb = self.backbone()
        h, w = target_size(frames.shape[2], frames.shape[1], bb.decode_size)
        if (h, w) != frames.shape[1:3]:
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # (N, H, W, 3) -> (N, 3, H, W)
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
            frames = x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()  # (N, 3, h, w) -> (N, h, w, 3)
        spec = self.clip_spec
        clips, times = [], []
        for start, real in clip_starts(len(frames), spec):
            clip = frames[start : start + real]
            if real < spec.frames:
                clip = np.concatenate([clip, np.repeat(clip[-1:], spec.frames - real, axis=0)])
            clips.append(clip)
            times.append((start / spec.fps, (start + real) / spec.fps))
        if not clips:
            raise VideoBertError("no clip in the frames")
        feats = [bb.embed(np.stack(clips[i : i + batch_size])) for i in range(0, len(clips), batch_size)]
        return np.concatenate(feats).astype(np.float16), np.asarray(times, dtype=np.float64)

    def assign(self, features: np.ndarray) -> np.ndarray:
        """int32 (n,) visual words of clip features (n, D), by the vocabulary's own method."""
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.vocab.dim:
            raise VideoBertError(f"features must be (n_clips, {self.vocab.dim}), got shape {features.shape}")
        return np.asarray(self.vocab.assign(features, method=self.vocab_config.get("method", "tree")), dtype=np.int32)

    def visual_words(
        self,
        video: str | os.PathLike[str] | None = None,
        frames: np.ndarray | None = None,
        features: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(int32 (n_clips,) visual words, float64 (n_clips, 2) clip times or None)`` of one of:
        a video file, decoded frames (see :meth:`frame_features`), or clip features (n, D)."""
        given = [x is not None for x in (video, frames, features)]
        if sum(given) != 1:
            raise VideoBertError("give exactly one of video, frames or features")
        if features is not None:
            return self.assign(features), None
        feats, times = self.clip_features(video) if video is not None else self.frame_features(frames)
        return self.assign(feats), times

    # ------------------------------------------------------------------ model inputs
    def __call__(
        self,
        text: str | None = None,
        video: str | os.PathLike[str] | None = None,
        frames: np.ndarray | None = None,
        features: np.ndarray | None = None,
        visual_words: np.ndarray | None = None,
        max_length: int = 128,
    ) -> dict[str, Any]:
        """Model inputs (long tensors (1, L): ``input_ids``, ``token_type_ids``, ``attention_mask``)
        for text, a video (file, frames, features or its visual words), or both, laid out as
        ``[CLS] text [>] video [SEP]`` (visual words evenly subsampled to fit ``max_length``)."""
        if visual_words is None and any(x is not None for x in (video, frames, features)):
            visual_words = self.visual_words(video, frames, features)[0]
        return self.tokenizer.pad([self.tokenizer.encode_pair(text, visual_words, max_length, fit="subsample")])


def _copy_weights(src: Path, dst: Path) -> None:
    """A backbone state_dict file as safetensors at ``dst`` (a .pth is read weights-only)."""
    if src.suffix == ".safetensors":
        shutil.copyfile(src, dst)
        return
    from safetensors.torch import save_file

    from videobert.features.registry import load_state_dict_file

    save_file({k: v.contiguous() for k, v in load_state_dict_file(src).items()}, str(dst))


__all__ = ["VideoBertProcessor", "feature_spec_from_info"]
