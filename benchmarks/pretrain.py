"""Pretraining throughput on the built-in corpus's sequence lengths: ours vs plain BertForPreTraining.

One run, the same model size and the same batches for both: a full training step (forward,
backward, AdamW) of ``VideoBertForPreTraining`` and of plain transformers ``BertForPreTraining``
(its NSP head fed the alignment labels), steps of the two interleaved so that machine load
affects both alike. The batches are not uniform random lengths: each is ``batch`` examples drawn
from ``benchmarks/data/builtin_lengths.csv`` (the ``[CLS] text [>] video [SEP]`` shapes that the
built-in corpus gives under the demo preset; ``benchmarks/corpus_lengths.py`` makes it), random
ids of those lengths, laid out, masked and padded by the real ``videobert.data.collate.collate``.
Three steps run on the same examples: ours on the batch packed as pretraining packs it
(``videobert.data.packing.pack_batch``: several sequences per row, rows no longer than the batch's
longest sequence), ours on the padded batch (what pretraining did before packing) and plain BERT
on the padded batch (plain ``BertForPreTraining`` has no packed layout).

Prints, per step:

* real-token throughput: non-padding tokens per second (padding is work, not progress);
* model FLOPs utilisation (MFU): the FLOPs the model needs on the real tokens (each sequence's
  attention over its own length; the MLM head where the model computes it: ours at the labelled
  positions, plain BERT at every real token) per second, over the dense matmul peak measured in
  this same run;
* ours (packed) / plain and ours (packed) / ours (padded) real-token throughput;

and the data stream: sequences/s that the real ``PretrainStream`` (parquet -> examples -> collate
-> pack)
delivers through a ``torch.utils.data.DataLoader`` with 0..N worker processes (each worker a rank
of the stream: rows ``i % N == worker``), beside the sequences/s that our step consumes.

The batch layouts are one function, :func:`build_batches`.

    python benchmarks/pretrain.py                             # MiniLM shape cut to 2 layers, CPU
    python benchmarks/pretrain.py --layers 6 --batch 32 --corpus demo-work   # stream from a demo corpus
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import BertConfig, BertForPreTraining

from videobert.data.collate import CollateConfig, Example, collate
from videobert.data.packing import pack_batch
from videobert.model import VideoBertConfig, VideoBertForPreTraining
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.train.pretrain import sparse_embedding_grad

_spec = importlib.util.spec_from_file_location(
    "_bench_lengths", Path(__file__).with_name("corpus_lengths.py")
)
lengths = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = lengths
_spec.loader.exec_module(lengths)

Batch = dict[str, torch.Tensor]


@dataclass
class Shape:
    """Model and batch shape of one benchmark (lengths come from the table)."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    visual_words: int = 20736
    batch: int = 16
    max_length: int = 128


def demo_collate_config(max_length: int = 128) -> CollateConfig:
    """The demo preset's collate settings (masking, regimes) at ``max_length``."""
    from videobert.config import from_dict
    from videobert.train.config import load_pretrain_config

    cfg = dict(load_pretrain_config(preset="demo").collate)
    cfg["max_length"] = max_length
    return from_dict(CollateConfig, cfg)


