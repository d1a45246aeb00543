"""Agency-side keyed blocking keys (P-Sig style): e.g. soundex(last name) + year of birth.

A key joins the transformed parts of a record and takes ``HMAC-SHA256(block key, name + parts)``,
truncated to 128 bits (32 hex characters). Records with the same parts share the key on every side
that holds the same secret; the raw values never leave the encode stage. A record whose part is
missing (or transforms to nothing) gets no key (``None``).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .phonetic import metaphone, soundex
from .schema import BlockingKey, BlockingPart

SEP = "\x1f"
KEY_BYTES = 16


def transform(part: BlockingPart, value: str) -> str:
    """The part's text for one formatted value (dates are ``YYYYMMDD``); ``""`` when none."""
    t = part.transform
    if t == "value":
        return value
    if t == "initial":
        return value[:1]
    if t == "prefix":
        return value[: part.length]
    if t == "soundex":
        return soundex(value)
    if t == "metaphone":
        return metaphone(value)
    if t == "year":
        return value[:4]
    if t == "month":
        return value[4:6]
    if t == "day":
        return value[6:8]
    raise ValueError(f"unknown blocking transform {t!r}")


def part_key(part: BlockingPart) -> tuple:
    return (part.feature, part.transform, part.length)


class BlockKeyer:
    """Keys of one blocking-key definition: HMAC-SHA256 with precomputed inner and outer states
    (the same digest as ``hmac.digest``, computed faster), each distinct text hashed once."""

    MAX_CACHED = 1 << 21

    def __init__(self, key: BlockingKey, secret_key: bytes):
        self.key = key
        self.prefix = key.name + SEP
        block = secret_key if len(secret_key) <= 64 else hashlib.sha256(secret_key).digest()
        block = block.ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._cache: dict[str, str] = {}

    def mac(self, text: str) -> str:
        """HMAC-SHA256(secret key, text), first 16 bytes, as hex."""
        inner = self._inner.copy()
        inner.update(text.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:KEY_BYTES].hex()

    def keys(self, part_ids: list[np.ndarray], part_texts: list[list[str]]) -> np.ndarray:
        """Block keys of a batch of rows.

        ``part_ids[j][r]`` indexes ``part_texts[j]`` (the distinct texts of part ``j``), or is -1
        when row ``r`` has no such part (then the row gets None).
        """
        n = part_ids[0].size
        out = np.full(n, None, dtype=object)
        present = np.flatnonzero(np.logical_and.reduce([ids >= 0 for ids in part_ids]))
        if present.size == 0:
            return out
        combos, inverse = _distinct_rows([ids[present] for ids in part_ids],
                                         [len(t) for t in part_texts])
        if len(self._cache) > self.MAX_CACHED:
            self._cache.clear()
        cache, mac, prefix = self._cache, self.mac, self.prefix
        columns = [np.asarray(texts, dtype=object)[c] for texts, c in
                   zip(part_texts, combos, strict=True)]
        keys = np.empty(len(combos[0]), dtype=object)
        for c, parts in enumerate(zip(*columns, strict=True)):
            text = prefix + SEP.join(parts)
            hit = cache.get(text)
            if hit is None:
                hit = cache[text] = mac(text)
            keys[c] = hit
        out[present] = keys[inverse]
        return out


def _distinct_rows(columns: list[np.ndarray], sizes: list[int]
                   ) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the stacked columns (as columns) and, per row, the index of its
    distinct row."""
    radix = [max(s, 1) for s in sizes]
    if np.prod(radix, dtype=float) < 2.0**62:
        code = np.zeros(columns[0].size, np.int64)
        for col, r in zip(columns, radix, strict=True):
            code = code * r + col
        uniq, inverse = np.unique(code, return_inverse=True)
        parts = []
        for r in reversed(radix):
            uniq, rest = np.divmod(uniq, r)
            parts.append(rest)
        return parts[::-1], inverse
    uniq, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
    return [uniq[:, j] for j in range(uniq.shape[1])], inverse.reshape(-1)
