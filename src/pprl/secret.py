"""`Secret`: the linkage key shared by the agencies. It never shows up in reprs, logs, pickles or errors."""

from __future__ import annotations

import hashlib
import hmac
import os
import warnings
from pathlib import Path

from .errors import DataError

MIN_SECRET_BYTES = 16


class Secret:
    """A secret key held in memory.

    ``repr``/``str`` never show it, it refuses to be pickled, and equality is constant-time.
    Use :meth:`expose` only where the key is fed into a keyed hash (the encode stage).
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes | str):
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, bytes | bytearray):
            raise TypeError("Secret takes bytes or str")
        if len(key) == 0:
            raise DataError("the secret is empty")
        if len(key) < MIN_SECRET_BYTES:
            warnings.warn(
                f"the secret is shorter than {MIN_SECRET_BYTES} bytes; use a long random key "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)",
                UserWarning,
                stacklevel=2,
            )
        object.__setattr__(self, "_key", bytes(key))

    @classmethod
    def from_env(cls, name: str = "PPRL_SECRET") -> Secret:
        """Read the secret from environment variable ``name``."""
        value = os.environ.get(name)
        if not value:
            raise DataError(f"environment variable {name!r} is not set or empty")
        return cls(value)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Secret:
        """Read the secret from a file; one trailing newline (``\\n`` or ``\\r\\n``) is stripped."""
        p = Path(path)
        if not p.is_file():
            raise DataError(f"secret file not found: {p}")
        data = p.read_bytes()
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        if not data:
            raise DataError(f"secret file is empty: {p}")
        return cls(data)

    def expose(self) -> bytes:
        """The raw key bytes. Only the encode stage should call this."""
        return self._key

    def derive(self, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
        """A subkey for one purpose, by HKDF-SHA256 (RFC 5869)."""
        return hkdf(self._key, length=length, salt=salt, info=info, hash_name="sha256")

    def __setattr__(self, name, value):
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


def hkdf(key: bytes, *, length: int, salt: bytes | None, info: bytes, hash_name: str) -> bytes:
    """HKDF extract-and-expand (RFC 5869) with ``hashlib``'s ``hash_name`` (sha256, sha512...)."""
    digest_size = hashlib.new(hash_name).digest_size
    if length > 255 * digest_size:
        raise ValueError(f"HKDF cannot derive {length} bytes with {hash_name}")
    prk = hmac.new(salt or b"\x00" * digest_size, key, hash_name).digest()
    okm, block = b"", b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hash_name).digest()
        okm += block
        counter += 1
    return okm[:length]
