"""Frequency attack: equal values give equal encodings, so the most frequent encodings are the most
frequent plaintext values (Kuzu et al. 2011; Christen et al. 2017).

Identical encodings are grouped and counted. A group of ``c`` encodings can only be a value whose
expected count ``e`` (its reference share times the number of encodings) is compatible with ``c``
(``|c - e| <= z * sqrt(e)``: Poisson sampling). When the attacker knows the filter length and the
bits per token (the schema is public), a candidate must also have as many tokens as the group's
number of set bits allows (occupancy of ``k`` bits per token in ``m`` bits). Two groups are never
the same value, so the groups are then aligned one-to-one with the values (a minimum-cost matching,
cost ``(c - e)**2 / e``, within the allowed candidates): a matched group is a 1-1 guess; a group
left unmatched keeps its 2 to ``max_many`` candidates as a 1-m guess. Empty filters (a missing
value) are never aligned.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..encode import blocking
from ..encode.schema import Schema
from ..encodings import Encodings
from ..errors import DataError
from ._data import (
    Attribute,
    Plain,
    Reference,
    attacker_view,
    attributes,
    expected_popcount,
    source_name,
)
from ._data import truth_values as _truth_values
from ._result import MAX_MANY, AttackResult, guesses_from_groups


def frequency(encodings: Encodings, reference: Reference | pd.DataFrame | str, *,
              field: str | None = None, target: list[str] | None = None,
              schema: Schema | None = None, truth: pd.DataFrame | None = None,
              min_count: int = 5, z: float = 2.0, max_many: int = MAX_MANY,
              undo: bool = True) -> AttackResult:
    """Frequency attack on the record filters (``field=None``) or on one field's filters.

    Args:
        encodings: the attacked encodings.
        reference: the attacker's plaintext population (:class:`Reference`, a DataFrame with
            attribute columns and an optional ``count``, or a CSV path).
        field: attack ``encodings.fields[field]`` instead of the record filters.
        target: the attributes the attacked filters encode (default: ``[field]``, else every
            reference attribute).
        schema: the public schema, if the attacker knows it (tokens exactly as encoded and the
            bits per token, for the set-bits check).
        truth: the true values of the target attributes, rows aligned with the encodings, to
            count correct and wrong guesses.
        min_count: groups smaller than this are not aligned (their frequency says nothing).
        z: width of the Poisson band, in standard deviations.
        max_many: most candidates of a 1-to-many guess.
        undo: undo the hardening steps that can be undone (balancing; Rule 90 when the schema
            says so) before attacking (:func:`attacker_view`).
    """
    t0 = time.perf_counter()
    ref = Reference.coerce(reference)
    names = list(target) if target else ([field] if field else list(ref.attributes))
    attrs = attributes(names, schema, field)
    bits, undone = attacker_view(encodings, field, schema, undo)
    plain = Plain.of(ref, attrs)
    values, weights = plain.joint_values(names)
    n = bits.shape[0]
    group_of, counts, popcounts = _groups(bits)
    expected = weights / weights.sum() * n
    model = None if undone else _popcount_model(schema, field, names, attrs)
    ntok = _token_counts(plain, names, values) if model else None
    candidates = _candidates(counts, expected, popcounts, ntok, model, min_count, z)
    candidates = _assign(candidates, counts, expected)
    cands = [None if c is None else tuple(values[j] for j in c) for c in candidates]
    guesses, too_many = guesses_from_groups(group_of, cands, max_many)
    result = AttackResult("frequency", source_name(field), tuple(names), guesses, too_many,
                          max_many, details={"undone": "+".join(undone) or "-",
                                             "groups": len(counts),
                                             "aligned_groups": int(sum(c is not None
                                                                       for c in cands)),
                                             "largest_group": int(counts.max(initial=0))},
                          seconds=time.perf_counter() - t0)
    return result.evaluate(_truth_values(truth, names, attrs, n))


def _groups(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group of each row (identical rows), the size and the set bits of each group."""
    if bits.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.ascontiguousarray(np.packbits(bits, axis=1))
    view = rows.view(np.dtype((np.void, rows.shape[1]))).reshape(-1)
    _, first, inverse, counts = np.unique(view, return_index=True, return_inverse=True,
                                          return_counts=True)
    popcounts = bits[first].sum(axis=1).astype(np.int64)
    return inverse.reshape(-1).astype(np.int64), counts.astype(np.int64), popcounts


