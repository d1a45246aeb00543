"""Numba kernels of the encode stage, each with a pure-NumPy reference used by the tests.

Bit layout (shared with :class:`pprl.Encodings`): bit ``p`` of a filter lives in byte ``p // 8`` at
bit ``7 - p % 8`` (bitarray's big-endian order), and the bytes are viewed as little-endian uint64
words. So bit ``p`` is word ``p >> 6``, shift ``((p >> 3) & 7) * 8 + 7 - (p & 7)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..encodings import words_for

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@njit(cache=True, nogil=True, inline="always")
def _shift(p):
    return np.uint64(((p >> 3) & 7) * 8 + 7 - (p & 7))


# -- tokenisation -----------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _sym_hash(sym, width):
    h = _FNV_OFFSET
    for t in range(width):
        h = (h ^ np.uint64(np.uint32(sym[t]))) * _FNV_PRIME
    return h ^ (h >> np.uint64(29))


@njit(cache=True, nogil=True)
def _rehash(uniq, m, width, cap):
    table = np.full(cap, -1, np.int32)
    mask = cap - 1
    for idx in range(m):
        slot = np.int64(_sym_hash(uniq[idx], width) & np.uint64(mask))
        while table[slot] != -1:
            slot = (slot + 1) & mask
        table[slot] = idx
    return table


@njit(cache=True, nogil=True)
def ngram_tokens(cps, offsets, n, positional):
    """n-grams of every value, as clkhash makes them, interned to local token ids.

    ``cps`` holds the code points of all values back to back, value ``v`` is
    ``cps[offsets[v]:offsets[v + 1]]``. A non-empty word is padded with ``n - 1`` spaces on both
    sides; a positional token carries its 1-based index. Returns ``(val_off, occ_tok, uniq)``:
    the tokens of value ``v`` are ``occ_tok[val_off[v]:val_off[v + 1]]`` in order, and row ``t`` of
    ``uniq`` spells token ``t`` as int32 symbols (``-(index)`` first when positional, then n code
    points). The intern table grows with the distinct tokens, so it stays in cache.
    """
    nv = offsets.size - 1
    width = n + 1 if positional else n
    val_off = np.zeros(nv + 1, np.int64)
    for v in range(nv):
        length = offsets[v + 1] - offsets[v]
        val_off[v + 1] = val_off[v] + (length + n - 1 if length > 0 else 0)
    total = val_off[nv]
    occ_tok = np.empty(total, np.int32)
    cap = 1024
    table = np.full(cap, -1, np.int32)
    uniq = np.empty((cap // 2, width), np.int32)
    sym = np.empty(width, np.int32)
    m = 0
    pos = 0
    for v in range(nv):
        start = offsets[v]
        length = offsets[v + 1] - start
        if length == 0:
            continue
        for i in range(length + n - 1):
            t = 0
            if positional:
                sym[0] = -(i + 1)
                t = 1
            for j in range(n):
                pj = i + j - (n - 1)
                sym[t] = 32 if (pj < 0 or pj >= length) else cps[start + pj]
                t += 1
            mask = cap - 1
            slot = np.int64(_sym_hash(sym, width) & np.uint64(mask))
            while True:
                idx = table[slot]
                if idx == -1:
                    table[slot] = m
                    for t in range(width):
                        uniq[m, t] = sym[t]
                    occ_tok[pos] = m
                    m += 1
                    if 2 * m >= cap:
                        cap *= 2
                        grown = np.empty((cap // 2, width), np.int32)
                        grown[:m] = uniq[:m]
                        uniq = grown
                        table = _rehash(uniq, m, width, cap)
                    break
                same = True
                for t in range(width):
                    if uniq[idx, t] != sym[t]:
                        same = False
                        break
                if same:
                    occ_tok[pos] = idx
                    break
                slot = (slot + 1) & mask
            pos += 1
    return val_off, occ_tok, uniq[:m].copy()


@njit(cache=True, nogil=True)
def utf8_code_points(data, offsets):
    """Code points of UTF-8 strings stored back to back (Arrow layout: value ``v`` is
    ``data[offsets[v]:offsets[v + 1]]``, valid UTF-8), with per-value offsets into them."""
    n = offsets.size - 1
    cps = np.empty(max(offsets[n] - offsets[0], 1), np.uint32)
    char_off = np.zeros(n + 1, np.int64)
    k = 0
    for v in range(n):
        i, end = offsets[v], offsets[v + 1]
        while i < end:
            b = np.uint32(data[i])
            if b < 0x80:
                cp, size = b, 1
            elif b < 0xE0:
                cp, size = b & 0x1F, 2
            elif b < 0xF0:
                cp, size = b & 0x0F, 3
            else:
                cp, size = b & 0x07, 4
            for j in range(1, size):
                cp = (cp << 6) | (np.uint32(data[i + j]) & 0x3F)
            cps[k] = cp
            k += 1
            i += size
        char_off[v + 1] = k
    return cps[:k], char_off


def ngram_tokens_ref(values: list[str], n: int, positional: bool) -> list[list[str]]:
    """Reference: clkhash's NgramComparison.tokenize, as token strings per value."""
    out = []
    for word in values:
        if not word:
            out.append([])
            continue
        if n > 1:
            word = " " * (n - 1) + word + " " * (n - 1)
        grams = [word[i : i + n] for i in range(len(word) - n + 1)]
        out.append([f"{i + 1} {g}" for i, g in enumerate(grams)] if positional else grams)
    return out


