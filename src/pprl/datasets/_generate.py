"""The public generators: population, two-extract linkage, multi-agency data, reference names."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._log import logger
from ._corrupt import FIELDS, Corruption, as_corruption, corrupt
from ._people import Evolution, People, check_probability, universe
from ._random import check_seed, combine, key, non_negative_int, rng, uniform
from ._tables import tables

CorruptionSpec = str | float | Corruption
A_SHARE = 0.25  # df_a's default corruption: this share of df_b's probabilities


def _count(value: object, name: str) -> int:
    """``value`` as a non-negative int, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a non-negative integer, got bool")
    return non_negative_int(value, name)


def population(n: int, *, seed: int = 0, households: bool = True) -> pd.DataFrame:
    """``n`` clean, true people.

    Args:
        n: number of people.
        seed: the same seed gives the same people.
        households: group people in households (a head, maybe a partner, children; twins happen)
            sharing address, city, zip and mostly the last name; ``False`` makes everyone single.

    Returns:
        One row per person: ``entity_id`` (0..n-1), ``first_name``, ``last_name``, ``dob``
        (YYYY-MM-DD text), ``sex`` ("M"/"F"), ``address`` (e.g. "123 MAPLE ST"), ``city``, ``zip``
        (5-digit text, leading zeros kept), ``household_id``. Names are upper case and follow the
        shipped frequency tables (see :func:`reference_names`); ages are as of 1 September 2025,
        mostly 0-40.
    """
    n = _count(n, "n")
    return universe(n, check_seed(seed), households=bool(households)).frame()


def _record_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Text ids ``prefix`` + zero-padded ``numbers`` (computed in Arrow: fast at 1M rows)."""
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()),
                          width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _records(people: People, rows: np.ndarray, record_ids: pa.Array, c: Corruption, k: int,
             version: np.ndarray | None = None) -> pd.DataFrame:
    """The extract frame of the people at ``rows`` (entity ids), in that order.

    Columns: ``record_id`` then the observed fields, all text (missing as NaN). Errors are keyed by
    the source ``k`` and each record's entity id (and ``version``, the times it was re-keyed).
    The work runs in entity order (memory-friendly) and Arrow puts the rows in ``rows`` order.
    """
    order = np.argsort(rows, kind="stable")
    p = people.take(rows[order])
    ids = p.entity_id.astype(np.uint64)
    if version is not None:
        ids = combine(ids, version[order])
    cols = corrupt(p, c, k, ids)
    back = np.empty(len(rows), dtype=np.int64)
    back[order] = np.arange(len(rows))
    table = pa.table({f: pa.array(cols[f], type=pa.string()) for f in FIELDS}).take(back)
    return table.add_column(0, "record_id", record_ids).to_pandas()


def extracts(n_a: int, n_b: int, *, overlap: float = 0.5, corruption: CorruptionSpec = "moderate",
             corruption_a: CorruptionSpec | None = None, households: bool = True,
             seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two agency extracts of one population, with the true matching pairs.

    The people are ``population(n_a + n_b - k, seed=seed)`` with ``k = round(overlap * min(n_a,
    n_b))``: ``k`` of them are in both extracts, the others in one. Every record is a corrupted
    copy of its person; df_b gets ``corruption``, df_a a lighter one.

    Args:
        n_a: records in df_a.
        n_b: records in df_b.
        overlap: share of the smaller extract that is also in the other one, in [0, 1].
        corruption: df_b's errors: a preset ("none", "low", "moderate", "high"), a level in
            [0, 1] (a fraction of "high"; "moderate" is 0.5) or a :class:`Corruption`.
        corruption_a: df_a's errors, same forms; default a quarter of ``corruption``'s rates.
        households: passed to :func:`population`.
        seed: the same arguments and seed give identical frames.

    Returns:
        ``(df_a, df_b, truth)``. df_a/df_b have ``record_id`` ("A0000001", "B0000001", ...; row
        order random) and ``first_name``, ``last_name``, ``dob``, ``sex``, ``address``, ``city``,
        ``zip`` (text, None where missing); no entity id. ``truth`` has ``left_id`` (df_a's
        record_id) and ``right_id`` (df_b's) for each true pair, ordered by ``left_id``.
    """
    n_a, n_b = _count(n_a, "n_a"), _count(n_b, "n_b")
    check_probability(overlap, "overlap")
    seed = check_seed(seed)
    c_b = as_corruption(corruption)
    c_a = c_b.scaled(A_SHARE) if corruption_a is None else as_corruption(corruption_a,
                                                                          "corruption_a")
    k = round(float(overlap) * min(n_a, n_b))
    people = universe(n_a + n_b - k, seed, households=bool(households))
    g = rng(seed, "extracts")
    perm = g.permutation(len(people))
    ent_a = g.permutation(perm[:n_a])
    ent_b = g.permutation(perm[n_a - k:])
    width = max(7, len(str(max(n_a, n_b))))
    ids_a = _record_ids("A", np.arange(1, n_a + 1), width)
    ids_b = _record_ids("B", np.arange(1, n_b + 1), width)
    df_a = _records(people, ent_a, ids_a, c_a, key(seed, "extract", "A"))
    df_b = _records(people, ent_b, ids_b, c_b, key(seed, "extract", "B"))
    row_b = np.full(len(people), -1, dtype=np.int64)
    row_b[ent_b] = np.arange(n_b)
    pair_b = row_b[ent_a]
    in_both = np.flatnonzero(pair_b >= 0)
    truth = pa.table({"left_id": ids_a.take(in_both),
                      "right_id": ids_b.take(pair_b[in_both])}).to_pandas()
    logger.debug("extracts: %d + %d records, %d true pairs", n_a, n_b, len(truth))
    return df_a, df_b, truth


