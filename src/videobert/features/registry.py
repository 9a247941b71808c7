"""Backbone registry: every clip-feature backbone registered once, with its preprocessing.

A :class:`BackboneSpec` says how to build a backbone and how to feed it: how many frames it takes
from each pipeline clip (temporal subsampling of the clip's frames), the resize / centre-crop
sizes, the mean/std (taken from torchvision's weight enum, so normalisation cannot drift), the
output dimension and where its weights come from. :func:`build_backbone` turns a spec into a
ready :class:`Backbone` with weights loaded *for real*:

* ``weights=None`` or ``"DEFAULT"``: torchvision's weight enum (its cached download in
  ``$TORCH_HOME`` where a network exists); a failed download raises :class:`WeightsError` saying
  how to pass a local file.
* ``weights=PATH``: a torchvision-format ``state_dict`` read with safetensors (``.safetensors``)
  or ``torch.load(weights_only=True)`` (anything else), loaded strictly.
* ``random_weights=True``: seeded random weights, only when asked for by name (tests).

The pipeline's clip grid (``ClipSpec``, default 20 fps x 30 frames = 1.5 s) is independent of a
backbone's own input: :meth:`Backbone.prepare` subsamples each clip's frames to
``spec.frames_per_clip`` (evenly spaced, centred) before the backbone's own transform.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videobert.errors import VideoBertError
from videobert.utils.registry import Registry
from videobert.utils.runtime import env_int, resolve_device

log = logging.getLogger(__name__)

#: Modules that register backbones when imported.
BACKBONE_MODULES: tuple[str, ...] = (
    "videobert.features.backbones.torchvision_video",
    "videobert.features.backbones.frame2d",
    "videobert.features.backbones.classical",
)

RANDOM_WEIGHTS_SEED = 0


class WeightsError(VideoBertError):
    """Backbone weights that cannot be obtained or do not fit the architecture."""


class UnknownBackboneError(VideoBertError):
    """A backbone name that is not registered."""


@dataclass(frozen=True)
class BackboneSpec:
    """How to build and feed one backbone.

    Attributes:
        name: registry key (``"s3d"``).
        dim: output feature dimension D.
        kind: ``"video"`` (clip -> 3D CNN / transformer), ``"frame"`` (2D CNN per frame, mean-pooled
            over the clip) or ``"classical"`` (weight-free descriptor); the kind picks how clips are
            fed (``extra["factory"]`` may override it).
        frames_per_clip: frames the backbone takes from each pipeline clip (evenly subsampled).
        resize_size: torchvision ``resize_size`` (one int: short side; two ints: (h, w)), pixels.
        crop_size: centre-crop (h, w) in pixels, the network's input size.
        mean, std: per-channel normalisation of [0, 1] RGB.
        decode_size: size frames are decoded at (``iter_clips(size=...)``): short side int,
            (h, w), or None for the native size; chosen so the resize above is (near) a no-op.
        builder: ``builder(spec, crop_size) -> torch.nn.Module`` with its head removed, so that
            ``module(x)`` gives (N, D) for video kinds and (N*T, D) per frame for ``"frame"``.
        weights_enum: ``"torchvision.models.video.S3D_Weights"`` style dotted path, or None.
        default_weights: enum member used for ``weights=None`` / ``"DEFAULT"``.
        min_crop: smallest crop (h, w) the architecture accepts.
        fixed_input: True when the architecture only accepts exactly ``crop_size`` x ``frames_per_clip``.
        description: one line for ``--help``.
    """

    name: str
    dim: int
    kind: str
    frames_per_clip: int
    resize_size: tuple[int, ...]
    crop_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    decode_size: int | tuple[int, int] | None
    builder: Callable[..., Any] | None = None
    weights_enum: str | None = None
    default_weights: str | None = None
    min_crop: tuple[int, int] = (1, 1)
    fixed_input: bool = False
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """JSON-able summary (for ``features/<backbone>/info.json``)."""
        return {
            "backbone": self.name,
            "dim": self.dim,
            "kind": self.kind,
            "frames_per_clip": self.frames_per_clip,
            "resize_size": list(self.resize_size),
            "crop_size": list(self.crop_size),
            "mean": list(self.mean),
            "std": list(self.std),
            "weights_enum": self.weights_enum,
            "default_weights": self.default_weights,
        }


_BACKBONES: Registry[BackboneSpec] = Registry("backbone", BACKBONE_MODULES, error=UnknownBackboneError)
register_backbone = _BACKBONES.register  # (spec) -> spec; a name may be registered only once
available_backbones = _BACKBONES.names  # () -> names, in registration order
get_spec = _BACKBONES.get  # (name) -> BackboneSpec; an unknown name suggests the closest


def transforms_params(weights: Any) -> dict[str, Any]:
    """``crop_size``, ``resize_size``, ``mean``, ``std`` of a torchvision weight's preset transform."""
    tf = weights.transforms()
    crop = tuple(int(v) for v in tf.crop_size)
    return {
        "crop_size": crop if len(crop) == 2 else (crop[0], crop[0]),
        "resize_size": tuple(int(v) for v in tf.resize_size),
        "mean": tuple(float(v) for v in tf.mean),
        "std": tuple(float(v) for v in tf.std),
    }


