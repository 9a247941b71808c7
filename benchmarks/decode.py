"""Decode benchmark: memory stays flat with video length, and speed as a multiple of real time.

Writes (with PyAV, libx264 ultrafast, 160x120, 30 fps) a 1-minute and a 30-minute video, then
decodes each at 20 fps through ``iter_clips`` (30-frame clips) in a fresh subprocess, which reports
its peak RSS (``getrusage``), its RSS after imports, and the decode time. Prints both and the ratios.

Goal: peak RSS of the 30-minute video within 10% of the 1-minute one (streaming, bounded memory).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode.py [--minutes 1 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_long_video(path: Path, seconds: float, fps: int = 30, width: int = 160, height: int = 120) -> float:
    """A moving test pattern of ``seconds`` s; returns the encode time in seconds."""
    import av

    t0 = time.perf_counter()
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 2) % 256, (yy * 2) % 256, ((xx + yy) * 3) % 256], axis=-1).astype(
        np.uint8
    )  # (H, W, 3)
    n = int(round(seconds * fps))
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i in range(n):
            img = np.roll(base, shift=(i % height, (3 * i) % width), axis=(0, 1))  # (H, W, 3) moving pattern
            img[:8, :8] = i % 256  # a changing corner
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return time.perf_counter() - t0


CHILD = r"""
import json, resource, sys, time
import psutil
from videobert.video import ClipSpec, iter_clips, probe
path, fps, frames = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rss_start = psutil.Process().memory_info().rss
info = probe(path)
t0 = time.perf_counter()
n_clips = 0
checksum = 0
for clip in iter_clips(path, ClipSpec(fps=fps, frames=frames)):
    n_clips += 1
    checksum += int(clip.frames[0, 0, 0, 0])
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB -> bytes
print(json.dumps({"duration": info.duration, "n_clips": n_clips, "wall": wall, "peak_rss": peak,
                  "rss_after_imports": rss_start, "checksum": checksum}))
"""


def decode_in_child(path: Path, fps: float, frames: int) -> dict[str, float]:
    """Run the decode in a fresh interpreter and return its measurements."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(fps), str(frames)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs=2, default=[1.0, 30.0], metavar=("SHORT", "LONG"))
    ap.add_argument("--fps", type=float, default=20.0, help="decode fps (default 20)")
    ap.add_argument("--clip-frames", type=int, default=30)
    ap.add_argument("--keep", type=Path, default=None, help="folder to write (and reuse) the videos in")
    args = ap.parse_args()

    tmp = None
    folder = args.keep
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="vb-decode-bench-")
        folder = Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for minutes in args.minutes:
            path = folder / f"bench_{minutes:g}min.mp4"
            if not path.exists():
                enc = write_long_video(path, minutes * 60)
                print(
                    f"wrote {path.name}: {minutes:g} min, {path.stat().st_size / 1e6:.1f} MB in {enc:.1f} s"
                )
            r = decode_in_child(path, args.fps, args.clip_frames)
            results[minutes] = r
            print(
                f"{minutes:>5g} min: {r['n_clips']:6d} clips  peak RSS {r['peak_rss'] / 2**20:7.1f} MiB "
                f"(after imports {r['rss_after_imports'] / 2**20:6.1f} MiB)  decode {r['wall']:7.1f} s  "
                f"= {r['duration'] / r['wall']:6.1f}x real time"
            )
    finally:
        if tmp is not None:
            tmp.cleanup()
    short, long_ = (results[m] for m in args.minutes)
    ratio = long_["peak_rss"] / short["peak_rss"]
    extra_s = short["peak_rss"] - short["rss_after_imports"]
    extra_l = long_["peak_rss"] - long_["rss_after_imports"]
    print(f"peak RSS ratio long/short: {ratio:.3f}  (goal <= 1.10: {'OK' if ratio <= 1.10 else 'MISSED'})")
    print(f"decode memory above imports: short {extra_s / 2**20:.1f} MiB, long {extra_l / 2**20:.1f} MiB")
    print(
        f"speed: short {short['duration'] / short['wall']:.1f}x, long {long_['duration'] / long_['wall']:.1f}x real time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
