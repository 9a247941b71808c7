"""An offline, weight-free clip descriptor of colour, shape and motion (HOG/HOF in spirit).

No network weights can be fetched here, so the demo's visual words are built from this descriptor.
It must tell objects (shape, colour) and actions (motion) apart. On ``frames_per_clip`` (10)
evenly spaced frames of a clip, resized to 96 x 128 pixels, it computes seven blocks, each
L2-normalised (histograms after a square root, i.e. Hellinger), multiplied by its weight in
:data:`BLOCK_WEIGHTS`, concatenated and scaled to unit norm (DIM = 364):

==========  ====  ===========================================================================
block       dims  content
==========  ====  ===========================================================================
colour        64  joint RGB histogram (4 x 4 x 4 levels), every other frame
fg colour     64  the same over foreground pixels (colour far from the clip's border median)
object       108  the foreground silhouette, centred and scaled to its radius of gyration:
                  6 x 6 occupancy (36) + HOG, 8 unsigned orientations x 3 x 3 cells (72)
scene         32  HOG of the middle frame, 8 unsigned orientations x 2 x 2 cells
layout        32  foreground occupancy (4 x 4 cells), frame-difference energy (4 x 4 cells)
flow          40  HOF: Lucas-Kanade flow orientation (8 signed bins, magnitude-weighted), global
                  and per 2 x 2 quadrant
dynamics      24  per-step mean flow (u, v), divergence, curl, energy: mean / std / mean |.|
                  (15), sign changes of u and v (2), energy profile over the steps (6),
                  log total motion (1)
==========  ====  ===========================================================================

The weights decide what visual words (k-means on this vector) are made of. Equal weights let the
two colour histograms dominate the distances, so words split by colour and mix actions and
objects (on the built-in corpus, 144 words: colour purity 0.99, verb 0.61, noun 0.46; a naive
Bayes classifier from a segment's words to its noun was right 22% of the time). The weights
favour the object's silhouette and the motion, as a video CNN trained on actions would, and keep
the object's colour (fg colour) over the background's (colour, scene): verb 0.63, noun 0.64,
colour 0.57 by the same classifier.

Flow is estimated by Lucas-Kanade least squares over 4 x 4 windows at half resolution
(48 x 64) between consecutive selected frames (0.15 s apart for 20 fps x 30-frame clips).
Translation (slide, lift, drop), rotation (curl: spin), scaling (divergence: grow, shrink),
oscillation (sign changes: shake) and appearance changes without flow (blink) all leave a
distinct trace.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from videobert.features.registry import Backbone, BackboneSpec, register_backbone

DIM = 64 + 64 + 108 + 32 + 32 + 40 + 24
#: Weight of each block (colour, fg colour, object, scene, layout, flow, dynamics); see above.
BLOCK_WEIGHTS: tuple[float, ...] = (0.4, 0.7, 2.5, 0.3, 0.8, 1.0, 1.0)
_CROP = 24  # object crop side (pixels) for the silhouette
_FG_THRESH = 0.12  # colour distance (RGB in [0, 1]) from the border median that counts as foreground
_EPS = 1e-6


def _l2(x: torch.Tensor) -> torch.Tensor:
    """Row-wise L2 normalisation of (N, D)."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(_EPS)


