"""The model as a Hugging Face artifact: ``videobert export`` of a real (small) pipeline run, loaded
by transformers' Auto classes in a fresh interpreter, its processor turning a new video into the
same visual words as extract + fit-vocab, and the README's five-line snippet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videobert.cli import main
from videobert.datasets.synthetic import synthesize
from videobert.export import export
from videobert.features.extract import extract
from videobert.processor import VideoBertProcessor
from videobert.vocab.assign import load_vocab
from videobert.workdir import WorkDir

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN = ["init=random", "model.hidden_size=32", "model.num_hidden_layers=2", "model.num_attention_heads=2",
            "model.intermediate_size=64", "max_steps=4", "batch_size=4", "warmup_steps=1", "eval_every=0",
            "eval_batches=1", "log_every=2"]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """``(work, export dir, source videos)`` of synth -> extract -> fit-vocab -> tokenize -> pretrain -> export."""
    root = tmp_path_factory.mktemp("export")
    src, work = root / "src", root / "work"
    synthesize(src, n_videos=6, seed=3, width=64, height=48, max_steps_per_video=2, progress=False)
    videos = src / "videos"
    assert main(["-q", "extract", str(videos), "--work", str(work), "--backbone", "classical", "--no-progress"]) == 0
    assert main(["-q", "fit-vocab", str(work), "--levels", "2", "--branching", "3", "niter=5"]) == 0
    assert main(["-q", "tokenize", str(work), "--transcripts", str(videos), "--annotations", str(src / "annotations.json")]) == 0
    assert main(["-q", "pretrain", str(work), "--device", "cpu", *PRETRAIN]) == 0
    assert main(["-q", "zero-shot", str(work), "--annotations", str(src / "annotations.json")]) == 0
    out = root / "export"
    assert main(["-q", "export", str(work), str(out)]) == 0
    return work, out, videos


def test_export_is_a_self_contained_hf_directory(run) -> None:
    work, out, _ = run
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "processor_config.json",
            "feature_spec.json", "visual_vocab", "pretrain_config.yaml", "versions.json", "README.md"} <= names  # fmt: skip
    assert "trainer_state.pt" not in names and not any(n.endswith(".pt") for n in names)  # no optimiser state
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "videobert" and config["architectures"] == ["VideoBertForPreTraining"]
    card = (out / "README.md").read_text()
    for part in ("## Use", "## Data", "## Training", "## Validation", "## Task results", "videobert.load", "zero-shot |"):
        assert part in card, part
    assert "max_steps: 4" in card  # the training settings
    with pytest.raises(Exception, match="not empty"):
        export(work, out)  # nothing is overwritten


def test_auto_classes_load_the_export_in_a_fresh_interpreter(run) -> None:
    """Only ``import videobert``: AutoConfig / AutoModel / AutoModelForPreTraining / AutoTokenizer; the
    tokenizer's length is the model's vocabulary and its ids are the pipeline's for text + visual words."""
    _, out, _ = run
    code = f"""
import json, torch, videobert
from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoTokenizer
from videobert.text.tokenizer import VideoBertTokenizer, visual_token
out = {str(out)!r}
cfg = AutoConfig.from_pretrained(out)
enc_model = AutoModel.from_pretrained(out).eval()
full = AutoModelForPreTraining.from_pretrained(out).eval()
tok = AutoTokenizer.from_pretrained(out)
ours = VideoBertTokenizer.from_pretrained(out)
words = [0, 5, 8, 2]
hf = tok("now let me show you how to cut the tomato", "".join(visual_token(w) for w in words))
ref = ours.encode_pair("now let me show you how to cut the tomato", words, 128)
video_only = tok("", " ".join(visual_token(w) for w in words))
batch = {{k: torch.tensor([v]) for k, v in hf.items()}}
with torch.inference_mode():
    a = enc_model(**batch).last_hidden_state
    b = full(**batch).last_hidden_state
print(json.dumps({{"config": type(cfg).__name__, "model": type(enc_model).__name__, "full": type(full).__name__,
    "len": len(tok), "vocab_size": cfg.vocab_size, "ids_equal": hf["input_ids"] == ref["input_ids"],
    "types_equal": hf["token_type_ids"] == ref["token_type_ids"],
    "video_only": video_only["input_ids"] == ours.encode_pair(None, words, 128)["input_ids"],
    "same_states": bool(torch.allclose(a, b, atol=1e-5))}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"config": "VideoBertConfig", "model": "VideoBertModel", "full": "VideoBertForPreTraining",
                   "len": got["vocab_size"], "vocab_size": got["vocab_size"], "ids_equal": True, "types_equal": True,
                   "video_only": True, "same_states": True}  # fmt: skip
    assert got["vocab_size"] == 30522 + 1 + 9


def test_processor_gives_the_pipelines_visual_words(run, tmp_path: Path) -> None:
    """A corpus video and a new one: the processor's words equal extract + the fitted vocabulary's."""
    work, out, videos = run
    processor = VideoBertProcessor.from_pretrained(out)
    vid = sorted(videos.glob("*.mp4"))[0]
    words, times = processor.visual_words(video=vid)
    np.testing.assert_array_equal(words, np.load(work / "tokens" / f"{vid.stem}.npy"))
    np.testing.assert_array_equal(times, np.load(WorkDir(work).token_times_file(vid.stem)))
    # a video the vocabulary never saw, through `videobert extract` into another work dir
    new_src = tmp_path / "new"
    synthesize(new_src, n_videos=8, seed=11, width=64, height=48, max_steps_per_video=2, progress=False)
    new = sorted((new_src / "videos").glob("*.mp4"))[-1]
    extract([new], tmp_path / "w2", backbone="classical", progress=False)
    feats = np.load(tmp_path / "w2" / "features" / "classical" / f"{new.stem}.npy")
    vocab, vocab_cfg = load_vocab(work)
    expected = vocab.assign(feats, method=vocab_cfg.get("method", "tree"))
    np.testing.assert_array_equal(processor.visual_words(video=new)[0], expected)
    np.testing.assert_array_equal(processor.visual_words(features=feats)[0], expected)
    # save / load round trip, and model inputs in the joint layout
    again = VideoBertProcessor.from_pretrained(processor.save_pretrained(tmp_path / "proc"))
    np.testing.assert_array_equal(again.visual_words(features=feats)[0], expected)
    inputs = again(text="cut the tomato", visual_words=expected)
    tok = again.tokenizer
    assert inputs["input_ids"][0].tolist() == tok.encode_pair("cut the tomato", expected, 128, fit="subsample")["input_ids"]
    # frames decoded elsewhere (at the clip grid's rate) give visual words too
    from videobert.video.decode import iter_frames

    frames = np.stack([f for _, f in iter_frames(new, fps=processor.clip_spec.fps)])
    assert len(again.visual_words(frames=frames)[0]) == len(expected)


def test_readme_five_lines_run(run, tmp_path: Path) -> None:
    """The README's "VideoBERT in five lines" snippet, as written, in a fresh interpreter."""
    _, out, videos = run
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("## VideoBERT in five lines", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len([ln for ln in snippet.splitlines() if ln.strip()]) <= 5
    (tmp_path / "demo-work").mkdir()
    (tmp_path / "demo-work" / "export").symlink_to(out)
    (tmp_path / "clip.mp4").symlink_to(sorted(videos.glob("*.mp4"))[0])
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout.strip().splitlines()[-1]
    score = float(printed.split()[0])
    assert 0.0 <= score <= 1.0 and "verb" in printed and "noun" in printed
