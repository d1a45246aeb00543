"""Batch HMAC-SHA256 (RFC 2104 over FIPS 180-4 SHA-256) in numba, for project pseudonyms.

Python's ``hmac`` costs a few microseconds per call, which dominates an extract of a million ids.
Here the keyed inner and outer states are computed once (two compressions of the padded key) and
each message costs only its own blocks plus one outer block, in parallel. ``hmac_sha256_hex_ref``
is the standard-library reference the tests compare against.
"""

from __future__ import annotations

import hashlib
import hmac

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


@numba.njit(cache=True, nogil=True)
def _hmac_one(inner, outer, data, start, length, state, digest, w, buf, out_row):
    """HMAC-SHA256 of ``data[start:start + length]`` into ``out_row`` (32 bytes). ``buf`` holds the
    padded message: its bytes, 0x80, zeros, and the bit length (after the 64-byte key block)."""
    blocks = (length + 9 + 63) // 64
    total = blocks * 64
    buf[:total] = 0
    buf[:length] = data[start:start + length]
    buf[length] = 0x80
    bits = (64 + length) * 8
    for byte in range(8):
        buf[total - 1 - byte] = (bits >> (8 * byte)) & 0xFF
    state[:] = inner
    for b in range(blocks):
        for j in range(16):
            p = b * 64 + 4 * j
            w[j] = ((np.uint32(buf[p]) << np.uint32(24)) | (np.uint32(buf[p + 1]) << np.uint32(16))
                    | (np.uint32(buf[p + 2]) << np.uint32(8)) | np.uint32(buf[p + 3]))
        _compress(state, w)
    for j in range(8):  # the outer block: inner digest, 0x80, zeros, bit length of 64 + 32 bytes
        w[j] = state[j]
    w[8] = np.uint32(0x80000000)
    for j in range(9, 15):
        w[j] = np.uint32(0)
    w[15] = np.uint32(768)
    digest[:] = outer
    _compress(digest, w)
    for j in range(8):
        for byte in range(4):
            out_row[4 * j + byte] = np.uint8((digest[j] >> np.uint32(24 - 8 * byte)) & np.uint32(0xFF))


@numba.njit(cache=True, nogil=True, parallel=True)
def _hmac_batch(inner, outer, data, offsets, out):
    """HMAC-SHA256 of each message ``data[offsets[i]:offsets[i + 1]]`` into ``out[i]``, given the
    states after the key's inner (ipad) and outer (opad) blocks; chunks run in parallel."""
    n = len(offsets) - 1
    longest = 0
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
    chunk = 4096
    for c in numba.prange((n + chunk - 1) // chunk):
        state = np.empty(8, dtype=np.uint32)
        digest = np.empty(8, dtype=np.uint32)
        w = np.zeros(64, dtype=np.uint32)
        buf = np.zeros(longest + 80, dtype=np.uint8)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            _hmac_one(inner, outer, data, offsets[i], offsets[i + 1] - offsets[i], state, digest, w,
                      buf, out[i])


def _key_state(key: bytes, pad: int) -> np.ndarray:
    block = bytes(b ^ pad for b in key.ljust(64, b"\0"))
    state = _H0.copy()
    w = np.zeros(64, dtype=np.uint32)
    w[:16] = np.frombuffer(block, dtype=">u4")
    _compress(state, w)
    return state


def hmac_sha256_hex(key: bytes, messages: list[str], length: int = 64) -> list[str]:
    """The first ``length`` hex digits of HMAC-SHA256(key, message as UTF-8) for each message."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    encoded = [m.encode("utf-8") for m in messages]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, np.uint8)
    out = np.zeros((len(encoded), 32), dtype=np.uint8)
    if len(encoded):
        _hmac_batch(_key_state(key, 0x36), _key_state(key, 0x5C), data, offsets, out)
    nbytes = (length + 1) // 2
    hexed = out[:, :nbytes].tobytes().hex()
    step = 2 * nbytes
    return [hexed[i:i + length] for i in range(0, len(hexed), step)]


def hmac_sha256_hex_ref(key: bytes, messages: list[str], length: int = 64) -> list[str]:
    """The same with Python's ``hmac`` (the reference)."""
    return [hmac.new(key, m.encode("utf-8"), hashlib.sha256).hexdigest()[:length] for m in messages]
