"""A vocabulary sized to the data: the auto rule, the warning, explicit shapes, words used and clips per word."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from videobert.cli import main
from videobert.utils.io import atomic_save_npy, atomic_write_json
from videobert.utils.manifest import Manifest
from videobert.vocab import fit_vocab
from videobert.vocab.assign import VocabConfig
from videobert.vocab.sizing import auto_tree, choose_tree, needed_clips
from videobert.vocab.stats import format_stats, vocab_stats
from videobert.workdir import WorkDir

DIM = 8


@pytest.mark.parametrize(
    ("n_clips", "tree"),
    [
        (10_000_000, (4, 12)),  # the paper's tree: 39 * 12^4 = 808,704 clips are enough
        (808_704, (4, 12)),
        (808_703, (3, 12)),  # one clip short of 12^4
        (100_000, (3, 12)),  # 39 * 12^3 = 67,392
        (67_391, (2, 12)),
        (5_616, (2, 12)),  # 39 * 144
        (5_615, (1, 12)),
        (1_180, (1, 12)),  # the demo's size: 1,180 clips hold 12 words of >= 39
        (468, (1, 12)),  # 39 * 12
        (467, (1, 11)),  # below one level of 12: a smaller branching
        (200, (1, 5)),
        (78, (1, 2)),
        (10, (1, 2)),  # never fewer than 2 words
        (1, (1, 2)),
    ],
)
def test_auto_rule_keeps_branching_12_and_drops_levels(n_clips: int, tree: tuple[int, int]) -> None:
    assert auto_tree(n_clips) == tree
    size = choose_tree(n_clips)
    assert (size.levels, size.branching, size.mode, size.explicit) == (*tree, "auto", False)
    # the rule's promise: enough clips per word, unless even 2 words are too many
    assert size.too_few == (n_clips < 2 * 39)
    if n_clips >= 78:
        assert n_clips / size.n_words >= 39
        # and it is the largest such tree: one more level (or one more branch at one level) is too many
        bigger = (size.levels + 1, 12) if size.branching == 12 else (1, size.branching + 1)
        assert bigger == (5, 12) or n_clips < needed_clips(*bigger)


def test_auto_rule_never_grows_the_request_and_obeys_min_clips_per_word() -> None:
    assert auto_tree(10**9, levels=2, branching=5) == (2, 5)
    assert needed_clips(2, 12, 10) == 1_440
    assert auto_tree(1_440, min_clips_per_word=10) == (2, 12)
    assert auto_tree(1_439, min_clips_per_word=10) == (1, 12)
    with pytest.raises(ValueError, match="size must be one of"):
        choose_tree(100, size="big")


def test_explicit_shape_or_fixed_is_fitted_as_asked_with_the_warning() -> None:
    for size in (choose_tree(1_180, levels=2), choose_tree(1_180, branching=12), choose_tree(1_180, size="fixed")):
        assert size.mode == "fixed" and size.too_few
    explicit = choose_tree(1_180, levels=2)
    assert (explicit.levels, explicit.branching, explicit.n_words, explicit.explicit) == (2, 12, 144, True)
    assert explicit.message() == (
        "vocabulary: 12^2 = 144 words for 1,180 clips (8.2 clips per word); the requested tree (set explicitly); "
        "12^2 needs >= 5,616 clips (39 per word)"
    )
    warning = explicit.warning()
    assert warning is not None and "8.2 clips per word" in warning and "support 12^1 = 12 words" in warning
    fixed = choose_tree(1_180, size="fixed")
    assert (fixed.levels, fixed.branching, fixed.explicit) == (4, 12, False)
    assert "12^4 needs >= 808,704 clips" in fixed.message()
    auto = choose_tree(6_000)
    assert auto.message() == (
        "vocabulary: 12^2 = 144 words for 6,000 clips (41.7 clips per word); 12^4 needs >= 808,704 clips "
        "(39 per word): size=auto chose 2 level(s) fewer"
    )
    assert auto.warning() is None
    d = auto.as_dict()
    assert d["requested_levels"] == 4 and d["needed_clips"] == 808_704 and d["clips_per_word"] == pytest.approx(6000 / 144)


def test_vocab_config_levels_default_is_unset_and_checked() -> None:
    cfg = VocabConfig()
    assert (cfg.levels, cfg.branching, cfg.size, cfg.min_clips_per_word) == (None, None, "auto", 39)
    with pytest.raises(ValueError, match="min_clips_per_word must be >= 1"):
        VocabConfig(min_clips_per_word=0)
    with pytest.raises(ValueError, match="size must be one of auto, fixed"):
        VocabConfig(size="large")  # type: ignore[arg-type]


def test_stats_report_words_used_and_clips_per_word() -> None:
    stats = vocab_stats(np.array([6, 0, 2, 0]))
    assert stats["words_used"] == 2 and stats["clips_per_word"] == 2.0 and stats["clips_per_used_word"] == 4.0
    line = format_stats(stats)
    assert "words used 2/4 (50.0%)" in line and "clips per word 2.0 (per used word 4.0)" in line
    old = {k: v for k, v in stats.items() if not k.startswith("clips_per")}  # stats.json of an older version
    assert "clips per word" not in format_stats(old)


def _features_work(root: Path, n_videos: int, clips: int, seed: int = 0) -> Path:
    """WORK with ``n_videos`` videos of ``clips`` random clip features (D=8) each, copied in by hand."""
    rng = np.random.default_rng(seed)
    work = root / "work"
    wd = WorkDir(work)
    atomic_write_json(wd.features("toy") / "info.json", {"backbone": "toy", "dim": DIM})
    for v in range(n_videos):
        atomic_save_npy(wd.feature_file("toy", f"v{v}"), rng.normal(size=(clips, DIM)).astype(np.float16))
        t = np.arange(clips, dtype=np.float64)
        atomic_save_npy(wd.feature_times_file("toy", f"v{v}"), np.stack([t, t + 1], 1))
        Manifest(work).append({"stage": "extract/toy", "video_id": f"v{v}", "path": None, "status": "ok"})
    return work


def test_fit_vocab_sizes_the_tree_to_the_clips(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    work = _features_work(tmp_path, n_videos=4, clips=150)  # 600 clips: 12^4 would be 0.03 clips per word
    with caplog.at_level(logging.INFO, logger="videobert"):
        stats = fit_vocab(work, niter=4)
    cfg = json.loads((work / "vocab" / "config.json").read_text())
    assert (cfg["levels"], cfg["branching"], cfg["n_words"]) == (1, 12, 12)
    assert cfg["sizing"]["mode"] == "auto" and cfg["sizing"]["requested_levels"] == 4 and cfg["sizing"]["n_clips"] == 600
    assert "12^4 needs >= 808,704 clips" in cfg["sizing"]["reason"]
    on_disk = json.loads((work / "vocab" / "stats.json").read_text())
    assert on_disk["sizing"] == cfg["sizing"] and stats["sizing"] == cfg["sizing"]
    assert stats["n_tokens"] == 600 and stats["words_used"] == 12 and stats["clips_per_word"] == 50.0
    assert stats["clips_per_used_word"] == 50.0
    infos = [r.getMessage() for r in caplog.records if r.getMessage().startswith("vocabulary: ")]
    assert infos == ["vocabulary: 12^1 = 12 words for 600 clips (50.0 clips per word); 12^4 needs >= 808,704 clips "
                     "(39 per word): size=auto chose 3 level(s) fewer"]  # fmt: skip
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert np.load(work / "tokens" / "v0.npy").max() < 12


def test_explicit_levels_on_the_command_line_fit_the_requested_tree_and_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = _features_work(tmp_path, n_videos=2, clips=60)  # 120 clips
    with caplog.at_level(logging.INFO, logger="videobert"):
        assert main(["fit-vocab", str(work), "--levels", "2", "niter=4"]) == 0
    cfg = json.loads((work / "vocab" / "config.json").read_text())
    assert (cfg["levels"], cfg["branching"], cfg["n_words"]) == (2, 12, 144)
    assert cfg["sizing"]["mode"] == "fixed" and cfg["sizing"]["explicit"] is True and cfg["sizing"]["too_few"] is True
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "0.8 clips per word (fewer than min_clips_per_word=39)" in warnings[0]
    stats = json.loads((work / "vocab" / "stats.json").read_text())
    assert stats["n_tokens"] == 120 and stats["clips_per_word"] == pytest.approx(120 / 144)
    assert 12 < stats["words_used"] <= 120 and stats["clips_per_used_word"] == pytest.approx(120 / stats["words_used"])
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("visual words: ")]
    assert len(logged) == 1 and f"words used {stats['words_used']}/144" in logged[0] and "clips per word 0.8" in logged[0]
    # size=fixed without a shape: the paper's tree, as asked (4 levels), also with the warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="videobert"):
        fit_vocab(work, size="fixed", niter=2, assign=False)
    assert json.loads((work / "vocab" / "config.json").read_text())["n_words"] == 12**4
    assert any("12^4 = 20,736 words has only" in r.getMessage() for r in caplog.records)
    # the same shape from a --config file is explicit too
    (tmp_path / "v.yaml").write_text("branching: 3\n")
    assert main(["-q", "fit-vocab", str(work), "--config", str(tmp_path / "v.yaml"), "niter=2"]) == 0
    assert json.loads((work / "vocab" / "config.json").read_text())["n_words"] == 3**4
