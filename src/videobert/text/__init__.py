"""videobert.text: transcripts -> timed sentences -> WordPiece, and the joint tokenizer."""

from videobert.text.sentences import Sentence, SentenceConfig, segments_to_sentences
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.text.transcripts import Segment, Transcript, find_transcripts, read_transcript

__all__ = [
    "Segment",
    "Sentence",
    "SentenceConfig",
    "Transcript",
    "VideoBertTokenizer",
    "find_transcripts",
    "read_transcript",
    "segments_to_sentences",
]
