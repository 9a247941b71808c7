"""Pretraining batches: masking statistics, regimes, negatives, future clips, layout, resume."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from videobert.data.collate import (
    TEXT_VIDEO,
    VIDEO_ONLY,
    CollateConfig,
    Example,
    RowBlock,
    collate,
    make_example,
)
from videobert.data.corpus import CORPUS_SCHEMA
from videobert.data.dataset import PretrainStream, eval_batches
from videobert.errors import VideoBertError
from videobert.text.tokenizer import VideoBertTokenizer

N_WORDS = 64


@pytest.fixture(scope="module")
def tok() -> VideoBertTokenizer:
    return VideoBertTokenizer.from_bert(None, num_visual_words=N_WORDS)


def synthetic_rows(n_videos: int, per_video: int, seed: int = 0, video_only_every: int = 0) -> list[dict]:
    """Corpus rows: sentences of 4-14 WordPiece ids over 3-9 consecutive clips."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_videos):
        clip = 0
        for k in range(per_video):
            n_clips = int(rng.integers(3, 10))
            video_only = video_only_every and v % video_only_every == 0
            text = [] if video_only else rng.integers(2000, 29000, size=int(rng.integers(4, 15))).tolist()
            rows.append(
                {
                    "video_id": f"vid{v:04d}",
                    "sentence_index": -1 if video_only else k,
                    "start": float(clip),
                    "end": float(clip + n_clips),
                    "text": "",
                    "text_ids": text,
                    "visual_ids": rng.integers(0, N_WORDS, size=n_clips).tolist(),
                    "clip_start": clip,
                }
            )
            clip += n_clips
    return rows


def write_corpus(path, rows: list[dict], row_group_size: int = 256) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA), str(path), row_group_size=row_group_size)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    write_corpus(d / "train.parquet", synthetic_rows(40, 25))
    write_corpus(d / "val.parquet", synthetic_rows(5, 10, seed=1, video_only_every=2))
    return d


def _block(rows: list[dict]) -> RowBlock:
    return RowBlock.from_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA))