# -- insertions per token ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def spread_insertions(val_off, bits):
    """clkhash's bitsPerFeature: ``bits`` insertions over the T tokens of each value, the first
    ``bits % T`` tokens getting one more than ``bits // T``."""
    out = np.empty(val_off[-1], np.int32)
    for v in range(val_off.size - 1):
        a, b = val_off[v], val_off[v + 1]
        t = b - a
        if t == 0:
            continue
        base, extra = bits // t, bits % t
        for j in range(t):
            out[a + j] = base + 1 if j < extra else base
    return out


@njit(cache=True, nogil=True)
def max_per_token(occ_tok, ks, ntokens):
    """The most insertions any occurrence of each token gets."""
    out = np.zeros(ntokens, np.int64)
    for o in range(occ_tok.size):
        t = occ_tok[o]
        if ks[o] > out[t]:
            out[t] = ks[o]
    return out


# -- Bloom-filter bits ------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def value_filters(val_off, occ_tok, occ_k, tok_start, pos_buf, nwords):
    """One filter per value: for every token occurrence set its first ``k`` positions."""
    nv = val_off.size - 1
    out = np.zeros((nv, nwords), np.uint64)
    one = np.uint64(1)
    for v in range(nv):
        for o in range(val_off[v], val_off[v + 1]):
            s = tok_start[occ_tok[o]]
            for i in range(occ_k[o]):
                p = pos_buf[s + i]
                out[v, p >> 6] |= one << _shift(p)
    return out


def positions_to_words(bits: np.ndarray) -> np.ndarray:
    """Reference packing: a boolean matrix ``(n, nbits)`` -> uint64 words in the shared layout."""
    n, nbits = bits.shape
    nwords = words_for(nbits)
    padded = np.zeros((n, nwords * 64), dtype=bool)
    padded[:, :nbits] = bits
    return np.packbits(padded, axis=1, bitorder="big").view(np.uint64).reshape(n, nwords)


def words_to_positions(words: np.ndarray, nbits: int) -> np.ndarray:
    """Reference unpacking: uint64 words -> boolean matrix ``(n, nbits)``."""
    raw = np.ascontiguousarray(words).view(np.uint8)
    return np.unpackbits(raw, axis=1, bitorder="big")[:, :nbits].astype(bool)


def value_filters_ref(val_off, occ_tok, occ_k, tok_start, pos_buf, nbits):
    nv = len(val_off) - 1
    bits = np.zeros((nv, nbits), dtype=bool)
    for v in range(nv):
        for o in range(val_off[v], val_off[v + 1]):
            s = tok_start[occ_tok[o]]
            bits[v, pos_buf[s : s + occ_k[o]]] = True
    return positions_to_words(bits)


@njit(cache=True, nogil=True)
def or_rows(out, store, gids):
    """``out[r] |= store[gids[r]]`` for every row with ``gids[r] >= 0``."""
    nw = out.shape[1]
    for r in range(gids.size):
        g = gids[r]
        if g >= 0:
            for w in range(nw):
                out[r, w] |= store[g, w]


def or_rows_ref(out, store, gids):
    ok = gids >= 0
    out[ok] |= store[gids[ok]]


@njit(cache=True, nogil=True)
def fold_rows(unfolded, nbits):
    """XOR-fold every row: bit ``p`` of the unfolded filter toggles bit ``p % nbits``."""
    n, nw_in = unfolded.shape
    out = np.zeros((n, (nbits + 63) >> 6), np.uint64)
    one = np.uint64(1)
    for r in range(n):
        for w in range(nw_in):
            word = unfolded[r, w]
            if word == 0:
                continue
            for s in range(64):
                if (word >> np.uint64(s)) & one:
                    p = w * 64 + (s >> 3) * 8 + 7 - (s & 7)
                    q = p % nbits
                    out[r, q >> 6] ^= one << _shift(q)
    return out


