"""Keyed blocking signatures (P-Sig style): blocks from the keys the encode stage emits.

The schema declares blocking keys (e.g. Soundex of the last name + year of birth); the encode
stage computes them from the PII and HMACs them with a key derived from the secret, so the
managing entity sees opaque strings only (``Encodings.block_keys``, Parquet columns ``block:*``).
Here each key is one *pass*: records of both sides with the same key form a block. The passes are
unioned: a pair is compared when it shares at least one key, and reported once.

**Oversized blocks.** A block's cost is quadratic (``left size × right size`` pairs, ``n(n-1)/2``
within one file) and its size tells the managing entity how common the underlying value is. A
block that asks for more than ``max_block_pairs`` pairs (default
:func:`default_max_block_pairs`: ``max(10**6, 16 · (n_left + n_right))``, i.e. at most about 16
comparisons per record for one block) is not compared whole. With ``oversized="split"`` (the
default) it is split by CLK LSH inside the block: its records are compared only with records of
the same block that share an LSH band (see :mod:`pprl.block.lsh`; the pair completeness inside is
that of the LSH plan). With ``oversized="drop"`` it is dropped; its records still meet in the other
passes. Missing keys (None) never form a block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..compare import Blocks
from ..errors import DataError
from .lsh import Members

OVERSIZED_RULES = ("split", "drop")


def default_max_block_pairs(n_left: int, n_right: int | None) -> int:
    """The default oversized limit: ``max(10**6, 16 · (n_left + n_right))`` pairs per block."""
    return max(10**6, 16 * (n_left + (n_right or 0)))


@dataclass(frozen=True)
class PassStats:
    """One blocking key's blocks: how many, how costly, how large."""

    name: str
    keyed_left: int
    keyed_right: int | None
    blocks: int
    comparisons: int
    oversized: int
    oversized_pairs: int
    largest: tuple[int, int]

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SignatureBlocks:
    """The union of every pass's blocks, ready for :func:`pprl.compare.dice_blocks`.

    ``sizes`` has one row ``(pass index, left size, right size)`` per shared block, oversized ones
    included (for the block-size report). ``split_left``/``split_right`` are the memberships of the
    oversized blocks to split with LSH (each block a distinct salt), None when there are none or
    they were dropped.
    """

    blocks: Blocks
    passes: tuple[PassStats, ...]
    sizes: np.ndarray
    max_block_pairs: int
    rule: str
    split_left: Members | None = None
    split_right: Members | None = None

    def comparisons(self) -> int:
        """Pairs the ordinary blocks ask for (a pair in several blocks counted each time)."""
        return self.blocks.comparisons()


def shared_key_names(left: Mapping, right: Mapping | None) -> list[str]:
    """Blocking keys present on both sides (all of ``left`` when deduplicating), sorted."""
    names = set(left) if right is None else set(left) & set(right)
    return sorted(names)


def key_codes(name: str, left, right=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer codes of one pass's keys: equal text, equal code on both sides; -1 where missing.

    ``left``/``right`` are sequences of str/None (e.g. ``Encodings.block_keys[name]``) or pyarrow
    string arrays (streamed from Parquet); keys are never turned into Python objects here.
    """
    sides = [_arrow(name, left, "left")] + ([] if right is None else [_arrow(name, right, "right")])
    chunks = [c for side in sides for c in side.chunks]
    encoded = pa.chunked_array(chunks, type=pa.string()).dictionary_encode()
    parts = [np.asarray(c.indices.fill_null(-1), dtype=np.int64) for c in encoded.chunks]
    codes = np.concatenate(parts) if parts else np.empty(0, np.int64)
    n_left = len(sides[0])
    return codes[:n_left], (None if right is None else codes[n_left:])


def _arrow(name: str, values, side: str) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        arr = values
    elif isinstance(values, pa.Array):
        arr = pa.chunked_array([values])
    else:
        try:
            arr = pa.chunked_array([pa.array(np.asarray(values, dtype=object), type=pa.string(),
                                             from_pandas=True)])
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            raise DataError(f"block keys {name!r} ({side}): keys must be text or None") from None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise DataError(f"block keys {name!r} ({side}): expected text keys, got {arr.type}")
    return arr.cast(pa.string())


def _with_missing(flags: np.ndarray) -> np.ndarray:
    """Per-code flags with a False appended: indexing by code -1 (missing) reads False."""
    return np.r_[flags, False]


def _group(codes: np.ndarray, counts: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the rows whose code is kept, grouped by code in ascending code order."""
    rows = np.flatnonzero(_with_missing(keep)[codes])
    index = rows[np.argsort(codes[rows], kind="stable")]
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[keep], out=offsets[1:])
    return offsets, index


