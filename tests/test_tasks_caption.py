"""Captioning: the paper's VideoBERT vectors, pooled clip features, the encoder-decoder (learns,
decodes), the clip-features-only baseline, the report."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tinymodels import task_inputs

from videobert.data.alignment import align_sentence
from videobert.errors import VideoBertError
from videobert.eval.baselines import nearest_neighbour_captions
from videobert.model.loading import load_model
from videobert.tasks.caption import (
    PAPER_TEMPLATE,
    CaptionConfig,
    assemble_features,
    caption,
    load_caption_inputs,
    segment_clip_features,
    train_captioner,
    videobert_vectors,
)
from videobert.tasks.caption_model import (
    CaptionFeatures,
    CaptionModel,
    SpecialIds,
    TrainSettings,
    beam_decode,
    caption_log_probs,
    greedy_decode,
    train_caption_model,
)
from videobert.utils.io import atomic_save_npy, atomic_write_json
from videobert.workdir import WorkDir

D = 6  # clip feature width of the test worlds


def add_clip_features(work: Path, backbone: str = "toy") -> None:
    """features/<backbone>/<id>.npy for every video of WORK/tokens: clip j of a video is
    ``[word, j, 1, 0, 0, 0]`` (its visual word, its index), on the tokens' clip times; the
    vocabulary names the backbone."""
    wd = WorkDir(work)
    for vid in wd.token_ids():
        words, times = wd.load_tokens(vid)
        feats = np.zeros((len(words), D), np.float16)
        feats[:, 0], feats[:, 1], feats[:, 2] = words, np.arange(len(words)), 1
        atomic_save_npy(wd.feature_file(backbone, vid), feats)
        atomic_save_npy(wd.feature_times_file(backbone, vid), times)
    atomic_write_json(wd.vocab_config, {"backbone": backbone})


@pytest.fixture(scope="module")
def world(task_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared task world (pretrained tiny model) with clip features."""
    work = tmp_path_factory.mktemp("capworld") / "work"
    shutil.copytree(task_world, work)
    add_clip_features(work)
    return work


@pytest.fixture(scope="module")
def loaded(world: Path):
    model, tok, _ = load_model(WorkDir(world).resolve_checkpoint())
    return model, tok


def test_videobert_vectors_are_the_video_and_mask_means(loaded) -> None:
    model, tok = loaded
    words = [np.array([0, 1, 2]), np.array([5, 5, 7, 9, 11])]
    vec = videobert_vectors(model, tok, words, max_length=64)
    assert vec.shape == (2, 2, 32) and vec.dtype == np.float32
    text, where = tok.encode_template(PAPER_TEMPLATE)
    assert len(where) == 5  # the paper's template: five blanks
    for i, w in enumerate(words):
        enc = tok.encode_pair(text, w, max_length=64)
        ids = torch.tensor([enc["input_ids"]])
        with torch.inference_mode():
            hidden = model(**{k: torch.tensor([v]) for k, v in enc.items()}).last_hidden_state[0]  # (L, H)
        video = hidden[len(ids[0]) - 1 - len(w) : len(ids[0]) - 1].mean(dim=0)  # (H,)
        masks = hidden[ids[0] == tok.mask_token_id]  # (5, H)
        assert len(masks) == 5
        np.testing.assert_allclose(vec[i, 0], video.numpy(), atol=1e-5)
        np.testing.assert_allclose(vec[i, 1], masks.mean(dim=0).numpy(), atol=1e-5)
    assert not np.allclose(vec[0], vec[1])


