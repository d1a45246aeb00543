"""Batch HMAC-SHA256 (RFC 2104 over FIPS 180-4 SHA-256) in numba, for project pseudonyms.

Python's ``hmac`` costs a few microseconds per call, which dominates an extract of a million ids.
The keyed inner and outer states are computed once; each message then costs only its own blocks
plus one outer block (the shared :func:`pprl._hmac_kernel.hmac_into`), in parallel.
``hmac_sha256_hex_ref`` is the standard-library reference the tests compare against.
"""

from __future__ import annotations

import hashlib
import hmac

import numba
import numpy as np

from .._hmac_kernel import hmac_into, midstates


@numba.njit(cache=True, nogil=True, parallel=True)
def _hmac_batch(inner, outer, data, offsets, out):
    """HMAC-SHA256 of each message ``data[offsets[i]:offsets[i + 1]]`` into ``out[i]``, given the
    states after the key's inner (ipad) and outer (opad) blocks; chunks run in parallel."""
    n = len(offsets) - 1
    chunk = 4096
    for c in numba.prange((n + chunk - 1) // chunk):
        state = np.empty(8, dtype=np.uint32)
        w = np.zeros(64, dtype=np.uint32)
        block = np.empty(64, dtype=np.uint8)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            hmac_into(inner, outer, data, offsets[i], offsets[i + 1] - offsets[i], state, w, block, out[i])


def hmac_sha256_hex(key: bytes, messages: list[str], length: int = 64) -> list[str]:
    """The first ``length`` hex digits of HMAC-SHA256(key, message as UTF-8) for each message."""
    encoded = [m.encode("utf-8") for m in messages]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, np.uint8)
    out = np.zeros((len(encoded), 32), dtype=np.uint8)
    if len(encoded):
        _hmac_batch(*midstates(key), data, offsets, out)
    nbytes = (length + 1) // 2
    hexed = out[:, :nbytes].tobytes().hex()
    step = 2 * nbytes
    return [hexed[i:i + length] for i in range(0, len(hexed), step)]


def hmac_sha256_hex_ref(key: bytes, messages: list[str], length: int = 64) -> list[str]:
    """The same with Python's ``hmac`` (the reference)."""
    return [hmac.new(key, m.encode("utf-8"), hashlib.sha256).hexdigest()[:length] for m in messages]
