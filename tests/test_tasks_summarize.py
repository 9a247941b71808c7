"""Summarisation: the selection rule on hand-made scores, the text->video score against the model's
own head, the narration sources, and the report with its random and uniform baselines."""

from __future__ import annotations

import io
import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from tinymodels import STEP_WORDS, full_logits, step_words_work, task_inputs, tiny_model

from videobert.model.modeling import VideoBertForPreTraining
from videobert.tasks.summarize import (
    SummarizeConfig,
    SummarizeInputs,
    clip_scores,
    load_summarize_inputs,
    masked_word_log_probs,
    narration_around,
    narration_for,
    pick_in_windows,
    random_scores,
    steps_per_minute,
    summarize,
    summary_length,
    summary_scores,
    uniform_clips,
)
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.text.transcripts import Segment
from videobert.utils.manifest import Manifest
from videobert.workdir import WorkDir

V = STEP_WORDS


@pytest.fixture(scope="module")
def tiny() -> tuple[VideoBertForPreTraining, VideoBertTokenizer]:
    return tiny_model(V, seed=0)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training and validation videos of 4 steps of 1 s clips, and a trailing clip outside every step."""
    return step_words_work(tmp_path_factory.mktemp("summ"), 8, 3, 0, labels=False, trailing_clip=True)


def _times(n: int, clip: float = 1.0) -> np.ndarray:
    return np.stack([np.arange(n) * clip, np.arange(n) * clip + clip], axis=1)  # (n, 2)


# ------------------------------------------------------------------------------------------ selection


def test_one_clip_per_window_best_score_first() -> None:
    times = _times(12)  # 12 s, k = 3: windows [0, 4), [4, 8), [8, 12)
    scores = np.array([0.1, 0.9, 0.2, 0.3, 0.5, 0.4, 0.8, 0.7, -np.inf, -np.inf, np.nan, -np.inf])
    # window 0: clip 1; window 1: clip 6 (not 7, a lower score); window 2 has no finite score:
    # the clip nearest its centre (10 s): clip 9 (midpoint 9.5) and 10 (10.5) tie, the first wins.
    assert pick_in_windows(scores, times, 3) == [1, 6, 9]
    assert pick_in_windows(scores, times, 1) == [1]
    # only the central share of a window competes: clip 0 (the window's edge) loses with centre 0.5
    edge = scores.copy()
    edge[0] = 5.0
    assert pick_in_windows(edge, times, 3, centre=1.0) == [0, 6, 9]
    assert pick_in_windows(edge, times, 3, centre=0.5) == [1, 6, 9]  # |mid - 2| <= 1: clips 1, 2
    # centre 0: the clip nearest the centre; clips 5 and 6 are equally near 6 s, the better score wins
    assert pick_in_windows(edge, times, 3, centre=0.0) == [1, 6, 9]
    assert uniform_clips(times, 3) == [1, 5, 9]  # centres 2, 6, 10 s
    assert uniform_clips(times, 12) == list(range(12))
    assert pick_in_windows(scores, times, 0) == [] and pick_in_windows(np.zeros(0), np.zeros((0, 2)), 3) == []
    # more windows than clips: empty windows give nothing, no clip twice
    assert pick_in_windows(np.zeros(2), _times(2), 5) == [0, 1]


def test_summary_length_scales_with_the_video() -> None:
    five_minutes = _times(200, 1.5)  # 300 s
    assert summary_length(five_minutes, 1.6) == 8  # ~YouCook2: 8 steps in 5 minutes
    assert summary_length(five_minutes, 1.6, k=3) == 3
    assert summary_length(_times(10), 1.6) == 1  # at least one clip
    assert summary_length(_times(4), 100.0) == 4  # never more than the clips
    assert summary_length(np.zeros((0, 2)), 1.6) == 0


def test_scores_and_random_expectation() -> None:
    step = np.array([0, 0, 1, 1, -1])
    assert summary_scores([0, 1, 4], step, 2) == (pytest.approx(2 / 3), pytest.approx(1 / 2))
    assert summary_scores([], step, 2) == (0.0, 0.0)
    in_seg, cover = random_scores(5, 2, step, 2, np.random.default_rng(0), 2000)
    assert in_seg == pytest.approx(4 / 5, abs=0.02)  # the share of clips inside a step
    # both steps hit: 4 of the 10 pairs ({0,1} x {2,3}); one step: the other 6 pairs but {0,1}/{2,3}
    # count one step, pairs with clip 4 one step: E[cover] = (4 * 1 + 6 * 0.5) / 10
    assert cover == pytest.approx(0.7, abs=0.02)


def test_steps_per_minute_of_the_training_videos(work: Path) -> None:
    videos = task_inputs(work).train_videos
    n_steps = sum(len(v.steps) for v in videos)
    minutes = sum(float(v.times[-1, 1] - v.times[0, 0]) for v in videos) / 60
    assert steps_per_minute(videos) == pytest.approx(n_steps / minutes)
    assert steps_per_minute([]) == 0.0


def test_narration_around_a_clip() -> None:
    narr = [Segment(0.0, 2.0, "cut the onion"), Segment(6.0, 7.0, "fry it"), Segment(math.nan, math.nan, "untimed")]
    texts = narration_around(_times(10), narr, context_seconds=1.0)
    assert texts[0] == texts[1] == texts[2] == "cut the onion"  # midpoint 2.5 is within 1 s of 2.0
    assert texts[3] is None and texts[4] is None and texts[5] == texts[7] == "fry it" and texts[8] is None
    assert narration_around(_times(3), [Segment(math.nan, math.nan, "x")], 1.0) == [None] * 3


# ------------------------------------------------------------------------------------------ scores


def _full_visual_log_probs(model, tok, ids: list[int], types: list[int], pos: int) -> np.ndarray:
    logits = full_logits(model, ids, types)[pos, tok.visual_offset :]  # (V,)
    return torch.log_softmax(logits, dim=-1).numpy()


def test_masked_word_log_prob_is_the_models_own_head(tiny) -> None:
    model, tok = tiny
    words = np.array([3, 4, 5, 6, 7])
    cfg = SummarizeConfig(window=1)
    text = "cut the onion"
    lp = masked_word_log_probs(model, tok, words, [2, 0], [text, None], cfg)
    voff, t_ids = tok.visual_offset, tok.encode_text(text)
    # [CLS] text [>] w1 [MASK] w3 [SEP]: the mask sits at 1 + len(text) + 2
    ids = [tok.cls_token_id, *t_ids, tok.video_sep_token_id, 4 + voff, tok.mask_token_id, 6 + voff, tok.sep_token_id]
    types = [0] * (len(t_ids) + 2) + [1] * 4
    full = _full_visual_log_probs(model, tok, ids, types, len(t_ids) + 3)
    assert lp[0] == pytest.approx(float(full[5]), abs=1e-4)
    # video only, clip 0 at the window's start: [CLS] [>] [MASK] w1 [SEP]
    full0 = _full_visual_log_probs(
        model, tok, [tok.cls_token_id, tok.video_sep_token_id, tok.mask_token_id, 4 + voff, tok.sep_token_id],
        [0, 0, 1, 1, 1], 2,
    )  # fmt: skip
    assert lp[1] == pytest.approx(float(full0[3]), abs=1e-4)


def test_clip_scores_are_pmi_and_unnarrated_clips_lowest(tiny) -> None:
    model, tok = tiny
    words, times = np.array([3, 4, 5, 6, 7, 8]), _times(6)
    cfg = SummarizeConfig(window=1, context_seconds=0.0)
    narr = [Segment(0.0, 3.0, "cut the onion")]
    score, texts = clip_scores(model, tok, words, times, narr, cfg)
    assert texts[:3] == ["cut the onion"] * 3 and texts[3:] == [None] * 3
    assert np.isneginf(score[3:]).all() and np.isfinite(score[:3]).all()
    with_text = masked_word_log_probs(model, tok, words, [0, 1, 2], ["cut the onion"] * 3, cfg)
    without = masked_word_log_probs(model, tok, words, [0, 1, 2], [None] * 3, cfg)
    np.testing.assert_allclose(score[:3], with_text - without)
    # untimed narration: every sentence on every clip, the best kept
    untimed = [Segment(math.nan, math.nan, "cut the onion"), Segment(math.nan, math.nan, "fry the egg")]
    score_u, texts_u = clip_scores(model, tok, words, times, untimed, cfg)
    assert np.isfinite(score_u).all() and set(texts_u) <= {"cut the onion", "fry the egg"}
    assert score_u[0] >= score[0] - 1e-9  # the max over sentences includes "cut the onion"
    align, _ = clip_scores(model, tok, words, times, narr, SummarizeConfig(window=1, context_seconds=0.0, score="alignment"))
    assert (align[:3] <= 0).all() and np.isneginf(align[3:]).all()  # log-probabilities


# ------------------------------------------------------------------------------------------ inputs and report


def _write_video(path: Path, n_frames: int, fps: int = 4) -> None:
    """Frame i is a flat colour with red = 10 * i (lossless-enough for a flat frame)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(n_frames):
            img = np.zeros((32, 32, 3), np.uint8)
            img[..., 0] = min(10 * i, 250)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_report_with_real_frames_transcript_and_both_baselines(tiny, work: Path) -> None:
    model, tok = tiny
    videos = task_inputs(work).videos
    vid = videos[0].video_id
    video_path = work / "videos" / f"{vid}.mp4"
    video_path.parent.mkdir(exist_ok=True)
    _write_video(video_path, n_frames=4 * len(videos[0].words))
    (video_path.with_suffix(".srt")).write_text("1\n00:00:00,000 --> 00:00:02,000\nfirst we cut the onion\n")
    Manifest(work).append({"stage": "extract/s3d", "video_id": vid, "path": str(video_path), "status": "ok"})
    cfg = SummarizeConfig(k=3, n_examples=1, tile_size=32, device="cpu")
    inputs = load_summarize_inputs(WorkDir(work), work / "annotations.json", cfg)
    assert isinstance(inputs, SummarizeInputs)
    narration, db = inputs.narration, inputs.annotations
    assert narration == narration_for(WorkDir(work), [v.video_id for v in videos], db)
    assert inputs.timed_narration[vid] == [Segment(0.0, 2.0, "first we cut the onion")]  # the transcript's cue
    other = videos[1].video_id  # no transcript, no corpus: the annotation sentences, untimed
    assert narration[other] == [a["sentence"] for a in db[other]["annotations"]]
    assert all(math.isnan(s.start) for s in inputs.timed_narration[other])
    assert inputs.video_paths == {vid: video_path}
    out = summarize(model, tok, inputs, cfg)
    assert out.n == 3 and out.baseline_name == "random clips"
    ex = out.examples[0]
    assert len(ex["clips"]) == 3
    n = len(videos[0].words)
    windows = [int(3 * (c + 0.5) / n) for c in ex["clips"]]  # one clip per third of the video
    assert windows == [0, 1, 2]
    assert ex["clips"][0] in (0, 1)  # a narrated clip (midpoint in the cue's 0-2 s) wins window 0
    assert ex["pred"] == "first we cut the onion"  # the other windows' picks have no narration
    img = np.asarray(Image.open(io.BytesIO(out.images[ex["image"]])).convert("RGB")).astype(int)
    mid_frame = int(4 * (ex["times"][0][0] + ex["times"][0][1]) / 2)
    assert np.any(np.abs(img[..., 0] - min(10 * mid_frame, 250)) <= 12)  # a real frame
    # The uniform baseline: the centre clip of each third, scored against the same steps.
    from videobert.tasks.summarize import _clip_step

    expect = []
    for v in videos:
        step = _clip_step(v.times, v.steps)
        expect.append(summary_scores(uniform_clips(v.times, 3), step, len(v.steps)))
    uni = out.details["uniform"]["metrics"]
    assert uni["in_segment"] == pytest.approx(np.mean([e[0] for e in expect]))
    assert uni["step_coverage"] == pytest.approx(np.mean([e[1] for e in expect]))
    # 1 of every video's clips lies outside the steps: random picks are sometimes outside.
    assert 0.5 < out.baseline["in_segment"] < 1.0
    for iv in (out.intervals.to_json(), out.details["uniform"]["intervals"]):
        assert set(iv["difference"]) == set(iv["above_baseline"]) == {"in_segment", "step_coverage"}
        assert iv["n"] == 3
    lo, hi = out.intervals.metrics["in_segment"]
    assert lo <= out.metrics["in_segment"] <= hi
    assert out.details["k"]["mean"] == 3
    payload = out.to_json()
    assert payload["uniform"]["metrics"] == uni and payload["intervals"]["baseline"]


def test_k_from_the_training_subsets_steps(tiny, work: Path) -> None:
    model, tok = tiny
    cfg = SummarizeConfig(score="none", n_examples=0)
    inputs = task_inputs(work)
    out = summarize(model, tok, inputs, cfg)
    density = steps_per_minute(inputs.train_videos)
    assert out.details["k"]["steps_per_minute"] == pytest.approx(density)
    ks = [summary_length(v.times, density) for v in inputs.videos]
    assert out.details["k"]["mean"] == pytest.approx(np.mean(ks)) and min(ks) >= 1
    # score "none" picks the uniform clips: ours equals the uniform baseline exactly
    assert out.metrics == out.details["uniform"]["metrics"]
    with pytest.raises(ValueError, match="score must be one of"):
        SummarizeConfig(score="best")
