"""Usage statistics of a visual-word vocabulary: how many words are used and how evenly."""

from __future__ import annotations

from typing import Any

import numpy as np


def vocab_stats(counts: np.ndarray, sq_dist_sum: float | None = None) -> dict[str, Any]:
    """Statistics of word usage.

    Args:
        counts: (n_words,) int, occurrences of each word id.
        sq_dist_sum: sum over all tokens of the squared distance (feature units squared) of the
            clip feature to its word's leaf centroid; ``None`` leaves ``inertia`` out.

    Returns:
        ``n_tokens``; ``n_words`` (id space size); ``words_used`` (ids with count > 0);
        ``used_fraction``; ``entropy_bits`` (Shannon entropy of the usage distribution, bits;
        at most log2(words_used)); ``perplexity`` (2**entropy); ``largest_share`` (share of
        tokens of the most frequent word) and ``largest_word``; ``clips_per_word`` (tokens per
        word of the id space) and ``clips_per_used_word`` (tokens per used word); ``inertia`` (mean squared
        distance to the assigned leaf centroid); ``counts`` as a list.
    """
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)  # (n_words,)
    total = int(counts.sum())
    used = int((counts > 0).sum())
    if total > 0:
        p = counts[counts > 0] / total
        entropy = float(-(p * np.log2(p)).sum())
        largest_word = int(counts.argmax())
        largest_share = float(counts[largest_word] / total)
    else:
        entropy, largest_word, largest_share = 0.0, -1, 0.0
    out: dict[str, Any] = {
        "n_tokens": total,
        "n_words": int(counts.size),
        "words_used": used,
        "used_fraction": used / counts.size if counts.size else 0.0,
        "entropy_bits": entropy,
        "perplexity": float(2.0**entropy),
        "largest_word": largest_word,
        "largest_share": largest_share,
        "clips_per_word": total / counts.size if counts.size else 0.0,
        "clips_per_used_word": total / used if used else 0.0,
        "counts": counts.tolist(),
    }
    if sq_dist_sum is not None:
        out["inertia"] = float(sq_dist_sum / total) if total else 0.0
    return out


def format_stats(stats: dict[str, Any]) -> str:
    """One human-readable line (no per-word counts)."""
    parts = [
        f"tokens {stats['n_tokens']}",
        f"words used {stats['words_used']}/{stats['n_words']} ({100 * stats['used_fraction']:.1f}%)",
    ]
    if "clips_per_word" in stats:  # stats written before these counts existed lack them
        parts.append(
            f"clips per word {stats['clips_per_word']:.1f} (per used word {stats['clips_per_used_word']:.1f})"
        )
    parts += [
        f"entropy {stats['entropy_bits']:.3f} bits (perplexity {stats['perplexity']:.1f})",
        f"largest word {stats['largest_word']} share {100 * stats['largest_share']:.2f}%",
    ]
    if "inertia" in stats:
        parts.append(f"inertia {stats['inertia']:.6g}")
    return ", ".join(parts)
