"""Error types that user-facing code raises: each names the file and the problem."""

from __future__ import annotations

import os


class VideoBertError(Exception):
    """Base class for errors a user can act on (bad input, missing stage output, bad config)."""


class InputFileError(VideoBertError):
    """A file that cannot be used; ``path`` names it and ``reason`` says why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class VideoDecodeError(InputFileError):
    """A video file that cannot be decoded (corrupt, truncated, empty, audio-only, not a video)."""


class TranscriptError(InputFileError):
    """A transcript file that cannot be read at all."""


class StageMissingError(VideoBertError):
    """An earlier stage's output is missing from the work directory."""
