"""Hardening of Bloom-filter encodings against cryptanalysis: the ``hardening`` section of a schema.

Unhardened CLKs are re-identified by published attacks (frequency alignment, pattern mining of
co-occurring bit positions, similarity-graph matching; see :mod:`pprl.attack`, which measures them
on your own encodings). Each option below changes the encodings; what it defends and what it costs:

- ``xor_folds`` - defends against pattern mining: a bit is the XOR of two positions, so q-gram
  positions no longer co-occur cleanly. Costs: noisier similarity; half the length per fold.
- ``rule90`` - every bit becomes the XOR of its two neighbours (Schnell 2017). Defends against
  pattern mining by an attacker who does not undo it; but it is linear, so anyone who knows the
  schema undoes it (:func:`pprl.attack.attacker_view` does). Paired with ``blip`` it holds:
  undoing Rule 90 then smears every flipped bit over a run of bits. Costs: noisier similarity.
- ``blip`` - randomised response on every bit. Defends against frequency attacks (equal values no
  longer give equal filters). Alone it does not stop a pattern miner that allows for the noise.
  Costs: lower Dice of true matches.
- ``balance`` - the filter and its negation, bits permuted with a keyed permutation: every filter
  has half its bits set (Schnell 2016). Hides the number of set bits, but anyone can undo it (the
  bit pairs are complementary in every record). Costs: twice the length and comparison time.
- ``salt`` - tokens are hashed together with a stable attribute of the record (e.g. the year of
  birth), so one name sets different bits in different years. Defends against frequency and
  pattern attacks across groups. Costs: a record whose salt value differs (or is missing) on one
  side cannot match on the salted features.
- ``random_hashing`` - every position an independent keyed hash instead of double hashing.
  Defends against the attacks on double hashing (Kroll and Steinmetzer 2015). Costs nothing;
  pprl's native schemas always hash this way (keyed BLAKE2b), clkhash ``doubleHash`` features
  become ``blakeHash``.
- ``field_filters`` - per-field filters of one name are exactly what frequency and graph attacks
  feed on. ``"drop"`` costs field-level (Fellegi-Sunter) scoring.
- ``blocking`` - keyed blocking keys leak the frequencies of their blocks (an HMAC keeps equal
  values equal). ``"drop"`` costs the agency-side blocking keys.
- record level - ``encoding.type: "rbf"`` (Durham et al. 2014): record filters sampled from field
  filters by weight. Costs: weights matter more.

Order of the steps: tokens are salted before hashing, the record filter is built (CLK or RBF),
XOR-folded, then Rule 90, then BLIP, then balancing. Field filters get the same salting always,
and with ``field_filters: "harden"`` the same Rule 90, BLIP and balancing (keys of their own).

BLIP (Schnell and Borgs 2016, after Alaggan et al. 2012) flips every bit independently with
probability ``p``. That is randomised response on each bit: ``epsilon = ln((1 - p) / p)`` per bit.
A token sets up to ``k`` bits, so its presence is ``k * epsilon``-differentially private (group
privacy), and a whole record correspondingly more: the guarantee is about single bits, the
protection in practice is measured by the attack lab. The noise is keyed: the flips of a record
come from HMAC-SHA256 (key derived from the secret) of its id and its unhardened filter, expanded
by xoshiro256**. So re-encoding the same record (same id, same values) gives the same bits, while
two records with the same values but different ids get different noise (else equal values would
stay equal and the frequency attack would still work). Anyone holding the secret can recompute the
noise, as they can encode any guess anyway: BLIP protects against the linkage unit, not against
the agencies.

Blocking keys are HMACs of coarse parts (soundex of a surname + year of birth...): equal parts give
equal keys, so their frequencies can be aligned with public frequencies exactly like a frequency
attack on field filters. They reveal a block (a class of records), not a name, but keep that in
mind before shipping them (``blocking: "drop"``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..encodings import words_for
from . import _hmac, _kernels
from .features import Tokens

FIELD_FILTER_MODES = ("keep", "drop", "harden")
BLOCKING_MODES = ("keep", "drop")
SALT_ON_MISSING = ("error", "empty")
TOKEN_SALT_SEP = "\x1f"

#: Named profiles for :meth:`pprl.Schema.with_hardening`. ``"recommended"`` keeps every implemented
#: attack at <= 1 % re-identification at a cost of <= 1 F1 point on pprl.datasets extracts (see
#: ``benchmarks/bench_attacks.py``).
PROFILES: dict[str, dict] = {
    "none": {},
    "recommended": {
        "random_hashing": True,
        "rule90": True,
        "blip": {"epsilon": 3.0},
        "field_filters": "drop",
    },
}


@dataclass(frozen=True)
class Salt:
    """Tokens of ``features`` are hashed with the salt: ``transform`` of the value of ``feature``
    (e.g. the year of a date of birth). A record without a salt value raises (``on_missing:
    "error"``) or is salted with the empty text (``"empty"``)."""

    feature: str
    transform: str = "value"
    length: int | None = None
    features: tuple[str, ...] = ()
    on_missing: str = "error"


@dataclass(frozen=True)
class Hardening:
    """The parsed ``hardening`` section (all off by default)."""

    xor_folds: int = 0
    rule90: bool = False
    flip_probability: float = 0.0
    balance: bool = False
    salt: Salt | None = None
    random_hashing: bool = False
    field_filters: str = "keep"
    blocking: str = "keep"

    @property
    def epsilon(self) -> float | None:
        """BLIP's per-bit epsilon, ``ln((1 - p) / p)`` (None without BLIP)."""
        p = self.flip_probability
        return math.log((1 - p) / p) if p > 0 else None

    @property
    def transforms_filters(self) -> bool:
        """Whether any step after folding changes the record filter."""
        return self.rule90 or self.flip_probability > 0 or self.balance

    def output_nbits(self, nbits: int) -> int:
        """Length of the encodings for a record filter of ``nbits`` bits."""
        return 2 * nbits if self.balance else nbits


