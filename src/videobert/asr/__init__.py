"""Speech recognition for videos without transcripts (``videobert transcribe``).

``audio`` decodes a video's sound track (PyAV, 16 kHz mono float32, in windows), ``backends``
wraps Whisper (transformers or faster-whisper), ``transcribe`` writes Whisper-layout JSON
transcripts that :func:`videobert.text.transcripts.read_transcript` reads.
"""

from videobert.asr.transcribe import TranscribeConfig, transcribe, transcribe_file

__all__ = ["TranscribeConfig", "transcribe", "transcribe_file"]