def test_clip_features_follow_the_segment_span_and_pool_by_hand(world: Path, loaded) -> None:
    model, tok = loaded
    inputs = load_caption_inputs(WorkDir(world), world / "annotations.json", CaptionConfig())
    assert inputs.backbone == "toy" and not inputs.feature_errors
    seg = inputs.segments[1]  # the second segment of a video: clips 4..7 (4 s each, 1 s clips)
    feats, times = inputs.clip_features[seg.video_id]
    first, last = align_sentence(seg.start, seg.end, times)
    assert (first, last) == (4, 8)
    seq = segment_clip_features(feats, times, seg.start, seg.end)
    np.testing.assert_array_equal(seq[:, 1], [4, 5, 6, 7])
    np.testing.assert_array_equal(seq[:, 0], seg.visual_words)  # the same clips as its visual words
    vec = videobert_vectors(model, tok, [seg.visual_words])
    full = assemble_features("videobert+clips", vec, [seq], max_clips=3)
    assert full.parts == (32, 32, D) and full.vector.shape == (1, 64 + D)
    pooled = full.vector[0, 64:]
    np.testing.assert_allclose(pooled, [seg.visual_words.mean(), 5.5, 1, 0, 0, 0], rtol=1e-6)  # all 4 clips
    np.testing.assert_allclose(full.vector[0, :64], vec[0].reshape(-1))
    assert full.clips.shape == (1, 3, D) and full.lengths.tolist() == [3]  # sequence subsampled to 3
    np.testing.assert_array_equal(full.clips[0, :, 1], [4, 6, 7])
    # The baseline gets no VideoBERT vector: its vector is the pooled clip features alone.
    base = assemble_features("clips", None, [seq], max_clips=3)
    assert base.parts == (D,) and base.vector.shape == (1, D)
    np.testing.assert_allclose(base.vector[0], pooled)


