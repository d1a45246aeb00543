"""HMAC-SHA256 of many short messages at once, in numba (FIPS 180-4, RFC 2104).

Blocking keys need one MAC per distinct combination of parts, hundreds of thousands per chunk;
hashing them here avoids a Python call per message. The messages are assembled in the kernel from
the interned part texts. :func:`hmac_sha256_many` equals ``hmac.digest(key, msg, "sha256")``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_K = np.array([
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
], dtype=np.uint64)
_IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C,
                0x1F83D9AB, 0x5BE0CD19], dtype=np.uint64)
_M = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _rotr(x, n):
    return ((x >> np.uint64(n)) | (x << np.uint64(32 - n))) & _M


@njit(cache=True, nogil=True)
def _compress(state, block, w):
    """One SHA-256 compression of the 64-byte ``block`` into ``state``. ``w`` is uint32 scratch
    (stores wrap to 32 bits); scalar arithmetic is 64-bit in numba, hence the masks."""
    for t in range(16):
        w[t] = ((np.uint64(block[4 * t]) << np.uint64(24)) | (np.uint64(block[4 * t + 1]) << np.uint64(16))
                | (np.uint64(block[4 * t + 2]) << np.uint64(8)) | np.uint64(block[4 * t + 3]))
    for t in range(16, 64):
        x, y = np.uint64(w[t - 15]), np.uint64(w[t - 2])
        s0 = _rotr(x, 7) ^ _rotr(x, 18) ^ (x >> np.uint64(3))
        s1 = _rotr(y, 17) ^ _rotr(y, 19) ^ (y >> np.uint64(10))
        w[t] = np.uint64(w[t - 16]) + s0 + np.uint64(w[t - 7]) + s1
    a, b, c, d = state[0], state[1], state[2], state[3]
    e, f, g, h = state[4], state[5], state[6], state[7]
    for t in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ (~e & _M & g)
        t1 = h + s1 + ch + _K[t] + np.uint64(w[t])
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b) ^ (a & c) ^ (b & c)
        h = g
        g = f
        f = e
        e = (d + t1) & _M
        d = c
        c = b
        b = a
        a = (t1 + s0 + maj) & _M
    state[0] = (state[0] + a) & _M
    state[1] = (state[1] + b) & _M
    state[2] = (state[2] + c) & _M
    state[3] = (state[3] + d) & _M
    state[4] = (state[4] + e) & _M
    state[5] = (state[5] + f) & _M
    state[6] = (state[6] + g) & _M
    state[7] = (state[7] + h) & _M


@njit(cache=True, nogil=True)
def _finish(state, msg, length, done, block, w):
    """Hash ``msg[:length]`` (after ``done`` bytes already compressed) with SHA-256 padding."""
    pos = 0
    while length - pos >= 64:
        for i in range(64):
            block[i] = msg[pos + i]
        _compress(state, block, w)
        pos += 64
    rest = length - pos
    for i in range(64):
        block[i] = 0
    for i in range(rest):
        block[i] = msg[pos + i]
    block[rest] = 0x80
    if rest >= 56:
        _compress(state, block, w)
        for i in range(64):
            block[i] = 0
    bits = np.uint64(done + length) * np.uint64(8)
    for i in range(8):
        block[63 - i] = np.uint8((bits >> np.uint64(8 * i)) & np.uint64(0xFF))
    _compress(state, block, w)


@njit(cache=True, nogil=True)
def _midstates(key_block):
    w = np.empty(64, np.uint32)
    block = np.empty(64, np.uint8)
    inner, outer = _IV.copy(), _IV.copy()
    for i in range(64):
        block[i] = key_block[i] ^ 0x36
    _compress(inner, block, w)
    for i in range(64):
        block[i] = key_block[i] ^ 0x5C
    _compress(outer, block, w)
    return inner, outer


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
    state = np.empty(8, np.uint64)
    digest = np.empty(32, np.uint8)
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
        state[:] = inner0
        _finish(state, msg, n, 64, block, w)
        for i in range(8):
            for k in range(4):
                digest[4 * i + k] = np.uint8((state[i] >> np.uint64(24 - 8 * k)) & np.uint64(0xFF))
        state[:] = outer0
        _finish(state, digest, 32, 64, block, w)
        for i in range(nbytes):
            out[r, i] = np.uint8((state[i // 4] >> np.uint64(24 - 8 * (i % 4))) & np.uint64(0xFF))
    return out


def key_block(key: bytes) -> np.ndarray:
    """The HMAC key as one 64-byte SHA-256 block (hashed first when longer, RFC 2104)."""
    import hashlib

    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    return np.frombuffer(key.ljust(64, b"\x00"), dtype=np.uint8)


def hmac_sha256_many(key: bytes, prefix: bytes, sep: int, texts: list[bytes],
                     combos: np.ndarray, nbytes: int = 32) -> np.ndarray:
    """``hmac.digest(key, prefix + bytes([sep]).join(texts[i] for i in row), "sha256")[:nbytes]``
    for every row of ``combos`` (indexes into ``texts``), as a ``(rows, nbytes)`` uint8 array."""
    inner, outer = _midstates(key_block(key))
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
