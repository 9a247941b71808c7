"""GPU pretraining throughput in bf16 at BERT-base and BERT-large size, on the built-in corpus's lengths.

One short script for a lent GPU. For each size, a full training step (bf16 autocast forward,
backward, fused AdamW) of VideoBertForPreTraining and of plain transformers BertForPreTraining on
the same batches, interleaved: ``batch`` examples per step drawn from
``benchmarks/data/builtin_lengths.csv`` (the built-in corpus's ``[CLS] text [>] video [SEP]``
shapes under the demo preset), random ids in the paper's joint vocabulary (text 30,522 + [>] +
20,736 visual words), laid out, masked and padded by the real ``collate``; ours runs on the same
examples packed as pretraining packs them and, for comparison, padded (``benchmarks/pretrain.py``,
``build_batches``). Ours is compiled (``torch.compile(dynamic=True)``) as pretraining compiles it
on CUDA (``--no-compile``: eager); plain BERT runs eager, as transformers gives it.
Prints real-token (non-padding) throughput, MFU against the bf16 matmul peak measured at the start
of the run (and against the nominal peak of --peak-tflops), ours / plain, then the real data
stream's sequences/s with 0..N DataLoader workers beside what our step consumes at each size.

    python benchmarks/gpu_pretrain.py --corpus WORK   # on a CUDA machine; WORK holds a built-in corpus
    python benchmarks/gpu_pretrain.py --smoke         # tiny sizes on CPU (fp32): checks the script runs

Without ``--corpus`` (a work directory with ``corpus/``, e.g. from ``videobert demo`` or
``benchmarks/corpus_lengths.py --work WORK``; ``WORK/corpus`` alone is enough, 1 MB) the demo corpus
is built first (about a minute).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import torch

_spec = importlib.util.spec_from_file_location("_bench_pretrain", Path(__file__).with_name("pretrain.py"))
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)

SIZES = {
    "bert-base": dict(layers=12, hidden=768, heads=12, intermediate=3072),
    "bert-large": dict(layers=24, hidden=1024, heads=16, intermediate=4096),
}
SMOKE = {"tiny": dict(layers=2, hidden=64, heads=2, intermediate=128)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny model on CPU in fp32: checks the script runs")
    p.add_argument("--sizes", nargs="*", default=None, help=f"subset of {sorted(SIZES)}")
    p.add_argument("--batch", type=int, default=64, help="sequences per step")
    p.add_argument("--steps", type=int, default=10, help="timed steps per model (after 2 warm-up)")
    p.add_argument(
        "--peak-tflops", type=float, default=989.0, help="nominal dense bf16 peak (H100/H200 SXM: 989)"
    )
    p.add_argument("--corpus", default=None, help="work directory with a built-in corpus for the data stream")
    p.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2, 4, 8], help="DataLoader worker counts")
    p.add_argument("--skip-stream", action="store_true")
    p.add_argument("--no-compile", action="store_true", help="ours eager (pretraining compiles on CUDA)")
    args = p.parse_args()

    if args.smoke:
        device, bf16, sizes = torch.device("cpu"), False, SMOKE
        args.batch, args.steps = 4, 2
        visual_words = 512
        args.workers = [w for w in args.workers if w <= 1]
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --smoke to check the script on CPU")
        device, bf16 = torch.device("cuda"), True
        sizes = {k: SIZES[k] for k in (args.sizes or SIZES)}
        visual_words = 20736
        torch.backends.cuda.matmul.allow_tf32 = True
        print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    t0 = time.perf_counter()
    peak = bench.matmul_peak(device, torch.bfloat16 if bf16 else torch.float32, n=8192 if bf16 else 512)
    print(f"measured matmul peak ({'bf16' if bf16 else 'fp32'}): {peak / 1e12:.3f} TFLOP/s"
          + (f"  (nominal {args.peak_tflops:.0f})" if bf16 else ""))  # fmt: skip
    tok = bench.VideoBertTokenizer.from_bert(None, visual_words)
    consumed: dict[str, float] = {}
    for name, dims in sizes.items():
        s = bench.Shape(**dims, visual_words=visual_words, batch=args.batch)
        r = bench.compare(
            s, device, args.steps, bf16=bf16, peak=peak, tok=tok, compile_ours=bf16 and not args.no_compile
        )
        bench.report(f"{name} {'bf16' if bf16 else 'fp32 (smoke)'}", s, r)
        consumed[name] = r["ours"]["sequences_per_s"]
        if bf16:
            for key, *_ in bench.STEPS:
                print(f"   {key}: MFU vs nominal peak {r[key]['model_tflops'] / args.peak_tflops * 100:.1f}%")
            print(f"   peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.empty_cache()
    if not args.skip_stream:
        rates = bench.stream_rates(bench.corpus_work(args.corpus), args.batch, args.workers)
        for name, c in consumed.items():
            print(f"-- {name}:")
            bench.report_stream(rates, c)
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
