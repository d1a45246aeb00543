"""Record corruption: the errors and life changes that make two records of one person differ.

Every decision is a keyed uniform (see ``_random.uniform``) of the record's key, so the bulk is
vectorised (masks over all records) and the string edits loop only over the affected records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from ._people import MOVE_DRAWS, People, Probabilities, ages, check_probability, date_text, moved_addresses
from ._people import new_surnames as _married_names
from ._random import uniform
from ._tables import tables


@dataclass(frozen=True)
class Corruption(Probabilities):
    """Per-error probabilities applied independently to each record (and each field where stated).

    Attributes:
        typo: per first name, last name and address: one keyboard slip (substitute a neighbouring
            key, delete, insert, or transpose two letters).
        ocr: per first name, last name and address: one OCR confusion (O/0, I/1, L/1, S/5, B/8,
            Z/2, G/6, RN/M, CL/D, VV/W, ...).
        phonetic: per first and last name: one sound-alike spelling (PH/F, IE/Y, C/K, S/Z, double
            letters, SON/SEN, ...).
        nickname: first names that have a nickname (WILLIAM -> BILL, ELIZABETH -> LIZ, ...).
        missing: per field (first name, last name, dob, sex, address, city, zip): left blank.
        swap_day_month: dob recorded with day and month swapped (only where that gives a valid,
            different date: days 1-12).
        dob_error: dob with the year off by one, or a wrong day, or a wrong month.
        sex_error: sex recorded as the other one.
        name_swap: first and last name swapped.
        last_name_change: women aged 18+ (on 1 September 2025) recorded with a new surname
            (marriage; a quarter OLD-NEW).
        move: a different address, city and zip (the person moved).
        zip_error: one of the last two zip digits wrong (address unchanged).
    """

    typo: float = 0.0
    ocr: float = 0.0
    phonetic: float = 0.0
    nickname: float = 0.0
    missing: float = 0.0
    swap_day_month: float = 0.0
    dob_error: float = 0.0
    sex_error: float = 0.0
    name_swap: float = 0.0
    last_name_change: float = 0.0
    move: float = 0.0
    zip_error: float = 0.0

    @classmethod
    def preset(cls, name: str) -> Corruption:
        """A preset: "none", "low", "moderate" or "high" (the "high" rates times 0, 0.2, 0.5, 1)."""
        if name not in PRESETS:
            raise ValueError(f"unknown corruption preset {name!r}; expected one of "
                             f"{', '.join(map(repr, PRESETS))}, a number in [0, 1] or a Corruption")
        return _HIGH.scaled(PRESETS[name])

    def scaled(self, factor: float) -> Corruption:
        """Every probability multiplied by ``factor`` (>= 0), capped at 1."""
        if not float(factor) >= 0.0:
            raise ValueError(f"scale factor must be >= 0, got {factor}")
        return Corruption(**{f.name: min(1.0, getattr(self, f.name) * factor)
                             for f in fields(self)})


_HIGH = Corruption(typo=0.12, ocr=0.03, phonetic=0.06, nickname=0.15, missing=0.06,
                   swap_day_month=0.08, dob_error=0.04, sex_error=0.01, name_swap=0.015,
                   last_name_change=0.15, move=0.20, zip_error=0.04)
PRESETS = {"none": 0.0, "low": 0.2, "moderate": 0.5, "high": 1.0}


def as_corruption(spec: object, name: str = "corruption") -> Corruption:
    """A Corruption from a preset name, a level in [0, 1] (a fraction of "high") or a Corruption."""
    if isinstance(spec, Corruption):
        return spec
    if isinstance(spec, str):
        return Corruption.preset(spec)
    check_probability(spec, name)
    return _HIGH.scaled(float(spec))  # type: ignore[arg-type]


# ---------------------------------------------------------------- string edits (one value each)

_KEYBOARD = ["1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"]


def _keyboard_neighbours() -> dict[str, str]:
    where = {c: (r, i) for r, row in enumerate(_KEYBOARD) for i, c in enumerate(row)}
    out = {}
    for c, (r, i) in where.items():
        near = [d for d, (r2, i2) in where.items()
                if d != c and abs(r2 - r) <= 1 and abs(i2 + 0.5 * r2 - i - 0.5 * r) <= 1.0]
        out[c] = "".join(sorted(near))
    out[" "] = "CVBNM"
    return out


_NEAR = _keyboard_neighbours()
_ANY = "ETAOINSHRDLU"


def _near(c: str, u: float) -> str:
    near = _NEAR.get(c, _ANY)
    return near[min(int(u * len(near)), len(near) - 1)]  # u may round up to 1.0 after rescaling


def typo(s: str, u_op: float, u_pos: float, u_ch: float) -> str:
    """One keyboard slip in ``s``: substitute, delete, insert or transpose (always a change)."""
    n = len(s)
    op = int(u_op * 4)
    if n < 3 and op in (1, 3):  # too short to lose a letter or swap safely
        op = 0
    pos = min(int(u_pos * n), n - 1)
    if op == 3:
        pos = min(int(u_pos * (n - 1)), n - 2)
        if s[pos] != s[pos + 1]:
            return s[:pos] + s[pos + 1] + s[pos] + s[pos + 2:]
        op = 0
    if op == 1:
        return s[:pos] + s[pos + 1:]
    if op == 2:
        ins = s[pos] if u_ch < 0.3 else _near(s[pos], (u_ch - 0.3) / 0.7)
        return s[:pos + 1] + ins + s[pos + 1:]
    return s[:pos] + _near(s[pos], u_ch) + s[pos + 1:]


class _Rules:
    """Text substitutions ``a -> b``; a trailing ``$`` on ``a`` anchors it at the end."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.rules = [(a.rstrip("$"), b, a.endswith("$")) for a, b in pairs]
        self.by_char: dict[str, list[int]] = {}  # rules whose pattern starts with each character
        for i, (a, _, _) in enumerate(self.rules):
            self.by_char.setdefault(a[0], []).append(i)

    def apply(self, s: str, u: float) -> str | None:
        """``s`` with one rule applied once, or None if none applies.

        ``u`` picks a rule uniformly among those that apply, and its fractional remainder picks
        the occurrence.
        """
        fits = sorted(i for c in dict.fromkeys(s) for i in self.by_char.get(c, ())
                      if (s.endswith(self.rules[i][0]) if self.rules[i][2]
                          else self.rules[i][0] in s))
        if not fits:
            return None
        x = u * len(fits)
        a, b, at_end = self.rules[fits[min(int(x), len(fits) - 1)]]
        if at_end:
            return s[: len(s) - len(a)] + b
        starts, i = [], s.find(a)
        while i >= 0:
            starts.append(i)
            i = s.find(a, i + 1)
        i = starts[min(int((x % 1.0) * len(starts)), len(starts) - 1)]
        return s[:i] + b + s[i + len(a):]