def test_masking_regimes_and_ranges_over_many_batches(corpus_dir, tok) -> None:
    # negatives labelled too, so that every masked position can be checked against its label
    cfg = CollateConfig(
        future_prob=0.0, max_length=40, max_text_tokens=20, max_video_tokens=24, negative_mlm=True
    )
    stream = PretrainStream(corpus_dir, "train", tok, cfg, batch_size=32, seed=1, shuffle_buffer=300)
    it = iter(stream)
    batches = [next(it) for _ in range(60)]
    special = torch.tensor(sorted(tok.special_ids))
    n_maskable = n_labelled = n_mask_tok = n_kept = n_random = 0
    regimes = []
    align_in_pairs = []
    for b in batches:
        ids, types, att, labels = b["input_ids"], b["token_type_ids"], b["attention_mask"], b["labels"]
        assert set(b) == {
            "input_ids",
            "token_type_ids",
            "attention_mask",
            "labels",
            "alignment_labels",
            "regime",
            "mlm_positions",
        }
        assert all(t.dtype == torch.long for t in b.values())
        assert torch.equal(b["mlm_positions"], (labels.reshape(-1) != -100).nonzero().squeeze(1))
        assert ids.shape[1] == int(att.sum(1).max()) <= cfg.max_length  # dynamic padding, truncation
        assert (ids[att == 0] == tok.pad_token_id).all() and (labels[att == 0] == -100).all()
        assert ((ids >= 0) & (ids < tok.vocab_size)).all()
        lab = labels != -100
        # labels only at maskable (non-special) positions, holding an id of that position's modality
        orig = torch.where(lab, labels, ids)
        assert not torch.isin(orig[lab], special).any()
        vis_side = (types == 1) & (att == 1)
        assert tok.is_visual(orig[vis_side & (orig != tok.sep_token_id)].numpy()).all()
        assert (orig[(types == 0) & (att == 1)] <= tok.video_sep_token_id).all()
        assert tok.is_visual(labels[lab & vis_side].numpy()).all()
        assert tok.is_text(labels[lab & (types == 0)].numpy()).all()
        # random replacements stay in the label's modality
        replaced = lab & (ids != tok.mask_token_id) & (ids != labels)
        assert (tok.is_visual(ids[replaced].numpy()) == tok.is_visual(labels[replaced].numpy())).all()
        assert (ids[~lab] != tok.mask_token_id).all()  # every [MASK] is labelled
        maskable = (att == 1) & ~torch.isin(orig, special)
        n_maskable += int(maskable.sum())
        n_labelled += int(lab.sum())
        n_mask_tok += int((lab & (ids == tok.mask_token_id)).sum())
        n_kept += int((lab & (ids == labels)).sum())
        n_random += int(replaced.sum())
        regimes += b["regime"].tolist()
        for r, a, row_ids, row_types in zip(b["regime"], b["alignment_labels"], ids, types, strict=True):
            if int(r) == TEXT_VIDEO:
                assert int(a) in (0, 1)
                align_in_pairs.append(int(a))
                assert (row_ids == tok.video_sep_token_id).sum() == 1
            else:
                assert int(a) == -100
                if int(r) == VIDEO_ONLY:
                    assert row_ids[1] == tok.video_sep_token_id and row_types[2] == 1
                else:
                    assert (row_ids != tok.video_sep_token_id).all() and (row_types == 0).all()
    assert n_labelled / n_maskable == pytest.approx(0.15, abs=0.01)
    assert n_mask_tok / n_labelled == pytest.approx(0.8, abs=0.03)
    assert n_kept / n_labelled == pytest.approx(0.1, abs=0.02)
    assert n_random / n_labelled == pytest.approx(0.1, abs=0.02)
    counts = np.bincount(regimes, minlength=3) / len(regimes)
    np.testing.assert_allclose(counts, cfg.regime_ratios, atol=0.03)
    assert np.mean(align_in_pairs) == pytest.approx(1 - cfg.negative_prob, abs=0.04)


def test_make_example_concat_subsample_negative(tok) -> None:
    rows = synthetic_rows(2, 4, seed=3)
    block = _block(rows)
    rng = np.random.default_rng(0)
    cfg = CollateConfig(regime_ratios=(0, 0, 1), concat_prob=1.0, max_concat=3, negative_prob=0.0,
                        future_prob=0.0, subsample_range=(1, 1), max_text_tokens=200, max_video_tokens=200,
                        max_length=512)  # fmt: skip
    seen = set()
    for _ in range(30):
        ex = make_example(block, 3, cfg, rng)  # last sentence of video 0: neighbours come from before
        ks = [n for n in (2, 3) if ex.text_ids == sum((rows[j]["text_ids"] for j in range(4 - n, 4)), [])]
        assert len(ks) == 1
        k = ks[0]
        seen.add(k)
        assert ex.visual == sum((rows[j]["visual_ids"] for j in range(4 - k, 4)), [])
        assert ex.alignment == 1 and ex.regime == TEXT_VIDEO
    assert seen == {2, 3}
    # overlapping clip spans are united, not repeated
    over = _block(
        [dict(rows[0], visual_ids=[1, 2, 3], clip_start=0), dict(rows[1], visual_ids=[3, 4], clip_start=2)]
    )
    ex = make_example(over, 0, CollateConfig(regime_ratios=(0, 0, 1), concat_prob=1.0, max_concat=2,
                                             negative_prob=0.0, future_prob=0.0, subsample_range=(1, 1)), rng)  # fmt: skip
    assert ex.visual == [1, 2, 3, 4]
    # subsampling: every r-th clip from an offset < r
    long = _block([dict(rows[0], visual_ids=list(range(12)), clip_start=0)])
    cfg3 = CollateConfig(regime_ratios=(0, 1, 0), concat_prob=0.0, future_prob=0.0, subsample_range=(3, 3))
    offsets = set()
    for _ in range(20):
        ex = make_example(long, 0, cfg3, rng)
        assert len(ex.visual) == 4 and np.all(np.diff(ex.visual) == 3)
        offsets.add(ex.visual[0])
    assert offsets == {0, 1, 2}
    # negatives take clips of another video
    cfgn = CollateConfig(regime_ratios=(0, 0, 1), concat_prob=0.0, negative_prob=1.0, subsample_range=(1, 1))
    other = {tuple(r["visual_ids"]) for r in rows[4:]}
    for _ in range(10):
        ex = make_example(block, 1, cfgn, rng)
        assert ex.alignment == 0 and tuple(ex.visual) in other
    # one video only: a non-overlapping time of the same video
    single = _block(rows[:4])
    ex = make_example(single, 0, cfgn, rng)
    assert ex.alignment == 0 and tuple(ex.visual) in {tuple(r["visual_ids"]) for r in rows[1:4]}