def fold_rows_ref(unfolded, nbits, folds):
    """clkhash's fold_xor: split in halves and XOR them, ``folds`` times."""
    bits = words_to_positions(unfolded, nbits << folds)
    for _ in range(folds):
        half = bits.shape[1] // 2
        bits = bits[:, :half] ^ bits[:, half:]
    return positions_to_words(bits)


@njit(cache=True, nogil=True)
def sample_bits(source, src, dst, nbits_out):
    """Record-level filter part: bit ``dst[j]`` of the output = bit ``src[j]`` of the source row."""
    n = source.shape[0]
    out = np.zeros((n, (nbits_out + 63) >> 6), np.uint64)
    one = np.uint64(1)
    for r in range(n):
        for j in range(src.size):
            p = src[j]
            if (source[r, p >> 6] >> _shift(p)) & one:
                q = dst[j]
                out[r, q >> 6] |= one << _shift(q)
    return out


def sample_bits_ref(source, src, dst, nbits_in, nbits_out):
    bits = words_to_positions(source, nbits_in)
    out = np.zeros((bits.shape[0], nbits_out), dtype=bool)
    out[:, dst] = bits[:, src]
    return positions_to_words(out)


# -- hardening --------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _get(row, p):
    return (row[p >> 6] >> _shift(p)) & np.uint64(1)


@njit(cache=True, nogil=True)
def rule90_rows(bits, nbits):
    """Rule 90 (Schnell 2017): bit ``p`` becomes bit ``p - 1`` XOR bit ``p + 1`` (cyclic)."""
    n = bits.shape[0]
    out = np.zeros_like(bits)
    one = np.uint64(1)
    for r in range(n):
        row = bits[r]
        for p in range(nbits):
            left = nbits - 1 if p == 0 else p - 1
            right = 0 if p == nbits - 1 else p + 1
            if _get(row, left) ^ _get(row, right):
                out[r, p >> 6] |= one << _shift(p)
    return out


def rule90_rows_ref(bits, nbits):
    b = words_to_positions(bits, nbits)
    return positions_to_words(np.roll(b, 1, axis=1) ^ np.roll(b, -1, axis=1))


@njit(cache=True, nogil=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, nogil=True, inline="always")
def _xoshiro(s):
    """xoshiro256** (Blackman and Vigna): the next 64-bit output; ``s`` is the uint64[4] state."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True, nogil=True)
def blip_rows(bits, nbits, seeds, threshold):
    """BLIP: flip bit ``p`` of row ``r`` when the ``p``-th output of xoshiro256** seeded with
    ``seeds[r]`` is below ``threshold`` (probability threshold / 2**64)."""
    n = bits.shape[0]
    out = bits.copy()
    one = np.uint64(1)
    s = np.empty(4, np.uint64)
    for r in range(n):
        s[:] = seeds[r]
        if s[0] == 0 and s[1] == 0 and s[2] == 0 and s[3] == 0:
            s[0] = one
        for p in range(nbits):
            if _xoshiro(s) < threshold:
                out[r, p >> 6] ^= one << _shift(p)
    return out


def xoshiro_ref(seed: list[int], count: int) -> list[int]:
    """Reference xoshiro256** in Python integers."""
    m = (1 << 64) - 1
    s = list(seed) if any(seed) else [1, 0, 0, 0]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & m

    out = []
    for _ in range(count):
        out.append(rotl((s[1] * 5) & m, 7) * 9 & m)
        t = (s[1] << 17) & m
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def blip_rows_ref(bits, nbits, seeds, threshold):
    b = words_to_positions(bits, nbits)
    for r in range(b.shape[0]):
        draws = np.array(xoshiro_ref([int(x) for x in seeds[r]], nbits), dtype=object)
        b[r] ^= draws < int(threshold)
    return positions_to_words(b)


@njit(cache=True, nogil=True)
def balance_rows(bits, nbits, perm):
    """Balancing (Schnell 2016): the filter followed by its negation, bit ``j`` of that moved to
    position ``perm[j]``; every output row has exactly ``nbits`` of its ``2 * nbits`` bits set."""
    n = bits.shape[0]
    out = np.zeros((n, (2 * nbits + 63) >> 6), np.uint64)
    one = np.uint64(1)
    for r in range(n):
        row = bits[r]
        for j in range(nbits):
            q = perm[j] if _get(row, j) else perm[nbits + j]
            out[r, q >> 6] |= one << _shift(q)
    return out


def balance_rows_ref(bits, nbits, perm):
    b = words_to_positions(bits, nbits)
    src = np.concatenate([b, ~b], axis=1)
    out = np.zeros_like(src)
    out[:, perm] = src
    return positions_to_words(out)