def test_bad_clip_features_are_recorded_and_skipped(world: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(world, work)
    wd = WorkDir(work)
    broken, missing = wd.token_ids()[:2]
    np.save(wd.feature_file("toy", broken), np.zeros((3, D), np.float16))  # 3 rows, not its clips' 20
    wd.feature_file("toy", missing).unlink()
    inputs = load_caption_inputs(wd, work / "annotations.json", CaptionConfig())
    assert set(inputs.feature_errors) == {broken, missing}
    assert "are not (n, D) and (n, 2)" in inputs.feature_errors[broken]
    assert str(wd.feature_file("toy", missing)) in inputs.feature_errors[missing]
    assert broken not in inputs.clip_features and len(inputs.clip_features) == len(wd.token_ids()) - 2


def toy_world(tok, n: int = 24) -> tuple[CaptionFeatures, list[list[int]]]:
    """Three classes of segments (distinct vectors and clips) with one caption each."""
    rng = np.random.default_rng(0)
    sentences = ["cut the tomato", "fry the onion in a pan", "boil the egg"]
    cls = np.arange(n) % 3
    vector = np.eye(3, dtype=np.float32)[cls] * 2 + rng.normal(0, 0.05, (n, 3)).astype(np.float32)
    clips = np.repeat(vector[:, None, :], 2, axis=1)  # (n, 2, 3)
    feats = CaptionFeatures(np.concatenate([vector, vector], 1), (3, 3), clips, np.full(n, 2))
    return feats, [tok.encode_text(sentences[c]) for c in cls]


def toy_model(tok, emb: torch.Tensor | None, feats: CaptionFeatures) -> CaptionModel:
    torch.manual_seed(0)
    return CaptionModel(feats.parts, feats.clip_dim, 4, tok.text_vocab_size, 10, SpecialIds.of(tok), emb, 32, 1, 2, 0.0)


def test_encoder_decoder_learns_a_toy_mapping(loaded) -> None:
    model, tok = loaded
    feats, targets = toy_world(tok)
    emb = model.bert.embeddings.word_embeddings.weight[: tok.text_vocab_size]
    net = toy_model(tok, emb, feats)
    assert net.logits(torch.zeros(1, 32)).shape == (1, tok.text_vocab_size)  # the full WordPiece vocabulary
    losses = train_caption_model(
        net, feats, targets, TrainSettings(steps=120, batch_size=16, lr=3e-3, warmup=10, label_smoothing=0.0)
    )
    assert np.mean(losses[-10:]) < 0.05 * np.mean(losses[:5])
    greedy, _ = greedy_decode(net, feats, max_tokens=8)
    assert greedy[:3] == targets[:3]  # memorised training captions, exactly
    assert tok.decode_text(greedy[1]) == "fry the onion in a pan"
    beam, _ = beam_decode(net, feats, max_tokens=8, beam=3)
    assert beam[:3] == targets[:3]


def test_beam_is_at_least_greedy_in_log_prob_and_stops(loaded) -> None:
    model, tok = loaded
    feats, targets = toy_world(tok, n=9)
    net = toy_model(tok, None, feats)  # learned embeddings, a few steps: an uncertain, fixed model
    train_caption_model(net, feats, targets, TrainSettings(steps=15, batch_size=9, lr=3e-3, warmup=2))
    g, g_lp = greedy_decode(net, feats, max_tokens=6)
    b1, _ = beam_decode(net, feats, max_tokens=6, beam=1, length_penalty=0.0)
    assert b1 == g
    b, b_lp = beam_decode(net, feats, max_tokens=6, beam=5, length_penalty=0.0)
    np.testing.assert_allclose(caption_log_probs(net, feats, g), g_lp, atol=1e-4)
    np.testing.assert_allclose(caption_log_probs(net, feats, b), b_lp, atol=1e-4)
    assert (b_lp >= g_lp - 1e-6).all() and (b_lp > g_lp + 1e-3).any()
    special = set(SpecialIds.of(tok).banned) | {tok.sep_token_id}
    assert all(len(r) <= 6 and not special & set(r) for r in b + g)


def test_nearest_neighbour_caption_uses_bag_of_words() -> None:
    from videobert.data.annotations import Segment

    def seg(words: list[int], sentence: str) -> Segment:
        return Segment("v", 0, 0.0, 1.0, sentence, np.asarray(words, np.int32))

    train = [seg([0, 0, 1], "cut the egg"), seg([5, 6, 6], "fry the onion")]
    val = [seg([6, 5], "x"), seg([1, 0], "y")]
    assert nearest_neighbour_captions(train, val, 8) == ["fry the onion", "cut the egg"]


def test_caption_task_reports_both_systems_with_intervals(world: Path, loaded) -> None:
    model, tok = loaded
    inputs = load_caption_inputs(WorkDir(world), world / "annotations.json", CaptionConfig())
    cfg = CaptionConfig(
        d_model=32, n_heads=2, n_layers=1, steps=80, train_batch_size=32, lr=3e-3, warmup=10, beam=3,
        meteor=False, n_examples=2, device="cpu",
    )  # fmt: skip
    out = caption(model, tok, inputs, cfg)
    assert out.n == len(inputs.segments) == 45
    systems = out.details["systems"]
    assert set(systems) == {"beam", "greedy", "baseline_beam", "baseline_greedy", "nearest_neighbour"}
    assert out.metrics == systems["beam"] and out.baseline == systems["baseline_beam"]
    assert "clip features only" in out.baseline_name and "METEOR" not in out.metrics
    train = out.details["training"]
    assert train["videobert+clips"]["input_dim"] == 2 * 32 + D and train["clips"]["input_dim"] == D
    for info in train.values():
        assert info["final_loss"] < 0.6 * info["first_loss"]
    ivs = out.intervals.to_json()
    for metric in ("CIDEr", "BLEU-4", "ROUGE-L"):
        assert metric in str(ivs)
    assert out.details["paper"]["VideoBERT + S3D"]["CIDEr"] == 0.55 and "YouCook2" in out.details["paper"]["dataset"]
    assert any("S3D" in d for d in out.details["departures"])
    # The clips reveal verb and noun: both systems learn the toy captions well above chance.
    assert systems["beam"]["CIDEr"] > 1.0 and systems["baseline_beam"]["CIDEr"] > 1.0
    assert {"pred", "baseline", "truth"} <= set(out.examples[0])
    assert out.images[out.examples[0]["image"]][:4] == b"\x89PNG"
    payload = out.to_json()
    assert payload["baseline_name"] == out.baseline_name and "departures" in payload


def test_caption_needs_clip_features(world: Path, loaded) -> None:
    model, tok = loaded
    with pytest.raises(VideoBertError, match="needs clip features"):
        caption(model, tok, task_inputs(world), CaptionConfig(steps=1, meteor=False))


def test_train_captioner_without_clips_is_videobert_only(world: Path, loaded) -> None:
    """What summarize uses: visual words only -> the VideoBERT-vectors system."""
    model, tok = loaded
    inputs = task_inputs(world)
    cfg = CaptionConfig(d_model=32, n_heads=2, n_layers=1, steps=5, device="cpu")
    cap, info = train_captioner(model, tok, inputs.train_segments, cfg)
    assert cap.system == "videobert" and info["input_dim"] == 64 and info["clip_dim"] == 0
    out = cap.caption(model, tok, [s.visual_words for s in inputs.segments[:3]], beam=2)
    assert len(out) == 3 and all(isinstance(c, str) for c in out)


def test_train_output_vocab_restricts_the_softmax(loaded) -> None:
    model, tok = loaded
    feats, targets = toy_world(tok, n=6)
    allowed = sorted({i for t in targets for i in t})
    torch.manual_seed(0)
    net = CaptionModel(feats.parts, feats.clip_dim, 4, tok.text_vocab_size, 10, SpecialIds.of(tok), None, 32, 1, 2, 0.0, allowed)
    losses = train_caption_model(net, feats, targets, TrainSettings(steps=40, batch_size=6, lr=3e-3, warmup=2))
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    caps, lp = greedy_decode(net, feats, max_tokens=6)
    assert all(set(c) <= set(allowed) for c in caps) and np.isfinite(lp).all()
    logits = net.logits(torch.zeros(2, 32))  # (2, T): -inf outside the allowed pieces and the end token
    assert torch.isfinite(logits).sum(dim=1).tolist() == [len(allowed) + 1] * 2


def test_caption_cli_without_java_reports_what_it_left_out(world: Path, tmp_path: Path) -> None:
    """No ``java`` on PATH (the README's fresh machine): captioning still scores BLEU, ROUGE-L and
    CIDEr (Python PTB tokenizer), for both systems with intervals, leaves METEOR out and says so."""
    import json
    import os
    import subprocess
    import sys

    work = tmp_path / "work"
    shutil.copytree(world, work)
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # the venv's bin: no java there
    cmd = [sys.executable, "-m", "videobert.cli", "-q", "caption", str(work), "--annotations",
           str(work / "annotations.json"), "steps=5", "max_segments=6", "n_examples=1", "d_model=32",
           "n_heads=2", "n_layers=1", "device=cpu"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((work / "reports" / "caption.json").read_text())
    assert set(rep["metrics"]) == set(rep["baseline"]) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"}
    assert set(rep["intervals"]["metrics"]) == set(rep["metrics"]) and rep["intervals"]["n"] == 6
    assert any("METEOR not computed" in n and "java" in n for n in rep["notes"])
    # asked for explicitly, METEOR without Java is an error naming what to install
    proc = subprocess.run([*cmd, "meteor=true"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "default-jre-headless" in proc.stderr and "Traceback" not in proc.stderr


def test_part_dropout_blanks_whole_parts_per_segment_in_training_only(loaded) -> None:
    _, tok = loaded
    feats, _ = toy_world(tok, n=400)
    torch.manual_seed(0)
    net = CaptionModel((3, 3), 0, 4, tok.text_vocab_size, 10, SpecialIds.of(tok), None, 32, 1, 2, 0.0,
                       part_dropout=(0.5, 0.0))  # fmt: skip
    seen: list[torch.Tensor] = []
    net.part_norms[0].register_forward_hook(lambda _m, args, _o: seen.append(args[0].detach().clone()))
    vector, clips, lengths = feats.tensors(torch.device("cpu"))
    net.train()
    net.encode(vector, clips, lengths)
    blank = (seen[-1] == 0).all(dim=1)  # (N,) whole first part zeroed
    assert ((seen[-1] == 0).any(dim=1) == blank).all()  # never part of a part
    assert 0.4 < float(blank.float().mean()) < 0.6  # about half of 400 segments
    torch.testing.assert_close(seen[-1][~blank], vector[~blank, :3])  # the rest unchanged, unscaled
    net.eval()
    net.encode(vector, clips, lengths)
    torch.testing.assert_close(seen[-1], vector[:, :3])  # never at evaluation
    with pytest.raises(ValueError, match="one probability in"):
        CaptionModel((3, 3), 0, 4, tok.text_vocab_size, 10, SpecialIds.of(tok), part_dropout=(0.5,))
