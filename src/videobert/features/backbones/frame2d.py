"""2D image backbones applied per frame and mean-pooled over the clip (the seed article's Inception v3).

``inception_v3``: torchvision Inception v3 (ImageNet), the 2048-d average-pooled output before
dropout and ``fc``, computed on ``frames_per_clip`` evenly spaced frames of each clip and averaged.
Like torchvision's pretrained model it is built with ``transform_input=True`` (the network re-maps
ImageNet-normalised input to its own (x - 0.5) / 0.5 normalisation). Preprocessing is the weight
enum's ``ImageClassification`` preset: resize (bilinear, antialias), centre crop, mean/std.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision import models as tvm

from videobert.features.registry import (
    Backbone,
    BackboneSpec,
    register_backbone,
    transforms_params,
)


class FrameMeanBackbone(Backbone):
    """A 2D network run on each selected frame; the clip's feature is the mean over its frames."""

    def prepare(self, clips: np.ndarray) -> torch.Tensor:
        """(N, T, H, W, 3) uint8 RGB -> float32 (N, k, 3, h, w) normalised, k = frames_per_clip."""
        return self.normalised_frames(clips, antialias=True)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, k, 3, h, w) -> float32 (N, D): per-frame features, mean over the k frames."""
        n, k = x.shape[:2]
        y = super().forward(x.flatten(0, 1))  # (N, k, 3, h, w) -> (N*k, 3, h, w); -> (N*k, D)
        return y.view(n, k, -1).mean(dim=1)  # (N*k, D) -> (N, k, D) -> (N, D)


def _build_inception(spec: BackboneSpec, crop: tuple[int, int]) -> nn.Module:
    model = tvm.inception_v3(weights=None, aux_logits=False, transform_input=True, init_weights=False)
    model.fc = nn.Identity()
    return model



_INC = transforms_params(tvm.Inception_V3_Weights.DEFAULT)
register_backbone(
    BackboneSpec(
        name="inception_v3",
        dim=2048,
        kind="frame",
        frames_per_clip=5,
        decode_size=_INC["resize_size"][0],
        builder=_build_inception,
        weights_enum="torchvision.models.Inception_V3_Weights",
        default_weights="IMAGENET1K_V1",
        min_crop=(75, 75),
        description="Inception v3 (ImageNet), 2048-d per frame, mean over 5 frames per clip",
        extra={"ignore_prefixes": ("fc.", "AuxLogits.")},
        **_INC,
    )
)
