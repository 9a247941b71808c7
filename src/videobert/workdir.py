"""The work directory: every path a stage reads or writes, named in one place.

Layout (docs/ARCHITECTURE.md has the file contracts)::

    WORK/manifest.jsonl                    one record per (stage, video)
    WORK/features/<backbone>/              info.json, <id>.npy, clip_times/<id>.npy
    WORK/vocab/                            config.json, centroids.safetensors, stats.json
    WORK/tokens/                           <id>.npy, clip_times/<id>.npy
    WORK/gallery/                          words/*.png, index.html, thumbs.npz
    WORK/transcripts/                      <id>.json: videobert transcribe's Whisper-layout output
    WORK/caption_index/                    <name>.<hash>.json: byte ranges of a caption.json's videos
    WORK/corpus/                           train.parquet, val.parquet, tokenizer/, stats.json
    WORK/checkpoints/                      step-N/, final.txt
    WORK/logs/                             pretrain.jsonl, tb/
    WORK/reports/                          <task>.json, <task>/ (its images), report.html

Stages name files through a :class:`WorkDir` instead of joining strings, so a change of layout is a
change here. A video's files are named by its id alone, one kind per folder, so no id's file can be
another id's (``x`` and ``x.times`` are two videos); an id is checked (:func:`check_video_id`)
before any path is built from it, so an annotation, transcript or manifest entry such as
``../../x`` never names a file outside WORK.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from videobert.errors import InputFileError, StageMissingError, VideoBertError
from videobert.utils.manifest import Manifest

log = logging.getLogger(__name__)

NPY = ".npy"
TIMES_DIR = "clip_times"  # <folder>/clip_times/<id>.npy: the clip times of <folder>/<id>.npy
LEGACY_TIMES = ".times.npy"  # videobert < 0.2 kept them beside: <id>.times.npy
FINAL_FILE = "final.txt"
MAX_ID_LENGTH = 200


class InvalidVideoIdError(VideoBertError):
    """A video id (from a file name, annotations, transcripts or a manifest) that cannot name a file."""


def check_video_id(video_id: str) -> str:
    """``video_id``, checked to be usable as one file name inside a work-directory folder.

    Raises:
        InvalidVideoIdError: empty, too long, ``.``/``..`` or starting with a dot, or holding a path
            separator, a NUL or another control character.
    """
    bad = (
        not isinstance(video_id, str)
        or not video_id
        or len(video_id) > MAX_ID_LENGTH
        or video_id.startswith(".")
        or any(c in video_id for c in "/\\") or any(ord(c) < 32 for c in video_id)
    )  # fmt: skip
    if bad:
        raise InvalidVideoIdError(
            f"video id {str(video_id)[:80]!r} cannot name a file (no path separators, no leading dot, no "
            f"control characters, at most {MAX_ID_LENGTH} characters)"
        )
    return video_id
ANNOTATIONS_NAME = "annotations.json"


def usable_video_id(video_id: str, where: object = "") -> bool:
    """Whether ``video_id`` can name a file (:func:`check_video_id`); if not, a warning naming
    ``where`` it came from (a file, the manifest...) says it is skipped."""
    try:
        check_video_id(video_id)
    except InvalidVideoIdError as exc:
        log.warning("%s%s; skipped", f"{where}: " if where else "", exc)
        return False
    return True


IdRule = Literal["stem", "path"]
ID_RULES: tuple[str, ...] = ("stem", "path")


def file_video_id(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, ids: IdRule = "stem") -> str:
    """The video id of a video or transcript file found under ``root``.

    ``ids="stem"`` (the default, what the datasets key their annotations by): the file name less its
    extension, wherever it lies below ``root`` (``raw_videos/training/101/GLd3aX16zBg.mp4`` ->
    ``GLd3aX16zBg``; YouTube ids may start with ``-``). ``ids="path"``: the path relative to ``root``
    less the extension, ``/`` -> ``__`` (``training__101__GLd3aX16zBg``), for collections whose
    file names repeat across folders. A path outside ``root`` (or no root) gives its stem.
    """
    p = Path(path)
    if ids not in ID_RULES:
        raise VideoBertError(f"ids={ids!r}: expected one of {', '.join(ID_RULES)}")
    if ids == "stem" or root is None:
        return p.stem
    try:
        rel = Path(os.path.abspath(p)).relative_to(os.path.abspath(root))  # no symlink resolution
    except ValueError:
        return p.stem
    return "__".join(rel.with_suffix("").parts)


class WorkDir:
    """Paths of one work directory (nothing is created until a stage writes)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"WorkDir({str(self.root)!r})"

    def __fspath__(self) -> str:
        return str(self.root)

    @classmethod
    def of(cls, work: WorkDir | str | os.PathLike[str]) -> WorkDir:
        """``work`` itself when it is a WorkDir, else a WorkDir at that path."""
        return work if isinstance(work, WorkDir) else cls(work)

    def require(self) -> WorkDir:
        """This work directory, checked to exist (and an older layout upgraded, see :meth:`upgrade`).

        Raises:
            StageMissingError: there is no such directory (a typo, or no stage has run yet).
        """
        if not self.root.exists():
            raise StageMissingError(f"{self.root}: no such work directory")
        if not self.root.is_dir():
            raise StageMissingError(f"{self.root}: not a directory (a work directory is a folder)")
        self.upgrade()
        return self

    def upgrade(self) -> int:
        """Move clip times of the older layout (``<id>.times.npy`` beside ``<id>.npy``) into
        ``clip_times/<id>.npy``; returns how many were moved (nothing is deleted)."""
        folders = [self.features(b) for b in self.backbones()] + [self.tokens]
        legacy = [(f, sorted(f.glob(f"*{LEGACY_TIMES}"))) for f in folders if f.is_dir()]
        if not any(files for _, files in legacy):
            return 0  # the usual case: no manifest read at every stage's start
        known = set(self.manifest.latest_ids()) if self.manifest.path.is_file() else set()
        moved = 0
        for folder, files in legacy:
            for old in files:
                vid = old.name[: -len(LEGACY_TIMES)]
                # "<id>.times.npy" is a video's own features when a video has that id
                if old.name[: -len(NPY)] in known or not (folder / f"{vid}{NPY}").is_file():
                    continue
                target = folder / TIMES_DIR / f"{vid}{NPY}"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(old, target)
                    moved += 1
        if moved:
            log.info("%s: moved %d clip-time file(s) of the older layout into clip_times/", self.root, moved)
        return moved

    # ---------------------------------------------------------------- manifest and sources
    @property
    def manifest(self) -> Manifest:
        return Manifest(self.root)

    def source_videos(self, ok_only: bool = False) -> dict[str, Path]:
        """``video_id -> source video path`` from the manifest's ``extract/*`` records (latest wins)."""
        out: dict[str, Path] = {}
        for rec in self.manifest.records():
            if not str(rec.get("stage", "")).startswith("extract/") or not rec.get("path"):
                continue
            if ok_only and rec.get("status", "ok") != "ok":
                continue
            out[str(rec["video_id"])] = Path(rec["path"])
        return out

    # ---------------------------------------------------------------- features
    @property
    def features_root(self) -> Path:
        return self.root / "features"

    def features(self, backbone: str) -> Path:
        """``WORK/features/<backbone>``."""
        return self.features_root / backbone

    def feature_file(self, backbone: str, video_id: str) -> Path:
        """float16 (n_clips, D) features of one video."""
        return self.features(backbone) / f"{check_video_id(video_id)}{NPY}"

    def feature_times_file(self, backbone: str, video_id: str) -> Path:
        """float64 (n_clips, 2) clip [start, end) seconds of one video's features."""
        return self.features(backbone) / TIMES_DIR / f"{check_video_id(video_id)}{NPY}"

    def backbones(self) -> list[str]:
        """Backbones with a features folder, sorted."""
        root = self.features_root
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def feature_ids(self, backbone: str) -> list[str]:
        """Ids of the videos with a features file under ``features/<backbone>``, sorted."""
        return _ids_in(self.features(backbone))

    # ---------------------------------------------------------------- vocabulary, tokens, gallery
    @property
    def vocab(self) -> Path:
        return self.root / "vocab"

    @property
    def vocab_config(self) -> Path:
        return self.vocab / "config.json"

    @property
    def vocab_stats(self) -> Path:
        return self.vocab / "stats.json"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    def token_file(self, video_id: str) -> Path:
        """int32 (n_clips,) visual words of one video."""
        return self.tokens / f"{check_video_id(video_id)}{NPY}"

    def token_times_file(self, video_id: str) -> Path:
        """float64 (n_clips, 2) clip times of one video's visual words."""
        return self.tokens / TIMES_DIR / f"{check_video_id(video_id)}{NPY}"

    def token_ids(self) -> list[str]:
        """Ids of the videos with visual words, sorted."""
        return _ids_in(self.tokens)

    def load_tokens(self, video_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``(words int32 (n_clips,), times float64 (n_clips, 2) s)`` of one video, or None if absent.

        Raises:
            InputFileError: the two files disagree on the number of clips or cannot be read.
        """
        words_p, times_p = self.token_file(video_id), self.token_times_file(video_id)
        if not words_p.is_file() or not times_p.is_file():
            return None
        try:
            words = np.load(words_p, allow_pickle=False).astype(np.int32).reshape(-1)
            times = np.load(times_p, allow_pickle=False).astype(np.float64).reshape(-1, 2)
        except (OSError, ValueError) as exc:
            raise InputFileError(words_p, f"cannot read visual words: {exc}") from exc
        if len(words) != len(times):
            raise InputFileError(words_p, f"{len(words)} words but {len(times)} clip times")
        return words, times

    @property
    def gallery(self) -> Path:
        return self.root / "gallery"

    @property
    def thumbnails(self) -> Path:
        """``gallery/thumbs.npz``: the nearest frame of each visual word."""
        return self.gallery / "thumbs.npz"

    # ---------------------------------------------------------------- corpus
    @property
    def transcripts(self) -> Path:
        """``WORK/transcripts/``: ``videobert transcribe``'s output, ``<video_id>.json`` (Whisper layout)."""
        return self.root / "transcripts"

    def transcript_file(self, video_id: str) -> Path:
        """``WORK/transcripts/<video_id>.json``."""
        return self.transcripts / f"{check_video_id(video_id)}.json"

    def caption_index(self, caption_file: str | os.PathLike[str]) -> Path:
        """``WORK/caption_index/<stem>.<hash of its path>.json``: the byte ranges of the videos of a
        HowTo100M ``caption.json`` (``videobert.text.caption_index``), one file per caption file."""
        from videobert.text.caption_index import index_name

        return self.root / "caption_index" / index_name(caption_file)

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    def corpus_split(self, split: str) -> Path:
        """``corpus/<split>.parquet`` (split ``train`` or ``val``)."""
        return self.corpus / f"{split}.parquet"

    @property
    def corpus_tokenizer(self) -> Path:
        return self.corpus / "tokenizer"

    @property
    def corpus_stats(self) -> Path:
        return self.corpus / "stats.json"

    # ---------------------------------------------------------------- checkpoints and logs
    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def resolve_checkpoint(self, checkpoint: str | os.PathLike[str] | None = None) -> Path:
        """The checkpoint a task loads: ``checkpoint`` if given, else the one ``checkpoints/final.txt``
        names, else the newest complete ``checkpoints/step-N``.

        Raises:
            StageMissingError: no checkpoint can be found (names where it looked).
        """
        from videobert.train.checkpoint import latest_checkpoint

        if checkpoint is not None:
            path = Path(checkpoint)
            if not (path / "config.json").is_file():
                raise StageMissingError(f"{path}: not a checkpoint directory (no config.json)")
            return path
        final = self.checkpoints / FINAL_FILE
        if final.is_file():
            name = final.read_text(encoding="utf-8").strip()
            path = self.checkpoints / name
            if (path / "config.json").is_file():
                return path
            raise StageMissingError(f"{final}: names {name!r}, which is not a checkpoint under {self.checkpoints}")
        latest = latest_checkpoint(self.checkpoints)
        if latest is not None:
            return latest
        raise StageMissingError(f"{self.checkpoints}: no checkpoint (run `videobert pretrain` first)")

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pretrain_log(self) -> Path:
        return self.logs / "pretrain.jsonl"

    # ---------------------------------------------------------------- reports
    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report_file(self, task: str) -> Path:
        """``reports/<task>.json``."""
        return self.reports / f"{task}.json"

    def report_assets(self, task: str) -> Path:
        """``reports/<task>/``: the task's images."""
        return self.reports / task

    @property
    def report_html(self) -> Path:
        return self.reports / "report.html"

    # ---------------------------------------------------------------- annotations
    def annotations(self, path: str | os.PathLike[str] | None = None) -> Path:
        """The annotation file: ``path`` if given, else ``WORK/annotations.json``, else
        ``annotations.json`` beside WORK (where ``videobert synth`` writes it).

        Raises:
            StageMissingError: no annotation file (says how to pass one).
        """
        if path is not None:
            p = Path(path)
            if not p.is_file():
                raise StageMissingError(f"{p}: annotation file not found")
            return p
        for cand in (self.root / ANNOTATIONS_NAME, self.root.parent / ANNOTATIONS_NAME):
            if cand.is_file():
                return cand
        raise StageMissingError(f"{self.root / ANNOTATIONS_NAME}: no annotations (pass --annotations FILE)")

    def outputs(self) -> dict[str, Any]:
        """Which stage outputs exist here (for messages and the report)."""
        return {
            "manifest": self.manifest.path.is_file(),
            "features": self.backbones(),
            "vocab": self.vocab_config.is_file(),
            "tokens": self.tokens.is_dir(),
            "corpus": self.corpus_split("train").is_file(),
            "checkpoints": self.checkpoints.is_dir(),
            "reports": self.reports.is_dir(),
        }


def _ids_in(folder: Path) -> list[str]:
    """Video ids of the ``<id>.npy`` files in ``folder``, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(NPY)] for p in folder.glob(f"*{NPY}") if p.is_file() and not p.name.startswith("."))


__all__ = ["InvalidVideoIdError", "WorkDir", "check_video_id", "usable_video_id"]