def flip_probability(epsilon: float) -> float:
    """The BLIP flip probability of a per-bit epsilon: ``1 / (1 + e**epsilon)``."""
    return 1.0 / (1.0 + math.exp(epsilon))


def profile_options(profile: str | Mapping) -> dict:
    """The hardening options of a named profile, or a copy of a dict of options."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown hardening profile {profile!r}; expected one of "
                             f"{', '.join(map(repr, PROFILES))} or a dict of options")
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in PROFILES[profile].items()}
    if not isinstance(profile, Mapping):
        raise TypeError(f"hardening must be a profile name or a dict of options, got "
                        f"{type(profile).__name__}")
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in profile.items()}


def parse(section: dict, problems: list[str]) -> tuple[Hardening, dict]:
    """A JSON-Schema-valid ``hardening`` section -> (Hardening, canonical section).

    The canonical section keeps the options given (nested defaults made explicit); ``xor_folds``
    is always there for native schemas (the caller adds it)."""
    canon: dict = {}
    kw: dict = {}
    for key in ("xor_folds", "rule90", "balance", "random_hashing", "field_filters", "blocking"):
        if key in section:
            canon[key] = kw[key] = section[key]
    if "blip" in section:
        blip = section["blip"]
        if ("epsilon" in blip) == ("flip_probability" in blip):
            problems.append("hardening.blip: give epsilon or flip_probability (one of them)")
        elif "epsilon" in blip:
            kw["flip_probability"] = flip_probability(float(blip["epsilon"]))
            canon["blip"] = {"epsilon": blip["epsilon"]}
        else:
            kw["flip_probability"] = float(blip["flip_probability"])
            canon["blip"] = {"flip_probability": blip["flip_probability"]}
    if "salt" in section:
        s = section["salt"]
        salt = Salt(feature=s["feature"], transform=s.get("transform", "value"),
                    length=s.get("length"), features=tuple(s.get("features", ())),
                    on_missing=s.get("on_missing", "error"))
        kw["salt"] = salt
        canon["salt"] = _salt_doc(salt)
    return Hardening(**kw), canon


def _salt_doc(salt: Salt) -> dict:
    doc = {"feature": salt.feature, "transform": salt.transform}
    if salt.length is not None:
        doc["length"] = salt.length
    if salt.features:
        doc["features"] = list(salt.features)
    doc["on_missing"] = salt.on_missing
    return doc


def resolve_salt(h: Hardening, canon: dict, hashed: list[str], problems: list[str]) -> Hardening:
    """Check the salt's features against the schema's hashed features; default: all but the salt
    feature. Returns the Hardening with the salted features filled in."""
    salt = h.salt
    if salt is None:
        return h
    label = "hardening.salt: "
    if salt.features:
        for name in salt.features:
            if name not in hashed:
                problems.append(f"{label}features: no hashed feature named {name!r}")
        if salt.feature in salt.features:
            problems.append(f"{label}features: {salt.feature!r} is the salt itself; a feature "
                            "cannot be salted with its own value")
        if len(set(salt.features)) != len(salt.features):
            problems.append(f"{label}features: a feature is listed twice")
        features = tuple(salt.features)
    else:
        features = tuple(n for n in hashed if n != salt.feature)
        if not features:
            problems.append(f"{label}there is no other feature to salt")
    canon["salt"]["features"] = list(features)
    return Hardening(**{**h.__dict__, "salt": Salt(**{**salt.__dict__, "features": features})})


# == the steps on packed filters ====================================================================
def keyed_permutation(key: bytes, n: int) -> np.ndarray:
    """A permutation of ``range(n)`` from the key (argsort of a SHAKE-256 stream of the key)."""
    stream = hashlib.shake_256(key + b"pprl/permutation" + n.to_bytes(8, "little")).digest(8 * n)
    return np.argsort(np.frombuffer(stream, dtype="<u8"), kind="stable").astype(np.int64)


def blip_seeds(key: bytes, ids: np.ndarray, bits: np.ndarray, nbits: int) -> np.ndarray:
    """Per record, 4 uint64 words of HMAC-SHA256(key, str(id) + 0x1f + filter bytes)."""
    n = bits.shape[0]
    if n == 0:
        return np.zeros((0, 4), np.uint64)
    nbytes = (nbits + 7) // 8
    rows = np.ascontiguousarray(bits).view(np.uint8)[:, :nbytes]
    texts = [str(i).encode("utf-8") for i in ids.tolist()]
    texts += [rows[r].tobytes() for r in range(n)]
    combos = np.stack([np.arange(n), np.arange(n, 2 * n)], axis=1)
    digests = _hmac.hmac_sha256_many(key, b"pprl/blip\x1f", 0x1F, texts, combos, 32)
    return np.ascontiguousarray(digests).view("<u8").astype(np.uint64).reshape(n, 4)


class Hardener:
    """Rule 90, BLIP and balancing of one kind of filter (the record filter, or one field filter),
    with keys derived from the secret by ``key_for(purpose)``. Keys never show in reprs."""

    def __init__(self, h: Hardening, nbits: int, key_for: Callable[[str], bytes]):
        self.h = h
        self.nbits = nbits
        self.out_nbits = h.output_nbits(nbits)
        p = h.flip_probability
        self._threshold = np.uint64(min(int(p * 2.0**64), 2**64 - 1)) if p > 0 else None
        self._blip_key = key_for("blip") if p > 0 else None
        self._perm = keyed_permutation(key_for("balance"), 2 * nbits) if h.balance else None

    def __repr__(self) -> str:
        return f"Hardener(nbits={self.nbits}, out_nbits={self.out_nbits})"

    @property
    def active(self) -> bool:
        return self.h.transforms_filters

    def apply(self, bits: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The hardened rows of ``bits`` (records ``ids``): Rule 90, BLIP, balancing."""
        if self.h.rule90:
            bits = _kernels.rule90_rows(bits, self.nbits)
        if self._threshold is not None:
            seeds = blip_seeds(self._blip_key, np.asarray(ids), bits, self.nbits)
            bits = _kernels.blip_rows(bits, self.nbits, seeds, self._threshold)
        if self._perm is not None:
            bits = _kernels.balance_rows(bits, self.nbits, self._perm)
        return bits

    def empty(self, n: int) -> np.ndarray:
        return np.zeros((n, words_for(self.out_nbits)), np.uint64)


