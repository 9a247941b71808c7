"""torchvision video backbones: S3D (the paper's feature), R(2+1)D-18 and MViT-v2-S.

Each returns the pooled representation just before the classifier:

* ``s3d``: ``features`` -> ``avgpool`` (3D, kernel (2, 7, 7)) -> mean over (T', H', W'),
  1024-d. torchvision's own forward applies the 1x1x1-conv classifier between the avgpool and the
  mean; both are linear, so ``classifier(feature) == model(x)``.
* ``r2plus1d_18``: stem -> layer1..4 -> adaptive avgpool -> flatten, 512-d.
* ``mvit_v2_s``: blocks -> norm -> class token, 768-d (fixed input 16 x 224 x 224).

Preprocessing is torchvision's ``VideoClassification`` preset (resize without antialias,
centre crop, [0, 1], mean/std) with the sizes and statistics of the weight enum.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision.models import video as tvv

from videobert.features.registry import (
    Backbone,
    BackboneSpec,
    register_backbone,
    transforms_params,
)


class TorchvisionVideoBackbone(Backbone):
    """A torchvision 3D video network with its head removed; input (N, 3, T, h, w)."""

    def prepare(self, clips: np.ndarray) -> torch.Tensor:
        """(N, T, H, W, 3) uint8 RGB -> float32 (N, 3, k, h, w) normalised, k = frames_per_clip."""
        # torchvision's video transforms resize without antialiasing
        x = self.normalised_frames(clips, antialias=False)  # (N, k, 3, h, w)
        return x.permute(0, 2, 1, 3, 4).contiguous()  # (N, k, 3, h, w) -> (N, 3, k, h, w)


class _S3DFeatures(nn.Module):
    """S3D without its classifier: ``features`` -> ``avgpool`` -> mean over (T', H', W')."""

    def __init__(self, model: tvv.S3D) -> None:
        super().__init__()
        self.features = model.features
        self.avgpool = model.avgpool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> (N, 1024)."""
        x = self.avgpool(self.features(x))  # (N, 1024, T', H', W')
        return torch.mean(x, dim=(2, 3, 4))


def _build_s3d(spec: BackboneSpec, crop: tuple[int, int]) -> nn.Module:
    return _S3DFeatures(tvv.s3d(weights=None))


def _build_r2plus1d(spec: BackboneSpec, crop: tuple[int, int]) -> nn.Module:
    model = tvv.r2plus1d_18(weights=None)
    model.fc = nn.Identity()
    return model


def _build_mvit(spec: BackboneSpec, crop: tuple[int, int]) -> nn.Module:
    model = tvv.mvit_v2_s(weights=None)
    model.head = nn.Identity()
    return model



def _decode_size(resize: tuple[int, ...]) -> int | tuple[int, int]:
    return resize[0] if len(resize) == 1 else (resize[0], resize[1])


_S3D = transforms_params(tvv.S3D_Weights.DEFAULT)
register_backbone(
    BackboneSpec(
        name="s3d",
        dim=1024,
        kind="video",
        frames_per_clip=30,
        decode_size=_decode_size(_S3D["resize_size"]),
        builder=_build_s3d,
        weights_enum="torchvision.models.video.S3D_Weights",
        default_weights="KINETICS400_V1",
        min_crop=(224, 224),
        description="S3D (Kinetics-400), 1024-d pooled before the classifier; the paper's feature",
        extra={"ignore_prefixes": ("classifier.",)},
        **_S3D,
    )
)

_R21 = transforms_params(tvv.R2Plus1D_18_Weights.DEFAULT)
register_backbone(
    BackboneSpec(
        name="r2plus1d_18",
        dim=512,
        kind="video",
        frames_per_clip=16,
        decode_size=_decode_size(_R21["resize_size"]),
        builder=_build_r2plus1d,
        weights_enum="torchvision.models.video.R2Plus1D_18_Weights",
        default_weights="KINETICS400_V1",
        min_crop=(16, 16),
        description="R(2+1)D-18 (Kinetics-400), 512-d after global average pooling",
        extra={"ignore_prefixes": ("fc.",)},
        **_R21,
    )
)

_MVIT = transforms_params(tvv.MViT_V2_S_Weights.DEFAULT)
register_backbone(
    BackboneSpec(
        name="mvit_v2_s",
        dim=768,
        kind="video",
        frames_per_clip=16,
        decode_size=_decode_size(_MVIT["resize_size"]),
        builder=_build_mvit,
        weights_enum="torchvision.models.video.MViT_V2_S_Weights",
        default_weights="KINETICS400_V1",
        min_crop=(224, 224),
        fixed_input=True,
        description="MViT-v2-S (Kinetics-400), 768-d class token (input fixed at 16 x 224 x 224)",
        extra={"ignore_prefixes": ("head.",)},
        **_MVIT,
    )
)
