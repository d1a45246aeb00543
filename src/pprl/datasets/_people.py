"""True people: names, dates of birth, sex, addresses, households, and how they change over years."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa

from ._random import cdf_of, key, pick, rng, uniform
from ._tables import tables

AS_OF_YEAR = 2025
"""Year 0 is observed on 1 September of this year; year ``t`` on 1 September of ``AS_OF_YEAR + t``."""

DAYS_PER_YEAR = 365.2425
ADDRESS_DRAWS = 6  # uniforms per address: number, street, suffix, apartment, city, zip
MOVE_DRAWS = ADDRESS_DRAWS + 1  # and one more for a move: within the same city or not
LOCAL_MOVE_P = 0.5

# Household sizes 1..7 (US-like) and the chance a household of size 2 / 3+ has a couple at its head.
_HH_SIZE_P = np.array([0.28, 0.34, 0.16, 0.13, 0.06, 0.02, 0.01])
_COUPLE_P = (0.6, 0.8)
_PARTNER_OWN_SURNAME = 0.2
_TWIN_P = 0.03
# Without households: ages 0..84, flat to 39 (a cradle-to-career system), thinner after.
_AGE_W = np.concatenate([np.ones(40), np.linspace(0.5, 0.1, 45)])
_APARTMENT_P = 0.12


def as_of_days(year: int) -> int:
    """The observation date of ``year`` as days since 1970-01-01."""
    return int(np.datetime64(f"{AS_OF_YEAR + year}-09-01", "D").astype(np.int64))


@dataclass(frozen=True)
class People:
    """Column arrays of true people (names etc. are object arrays of str; dob is days since 1970)."""

    entity_id: np.ndarray
    household_id: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    dob: np.ndarray
    sex: np.ndarray
    address: np.ndarray
    city: np.ndarray
    zip: np.ndarray

    def __len__(self) -> int:
        return len(self.entity_id)

    def take(self, idx: np.ndarray) -> People:
        return People(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def concat(self, other: People) -> People:
        return People(**{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                         for f in fields(self)})

    def frame(self) -> pd.DataFrame:
        """The public population frame (dob as YYYY-MM-DD text)."""
        return text_frame({
            "entity_id": self.entity_id, "first_name": self.first_name,
            "last_name": self.last_name, "dob": date_text(self.dob), "sex": self.sex,
            "address": self.address, "city": self.city, "zip": self.zip,
            "household_id": self.household_id,
        })


def text_frame(columns: dict[str, np.ndarray | pa.Array]) -> pd.DataFrame:
    """A DataFrame through Arrow (object arrays become text columns, None -> missing; fast)."""
    def arrow(v):
        is_text = isinstance(v, np.ndarray) and v.dtype == np.dtype(object)
        return pa.array(v, type=pa.string()) if is_text else v

    return pa.table({k: arrow(v) for k, v in columns.items()}).to_pandas()


def date_text(days: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD strings (object array) for days since 1970, through a lookup table of the range."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return np.empty(0, dtype=object)
    lo, hi = int(days.min()), int(days.max())
    table = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]")).astype(object)
    return table[days - lo]


def _strings(values: np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


_NUMBERS = _strings(np.arange(10_000).astype(str))


def addresses(u: np.ndarray, city_idx: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(address, city, zip) object arrays from uniforms ``u`` of shape (m, ADDRESS_DRAWS).

    ``city_idx`` (indexes into the city table) fixes the cities instead of drawing them.
    """
    t = tables()
    number = np.minimum((10.0 ** (u[:, 0] * 3.9)).astype(np.int64), 9999)
    street = t.streets.names[pick(u[:, 1], t.streets.cdf)]
    suffix = t.suffixes.names[pick(u[:, 2], t.suffixes.cdf)]
    apt = u[:, 3] < _APARTMENT_P
    apt_no = (u[:, 3] / _APARTMENT_P * 40).astype(np.int64) + 1
    addr = [f"{n} {s} {x}" for n, s, x in zip(_NUMBERS[number], street, suffix, strict=True)]
    address = _strings(addr)
    for i, a in zip(np.flatnonzero(apt).tolist(), apt_no[apt].tolist(), strict=True):
        address[i] = f"{address[i]} APT {a}"
    if city_idx is None:
        city_idx = pick(u[:, 4], t.cities.cdf)
    sizes = np.array([len(z) for z in t.city_zips])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    all_zips = np.concatenate(t.city_zips)
    zip_idx = offsets[city_idx] + np.minimum((u[:, 5] * sizes[city_idx]).astype(np.int64),
                                             sizes[city_idx] - 1)
    return address, t.cities.names[city_idx], all_zips[zip_idx]