# == salting ========================================================================================
def salt_text(value: str) -> str:
    """How a salt value joins a token: the hex of its UTF-8 bytes (encodable in any encoding)."""
    return value.encode("utf-8").hex()


def salt_tokens(tokens: Tokens, salts: list[str]) -> Tokens:
    """The tokens of each value with its salt appended (``token + 0x1f + hex(salt)``), re-interned:
    the same token with different salts becomes different tokens, hashed independently."""
    nv = len(tokens.val_off) - 1
    if nv == 0 or tokens.occ_tok.size == 0:
        return tokens
    uniq_salts, salt_id = np.unique(np.asarray(salts, dtype=object).astype(str),
                                    return_inverse=True)
    owner = np.repeat(np.arange(nv), np.diff(tokens.val_off))
    ns = len(uniq_salts)
    key = tokens.occ_tok.astype(np.int64) * ns + salt_id.reshape(-1)[owner]
    uniq, inverse = np.unique(key, return_inverse=True)
    hexes = [salt_text(s) for s in uniq_salts.tolist()]
    strings = [tokens.strings[u // ns] + TOKEN_SALT_SEP + hexes[u % ns] for u in uniq.tolist()]
    return Tokens(tokens.val_off, inverse.reshape(-1).astype(np.int32), strings)