def table_examples(
    rows: Sequence[dict[str, int]], tok: VideoBertTokenizer, max_length: int, seed: int = 0
) -> Iterator[Example]:
    """Endless examples with the table's shapes, drawn in proportion to their counts.

    Text ids are random WordPiece ids, visual words random in ``[0, V)``; a shape longer than
    ``max_length`` is cut as the collate settings would (text first kept, video last).
    """
    from videobert.text.tokenizer import truncate_pair

    rng = np.random.default_rng(seed)
    p = np.asarray([r["count"] for r in rows], dtype=np.float64)
    p /= p.sum()
    pool = tok.random_text_pool()
    while True:
        r = rows[int(rng.choice(len(rows), p=p))]
        text = None if r["text_tokens"] < 0 else pool[rng.integers(0, len(pool), r["text_tokens"])].tolist()
        vis = (
            None
            if r["video_tokens"] < 0
            else rng.integers(0, tok.num_visual_words, r["video_tokens"]).tolist()
        )
        budget = max_length - (2 if vis is None else 3)
        t, v = truncate_pair(text or [], vis or [], budget)
        yield Example(
            None if text is None else t,
            None if vis is None else v,
            r["regime"],
            r["alignment"],
            min(r["future"], len(v) // 2) if vis is not None else 0,
            masked=bool(r["masked"]),
        )


def build_batches(
    examples: Iterator[Example], tok: VideoBertTokenizer, cfg: CollateConfig, batch_size: int, seed: int = 0
) -> Iterator[tuple[Batch, Batch, list[int]]]:
    """The benchmark's batch layouts: ``(padded batch, packed batch, lengths of the sequences)``.

    ``batch_size`` examples per batch; ``collate`` pads them to the longest (B, L) and
    ``pack_batch`` packs the same examples, token for token, into R <= B rows of at most L (as
    pretraining does by default). The lengths are those of the *sequences* (attention FLOPs are
    per sequence); real tokens are counted from ``attention_mask != 0`` (equal in both layouts).
    """
    rng = np.random.default_rng([seed, 19])
    while True:
        exs = [next(examples) for _ in range(batch_size)]
        batch = collate(exs, tok, cfg, rng)
        yield batch, pack_batch(batch, 0, tok.pad_token_id), batch["attention_mask"].sum(1).tolist()


def make_batches(
    s: Shape, tok: VideoBertTokenizer, n: int, device: torch.device, seed: int = 0
) -> list[tuple[Batch, Batch, list[int]]]:
    """``n`` table-drawn (padded, packed, lengths) batches on ``device`` (built before any timing)."""
    rows = lengths.read_table()
    cfg = demo_collate_config(s.max_length)
    gen = build_batches(table_examples(rows, tok, s.max_length, seed), tok, cfg, s.batch, seed)
    out = []
    on = lambda b: {k: v.to(device) for k, v in b.items()}  # noqa: E731
    for _ in range(n):
        padded, packed, seqs = next(gen)
        out.append((on(padded), on(packed), seqs))
    return out


def build_models(
    s: Shape, vocab: int, text_vocab: int, device: torch.device
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Ours and plain ``BertForPreTraining`` at the same size (random weights, dropout as BERT's)."""
    common = dict(
        hidden_size=s.hidden, num_hidden_layers=s.layers, num_attention_heads=s.heads,
        intermediate_size=s.intermediate, max_position_embeddings=max(512, s.max_length),
    )  # fmt: skip
    torch.manual_seed(0)
    ours = VideoBertForPreTraining(
        VideoBertConfig(text_vocab_size=text_vocab, num_visual_words=s.visual_words, **common)
    )
    plain = BertForPreTraining(BertConfig(vocab_size=vocab, **common))
    return ours.to(device).train(), plain.to(device).train()


def train_flops(s: Shape, vocab: int, seq_lengths: Sequence[int], head_positions: int) -> float:
    """Model FLOPs of one training step on real tokens (forward + backward = 3x forward), no embeddings.

    Per layer, a sequence of n tokens costs n (4H^2 + 2HI) multiply-adds in the projections and
    FFN and 2 n^2 H in attention (scores and weighted sum over its own n tokens); the MLM head
    (H^2 + H * vocab) runs at ``head_positions``; 2 FLOPs per multiply-add.
    """
    h, i = s.hidden, s.intermediate
    n = np.asarray(seq_lengths, dtype=np.float64)
    encoder = s.layers * float((n * (4 * h * h + 2 * h * i) + 2 * n * n * h).sum())
    head = head_positions * (h * h + h * vocab)
    return 3 * 2 * (encoder + head)


def matmul_peak(
    device: torch.device, dtype: torch.dtype = torch.float32, n: int = 1024, reps: int = 8
) -> float:
    """Measured dense matmul throughput in FLOP/s (best of ``reps``)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(reps + 2):
        _sync(device)
        t = time.perf_counter()
        (a @ b).sum().item()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_fn(model: torch.nn.Module, ours: bool, bf16: bool, params: Any = None):  # noqa: ANN201
    """A closure running one training step (forward, backward, fused AdamW) of ``model`` on a batch.

    ``params``: the parameters to optimise (default ``model.parameters()``; a compiled wrapper's
    are its module's).
    """
    opt = torch.optim.AdamW(model.parameters() if params is None else params, lr=1e-5, fused=True)

    def step(batch: Batch) -> None:
        if ours:
            inputs = batch
        else:
            inputs = {k: v for k, v in batch.items() if k not in ("alignment_labels", "regime")}
            inputs["next_sentence_label"] = batch["alignment_labels"]
        device = batch["input_ids"].device
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**inputs).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


#: the timed steps: (name, which model, which layout, label)
STEPS = (
    ("ours", "ours", "packed", "VideoBert, packed"),
    ("ours_padded", "ours", "padded", "VideoBert, padded"),
    ("plain", "plain", "padded", "BertForPreTraining"),
)


def compare(
    s: Shape, device: torch.device, steps: int, bf16: bool = False, peak: float | None = None,
    tok: VideoBertTokenizer | None = None, compile_ours: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Interleaved timing of the three :data:`STEPS` over the same table-drawn examples (2 warm-up
    steps each).

    Ours is set up as pretraining sets it up: ``compile_ours``, through ``torch.compile(dynamic=True)``
    as on CUDA (a compiled wrapper per layout; their compile time falls in the warm-up steps), else
    with the sparse input-embedding gradient of CPU eager (``sparse_embedding_grad``).

    Returns per step ``step_s`` (median), ``tokens_per_s`` (real tokens over the timed steps'
    total time), ``sequences_per_s``, ``model_tflops``, ``mfu``, ``computed_tokens`` (tokens per
    step of its layout, padding included); ``speedup`` (ours packed / plain real-token
    throughput), ``packing_speedup`` (ours packed / ours padded), ``real_tokens`` /
    ``padded_tokens`` / ``packed_tokens`` / ``masked_tokens`` per step (means), ``peak_flops``.
    """
    tok = tok or VideoBertTokenizer.from_bert(None, s.visual_words)
    batches = make_batches(s, tok, steps + 2, device)
    ours, plain = build_models(s, tok.vocab_size, tok.text_vocab_size, device)
    sparse_embedding_grad(ours, device.type == "cpu" and not compile_ours)  # as pretraining sets it
    models = {"ours": ours, "plain": plain}  # ours' two steps share its weights (each its own AdamW)
    fns = {}
    for name, which, _, _ in STEPS:
        net = models[which]
        if compile_ours and which == "ours":
            net = torch.compile(net, dynamic=True)
        fns[name] = step_fn(net, which == "ours", bf16, params=models[which].parameters())
    times: dict[str, list[float]] = {k: [] for k in fns}
    flops: dict[str, float] = {k: 0.0 for k in fns}
    real = padded_n = packed_n = masked = 0
    for i, (padded, packed, seqs) in enumerate(batches):
        n_real = int((padded["attention_mask"] != 0).sum())
        n_masked = int((padded["labels"] != -100).sum())
        heads = {"ours": n_masked, "plain": n_real}
        for name, which, layout, _ in STEPS:
            batch = packed if layout == "packed" else padded
            _sync(device)
            t = time.perf_counter()
            fns[name](batch)
            _sync(device)
            if i >= 2:  # warm-up
                times[name].append(time.perf_counter() - t)
                flops[name] += train_flops(s, tok.vocab_size, seqs, heads[which])
        if i >= 2:
            real, masked = real + n_real, masked + n_masked
            padded_n, packed_n = (
                padded_n + padded["input_ids"].numel(),
                packed_n + packed["input_ids"].numel(),
            )
    if peak is None:
        peak = matmul_peak(device, torch.bfloat16 if bf16 else torch.float32)
    result: dict[str, Any] = {
        "real_tokens": real / steps, "padded_tokens": padded_n / steps, "packed_tokens": packed_n / steps,
        "masked_tokens": masked / steps, "peak_flops": peak, "vocab": tok.vocab_size,
    }  # fmt: skip
    for name, _, layout, _ in STEPS:
        total = sum(times[name])
        result[name] = {
            "step_s": float(np.median(times[name])),
            "tokens_per_s": real / total,
            "sequences_per_s": s.batch * steps / total,
            "model_tflops": flops[name] / total / 1e12,
            "mfu": flops[name] / total / peak,
            "computed_tokens": result[f"{layout}_tokens"],
        }
    result["speedup"] = result["ours"]["tokens_per_s"] / result["plain"]["tokens_per_s"]
    result["packing_speedup"] = result["ours"]["tokens_per_s"] / result["ours_padded"]["tokens_per_s"]
    return result


def report(title: str, s: Shape, r: dict[str, Any]) -> None:
    """Print one comparison."""
    print(f"== {title}: {s.layers} layers, hidden {s.hidden}, vocab {r['vocab']}, batch {s.batch} from the "
          f"built-in corpus's lengths ({r['real_tokens']:.0f} real tokens / step, {r['masked_tokens']:.0f} labelled)")  # fmt: skip
    print(f"   matmul peak measured: {r['peak_flops'] / 1e12:.3f} TFLOP/s")
    for name, _, _, label in STEPS:
        m = r[name]
        pad = 1 - r["real_tokens"] / m["computed_tokens"]
        print(f"   {label:20s} step {m['step_s'] * 1e3:8.1f} ms  {m['tokens_per_s']:9.0f} real tokens/s  "
              f"{m['sequences_per_s']:8.1f} seq/s  {m['model_tflops'] * 1e3:9.2f} GFLOP/s  MFU {m['mfu'] * 100:5.1f}%  "
              f"padding {pad * 100:4.1f}%")  # fmt: skip
    print(
        f"   real tokens/s ours (packed) / plain: {r['speedup']:.2f}x;  packed / padded (ours): "
        f"{r['packing_speedup']:.2f}x"
    )


# ---------------------------------------------------------------------------------- data stream
class _WorkerShards(torch.utils.data.IterableDataset):
    """The real ``PretrainStream`` as a DataLoader dataset: worker w of N reads rows ``i % N == w``."""

    def __init__(self, corpus: Path, tok: VideoBertTokenizer, cfg: CollateConfig, batch_size: int) -> None:
        self.args = (corpus, tok, cfg, batch_size)

    def __iter__(self) -> Iterator[Batch]:
        from videobert.data.dataset import PretrainStream

        corpus, tok, cfg, batch_size = self.args
        info = torch.utils.data.get_worker_info()
        rank, world = (0, 1) if info is None else (info.id, info.num_workers)
        yield from PretrainStream(
            corpus, "train", tok, cfg, batch_size, seed=0, rank=rank, world_size=world, pack=True
        )


def stream_rates(
    work: Path, batch_size: int, workers: Sequence[int], n_batches: int = 40, warmup: int = 4
) -> dict[int, float]:
    """Sequences/s of the real stream over ``work``'s corpus through a DataLoader, per worker count.

    The first ``warmup`` batches (worker start-up, first parquet reads) are not timed.
    """
    from videobert.workdir import WorkDir

    wd = WorkDir.of(work)
    tok = VideoBertTokenizer.from_pretrained(wd.corpus_tokenizer)
    cfg = demo_collate_config()
    out: dict[int, float] = {}
    for nw in workers:
        loader = torch.utils.data.DataLoader(
            _WorkerShards(wd.corpus, tok, cfg, batch_size), batch_size=None, num_workers=nw,
            prefetch_factor=4 if nw else None,
        )  # fmt: skip
        it = iter(loader)
        for _ in range(warmup):
            next(it)
        t = time.perf_counter()
        seqs = sum(int(next(it)["input_ids"].shape[0]) for _ in range(n_batches))
        out[nw] = seqs / (time.perf_counter() - t)
        del it, loader
    return out


def report_stream(rates: dict[int, float], consumed: float) -> None:
    """Print the stream's rates beside the step's consumption (sequences/s)."""
    print(
        f"== data stream (PretrainStream -> collate -> pack, demo preset) vs our step's {consumed:.1f} seq/s"
    )
    for nw, rate in rates.items():
        print(
            f"   {nw} DataLoader worker(s): {rate:9.1f} seq/s = {rate / consumed:6.2f}x what the step consumes"
        )


def corpus_work(path: str | None) -> Path:
    """A work directory holding a built-in corpus: ``path`` when given, else built in a temporary one."""
    if path and (Path(path) / "corpus" / "train.parquet").is_file():
        return Path(path)
    work = Path(path or tempfile.mkdtemp(prefix="vb-bench-stream-"))
    print(f"building the demo corpus in {work} for the data stream ...")
    os.environ.setdefault("TQDM_DISABLE", "1")
    lengths.build_demo_corpus(work)
    return work


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--intermediate", type=int, default=1536)
    p.add_argument("--visual-words", type=int, default=20736)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    p.add_argument("--corpus", default=None, help="a work directory with the built-in corpus (else built)")
    p.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2], help="DataLoader worker counts")
    p.add_argument("--skip-stream", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    s = Shape(
        args.layers,
        args.hidden,
        args.heads,
        args.intermediate,
        visual_words=args.visual_words,
        batch=args.batch,
    )
    r = compare(s, torch.device("cpu"), args.steps)
    report(f"CPU fp32, {args.threads} thread(s)", s, r)
    if not args.skip_stream:
        rates = stream_rates(corpus_work(args.corpus), args.batch, args.workers)
        report_stream(rates, r["ours"]["sequences_per_s"])


if __name__ == "__main__":
    main()
