"""Shared data of the attack lab tests: one corrupted agency extract of pprl.datasets, encoded with
a few schemas and hardening profiles (cached per session), and the attacker's references."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import pprl
import pprl.datasets as D

SECRET = pprl.Secret(b"attack-lab test secret, 32 bytes")
N = 6000

FIRST_ONLY = {"format": "pprl-linkage-schema", "version": 1, "encoding": {"nbits": 512},
              "features": [{"name": "first_name", "normalize": "name", "bits_per_token": 15,
                            "field_filter": {"nbits": 256, "bits_per_token": 8}}]}


@pytest.fixture(scope="session")
def lab():
    """``lab.truth`` (the plaintext of the attacked records), ``lab.encode(schema, hardening)``,
    ``lab.population`` (another population sample: first names per person) and ``lab.names``
    (a public first-name frequency list)."""
    _, b, _ = D.extracts(N, N, seed=7)
    cache: dict = {}

    def encode(schema: pprl.Schema, hardening="none", rows: int = N) -> pprl.Encodings:
        key = (schema.fingerprint, repr(hardening), rows)
        if key not in cache:
            s = schema.with_hardening(hardening)
            cache[key] = (s, pprl.encode.clks(b.iloc[:rows], s, SECRET, id_column="record_id"))
        return cache[key]

    return SimpleNamespace(
        truth=b, encode=encode, first_only=pprl.Schema.from_dict(FIRST_ONLY),
        default=pprl.encode.default_schema(),
        population=D.population(30000, seed=99)[["first_name", "last_name"]],
        names=D.reference_names("first").rename(columns={"name": "first_name"}))
