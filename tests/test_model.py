"""VideoBertForPreTraining against plain transformers BERT, vocabulary extension, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, BertForPreTraining

from videobert.model import (
    VideoBertConfig,
    VideoBertForPreTraining,
    from_bert,
    narration_directions,
    packaged_bert_path,
    project_centroids,
)

T, V = 100, 7  # text vocabulary, visual words: joint vocabulary 100 + [>] + 7 = 108
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _tiny_bert(cls: type, tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    """A random tiny BERT of class ``cls`` with a non-zero MLM bias, saved to ``tmp_path``."""
    torch.manual_seed(1)
    model = cls(BertConfig(vocab_size=T, **TINY)).eval()
    with torch.no_grad():
        model.cls.predictions.bias.normal_(0, 0.5)
    model.save_pretrained(tmp_path)
    return model, tmp_path


def _text_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, T, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    ids[1, 9:] = 0
    labels = torch.full_like(ids, -100)
    for b, pos in [(0, 1), (0, 7), (1, 3), (1, 8), (2, 5)]:
        labels[b, pos] = ids[b, pos]
        ids[b, pos] = 4  # [MASK] stand-in
    return {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": mask, "labels": labels}


def test_text_logits_at_masked_positions_equal_bert_for_masked_lm(tmp_path: Path) -> None:
    ref, path = _tiny_bert(BertForMaskedLM, tmp_path)
    model = from_bert(path, num_visual_words=V).eval()
    assert model.config.vocab_size == T + 1 + V and model.config.visual_offset == T + 1
    batch = _text_batch()
    with torch.no_grad():
        ours = model(**batch, return_all_logits=True)
        theirs = ref(**{k: v for k, v in batch.items() if k != "labels"}).logits  # (B, L, T)
    where = batch["labels"] != -100
    assert ours.mlm_logits.shape == (5, T + 1 + V)
    torch.testing.assert_close(ours.mlm_logits[:, :T], theirs[where], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.prediction_logits[..., :T], theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.mlm_logits, ours.prediction_logits[where], atol=1e-6, rtol=0)
    assert torch.equal(ours.mlm_labels, batch["labels"][where])
    assert ours.video_mlm_loss.item() == 0.0 and int(ours.num_video_labels) == 0

    # and the loss equals BertForMaskedLM's on the joint vocabulary with our weights
    joint = BertForMaskedLM(BertConfig(vocab_size=T + 1 + V, **TINY)).eval()
    missing, unexpected = joint.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(k.startswith(("cls.alignment", "bert.pooler")) for k in unexpected)
    with torch.no_grad():
        ref_out = joint(**batch)
    torch.testing.assert_close(ours.text_mlm_loss, ref_out.loss, atol=1e-5, rtol=0)


def test_losses_split_by_label_kind_and_alignment(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VideoBertForPreTraining(VideoBertConfig(text_vocab_size=T, num_visual_words=V, **TINY)).eval()
    ids = torch.tensor([[101, 10, 11, T, 102 + 0, 0], [101, T, T + 1, T + 3, 102, 0], [101, 12, 13, T, T + 2, 102]])
    ids = ids.clamp_max(T + V)
    labels = torch.full_like(ids, -100)
    labels[0, 1] = 10  # text
    labels[1, 2] = T + 1  # visual
    labels[2, 4] = T + 2  # visual
    align = torch.tensor([-100, -100, 1])
    batch = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": (ids != 0).long(),
             "labels": labels, "alignment_labels": align, "regime": torch.tensor([0, 1, 2])}
    out = model(**batch)
    logp = torch.log_softmax(out.mlm_logits, -1)
    assert out.text_mlm_loss.item() == pytest.approx(-logp[0, 10].item(), abs=1e-5)
    assert out.video_mlm_loss.item() == pytest.approx(-(logp[1, T + 1] + logp[2, T + 2]).item() / 2, abs=1e-5)
    assert out.alignment_loss.item() == pytest.approx(
        -torch.log_softmax(out.alignment_logits[2], -1)[1].item(), abs=1e-5
    )
    cfg = model.config
    assert out.loss.item() == pytest.approx(
        (cfg.text_mlm_weight * out.text_mlm_loss + cfg.video_mlm_weight * out.video_mlm_loss + out.alignment_loss).item()
    )
    assert out.alignment_logits.shape == (3, 2) and out.pooled_output.shape == (3, 32)
    assert out.last_hidden_state.shape == (3, 6, 32)
    # loss weights come from the config; an absent objective contributes 0 but keeps the graph
    model.config.video_mlm_weight = 0.0
    batch["alignment_labels"] = torch.full((3,), -100)
    out2 = model(**batch)
    assert out2.alignment_loss.item() == 0.0
    assert out2.loss.item() == pytest.approx(out2.text_mlm_loss.item(), abs=1e-6)
    out2.loss.backward()
    assert model.cls.alignment.weight.grad is not None


def test_save_pretrained_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = VideoBertConfig(text_vocab_size=T, num_visual_words=V, video_mlm_weight=0.5, **TINY)
    model = VideoBertForPreTraining(cfg).eval()
    model.save_pretrained(tmp_path / "m")
    loaded = VideoBertForPreTraining.from_pretrained(tmp_path / "m").eval()
    assert isinstance(loaded.config, VideoBertConfig)
    assert loaded.config.vocab_size == T + 1 + V and loaded.config.video_mlm_weight == 0.5
    assert loaded.cls.predictions.decoder.weight is loaded.bert.embeddings.word_embeddings.weight
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert sd.keys() == sd2.keys() and all(torch.equal(sd[k], sd2[k]) for k in sd)
    batch = _text_batch()
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    assert torch.equal(a.mlm_logits, b.mlm_logits) and torch.equal(a.alignment_logits, b.alignment_logits)


def test_from_bert_for_pretraining_copies_heads_and_swaps_nsp(tmp_path: Path) -> None:
    src, path = _tiny_bert(BertForPreTraining, tmp_path)
    model = from_bert(path, num_visual_words=V, config_overrides={"num_hidden_layers": 1, "alignment_weight": 2.0})
    assert model.config.num_hidden_layers == 1 and model.config.alignment_weight == 2.0
    s = src.state_dict()
    m = model.state_dict()
    for key in ("cls.predictions.transform.dense.weight", "bert.encoder.layer.0.attention.self.query.weight",
                "bert.pooler.dense.weight", "bert.embeddings.position_embeddings.weight"):
        assert torch.equal(m[key], s[key]), key
    assert "bert.encoder.layer.1.attention.self.query.weight" not in m
    assert torch.equal(m["cls.alignment.weight"], s["cls.seq_relationship.weight"].flip(0))
    assert torch.equal(m["cls.predictions.bias"][:T], s["cls.predictions.bias"])
    assert torch.all(m["cls.predictions.bias"][T:] == 0)
    emb = model.bert.embeddings.word_embeddings.weight
    assert torch.equal(emb[:T], s["bert.embeddings.word_embeddings.weight"])
    assert model.cls.predictions.decoder.weight is emb


def test_from_packaged_minilm_offline_with_centroids() -> None:
    assert (packaged_bert_path() / "model.safetensors").is_file()
    rng = np.random.default_rng(0)
    centroids = rng.normal(size=(V, 16)).astype(np.float32)
    used = np.ones(V, bool)
    used[3] = False
    model = from_bert(None, V, centroids=centroids, centroid_mask=used, config_overrides={"num_hidden_layers": 1})
    cfg = model.config
    assert cfg.text_vocab_size == 30522 and cfg.hidden_size == 384 and cfg.num_hidden_layers == 1
    assert (cfg.cls_token_id, cfg.sep_token_id, cfg.mask_token_id, cfg.pad_token_id) == (101, 102, 103, 0)
    from safetensors.torch import load_file

    src = load_file(packaged_bert_path() / "model.safetensors")
    key = next(k for k in src if k.endswith("word_embeddings.weight"))
    emb = model.bert.embeddings.word_embeddings.weight.detach()
    assert torch.equal(emb[: cfg.text_vocab_size], src[key])
    expected = project_centroids(centroids[used], src[key])  # (6, 384)
    torch.testing.assert_close(emb[cfg.visual_offset :][torch.from_numpy(used)], expected)
    text = src[key]
    radius = (text - text.mean(0)).norm(dim=1).mean()
    dist = (expected - text.mean(0)).norm(dim=1)
    torch.testing.assert_close(dist, torch.full_like(dist, float(radius)), atol=1e-4, rtol=1e-4)
    # different centroids give different rows; the unused id keeps the mean+noise init
    assert (emb[cfg.visual_offset + 3] - text.mean(0)).norm() < 0.5 * radius
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight


def test_mean_alignment_pooling_reads_the_masked_mean_of_final_states() -> None:
    torch.manual_seed(0)
    cfg = VideoBertConfig(text_vocab_size=T, num_visual_words=V, alignment_pooling="mean", **TINY)
    model = VideoBertForPreTraining(cfg).eval()
    batch = _text_batch()
    with torch.no_grad():
        out = model(**batch)
        h, m = out.last_hidden_state, batch["attention_mask"].unsqueeze(-1).float()  # (B, L, H), (B, L, 1)
        want = torch.tanh(model.bert.pooler.dense((h * m).sum(1) / m.sum(1)))  # (B, H)
        torch.testing.assert_close(out.pooled_output, want)
        torch.testing.assert_close(out.alignment_logits, model.cls.alignment(want))
        padded = dict(batch, attention_mask=batch["attention_mask"].clone())
        padded["attention_mask"][0, -2:] = 0  # padding must change what the head reads
        assert not torch.allclose(model(**padded).pooled_output[0], out.pooled_output[0])
        # the tasks' top-layer copy pools the same way (retrieval scores use it)
        from videobert.model.inference import TopStack, lower_forward

        for n_top in (0, 1, 2):
            hidden = lower_forward(model, {k: padded[k] for k in ("input_ids", "attention_mask", "token_type_ids")}, n_top)
            _, pooled = TopStack(model, n_top)(hidden, padded["attention_mask"])
            torch.testing.assert_close(pooled, model(**padded).pooled_output, atol=1e-5, rtol=1e-5)
    model.config.alignment_pooling = "max"
    with pytest.raises(ValueError, match="alignment_pooling"):
        model(**batch)


def test_narration_directions_point_at_the_words_said_while_a_visual_word_is_seen() -> None:
    # text ids 10..13 are content words, 5 is said in every row ("the"); 3 visual words
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(20, 16, generator=g)
    text_rows = [[5, 10], [5, 10, 11], [5, 12], [5, 12], [5, 13], []]
    visual_rows = [[0, 0], [0], [1], [1, 1], [2], [2]]  # the last row has no text: ignored
    d, seen = narration_directions(text_rows, visual_rows, emb, 3)
    assert d.shape == (3, 16) and seen.tolist() == [True, True, True]
    torch.testing.assert_close(d.norm(dim=1), torch.ones(3))
    # word 1 is only seen with text 12: its direction is the best match of 12 among content words
    centred = emb - emb.mean(0)
    sims = torch.nn.functional.cosine_similarity(centred[[10, 11, 12, 13]], d[1].expand(4, -1))
    assert int(sims.argmax()) == 2
    # hand computation: IDF over 5 text rows, row vectors, word mean minus the mean over rows
    idf = {5: np.log(6 / 6), 10: np.log(6 / 3), 11: np.log(6 / 2), 12: np.log(6 / 3), 13: np.log(6 / 2)}
    rows = [sum(idf[t] * emb[t] for t in r) / sum(idf[t] for t in r) for r in text_rows[:5]]
    want = (rows[2] + rows[3]) / 2 - torch.stack(rows).mean(0)
    torch.testing.assert_close(d[1], want / want.norm(), atol=1e-5, rtol=1e-5)
    # a word never seen with text gets no direction
    d2, seen2 = narration_directions(text_rows, visual_rows, emb, 4)
    assert seen2.tolist() == [True, True, True, False] and float(d2[3].abs().sum()) == 0.0


def test_narration_mix_moves_rows_towards_directions_at_the_text_radius() -> None:
    model_w0 = from_bert(None, V, config_overrides={"num_hidden_layers": 1}, seed=3)
    text_rows = [[2003, 3103], [2003, 3103], [2003, 4937]]  # "is sun", "is sun", "is cat"
    visual_rows = [[0], [0, 1], [2]]
    full = from_bert(None, V, config_overrides={"num_hidden_layers": 1}, seed=3,
                     narration=(text_rows, visual_rows), narration_weight=1.0)
    cfg = full.config
    text = full.bert.embeddings.word_embeddings.weight.detach()[: cfg.text_vocab_size]
    mean, radius = text.mean(0), (text - text.mean(0)).norm(dim=1).mean()
    rows = full.bert.embeddings.word_embeddings.weight.detach()[cfg.visual_offset :]
    d, seen = narration_directions(text_rows, visual_rows, text, V)
    torch.testing.assert_close(rows[:3], mean + d[:3] * radius, atol=1e-4, rtol=1e-4)
    # words the narration never covered keep their initial rows; weight 0 changes nothing
    base = model_w0.bert.embeddings.word_embeddings.weight.detach()[cfg.visual_offset :]
    torch.testing.assert_close(rows[3:], base[3:])
    with pytest.raises(ValueError, match="narration_weight"):
        from_bert(None, V, narration=(text_rows, visual_rows), narration_weight=1.5)