def resolve_enum(dotted: str) -> Any:
    """Import a weight enum class from its dotted path."""
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def select_frames(n_frames: int, k: int) -> np.ndarray:
    """Indices of ``k`` evenly spaced frames (centred in equal segments) out of ``n_frames``.

    Returns int64 (k,); ``k == n_frames`` gives ``arange(n_frames)``; ``k > n_frames`` repeats frames.
    """
    return np.minimum(((np.arange(k) + 0.5) * n_frames / k).astype(np.int64), n_frames - 1)


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a torchvision-format ``state_dict`` without unpickling arbitrary objects.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``. A checkpoint dict holding the weights under ``state_dict`` or
    ``model`` is unwrapped, and a DDP ``module.`` prefix is stripped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd: Any = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, pickle with objects, ...
        raise WeightsError(f"{path}: cannot read weights ({type(exc).__name__}: {exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{path}: not a state_dict (a mapping of parameter names to tensors)")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def _enum_state_dict(spec: BackboneSpec, member: str) -> tuple[dict[str, torch.Tensor], str]:
    enum_cls = resolve_enum(spec.weights_enum or "")
    try:
        weights = enum_cls[member] if member != "DEFAULT" else enum_cls.DEFAULT
    except KeyError:
        members = ", ".join(m.name for m in enum_cls)
        raise WeightsError(
            f"{spec.name}: unknown weights {member!r}; {enum_cls.__name__} has {members}"
        ) from None
    try:
        sd = weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:
        raise WeightsError(
            f"{spec.name}: could not get torchvision weights {enum_cls.__name__}.{weights.name} from "
            f"{weights.url} ({type(exc).__name__}: {exc}). Without a network, download that file "
            f"elsewhere and pass it with --weights PATH (extract(weights=PATH); a torchvision "
            f"state_dict as .pth or .safetensors), or put it in torch's hub cache "
            f"({torch.hub.get_dir()}/checkpoints/)."
        ) from exc
    return sd, f"torchvision:{enum_cls.__name__}.{weights.name}"


