"""HMAC-SHA256 of many short messages at once, in numba (FIPS 180-4, RFC 2104).

Blocking keys need one MAC per distinct combination of parts, hundreds of thousands per chunk;
hashing them here avoids a Python call per message. The messages are assembled in the kernel from
the interned part texts and hashed with the shared :func:`pprl._hmac_kernel.hmac_into`.
:func:`hmac_sha256_many` equals ``hmac.digest(key, msg, "sha256")``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._hmac_kernel import hmac_into, midstates


@njit(cache=True, nogil=True)
def _hmac_kernel(inner0, outer0, prefix, sep, text_data, text_off, combos, nbytes):
    """Digest (first ``nbytes``) of ``prefix + sep.join(texts of each row of combos)``."""
    m, nparts = combos.shape
    out = np.empty((m, nbytes), np.uint8)
    longest = 0
    for t in range(text_off.size - 1):
        longest = max(longest, text_off[t + 1] - text_off[t])
    msg = np.empty(prefix.size + nparts * (longest + 1) + 64, np.uint8)
    w = np.empty(64, np.uint32)
    block = np.empty(64, np.uint8)
    state = np.empty(8, np.uint32)
    for r in range(m):
        n = 0
        for i in range(prefix.size):
            msg[n] = prefix[i]
            n += 1
        for j in range(nparts):
            if j:
                msg[n] = sep
                n += 1
            t = combos[r, j]
            for i in range(text_off[t], text_off[t + 1]):
                msg[n] = text_data[i]
                n += 1
        hmac_into(inner0, outer0, msg, 0, n, state, w, block, out[r])
    return out


def hmac_sha256_many(key: bytes, prefix: bytes, sep: int, texts: list[bytes],
                     combos: np.ndarray, nbytes: int = 32) -> np.ndarray:
    """``hmac.digest(key, prefix + bytes([sep]).join(texts[i] for i in row), "sha256")[:nbytes]``
    for every row of ``combos`` (indexes into ``texts``), as a ``(rows, nbytes)`` uint8 array."""
    inner, outer = midstates(key)
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    off = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=off[1:])
    data = np.frombuffer(b"".join(texts), dtype=np.uint8) if texts else np.zeros(0, np.uint8)
    return _hmac_kernel(inner, outer, np.frombuffer(prefix, dtype=np.uint8), np.uint8(sep), data,
                        off, np.ascontiguousarray(combos, dtype=np.int64), nbytes)


def to_hex(digests: np.ndarray) -> np.ndarray:
    """Rows of bytes as an object array of lower-case hex strings."""
    m, n = digests.shape
    text = np.ascontiguousarray(digests).tobytes().hex()
    out = np.empty(m, dtype=object)
    out[:] = [text[i : i + 2 * n] for i in range(0, 2 * n * m, 2 * n)]
    return out
