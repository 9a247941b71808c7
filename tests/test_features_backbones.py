"""Backbones: registry metadata, weights loaded for real, features equal torchvision's own forward."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models import video as tvv
from torchvision.transforms._presets import ImageClassification, VideoClassification

from videobert.features.backbones.classical import DIM, classical_descriptor
from videobert.features.registry import (
    WeightsError,
    available_backbones,
    build_backbone,
    get_spec,
    load_state_dict_file,
)


def _clips(n: int, t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth-ish random RGB clips, uint8 (n, t, h, w, 3)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, t, h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    up = base.repeat(8, axis=2).repeat(8, axis=3)[:, :, :h, :w]
    noise = rng.normal(0, 12, size=up.shape)
    return np.clip(up + noise, 0, 255).astype(np.uint8)


def _pooled_hook(module: torch.nn.Module) -> list[torch.Tensor]:
    store: list[torch.Tensor] = []
    module.register_forward_hook(lambda _m, _i, out: store.append(out.detach()))
    return store


def test_registry_entries_and_enum_preprocessing():
    names = available_backbones()
    for name in ("s3d", "r2plus1d_18", "mvit_v2_s", "inception_v3", "classical"):
        assert name in names
    expected = {
        "s3d": (1024, tvv.S3D_Weights.DEFAULT),
        "r2plus1d_18": (512, tvv.R2Plus1D_18_Weights.DEFAULT),
        "mvit_v2_s": (768, tvv.MViT_V2_S_Weights.DEFAULT),
        "inception_v3": (2048, torchvision.models.Inception_V3_Weights.DEFAULT),
    }
    for name, (dim, weights) in expected.items():
        spec = get_spec(name)
        tf = weights.transforms()
        assert spec.dim == dim
        assert list(spec.mean) == pytest.approx(list(tf.mean))
        assert list(spec.std) == pytest.approx(list(tf.std))
        assert spec.crop_size[0] == list(tf.crop_size)[0]
        assert list(spec.resize_size) == list(tf.resize_size)
    assert get_spec("s3d").frames_per_clip == 30  # the paper: 30 frames at 20 fps
    assert get_spec("classical").dim == DIM
    with pytest.raises(Exception, match="unknown backbone"):
        get_spec("nope")


def test_s3d_equals_torchvision_forward_safetensors(tmp_path):
    torch.manual_seed(1)
    ref = tvv.s3d(weights=None).eval()
    path = tmp_path / "s3d.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))

    bb = build_backbone("s3d", weights=path, device="cpu", frames_per_clip=16)  # 16 frames: test speed
    assert bb.weights_source.startswith("file:")
    clips = _clips(1, 16, 240, 256, seed=2)
    ours = bb.embed(clips)
    assert ours.shape == (1, 1024)

    preset = VideoClassification(crop_size=(224, 224), resize_size=(256, 256))
    x = preset(
        torch.from_numpy(clips).permute(0, 1, 4, 2, 3).contiguous()
    )  # (N, T, H, W, 3) -> (N, T, 3, H, W)
    pooled = _pooled_hook(ref.avgpool)
    with torch.inference_mode():
        logits = ref(x)
    theirs = pooled[0].mean(dim=(2, 3, 4))  # head removed, pooled as torchvision does
    assert np.abs(ours - theirs.numpy()).max() < 1e-4
    # the head is linear: our feature through the classifier gives torchvision's logits
    conv = ref.classifier[1]
    head = torch.from_numpy(ours) @ conv.weight.flatten(1).T + conv.bias  # (N, 1024) @ (1024, 400)
    assert torch.allclose(head, logits, atol=1e-3)


def test_r2plus1d_equals_torchvision_forward_pth(tmp_path):
    torch.manual_seed(2)
    ref = tvv.r2plus1d_18(weights=None).eval()
    path = tmp_path / "r21d.pth"
    torch.save(ref.state_dict(), path)

    bb = build_backbone("r2plus1d_18", weights=str(path), device="cpu", crop_size=32)
    clips = _clips(2, 30, 40, 56, seed=3)
    ours = bb.embed(clips)
    assert ours.shape == (2, 512)

    idx = ((np.arange(16) + 0.5) * 30 / 16).astype(int)  # 16 evenly spaced frames of 30
    preset = VideoClassification(crop_size=(32, 32), resize_size=bb.resize_size)
    x = preset(
        torch.from_numpy(clips[:, idx]).permute(0, 1, 4, 2, 3).contiguous()
    )  # (N, 16, H, W, 3) -> (N, 16, 3, H, W)
    pooled = _pooled_hook(ref.avgpool)
    with torch.inference_mode():
        logits = ref(x)
    theirs = pooled[0].flatten(1)  # (N, 512, 1, 1, 1) -> (N, 512)
    assert np.abs(ours - theirs.numpy()).max() < 1e-4
    assert torch.allclose(ref.fc(torch.from_numpy(ours)), logits, atol=1e-3)


def test_inception_equals_torchvision_per_frame_mean_pth(tmp_path):
    torch.manual_seed(3)
    ref = torchvision.models.inception_v3(
        weights=None, aux_logits=True, transform_input=True, init_weights=False
    )
    ref.eval()
    path = tmp_path / "inc.pth"
    torch.save(ref.state_dict(), path)  # includes AuxLogits, as torchvision's file does

    bb = build_backbone("inception_v3", weights=path, device="cpu", crop_size=80)
    clips = _clips(1, 30, 88, 104, seed=4)
    ours = bb.embed(clips)
    assert ours.shape == (1, 2048)

    k = get_spec("inception_v3").frames_per_clip
    idx = ((np.arange(k) + 0.5) * 30 / k).astype(int)
    frames = torch.from_numpy(clips[0, idx]).permute(0, 3, 1, 2)  # (k, H, W, 3) -> (k, 3, H, W)
    x = ImageClassification(crop_size=80, resize_size=bb.resize_size[0])(frames)
    pooled = _pooled_hook(ref.avgpool)
    with torch.inference_mode():
        logits = ref(x)  # (k, 1000)
    theirs = pooled[0].flatten(1).mean(dim=0)  # (k, 2048, 1, 1) -> (k, 2048) -> (2048,)
    assert np.abs(ours[0] - theirs.numpy()).max() < 1e-4
    assert torch.allclose(ref.fc(torch.from_numpy(ours[0])), logits.mean(0), atol=1e-3)


class _NotATensor:
    pass


def test_weights_errors(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="not both"):
        build_backbone("r2plus1d_18", weights="x.pth", random_weights=True)
    with pytest.raises(WeightsError, match="not found"):
        build_backbone("r2plus1d_18", weights=tmp_path / "missing.pth")
    wrong = tmp_path / "s3d.pth"
    torch.save(tvv.s3d(weights=None).state_dict(), wrong)
    with pytest.raises(WeightsError, match=r"s3d\.pth.*do not fit r2plus1d_18"):
        build_backbone("r2plus1d_18", weights=wrong)
    evil = tmp_path / "evil.pth"
    torch.save({"w": _NotATensor()}, evil)
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_state_dict_file(evil)

    # no silent random fallback: an unavailable download says how to pass a local file
    def offline(*_a, **_k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="--weights PATH"):
        build_backbone("r2plus1d_18")
    with pytest.raises(WeightsError, match="unknown weights"):
        build_backbone("r2plus1d_18", weights="NOT_A_MEMBER")
    # random weights only by name, and reproducible
    a = build_backbone("r2plus1d_18", random_weights=True, crop_size=16)
    b = build_backbone("r2plus1d_18", random_weights=True, crop_size=16)
    assert a.weights_source.startswith("random")
    sa, sb = a.module.state_dict(), b.module.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def _square_clip(
    dx: float, dy: float, colour=(220, 40, 40), t: int = 10, h: int = 72, w: int = 96
) -> torch.Tensor:
    """A square on grey moving (dx, dy) pixels per frame: float (1, t, 3, h, w) in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.full((t, h, w, 3), 110, dtype=np.float32)
    for i in range(t):
        cx, cy = 30 + dx * i, 30 + dy * i
        mask = (np.abs(xx - cx) < 9) & (np.abs(yy - cy) < 9)
        out[i][mask] = colour
    x = torch.from_numpy(out / 255.0).permute(0, 3, 1, 2)  # (t, h, w, 3) -> (t, 3, h, w)
    return x.unsqueeze(0)