class Backbone:
    """A built backbone: preprocessing plus a network (or a descriptor) in inference mode.

    ``prepare`` runs on the decoding side (CPU), ``forward`` on the compute device; ``embed`` does both.
    """

    def __init__(
        self,
        spec: BackboneSpec,
        module: torch.nn.Module | None,
        weights_source: str,
        device: torch.device,
        crop_size: tuple[int, int],
        resize_size: tuple[int, ...],
        frames_per_clip: int | None = None,
    ) -> None:
        self.spec = spec
        self.frames_per_clip = frames_per_clip or spec.frames_per_clip
        self.module = module
        self.weights_source = weights_source
        self.device = device
        self.crop_size = crop_size
        self.resize_size = resize_size
        self.autocast = device.type == "cuda"

    @property
    def dim(self) -> int:
        """Output feature dimension D."""
        return self.spec.dim

    @property
    def decode_size(self) -> int | tuple[int, int] | None:
        """The ``size`` to decode frames at (short side int, (h, w), or None)."""
        if (self.crop_size, self.resize_size) == (self.spec.crop_size, self.spec.resize_size):
            return self.spec.decode_size
        return (
            self.resize_size[0] if len(self.resize_size) == 1 else (self.resize_size[0], self.resize_size[1])
        )

    def info(self) -> dict[str, Any]:
        """JSON-able description of the built backbone (spec plus actual sizes and weights)."""
        out = self.spec.info()
        out.update(
            crop_size=list(self.crop_size),
            resize_size=list(self.resize_size),
            frames_per_clip=self.frames_per_clip,
            weights=self.weights_source,
        )
        return out

    def prepare(self, clips: np.ndarray) -> torch.Tensor:
        """(N, T, H, W, 3) uint8 RGB clips -> the network input (CPU tensor)."""
        raise NotImplementedError

    def select_frames(self, clips: np.ndarray) -> torch.Tensor:
        """(N, T, H, W, 3) uint8 -> uint8 (N, k, 3, H, W): the ``frames_per_clip`` frames this backbone reads."""
        n, t, h, w, c = clips.shape
        idx = select_frames(t, self.frames_per_clip)
        x = torch.from_numpy(np.ascontiguousarray(clips[:, idx]))  # (N, k, H, W, 3)
        return x.permute(0, 1, 4, 2, 3)  # (N, k, H, W, 3) -> (N, k, 3, H, W)

    def normalised_frames(self, clips: np.ndarray, antialias: bool) -> torch.Tensor:
        """(N, T, H, W, 3) uint8 -> float32 (N, k, 3, h, w): resize, centre-crop, mean/std (the weights' transforms)."""
        import torchvision.transforms.functional as TF
        from torchvision.transforms import InterpolationMode

        x = self.select_frames(clips)
        n, k, c, h, w = x.shape
        x = x.reshape(n * k, c, h, w)  # (N, k, 3, H, W) -> (N*k, 3, H, W)
        x = TF.resize(x, list(self.resize_size), interpolation=InterpolationMode.BILINEAR, antialias=antialias)
        x = TF.center_crop(x, list(self.crop_size))
        x = TF.convert_image_dtype(x, torch.float)
        x = TF.normalize(x, mean=list(self.spec.mean), std=list(self.spec.std))
        ch, cw = self.crop_size
        return x.view(n, k, c, ch, cw)  # (N*k, 3, h, w) -> (N, k, 3, h, w)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network input from :meth:`prepare` -> float32 (N, D) features on the CPU."""
        assert self.module is not None
        x = x.to(self.device, non_blocking=True)
        if self.autocast:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                y = self.module(x)
        else:
            y = self.module(x)
        return y.float().cpu()

    def embed(self, clips: np.ndarray) -> np.ndarray:
        """(N, T, H, W, 3) uint8 clips -> float32 (N, D) features."""
        return self.forward(self.prepare(clips)).numpy()


def build_backbone(
    name: str,
    weights: str | os.PathLike[str] | None = None,
    random_weights: bool = False,
    device: str | torch.device | None = None,
    crop_size: int | tuple[int, int] | None = None,
    resize_size: int | tuple[int, ...] | None = None,
    frames_per_clip: int | None = None,
) -> Backbone:
    """Build the backbone registered as ``name`` with real weights (see module docstring).

    Args:
        name: a registered backbone (:func:`available_backbones`).
        weights: None / ``"DEFAULT"`` (torchvision's default weights), an enum member name such as
            ``"KINETICS400_V1"``, or a path to a state_dict file.
        random_weights: seeded random weights (tests); exclusive with ``weights``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``; None picks CUDA when available (under torchrun,
            this process's ``LOCAL_RANK`` GPU).
        crop_size: override the network input size (pixels; int -> square); resize follows it.
        resize_size: override the resize size (pixels; one int: short side, two: (h, w)).
        frames_per_clip: override how many frames the backbone takes from each clip.
    """
    spec = get_spec(name)
    dev = resolve_device(device, local_rank=env_int("LOCAL_RANK", 0))
    crop = spec.crop_size
    resize = spec.resize_size
    if crop_size is not None:
        crop = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)  # type: ignore[assignment]
        if resize_size is None:
            scale = crop[0] / spec.crop_size[0]
            resize = tuple(max(round(s * scale), c) for s, c in zip(spec.resize_size, crop, strict=False))
    if resize_size is not None:
        resize = (resize_size,) if isinstance(resize_size, int) else tuple(resize_size)
    if crop[0] < spec.min_crop[0] or crop[1] < spec.min_crop[1]:
        raise VideoBertError(f"{name}: input size {crop} is below the architecture's minimum {spec.min_crop}")
    if spec.fixed_input and crop != spec.crop_size:
        raise VideoBertError(f"{name}: the architecture only accepts input size {spec.crop_size}")
    if spec.kind == "classical":
        if weights is not None and str(weights) != "DEFAULT":
            raise WeightsError(f"{name}: a weight-free descriptor takes no --weights")
        factory = spec.extra["factory"]
        bb = factory(spec, dev, crop, resize)
    else:
        bb = _build_network(spec, weights, random_weights, dev, crop, resize)
    if frames_per_clip is not None:
        if spec.fixed_input and frames_per_clip != spec.frames_per_clip:
            raise VideoBertError(
                f"{name}: the architecture only accepts {spec.frames_per_clip} frames per clip"
            )
        bb.frames_per_clip = int(frames_per_clip)
    return bb


