"""Text normalisation of native-schema features: Unicode form, accents, case, punctuation,
whitespace, common name prefixes/suffixes and an optional nickname table.

The heavy steps run vectorised in Arrow (``pyarrow.compute``) over all distinct values at once.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "dame", "lord", "lady")
SUFFIXES = ("jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "esq")

PRESETS: dict[str, dict] = {
    "none": {"unicode": None, "accents": "keep", "case": "keep", "punctuation": "keep",
             "whitespace": "keep", "prefixes": [], "suffixes": [], "nicknames": False},
    "basic": {"unicode": "NFKC", "accents": "keep", "case": "lower", "punctuation": "keep",
              "whitespace": "collapse", "prefixes": [], "suffixes": [], "nicknames": False},
    "name": {"unicode": "NFKD", "accents": "strip", "case": "lower", "punctuation": "remove",
             "whitespace": "collapse", "prefixes": list(TITLES), "suffixes": list(SUFFIXES),
             "nicknames": False},
    "address": {"unicode": "NFKD", "accents": "strip", "case": "lower", "punctuation": "space",
                "whitespace": "collapse", "prefixes": [], "suffixes": [], "nicknames": False},
}
OPTIONS = tuple(PRESETS["none"])


@functools.cache
def nickname_table() -> dict[str, str]:
    """The built-in nickname -> given name table (lower case, ASCII)."""
    text = resources.files("pprl.encode").joinpath("data/nicknames.json").read_text("utf-8")
    return dict(json.loads(text)["nicknames"])


def expand(spec: str | dict | None, default: str) -> dict:
    """A normalisation spec (preset name or object with optional ``preset``) as explicit options."""
    if spec is None:
        spec = default
    if isinstance(spec, str):
        return dict(PRESETS[spec], prefixes=list(PRESETS[spec]["prefixes"]),
                    suffixes=list(PRESETS[spec]["suffixes"]))
    base = expand(spec.get("preset", default), default)
    base.update({k: v for k, v in spec.items() if k != "preset"})
    return base


@dataclass(frozen=True)
class Normalizer:
    """Apply explicit normalisation options (see :data:`PRESETS`) to many strings at once."""

    unicode: str | None = None
    accents: str = "keep"
    case: str = "keep"
    punctuation: str = "keep"
    whitespace: str = "keep"
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    nicknames: bool = False

    @classmethod
    def from_options(cls, opts: dict) -> Normalizer:
        return cls(
            unicode=opts["unicode"], accents=opts["accents"], case=opts["case"],
            punctuation=opts["punctuation"], whitespace=opts["whitespace"],
            prefixes=tuple(p.lower() for p in opts["prefixes"]),
            suffixes=tuple(s.lower() for s in opts["suffixes"]),
            nicknames=bool(opts["nicknames"]),
        )

    @property
    def is_identity(self) -> bool:
        return self == Normalizer()

    def __call__(self, values: list[str]) -> list[str]:
        if not values or self.is_identity:
            return list(values)
        arr = pa.array(values, type=pa.string())
        if self.accents == "strip":
            arr = pc.utf8_normalize(arr, "NFKD" if self.unicode in (None, "NFKD", "NFKC") else "NFD")
            arr = pc.replace_substring_regex(arr, r"\p{M}+", "")
            if self.unicode in ("NFC", "NFKC"):
                arr = pc.utf8_normalize(arr, self.unicode)
        elif self.unicode:
            arr = pc.utf8_normalize(arr, self.unicode)
        if self.case == "lower":
            arr = pc.utf8_lower(arr)
        elif self.case == "upper":
            arr = pc.utf8_upper(arr)
        if self.punctuation != "keep":
            arr = pc.replace_substring_regex(
                arr, r"[\p{P}\p{S}]+", "" if self.punctuation == "remove" else " "
            )
        if self.whitespace == "collapse":
            arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
        elif self.whitespace == "remove":
            arr = pc.replace_substring_regex(arr, r"\s+", "")
        out = arr.to_pylist()
        if self.prefixes or self.suffixes or self.nicknames:
            out = [self._words(v) for v in out]
        return out

    def _words(self, value: str) -> str:
        original = value.split()
        words = list(original)
        while len(words) > 1 and words[0].lower() in self.prefixes:
            words.pop(0)
        while len(words) > 1 and words[-1].lower() in self.suffixes:
            words.pop()
        if self.nicknames:
            table = nickname_table()
            words = [table.get(w.lower(), w) for w in words]
        return value if words == original else " ".join(words)