# ---------------------------------------------------------------- multi-agency data


def _agency_names(names_or_k: int | Sequence[str]) -> list[str]:
    if isinstance(names_or_k, str):
        raise TypeError("names_or_k must be a number of agencies or a list of agency names, "
                        f"got the string {names_or_k!r}")
    if isinstance(names_or_k, int | np.integer) and not isinstance(names_or_k, bool):
        k = int(names_or_k)
        if k < 1:
            raise ValueError(f"names_or_k must be at least 1 agency, got {k}")
        return [f"agency{i + 1}" for i in range(k)]
    if not isinstance(names_or_k, Sequence) or isinstance(names_or_k, bytes):
        raise TypeError("names_or_k must be a number of agencies or a list of agency names, "
                        f"got {type(names_or_k).__name__}")
    names = list(names_or_k)
    if not names:
        raise ValueError("names_or_k: the list of agency names is empty")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"names_or_k: agency names must be non-empty text, got {name!r}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"names_or_k: agency names must be unique, repeated: {', '.join(dup)}")
    return names


def _agency_sizes(sizes: int | Sequence[int], names: list[str]) -> list[int]:
    if isinstance(sizes, int | np.integer) and not isinstance(sizes, bool):
        return [_count(sizes, "sizes")] * len(names)
    if isinstance(sizes, Mapping):
        missing = [n for n in names if n not in sizes]
        if missing or len(sizes) != len(names):
            raise ValueError(f"sizes: expected one size for each agency {names}, got {list(sizes)}")
        return [_count(sizes[n], f"sizes[{n!r}]") for n in names]
    sizes = list(sizes)
    if len(sizes) != len(names):
        raise ValueError(f"sizes: expected {len(names)} sizes (one per agency), got {len(sizes)}")
    return [_count(s, f"sizes[{i}]") for i, s in enumerate(sizes)]


def _members(size: int, pool_sizes: list[int], seed: int, name: str,
             ev: Evolution) -> tuple[np.ndarray, np.ndarray]:
    """(entity ids, record numbers) of an agency in the last year of ``pool_sizes``.

    Year 0 draws ``size`` people at random; each later year every member leaves with probability
    ``ev.leave`` and the agency refills to ``size`` from people who were not members last year
    (when there are too few of those, fewer members leave).
    Members keep their record number; newcomers get the next unused numbers.
    """
    members = rng(seed, "members", name, 0).choice(pool_sizes[0], size, replace=False)
    numbers = np.arange(1, size + 1)
    leave_key = key(seed, "leave", name)
    next_number = size + 1
    for t in range(1, len(pool_sizes)):
        outside = np.ones(pool_sizes[t], dtype=bool)
        outside[members] = False
        pool = np.flatnonzero(outside)
        u = uniform(leave_key, members, t)
        n_leave = min(int((u < ev.leave).sum()), len(pool))  # no one leaves unless replaced
        stay = np.ones(len(members), dtype=bool)
        stay[np.argsort(u, kind="stable")[:n_leave]] = False
        members, numbers = members[stay], numbers[stay]
        need = size - len(members)
        new = rng(seed, "members", name, t).choice(pool, need, replace=False)
        members = np.concatenate([members, new])
        numbers = np.concatenate([numbers, np.arange(next_number, next_number + need)])
        next_number += need
    return members, numbers


def _edits(entities: np.ndarray, seed: int, name: str, year: int, ev: Evolution) -> np.ndarray:
    """How many times each record was re-keyed up to ``year`` (0 in year 0)."""
    k = key(seed, "edit", name)
    count = np.zeros(len(entities), dtype=np.int64)
    for t in range(1, year + 1):
        count += uniform(k, entities, t) < ev.edit
    return count


def _prefix(name: str) -> str:
    return re.sub(r"[^0-9A-Z]+", "_", name.upper()).strip("_") + "-"


