"""How the pipeline scales with the number of videos: time and peak memory per stage at 1x, 4x, 16x.

The built-in corpus (``videobert synth``) at ``base`` x each scale videos (base: the demo's 60)
goes through the demo's stages with the demo's settings: synth, extract, fit-vocab, tokenize and
``--steps`` pretraining steps (the demo preset; a fixed number of steps, so pretraining should
take the same time at every scale). Each stage runs in its own process, which imports only that
stage's modules (as its CLI command does) and runs it with the settings ``videobert demo``
resolves for it, so that its memory is its own. Per stage we record the wall time of the stage
itself (inside the process, imports excluded), the process's peak RSS (``ru_maxrss``) and
"tree": the peak of the process's RSS plus its workers' unique memory (USS), sampled every 50 ms
with psutil. Each stage runs at every scale before the next stage. Printed as a table of ratios
to 1x (goal: time linear in the videos, i.e. time ratio / video ratio near 1 for extract,
fit-vocab and tokenize, flat for pretraining; memory flat) and saved as JSON (``--out``, default
``WORK/scaling.json``).

    python benchmarks/scaling.py --work scaling-work                   # 60, 240, 960 videos, 50 steps
    python benchmarks/scaling.py --work w --base 2 --scales 1 2 --steps 2 --tiny   # seconds: a check

Re-running on the same ``--work`` redoes every stage (each scale's folder is emptied first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

STAGES = ("synth", "extract", "fit-vocab", "tokenize", "pretrain")
#: stages whose time should grow with the videos (pretraining runs a fixed number of steps)
LINEAR = ("synth", "extract", "fit-vocab", "tokenize")


def _demo_config(n_videos: int, steps: int, tiny: bool, seed: int) -> Any:
    from videobert.commands.demo import DemoConfig

    pretrain: dict[str, Any] = {"max_steps": steps}
    if tiny:  # the demo's tiny preset evaluates and checkpoints every 10 steps: keep that inside the run
        pretrain.update(eval_every=max(1, steps), checkpoint_every=max(1, steps), warmup_steps=0)
    return DemoConfig(n_videos=n_videos, seed=seed, tiny=tiny, pretrain=pretrain)


def write_stage_configs(work: Path, n_videos: int, steps: int, tiny: bool, seed: int) -> None:
    """Resolve the demo's stage configs (``demo_stages``) once, into ``work/stage_configs.json``."""
    from videobert.commands.demo import demo_stages
    from videobert.config import to_dict

    stages = demo_stages(_demo_config(n_videos, steps, tiny, seed), work)
    configs = {s.name: to_dict(s.config) for s in stages if s.name in STAGES}
    (work / "stage_configs.json").write_text(json.dumps(configs, indent=1))


def run_stage(name: str, work: Path) -> dict[str, Any]:
    """Run one stage in this process, importing only what it needs (as its CLI command would), with
    the demo's resolved settings and the demo's paths; its wall time and peak RSS (MiB)."""
    from videobert.config import from_dict, kwargs_of

    cfg = json.loads((work / "stage_configs.json").read_text())[name]
    src = work / "source"  # commands/demo.py's layout
    videos, ann = src / "videos", src / "annotations.json"
    if name == "synth":
        from videobert.datasets.synthetic import SynthConfig, synthesize

        c = from_dict(SynthConfig, cfg)
        run = lambda: synthesize(src, **kwargs_of(c))  # noqa: E731
    elif name == "extract":
        from videobert.features.extract import ExtractConfig, extract

        c = from_dict(ExtractConfig, cfg)
        run = lambda: extract(videos, work, **kwargs_of(c))  # noqa: E731
    elif name == "fit-vocab":
        from videobert.vocab.assign import VocabConfig, fit_vocab

        c = from_dict(VocabConfig, cfg)
        run = lambda: fit_vocab(work, **kwargs_of(c))  # noqa: E731
    elif name == "tokenize":
        from videobert.data.corpus import TokenizeConfig, build_corpus

        c = from_dict(TokenizeConfig, cfg)
        run = lambda: build_corpus(work, transcripts_dir=videos, annotations=ann, **kwargs_of(c))  # noqa: E731
    else:
        from videobert.train.config import PretrainConfig
        from videobert.train.pretrain import pretrain

        c = from_dict(PretrainConfig, cfg)
        run = lambda: pretrain(work, c)  # noqa: E731
    t = time.perf_counter()
    run()
    seconds = time.perf_counter() - t
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"stage_seconds": seconds, "peak_rss_mib": own}


def _tree_memory(proc: psutil.Process) -> int:
    """Bytes held now by ``proc`` and its descendants: ``proc``'s RSS plus each descendant's unique
    set size (USS: pages no other process maps), so a forked worker's shared pages count once and
    other processes on the machine do not change the figure; RSS where USS cannot be read."""
    total = 0
    for i, p in enumerate([proc, *proc.children(recursive=True)]):
        try:
            if i == 0:
                total += p.memory_info().rss
            else:
                try:
                    total += p.memory_full_info().uss
                except (psutil.AccessDenied, AttributeError):
                    total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure_stage(name: str, work: Path) -> dict[str, Any]:
    """Run stage ``name`` in a child process; its numbers plus the sampled peak of
    :func:`_tree_memory` (MiB)."""
    argv = [sys.executable, __file__, "--stage", name, "--work", str(work)]
    env = dict(os.environ, TQDM_DISABLE="1")
    # the child's output goes to files: a pipe nobody reads while we sample memory fills up
    # (64 KiB of log lines) and blocks the stage
    (work / "stage-logs").mkdir(exist_ok=True)
    log_path, out_path = work / "stage-logs" / f"{name}.log", work / "stage-logs" / f"{name}.out"
    t = time.perf_counter()
    with open(out_path, "w") as out_f, open(log_path, "w") as err_f:
        child = subprocess.Popen(argv, stdout=out_f, stderr=err_f, text=True, env=env)
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _tree_memory(proc))
            time.sleep(0.05)
    if child.returncode != 0:
        raise SystemExit(f"stage {name} in {work} failed (log: {log_path}):\n{log_path.read_text()[-3000:]}")
    result = json.loads(out_path.read_text().strip().splitlines()[-1])
    tree = peak / 2**20 if peak else result["peak_rss_mib"]  # a stage shorter than one sample: its RSS
    result.update(seconds=time.perf_counter() - t, peak_tree_mib=tree)
    return result


