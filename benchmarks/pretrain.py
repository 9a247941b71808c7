"""Pretraining throughput: VideoBertForPreTraining vs plain transformers BertForPreTraining.

One run, the same model size, batch and masking for both: a full training step (forward,
backward, AdamW) on a random joint-vocabulary batch. Prints tokens/s of each and their ratio
(goal: ours / plain >= 1.3 — our MLM head runs only at the ~15% masked positions, plain BERT
computes vocabulary logits at every position), plus model FLOPs utilisation (MFU) against the
fp32 matmul peak measured in this same run. Steps of the two models are interleaved so that
machine load affects both alike; medians are reported.

    python benchmarks/pretrain.py                       # MiniLM shape cut to 2 layers, CPU
    python benchmarks/pretrain.py --layers 6 --batch 32 --length 128
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

import torch
from transformers import BertConfig, BertForPreTraining

from videobert.model import VideoBertConfig, VideoBertForPreTraining


@dataclass
class Shape:
    """Model and batch shape of one benchmark."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    text_vocab: int = 30522
    visual_words: int = 20736
    batch: int = 16
    length: int = 64
    mask_prob: float = 0.15

    @property
    def vocab(self) -> int:
        return self.text_vocab + 1 + self.visual_words


def make_batch(s: Shape, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random ``[CLS] text [>] video [SEP]`` batch: (B, L) ids with 0-25% padding, 15% labels."""
    g = torch.Generator().manual_seed(seed)
    b, length = s.batch, s.length
    ids = torch.randint(1000, s.text_vocab, (b, length), generator=g)
    half = length // 2
    ids[:, half + 1 :] = torch.randint(s.text_vocab + 1, s.vocab, (b, length - half - 1), generator=g)
    ids[:, 0], ids[:, half] = 101, s.text_vocab
    types = torch.zeros_like(ids)
    types[:, half + 1 :] = 1
    lengths = length - torch.randint(0, length // 4 + 1, (b,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()  # (B, L)
    ids[mask == 0] = 0
    pick = (torch.rand(b, length, generator=g) < s.mask_prob) & (mask == 1)
    pick[:, 0] = False
    labels = torch.where(pick, ids, torch.full_like(ids, -100))
    ids = torch.where(pick, torch.full_like(ids, 103), ids)
    out = {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "labels": labels,
        "alignment_labels": torch.randint(0, 2, (b,), generator=g),
    }
    return {k: v.to(device) for k, v in out.items()}


def build_models(s: Shape, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Ours and plain ``BertForPreTraining`` at the same size (random weights, dropout as BERT's)."""
    common = dict(
        hidden_size=s.hidden, num_hidden_layers=s.layers, num_attention_heads=s.heads,
        intermediate_size=s.intermediate, max_position_embeddings=max(512, s.length),
    )
    torch.manual_seed(0)
    ours = VideoBertForPreTraining(
        VideoBertConfig(text_vocab_size=s.text_vocab, num_visual_words=s.visual_words, **common)
    )
    plain = BertForPreTraining(BertConfig(vocab_size=s.vocab, **common))
    return ours.to(device).train(), plain.to(device).train()


def train_flops(s: Shape, real_tokens: int, mlm_tokens: int) -> float:
    """Model FLOPs of one training step (forward + backward = 3x forward), excluding embeddings.

    Per real token and layer: attention projections 4H^2, FFN 2HI, scores + weighted sum 2LH
    multiply-adds; the MLM head (H^2 + H*vocab) at ``mlm_tokens`` positions; 2 FLOPs per MAC.
    """
    h, i, length = s.hidden, s.intermediate, s.length
    per_token = s.layers * (4 * h * h + 2 * h * i + 2 * length * h)
    head = mlm_tokens * (h * h + h * s.vocab)
    return 3 * 2 * (real_tokens * per_token + head)


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 1024, reps: int = 8) -> float:
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


def step_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor], ours: bool, bf16: bool):  # noqa: ANN201
    """A closure running one training step (forward, backward, AdamW) of ``model``."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    device = batch["input_ids"].device
    if ours:
        inputs = batch
    else:
        inputs = {k: v for k, v in batch.items() if k != "alignment_labels"}
        inputs["next_sentence_label"] = batch["alignment_labels"]

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**inputs).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def compare(s: Shape, device: torch.device, steps: int, bf16: bool = False, peak: float | None = None) -> dict:
    """Interleaved timing of both models; returns per-model median step time, tokens/s, MFU."""
    batch = make_batch(s, device)
    real = int(batch["attention_mask"].sum())
    masked = int((batch["labels"] != -100).sum())
    ours, plain = build_models(s, device)
    fns = {"ours": step_fn(ours, batch, True, bf16), "plain": step_fn(plain, batch, False, bf16)}
    flops = {"ours": train_flops(s, real, masked), "plain": train_flops(s, real, s.batch * s.length)}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(steps + 2):
        for name, fn in fns.items():
            _sync(device)
            t = time.perf_counter()
            fn()
            _sync(device)
            if i >= 2:  # warm-up
                times[name].append(time.perf_counter() - t)
    if peak is None:
        peak = matmul_peak(device, torch.bfloat16 if bf16 else torch.float32)
    result = {"real_tokens": real, "masked_tokens": masked, "peak_flops": peak}
    for name in fns:
        t = statistics.median(times[name])
        result[name] = {
            "step_s": t,
            "tokens_per_s": real / t,
            "model_tflops": flops[name] / t / 1e12,
            "mfu": flops[name] / t / peak,
        }
    result["speedup"] = result["ours"]["tokens_per_s"] / result["plain"]["tokens_per_s"]
    return result


def report(title: str, s: Shape, r: dict) -> None:
    """Print one comparison."""
    print(f"== {title}: {s.layers} layers, hidden {s.hidden}, vocab {s.vocab}, batch {s.batch} x {s.length} "
          f"({r['real_tokens']} real tokens, {r['masked_tokens']} masked)")
    print(f"   matmul peak measured: {r['peak_flops'] / 1e9:.1f} GFLOP/s")
    for name, label in (("ours", "VideoBertForPreTraining"), ("plain", "BertForPreTraining")):
        m = r[name]
        print(f"   {label:24s} step {m['step_s'] * 1e3:8.1f} ms  {m['tokens_per_s']:9.0f} tokens/s  "
              f"{m['model_tflops'] * 1e3:8.2f} GFLOP/s  MFU {m['mfu'] * 100:5.1f}%")
    print(f"   tokens/s ours / plain: {r['speedup']:.2f}x (goal >= 1.3x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--intermediate", type=int, default=1536)
    p.add_argument("--visual-words", type=int, default=20736)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    s = Shape(args.layers, args.hidden, args.heads, args.intermediate, visual_words=args.visual_words,
              batch=args.batch, length=args.length)
    r = compare(s, torch.device("cpu"), args.steps)
    report(f"CPU fp32, {args.threads} thread(s)", s, r)


if __name__ == "__main__":
    main()