def _build_network(
    spec: BackboneSpec,
    weights: str | os.PathLike[str] | None,
    random_weights: bool,
    dev: torch.device,
    crop: tuple[int, int],
    resize: tuple[int, ...],
) -> Backbone:
    name = spec.name
    if random_weights and weights is not None:
        raise WeightsError(f"{name}: pass either --weights or --random-weights, not both")
    assert spec.builder is not None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        module = spec.builder(spec, crop)
    if random_weights:
        source = f"random(seed={RANDOM_WEIGHTS_SEED})"
        log.warning("%s: RANDOM weights (asked for with random_weights); features are not meaningful", name)
    elif (
        weights is None
        or str(weights) == "DEFAULT"
        or (isinstance(weights, str) and weights.isidentifier() and not Path(weights).exists())
    ):
        sd, source = _enum_state_dict(spec, "DEFAULT" if weights is None else str(weights))
        _load_into(module, sd, spec, source)
    else:
        path = Path(weights)
        sd = load_state_dict_file(path)
        source = f"file:{path.resolve()}"
        _load_into(module, sd, spec, str(path))
    module.eval().to(dev)
    factory = spec.extra.get("factory") or _kind_class(spec.kind)
    return factory(spec, module, source, dev, crop, resize)


def _kind_class(kind: str) -> type[Backbone]:
    """The :class:`Backbone` that feeds a network of ``kind``: ``"video"`` clips as (N, 3, T, h, w),
    ``"frame"`` each frame through a 2D network, mean-pooled over the clip."""
    if kind == "video":
        from videobert.features.backbones.torchvision_video import TorchvisionVideoBackbone

        return TorchvisionVideoBackbone
    if kind == "frame":
        from videobert.features.backbones.frame2d import FrameMeanBackbone

        return FrameMeanBackbone
    raise VideoBertError(f"backbone kind {kind!r} needs a factory in its spec's extra['factory']")


def _load_into(module: torch.nn.Module, sd: dict[str, torch.Tensor], spec: BackboneSpec, where: str) -> None:
    """Strictly load a full torchvision state_dict (head included) into ``module``.

    The builder's module has its classifier replaced by ``Identity``; parameters under the prefixes
    in ``spec.extra["ignore_prefixes"]`` (the head, Inception's auxiliary head) may be present in the
    file and are ignored; every other parameter must match exactly.
    """
    ignore = tuple(spec.extra.get("ignore_prefixes", ()))
    try:
        missing, unexpected = module.load_state_dict(sd, strict=False)
    except RuntimeError as exc:  # shape mismatch
        raise WeightsError(f"{where}: weights do not fit {spec.name}: {exc}") from exc
    missing = [k for k in missing if not k.startswith(ignore)] if ignore else list(missing)
    unexpected = [k for k in unexpected if not k.startswith(ignore)] if ignore else list(unexpected)
    if missing or unexpected:
        raise WeightsError(
            f"{where}: weights do not fit {spec.name}: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
