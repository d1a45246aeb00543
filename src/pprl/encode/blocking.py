"""Agency-side keyed blocking keys (P-Sig style): e.g. soundex(last name) + year of birth.

A key joins the transformed parts of a record and takes ``HMAC-SHA256(block key, name + parts)``,
truncated to 128 bits (32 hex characters). Records with the same parts share the key on every side
that holds the same secret; the raw values never leave the encode stage. A record whose part is
missing (or transforms to nothing) gets no key (``None``).
"""

from __future__ import annotations

import hmac

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


def combine(key: BlockingKey, secret_key: bytes, part_ids: list[np.ndarray],
            part_texts: list[list[str]]) -> np.ndarray:
    """Block keys of a batch of rows.

    ``part_ids[j][r]`` indexes ``part_texts[j]`` (the distinct texts of part ``j``), or is -1 when
    row ``r`` has no such part. Each distinct combination is hashed once.
    """
    n = part_ids[0].size if part_ids else 0
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    ids = np.stack(part_ids, axis=1)
    present = np.flatnonzero((ids >= 0).all(axis=1))
    if present.size == 0:
        return out
    combos, inverse = np.unique(ids[present], axis=0, return_inverse=True)
    prefix = key.name + SEP
    keys = np.empty(len(combos), dtype=object)
    for c, row in enumerate(combos.tolist()):
        text = prefix + SEP.join(part_texts[j][i] for j, i in enumerate(row))
        keys[c] = hmac.digest(secret_key, text.encode("utf-8"), "sha256")[:KEY_BYTES].hex()
    out[present] = keys[inverse.reshape(-1)]
    return out
