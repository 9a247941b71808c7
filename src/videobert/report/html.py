"""``WORK/reports/report.html``: one self-contained folder with every result of a run.

Reads only stage outputs (files): ``reports/<task>.json`` (metrics beside their baseline,
examples with images under ``reports/``), ``logs/pretrain.jsonl`` (training curves),
``vocab/stats.json`` and ``gallery/words/*.png`` (visual words, copied in), ``corpus/stats.json``
and the demo's ``demo_state.json`` (timings per stage). Whatever is missing is simply left out; a
work directory with none of them is an error.
"""

from __future__ import annotations

import html
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videobert.errors import StageMissingError
from videobert.report.paper import paper_table
from videobert.report.plots import plot_training_curves
from videobert.tasks.base import BUILTIN_TASKS
from videobert.utils.io import atomic_write_text
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)


@dataclass
class ReportConfig:
    """Settings of ``videobert report``.

    Attributes:
        title: page title.
        gallery_top: contact sheets of this many most frequent visual words.
    """

    title: str = "VideoBERT report"
    gallery_top: int = 24

TASK_ORDER = tuple(m.replace("_", "-") for m in BUILTIN_TASKS)  # the registry's order

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;font-size:14px;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{color:#0a7d2c;font-weight:600}.muted{color:#777}
.gallery{display:flex;flex-wrap:wrap;gap:10px}.gallery figure{margin:0;width:260px}
.gallery img{width:260px;image-rendering:pixelated;border:1px solid #ccc}figcaption{font-size:12px;color:#555}
img.strip{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}
"""

# Marks the page with how many images loaded, so a headless browser can check it from the DOM.
IMAGE_CHECK_JS = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-total', imgs.length);
  document.body.setAttribute('data-images-ok', ok);
});
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | dict):
        return html.escape(json.dumps(v)[:200])
    return html.escape(str(v))


def _interval(iv: Any) -> str:
    """``[lo, hi]`` as ``0.41-0.57`` (muted), or nothing."""
    if isinstance(iv, list) and len(iv) == 2 and all(isinstance(x, int | float) for x in iv):
        return f" <span class=muted>[{iv[0]:.3g}, {iv[1]:.3g}]</span>"
    return ""


def _metrics_table(result: dict[str, Any]) -> str:
    """Each metric with its 95% interval beside the baseline's, the ratio, and a mark where the
    paired interval of the difference clears the baseline."""
    metrics = result.get("metrics", {}) or {}
    chance = result.get("baseline", result.get("chance", {})) or {}  # "chance": reports before 0.2
    intervals = result.get("intervals") or {}
    rows = []
    # zero-shot with calibration also keeps the raw scores' metrics (the paper's reading)
    named = [(name, name, v) for name, v in metrics.items()]
    named += [(f"{name} (uncalibrated)", name, v) for name, v in (result.get("uncalibrated") or {}).items()]
    for label, name, value in named:
        if not isinstance(value, int | float):
            continue
        base = chance.get(name)
        ratio = ""
        cls = ""
        if isinstance(base, int | float) and base > 0:
            # For ranks lower is better: show chance/value there.
            r = (base / value if value else float("inf")) if "rank" in name.lower() else value / base
            ratio = f"{r:.2f}x"
        ours = label == name  # the uncalibrated rows have no intervals of their own
        above = ours and (intervals.get("above_baseline") or {}).get(name)
        if above:
            cls = "good"
        mark = "&#10003; above" if above else ("" if not ours or name not in (intervals.get("difference") or {}) else "not separated")
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td class=num>{_fmt(value)}"
            f"{_interval((intervals.get('metrics') or {}).get(name)) if ours else ''}</td>"
            f"<td class='num muted'>{_fmt(base) if base is not None else ''}"
            f"{_interval((intervals.get('baseline') or {}).get(name)) if ours else ''}</td>"
            f"<td class='num {cls}'>{ratio}</td><td class='{cls}'>{mark}</td></tr>"
        )
    if not rows:
        return "<p class=muted>no metrics</p>"
    n = intervals.get("n")
    caption = (
        f"<p class=muted>[lo, hi]: 95% bootstrap interval over {n} units, the baseline paired with the same "
        "resamples; &#10003; above: the interval of the difference lies above 0.</p>" if n else ""
    )
    return (
        "<table class=metrics><tr><th>metric</th><th>value</th><th>"
        + html.escape(str(result.get("baseline_name") or "chance / baseline"))
        + "</th><th>ratio</th><th>vs baseline</th></tr>"
        + "".join(rows)
        + "</table>"
        + caption
    )


def _examples_table(result: dict[str, Any], reports_dir: Path, limit: int = 8) -> str:
    examples = [dict(e) for e in result.get("examples", []) or [] if isinstance(e, dict)][:limit]
    if not examples:
        return ""
    shared = ""
    images = [e.get("image") for e in examples]
    if len(examples) > 1 and images[0] and all(img == images[0] for img in images):
        # One figure for all the examples (e.g. a confusion matrix): show it once, above the table.
        if (reports_dir / images[0]).exists():
            shared = f"<p><img class=strip src='{html.escape(str(images[0]))}' alt='{html.escape(str(images[0]))}'></p>"
        for e in examples:
            e.pop("image", None)
    keys: list[str] = []
    for e in examples:
        for k in e:
            if k != "image" and k not in keys:
                keys.append(k)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    has_img = any("image" in e for e in examples)
    rows = []
    for e in examples:
        cells = "".join(f"<td>{_fmt(e.get(k, ''))}</td>" for k in keys)
        if has_img:
            img = e.get("image")
            cell = ""
            if img and (reports_dir / img).exists():
                cell = f"<img class=strip src='{html.escape(str(img))}' alt='{html.escape(str(img))}'>"
            cells += f"<td>{cell}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return shared + (
        "<table class=examples><tr>" + head + ("<th>frames</th>" if has_img else "") + "</tr>"
        + "".join(rows) + "</table>"
    )


def _task_images(result: dict[str, Any], reports_dir: Path) -> str:
    """Figures a task lists under ``"figures"`` (paths relative to reports/)."""
    out = []
    for fig in result.get("figures", []) or []:
        if (reports_dir / fig).exists():
            out.append(f"<p><img class=strip src='{html.escape(fig)}' alt='{html.escape(fig)}'></p>")
    return "".join(out)


def _notes(result: dict[str, Any]) -> str:
    """A task's ``notes`` (what it left out and why) as a paragraph."""
    notes = [str(n) for n in result.get("notes", []) or []]
    return "".join(f"<p class=muted>note: {html.escape(n)}</p>" for n in notes)


def _gallery(work: WorkDir, reports_dir: Path, top: int) -> str:
    words_dir = work.gallery / "words"
    stats_path = work.vocab_stats
    if not words_dir.is_dir():
        return "<p class=muted>no gallery (run <code>videobert gallery</code>)</p>"
    counts: dict[str, int] = {}
    stats: dict[str, Any] = {}
    if stats_path.exists():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        raw = stats.get("counts") or {}
        if isinstance(raw, dict):
            counts = {str(k): int(v) for k, v in raw.items()}
        elif isinstance(raw, list):
            counts = {str(i): int(v) for i, v in enumerate(raw) if v}
    pngs = sorted(words_dir.glob("*.png"), key=lambda p: (-counts.get(p.stem.lstrip("0") or "0", counts.get(p.stem, 0)), p.stem))
    dest = reports_dir / "gallery"
    dest.mkdir(parents=True, exist_ok=True)
    figs = []
    for png in pngs[:top]:
        shutil.copy2(png, dest / png.name)
        n = counts.get(png.stem.lstrip("0") or "0", counts.get(png.stem))
        cap = f"word {html.escape(png.stem)}" + (f" &middot; {n} clips" if n is not None else "")
        figs.append(f"<figure><img src='gallery/{html.escape(png.name)}' alt='word {html.escape(png.stem)}'><figcaption>{cap}</figcaption></figure>")
    summary = ""
    keys = [k for k in ("n_words", "words_used", "usage_entropy_bits", "largest_share", "inertia") if k in stats]
    if keys:
        summary = "<table><tr>" + "".join(f"<th>{k}</th>" for k in keys) + "</tr><tr>" + "".join(
            f"<td class=num>{_fmt(stats[k])}</td>" for k in keys) + "</tr></table>"
    return summary + "<div class=gallery>" + "".join(figs) + "</div>"


def _timings(work: WorkDir) -> str:
    state_path = work.root / "demo_state.json"
    if not state_path.exists():
        return ""
    state = json.loads(state_path.read_text(encoding="utf-8"))
    stages = state.get("stages", {})
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class=num>{s.get('seconds', 0):.1f}</td><td>{html.escape(str(s.get('status', '')))}</td></tr>"
        for name, s in stages.items()
    )
    total = sum(float(s.get("seconds", 0)) for s in stages.values())
    return (
        "<h2>Timings per stage</h2><table><tr><th>stage</th><th>seconds</th><th>status</th></tr>"
        + rows + f"<tr><th>total</th><th class=num>{total:.1f}</th><th></th></tr></table>"
    )


def build_report(work: str | Path, title: str = "VideoBERT report", gallery_top: int = 24) -> Path:
    """Write ``WORK/reports/report.html`` (and its images) from the stage outputs; return its path.

    Raises:
        StageMissingError: ``work`` is not a directory or holds no stage output at all.
    """
    work = WorkDir.of(work).require()
    if not any(work.outputs().values()):
        raise StageMissingError(f"{work.root}: no stage output to report (is this a work directory?)")
    reports_dir = work.reports
    reports_dir.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>{html.escape(title)}</h1><p class=muted>work directory: {html.escape(str(work.root.resolve()))}</p>"]

    corpus_stats = work.corpus_stats
    if corpus_stats.exists():
        cs = json.loads(corpus_stats.read_text(encoding="utf-8"))
        flat = {k: v for k, v in cs.items() if isinstance(v, int | float | str)}
        parts.append("<h2>Corpus</h2><table><tr>" + "".join(f"<th>{html.escape(k)}</th>" for k in flat)
                     + "</tr><tr>" + "".join(f"<td class=num>{_fmt(v)}</td>" for v in flat.values()) + "</tr></table>")

    results: dict[str, dict[str, Any]] = {}
    for path in sorted(reports_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            log.warning("%s: not valid JSON, left out of the report", path)
            continue
        if isinstance(data, dict) and "metrics" in data:
            results[str(data.get("task", path.stem)).replace("_", "-")] = data
    if results:
        parts.append("<h2>Results beside their baselines</h2>")
        ordered = [t for t in TASK_ORDER if t in results] + sorted(t for t in results if t not in TASK_ORDER)
        for task in ordered:
            res = results[task]
            n = res.get("n")
            parts.append(f"<h3 id='task-{html.escape(task)}'>{html.escape(task.replace('_', ' '))}"
                         + (f" <span class=muted>(n = {n})</span>" if n is not None else "") + "</h3>")
            parts.append(_metrics_table(res))
            parts.append(_notes(res))
            parts.append(_task_images(res, reports_dir))
            parts.append(_examples_table(res, reports_dir))

    parts.append(paper_table(results))  # only when the annotations are YouCook2's

    curves = plot_training_curves(work.pretrain_log, reports_dir / "training_curves.png")
    if curves:
        parts.append("<h2>Pretraining</h2><p><img class=strip src='training_curves.png' alt='training curves'></p>")

    parts.append("<h2>Visual words</h2>" + _gallery(work, reports_dir, gallery_top))
    parts.append(_timings(work))

    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        + "<style>" + CSS + "</style><script>" + IMAGE_CHECK_JS + "</script></head><body>"
        + "\n".join(p for p in parts if p) + "</body></html>\n"
    )
    out = work.report_html
    atomic_write_text(out, page)
    log.info("report written to %s", out)
    return out
