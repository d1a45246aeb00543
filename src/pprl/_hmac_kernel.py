"""HMAC-SHA256 (RFC 2104 over FIPS 180-4 SHA-256) of one message in numba, the shared primitive.

Blocking keys (:mod:`pprl.encode._hmac`) and extract pseudonyms (:mod:`pprl.disclosure.extract_hmac`)
hash hundreds of thousands of short messages per call; a Python ``hmac`` call each would dominate.
The keyed inner and outer states are computed once per key (:func:`midstates`); each message then
costs its own blocks plus one outer block (:func:`hmac_into`). Both callers' tests compare the
result with Python's ``hmac``.
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np

_K = np.array([
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
], dtype=np.uint32)
_H0 = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C,
                0x1F83D9AB, 0x5BE0CD19], dtype=np.uint32)


@numba.njit(cache=True, nogil=True, inline="always")
def _rotr(x, n):
    return np.uint32((x >> np.uint32(n)) | (x << np.uint32(32 - n)))


@numba.njit(cache=True, nogil=True)
def _compress(state, w):
    """One SHA-256 compression of the 16 big-endian words in ``w[:16]`` into ``state`` (in place).

    Numba widens scalar integer arithmetic to 64 bits; additions and bitwise operations are still
    right modulo 2**32 once stored, so only the values fed to right shifts are cut back to 32 bits
    (the working variables, array stores, and ``_rotr``'s result)."""
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint32(3))
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint32(10))
        w[t] = w[t - 16] + s0 + w[t - 7] + s1
    a, b, c, d, e, f, g, h = state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7]
    for t in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ (~e & g)
        t1 = h + s1 + ch + _K[t] + w[t]
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b) ^ (a & c) ^ (b & c)
        h, g, f, e, d, c, b, a = g, f, e, np.uint32(d + t1), c, b, a, np.uint32(t1 + s0 + maj)
    state[0] += a
    state[1] += b
    state[2] += c
    state[3] += d
    state[4] += e
    state[5] += f
    state[6] += g
    state[7] += h


@numba.njit(cache=True, nogil=True, inline="always")
def _load(w, src, pos):
    """The 64 bytes ``src[pos:pos + 64]`` as 16 big-endian words in ``w[:16]``."""
    for j in range(16):
        p = pos + 4 * j
        w[j] = ((np.uint32(src[p]) << np.uint32(24)) | (np.uint32(src[p + 1]) << np.uint32(16))
                | (np.uint32(src[p + 2]) << np.uint32(8)) | np.uint32(src[p + 3]))


@numba.njit(cache=True, nogil=True)
def _finish(state, msg, start, length, done, w, block):
    """Compress ``msg[start:start + length]`` into ``state`` and finish with SHA-256 padding, for a
    message of ``done + length`` bytes (``done`` already compressed). ``block``: 64 bytes scratch."""
    pos, end = start, start + length
    while end - pos >= 64:
        _load(w, msg, pos)
        _compress(state, w)
        pos += 64
    rest = end - pos
    block[:] = 0
    block[:rest] = msg[pos:end]
    block[rest] = 0x80
    if rest >= 56:
        _load(w, block, 0)
        _compress(state, w)
        block[:] = 0
    bits = np.uint64(done + length) * np.uint64(8)
    for i in range(8):
        block[63 - i] = np.uint8((bits >> np.uint64(8 * i)) & np.uint64(0xFF))
    _load(w, block, 0)
    _compress(state, w)


@numba.njit(cache=True, nogil=True)
def hmac_into(inner, outer, msg, start, length, state, w, block, out_row):
    """HMAC-SHA256 of ``msg[start:start + length]``, its first ``out_row.size`` (at most 32) bytes
    written to ``out_row``, given the keyed states from :func:`midstates`. Scratch: ``state``
    (8 uint32), ``w`` (64 uint32), ``block`` (64 uint8)."""
    state[:] = inner
    _finish(state, msg, start, length, 64, w, block)
    for j in range(8):  # the outer block: inner digest, 0x80, zeros, bit length of 64 + 32 bytes
        w[j] = state[j]
    w[8] = np.uint32(0x80000000)
    for j in range(9, 15):
        w[j] = np.uint32(0)
    w[15] = np.uint32(768)
    state[:] = outer
    _compress(state, w)
    for i in range(min(out_row.size, 32)):
        out_row[i] = np.uint8((state[i // 4] >> np.uint32(24 - 8 * (i % 4))) & np.uint32(0xFF))


def midstates(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The SHA-256 states after the key's inner (ipad) and outer (opad) blocks; a key longer than
    64 bytes is hashed first (RFC 2104)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = np.frombuffer(key.ljust(64, b"\0"), dtype=np.uint8)
    w = np.zeros(64, dtype=np.uint32)
    states = []
    for pad in (0x36, 0x5C):
        state = _H0.copy()
        w[:16] = (block ^ np.uint8(pad)).view(">u4")
        _compress(state, w)
        states.append(state)
    return states[0], states[1]