def _popcount_model(schema: Schema | None, field: str | None, names: list[str],
                    attrs: dict[str, Attribute]) -> tuple[int, int] | None:
    """(k, m) when the set bits of an attacked filter follow from its number of tokens: a known
    schema, one target attribute, bits per token, and no hardening step on that filter (undoing
    balancing or Rule 90 is exact only up to complemented bits)."""
    if schema is None or len(names) != 1 or attrs[names[0]].k is None:
        return None
    h = schema.hardening
    if h.transforms_filters and (field is None or h.field_filters == "harden"):
        return None
    f = next(x for x in schema.hashed_features if x.name == names[0])
    if field is not None:
        return (attrs[names[0]].k, f.field_filter.nbits) if f.field_filter else None
    others = [x for x in schema.hashed_features if x.name != f.name and x.clk is not None]
    if others or schema.xor_folds or schema.encoding_type != "clk" or f.clk is None:
        return None
    return attrs[names[0]].k, f.clk.nbits


def _token_counts(plain: Plain, names: list[str], values: np.ndarray) -> np.ndarray:
    name = names[0]
    lookup = {}
    for c, t in zip(plain.canon[name], plain.tokens[name], strict=True):
        lookup.setdefault(c, len(t))
    return np.array([lookup[v[0]] for v in values], dtype=np.int64)


def _candidates(counts, expected, popcounts, ntok, model, min_count, z) -> list[list[int] | None]:
    """Per group, the reference values (indexes, most frequent first) its size allows."""
    order = np.argsort(-expected, kind="stable")
    e_sorted = expected[order]
    out: list[list[int] | None] = []
    bands = {}
    if model is not None:
        k, m = model
        for t in np.unique(ntok).tolist():
            bands[t] = expected_popcount(t, k, m)
    for c, pc in zip(counts.tolist(), popcounts.tolist(), strict=True):
        if c < min_count or pc == 0:
            out.append(None)
            continue
        root = math.sqrt(z * z + 4 * c)
        lo, hi = ((root - z) / 2) ** 2, ((root + z) / 2) ** 2
        # e_sorted is descending: the values with lo <= e <= hi
        a = int(np.searchsorted(-e_sorted, -hi, side="left"))
        b = int(np.searchsorted(-e_sorted, -lo, side="right"))
        cand = order[a:b]
        if model is not None and cand.size:
            keep = [j for j in cand.tolist()
                    if abs(pc - bands[int(ntok[j])][0]) <= 3 * bands[int(ntok[j])][1] + 1]
            cand = np.array(keep, dtype=np.int64)
        out.append(cand.tolist() if cand.size else None)
    return out


def _assign(candidates: list[list[int] | None], counts: np.ndarray, expected: np.ndarray
            ) -> list[list[int] | None]:
    """One-to-one alignment of groups and values within the candidates (minimum total
    ``(c - e)**2 / e``); matched groups get their value alone."""
    groups = [g for g, c in enumerate(candidates) if c]
    if not groups:
        return candidates
    cols = sorted({v for g in groups for v in candidates[g]})
    col_of = {v: j for j, v in enumerate(cols)}
    big = 1e12
    cost = np.full((len(groups), len(cols)), big)
    for i, g in enumerate(groups):
        for v in candidates[g]:
            e = max(expected[v], 1e-9)
            cost[i, col_of[v]] = (counts[g] - e) ** 2 / e
    rows, picked = linear_sum_assignment(cost)
    out = list(candidates)
    for i, j in zip(rows.tolist(), picked.tolist(), strict=True):
        if cost[i, j] < big:
            out[groups[i]] = [cols[j]]
    return out