def _hist_rgb(q: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Joint histogram of quantised colours.

    Args:
        q: long (N, P) colour index in [0, 64).
        weight: float (N, P) pixel weights.
    Returns:
        float (N, 64) weighted counts.
    """
    out = torch.zeros(q.shape[0], 64, dtype=weight.dtype)
    return out.scatter_add_(1, q, weight)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB -> (..., H, W) luma."""
    return 0.299 * x[..., 0, :, :] + 0.587 * x[..., 1, :, :] + 0.114 * x[..., 2, :, :]


def _cell_pool(x: torch.Tensor, cells: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, ch, cw): mean over each of ch x cw spatial cells."""
    return F.adaptive_avg_pool2d(x, cells)


def _orient_hist(
    angle: torch.Tensor, mag: torch.Tensor, bins: int, period: float, cells: tuple[int, int]
) -> torch.Tensor:
    """Magnitude-weighted orientation histograms with linear interpolation between bins.

    Args:
        angle, mag: float (N, H, W) orientation (radians, in [0, period)) and weight.
        bins: orientation bins; period: pi (unsigned) or 2 pi (signed).
        cells: spatial cells (ch, cw).
    Returns:
        float (N, bins * ch * cw), cell-major (bins vary fastest).
    """
    pos = angle / period * bins - 0.5
    lo = torch.floor(pos)
    frac = pos - lo
    lo = lo.long() % bins
    hi = (lo + 1) % bins
    n, h, w = angle.shape
    onehot = torch.zeros(n, bins, h, w, dtype=mag.dtype)
    onehot.scatter_add_(1, lo.unsqueeze(1), (mag * (1 - frac)).unsqueeze(1))
    onehot.scatter_add_(1, hi.unsqueeze(1), (mag * frac).unsqueeze(1))
    pooled = _cell_pool(onehot, cells)  # (N, bins, ch, cw)
    return pooled.permute(0, 2, 3, 1).reshape(n, -1)  # (N, bins, ch, cw) -> (N, ch*cw*bins)


def _lucas_kanade(
    i0: torch.Tensor, i1: torch.Tensor, win: int = 4
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares flow per ``win`` x ``win`` window.

    Args:
        i0, i1: float (M, H, W) consecutive grey frames in [0, 1].
    Returns:
        u, v: float (M, H//win, W//win) flow in pixels of the input resolution per step;
        valid: float (M, H//win, W//win), 1 where the window is well conditioned.
    """
    m = i0.unsqueeze(1)  # (M, H, W) -> (M, 1, H, W)
    n1 = i1.unsqueeze(1)  # (M, H, W) -> (M, 1, H, W)
    avg = 0.5 * (m + n1)
    ix = torch.zeros_like(avg)
    iy = torch.zeros_like(avg)
    ix[..., :, 1:-1] = 0.5 * (avg[..., :, 2:] - avg[..., :, :-2])
    iy[..., 1:-1, :] = 0.5 * (avg[..., 2:, :] - avg[..., :-2, :])
    it = n1 - m
    prods = torch.cat([ix * ix, ix * iy, iy * iy, ix * it, iy * it], dim=1)  # (M, 5, H, W)
    s = F.avg_pool2d(prods, win)  # (M, 5, H/win, W/win)
    sxx, sxy, syy, sxt, syt = s.unbind(1)
    det = sxx * syy - sxy * sxy
    trace = sxx + syy
    min_eig = 0.5 * (trace - torch.sqrt((sxx - syy) ** 2 + 4 * sxy * sxy))
    valid = (min_eig > 1e-5).to(i0.dtype)
    safe = torch.where(valid > 0, det, torch.ones_like(det))
    u = (-syy * sxt + sxy * syt) / safe * valid
    v = (sxy * sxt - sxx * syt) / safe * valid
    return u.clamp(-4, 4), v.clamp(-4, 4), valid


def _object_shape(fg: torch.Tensor) -> torch.Tensor:
    """Silhouette of the foreground object, normalised for position and size, averaged over frames.

    Each frame's foreground mask is resampled (bilinear) in a square window centred on the mask's
    centroid with half-side 2.2 x its radius of gyration, to ``_CROP`` x ``_CROP`` pixels; the
    descriptor is the silhouette pooled to 6 x 6 cells (36) and a HOG of the silhouette (8
    unsigned orientations x 3 x 3 cells, 72), both square-rooted, averaged over frames that show
    an object (>= 6 foreground pixels).

    Args:
        fg: float (N, k, H, W) foreground masks in {0, 1}.
    Returns:
        float (N, 108).
    """
    n, k, h, w = fg.shape
    m = fg.reshape(n * k, h, w)  # (N, k, H, W) -> (N*k, H, W)
    ys = torch.arange(h, dtype=fg.dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=fg.dtype).view(1, 1, w)
    mass = m.sum(dim=(1, 2))
    safe = mass.clamp_min(1.0)
    cx = (m * xs).sum(dim=(1, 2)) / safe
    cy = (m * ys).sum(dim=(1, 2)) / safe
    var = (m * ((xs - cx.view(-1, 1, 1)) ** 2 + (ys - cy.view(-1, 1, 1)) ** 2)).sum(dim=(1, 2)) / safe
    r = (2.2 * var.sqrt()).clamp_min(3.0)
    theta = torch.zeros(n * k, 2, 3, dtype=fg.dtype)
    theta[:, 0, 0] = r * 2 / w
    theta[:, 1, 1] = r * 2 / h
    theta[:, 0, 2] = (2 * cx + 1) / w - 1
    theta[:, 1, 2] = (2 * cy + 1) / h - 1
    grid = F.affine_grid(theta, [n * k, 1, _CROP, _CROP], align_corners=False)
    crop = F.grid_sample(m.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    crop = crop.squeeze(1)  # (N*k, 1, C, C) -> (N*k, C, C)
    sil = F.adaptive_avg_pool2d(crop.unsqueeze(1), (6, 6)).reshape(n * k, 36)  # (N*k, 1, 6, 6) -> (N*k, 36)
    gx = torch.zeros_like(crop)
    gy = torch.zeros_like(crop)
    gx[:, :, 1:-1] = crop[:, :, 2:] - crop[:, :, :-2]
    gy[:, 1:-1, :] = crop[:, 2:, :] - crop[:, :-2, :]
    hog = _orient_hist(
        torch.remainder(torch.atan2(gy, gx), math.pi), torch.sqrt(gx * gx + gy * gy), 8, math.pi, (3, 3)
    )
    feats = torch.cat([sil.sqrt(), hog.sqrt()], dim=1).view(n, k, -1)  # (N*k, 108) -> (N, k, 108)
    present = (mass >= 6).to(fg.dtype).view(n, k, 1)
    return (feats * present).sum(dim=1) / present.sum(dim=1).clamp_min(1.0)


def classical_descriptor(frames: torch.Tensor) -> torch.Tensor:
    """The colour / shape / motion descriptor of a batch of clips.

    Args:
        frames: float32 (N, k, 3, H, W) RGB in [0, 1] (k >= 2 selected frames; H, W divisible by 8).
    Returns:
        float32 (N, DIM) unit-norm descriptors (DIM = 364).
    """
    n, k, c, h, w = frames.shape
    # --- colour -------------------------------------------------------------------------------
    q = (frames[:, ::2].clamp(0, 1 - 1e-6) * 4).long()  # (N, k/2, 3, H, W) levels 0..3, every other frame
    qidx = (q[:, :, 0] * 16 + q[:, :, 1] * 4 + q[:, :, 2]).reshape(n, -1)  # (N, k/2, H, W) -> (N, k/2*H*W)
    ones = torch.ones(qidx.shape, dtype=frames.dtype)
    colour = _hist_rgb(qidx, ones).sqrt()
    border = torch.cat(
        [frames[..., 0, :], frames[..., -1, :], frames[..., :, 0], frames[..., :, -1]], dim=-1
    )[..., ::3]  # (N, k, 3, P): every 3rd border pixel
    bg = (
        border.permute(0, 2, 1, 3).reshape(n, c, -1).median(dim=2).values
    )  # (N, k, 3, P) -> (N, 3, k*P) -> (N, 3)
    dist = (frames - bg.view(n, 1, c, 1, 1)).abs().amax(dim=2)  # (N, k, H, W)
    fg = (dist > _FG_THRESH).to(frames.dtype)
    fg_colour = _hist_rgb(qidx, fg[:, ::2].reshape(n, -1)).sqrt()  # (N, k/2, H, W) -> (N, k/2*H*W)

    # --- shape: the object's silhouette (translation- and scale-normalised) and the scene ----------
    obj_shape = _object_shape(fg)
    med = _gray(frames[:, k // 2])  # (N, H, W) the middle frame
    gx = torch.zeros_like(med)
    gy = torch.zeros_like(med)
    gx[:, :, 1:-1] = med[:, :, 2:] - med[:, :, :-2]
    gy[:, 1:-1, :] = med[:, 2:, :] - med[:, :-2, :]
    mag = torch.sqrt(gx * gx + gy * gy)
    ang = torch.remainder(torch.atan2(gy, gx), math.pi)
    scene = _orient_hist(ang, mag, 8, math.pi, (2, 2)).sqrt()

    # --- motion (at half resolution) ------------------------------------------------------------
    half = F.avg_pool2d(frames.reshape(n * k, c, h, w), 2)  # (N, k, 3, H, W) -> (N*k, 3, H/2, W/2)
    gray = _gray(half).view(n, k, h // 2, w // 2)  # (N*k, H/2, W/2) -> (N, k, H/2, W/2)
    small = gray.reshape(n * k, 1, h // 2, w // 2)  # (N, k, H/2, W/2) -> (N*k, 1, H/2, W/2)
    small = F.avg_pool2d(F.pad(small, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # blur, same size
    hs, ws = small.shape[-2:]
    small = small.view(n, k, hs, ws)  # (N*k, 1, hs, ws) -> (N, k, hs, ws)
    i0 = small[:, :-1].reshape(-1, hs, ws)  # (N, k-1, hs, ws) -> (N*(k-1), hs, ws)
    i1 = small[:, 1:].reshape(-1, hs, ws)  # (N, k-1, hs, ws) -> (N*(k-1), hs, ws)
    u, v, valid = _lucas_kanade(i0, i1)  # (N*(k-1), gh, gw)
    gh, gw = u.shape[-2:]
    fmag = torch.sqrt(u * u + v * v)
    fang = torch.remainder(torch.atan2(v, u), 2 * math.pi)
    hof_g = _orient_hist(fang, fmag, 8, 2 * math.pi, (1, 1))  # (N*(k-1), 8)
    hof_q = _orient_hist(fang, fmag, 8, 2 * math.pi, (2, 2))  # (N*(k-1), 32)
    hof = torch.cat([hof_g, hof_q], dim=1).view(n, k - 1, -1).mean(dim=1).sqrt()  # (N*(k-1), 40) -> (N, 40)

    energy_map = (gray[:, 1:] - gray[:, :-1]).abs()  # (N, k-1, H/2, W/2)
    energy = energy_map.mean(dim=(2, 3))  # (N, k-1)
    layout = torch.cat(
        [
            _cell_pool(fg.mean(dim=1, keepdim=True), (4, 4)).reshape(n, 16),  # (N, 1, 4, 4) -> (N, 16)
            _cell_pool(energy_map.mean(dim=1, keepdim=True), (4, 4))
            .reshape(n, 16)
            .sqrt(),  # (N, 1, 4, 4) -> (N, 16)
        ],
        dim=1,
    )

    moving = (fmag > 0.05).to(u.dtype) * valid  # windows with motion
    wsum = moving.sum(dim=(1, 2)).clamp_min(1.0)
    mu = (u * moving).sum(dim=(1, 2)) / wsum
    mv = (v * moving).sum(dim=(1, 2)) / wsum
    dudx = torch.zeros_like(u)
    dvdy = torch.zeros_like(v)
    dvdx = torch.zeros_like(v)
    dudy = torch.zeros_like(u)
    dudx[:, :, 1:-1] = 0.5 * (u[:, :, 2:] - u[:, :, :-2])
    dvdx[:, :, 1:-1] = 0.5 * (v[:, :, 2:] - v[:, :, :-2])
    dudy[:, 1:-1, :] = 0.5 * (u[:, 2:, :] - u[:, :-2, :])
    dvdy[:, 1:-1, :] = 0.5 * (v[:, 2:, :] - v[:, :-2, :])
    div = ((dudx + dvdy) * moving).sum(dim=(1, 2)) / wsum
    curl = ((dvdx - dudy) * moving).sum(dim=(1, 2)) / wsum
    per_step = torch.stack([mu, mv, div * 4, curl * 4, energy.reshape(-1) * 20], dim=1)  # (N*(k-1), 5)
    per_step = per_step.view(n, k - 1, 5)  # (N*(k-1), 5) -> (N, k-1, 5)
    sgn = torch.sign(per_step[:, :, :2])
    flips = (sgn[:, 1:] * sgn[:, :-1] < 0).to(frames.dtype).mean(dim=1) if k > 2 else torch.zeros(n, 2)
    profile = F.adaptive_avg_pool1d(energy.unsqueeze(1), 6).squeeze(1)  # (N, 1, k-1) -> (N, 6)
    profile = profile / profile.sum(dim=1, keepdim=True).clamp_min(_EPS)
    total = torch.log1p(energy.mean(dim=1, keepdim=True) * 100)
    dynamics = torch.cat(
        [
            per_step.mean(dim=1),
            per_step.std(dim=1, unbiased=False),
            per_step.abs().mean(dim=1),
            flips,
            profile,
            total,
        ],
        dim=1,
    )

    blocks = [colour, fg_colour, obj_shape, scene, layout, hof, dynamics]
    norm = math.sqrt(sum(w * w for w in BLOCK_WEIGHTS))
    out = torch.cat([_l2(b) * (w / norm) for b, w in zip(blocks, BLOCK_WEIGHTS, strict=True)], dim=1)
    return out


class ClassicalBackbone(Backbone):
    """Weight-free colour / shape / motion descriptor; the work happens in :meth:`prepare`."""

    def prepare(self, clips: np.ndarray) -> torch.Tensor:
        """(N, T, H, W, 3) uint8 RGB -> float32 (N, DIM) descriptors (computed on the CPU)."""
        x = self.select_frames(clips)
        n, k, c, h, w = x.shape
        x = x.reshape(n * k, c, h, w)  # (N, k, 3, H, W) -> (N*k, 3, H, W)
        ch, cw = self.crop_size
        if (h, w) != (ch, cw):
            x = F.interpolate(x.float(), size=(ch, cw), mode="bilinear", align_corners=False, antialias=True)
            x = x.clamp(0, 255)
        x = x.float().div(255.0).view(n, k, c, ch, cw)  # (N*k, 3, h, w) -> (N, k, 3, h, w)
        return classical_descriptor(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Identity: the descriptor is final. (N, DIM) -> (N, DIM) float32."""
        return x.float()


def _factory(spec, device, crop, resize) -> Backbone:  # noqa: ANN001
    return ClassicalBackbone(spec, None, "none (weight-free descriptor)", torch.device("cpu"), crop, resize)


register_backbone(
    BackboneSpec(
        name="classical",
        dim=DIM,
        kind="classical",
        frames_per_clip=10,
        resize_size=(96, 128),
        crop_size=(96, 128),
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        decode_size=(96, 128),
        min_crop=(16, 16),
        description="offline colour + HOG + optical-flow (HOF) descriptor, no weights (the demo's feature)",
        extra={"factory": _factory},
    )
)
