"""Phonetic codes for blocking keys: American Soundex and (original) Metaphone.

Both read the ASCII letters of a value (accents are folded first; everything else is dropped),
so they work on normalised names such as ``"o brien"`` or ``"müller"``.
"""

from __future__ import annotations

import unicodedata

_SOUNDEX = {c: d for letters, d in (("bfpv", "1"), ("cgjkqsxz", "2"), ("dt", "3"), ("l", "4"),
                                    ("mn", "5"), ("r", "6")) for c in letters}
_VOWELS = frozenset("aeiou")


def letters(value: str) -> str:
    """Lower-case ASCII letters of ``value``, accents folded (``"O'Brién"`` -> ``"obrien"``)."""
    folded = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in folded if "a" <= c <= "z")


def soundex(value: str) -> str:
    """American Soundex (the 1918/1922 rules used by the US census): ``"Robert"`` -> ``"R163"``.

    Letters with the same code collapse, also across ``h``/``w``; vowels separate them. Empty
    when ``value`` has no letters.
    """
    s = letters(value)
    if not s:
        return ""
    out = [s[0].upper()]
    last = _SOUNDEX.get(s[0], "")
    for c in s[1:]:
        code = _SOUNDEX.get(c)
        if code is None:
            if c not in "hw":
                last = ""
            continue
        if code != last:
            out.append(code)
            if len(out) == 4:
                break
        last = code
    return "".join(out).ljust(4, "0")


def metaphone(value: str) -> str:
    """Lawrence Philips' original Metaphone (1990): ``"Knight"`` -> ``"NT"``."""
    s = letters(value)
    if not s:
        return ""
    if s[:2] in ("kn", "gn", "pn", "ae", "wr"):
        s = s[1:]
    if s[0] == "x":
        s = "s" + s[1:]
    n = len(s)
    out: list[str] = []
    padded = ["", *s, "", ""]  # padded[i + 1] is s[i]; "" outside the word
    i = 0
    while i < n:
        prev, c, nxt, nxt2 = padded[i : i + 4]
        if c == nxt and c != "c":  # a doubled letter counts once (the last one, in its context)
            i += 1
            continue
        if c in _VOWELS:
            if s[:i] == c * i:  # only a leading vowel is kept
                out.append(c)
        elif c == "b":
            if not (prev == "m" and i == n - 1):
                out.append("b")
        elif c == "c":
            if nxt == "i" and nxt2 == "a":
                out.append("x")
            elif nxt == "h":
                out.append("k" if prev == "s" else "x")
                i += 1
            elif nxt in ("i", "e", "y"):
                if prev != "s":  # silent in -sci-, -sce-, -scy-
                    out.append("s")
            else:
                out.append("k")
        elif c == "d":
            if nxt == "g" and nxt2 in ("e", "y", "i"):
                out.append("j")
                i += 1
            else:
                out.append("t")
        elif c == "g":
            if nxt == "h" and nxt2 not in _VOWELS:
                i += 1  # silent -gh- unless a vowel follows
            elif nxt == "n" and (i + 2 == n or (s[i + 2 :] == "ed" and i + 4 == n)):
                pass  # silent: -gn, -gned at the end
            elif nxt in ("i", "e", "y") and prev != "g":
                out.append("j")
            else:
                out.append("k")
        elif c == "h":
            if prev not in _VOWELS or nxt in _VOWELS:  # silent after a vowel unless one follows
                out.append("h")
        elif c == "k":
            if prev != "c":
                out.append("k")
        elif c == "p":
            if nxt == "h":
                out.append("f")
                i += 1
            else:
                out.append("p")
        elif c == "q":
            out.append("k")
        elif c == "s":
            if nxt == "h":
                out.append("x")
                i += 1
            elif nxt == "i" and nxt2 in ("o", "a"):
                out.append("x")
            else:
                out.append("s")
        elif c == "t":
            if nxt == "i" and nxt2 in ("o", "a"):
                out.append("x")
            elif nxt == "h":
                out.append("0")
                i += 1
            elif not (nxt == "c" and nxt2 == "h"):
                out.append("t")
        elif c == "v":
            out.append("f")
        elif c == "w" and i == 0 and nxt == "h":
            out.append("w")
            i += 1
        elif c in ("w", "y"):
            if nxt in _VOWELS:
                out.append(c)
        elif c == "x":
            out.append("ks")
        elif c == "z":
            out.append("s")
        else:  # f j l m n r
            out.append(c)
        i += 1
    return "".join(out).upper()