def _members(codes: np.ndarray, over: np.ndarray, pass_index: int) -> Members:
    rows = np.flatnonzero(_with_missing(over)[codes])
    salts = (np.uint64(pass_index + 1) << np.uint64(32)) | codes[rows].astype(np.uint64)
    return Members(rows.astype(np.int64), salts)


def signature_blocks(left_keys: Mapping, right_keys: Mapping | None, *, n_left: int,
                     n_right: int | None = None, names: Sequence[str] | None = None,
                     max_block_pairs: int | None = None,
                     oversized: str = "split") -> SignatureBlocks:
    """Blocks of every pass over the keys ``names`` (default: every key both sides carry).

    ``right_keys=None`` deduplicates: a block is a key shared by at least two records.
    Blocks asking for more than ``max_block_pairs`` pairs follow the ``oversized`` rule (see the
    module docstring). Raises DataError when no key is shared or the keys have the wrong length.
    """
    if oversized not in OVERSIZED_RULES:
        raise ValueError(f"oversized must be one of {OVERSIZED_RULES}, got {oversized!r}")
    dedup = right_keys is None
    limit = default_max_block_pairs(n_left, n_right) if max_block_pairs is None else max_block_pairs
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
        raise ValueError(f"max_block_pairs must be a positive integer, got {max_block_pairs!r}")
    names = shared_key_names(left_keys, right_keys) if names is None else list(names)
    if not names:
        raise DataError("no blocking keys shared by both sides (encode with a schema that "
                        "declares `blocking`, or use LSH)")
    parts: list[tuple] = []
    passes, sizes, split_l, split_r = [], [], [], []
    for p, name in enumerate(names):
        if name not in left_keys or (not dedup and name not in right_keys):
            raise DataError(f"blocking key {name!r} is missing on one side")
        cl, cr = key_codes(name, left_keys[name], None if dedup else right_keys[name])
        for codes, n, side in ((cl, n_left, "left"), (cr, n_right, "right")):
            if codes is not None and len(codes) != n:
                raise DataError(f"block keys {name!r} ({side}): {len(codes)} keys for {n} records")
        k = int(max(cl.max(initial=-1), -1 if dedup else cr.max(initial=-1))) + 1
        count_l = np.bincount(cl[cl >= 0], minlength=k)
        count_r = count_l if dedup else np.bincount(cr[cr >= 0], minlength=k)
        shared = count_l >= 2 if dedup else (count_l > 0) & (count_r > 0)
        pairs = count_l * (count_l - 1) // 2 if dedup else count_l * count_r
        over = shared & (pairs > limit)
        regular = shared & ~over
        parts.append((_group(cl, count_l, regular), None if dedup else _group(cr, count_r, regular)))
        if over.any() and oversized == "split":
            split_l.append(_members(cl, over, p))
            if not dedup:
                split_r.append(_members(cr, over, p))
        sel = np.flatnonzero(shared)
        sizes.append(np.stack([np.full(len(sel), p), count_l[sel], count_r[sel]], axis=1))
        top = sel[np.argmax(pairs[sel])] if len(sel) else None
        passes.append(PassStats(
            name=name, keyed_left=int((cl >= 0).sum()),
            keyed_right=None if dedup else int((cr >= 0).sum()), blocks=int(regular.sum()),
            comparisons=int(pairs[regular].sum()), oversized=int(over.sum()),
            oversized_pairs=int(pairs[over].sum()),
            largest=(0, 0) if top is None else (int(count_l[top]), int(count_r[top]))))
    blocks = _union(parts, dedup)
    return SignatureBlocks(
        blocks=blocks, passes=tuple(passes),
        sizes=np.concatenate(sizes).astype(np.int64) if sizes else np.empty((0, 3), np.int64),
        max_block_pairs=int(limit), rule=oversized,
        split_left=_concat_members(split_l), split_right=_concat_members(split_r))


def _union(parts: list[tuple], dedup: bool) -> Blocks:
    """One Blocks holding every pass's blocks, pass after pass."""
    def cat(csrs):
        offsets = [np.zeros(1, np.int64)]
        base = 0
        for off, _ in csrs:
            offsets.append(off[1:] + base)
            base += off[-1]
        index = [idx for _, idx in csrs]
        return np.concatenate(offsets), (np.concatenate(index) if index else np.empty(0, np.int64))

    lo, li = cat([left for left, _ in parts])
    if dedup:
        return Blocks(lo, li)
    ro, ri = cat([right for _, right in parts])
    return Blocks(lo, li, ro, ri)


def _concat_members(parts: list[Members]) -> Members | None:
    if not parts:
        return None
    return Members(np.concatenate([m.rows for m in parts]), np.concatenate([m.salts for m in parts]))
