"""Keyed hashing of tokens to Bloom-filter positions, and the derivation of per-field keys.

Three schemes reproduce clkhash 0.18 bit for bit (``double`` and ``double_ns``: HMAC-SHA1/HMAC-MD5
double hashing [Schnell2011] without/with clkhash's singularity fix; ``blake``: keyed BLAKE2b,
32 unsigned shorts per digest). The native scheme ``blake2b`` draws 16 32-bit values per keyed
BLAKE2b digest and takes them modulo the filter length, so any length works.

A hasher works on a batch of distinct tokens at once and returns, for each, the positions of its
first ``k`` insertions (the positions of a token for ``k`` insertions are a prefix of those for any
larger ``k``, for every scheme).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

import numpy as np

from ..secret import hkdf

CLKHASH_SCHEMES = ("double", "double_ns", "blake")
NATIVE_SCHEMES = ("blake2b",)
_BLAKE_SHORTS = 32  # clkhash: one BLAKE2b digest = 32 unsigned shorts
_NATIVE_WORDS = 16  # native: one BLAKE2b digest = 16 unsigned 32-bit words


def clkhash_keys(
    secret: bytes, nfeatures: int, *, key_size: int, salt: bytes | None, info: bytes | None,
    hash_name: str,
) -> list[tuple[bytes, bytes]]:
    """clkhash's generate_key_lists: HKDF over the whole secret, two keys per feature (in order)."""
    blob = hkdf(secret, length=2 * nfeatures * key_size, salt=salt, info=info or b"",
                hash_name=hash_name)
    keys = [blob[i * key_size : (i + 1) * key_size] for i in range(2 * nfeatures)]
    return [(keys[2 * i], keys[2 * i + 1]) for i in range(nfeatures)]


def native_key(secret: bytes, purpose: str, *, salt: bytes | None, info: bytes | None,
               hash_name: str = "sha256") -> bytes:
    """A 32-byte key for one purpose (``clk:<feature>``, ``field:<feature>``, ``block``, ``rbf``)."""
    label = b"pprl/v1/" + purpose.encode("utf-8")
    if info:
        label += b"/" + info
    return hkdf(secret, length=32, salt=salt, info=label, hash_name=hash_name)


@dataclass(frozen=True)
class Hasher:
    """Hash tokens of one feature into a filter of ``nbits`` bits with one scheme and its keys."""

    scheme: str
    nbits: int
    key: bytes
    key2: bytes = b""

    def __repr__(self) -> str:  # the keys never show
        return f"Hasher(scheme={self.scheme!r}, nbits={self.nbits})"

    def capacity(self, k: int) -> int:
        """How many positions are computed when ``k`` are needed (whole digests)."""
        if self.scheme == "blake":
            return -(-k // _BLAKE_SHORTS) * _BLAKE_SHORTS
        if self.scheme == "blake2b":
            return -(-k // _NATIVE_WORDS) * _NATIVE_WORDS
        return k

    def positions(self, tokens: list[bytes], caps: np.ndarray) -> np.ndarray:
        """The first ``caps[i]`` positions of token ``i``, all concatenated (int64)."""
        caps = np.asarray(caps, dtype=np.int64)
        if not tokens:
            return np.zeros(0, np.int64)
        if self.scheme in ("double", "double_ns"):
            return self._double(tokens, caps)
        if self.scheme == "blake":
            return self._digests(tokens, caps, _BLAKE_SHORTS, np.uint16, _clk_blake_salt)
        if self.scheme == "blake2b":
            return self._digests(tokens, caps, _NATIVE_WORDS, np.dtype("<u4"), _native_salt)
        raise ValueError(f"unknown hash scheme {self.scheme!r}")

    def _double(self, tokens: list[bytes], caps: np.ndarray) -> np.ndarray:
        l = self.nbits  # noqa: E741 - clkhash's name for the filter length
        key_sha1, key_md5 = self.key, self.key2
        h1 = np.empty(len(tokens), np.int64)
        h2 = np.empty(len(tokens), np.int64)
        non_singular = self.scheme == "double_ns"
        for i, m in enumerate(tokens):
            h1[i] = int.from_bytes(hmac.digest(key_sha1, m, "sha1"), "big") % l
            md5hm = int.from_bytes(hmac.digest(key_md5, m, "md5"), "big") % l
            j = 0
            while non_singular and md5hm == 0:
                md5hm = int.from_bytes(hmac.digest(key_md5, m + chr(j).encode(), "md5"), "big") % l
                j += 1
            h2[i] = md5hm
        owner = np.repeat(np.arange(len(tokens)), caps)
        step = np.arange(owner.size) - np.repeat(np.cumsum(caps) - caps, caps)
        # (h1 + i*h2) % l with h1, h2 < l and i < k: no overflow for any realistic l and k
        return (h1[owner] + step * h2[owner]) % l

    def _digests(self, tokens, caps, per_digest, dtype, salt_of) -> np.ndarray:
        key = self.key
        ndig = -(-caps // per_digest)
        chunks = []
        for m, d in zip(tokens, ndig.tolist(), strict=True):
            for i in range(d):
                chunks.append(hashlib.blake2b(m, key=key, salt=salt_of(i)).digest())
        values = np.frombuffer(b"".join(chunks), dtype=dtype).astype(np.int64)
        return values % self.nbits if values.size else values


def _clk_blake_salt(i: int) -> bytes:
    return str(i).encode()


def _native_salt(i: int) -> bytes:
    return b"pprl" + i.to_bytes(4, "little")


def is_power_of_two(x: int) -> bool:
    """clkhash's test for the BLAKE2 scheme: ``2 ** int(log2(l)) == l``."""
    return x >= 1 and 2 ** int(math.log(x, 2)) == x
