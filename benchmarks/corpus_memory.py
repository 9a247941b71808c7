"""Peak RSS of streaming a corpus and one ten times larger through PretrainStream.

Usage: ``python benchmarks/corpus_memory.py [--rows 10000] [--factor 10] [--batch-size 64]``

Writes two synthetic corpora (rows like the real one: 4-14 WordPiece ids over 3-9 clips) row
group by row group, then, in a fresh subprocess each, iterates one full epoch of each through
``PretrainStream`` and reports the process's peak RSS (``resource.getrusage``) before and after
iterating. Flat memory means the large/small ratio of the growth stays near 1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHILD = r"""
import json, os, resource, sys, time
from videobert.data.collate import CollateConfig
from videobert.data.dataset import PretrainStream
from videobert.text.tokenizer import VideoBertTokenizer
corpus, batch_size = sys.argv[1], int(sys.argv[2])
tok = VideoBertTokenizer.from_bert(None, num_visual_words=1024)
tok.random_text_pool()
stream = PretrainStream(corpus, "train", tok, CollateConfig(), batch_size=batch_size, seed=0)
n = len(stream)
it = iter(stream)
next(it)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
tokens = 0
for _ in range(n - 1):
    tokens += int(next(it)["attention_mask"].sum())
dt = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": stream.num_rows, "batches": n, "rss_before_kib": before, "rss_peak_kib": after,
                  "seconds": dt, "tokens_per_s": tokens / dt}))
"""


def write_synthetic(path: Path, n_rows: int, seed: int = 0, per_video: int = 30, group: int = 1024) -> None:
    """A corpus parquet of ``n_rows`` rows written one row group at a time (memory bounded)."""
    from videobert.data.corpus import CORPUS_SCHEMA

    rng = np.random.default_rng(seed)
    writer = pq.ParquetWriter(str(path), CORPUS_SCHEMA)
    clip = 0
    for g0 in range(0, n_rows, group):
        rows = []
        for i in range(g0, min(g0 + group, n_rows)):
            if i % per_video == 0:
                clip = 0
            n_clips = int(rng.integers(3, 10))
            text = rng.integers(2000, 29000, size=int(rng.integers(4, 15))).astype(np.int32)
            rows.append(
                {
                    "video_id": f"v{i // per_video:07d}",
                    "sentence_index": i % per_video,
                    "start": float(clip),
                    "end": float(clip + n_clips),
                    "text": "synthetic sentence " * 3,
                    "text_ids": text.tolist(),
                    "visual_ids": rng.integers(0, 1024, size=n_clips).tolist(),
                    "clip_start": clip,
                }
            )
            clip += n_clips
        writer.write_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA), row_group_size=group)
    writer.close()


def measure(corpus: Path, batch_size: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus), str(batch_size)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, n in (("small", args.rows), ("large", args.rows * args.factor)):
            d = Path(tmp) / name
            d.mkdir()
            t0 = time.perf_counter()
            write_synthetic(d / "train.parquet", n)
            size = (d / "train.parquet").stat().st_size
            r = measure(d, args.batch_size)
            r["file_mib"] = size / 2**20
            r["write_s"] = time.perf_counter() - t0
            results[name] = r
            print(
                f"{name:5s}: {r['rows']:>8d} rows ({r['file_mib']:.1f} MiB parquet), {r['batches']} batches, "
                f"RSS after 1 batch {r['rss_before_kib'] / 1024:.1f} MiB, peak {r['rss_peak_kib'] / 1024:.1f} MiB, "
                f"{r['tokens_per_s']:.0f} tokens/s"
            )
        s, lg = results["small"], results["large"]
        grow_s = (s["rss_peak_kib"] - s["rss_before_kib"]) / 1024
        grow_l = (lg["rss_peak_kib"] - lg["rss_before_kib"]) / 1024
        print(f"corpus size ratio            {lg['rows'] / s['rows']:.1f}x")
        print(f"peak RSS ratio (large/small) {lg['rss_peak_kib'] / s['rss_peak_kib']:.3f}")
        print(f"RSS growth while iterating   small {grow_s:.1f} MiB, large {grow_l:.1f} MiB")
        print(
            f"benchmark process max RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    main()
