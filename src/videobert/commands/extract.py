"""``videobert extract VIDEOS --backbone NAME --work WORK``: clip features for every video."""

from __future__ import annotations

import argparse
import json
import logging

log = logging.getLogger("videobert.extract")


def _run(args: argparse.Namespace) -> int:
    from videobert.features.extract import extract
    from videobert.video.clips import ClipSpec

    spec = ClipSpec(fps=args.fps, frames=args.clip_frames, stride=args.stride)
    summary = extract(
        args.videos if len(args.videos) > 1 else args.videos[0],
        args.work,
        backbone=args.backbone,
        weights=args.weights,
        random_weights=args.random_weights,
        batch_size=args.batch_size,
        shard=args.shard,
        device=args.device,
        num_workers=args.num_workers,
        clip_spec=spec,
        crop_size=args.input_size,
        progress=not args.no_progress,
    )
    log.info("summary: %s", json.dumps(summary, sort_keys=True))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` sub-command."""
    from videobert.features.registry import available_backbones, get_spec

    names = available_backbones()
    p = subparsers.add_parser(
        "extract",
        help="clip features: one row per 1.5 s clip, resumable and sharded",
        description="Decode videos on the clip grid and write WORK/features/<backbone>/<video_id>.npy "
        "(float16, n_clips x D) and .times.npy; finished videos are skipped on re-run. Backbones: "
        + "; ".join(f"{n}: {get_spec(n).description}" for n in names),
    )
    p.add_argument("videos", nargs="+", help="a folder of videos (recursive) or video files")
    p.add_argument("--work", required=True, help="work directory")
    p.add_argument("--backbone", default="s3d", choices=names, help="feature backbone (default: s3d)")
    p.add_argument(
        "--weights",
        default=None,
        help="a torchvision-format state_dict (.safetensors or .pth), or a weight enum member name; "
        "default: torchvision's default weights (cached download)",
    )
    p.add_argument("--random-weights", action="store_true", help="random weights (tests only)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass")
    p.add_argument(
        "--shard", default=None, help="i/n: this process's share of the videos (default: RANK/WORLD_SIZE)"
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--num-workers", type=int, default=2, help="decoding threads (0: inline)")
    p.add_argument("--fps", type=float, default=20.0, help="clip grid frame rate (frames/s)")
    p.add_argument("--clip-frames", type=int, default=30, help="frames per clip (30 at 20 fps = 1.5 s)")
    p.add_argument(
        "--stride", type=int, default=None, help="frames between clip starts (default: clip length)"
    )
    p.add_argument("--input-size", type=int, default=None, help="override the network input size (pixels)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