def test_future_clips_are_masked_and_labelled(tok) -> None:
    block = _block([dict(synthetic_rows(1, 1)[0], visual_ids=[5, 6, 7, 8, 9, 10], clip_start=0)])
    cfg = CollateConfig(regime_ratios=(0, 1, 0), future_prob=1.0, future_max_clips=2, mask_prob=0.0,
                        subsample_range=(1, 1), concat_prob=0.0)  # fmt: skip
    rng = np.random.default_rng(0)
    futures = set()
    for _ in range(20):
        ex = make_example(block, 0, cfg, rng)
        b = collate([ex], tok, cfg, rng)
        ids, labels = b["input_ids"][0], b["labels"][0]
        f = ex.future
        futures.add(f)
        vis = tok.visual_offset + torch.tensor([5, 6, 7, 8, 9, 10])
        assert (ids[2 : 8 - f] == vis[: 6 - f]).all()
        assert (ids[8 - f : 8] == tok.mask_token_id).all() and (labels[8 - f : 8] == vis[6 - f :]).all()
        assert (labels[: 8 - f] == -100).all() and labels[8] == -100 and ids[8] == tok.sep_token_id
    assert futures == {1, 2}


def test_future_clips_do_not_give_the_alignment_label_away(tok) -> None:
    block = _block(synthetic_rows(6, 4, seed=5))
    cfg = CollateConfig(regime_ratios=(0, 0, 1), future_prob=0.5, negative_prob=0.5, concat_prob=0.0)
    rng = np.random.default_rng(1)
    share = {0: [], 1: []}
    for i in range(2000):
        ex = make_example(block, i % len(block), cfg, rng)
        share[ex.alignment].append(ex.future > 0)
    assert len(share[0]) > 800 and len(share[1]) > 800
    assert np.mean(share[0]) == pytest.approx(0.5, abs=0.05)
    assert np.mean(share[1]) == pytest.approx(0.5, abs=0.05)


def test_negatives_are_masked_but_unlabelled_unless_negative_mlm(tok) -> None:
    exs = [
        Example(list(range(2000, 2010)), list(range(10)), TEXT_VIDEO, a, future=f)
        for a in (1, 0)
        for f in (0, 2)
    ]
    for negative_mlm in (False, True):
        cfg = CollateConfig(mask_prob=0.5, negative_mlm=negative_mlm)
        b = collate(exs, tok, cfg, np.random.default_rng(3))
        masked = b["input_ids"] == tok.mask_token_id  # (4, L)
        labelled = b["labels"] != -100  # (4, L)
        assert masked.sum(1).min() >= 3  # negatives look exactly like positives
        assert labelled[:2].sum(1).min() >= 5  # positives: ~half of 20 tokens, futures included
        if negative_mlm:
            assert labelled[2:].sum(1).min() >= 5
        else:
            assert not labelled[2:].any()


