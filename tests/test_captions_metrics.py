"""Caption metrics: our wrapper must give exactly pycocoevalcap's numbers (one JVM run per test)."""

from __future__ import annotations

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from videobert.eval.captions import (
    METRIC_NAMES,
    CaptionScorerError,
    java_available,
    score_caption_sets,
    score_captions,
)

# Already lower-case, unpunctuated and space-separated: PTB tokenisation leaves them unchanged,
# so pycocoevalcap's pure-Python scorers can be called on them directly as the reference.
REFS = {
    "v1_0": ["cut the onion into small pieces", "chop the onion"],
    "v1_1": ["add salt to the pot"],
    "v2_0": ["mix the flour and the eggs in a bowl", "whisk flour with eggs"],
    "v2_1": ["fry the bacon in a pan"],
}
HYPS = {
    "v1_0": "chop the onion into pieces",
    "v1_1": "add the salt",
    "v2_0": "mix the eggs in a bowl",
    "v2_1": "put the bacon in the oven",
}


def _reference_scores(refs: dict[str, list[str]], hyps: dict[str, str]) -> dict[str, float]:
    gts = {k: list(v) for k, v in refs.items()}
    res = {k: [hyps[k]] for k in refs}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"BLEU-{n}": b for n, b in enumerate(bleu, 1)}
    out["ROUGE-L"] = Rouge().compute_score(gts, res)[0]
    out["CIDEr"] = Cider().compute_score(gts, res)[0]
    return out


@pytest.mark.skipif(not java_available(), reason="pycocoevalcap's tokenizer and METEOR need Java")
def test_scores_equal_pycocoevalcap_on_fixed_inputs() -> None:
    # Case and punctuation are normalised by the PTB tokenizer, so this must not change any score.
    hyps = dict(HYPS, v1_1="Add the salt.", v2_1="Put the bacon, in the oven!")
    ours = score_captions(REFS, hyps)
    assert set(ours) == set(METRIC_NAMES)
    ref = _reference_scores(REFS, HYPS)
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
    # Golden numbers of this fixed input (pycocoevalcap 1.2, METEOR 1.5).
    assert ours["BLEU-1"] == pytest.approx(0.80855, abs=1e-4)
    assert ours["CIDEr"] == pytest.approx(ref["CIDEr"]) and ours["CIDEr"] > 1.0
    assert 0.25 < ours["METEOR"] < 0.6
    assert 0.0 < ours["BLEU-4"] < ours["BLEU-3"] < ours["BLEU-2"] < ours["BLEU-1"] < 1.0


def test_several_systems_in_one_call_equal_separate_scoring() -> None:
    if not java_available():
        pytest.skip("needs Java")
    perfect = {k: v[0] for k, v in REFS.items()}
    both = score_caption_sets(REFS, {"fixed": HYPS, "perfect": perfect}, meteor=False)
    assert "METEOR" not in both["fixed"]
    ref = _reference_scores(REFS, HYPS)
    for name, value in ref.items():
        assert both["fixed"][name] == pytest.approx(value, abs=1e-12), name
    for n in range(1, 5):
        assert both["perfect"][f"BLEU-{n}"] == pytest.approx(1.0, abs=1e-6)
    assert both["perfect"]["ROUGE-L"] == pytest.approx(1.0)
    assert both["perfect"]["CIDEr"] > both["fixed"]["CIDEr"]


def test_bad_inputs_raise_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CaptionScorerError, match="same ids"):
        score_captions({"a": ["x"]}, {"b": "x"})
    with pytest.raises(CaptionScorerError, match="non-empty list"):
        score_captions({"a": []}, {"a": "x"})
    with pytest.raises(CaptionScorerError, match="no captions"):
        score_captions({}, {})
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(CaptionScorerError, match="needs Java"):
        score_captions(REFS, HYPS)
    with pytest.raises(CaptionScorerError, match="needs Java"):
        score_captions(REFS, HYPS, meteor=False)  # the Java tokenizer too
    with pytest.raises(CaptionScorerError, match="tokenizer must be"):
        score_captions(REFS, HYPS, tokenizer="spacy")
    # without Java: the Python tokenizer, no METEOR
    no_java = score_captions(REFS, HYPS, meteor=False, tokenizer="auto")
    assert set(no_java) == set(METRIC_NAMES) - {"METEOR"}


# Captions as they come: YouCook2's style, ASR narration of the built-in corpus, punctuation,
# numbers, clitics, brackets, quotes, symbols.
PTB_CASES = [
    "spread margarine on two slices of white bread",
    "Cook the bacon in a pan until crispy, then drain on paper towels.",
    "Heat oil in a pan and fry the onions for 5-6 minutes.",
    'Pour the batter into the greased 8" pan.',
    "Let it rest for 10 min. Then slice it into 1/2 inch pieces!",
    "The chef's knife isn't sharp; use the other one: it's better.",
    "Combine 2 cups flour, 1 tsp. baking soda & 1/4 tsp salt.",
    "Whisk the eggs (about 3) with milk.",
    "Bake at 180°C for 25-30 minutes...",
    "Don't forget to stir every 2 minutes -- otherwise it burns.",
    "Add the tomatoes, they're juicy, and cook 'til soft.",
    'Add 1,000 g of flour {sifted} and $5 worth of "fresh" herbs [optional]',
    "She'll cut the onions/peppers, we're done? I'm sure they've said I'd cannot.",
    "put the mixture in a 9x13 pan at 350°F e.g. for 20 min.",
    "okay so we're gonna lift this like pink heart now, you know, and I can't wait",
    "um so uh now let me show you how to cut the red star",
]


@pytest.mark.skipif(not java_available(), reason="the reference tokenizer is pycocoevalcap's Java one")
def test_python_ptb_tokenizer_equals_pycocoevalcaps_java_one() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from videobert.eval.ptb import tokenize_for_scoring

    java = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(PTB_CASES)})
    for i, caption in enumerate(PTB_CASES):
        assert tokenize_for_scoring(caption) == java[i][0], caption
    refs = {i: [c] for i, c in enumerate(PTB_CASES)}
    hyps = {i: PTB_CASES[(i + 1) % len(PTB_CASES)] for i in range(len(PTB_CASES))}
    assert score_captions(refs, hyps, meteor=False, tokenizer="python") == score_captions(refs, hyps, meteor=False)