def agencies(names_or_k: int | Sequence[str], sizes: int | Sequence[int] | Mapping[str, int], *,
             population_size: int | None = None,
             corruption: CorruptionSpec | Mapping[str, CorruptionSpec] = "moderate",
             year: int = 0, evolution: Evolution | None = None, households: bool = True,
             seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Extracts of several agencies that sample one shared population, for multi-party linkage.

    Each agency holds at most one record per person. "Next year" is the same call with
    ``year=1`` (2, ...) and the same other arguments: people keep their entity ids, members keep
    their record ids, some members leave and are replaced (also by newcomers to the population),
    households move, women marry, and a few records are re-keyed (see :class:`Evolution`). A record
    that nothing happened to is identical to last year's.

    Args:
        names_or_k: agency names, or a count k for "agency1".."agencyk".
        sizes: records per agency: one int for all, a list, or a mapping name -> size.
        population_size: people in the shared population in year 0; default
            ``max(max(sizes), ceil(sum(sizes) / 2))`` (each person in about two agencies).
        corruption: errors of every agency's records (as in :func:`extracts`), or a mapping
            name -> that for each agency.
        year: 0 for this year, t for t years later.
        evolution: yearly change rates; default ``Evolution()``.
        households: passed to :func:`population`.
        seed: the same arguments and seed give identical frames.

    Returns:
        ``(frames, truth)``: ``frames`` maps each agency name to its frame (``record_id`` like
        "AGENCY1-0000001", then the :func:`extracts` columns, row order random); ``truth`` has
        ``agency``, ``record_id``, ``entity_id`` for every record.
    """
    names = _agency_names(names_or_k)
    size_of = _agency_sizes(sizes, names)
    seed = check_seed(seed)
    year = _count(year, "year")
    ev = evolution if evolution is not None else Evolution()
    if not isinstance(ev, Evolution):
        raise TypeError(f"evolution must be an Evolution, got {type(ev).__name__}")
    if population_size is None:
        base = max(max(size_of), math.ceil(sum(size_of) / 2))
    else:
        base = _count(population_size, "population_size")
    too_big = [f"{n} ({s})" for n, s in zip(names, size_of, strict=True) if s > base]
    if too_big:
        raise ValueError(f"sizes: agencies larger than population_size={base}: {', '.join(too_big)}")
    if isinstance(corruption, Mapping):
        unknown = sorted(set(corruption) - set(names))
        if unknown or len(corruption) != len(names):
            raise ValueError(f"corruption: expected one entry for each agency {names}, "
                             f"got {list(corruption)}")
        specs = {n: as_corruption(corruption[n], f"corruption[{n!r}]") for n in names}
    else:
        spec = as_corruption(corruption)
        specs = dict.fromkeys(names, spec)

    people = universe(base, seed, households=bool(households), year=year, ev=ev)
    pool_sizes = [base + t * round(ev.arrive * base) for t in range(year + 1)]
    frames, truth = {}, []
    for name, size in zip(names, size_of, strict=True):
        ents, numbers = _members(size, pool_sizes, seed, name, ev)
        order = rng(seed, "order", name, year).permutation(len(ents))
        ents, numbers = ents[order], numbers[order]
        ids = _record_ids(_prefix(name), numbers, 7)
        frames[name] = _records(people, ents, ids, specs[name], key(seed, "agency", name),
                                version=_edits(ents, seed, name, year, ev))
        by_id = np.argsort(numbers, kind="stable")
        truth.append(pa.table({"agency": pa.array([name] * len(ids), pa.string()),
                               "record_id": ids.take(by_id),
                               "entity_id": ents[by_id].astype(np.int64)}).to_pandas())
    return frames, pd.concat(truth, ignore_index=True)


# ---------------------------------------------------------------- reference lists


def reference_names(kind: str = "first", *, sex: str | None = None, size: int | None = None,
                    seed: int = 0) -> pd.DataFrame:
    """A public-style name frequency list (an attacker's reference population).

    Args:
        kind: "first" or "last".
        sex: for first names, "F" or "M" for one sex; None for both (counts added).
        size: None for the full table :func:`population` samples from (counts of a nation-sized
            population); a number of people for the counts of a random sample of that size (a
            list from a different population with the same name distribution; zeros dropped).
        seed: the sample's seed (only used with ``size``).

    Returns:
        Columns ``name`` and ``count`` (int64), most frequent first (ties by name).
    """
    t = tables()
    if kind == "first":
        if sex not in (None, "F", "M"):
            raise ValueError(f"sex must be 'F', 'M' or None, got {sex!r}")
        parts = [t.first[s] for s in (("F", "M") if sex is None else (sex,))]
        names = np.concatenate([p.names for p in parts])
        counts = np.concatenate([p.counts for p in parts])
    elif kind == "last":
        if sex is not None:
            raise ValueError("sex applies only to kind='first' (surname frequencies are for both)")
        names, counts = t.last.names, t.last.counts
    else:
        raise ValueError(f"kind must be 'first' or 'last', got {kind!r}")
    df = pd.DataFrame({"name": names, "count": counts.astype(np.int64)})
    df = df.groupby("name", as_index=False, sort=False)["count"].sum()
    if size is not None:
        size = _count(size, "size")
        p = df["count"].to_numpy(dtype=np.float64)
        df["count"] = rng(check_seed(seed), "reference", kind, sex).multinomial(size, p / p.sum())
        df = df[df["count"] > 0]
    return df.sort_values(["count", "name"], ascending=[False, True], ignore_index=True)
