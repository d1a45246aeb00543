"""pprl.encode: the agency side. Raw identifiers + linkage schema + secret -> Bloom-filter encodings.

>>> schema = pprl.Schema.load("schema.json")          # pprl schema or clkhash v3 linkage schema
>>> enc = pprl.encode.clks(df, schema, pprl.Secret.from_env())

This is the only code that sees raw PII and the secret; what it returns holds bits, ids, field
filters and keyed blocking keys only.
"""

from __future__ import annotations

from importlib import resources

from .encoder import DEFAULT_CHUNK_ROWS, Encoder, clks, clks_chunks
from .phonetic import metaphone, soundex
from .schema import Schema

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "Encoder",
    "Schema",
    "clks",
    "clks_chunks",
    "default_schema",
    "metaphone",
    "soundex",
]


def default_schema() -> Schema:
    """The shipped native schema for first_name, last_name, dob, sex, address, city and zip."""
    path = resources.files("pprl.encode").joinpath("schemas/default.json")
    with resources.as_file(path) as p:
        return Schema.load(p)
