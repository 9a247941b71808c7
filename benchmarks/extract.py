"""Extraction benchmark: pipeline overhead for S3D, speed and quality of the classical descriptor.

Prints:

1. ``s3d`` on CUDA when there is one (bf16), else on the CPU: end-to-end clips/s of ``extract()``
   (decode + preprocess in ``--workers`` DataLoader worker processes, and the same with threads,
   interleaved; forward; atomic writes) over forward-only clips/s of the same backbone on
   pre-decoded, prepared batches (goal >= 0.9: decoding keeps the backbone busy). Work is split
   by video, so ``--s3d-videos`` should be at least ``--workers``. Weights do not change the
   speed; without a local file random weights are used.
2. The classical descriptor on the built-in corpus: throughput as a multiple of real time.
3. A linear probe (logistic regression) on the classical features of annotated segments, trained on
   the corpus's training videos, tested on its validation videos: verb and noun accuracy vs chance.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/extract.py [--s3d-clips 8] [--synth-videos 24] [--work DIR]
    python benchmarks/extract.py --skip-classical --workers 8 --s3d-videos 16 --s3d-clips 256  # a GPU node
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from videobert.features.extract import extract, load_features
from videobert.features.registry import build_backbone
from videobert.video.clips import ClipSpec, iter_clips


def _write_video(path: Path, n_frames: int, h: int = 240, w: int = 320, fps: int = 20, seed: int = 0) -> None:
    """A moving-gradient test video (H.264), ``n_frames`` frames of ``h`` x ``w``."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(h // 16, w // 16, 3)).astype(np.uint8)
    img = base.repeat(16, axis=0).repeat(16, axis=1)  # (h/16, w/16, 3) -> (h, w, 3)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(n_frames):
            frame = np.roll(img, shift=(i * 2, i * 3), axis=(0, 1))
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def bench_s3d(
    root: Path,
    n_clips: int,
    weights: str | None,
    batch_size: int,
    device: str,
    num_workers: int,
    n_videos: int,
    reps: int = 2,
) -> dict[str, Any]:
    """End-to-end clips/s of ``extract()`` with worker processes and with threads over forward-only
    clips/s of the same backbone on a prepared batch, the three interleaved ``reps`` times (medians)."""
    vids = root / "s3d_videos"
    vids.mkdir(parents=True, exist_ok=True)
    per_video = max(1, -(-n_clips // n_videos))
    for i in range(n_videos):
        if not (vids / f"b{i}.mp4").exists():
            _write_video(vids / f"b{i}.mp4", per_video * 30, seed=i)
    kw = {"weights": weights} if weights else {"random_weights": True}
    bb = build_backbone("s3d", device=device, **kw)
    clips = [c.frames for c in iter_clips(vids / "b0.mp4", ClipSpec(), size=bb.decode_size)]
    x = bb.prepare(np.stack((clips * batch_size)[:batch_size]))
    for _ in range(2):
        bb.forward(x)  # warm-up (cuDNN autotuning, allocator)

    def forward_only() -> float:
        t0 = time.perf_counter()
        done = 0
        while done < per_video * n_videos:
            done += bb.forward(x).shape[0]  # includes the host -> device copy and the features' way back
        return done / (time.perf_counter() - t0)

    out: dict[str, Any] = {"device": str(bb.device)}
    runs: dict[str, list[float]] = {"forward": [], "process": [], "thread": []}
    for r in range(reps):  # interleaved, so that other load on the machine touches all three alike
        runs["forward"].append(forward_only())
        for kind in ("process", "thread"):
            summary = extract(
                vids,
                root / f"work_s3d_{kind}_{r}",
                backbone="s3d",
                batch_size=batch_size,
                device=device,
                num_workers=num_workers,
                worker_type=kind,
                progress=False,
                **kw,
            )
            runs[kind].append(summary["clips_per_s"])
            out["n_clips"] = summary["n_clips"]
    fwd = out["forward_clips_per_s"] = float(np.median(runs.pop("forward")))
    for kind, rates in runs.items():
        out[f"end_to_end_{kind}"] = float(np.median(rates))
        out[f"ratio_{kind}"] = out[f"end_to_end_{kind}"] / fwd
    return out


def probe(root: Path, work: Path) -> dict[str, float]:
    """Logistic-regression probe on clip features of annotated segments (train vs validation videos)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    db = json.loads((root / "annotations.json").read_text())["database"]
    data: dict[str, dict[str, list]] = {
        s: {"x": [], "verb": [], "noun": []} for s in ("training", "validation")
    }
    for vid, entry in db.items():
        feats, times = load_features(work, "classical", vid)
        centres = times.mean(axis=1)
        for ann in entry["annotations"]:
            s, e = ann["segment"]
            for row in feats[(centres >= s) & (centres < e)].astype(np.float32):
                d = data[entry["subset"]]
                d["x"].append(row)
                d["verb"].append(ann["verb"])
                d["noun"].append(ann["noun"])
    scaler = StandardScaler().fit(np.array(data["training"]["x"]))
    xtr = scaler.transform(np.array(data["training"]["x"]))
    xte = scaler.transform(np.array(data["validation"]["x"]))
    out: dict[str, float] = {"train_clips": len(xtr), "test_clips": len(xte)}
    for label in ("verb", "noun"):
        clf = LogisticRegression(max_iter=3000).fit(xtr, data["training"][label])
        acc = float((clf.predict(xte) == np.array(data["validation"][label])).mean())
        chance = 1.0 / len(set(data["training"][label]))
        out[f"{label}_acc"], out[f"{label}_chance"], out[f"{label}_x_chance"] = acc, chance, acc / chance
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--s3d-clips", type=int, default=8)
    ap.add_argument("--s3d-weights", default=None, help="a local S3D state_dict (default: random weights)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--device", default=None, help="s3d's device (default: cuda when available, else cpu)")
    ap.add_argument("--workers", type=int, default=2, help="decoding workers of extract()")
    ap.add_argument("--s3d-videos", type=int, default=2, help="videos the s3d clips are spread over")
    ap.add_argument("--synth-videos", type=int, default=24)
    ap.add_argument("--skip-s3d", action="store_true")
    ap.add_argument("--skip-classical", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    root = Path(args.work or tempfile.mkdtemp(prefix="vb-bench-extract-"))
    print(f"torch threads: {torch.get_num_threads()}  scratch: {root}")

    if not args.skip_s3d:
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        r = bench_s3d(
            root, args.s3d_clips, args.s3d_weights, args.batch_size, device, args.workers, args.s3d_videos
        )
        print(
            f"s3d {r['device']}: {r['n_clips']} clips, batch {args.batch_size}, {args.workers} decoding workers"
        )
        print(f"s3d       forward-only {r['forward_clips_per_s']:.2f} clips/s")
        for kind in ("process", "thread"):
            print(
                f"s3d       end-to-end ({kind} workers) {r[f'end_to_end_{kind}']:.2f} clips/s | "
                f"ratio {r[f'ratio_{kind}']:.2f} (goal >= 0.9)"
            )

    if not args.skip_classical:
        from videobert.datasets.synthetic import synthesize

        corpus = root / "synth"
        t0 = time.perf_counter()
        res = synthesize(corpus, n_videos=args.synth_videos, seed=0, progress=False)
        print(
            f"corpus    {res.n_videos} videos, {res.total_duration:.0f} s of video (made in {time.perf_counter() - t0:.0f} s)"
        )
        for kind in ("process", "thread"):  # side by side: the descriptor is Python-level work
            work = root / f"work_classical_{kind}"
            s = extract(
                corpus / "videos",
                work,
                backbone="classical",
                num_workers=args.workers,
                worker_type=kind,
                batch_size=16,
                progress=False,
            )
            print(
                f"classical {s['n_clips']} clips in {s['seconds']:.1f} s ({args.workers} {kind} workers): "
                f"{s['clips_per_s']:.1f} clips/s = {res.total_duration / s['seconds']:.1f}x real time"
            )
        p = probe(corpus, work)
        print(f"probe     train {p['train_clips']} clips / test {p['test_clips']} clips (held-out videos)")
        for label in ("verb", "noun"):
            print(
                f"probe     {label}: accuracy {p[f'{label}_acc']:.3f} | chance {p[f'{label}_chance']:.3f} | "
                f"{p[f'{label}_x_chance']:.1f}x chance (goal >= 3x for verbs)"
            )


if __name__ == "__main__":
    main()
