"""The built-in corpus's pretraining sequence lengths, as a small table for the throughput benchmarks.

Builds the demo's corpus (``videobert demo``'s synth, extract, fit-vocab and tokenize stages, with
the demo's settings) in a work directory, then draws examples from ``corpus/train.parquet`` as
pretraining does (``videobert.data.collate.make_example`` per anchor row, the demo preset's collate
settings, regime ratios balanced for the video-only rows as ``PretrainStream`` does) over
``--passes`` seeded passes, runs the real ``collate`` over them in batches and checks that every
``[CLS] text [>] video [SEP]`` row it lays out has the length the table records. Writes
``benchmarks/data/builtin_lengths.csv``:

    regime,text_tokens,video_tokens,alignment,future,masked,count

one line per distinct example shape (``text_tokens`` / ``video_tokens``: WordPiece ids and visual
words before the special tokens, -1 where the example has no text / no video side; ``alignment``:
1, 0 or -100; ``future``: clips to predict at the end; ``masked``: 0 for an alignment pair shown
whole). ``benchmarks/pretrain.py`` and ``benchmarks/gpu_pretrain.py`` draw their batches from it.

    python benchmarks/corpus_lengths.py [--work DIR] [--n-videos 60] [--passes 4]
"""

from __future__ import annotations

import argparse
import collections
import csv
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("data") / "builtin_lengths.csv"
COLUMNS = ("regime", "text_tokens", "video_tokens", "alignment", "future", "masked", "count")
CORPUS_STAGES = ("synth", "extract", "fit-vocab", "tokenize")


def build_demo_corpus(work: Path, n_videos: int | None = None, seed: int = 0) -> None:
    """Run the demo's synth, extract, fit-vocab and tokenize stages (its settings) into ``work``.

    Each stage skips what is already done, so a second call on the same folder costs seconds.
    """
    from videobert.commands.demo import DemoConfig, demo_stages

    for stage in demo_stages(DemoConfig(n_videos=n_videos, seed=seed), work):
        if stage.name in CORPUS_STAGES:
            t = time.perf_counter()
            stage.run()
            print(f"  {stage.name:9s} {time.perf_counter() - t:6.1f} s")


def example_shapes(work: Path, passes: int, batch_size: int = 32) -> collections.Counter:
    """Shape key -> count over ``passes`` seeded draws of every training anchor (demo preset).

    Every batch of ``batch_size`` examples also goes through the real ``collate``; its per-row
    lengths must equal 2 or 3 special tokens plus the example's text and video ids.
    """
    import pyarrow.parquet as pq

    from videobert.config import from_dict
    from videobert.data.collate import CollateConfig, RowBlock, balance_regimes, collate, make_example
    from videobert.data.dataset import video_only_fraction
    from videobert.text.tokenizer import VideoBertTokenizer
    from videobert.train.config import load_pretrain_config
    from videobert.workdir import WorkDir

    wd = WorkDir.of(work)
    cfg = from_dict(CollateConfig, dict(load_pretrain_config(preset="demo").collate))
    tok = VideoBertTokenizer.from_pretrained(wd.corpus_tokenizer)
    pf = pq.ParquetFile(str(wd.corpus_split("train")))
    row_cfg = balance_regimes(cfg, video_only_fraction(pf))
    shapes: collections.Counter = collections.Counter()
    pending = []

    def flush() -> None:
        batch = collate(pending, tok, cfg, np.random.default_rng(len(shapes)))
        got = batch["attention_mask"].sum(1).tolist()
        want = [_length(ex) for ex in pending]
        if got != want:
            raise RuntimeError(f"collate laid out lengths {got[:8]}..., the table would say {want[:8]}...")
        pending.clear()

    for p in range(passes):
        for g in range(pf.num_row_groups):
            block = RowBlock.from_table(
                pf.read_row_group(g, columns=["video_id", "text_ids", "visual_ids", "clip_start"])
            )
            rng = np.random.default_rng([p, g, 3])
            for j in range(len(block)):
                ex = make_example(block, j, row_cfg, rng)
                shapes[_key(ex)] += 1
                pending.append(ex)
                if len(pending) == batch_size:
                    flush()
    if pending:
        flush()
    return shapes


def _key(ex) -> tuple[int, int, int, int, int, int]:  # noqa: ANN001 (an Example)
    text = -1 if ex.text_ids is None else len(ex.text_ids)
    video = -1 if ex.visual is None else len(ex.visual)
    return (int(ex.regime), text, video, int(ex.alignment), int(ex.future), int(ex.masked))


def _length(ex) -> int:  # noqa: ANN001
    """Tokens of the laid-out sequence: [CLS] text [SEP], or [CLS] text [>] video [SEP]."""
    text = len(ex.text_ids or [])
    return 2 + text if ex.visual is None else 3 + text + len(ex.visual)


def read_table(path: Path = TABLE) -> list[dict[str, int]]:
    """The table as a list of ``{column: int}`` rows."""
    with open(path, newline="") as f:
        return [{k: int(v) for k, v in row.items()} for row in csv.DictReader(f)]


def row_length(row: dict[str, int]) -> int:
    """Laid-out length of a table row's sequence (special tokens included)."""
    text = max(row["text_tokens"], 0)
    return 2 + text if row["video_tokens"] < 0 else 3 + text + row["video_tokens"]


def summary(rows: list[dict[str, int]], batch_sizes: tuple[int, ...] = (32, 64), seed: int = 0) -> str:
    """Mean / quantiles of the lengths, and the padding share of batches padded to their longest."""
    lengths = np.repeat([row_length(r) for r in rows], [r["count"] for r in rows])
    q = np.percentile(lengths, [50, 90, 99])
    out = [
        f"{len(lengths)} sequences, {len(rows)} shapes: length mean {lengths.mean():.1f}, median {q[0]:.0f}, "
        f"p90 {q[1]:.0f}, p99 {q[2]:.0f}, max {lengths.max()}"
    ]
    regimes = collections.Counter()
    for r in rows:
        regimes[r["regime"]] += r["count"]
    total = sum(regimes.values())
    out.append(
        "regimes (text-only, video-only, text-video): "
        + ", ".join(f"{regimes[k] / total:.2f}" for k in range(3))
    )
    rng = np.random.default_rng(seed)
    for b in batch_sizes:
        pads = []
        for _ in range(200):
            x = rng.choice(lengths, size=b)
            pads.append(1 - x.sum() / (b * x.max()))
        out.append(
            f"padding share of random batches of {b} (padded to their longest): {statistics.mean(pads):.2f}"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--work", default=None, help="work directory (default: a temporary one); reused if present"
    )
    ap.add_argument(
        "--n-videos", type=int, default=None, help="built-in corpus videos (default: the demo's 60)"
    )
    ap.add_argument("--passes", type=int, default=4, help="seeded draws of every training row")
    ap.add_argument("--out", default=str(TABLE))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")
    work = Path(args.work or tempfile.mkdtemp(prefix="vb-lengths-"))
    print(f"demo corpus in {work}")
    build_demo_corpus(work, args.n_videos)
    shapes = example_shapes(work, args.passes)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [dict(zip(COLUMNS, (*k, c), strict=True)) for k, c in sorted(shapes.items())]
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")
    print(summary(rows))


if __name__ == "__main__":
    main()
