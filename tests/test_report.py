"""The HTML report: built from stage output files, opened in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videobert.report import build_report
from videobert.report.browser import find_chromium, render_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _png(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((24, 48, 3), colour, dtype=np.uint8)).save(path)


def _fake_run(work: Path) -> None:
    """Stage outputs in their documented formats (docs/ARCHITECTURE.md)."""
    (work / "reports").mkdir(parents=True)
    _png(work / "reports" / "zero_shot" / "ex0.png", (200, 30, 30))
    (work / "reports" / "zero_shot.json").write_text(json.dumps({
        "task": "zero-shot", "n": 40,
        "metrics": {"verb_top1": 0.5, "verb_top5": 0.9, "noun_top1": 0.1},
        "chance": {"verb_top1": 0.125, "verb_top5": 0.625, "noun_top1": 0.166},
        "uncalibrated": {"verb_top1": 0.3},
        "intervals": {"n": 40, "metrics": {"verb_top1": [0.35, 0.65], "noun_top1": [0.02, 0.2]},
                      "baseline": {"verb_top1": [0.125, 0.125], "noun_top1": [0.166, 0.166]},
                      "difference": {"verb_top1": [0.22, 0.52], "noun_top1": [-0.14, 0.03]},
                      "above_baseline": {"verb_top1": True, "noun_top1": False}},
        "examples": [{"video_id": "v1", "truth": "slide circle", "pred": "slide square", "image": "zero_shot/ex0.png"}],
    }))
    (work / "reports" / "retrieve.json").write_text(json.dumps({
        "task": "retrieve", "n": 50, "metrics": {"t2v_R@5": 0.4, "t2v_median_rank": 8.0},
        "chance": {"t2v_R@5": 0.1, "t2v_median_rank": 25.5},
    }))
    (work / "logs").mkdir()
    lines = [{"kind": "train", "step": s, "loss": 5.0 / s, "video_mlm_loss": 4.0 / s} for s in range(1, 20)]
    lines.append({"kind": "eval", "step": 19, "val_loss": 0.4, "val_video_mlm_acc": 0.3, "val_alignment_acc": 0.8})
    (work / "logs" / "pretrain.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{torn")
    _png(work / "gallery" / "words" / "00007.png", (30, 200, 30))
    (work / "demo_state.json").write_text(json.dumps({"stages": {"synth": {"seconds": 3.2, "status": "done"}}}))


def test_report_contains_metrics_ratios_and_sections(tmp_path):
    _fake_run(tmp_path)
    html = build_report(tmp_path).read_text()
    assert "4.00x" in html  # verb_top1 0.5 against chance 0.125
    assert "3.19x" in html  # median rank: chance / value, lower is better
    assert "verb_top1 (uncalibrated)</td><td class=num>0.3</td>" in html and "2.40x" in html
    verb = html[html.index("<td>verb_top1</td>") : html.index("<td>verb_top5</td>")]
    assert "[0.35, 0.65]" in verb and "[0.125, 0.125]" in verb and "&#10003; above" in verb
    noun = html[html.index("<td>noun_top1</td>") :].split("</tr>")[0]
    assert "[0.02, 0.2]" in noun and "not separated" in noun
    assert "95% bootstrap interval over 40 units" in html
    assert "training_curves.png" in html and (tmp_path / "reports" / "training_curves.png").exists()
    assert (tmp_path / "reports" / "gallery" / "00007.png").exists()
    assert "Timings per stage" in html and "synth" in html


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (.ci/run installs it)")
def test_report_renders_in_chromium_with_all_images(tmp_path):
    _fake_run(tmp_path)
    path = build_report(tmp_path)
    shot = ARTIFACTS / "report_unit.png"
    page = render_report(path, screenshot=shot)
    assert page["images_total"] == 3  # example strip, training curves, one visual word
    assert page["images_ok"] == page["images_total"]
    assert page["tables"].count("metrics") == 2
    assert shot.exists() and shot.stat().st_size > 1000


def test_paper_table_only_for_youcook2_annotations(tmp_path):
    """The paper's published numbers appear beside ours (on the paper's scale, with our interval)
    when the annotation file is YouCook2's, and never for another corpus."""
    from videobert.report.paper import is_youcook2

    _fake_run(tmp_path)
    assert "The paper's table" not in build_report(tmp_path).read_text()
    ann = tmp_path / "youcookii_annotations_trainval.json"
    ann.write_text(json.dumps({"database": {"GLd3aX16zBg": {"subset": "validation", "recipe_type": "113"}}}))
    other = tmp_path / "mine.json"
    other.write_text(json.dumps({"database": {"GLd3aX16zBg": {"recipe_type": "1"}, "-a_b-c_d-e1": {"recipe_type": "2"}}}))
    assert is_youcook2(ann) and is_youcook2(other) and not is_youcook2(tmp_path / "synth.json") and not is_youcook2(None)
    path = tmp_path / "reports" / "zero_shot.json"
    data = json.loads(path.read_text())
    data["annotations"] = str(ann)
    path.write_text(json.dumps(data))
    page = build_report(tmp_path).read_text()
    table = page[page.index("The paper's table") :].split("</table>")[0]
    assert "<td>zero-shot verb top-1 (%)</td><td class=num>3.2</td><td class=num>50.00" in table
    assert "[35.00, 65.00]" in table and "captioning" not in table  # no caption report on YouCook2