def block_key_frequency(encodings: Encodings, reference: Reference | pd.DataFrame | str,
                        key: str, *, schema: Schema, target: list[str] | None = None,
                        truth: pd.DataFrame | None = None, min_count: int = 5, z: float = 2.0,
                        max_many: int = MAX_MANY) -> AttackResult:
    """Frequency attack on one keyed blocking key (``encodings.block_keys[key]``).

    Equal parts give equal keys, so the records sharing a key are counted and aligned with the
    reference's frequencies of the same parts (the key's definition is in the public schema; the
    attacker computes the parts of every reference row, e.g. Soundex of the last name + year of
    birth). A key aligned one-to-one is a 1-1 guess of the target values when a single reference
    value combination has those parts (e.g. a unique name + date of birth), a 1-m guess when up to
    ``max_many`` do.

    Args:
        encodings: the attacked encodings (with blocking keys).
        reference: the attacker's plaintext population; it needs every feature the key reads.
        key: the blocking key's name.
        schema: the public schema (the key's definition).
        target: the attributes to re-identify (default: the features the key reads).
        truth: true values of the target attributes, rows aligned with the encodings.
        min_count: keys shared by fewer records are not aligned.
        z: width of the Poisson band, in standard deviations.
        max_many: most candidates of a 1-to-many guess.
    """
    t0 = time.perf_counter()
    if key not in encodings.block_keys:
        have = ", ".join(map(repr, sorted(encodings.block_keys))) or "none"
        raise DataError(f"the encodings have no blocking key {key!r} (blocking keys: {have})")
    bk = next((b for b in schema.blocking if b.name == key), None)
    if bk is None:
        raise DataError(f"the schema defines no blocking key {key!r}")
    ref = Reference.coerce(reference)
    feats = list(dict.fromkeys(p.feature for p in bk.parts))
    names = list(target) if target else feats
    attrs = attributes(list(dict.fromkeys([*names, *feats])), schema, None)
    plain = Plain.of(ref, attrs, with_tokens=False)
    texts = np.asarray(_key_texts(plain, bk), dtype=object)
    ok = np.flatnonzero(texts != None)  # noqa: E711 - elementwise
    items = pd.Series(plain.weights[ok]).groupby(texts[ok].astype(str)).sum()
    items = items.sort_values(ascending=False, kind="stable")
    keys = pd.Series(encodings.block_keys[key], dtype=object)
    group_of, uniq = pd.factorize(keys, use_na_sentinel=True)
    counts = np.bincount(group_of[group_of >= 0], minlength=len(uniq)).astype(np.int64)
    present = int((group_of >= 0).sum())
    expected = items.to_numpy(dtype=float) / max(items.sum(), 1e-300) * present
    candidates = _candidates(counts, expected, np.ones(len(counts), np.int64), None, None,
                             min_count, z)
    candidates = _assign(candidates, counts, expected)
    text_of = items.index.to_list()
    values_of = _values_by_text(plain, names, texts, ok,
                                {text_of[j] for c in candidates if c for j in c})
    cands = []
    for c in candidates:
        vals = None if c is None else [v for j in c for v in values_of[text_of[j]]]
        cands.append(None if not vals else tuple(dict.fromkeys(vals)))
    guesses, too_many = guesses_from_groups(np.asarray(group_of, dtype=np.int64), cands,
                                            max_many)
    result = AttackResult("frequency", f"block:{key}", tuple(names), guesses, too_many,
                          max_many, details={"groups": len(counts),
                                             "aligned_groups": int(sum(c is not None
                                                                       for c in cands))},
                          seconds=time.perf_counter() - t0)
    return result.evaluate(_truth_values(truth, names, attrs, len(keys)))


def _values_by_text(plain: Plain, names: list[str], texts: np.ndarray, ok: np.ndarray,
                    wanted: set[str]) -> dict[str, list[tuple]]:
    """For each wanted key text, the target value combinations of the reference rows that have
    it, most frequent first."""
    rows = ok[np.isin(texts[ok].astype(str), list(wanted))] if wanted else ok[:0]
    weight: dict[str, dict[tuple, float]] = {}
    for r in rows.tolist():
        value = tuple(plain.canon[nm][r] for nm in names)
        per = weight.setdefault(texts[r], {})
        per[value] = per.get(value, 0.0) + plain.weights[r]
    return {t: sorted(per, key=lambda v: -per[v]) for t, per in weight.items()}


def _key_texts(plain: Plain, bk) -> list[str | None]:
    """The blocking key's parts of every reference row, joined (None when a part is missing),
    as the encoder joins them before the HMAC."""
    cols = []
    for p in bk.parts:
        cache: dict = {}
        col = []
        for v in plain.canon[p.feature].tolist():
            t = cache.get(v)
            if t is None:
                t = cache[v] = blocking.transform(p, v) if v else ""
            col.append(t)
        cols.append(col)
    return [None if not all(parts) else blocking.SEP.join(parts)
            for parts in zip(*cols, strict=True)]