def _both(*pairs: str) -> list[tuple[str, str]]:
    out = []
    for p in pairs:
        a, b = p.split("/")
        out += [(a, b), (b, a)]
    return out


_OCR = _Rules([
    *_both("RN/M", "CL/D", "VV/W", "O/0", "I/1", "S/5", "B/8", "Z/2", "G/6", "U/V"),
    ("L", "1"), ("E", "F"), ("Q", "O"), ("H", "N"),
])
_PHONETIC = _Rules([
    ("SCH", "SH"), ("IE$", "Y"), ("EY$", "Y"), ("Y$", "IE"), ("SON$", "SEN"), ("SEN$", "SON"),
    ("CK", "K"), ("QU", "KW"), ("KS", "X"), ("X", "KS"), ("TZ", "TS"), ("TH", "T"),
    *_both("PH/F", "EE/EA", "AI/AY", "OU/OW", "EI/IE", "ER/AR", "LL/L", "NN/N", "TT/T", "SS/S",
           "RR/R", "MM/M", "C/K", "S/Z", "Y/I", "J/G"),
])


def _sound_alike(s: str, u: float) -> str:
    out = _PHONETIC.apply(s, u)
    if out is not None and out != s:
        return out
    return s[:-1] if s.endswith("E") and len(s) > 2 else s + "E"


def _ocr(s: str, u_rule: float, u_pos: float) -> str:
    out = _OCR.apply(s, u_rule)
    return out if out is not None else typo(s, 0.0, u_pos, u_rule)


def _nickname(s: str, u: float) -> str:
    nicks = tables().nicknames.get(s)
    return nicks[min(int(u * len(nicks)), len(nicks) - 1)] if nicks else s


def _zip_slip(z: str, u_pos: float, u_digit: float) -> str:
    pos = 3 + int(u_pos * 2)
    d = (int(z[pos]) + 1 + int(u_digit * 9)) % 10
    return z[:pos] + str(d) + z[pos + 1:]


# ---------------------------------------------------------------- dates


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    y = month_start.astype("datetime64[Y]").astype(np.int64) + 1970
    m = month_start.astype(np.int64) % 12 + 1
    return y, m, (d - month_start).astype(np.int64) + 1