def test_classical_descriptor_motion_and_colour():
    right = classical_descriptor(_square_clip(2, 0))
    left = classical_descriptor(_square_clip(-2, 0))
    down = classical_descriptor(_square_clip(0, 2))
    still = classical_descriptor(_square_clip(0, 0))
    blue = classical_descriptor(_square_clip(2, 0, colour=(40, 40, 220)))
    assert right.shape == (1, DIM)
    assert torch.allclose(right.norm(dim=1), torch.ones(1), atol=1e-5)
    hof = slice(
        DIM - 64, DIM - 56
    )  # global flow-orientation histogram, 8 signed bins from angle 0 (rightwards)
    assert int(right[0, hof].argmax()) in (0, 7)
    assert int(left[0, hof].argmax()) in (3, 4)
    assert int(down[0, hof].argmax()) in (1, 2)  # image y grows downwards
    assert float(still[0, hof].abs().sum()) < 1e-3
    # same motion, other colour: the motion blocks agree, the colour blocks do not
    motion = slice(DIM - 64, DIM)
    colour = slice(64, 128)
    cos = torch.nn.functional.cosine_similarity
    assert cos(right[:, motion], blue[:, motion]).item() > 0.95
    assert cos(right[:, colour], blue[:, colour]).item() < 0.9
    assert cos(right[:, motion], left[:, motion]).item() < cos(right[:, motion], blue[:, motion]).item()
    assert not math.isnan(float(still.sum()))


def _shape_clip(shape: str, cx: int, cy: int, r: int, h: int = 96, w: int = 128) -> torch.Tensor:
    """A still shape (``square`` or ``disc``) of half-size ``r``: float (1, 4, 3, h, w) in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (
        (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
        if shape == "square"
        else (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    )
    img = np.full((h, w, 3), 225, dtype=np.float32)
    img[mask] = (40, 160, 60)
    x = torch.from_numpy(np.repeat(img[None] / 255.0, 4, axis=0)).permute(
        0, 3, 1, 2
    )  # (4, h, w, 3) -> (4, 3, h, w)
    return x.unsqueeze(0)


def test_classical_object_block_is_position_and_size_invariant():
    obj = slice(128, 236)  # the object-silhouette block
    small_sq = classical_descriptor(_shape_clip("square", 30, 30, 6))[:, obj]
    big_sq = classical_descriptor(_shape_clip("square", 90, 60, 12))[:, obj]
    disc = classical_descriptor(_shape_clip("disc", 30, 30, 7))[:, obj]
    cos = torch.nn.functional.cosine_similarity
    assert cos(small_sq, big_sq).item() > 0.97
    assert cos(small_sq, disc).item() < cos(small_sq, big_sq).item() - 0.02
