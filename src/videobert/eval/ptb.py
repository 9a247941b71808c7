"""A Python port of the Penn Treebank tokenisation pycocoevalcap runs in Java, for machines without
a JVM.

pycocoevalcap tokenises every caption with Stanford's ``PTBTokenizer -preserveLines -lowerCase``
(``stanford-corenlp-3.4.1.jar``) and then drops punctuation tokens. :func:`ptb_tokenize` follows that
tokeniser's rules for what captions contain: lower-casing; ``,;:!?`` split off (not inside numbers
such as ``1,000`` or ``10:30``); a sentence-final period split off unless the word is an
abbreviation with inner periods (``e.g.``, ``u.s.``) or a number; ``...`` and ``--`` as tokens;
brackets as ``-lrb-`` / ``-rrb-`` / ``-lcb-`` / ``-rcb-`` / ``-lsb-`` / ``-rsb-``; double quotes as
`````` / ``''``; clitics split (``do n't``, ``ca n't``, ``can not``, ``it 's``, ``we 're``, ``i 'm``,
``they 've``, ``she 'll``, ``i 'd``, ``gon na``); ``$`` and other symbols split from numbers and words, while
``-``, ``/``, ``&`` and digits stay inside words (``golden-brown``, ``1/2``, ``9x13``).
tests/test_captions_metrics.py checks it against the Java tokeniser, token for token, on typical
captions; exotic input (emoji, URLs, run-on punctuation without spaces) may differ.
"""

from __future__ import annotations

import re

#: What pycocoevalcap removes after tokenising (its PUNCTUATIONS list, verbatim: with
#: ``-lowerCase`` the Java tokeniser writes brackets in lower case, so they are kept).
PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"])

_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "{": "-lcb-", "}": "-rcb-", "[": "-lsb-", "]": "-rsb-"}
_CLITIC = re.compile(r"^(.+?)('s|'re|'ve|'m|'ll|'d)$")
_NT = re.compile(r"^(.+?)(n't)$")
_SPECIAL = {
    "can't": ["ca", "n't"], "won't": ["wo", "n't"], "cannot": ["can", "not"], "ain't": ["ai", "n't"],
    "gonna": ["gon", "na"], "wanna": ["wan", "na"], "gotta": ["got", "ta"], "lemme": ["lem", "me"],
    "gimme": ["gim", "me"],
}  # fmt: skip
_LEADING_APOSTROPHE = ("'til", "'tis", "'twas", "'em", "'cause", "'bout", "'round")
_ABBREVIATION = re.compile(r"^([a-z]\.)+[a-z]?\.?$")
_NUMBER = re.compile(r"^[+-]?\d+([.,:/]\d+)*\.?$")
_WORD_CHARS = re.compile(r"[a-z0-9\-/&'.,:_]")


def _split_symbols(chunk: str) -> list[str]:
    """Split a whitespace-free chunk into words and single symbol tokens."""
    out: list[str] = []
    word = ""
    i = 0
    while i < len(chunk):
        for multi in ("...", "--"):
            if chunk.startswith(multi, i):
                if word:
                    out.append(word)
                    word = ""
                out.append(multi)
                i += len(multi)
                break
        else:
            ch = chunk[i]
            if ch in _BRACKETS:
                if word:
                    out.append(word)
                    word = ""
                out.append(_BRACKETS[ch])
            elif ch == '"':
                if word:
                    out.append(word)
                    word = ""
                out.append("''" if out and out[-1] not in _BRACKETS.values() and i > 0 else "``")
            elif _WORD_CHARS.match(ch) or ch.isalnum():
                word += ch
            else:  # $, %, °, #, ... stand alone
                if word:
                    out.append(word)
                    word = ""
                out.append(ch)
            i += 1
    if word:
        out.append(word)
    return out


def _split_word(word: str, final: bool) -> list[str]:
    """Punctuation, clitics and quotes of one word (``final``: the last word of its line)."""
    lead: list[str] = []
    trail: list[str] = []
    while word and word[0] in ",;:!?'" and not word.startswith(_LEADING_APOSTROPHE):
        lead.append("`" if word[0] == "'" else word[0])
        word = word[1:]
    while word and word[-1] in ",;:!?'":
        if word[-1] == "'" and (word.endswith("s'") or _CLITIC.match(word) or _NT.match(word)):
            break
        trail.insert(0, word[-1])
        word = word[:-1]
    if word.endswith(".") and len(word) > 1 and not _ABBREVIATION.match(word):
        if final or not _NUMBER.match(word):
            trail.insert(0, ".")
            word = word[:-1]
    elif word == "." and final:
        trail.insert(0, ".")
        word = ""
    body: list[str] = []
    if word in _SPECIAL:
        body = list(_SPECIAL[word])
    elif (m := _NT.match(word)) is not None:
        body = [m.group(1), m.group(2)]
    elif (m := _CLITIC.match(word)) is not None:
        body = [m.group(1), m.group(2)]
    elif word:
        body = [word]
    return lead + body + trail


def ptb_tokenize(line: str) -> list[str]:
    """PTB tokens of one caption, lower-cased, punctuation still in (see the module docstring)."""
    chunks = line.lower().split()
    tokens: list[str] = []
    for c_i, chunk in enumerate(chunks):
        pieces = _split_symbols(chunk)
        for p_i, piece in enumerate(pieces):
            last = c_i == len(chunks) - 1 and p_i == len(pieces) - 1
            if piece in _BRACKETS.values() or piece in ("...", "--", "``", "''") or len(piece) == 1 and not piece.isalnum():
                tokens.append(piece)
            else:
                tokens += _split_word(piece, final=last)
    return tokens


def tokenize_for_scoring(line: str) -> str:
    """What pycocoevalcap's tokenizer gives for one caption: PTB tokens without punctuation."""
    return " ".join(t for t in ptb_tokenize(line) if t not in PUNCTUATIONS)


__all__ = ["PUNCTUATIONS", "ptb_tokenize", "tokenize_for_scoring"]