def _days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970 of y-m-d; a day past the month's end is clipped to its last day."""
    start = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    length = ((start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")).astype(np.int64)
    return start.astype("datetime64[D]").astype(np.int64) + np.minimum(d, length) - 1


def _swap_day_month(days: np.ndarray) -> np.ndarray:
    """Day and month swapped where that is a valid, different date (day 1-12, day != month)."""
    y, m, d = _ymd(days)
    ok = (d <= 12) & (d != m)
    out = days.copy()
    out[ok] = _days(y[ok], d[ok], m[ok])
    return out


def _dob_slip(days: np.ndarray, u_kind: np.ndarray, u_val: np.ndarray) -> np.ndarray:
    """Year +-1 (half), a different day (a quarter) or a different month (a quarter)."""
    y, m, d = _ymd(days)
    year = u_kind < 0.5
    day = (u_kind >= 0.5) & (u_kind < 0.75)
    month = u_kind >= 0.75
    y = np.where(year, y + np.where(u_val < 0.5, -1, 1), y)
    d = np.where(day, (d - 1 + 1 + (u_val * 27).astype(np.int64)) % 28 + 1, d)
    m = np.where(month, (m - 1 + 1 + (u_val * 11).astype(np.int64)) % 12 + 1, m)
    return _days(y, m, d)


# ---------------------------------------------------------------- applying a Corruption

FIELDS = ("first_name", "last_name", "dob", "sex", "address", "city", "zip")
_STEPS = ("last_name_change", "move", "nickname", "phonetic_first", "phonetic_last", "typo_first",
          "typo_last", "typo_address", "ocr_first", "ocr_last", "ocr_address", "zip_error",
          "swap_day_month", "dob_error", "sex_error", "name_swap",
          *(f"missing_{f}" for f in FIELDS))
_STREAM = {s: 16 * i for i, s in enumerate(_STEPS)}


class _Draws:
    """Keyed uniforms of one batch of records: ``hit`` masks and extra draws for the hit subset."""

    def __init__(self, k: int, ids: np.ndarray):
        self.k, self.ids = k, ids

    def hit(self, step: str, p: float) -> np.ndarray:
        """Indexes of the records where ``step`` happens (probability ``p``)."""
        if p <= 0.0:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(uniform(self.k, self.ids, _STREAM[step]) < p)

    def extra(self, step: str, idx: np.ndarray, j: int) -> np.ndarray:
        return uniform(self.k, self.ids[idx], _STREAM[step] + j)


def _edit(values: np.ndarray, idx: np.ndarray, fn: Callable[..., str], *u: np.ndarray) -> None:
    """values[i] = fn(values[i], *u_i) for the hit records whose value is present."""
    if len(idx) == 0:
        return
    old = values[idx].tolist()
    values[idx] = [fn(v, *args) if v else v
                   for v, *args in zip(old, *(x.tolist() for x in u), strict=True)]


def corrupt(p: People, c: Corruption, k: int, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Observed record columns (object arrays; None = missing) for people ``p``.

    ``k`` keys the record source (an extract, an agency) and ``ids`` are per-record uint64 keys, so
    the same (k, id) always gets the same errors. The age rule of name changes uses year 0's date
    in every year, so a record does not change just because its person came of age.
    """
    r = _Draws(k, ids)
    first, last, address = p.first_name.copy(), p.last_name.copy(), p.address.copy()
    city, zip_, sex = p.city.copy(), p.zip.copy(), p.sex.copy()

    i = r.hit("last_name_change", c.last_name_change)
    i = i[(p.sex[i] == "F") & (ages(p.dob[i], 0) >= 18)]
    last[i] = _married_names(last[i], r.extra("last_name_change", i, 1),
                             r.extra("last_name_change", i, 2))
    i = r.hit("move", c.move)
    if len(i):
        u = np.column_stack([r.extra("move", i, j + 1) for j in range(MOVE_DRAWS)])
        address[i], city[i], zip_[i] = moved_addresses(u, city[i])

    i = r.hit("nickname", c.nickname)
    _edit(first, i, _nickname, r.extra("nickname", i, 1))
    for values, tag in ((first, "first"), (last, "last")):
        s = f"phonetic_{tag}"
        i = r.hit(s, c.phonetic)
        _edit(values, i, _sound_alike, r.extra(s, i, 1))
    for values, tag in ((first, "first"), (last, "last"), (address, "address")):
        s = f"typo_{tag}"
        i = r.hit(s, c.typo)
        _edit(values, i, typo, *(r.extra(s, i, j) for j in (1, 2, 3)))
        s = f"ocr_{tag}"
        i = r.hit(s, c.ocr)
        _edit(values, i, _ocr, *(r.extra(s, i, j) for j in (1, 2)))
    i = r.hit("zip_error", c.zip_error)
    _edit(zip_, i, _zip_slip, r.extra("zip_error", i, 1), r.extra("zip_error", i, 2))

    dob = p.dob
    i = r.hit("swap_day_month", c.swap_day_month)
    if len(i):
        dob = dob.copy()
        dob[i] = _swap_day_month(dob[i])
    i = r.hit("dob_error", c.dob_error)
    if len(i):
        dob = dob.copy()
        dob[i] = _dob_slip(dob[i], r.extra("dob_error", i, 1), r.extra("dob_error", i, 2))
    i = r.hit("sex_error", c.sex_error)
    sex[i] = np.where(sex[i] == "F", "M", "F")
    i = r.hit("name_swap", c.name_swap)
    first[i], last[i] = last[i], first[i]

    out = {"first_name": first, "last_name": last, "dob": date_text(dob), "sex": sex,
           "address": address, "city": city, "zip": zip_}
    for f in FIELDS:
        out[f][r.hit(f"missing_{f}", c.missing)] = None
    return out
