"""ASR-like narration and reference captions for the built-in corpus.

Everything here is pure text generation driven by a ``numpy.random.Generator``: the same generator
state gives the same words. Narration is lower case and unpunctuated, with filler words, varied
phrasings and a few verb forms other than the base form; reference captions are clean.
SRT output splits some sentences over two cues and merges some neighbours into one cue, the way
ASR captions do, while staying readable by any SRT parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Verb -> (third person, -ing form). Base forms are single WordPiece tokens of uncased BERT.
VERB_FORMS: dict[str, tuple[str, str]] = {
    "slide": ("slides", "sliding"),
    "lift": ("lifts", "lifting"),
    "drop": ("drops", "dropping"),
    "spin": ("spins", "spinning"),
    "grow": ("grows", "growing"),
    "shrink": ("shrinks", "shrinking"),
    "shake": ("shakes", "shaking"),
    "blink": ("blinks", "blinking"),
}

# Base-form templates ({v} verb, {c} colour, {n} noun). Most name the object; a few do not.
_BASE_TEMPLATES: tuple[str, ...] = (
    "now i'm going to {v} the {c} {n}",
    "let's {v} the {c} {n} here",
    "and we {v} the {n}",
    "so next you want to {v} the {c} {n}",
    "okay {v} the {n} like this",
    "then i {v} the {c} {n} nice and slow",
    "now {v} the {c} {n}",
    "we're gonna {v} this {c} {n} now",
    "{v} the {c} {n} okay",
    "now let me show you how to {v} the {n}",
    "you just {v} the {c} {n} a little bit",
    "this one we just {v}",
    "and then you {v} it",
    "time to {v} the {c} {n}",
)
_FIRST_TEMPLATES: tuple[str, ...] = (
    "first we {v} the {c} {n}",
    "so first thing {v} the {c} {n}",
)
_LAST_TEMPLATES: tuple[str, ...] = (
    "and finally we {v} the {c} {n}",
    "last step {v} the {n} and we're done",
)
_ING_TEMPLATES: tuple[str, ...] = (
    "now we are {ing} the {c} {n}",
    "i'm just {ing} the {n} here",
    "keep {ing} the {c} {n}",
)
_THIRD_TEMPLATES: tuple[str, ...] = (
    "see how the {c} {n} {s}",
    "and the {n} {s} like that",
    "look it {s} just like that",
)

_FILLERS_START: tuple[str, ...] = ("um", "so", "okay", "uh", "alright", "and", "you know", "right so")
_FILLERS_MID: tuple[str, ...] = ("um", "uh", "like", "you know")
_FILLERS_END: tuple[str, ...] = ("right", "okay", "you know", "yeah")

OFF_TOPIC_INTRO: tuple[str, ...] = (
    "hi everyone welcome back to my kitchen",
    "hey guys today we're making a quick {r}",
    "hello and welcome to another video",
    "today i'll show you my favourite {r}",
    "what's up everybody it's me again",
)
OFF_TOPIC_MIDDLE: tuple[str, ...] = (
    "my kids love this one",
    "this recipe is from my grandmother",
    "i got this pan on sale last week",
    "it smells so good already",
    "you can find the full list in the description",
    "sorry my dog is barking",
    "the weather has been crazy lately",
    "i always make a double batch",
    "let me know in the comments what you think",
    "this is my favourite part",
    "we'll be back in just a second",
    "my husband says this is the best one",
)
OFF_TOPIC_OUTRO: tuple[str, ...] = (
    "don't forget to subscribe",
    "thanks for watching see you next time",
    "make sure to hit the like button",
    "that's it for today bye",
    "let me know if you try it at home",
)

_CAPTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "slide": ("slide the {c} {n} to the {dir}", "slide the {c} {n} across to the {dir}"),
    "lift": ("lift the {c} {n} up", "lift the {c} {n}"),
    "drop": ("drop the {c} {n}", "drop the {c} {n} down"),
    "spin": ("spin the {c} {n} around", "spin the {c} {n}"),
    "grow": ("grow the {c} {n} bigger", "grow the {c} {n}"),
    "shrink": ("shrink the {c} {n} smaller", "shrink the {c} {n}"),
    "shake": ("shake the {c} {n}", "shake the {c} {n} quickly"),
    "blink": ("blink the {c} {n} on and off", "blink the {c} {n}"),
}


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def step_narration(
    rng: np.random.Generator, verb: str, colour: str, noun: str, *, first: bool = False, last: bool = False
) -> str:
    """One ASR-like sentence about a step (lower case, no punctuation, maybe filler words).

    The base verb form is used about 80% of the time; otherwise an ``-ing`` or third person form.
    """
    third, ing = VERB_FORMS[verb]
    r = rng.random()
    if first and r < 0.5:
        template = _pick(rng, _FIRST_TEMPLATES)
    elif last and r < 0.5:
        template = _pick(rng, _LAST_TEMPLATES)
    elif r < 0.8:
        template = _pick(rng, _BASE_TEMPLATES)
    elif r < 0.9:
        template = _pick(rng, _ING_TEMPLATES)
    else:
        template = _pick(rng, _THIRD_TEMPLATES)
    if rng.random() < 0.3:  # sometimes the colour goes unsaid
        template = template.replace("{c} ", "")
    words = template.format(v=verb, c=colour, n=noun, ing=ing, s=third).split()
    return " ".join(_add_fillers(rng, words))


def off_topic_sentence(rng: np.random.Generator, where: str, recipe_type: str) -> str:
    """An off-topic remark; ``where`` is ``"intro"``, ``"middle"`` or ``"outro"``."""
    pool = {"intro": OFF_TOPIC_INTRO, "middle": OFF_TOPIC_MIDDLE, "outro": OFF_TOPIC_OUTRO}[where]
    words = _pick(rng, pool).format(r=recipe_type).split()
    return " ".join(_add_fillers(rng, words, p_start=0.25, p_mid=0.1, p_end=0.1))


def _add_fillers(
    rng: np.random.Generator, words: list[str], p_start: float = 0.4, p_mid: float = 0.2, p_end: float = 0.15
) -> list[str]:
    out = list(words)
    if rng.random() < p_mid and len(out) > 3:
        pos = int(rng.integers(1, len(out) - 1))
        out[pos:pos] = _pick(rng, _FILLERS_MID).split()
    if rng.random() < p_start:
        filler = _pick(rng, _FILLERS_START).split()
        out = (filler if filler[-1] != out[0] else filler[:-1]) + out  # no "so so first"
    if rng.random() < p_end:
        out = out + _pick(rng, _FILLERS_END).split()
    return out


def reference_caption(rng: np.random.Generator, verb: str, colour: str, noun: str, direction: int) -> str:
    """A clean caption for a step, e.g. ``"slide the red circle to the right"``."""
    template = _pick(rng, _CAPTION_TEMPLATES[verb])
    return template.format(c=colour, n=noun, dir="right" if direction > 0 else "left")


@dataclass(frozen=True)
class Cue:
    """One SRT cue: times in seconds and its text."""

    start: float
    end: float
    text: str


def sentences_to_cues(
    rng: np.random.Generator,
    sentences: Sequence[tuple[float, float, str]],
    p_split: float = 0.2,
    p_merge: float = 0.1,
) -> list[Cue]:
    """Turn timed sentences into ASR-style cues.

    Words of a sentence are spread evenly over its span. With probability ``p_split`` a sentence of
    five or more words is cut into two cues at a random word; with probability ``p_merge`` a sentence
    is joined with the next one into a single cue when the gap between them is under 1.5 s.
    Cue times are rounded to milliseconds and never overlap.
    """
    cues: list[Cue] = []
    i = 0
    while i < len(sentences):
        start, end, text = sentences[i]
        words = text.split()
        if (
            i + 1 < len(sentences)
            and rng.random() < p_merge
            and sentences[i + 1][0] - end < 1.5
            and len(words) + len(sentences[i + 1][2].split()) <= 16
        ):
            nstart, nend, ntext = sentences[i + 1]
            cues.append(Cue(start, nend, f"{text} {ntext}"))
            i += 2
            continue
        if len(words) >= 5 and rng.random() < p_split:
            cut = int(rng.integers(2, len(words) - 1))
            t_cut = start + (end - start) * cut / len(words)
            cues.append(Cue(start, t_cut, " ".join(words[:cut])))
            cues.append(Cue(t_cut, end, " ".join(words[cut:])))
        else:
            cues.append(Cue(start, end, text))
        i += 1
    return cues


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def format_srt(cues: Sequence[Cue]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank line between cues."""
    blocks = [f"{k}\n{_srt_time(c.start)} --> {_srt_time(c.end)}\n{c.text}\n" for k, c in enumerate(cues, 1)]
    return "\n".join(blocks)
