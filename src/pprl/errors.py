"""The exceptions pprl raises. Every message names what is at fault (file, column, row, parameter)."""

from __future__ import annotations


class PprlError(Exception):
    """Base class of every pprl error."""


class DataError(PprlError, ValueError):
    """Input data is unusable: missing/empty/non-UTF-8 file, missing column, invalid value."""


class SchemaError(PprlError, ValueError):
    """A linkage schema is unreadable or invalid. ``errors`` lists every problem found."""

    def __init__(self, message: str, errors: list[str] | None = None):
        self.errors = list(errors or [message])
        super().__init__(message)


class IncompatibleEncodingsError(DataError):
    """Two sets of encodings cannot be compared (different lengths or schema fingerprints)."""
