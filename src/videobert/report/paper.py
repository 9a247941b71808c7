"""The paper's published YouCook2 numbers beside ours, when the annotations are YouCook2's.

Sun et al., "VideoBERT", ICCV 2019: Table 1 (zero-shot action classification on YouCook2's
validation segments, verbs and nouns from the captions with a POS tagger; the cross-modal model
pretrained on 312k cooking videos) and Table 2 (captioning on YouCook2 validation, with the
features of VideoBERT + S3D into a transformer encoder-decoder; S3D alone the baseline). The
paper prints percentages for top-k, BLEU, METEOR and ROUGE-L, and CIDEr on pycocoevalcap's scale;
ours are fractions, shown here on the paper's scale.

The table is shown only when the report's annotation file is YouCook2's (its name, or YouTube-id
keys with ``recipe_type``): numbers on another corpus are not comparable with these.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

#: (task, our metric key, label, the paper's value, factor from our scale to the paper's)
PAPER_ROWS: tuple[tuple[str, str, str, float, float], ...] = (
    ("zero-shot", "verb_top1", "zero-shot verb top-1 (%)", 3.2, 100.0),
    ("zero-shot", "verb_top5", "zero-shot verb top-5 (%)", 43.3, 100.0),
    ("zero-shot", "noun_top1", "zero-shot object top-1 (%)", 13.1, 100.0),
    ("zero-shot", "noun_top5", "zero-shot object top-5 (%)", 33.7, 100.0),
    ("caption", "BLEU-4", "captioning BLEU-4", 4.33, 100.0),
    ("caption", "METEOR", "captioning METEOR", 11.94, 100.0),
    ("caption", "ROUGE-L", "captioning ROUGE-L", 28.80, 100.0),
    ("caption", "CIDEr", "captioning CIDEr", 0.55, 1.0),
)
PAPER_SETTINGS = (
    "paper: BERT-large init, 12^4 visual words of S3D (Kinetics) features on 20-fps 1.5 s clips, pretrained "
    "on 312k cooking videos (966 days), evaluated on YouCook2 validation"
)

_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


def is_youcook2(annotations: str | Path | None) -> bool:
    """Whether an annotation file is YouCook2's: its name says so, or most of its keys are YouTube
    ids whose entries carry a ``recipe_type``."""
    if not annotations:
        return False
    path = Path(annotations)
    if "youcook" in path.name.lower():
        return True
    try:
        db = json.loads(path.read_text(encoding="utf-8")).get("database", {})
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(db, dict) or not db:
        return False
    hits = sum(bool(_YOUTUBE_ID.match(str(k))) and isinstance(v, dict) and "recipe_type" in v for k, v in db.items())
    return hits >= 0.9 * len(db)


def _ours(result: dict[str, Any], key: str, factor: float) -> str:
    value = (result.get("metrics") or {}).get(key)
    if not isinstance(value, int | float):
        return "<span class=muted>not run</span>"
    iv = ((result.get("intervals") or {}).get("metrics") or {}).get(key)
    text = f"{value * factor:.2f}"
    if isinstance(iv, list) and len(iv) == 2 and all(isinstance(x, int | float) for x in iv):
        text += f" <span class=muted>[{iv[0] * factor:.2f}, {iv[1] * factor:.2f}]</span>"
    return text


def paper_table(results: dict[str, dict[str, Any]]) -> str:
    """The HTML section, or "" when no zero-shot / caption report was run on YouCook2's annotations."""
    runs = {t: r for t, r in results.items() if t in ("zero-shot", "caption") and is_youcook2(r.get("annotations"))}
    if not runs:
        return ""
    rows = []
    for task, key, label, paper, factor in PAPER_ROWS:
        if task not in runs:
            continue
        rows.append(f"<tr><td>{html.escape(label)}</td><td class=num>{paper:g}</td>"
                    f"<td class=num>{_ours(runs[task], key, factor)}</td></tr>")  # fmt: skip
    ours = []
    for task, res in runs.items():
        cfg = res.get("config") or {}
        ours.append(f"{task}: n = {res.get('n')}, subset {cfg.get('subset')}, checkpoint {res.get('checkpoint')}")
    return (
        "<h2>The paper's table (YouCook2)</h2><table class=metrics><tr><th>metric</th><th>VideoBERT paper</th>"
        "<th>this run [95% interval]</th></tr>" + "".join(rows) + "</table>"
        f"<p class=muted>{html.escape(PAPER_SETTINGS)}. This run: {html.escape('; '.join(ours))}.</p>"
    )


__all__ = ["PAPER_ROWS", "is_youcook2", "paper_table"]