def ratios(results: dict[str, dict[str, dict[str, Any]]], scales: list[int]) -> dict[str, dict[str, Any]]:
    """Per scale and stage: time and memory as multiples of the first scale's."""
    first = str(scales[0])
    out: dict[str, dict[str, Any]] = {}
    for k in scales[1:]:
        videos = k / scales[0]
        row: dict[str, Any] = {}
        for stage in STAGES:
            a, b = results[first][stage], results[str(k)][stage]
            t = b["stage_seconds"] / max(a["stage_seconds"], 1e-9)
            row[stage] = {
                "time": t,
                "time_per_video": t / videos,
                "peak_rss": b["peak_rss_mib"] / a["peak_rss_mib"],
                "peak_tree": b["peak_tree_mib"] / a["peak_tree_mib"],
            }
        out[str(k)] = row
    return out


def table(report: dict[str, Any]) -> str:
    """The results as text: seconds and peak memory (RSS of the stage's process / with its
    workers, MiB) at each scale, then the ratios to the first scale."""
    scales, res, rat = report["scales"], report["results"], report["ratios"]
    videos = report["videos"]
    head = "".join(" | " + f"{k}x = {videos[str(k)]} videos: s, RSS / tree MiB".rjust(38) for k in scales)
    lines = [f"{'stage':10s}{head}"]
    for stage in STAGES:
        cells = []
        for k in scales:
            r = res[str(k)][stage]
            cells.append(f"{r['stage_seconds']:8.1f} s {r['peak_rss_mib']:7.0f} / {r['peak_tree_mib']:7.0f}")
        lines.append(f"{stage:10s}" + "".join(f" | {c:>38s}" for c in cells))
    lines.append("")
    head = "".join(" | " + f"{k}x: time (per video), RSS (tree)".rjust(36) for k in scales[1:])
    lines.append(f"{'ratio to ' + str(scales[0]) + 'x':10s}{head}")
    for stage in STAGES:
        cells = []
        for k in scales[1:]:
            r = rat[str(k)][stage]
            cells.append(
                f"{r['time']:6.2f}x ({r['time_per_video']:4.2f}), {r['peak_rss']:4.2f}x ({r['peak_tree']:4.2f})"
            )
        note = "  (fixed steps: flat is the goal)" if stage not in LINEAR else ""
        lines.append(f"{stage:10s}" + "".join(f" | {c:>36s}" for c in cells) + note)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="scratch folder: one sub-folder per scale")
    ap.add_argument("--base", type=int, default=60, help="videos at 1x (default: the demo's 60)")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--steps", type=int, default=50, help="pretraining steps at every scale (demo preset)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tiny", action="store_true", help="the demo's --tiny settings (a smoke run)")
    ap.add_argument("--out", default=None, help="JSON file (default: WORK/scaling.json)")
    ap.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # internal: run one stage here
    ap.add_argument("--configs", action="store_true", help=argparse.SUPPRESS)  # internal: resolve them
    args = ap.parse_args()
    work = Path(args.work)
    if args.stage:
        import logging

        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(run_stage(args.stage, work)))
        return
    if args.configs:
        for k in args.scales:
            write_stage_configs(work / f"x{k}", args.base * k, args.steps, args.tiny, args.seed)
        return
    if args.base < 1 or any(k < 1 for k in args.scales):
        raise SystemExit("--base and --scales must be positive")
    report: dict[str, Any] = {
        "base": args.base, "scales": args.scales, "steps": args.steps, "tiny": args.tiny, "seed": args.seed,
        "videos": {str(k): args.base * k for k in args.scales},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "results": {},
    }  # fmt: skip
    for k in args.scales:
        folder = work / f"x{k}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    # resolved in a child: this process stays small (a child's ru_maxrss starts from its parent's
    # RSS at fork: Linux keeps it across exec)
    argv = [sys.executable, __file__, "--configs", "--work", str(work), "--base", str(args.base), "--scales"]
    argv += [str(k) for k in args.scales] + ["--steps", str(args.steps), "--seed", str(args.seed)]
    subprocess.run(argv + (["--tiny"] if args.tiny else []), check=True)
    report["results"] = {str(k): {} for k in args.scales}
    for stage in STAGES:  # each stage at every scale before the next stage: load drifts touch all alike
        for k in args.scales:
            r = measure_stage(stage, work / f"x{k}")
            report["results"][str(k)][stage] = r
            print(f"{k:3d}x ({args.base * k} videos) {stage:9s} {r['stage_seconds']:8.1f} s  peak RSS "
                  f"{r['peak_rss_mib']:6.0f} MiB (tree {r['peak_tree_mib']:6.0f} MiB)", flush=True)  # fmt: skip
    report["ratios"] = ratios(report["results"], args.scales)
    out = Path(args.out) if args.out else work / "scaling.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report))
    print(f"\nsaved {out}")


if __name__ == "__main__":
    main()
