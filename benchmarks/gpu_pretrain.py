"""GPU pretraining throughput in bf16 at BERT-base and BERT-large size (for a lent GPU).

One short script: for each size, a full training step (bf16 autocast forward, backward, fused
AdamW) of VideoBertForPreTraining and of plain transformers BertForPreTraining on the same random
joint-vocabulary batch (text 30,522 + [>] + 20,736 visual words, 15% masked), interleaved.
Prints step time, tokens/s and model FLOPs utilisation (MFU) against the bf16 matmul peak
measured at the start of the run (and against the nominal peak given with --peak-tflops).

    python benchmarks/gpu_pretrain.py                 # on a CUDA machine, ~2-3 minutes
    python benchmarks/gpu_pretrain.py --smoke         # tiny sizes on CPU (fp32), a few seconds
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
    p.add_argument("--length", type=int, default=128, help="tokens per sequence")
    p.add_argument("--steps", type=int, default=10, help="timed steps per model (after 2 warm-up)")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="nominal dense bf16 peak (H100/H200 SXM: 989)")
    args = p.parse_args()

    if args.smoke:
        device, bf16, sizes = torch.device("cpu"), False, SMOKE
        args.batch, args.length, args.steps = 4, 32, 2
        visual_words = 512
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
          + (f"  (nominal {args.peak_tflops:.0f})" if bf16 else ""))
    for name, dims in sizes.items():
        s = bench.Shape(**dims, visual_words=visual_words, batch=args.batch, length=args.length)
        r = bench.compare(s, device, args.steps, bf16=bf16, peak=peak)
        bench.report(f"{name} {'bf16' if bf16 else 'fp32 (smoke)'}", s, r)
        if bf16:
            for key in ("ours", "plain"):
                print(f"   {key}: MFU vs nominal peak {r[key]['model_tflops'] / args.peak_tflops * 100:.1f}%")
            print(f"   peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.empty_cache()
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