def test_separate_alignment_pairs_are_shown_whole(tok) -> None:
    block = _block(synthetic_rows(6, 4, seed=5))
    cfg = CollateConfig(regime_ratios=(0, 0, 1), alignment_masking="separate", negative_prob=0.25,
                        future_prob=0.5, mask_prob=0.5, concat_prob=0.0)  # fmt: skip
    rng = np.random.default_rng(2)
    exs = [make_example(block, i % len(block), cfg, rng) for i in range(2000)]
    kinds = Counter((ex.alignment, ex.masked) for ex in exs)
    # a quarter negatives and a quarter positives shown whole; the masked half carries no alignment label
    assert set(kinds) == {(0, False), (1, False), (-100, True)}
    assert kinds[(0, False)] / 2000 == pytest.approx(0.25, abs=0.03)
    assert kinds[(1, False)] / 2000 == pytest.approx(0.25, abs=0.03)
    assert all(ex.future == 0 for ex in exs if not ex.masked)
    b = collate(exs[:64], tok, cfg, rng)
    whole = torch.tensor([not ex.masked for ex in exs[:64]])
    assert whole.any() and (~whole).any()
    assert not (b["input_ids"][whole] == tok.mask_token_id).any() and (b["labels"][whole] == -100).all()
    assert (b["labels"][~whole] != -100).sum(1).min() >= 1
    with pytest.raises(VideoBertError, match="negative_prob"):
        CollateConfig(alignment_masking="separate", negative_prob=0.6)


