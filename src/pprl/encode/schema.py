"""`pprl.Schema`: the linkage schema, read from a pprl schema file or a clkhash v3 linkage schema.

Both kinds are checked against a JSON Schema shipped with the package
(``schemas/pprl-linkage-schema-v1.json``, ``schemas/clkhash-linkage-schema-v3.json``) and then for the
things JSON Schema cannot say (regular expressions, date formats, references between sections).
Every problem is collected and reported at once, each with the feature it belongs to.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from .._log import logger
from ..errors import SchemaError
from ..io import atomic_path
from . import features as F
from . import hardening as H
from .hashing import is_power_of_two
from .normalize import Normalizer, expand

NATIVE_FORMAT = "pprl-linkage-schema"
NATIVE_VERSION = 1
CLKHASH_DEFAULT_KEY_SIZE = 64
_HASH_BYTES = {"SHA256": 32, "SHA512": 64}
_MAX_UNFOLDED_BITS = 1 << 24
DEFAULT_TOKENS = {
    "string": {"type": "ngram", "n": 2, "positional": False},
    "enum": {"type": "exact"},
    "integer": {"type": "exact"},
    "date": {"type": "date_parts", "parts": ["year", "month", "day"]},
}
TOKEN_DEFAULTS: dict[str, dict] = {
    "ngram": {"n": 2, "positional": False},
    "exact": {},
    "numeric": {"fractional_precision": 0},
    "date_parts": {"parts": ["year", "month", "day"]},
}
_FORMAT_KEYS = {
    "string": {"pattern", "min_length", "max_length"},
    "date": {"date_format"},
    "integer": {"minimum", "maximum"},
    "enum": {"values"},
}
_STRING_TRANSFORMS = {"value", "initial", "prefix", "soundex", "metaphone"}
_DATE_TRANSFORMS = {"value", "year", "month", "day"}


@functools.cache
def _meta_schema(name: str) -> jsonschema.Draft7Validator:
    text = resources.files("pprl.encode").joinpath(f"schemas/{name}").read_text("utf-8")
    return jsonschema.Draft7Validator(json.loads(text))


@dataclass(frozen=True)
class BlockingPart:
    feature: str
    transform: str = "value"
    length: int | None = None


@dataclass(frozen=True)
class BlockingKey:
    """A keyed blocking key: the parts of a record joined, then HMAC-ed (see :mod:`.blocking`)."""

    name: str
    parts: tuple[BlockingPart, ...]


@dataclass(frozen=True)
class Kdf:
    """How per-feature keys are derived from the secret (HKDF)."""

    hash: str = "SHA256"
    salt: bytes | None = None
    info: bytes | None = None
    key_size: int = CLKHASH_DEFAULT_KEY_SIZE

    @property
    def hash_name(self) -> str:
        return self.hash.lower()


class Schema:
    """A validated linkage schema.

    Build one with :meth:`load` (a file), :meth:`from_dict`, or :func:`pprl.encode.default_schema`.
    ``kind`` is ``"pprl"`` (native) or ``"clkhash"`` (a clkhash v3 linkage schema, encoded exactly
    as clkhash 0.18 does).
    """

    def __init__(self, *, kind: str, doc: dict, features: tuple[F.Feature, ...], nbits: int,
                 xor_folds: int, kdf: Kdf, encoding_type: str = "clk",
                 blocking: tuple[BlockingKey, ...] = (), source: str | None = None,
                 hardening: H.Hardening | None = None):
        self.kind = kind
        self._doc = doc
        self.features = features
        self.hardening = hardening or H.Hardening(xor_folds=xor_folds)
        self.clk_nbits = nbits
        self.nbits = self.hardening.output_nbits(nbits)
        self.xor_folds = xor_folds
        self.kdf = kdf
        self.encoding_type = encoding_type
        self.blocking = blocking
        self.source = source
        self.fingerprint = _fingerprint(kind, doc)

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> Schema:
        """Read a pprl schema file or a clkhash v3 linkage schema (detected from its content)."""
        p = Path(path)
        if not p.is_file():
            raise SchemaError(f"schema file not found: {p}")
        try:
            doc = json.loads(p.read_text("utf-8"))
        except UnicodeDecodeError:
            raise SchemaError(f"{p}: schema is not UTF-8 text") from None
        except json.JSONDecodeError as err:
            raise SchemaError(
                f"{p}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
            ) from None
        return cls.from_dict(doc, source=str(p))

    @classmethod
    def from_dict(cls, doc: dict, source: str | None = None) -> Schema:
        """Build a schema from its JSON object (pprl native or clkhash v3)."""
        where = f"{source}: " if source else ""
        if not isinstance(doc, dict):
            raise SchemaError(f"{where}a linkage schema is a JSON object, got {type(doc).__name__}")
        doc = copy.deepcopy(doc)
        if doc.get("format") == NATIVE_FORMAT:
            parse = _parse_native
        elif "clkConfig" in doc or ("version" in doc and "features" in doc and "format" not in doc):
            parse = _parse_clkhash
        else:
            raise SchemaError(
                f"{where}not a linkage schema: expected a pprl schema "
                f'("format": "{NATIVE_FORMAT}") or a clkhash v3 linkage schema ("clkConfig")'
            )
        try:
            return parse(doc, source)
        except SchemaError as err:
            if not source:
                raise
            raise SchemaError(f"{source}: {err}", [f"{source}: {e}" for e in err.errors]) from None

    # -- views ------------------------------------------------------------------------------------
    @property
    def hashed_features(self) -> tuple[F.Feature, ...]:
        return tuple(f for f in self.features if not f.ignored)

    @property
    def columns(self) -> list[str]:
        """The DataFrame columns the schema reads (its non-ignored features, in order)."""
        return [f.name for f in self.hashed_features]

    @property
    def weights(self) -> dict[str, float]:
        """Feature weights (1.0 for clkhash schemas), e.g. for per-field scoring."""
        return {f.name: f.weight for f in self.hashed_features}

    @property
    def field_filters(self) -> dict[str, int]:
        """Features with a field-level Bloom filter, and its length in bits."""
        return {f.name: f.field_filter.nbits for f in self.hashed_features if f.field_filter}

    @property
    def unfolded_nbits(self) -> int:
        """Length of the record filter before XOR folding."""
        return self.clk_nbits << self.xor_folds

    def with_hardening(self, profile: str | dict = "recommended") -> Schema:
        """A copy of this schema with the given hardening (a new fingerprint).

        ``profile`` is a name (``"recommended"``, ``"none"``) or a dict of options, the keys of
        the schema's ``hardening`` section (``xor_folds``, ``rule90``, ``blip``, ``balance``,
        ``salt``, ``random_hashing``, ``field_filters``, ``blocking``; see
        :mod:`pprl.encode.hardening`) plus ``record_level`` (True: ``encoding.type`` "rbf").
        The given hardening replaces whatever hardening the schema had. For a clkhash schema the
        options go into a top-level ``hardening`` key (a pprl extension: such encodings are no
        longer clkhash's) and XOR folding stays ``clkConfig.xor_folds``.
        """
        options = H.profile_options(profile)
        record_level = options.pop("record_level", None)
        doc = self.to_dict()
        if self.kind == "pprl":
            doc["hardening"] = options
            if record_level is not None:
                doc["encoding"]["type"] = "rbf" if record_level else "clk"
        else:
            if record_level:
                raise SchemaError("record_level: a clkhash schema has no field filters to build "
                                  "record-level Bloom filters from; use a pprl schema")
            doc.pop("hardening", None)
            if options:
                doc["hardening"] = options
        return Schema.from_dict(doc, source=self.source)

    def to_dict(self) -> dict:
        """The schema as a JSON object (native schemas with every default made explicit)."""
        return copy.deepcopy(self._doc)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the schema as JSON, atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self._doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
        return Path(path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        names = ", ".join(self.columns)
        return (f"Schema(kind={self.kind!r}, nbits={self.nbits}, features=[{names}], "
                f"fingerprint={self.fingerprint[:12]}…)")


def _fingerprint(kind: str, doc: dict) -> str:
    """sha256 of the canonical JSON of the schema without its descriptions."""
    canon = json.dumps({"kind": kind, "schema": _strip_descriptions(doc)}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _strip_descriptions(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip_descriptions(v) for k, v in x.items()
                if not (k == "description" and isinstance(v, str))}
    if isinstance(x, list):
        return [_strip_descriptions(v) for v in x]
    return x


# == JSON Schema validation with feature names ======================================================
def _check_json(doc: dict, meta: str, name_key: str) -> list[str]:
    problems = []
    for err in _meta_schema(meta).iter_errors(doc):
        path = list(err.absolute_path)
        message = err.message
        if err.validator in ("oneOf", "anyOf") and err.context:
            best = jsonschema.exceptions.best_match(err.context)
            path += list(best.relative_path)
            message = best.message
        elif err.validator == "not" and err.validator_value == {
            "required": ["bits_per_token", "bits_per_feature"]
        }:
            message = "give bits_per_token or bits_per_feature, not both"
        problems.append(f"{_where(doc, path, name_key)}{message}")
    return sorted(problems)


def _where(doc: dict, path: list, name_key: str) -> str:
    if len(path) >= 2 and path[0] in ("features", "blocking") and isinstance(path[1], int):
        items = doc.get(path[0])
        item = items[path[1]] if isinstance(items, list) and path[1] < len(items) else {}
        name = item.get(name_key if path[0] == "features" else "name") if isinstance(item, dict) else None
        what = "feature" if path[0] == "features" else "blocking key"
        label = f"{what} {name!r} ({path[0]}[{path[1]}])" if name else f"{path[0]}[{path[1]}]"
        rest = ".".join(str(p) for p in path[2:])
        return f"{label}: {rest + ': ' if rest else ''}"
    return ".".join(str(p) for p in path) + ": " if path else ""


def _raise(problems: list[str], kind: str) -> None:
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise SchemaError(f"invalid {kind} linkage schema ({count}):\n{listing}", problems)


def _b64(value: str | None, what: str, problems: list[str]) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        problems.append(f"{what}: {value!r} is not base64")
        return None


def _regex(pattern: str | None, label: str, problems: list[str]) -> str | None:
    """The pattern if it compiles (else None, with the problem noted)."""
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as err:
        problems.append(f"{label}invalid regular expression {pattern!r} ({err})")
        return None
    return pattern


# == clkhash v3 =====================================================================================
def _parse_clkhash(doc: dict, source: str | None) -> Schema:
    version = doc.get("version")
    if version in (1, 2):
        raise SchemaError(f"clkhash linkage schema version {version} is not supported; "
                          "convert it to version 3 (clkhash schema convert)")
    problems = _check_json(doc, "clkhash-linkage-schema-v3.json", "identifier")
    if not problems and version != 3:
        problems.append(f"version: {version!r} is not a clkhash schema version pprl reads (3)")
    hard, hard_canon = _hardening_section(doc.get("hardening"), problems)
    if "xor_folds" in hard_canon:
        problems.append("hardening.xor_folds: a clkhash schema folds with clkConfig.xor_folds")
    _raise(problems, "clkhash v3")
    cfg = doc["clkConfig"]
    kdf_doc = cfg["kdf"]
    kdf = Kdf(
        hash=kdf_doc.get("hash", "SHA256"),
        salt=_b64(kdf_doc.get("salt"), "clkConfig.kdf.salt", problems),
        info=_b64(kdf_doc.get("info"), "clkConfig.kdf.info", problems),
        key_size=int(kdf_doc.get("keySize", CLKHASH_DEFAULT_KEY_SIZE)),
    )
    xor_folds = cfg.get("xor_folds", 0)  # clkhash 0.18 reads "xor_folds", not "xorFolds"
    if isinstance(xor_folds, bool) or not isinstance(xor_folds, int) or xor_folds < 0:
        problems.append(f"clkConfig.xor_folds: {xor_folds!r} is not a non-negative integer")
        xor_folds = 0
    if cfg.get("xorFolds"):
        logger.warning(
            "clkConfig.xorFolds=%s is ignored, as clkhash 0.18 ignores it (it reads 'xor_folds'); "
            "the encodings stay identical to clkhash's", cfg["xorFolds"])
    nbits = int(cfg["l"])
    hash_l = nbits << xor_folds
    if hash_l > _MAX_UNFOLDED_BITS:
        problems.append(f"clkConfig: l * 2**xor_folds = {hash_l} bits is too large")
    nfeat = len(doc["features"])
    if 2 * nfeat * kdf.key_size > 255 * _HASH_BYTES[kdf.hash]:
        problems.append(f"clkConfig.kdf: HKDF-{kdf.hash} cannot derive {2 * nfeat} keys of "
                        f"{kdf.key_size} bytes (at most {255 * _HASH_BYTES[kdf.hash]} bytes)")
    feats = []
    seen: dict[str, int] = {}
    for i, fd in enumerate(doc["features"]):
        label = f"feature {fd['identifier']!r} (features[{i}]): "
        if fd.get("ignored", False):
            feats.append(F.Feature(name=fd["identifier"], index=i, ignored=True))
            continue
        if fd["identifier"] in seen:
            problems.append(f"{label}the identifier is also used by features[{seen[fd['identifier']]}]"
                            "; pprl reads columns by name")
        seen.setdefault(fd["identifier"], i)
        feats.append(_clkhash_feature(fd, i, label, hash_l, kdf, problems, hard.random_hashing))
    hard = _finish_hardening(hard, hard_canon, feats, problems, xor_folds)
    _raise(problems, "clkhash v3")
    if "hardening" in doc:
        doc["hardening"] = hard_canon
    return Schema(kind="clkhash", doc=doc, features=tuple(feats), nbits=nbits, xor_folds=xor_folds,
                  kdf=kdf, source=source, hardening=hard)


def _hardening_section(section: dict | None, problems: list[str]) -> tuple[H.Hardening, dict]:
    """Parse a ``hardening`` section (validated here for clkhash schemas, whose JSON Schema does
    not know it)."""
    if section is None:
        return H.Hardening(), {}
    wrapper = {"hardening": section}
    meta = _meta_schema("pprl-linkage-schema-v1.json")
    validator = jsonschema.Draft7Validator({"$ref": "#/definitions/hardening",
                                            "definitions": meta.schema["definitions"]})
    errors = [f"{_where(wrapper, ['hardening', *e.absolute_path], 'name')}{e.message}"
              for e in validator.iter_errors(section)]
    if errors:
        problems.extend(sorted(errors))
        return H.Hardening(), {}
    return H.parse(section, problems)


def _finish_hardening(hard: H.Hardening, canon: dict, feats: list[F.Feature], problems: list[str],
                      xor_folds: int) -> H.Hardening:
    """Check the salt against the features and fill in what it salts."""
    hashed = {f.name: f for f in feats if not f.ignored}
    if hard.salt is not None:
        s = hard.salt
        _check_part(BlockingPart(s.feature, s.transform, s.length), hashed, "hardening.salt: ",
                    problems)
        hard = H.resolve_salt(hard, canon, list(hashed), problems)
    if hard.xor_folds != xor_folds:
        hard = H.Hardening(**{**hard.__dict__, "xor_folds": xor_folds})
    return hard


def _clkhash_feature(fd: dict, i: int, label: str, hash_l: int, kdf: Kdf,
                     problems: list[str], random_hashing: bool = False) -> F.Feature:
    fmt, hashing = fd["format"], fd["hashing"]
    h = hashing.get("hash", {"type": "blakeHash"})
    missing = hashing.get("missingValue")
    kw = {"sentinel": missing["sentinel"], "replace_with": missing.get("replaceWith")} if missing \
        else {}
    encoding = fmt.get("encoding", "utf-8") if fmt["type"] == "string" else "utf-8"
    if fmt["type"] == "string":
        value_format = F.ClkString(pattern=_regex(fmt.get("pattern"), label, problems),
                                   case=fmt.get("case", "mixed"), min_length=fmt.get("minLength"),
                                   max_length=fmt.get("maxLength"), encoding=encoding, **kw)
    elif fmt["type"] == "integer":
        value_format = F.ClkInteger(minimum=fmt.get("minimum"), maximum=fmt.get("maximum"), **kw)
    elif fmt["type"] == "date":
        value_format = F.ClkDate(fmt["format"], **kw)
    else:
        value_format = F.ClkEnum(fmt["values"], **kw)
    comp = hashing["comparison"]
    tokenizer = _comparison(comp, label, problems)
    if random_hashing and h["type"] == "doubleHash":
        label = f"{label}hardening.random_hashing: "
        h = {"type": "blakeHash"}
    if h["type"] == "doubleHash":
        scheme = "double_ns" if h.get("prevent_singularity") else "double"
    else:
        scheme = "blake"
        if "prevent_singularity" in h:
            problems.append(f"{label}hashing.hash: prevent_singularity only goes with doubleHash")
        if not is_power_of_two(hash_l):
            problems.append(f"{label}hashing.hash: blakeHash needs l * 2**xor_folds to be a power "
                            f"of two, got {hash_l}")
        if kdf.key_size > 64:
            problems.append(f"{label}hashing.hash: blakeHash takes keys of at most 64 bytes, "
                            f"clkConfig.kdf.keySize is {kdf.key_size}")
    kind, value = next(iter(hashing["strategy"].items()))
    strategy = F.Strategy("bits_per_token" if kind == "bitsPerToken" else "bits_per_feature",
                          int(value))
    return F.Feature(name=fd["identifier"], index=i, format=value_format, tokenizer=tokenizer,
                     encoding=encoding, clk=F.Target(strategy, scheme, hash_l))


def _comparison(comp: dict, label: str, problems: list[str]):
    if comp["type"] == "ngram":
        return F.Ngram(int(comp["n"]), bool(comp.get("positional", False)))
    if comp["type"] == "exact":
        return F.Exact()
    tokenizer = F.Numeric(comp["thresholdDistance"], int(comp["resolution"]),
                          int(comp.get("fractional_precision", 0)))
    if tokenizer.distance_interval == 0:
        problems.append(f"{label}hashing.comparison: not enough fractional precision to encode "
                        f"thresholdDistance {comp['thresholdDistance']}")
    return tokenizer


# == native =========================================================================================
def _parse_native(doc: dict, source: str | None) -> Schema:
    problems = _check_json(doc, "pprl-linkage-schema-v1.json", "name")
    _raise(problems, "pprl")
    enc = {"type": "clk", "nbits": 1024, "hash": "blake2b", **doc.get("encoding", {})}
    enc["kdf"] = {"hash": "SHA256", **enc.get("kdf", {})}
    kdf = Kdf(hash=enc["kdf"]["hash"],
              salt=_b64(enc["kdf"].get("salt"), "encoding.kdf.salt", problems),
              info=_b64(enc["kdf"].get("info"), "encoding.kdf.info", problems), key_size=32)
    hard, hardening = H.parse(doc.get("hardening", {}), problems)
    hardening = {"xor_folds": hard.xor_folds, **hardening}
    xor_folds = hard.xor_folds
    nbits = enc["nbits"]
    if (nbits << xor_folds) > _MAX_UNFOLDED_BITS:
        problems.append(f"hardening.xor_folds: nbits * 2**xor_folds = {nbits << xor_folds} bits is "
                        "too large")
    canon_features, feats = [], []
    seen: dict[str, int] = {}
    for i, fd in enumerate(doc["features"]):
        label = f"feature {fd['name']!r} (features[{i}]): "
        if fd["name"] in seen:
            problems.append(f"{label}the name is also used by features[{seen[fd['name']]}]")
        seen.setdefault(fd["name"], i)
        canon, feat = _native_feature(fd, i, label, enc, nbits << xor_folds, problems)
        canon_features.append(canon)
        feats.append(feat)
    hashed = {f.name: f for f in feats if not f.ignored}
    if enc["type"] == "rbf":
        for f in hashed.values():
            if f.weight > 0 and f.field_filter is None:
                problems.append(f"feature {f.name!r}: encoding type 'rbf' samples the record filter "
                                "from field filters; give it a field_filter (or weight 0)")
        if not any(f.weight > 0 for f in hashed.values()):
            problems.append("encoding: type 'rbf' needs a feature with weight > 0")
    blocking, canon_blocking = _native_blocking(doc.get("blocking", []), hashed, problems)
    hard = _finish_hardening(hard, hardening, feats, problems, xor_folds)
    _raise(problems, "pprl")
    canon_doc = {"format": NATIVE_FORMAT, "version": NATIVE_VERSION}
    for key in ("name", "description"):
        if key in doc:
            canon_doc[key] = doc[key]
    canon_doc.update(encoding=enc, features=canon_features, blocking=canon_blocking,
                     hardening=hardening)
    return Schema(kind="pprl", doc=canon_doc, features=tuple(feats), nbits=nbits,
                  xor_folds=xor_folds, kdf=kdf, encoding_type=enc["type"],
                  blocking=tuple(blocking), source=source, hardening=hard)


def _native_feature(fd: dict, i: int, label: str, enc: dict, clk_bits: int,
                    problems: list[str]) -> tuple[dict, F.Feature]:
    if fd.get("ignored", False):
        return dict(fd), F.Feature(name=fd["name"], index=i, ignored=True)
    typ = fd.get("type", "string")
    fmt = dict(fd.get("format", {}))
    for key in sorted(set(fmt) - _FORMAT_KEYS[typ]):
        problems.append(f"{label}format.{key} does not apply to a {typ} feature")
    if typ == "enum" and "values" not in fmt:
        problems.append(f"{label}format.values: an enum feature lists its values")
    if typ == "date":
        fmt.setdefault("date_format", "%Y-%m-%d")
        _date_format(fmt["date_format"], label, problems)
    pattern = _regex(fmt.get("pattern"), label, problems)
    if "normalize" in fd and typ in ("date", "integer"):
        problems.append(f"{label}normalize does not apply to a {typ} feature")
    norm = expand(fd.get("normalize"), "basic" if typ in ("string", "enum") else "none")
    tokens = fd.get("tokens", DEFAULT_TOKENS[typ])
    tokens = copy.deepcopy({**TOKEN_DEFAULTS[tokens["type"]], **tokens})
    if tokens["type"] == "date_parts" and typ != "date":
        problems.append(f"{label}tokens: date_parts needs a date feature")
    if tokens["type"] == "numeric" and typ not in ("string", "integer"):
        problems.append(f"{label}tokens: numeric tokens need a string or integer feature")
    strategy = _strategy(fd)
    weight = float(fd.get("weight", 1.0))
    ff = fd.get("field_filter")
    ff_canon = None
    if ff is not None:
        ff_strategy = _strategy(ff) if ("bits_per_token" in ff or "bits_per_feature" in ff) \
            else strategy
        ff_canon = {"nbits": ff["nbits"], ff_strategy.kind: ff_strategy.value}
    canon = {"name": fd["name"]}
    if "description" in fd:
        canon["description"] = fd["description"]
    canon.update(type=typ, format=fmt, missing=list(fd.get("missing", [""])),
                 on_invalid=fd.get("on_invalid", "error"))
    if typ in ("string", "enum"):
        canon["normalize"] = norm
    canon.update(tokens=tokens, **{strategy.kind: strategy.value}, weight=weight,
                 field_filter=ff_canon)
    normalizer = Normalizer.from_options(norm)
    common = {"normalizer": normalizer, "missing": tuple(canon["missing"]),
              "on_invalid": canon["on_invalid"]}
    if typ == "string":
        value_format = F.NativeString(pattern=pattern, min_length=fmt.get("min_length"),
                                      max_length=fmt.get("max_length"), **common)
    elif typ == "date":
        value_format = F.NativeDate(fmt["date_format"], **common)
    elif typ == "integer":
        value_format = F.NativeInteger(fmt.get("minimum"), fmt.get("maximum"), **common)
    else:
        value_format = F.NativeEnum(fmt.get("values", []), **common)
    tokenizer = _native_tokenizer(tokens, label, problems)
    clk = None
    if weight > 0:
        scaled = F.Strategy(strategy.kind, max(1, round(strategy.value * weight)))
        clk = F.Target(scaled, enc["hash"], clk_bits)
    field_filter = None
    if ff_canon is not None:
        field_filter = F.Target(ff_strategy, enc["hash"], ff["nbits"])
    feature = F.Feature(name=fd["name"], index=i, format=value_format, tokenizer=tokenizer,
                        clk=clk, field_filter=field_filter, weight=weight)
    return canon, feature


def _strategy(d: dict) -> F.Strategy:
    if "bits_per_feature" in d:
        return F.Strategy("bits_per_feature", int(d["bits_per_feature"]))
    return F.Strategy("bits_per_token", int(d.get("bits_per_token", 20)))


def _native_tokenizer(tokens: dict, label: str, problems: list[str]):
    if tokens["type"] == "ngram":
        return F.Ngram(tokens["n"], tokens["positional"])
    if tokens["type"] == "exact":
        return F.Exact()
    if tokens["type"] == "date_parts":
        return F.DateParts(tuple(tokens["parts"]))
    tokenizer = F.Numeric(tokens["threshold_distance"], tokens["resolution"],
                          tokens["fractional_precision"])
    if tokenizer.distance_interval == 0:
        problems.append(f"{label}tokens: not enough fractional precision to encode "
                        f"threshold_distance {tokens['threshold_distance']}")
    return tokenizer


def _date_format(date_format: str, label: str, problems: list[str]) -> None:
    """A date format must give back year, month and day of a date it formats."""
    probe = datetime(2001, 11, 23)
    try:
        ok = datetime.strptime(probe.strftime(date_format), date_format).date() == probe.date()
    except ValueError:
        ok = False
    if not ok:
        problems.append(f"{label}format.date_format {date_format!r} does not read back year, month "
                        "and day (use strptime directives such as %Y-%m-%d)")


def _native_blocking(defs: list[dict], hashed: dict[str, F.Feature],
                     problems: list[str]) -> tuple[list[BlockingKey], list[dict]]:
    keys, canon = [], []
    seen: set[str] = set()
    for j, bd in enumerate(defs):
        label = f"blocking key {bd['name']!r} (blocking[{j}]): "
        if bd["name"] in seen:
            problems.append(f"{label}the name is used twice")
        seen.add(bd["name"])
        parts = []
        for k, pd in enumerate(bd["parts"]):
            part = BlockingPart(pd["feature"], pd.get("transform", "value"), pd.get("length"))
            _check_part(part, hashed, f"{label}parts[{k}]: ", problems)
            parts.append(part)
        keys.append(BlockingKey(bd["name"], tuple(parts)))
        cd = {"name": bd["name"]}
        if "description" in bd:
            cd["description"] = bd["description"]
        cd["parts"] = [{"feature": p.feature, "transform": p.transform,
                        **({"length": p.length} if p.length is not None else {})} for p in parts]
        canon.append(cd)
    return keys, canon


def _check_part(part: BlockingPart, hashed: dict[str, F.Feature], label: str,
                problems: list[str]) -> None:
    feat = hashed.get(part.feature)
    if feat is None:
        problems.append(f"{label}no hashed feature named {part.feature!r}")
        return
    is_date = isinstance(feat.format, F.NativeDate)
    allowed = _DATE_TRANSFORMS if is_date else _STRING_TRANSFORMS
    if part.transform not in allowed:
        problems.append(f"{label}transform {part.transform!r} does not apply to "
                        f"{'a date' if is_date else 'a text'} feature ({part.feature!r}); "
                        f"use one of {sorted(allowed)}")
    if (part.transform == "prefix") != (part.length is not None):
        problems.append(f"{label}'length' goes with the 'prefix' transform (and it needs one)")
