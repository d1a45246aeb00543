"""Agency-side keyed blocking keys (P-Sig style): e.g. soundex(last name) + year of birth.

A key joins the transformed parts of a record and takes ``HMAC-SHA256(block key, name + parts)``,
truncated to 128 bits (32 hex characters). Records with the same parts share the key on every side
that holds the same secret; the raw values never leave the encode stage. A record whose part is
missing (or transforms to nothing) gets no key (``None``).
"""

from __future__ import annotations

import numpy as np

from ._hmac import hmac_sha256_many, to_hex
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
    """Keys of one blocking-key definition: HMAC-SHA256 of each distinct combination of parts,
    computed in one numba kernel per batch (see :mod:`._hmac`)."""

    def __init__(self, key: BlockingKey, secret_key: bytes):
        self.key = key
        self.prefix = (key.name + SEP).encode("utf-8")
        self._secret_key = secret_key

    def __repr__(self) -> str:
        return f"BlockKeyer({self.key.name!r})"

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
        texts: list[bytes] = []
        columns = []
        for all_texts, col in zip(part_texts, combos, strict=True):
            used, local = np.unique(col, return_inverse=True)
            columns.append(local.reshape(-1) + len(texts))
            texts += [all_texts[i].encode("utf-8") for i in used.tolist()]
        digests = hmac_sha256_many(self._secret_key, self.prefix, ord(SEP), texts,
                                   np.stack(columns, axis=1), KEY_BYTES)
        out[present] = to_hex(digests)[inverse]
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