def test_collate_layout_and_padding(tok) -> None:
    cfg = CollateConfig(mask_prob=0.0)
    exs = [
        Example([2000, 2001], [1, 2], TEXT_VIDEO, 1),
        Example(None, [3], VIDEO_ONLY),
        Example([2002], None, 0),
    ]
    b = collate(exs, tok, cfg, np.random.default_rng(0))
    v = tok.visual_offset
    assert b["input_ids"].tolist() == [
        [101, 2000, 2001, 30522, v + 1, v + 2, 102],
        [101, 30522, v + 3, 102, 0, 0, 0],
        [101, 2002, 102, 0, 0, 0, 0],
    ]
    assert b["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0], [0] * 7]
    assert b["attention_mask"].sum(1).tolist() == [7, 4, 3]
    assert b["alignment_labels"].tolist() == [1, -100, -100] and b["regime"].tolist() == [2, 1, 0]
    assert (b["labels"] == -100).all()


def test_stream_is_deterministic_and_resumes_exactly(corpus_dir, tok) -> None:
    cfg = CollateConfig(max_length=32)
    kw = dict(batch_size=64, seed=5, shuffle_buffer=200)
    stream = PretrainStream(corpus_dir, "train", tok, cfg, **kw)
    assert len(stream) == 1000 // 64
    it = iter(stream)
    ref = [next(it) for _ in range(19)]  # crosses the epoch boundary (15 batches per epoch)
    again = iter(PretrainStream(corpus_dir, "train", tok, cfg, **kw))
    for a in ref[:3]:
        b = next(again)
        assert all(torch.equal(a[k], b[k]) for k in a)
    for cut in (4, 15, 16):
        s1 = PretrainStream(corpus_dir, "train", tok, cfg, **kw)
        it1 = iter(s1)
        for _ in range(cut):
            next(it1)
        state = s1.state_dict()
        s2 = PretrainStream(corpus_dir, "train", tok, cfg, **kw)
        s2.load_state_dict(state)
        nxt = next(iter(s2))
        assert all(torch.equal(nxt[k], ref[cut][k]) for k in nxt), cut
    assert not torch.equal(ref[0]["input_ids"][:, :5], ref[15]["input_ids"][:, :5])  # new epoch reshuffles


def test_sharding_and_eval_batches(corpus_dir, tok) -> None:
    cfg = CollateConfig(regime_ratios=(1, 0, 0), concat_prob=0.0, mask_prob=0.0, max_length=64)
    firsts = []
    for rank in range(2):
        s = PretrainStream(
            corpus_dir, "val", tok, cfg, batch_size=50, rank=rank, world_size=2, shuffle_buffer=1
        )
        assert s.rows_per_rank == 25
        firsts.append(next(iter(s)))
    # val has video-only rows (even videos) and text rows; ranks see disjoint rows
    texts = [
        {tuple(r[r > 0].tolist()) for r in b["input_ids"] if (r == tok.video_sep_token_id).sum() == 0}
        for b in firsts
    ]
    assert texts[0] and texts[1] and not texts[0] & texts[1]
    assert (torch.cat([b["regime"] for b in firsts]) == VIDEO_ONLY).sum() == 30  # 3 video-only videos x 10
    ev1 = list(eval_batches(corpus_dir, "val", tok, CollateConfig(), batch_size=16, seed=2))
    ev2 = list(eval_batches(corpus_dir, "val", tok, CollateConfig(), batch_size=16, seed=2))
    assert [b["input_ids"].shape[0] for b in ev1] == [16, 16, 16, 2]
    assert all(torch.equal(a[k], b[k]) for a, b in zip(ev1, ev2, strict=True) for k in a)
    assert len(list(eval_batches(corpus_dir, "val", tok, CollateConfig(), batch_size=16, max_batches=2))) == 2
    # a split smaller than max_batches is passed over again, with fresh draws, deterministically
    ev3 = list(eval_batches(corpus_dir, "val", tok, CollateConfig(), batch_size=16, seed=2, max_batches=9))
    assert [b["input_ids"].shape[0] for b in ev3] == [16] * 9
    assert all(torch.equal(a[k], b[k]) for a, b in zip(ev1[:3], ev3[:3], strict=True) for k in a)
    again = list(eval_batches(corpus_dir, "val", tok, CollateConfig(), batch_size=16, seed=2, max_batches=9))
    assert all(torch.equal(a[k], b[k]) for a, b in zip(ev3, again, strict=True) for k in a)
    second_pass = torch.cat([b["alignment_labels"] for b in ev3[3:6]])  # rows 50..97: pass 2 from row 0
    first_pass = torch.cat([b["alignment_labels"] for b in ev1[:3]])
    assert not torch.equal(second_pass[2:], first_pass[:-2])  # its own negatives, not a replay


def test_out_of_range_visual_word_is_an_error(tok) -> None:
    from videobert.errors import VideoBertError

    with pytest.raises(VideoBertError):
        collate([Example(None, [N_WORDS], VIDEO_ONLY)], tok, CollateConfig(), np.random.default_rng(0))
    with pytest.raises(VideoBertError):
        collate([Example(None, [-1], VIDEO_ONLY)], tok, CollateConfig(), np.random.default_rng(0))


def test_regime_mix_is_kept_with_video_only_rows(tmp_path, tok) -> None:
    from videobert.data.collate import balance_regimes

    assert balance_regimes(CollateConfig(regime_ratios=(0.2, 0.2, 0.6)), 0.1).regime_ratios == pytest.approx(
        (0.2 / 0.9, 0.1 / 0.9, 0.6 / 0.9)
    )
    write_corpus(tmp_path / "train.parquet", synthetic_rows(40, 25, seed=7, video_only_every=10))  # 10% rows
    cfg = CollateConfig(max_length=32)
    stream = PretrainStream(tmp_path, "train", tok, cfg, batch_size=50, seed=3, shuffle_buffer=300)
    assert stream.video_only_fraction == pytest.approx(0.1)
    it = iter(stream)
    regimes = torch.cat([next(it)["regime"] for _ in range(40)]).numpy()
    np.testing.assert_allclose(
        np.bincount(regimes, minlength=3) / len(regimes), cfg.regime_ratios, atol=0.035
    )
