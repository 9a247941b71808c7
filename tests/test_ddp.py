"""Two-process ``torchrun`` on CPU (gloo): the averaged gradient equals one process's on the same
global batch, and the full loop runs with rank 0 alone writing checkpoints and logs.

Run by torchrun (``python -m torch.distributed.run --nproc_per_node 2 tests/test_ddp.py WORK OUT``)
this file is the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from corpora import TINY, write_corpus  # tests/ is on sys.path under pytest and as torchrun's script
from safetensors.torch import load_file, save_file

from videobert.data.packing import concat_batches
from videobert.train.checkpoint import load_trainer_state
from videobert.train.config import load_pretrain_config
from videobert.train.distributed import DistInfo, all_gather_objects, init_distributed
from videobert.train.pretrain import accumulate_gradients, build_model, corpus_data, pretrain
from videobert.workdir import WorkDir

DDP = [*TINY, "batch_size=4", "lr=0.001", "warmup_steps=1", "max_steps=4", "checkpoint_every=2",
       "eval_every=2", "eval_batches=1", "log_every=1", "model.hidden_dropout_prob=0.0",
       "model.attention_probs_dropout_prob=0.0"]


def _weights(model) -> torch.Tensor:  # noqa: ANN001
    c = model.config
    return torch.tensor([c.text_mlm_weight, c.video_mlm_weight, c.alignment_weight], dtype=torch.float64)


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _worker(work: Path, out: Path) -> None:
    torch.set_num_threads(1)
    info = init_distributed("cpu")
    cfg = load_pretrain_config(None, DDP)
    data = corpus_data(work, cfg)
    model = build_model(work, cfg, data)
    net = torch.nn.parallel.DistributedDataParallel(model)
    batch = next(iter(data.make_train(info.rank, info.world_size)))
    accumulate_gradients(net, [batch], info, _weights(model), model.config.visual_offset, info.device)
    batches = all_gather_objects(batch, info)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_file(_grads(model), str(out / "grads.safetensors"))
        torch.save(batches, out / "batches.pt")
    pretrain(work, cfg, device="cpu")  # the whole loop under torchrun (leaves the process group)


def test_two_process_torchrun_gradient_equals_single_process(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    work, out = tmp_path / "work", tmp_path / "out"
    write_corpus(work, n_train=24, n_val=6)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         __file__, str(work), str(out)],
        env=env, capture_output=True, text=True, timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    ddp_grads = load_file(str(out / "grads.safetensors"))
    b0, b1 = torch.load(out / "batches.pt", weights_only=True)
    assert b0["alignment_labels"].shape[0] == 4 and b1["alignment_labels"].shape[0] == 4
    assert "example_ids" in b0 and "example_ids" in b1  # packed batches (the default)
    assert not torch.equal(b0["input_ids"][:, :5], b1["input_ids"][:, :5])  # ranks read different rows

    cfg = load_pretrain_config(None, DDP)
    data = corpus_data(work, cfg)
    for micro in ([concat_batches([b0, b1])], [b0, b1]):  # one global batch of 8; or 2 accumulated halves
        model = build_model(work, cfg, data)
        accumulate_gradients(model, micro, DistInfo(), _weights(model), model.config.visual_offset,
                             torch.device("cpu"))
        single = _grads(model)
        assert single.keys() == ddp_grads.keys()
        for name, g in single.items():
            torch.testing.assert_close(ddp_grads[name], g, atol=2e-6, rtol=1e-4, msg=name)
        assert max(float(g.abs().max()) for g in single.values()) > 1e-3

    # the full loop: rank 0 wrote checkpoints (with both ranks' data/RNG state) and one log
    final = WorkDir(work).resolve_checkpoint()
    assert final.name == "step-4"
    state = load_trainer_state(final)
    assert state["world_size"] == 2 and [r["data"]["rank"] for r in state["ranks"]] == [0, 1]
    entries = [json.loads(line) for line in (work / "logs" / "pretrain.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries if e["kind"] == "train"] == [1, 2, 3, 4]
    assert [e["step"] for e in entries if e["kind"] == "eval"] == [2, 4]


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), Path(sys.argv[2]))
