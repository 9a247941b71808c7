"""Forecasting, text-to-video, frame strips and the generating tasks' CLI on a tiny model (summarisation:
test_tasks_summarize.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tinymodels import (
    STEP_NOUNS,
    STEP_VERBS,
    STEP_WORDS,
    full_logits,
    step_words_work,
    task_inputs,
    tiny_model,
)

from videobert.cli import main
from videobert.data.annotations import Video
from videobert.model.inference import fill_visual_masks, next_visual_word_logits
from videobert.model.modeling import VideoBertForPreTraining
from videobert.tasks.base import TaskInputs
from videobert.tasks.forecast import ForecastConfig, forecast, forecast_next
from videobert.tasks.strips import StripRow, grey_tile, render_strip, word_tiles
from videobert.tasks.text_to_video import TextToVideoConfig, overlap_scores, text_to_video
from videobert.text.tokenizer import VideoBertTokenizer

VERBS, NOUNS, V = STEP_VERBS, STEP_NOUNS, STEP_WORDS


def make_work(root: Path, n_train: int = 8, n_val: int = 3, seed: int = 0) -> Path:
    """A work dir with tokens/ and annotations.json; each step's clips carry its (verb, noun) words,
    and a trailing clip (word 23) lies outside every annotated step."""
    return step_words_work(root, n_train, n_val, seed, labels=False, trailing_clip=True)


@pytest.fixture(scope="module")
def tiny() -> tuple[VideoBertForPreTraining, VideoBertTokenizer]:
    return tiny_model(V, seed=0)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_work(tmp_path_factory.mktemp("gen"))


_full_logits = full_logits


# ------------------------------------------------------------------------------------------ strips


def test_strip_uses_thumbnails_and_grey_tiles(tmp_path: Path) -> None:
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 0] = 255
    tiles = word_tiles([3, 7], {3: red}, size=32)
    assert tiles[0].shape == (32, 32, 3) and tuple(tiles[0][16, 16]) == (255, 0, 0)
    assert np.array_equal(tiles[1], grey_tile("7", 32))
    assert tuple(tiles[1][1, 1]) == (150, 150, 150)
    png = render_strip([StripRow("a", tiles, ["3", "7"]), StripRow("b", tiles[:1])], tile_size=32)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape[1] == 90 + 2 * 36 + 4  # label column + 2 tiles with padding
    assert (img[..., 0] == 255).sum() > 2 * 28 * 28  # both red tiles drawn


# ---------------------------------------------------------------------------------------- forecast


def test_next_word_logits_equal_the_models_own_head(tiny) -> None:
    model, tok = tiny
    ctx = np.array([3, 4, 5])
    ours = next_visual_word_logits(model, tok, [ctx, np.array([1])])
    assert ours.shape == (2, V)
    voff = tok.visual_offset
    ids = [tok.cls_token_id, tok.video_sep_token_id, *(ctx + voff).tolist(), tok.mask_token_id, tok.sep_token_id]
    full = _full_logits(model, ids, [0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(ours[0], full[5, voff:].numpy(), atol=1e-4)
    steps = forecast_next(model, tok, ctx, steps=2, k=3)
    assert len(steps) == 2 and all(len(s) == 3 for s in steps)
    assert steps[0][0][0] == int(np.argmax(ours[0]))
    assert steps[0][0][1] >= steps[0][1][1] >= steps[0][2][1]


def _videos(**words: list[int]) -> list[Video]:
    return [Video(vid, {}, np.asarray(w, np.int32), np.zeros((len(w), 2))) for vid, w in words.items()]


def test_forecast_task_against_frequency_baseline(tiny) -> None:
    model, tok = tiny
    val = _videos(a=[5, 5, 5, 5, 5, 5], b=[1, 2, 3, 4, 5, 6, 7])
    train = _videos(t=[5, 5, 5, 9, 9, 2])  # frequency order 5, 9, 2, ...
    cfg = ForecastConfig(k=2, min_context=2, n_examples=2, steps=2)
    out = forecast(model, tok, TaskInputs(val, train, [], []), cfg)
    # positions: video a t=2..5 (4, all target 5), video b t=2..6 (5, targets 3..7)
    assert out.n == 9
    assert out.baseline["top1"] == pytest.approx(5 / 9)  # target 5 at 4 positions of a + 1 of b
    assert out.baseline["top2"] == pytest.approx(5 / 9)  # 9 never occurs as a target
    assert 0 <= out.metrics["top1"] <= out.metrics["top2"] <= 1
    assert len(out.examples) == 2
    for ex in out.examples:
        assert len(ex["pred"]) == 2 and len(ex["pred"][0]) == 2
        assert out.images[ex["image"]][:4] == b"\x89PNG"


# ----------------------------------------------------------------------------------- text-to-video


def test_greedy_text_to_video_fills_masks_left_to_right(tiny) -> None:
    model, tok = tiny
    out = fill_visual_masks(model, tok, ["cut the onion", "boil the water please"], [2, 3])
    assert [len(o) for o in out] == [2, 3]
    # Golden first step: arg-max of the model's own head at the first [MASK], visual range only.
    text = tok.encode_text("cut the onion")
    voff = tok.visual_offset
    ids = [tok.cls_token_id, *text, tok.video_sep_token_id, tok.mask_token_id, tok.mask_token_id, tok.sep_token_id]
    types = [0] * (len(text) + 2) + [1, 1, 1]
    first = int(_full_logits(model, ids, types)[len(text) + 2, voff:].argmax())
    assert out[0][0] == first
    ids[len(text) + 2] = first + voff
    second = int(_full_logits(model, ids, types)[len(text) + 3, voff:].argmax())
    assert out[0][1] == second
    s1 = fill_visual_masks(model, tok, ["cut the onion"] * 3, 4, temperature=1.5, top_k=5, seed=3)
    s2 = fill_visual_masks(model, tok, ["cut the onion"] * 3, 4, temperature=1.5, top_k=5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2, strict=True))
    assert all(((a >= 0) & (a < V)).all() for a in s1)


def test_overlap_scores_by_hand() -> None:
    got = overlap_scores([np.array([1, 2, 2, 9])], [np.array([2, 1, 1, 3])])
    assert got["precision"] == pytest.approx(3 / 4)
    assert got["recall"] == pytest.approx(2 / 3)


def test_text_to_video_task(tiny, work: Path) -> None:
    model, tok = tiny
    inputs = task_inputs(work)
    out = text_to_video(model, tok, inputs, TextToVideoConfig(n_words=4, n_examples=2))
    assert out.n == len(inputs.segments) == 12
    for d in (out.metrics, out.baseline):
        assert set(d) == {"precision", "recall"} and all(0 <= v <= 1 for v in d.values())
    assert len(out.examples) == 2 and all(len(ex["pred"]) <= 4 for ex in out.examples)


# ------------------------------------------------------------------------------------------------ CLI


def test_task_cli_end_to_end(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    work = make_work(tmp_path)
    ckpt = work / "checkpoints" / "step-3"
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    (work / "checkpoints" / "final.txt").write_text("step-3\n")
    runs = {
        "forecast": ["k=3", "--set", "max_positions_per_video=5"],
        "text-to-video": ["n_words=3"],
        "summarize": ["k=2"],
    }
    for task, overrides in runs.items():
        assert main(["-q", task, str(work), *overrides]) == 0
        report = json.loads((work / "reports" / f"{task}.json").read_text())
        assert report["task"] == task and report["n"] > 0
        assert set(report["metrics"]) == set(report["baseline"])
        assert report["checkpoint"].endswith("step-3")
        for ex in report["examples"]:
            assert (work / "reports" / ex["image"]).is_file()
    assert json.loads((work / "reports" / "forecast.json").read_text())["config"]["k"] == 3
    assert "top3" in json.loads((work / "reports" / "forecast.json").read_text())["metrics"]