@cache
def _city_number() -> dict[str, int]:
    return {c: i for i, c in enumerate(tables().cities.names)}


def moved_addresses(u: np.ndarray, old_city: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New (address, city, zip) after a move; half the moves stay in the same city.

    ``u`` has shape (m, MOVE_DRAWS); ``old_city`` holds the current city names.
    """
    number = _city_number()
    drawn = pick(u[:, 4], tables().cities.cdf)
    old = np.array([number[c] for c in old_city], dtype=np.int64)
    return addresses(u[:, :ADDRESS_DRAWS], np.where(u[:, -1] < LOCAL_MOVE_P, old, drawn))


def first_names(u: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """First names by sex from uniforms (inverse CDF of each sex's frequency table)."""
    t = tables()
    female = sex == "F"
    return np.where(female, t.first["F"].names[pick(u, t.first["F"].cdf)],
                    t.first["M"].names[pick(u, t.first["M"].cdf)])


def last_names(u: np.ndarray) -> np.ndarray:
    t = tables()
    return t.last.names[pick(u, t.last.cdf)]


@dataclass(frozen=True)
class _Structure:
    """Who lives with whom: household index, position in it, age, sex, surname source."""

    household: np.ndarray  # 0..H-1 per person
    n_households: int
    age: np.ndarray
    sex: np.ndarray
    own_surname: np.ndarray  # True: draws a surname of their own instead of the household's
    twin: np.ndarray  # True: born the same day as the previous person


def _household_sizes(n: int, g: np.random.Generator) -> np.ndarray:
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < n:
        sizes = np.concatenate([sizes, g.choice(7, size=n // 2 + 16, p=_HH_SIZE_P) + 1])
    k = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    sizes = sizes[:k]
    sizes[-1] -= sizes.sum() - n
    return sizes


def _households(n: int, g: np.random.Generator) -> _Structure:
    sizes = _household_sizes(n, g)
    h = len(sizes)
    hh = np.repeat(np.arange(h), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    couple = (sizes >= 2) & (g.random(h) < np.where(sizes == 2, *_COUPLE_P))
    partner = (pos == 1) & couple[hh]
    child = (pos >= 1) & ~partner
    head_age = np.minimum(18 + g.gamma(2.2, 9.0, h), 95).astype(np.int64)
    head_female = g.random(h) < 0.5
    u = g.random((n, 4))
    hage = head_age[hh]
    age = hage.copy()
    age[partner] = np.clip(hage[partner] + np.rint(g.normal(0, 4, partner.sum())), 18, 99)
    span = np.minimum(hage - 18, 30) + 1
    age[child] = (u[child, 0] * span[child]).astype(np.int64)
    female = head_female[hh].copy()
    female[partner] = ~head_female[hh][partner] ^ (u[partner, 1] < 0.03)
    female[child] = u[child, 1] < 0.49
    own = partner & (u[:, 2] < _PARTNER_OWN_SURNAME)
    prev_child = np.concatenate([[False], child[:-1]])
    twin = child & prev_child & (u[:, 3] < _TWIN_P)
    age[twin] = age[np.flatnonzero(twin) - 1]
    return _Structure(hh, h, age, np.where(female, "F", "M").astype(object), own, twin)


def _singles(n: int, g: np.random.Generator) -> _Structure:
    age = pick(g.random(n), cdf_of(_AGE_W)).astype(np.int64)
    sex = np.where(g.random(n) < 0.5, "F", "M").astype(object)
    return _Structure(np.arange(n), n, age, sex, np.zeros(n, bool), np.zeros(n, bool))


def _dedupe_sibling_names(names: np.ndarray, s: _Structure, g: np.random.Generator) -> None:
    """Redraw a first name equal to the previous household member's (parents rarely do that)."""
    for _ in range(3):
        same = np.concatenate([[False], (names[1:] == names[:-1])
                               & (s.household[1:] == s.household[:-1])])
        if not same.any():
            return
        names[same] = first_names(g.random(int(same.sum())), s.sex[same])


def make_people(n: int, seed: int, tag: object, *, households: bool, year: int = 0,
                id_offset: int = 0, household_offset: int = 0) -> People:
    """``n`` new people observed in ``year``, from the seed's stream named ``tag``."""
    g = rng(seed, "people", tag)
    s = _households(n, g) if households and n else _singles(n, g)
    fn = first_names(g.random(n), s.sex)
    _dedupe_sibling_names(fn, s, g)
    ln = last_names(g.random(s.n_households))[s.household]
    ln[s.own_surname] = last_names(g.random(int(s.own_surname.sum())))
    dob = as_of_days(year) - np.floor((s.age + g.random(n)) * DAYS_PER_YEAR).astype(np.int64) - 1
    twins = np.flatnonzero(s.twin)
    dob[twins] = dob[twins - 1]
    address, city, zip_ = addresses(g.random((s.n_households, ADDRESS_DRAWS)))
    return People(
        entity_id=np.arange(id_offset, id_offset + n, dtype=np.int64),
        household_id=s.household.astype(np.int64) + household_offset,
        first_name=fn, last_name=ln, dob=dob, sex=s.sex,
        address=address[s.household], city=city[s.household], zip=zip_[s.household],
    )


def check_probability(value: object, name: str) -> None:
    """A ValueError/TypeError naming ``name`` unless ``value`` is a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


class Probabilities:
    """Base of the dataclasses whose fields are all probabilities: each is checked on creation,
    a bad one named ``Class.field``."""

    def __post_init__(self) -> None:
        for f in fields(self):
            check_probability(getattr(self, f.name), f"{type(self).__name__}.{f.name}")


@dataclass(frozen=True)
class Evolution(Probabilities):
    """Yearly change rates used for "next year's" data (``agencies(..., year=t)``).

    Attributes:
        leave: chance a member leaves an agency in a year (graduates, moves away, exits a program).
        arrive: new people per year (births and in-movers, whole households) as a share of the
            starting population; agencies refill to their size from everyone not yet in them.
        move: chance a household moves in a year (new address, city and zip for all members).
        marry: chance a woman aged 18-45 takes a new surname in a year (a quarter hyphenated).
        edit: chance an agency re-keys a record in a year (its entry errors are drawn afresh).
    """

    leave: float = 0.10
    arrive: float = 0.03
    move: float = 0.08
    marry: float = 0.03
    edit: float = 0.02



HYPHENATED_P = 0.25


def new_surnames(old: np.ndarray, u_name: np.ndarray, u_hyphen: np.ndarray) -> np.ndarray:
    """A married surname for each old one: a new name, a quarter of them hyphenated OLD-NEW."""
    new = last_names(u_name)
    hyphen = (u_hyphen < HYPHENATED_P) & (old != new)
    new[hyphen] = [f"{o}-{n}" for o, n in zip(old[hyphen], new[hyphen], strict=True)]
    return new


def ages(dob: np.ndarray, year: int) -> np.ndarray:
    """Whole years of age on the observation date of ``year``."""
    return np.floor((as_of_days(year) - dob) / DAYS_PER_YEAR).astype(np.int64)


def evolve(p: People, seed: int, year: int, ev: Evolution) -> People:
    """The same people one year later (``year`` >= 1): some households move, some women marry."""
    mk = key(seed, "move", year)
    moved_h = uniform(mk, p.household_id, 0) < ev.move
    moved = np.flatnonzero(moved_h)
    address, city, zip_ = p.address.copy(), p.city.copy(), p.zip.copy()
    if len(moved):
        u = np.column_stack([uniform(mk, p.household_id[moved], j + 1) for j in range(MOVE_DRAWS)])
        address[moved], city[moved], zip_[moved] = moved_addresses(u, city[moved])
    # members of one household draw the same uniforms, so they land at the same new address
    last = p.last_name.copy()
    wk = key(seed, "marry", year)
    a = ages(p.dob, year)
    wed = np.flatnonzero((p.sex == "F") & (a >= 18) & (a <= 45) & (uniform(wk, p.entity_id, 0)
                                                                    < ev.marry))
    if len(wed):
        ids = p.entity_id[wed]
        last[wed] = new_surnames(last[wed], uniform(wk, ids, 1), uniform(wk, ids, 2))
    return replace(p, address=address, city=city, zip=zip_, last_name=last)


def universe(size: int, seed: int, *, households: bool, year: int = 0,
             ev: Evolution | None = None) -> People:
    """Everyone alive in the system in ``year``: the starting ``size`` people, evolved, plus arrivals.

    Year 0 is ``make_people(size, seed, "base")``; each later year evolves everyone, then appends
    ``round(ev.arrive * size)`` newcomers (new entity ids after all earlier ones).
    """
    ev = ev or Evolution()
    p = make_people(size, seed, "base", households=households)
    for t in range(1, year + 1):
        p = evolve(p, seed, t, ev)
        n_new = round(ev.arrive * size)
        if n_new:
            hh0 = int(p.household_id.max()) + 1 if len(p) else 0
            p = p.concat(make_people(n_new, seed, ("arrivals", t), households=households, year=t,
                                     id_offset=len(p), household_offset=hh0))
    return p
